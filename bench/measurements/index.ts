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
 *
 * All on the direct loopback link. Environment: BENCH_FLEET=0 skips the fleet; BENCH_FLEET_SIZES
 * (default "1,10,25"); BENCH_FLEET_RUNS (runs per fleet size, default 1; the one-server size runs at
 * least 3 times, it is the reference); BENCH_MEMORY=0 skips the 1 GB upload; BENCH_MEMORY_MB
 * (default 1024, in 8 files). A skipped measurement is listed as skipped, with the variable.
 */
import type { Section } from '../report';
import { artifactStrategy } from './artifact-strategy';
import { cloneStrategy } from './clone-strategy';
import { flag, type MeasurementInput } from './common';
import { firstTransfer } from './first-transfer';
import { fleet, type FleetRun } from './fleet';
import { handshakes } from './handshakes';
import { memory } from './memory';
import { overlap } from './overlap';
import { shellCost } from './server-shell';

/** What the targets need from the measurements; undefined: not measured, `skipped` says why. */
export interface MeasuredValues {
  memoryPeak?: number;
  clone?: { mirrorBytes?: number; freshBytes?: number };
  fleetRuns?: FleetRun[];
  skipped: { memory?: string; fleet?: string };
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

  const shell = await guard('serverShell', () => shellCost(input));
  if (shell) sections.push(shell);
  const first = await guard('firstTransfer', () => firstTransfer(input));
  if (first) sections.push(first);
  sections.push(handshakes(input));
  if (flag('BENCH_MEMORY', true)) {
    const m = await guard('memory', () => memory(input));
    if (m) {
      sections.push(m.section);
      values.memoryPeak = m.peakBytes;
    }
  } else {
    values.skipped.memory = 'BENCH_MEMORY=0';
    sections.push(skippedSection('memory', 'Peak memory uploading ~1 GB', 'BENCH_MEMORY=0'));
  }
  const clone = await guard('cloneStrategy', () => cloneStrategy(input));
  if (clone) {
    sections.push(clone.section);
    values.clone = clone;
  }
  sections.push(overlap(input));
  sections.push(artifactStrategy(input));
  if (flag('BENCH_FLEET', true)) {
    const f = await guard('fleet', () => fleet(input));
    if (f) {
      sections.push(f.section);
      values.fleetRuns = f.runs;
    }
  } else {
    values.skipped.fleet = 'BENCH_FLEET=0';
    sections.push(skippedSection('fleet', 'Fleet', 'BENCH_FLEET=0'));
  }
  return { sections, values };
}
