import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { openSession, SILENCE_LIMIT_MS, type SshSession } from '../../src/ssh/session';
import { captureLogger } from '../support/log';
import { startRelay, type Relay } from '../support/relay';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';

/**
 * A connection that stops answering (a relay that keeps both sockets open and forwards nothing)
 * fails within 30 s, saying the server stopped answering; a live connection that is busy or
 * silent for longer than that is never cut. Both run at once, so the file lasts ~one limit.
 */
describe('a stalled connection against a real sshd', () => {
  let home: TestHome;
  let sshd: SshServer;
  const relays: Relay[] = [];
  const sessions: SshSession[] = [];

  before(async () => {
    home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
  });
  after(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await Promise.all(relays.map((r) => r.close()));
    await sshd.stop();
  });

  async function relayedSession(name: string): Promise<{ relay: Relay; session: SshSession }> {
    const relay = await startRelay(sshd.port);
    relays.push(relay);
    appendFileSync(home.knownHosts, `[127.0.0.1]:${relay.port} ${sshd.hostKey}\n`);
    const { log } = captureLogger('quiet');
    const session = await openSession({ host: '127.0.0.1', port: relay.port, user: 'root', name }, log);
    sessions.push(session);
    return { relay, session };
  }

  it(`the silence limit is under 30 s (${SILENCE_LIMIT_MS / 1000} s)`, () => {
    assert.ok(SILENCE_LIMIT_MS <= 30_000);
  });

  it('a stalled connection fails its command within 30 s, saying the server stopped answering; a silent command and a slow upload on a live one last longer and are not cut', async (t) => {
    const stalled = await relayedSession('stalled');
    const silent = await relayedSession('silent');
    const slow = await relayedSession('slow');
    slow.relay.throttle(64 * 1024); // 1.8 MB at 64 KB/s (~28 s): the keepalive answers queue behind the writes

    const quiet = silent.session.exec(`sleep ${Math.ceil(SILENCE_LIMIT_MS / 1000) + 3} && echo done`);
    const upload = slow.session.writeFile('/tmp/attache-slow-upload.bin', Readable.from([Buffer.alloc(1800 * 1024, 7)]));
    const command = stalled.session.exec('sleep 60');
    const failed = command.then(
      () => assert.fail('the command on the stalled connection succeeded'),
      (error: Error) => ({ error, at: Date.now() }),
    );
    await new Promise((r) => setTimeout(r, 500));
    stalled.relay.stall();
    const stalledAt = Date.now();

    const { error, at } = await failed;
    const seconds = (at - stalledAt) / 1000;
    t.diagnostic(`the stalled connection failed ${seconds.toFixed(1)} s after the stall`);
    assert.ok(seconds < 30, `failed ${seconds} s after the stall`);
    assert.match(error.message, /server "stalled"/);
    assert.match(error.message, /was lost \(the server stopped answering: nothing received for \d+ s\)/, error.message);
    assert.doesNotMatch(error.message, /Not connected/);
    assert.ok(stalled.session.isLost, 'the session knows it is lost');

    assert.equal((await quiet).stdout, 'done\n', 'the silent command ran to its end');
    assert.equal(await upload, 1800 * 1024, 'the slow upload was not cut');
    assert.ok(!silent.session.isLost && !slow.session.isLost);
  });
});
