import { AttacheError } from '../../errors';
import { sh } from '../../remote/quote';
import { releaseIdOf, type Step } from '../lifecycle/context';
import { phpCommand } from '../model/tools';

/**
 * `"optimize": true`: Laravel's caches built in the new release before the swap, so a config that
 * does not load fails the deploy while the previous release is still what is served. `optimize`
 * covers config, routes, views and events from Laravel 11 on; before that only config and routes,
 * so view:cache and event:cache run after it. An app whose version cannot be read gets `optimize`.
 */
export const optimize: Step = {
  name: 'optimize',
  description: 'php artisan optimize (+ view:cache, event:cache before Laravel 11) in the new release, before the swap',
  // An artisan command: `"skip": ["artisan"]` switches it off too.
  appliesTo: (server) => server.optimize && !server.skip.includes('artisan'),
  async run(run, deploy) {
    const dir = run.layout.release(releaseIdOf(deploy));
    const php = phpCommand(run.server);
    const version = await run.target.exec(sh`${php} artisan --version`, { cwd: dir, check: false, step: 'optimize', readOnly: true });
    const major = Number(/Laravel Framework (\d+)\./.exec(version.stdout)?.[1] ?? NaN);
    const commands = Number.isFinite(major) && major < 11 ? ['optimize', 'view:cache', 'event:cache'] : ['optimize'];
    for (const command of commands) {
      try {
        await run.target.exec(sh`${php} artisan ${command}`, { cwd: dir, step: 'optimize' });
      } catch (error) {
        const tool = error instanceof AttacheError ? error.what : String(error);
        throw new AttacheError(
          `artisan ${command} failed in the new release: ${tool}`,
          {
            server: run.server.name,
            step: 'optimize',
            remotePath: dir,
            hint: 'Nothing was swapped: live still serves the previous release. Fix the config (php artisan config:cache with the production .env shows the same error) and deploy again.',
          },
          { cause: error },
        );
      }
    }
  },
};
