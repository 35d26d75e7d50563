import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFleet, type Fleet, stopWithSessions } from '../support/fleet';
import { startGulpChild } from '../support/gulp-child';
import { createHome, type SshServer, startSshd, type TestHome, trust } from '../../support/sshd';

/**
 * Fleet rollouts through the gulp CLI, against four real sshd servers, each with a small HTTP
 * responder for its health check that answers with the release its `live` points to. A log of
 * events (drain, swap, health, undrain) per server, from the hooks and the responders, shows the
 * order; the servers' links show where each one ends.
 */
const NAMES = ['web1', 'web2', 'web3', 'web4'];

describe('a rollout across four servers', () => {
  let home: TestHome;
  const sshds: Record<string, SshServer> = {};
  const responders: http.Server[] = [];
  const ports: Record<string, number> = {};
  /** Servers whose responder answers 500. */
  const broken = new Set<string>();
  let fleet: Fleet;
  let events: string;

  before(async () => {
    home = createHome();
    for (const name of NAMES) {
      sshds[name] = await startSshd(home, { name });
      trust(home, sshds[name]);
    }
    fleet = createFleet({ servers: sshds });
    events = path.join(fleet.scratch, 'events');
    for (const name of NAMES) {
      const server = http.createServer((_request, response) => {
        let release = '(none)';
        try {
          release = path.basename(readlinkSync(path.join(fleet.roots[name], 'live')));
        } catch {}
        appendFileSync(events, `health ${name} ${Date.now() / 1000}\n`);
        response.writeHead(broken.has(name) ? 500 : 200, { 'content-type': 'text/plain' });
        response.end(`release: ${release}\n`);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      ports[name] = (server.address() as { port: number }).port;
      responders.push(server);
    }
  });
  after(async () => {
    for (const server of responders) server.close();
    await Promise.all(Object.values(sshds).map((s) => stopWithSessions(s)));
  });

  const stamp = (event: string) => `echo "${event} @server $(date +%s.%N)" >> ${events}`;

  /** Every server's config: the hooks that log drain, swap and undrain; the health check at its responder. */
  function configure(rollout: Record<string, unknown> | undefined, beforeLive: Record<string, string> = {}): void {
    writeFileSync(events, '');
    fleet.configure(
      Object.fromEntries(
        NAMES.map((name) => [
          name,
          {
            ...(rollout && { rollout }),
            healthcheck: { url: `http://127.0.0.1:${ports[name]}/`, contains: 'release: @release', retries: 1 },
            scripts: {
              build: [],
              drain: [stamp('drain')],
              'before-live': [beforeLive[name] ?? 'true', stamp('ready')],
              'after-live': [stamp('swap')],
              undrain: [stamp('undrain')],
            },
          },
        ]),
      ),
    );
  }

  /** The events as [what, server, seconds], in the order they happened. */
  function readEvents(): Array<{ what: string; server: string; at: number }> {
    return readFileSync(events, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [what, server, at] = line.split(' ');
        return { what, server, at: Number(at) };
      })
      .sort((a, b) => a.at - b.at);
  }

  async function deploy(flags: string[] = []) {
    const reportFile = path.join(fleet.scratch, `report-${Date.now()}.json`);
    const child = startGulpChild({ cwd: fleet.cwd, flags: ['--server=all', `--report=${reportFile}`, ...flags] });
    const exited = await child.exited;
    const log = child.lines.join('\n');
    const report = existsSync(reportFile) ? JSON.parse(readFileSync(reportFile, 'utf8')) : undefined;
    return { code: exited.code, log, report, child };
  }

  const lives = () => Object.fromEntries(NAMES.map((name) => [name, fleet.liveId(name)]));

  it('batches [1, "100%"]: the canary is swapped and checked before any other server is drained; drain → swap → health → undrain per server', async () => {
    configure({ batches: [1, '100%'] });
    const { code, log } = await deploy();
    assert.equal(code, 0, log);
    const id = fleet.liveId('web1');
    for (const name of NAMES) assert.equal(fleet.liveId(name), id, log);
    const seen = readEvents();
    const first = (what: string, server: string) => seen.findIndex((e) => e.what === what && e.server === server);
    const canaryDone = first('undrain', 'web1');
    for (const name of NAMES.slice(1))
      assert.ok(first('drain', name) > canaryDone, `${name} is drained after the canary is back:\n${JSON.stringify(seen)}`);
    for (const name of NAMES) {
      const order = ['drain', 'swap', 'health', 'undrain'].map((what) => first(what, name));
      assert.ok(
        order.every((at) => at >= 0) && order.every((at, i) => i === 0 || at > order[i - 1]),
        `${name}: ${JSON.stringify(seen.filter((e) => e.server === name))}`,
      );
    }
    assert.match(log, /rollout in 2 batches: web1 → web2, web3, web4/);
  });

  it('a health check failing on the third server, maxFailures 0: every switched server is back, the fourth untouched, the report says so', async () => {
    const before = lives();
    configure({ batches: [1, '25%'] });
    broken.add('web3');
    try {
      const { code, log, report } = await deploy();
      assert.notEqual(code, 0, log);
      assert.deepEqual(lives(), before, log);
      const seen = readEvents();
      assert.ok(!seen.some((e) => e.server === 'web4'), `web4 was never touched: ${JSON.stringify(seen)}`);
      assert.match(log, /the rollout stopped: 1 of 4 servers failed \(0 allowed\): web3: .*health check failed/);
      assert.match(log, /Swapped back to their previous release, newest first: web3, web2, web1/);
      const result = Object.fromEntries(report.servers.map((s: { server: string; result: string }) => [s.server, s.result]));
      assert.deepEqual(result, { web1: 'rolled back', web2: 'rolled back', web3: 'failed', web4: 'untouched' }, log);
      assert.equal(report.result, 'failed');
      assert.deepEqual(report.rollout, { batches: [['web1'], ['web2'], ['web3'], ['web4']], maxFailures: 0 });
      for (const s of report.servers) assert.equal(s.liveAfter, s.liveBefore, s.server);
    } finally {
      broken.clear();
    }
  });

  it('the same with maxFailures 1: the rollout completes; three servers on the new release, the third on the old, named in the summary', async () => {
    const before = lives();
    configure({ batches: [1, '25%'], maxFailures: 1 });
    broken.add('web3');
    try {
      const { code, log, report } = await deploy();
      assert.equal(code, 0, log);
      const id = report.releaseId;
      assert.deepEqual(lives(), { web1: id, web2: id, web3: before.web3, web4: id }, log);
      assert.match(log, /left on the previous release: web3 \(.*health check failed/);
      const web3 = report.servers.find((s: { server: string }) => s.server === 'web3');
      assert.equal(web3.result, 'rolled back');
      assert.match(web3.error, /health check failed/);
    } finally {
      broken.clear();
    }
  });

  it('SIGKILL between batches: each server on the old or the new release; releases says the fleet is split; the next deploy converges it', async () => {
    configure({ batches: ['100%'] });
    assert.equal((await deploy()).code, 0, 'the fleet starts on one release');
    configure({ batches: [1, '25%'], pause: 30 });
    const before = lives();
    const child = startGulpChild({ cwd: fleet.cwd, flags: ['--server=all'] });
    await child.waitForLine(/rollout: pausing 30 s/, 60_000);
    child.signal('SIGKILL');
    await child.exited;
    const after = lives();
    const fresh = after.web1;
    assert.notEqual(fresh, before.web1, 'the canary was switched');
    for (const name of NAMES.slice(1)) assert.equal(after[name], before[name], `${name} stayed`);

    const listing = startGulpChild({ cwd: fleet.cwd, task: 'releases', flags: ['--server=all'] });
    await listing.exited;
    const listed = listing.lines.join('\n');
    assert.match(listed, new RegExp(`the fleet is split: web1 on ${fresh}; web2, web3, web4 on ${before.web2}`), listed);

    configure({ batches: [2, '100%'] });
    const { code, log } = await deploy();
    assert.equal(code, 0, log);
    assert.match(log, /the fleet is split: .*this deploy puts every server on one release/);
    const id = fleet.liveId('web1');
    for (const name of NAMES) assert.equal(fleet.liveId(name), id, log);
  });

  it('without a rollout the fleet swaps together: every before-live first (one slow), then the swaps in one burst; a failing before-live swaps none', async () => {
    configure(undefined, { web2: 'sleep 2' });
    const { code, log } = await deploy();
    assert.equal(code, 0, log);
    const seen = readEvents();
    const ready = Math.max(...seen.filter((e) => e.what === 'ready').map((e) => e.at));
    const swaps = seen.filter((e) => e.what === 'swap').map((e) => e.at);
    assert.equal(swaps.length, 4);
    assert.ok(Math.min(...swaps) >= ready, `no server swapped before web2's before-live ended: ${JSON.stringify(seen)}`);
    assert.ok(Math.max(...swaps) - Math.min(...swaps) < 1.5, `the swaps came together: ${JSON.stringify(seen)}`);

    const before = lives();
    configure(undefined, { web3: 'echo "not ready" >&2; exit 1' });
    const failed = await deploy();
    assert.notEqual(failed.code, 0);
    assert.match(failed.log, /before-live/);
    assert.deepEqual(lives(), before, failed.log);
    assert.ok(!readEvents().some((e) => e.what === 'swap'), 'no server swapped');
  });

  it('pause is honoured between the batches, and Ctrl-C during the pause swaps back', async () => {
    configure({ batches: [1, '100%'], pause: 2 });
    const { code, log } = await deploy();
    assert.equal(code, 0, log);
    const swaps = readEvents().filter((e) => e.what === 'swap');
    const canary = swaps.find((e) => e.server === 'web1')!.at;
    const rest = Math.min(...swaps.filter((e) => e.server !== 'web1').map((e) => e.at));
    assert.ok(rest - canary >= 2, `the second batch swapped ${(rest - canary).toFixed(2)} s after the canary`);

    const before = lives();
    configure({ batches: [1, '100%'], pause: 30 });
    const child = startGulpChild({ cwd: fleet.cwd, flags: ['--server=all'] });
    await child.waitForLine(/rollout: pausing 30 s/, 60_000);
    assert.notEqual(fleet.liveId('web1'), before.web1, 'the canary is on the new release during the pause');
    child.signal('SIGINT');
    const exited = await child.exited;
    const log2 = child.lines.join('\n');
    assert.notEqual(exited.code, 0);
    assert.deepEqual(lives(), before, log2);
    assert.match(log2, /the rollout was interrupted: swapped back to their previous release, newest first: web1/);
  });
});
