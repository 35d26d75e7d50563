/**
 * A fleet behind one shared uplink: the deploying machine (a laptop, an office line, a self-hosted
 * runner) has ONE uplink for all its servers' connections. 8 servers (each its own sshd and root on
 * loopback, as fleet.ts has them), every connection to them through the shared uplink
 * (bench/wan/uplink.ts: client → server 20 Mbit/s shared by all, server → client 100 Mbit/s shared,
 * 25 ms each way), `gulp deploy --server=all`; against the same first deploy of 1 server behind the
 * same uplink; for the clone strategy and for `"strategy": "artifact"`. Time, the bytes that crossed
 * the uplink, and one release's bytes (what the one-server deploy's report says it sent).
 *
 * Fan-out: with `"peerAddress": "host[:port]"` on each server (where the other servers reach its sshd:
 * here directly 127.0.0.1:<sshd port>, not through the uplink) the deploying machine sends the
 * bytes once and the servers pass them on among themselves (docs/fanout.md). Its rows are what the
 * targets read (bench/targets.ts uplinkTargets); BENCH_FANOUT=0 leaves them out (the targets then say "n/a").
 *
 * BENCH_UPLINK=0 leaves the measurement out; BENCH_UPLINK_RUNS: runs of each variant (default 2),
 * round-robin; BENCH_UPLINK_SERVERS: the fleet's size (default 8); BENCH_UPLINK_MBIT,
 * BENCH_UPLINK_DOWN_MBIT, BENCH_UPLINK_DELAY_MS: the link (default 20, 100, 25).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acceptedLogins, type SshServer, startSshd, type TestHome, trust } from '../../support/sshd';
import { AppCheckout } from '../app-checkout';
import { projectFor } from '../cases/gulp-attache';
import { fmt, mb, median, type Section } from '../report';
import type { ServerEntry, UserProject } from '../user-project';
import { verifyDeploy } from '../verify';
import { type SharedUplinkLink, startSharedUplink } from '../wan/link';
import type { UplinkCounters } from '../wan/uplink';
import { flag, freshRoot, intEnv, type MeasurementInput, retrying } from './common';

export type UplinkStrategy = 'clone' | 'artifact';

/** One server behind the uplink: where the deploying machine reaches it (its listener on the uplink) and where the other servers do (its sshd). */
export interface UplinkServer {
  name: string;
  sshdPort: number;
  uplinkPort: number;
  root: string;
}

/**
 * The servers' entries in `.attache.json`: each reached through its own listener on the shared
 * uplink; with `peers`, each also says where the other servers reach its sshd, directly.
 */
export function uplinkServerEntries(servers: readonly UplinkServer[], peers: boolean): ServerEntry[] {
  return servers.map((s) => ({
    name: s.name,
    port: s.uplinkPort,
    root: s.root,
    ...(peers && { extra: { peerAddress: `127.0.0.1:${s.sshdPort}` } }),
  }));
}

/** A variant of the pass: a strategy, how many servers, and whether they fan out among themselves. */
export interface UplinkVariant {
  strategy: UplinkStrategy;
  servers: number;
  peers: boolean;
}

export interface UplinkRun extends UplinkVariant {
  seconds: number;
  /** Bytes the deploy's connections put on the shared uplink (client → server), all servers. */
  uplinkBytes: number;
  uplinkPerServer: number[];
  /** Bytes they got back over the shared downlink. */
  downlinkBytes: number;
  /** The deploy report's sent bytes, all servers, and per server. */
  sentBytes: number;
  sentPerServer: number[];
  /** TCP connections through the uplink, and sshd logins per server. */
  connections: number;
  loginsPerServer: number[];
}

export interface UplinkResult {
  servers: number;
  /** Runs of each variant asked for. */
  reps: number;
  shape: { delayMs: number; upMbit: number; downMbit: number };
  fanout: boolean;
  runs: UplinkRun[];
  gaveUp: UplinkVariant[];
  failures: string[];
  attempts: Record<string, number>;
}

/** What the targets read: per strategy, the medians of each variant (undefined: no run). */
export interface UplinkSummary {
  servers: number;
  fanoutMeasured: boolean;
  strategies: Record<
    UplinkStrategy,
    {
      /** One release's bytes: the one-server deploy's report. */
      releaseBytes?: number;
      one?: { seconds: number; uplinkBytes: number };
      direct?: { seconds: number; uplinkBytes: number };
      fanout?: { seconds: number; uplinkBytes: number };
    }
  >;
}

const ATTEMPTS = 2;
const STRATEGIES: UplinkStrategy[] = ['clone', 'artifact'];

