/**
 * A hardened sshd: servers that allow fewer sessions (channels) per SSH connection than OpenSSH's
 * default 10 (`MaxSessions 2` or `1` in sshd_config). The deploy learns the limit from the first
 * refused channel (src/ssh/session-slots.ts, src/ssh/channels.ts): commands and streamed uploads then
 * wait for one another, and with MaxSessions 1 the SFTP channel keeps the first connection's only
 * session while a second connection runs the commands, one at a time. This measures what that costs.
 *
 * Three sshds of its own on loopback (support/sshd.ts): the default, `MaxSessions 2` and
 * `MaxSessions 1`, each behind a WAN relay of its own (bench/wan/link.ts) with the bench's WAN shape
 * (BENCH_WAN_DELAY_MS each way, default 25; BENCH_WAN_MBIT each way, default 100; it runs whatever
 * BENCH_WAN says: the relays are its own). Each rep, each sshd in turn: gulp-attache's full first
 * deploy (the "full first deploy" case's project and fixture) onto a fresh root, checked whole
 * (bench/verify.ts); for 1 and 2 the deploy must say once what the server allows ("the server allows
 * N session(s) per SSH connection (MaxSessions N)"), for the default it must not: a run without it
 * fails. sshd's log gives the logins ("Accepted publickey": MaxSessions 1 takes 2) and the sessions
 * it started ("Starting session:": the SFTP subsystem, the shells, the streamed uploads; a channel
 * the server refused is not logged at LogLevel VERBOSE). Each deploy's log goes to
 * bench/.work/logs/max-sessions.log.
 *
 * BENCH_MAXSESSIONS=0 leaves it out; BENCH_MAXSESSIONS_RUNS: reps (default 3), round-robin.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acceptedLogins, type SshServer, startSshd, type TestHome, trust } from '../../support/sshd';
import { projectFor } from '../cases/gulp-attache';
import { fmt, median, type Section } from '../report';
import { verifyDeploy } from '../verify';
import { type Link, startLink } from '../wan/link';
import { freshRoot, intEnv, type MeasurementInput, retrying } from './common';

/** One sshd of the measurement: its MaxSessions line, or none (OpenSSH's default, 10). */
export interface SessionLimit {
  key: 'default' | 'max2' | 'max1';
  label: string;
  limit?: number;
}

export const LIMITS: readonly SessionLimit[] = [
  { key: 'default', label: 'default (MaxSessions 10)' },
  { key: 'max2', label: 'MaxSessions 2', limit: 2 },
  { key: 'max1', label: 'MaxSessions 1', limit: 1 },
];

/** The deploy's line about the server's limit (src/ssh/channels.ts tellLimit), any limit. */
const ANY_LIMIT_LINE = /the server allows (\d+) session\(s\) per SSH connection \(MaxSessions (\d+)\)/;

/** The limit lines a deploy's log holds, by the limit each names. */
export function limitLines(lines: readonly string[]): number[] {
  return lines.flatMap((line) => {
    const match = ANY_LIMIT_LINE.exec(line);
    return match ? [Number(match[1])] : [];
  });
}

/** Why a deploy's limit lines are wrong for its sshd, or undefined when they are right. */
export function limitLineProblem(limit: SessionLimit, said: readonly number[]): string | undefined {
  if (limit.limit === undefined)
    return said.length ? `the default sshd's deploy said the server allows ${said.join(', ')} session(s)` : undefined;
  if (!said.length) return `the deploy never said the server allows ${limit.limit} session(s) (MaxSessions ${limit.limit})`;
  const wrong = said.filter((n) => n !== limit.limit);
  return wrong.length ? `the deploy said the server allows ${wrong.join(', ')} session(s), not ${limit.limit}` : undefined;
}

