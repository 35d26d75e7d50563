import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServerConfig } from '../../src/config/types';
import type { ServerRun } from '../../src/release/lifecycle/context';
import { Layout } from '../../src/release/model/layout';
import { UndoLog } from '../../src/release/lifecycle/undo-log';
import { STALE_AFTER_S } from '../../src/release/model/lock-owner';
import { HEARTBEAT_MS, lock, releaseLock } from '../../src/release/steps/lock';
import { openSession, type SshSession } from '../../src/ssh/session';
import { tempDir } from '../support/fixtures';
import { startGulpChild, type GulpChild } from '../support/gulp-child';
import { captureLogger } from '../support/log';
import { createDeployUser, type DeployUser } from '../support/users';
import { createSite, exists, secondCheckout, type Site, type TargetSpec } from '../support/preset';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';

/**
 * The lock that heals, against a real sshd: a holder that still beats is refused, one that is
 * provably gone (no heartbeat for STALE_AFTER_S, or its process on this host ended) is taken over
 * with a warning and its incomplete release removed; of several deploys taking over one stale
 * lock exactly one wins. And a root the deploy user cannot write is reported as mkdir's own error.
 */

const DEPLOYER = 'attache-deployer';

interface FakeHolder {
  host: string;
  pid: number;
  heartbeatAgeS: number | null;
  release?: string;
}

/** A lock as another deploy would have left it: its record, its heartbeat (aged), the release it was building. */
function fakeLock(root: string, holder: FakeHolder): { dir: string; owner: string } {
  const dir = path.join(root, '.attache-lock');
  mkdirSync(dir, { recursive: true });
  const since = new Date(Date.now() - 5 * 60_000).toISOString();
  const owner = JSON.stringify({ by: 'alice', host: holder.host, pid: holder.pid, since, token: 'feedc0de' }) + '\n';
  writeFileSync(path.join(dir, 'owner'), owner);
  if (holder.heartbeatAgeS !== null) {
    const file = path.join(dir, 'heartbeat');
    writeFileSync(file, '');
    const at = (Date.now() - holder.heartbeatAgeS * 1000) / 1000;
    utimesSync(file, at, at);
  }
  if (holder.release) writeFileSync(path.join(dir, 'release'), `${holder.release}\n`);
  return { dir, owner };
}

