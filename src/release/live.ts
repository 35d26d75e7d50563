import os from 'node:os';
import { swap } from '../plugins/swap';
import { swapLink } from '../remote/swap-link';
import { releaseIdOf, type Step } from './context';
import { runHook } from './hooks';
import { writeMarker } from './releases';

/**
 * 9. Mark the release complete, then swap `live` to it with the swap plugin: one rename, so the
 * web server never sees the link missing. The undo swaps back (fleets, failed health checks).
 */
export const live: Step = {
  name: 'live',
  description: 'swap the live symlink to the new release (one atomic rename)',
  async run(run, deploy) {
    const { layout, target, server } = run;
    const id = releaseIdOf(deploy);
    if (deploy.dryRun) {
      run.log.info(`[dry run] [${server.name}] would point ${layout.live} -> ${layout.liveTarget(id)}`);
      return;
    }
    await writeMarker(target, layout, {
      id,
      status: 'ready',
      commit: run.commit,
      branch: deploy.branch ?? server.branch,
      deployedAt: new Date().toISOString(),
      by: `${os.userInfo().username}@${os.hostname()}`,
    });
    await runHook('before-live', run, deploy);
    const result = await swap.task({ session: target, link: layout.live, target: layout.liveTarget(id), logger: run.log })();
    run.previousLive = result?.previous ?? null;
    const previous = run.previousLive;
    run.undo.push({
      step: 'live',
      action: async () => {
        if (previous) await swapLink(target, layout.live, previous, 'roll back');
        else await target.unlink(layout.live);
      },
    });
    await runHook('after-live', run, deploy);
  },
};
