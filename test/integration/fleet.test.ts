import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFleet, logSince, readStamps, sessionPids, stampHook, stopWithSessions, watchLinks, type Fleet } from '../support/fleet';
import { acceptedLogins, addAlias, createHome, freePort, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';
import { logMark, loginsSince, waitFor } from '../support/streams';

/**
 * The preset across a fleet: three real sshd servers on loopback, each with its own root. Every
 * step runs on all selected servers before the next begins, so phase one (lock … assets) finishes
 * everywhere before `live` swaps them all; a failure anywhere undoes everything everywhere. Also:
 * a server reached only through a jump host (ProxyJump from ~/.ssh/config, or the proxyJump key).
 */

const ID = /^\d{14}(-\d+)?$/;
const ID_LINK = /^releases\/\d{14}(-\d+)?$/;
const NAMES = ['web1', 'web2', 'web3'];

describe('a fleet of three servers', () => {
  let home: TestHome;
  const sshds: Record<string, SshServer> = {};

  before(async () => {
    home = createHome();
    for (const name of NAMES) {
      sshds[name] = await startSshd(home, { name });
      trust(home, sshds[name]);
    }
  });
  after(async () => {
    await Promise.all(Object.values(sshds).map((s) => stopWithSessions(s)));
  });

  const logins = () => Object.fromEntries(NAMES.map((name) => [name, acceptedLogins(sshds[name])]));
  const loginDelta = (before: Record<string, number>) =>
    Object.fromEntries(NAMES.map((name) => [name, acceptedLogins(sshds[name]) - before[name]]));
  const once = Object.fromEntries(NAMES.map((name) => [name, 1]));

  describe('selecting every server', () => {
    let fleet: Fleet;
    const ids: string[] = [];

    before(() => {
      fleet = createFleet({ servers: sshds });
    });

    for (const selection of ['all', 'web', 'web1,web2,web3']) {
      it(`--server=${selection} deploys all three to the same release id, with one SSH login per server`, async () => {
        const before = logins();
        const { lines } = await fleet.run('deploy', [`--server=${selection}`]);
        const id = fleet.liveId('web1');
        assert.ok(id, `web1 has a live link:\n${lines.join('\n')}`);
        assert.match(id, ID);
        assert.ok(!ids.includes(id), `a new release id (${id}), not one of ${ids.join(', ')}`);
        ids.push(id);
        for (const name of NAMES) {
          assert.equal(fleet.live(name), `releases/${id}`, `${name}'s live points to the one release id`);
          assert.deepEqual(fleet.releases(name), ids, `${name} has exactly the releases deployed so far`);
          const marker = JSON.parse(readFileSync(path.join(fleet.roots[name], 'releases', id, '.attache-release.json'), 'utf8'));
          assert.equal(marker.status, 'ready');
          assert.equal(marker.commit, fleet.repo.head);
          assert.ok(!fleet.locked(name), `${name}'s lock is released`);
        }
        assert.deepEqual(loginDelta(before), once, 'one SSH login per server for the whole deploy');
        const summary = lines.find((line) => line.startsWith('deploy summary'));
        assert.ok(summary, lines.join('\n'));
        assert.match(summary, new RegExp(`^deploy summary \\([\\d.]+ s\\): deployed ${id}\\n`), summary);
        for (const name of NAMES) assert.match(summary, new RegExp(`\\n\\s+${name}\\s+deployed\\s.*releases/${id}\\n`), summary);
      });
    }

    it("releases --server=all shows every server's table, with the live release marked", async () => {
      const { lines } = await fleet.run('releases', ['--server=all']);
      for (const name of NAMES) {
        const table = lines.find((line) => line.startsWith(`releases on ${name} `));
        assert.ok(table, `a table for ${name}:\n${lines.join('\n')}`);
        const rows = table.split('\n').slice(2);
        assert.equal(rows.length, 3, table);
        ids.forEach((id, i) => assert.match(rows[i], new RegExp(`^\\s+${i === 2 ? '\\*' : ''}\\s+${id}\\s+ready\\s`), table));
      }
    });

    it('rollback --server=all points every live link at the previous release, one login per server', async () => {
      const before = logins();
      await fleet.run('rollback', ['--server=all']);
      for (const name of NAMES) {
        assert.equal(fleet.live(name), `releases/${ids[1]}`, name);
        assert.deepEqual(fleet.releases(name), ids, `${name}: rollback removes nothing`);
        assert.ok(!fleet.locked(name), `${name}'s lock is released`);
      }
      assert.deepEqual(loginDelta(before), once);
    });

    it('unlock --server=all frees the lock on every server that holds one', async () => {
      const owner = JSON.stringify({ by: 'alice', host: 'killed-box', pid: 4242, since: new Date().toISOString() }) + '\n';
      for (const name of ['web1', 'web3']) {
        mkdirSync(path.join(fleet.roots[name], '.attache-lock'));
        writeFileSync(path.join(fleet.roots[name], '.attache-lock', 'owner'), owner);
      }
      const { error } = await fleet.fail('deploy', ['--server=all']);
      assert.match(error.message, /^step "lock": 2 servers failed:$/m);
      for (const name of ['web1', 'web3']) {
        assert.match(
          error.message,
          new RegExp(
            `^server "${name}", step "lock", remote path \\S+/${name}/root/\\.attache-lock: another deploy holds the lock: alice@killed-box \\(pid 4242\\)`,
            'm',
          ),
        );
        assert.match(error.message, new RegExp(`free the lock with: gulp unlock --server=${name}$`, 'm'));
      }
      assert.doesNotMatch(error.message, /server "web2"/);
      for (const name of NAMES) assert.deepEqual(fleet.releases(name), ids, `${name}: the refused deploy left no release`);
      assert.ok(!fleet.locked('web2'), 'the refused deploy released the lock it took on web2');
      assert.ok(fleet.locked('web1') && fleet.locked('web3'), "the other deploy's locks are left alone");

      const { lines } = await fleet.run('unlock', ['--server=all']);
      for (const name of NAMES) assert.ok(!fleet.locked(name), `${name} is unlocked`);
      for (const name of ['web1', 'web3']) {
        assert.ok(
          lines.some((line) => line.includes(`[${name}] lock freed (it was held by`) && line.includes('alice')),
          lines.join('\n'),
        );
      }
      assert.ok(
        lines.some((line) => line.includes('[web2] lock freed (it was not held)')),
        lines.join('\n'),
      );
    });
  });

  describe('per-server settings, and the moment of the swap', () => {
    let fleet: Fleet;

    before(() => {
      fleet = createFleet({ servers: sshds });
    });

    it('migrate: true on web1 only runs migrate --force on web1 only', async () => {
      fleet.configure({ web1: { migrate: true } });
      await fleet.run('deploy', ['--server=all']);
      const log = (name: string) => readFileSync(path.join(fleet.roots[name], 'storage/logs/artisan.log'), 'utf8');
      assert.equal(log('web1'), 'storage:link\nmigrate --force\n');
      assert.equal(log('web2'), 'storage:link\n');
      assert.equal(log('web3'), 'storage:link\n');
    });

    it('live changes on every server only after phase one has finished on all of them, and at nearly the same moment', async (t) => {
      const previous = fleet.liveId('web1')!;
      // web2's composer step ends two seconds late: a server that did not wait for the others would swap meanwhile.
      const stamps = path.join(fleet.scratch, 'stamps');
      writeFileSync(stamps, '');
      const hooks = (name: string) => ({
        build: [],
        'after-composer':
          name === 'web2'
            ? [stampHook(stamps, 'web2-sleeping'), stampHook(stamps, 'web2-composer', 2)]
            : [stampHook(stamps, `${name}-composer`)],
        'after-deploy': [stampHook(stamps, `${name}-artisan`)],
      });
      fleet.configure(Object.fromEntries(NAMES.map((name) => [name, { scripts: hooks(name) }])));
      const lives = NAMES.map((name) => path.join(fleet.roots[name], 'live'));
      const watcher = await watchLinks(lives, path.join(fleet.scratch, 'stop-watcher'));
      let changes: Awaited<ReturnType<typeof watcher.stop>>;
      try {
        await fleet.run('deploy', ['--server=all']);
      } finally {
        changes = await watcher.stop();
      }
      const id = fleet.liveId('web1')!;
      assert.notEqual(id, previous);

      const swapped: Record<string, number> = {};
      NAMES.forEach((name, i) => {
        assert.deepEqual(
          changes[lives[i]].map((c) => c.value),
          [`releases/${id}`],
          `${name}'s live changed once, straight to the new release`,
        );
        swapped[name] = changes[lives[i]][0].at;
      });
      const at = readStamps(stamps);
      assert.ok(at['web2-composer'] - at['web2-sleeping'] >= 1900, "web2's hook slept");
      const phaseOneDone = Math.max(...NAMES.flatMap((name) => [at[`${name}-composer`], at[`${name}-artisan`]]));
      const firstSwap = Math.min(...Object.values(swapped));
      const spread = Math.max(...Object.values(swapped)) - firstSwap;
      t.diagnostic(
        `web2's composer ended ${(at['web2-composer'] - Math.max(at['web1-composer'], at['web3-composer'])).toFixed(0)} ms after the others'; ` +
          `first swap ${(firstSwap - at['web2-composer']).toFixed(1)} ms after it, ${(firstSwap - phaseOneDone).toFixed(1)} ms after phase one ended everywhere; ` +
          `swap spread ${spread.toFixed(1)} ms (${NAMES.map((n) => `${n} +${(swapped[n] - firstSwap).toFixed(1)}`).join(', ')})`,
      );
      for (const name of NAMES) {
        assert.ok(
          swapped[name] > at['web2-composer'],
          `${name}'s live changed ${(swapped[name] - at['web2-composer']).toFixed(1)} ms after web2's composer ended (must be after)`,
        );
        assert.ok(swapped[name] > phaseOneDone, `${name}'s live changed after phase one ended on every server`);
      }
      assert.ok(spread < 500, `the three swaps happen together (spread ${spread.toFixed(1)} ms)`);
    });
  });

  describe('failures on one server', () => {
    let fleet: Fleet;
    let baseline: ReturnType<Fleet['state']>;
    let previous: string;

    before(async () => {
      fleet = createFleet({ servers: sshds });
      await fleet.run('deploy', ['--server=all']);
      baseline = fleet.state();
      previous = fleet.liveId('web1')!;
      for (const name of NAMES) assert.deepEqual(baseline[name], { live: `releases/${previous}`, releases: [previous], locked: false });
    });

    it('composer failing on one server leaves all three untouched: live unchanged, no new release, every lock released; the error names the server', async () => {
      fleet.configure({ web2: { composer: { bin: 'false' } } });
      const { error, lines } = await fleet.fail('deploy', ['--server=all']);
      assert.match(error.message, /^server "web2", step "composer": command exited with code 1$/m);
      assert.match(error.message, /\n {2}command: .*false install --no-interaction/);
      assert.doesNotMatch(error.message, /web1|web3/, 'only the failing server is named');
      assert.deepEqual(fleet.state(), baseline, 'live, the releases and the locks are as before on every server');

      const summary = lines.find((line) => line.startsWith('deploy summary'));
      assert.ok(summary, lines.join('\n'));
      assert.match(summary, /\n\s+web1\s+untouched\s/, summary);
      assert.match(summary, /\n\s+web2\s+failed\s/, summary);
      assert.match(summary, /\n\s+web3\s+untouched\s/, summary);
    });

    it('a swap refused on one server rolls the other two back to their previous release; the error says which server and why', async () => {
      // Between the phases, web3's live becomes a real directory: its swap must refuse it.
      fleet.configure({ web3: { scripts: { build: [], 'before-live': ['rm -f live && mkdir live'] } } });
      const lives = NAMES.map((name) => path.join(fleet.roots[name], 'live'));
      const watcher = await watchLinks(lives, path.join(fleet.scratch, 'stop-watcher'));
      let result: Awaited<ReturnType<Fleet['fail']>>;
      let changes: Awaited<ReturnType<typeof watcher.stop>>;
      try {
        result = await fleet.fail('deploy', ['--server=all']);
      } finally {
        changes = await watcher.stop();
      }
      const { error, lines } = result;
      assert.match(error.message, /server "web3"/);
      assert.match(error.message, /live is a real directory, not a symlink; refusing to replace it/);
      assert.doesNotMatch(error.message, /web1|web2/, 'only the failing server is named');

      for (const name of ['web1', 'web2'])
        assert.deepEqual(
          fleet.state()[name],
          baseline[name],
          `${name}: live points to the previous release again, the new release is gone, unlocked`,
        );
      // web1 and web2 were swapped to the new release, then back; web3's link was replaced by the hook's directory.
      const seen = NAMES.map((_, i) => changes[lives[i]].map((c) => c.value));
      assert.equal(seen[0].length, 2, `web1: ${seen[0].join(' -> ')}`);
      assert.match(seen[0][0], ID_LINK);
      assert.notEqual(seen[0][0], `releases/${previous}`);
      assert.deepEqual(seen[0], [seen[0][0], `releases/${previous}`], 'web1 went to the new release and back');
      assert.deepEqual(seen[1], seen[0], 'web2 too');
      // The hook's rm + mkdir leaves the link missing for a moment a poller may or may not catch; what
      // matters is that web3 ended as the hook's directory and never pointed at the new release.
      assert.equal(seen[2].at(-1), '(directory)', `web3: ${seen[2].join(' -> ')}`);
      assert.ok(
        seen[2].every((value) => value === '(missing)' || value === '(directory)'),
        `web3 was never swapped: ${seen[2].join(' -> ')}`,
      );
      assert.ok(lstatSync(lives[2]).isDirectory());
      assert.deepEqual(fleet.releases('web3'), [previous], 'web3: the new release is gone');
      assert.ok(!fleet.locked('web3'));

      const summary = lines.find((line) => line.startsWith('deploy summary'));
      assert.ok(summary, lines.join('\n'));
      assert.match(summary, /\n\s+web1\s+rolled back\s/, summary);
      assert.match(summary, /\n\s+web2\s+rolled back\s/, summary);
      assert.match(summary, /\n\s+web3\s+failed\s/, summary);
    });

    it("nothing was left behind: once web3's directory is moved away, the next deploy goes through everywhere", async () => {
      renameSync(path.join(fleet.roots.web3, 'live'), path.join(fleet.roots.web3, 'live.old'));
      fleet.configure();
      await fleet.run('deploy', ['--server=all']);
      const id = fleet.liveId('web1')!;
      assert.notEqual(id, previous);
      for (const name of NAMES)
        assert.deepEqual(fleet.state()[name], { live: `releases/${id}`, releases: [previous, id], locked: false }, name);
    });
  });

  describe('an unreachable server', () => {
    it('fails the deploy before anything changes, naming it; the connections to the others are closed', async () => {
      const fleet = createFleet({ servers: sshds });
      fleet.configure({ web2: { port: await freePort() } });
      const marks = Object.fromEntries(NAMES.map((name) => [name, logMark(sshds[name].logFile)]));
      const { error } = await fleet.fail('deploy', ['--server=all']);
      assert.match(error.message, /server "web2"/);
      assert.match(error.message, /connection refused/);
      for (const name of NAMES) assert.deepEqual(fleet.state()[name], { live: null, releases: [], locked: false }, name);
      for (const name of ['web1', 'web3']) {
        const logins = () => loginsSince(sshds[name].logFile, marks[name]);
        // The connect step opens every server's connection at once: web1's and web3's succeed.
        await waitFor(() => logins().length === 1, `the deploy's login to ${name} is logged`, 5000);
        await waitFor(
          () => logins()[0].disconnected,
          `the failed deploy closed its connection to ${name} (still open: sshd sessions ${sessionPids(sshds[name]).join(', ')})`,
          3000,
        );
      }
    });
  });
});

describe('a server behind a jump host', () => {
  let home: TestHome;
  let jump: SshServer;
  let target: SshServer;

  before(async () => {
    home = createHome();
    // DEBUG1 (in a Match block: sshd keeps the first LogLevel, startSshd's VERBOSE, outside one): the jump
    // host then logs each direct-tcpip channel it opens, with its destination.
    jump = await startSshd(home, { name: 'jump', config: ['Match All', '  LogLevel DEBUG1'] });
    target = await startSshd(home, { name: 'app' });
    trust(home, jump);
    trust(home, target);
    addAlias(home, 'bastion', { HostName: '127.0.0.1', Port: jump.port, User: 'root' });
    addAlias(home, 'app-behind', { HostName: '127.0.0.1', Port: target.port, User: 'root', ProxyJump: 'bastion' });
  });
  after(async () => {
    await Promise.all([stopWithSessions(jump), stopWithSessions(target)]);
  });

  /** Deploys; returns what each sshd logged meanwhile. */
  async function deployThroughJump(fleet: Fleet) {
    const marks = { jump: logMark(jump.logFile), target: logMark(target.logFile) };
    const logins = { jump: acceptedLogins(jump), target: acceptedLogins(target) };
    await fleet.run('deploy', ['--server=app']);
    return {
      jumpLog: logSince(jump.logFile, marks.jump),
      targetLog: logSince(target.logFile, marks.target),
      logins: { jump: acceptedLogins(jump) - logins.jump, target: acceptedLogins(target) - logins.target },
    };
  }

  function assertForwarded(seen: Awaited<ReturnType<typeof deployThroughJump>>) {
    assert.deepEqual(seen.logins, { jump: 1, target: 1 }, 'one login on the jump host, one on the server');
    const forwards = [...seen.jumpLog.matchAll(/server_request_direct_tcpip: originator \S+ port \d+, target (\S+) port (\d+)/g)];
    assert.equal(forwards.length, 1, `the jump host opened one direct-tcpip channel:\n${seen.jumpLog}`);
    assert.deepEqual([forwards[0][1], Number(forwards[0][2])], ['127.0.0.1', target.port], 'to the server');
    assert.match(seen.targetLog, new RegExp(`Connection from 127\\.0\\.0\\.1 port \\d+ on 127\\.0\\.0\\.1 port ${target.port}`));
  }

  it('deploys to a server whose ~/.ssh/config entry has ProxyJump, through the jump host', async () => {
    const fleet = createFleet({ servers: { app: target } });
    fleet.configure({ app: { host: 'app-behind', port: undefined, user: undefined } });
    const seen = await deployThroughJump(fleet);
    assert.match(fleet.liveId('app') ?? '', ID);
    assert.ok(!fleet.locked('app'));
    assertForwarded(seen);
  });

  it('deploys with the proxyJump key of .attache.json (no ssh config), and fails naming the server when the jump host is down', async () => {
    const fleet = createFleet({ servers: { app: target } });
    fleet.configure({ app: { proxyJump: `root@127.0.0.1:${jump.port}` } });
    writeFileSync(home.config, ''); // no aliases: the key alone leads the way
    const seen = await deployThroughJump(fleet);
    const first = fleet.liveId('app');
    assert.match(first ?? '', ID);
    assertForwarded(seen);

    // The server itself is up, but without the jump host it is out of reach: the jump is really used.
    await jump.stop();
    const { error } = await fleet.fail('deploy', ['--server=app']);
    assert.match(error.message, new RegExp(`connection refused by 127\\.0\\.0\\.1:${jump.port}`));
    assert.match(error.message, /server "app"/, 'the error names the server being deployed, not only the jump host');
    assert.equal(fleet.liveId('app'), first);
  });
});
