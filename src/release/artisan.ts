import { sh } from '../remote/quote';
import { releaseIdOf, type Step } from './context';
import { runHook } from './hooks';

/** Laravel's own steps, when the release has an `artisan`: storage:link, then migrate if asked. */
export const artisan: Step = {
  name: 'artisan',
  description: 'php artisan storage:link, and migrate --force when "migrate" is true',
  async run(run, deploy) {
    const dir = run.layout.release(releaseIdOf(deploy));
    if (deploy.dryRun || (await run.target.lstat(run.layout.inRelease(releaseIdOf(deploy), 'artisan')))) {
      const php = run.server.php.bin;
      await run.target.exec(sh`${php} artisan storage:link`, { cwd: dir, step: 'artisan' });
      if (run.server.migrate) {
        await runHook('before-migrate', run, deploy);
        await run.target.exec(sh`${php} artisan migrate --force`, { cwd: dir, output: 'info', step: 'migrate' });
        await runHook('after-migrate', run, deploy);
      }
    }
    await runHook('after-deploy', run, deploy); // the end of Attaché's "deploy" task
  },
};
