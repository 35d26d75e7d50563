import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type UplinkRun,
  type UplinkResult,
  uplinkServerEntries,
  uplinkSummary,
  uplinkVariants,
} from '../../bench/measurements/shared-uplink';
import { uplinkTargets } from '../../bench/targets';

/** The fleet behind one shared uplink: its servers' entries, with and without peerAddress, and the targets it feeds. */
describe('bench: the shared uplink measurement', () => {
  const servers = [
    { name: 'up01', sshdPort: 2201, uplinkPort: 4401, root: '/r/up01' },
    { name: 'up02', sshdPort: 2202, uplinkPort: 4402, root: '/r/up02' },
  ];

  it('reaches every server through its listener on the uplink; peerAddress only when asked, the sshd itself', () => {
    assert.deepEqual(uplinkServerEntries(servers, false), [
      { name: 'up01', port: 4401, root: '/r/up01' },
      { name: 'up02', port: 4402, root: '/r/up02' },
    ]);
    assert.deepEqual(
      uplinkServerEntries(servers, true).map((s) => [s.port, s.extra]),
      [
        [4401, { peerAddress: '127.0.0.1:2201' }],
        [4402, { peerAddress: '127.0.0.1:2202' }],
      ],
    );
  });

  it('runs the fan-out rows only when asked', () => {
    assert.deepEqual(
      uplinkVariants(8, false).map((v) => `${v.strategy} ${v.servers} ${v.peers}`),
      ['clone 1 false', 'clone 8 false', 'artifact 1 false', 'artifact 8 false'],
    );
    assert.equal(uplinkVariants(8, true).filter((v) => v.peers).length, 2);
  });

  const run = (strategy: 'clone' | 'artifact', servers: number, peers: boolean, seconds: number, uplinkBytes: number): UplinkRun => ({
    strategy,
    servers,
    peers,
    seconds,
    uplinkBytes,
    uplinkPerServer: [],
    downlinkBytes: 0,
    sentBytes: servers === 1 ? 33e6 : servers * 33e6,
    sentPerServer: [],
    connections: servers,
    loginsPerServer: [],
  });
  const result = (fanout: boolean, runs: UplinkRun[]): UplinkResult => ({
    servers: 8,
    reps: 1,
    shape: { delayMs: 25, upMbit: 20, downMbit: 100 },
    fanout,
    runs,
    gaveUp: [],
    failures: [],
    attempts: {},
  });
  const today = [run('clone', 1, false, 14, 34e6), run('clone', 8, false, 110, 270e6), run('artifact', 1, false, 16, 34e6)];

  it('without the fan-out rows the targets are n/a, and quote the direct deploy as the baseline', () => {
    const targets = uplinkTargets({ uplink: uplinkSummary(result(false, today)), skipped: {} });
    assert.equal(targets.length, 4);
    assert.ok(targets.every((t) => t.met === null));
    assert.match(
      targets[0].measured,
      /^n\/a \(fan-out not measured; today, each server sent its own copy: 7\.86× \(110\.00 s vs 14\.00 s\)\)$/,
    );
    assert.match(targets[1].measured, /8\.18× \(270\.0 MB vs 33\.0 MB\)/);
    // The artifact strategy's 8 servers did not run: no baseline to quote.
    assert.equal(targets[2].measured, 'n/a (fan-out not measured)');
  });

  it('with them, MET or NOT MET from the fan-out rows against one server and one release', () => {
    const runs = [...today, run('clone', 8, true, 18, 36e6), run('artifact', 8, false, 120, 271e6), run('artifact', 8, true, 30, 50e6)];
    const targets = uplinkTargets({ uplink: uplinkSummary(result(true, runs)), skipped: {} });
    assert.deepEqual(
      targets.map((t) => t.met),
      [true, true, false, false],
    );
    assert.match(targets[0].measured, /^1\.29× \(18\.00 s vs 14\.00 s\); today/);
  });

  it('left out: skipped, with the reason', () => {
    const targets = uplinkTargets({ skipped: { uplink: 'BENCH_UPLINK=0' } });
    assert.ok(targets.every((t) => t.measured === 'skipped (BENCH_UPLINK=0)' && t.met === null));
  });
});
