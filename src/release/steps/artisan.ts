import { sh } from '../../remote/quote';
import { releaseIdOf, type Step } from '../lifecycle/context';
import { phpCommand } from '../model/tools';

/** Laravel's own link, when the release has an `artisan`: storage:link (public/storage -> storage/app/public). */
export const artisan: Step = {
  name: 'artisan',
  description: 'php artisan storage:link, when the release has an artisan',
  async run(run, deploy) {
    const dir = run.layout.release(releaseIdOf(deploy));
    // The check goes with the command: one round trip.
    await run.target.exec(sh`if [ -e artisan ] || [ -L artisan ]; then ${phpCommand(run.server)} artisan storage:link; fi`, {
      cwd: dir,
      step: 'artisan',
    });
  },
};
