/**
 * Fleet: 1, 10 and 25 servers (each its own sshd and root on loopback), `gulp deploy --server=all`,
 * parallel 10: total time and the spread of the live swaps. The same pass runs the rollout comparison
 * (rollout.ts): 10 servers all at once and with `"rollout": { "batches": ["25%"] }`, round-robin.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acceptedLogins, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';
import { projectFor } from '../cases/gulp-attache';
import { fmt, mb, median, type Section } from '../report';
import { verifyDeploy } from '../verify';
import { freshRoot, intEnv, retrying, stepSeconds, type MeasurementInput } from './common';
import { announcedBatches, expectedBatches, ROLLOUT, rolloutSection, swapTiming, type SwapTiming } from './rollout';

function cpuTimes(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** How the fleet swaps: without `rollout` (one burst), or with ROLLOUT's batches. */
export type FleetMode = 'all at once' | 'rollout';

export interface FleetRun extends SwapTiming {
  servers: number;
  mode: FleetMode;
  seconds: number;
  /** Share of the machine's CPU time that was busy during the deploy (all processes, all CPUs). */
  cpuBusy: number;
  liveStep: number;
  uploadedBytes: number;
  loginsPerServer: number[];
}

export interface FleetPass {
  runs: FleetRun[];
  /** Runs (size, mode, rep) that failed every attempt. */
  gaveUp: Array<{ servers: number; mode: FleetMode; rep: number }>;
  failures: string[];
  /** Attempts by "<size> <mode>". */
  attempts: Record<string, number>;
}

/** One fleet size in the pass: each rep runs every mode once, in this order. */
interface FleetSlot {
  size: number;
  modes: FleetMode[];
  reps: number;
}

const FLEET_ATTEMPTS = 3;

const serversText = (size: number) => `${size} server${size === 1 ? '' : 's'}`;
const modeText = (mode: FleetMode) => (mode === 'rollout' ? `, rollout ${JSON.stringify(ROLLOUT.config.batches)}` : '');