describe('the deploy lock heals, against a real sshd', () => {
  let home: TestHome;
  let sshd: SshServer;
  let target: TargetSpec;
  const children: GulpChild[] = [];

  before(async () => {
    home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
    target = { host: '127.0.0.1', port: sshd.port, user: 'root' };
  });
  after(async () => {
    for (const child of children) if (child.child.exitCode === null) child.child.kill('SIGKILL');
    await sshd.stop();
  });

  it('a lock whose holder on another host still beats (heartbeat 5 s old) is refused and left as it was', async () => {
    const site = createSite({ target });
    await site.run('deploy');
    const { dir, owner } = fakeLock(site.root, { host: 'build-box-7', pid: 4242, heartbeatAgeS: 5 });
    const { error } = await site.fail('deploy');
    assert.match(
      error.message,
      /server "production", step "lock", remote path \S+\.attache-lock: another deploy holds the lock: alice@build-box-7 \(pid 4242\) since \S+, 5 min ago \(its last heartbeat is [5-9] s old\)/,
      error.message,
    );
    assert.match(error.message, /free the lock with: gulp unlock --server=production/);
    assert.equal(readFileSync(path.join(dir, 'owner'), 'utf8'), owner, "the holder's record is untouched");
    assert.equal(site.releases().length, 1, 'no release was started');
  });

  it(`a lock on another host with no heartbeat for 2 min (more than ${STALE_AFTER_S} s) is taken over with a warning; the holder's incomplete release goes, complete ones stay`, async () => {
    const site = createSite({ target });
    await site.run('deploy');
    const [first] = site.releases();
    const dead = '20200101000000';
    mkdirSync(path.join(site.release(dead), 'public'), { recursive: true });
    fakeLock(site.root, { host: 'build-box-7', pid: 4242, heartbeatAgeS: 120, release: dead });
    const { lines } = await site.run('deploy');
    const warning = lines.find((l) => l.includes('took over the stale lock'));
    assert.ok(warning, lines.join('\n'));
    assert.match(
      warning,
      /\[production\] took over the stale lock of alice@build-box-7 \(pid 4242\) since \S+, 5 min ago: its last heartbeat is 12\d s old \(more than 60 s\)/,
    );
    assert.ok(
      lines.some((l) => l.includes(`removed the incomplete release ${dead} the previous lock holder left`)),
      lines.join('\n'),
    );
    assert.ok(!exists(site.release(dead)));
    assert.ok(exists(site.release(first)), 'the complete release stays');
    assert.notEqual(site.liveId(), first, 'the deploy went on and swapped');
    assert.ok(!exists(path.join(site.root, '.attache-lock')));
  });

  it('a lock held by a process still running on this host is refused, however old its heartbeat', async () => {
    const site = createSite({ target });
    fakeLock(site.root, { host: os.hostname(), pid: process.pid, heartbeatAgeS: 600 });
    const { error } = await site.fail('deploy');
    assert.match(
      error.message,
      new RegExp(
        `another deploy holds the lock: alice@${os.hostname()} \\(pid ${process.pid}\\) .*\\(its process ${process.pid} is running on this host\\)`,
      ),
      error.message,
    );
  });

  it('a running deploy refreshes its heartbeat, and a second deploy meanwhile is refused', async () => {
    const site = createSite({ target, server: { scripts: { build: [], 'after-clone': [`sleep ${Math.ceil(HEARTBEAT_MS / 1000) + 3}`] } } });
    const child = startGulpChild({ cwd: site.cwd, via: 'gulp-cli' });
    children.push(child);
    await child.waitForLine(/after-clone: sleep/);
    const heartbeat = path.join(site.root, '.attache-lock/heartbeat');
    const first = statSync(heartbeat).mtimeMs;
    const { error } = await site.fail('deploy', [], { cwd: secondCheckout(site) }); // from another machine
    assert.match(
      error.message,
      new RegExp(`another deploy holds the lock: .*\\(pid ${child.pid}\\) .*\\(its process ${child.pid} is running on this host\\)`),
      error.message,
    );
    const deadline = Date.now() + HEARTBEAT_MS + 3000;
    while (statSync(heartbeat).mtimeMs === first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.ok(statSync(heartbeat).mtimeMs > first, 'the heartbeat was rewritten while the deploy ran');
    const exit = await child.exited;
    assert.equal(exit.code, 0, child.lines.join('\n'));
    assert.ok(!exists(path.join(site.root, '.attache-lock')));
  });

  it("a second deploy from the same project directory is refused before its build (which would rewrite the first's assets); a killed deploy's is taken over", async () => {
    const site = createSite({ target, server: { scripts: { build: [], 'after-clone': ['sleep 3'] } } });
    const child = startGulpChild({ cwd: site.cwd, via: 'gulp-cli' });
    children.push(child);
    await child.waitForLine(/after-clone: sleep/);
    const { error } = await site.fail('deploy');
    assert.match(
      error.message,
      new RegExp(`step "source".*another deploy from this project directory is running \\(pid ${child.pid}, since `),
      error.message,
    );
    assert.equal((await child.exited).code, 0, child.lines.join('\n'));

    const killed = startGulpChild({ cwd: site.cwd, via: 'gulp-cli' });
    children.push(killed);
    await killed.waitForLine(/after-clone: sleep/);
    killed.signal('SIGKILL');
    await killed.exited;
    assert.ok(exists(path.join(site.cwd, 'node_modules/.cache/gulp-attache/deploy.lock')), 'the killed deploy left its lock');
    const { lines } = await site.run('deploy');
    assert.ok(
      lines.some((line) => /a deploy from this directory that ended without freeing its lock \(pid \d+\): taking it over/.test(line)),
      lines.join('\n'),
    );
    assert.ok(!exists(path.join(site.cwd, 'node_modules/.cache/gulp-attache/deploy.lock')), 'freed at the end');
  });

  it('two deploys racing for one stale lock: exactly one wins, the other is refused and changes nothing', async () => {
    const site = createSite({ target });
    await site.run('deploy');
    const before = site.releases();
    fakeLock(site.root, { host: 'build-box-7', pid: 4242, heartbeatAgeS: 300 });
    const outcomes = await Promise.allSettled([site.run('deploy'), site.run('deploy', [], { cwd: secondCheckout(site) })]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    assert.equal(won.length, 1, JSON.stringify(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason).slice(0, 400) : 'won'))));
    assert.match(String(lost[0].reason), /step "lock".*(another deploy holds the lock|another deploy is taking over the stale lock)/);
    assert.equal(site.releases().length, before.length + 1, 'one new release');
    assert.ok(!exists(path.join(site.root, '.attache-lock')));
  });

  it('eight takers at the lock step on one stale lock at the same moment: exactly one takes it over', async () => {
    const root = path.join(tempDir('attache-race-'), 'root');
    fakeLock(root, { host: 'build-box-7', pid: 4242, heartbeatAgeS: 300 });
    const { log, lines } = captureLogger('normal');
    const sessions: SshSession[] = await Promise.all(
      Array.from({ length: 8 }, (_, i) => openSession({ ...target, name: `taker${i}` }, log)),
    );
    try {
      const runs = sessions.map((session) => fakeRun(root, session, log));
      const outcomes = await Promise.allSettled(runs.map((run) => lock.run!(run, { dryRun: false } as never)));
      const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
      assert.equal(
        winners.length,
        1,
        `${outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message.split('\n')[0] : 'took it')).join('\n')}`,
      );
      assert.equal(lines.filter((l) => l.includes('took over the stale lock')).length, 1);
      const owner = JSON.parse(readFileSync(path.join(root, '.attache-lock/owner'), 'utf8'));
      assert.equal(owner.pid, process.pid, 'the record is the winner’s');
      await releaseLock(runs[winners[0]]);
      assert.ok(!exists(path.join(root, '.attache-lock')));
    } finally {
      await Promise.all(sessions.map((s) => s.close()));
    }
  });

  describe(`a root the deploy user (${DEPLOYER}, not root) cannot write`, () => {
    let site: Site;
    let root: string;

    let user: DeployUser;

    before(() => {
      user = createDeployUser(home, DEPLOYER, '/bin/sh');
      const parent = tempDir('attache-unwritable-');
      chmodSync(parent, 0o755);
      root = path.join(parent, 'root');
      mkdirSync(root, { mode: 0o755 }); // owned by root
      // The lock step's own errors are what these tests read: a first deploy's preflight would stop them first.
      site = createSite({ target: { ...target, user: DEPLOYER } as unknown as TargetSpec, root, server: { skip: ['preflight'] } });
    });
    after(() => user.remove());

    it('the deploy reports mkdir\'s own "Permission denied" with the path, who owns the root and who we are; never "another deploy holds the lock"', async () => {
      const { error } = await site.fail('deploy');
      const lockPath = path.join(root, '.attache-lock');
      assert.ok(
        error.message.includes(
          `server "production", step "lock", remote path ${lockPath}: could not create the lock ${lockPath}: mkdir: cannot create directory '${lockPath}': Permission denied`,
        ),
        error.message,
      );
      assert.ok(
        error.message.includes(
          `${root} is owned by root; this deploy connects as ${DEPLOYER}. Give ${DEPLOYER} write access to ${root} (chown ${DEPLOYER} ${root})`,
        ),
        error.message,
      );
      assert.doesNotMatch(error.message, /another deploy holds the lock/);
      assert.ok(!exists(lockPath));
    });

    it("a root that cannot be created says so with mkdir's own line", async () => {
      const missing = path.join(root, 'sub', 'root');
      const other = createSite({
        target: { ...target, user: DEPLOYER } as unknown as TargetSpec,
        root: missing,
        server: { skip: ['preflight'] },
      });
      const { error } = await other.fail('deploy');
      assert.ok(
        error.message.includes(
          `could not create the root directory ${missing}: mkdir: cannot create directory '${path.join(root, 'sub')}': Permission denied`,
        ),
        error.message,
      );
      assert.match(error.message, new RegExp(`This deploy connects as ${DEPLOYER}\\.`));
    });
  });
});

function fakeRun(root: string, target: SshSession, log: ServerRun['log']): ServerRun {
  const server = {
    name: target.name,
    root,
    paths: { releases: 'releases', serve: 'live', storage: 'storage', env: '.env' },
  } as unknown as ServerConfig;
  return {
    server,
    layout: new Layout(server),
    target,
    log,
    liveBefore: null,
    undo: new UndoLog(),
    running: new Set(),
    timings: {},
    uploaded: { files: 0, bytes: 0 },
    skipped: { files: 0, bytes: 0 },
  };
}
