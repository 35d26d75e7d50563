/**
 * The targets, each MET / NOT MET with what was measured, or n/a with the reason: the loopback ones
 * from the direct loopback table and the measurements, and the WAN ones from the two relayed tables.
 */
import { CASE } from './cases/names';
import type { Observations } from './cases/gulp-attache';
import { stepSeconds, timed, type MainResult } from './measurements/common';
import type { MeasuredValues } from './measurements/index';
import { mb, median, type Target } from './report';
import type { BenchFixture } from './types';

/** One case on the WAN links: medians at 0 ms and at the delay, and the round trips between them. */
export interface WanRow {
  name: string;
  at0?: number;
  atDelay?: number;
  roundTrips?: number;
  /** Why a median is missing (the case failed, or WAN mode was off). */
  missing?: string;
}

function medianOf(results: MainResult[], name: string): number | undefined {
  const r = results.find((x) => x.name === name);
  return r && !r.error && r.seconds.length ? median(r.seconds) : undefined;
}

function ratioTarget(goal: string, a: number | undefined, b: number | undefined, max: number, what: string): Target {
  return a === undefined || b === undefined
    ? { goal, measured: what.startsWith('skipped') ? what : `n/a (${what})`, met: null }
    : { goal, measured: `${(a / b).toFixed(2)}× (${a.toFixed(2)} s vs ${b.toFixed(2)} s)`, met: a / b <= max };
}

/** Why a target has no value because of BENCH_CASES: "skipped (not in BENCH_CASES: <cases>)", else undefined. */
function skippedCases(names: string[], skipped: (name: string) => string | undefined): string | undefined {
  const out = names.filter((n) => skipped(n));
  return out.length ? `skipped (not in BENCH_CASES: ${out.join(', ')})` : undefined;
}

export function wanTargets(
  rows: WanRow[],
  delayMs: number,
  off?: string,
  skipped: (name: string) => string | undefined = () => undefined,
): Target[] {
  const at = `at ${delayMs} ms`;
  const row = (name: string) => rows.find((r) => r.name === name);
  const why = (...names: string[]) =>
    off ??
    skippedCases(names, skipped) ??
    names
      .map((n) => (row(n)?.atDelay === undefined ? `${n}: ${row(n)?.missing ?? 'no runs'}` : ''))
      .filter(Boolean)
      .join('; ');
  const t = (name: string) => row(name)?.atDelay;
  const unchanged = row(CASE.unchanged);
  return [
    ratioTarget(`${at}: first deploy ≤ 1.3× the rsync -a floor`, t(CASE.full), t(CASE.rsyncFloor), 1.3, why(CASE.full, CASE.rsyncFloor)),
    ratioTarget(`${at}: first deploy ≤ 0.6× shipit-deploy`, t(CASE.full), t(CASE.shipit), 0.6, why(CASE.full, CASE.shipit)),
    ratioTarget(`${at}: one-asset redeploy ≤ 0.25× shipit-deploy`, t(CASE.oneAsset), t(CASE.shipit), 0.25, why(CASE.oneAsset, CASE.shipit)),
    unchanged?.roundTrips !== undefined
      ? {
          goal: `${at}: nothing-changed redeploy ≤ 20 sequential round trips (handshake included)`,
          measured: `${unchanged.roundTrips.toFixed(1)} round trips (${unchanged.atDelay!.toFixed(2)} s − ${unchanged.at0!.toFixed(2)} s at 0 ms, over ${((2 * delayMs) / 1000).toFixed(3)} s)`,
          met: unchanged.roundTrips <= 20,
        }
      : {
          goal: `${at}: nothing-changed redeploy ≤ 20 sequential round trips (handshake included)`,
          measured: off ?? skippedCases([CASE.unchanged], skipped) ?? `n/a (${unchanged?.missing ?? 'no runs'})`,
          met: null,
        },
  ];
}

