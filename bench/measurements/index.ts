/**
 * gulp-attache's extra measurements, run after the main tables (bench/run.ts), one file each:
 *
 *   server-shell.ts    what one remote command costs on the bench sshd (and why it has SetEnv SHLVL=1)
 *   first-transfer.ts  the first large transfer on an SSH connection beside the ones after it
 *   handshakes.ts      SSH logins per run: sshd's "Accepted publickey" lines (and handshakeCount() in-process)
 *   memory.ts          peak RSS of a child process uploading ~1 GB with the upload plugin in streaming mode
 *   clone-strategy.ts  the server's shallow mirror on the long-history fixture vs a fresh `git clone --depth 1`
 *   overlap.ts         the asset upload beside shared → composer → artisan: their sum vs the part's wall time
 *   artifact-strategy.ts  the artifact strategy's deploys: the local build (package) and the send (artifact)
 *   fleet.ts           1, 10 and 25 servers (each its own sshd and root), `--server=all`, parallel 10
 *   rollout.ts         in the fleet's pass: 10 servers all at once and with `"rollout": { "batches": ["25%"] }`
 *   shared-uplink.ts   8 servers and 1 behind one shared 20 Mbit/s uplink (bench/wan/uplink.ts), clone and
 *                      artifact: time and the bytes through the uplink, direct and with peerAddress (fan-out)
 *   composer-vendor.ts the composer step on the vendor app (~100 packages): a fresh install, and redeploys
 *                      with the lock unchanged, vendor/ reused from the live release or installed whole
 *   max-sessions.ts    a first deploy over the WAN shape to a hardened sshd (MaxSessions 2, 1) against the default
 *
 * All on the direct loopback link, but the shared uplink's and max sessions' (relays of their own). Environment: BENCH_FLEET=0 skips the fleet and the rollout;
 * BENCH_FLEET_SIZES (default "1,10,25"); BENCH_FLEET_RUNS (runs per fleet size and of the rollout
 * comparison, default 1; the one-server size runs at least 3 times, it is the reference);
 * BENCH_MEMORY=0 skips the 1 GB upload; BENCH_MEMORY_MB (default 1024, in 8 files); BENCH_UPLINK=0 skips
 * the shared uplink, BENCH_UPLINK_RUNS (default 2) and BENCH_FANOUT=0 (shared-uplink.ts' header);
 * BENCH_VENDOR=0 skips the composer vendor measurement, BENCH_VENDOR_RUNS its reps (default 3);
 * BENCH_MAXSESSIONS=0 skips the hardened sshds, BENCH_MAXSESSIONS_RUNS their reps (default 3). BENCH_CASES may
 * name the measurements that take time of their own (MEASUREMENT in bench/cases/names.ts, e.g.
 * "fleet", "rollout"): then only those run (bench/case-filter.ts). A skipped measurement is listed as
 * skipped, with the reason.
 */
import type { Section } from '../report';
import { artifactStrategy } from './artifact-strategy';
import { cloneStrategy } from './clone-strategy';
import { composerVendor, type VendorValues } from './composer-vendor';
import { MEASUREMENT } from '../cases/names';
import { flag, type MeasurementInput } from './common';
import { firstTransfer } from './first-transfer';
import { fleet, type FleetRun } from './fleet';
import { handshakes } from './handshakes';
import { maxSessions, type MaxSessionsValues } from './max-sessions';
import { memory } from './memory';
import { overlap } from './overlap';
import { shellCost } from './server-shell';
import { sharedUplink, type UplinkSummary, uplinkSummary } from './shared-uplink';

/** What the targets need from the measurements; undefined: not measured, `skipped` says why. */
export interface MeasuredValues {
  memoryPeak?: number;
  clone?: { mirrorBytes?: number; freshBytes?: number };
  fleetRuns?: FleetRun[];
  uplink?: UplinkSummary;
  vendor?: VendorValues;
  maxSessions?: MaxSessionsValues;
  skipped: { memory?: string; clone?: string; fleet?: string; uplink?: string; vendor?: string; maxSessions?: string };
}

