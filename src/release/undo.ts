import type { ServerRun } from './context';
import { stopHeartbeat } from './lock';
import { connectionLost, reconnect } from './reconnect';

/**
 * One server's undo, newest first: live swapped back, the half-built release removed, shared paths
 * it created removed, the lock freed. A lost connection is replaced first (reconnect), and again if
 * it is lost during the undo. What cannot be undone is said plainly: what is left where, and the
 * command that clears it. Resolves with what was left (empty when everything was undone).
 */
export async function undoOnServer(run: ServerRun, releaseId: string | undefined): Promise<string[]> {
  const pending = [...run.undo].reverse();
  run.undo = [];
  let retries = 0;
  while (pending.length) {
    const next = pending[0];
    if (connectionLost(run.target)) {
      const again = await reconnect(run);
      if (!again.ok) return leave(run, pending, releaseId, `no connection could be had: ${again.why}`);
    }
    try {
      await next.action();
      pending.shift();
    } catch (error) {
      // Lost during this action: reconnect and run it again (twice at most: a link that keeps dying is left).
      if (connectionLost(run.target) && retries++ < 2) continue;
      run.log.error(`[${run.server.name}] could not undo ${next.step}: ${(error as Error).message}`);
      pending.shift();
      if (next.step !== 'lock') continue;
      return leave(run, [next], releaseId, 'the lock could not be removed');
    }
  }
  return [];
}

/** Says what stays on the server and how to clear it; the heartbeat stops, so the lock goes stale. */
async function leave(run: ServerRun, pending: ServerRun['undo'], releaseId: string | undefined, why: string): Promise<string[]> {
  await stopHeartbeat(run);
  const { layout, server } = run;
  const left = pending.map(({ step }) => {
    if (step === 'lock') return `the lock ${layout.lock}`;
    if (step === 'clone') return `the incomplete release ${releaseId ? layout.release(releaseId) : layout.releases}`;
    if (step === 'shared') return `the shared ${layout.storage} or ${layout.env} this first deploy created`;
    if (step === 'live') return `live (${layout.live}) may point to the new release${releaseId ? ` ${releaseId}` : ''} (it pointed to ${run.previousLive ?? 'nothing'})`;
    return `what ${step} changed`;
  });
  const clear = [`gulp unlock --server=${server.name}`];
  if (pending.some((u) => u.step === 'live')) clear.push(`gulp rollback --server=${server.name}`);
  run.log.error(
    `[${server.name}] could not undo the deploy (${why}). Left on ${server.name}: ${left.join('; ')}. ` +
      `To clear ${left.length > 1 ? 'them' : 'it'}, once ${server.name} is reachable: ${clear.join(' && ')}` +
      (pending.some((u) => u.step === 'lock') ? ' (or deploy again: the lock is taken over once its heartbeat is a minute old, or at once from this host after this process ends).' : ''),
  );
  return left;
}
