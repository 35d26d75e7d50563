import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { LEAST_IN_FLIGHT, pacedInput } from '../../src/ssh/paced-input';
import { openSession } from '../../src/ssh/session';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';
import { captureLogger } from '../support/log';
import { startRelay, type Relay } from '../support/relay';

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
      client.connect({
        host: server.host,
        port: server.port,
        username: 'root',
        privateKey: readFileSync(home.key),
        hostVerifier: () => true,
      });
    });
  });
  after(async () => {
    client.end();
    await server.stop();
  });

  const exec = (command: string) =>
    new Promise<ClientChannel>((resolve, reject) => client.exec(command, (error, channel) => (error ? reject(error) : resolve(channel))));
  const inFlight = (channel: ClientChannel, fullWindow: number) =>
    fullWindow - (channel as unknown as { outgoing: { window: number } }).outgoing.window;

  /** 8 MB into a command that reads nothing for 0.8 s, then hashes it: the most in flight while it slept, and the hash it printed. */
  async function send(roundTripMs: number | undefined): Promise<{ most: number; sent: string; received: string; same: boolean }> {
    const data = randomBytes(8 * 1024 * 1024);
    const channel = await exec('sleep 0.8; sha256sum');
    const fullWindow = (channel as unknown as { outgoing: { window: number } }).outgoing.window;
    const input = pacedInput(channel, roundTripMs);
    let received = '';
    channel.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise((resolve) => channel.once('close', resolve));
    Readable.from(
      (function* () {
        for (let at = 0; at < data.length; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024);
      })(),
    ).pipe(input);
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

/**
 * SFTP writes paced to the server (PacedWrites in src/ssh/paced-input.ts), through a real session
 * to a real sshd: the bytes of writes not yet answered stay under the limit when the server is near,
 * however many files are written at once; far away, more than that goes; every file arrives whole.
 */
describe('paced SFTP writes on a real sshd', () => {
  let home: TestHome;
  let server: SshServer;
  let relay: Relay;
  let dir: string;

  before(async () => {
    home = createHome();
    server = await startSshd(home, { name: 'paced-sftp', config: ['SetEnv SHLVL=1'] });
    trust(home, server);
    relay = await startRelay(server.port);
    appendFileSync(home.knownHosts, `[127.0.0.1]:${relay.port} ${server.hostKey}\n`);
    dir = mkdtempSync(path.join(os.tmpdir(), 'attache-paced-sftp-'));
  });
  after(async () => {
    await relay.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** 12 files of 1 MB (Buffers) and one streamed 4 MB file, all at once: the most write bytes unanswered, and whether each arrived whole. */
  async function writeMany(port: number, into: string): Promise<number> {
    const { log } = captureLogger('quiet');
    const session = await openSession({ host: '127.0.0.1', port, user: 'root' }, log);
    try {
      await session.mkdir(into); // an SFTP answer: the session knows its round trip from here on
      const sftp = await (session as unknown as { files: { ready: Promise<SFTPWrapper> } }).files.ready;
      const write = sftp.write.bind(sftp);
      let unanswered = 0;
      let most = 0;
      // Counts what the session asks of the real SFTP channel; the writes themselves go on unchanged.
      sftp.write = ((
        handle: Buffer,
        buffer: Buffer,
        offset: number,
        length: number,
        position: number,
        cb: (error?: Error | null) => void,
      ) => {
        unanswered += length;
        most = Math.max(most, unanswered);
        write(handle, buffer, offset, length, position, (error?: Error | null) => {
          unanswered -= length;
          cb(error);
        });
      }) as typeof sftp.write;
      const files = Array.from({ length: 12 }, () => randomBytes(1024 * 1024));
      const streamed = randomBytes(4 * 1024 * 1024);
      await Promise.all([
        ...files.map((data, i) => session.writeFile(`${into}/f${i}`, data, 0o640)),
        session.writeFile(
          `${into}/streamed`,
          Readable.from(
            (function* () {
              for (let at = 0; at < streamed.length; at += 100_000) yield streamed.subarray(at, at + 100_000);
            })(),
          ),
        ),
      ]);
      files.forEach((data, i) => assert.ok(readFileSync(`${into}/f${i}`).equals(data), `f${i} arrived whole`));
      assert.ok(readFileSync(`${into}/streamed`).equals(streamed), 'the streamed file arrived whole');
      assert.equal(statSync(`${into}/f0`).mode & 0o777, 0o640);
      return most;
    } finally {
      await session.close();
    }
  }

  it('a near server: at most the limit of write bytes is unanswered, and every file arrives whole', async () => {
    const most = await writeMany(server.port, path.join(dir, 'near'));
    assert.ok(most > 0, 'something was written');
    assert.ok(most <= LEAST_IN_FLIGHT, `${most} bytes of writes were unanswered at once (limit ${LEAST_IN_FLIGHT})`);
  });

  it('a far server (an 80 ms round trip): the limit is higher, and more goes at once', async () => {
    relay.delay(40);
    try {
      const most = await writeMany(relay.port, path.join(dir, 'far'));
      assert.ok(most > 4 * LEAST_IN_FLIGHT, `${most} bytes of writes were unanswered at once: a far link needs more than the near limit`);
    } finally {
      relay.delay(0);
    }
  });
});
