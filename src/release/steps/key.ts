import { sh } from '../../remote/quote';
import { releaseIdOf, type Step } from '../lifecycle/context';
import { artisanCommand } from '../model/tools';

/** After the first deploy's artisan steps, before it goes live: the app's key, as Attaché's install does. */
export const keyGenerate: Step = {
  name: 'key',
  description: 'php artisan key:generate in the new release (writes APP_KEY into root/.env)',
  async run(run, deploy) {
    const id = releaseIdOf(deploy);
    if (!deploy.dryRun && !(await run.target.lstat(run.layout.inRelease(id, 'artisan')))) {
      run.log.warn(`[${run.server.name}] no artisan in the release: no key generated`);
      return;
    }
    // --force: Laravel asks for confirmation in production, and a deploy must never wait for a prompt.
    await run.target.exec(sh`${artisanCommand(run.server, 'artisan')} key:generate --force`, {
      cwd: run.layout.release(id),
      output: 'info',
      step: 'install',
    });
  },
};
