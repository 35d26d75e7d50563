import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSite, type Site, type TargetSpec } from '../support/preset';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';
import { createDeployUser, userDirectory, type DeployUser } from '../support/users';
import { httpGet, startWeb, type WebServer } from '../support/web';

/**
 * A deploy user whose umask is 077, twice over: the sshd runs with it (what pam_umask with `UMASK
 * 077` gives every session, SFTP included) and the user's login shell, zsh, sets it in ~/.zshenv
 * (read by every zsh, even one that only runs a command). nginx and php-fpm run as www-data: the
 * page and a built asset answer 200, and what the deploy wrote is 0755 (directories, executables)
 * and 0644 (files).
 */

const WEB_USER = 'www-data';

/** Every directory and file under `dir` whose mode lets others neither read nor (directories) enter it. */
function unreadable(dir: string, prefix = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isSymbolicLink()) continue;
    const mode = statSync(path.join(dir, relative)).mode & 0o777;
    if (entry.isDirectory()) {
      if ((mode & 0o005) !== 0o005) found.push(`${relative}/ ${mode.toString(8)}`);
      found.push(...unreadable(dir, relative));
    } else if ((mode & 0o004) === 0) found.push(`${relative} ${mode.toString(8)}`);
  }
  return found;
}

describe('a deploy user with umask 077, nginx and php-fpm as www-data', () => {
  let home: TestHome;
  let sshd: SshServer;
  let user: DeployUser;
  let site: Site;
  let web: WebServer;

  before(async () => {
    home = createHome();
    sshd = await startSshd(home, { umask: 0o077 });
    trust(home, sshd);
    user = createDeployUser(home, `attache-um${process.pid}`, '/usr/bin/zsh');
    const zshenv = path.join(user.home, '.zshenv');
    writeFileSync(zshenv, 'umask 077\n');
    chownSync(zshenv, user.uid, user.gid);
    // As an administrator would: the web server may pass through the user's home to the site.
    chmodSync(user.home, 0o711);
    const root = path.join(userDirectory(user, 'site'), 'root');
    const target = { host: '127.0.0.1', port: sshd.port, user: user.name } as unknown as TargetSpec;
    site = createSite({ target, root });
    // The test repository belongs to root: let the deploy user read it, and let its git trust it.
    chmodSync(path.dirname(site.repo.bare), 0o755);
    writeFileSync(path.join(user.home, '.gitconfig'), '[safe]\n\tdirectory = *\n');
    web = await startWeb({ root, fpmUser: WEB_USER, fpmGroup: WEB_USER, nginxUser: WEB_USER });
  });
  after(async () => {
    await web?.stop();
    user?.remove();
    await sshd?.stop();
  });

  it("the deploy user's sessions really have umask 077 (ssh, as any tool would run a command)", () => {
    const umask = execFileSync(
      'ssh',
      [
        '-i',
        home.key,
        '-o',
        `UserKnownHostsFile=${home.knownHosts}`,
        '-o',
        'BatchMode=yes',
        '-p',
        String(sshd.port),
        `${user.name}@127.0.0.1`,
        'umask',
      ],
      { encoding: 'utf8' },
    ).trim();
    assert.equal(Number.parseInt(umask, 8), 0o077, umask);
  });

  it('a first deploy: the page and a built asset answer 200 through nginx and php-fpm as www-data', async () => {
    await site.run('deploy');
    const page = await httpGet(`${web.url}/`);
    assert.equal(page.status, 200, page.body + web.logs());
    assert.match(page.body, /<title>/);
    const asset = await httpGet(`${web.url}/js/app.js`);
    assert.equal(asset.status, 200, asset.body + web.logs());
    assert.equal(asset.body, readFileSync(path.join(site.cwd, 'public/js/app.js'), 'utf8'));
  });

  it('the release is 0755 for directories and executables and 0644 for files, vendor/ and the assets included', () => {
    const release = site.release(site.liveId() as string);
    assert.deepEqual(unreadable(release), [], 'everything in the release can be read by others');
    const mode = (relative: string) => (statSync(path.join(release, relative)).mode & 0o777).toString(8);
    assert.equal(mode('.'), '755');
    assert.equal(mode('public'), '755');
    assert.equal(mode('public/index.php'), '644');
    assert.equal(mode('public/js'), '755');
    assert.equal(mode('public/js/app.js'), '644');
    assert.equal(mode('vendor/autoload.php'), '644');
  });

  it('a redeploy is as readable', async () => {
    await site.run('deploy');
    assert.deepEqual(unreadable(site.release(site.liveId() as string)), []);
    const asset = await httpGet(`${web.url}/js/app.js`);
    assert.equal(asset.status, 200, asset.body + web.logs());
  });
});