export interface MaxSessionsRun {
  key: SessionLimit['key'];
  rep: number;
  seconds: number;
  /** sshd's "Accepted publickey" lines during the deploy. */
  logins: number;
  /** sshd's "Starting session:" lines during the deploy. */
  sessions: number;
  /** How many times the deploy's log said what the server allows. */
  limitLines: number;
  steps: Record<string, number>;
  /** Log lines that warned or failed, other than the limit line (for the notes). */
  warnings: string[];
}

export interface MaxSessionsResult {
  reps: number;
  shape: { delayMs: number; mbit: number };
  runs: MaxSessionsRun[];
  gaveUp: Array<{ key: SessionLimit['key']; rep: number; reason: string }>;
  failures: string[];
  attempts: Record<string, number>;
  load: { start: number; end: number };
}

/** What the targets read: each sshd's median seconds (undefined: no run, or a run failed). */
export interface MaxSessionsValues {
  /** The relays' delay each way (ms). */
  delayMs: number;
  medians: Partial<Record<SessionLimit['key'], number>>;
  /** Why a row has no median. */
  missing: Partial<Record<SessionLimit['key'], string>>;
}

const ATTEMPTS = 2;

const startingSessions = (server: SshServer) => (readFileSync(server.logFile, 'utf8').match(/Starting session:/g) ?? []).length;

/** Lines of a deploy's log that look like trouble: a warning, an error, a retry (the limit line aside). */
const TROUBLE = /warn|error|fail|retry|again|refused|timed? ?out/i;

export function maxSessionsValues(result: MaxSessionsResult): MaxSessionsValues {
  const values: MaxSessionsValues = { delayMs: result.shape.delayMs, medians: {}, missing: {} };
  for (const { key } of LIMITS) {
    const gaveUp = result.gaveUp.filter((g) => g.key === key);
    const runs = result.runs.filter((r) => r.key === key);
    if (gaveUp.length) values.missing[key] = `FAILED: ${gaveUp[0].reason}`;
    else if (!runs.length) values.missing[key] = 'no runs';
    else values.medians[key] = median(runs.map((r) => r.seconds));
  }
  return values;
}

