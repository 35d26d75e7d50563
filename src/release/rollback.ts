import { AttacheError } from '../errors';
import { swapLink, type SwapResult } from '../remote/swap-link';
import type { ServerRun } from './context';
import { listReleases } from './releases';

/**
 * Pointing live at another release: the release before the live one (rollback) or a named one
 * (activate). Only complete, not-failed releases are chosen; the swap is the same atomic rename.
 */
export async function activateRelease(run: ServerRun, which: 'previous' | 'latest' | string): Promise<SwapResult> {
  const releases = await listReleases(run.target, run.layout);
  const ready = releases.filter((r) => r.status === 'ready');
  const liveIndex = ready.findIndex((r) => r.live);
  let id: string | undefined;
  if (which === 'previous') {
    if (liveIndex <= 0) {
      throw new AttacheError('there is no complete release before the live one to roll back to', {
        server: run.server.name,
        step: 'rollback',
        hint: 'List releases with: gulp releases',
      });
    }
    id = ready[liveIndex - 1].id;
  } else if (which === 'latest') {
    id = ready.at(-1)?.id;
  } else {
    const named = releases.find((r) => r.id === which);
    if (!named || named.status !== 'ready') {
      throw new AttacheError(named ? `release ${which} is ${named.status}; refusing to activate it` : `there is no release ${which}`, {
        server: run.server.name,
        step: 'activate',
        hint: `Complete releases: ${ready.map((r) => r.id).join(', ') || 'none'}`,
      });
    }
    id = which;
  }
  if (!id) throw new AttacheError('there is no complete release to activate', { server: run.server.name, step: 'activate' });
  const result = await swapLink(run.target, run.layout.live, run.layout.liveTarget(id), which === 'previous' ? 'rollback' : 'activate');
  run.log.info(`[${run.server.name}] live -> ${id}${result.previous ? ` (was ${run.layout.releaseIdOf(result.previous)})` : ''}`);
  return result;
}
