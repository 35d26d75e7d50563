import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Vinyl from 'vinyl';
import { upload } from '../../src/plugins/upload';
import { openTarget } from '../../src/open-target';
import { tempDir } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { collect, fromFiles } from '../support/streams';
import { createSite, exists, readLink, type Site, type TargetSpec } from '../support/preset';
import { createHome, freePort, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';
import { createDeployUser, userDirectory, type DeployUser } from '../support/users';

/**
 * What a user trusts at the server's edges, on the real sshd: a dry run of every operation reads
 * the server and names what would change; a dangling live link is named and rolled back from; the
 * deploy user's login shell (zsh, dash) does not matter; a credential in a URL never shows; a failed
 * git command leads with git's own line.
 */

const A = '20260101000000';
const B = '20260102000000';
const C = '20260103000000';
const D = '20260104000000';

/** Releases as a deploy leaves them (a ready marker each) and live pointing at `live`. */
function handMadeReleases(root: string, ids: string[], live: string): void {
  for (const id of ids) {
    mkdirSync(path.join(root, 'releases', id), { recursive: true });
    writeFileSync(
      path.join(root, 'releases', id, '.attache-release.json'),
      JSON.stringify({ id, status: 'ready', commit: `c0ffee${id}` }) + '\n',
    );
  }
  symlinkSync(`releases/${live}`, path.join(root, 'live'));
}

describe('trust at the server edges, on the real sshd', () => {
  let home: TestHome;
  let sshd: SshServer;
  let target: TargetSpec;

  before(async () => {
    home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
    target = { host: '127.0.0.1', port: sshd.port, user: 'root' };
  });
  after(() => sshd.stop());

  it('a host defined in a file Included from ~/.ssh/config (Include config.d/*) is reached', async () => {
    mkdirSync(path.join(home.sshDir, 'config.d'));
    writeFileSync(path.join(home.sshDir, 'config.d', 'lab'), `Host lab\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User root\n`);
    writeFileSync(home.config, 'Include config.d/*\n');
    const session = await openTarget('lab', captureLogger('quiet').log);
    try {
      assert.equal((await session.exec('echo reached $(id -un)')).stdout, 'reached root\n');
    } finally {
      await session.close();
    }
  });

  it('uploads an asset whose name is 250 bytes (the temporary name stays within 255)', async () => {
    const dest = path.join(tempDir('attache-long-'), 'release');
    const name = `${'é'.repeat(100)}${'n'.repeat(46)}.png`; // 200 + 46 + 4 bytes
    assert.equal(Buffer.byteLength(name), 250);
    const contents = Buffer.from('a long-named asset\n');
    const file = new Vinyl({ cwd: '/', base: '/src', path: `/src/img/${name}`, contents });
    await collect(
      fromFiles([file]),
      upload({ server: { host: '127.0.0.1', port: sshd.port, user: 'root', name: 'web1' }, dest, logger: captureLogger('quiet').log }),
    );
    assert.deepEqual(readFileSync(path.join(dest, 'img', name)), contents);
    assert.deepEqual(readdirSync(path.join(dest, 'img')), [name], 'no temporary file left behind');
  });

  describe('--dry-run on every operation reads the server and changes nothing', () => {
    let site: Site;
    before(() => {
      site = createSite({ target, server: { keep: 2 }, buildAssets: false });
      handMadeReleases(site.root, [A, B, C, D], D);
    });

    it('rollback --dry-run names the release it would activate; live stays', async () => {
      const { lines } = await site.run('rollback', ['--dry-run']);
      assert.ok(
        lines.some((l) => l.includes(`[dry run] [production] would point ${site.root}/live -> releases/${C} (now -> releases/${D})`)),
        lines.join('\n'),
      );
      assert.equal(site.live(), `releases/${D}`);
      assert.ok(!exists(path.join(site.root, '.attache-lock')), 'no lock taken');
    });

    it('activate --release=<id> --dry-run names that release; live stays', async () => {
      const { lines } = await site.run('activate', [`--release=${A}`, '--dry-run']);
      assert.ok(
        lines.some((l) => l.includes(`would point ${site.root}/live -> releases/${A}`)),
        lines.join('\n'),
      );
      assert.equal(site.live(), `releases/${D}`);
    });

    it('prune --dry-run names the releases it would delete; they stay', async () => {
      const { lines } = await site.run('prune', ['--dry-run']);
      assert.ok(
        lines.some((l) => l.includes(`[dry run] [production] would prune 2 releases: ${A}, ${B} (keep 2)`)),
        lines.join('\n'),
      );
      assert.deepEqual(site.releases(), [A, B, C, D]);
    });

    it('releases --dry-run lists the releases, not a shell loop', async () => {
      const { lines } = await site.run('releases', ['--dry-run']);
      const text = lines.join('\n');
      for (const id of [A, B, C]) assert.match(text, new RegExp(`^ {5}${id} +ready`, 'm'), text);
      assert.match(text, new RegExp(`^ {2}\\* +${D} +ready`, 'm'), text);
      assert.doesNotMatch(text, /would run/, text);
    });

    it('unlock --dry-run names the lock and its owner it would free; the lock stays', async () => {
      const lock = path.join(site.root, '.attache-lock');
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'owner'), '{"by":"ana","host":"laptop","pid":4242,"since":"2026-01-01T00:00:00Z"}\n');
      try {
        const { lines } = await site.run('unlock', ['--dry-run']);
        assert.ok(
          lines.some((l) =>
            l.includes(`[dry run] [production] would free the lock ${lock} (held by ana@laptop (pid 4242) since 2026-01-01T00:00:00Z`),
          ),
          lines.join('\n'),
        );
        assert.ok(exists(path.join(lock, 'owner')), 'the lock is still held');
      } finally {
        rmSync(lock, { recursive: true });
      }
      const { lines } = await site.run('unlock', ['--dry-run']);
      assert.ok(
        lines.some((l) => l.includes('[dry run] [production] the lock is not held: nothing to free')),
        lines.join('\n'),
      );
    });
  });

  describe('live dangling (its release deleted by hand)', () => {
    let site: Site;
    before(() => {
      site = createSite({ target, buildAssets: false });
      handMadeReleases(site.root, [A, B, C], C);
      rmSync(site.release(C), { recursive: true });
    });

    it('releases names the broken link', async () => {
      const { lines } = await site.run('releases');
      const text = lines.join('\n');
      assert.match(text, new RegExp(`live -> releases/${C}, which does not exist`), text);
      assert.match(text, new RegExp(`^ {2}\\* +${C} +missing`, 'm'), text);
    });

    it('rollback points live at the newest complete release before it, saying live was dangling', async () => {
      const { lines } = await site.run('rollback');
      assert.ok(
        lines.some((l) =>
          l.includes(`live -> releases/${C}, which does not exist; rolling back to ${B}, the newest complete release before it`),
        ),
        lines.join('\n'),
      );
      assert.equal(site.live(), `releases/${B}`);
    });
  });

  describe('a credential in the repository URL, a hook and the health check URL', () => {
    it("never reaches the error or the --verbose log; git's own line leads the error", async () => {
      const site = createSite({ target, buildAssets: false });
      const port = await freePort(); // nothing listens: git fails to connect
      const token = 'ghp_s3cr3tT0kenFor1ssue17';
      const config = {
        repository: `https://deploy:${token}@127.0.0.1:${port}/app.git`,
        servers: {
          production: {
            ...site.server,
            healthcheck: { url: `http://monitor:h3alth-Pa55@127.0.0.1:${port}/up` },
            scripts: { build: [], 'before-clone': ['echo mirror at https://ci:h00k-Pa55word@mirror.invalid/app.git'] },
            skip: ['preflight'], // the clone's own error is what this test reads
          },
        },
      };
      writeFileSync(site.configFile, JSON.stringify(config, null, 2));
      const { log, lines } = captureLogger('verbose');
      const { error } = await site.fail('deploy', ['--verbose'], { logger: log });
      const everything = `${error.message}\n${lines.join('\n')}`;
      for (const secret of [token, 'h3alth-Pa55', 'h00k-Pa55word'])
        assert.ok(!everything.includes(secret), `${secret} was printed:\n${everything}`);
      assert.ok(
        lines.some((l) => l.includes('mirror at https://ci:***@mirror.invalid/app.git')),
        lines.join('\n'),
      );
      const first = error.message.split('\n')[0];
      assert.match(
        first,
        /^server "production", step "clone": command exited with code 128: fatal: unable to access 'https:\/\/(deploy:\*\*\*@)?127\.0\.0\.1:\d+\/app\.git\/': .*(Connection refused|Couldn't connect)/,
        error.message,
      );
      assert.ok(
        lines.some((l) => /\$ .*remote set-url origin https:\/\/deploy:\*\*\*@127\.0\.0\.1/.test(l)),
        '--verbose shows the command, the URL redacted',
      );
    });
  });

  describe('a missing branch or repository', () => {
    let site: Site;
    before(() => {
      // The clone's own errors are what these tests read: the first deploy's preflight would stop them first.
      site = createSite({ target, server: { skip: ['preflight'] } });
    });

    it('a first deploy of a missing branch is stopped by the preflight, before anything changes', async () => {
      const checked = createSite({ target });
      const { error } = await checked.fail('deploy', ['--branch=nope']);
      assert.match(
        error.message.split('\n')[0],
        /^server "production", step "preflight": repository: the branch nope does not exist in /,
        error.message,
      );
      assert.match(error.message, /git push origin nope/);
      assert.deepEqual(checked.releases(), []);
    });

    it('a first deploy of a missing branch leads with git\'s "Remote branch nope not found", not the shell line', async () => {
      const { error } = await site.fail('deploy', ['--branch=nope']);
      const first = error.message.split('\n')[0];
      assert.equal(
        first,
        'server "production", step "clone": command exited with code 128: fatal: Remote branch nope not found in upstream origin',
        error.message,
      );
      const command = /^ {2}command: (.*)$/m.exec(error.message)?.[1] ?? '';
      assert.ok(command.length < 360 && command.includes('--verbose logs the whole command'), `the command is shortened: ${command}`);
    });

    it('a later deploy (the mirror fetches) of a missing branch leads with git\'s "couldn\'t find remote ref"', async () => {
      await site.run('deploy');
      const { error } = await site.fail('deploy', ['--branch=nope']);
      assert.equal(
        error.message.split('\n')[0],
        'server "production", step "clone": command exited with code 128: fatal: couldn\'t find remote ref refs/heads/nope',
        error.message,
      );
    });

    it("a repository that does not exist leads with git's own line", async () => {
      const other = createSite({ target, buildAssets: false });
      writeFileSync(
        other.configFile,
        JSON.stringify({ repository: 'file:///nowhere/app.git', servers: { production: { ...other.server, skip: ['preflight'] } } }),
      );
      const { error } = await other.fail('deploy');
      assert.match(
        error.message.split('\n')[0],
        /^server "production", step "clone": command exited with code 128: fatal: '\/nowhere\/app\.git' does not appear to be a git repository$/,
        error.message,
      );
    });
  });
});

