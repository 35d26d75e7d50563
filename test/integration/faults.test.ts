import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, type Logger } from '../../src/log';
import { commitChange, EXAMPLE_APP } from '../support/fixtures';
import { startGulpChild, type GulpChild } from '../support/gulp-child';
import { createSite, exists, tempFile, type Site, type TargetSpec } from '../support/preset';
import { startRelay, type Relay } from '../support/relay';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../support/sshd';

/**
 * Faults injected into deploys against a real sshd: the connection cut mid-upload and mid-clone
 * (a TCP relay that drops both sockets), a failing composer install and a failing hook, SIGINT and
 * SIGTERM to a deploy in a child process (a plain script, and the real gulp CLI), and SIGKILL.
 *
 * Each ends with the same invariants (assertIntact): live unchanged; shared storage and .env
 * byte-identical; no release directory without a marker that was not there before — except what
 * the fault left where nothing could remove it (the connection was gone, the process was killed),
 * which is then never chosen and is pruned by the next deploy; the lock gone, or freed by
 * `gulp unlock` as the refusal tells the user; and a plain re-run that deploys (assertRedeploys).
 */

const ENV = 'APP_NAME="Fault Tolerant"\nAPP_KEY=base64:faults-key-0a1b2c3d\n';
const MB = 1024 * 1024;
const LOCK_REFUSAL = /^server "production", step "lock", remote path \S*\.attache-lock: another deploy holds the lock: /m;
/** The example app's artisan appends to storage/logs/artisan.log: the app writing its shared storage, not the deploy tool. */
const APP_LOG = 'logs/artisan.log';
/** Its second log (one line per call, naming the release and what live pointed at), as much the app's own. */
const APP_CALLS_LOG = 'logs/artisan-calls.log';

interface Snapshot {
  live: string | null;
  /** root/storage without the app's own log: relative path -> "dir" | "link:<target>" | "file:<sha256>:<mode>". */
  storage: Record<string, string>;
  appLog: string;
  env: string | null;
  /** Release id -> whether it has its marker. */
  releases: Record<string, 'complete' | 'incomplete'>;
  /** Every other name in releases/ (temporary files) and in root (except the lock). */
  otherInReleases: string[];
  rootEntries: string[];
}

function tree(dir: string, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const name of readdirSync(path.join(dir, prefix)).sort()) {
    const relative = prefix ? `${prefix}/${name}` : name;
    const full = path.join(dir, relative);
    const stat = lstatSync(full);
    if (stat.isSymbolicLink()) out[relative] = `link:${readlinkSync(full)}`;
    else if (stat.isDirectory()) {
      out[relative] = 'dir';
      tree(dir, relative, out);
    } else out[relative] = `file:${sha256(readFileSync(full))}:${(stat.mode & 0o7777).toString(8)}`;
  }
  return out;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const list = (dir: string) => (exists(dir) ? readdirSync(dir).sort() : []);

function snapshot(root: string): Snapshot {
  const releasesDir = path.join(root, 'releases');
  const names = list(releasesDir);
  const storage = tree(path.join(root, 'storage'));
  const appLogFile = path.join(root, 'storage', APP_LOG);
  delete storage[APP_LOG];
  delete storage[APP_CALLS_LOG];
  return {
    live: exists(path.join(root, 'live')) ? readlinkSync(path.join(root, 'live')) : null,
    storage,
    appLog: exists(appLogFile) ? readFileSync(appLogFile, 'utf8') : '',
    env: exists(path.join(root, '.env')) ? sha256(readFileSync(path.join(root, '.env'))) : null,
    releases: Object.fromEntries(
      names.filter((n) => !n.startsWith('.')).map((id) => [id, exists(path.join(releasesDir, id, '.attache-release.json')) ? 'complete' : 'incomplete'] as const),
    ),
    otherInReleases: names.filter((n) => n.startsWith('.')),
    rootEntries: list(root).filter((n) => n !== '.attache-lock'),
  };
}

function addedReleases(root: string, before: Snapshot): string[] {
  return Object.keys(snapshot(root).releases).filter((id) => !(id in before.releases));
}

/**
 * The invariants a fault must leave: live where it was; root/storage and root/.env byte-identical
 * (the app's own log only appended to); every release as it was; no new release directory except
 * `leftover` (named by the test: what the fault left and nothing could remove), which must be
 * incomplete, so it never counts; nothing else new; the lock gone unless `lockLeft`.
 */
