import type { Logger } from '../log';
import { openTarget } from '../open-target';
import type { Target } from '../remote/target';
import type { ServerSpec } from '../ssh/resolve';

/**
 * Plugins share one connection per server: each takes a lease when it is created (before any file
 * flows) and returns it when it finishes or fails. The connection opens on first use and closes when
 * the last lease is returned, so `upload → exec → swap` to one server makes one SSH handshake and
 * gulp exits by itself afterwards. A Target passed in by the caller is never closed by a plugin.
 */
export interface Lease {
  target(): Promise<Target>;
  release(): Promise<void>;
}

interface PoolEntry {
  users: number;
  opening?: Promise<Target>;
}

const pool = new Map<string, PoolEntry>();

export function lease(server: ServerSpec | Target, log: Logger): Lease {
  if (isTarget(server)) return { target: async () => server, release: async () => undefined };
  const key = JSON.stringify(server);
  const entry = pool.get(key) ?? { users: 0 };
  pool.set(key, entry);
  entry.users++;
  let released = false;
  return {
    target() {
      entry.opening ??= openTarget(server, log);
      return entry.opening;
    },
    async release() {
      if (released) return;
      released = true;
      if (--entry.users > 0) return;
      pool.delete(key);
      const opening = entry.opening;
      if (opening) await opening.then((t) => t.close()).catch(() => undefined);
    },
  };
}

function isTarget(value: ServerSpec | Target): value is Target {
  return typeof value === 'object' && typeof (value as Target).exec === 'function';
}
