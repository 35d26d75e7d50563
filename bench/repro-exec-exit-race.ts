/**
 * Reproduces the exec exit-status race of src/ssh/session.ts (see bench/exec-exit-shim.ts) on its
 * own: a throwaway sshd whose shell starts fast (SetEnv SHLVL=1, so bash skips ~/.bashrc), one
 * session, N × `true`, while the event loop is kept busy in slices of STALL_MS between its polls
 * (as a deploy is, hashing and uploading beside its commands): the server's CHANNEL_SUCCESS and
 * exit-status then tend to arrive in the same read.
 *
 *   node --import tsx bench/repro-exec-exit-race.ts            # the package as it is
 *   node --import tsx bench/repro-exec-exit-race.ts --shim     # with the bench shim (the fix's equivalent)
 *
 * Environment: N (default 200), STALL_MS (default 10).
 */
import { rmSync } from 'node:fs';
import { createLogger } from '../src/log';
import { openSession } from '../src/ssh/session';
import { createHome, startSshd, trust } from '../test/support/sshd';
import { installExecExitShim } from './exec-exit-shim';

async function main(): Promise<void> {
  if (process.argv.includes('--shim')) installExecExitShim();
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
  console.log(`${failed}/${n} execs of \`true\` failed${first ? ` (first: ${first})` : ''}${process.argv.includes('--shim') ? ' [with the shim]' : ''}`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 2;
});
