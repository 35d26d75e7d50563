import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { attache, type AttacheOptions, type AttacheTasks } from '../../src/preset';
import { buildAssets, createAppRepository, tempDir, type AppRepository } from './fixtures';
import { captureLogger } from './log';
import type { SshServer } from '../../support/sshd';
import { quote } from '../../src/remote/quote';
import { readLink, releaseIds } from './preset';
import { runTask, startWatcher } from './streams';

export type TaskName = Exclude<keyof AttacheTasks, 'steps' | 'report'>;

/**
 * A fleet for the multi-server tests: one project (the example app as a git repository, its assets
 * built) whose `.attache.json` names several servers, each a real sshd on loopback with its own
 * root directory (they all live on this machine, so the roots must differ). The config can be
 * rewritten between deploys (hooks on one server only, a bad composer on another).
 */

export interface FleetResult {
  lines: string[];
}

export interface Fleet {
  repo: AppRepository;
  /** The project directory: .attache.json and the built assets. */
  cwd: string;
  names: string[];
  /** Each server's root directory, by server name. */
  roots: Record<string, string>;
  /** A directory outside every root for the test's own files (hook timestamps, stop files). */
  scratch: string;
  /**
   * Rewrites .attache.json: every server with `common` merged in, then its own entry from
   * `perServer`, plus `groups` (default { web: all names }).
   */
  configure(perServer?: Record<string, Record<string, unknown>>, top?: Record<string, unknown>): void;
  run(task: TaskName, flags?: string[], options?: Partial<AttacheOptions>): Promise<FleetResult>;
  fail(task: TaskName, flags?: string[], options?: Partial<AttacheOptions>): Promise<FleetResult & { error: Error }>;
  releases(name: string): string[];
  live(name: string): string | null;
  liveId(name: string): string | null;
  locked(name: string): boolean;
  /** A snapshot of every server: live, releases, lock. */
  state(): Record<string, { live: string | null; releases: string[]; locked: boolean }>;
}

export interface FleetOptions {
  /** Server name -> its sshd. */
  servers: Record<string, SshServer>;
  /** Settings every server gets (below its own). */
  common?: Record<string, unknown>;
}

export function createFleet(options: FleetOptions): Fleet {
  const repo = createAppRepository();
  buildAssets(repo.work);
  const cwd = repo.work;
  const names = Object.keys(options.servers);
  const base = tempDir('attache-fleet-');
  const roots = Object.fromEntries(names.map((name) => [name, path.join(base, name, 'root')]));
  const scratch = path.join(base, 'scratch');
  mkdirSync(scratch);
  const configFile = path.join(cwd, '.attache.json');

  const start = (task: TaskName, flags: string[], extra: Partial<AttacheOptions>) => {
    const { log, lines } = captureLogger('normal');
    const tasks = attache({ cwd, argv: ['node', 'gulp', task, ...flags], logger: log, ...extra });
    return { promise: runTask(tasks[task]), lines };
  };

  const fleet: Fleet = {
    repo,
    cwd,
    names,
    roots,
    scratch,
    configure(perServer = {}, top = {}) {
      const servers = Object.fromEntries(
        names.map((name) => {
          const sshd = options.servers[name];
          return [
            name,
            {
              host: '127.0.0.1',
              port: sshd.port,
              user: 'root',
              root: roots[name],
              scripts: { build: [] },
              ...options.common,
              ...perServer[name],
            },
          ];
        }),
      );
      writeFileSync(
        configFile,
        JSON.stringify({ repository: 'file://' + repo.bare, servers, groups: { web: names }, ...top }, null, 4) + '\n',
      );
    },
    async run(task, flags = [], extra = {}) {
      const { promise, lines } = start(task, flags, extra);
      try {
        await promise;
      } catch (error) {
        if (error instanceof Error) error.message += `\n--- log of "${task} ${flags.join(' ')}":\n${lines.join('\n')}`;
        throw error;
      }
      return { lines };
    },
    async fail(task, flags = [], extra = {}) {
      const { promise, lines } = start(task, flags, extra);
      try {
        await promise;
      } catch (error) {
        return { error: error as Error, lines };
      }
      throw new Error(`"${task} ${flags.join(' ')}" was expected to fail, and succeeded. Its log:\n${lines.join('\n')}`);
    },
    releases: (name) => releaseIds(roots[name]),
    live: (name) => readLink(path.join(roots[name], 'live')),
    liveId(name) {
      const link = fleet.live(name);
      return link === null ? null : path.basename(link);
    },
    locked: (name) => existsSync(path.join(roots[name], '.attache-lock')),
    state: () =>
      Object.fromEntries(
        names.map((name) => [name, { live: fleet.live(name), releases: fleet.releases(name), locked: fleet.locked(name) }]),
      ),
  };
  fleet.configure();
  return fleet;
}

