import os from 'node:os';
import { swap } from '../../plugins/swap';
import { swapLink, type SwapResult } from '../../remote/swap-link';
import type { Target } from '../../remote/target';
import { releaseIdOf, type ServerRun, type Step } from '../lifecycle/context';
import { writeMarker } from '../model/release-list';

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

/** Registered before a swap: whatever fails from here on, live goes back to what it was. */
export function undoSwapBack(run: ServerRun, previous: string | null): void {
  const { layout } = run;
  run.undo.push('live', `point ${layout.live} back to ${previous ?? 'nothing'}`, async () => {
    const target = run.target; // when it runs: a reconnect may have replaced the connection
    const now = await linkTarget(target, layout.live);
    if (now === previous || now === NOT_A_LINK) return; // never swapped (a refused swap changes nothing)
    if (previous !== null) await swapLink(target, layout.live, previous, 'roll back');
    else await target.unlink(layout.live);
  });
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
    // The marker is written while the swap's checks are asked (a command beside SFTP requests); the swap waits for it.
    const marked = writeMarker(
      target,
      layout,
      {
        id,
        status: 'ready',
        commit: run.commit,
        ...(deploy.sourceCommit && { assetsCommit: deploy.sourceCommit }),
        ...(run.artifact && { artifact: run.artifact }),
        branch: deploy.branch ?? server.branch,
        deployedAt: new Date().toISOString(),
        by: `${os.userInfo().username}@${os.hostname()}`,
      },
      'live',
    );
    marked.catch(() => undefined); // awaited below, or moot when a check fails first
    const beforeChange = async (previous: string | null) => {
      undoSwapBack(run, previous);
      await marked;
    };
    let result: SwapResult | undefined;
    try {
      result = await swap.task({ session: target, link: layout.live, target: layout.liveTarget(id), logger: run.log, beforeChange })();
    } finally {
      await marked.catch(() => undefined); // the marker's command has ended before the step does: an undo never races it
    }
    await marked; // live already pointed here, so no swap waited for it: its failure is still the step's
    run.liveChanged = result?.changed ?? false;
  },
};
