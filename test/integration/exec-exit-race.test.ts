import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { openSession } from '../../src/ssh/session';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';
import { captureLogger } from '../support/log';

/**
 * Guards the exec exit-status race that SshSession.exec once had: its 'exit' listener was attached
 * only after awaiting a promise resolved in ssh2's exec callback, and ssh2 calls that callback while
 * parsing CHANNEL_SUCCESS and goes on, in the same synchronous loop, with whatever else arrived in
 * the same read. A fast command's exit status was then emitted before anyone listened, and exec()
 * failed with "command exited with code null".
 *
 * The old conditions: a server whose shell starts fast (SetEnv SHLVL=1: bash skips ~/.bashrc), one
 * session, many `true`s, while the event loop is kept busy in slices between its polls (as a deploy
 * is, hashing and uploading beside its commands), so CHANNEL_SUCCESS and the exit status tend to
 * arrive in the same read.
 */
describe('exec on a busy event loop, against a real sshd', () => {
  let home: TestHome;
  let server: SshServer;

  before(async () => {
    home = createHome();
    server = await startSshd(home, { name: 'exec-race', config: ['SetEnv SHLVL=1'] });
    trust(home, server);
  });
  after(async () => {
    await server.stop();
    rmSync(server.dir, { recursive: true, force: true });
    rmSync(home.dir, { recursive: true, force: true });
  });

  it('gets the exit status of every fast command even when its reply arrives in one read with the channel confirmation', async () => {
    const { log } = captureLogger('quiet');
    const session = await openSession({ host: '127.0.0.1', port: server.port, user: 'root' }, log);
    let busy = true;
    // Busy slices of 10 ms between the event loop's polls: whatever the server sends meanwhile is read at once.
    const spin = () => {
      if (!busy) return;
      const t = performance.now();
      while (performance.now() - t < 10) {
        // busy
      }
      setImmediate(spin);
    };
    setImmediate(spin);
    const codes: Array<number | null | string> = [];
    try {
      for (let i = 0; i < 40; i++) {
        try {
          codes.push((await session.exec('true')).code);
        } catch (error) {
          codes.push((error as Error).message.split('\n')[0]);
        }
      }
    } finally {
      busy = false;
      await session.close();
    }
    assert.deepEqual(
      codes,
      Array.from({ length: 40 }, () => 0),
    );
  });
});