for (const shell of ['/usr/bin/zsh', '/bin/dash']) {
  describe(`a deploy user whose login shell is ${shell}`, () => {
    let home: TestHome;
    let sshd: SshServer;
    let user: DeployUser;
    let site: Site;
    let target: TargetSpec;

    before(async () => {
      home = createHome();
      sshd = await startSshd(home);
      trust(home, sshd);
      user = createDeployUser(home, `attache-${path.basename(shell)}`, shell);
      const root = userDirectory(user, 'site');
      target = { host: '127.0.0.1', port: sshd.port, user: user.name } as unknown as TargetSpec;
      site = createSite({ target, root, buildAssets: false });
      assert.equal(execFileSync('getent', ['passwd', user.name], { encoding: 'utf8' }).trim().split(':')[6], shell);
    });
    after(async () => {
      await sshd.stop();
      user.remove();
    });

    it('releases with an empty releases/ lists nothing and does not fail', async () => {
      userDirectory(user, 'site', 'releases');
      const { lines } = await site.run('releases');
      assert.ok(
        lines.some((l) => l.startsWith('releases on production')),
        lines.join('\n'),
      );
      assert.ok(!lines.some((l) => /no matches found|\d{14}/.test(l)), lines.join('\n'));
    });

    it('releases, rollback and prune --dry-run work on releases the user owns', async () => {
      handMadeReleases(site.root, [A, B], B);
      execFileSync('chown', ['-R', '-h', `${user.uid}:${user.gid}`, site.root]);
      const listed = (await site.run('releases')).lines.join('\n');
      assert.match(listed, new RegExp(`^ {5}${A} +ready[\\s\\S]*^ {2}\\* +${B} +ready`, 'm'), listed);
      const pruned = (await site.run('prune', ['--dry-run'])).lines;
      assert.ok(
        pruned.some((l) => l.includes('would prune nothing')),
        pruned.join('\n'),
      );
      await site.run('rollback');
      assert.equal(readLink(path.join(site.root, 'live')), `releases/${A}`);
      assert.deepEqual(readdirSync(path.join(site.root, 'releases')).sort(), [A, B]);
    });

    it('a whole deploy, a second one and a rollback succeed', async () => {
      const app = createSite({ target, root: path.join(userDirectory(user, 'app'), 'root') });
      // The test repository belongs to root: let the deploy user read it, and let its git trust it.
      chmodSync(path.dirname(app.repo.bare), 0o755);
      writeFileSync(path.join(user.home, '.gitconfig'), '[safe]\n\tdirectory = *\n');
      await app.run('deploy');
      await app.run('deploy');
      const [first, second] = app.releases();
      assert.equal(app.liveId(), second);
      await app.run('rollback');
      assert.equal(app.liveId(), first);
      assert.equal(app.marker(second).status, 'ready');
    });
  });
}