function assertIntact(root: string, before: Snapshot, allowed: { leftover?: string[]; lockLeft?: boolean } = {}): void {
  const now = snapshot(root);
  assert.equal(now.live, before.live, 'live still points to the previous release');
  assert.deepEqual(now.storage, before.storage, 'root/storage is byte-identical');
  assert.ok(now.appLog.startsWith(before.appLog), 'the app log in root/storage was only appended to');
  assert.equal(now.env, before.env, 'root/.env is byte-identical');
  for (const [id, state] of Object.entries(before.releases)) assert.equal(now.releases[id], state, `release ${id} is as it was`);
  const added = Object.keys(now.releases).filter((id) => !(id in before.releases));
  assert.deepEqual(added, allowed.leftover ?? [], `release directories left by the failed deploy (${JSON.stringify(now.releases)})`);
  for (const id of added) assert.equal(now.releases[id], 'incomplete', `the leftover ${id} has no marker, so it never counts as a release`);
  assert.deepEqual(now.otherInReleases, before.otherInReleases, 'no temporary file left in releases/');
  assert.deepEqual(now.rootEntries, before.rootEntries, 'nothing new in root');
  assert.equal(exists(path.join(root, '.attache-lock')), allowed.lockLeft ?? false, allowed.lockLeft ? 'the lock is left behind' : 'the lock is gone');
}

/** A plain re-run deploys a new complete release, keeps storage and .env, and prunes every incomplete release. */
async function assertRedeploys(site: Site, before: Snapshot): Promise<string> {
  const { lines } = await site.run('deploy');
  const now = snapshot(site.root);
  const id = site.liveId()!;
  assert.ok(!(id in before.releases), `a new release is live: ${id}`);
  assert.equal(now.releases[id], 'complete');
  assert.equal(site.marker(id).status, 'ready');
  assert.deepEqual(now.storage, before.storage, 'root/storage is untouched by the re-run');
  assert.equal(now.env, before.env, 'root/.env is untouched by the re-run');
  const incomplete = Object.keys(now.releases).filter((r) => now.releases[r] === 'incomplete');
  assert.deepEqual(incomplete, [], `the re-run's prune removed every incomplete release:\n${lines.join('\n')}`);
  for (const [old, state] of Object.entries(before.releases)) if (state === 'complete') assert.ok(old in now.releases, `complete release ${old} is kept`);
  assert.deepEqual(now.otherInReleases, before.otherInReleases, 'no temporary file left in releases/');
  assert.ok(!exists(path.join(site.root, '.attache-lock')), 'the re-run freed the lock');
  return id;
}

/** Large, incompressible assets in the project's public/js (built, not committed). */
function writeBigAssets(cwd: string, files: number, size: number): number {
  const dir = path.join(cwd, 'public/js/big');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < files; i++) writeFileSync(path.join(dir, `chunk-${String(i).padStart(4, '0')}.bin`), randomBytes(size));
  return files * size;
}

/** A logger that keeps its lines and calls `onLine` for each (to act at a moment of the deploy). */
function watchingLogger(onLine: (line: string) => void = () => {}): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({
    verbosity: 'normal',
    interactive: false,
    write: (line) => {
      lines.push(line);
      onLine(line);
    },
  });
  return { logger, lines };
}

/**
 * Waits until a failed in-process deploy has logged its summary, i.e. its undo is over. (The task
 * may report its failure before that: see "a failing composer install under `gulp deploy`".)
 */
async function undone(lines: string[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!lines.some((l) => l.startsWith('deploy summary'))) {
    if (Date.now() > deadline) throw new Error(`no deploy summary within ${timeoutMs} ms:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function exitWithin(child: GulpChild, ms: number) {
  return Promise.race([
    child.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the child did not exit within ${ms} ms:\n${child.lines.join('\n')}`)), ms)),
  ]);
}

/** Frees a lock left behind (asserting the refusal says how), so that the re-run can be checked too. */
async function unlockIfLeft(site: Site): Promise<void> {
  if (!exists(path.join(site.root, '.attache-lock'))) return;
  const refused = await site.fail('deploy');
  assert.match(refused.error.message, /free the lock with: gulp unlock --server=production/);
  await site.run('unlock');
}

