import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AttacheError, RemoteCommandError } from '../../src/errors';
import { swapLink } from '../../src/remote/swap-link';
import { openTarget } from '../../src/open-target';
import { openSession } from '../../src/ssh/session';
import { addAlias, createHome, keygen, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';
import { captureLogger } from '../support/log';
import { logMark, waitFor } from '../support/streams';

describe('SSH session against a real sshd', () => {
  let home: TestHome;
  let server: SshServer;

  before(async () => {
    home = createHome();
    server = await startSshd(home);
  });
  after(() => server.stop());

  const target = () => ({ host: '127.0.0.1', port: server.port, user: 'root' });

  it('runs a command and returns its output and exit status, streaming lines with the server name', async () => {
    trust(home, server);
    const { log, lines } = captureLogger();
    const session = await openSession({ ...target(), name: 'web1' }, log);
    try {
      const result = await session.exec('echo hello; echo oops >&2; echo world');
      assert.equal(result.code, 0);
      assert.equal(result.stdout, 'hello\nworld\n');
      assert.equal(result.stderr, 'oops\n');
      assert.ok(lines.includes('[web1] hello'));
      assert.ok(lines.includes('[web1] oops'), 'stderr lines are logged too, and are not a failure');
      const status = await session.exec('exit 3', { check: false });
      assert.equal(status.code, 3);
    } finally {
      await session.close();
    }
  });

  it('fails a non-zero command with an error naming server, command, exit code and output tail', async () => {
    const { log } = captureLogger('quiet');
    const session = await openSession({ ...target(), name: 'web1' }, log);
    try {
      await assert.rejects(session.exec('echo first; echo "it broke" >&2; exit 7', { step: 'composer' }), (error: unknown) => {
        assert.ok(error instanceof RemoteCommandError);
        assert.match(error.message, /server "web1"/);
        assert.match(error.message, /step "composer"/);
        assert.match(error.message, /exited with code 7/);
        assert.match(error.message, /command: echo first; echo "it broke" >&2; exit 7/);
        assert.match(error.message, /it broke/);
        assert.equal(error.context.exitCode, 7);
        return true;
      });
    } finally {
      await session.close();
    }
  });

  it('refuses an unknown host and prints its SHA256 fingerprint and the known_hosts line that trusts it', async () => {
    const other = await startSshd(home);
    try {
      const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${other.hostKeyFile}.pub`])
        .toString()
        .split(' ')[1];
      await assert.rejects(openSession({ host: '127.0.0.1', port: other.port }, captureLogger().log), (error: unknown) => {
        assert.ok(error instanceof AttacheError);
        assert.match(error.message, new RegExp(`\\[127\\.0\\.0\\.1\\]:${other.port} is not in`));
        assert.ok(error.message.includes(expected), `fingerprint ${expected} in: ${error.message}`);
        assert.ok(error.message.includes(`[127.0.0.1]:${other.port} ${other.hostKey}`), `the known_hosts line in: ${error.message}`);
        return true;
      });
      assert.equal(readFileSync(home.knownHosts, 'utf8').includes(`${other.port}]`), false, 'nothing was written');
    } finally {
      await other.stop();
    }
  });

  it('refuses a changed host key even with acceptNewHostKeys', async () => {
    const other = await startSshd(home);
    try {
      // known_hosts holds a different ed25519 key for this host:port.
      const fake = path.join(home.dir, 'fake_host_key');
      keygen(fake);
      const fakeLine = readFileSync(`${fake}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
      writeFileSync(home.knownHosts, readFileSync(home.knownHosts, 'utf8') + `[127.0.0.1]:${other.port} ${fakeLine}\n`);
      await assert.rejects(
        openSession({ host: '127.0.0.1', port: other.port, acceptNewHostKeys: true }, captureLogger().log),
        /has CHANGED[\s\S]*ssh-keygen -R/,
      );
    } finally {
      await other.stop();
    }
  });

  it('acceptNewHostKeys records an unknown host in known_hosts, and the entry is then trusted', async () => {
    const other = await startSshd(home);
    try {
      const session = await openSession({ host: '127.0.0.1', port: other.port, acceptNewHostKeys: true }, captureLogger().log);
      await session.close();
      const known = readFileSync(home.knownHosts, 'utf8');
      assert.ok(known.includes(`[127.0.0.1]:${other.port} ${other.hostKey}`), known);
      const again = await openSession({ host: '127.0.0.1', port: other.port }, captureLogger().log);
      await again.close();
    } finally {
      await other.stop();
    }
  });

  it('accepts a hashed known_hosts entry (ssh-keygen -H)', async () => {
    const other = await startSshd(home);
    const file = path.join(home.dir, 'hashed_known_hosts');
    try {
      writeFileSync(file, `[127.0.0.1]:${other.port} ${other.hostKey}\n`);
      execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
      assert.match(readFileSync(file, 'utf8'), /^\|1\|/);
      const session = await openSession({ host: '127.0.0.1', port: other.port, knownHostsFile: file }, captureLogger().log);
      assert.equal((await session.exec('echo ok')).stdout, 'ok\n');
      await session.close();
    } finally {
      await other.stop();
    }
  });

  it('refuses a host key marked @revoked', async () => {
    const file = path.join(home.dir, 'revoked_known_hosts');
    writeFileSync(file, `[127.0.0.1]:${server.port} ${server.hostKey}\n@revoked * ${server.hostKey}\n`);
    await assert.rejects(openSession({ ...target(), knownHostsFile: file }, captureLogger().log), /@revoked/);
  });

  it('resolves a host alias from ~/.ssh/config with HostName, Port, User and IdentityFile', async () => {
    const keyFile = path.join(home.sshDir, 'deploy_key');
    keygen(keyFile);
    const other = await startSshd(home, { authorizedKeys: [readFileSync(`${keyFile}.pub`, 'utf8').trim()] });
    try {
      trust(home, other);
      addAlias(home, 'production', { HostName: '127.0.0.1', Port: other.port, User: 'root', IdentityFile: '~/.ssh/deploy_key' });
      const session = await openSession('production', captureLogger().log);
      assert.equal((await session.exec('whoami')).stdout.trim(), 'root');
      assert.equal(session.server.port, other.port);
      await session.close();
      // The default key is not authorized there: only the alias's IdentityFile got us in.
      await assert.rejects(
        openSession({ host: '127.0.0.1', port: other.port, user: 'root' }, captureLogger().log),
        /authentication as "root" was rejected/,
      );
    } finally {
      await other.stop();
    }
  });

  it('uses a key with a passphrase from an environment variable, and names a wrong or missing one', async () => {
    const keyFile = path.join(home.sshDir, 'locked_key');
    keygen(keyFile, 'correct horse');
    const other = await startSshd(home, { authorizedKeys: [readFileSync(`${keyFile}.pub`, 'utf8').trim()] });
    try {
      trust(home, other);
      const spec = { host: '127.0.0.1', port: other.port, user: 'root', identityFile: keyFile };
      process.env.TEST_KEY_PASSPHRASE = 'correct horse';
      const session = await openSession({ ...spec, passphraseEnv: 'TEST_KEY_PASSPHRASE' }, captureLogger().log);
      await session.close();
      await assert.rejects(openSession({ ...spec, passphrase: 'guess-9f3a' }, captureLogger().log), (error: Error) => {
        assert.match(error.message, /wrong passphrase for private key .*locked_key/);
        assert.equal(error.message.includes('guess-9f3a'), false, 'the passphrase itself is not in the message');
        return true;
      });
      await assert.rejects(openSession(spec, captureLogger().log), /is encrypted and no passphrase was given/);
    } finally {
      await other.stop();
    }
  });

  it('reports a missing private key before connecting', async () => {
    await assert.rejects(
      openSession({ ...target(), identityFile: path.join(home.dir, 'nope') }, captureLogger().log),
      /private key .*nope does not exist/,
    );
  });

  it('a missing private key found after the TCP connection opened (openTarget opens it before ssh2 loads): that connection is closed', async () => {
    const mark = logMark(server.logFile);
    await assert.rejects(
      openTarget({ ...target(), identityFile: path.join(home.dir, 'nope') }, captureLogger().log),
      /private key .*nope does not exist/,
    );
    const connections = () =>
      [
        ...readFileSync(server.logFile, 'utf8')
          .slice(mark)
          .matchAll(/Connection from \S+ port (\d+)/g),
      ].map((m) => m[1]);
    await waitFor(() => connections().length === 1, 'the early connection reached sshd');
    const closed = (port: string) =>
      new RegExp(`(closed by|reset by|Disconnected from) \\S+ port ${port}\\b`).test(readFileSync(server.logFile, 'utf8').slice(mark));
    await waitFor(() => closed(connections()[0]), 'the early connection is closed, so gulp can exit');
  });

  it('reports a refused connection clearly', async () => {
    const stopped = await startSshd(home);
    await stopped.stop();
    await assert.rejects(openSession({ host: '127.0.0.1', port: stopped.port }, captureLogger().log), (error: Error) => {
      assert.match(error.message, new RegExp(`connection refused by 127\\.0\\.0\\.1:${stopped.port}`));
      assert.match(error.message, /Is sshd running/);
      return true;
    });
  });

  it('reports rejected authentication clearly', async () => {
    const other = await startSshd(home, {
      authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBXs0pUoXpbMOfsqJvUUIxcHpT0IYnlEJYdg7DIbvGhW nobody'],
    });
    try {
      trust(home, other);
      await assert.rejects(openSession({ host: '127.0.0.1', port: other.port, user: 'root' }, captureLogger().log), (error: Error) => {
        assert.match(error.message, /authentication as "root" was rejected/);
        assert.match(error.message, /Tried: key .*id_ed25519/);
        return true;
      });
    } finally {
      await other.stop();
    }
  });

  it('sends a key from a file signed at once (no USERAUTH_PK_OK round trip), ed25519, ECDSA and RSA alike; a refused key lets the next one try', async () => {
    const keys = ['ed25519', 'ecdsa', 'rsa'].map((type) => {
      const file = path.join(home.sshDir, `signed_${type}`);
      keygen(file, '', type);
      return file;
    });
    const refused = path.join(home.sshDir, 'signed_refused');
    keygen(refused);
    const other = await startSshd(home, { authorizedKeys: keys.map((file) => readFileSync(`${file}.pub`, 'utf8').trim()) });
    // ssh2's own debug lines, asked of the real client: what it sent and received during authentication.
    const { Client } = await import('ssh2');
    const connect = Client.prototype.connect;
    let heard: string[] = [];
    Client.prototype.connect = function (this: InstanceType<typeof Client>, config: Parameters<typeof connect>[0]) {
      return connect.call(this, { ...config, debug: (line: string) => heard.push(line) });
    };
    try {
      trust(home, other);
      for (const identityFiles of [...keys.map((file) => [file]), [refused, keys[0]]]) {
        heard = [];
        const session = await openSession(
          { host: '127.0.0.1', port: other.port, user: 'root', identityFile: identityFiles },
          captureLogger('quiet').log,
        );
        try {
          assert.equal((await session.exec('echo in')).stdout, 'in\n', `${identityFiles.join(', ')}: authenticated`);
        } finally {
          await session.close();
        }
        const name = path.basename(identityFiles.at(-1) as string);
        assert.ok(
          heard.some((line) => /USERAUTH_REQUEST \(publickey\)/.test(line)),
          `${name}: a signed request was sent`,
        );
        assert.ok(
          !heard.some((line) => /USERAUTH_PK_OK|publickey -- check/.test(line)),
          `${name}: the server was not asked first:\n${heard.filter((l) => /USERAUTH/.test(l)).join('\n')}`,
        );
        if (identityFiles.length > 1)
          assert.ok(
            heard.some((line) => /USERAUTH_FAILURE/.test(line)),
            'the refused key was tried first',
          );
      }
    } finally {
      Client.prototype.connect = connect;
      await other.stop();
    }
  });

  it('carries out file operations sent together in the order they were called, even while the SFTP channel still opens', async () => {
    const { log } = captureLogger('quiet');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attache-order-'));
    mkdirSync(path.join(dir, 'a'));
    mkdirSync(path.join(dir, 'b'));
    symlinkSync('a', path.join(dir, 'live'));
    // Right after open(): the requests queue until SFTP is there, and go out in call order.
    const session = await openSession(target(), log);
    try {
      const link = path.join(dir, 'live');
      const next = path.join(dir, 'live.next');
      const [made, renamed, now] = await Promise.all([session.symlink('b', next), session.rename(next, link), session.readlink(link)]);
      assert.deepEqual([made, renamed, now], [undefined, undefined, 'b'], 'the rename saw the symlink, and the readlink saw the rename');
      // A symlink that fails (its directory is missing): the rename sent behind it fails too, and live stays.
      const nowhere = path.join(dir, 'missing', 'live.next');
      const results = await Promise.allSettled([session.symlink('a', nowhere), session.rename(nowhere, link), session.readlink(link)]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['rejected', 'rejected', 'fulfilled'],
      );
      assert.equal(readlinkSync(link), 'b');
      // The swap as the deploy makes it: the checks together, then symlink, rename and check together.
      const result = await swapLink(session, link, 'a');
      assert.deepEqual(result, { link, previous: 'b', current: 'a', changed: true });
      assert.equal(readlinkSync(link), 'a');
      assert.deepEqual(readdirSync(dir).sort(), ['a', 'b', 'live'], 'no temporary link left');
    } finally {
      await session.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets the process exit by itself once the session is closed', () => {
    const script = `
      const { openSession } = require(${JSON.stringify(path.resolve('src/ssh/session.ts'))});
      const { createLogger } = require(${JSON.stringify(path.resolve('src/log.ts'))});
      openSession({ host: '127.0.0.1', port: ${server.port}, user: 'root' }, createLogger({ verbosity: 'quiet' }))
        .then(async (s) => { await s.exec('true'); await s.writeFile('/tmp/attache-exit-test', Buffer.from('x')); await s.close(); console.log('closed'); });
    `;
    const started = Date.now();
    const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
      env: { ...process.env },
      timeout: 20_000,
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /closed/);
    assert.ok(Date.now() - started < 15_000, 'exited without waiting for a timeout');
  });
});