export interface LinkChange {
  at: number;
  /** The link's value; `(directory)` when the path became a real directory, `(missing)` when absent. */
  value: string;
}

export interface LinkWatcher {
  /** Stops watching; returns each link's changes (its initial value is not a change), by link path. */
  stop(): Promise<Record<string, LinkChange[]>>;
}

/**
 * A separate node process that reads several links in a tight loop (a fraction of a millisecond
 * apart, so it leaves the deploy a CPU) and records the wall-clock time of every change it sees.
 * Times come from CLOCK_REALTIME (performance.timeOrigin + now()), as `date +%s.%N` in a hook does.
 */
export async function watchLinks(links: string[], stopFile: string): Promise<LinkWatcher> {
  const script = `
    const fs = require('node:fs');
    const { performance } = require('node:perf_hooks');
    const [stopFile, ...links] = process.argv.slice(1);
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const read = (link) => {
      try { return fs.readlinkSync(link); } catch (error) {
        if (error.code === 'ENOENT') return '(missing)';
        if (error.code === 'EINVAL') { try { return fs.lstatSync(link).isDirectory() ? '(directory)' : '(file)'; } catch { return '(missing)'; } }
        return '(' + error.code + ')';
      }
    };
    const last = links.map(read);
    const changes = Object.fromEntries(links.map((l) => [l, []]));
    process.stdout.write('ready\\n');
    let round = 0;
    for (;;) {
      const now = performance.timeOrigin + performance.now();
      links.forEach((link, i) => {
        const value = read(link);
        if (value !== last[i]) { last[i] = value; changes[link].push({ at: now, value }); }
      });
      if (++round % 50 === 0 && fs.existsSync(stopFile)) break;
      Atomics.wait(sleeper, 0, 0, 0.2);
    }
    process.stdout.write(JSON.stringify(changes) + '\\n');
  `;
  return startWatcher<Record<string, LinkChange[]>>(script, [stopFile, ...links], stopFile, 'the link watcher');
}

/** A hook command that appends `<label> <epoch seconds.nanoseconds>` to `file` (after `delay` seconds). */
export function stampHook(file: string, label: string, delay = 0): string {
  return `${delay ? `sleep ${delay} && ` : ''}echo "${label} $(date +%s.%N)" >> ${quote(file)}`;
}

/** The stamps a file of stampHook lines holds: label -> ms since the epoch (the last stamp of each label). */
export function readStamps(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const [label, seconds] = line.split(' ');
    out[label] = Number(seconds) * 1000;
  }
  return out;
}

/** The part of an sshd log written after `mark` (a length from logMark). */
export function logSince(logFile: string, mark: number): string {
  return readFileSync(logFile, 'utf8').slice(mark);
}

/** The pids of an sshd's per-connection processes (its children): one per open SSH connection. */
export function sessionPids(sshd: SshServer): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === sshd.pid) pids.push(Number(entry));
    } catch {} // gone meanwhile
  }
  return pids;
}

/**
 * Stops an sshd and the connections it still serves. Stopping the listener alone leaves them open
 * (sshd -D's session processes outlive it), and a connection a deploy forgot to close would then
 * keep the test process alive for ever.
 */
export async function stopWithSessions(sshd: SshServer): Promise<void> {
  const sessions = sessionPids(sshd);
  await sshd.stop();
  for (const pid of sessions) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
}