export function loopbackTargets(input: {
  results: MainResult[];
  observations: Observations;
  runs: number;
  fixture: BenchFixture;
  values: MeasuredValues;
  /** BENCH_CASES: why a case did not run, or undefined (bench/case-filter.ts). */
  skipped?: (name: string) => string | undefined;
}): Target[] {
  const { results, observations, runs, fixture, values } = input;
  const caseSkipped = input.skipped ?? (() => undefined);
  const med = (name: string) => medianOf(results, name);
  const reason = (...names: string[]) => skippedCases(names, caseSkipped) ?? 'a median is missing';
  /** n/a for a target whose cases ran but gave nothing; "skipped (…)" for one whose cases were left out. */
  const none = (what: string, ...names: string[]) => skippedCases(names, caseSkipped) ?? `n/a (${what})`;
  const full = med(CASE.full);
  const targets: Target[] = [
    ratioTarget('loopback: full deploy ≤ 0.5× attache method', full, med(CASE.attache), 0.5, reason(CASE.full, CASE.attache)),
    ratioTarget('loopback: full deploy ≤ 0.3× shipit-deploy', full, med(CASE.shipit), 0.3, reason(CASE.full, CASE.shipit)),
    ratioTarget('loopback: upload step alone ≤ 1.0× scp -r', med(CASE.upload), med(CASE.scpFloor), 1.0, reason(CASE.upload, CASE.scpFloor)),
  ];
  const oneRuns = timed(observations.oneAsset, runs);
  const oneBytes = median(oneRuns.map((o) => o.report.servers[0].sent.bytes));
  const sendGoal = "loopback: one-asset redeploy sends < 1% of the full upload's bytes";
  targets.push(
    oneRuns.length
      ? {
          goal: sendGoal,
          measured: `${((oneBytes / fixture.assetBytes) * 100).toFixed(3)}% (${(oneBytes / 1024).toFixed(1)} KiB of ${mb(fixture.assetBytes, 1)} MB)`,
          met: oneBytes / fixture.assetBytes < 0.01,
        }
      : { goal: sendGoal, measured: none('no runs', CASE.oneAsset), met: null },
  );
  const oneAssets = median(oneRuns.map((o) => stepSeconds(o, 'assets')));
  const fullAssets = median(timed(observations.full, runs).map((o) => stepSeconds(o, 'assets')));
  const uploadAlone = med(CASE.upload);
  const stepGoal = "loopback: one-asset redeploy's assets step ≤ 0.2× the full upload step";
  targets.push(
    Number.isFinite(oneAssets) && Number.isFinite(fullAssets) && fullAssets > 0
      ? {
          goal: stepGoal,
          measured: `${(oneAssets / fullAssets).toFixed(2)}× (${oneAssets.toFixed(2)} s vs the full deploy's assets step ${fullAssets.toFixed(2)} s${uploadAlone ? `; ${(oneAssets / uploadAlone).toFixed(2)}× the upload step alone` : ''})`,
          met: oneAssets / fullAssets <= 0.2,
        }
      : { goal: stepGoal, measured: none('no assets step times', CASE.oneAsset, CASE.full), met: null },
  );
  const fullLogins = results.find((r) => r.name === CASE.full)?.sshLogins ?? [];
  const loginGoal = 'loopback: exactly 1 SSH handshake per full deploy';
  targets.push(
    fullLogins.length
      ? {
          goal: loginGoal,
          measured: `sshd logins per run: ${[...new Set(fullLogins)].join(', ')} (${fullLogins.length} runs)`,
          met: fullLogins.every((n) => n === 1),
        }
      : { goal: loginGoal, measured: none('no runs', CASE.full), met: null },
  );
  const memoryGoal = 'peak memory uploading ~1 GB < 300 MB';
  targets.push(
    values.memoryPeak !== undefined
      ? { goal: memoryGoal, measured: `${mb(values.memoryPeak, 0)} MB (VmHWM)`, met: values.memoryPeak < 300e6 }
      : { goal: memoryGoal, measured: values.skipped.memory ? `skipped (${values.skipped.memory})` : 'n/a (failed)', met: null },
  );
  const cloneGoal = 'mirror redeploy transfers less than a fresh clone';
  const clone = values.clone;
  targets.push(
    clone?.mirrorBytes !== undefined && clone.freshBytes !== undefined
      ? {
          goal: cloneGoal,
          measured: `${mb(clone.mirrorBytes, 3)} MB vs ${mb(clone.freshBytes, 3)} MB (${((clone.mirrorBytes / clone.freshBytes) * 100).toFixed(2)}%)`,
          met: clone.mirrorBytes < clone.freshBytes,
        }
      : { goal: cloneGoal, measured: values.skipped.clone ? `skipped (${values.skipped.clone})` : 'n/a (failed)', met: null },
  );
  const vendor = values.vendor;
  const vendorSkipped = values.skipped.vendor ? `skipped (${values.skipped.vendor})` : 'n/a (failed)';
  targets.push(
    vendor
      ? ratioTarget(
          'vendor app: composer step, lock unchanged, one PHP file changed (reuseVendor on) ≤ 0.2× a fresh composer install of the lock',
          vendor.reuseStep,
          vendor.freshStep,
          0.2,
          'a median is missing',
        )
      : {
          goal: 'vendor app: composer step, lock unchanged, one PHP file changed (reuseVendor on) ≤ 0.2× a fresh composer install of the lock',
          measured: vendorSkipped,
          met: null,
        },
    vendor
      ? ratioTarget(
          'vendor app: redeploy, lock unchanged, one PHP file changed ≤ 0.5× the same with "reuseVendor": false',
          vendor.reuseDeploy,
          vendor.todayDeploy,
          0.5,
          'a median is missing',
        )
      : {
          goal: 'vendor app: redeploy, lock unchanged, one PHP file changed ≤ 0.5× the same with "reuseVendor": false',
          measured: vendorSkipped,
          met: null,
        },
  );
  const fleetRuns = values.fleetRuns ?? [];
  const fleetMedian = (n: number, key: 'seconds' | 'spreadMs') => median(fleetRuns.filter((r) => r.servers === n).map((r) => r[key]));
  const biggest = fleetRuns.length ? Math.max(...fleetRuns.map((r) => r.servers)) : undefined;
  const one = fleetMedian(1, 'seconds');
  const big = biggest !== undefined ? fleetMedian(biggest, 'seconds') : NaN;
  const skipped = values.skipped.fleet ? `skipped (${values.skipped.fleet})` : 'n/a (failed)';
  targets.push(
    Number.isFinite(one) && Number.isFinite(big) && biggest !== undefined && biggest > 1
      ? {
          goal: `${biggest} servers ≤ 2× one server`,
          measured: `${(big / one).toFixed(2)}× (${big.toFixed(2)} s vs ${one.toFixed(2)} s)`,
          met: big / one <= 2,
        }
      : { goal: '25 servers ≤ 2× one server', measured: skipped, met: null },
  );
  const spread = biggest !== undefined ? fleetMedian(biggest, 'spreadMs') : NaN;
  targets.push(
    Number.isFinite(spread)
      ? { goal: `swap spread across ${biggest} servers < 250 ms`, measured: `${spread.toFixed(0)} ms`, met: spread < 250 }
      : { goal: 'swap spread across 25 servers < 250 ms', measured: skipped, met: null },
  );
  return targets;
}