/** One pass over the fleet sizes; a run that fails FLEET_ATTEMPTS times is given up (recorded), the pass goes on. */
async function fleetPass(input: MeasurementInput, servers: SshServer[], slots: FleetSlot[]): Promise<FleetPass> {
  const { ctx, say } = input;
  const base = path.join(ctx.workDir, 'roots', 'fleet');
  const project = projectFor(ctx, input.install, 'fleet');
  const pass: FleetPass = { runs: [], gaveUp: [], failures: [], attempts: {} };
  try {
    for (const { size, modes, reps } of slots) {
      const names = servers.slice(0, size).map((s) => s.name);
      for (let rep = 1; rep <= reps; rep++)
        for (const mode of modes) {
          const what = `${serversText(size)}${modeText(mode)}`;
          say(`fleet: ${what}, run ${rep}/${reps}…`);
          let cpuBusy = NaN;
          try {
            const { o, logins, timing } = await retrying(
              `fleet of ${what}, run ${rep}`,
              pass.failures,
              input,
              async () => {
                const key = `${size} ${mode}`;
                pass.attempts[key] = (pass.attempts[key] ?? 0) + 1;
                const roots: string[] = [];
                for (const name of names) roots.push(await freshRoot(path.join(base, `${size}`, name)));
                project.configure(
                  names.map((name, i) => ({ name, port: servers[i].port, root: roots[i] })),
                  // In `common`: the file's top level takes no `rollout` (docs/rollouts.md says it does).
                  mode === 'rollout' ? { common: { rollout: ROLLOUT.config } } : {},
                );
                spawnSync('sync');
                const before = servers.slice(0, size).map((s) => acceptedLogins(s));
                try {
                  const cpu0 = cpuTimes();
                  const o = await project.deploy(['--server=all']);
                  const cpu1 = cpuTimes();
                  cpuBusy = (cpu1.busy - cpu0.busy) / Math.max(1, cpu1.total - cpu0.total);
                  const logins = servers.slice(0, size).map((s, i) => acceptedLogins(s) - before[i]);
                  roots.forEach((root) => verifyDeploy(ctx.fixture, root, 'live'));
                  if (o.report.servers.length !== size || o.report.servers.some((r) => r.result !== 'deployed'))
                    throw new Error(`fleet of ${what}: not every server deployed`);
                  if (o.swaps.length !== size) throw new Error(`fleet of ${what}: ${o.swaps.length} swap lines, expected ${size}`);
                  // The batches as the deploy announced them, checked against the rule (none without rollout).
                  const batches = announcedBatches(o.lines);
                  const planned = mode === 'rollout' ? expectedBatches(names) : [];
                  const expected = planned.length > 1 ? planned : [];
                  if (JSON.stringify(batches) !== JSON.stringify(expected))
                    throw new Error(`fleet of ${what}: batches ${JSON.stringify(batches)}, expected ${JSON.stringify(expected)}`);
                  return { o, logins, timing: swapTiming(o.swaps, batches.length ? batches : [names]) };
                } finally {
                  rmSync(path.join(base, `${size}`), { recursive: true, force: true });
                  spawnSync('sync');
                }
              },
              FLEET_ATTEMPTS,
            );
            pass.runs.push({
              servers: size,
              mode,
              seconds: o.seconds,
              cpuBusy,
              ...timing,
              liveStep: stepSeconds(o, 'live'),
              uploadedBytes: o.report.servers.reduce((sum, r) => sum + r.sent.bytes, 0),
              loginsPerServer: logins,
            });
            const gaps = timing.gapsMs.length ? `, gaps between batches ${timing.gapsMs.map((g) => g.toFixed(0)).join(', ')} ms` : '';
            say(`fleet: ${what}: ${o.seconds.toFixed(2)} s, swap spread ${timing.spreadMs.toFixed(0)} ms${gaps}`);
          } catch {
            pass.gaveUp.push({ servers: size, mode, rep });
            say(`fleet: ${what}, run ${rep}: given up after ${FLEET_ATTEMPTS} failed attempts`);
          }
        }
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  return pass;
}

/** BENCH_FLEET_SIZES: the fleet sizes (default 1, 10, 25). */
function fleetSizes(): number[] {
  return (process.env.BENCH_FLEET_SIZES ?? '1,10,25')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * The fleet sizes (`want.fleet`) and the rollout comparison (`want.rollout`), in one pass over one set
 * of sshd servers. The rollout's all-at-once runs are the fleet's own at its size when the fleet runs
 * that size; each size runs BENCH_FLEET_RUNS times (the one-server size at least 3), and at the
 * rollout's size each run is an all-at-once deploy and a rollout, one after the other.
 */
export async function fleet(
  input: MeasurementInput,
  want: { fleet: boolean; rollout: boolean },
): Promise<{ fleet?: { section: Section; runs: FleetRun[] }; rollout?: Section }> {
  const { ctx, say } = input;
  const sizes = want.fleet ? fleetSizes() : [];
  const runsPer = intEnv('BENCH_FLEET_RUNS', 1, 1);
  const slotSizes = [...new Set([...sizes, ...(want.rollout ? [ROLLOUT.servers] : [])])].sort((a, b) => a - b);
  const slots: FleetSlot[] = slotSizes.map((size) => ({
    size,
    modes: want.rollout && size === ROLLOUT.servers ? ['all at once', 'rollout'] : ['all at once'],
    reps: size === 1 ? Math.max(3, runsPer) : runsPer,
  }));
  const max = Math.max(...slotSizes);
  const home: TestHome = { ...ctx.home, publicKey: readFileSync(`${ctx.home.key}.pub`, 'utf8').trim() };
  const servers: SshServer[] = [];
  const load = os.loadavg()[0];
  let pass: FleetPass;
  try {
    say(`fleet: starting ${max} sshd servers on loopback…`);
    for (let i = 0; i < max; i++) {
      const server = await startSshd(home, { name: `web${String(i + 1).padStart(2, '0')}`, config: input.sshdConfig });
      trust(home, server);
      servers.push(server);
    }
    pass = await fleetPass(input, servers, slots);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    for (const s of servers) rmSync(s.dir, { recursive: true, force: true });
  }
  const failuresNote = pass.failures.length
    ? [
        `Failed attempts: ${pass.failures.slice(0, 6).join('; ')}${pass.failures.length > 6 ? `; … (${pass.failures.length} in all, see results.json)` : ''}`,
      ]
    : [];
  const rollout = want.rollout ? rolloutSection(pass, FLEET_ATTEMPTS) : undefined;
  if (rollout) rollout.notes.push(`Load average (1 min) before the fleet: ${load.toFixed(2)}.`, ...failuresNote);
  if (!want.fleet) return { rollout };

  const allAtOnce = pass.runs.filter((r) => r.mode === 'all at once' && sizes.includes(r.servers));
  const rows: string[][] = [];
  const one = median(allAtOnce.filter((r) => r.servers === 1).map((r) => r.seconds));
  for (const size of sizes) {
    const of = allAtOnce.filter((r) => r.servers === size);
    const gaveUp = pass.gaveUp.filter((g) => g.servers === size && g.mode === 'all at once').length;
    const attempts = pass.attempts[`${size} all at once`] ?? 0;
    const failedAttempts = attempts - of.length;
    if (!of.length) {
      rows.push([String(size), `0 (${gaveUp} given up)`, `${failedAttempts}/${attempts}`, 'n/a', '', '', '', '', '', '', '']);
      continue;
    }
    const seconds = median(of.map((r) => r.seconds));
    const logins = of.flatMap((r) => r.loginsPerServer);
    rows.push([
      String(size),
      gaveUp ? `${of.length} (${gaveUp} given up)` : String(of.length),
      `${failedAttempts}/${attempts}`,
      fmt(seconds),
      Number.isFinite(one) ? `${(seconds / one).toFixed(2)}×` : 'n/a',
      fmt(seconds / size),
      `${(median(of.map((r) => r.cpuBusy)) * 100).toFixed(0)}%`,
      fmt(median(of.map((r) => r.spreadMs)), 0),
      fmt(median(of.map((r) => r.liveStep))),
      mb(median(of.map((r) => r.uploadedBytes)), 0),
      logins.length ? `${Math.min(...logins)}–${Math.max(...logins)}` : 'n/a',
    ]);
  }
  return {
    rollout,
    fleet: {
      section: {
        key: 'fleet',
        title: 'Fleet: `gulp deploy --server=all`, parallel 10 (default), each server its own sshd and root on loopback',
        header: [
          'servers',
          'runs',
          'failed attempts',
          'total s (median)',
          '× one server',
          's per server',
          'machine CPU busy',
          'swap spread ms',
          'live step s',
          'MB uploaded (all servers)',
          'ssh logins per server',
        ],
        rows,
        notes: [
          "total: the whole `gulp deploy --server=all` process (start-up included). swap spread: from the first server's live swap to the last, by the arrival of the swap plugin's \"[server] …/live -> releases/<id>\" lines from the process (each written right after that server's rename and its check).",
          `A run is given up after ${FLEET_ATTEMPTS} failed attempts (a failed deploy rolls every server back; each attempt starts from fresh roots).`,
          `Every server is on this machine: its sshd, git, composer and the SFTP writes of all of them share the ${os.cpus().length} CPUs with the deploying process, so the time grows with the fleet here where real servers would each bring their own CPU. machine CPU busy: the share of all CPUs' time (every process on the machine, from /proc/stat) that was busy during the deploy. Load average (1 min) before the fleet: ${load.toFixed(2)}.`,
          'The one-server size runs at least 3 times (it is the reference); × one server compares with the one-server median.',
          ...(want.rollout && sizes.includes(ROLLOUT.servers)
            ? [
                `The ${ROLLOUT.servers}-server row's runs alternate with the rollout's (below): each all-at-once run is followed by a rollout on the same servers.`,
              ]
            : []),
          ...failuresNote,
        ],
        data: { ...pass, runs: allAtOnce },
      },
      runs: allAtOnce,
    },
  };
}
