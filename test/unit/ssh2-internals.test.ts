import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { Client, ClientChannel, ParsedKey, SFTPWrapper } from 'ssh2';
import { AttacheError } from '../../src/errors';
import { signKeysAtOnce } from '../../src/ssh/auth';
import { pacedInput } from '../../src/ssh/paced-input';
import { channelWindow, clientOf, keepaliveRestart, maxWriteLength, replaceAuthPK } from '../../src/ssh/ssh2-internals';

/**
 * ssh2's private shapes as a newer or patched ssh2 might have them (src/ssh/ssh2-internals.ts):
 * the ones the session cannot do without fail with the message below; the others degrade to what
 * ssh2 does by itself.
 */
const ssh2Version = (require('ssh2/package.json') as { version: string }).version;
const sftpClientVersion = (require('ssh2-sftp-client/package.json') as { version: string }).version;

describe('ssh2 internals', () => {
  it('fails, naming the installed ssh2 and the version to install, when Client._resetKA is gone', () => {
    const client = new EventEmitter() as unknown as Client;
    assert.throws(
      () => keepaliveRestart(client),
      (error: unknown) => {
        assert.ok(error instanceof AttacheError);
        assert.equal(
          error.message,
          `installed ssh2 ${ssh2Version} differs from what gulp-attache expects: Client._resetKA should be a function once connect() is called, found none\n` +
            '  Install ssh2 1.17.x, the version gulp-attache was tested with (npm install ssh2@~1.17.0), or remove what overrides it.',
        );
        return true;
      },
    );
    const renamed = Object.assign(new EventEmitter(), { _resetKA: 5 }) as unknown as Client;
    assert.throws(() => keepaliveRestart(renamed), /Client\._resetKA should be a function once connect\(\) is called, found a number/);
  });

  it("restarts the keepalive count through ssh2 1.17's own function, called on the client", () => {
    let calledOn: unknown;
    const client = {
      _resetKA(this: unknown) {
        calledOn = this;
      },
    } as unknown as Client;
    keepaliveRestart(client)();
    assert.equal(calledOn, client);
  });

  it('fails, naming ssh2-sftp-client, when it no longer holds the ssh2 client', () => {
    assert.throws(
      () => clientOf({}),
      (error: unknown) => {
        assert.ok(error instanceof AttacheError);
        assert.equal(
          error.message,
          `installed ssh2-sftp-client ${sftpClientVersion} differs from what gulp-attache expects: its client property should be the ssh2 Client it connects, found none\n` +
            '  Install ssh2-sftp-client 12.1.x, the version gulp-attache was tested with (npm install ssh2-sftp-client@~12.1.0), or remove what overrides it.',
        );
        return true;
      },
    );
  });

  it('signs keys the ssh2 way (no error) when the client has no _protocol or no authPK', () => {
    const bare = new EventEmitter() as unknown as Client;
    assert.equal(
      replaceAuthPK(bare, (authPK) => authPK),
      false,
    );
    signKeysAtOnce(bare);
    assert.doesNotThrow(() => bare.emit('handshake', {}));
    const withoutAuthPK = Object.assign(new EventEmitter(), { _protocol: {} }) as unknown as Client;
    signKeysAtOnce(withoutAuthPK);
    assert.doesNotThrow(() => withoutAuthPK.emit('handshake', {}));
    assert.deepEqual((withoutAuthPK as unknown as { _protocol: object })._protocol, {});
  });

  it('replaces authPK when the protocol has it, and the replacement reaches the original', () => {
    const calls: unknown[][] = [];
    const protocol = { authPK: (...args: unknown[]) => void calls.push(args) };
    const client = Object.assign(new EventEmitter(), { _protocol: protocol }) as unknown as Client;
    signKeysAtOnce(client);
    client.emit('handshake', {});
    const agentKey = { isPrivateKey: () => false } as unknown as ParsedKey;
    protocol.authPK('deploy', agentKey, 'ssh-ed25519');
    assert.deepEqual(calls, [['deploy', agentKey, 'ssh-ed25519', undefined]], 'a key it cannot sign goes to ssh2 unchanged');
  });

  it('sends a streamed input unpaced when a channel has no outgoing window', () => {
    const channels = [
      {},
      { outgoing: {} },
      { outgoing: { window: '2097152' } },
      { outgoing: Object.defineProperty({}, 'window', { get: () => 2_097_152 }) },
    ];
    for (const channel of channels) {
      assert.equal(channelWindow(channel as unknown as ClientChannel), undefined);
      assert.equal(pacedInput(channel as unknown as ClientChannel, 1), channel, 'the channel itself, as ssh2 sends it');
    }
    const outgoing = { window: 2_097_152 };
    assert.equal(channelWindow({ outgoing } as unknown as ClientChannel), 2_097_152);
  });

  it('writes 32 KiB at a time when the SFTP channel has no _maxWriteLen', () => {
    assert.equal(maxWriteLength({} as SFTPWrapper), 32 * 1024);
    assert.equal(maxWriteLength({ _maxWriteLen: 'big' } as unknown as SFTPWrapper), 32 * 1024);
    assert.equal(maxWriteLength({ _maxWriteLen: 261_120 } as unknown as SFTPWrapper), 261_120);
  });
});
