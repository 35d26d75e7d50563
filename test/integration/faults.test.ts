import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, type Logger } from '../../src/log';
import { commitChange, EXAMPLE_APP } from '../support/fixtures';
import { startGulpChild, type GulpChild } from '../support/gulp-child';
import { createSite, exists, tempFile, type Site, type TargetSpec } from '../support/preset';
import { startRelay, type Relay } from '../support/relay';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';

/**
 * Faults injected into deploys against a real sshd: the connection cut during the clone, the
 * upload, composer and right after the swap, and stalled (a TCP relay that drops both sockets, or
 * keeps them open and forwards nothing), a failing composer install and a failing hook, SIGINT and
 * SIGTERM to a deploy in a child process (a plain script, and the real gulp CLI), and SIGKILL.
 *
 * Each ends with the same invariants (assertIntact): live unchanged; shared storage and .env
 * byte-identical; no release directory without a marker that was not there before; the lock gone
 * (a lost connection is replaced for the undo) — except where the server stayed unreachable or the
 * process was killed, which the test names; and a plain re-run that deploys (assertRedeploys).
 */

const ENV = 'APP_NAME="Fault Tolerant"\nAPP_KEY=base64:faults-key-0a1b2c3d\n';
const MB = 1024 * 1024;
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
      names
        .filter((n) => !n.startsWith('.'))
        .map((id) => [id, exists(path.join(releasesDir, id, '.attache-release.json')) ? 'complete' : 'incomplete'] as const),
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
function assertIntact(root: string, before: Snapshot, allowed: { leftover?: string[]; lockLeft?: boolean; others?: string[] } = {}): void {
  const now = snapshot(root);
  assert.equal(now.live, before.live, 'live still points to the previous release');
  assert.deepEqual(now.storage, before.storage, 'root/storage is byte-identical');
  assert.ok(now.appLog.startsWith(before.appLog), 'the app log in root/storage was only appended to');
  assert.equal(now.env, before.env, 'root/.env is byte-identical');
  for (const [id, state] of Object.entries(before.releases)) assert.equal(now.releases[id], state, `release ${id} is as it was`);
  const added = Object.keys(now.releases).filter((id) => !(id in before.releases));
  assert.deepEqual(added, allowed.leftover ?? [], `release directories left by the failed deploy (${JSON.stringify(now.releases)})`);
  for (const id of added) assert.equal(now.releases[id], 'incomplete', `the leftover ${id} has no marker, so it never counts as a release`);
  assert.deepEqual(
    now.otherInReleases,
    [...before.otherInReleases, ...(allowed.others ?? [])].sort(),
    'no temporary file left in releases/',
  );
  assert.deepEqual(now.rootEntries, before.rootEntries, 'nothing new in root');
  assert.equal(
    exists(path.join(root, '.attache-lock')),
    allowed.lockLeft ?? false,
    allowed.lockLeft ? 'the lock is left behind' : 'the lock is gone',
  );
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
  for (const [old, state] of Object.entries(before.releases))
    if (state === 'complete') assert.ok(old in now.releases, `complete release ${old} is kept`);
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
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`the child did not exit within ${ms} ms:\n${child.lines.join('\n')}`)), ms),
    ),
  ]);
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

  /**
   * Where a cut lands and how the test times it: a byte count inside the upload, or a moment in a
   * step that sleeps on the server (a hook, or composer's own post-install script).
   */
  interface CutPoint {
    name: string;
    /** The step the failure is reported in (a regex source). */
    step: string;
    prepare(site: Site): { overrides?: Record<string, unknown>; relayCut: (relay: Relay, lines: string[]) => Promise<void> | undefined };
    /** Undoes prepare's change to the project, so the re-run deploys plainly. */
    restore?(site: Site): void;
  }

  /** Cuts 300 ms after the first log line containing `marker`. */
  const cutAtLine = (marker: string) => (relay: Relay, lines: string[]) =>
    lines.some((l) => l.includes(marker)) ? new Promise<void>((r) => setTimeout(r, 300)).then(() => relay.cut()) : undefined;

  const CUTS: CutPoint[] = [
    {
      name: 'while the clone step runs (during an after-clone `sleep 3`)',
      step: 'after-clone',
      prepare: () => ({ overrides: { scripts: { 'after-clone': ['sleep 3'] } }, relayCut: cutAtLine('after-clone: sleep 3') }),
    },
    {
      name: 'in the middle of the asset upload (after 6 MB of a 20 MB upload)',
      step: '(assets|match|prepcomposer|shared|symlinks|permissions|composer|artisan|optimize|migrate)',
      prepare: (site) => {
        writeBigAssets(site.cwd, 20, MB);
        let armed = false;
        return {
          relayCut: (relay) => {
            if (armed) return undefined;
            armed = true;
            void relay.cutAfter(6 * MB);
            return undefined;
          },
        };
      },
      restore: (site) => rmSync(path.join(site.cwd, 'public/js/big'), { recursive: true, force: true }),
    },
    {
      name: 'while composer runs (its post-install script sleeps 4 s)',
      step: 'composer',
      prepare: (site) => {
        const composer = JSON.parse(readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'));
        composer.scripts = { ...composer.scripts, 'post-install-cmd': ['sleep 4'] };
        commitChange(site.repo.work, site.repo.bare, 'composer.json', JSON.stringify(composer, null, 4) + '\n');
        return {
          relayCut: (relay, lines) =>
            lines.some((l) => l === 'composer…' || l.endsWith(' composer…'))
              ? new Promise<void>((r) => setTimeout(r, 1500)).then(() => relay.cut())
              : undefined,
        };
      },
      restore: (site) =>
        commitChange(site.repo.work, site.repo.bare, 'composer.json', readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8')),
    },
    {
      name: 'right after the swap (during an after-live `sleep 3`)',
      step: 'after-live',
      prepare: () => ({ overrides: { scripts: { 'after-live': ['sleep 3'] } }, relayCut: cutAtLine('after-live: sleep 3') }),
    },
  ];

  for (const point of CUTS) {
    describe(`the connection cut ${point.name}`, () => {
      let relay: Relay;
      let site: Site;
      let was: Snapshot;
      let failure: { error: Error; lines: string[] };

      before(async () => {
        let target: TargetSpec;
        ({ relay, target } = await relayed());
        site = await deployedSite(target);
        await site.run('deploy');
        was = snapshot(site.root);
        const { overrides, relayCut } = point.prepare(site);
        // biome-ignore lint/correctness/noUnusedVariables: the cut is started once; its promise is held so the relay fires it once
        let cut: Promise<void> | undefined;
        const lines: string[] = [];
        const { logger } = watchingLogger((line) => {
          lines.push(line);
          cut ??= relayCut(relay, lines);
        });
        cut ??= relayCut(relay, lines);
        const { error } = await site.fail('deploy', [], { logger, overrides });
        failure = { error, lines };
        await undone(lines, 60_000);
        assert.equal(relay.cuts, 1, `the relay cut the connection once:\n${lines.join('\n')}`);
      });

      it(`fails in ${point.step.replace(/[()]/g, '').split('|').join(' or ')}, saying the connection was lost`, () => {
        assert.match(failure.error.message, new RegExp(`server "production", step "${point.step}"`), failure.error.message);
        assert.match(failure.error.message, new RegExp(`connection to 127\\.0\\.0\\.1:${relay.port} was lost`), failure.error.message);
        assert.doesNotMatch(failure.error.message, /exited with code null/);
      });

      it('undoes everything through a fresh connection: no lock, no incomplete release, live where it was, storage and .env unchanged', () => {
        const log = failure.lines.join('\n');
        assert.match(log, /\[production\] the connection was lost: reconnecting to undo \(attempt 1\)…/, log);
        assert.match(log, /\[production\] reconnected/, log);
        assert.doesNotMatch(log, /could not (remove|free|point|undo)/, log);
        assertIntact(site.root, was);
      });

      it('a plain deploy then succeeds', async () => {
        point.restore?.(site);
        await assertRedeploys(site, was);
      });
    });
  }

  describe('a stalled connection (the relay keeps both sockets open and forwards nothing) during an after-clone `sleep 60`', () => {
    let relay: Relay;
    let site: Site;
    let was: Snapshot;
    let failure: { error: Error; lines: string[] };
    let noticedAfterS: number;
    let reportedAfterS: number;

    before(async () => {
      let target: TargetSpec;
      ({ relay, target } = await relayed());
      site = await deployedSite(target);
      was = snapshot(site.root);
      let stalledAt = 0;
      const { logger, lines } = watchingLogger((line) => {
        if (!stalledAt && line.includes('after-clone: sleep 60')) {
          stalledAt = Date.now();
          relay.stall();
        }
        // Noticed: the undo starts. The network comes back 2 s later, while the reconnect waits.
        if (!noticedAfterS && line.includes('reconnecting to undo (attempt 1)')) {
          noticedAfterS = (Date.now() - stalledAt) / 1000;
          setTimeout(() => relay.resume(), 2000);
        }
      });
      const { error } = await site.fail('deploy', [], { logger, overrides: { scripts: { 'after-clone': ['sleep 60'] } } });
      reportedAfterS = (Date.now() - stalledAt) / 1000;
      failure = { error, lines };
      await undone(lines, 90_000);
    });

    it('fails within 30 s of the stall, saying the server stopped answering', (t) => {
      t.diagnostic(
        `the deploy noticed the stall ${noticedAfterS.toFixed(1)} s after it began; it reported its failure, undone, ${reportedAfterS.toFixed(1)} s after`,
      );
      assert.ok(noticedAfterS < 30, `noticed ${noticedAfterS} s after the stall`);
      assert.match(failure.error.message, /server "production", step "after-clone"/, failure.error.message);
      assert.match(failure.error.message, /was lost \(the server stopped answering: nothing received for \d+ s\)/, failure.error.message);
      assert.doesNotMatch(failure.error.message, /Not connected/);
    });

    it('cleans up through a fresh connection once the relay forwards again: no lock, no release, a plain deploy succeeds', async () => {
      const log = failure.lines.join('\n');
      assert.match(log, /\[production\] reconnected/, log);
      assert.doesNotMatch(log, /could not (remove|free|point|undo)/, log);
      assertIntact(site.root, was);
      await assertRedeploys(site, was);
    });
  });

  describe('the connection cut during the clone, and the server unreachable for the whole undo', () => {
    it('says exactly what was left on which server and the one command that clears it; that command clears it', async () => {
      const { relay, target } = await relayed();
      const site = await deployedSite(target);
      const was = snapshot(site.root);
      const { logger, lines } = watchingLogger((line) => {
        if (line.includes('after-clone: sleep 3')) {
          relay.stall(); // nothing gets through, not even new connections
          setTimeout(() => relay.cut(), 300);
        }
      });
      await site.fail('deploy', [], { logger, overrides: { scripts: { 'after-clone': ['sleep 3'] } } });
      await undone(lines, 60_000);
      const log = lines.join('\n');
      const leftover = addedReleases(site.root, was);
      assert.equal(leftover.length, 1);
      const said = lines.find((l) => l.includes('could not undo the deploy'));
      assert.ok(said, log);
      // The asset upload runs beside the clone, into a staging directory beside the release: it is left too (in either order).
      const staged = `.${leftover[0]}.assets`;
      const left = said.match(/Left on production, not undone: (.*?)\. To clear/)?.[1].split('; ');
      assert.deepEqual(
        left?.sort(),
        [
          `free the lock ${path.join(site.root, '.attache-lock')}`,
          `remove ${site.release(leftover[0])}`,
          `remove ${path.join(site.root, 'releases', staged)}`,
        ].sort(),
        said,
      );
      assert.match(said, /To clear them, once production is reachable: gulp unlock --server=production \(/, said);
      assertIntact(site.root, was, { leftover, lockLeft: true, others: [staged] });

      relay.resume();
      const freed = await site.run('unlock');
      assert.ok(
        freed.lines.some((l) => l.includes(`removed the incomplete release ${leftover[0]}`)),
        freed.lines.join('\n'),
      );
      assertIntact(site.root, was);
      await assertRedeploys(site, was);
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
      assert.match(
        error.message,
        /^server "production", step "composer": command exited with code 4: .*attache\/does-not-exist/m,
        error.message,
      );
      assert.match(error.message, /\n {2}command: cd -- \S+ && composer install --no-interaction .*--no-dev/);
      assert.match(
        error.message,
        /output \(last lines\):\n[\s\S]*Required package "attache\/does-not-exist" is not present in the lock file/,
      );
      assertIntact(site.root, was); // at once: the task reports its failure only after its undo

      commitChange(site.repo.work, site.repo.bare, 'composer.json', readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'));
      await assertRedeploys(site, was);
    });

    it('an after-clone hook that exits 3: names server, step, command, exit code, output; undoes everything', async () => {
      const site = await deployedSite(direct());
      const was = snapshot(site.root);
      const hook = "echo 'checking the release' && echo 'it is not fit to serve' >&2 && exit 3";
      const { error } = await site.fail('deploy', [], { overrides: { scripts: { 'after-clone': [hook] } } });
      assert.match(
        error.message,
        /^server "production", step "after-clone": command exited with code 3: it is not fit to serve$/m,
        error.message,
      );
      assert.ok(error.message.includes(`\n  command: cd -- ${site.root} && ${hook}\n`), error.message);
      assert.match(error.message, /output \(last lines\):\n {4}checking the release\n {4}it is not fit to serve/);
      assertIntact(site.root, was);
      await assertRedeploys(site, was);
    });
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
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
        assert.match(out, new RegExp(`${signal}: stopping the deploy; (waiting for .* to stop, then )?undoing what it did…`));
        assert.doesNotMatch(out, /could not (remove|free|point|undo)/, out);
      });

      it('leaves the server as it was: live, storage, .env; no half-built release; the lock freed', () => {
        assertIntact(site.root, was);
      });

      it('a plain re-run deploys', async () => {
        await assertRedeploys(site, was);
      });
    });
  }

  /** composer.json with a post-install script that sleeps: composer runs long enough to be interrupted. */
  const slowComposer = (site: Site, seconds: number) => {
    const composer = JSON.parse(readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'));
    composer.scripts = { ...composer.scripts, 'post-install-cmd': [`sleep ${seconds}`] };
    commitChange(site.repo.work, site.repo.bare, 'composer.json', JSON.stringify(composer, null, 4) + '\n');
  };
  const plainComposer = (site: Site) =>
    commitChange(site.repo.work, site.repo.bare, 'composer.json', readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'));

  for (const presses of [1, 2, 3] as const) {
    describe(`Ctrl-C ${presses === 1 ? 'once' : presses === 2 ? 'twice' : 'three times'} to \`gulp deploy\` (the real gulp CLI) while composer runs`, () => {
      let site: Site;
      let was: Snapshot;
      let run: GulpChild;
      let exit: { code: number | null; signal: NodeJS.Signals | null; at: number };
      let lastPress: number;
      let out: string;

      before(async () => {
        site = await deployedSite(direct());
        was = snapshot(site.root);
        slowComposer(site, 5);
        run = child({ cwd: site.cwd, via: 'gulp-cli' });
        await run.waitForLine(/(^|\] )composer…$/);
        await new Promise((r) => setTimeout(r, 1200)); // composer is in its post-install sleep
        for (let i = 0; i < presses; i++) {
          if (i) await new Promise((r) => setTimeout(r, 300));
          lastPress = run.signal('SIGINT');
        }
        exit = await exitWithin(run, 20_000);
        out = run.lines.join('\n');
      });

      it('the first press says what it waits for', () => {
        assert.match(out, /SIGINT: stopping the deploy; waiting for composer on production to stop, then undoing what it did…/, out);
      });

      if (presses < 3) {
        it(`${presses === 2 ? 'the second press says the undo is still running and that a third leaves the lock; ' : ''}the deploy then says what it undid, and exits 130 after the summary (gulp's "Finished 'deploy'", if any, after it)`, () => {
          if (presses === 2)
            assert.match(
              out,
              /SIGINT: the undo is still running \(waiting for composer on production to stop\)\. Press Ctrl-C once more to leave at once: the lock and what is not yet undone stay on the server\./,
              out,
            );
          else assert.doesNotMatch(out, /the undo is still running/);
          assert.match(out, /\[production\] undone: remove \S+\/releases\/\d{14}(?:-\d+)?; free the lock \S+\/\.attache-lock/, out);
          const summary = run.lines.findIndex((l) => l.includes('deploy summary'));
          const finished = run.lines.findIndex((l) => /Finished 'deploy'/.test(l));
          assert.ok(summary >= 0, out);
          assert.ok(finished === -1 || finished > summary, `gulp's "Finished 'deploy'" comes after the summary:\n${out}`);
          assert.equal(exit.code, 130, out);
        });

        it('leaves the server as it was: live, storage, .env; no release; no lock', () => {
          assertIntact(site.root, was);
        });

        it('a plain deploy then succeeds', async () => {
          plainComposer(site);
          await assertRedeploys(site, was);
        });
      } else {
        it('the third press exits 130 at once, saying what is left where and the command that clears it', () => {
          assert.equal(exit.code, 130, out);
          assert.ok(exit.at - lastPress < 2000, `exited ${exit.at - lastPress} ms after the third press`);
          const leftover = addedReleases(site.root, was);
          assert.equal(leftover.length, 1, out);
          assert.ok(
            out.includes(
              `SIGINT: leaving without finishing the undo. Left on production, not undone: remove ${site.release(leftover[0])}; free the lock ${path.join(site.root, '.attache-lock')}. To clear: gulp unlock --server=production`,
            ),
            out,
          );
          assert.doesNotMatch(out, /deploy summary|Finished 'deploy'/, out);
          // The last word is the deploy's, not gulp's report of tasks that "did not complete".
          assert.doesNotMatch(out, /did not complete|Did you forget to signal async completion/, out);
          assert.match(
            run.lines.filter((line) => line.trim()).at(-1) ?? '',
            /^\[[\d:]+\] SIGINT: leaving without finishing the undo\. /,
            out,
          );
          assertIntact(site.root, was, { leftover, lockLeft: true });
        });

        it('the next deploy on this host takes the lock over (its process has ended), removes the release left, and succeeds', async () => {
          await new Promise((r) => setTimeout(r, 4000)); // composer's sleep, cut off from us, ends on the server
          const leftover = addedReleases(site.root, was);
          plainComposer(site);
          const { lines } = await site.run('deploy');
          assert.ok(
            lines.some((l) => l.includes(`took over the stale lock`) && l.includes(`(pid ${run.pid})`)),
            lines.join('\n'),
          );
          assert.ok(!exists(site.release(leftover[0])));
          assert.ok(!exists(path.join(site.root, '.attache-lock')));
        });
      }
    });
  }

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

    it('a re-run of the fixed commit deploys', async () => {
      commitChange(site.repo.work, site.repo.bare, 'composer.json', readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'));
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
      // Killed while the clone was still running, the upload was writing beside the release: that is left too.
      const staged = `.${leftover[0]}.assets`;
      assertIntact(site.root, was, { leftover, lockLeft: true, others: exists(path.join(site.root, 'releases', staged)) ? [staged] : [] });
      owner = JSON.parse(readFileSync(path.join(site.root, '.attache-lock/owner'), 'utf8'));
      assert.equal(owner.pid, run.pid);
      assert.equal(owner.host, os.hostname());
    });

    it('the next deploy on this host takes the stale lock over with a warning naming the old holder, removes its incomplete release, and deploys', async () => {
      const { lines } = await site.run('deploy');
      const warning = lines.find((l) => l.includes('took over the stale lock'));
      assert.ok(warning, lines.join('\n'));
      assert.ok(
        warning.includes(
          `[production] took over the stale lock of ${os.userInfo().username}@${os.hostname()} (pid ${run.pid}) since ${owner.since}, 0 min ago: its process ${run.pid} on this host no longer exists`,
        ),
        warning,
      );
      assert.ok(
        lines.some((l) => l.includes(`[production] removed the incomplete release ${leftover[0]} the previous lock holder left`)),
        lines.join('\n'),
      );
      assert.ok(!exists(site.release(leftover[0])));
      assert.ok(!exists(path.join(site.root, 'releases', `.${leftover[0]}.assets`)));
      assert.ok(!exists(path.join(site.root, '.attache-lock')), 'the lock is freed at the end');
      const now = snapshot(site.root);
      assert.equal(now.releases[site.liveId()!], 'complete');
      assert.deepEqual(now.storage, was.storage);
      assert.equal(now.env, was.env);
    });
  });
});
