/**
 * Regression check for the exec exit-status race that src/ssh/session.ts (SshSession.exec) once had
 * and that is now fixed. exec() used to attach its 'exit' listener only after awaiting a promise
 * resolved in ssh2's exec callback; ssh2 calls that callback while parsing CHANNEL_SUCCESS and goes
 * on, in the same synchronous loop, with whatever else arrived in the same read, so a fast command's
 * exit status could be emitted before anyone listened, and exec() failed with "command exited with
 * code null" (a deploy then failed and rolled back). exec() now attaches its 'exit' and 'close'
 * listeners synchronously inside the exec callback; this script guards that.
 *
 * It provokes the old conditions against the real package: a throwaway sshd whose shell starts fast
 * (SetEnv SHLVL=1, so bash skips ~/.bashrc), one session, N × `true`, while the event loop is kept
 * busy in slices of STALL_MS between its polls (as a deploy is, hashing and uploading beside its
 * commands), so the server's CHANNEL_SUCCESS and exit-status tend to arrive in the same read. It
 * prints how many execs lost their exit status (expected: 0) and exits non-zero if any did.
 *
 *   node --import tsx bench/repro-exec-exit-race.ts
 *
 * Environment: N (default 200), STALL_MS (default 10).
 */
import { rmSync } from 'node:fs';
import { createLogger } from '../src/log';
import { openSession } from '../src/ssh/session';
import { createHome, startSshd, trust } from '../test/support/sshd';

async function main(): Promise<void> {
  const n = Number(process.env.N ?? 200);
  const stall = Number(process.env.STALL_MS ?? 10);
  const home = createHome();
  const server = await startSshd(home, { name: 'repro', config: ['SetEnv SHLVL=1'] });
  trust(home, server);
  const log = createLogger({ verbosity: 'quiet', interactive: false, write: () => undefined });
  const session = await openSession({ host: '127.0.0.1', port: server.port, user: 'root' }, log);
  let failed = 0;
  let first = '';
  // Busy slices between the event loop's polls: whatever the server sends during a slice is read at once.
  let busy = true;
  const spin = () => {
    if (!busy) return;
    const t = performance.now();
    while (performance.now() - t < stall) {
      // busy
    }
    setImmediate(spin);
  };
  setImmediate(spin);
  try {
    for (let i = 0; i < n; i++) {
      try {
        await session.exec('true');
      } catch (error) {
        failed++;
        first ||= (error as Error).message.split('\n')[0];
      }
    }
  } finally {
    busy = false;
    await session.close();
    await server.stop();
    rmSync(home.dir, { recursive: true, force: true });
    rmSync(server.dir, { recursive: true, force: true });
  }
  console.log(`${failed}/${n} execs of \`true\` lost their exit status${first ? ` (first: ${first})` : ''} — expected 0`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 2;
});
