import type { Logger } from './log';
import { openSession } from './ssh/session';
import { LocalTarget } from './remote/local';
import type { ServerSpec } from './ssh/resolve';
import type { Target } from './remote/target';

/** Opens the target a server spec names: the local machine for host "local", else one SSH session. */
export async function openTarget(spec: ServerSpec, log: Logger): Promise<Target> {
  const host = typeof spec === 'string' ? spec : spec.host;
  if (host === 'local') return new LocalTarget(typeof spec === 'string' ? 'local' : spec.name ?? 'local', log);
  return openSession(spec, log);
}
