import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitChange } from '../support/fixtures';
import { createSite, type Site, type TargetSpec } from '../support/preset';
import { createHome, startSshd, trust, type SshServer } from '../../support/sshd';
import { createDeployUser, userDirectory, type DeployUser } from '../support/users';
import { httpGet, startWeb, type WebServer } from '../support/web';

/**
 * Permissions that hold, on the real sshd with a non-root deploy user and a real nginx + php-fpm
 * whose workers run as www-data: a request through live reads a value from the shared .env and
 * writes to storage/logs and bootstrap/cache, on a first deploy and on redeploys, with "webUser"
 * (ACLs) and without it (php-fpm in the deploy user's group, .env 0640). Shared dirs and files of
 * "shared" survive five deploys, are linked into every release and never overwritten.
 */

const WEB_USER = 'www-data';

interface Setup {
  user: DeployUser;
  site: Site;
  web: WebServer;
}

async function setUp(
  sshd: SshServer,
  home: ReturnType<typeof createHome>,
  name: string,
  server: Record<string, unknown>,
  fpmGroup: (user: DeployUser) => string,
): Promise<Setup> {
  const user = createDeployUser(home, name, '/bin/sh');
  // As an administrator would: the web server may pass through the user's home to the site.
  chmodSync(user.home, 0o711);
  const root = path.join(userDirectory(user, 'site'), 'root');
  const target = { host: '127.0.0.1', port: sshd.port, user: user.name } as unknown as TargetSpec;
  const site = createSite({ target, root, server });
  // The test repository belongs to root: let the deploy user read it, and let its git trust it.
  chmodSync(path.dirname(site.repo.bare), 0o755);
  writeFileSync(path.join(user.home, '.gitconfig'), '[safe]\n\tdirectory = *\n');
  const web = await startWeb({ root, fpmUser: WEB_USER, fpmGroup: fpmGroup(user) });
  return { user, site, web };
}

async function probe(web: WebServer): Promise<{ status: number; body: string }> {
  const { status, body } = await httpGet(web.url + '/probe.php');
  return { status, body };
}