const variantKey = (v: UplinkVariant) => `${v.strategy} ${v.servers}${v.peers ? ' peers' : ''}`;
const variantText = (v: UplinkVariant) =>
  `${v.strategy}, ${v.servers} server${v.servers === 1 ? '' : 's'}${v.servers > 1 ? (v.peers ? ', fan-out (peerAddress)' : ', direct') : ''}`;

/** The variants of one pass, in the order each rep runs them. */
export function uplinkVariants(size: number, fanout: boolean): UplinkVariant[] {
  return STRATEGIES.flatMap((strategy) => [
    { strategy, servers: 1, peers: false },
    { strategy, servers: size, peers: false },
    ...(fanout ? [{ strategy, servers: size, peers: true }] : []),
  ]);
}

const medianOf = (runs: UplinkRun[], key: 'seconds' | 'uplinkBytes') => median(runs.map((r) => r[key]));

export function uplinkSummary(result: UplinkResult): UplinkSummary {
  const of = (strategy: UplinkStrategy, servers: number, peers: boolean) =>
    result.runs.filter((r) => r.strategy === strategy && r.servers === servers && r.peers === peers);
  const pick = (runs: UplinkRun[]) =>
    runs.length ? { seconds: medianOf(runs, 'seconds'), uplinkBytes: medianOf(runs, 'uplinkBytes') } : undefined;
  const strategies = Object.fromEntries(
    STRATEGIES.map((strategy) => {
      const one = of(strategy, 1, false);
      return [
        strategy,
        {
          releaseBytes: one.length ? median(one.map((r) => r.sentBytes)) : undefined,
          one: pick(one),
          direct: pick(of(strategy, result.servers, false)),
          fanout: pick(of(strategy, result.servers, true)),
        },
      ];
    }),
  ) as UplinkSummary['strategies'];
  return { servers: result.servers, fanoutMeasured: result.fanout, strategies };
}

const diff = (a: UplinkCounters, b: UplinkCounters, i: number) => b.targets[i].up.accepted - a.targets[i].up.accepted;

