import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSite } from '../support/preset';
import { createHome } from '../../support/sshd';

/**
 * A server that cannot be reached while the local build runs stops the build at once (its whole
 * process group), and the deploy fails with the connection's error, not the build's.
 */
describe('a connection that fails while the build runs', () => {
  let silent: net.Server;
  let port: number;
  before(async () => {
    createHome(); // a key to offer: the handshake is what fails
    // Accepts the TCP connection and never says a word: the SSH handshake times out.
    silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    port = (silent.address() as net.AddressInfo).port;
  });
  after(() => silent.close());

  it('stops the build and its children, and says why the deploy failed', async () => {
    const marker = `31.${process.pid}`;
    const site = createSite({
      target: { host: '127.0.0.1', port, user: 'root' } as never,
      server: { connectTimeout: 2, scripts: { build: [`touch build-started && sh -c 'sleep ${marker}' && touch built-by-the-build`] } },
    });
    const { error } = await site.fail('deploy');
    assert.match(error.message, /step "connect": .*(timed out|no answer|handshake)/i, error.message);
    assert.ok(existsSync(path.join(site.cwd, 'build-started')), 'the build was running when the connection failed');
    assert.doesNotMatch(error.message, /the local build/, 'the cause is the connection, not the stopped build');
    const left = execFileSync('sh', ['-c', `pgrep -f '[s]leep ${marker}' || true`], { encoding: 'utf8' }).trim();
    assert.equal(left, '', `the build's processes are gone (${left})`);
    assert.ok(!existsSync(path.join(site.cwd, 'built-by-the-build')));
  });
});
