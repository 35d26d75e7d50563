import { sh } from '../../remote/quote';
import type { ServerRun, Step } from '../lifecycle/context';
import { pruneReleases, releasesToPrune } from '../steps/prune';
import { listReleases } from '../model/release-list';

/** `gulp prune`: what the deploy's prune step does, on its own. */
export const pruneStep: Step = {
  name: 'prune',
  description: 'remove old releases (keeps "keep", never live nor the one before it)',
  async run(run) {
    await pruneReleases(run);
  },
};

/**
 * Attaché's `releases:prune --count=<n>`: the n oldest releases go, whatever `keep` says, but
 * never live, the one before it, nor the newest two (Attaché retains the most recent two).
 */
export function pruneCountStep(count: number): Step {
  return {
    name: 'prune',
    description: `remove the ${count} oldest releases (never live nor the one before it)`,
    run: (run) => pruneCount(run, count).then(() => undefined),
  };
}

export async function pruneCount(run: ServerRun, count: number): Promise<string[]> {
  const doomed = releasesToPrune(await listReleases(run.target, run.layout), 2).slice(0, count);
  if (run.target.dryRun) {
    run.log.info(
      `[dry run] [${run.server.name}] ${doomed.length ? `would prune ${doomed.length}: ${doomed.join(', ')}` : 'would prune nothing'} (--count=${count})`,
    );
  } else if (doomed.length) {
    await run.target.exec(sh`rm -rf -- ${doomed.map((id) => run.layout.release(id))}`, { step: 'prune' });
    run.log.info(`[${run.server.name}] pruned ${doomed.length} release${doomed.length === 1 ? '' : 's'}: ${doomed.join(', ')}`);
  } else {
    run.log.info(`[${run.server.name}] no release to prune`);
  }
  return doomed;
}
