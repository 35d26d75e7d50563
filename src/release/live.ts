import os from 'node:os';
import { swap } from '../plugins/swap';
import { swapLink } from '../remote/swap-link';
import type { Target } from '../remote/target';
import { releaseIdOf, type Step } from './context';
import { writeMarker } from './releases';

/**
 * Mark the release complete, then swap `live` to it with the swap plugin: one rename, so the
 * web server never sees the link missing. The undo swaps back (fleets, failed health checks).
 */
const NOT_A_LINK = Symbol('not a link');

/** What a symlink points to; null when nothing is there; NOT_A_LINK for a real file or directory. */
async function linkTarget(target: Target, path: string): Promise<string | null | typeof NOT_A_LINK> {
  const stat = await target.lstat(path);
  if (!stat) return null;
  return stat.type === 'symlink' ? await target.readlink(path) : NOT_A_LINK;
}

export const live: Step = {
  name: 'live',
  description: 'swap the live symlink to the new release (one atomic rename)',
  hooks: 'live',
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
    // The undo is registered before the swap: whatever fails from here on, live goes back to what it was.
    const previous = await linkTarget(target, layout.live);
    run.undo.push('live', `point ${layout.live} back to ${typeof previous === 'string' ? previous : 'nothing'}`, async () => {
      const now = await linkTarget(target, layout.live);
      if (now === previous || now === NOT_A_LINK) return; // never swapped (a refused swap changes nothing)
      if (typeof previous === 'string') await swapLink(target, layout.live, previous, 'roll back');
      else await target.unlink(layout.live);
    });
    await swap.task({ session: target, link: layout.live, target: layout.liveTarget(id), logger: run.log })();
    run.liveChanged = true;
  },
};
