import type { Logger } from './log';
import type { openSession as OpenSession } from './ssh/session';
import { LocalTarget } from './remote/local';
import { resolveServer, type ServerSpec } from './ssh/resolve';
import { connectTcp } from './ssh/tcp';
import type { Target } from './remote/target';

/** Opens the target a server spec names: the local machine for host "local", else one SSH session. */
export async function openTarget(spec: ServerSpec, log: Logger): Promise<Target> {
  const host = typeof spec === 'string' ? spec : spec.host;
  if (host === 'local') return new LocalTarget(typeof spec === 'string' ? 'local' : (spec.name ?? 'local'), log);
  // The TCP connection starts first: the server starts its sshd while ssh2 loads here.
  const server = resolveServer(spec);
  const sock = server.proxyJump ? undefined : connectTcp(server);
  sock?.catch(() => undefined); // told when the session awaits it
  // Loaded only when a task connects: ssh2 and ssh2-sftp-client cost ~60–100 ms to load, which
  // `gulp --tasks` and a bare require('gulp-attache') would otherwise pay.
  const { openSession } = require('./ssh/session') as { openSession: typeof OpenSession };
  return openSession(spec, log, { server, sock });
}
