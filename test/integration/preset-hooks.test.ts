import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/fixtures';
import { loginsSince, logMark, waitFor } from '../support/streams';
import { createSite, exists, startTarget, type Site, type TargetSpec } from '../support/preset';
import { acceptedLogins, type SshServer } from '../../support/sshd';

/**
 * The deploy preset's hooks (scripts with Attaché's tags), its local build step, and its one
 * connection per server, against the real sshd.
 */
describe('deploy preset: hooks, build, connections (real sshd)', () => {
  let target: TargetSpec;
  let sshd: SshServer;
  let stop = async () => {};

  before(async () => {
    const started = await startTarget('sshd');
    ({ target, stop } = started);
    sshd = started.sshd!;
  });
  after(() => stop());

  describe('scripts', () => {
    let site: Site;
    let hooksLog: string;

    before(() => {
      // A space in the root: a tag that was not quoted would split into two words.
      const root = path.join(tempDir('attache-root-'), 'hooks root');
      hooksLog = path.join(root, 'hooks.log');
      const append = (command: string) => `${command} >> hooks.log`; // hooks run in root
      site = createSite({
        target,
        root,
        server: {
          php: { bin: '/usr/bin/php' },
          scripts: {
            build: [],
            'before-clone': [
              append(`printf 'before-clone|%s|%s|%s\\n' @release @root "$(test -e @path:releases/@release && echo exists || echo absent)"`),
            ],
            'after-clone': [
              append(`printf 'after-clone|%s\\n' "$(grep -c 'final class Greeting' @path:releases/@release/app/Greeting.php)"`),
            ],
            'after-composer': [
              append(
                `printf 'after-composer|%s|%s\\n' @php "$(test -f @path:releases/@release/vendor/autoload.php && echo vendor-installed)"`,
              ),
              append('@artisan storage:link'),
            ],
            'before-live': [append(`printf 'before-live|%s\\n' "$(readlink @path:serve || echo none)"`)],
            'after-live': [append(`printf 'after-live|%s|%s\\n' "$(readlink @path:serve)" @path:storage`)],
          },
        },
      });
    });

    it('run in order on the server, in root, with @release, @root, @php, @path:… and @artisan expanded and quoted', async () => {
      const { lines } = await site.run('deploy');
      const id = site.liveId()!;
      assert.ok(id, lines.join('\n'));
      assert.deepEqual(readFileSync(hooksLog, 'utf8').split('\n'), [
        `before-clone|${id}|${site.root}|absent`,
        'after-clone|1', // the release's files are there
        `after-composer|/usr/bin/php|vendor-installed`,
        'The [public/storage] link has been connected to [storage/app/public].',
        'before-live|none',
        `after-live|releases/${id}|${path.join(site.root, 'storage')}`,
        '',
      ]);
      // @artisan ran the release's artisan: its call is in the shared log, before the artisan step's own.
      assert.equal(readFileSync(path.join(site.root, 'storage/logs/artisan.log'), 'utf8'), 'storage:link\nstorage:link\n');
      assert.ok(
        lines.some((line) => line.includes(`before-live: printf 'before-live|%s\\n' "$(readlink '${path.join(site.root, 'live')}'`)),
        'the log shows the expanded command',
      );
    });

    it('a failing after-live hook fails the deploy, swaps live back and removes the new release', async () => {
      const [first] = site.releases();
      const { error } = await site.fail('deploy', [], { overrides: { scripts: { 'after-live': ['echo going down; exit 3'] } } });
      assert.match(error.message, /server "production", step "after-live": command exited with code 3/);
      assert.match(error.message, /command: .*echo going down; exit 3/);
      assert.match(error.message, /output \(last lines\):\n {4}going down/);
      assert.equal(site.live(), `releases/${first}`);
      assert.deepEqual(site.releases(), [first]);
      assert.ok(!exists(path.join(site.root, '.attache-lock')));
      const log = readFileSync(hooksLog, 'utf8').trim().split('\n');
      assert.match(log.at(-1)!, /^before-live\|releases\/\d{14}(?:-\d+)?$/, 'the second deploy got as far as before-live');
    });
  });

  it('the build step runs scripts.build locally, and the assets it built are uploaded', async () => {
    const site = createSite({ target, buildAssets: false, server: { scripts: { build: ['node build.js'] } } });
    assert.ok(!exists(path.join(site.cwd, 'public/js/app.js')), 'nothing is built yet');
    const { lines } = await site.run('deploy');
    assert.ok(lines.includes('[local] build: node build.js'), lines.join('\n'));
    const release = site.release(site.liveId()!);
    for (const asset of ['public/js/app.js', 'public/js/app.js.map', 'public/css/app.css', 'public/mix-manifest.json']) {
      assert.deepEqual(readFileSync(path.join(release, asset)), readFileSync(path.join(site.cwd, asset)), asset);
    }
    assert.ok(!exists(path.join(release, 'public/js/js')));
  });

  it('the connection opens while the build runs, and the files listed for upload are the ones the build made', async () => {
    // The build waits until the server has accepted this deploy's login: a deploy that connected only after its build would fail here.
    const site = createSite({ target, buildAssets: false, server: { scripts: { build: [untilLoggedIn(sshd), 'node build.js'] } } });
    await site.run('deploy');
    const release = site.release(site.liveId()!);
    for (const asset of ['public/js/app.js', 'public/css/app.css', 'public/mix-manifest.json']) {
      assert.deepEqual(readFileSync(path.join(release, asset)), readFileSync(path.join(site.cwd, asset)), asset);
    }
  });

  it('a failed build, with the connection already open: nothing changes on the server, the connection closes, the build is named', async () => {
    const mark = logMark(sshd.logFile);
    const site = createSite({
      target,
      buildAssets: false,
      server: { scripts: { build: [untilLoggedIn(sshd), "echo 'webpack: 3 errors' >&2; exit 2"] } },
    });
    const { error } = await site.fail('deploy');
    assert.match(error.message, /the local build command `echo 'webpack: 3 errors' >&2; exit 2` failed \(exit 2: webpack: 3 errors\)/);
    assert.deepEqual(site.releases(), []);
    assert.ok(!exists(path.join(site.root, '.attache-lock')), 'no lock was taken');
    assert.equal(loginsSince(sshd.logFile, mark).length, 1, 'the deploy logged in while its build ran');
    await waitFor(
      () => loginsSince(sshd.logFile, mark).every((login) => login.disconnected),
      'the connection opened during the build is closed',
    );
  });

  it('the local build and assets hooks run in the project directory, in order around the build and the upload', async () => {
    const order = path.join(tempDir('attache-local-hooks-'), 'order.txt');
    const note = (what: string) => `echo ${what} "$(pwd)" >> ${order}`;
    const site = createSite({
      target,
      server: {
        scripts: {
          build: [],
          'before-build': [note('before-build')],
          'after-build': [note('after-build')],
          'before-assets': [note('before-assets')],
          'after-assets': [note('after-assets')],
        },
      },
    });
    await site.run('deploy');
    const cwd = realpathSync(site.cwd);
    assert.deepEqual(
      readFileSync(order, 'utf8').trim().split('\n'),
      ['before-build', 'after-build', 'before-assets', 'after-assets'].map((hook) => `${hook} ${cwd}`),
    );
  });

  it('a file the before-assets hook writes into an asset directory goes with the release (the trees are listed after the hook, not while connecting)', async () => {
    const site = createSite({
      target,
      server: { scripts: { build: [], 'before-assets': ["node -e \"require('fs').writeFileSync('public/js/late.js', 'late')\""] } },
    });
    await site.run('deploy');
    const release = site.release(site.liveId()!);
    assert.equal(readFileSync(path.join(release, 'public/js/late.js'), 'utf8'), 'late');
    assert.deepEqual(readFileSync(path.join(release, 'public/js/app.js')), readFileSync(path.join(site.cwd, 'public/js/app.js')));
  });

  it('a full deploy makes one SSH handshake per server, and so do rollback and releases', async () => {
    const site = createSite({ target });
    const logins = () => acceptedLogins(sshd);
    let before = logins();
    await site.run('deploy');
    assert.equal(logins() - before, 1, 'deploy');
    await site.run('deploy');

    before = logins();
    await site.run('rollback');
    assert.equal(logins() - before, 1, 'rollback');
    before = logins();
    await site.run('releases');
    assert.equal(logins() - before, 1, 'releases');
  });
});

/** A build command that waits (20 s at most) until sshd has accepted one more login than it has so far. */
function untilLoggedIn(sshd: SshServer): string {
  const before = acceptedLogins(sshd);
  return `n=0; until [ "$(grep -c 'Accepted publickey' ${sshd.logFile})" -gt ${before} ]; do n=$((n+1)); [ $n -lt 400 ] || { echo 'no connection while building' >&2; exit 1; }; sleep 0.05; done`;
}