export async function maxSessions(input: MeasurementInput): Promise<{ section: Section; values: MaxSessionsValues }> {
  const { ctx, say } = input;
  const reps = intEnv('BENCH_MAXSESSIONS_RUNS', 3, 1);
  const shape = { delayMs: intEnv('BENCH_WAN_DELAY_MS', 25, 1), mbit: intEnv('BENCH_WAN_MBIT', 100, 1) };
  const result: MaxSessionsResult = {
    reps,
    shape,
    runs: [],
    gaveUp: [],
    failures: [],
    attempts: {},
    load: { start: os.loadavg()[0], end: NaN },
  };
  const home: TestHome = { ...ctx.home, publicKey: readFileSync(`${ctx.home.key}.pub`, 'utf8').trim() };
  const servers: SshServer[] = [];
  const links: Link[] = [];
  const base = path.join(ctx.workDir, 'roots', 'max-sessions');
  const deployLog = path.join(ctx.workDir, 'logs', 'max-sessions.log');
  writeFileSync(deployLog, '');
  const project = projectFor(ctx, input.install, 'max-sessions');
  try {
    for (const limit of LIMITS) {
      const server = await startSshd(home, {
        name: `hardened-${limit.key}`,
        config: [...input.sshdConfig, ...(limit.limit === undefined ? [] : [`MaxSessions ${limit.limit}`])],
      });
      trust(home, server);
      servers.push(server);
      const link = await startLink(server.port, { delayMs: shape.delayMs, bytesPerSecond: (shape.mbit * 1e6) / 8 });
      // The relay shows the sshd's host key at its own port.
      appendFileSync(ctx.home.knownHosts, `[127.0.0.1]:${link.port} ${server.hostKey}\n`);
      links.push(link);
    }
    say(
      `max sessions: sshd ${LIMITS.map((l, i) => `${l.label} on ${servers[i].port} (relay ${links[i].port})`).join('; ')}; ${shape.delayMs} ms each way, ${shape.mbit} Mbit/s; ${reps} rep(s)`,
    );
    // One untimed deploy, direct to the default sshd: the project's local caches (asset hashes) are
    // then as warm for the first timed run as for the others.
    const warm = await freshRoot(path.join(base, 'warm-up'));
    project.configure([{ name: 'hardened', port: servers[0].port, root: warm }]);
    await project.deploy();
    rmSync(base, { recursive: true, force: true });

    for (let rep = 1; rep <= reps; rep++)
      for (const [i, limit] of LIMITS.entries()) {
        const server = servers[i];
        const what = `${limit.label}, run ${rep}/${reps}`;
        try {
          const run = await retrying(
            `max sessions, ${what}`,
            result.failures,
            input,
            async (): Promise<MaxSessionsRun> => {
              result.attempts[limit.key] = (result.attempts[limit.key] ?? 0) + 1;
              const root = await freshRoot(path.join(base, limit.key));
              project.configure([{ name: 'hardened', port: links[i].port, root }]);
              spawnSync('sync');
              const logins = acceptedLogins(server);
              const sessions = startingSessions(server);
              try {
                const o = await project.deploy();
                const text = o.lines.map((l) => l.text);
                appendFileSync(deployLog, `--- ${what}: ${o.seconds.toFixed(2)} s\n${text.join('\n')}\n`);
                verifyDeploy(ctx.fixture, root, 'live');
                const row = o.report.servers[0];
                if (o.report.servers.length !== 1 || row.result !== 'deployed') throw new Error(`${what}: the report says ${row?.result}`);
                const said = limitLines(text);
                const problem = limitLineProblem(limit, said);
                if (problem) throw new Error(`${what}: ${problem}`);
                return {
                  key: limit.key,
                  rep,
                  seconds: o.seconds,
                  logins: acceptedLogins(server) - logins,
                  sessions: startingSessions(server) - sessions,
                  limitLines: said.length,
                  steps: row.steps,
                  warnings: text.filter((t) => TROUBLE.test(t) && !ANY_LIMIT_LINE.test(t)),
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
            `max sessions: ${what}: ${run.seconds.toFixed(2)} s, ${run.logins} login(s), ${run.sessions} session(s) started${run.warnings.length ? `, ${run.warnings.length} warning line(s)` : ''}`,
          );
        } catch (error) {
          const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 200);
          result.gaveUp.push({ key: limit.key, rep, reason });
          say(`max sessions: ${what}: given up after ${ATTEMPTS} failed attempts: ${reason}`);
        }
      }
  } finally {
    rmSync(base, { recursive: true, force: true });
    for (const link of links) await link.stop();
    await Promise.all(servers.map((s) => s.stop()));
    for (const s of servers) rmSync(s.dir, { recursive: true, force: true });
    result.load.end = os.loadavg()[0];
  }
  const values = maxSessionsValues(result);
  return { section: maxSessionsSection(result, values), values };
}

const range = (values: number[], digits = 2) =>
  values.length ? `${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}` : 'n/a';

/** "1" or "1–2": a count's range over the runs. */
const countRange = (values: number[]) => {
  if (!values.length) return 'n/a';
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  return lo === hi ? String(lo) : `${lo}–${hi}`;
};

export function maxSessionsSection(result: MaxSessionsResult, values: MaxSessionsValues): Section {
  const { shape } = result;
  const base = values.medians.default;
  const rows = LIMITS.map((limit): string[] => {
    const runs = result.runs.filter((r) => r.key === limit.key);
    const gaveUp = result.gaveUp.filter((g) => g.key === limit.key).length;
    const tried = result.attempts[limit.key] ?? 0;
    const head = [limit.label, gaveUp ? `${runs.length} (${gaveUp} given up)` : String(runs.length), `${tried - runs.length}/${tried}`];
    const seconds = runs.map((r) => r.seconds);
    const m = values.medians[limit.key];
    return [
      ...head,
      m === undefined ? (values.missing[limit.key] ?? 'n/a') : `${fmt(m)} (${range(seconds)})`,
      m === undefined || base === undefined ? 'n/a' : `${(m / base).toFixed(2)}×`,
      runs.length ? `${median(runs.map((r) => r.logins))} (${countRange(runs.map((r) => r.logins))})` : 'n/a',
      runs.length ? `${median(runs.map((r) => r.sessions))} (${countRange(runs.map((r) => r.sessions))})` : 'n/a',
      limit.limit === undefined ? 'none (as expected)' : runs.length ? `${countRange(runs.map((r) => r.limitLines))} per deploy` : 'n/a',
    ];
  });
  const stepNames = [...new Set(result.runs.flatMap((r) => Object.keys(r.steps)))];
  const stepsNote = LIMITS.map((limit) => {
    const runs = result.runs.filter((r) => r.key === limit.key);
    if (!runs.length) return `${limit.label}: no runs`;
    return `${limit.label}: ${stepNames.map((s) => `${s} ${fmt(median(runs.map((r) => r.steps[s] ?? NaN)))}`).join(', ')}`;
  }).join('; ');
  const warnings = [...new Set(result.runs.flatMap((r) => r.warnings.map((w) => `${r.key}: ${w.trim().slice(0, 160)}`)))];
  return {
    key: 'maxSessions',
    title: `A hardened sshd: MaxSessions 2 and 1 against the default, first deploy at ${shape.delayMs} ms each way (${shape.mbit} Mbit/s)`,
    header: [
      'sshd',
      'runs',
      'failed attempts',
      'time s (median; range)',
      '× default',
      'SSH logins (median; range)',
      'sessions started (median; range)',
      'limit line',
    ],
    rows,
    notes: [
      `gulp-attache's full first deploy (the "full first deploy" case's project and fixture) onto a fresh root, to three sshds of this measurement's own on loopback (support/sshd.ts; \`MaxSessions 2\`, \`MaxSessions 1\` or none in sshd_config), each behind a relay of its own (bench/wan/relay.ts: each direction paced to ${shape.mbit} Mbit/s and delayed ${shape.delayMs} ms, order kept); ${result.reps} rep(s), round-robin over the sshds, after one untimed deploy direct to the default sshd; medians, the range in brackets. Every deploy is checked whole (bench/verify.ts), and the deploy's log must say once what a limited server allows ("the server allows N session(s) per SSH connection (MaxSessions N)") and say nothing of it for the default: a run that does not fails.`,
      'SSH logins: sshd\'s "Accepted publickey" lines (with MaxSessions 1 the commands take a second connection: 2 per deploy). sessions started: sshd\'s "Starting session:" lines (the SFTP subsystem, the persistent shells, each streamed upload or standby channel); a channel the server refuses (how the deploy learns the limit) is not logged at LogLevel VERBOSE. The deploy report has no channel count.',
      `Step seconds (medians, from each deploy's report): ${stepsNote}.`,
      `Load average (1 min) ${result.load.start.toFixed(2)}–${result.load.end.toFixed(2)}; each deploy's log is in bench/.work/logs/max-sessions.log.`,
      ...(warnings.length
        ? [
            `Warning-like lines in the deploys' logs (besides the limit line): ${warnings.slice(0, 6).join(' | ')}${warnings.length > 6 ? ` | … (${warnings.length} in all)` : ''}`,
          ]
        : []),
      ...(result.failures.length
        ? [
            `Failed attempts (each made again from a fresh root, ${ATTEMPTS} at most): ${result.failures
              .slice(0, 4)
              .map((f) => (f.length > 200 ? `${f.slice(0, 200)}…` : f))
              .join('; ')}${result.failures.length > 4 ? `; … (${result.failures.length} in all)` : ''}`,
          ]
        : []),
    ],
    data: result,
  };
}
