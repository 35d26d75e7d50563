import type { ServerRun } from './context';
import { stopHeartbeat } from './lock';
import { connectionLost, reconnect } from './reconnect';

type UndoEntry = ServerRun['undo'][number];

/**
 * One server's undo, newest first: live swapped back, the half-built release removed, shared paths
 * it created removed, the lock freed. A lost connection is replaced first (reconnect), and again if
 * it is lost during the undo. `run.undo` is, at every moment, what is still to undo (a third Ctrl-C
 * reads it to say what it leaves). What cannot be undone is said plainly: what is left where, and
 * the command that clears it.
 */
export async function undoOnServer(run: ServerRun, releaseId: string | undefined): Promise<{ done: string[]; left: string[] }> {
  const done: string[] = [];
  let retries = 0;
  while (run.undo.length) {
    const next = run.undo[run.undo.length - 1];
    if (connectionLost(run.target)) {
      const again = await reconnect(run);
      if (!again.ok) return { done, left: await leave(run, releaseId, `no connection could be had: ${again.why}`) };
    }
    try {
      await next.action();
      run.undo.pop();
      done.push(undid(run, next, releaseId));
    } catch (error) {
      // Lost during this action: reconnect and run it again (twice at most: a link that keeps dying is left).
      if (connectionLost(run.target) && retries++ < 2) continue;
      run.log.error(`[${run.server.name}] could not undo ${next.step}: ${(error as Error).message}`);
      run.undo.pop();
      if (next.step === 'lock') {
        run.undo.push(next);
        return { done, left: await leave(run, releaseId, 'the lock could not be removed') };
      }
    }
  }
  return { done, left: [] };
}

/** What is still to undo on that server, in words (for the message of an undo that cannot finish). */
export function leftOn(run: ServerRun, releaseId: string | undefined): string[] {
  const { layout } = run;
  return [...run.undo].reverse().map(({ step }) => {
    if (step === 'lock') return `the lock ${layout.lock}`;
    if (step === 'clone') return `the incomplete release ${releaseId ? layout.release(releaseId) : layout.releases}`;
    if (step === 'shared') return `the shared ${layout.storage} or ${layout.env} this first deploy created`;
    if (step === 'live') return `live (${layout.live}) may point to the new release${releaseId ? ` ${releaseId}` : ''} (it pointed to ${run.previousLive ?? 'nothing'})`;
    return `what ${step} changed`;
  });
}

/** The command(s) that clear what is left: unlock frees the lock and removes the release it records. */
export function clearCommand(run: ServerRun): string {
  const clear = [`gulp unlock --server=${run.server.name}`];
  if (run.undo.some((u) => u.step === 'live')) clear.push(`gulp rollback --server=${run.server.name}`);
  return clear.join(' && ');
}

function undid(run: ServerRun, entry: UndoEntry, releaseId: string | undefined): string {
  const { layout } = run;
  if (entry.step === 'lock') return 'freed the lock';
  if (entry.step === 'clone') return `removed the release ${releaseId ?? ''}`.trim();
  if (entry.step === 'shared') return 'removed the shared path this first deploy created';
  if (entry.step === 'live') return `live (${layout.live}) points to ${run.previousLive ?? 'nothing'} as before`;
  return `undid ${entry.step}`;
}

/** Says what stays on the server and how to clear it; the heartbeat stops, so the lock goes stale. */
async function leave(run: ServerRun, releaseId: string | undefined, why: string): Promise<string[]> {
  await stopHeartbeat(run);
  const { server } = run;
  const left = leftOn(run, releaseId);
  run.log.error(
    `[${server.name}] could not undo the deploy (${why}). Left on ${server.name}: ${left.join('; ')}. ` +
      `To clear ${left.length > 1 ? 'them' : 'it'}, once ${server.name} is reachable: ${clearCommand(run)}` +
      (run.undo.some((u) => u.step === 'lock') ? ' (or deploy again: the lock is taken over once its heartbeat is a minute old, or at once from this host after this process ends).' : ''),
  );
  return left;
}
