import { sh } from '../../remote/quote';
import { releaseIdOf, type Step } from '../lifecycle/context';
import { phpCommand } from '../model/tools';

/**
 * `artisan migrate --force`, only where "migrate" is true (one server of a fleet: servers share the
 * database). On a fleet, `--isolated` too where Laravel has it: a second deploy from another machine
 * (another lock) waits for the app's own lock instead of migrating at the same time.
 */
export const migrate: Step = {
  name: 'migrate',
  description: 'php artisan migrate --force, on the server with "migrate": true',
  hooks: 'migrate',
  // An artisan command: `"skip": ["artisan"]` switches it off too.
  appliesTo: (server) => server.migrate && !server.skip.includes('artisan'),
  async run(run, deploy) {
    const dir = run.layout.release(releaseIdOf(deploy));
    const isolated = deploy.selected.length > 1 && deploy.config.project?.isolatedMigrations ? ['--isolated'] : [];
    await run.target.exec(sh`${phpCommand(run.server)} artisan migrate --force ${isolated}`, { cwd: dir, output: 'info', step: 'migrate' });
  },
};