/**
 * The fleet behind one shared uplink (bench/measurements/shared-uplink.ts), per strategy: with
 * peerAddress the servers fan the release out among themselves, so 8 servers should cost about what
 * one does, in time and in bytes through the uplink. Read from the fan-out rows (left out with
 * BENCH_FANOUT=0: n/a then), with today's direct deploy quoted as the baseline.
 */
export function uplinkTargets(values: MeasuredValues): Target[] {
  const u = values.uplink;
  const size = u?.servers ?? 8;
  const out: Target[] = [];
  for (const strategy of ['clone', 'artifact'] as const) {
    const timeGoal = `${size}-server fleet behind the shared uplink, first deploy (${strategy}): ≤ 1.5× the time of one server behind the same uplink`;
    const bytesGoal = `${size}-server fleet behind the shared uplink, first deploy (${strategy}): bytes through the uplink ≤ 1.2× one release's`;
    if (!u) {
      const why = values.skipped.uplink ? `skipped (${values.skipped.uplink})` : 'n/a (failed)';
      out.push({ goal: timeGoal, measured: why, met: null }, { goal: bytesGoal, measured: why, met: null });
      continue;
    }
    const s = u.strategies[strategy];
    const one = s.one;
    const release = s.releaseBytes;
    const time = (v: { seconds: number }) =>
      one ? `${(v.seconds / one.seconds).toFixed(2)}× (${v.seconds.toFixed(2)} s vs ${one.seconds.toFixed(2)} s)` : 'n/a';
    const bytes = (v: { uplinkBytes: number }) =>
      release ? `${(v.uplinkBytes / release).toFixed(2)}× (${mb(v.uplinkBytes, 1)} MB vs ${mb(release, 1)} MB)` : 'n/a';
    const baseline = (show: (v: { seconds: number; uplinkBytes: number }) => string) =>
      s.direct ? `; today, each server sent its own copy: ${show(s.direct)}` : '';
    if (s.fanout && one && release) {
      out.push(
        { goal: timeGoal, measured: `${time(s.fanout)}${baseline(time)}`, met: s.fanout.seconds / one.seconds <= 1.5 },
        { goal: bytesGoal, measured: `${bytes(s.fanout)}${baseline(bytes)}`, met: s.fanout.uplinkBytes / release <= 1.2 },
      );
      continue;
    }
    const why = u.fanoutMeasured ? 'n/a (no fan-out run, or no one-server run, completed' : 'n/a (fan-out not measured';
    out.push(
      { goal: timeGoal, measured: `${why}${baseline(time)})`, met: null },
      { goal: bytesGoal, measured: `${why}${baseline(bytes)})`, met: null },
    );
  }
  return out;
}

/**
 * The hardened sshd (bench/measurements/max-sessions.ts): a soft target, the measurement is of a
 * cost. A server that allows one session per connection should cost a second login and some waiting,
 * not half as much time again.
 */
export function maxSessionsTargets(values: MeasuredValues): Target[] {
  const m = values.maxSessions;
  const goal = `hardened sshd, first deploy at ${m?.delayMs ?? 25} ms: MaxSessions 1 ≤ 1.5× the default sshd`;
  if (!m) return [{ goal, measured: values.skipped.maxSessions ? `skipped (${values.skipped.maxSessions})` : 'n/a (failed)', met: null }];
  const why = (['max1', 'default'] as const)
    .filter((k) => m.medians[k] === undefined)
    .map((k) => `${k}: ${m.missing[k] ?? 'no runs'}`)
    .join('; ');
  return [ratioTarget(goal, m.medians.max1, m.medians.default, 1.5, why)];
}
