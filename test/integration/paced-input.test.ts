import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client, type ClientChannel } from 'ssh2';
import { LEAST_IN_FLIGHT, pacedInput } from '../../src/ssh/paced-input';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';

/**
 * A streamed input paced to the server (src/ssh/paced-input.ts), on a real ssh2 channel to a real
 * sshd: the bytes not yet taken by the command stay under the limit while it does not read, all of
 * them arrive, and far from the server (or with no round trip known) the channel is left as it is.
 */
describe('paced input on a real sshd', () => {
  let home: TestHome;
  let server: SshServer;
  let client: Client;

  before(async () => {
    home = createHome();
    server = await startSshd(home, { name: 'paced' });
    trust(home, server);
    client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve()).once('error', reject);
      client.connect({ host: server.host, port: server.port, username: 'root', privateKey: readFileSync(home.key), hostVerifier: () => true });
    });
  });
  after(async () => {
    client.end();
    await server.stop();
  });

  const exec = (command: string) =>
    new Promise<ClientChannel>((resolve, reject) => client.exec(command, (error, channel) => (error ? reject(error) : resolve(channel))));
  const inFlight = (channel: ClientChannel, fullWindow: number) => fullWindow - (channel as unknown as { outgoing: { window: number } }).outgoing.window;

  /** 8 MB into a command that reads nothing for 0.8 s, then hashes it: the most in flight while it slept, and the hash it printed. */
  async function send(roundTripMs: number | undefined): Promise<{ most: number; sent: string; received: string; same: boolean }> {
    const data = randomBytes(8 * 1024 * 1024);
    const channel = await exec('sleep 0.8; sha256sum');
    const fullWindow = (channel as unknown as { outgoing: { window: number } }).outgoing.window;
    const input = pacedInput(channel, roundTripMs);
    let received = '';
    channel.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise((resolve) => channel.once('close', resolve));
    Readable.from((function* () {
      for (let at = 0; at < data.length; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024);
    })()).pipe(input);
    let most = 0;
    const sampling = setInterval(() => (most = Math.max(most, inFlight(channel, fullWindow))), 5);
    await new Promise((resolve) => setTimeout(resolve, 600));
    clearInterval(sampling);
    await closed;
    return { most, sent: createHash('sha256').update(data).digest('hex'), received: received.split(' ')[0], same: input === channel };
  }

  it('a near server (1 ms): at most the limit and a chunk is in flight while the command does not read, and every byte arrives', async () => {
    const { most, sent, received, same } = await send(1);
    assert.equal(same, false, 'paced');
    assert.ok(most > 0, 'something was sent');
    assert.ok(most <= LEAST_IN_FLIGHT + 64 * 1024, `${most} bytes were in flight`);
    assert.equal(received, sent);
  });

  it('far (100 ms) or not measured yet: the channel itself, which runs ahead by the whole window', async () => {
    for (const roundTripMs of [100, undefined]) {
      const { most, sent, received, same } = await send(roundTripMs);
      assert.equal(same, true, `not paced at ${roundTripMs} ms`);
      assert.ok(most > 1.5 * 1024 * 1024, `${most} bytes were in flight: the whole window, unlike the near case`);
      assert.equal(received, sent);
    }
  });
});
