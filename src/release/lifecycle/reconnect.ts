import type { ServerConfig } from '../../config/types';
import { openTarget } from '../../open-target';
import type { ServerSpec } from '../../ssh/resolve';
import type { Target } from '../../remote/target';
import type { ServerRun } from './context';

/**
 * The undo needs the server even when the deploy's connection died: a fresh connection, opened
 * as the first (same spec, so the same host-key checks), tried a few times with back-off within
 * RECONNECT_WITHIN_MS. Each server reconnects on its own, so one unreachable server of a fleet
 * does not stop the others' undo.
 */
export const RECONNECT_WITHIN_MS = 30_000;
/** One attempt's TCP + handshake limit: a route that still swallows packets must not use up the whole window. */
const ATTEMPT_TIMEOUT_S = 10;
const BACKOFF_MS = [0, 500, 1000, 2000, 4000, 8000];

/** How a server is reached: the same spec for the first connection and every reconnect. */
export function serverSpec(server: ServerConfig): Exclude<ServerSpec, string> {
  return { ...server.ssh, name: server.name, host: server.host, port: server.port, user: server.user };
}

/** The connection ended by itself (not closed by us): an SSH session that is lost. */
export function connectionLost(target: Target): boolean {
  return (target as Target & { isLost?: boolean }).isLost === true;
}

/**
 * When the run's connection is lost, opens a new one and puts it in `run.target` (the old one is
 * closed). Resolves true when the run has a working connection, false when none could be had
 * within the window; `why` then says what the last attempt met.
 */
export async function reconnect(run: ServerRun, withinMs = RECONNECT_WITHIN_MS): Promise<{ ok: true } | { ok: false; why: string }> {
  if (!connectionLost(run.target)) return { ok: true };
  const name = run.server.name;
  const deadline = Date.now() + withinMs;
  let why = 'no attempt was made';
  for (let attempt = 0; attempt < BACKOFF_MS.length; attempt++) {
    const wait = BACKOFF_MS[attempt];
    if (Date.now() + wait >= deadline) break;
    if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
    const left = Math.max(1, Math.floor((deadline - Date.now()) / 1000));
    run.log.info(`[${name}] the connection was lost: reconnecting to undo (attempt ${attempt + 1})…`);
    try {
      const fresh = await openTarget({ ...serverSpec(run.server), connectTimeout: Math.min(ATTEMPT_TIMEOUT_S, left) }, run.log);
      const old = run.target;
      run.target = fresh;
      await old.close().catch(() => undefined);
      run.log.info(`[${name}] reconnected`);
      return { ok: true };
    } catch (error) {
      why = (error as Error).message.split('\n')[0];
      run.log.debug(`[${name}] reconnect attempt ${attempt + 1} failed: ${why}`);
    }
  }
  return { ok: false, why };
}
