import type { ServerRun } from './context';
import type { UndoKind } from './undo-log';
import { connectionLost, reconnect } from './reconnect';

/** How long a lost session's command may go on writing on the server after the cut. */
const WRITER_GRACE_MS = 1000;

/**
 * One server's undo, newest first: live swapped back, the half-built release removed, shared paths
 * it created removed, the lock freed. A lost connection is replaced first (reconnect), and again if
 * it is lost during the undo. `run.undo` is, at every moment, what is still to undo (a third Ctrl-C
 * reads it to say what it leaves). What cannot be undone is said plainly: what is left where, and
 * the command that clears it. Resolves with what was undone and what was left.
 */
export async function undoOnServer(run: ServerRun): Promise<{ done: string[]; left: string[] }> {
  const done: string[] = [];
  let retries = 0;
  let reconnected = false;
  for (let entry = run.undo.newest(); entry; entry = run.undo.newest()) {
    if (connectionLost(run.target)) {
      const again = await reconnect(run);
      if (!again.ok) return { done, left: await leave(run, `no connection could be had: ${again.why}`) };
      reconnected = true;
    }
    try {
      await entry.action();
      // The lost session's last command (a checkout, a tar) may still write into the release for a
      // moment, until sshd ends it: remove what it adds, before the lock is freed.
      if (reconnected && entry.kind === 'release') {
        await new Promise((resolve) => setTimeout(resolve, WRITER_GRACE_MS));
        await entry.action();
      }
      run.undo.remove(entry);
      done.push(entry.what);
    } catch (error) {
      // Lost during this action: reconnect and run it again (twice at most: a link that keeps dying is left).
      if (connectionLost(run.target) && retries++ < 2) continue;
      run.log.error(`[${run.server.name}] could not ${entry.what}: ${(error as Error).message}`);
      if (entry.kind === 'lock') return { done, left: await leave(run, 'the lock could not be freed') };
      run.undo.remove(entry);
    }
  }
  return { done, left: [] };
}

/** Undoes this server's entries of one kind now, newest first (a rollout swaps one server back while the others go on). */
export async function undoNow(run: ServerRun, kind: UndoKind): Promise<void> {
  for (const entry of run.undo.entriesOf(kind).reverse()) {
    await entry.action();
    run.undo.remove(entry);
  }
}

/** What is still to undo on that server (newest first), in words, and the command that clears it. */
export function leftOn(run: ServerRun): { left: string[]; clear: string } {
  const clear = [`gulp unlock --server=${run.server.name}`];
  if (run.undo.holds('live')) clear.push(`gulp rollback --server=${run.server.name}`);
  return { left: run.undo.pending(), clear: clear.join(' && ') };
}

/** Says what stays on the server and how to clear it; the heartbeat stops, so the lock goes stale. */
async function leave(run: ServerRun, why: string): Promise<string[]> {
  await run.lock?.stopHeartbeat();
  const { server } = run;
  const { left, clear } = leftOn(run);
  run.log.error(
    `[${server.name}] could not undo the deploy (${why}). Left on ${server.name}, not undone: ${left.join('; ')}. ` +
      `To clear ${left.length > 1 ? 'them' : 'it'}, once ${server.name} is reachable: ${clear}` +
      (run.undo.holds('lock')
        ? ' (or deploy again: the lock is taken over once its heartbeat is a minute old, or at once from this host after this process ends).'
        : ''),
  );
  return left;
}

/** What is left undone on each server and how to clear it, for a deploy that leaves before its undo ends. */
export function leftEverywhere(runs: readonly ServerRun[]): string {
  const left = runs.map((run) => ({ run, ...leftOn(run) })).filter((s) => s.left.length);
  if (!left.length) return 'Nothing is left to undo.';
  return (
    left.map(({ run, left, clear }) => `Left on ${run.server.name}, not undone: ${left.join('; ')}. To clear: ${clear}`).join('\n') +
    ' (or deploy again: from this host the lock is taken over once this process has ended).'
  );
}
