/**
 * Fleet: 1, 10 and 25 servers (each its own sshd and root on loopback), `gulp deploy --server=all`,
 * parallel 10: total time and the spread of the live swaps.
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

function cpuTimes(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

export interface FleetRun {
  servers: number;
  seconds: number;
  /** Share of the machine's CPU time that was busy during the deploy (all processes, all CPUs). */
  cpuBusy: number;
  spreadMs: number;
  liveStep: number;
  uploadedBytes: number;
  loginsPerServer: number[];
}

interface FleetPass {
  runs: FleetRun[];
  /** Runs (size, rep) that failed every attempt. */
  gaveUp: Array<{ servers: number; rep: number }>;
  failures: string[];
  attempts: Record<number, number>;
}

const FLEET_ATTEMPTS = 3;

/** One pass over the fleet sizes; a run that fails FLEET_ATTEMPTS times is given up (recorded), the pass goes on. */
async function fleetPass(input: MeasurementInput, servers: SshServer[], sizes: number[], runsPer: number): Promise<FleetPass> {
  const { ctx, say } = input;
  const base = path.join(ctx.workDir, 'roots', 'fleet');
  const project = projectFor(ctx, input.install, 'fleet');
  const pass: FleetPass = { runs: [], gaveUp: [], failures: [], attempts: {} };
  try {
    for (const size of sizes) {
      const reps = size === 1 ? Math.max(3, runsPer) : runsPer;
      const names = servers.slice(0, size).map((s) => s.name);
      for (let rep = 1; rep <= reps; rep++) {
        say(`fleet: ${size} server${size === 1 ? '' : 's'}, run ${rep}/${reps}…`);
        let cpuBusy = NaN;
        try {
          const { o, logins } = await retrying(
            `fleet of ${size}, run ${rep}`,
            pass.failures,
            input,
            async () => {
              pass.attempts[size] = (pass.attempts[size] ?? 0) + 1;
              const roots: string[] = [];
              for (const name of names) roots.push(await freshRoot(path.join(base, `${size}`, name)));
              project.configure(names.map((name, i) => ({ name, port: servers[i].port, root: roots[i] })));
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
                  throw new Error(`fleet of ${size}: not every server deployed`);
                if (o.swaps.length !== size) throw new Error(`fleet of ${size}: ${o.swaps.length} swap lines, expected ${size}`);
                return { o, logins };
              } finally {
                rmSync(path.join(base, `${size}`), { recursive: true, force: true });
                spawnSync('sync');
              }
            },
            FLEET_ATTEMPTS,
          );
          const times = o.swaps.map((s) => s.t);
          pass.runs.push({
            servers: size,
            seconds: o.seconds,
            cpuBusy,
            spreadMs: Math.max(...times) - Math.min(...times),
            liveStep: stepSeconds(o, 'live'),
            uploadedBytes: o.report.servers.reduce((sum, r) => sum + r.sent.bytes, 0),
            loginsPerServer: logins,
          });
          say(
            `fleet: ${size} server${size === 1 ? '' : 's'}: ${o.seconds.toFixed(2)} s, swap spread ${pass.runs.at(-1)!.spreadMs.toFixed(0)} ms`,
          );
        } catch {
          pass.gaveUp.push({ servers: size, rep });
          say(`fleet: ${size} servers, run ${rep}: given up after ${FLEET_ATTEMPTS} failed attempts`);
        }
      }
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  return pass;
}

export async function fleet(input: MeasurementInput): Promise<{ section: Section; runs: FleetRun[] }> {
  const { ctx, say } = input;
  const sizes = (process.env.BENCH_FLEET_SIZES ?? '1,10,25')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
  const runsPer = intEnv('BENCH_FLEET_RUNS', 1, 1);
  const max = Math.max(...sizes);
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
    pass = await fleetPass(input, servers, sizes, runsPer);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    for (const s of servers) rmSync(s.dir, { recursive: true, force: true });
  }

  const rows: string[][] = [];
  const one = median(pass.runs.filter((r) => r.servers === 1).map((r) => r.seconds));
  for (const size of sizes) {
    const of = pass.runs.filter((r) => r.servers === size);
    const gaveUp = pass.gaveUp.filter((g) => g.servers === size).length;
    const attempts = pass.attempts[size] ?? 0;
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
        ...(pass.failures.length
          ? [
              `Failed attempts: ${pass.failures.slice(0, 6).join('; ')}${pass.failures.length > 6 ? `; … (${pass.failures.length} in all, see results.json)` : ''}`,
            ]
          : []),
      ],
      data: pass,
    },
    runs: pass.runs,
  };
}
