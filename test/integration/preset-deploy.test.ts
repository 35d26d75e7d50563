import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitChange, EXAMPLE_APP, tempDir } from '../support/fixtures';
import { attache } from '../../src/preset';
import { captureLogger } from '../support/log';
import { freePort } from '../../support/sshd';
import { runTask } from '../support/streams';
import {
  createSite,
  exists,
  isSymlink,
  linkDestination,
  startTarget,
  tempFile,
  type Site,
  type TargetKind,
  type TargetSpec,
} from '../support/preset';

/**
 * The deploy preset end to end, on the real sshd and on the local target (the same contract):
 * the release layout on disk, the shared storage and .env, releases/rollback/activate/prune, a
 * failing step's undo, the lock, and a root path that needs quoting.
 */

const ID = /^\d{14}(-\d+)?$/;

/** The release id a deploy started at `ms` gets (UTC, to the second), without a suffix. */
const releaseId = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);

for (const kind of ['sshd', 'local'] as TargetKind[]) {
  describe(`deploy preset on the ${kind === 'sshd' ? 'real sshd' : 'local target'}`, () => {
    let target: TargetSpec;
    let stop = async () => {};

    before(async () => {
      ({ target, stop } = await startTarget(kind));
    });
    after(() => stop());

    describe('the example app deployed twice', () => {
      let site: Site;
      const ids: string[] = [];
      let firstLog: string[] = [];

      before(() => {
        site = createSite({ target, server: { migrate: true } });
      });

      it('creates releases/<id> with storage and .env linked to the shared ones, vendor, the assets, artisan run and a ready marker', async () => {
        ({ lines: firstLog } = await site.run('deploy'));
        const { root } = site;
        assert.equal(site.releases().length, 1);
        const [id] = site.releases();
        ids.push(id);
        assert.match(id, ID);
        assert.equal(site.live(), `releases/${id}`, 'live is a relative link to the release');
        const release = site.release(id);

        for (const name of ['storage', '.env']) {
          assert.ok(isSymlink(path.join(release, name)), `${name} in the release is a symlink`);
          assert.equal(linkDestination(path.join(release, name)), path.join(root, name), `${name} points to root/${name}`);
        }
        assert.ok(lstatSync(path.join(root, 'storage')).isDirectory(), 'root/storage is a real directory');
        assert.ok(
          exists(path.join(root, 'storage/framework/views/.gitignore')),
          "the release's storage skeleton became the shared storage",
        );

        assert.ok(statSync(path.join(release, 'vendor/autoload.php')).isFile(), 'composer installed vendor/');
        for (const asset of ['public/js/app.js', 'public/js/app.js.map', 'public/css/app.css', 'public/mix-manifest.json']) {
          assert.deepEqual(
            readFileSync(path.join(release, asset)),
            readFileSync(path.join(site.cwd, asset)),
            `${asset} uploaded byte for byte`,
          );
        }
        assert.ok(!exists(path.join(release, 'public/js/js')), 'public/js is not nested in itself');
        assert.ok(!exists(path.join(release, 'public/css/css')), 'public/css is not nested in itself');

        assert.equal(readFileSync(path.join(root, 'storage/logs/artisan.log'), 'utf8'), 'storage:link\nmigrate --force\n');
        assert.equal(
          realpathSync(path.join(release, 'public/storage')),
          realpathSync(path.join(root, 'storage/app/public')),
          'storage:link made public/storage',
        );

        assert.deepEqual(
          { ...site.marker(id), deployedAt: undefined, by: undefined },
          { id, status: 'ready', commit: site.repo.head, branch: 'master', deployedAt: undefined, by: undefined },
        );
        assert.ok(!exists(path.join(root, '.attache-lock')), 'the lock is released');
      });

      it('warns that root/.env is missing when deployed without --env', () => {
        assert.ok(!exists(path.join(site.root, '.env')), 'no .env was made up');
        const warning = firstLog.find((line) => line.includes(`${path.join(site.root, '.env')} does not exist`));
        assert.ok(warning, firstLog.join('\n'));
        assert.match(warning, /--env=/);
      });

      it('a second deploy of a new commit points live at a new release with that commit and keeps the first', async () => {
        const head = commitChange(site.repo.work, site.repo.bare, 'app/Version.php', '<?php // version 2\n');
        writeFileSync(path.join(site.root, '.env'), 'APP_NAME="Twice Deployed"\n');
        await site.run('deploy');
        const [first, second] = site.releases();
        assert.equal(first, ids[0], 'the first release is still there');
        assert.equal(site.releases().length, 2);
        ids.push(second);
        assert.equal(site.live(), `releases/${second}`);
        assert.equal(site.marker(second).commit, head);
        assert.equal(site.marker(second).status, 'ready');
        assert.ok(exists(path.join(site.release(second), 'app/Version.php')));
        assert.equal(site.marker(first).commit, site.repo.head);
        assert.equal(
          readFileSync(path.join(site.root, 'storage/logs/artisan.log'), 'utf8'),
          'storage:link\nmigrate --force\nstorage:link\nmigrate --force\n',
          'the artisan log in the shared storage outlived the first release',
        );
        // The app, as served through live: autoloader, assets, and the shared .env all reach it.
        const page = execFileSync('php', [path.join(site.root, 'live/public/index.php')], { encoding: 'utf8' });
        assert.match(page, new RegExp(`release: ${second}`));
        assert.match(page, /asset: \/\* example css \*\//);
        assert.match(page, /Hello from Twice Deployed!/);
      });

      it('releases lists both releases, marks the live one, shows their commit and status', async () => {
        const { lines } = await site.run('releases');
        const table = lines.find((line) => line.startsWith('releases on production'));
        assert.ok(table, lines.join('\n'));
        const rows = table.split('\n').slice(2);
        assert.equal(rows.length, 2, table);
        const [first, second] = ids;
        assert.match(rows[0], new RegExp(`^\\s+${first}\\s+ready\\s+\\S+\\s+${site.repo.head.slice(0, 10)}\\s+master$`));
        assert.doesNotMatch(rows[0], /\*/, 'the first release is not live');
        assert.match(
          rows[1],
          new RegExp(`^\\s+\\*\\s+${second}\\s+ready\\s+\\S+\\s+${site.marker(second).commit!.slice(0, 10)}\\s+master$`),
        );
      });

      it('rollback points live at the previous release, the link never missing', async () => {
        await site.run('rollback');
        assert.ok(lstatSync(path.join(site.root, 'live')).isSymbolicLink());
        assert.equal(site.live(), `releases/${ids[0]}`);
        assert.deepEqual(site.releases(), ids, 'rollback removes nothing');
        assert.ok(!exists(path.join(site.root, '.attache-lock')));
      });

      it('rollback from the oldest release fails and leaves live alone', async () => {
        const { error } = await site.fail('rollback');
        assert.match(error.message, /server "production", step "rollback": there is no complete release before the live one/);
        assert.equal(site.live(), `releases/${ids[0]}`);
        assert.ok(!exists(path.join(site.root, '.attache-lock')), 'the failed rollback freed the lock');
      });

      it('activate --release=<id> points live at that release, --release=latest at the newest', async () => {
        await site.run('activate', [`--release=${ids[1]}`]);
        assert.equal(site.live(), `releases/${ids[1]}`);
        await site.run('activate', [`--release=${ids[0]}`]);
        assert.equal(site.live(), `releases/${ids[0]}`);
        await site.run('activate', ['--release=latest']);
        assert.ok(lstatSync(path.join(site.root, 'live')).isSymbolicLink());
        assert.equal(site.live(), `releases/${ids[1]}`);
      });

      it('activate of a release that does not exist fails, lists the complete releases, and changes nothing', async () => {
        const { error } = await site.fail('activate', ['--release=20000101000000']);
        assert.match(error.message, /server "production", step "activate": there is no release 20000101000000/);
        assert.match(error.message, new RegExp(`Complete releases: ${ids[0]}, ${ids[1]}`));
        assert.equal(site.live(), `releases/${ids[1]}`);
        assert.ok(!exists(path.join(site.root, '.attache-lock')), 'the failed activate freed the lock');
      });
    });

    describe('--env', () => {
      it('on a first deploy creates root/.env from the local file (mode 640); a later --env does not overwrite it', async () => {
        const site = createSite({ target });
        const first = `APP_NAME="Envfile ${kind} One"\nAPP_KEY=first-${kind}-key-1f2e3d\n`;
        writeFileSync(path.join(site.cwd, 'production.env'), first);
        const { lines } = await site.run('deploy', ['--env=production.env']); // relative to the project directory
        const env = path.join(site.root, '.env');
        assert.equal(readFileSync(env, 'utf8'), first);
        assert.equal(statSync(env).mode & 0o777, 0o640);
        assert.equal(readFileSync(path.join(site.release(site.liveId()!), '.env'), 'utf8'), first, 'the release reads it through its link');
        assert.ok(!lines.some((line) => line.includes('does not exist')), lines.join('\n'));
        const inode = statSync(env).ino;

        const second = tempFile('other.env', `APP_NAME="Envfile ${kind} Two"\nAPP_KEY=second-${kind}-key-9a8b7c\n`);
        await site.run('deploy', [`--env=${second}`]);
        assert.equal(site.releases().length, 2);
        assert.equal(readFileSync(env, 'utf8'), first, 'root/.env is not overwritten');
        assert.equal(statSync(env).ino, inode);
        assert.equal(statSync(env).mode & 0o777, 0o640);
        assert.equal(readFileSync(path.join(site.release(site.liveId()!), '.env'), 'utf8'), first);
      });
    });

    describe('pruning with keep: 2', () => {
      // The clock is the test's: each deploy in a second of its own, so the ids are known.
      const base = Math.floor(Date.now() / 1000) * 1000;
      const idAt = (second: number) => releaseId(base + second * 1000);
      let site: Site;

      before(() => {
        site = createSite({ target, server: { keep: 2 } });
      });

      it('four deploys leave exactly the two newest releases', async (t) => {
        t.mock.timers.enable({ apis: ['Date'], now: base });
        for (let second = 0; second < 4; second++) {
          t.mock.timers.setTime(base + second * 1000);
          await site.run('deploy');
          assert.equal(site.liveId(), idAt(second));
        }
        assert.deepEqual(site.releases(), [idAt(2), idAt(3)]);
      });

      it('after a rollback, one more deploy keeps the new live release and the one before it', async (t) => {
        await site.run('rollback');
        assert.equal(site.liveId(), idAt(2));
        t.mock.timers.enable({ apis: ['Date'], now: base + 4000 });
        await site.run('deploy');
        assert.equal(site.liveId(), idAt(4));
        assert.deepEqual(site.releases(), [idAt(3), idAt(4)]);
      });

      it('the prune task keeps the live release and the one before it even when older than the newest two', async () => {
        // Older releases, as earlier deploys would have left them: three complete, and before them
        // one that a killed deploy left incomplete (no marker).
        const old = ['20000101000000', '20000101000001', '20000101000002', '20000101000003'];
        for (const id of old) {
          mkdirSync(path.join(site.release(id), 'public'), { recursive: true });
          if (id !== old[0])
            writeFileSync(path.join(site.release(id), '.attache-release.json'), JSON.stringify({ id, status: 'ready' }) + '\n');
        }
        await site.run('activate', [`--release=${old[2]}`]);
        assert.equal(site.liveId(), old[2]);

        const { lines } = await site.run('prune');
        assert.deepEqual(site.releases(), [old[1], old[2], idAt(3), idAt(4)], lines.join('\n'));
        assert.equal(site.liveId(), old[2]);
        assert.ok(
          lines.some((line) => line.includes(`pruned 2 releases: ${old[0]}, ${old[3]}`)),
          lines.join('\n'),
        );
      });
    });

    describe('a failing step', () => {
      it('fails the deploy naming server, step, command, exit code and output; undoes the release; keeps live, storage and .env; frees the lock', async () => {
        const site = createSite({ target });
        await site.run('deploy', [`--env=${tempFile('ok.env', 'APP_NAME="Before Failure"\n')}`]);
        const [good] = site.releases();
        const kept = path.join(site.root, 'storage/app/user-upload.txt');
        writeFileSync(kept, 'uploaded by a user\n');
        const env = path.join(site.root, '.env');
        const before = { upload: statSync(kept).ino, storage: statSync(path.join(site.root, 'storage')).ino, env: statSync(env).ino };

        commitChange(site.repo.work, site.repo.bare, 'composer.json', '{ "name": "attache/example-app", \n');
        const { error } = await site.fail('deploy', [`--env=${tempFile('new.env', 'APP_NAME="Never Installed"\n')}`]);
        assert.match(
          error.message,
          /^server "production", step "composer": command exited with code 1: .*does not contain valid JSON/m,
          error.message,
        );
        assert.match(error.message, /\n {2}command: .*composer install --no-interaction .*--no-dev/);
        assert.match(error.message, /output \(last lines\):\n[\s\S]*does not contain valid JSON/);

        assert.equal(site.live(), `releases/${good}`, 'live still points to the previous release');
        assert.deepEqual(site.releases(), [good], 'the half-built release is gone');
        assert.equal(readFileSync(kept, 'utf8'), 'uploaded by a user\n');
        assert.deepEqual(
          { upload: statSync(kept).ino, storage: statSync(path.join(site.root, 'storage')).ino, env: statSync(env).ino },
          before,
          'root/storage and root/.env are the same files',
        );
        assert.equal(readFileSync(env, 'utf8'), 'APP_NAME="Before Failure"\n');
        assert.ok(!exists(path.join(site.root, '.attache-lock')), 'the lock is released');

        const fixed = commitChange(
          site.repo.work,
          site.repo.bare,
          'composer.json',
          readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'),
        );
        await site.run('deploy');
        const next = site.liveId()!;
        assert.notEqual(next, good);
        assert.deepEqual(site.releases(), [good, next]);
        assert.equal(site.marker(next).commit, fixed);
        assert.equal(readFileSync(kept, 'utf8'), 'uploaded by a user\n');
      });

      it('on a first deploy, removes everything the deploy created: release, live, root/storage, root/.env, the lock', async () => {
        const site = createSite({ target });
        commitChange(site.repo.work, site.repo.bare, 'composer.json', '{ broken\n');
        const { error } = await site.fail('deploy', [`--env=${tempFile('first.env', 'APP_NAME="First Failure"\n')}`]);
        assert.match(error.message, /step "composer"/);
        for (const name of ['live', 'storage', '.env', '.attache-lock'])
          assert.ok(!exists(path.join(site.root, name)), `root/${name} is gone`);
        assert.deepEqual(site.releases(), []);
      });
    });

    describe('the deploy lock', () => {
      it('refuses a deploy while the lock is held, naming owner, host and age, and accepts it after gulp unlock', async () => {
        const site = createSite({ target });
        await site.run('deploy');
        const [first] = site.releases();

        const lock = path.join(site.root, '.attache-lock');
        mkdirSync(lock);
        const since = new Date(Date.now() - 7 * 60_000).toISOString();
        const owner = JSON.stringify({ by: 'alice', host: 'build-box-7', pid: 4242, since }) + '\n';
        writeFileSync(path.join(lock, 'owner'), owner);

        const { error } = await site.fail('deploy');
        assert.match(error.message, /server "production", step "lock"/);
        assert.match(
          error.message,
          new RegExp(`another deploy holds the lock: alice@build-box-7 \\(pid 4242\\) since ${since.replace(/\./g, '\\.')}, 7 min ago`),
        );
        assert.match(error.message, /gulp unlock --server=production/);
        assert.equal(readFileSync(path.join(lock, 'owner'), 'utf8'), owner, "the other deploy's lock is left alone");
        assert.deepEqual(site.releases(), [first], 'no release was started');
        assert.equal(site.liveId(), first);

        const { lines } = await site.run('unlock');
        assert.ok(!exists(lock), 'unlock removed the lock');
        assert.ok(
          lines.some((line) => line.includes('lock freed (it was held by') && line.includes('alice')),
          lines.join('\n'),
        );

        await site.run('deploy');
        assert.equal(site.releases().length, 2);
        assert.notEqual(site.liveId(), first);
        assert.ok(!exists(lock));
      });
    });

    describe('a root path with a space, a quote and non-ASCII letters', () => {
      it('deploys and rolls back', async () => {
        const root = path.join(tempDir('attache-root-'), "my app's ünïcode root");
        const site = createSite({ target, root });
        await site.run('deploy');
        await site.run('deploy');
        const [first, second] = site.releases();
        assert.ok(first && second, site.releases().join(', '));
        assert.equal(site.live(), `releases/${second}`);
        for (const id of [first, second]) {
          assert.equal(realpathSync(path.join(site.release(id), 'storage')), realpathSync(path.join(root, 'storage')));
          assert.ok(exists(path.join(site.release(id), 'vendor/autoload.php')));
          assert.ok(exists(path.join(site.release(id), 'public/js/app.js')));
          assert.equal(site.marker(id).status, 'ready');
        }
        assert.equal(readFileSync(path.join(root, 'storage/logs/artisan.log'), 'utf8'), 'storage:link\nstorage:link\n');

        await site.run('rollback');
        assert.equal(site.live(), `releases/${first}`);
        assert.ok(!exists(path.join(root, '.attache-lock')));
        assert.deepEqual(
          readdirSync(path.dirname(root)),
          ["my app's ünïcode root"],
          'nothing was made beside it (a path split at the space or quote)',
        );
      });
    });
  });
}

// Target-independent parts of the preset, on the fast local target.
describe('deploy preset on the local target: ids, health check, reuse', () => {
  it("a deploy after prune removed the second's first release still gets an id that sorts after every release", async (t) => {
    const site = createSite({ target: { host: 'local' }, server: { keep: 2 } });
    const now = Math.floor(Date.now() / 1000) * 1000;
    const id = releaseId(now);
    t.mock.timers.enable({ apis: ['Date'], now });
    for (let i = 0; i < 3; i++) await site.run('deploy');
    assert.deepEqual(site.releases(), [`${id}-2`, `${id}-3`], 'the third deploy pruned the first');

    await site.run('deploy');
    const fourth = site.liveId()!;
    assert.deepEqual(
      site.releases(),
      [`${id}-3`, fourth],
      `the newest release (live: ${fourth}) sorts last; keep 2 leaves it and the one before it`,
    );
    await site.run('rollback');
    assert.equal(site.liveId(), `${id}-3`, 'rollback returns to the release deployed just before');
  });

  it('a failing health check swaps live back and keeps the release, marked failed and never chosen again', async () => {
    const site = createSite({ target: { host: 'local' } });
    await site.run('deploy');
    const [good] = site.releases();
    const url = `http://127.0.0.1:${await freePort()}/health`; // nothing listens
    const { error } = await site.fail('deploy', [], { overrides: { healthcheck: { url, retries: 1, timeout: 1 } } });
    assert.match(error.message, new RegExp(`server "production", step "health": health check failed: ${url.replace(/\./g, '\\.')}`));
    const [, failed] = site.releases();
    assert.ok(failed, 'the failed release is kept for a look');
    assert.equal(site.liveId(), good, 'live was swapped back');
    assert.equal(site.marker(failed).status, 'failed');
    assert.ok(!exists(path.join(site.root, '.attache-lock')));

    const { lines } = await site.run('releases');
    assert.ok(
      lines.some((line) => new RegExp(`^\\s+${failed}\\s+failed\\s`, 'm').test(line)),
      lines.join('\n'),
    );
    await site.run('activate', ['--release=latest']);
    assert.equal(site.liveId(), good, '"latest" skips the failed release');
    const refused = await site.fail('activate', [`--release=${failed}`]);
    assert.match(refused.error.message, new RegExp(`release ${failed} is failed; refusing to activate it`));
  });

  it('one attache() instance deploys again after a deploy, and after a failed one', async () => {
    const site = createSite({ target: { host: 'local' } });
    const { log, lines } = captureLogger('normal');
    const tasks = attache({ cwd: site.cwd, argv: ['node', 'gulp', 'deploy'], logger: log });
    await runTask(tasks.deploy);
    await runTask(tasks.deploy);
    assert.equal(site.releases().length, 2, lines.join('\n'));
    assert.equal(site.liveId(), site.releases()[1]);

    commitChange(site.repo.work, site.repo.bare, 'composer.json', '{ broken\n');
    await assert.rejects(runTask(tasks.deploy), /step "composer"/);
    assert.equal(site.releases().length, 2);
    commitChange(site.repo.work, site.repo.bare, 'composer.json', readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'));
    await runTask(tasks.deploy);
    assert.equal(site.releases().length, 3, lines.join('\n'));
    assert.equal(site.liveId(), site.releases()[2]);
  });
});