describe('permissions for php-fpm as www-data and a non-root deploy user', () => {
  let home: ReturnType<typeof createHome>;
  let sshd: SshServer;

  before(async () => {
    home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
  });
  after(() => sshd?.stop());

  describe("without webUser: php-fpm in the deploy user's group", () => {
    let s: Setup;
    before(async () => {
      s = await setUp(sshd, home, 'attache-grp', {}, (user) => execFileSync('id', ['-gn', user.name], { encoding: 'utf8' }).trim());
    });
    after(async () => {
      await s?.web.stop();
      s?.user.remove();
    });

    it('a first deploy: .env is created 0640 and a request reads it and writes storage/logs and bootstrap/cache', async () => {
      writeFileSync(path.join(s.site.cwd, 'production.env'), 'APP_NAME=Grp\nPROBE=from-the-group\n');
      await s.site.run('deploy', ['--env=production.env']);
      assert.equal(statSync(path.join(s.site.root, '.env')).mode & 0o777, 0o640);
      const answer = await probe(s.web);
      assert.equal(answer.status, 200, answer.body + s.web.logs());
      assert.match(answer.body, /^env: from-the-group$/m);
      assert.match(answer.body, /^user: www-data$/m);
      assert.equal(
        statSync(path.join(s.site.root, 'storage/logs/web.log')).uid,
        Number(execFileSync('id', ['-u', WEB_USER], { encoding: 'utf8' })),
      );
    });

    it('a redeploy: the new release is as writable, and the files www-data wrote do not stop the deploy', async () => {
      commitChange(s.site.repo.work, s.site.repo.bare, 'app/Version.php', '<?php // two\n');
      await s.site.run('deploy');
      const answer = await probe(s.web);
      assert.equal(answer.status, 200, answer.body + s.web.logs());
      assert.match(answer.body, new RegExp(`^release: ${s.site.liveId()}$`, 'm'));
      assert.equal(readFileSync(path.join(s.site.root, 'storage/logs/web.log'), 'utf8'), 'request\nrequest\n');
    });
  });

  describe('with "webUser": "www-data" (ACLs) and shared dirs and files', () => {
    let s: Setup;
    const uploads = () => path.join(s.site.root, 'shared/public/uploads');
    before(async () => {
      s = await setUp(
        sshd,
        home,
        'attache-acl',
        { webUser: WEB_USER, writable: ['public/uploads'], shared: { dirs: ['public/uploads'], files: ['auth.json'] } },
        () => WEB_USER,
      );
      commitChange(s.site.repo.work, s.site.repo.bare, 'auth.json', '{"first": true}\n');
    });
    after(async () => {
      await s?.web.stop();
      s?.user.remove();
    });

    it('a first deploy: .env readable by www-data through its ACL; a request reads it and writes storage and bootstrap/cache', async () => {
      writeFileSync(path.join(s.site.cwd, 'production.env'), 'APP_NAME=Acl\nPROBE=from-the-acl\n');
      await s.site.run('deploy', ['--env=production.env']);
      const env = path.join(s.site.root, '.env');
      assert.equal(statSync(env).mode & 0o707, 0o600, 'others still cannot read .env');
      assert.match(execFileSync('getfacl', ['-p', env], { encoding: 'utf8' }), /^user:www-data:r--$/m);
      const answer = await probe(s.web);
      assert.equal(answer.status, 200, answer.body + s.web.logs());
      assert.match(answer.body, /^env: from-the-acl$/m);
      assert.match(answer.body, /^user: www-data$/m);
      assert.equal(
        readFileSync(path.join(uploads(), '..', '..', 'auth.json'), 'utf8'),
        '{"first": true}\n',
        "the release's auth.json became the shared one",
      );
    });

    it('five deploys: shared dirs and files survive, are linked into every release, never overwritten; requests keep working', async () => {
      writeFileSync(path.join(uploads(), 'avatar.png'), 'uploaded by a user\n');
      for (let i = 2; i <= 5; i++) {
        commitChange(s.site.repo.work, s.site.repo.bare, 'auth.json', `{"deploy": ${i}}\n`);
        await s.site.run('deploy');
        const id = s.site.liveId()!;
        const release = s.site.release(id);
        assert.ok(lstatSync(path.join(release, 'public/uploads')).isSymbolicLink(), `deploy ${i}: public/uploads is a link`);
        assert.equal(path.resolve(path.join(release, 'public'), readlinkSync(path.join(release, 'public/uploads'))), uploads());
        assert.ok(lstatSync(path.join(release, 'auth.json')).isSymbolicLink(), `deploy ${i}: auth.json is a link`);
        assert.equal(
          readFileSync(path.join(release, 'auth.json'), 'utf8'),
          '{"first": true}\n',
          `deploy ${i}: the shared auth.json is not overwritten`,
        );
        assert.equal(readFileSync(path.join(release, 'public/uploads/avatar.png'), 'utf8'), 'uploaded by a user\n');
        const answer = await probe(s.web);
        assert.equal(answer.status, 200, answer.body + s.web.logs());
        assert.match(answer.body, new RegExp(`^release: ${id}$`, 'm'));
      }
      assert.equal(s.site.releases().length, 5);
      assert.equal(readFileSync(path.join(s.site.root, 'storage/logs/web.log'), 'utf8'), 'request\n'.repeat(5));
      assert.match(
        execFileSync('getfacl', ['-p', uploads()], { encoding: 'utf8' }),
        /^default:user:www-data:rwx$/m,
        "the writable shared dir is www-data's too",
      );
      assert.ok(!existsSync(path.join(uploads(), 'uploads')), 'never nested');
    });

    it('a permission step that fails names the path, the user and the command to fix it by hand; live is untouched', async () => {
      const before = s.site.liveId();
      const config = JSON.parse(readFileSync(s.site.configFile, 'utf8'));
      config.servers.production.webUser = 'attache-nosuch';
      writeFileSync(s.site.configFile, JSON.stringify(config, null, 4) + '\n');
      commitChange(s.site.repo.work, s.site.repo.bare, 'app/Version.php', '<?php // nosuch\n');
      const { error } = await s.site.fail('deploy');
      assert.match(error.message, /could not make .*\/storage accessible to attache-nosuch/, error.message);
      assert.match(error.message, /step "permissions"/, error.message);
      assert.match(error.message, /sudo sh -c .*setfacl -m .*u:attache-nosuch:rwX/, error.message);
      assert.equal(s.site.liveId(), before);
      assert.equal((await probe(s.web)).status, 200);
    });
  });
});

