import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Client } from 'ssh2';
import { AttacheError } from '../../src/errors';
import { openSession } from '../../src/ssh/session';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';
import { captureLogger } from '../support/log';
import { logMark, waitFor } from '../support/streams';

/**
 * A connection made with an ssh2 whose private shape is not the one gulp-attache was tested with
 * (src/ssh/ssh2-internals.ts): it fails before the server is heard, says which ssh2 and what to
 * install, and lets go of its socket.
 */
describe('an ssh2 that is not as expected, against a real sshd', () => {
  let home: TestHome;
  let server: SshServer;

  before(async () => {
    home = createHome();
    server = await startSshd(home);
    trust(home, server);
  });
  after(() => server.stop());

  const target = () => ({ host: '127.0.0.1', port: server.port, user: 'root', name: 'web1' });

  it('fails the connection with the installed version and the fix when Client._resetKA is gone, and closes it', async () => {
    const version = (require('ssh2/package.json') as { version: string }).version;
    const connect = Client.prototype.connect;
    // An ssh2 without the keepalive restart: connect() as ever, then no _resetKA on the client.
    Client.prototype.connect = function (this: Client, config) {
      const result = connect.call(this, config);
      (this as unknown as { _resetKA?: unknown })._resetKA = undefined;
      return result;
    };
    const mark = logMark(server.logFile);
    try {
      await assert.rejects(openSession(target(), captureLogger('quiet').log), (error: unknown) => {
        assert.ok(error instanceof AttacheError);
        assert.equal(
          error.message,
          `installed ssh2 ${version} differs from what gulp-attache expects: Client._resetKA should be a function once connect() is called, found none\n` +
            '  Install ssh2 1.17.x, the version gulp-attache was tested with (npm install ssh2@~1.17.0), or remove what overrides it.',
        );
        return true;
      });
    } finally {
      Client.prototype.connect = connect;
    }
    const log = () => readFileSync(server.logFile, 'utf8').slice(mark);
    const connections = () => [...log().matchAll(/Connection from \S+ port (\d+)/g)].map((m) => m[1]);
    await waitFor(() => connections().length === 1, 'the connection reached sshd');
    const closed = (port: string) => new RegExp(`(closed by|reset by|Disconnected from) \\S+ port ${port}\\b`).test(log());
    await waitFor(() => closed(connections()[0]), 'the connection is closed, so gulp can exit');
  });

  it('connects as ever with the ssh2 it was tested with', async () => {
    const session = await openSession(target(), captureLogger('quiet').log);
    try {
      assert.equal((await session.exec('echo ok')).stdout, 'ok\n');
    } finally {
      await session.close();
    }
  });
});