describe('faults during a deploy, against a real sshd', () => {
  let home: TestHome;
  let sshd: SshServer;
  const relays: Relay[] = [];
  const children: GulpChild[] = [];

  before(async () => {
    home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
  });
  after(async () => {
    for (const child of children) if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    await Promise.all(relays.map((r) => r.close()));
    await sshd.stop();
  });

  const direct = (): TargetSpec => ({ host: '127.0.0.1', port: sshd.port, user: 'root' });

  /** A relay in front of sshd, trusted as `[127.0.0.1]:<relay port>` with sshd's host key. */
  async function relayed(): Promise<{ relay: Relay; target: TargetSpec }> {
    const relay = await startRelay(sshd.port);
    relays.push(relay);
    appendFileSync(home.knownHosts, `[127.0.0.1]:${relay.port} ${sshd.hostKey}\n`);
    return { relay, target: { host: '127.0.0.1', port: relay.port, user: 'root' } };
  }

  /** A site deployed once (with --env), with a user's upload and a log in the shared storage. */
  async function deployedSite(target: TargetSpec, server: Record<string, unknown> = {}): Promise<Site> {
    const site = createSite({ target, server: { keep: 5, ...server } });
    await site.run('deploy', [`--env=${tempFile('production.env', ENV)}`]);
    mkdirSync(path.join(site.root, 'storage/app/uploads'), { recursive: true });
    writeFileSync(path.join(site.root, 'storage/app/uploads/avatar.bin'), randomBytes(4096));
    writeFileSync(path.join(site.root, 'storage/logs/laravel.log'), '[2026-01-01] production.INFO: hello\n');
    return site;
  }

  function child(options: Parameters<typeof startGulpChild>[0]): GulpChild {
    const started = startGulpChild(options);
    children.push(started);
    return started;
  }

  describe('the connection cut in the middle of the asset upload (relay drops both sockets after 6 MB of a 20 MB upload)', () => {
    let relay: Relay;
    let site: Site;
    let was: Snapshot;
    let first: string;
    let second: string;
    let failure: { error: Error; lines: string[] };
    let leftover: string[];

    before(async () => {
      let target: TargetSpec;
      ({ relay, target } = await relayed());
      site = await deployedSite(target);
      [first] = site.releases();
      await site.run('deploy');
      second = site.liveId()!;
      was = snapshot(site.root);
      const bytes = writeBigAssets(site.cwd, 20, MB);
      const cutAt = 6 * MB;
      const cut = relay.cutAfter(cutAt);
      const from = relay.bytesUp;
      failure = await site.fail('deploy');
      await cut;
      await undone(failure.lines);
      assert.equal(relay.cuts, 1, 'the relay cut the connection once');
      assert.ok(relay.bytesUp - from <= cutAt && cutAt < bytes, 'the cut landed inside the upload');
      leftover = addedReleases(site.root, was);
    });

    it('fails in the part of the deploy the upload runs in, saying the connection was lost', () => {
      // The upload runs beside shared → composer → artisan: whichever notices the dead connection first reports it.
      assert.match(failure.error.message, /server "production", step "(assets|shared|composer|artisan)"/, failure.error.message);
      assert.match(failure.error.message, new RegExp(`connection to 127\\.0\\.0\\.1:${relay.port} was lost`), failure.error.message);
    });

    it('leaves only what cannot be undone without a connection: the incomplete release and the lock, and says so', () => {
      // Observed: the cut deploy's release directory (no marker) and the lock stay; live, storage and .env are untouched.
      assert.equal(leftover.length, 1, 'one release directory left by the cut deploy');
      const log = failure.lines.join('\n');
      assert.match(log, /\[production\] could not remove .*releases\//, 'the log says the release could not be removed');
      assert.match(log, /\[production\] could not free the lock /, 'the log says the lock could not be freed');
      assertIntact(site.root, was, { leftover, lockLeft: true });
    });

    it('the next deploy is refused by the lock left behind, naming owner, host, age, and `gulp unlock`', async () => {
      const refused = await site.fail('deploy');
      assert.match(refused.error.message, LOCK_REFUSAL, refused.error.message);
      const who = `${os.userInfo().username}@${os.hostname()} (pid ${process.pid}) since `;
      assert.ok(refused.error.message.includes(who), refused.error.message);
      assert.match(refused.error.message, /, 0 min ago/);
      assert.match(refused.error.message, /If no deploy is running \(it was killed\), free the lock with: gulp unlock --server=production/);
      assertIntact(site.root, was, { leftover, lockLeft: true });
    });

    it('`releases` lists the leftover as incomplete; after `gulp unlock` it is never chosen by activate, "latest" or rollback', async () => {
      const table = (await site.run('releases')).lines.find((l) => l.startsWith('releases on production'));
      assert.ok(table);
      assert.match(table, new RegExp(`^\\s+${leftover[0]}\\s+incomplete(\\s|$)`, 'm'), table);
      assert.match(table, new RegExp(`^\\s+\\*\\s+${second}\\s+ready\\s`, 'm'), table);

      const freed = await site.run('unlock');
      assert.ok(freed.lines.some((l) => l.includes('lock freed (it was held by') && l.includes(`"pid":${process.pid}`)), freed.lines.join('\n'));
      assertIntact(site.root, was, { leftover });

      const refused = await site.fail('activate', [`--release=${leftover[0]}`]);
      assert.match(refused.error.message, new RegExp(`release ${leftover[0]} is incomplete; refusing to activate it`));
      await site.run('activate', ['--release=latest']);
      assert.equal(site.liveId(), second, '"latest" is the newest complete release, not the incomplete one');
      await site.run('rollback');
      assert.equal(site.liveId(), first, 'rollback goes to the complete release before live');
      await site.run('activate', ['--release=latest']);
      assert.equal(site.liveId(), second);
      assertIntact(site.root, was, { leftover });
    });

    it('a plain re-run (the relay no longer cuts) deploys every asset and prunes the leftover', async () => {
      await unlockIfLeft(site);
      const next = await assertRedeploys(site, was);
      assert.ok(!exists(site.release(leftover[0])), 'the incomplete release was pruned');
      assert.deepEqual(site.releases(), [first, second, next]);
      for (const name of ['chunk-0000.bin', 'chunk-0019.bin']) {
        assert.deepEqual(readFileSync(path.join(site.release(next), 'public/js/big', name)), readFileSync(path.join(site.cwd, 'public/js/big', name)));
      }
    });
  });

  describe('the connection cut while the clone step runs (the relay drops it during an after-clone `sleep 3`)', () => {
    let relay: Relay;
    let site: Site;
    let was: Snapshot;
    let failure: { error: Error; lines: string[] };
    let failedAfterMs: number;

    before(async () => {
      let target: TargetSpec;
      ({ relay, target } = await relayed());
      site = await deployedSite(target);
      was = snapshot(site.root);
      let cut: Promise<void> | undefined;
      const { logger, lines } = watchingLogger((line) => {
        if (!cut && line.includes('after-clone: sleep 3')) cut = new Promise((r) => setTimeout(r, 300)).then(() => relay.cut());
      });
      const started = Date.now();
      const { error } = await site.fail('deploy', [], { logger, overrides: { scripts: { 'after-clone': ['sleep 3'] } } });
      failedAfterMs = Date.now() - started;
      failure = { error, lines };
      assert.ok(cut, `the deploy reached the after-clone hook:\n${lines.join('\n')}`);
      await cut;
      await undone(lines);
    });

    it('fails at once (not after a timeout), in the after-clone step', () => {
      assert.ok(failedAfterMs < 8000, `failed after ${failedAfterMs} ms`);
      assert.match(failure.error.message, /server "production", step "after-clone"/, failure.error.message);
    });

    it('says the connection was lost (not that the command exited with some code)', () => {
      assert.match(failure.error.message, new RegExp(`connection to 127\\.0\\.0\\.1:${relay.port} was lost`), failure.error.message);
      assert.doesNotMatch(failure.error.message, /exited with code null/);
    });

    it('leaves only the release directory the clone made and the lock (no connection to remove them)', () => {
      const leftover = addedReleases(site.root, was);
      assert.equal(leftover.length, 1);
      assert.match(failure.lines.join('\n'), /could not remove .*releases\//);
      assertIntact(site.root, was, { leftover, lockLeft: true });
    });

    it('the next deploy is refused by the lock; after `gulp unlock`, a plain re-run deploys and prunes the leftover', async () => {
      const leftover = addedReleases(site.root, was);
      const refused = await site.fail('deploy');
      assert.match(refused.error.message, LOCK_REFUSAL);
      assert.match(refused.error.message, /\(pid \d+\) since \S+, 0 min ago/);
      assert.match(refused.error.message, /gulp unlock --server=production/);
      await site.run('unlock');
      assertIntact(site.root, was, { leftover });
      await assertRedeploys(site, was);
      for (const id of leftover) assert.ok(!exists(site.release(id)));
    });
  });

  describe('a failing command on the server', () => {
    it('composer install of a package that does not exist: names server, step, command, exit code, output; undoes everything', async () => {
      const site = await deployedSite(direct());
      const was = snapshot(site.root);
      const composer = JSON.parse(readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'));
      composer.require = { 'attache/does-not-exist': '^1.0' };
      composer.repositories = [{ 'packagist.org': false }];
      commitChange(site.repo.work, site.repo.bare, 'composer.json', JSON.stringify(composer, null, 4) + '\n');

      const { error } = await site.fail('deploy');
      assert.match(error.message, /^server "production", step "composer": command exited with code 4: .*attache\/does-not-exist/m, error.message);
      assert.match(error.message, /\n {2}command: cd -- \S+ && composer install --no-interaction .*--no-dev/);
      assert.match(error.message, /output \(last lines\):\n[\s\S]*Required package "attache\/does-not-exist" is not present in the lock file/);
      assertIntact(site.root, was); // at once: the task reports its failure only after its undo

      commitChange(site.repo.work, site.repo.bare, 'composer.json', readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'));
      await assertRedeploys(site, was);
    });

    it('an after-clone hook that exits 3: names server, step, command, exit code, output; undoes everything', async () => {
      const site = await deployedSite(direct());
      const was = snapshot(site.root);
      const hook = "echo 'checking the release' && echo 'it is not fit to serve' >&2 && exit 3";
      const { error } = await site.fail('deploy', [], { overrides: { scripts: { 'after-clone': [hook] } } });
      assert.match(error.message, /^server "production", step "after-clone": command exited with code 3: it is not fit to serve$/m, error.message);
      assert.ok(error.message.includes(`\n  command: cd -- ${site.root} && ${hook}\n`), error.message);
      assert.match(error.message, /output \(last lines\):\n {4}checking the release\n {4}it is not fit to serve/);
      assertIntact(site.root, was);
      await assertRedeploys(site, was);
    });
  });

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    describe(`${signal} to a deploy script in a child process, during the upload`, () => {
      let site: Site;
      let was: Snapshot;
      let run: GulpChild;
      let exit: { code: number | null; signal: NodeJS.Signals | null; at: number };
      let sent: number;

      before(async () => {
        site = await deployedSite(direct());
        was = snapshot(site.root);
        writeBigAssets(site.cwd, 400, 64 * 1024);
        run = child({ cwd: site.cwd, via: 'script' });
        await run.waitForLine(/upload: \d+\/\d+ files/);
        sent = run.signal(signal);
        exit = await exitWithin(run, 15_000);
      });

      it(`exits ${code} by itself within a few seconds, having undone what it did`, () => {
        const out = run.lines.join('\n');
        assert.equal(exit.signal, null, out);
        assert.equal(exit.code, code, out);
        assert.ok(exit.at - sent < 5000, `exited ${exit.at - sent} ms after the signal`);
        assert.match(out, new RegExp(`${signal}: stopping the deploy; undoing what it did`));
        assert.doesNotMatch(out, /could not (remove|free|point)/, out);
      });

      it('leaves the server as it was: live, storage, .env; no half-built release; the lock freed', () => {
        assertIntact(site.root, was);
      });

      it('a plain re-run deploys', async () => {
        await unlockIfLeft(site);
        await assertRedeploys(site, was);
      });
    });
  }

  describe('SIGINT (Ctrl-C) to `gulp deploy` (the real gulp CLI), during the upload', () => {
    let site: Site;
    let was: Snapshot;
    let run: GulpChild;
    let exit: { code: number | null; signal: NodeJS.Signals | null; at: number };
    let sent: number;

    before(async () => {
      site = await deployedSite(direct());
      was = snapshot(site.root);
      writeBigAssets(site.cwd, 400, 64 * 1024);
      run = child({ cwd: site.cwd, via: 'gulp-cli' });
      await run.waitForLine(/upload: \d+\/\d+ files/);
      sent = run.signal('SIGINT');
      exit = await exitWithin(run, 15_000);
      await new Promise((r) => setTimeout(r, 500)); // anything still running on the server settles
    });

    it('exits 130 after undoing, not 1 when the CLI sees the cancelled step fail', () => {
      const out = run.lines.join('\n');
      assert.equal(exit.code, 130, `exit code ${exit.code}, ${exit.at - sent} ms after SIGINT:\n${out}`);
      assert.ok(exit.at - sent < 5000);
    });

    it('leaves the server as it was: no half-built release, the lock freed', () => {
      assertIntact(site.root, was);
    });

    it('a re-run deploys (after `gulp unlock`, if the lock was left)', async () => {
      await unlockIfLeft(site);
      await assertRedeploys(site, was);
    });
  });

  describe('a failing composer install under `gulp deploy` (the real gulp CLI) while the upload runs beside it', () => {
    let site: Site;
    let was: Snapshot;
    let run: GulpChild;
    let exit: { code: number | null; signal: NodeJS.Signals | null; at: number };

    before(async () => {
      const { relay, target } = await relayed();
      site = await deployedSite(target);
      was = snapshot(site.root);
      writeBigAssets(site.cwd, 400, 64 * 1024);
      relay.throttle(4 * MB); // the 25 MB upload lasts ~6 s: composer fails while it runs
      commitChange(site.repo.work, site.repo.bare, 'composer.json', '{ "name": "attache/example-app", \n');
      run = child({ cwd: site.cwd, via: 'gulp-cli' });
      exit = await exitWithin(run, 30_000);
      await new Promise((r) => setTimeout(r, 500));
    });

    it('exits 1 with the composer error, once its undo is done', () => {
      const out = run.lines.join('\n');
      assert.equal(exit.code, 1, out);
      assert.match(out, /server "production", step "composer": command exited with code/, out);
      assert.match(out, /deploy summary/, `the summary (logged after the undo) was printed before the CLI exited:\n${out}`);
    });

    it('leaves the server as it was: no half-built release, the lock freed', () => {
      assertIntact(site.root, was);
    });

    it('a re-run of the fixed commit deploys (after `gulp unlock`, if the lock was left)', async () => {
      commitChange(site.repo.work, site.repo.bare, 'composer.json', readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'));
      await unlockIfLeft(site);
      await assertRedeploys(site, was);
    });
  });

  describe('SIGKILL to `gulp deploy` during the upload', () => {
    let site: Site;
    let was: Snapshot;
    let run: GulpChild;
    let leftover: string[];
    let owner: { by: string; host: string; pid: number; since: string };

    before(async () => {
      site = await deployedSite(direct());
      was = snapshot(site.root);
      writeBigAssets(site.cwd, 400, 64 * 1024);
      run = child({ cwd: site.cwd, via: 'gulp-cli' });
      await run.waitForLine(/upload: \d+\/\d+ files/);
      run.signal('SIGKILL');
      const exit = await exitWithin(run, 5000);
      assert.equal(exit.signal, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300)); // sshd finishes what the killed client had sent
      leftover = addedReleases(site.root, was);
    });

    it('leaves its release directory (incomplete) and the lock, recording who held it', () => {
      assert.equal(leftover.length, 1, 'the killed deploy left its release directory');
      assertIntact(site.root, was, { leftover, lockLeft: true });
      owner = JSON.parse(readFileSync(path.join(site.root, '.attache-lock/owner'), 'utf8'));
      assert.equal(owner.pid, run.pid);
      assert.equal(owner.host, os.hostname());
    });

    it('the next deploy is refused, naming owner, host and age, and telling the user to run `gulp unlock`', async () => {
      const { error } = await site.fail('deploy');
      assert.match(error.message, LOCK_REFUSAL, error.message);
      assert.ok(error.message.includes(`${os.userInfo().username}@${os.hostname()} (pid ${run.pid}) since ${owner.since}, 0 min ago`), error.message);
      assert.match(error.message, /If no deploy is running \(it was killed\), free the lock with: gulp unlock --server=production/);
      assertIntact(site.root, was, { leftover, lockLeft: true });
    });

    it('`gulp unlock` frees it, saying whose it was', async () => {
      const { lines } = await site.run('unlock');
      assert.ok(lines.some((l) => l.includes('lock freed (it was held by') && l.includes(`"pid":${run.pid}`)), lines.join('\n'));
      assertIntact(site.root, was, { leftover });
    });

    it('the next deploy succeeds and prunes the incomplete release the killed one left', async () => {
      await assertRedeploys(site, was);
      assert.ok(!exists(site.release(leftover[0])));
    });
  });
});