describe('"webUser" where setfacl is missing: the web user\'s group, setgid directories', () => {
  let home: ReturnType<typeof createHome>;
  let sshd: SshServer;
  let s: Setup;

  before(async () => {
    home = createHome();
    // ~/.ssh/environment sets the deploy user's PATH: every tool of /usr/bin but setfacl.
    sshd = await startSshd(home, { config: ['PermitUserEnvironment yes'] });
    trust(home, sshd);
    s = await setUp(sshd, home, 'attache-noacl', { webUser: WEB_USER }, () => WEB_USER);
    const bin = userDirectory(s.user, 'bin');
    for (const name of readdirSync('/usr/bin')) if (name !== 'setfacl') symlinkSync(path.join('/usr/bin', name), path.join(bin, name));
    const environment = path.join(s.user.home, '.ssh', 'environment');
    writeFileSync(environment, `PATH=${bin}:/usr/sbin:/sbin\n`, { mode: 0o600 });
    chownSync(environment, s.user.uid, s.user.gid);
    // What the fallback needs of the administrator: the deploy user in the web user's group.
    execFileSync('usermod', ['-aG', WEB_USER, s.user.name]);
  });
  after(async () => {
    await s?.web.stop();
    s?.user.remove();
    await sshd?.stop();
  });

  it("a first deploy and a redeploy: storage and .env belong to www-data's group, directories setgid; requests read .env and write storage", async () => {
    writeFileSync(path.join(s.site.cwd, 'production.env'), 'APP_NAME=NoAcl\nPROBE=from-the-web-group\n');
    const { lines } = await s.site.run('deploy', ['--env=production.env']);
    assert.ok(
      lines.some((line) => line.includes("setfacl is not installed: sharing www-data's group instead")),
      lines.join('\n'),
    );
    const webGid = Number(execFileSync('id', ['-g', WEB_USER], { encoding: 'utf8' }));
    const env = statSync(path.join(s.site.root, '.env'));
    assert.deepEqual([env.gid, env.mode & 0o777], [webGid, 0o640]);
    const logs = statSync(path.join(s.site.root, 'storage/logs'));
    assert.equal(logs.gid, webGid);
    assert.equal(logs.mode & 0o2070, 0o2070, 'group rwx and setgid');
    for (const round of ['first deploy', 'redeploy']) {
      if (round === 'redeploy') {
        commitChange(s.site.repo.work, s.site.repo.bare, 'app/Version.php', '<?php // noacl\n');
        await s.site.run('deploy');
      }
      const answer = await probe(s.web);
      assert.equal(answer.status, 200, `${round}: ${answer.body}${s.web.logs()}`);
      assert.match(answer.body, /^env: from-the-web-group$/m);
      assert.match(answer.body, new RegExp(`^release: ${s.site.liveId()}$`, 'm'));
    }
    assert.equal(readFileSync(path.join(s.site.root, 'storage/logs/web.log'), 'utf8'), 'request\nrequest\n');
  });
});
