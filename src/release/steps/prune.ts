import { sh } from '../../remote/quote';
import type { ServerRun, Step } from '../lifecycle/context';
import { compareIds, listReleases, type ReleaseInfo } from '../model/release-list';

/**
 * Remove old releases: keep the newest `keep` complete ones, never the live one nor the one
 * before it. Failed releases do not count toward `keep` and go (all but the newest, while it is
 * newer than live); incomplete ones (a deploy that died) go.
 */
export const prune: Step = {
  name: 'prune',
  description: 'remove old releases (keep 5 by default; never live nor the one before it)',
  async run(run, deploy) {
    await pruneReleases(run, deploy.releaseId);
  },
};

export async function pruneReleases(run: ServerRun, current?: string): Promise<string[]> {
  const releases =
    run.releasesSeen && current ? withThisDeploy(run, run.releasesSeen, current) : await listReleases(run.target, run.layout);
  const doomed = releasesToPrune(releases, run.server.keep, current);
  if (run.target.dryRun) {
    // The listing is real (read-only), so this names exactly what a prune would delete.
    const count = `${doomed.length} release${doomed.length === 1 ? '' : 's'}`;
    run.log.info(
      `[dry run] [${run.server.name}] ${doomed.length ? `would prune ${count}: ${doomed.join(', ')}` : 'would prune nothing'} (keep ${run.server.keep})`,
    );
  } else if (doomed.length) {
    await run.target.exec(sh`rm -rf -- ${doomed.map((id) => run.layout.release(id))}`, { step: 'prune' });
    run.log.info(`[${run.server.name}] pruned ${doomed.length} release${doomed.length === 1 ? '' : 's'}: ${doomed.join(', ')}`);
  }
  return doomed;
}

/**
 * The listing the lock took, and this deploy's release in it (complete and live once swapped):
 * under the lock nothing else adds or removes releases, so no second listing is needed.
 */
function withThisDeploy(run: ServerRun, seen: ReleaseInfo[], current: string): ReleaseInfo[] {
  const swapped = run.liveChanged === true;
  const others = seen
    .filter((r) => r.id !== current && !(swapped && r.status === 'missing'))
    .map((r) => (swapped ? { ...r, live: false } : r));
  const mine: ReleaseInfo = { id: current, status: swapped ? 'ready' : 'incomplete', live: swapped };
  return [...others, mine].sort((a, b) => compareIds(a.id, b.id));
}

/** Pure: which release ids to remove, given the listing (oldest first). */
export function releasesToPrune(releases: ReleaseInfo[], keep: number, current?: string): string[] {
  const ready = releases.filter((r) => r.status === 'ready');
  const liveIndex = ready.findIndex((r) => r.live);
  const protect = new Set<string>(ready.slice(-keep).map((r) => r.id));
  if (liveIndex >= 0) {
    protect.add(ready[liveIndex].id);
    if (liveIndex > 0) protect.add(ready[liveIndex - 1].id);
  }
  if (current) protect.add(current);
  // Failed releases go first, whatever their age: only the newest one, when newer than live, stays for a look.
  const newestFailed = releases.filter((r) => r.status === 'failed').at(-1);
  const live = releases.find((r) => r.live);
  const forALook = newestFailed && (!live || compareIds(newestFailed.id, live.id) > 0) ? newestFailed.id : undefined;
  return releases.filter((r) => !protect.has(r.id) && !r.live && r.id !== forALook).map((r) => r.id);
}