export async function runMeasurements(input: MeasurementInput): Promise<{ sections: Section[]; values: MeasuredValues }> {
  const { ctx, say } = input;
  const sections: Section[] = [];
  const values: MeasuredValues = { skipped: {} };
  const guard = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      say(`${name}: FAILED: ${message}`);
      sections.push({
        key: name,
        title: `${name}: FAILED`,
        header: ['error'],
        rows: [[message]],
        notes: ['see bench/.work/logs/bench.log'],
        data: { error: message },
      });
      ctx.log(error instanceof Error ? (error.stack ?? error.message) : String(error));
      return undefined;
    }
  };
  const skippedSection = (key: string, title: string, variable: string): Section => ({
    key,
    title: `${title}: skipped (${variable})`,
    header: [],
    rows: [],
    notes: [],
    data: { skipped: variable },
  });

  /** Why a measurement does not run: its variable, or BENCH_CASES naming other measurements. */
  const off = (name: string, variable?: string) => (variable && !flag(variable, true) ? `${variable}=0` : input.measurementSkipped(name));

  const shellOff = off(MEASUREMENT.shell);
  if (shellOff) sections.push(skippedSection('serverShell', 'One remote command on the bench sshd', shellOff));
  else {
    const shell = await guard('serverShell', () => shellCost(input));
    if (shell) sections.push(shell);
  }
  const transferOff = off(MEASUREMENT.transfer);
  if (transferOff) sections.push(skippedSection('firstTransfer', 'The first transfer on an SSH connection', transferOff));
  else {
    const first = await guard('firstTransfer', () => firstTransfer(input));
    if (first) sections.push(first);
  }
  sections.push(handshakes(input));
  const memoryOff = off(MEASUREMENT.memory, 'BENCH_MEMORY');
  if (memoryOff) {
    values.skipped.memory = memoryOff;
    sections.push(skippedSection('memory', 'Peak memory uploading ~1 GB', memoryOff));
  } else {
    const m = await guard('memory', () => memory(input));
    if (m) {
      sections.push(m.section);
      values.memoryPeak = m.peakBytes;
    }
  }
  const cloneOff = off(MEASUREMENT.clone);
  if (cloneOff) {
    values.skipped.clone = cloneOff;
    sections.push(skippedSection('cloneStrategy', 'Clone strategy on the long-history repository', cloneOff));
  } else {
    const clone = await guard('cloneStrategy', () => cloneStrategy(input));
    if (clone) {
      sections.push(clone.section);
      values.clone = clone;
    }
  }
  const vendorOff = off(MEASUREMENT.vendor, 'BENCH_VENDOR');
  if (vendorOff) {
    values.skipped.vendor = vendorOff;
    sections.push(skippedSection('composerVendor', 'Composer at real scale', vendorOff));
  } else {
    const v = await guard('composerVendor', () => composerVendor(input));
    if (v) {
      sections.push(v.section);
      values.vendor = v.values;
    }
  }
  sections.push(overlap(input));
  sections.push(artifactStrategy(input));
  const fleetOff = off(MEASUREMENT.fleet, 'BENCH_FLEET');
  const rolloutOff = off(MEASUREMENT.rollout, 'BENCH_FLEET');
  const f = fleetOff && rolloutOff ? undefined : await guard('fleet', () => fleet(input, { fleet: !fleetOff, rollout: !rolloutOff }));
  if (fleetOff) {
    values.skipped.fleet = fleetOff;
    sections.push(skippedSection('fleet', 'Fleet', fleetOff));
  } else if (f?.fleet) {
    sections.push(f.fleet.section);
    values.fleetRuns = f.fleet.runs;
  }
  if (rolloutOff) sections.push(skippedSection('rollout', 'Fleet rollout', rolloutOff));
  else if (f?.rollout) sections.push(f.rollout);
  const uplinkOff = off(MEASUREMENT.uplink, 'BENCH_UPLINK');
  if (uplinkOff) {
    values.skipped.uplink = uplinkOff;
    sections.push(skippedSection('sharedUplink', 'A fleet behind one shared uplink', uplinkOff));
  } else {
    const u = await guard('sharedUplink', () => sharedUplink(input));
    if (u) {
      sections.push(u.section);
      values.uplink = uplinkSummary(u.result);
    }
  }
  const maxSessionsOff = off(MEASUREMENT.maxSessions, 'BENCH_MAXSESSIONS');
  if (maxSessionsOff) {
    values.skipped.maxSessions = maxSessionsOff;
    sections.push(skippedSection('maxSessions', 'A hardened sshd (MaxSessions 2 and 1)', maxSessionsOff));
  } else {
    const m = await guard('maxSessions', () => maxSessions(input));
    if (m) {
      sections.push(m.section);
      values.maxSessions = m.values;
    }
  }
  return { sections, values };
}