async function uplinkPass(
  input: MeasurementInput,
  servers: SshServer[],
  uplink: SharedUplinkLink,
  variants: UplinkVariant[],
  reps: number,
  result: UplinkResult,
): Promise<void> {
  const { ctx, say } = input;
  const base = path.join(ctx.workDir, 'roots', 'uplink');
  const projects: Record<UplinkStrategy, UserProject> = {
    clone: projectFor(ctx, input.install, 'uplink-clone'),
    artifact: projectFor(ctx, input.install, 'uplink-artifact', { strategy: 'artifact' }),
  };
  // The artifact strategy exports the tree from the project's own checkout, as a developer's deploy does.
  new AppCheckout(projects.artifact.dir, ctx.fixture.appRepoUrl, ctx.fixture.branch);
  try {
    for (let rep = 1; rep <= reps; rep++)
      for (const variant of variants) {
        const what = variantText(variant);
        const key = variantKey(variant);
        const project = projects[variant.strategy];
        const size = variant.servers;
        say(`uplink: ${what}, run ${rep}/${reps}…`);
        try {
          const run = await retrying(
            `shared uplink, ${what}, run ${rep}`,
            result.failures,
            input,
            async (): Promise<UplinkRun> => {
              result.attempts[key] = (result.attempts[key] ?? 0) + 1;
              const behind: UplinkServer[] = [];
              for (let i = 0; i < size; i++)
                behind.push({
                  name: servers[i].name,
                  sshdPort: servers[i].port,
                  uplinkPort: uplink.ports[i],
                  root: await freshRoot(path.join(base, servers[i].name)),
                });
              project.configure(uplinkServerEntries(behind, variant.peers));
              // A first deploy builds its tree (the artifact strategy's local cache of built trees goes, as the artifact case does).
              rmSync(path.join(project.dir, 'node_modules', '.cache', 'gulp-attache', 'artifacts'), { recursive: true, force: true });
              spawnSync('sync');
              const logins = servers.slice(0, size).map((s) => acceptedLogins(s));
              const before = await uplink.counters();
              try {
                const o = await project.deploy(['--server=all']);
                const after = await uplink.counters();
                const rows = o.report.servers;
                if (rows.length !== size || rows.some((r) => r.result !== 'deployed'))
                  throw new Error(`${what}: not every server deployed (${rows.map((r) => `${r.server}: ${r.result}`).join(', ')})`);
                for (const s of behind) {
                  const release = verifyDeploy(ctx.fixture, s.root, 'live');
                  if (variant.strategy === 'artifact' && !existsSync(path.join(release, '.attache-artifact.json')))
                    throw new Error(`verify: ${release} has no artifact listing: not an artifact release`);
                }
                const uplinkPerServer = behind.map((_, i) => diff(before, after, i));
                return {
                  ...variant,
                  seconds: o.seconds,
                  uplinkBytes: after.up.accepted - before.up.accepted,
                  uplinkPerServer,
                  downlinkBytes: after.down.accepted - before.down.accepted,
                  sentBytes: rows.reduce((sum, r) => sum + r.sent.bytes, 0),
                  sentPerServer: rows.map((r) => r.sent.bytes),
                  connections: after.connections - before.connections,
                  loginsPerServer: servers.slice(0, size).map((s, i) => acceptedLogins(s) - logins[i]),
                };
              } finally {
                rmSync(base, { recursive: true, force: true });
                spawnSync('sync');
              }
            },
            ATTEMPTS,
          );
          result.runs.push(run);
          say(
            `uplink: ${what}: ${run.seconds.toFixed(2)} s, ${mb(run.uplinkBytes, 1)} MB through the uplink (report: ${mb(run.sentBytes, 1)} MB sent)`,
          );
        } catch {
          result.gaveUp.push(variant);
          say(`uplink: ${what}, run ${rep}: given up after ${ATTEMPTS} failed attempts`);
        }
      }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

export async function sharedUplink(input: MeasurementInput): Promise<{ section: Section; result: UplinkResult }> {
  const { ctx, say } = input;
  const size = intEnv('BENCH_UPLINK_SERVERS', 8, 2);
  const reps = intEnv('BENCH_UPLINK_RUNS', 2, 1);
  const fanout = flag('BENCH_FANOUT', true);
  const shape = {
    delayMs: intEnv('BENCH_UPLINK_DELAY_MS', 25, 0),
    upMbit: intEnv('BENCH_UPLINK_MBIT', 20, 1),
    downMbit: intEnv('BENCH_UPLINK_DOWN_MBIT', 100, 1),
  };
  const variants = uplinkVariants(size, fanout);
  const result: UplinkResult = { servers: size, reps, shape, fanout, runs: [], gaveUp: [], failures: [], attempts: {} };
  const home: TestHome = { ...ctx.home, publicKey: readFileSync(`${ctx.home.key}.pub`, 'utf8').trim() };
  const servers: SshServer[] = [];
  let uplink: SharedUplinkLink | undefined;
  const load = { start: os.loadavg()[0], end: NaN };
  try {
    say(`uplink: starting ${size} sshd servers on loopback and the shared uplink in front of them…`);
    for (let i = 0; i < size; i++) {
      const server = await startSshd(home, { name: `up${String(i + 1).padStart(2, '0')}`, config: input.sshdConfig });
      trust(home, server);
      servers.push(server);
    }
    uplink = await startSharedUplink(
      servers.map((s) => s.port),
      { delayMs: shape.delayMs, upBytesPerSecond: (shape.upMbit * 1e6) / 8, downBytesPerSecond: (shape.downMbit * 1e6) / 8 },
    );
    // Each listener shows its sshd's host key at its own port.
    const ports = uplink.ports;
    appendFileSync(ctx.home.knownHosts, servers.map((s, i) => `[127.0.0.1]:${ports[i]} ${s.hostKey}\n`).join(''));
    say(
      `uplink: listeners ${ports.join(', ')} → sshd ${servers.map((s) => s.port).join(', ')}; ${shape.upMbit} Mbit/s up and ${shape.downMbit} down, shared, ${shape.delayMs} ms each way; ${reps} run(s) of ${variants.map(variantText).join('; ')}`,
    );
    await uplinkPass(input, servers, uplink, variants, reps, result);
  } finally {
    await uplink?.stop();
    await Promise.all(servers.map((s) => s.stop()));
    for (const s of servers) rmSync(s.dir, { recursive: true, force: true });
    load.end = os.loadavg()[0];
  }
  return { section: uplinkSection(result, load), result };
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0 ? 'n/a' : `${(a / b).toFixed(2)}×`;

export function uplinkSection(result: UplinkResult, load: { start: number; end: number }): Section {
  const { shape, servers: size } = result;
  const summary = uplinkSummary(result);
  const rows: string[][] = [];
  for (const strategy of STRATEGIES) {
    const s = summary.strategies[strategy];
    for (const variant of uplinkVariants(size, true)) {
      if (variant.strategy !== strategy) continue;
      const runs = result.runs.filter((r) => variantKey(r) === variantKey(variant));
      const label = variant.servers === 1 ? '1' : `${variant.servers}, ${variant.peers ? 'fan-out (peerAddress)' : 'direct'}`;
      if (variant.peers && !result.fanout) {
        rows.push([strategy, label, 'not measured (BENCH_FANOUT=0)', '', '', '', '', '', '', '', '']);
        continue;
      }
      const tried = result.attempts[variantKey(variant)] ?? 0;
      const gaveUp = result.gaveUp.filter((g) => variantKey(g) === variantKey(variant)).length;
      const head = [
        strategy,
        label,
        gaveUp ? `${runs.length} (${gaveUp} given up)` : String(runs.length),
        `${tried - runs.length}/${tried}`,
      ];
      if (!runs.length) {
        rows.push([...head, 'n/a', '', '', '', '', '', '']);
        continue;
      }
      const seconds = medianOf(runs, 'seconds');
      const up = medianOf(runs, 'uplinkBytes');
      const perServer = runs.flatMap((r) => r.uplinkPerServer);
      rows.push([
        ...head,
        `${fmt(seconds)} (${fmt(Math.min(...runs.map((r) => r.seconds)))}–${fmt(Math.max(...runs.map((r) => r.seconds)))})`,
        ratio(seconds, s.one?.seconds),
        mb(up, 1),
        ratio(up, s.releaseBytes),
        perServer.length ? `${mb(Math.min(...perServer), 1)}–${mb(Math.max(...perServer), 1)}` : 'n/a',
        mb(median(runs.map((r) => r.downlinkBytes)), 2),
        mb(median(runs.map((r) => r.sentBytes)), 1),
      ]);
    }
  }
  const release = (strategy: UplinkStrategy) => mb(summary.strategies[strategy].releaseBytes, 1);
  return {
    key: 'sharedUplink',
    title: `A fleet behind one shared uplink: ${size} servers and 1, every connection through one ${shape.upMbit} Mbit/s uplink (${shape.delayMs} ms each way), first deploy`,
    header: [
      'strategy',
      'servers',
      'runs',
      'failed attempts',
      'total s (median; range)',
      '× one server',
      'MB through the uplink',
      '× one release',
      'MB per server (uplink)',
      'MB down',
      'MB sent (report)',
    ],
    textColumns: 2,
    rows,
    notes: [
      `The deploying machine's one uplink: a relay (bench/wan/uplink.ts) with a listener per server's sshd, every client → server byte of every connection on ONE link paced to ${shape.upMbit} Mbit/s, the connections taking turns of 16 KiB (fair queueing: n busy connections get 1/n each), then delayed ${shape.delayMs} ms; server → client likewise on one shared ${shape.downMbit} Mbit/s downlink${shape.downMbit > shape.upMbit ? ' (lines are asymmetric)' : ''}, ${shape.delayMs} ms: the deploy's downstream bytes are few.`,
      `Each run a first \`gulp deploy --server=all\` onto fresh roots (each server its own sshd and root on this machine, as the fleet's), ${result.reps} run(s) of each row, round-robin over the rows; medians${result.reps === 2 ? ' (of two: their mean)' : ''}; the artifact strategy's local cache of built trees is emptied first (its package step builds the tree, here, once for all servers). The clone strategy's servers clone from a repository on this machine, not through the uplink: its uplink bytes are the assets and the commands; the artifact strategy's are the whole tree.`,
      `MB through the uplink: every byte the deploy's connections put on the uplink (counted by the relay: SSH framing and encryption included). one release: what the one-server deploy's report says it sent (clone ${release('clone')} MB, artifact ${release('artifact')} MB); × one server compares with the one-server row of the same strategy.`,
      `fan-out (peerAddress): each server's entry gets \`"peerAddress": "127.0.0.1:<its sshd port>"\` (the other servers reach it directly, not through the uplink), so that the deploying machine sends the bytes once and the servers pass them on (BENCH_FANOUT=0 leaves these rows out). direct: today's deploy, each server sent its own copy (expect ~${size}× one release).`,
      `Every server is on this machine and shares its ${os.cpus().length} CPUs with the deploying process; the uplink is what limits here (${size} copies of a release at ${shape.upMbit} Mbit/s). Load average (1 min) ${load.start.toFixed(2)}–${load.end.toFixed(2)}.`,
      ...(result.failures.length
        ? [
            `Failed attempts (each made again from fresh roots, ${ATTEMPTS} at most; in full in results.json and bench/.work/logs/bench.log): ${result.failures
              .slice(0, 4)
              .map((f) => (f.length > 200 ? `${f.slice(0, 200)}…` : f))
              .join('; ')}${result.failures.length > 4 ? `; … (${result.failures.length} in all)` : ''}`,
          ]
        : []),
    ],
    data: result,
  };
}
