import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openSession, type SshSession } from '../../src/ssh/session';
import { captureLogger } from '../support/log';
import { createSite } from '../support/preset';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';

/**
 * Hardened servers: sshd with MaxSessions 1 and 2 (sessions per connection; OpenSSH's default is
 * 10). The deploy learns the limit from the first refused channel and goes on within it: commands
 * and streamed uploads wait for one another, an idle shell is closed for a channel that needs its
 * place, and where SFTP takes the one session the commands get a second connection. The log says
 * once what the server allows and what it costs.
 */

const LIMIT_LINE = (n: number) => new RegExp(`the server allows ${n} session\\(s\\) per SSH connection \\(MaxSessions ${n}\\)`);

describe('a hardened sshd that allows 1 or 2 sessions per connection', () => {
  let home: TestHome;
  const servers = new Map<number, SshServer>();

  before(async () => {
    home = createHome();
    for (const limit of [1, 2]) {
      const server = await startSshd(home, { name: `ms${limit}`, config: [`MaxSessions ${limit}`] });
      trust(home, server);
      servers.set(limit, server);
    }
  });
  after(async () => {
    for (const server of servers.values()) await server.stop();
  });

  for (const limit of [1, 2]) {
    it(`MaxSessions ${limit}: commands, SFTP and a streamed input asked for at once all finish`, async () => {
      const { log, lines } = captureLogger('normal');
      const session: SshSession = await openSession({ host: '127.0.0.1', port: (servers.get(limit) as SshServer).port, user: 'root' }, log);
      try {
        const bytes = randomBytes(256 * 1024);
        const [echoes, streamed, missing] = await Promise.all([
          Promise.all(Array.from({ length: 5 }, (_, i) => session.exec(`echo ${i}`))),
          session.exec('wc -c', { stdin: Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)]) }),
          session.readlink('/nonexistent-link'),
        ]);
        assert.deepEqual(
          echoes.map((r) => r.stdout),
          ['0\n', '1\n', '2\n', '3\n', '4\n'],
        );
        assert.equal(streamed.stdout.trim(), String(bytes.length));
        assert.equal(missing, null, 'SFTP works beside the commands');
        assert.equal(lines.filter((line) => LIMIT_LINE(limit).test(line)).length, 1, lines.join('\n'));
      } finally {
        await session.close();
      }
    });

    it(`MaxSessions ${limit}: a deploy with a streamed asset upload, then a redeploy of a changed asset, serve the local bytes`, async () => {
      const server = servers.get(limit) as SshServer;
      const site = createSite({ target: { host: '127.0.0.1', port: server.port, user: 'root' } });
      // Over 1 MiB to send: the assets go as one streamed tar (a channel of its own), not file by file.
      const big = path.join(site.cwd, 'public/js/big.bin');
      writeFileSync(big, randomBytes(1536 * 1024));
      const first = await site.run('deploy');
      assert.equal(first.lines.filter((line) => LIMIT_LINE(limit).test(line)).length, 1, first.lines.join('\n'));
      assert.deepEqual(readFileSync(path.join(site.root, 'live/public/js/big.bin')), readFileSync(big));

      writeFileSync(big, randomBytes(1536 * 1024));
      await site.run('deploy');
      assert.equal(site.releases().length, 2);
      assert.deepEqual(readFileSync(path.join(site.root, 'live/public/js/big.bin')), readFileSync(big));
      assert.equal(site.marker(site.liveId() as string).status, 'ready');
    });
  }

  it('MaxSessions 2, the artifact strategy: the tree goes as a stream beside the commands', async () => {
    const server = servers.get(2) as SshServer;
    const site = createSite({ target: { host: '127.0.0.1', port: server.port, user: 'root' }, server: { strategy: 'artifact' } });
    const { lines } = await site.run('deploy');
    assert.ok(
      lines.some((line) => LIMIT_LINE(2).test(line)),
      lines.join('\n'),
    );
    assert.deepEqual(readFileSync(path.join(site.root, 'live/public/js/app.js')), readFileSync(path.join(site.cwd, 'public/js/app.js')));
    assert.equal(site.marker(site.liveId() as string).status, 'ready');
  });
});
