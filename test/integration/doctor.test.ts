import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Check, DoctorReport } from '../../src/release/doctor/checklist';
import { startGulpChild } from '../support/gulp-child';
import { createSite, type Site, type TargetSpec } from '../support/preset';
import { createDeployUser, type DeployUser, userDirectory } from '../support/users';
import { startWeb, type WebServer } from '../support/web';
import { createHome, type SshServer, startSshd, trust } from '../../support/sshd';

/**
 * `gulp doctor` through the gulp CLI against a real sshd, a non-root deploy user, and nginx +
 * php-fpm whose workers run as www-data: a healthy setup passes and leaves nothing behind; each
 * fact that would make a first deploy fail, or serve stale code, is a failed check with its fix;
 * and install stops before it builds when the server's root cannot be made.
 */
const WEB_USER = 'www-data';

describe('gulp doctor', () => {
  let home: ReturnType<typeof createHome>;
  let sshd: SshServer;
  let user: DeployUser;
  let site: Site;
  let web: WebServer;
  let stale: WebServer | undefined;
  let siteDir: string;

  before(async () => {
    home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
    user = createDeployUser(home, `attache-doc${process.pid % 100000}`, '/bin/sh');
    chmodSync(user.home, 0o711); // as an administrator would: the web server passes through the home
    siteDir = userDirectory(user, 'site');
    const root = path.join(siteDir, 'root');
    const target = { host: '127.0.0.1', port: sshd.port, user: user.name } as unknown as TargetSpec;
    site = createSite({ target, root, server: { webUser: WEB_USER } });
    chmodSync(path.dirname(site.repo.bare), 0o755);
    writeFileSync(path.join(user.home, '.gitconfig'), '[safe]\n\tdirectory = *\n');
    web = await startWeb({ root, fpmUser: WEB_USER, fpmGroup: WEB_USER });
    writeFileSync(path.join(site.cwd, 'production.env'), `APP_NAME=Doctor\nAPP_URL=${web.url}\n`);
    await site.run('deploy', ['--env=production.env']);
  });
  after(async () => {
    await web?.stop();
    await stale?.stop();
    await sshd?.stop();
    user?.remove();
  });

  async function doctor(flags: string[] = [], cwd = site.cwd) {
    const reportFile = path.join(cwd, `doctor-${Date.now()}.json`);
    const child = startGulpChild({ cwd, task: 'doctor', flags: [...flags, `--report=${reportFile}`] });
    const { code } = await child.exited;
    const log = child.lines.join('\n');
    assert.ok(existsSync(reportFile), log);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as DoctorReport;
    const find = (name: string) => report.checks.find((c) => c.name === name);
    return { code, log, report, find };
  }

  const described = (check: Check | undefined) => JSON.stringify(check);

  it('a healthy setup: every check ok, exit 0, and no file left in the release', async () => {
    const publicDir = path.join(site.root, 'live/public');
    const before = readdirSync(publicDir).sort();
    const { code, log, report, find } = await doctor();
    assert.equal(code, 0, log);
    assert.deepEqual(
      report.checks.filter((c) => c.verdict !== 'ok'),
      [],
      log,
    );
    for (const name of [
      'connection',
      'root',
      'disk space',
      'inodes',
      'lock',
      'repository',
      'php',
      'composer',
      'web user reaches public/',
      'web user reads .env',
      'web user writes storage/',
      'what the web serves',
      'PHP user',
    ])
      assert.ok(find(name), `${name} was checked:\n${log}`);
    assert.match(find('what the web serves')!.fact, /real path/);
    assert.match(find('PHP user')!.fact, /www-data/);
    assert.match(log, /doctor \(\d+\.\d s\): 0 failed, 0 warnings, \d+ ok/);
    assert.deepEqual(readdirSync(publicDir).sort(), before, 'the probe is gone');
  });

  it('a parent directory www-data cannot traverse: fail naming it, with the chmod fix', async () => {
    chmodSync(siteDir, 0o700);
    try {
      const { code, log, find } = await doctor();
      assert.notEqual(code, 0);
      const check = find('web user reaches public/');
      assert.equal(check?.verdict, 'fail', described(check));
      assert.match(check!.fact, new RegExp(`www-data cannot traverse ${siteDir} \\(mode 700`));
      assert.match(check!.fix!, new RegExp(`chmod o\\+x ${siteDir}`));
      assert.match(log, /FAIL {2}web user reaches public\//);
    } finally {
      chmodSync(siteDir, 0o755);
    }
  });

  it('nginx passing the symlinked path with OPcache never revalidating: fail naming both, with the two fixes', async () => {
    stale = await startWeb({ root: site.root, fpmUser: WEB_USER, fpmGroup: WEB_USER, symlinkedPath: true, opcacheNoRevalidate: true });
    const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
    config.servers.production.healthcheck = `${stale.url}/`;
    const file = path.join(site.cwd, 'stale.attache.json');
    writeFileSync(file, JSON.stringify(config));
    const { code, find } = await doctor([`--config=${file}`]);
    assert.notEqual(code, 0);
    const check = find('what the web serves');
    assert.equal(check?.verdict, 'fail', described(check));
    assert.match(check!.fact, /symlinked path \(.*\/live\/public\/attache-probe-[0-9a-f]+\.php\)/);
    assert.match(check!.fact, /validate_timestamps=0/);
    assert.match(check!.fix!, /\$realpath_root/);
    assert.match(check!.fix!, /"opcache": \{ "fpm"/);
  });

  it('a branch missing on the remote, public/hot, and a composer.lock wanting a newer PHP: each named, with its fix', async () => {
    writeFileSync(path.join(site.cwd, 'public/hot'), 'http://localhost:5173');
    const lock = JSON.parse(readFileSync(path.join(site.cwd, 'composer.lock'), 'utf8'));
    const original = JSON.stringify(lock, null, 4);
    lock.platform = { php: '>=9.1' };
    writeFileSync(path.join(site.cwd, 'composer.lock'), JSON.stringify(lock, null, 4));
    try {
      const { code, find } = await doctor(['--branch=no-such-branch']);
      assert.notEqual(code, 0);
      const repository = find('repository');
      assert.equal(repository?.verdict, 'fail', described(repository));
      assert.match(repository!.fact, /the branch no-such-branch does not exist/);
      assert.match(repository!.fix!, /git push origin no-such-branch/);
      assert.equal(find('public/hot')?.verdict, 'warn');
      assert.match(find('public/hot')!.fix!, /rm public\/hot/);
      const php = find('php');
      assert.equal(php?.verdict, 'fail', described(php));
      assert.match(php!.fact, /the server runs PHP \d+\.\d+\.\d+; composer\.lock's platform requirement is php >=9\.1/);
    } finally {
      writeFileSync(path.join(site.cwd, 'composer.lock'), original);
      execFileSync('rm', ['-f', path.join(site.cwd, 'public/hot')]);
    }
  });

  it('an unpushed commit: fail with the push that fixes it', async () => {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: site.cwd, encoding: 'utf8' }).trim();
    git('remote', 'add', 'origin', `file://${site.repo.bare}`);
    git('-c', 'user.email=t@example.com', '-c', 'user.name=T', 'commit', '-q', '--allow-empty', '-m', 'not pushed');
    try {
      const { code, find } = await doctor();
      assert.notEqual(code, 0);
      const pushed = find('HEAD pushed');
      assert.equal(pushed?.verdict, 'fail', described(pushed));
      assert.match(pushed!.fact, /an unpushed commit/);
      assert.equal(pushed!.fix, 'git push origin master');
    } finally {
      git('reset', '-q', '--hard', 'HEAD~1');
      git('remote', 'remove', 'origin');
    }
  });

  it('install on a server whose root cannot be created stops before the build runs', async () => {
    const other = createSite({
      target: { host: '127.0.0.1', port: sshd.port, user: user.name } as unknown as TargetSpec,
      root: `/var/lib/attache-doctor-${process.pid}/root`,
      server: { scripts: { build: ['touch built-by-the-build'] } },
    });
    chmodSync(path.dirname(other.repo.bare), 0o755);
    writeFileSync(path.join(other.cwd, '.env.example'), 'APP_NAME=Install\n');
    const { error } = await other.fail('install');
    assert.match(error.message, /step "preflight"/, error.message);
    assert.match(
      error.message,
      new RegExp(`attache-doctor-${process.pid}/root does not exist, and ${user.name} cannot create it`),
      error.message,
    );
    assert.match(error.message, /mkdir -p/);
    assert.ok(!existsSync(path.join(other.cwd, 'built-by-the-build')), 'the build did not run');
  });
});
