import { validateReleaseId } from '../../config';
import { AttacheError } from '../../errors';
import { swapLink, type SwapResult } from '../../remote/swap-link';
import type { ServerRun, Step } from '../lifecycle/context';
import { compareIds, listReleases, type ReleaseInfo } from '../model/release-list';
import { undoSwapBack } from '../steps/live';

/**
 * `gulp rollback` and `gulp activate`: the swap is the deploy's (one atomic rename, swapped back if
 * a later step of the task fails, e.g. its health check); the task's series runs the deploy's
 * after-swap steps around it (tasks.ts).
 */
export const rollbackStep: Step = {
  name: 'rollback',
  description: 'point live at the release before it (atomic)',
  async run(run) {
    await activateRelease(run, 'previous');
  },
};

/** `--release=<id>` or `latest`, checked before anything connects. */
export function activateStep(release: string | undefined): Step {
  if (!release)
    throw new AttacheError('activate needs a release: --release=<id> or --release=latest', { hint: 'List them with: gulp releases' });
  if (release !== 'latest') validateReleaseId(release);
  return {
    name: 'activate',
    description: 'point live at --release=<id> (or "latest")',
    async run(run) {
      await activateRelease(run, release);
    },
  };
}

/**
 * Pointing live at another release: the release before the live one (rollback) or a named one
 * (activate). Only complete, not-failed releases are chosen; the swap is the same atomic rename.
 * A dry run reads the releases and says which one it would activate, changing nothing.
 */
export async function activateRelease(run: ServerRun, which: 'previous' | 'latest' | string): Promise<SwapResult> {
  const releases = await listReleases(run.target, run.layout);
  const ready = releases.filter((r) => r.status === 'ready');
  const live = releases.find((r) => r.live);
  let id: string | undefined;
  if (which === 'previous') {
    id = previousRelease(run, releases, live);
  } else if (which === 'latest') {
    id = ready.at(-1)?.id;
  } else {
    const named = releases.find((r) => r.id === which);
    if (named?.status !== 'ready') {
      throw new AttacheError(named ? `release ${which} is ${named.status}; refusing to activate it` : `there is no release ${which}`, {
        server: run.server.name,
        step: 'activate',
        hint: `Complete releases: ${ready.map((r) => r.id).join(', ') || 'none'}`,
      });
    }
    id = which;
  }
  if (!id) throw new AttacheError('there is no complete release to activate', { server: run.server.name, step: 'activate' });
  const to = run.layout.liveTarget(id);
  run.activated = id; // the after-swap steps act on it (a dry run's say what they would do with it)
  if (run.target.dryRun) {
    const now = (await run.target.readlink(run.layout.live)) ?? null;
    run.log.info(
      `[dry run] [${run.server.name}] would point ${run.layout.live} -> ${to}${now === to ? ' (it already does)' : now ? ` (now -> ${now})` : ''}`,
    );
    return { link: run.layout.live, previous: now, current: now ?? to, changed: false };
  }
  const result = await swapLink(run.target, run.layout.live, to, which === 'previous' ? 'rollback' : 'activate', (previous) =>
    undoSwapBack(run, previous),
  );
  run.liveChanged = result.changed;
  run.log.info(`[${run.server.name}] live -> ${id}${result.previous ? ` (was ${run.layout.releaseIdOf(result.previous)})` : ''}`);
  return result;
}

/**
 * The newest complete release older than the live one. When live dangles (its release was
 * deleted) and none is older, the newest complete release: the site is down, any is better.
 */
function previousRelease(run: ServerRun, releases: ReleaseInfo[], live: ReleaseInfo | undefined): string {
  const ready = releases.filter((r) => r.status === 'ready');
  const before = live ? ready.filter((r) => compareIds(r.id, live.id) < 0).at(-1) : undefined;
  const chosen = before ?? (live?.status === 'missing' ? ready.at(-1) : undefined);
  if (!chosen) {
    throw new AttacheError(
      live
        ? 'there is no complete release before the live one to roll back to'
        : `${run.layout.live} does not exist: there is no live release to roll back from`,
      {
        server: run.server.name,
        step: 'rollback',
        hint: 'List releases with: gulp releases; point live at one with: gulp activate --release=<id>',
      },
    );
  }
  if (live?.status === 'missing') {
    run.log.warn(
      `[${run.server.name}] live -> ${run.layout.liveTarget(live.id)}, which does not exist; rolling back to ${chosen.id}, the newest complete release${before ? ' before it' : ''}`,
    );
  }
  return chosen.id;
}
