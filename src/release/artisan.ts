import { sh } from '../remote/quote';
import { releaseIdOf, type Step } from './context';
import { phpCommand } from './tools';

/** Laravel's own link, when the release has an `artisan`: storage:link (public/storage -> storage/app/public). */
export const artisan: Step = {
  name: 'artisan',
  description: 'php artisan storage:link, when the release has an artisan',
  async run(run, deploy) {
    const dir = run.layout.release(releaseIdOf(deploy));
    if (deploy.dryRun || (await run.target.lstat(run.layout.inRelease(releaseIdOf(deploy), 'artisan')))) {
      await run.target.exec(sh`${phpCommand(run.server)} artisan storage:link`, { cwd: dir, step: 'artisan' });
    }
  },
};
