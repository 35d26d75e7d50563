/**
 * gulp-attache as its users run it: the repository packed with `npm pack` and installed with gulp
 * into a project of its own (bench/.work/user/), and every deploy a whole `gulp deploy` process in a
 * project directory under it (node, gulp-cli, the gulpfile's require of gulp-attache included), as
 * the peers are timed as whole processes.
 *
 *   bench/.work/user/package.json, node_modules/   `npm install <packed tgz> gulp@5` (cached: redone
 *                                                  only when the packed tarball's bytes change)
 *   bench/.work/user/projects/<name>/              gulpfile.js (the README's), .attache.json
 *
 * Node and gulp-cli find gulp and gulp-attache from a project by walking up to user/node_modules.
 * Each deploy passes `--report=<file>` and reads the DeployReport it writes (bench/deploy-report.ts);
 * its log lines are kept with the time each arrived (for step overlap and swap spreads).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { readReport, type DeployReport } from './deploy-report';
import { spawnChecked, timedEnv } from './proc';

const REPO_ROOT = path.resolve(__dirname, '..');

export interface UserInstall {
  /** bench/.work/user */
  dir: string;
  /** node_modules/.bin/gulp (gulp-cli) */
  gulpBin: string;
  /** The packed tarball installed, and its sha256 (first 12 hex digits). */
  tarball: string;
  hash: string;
  versions: { gulpAttache: string; gulp: string; gulpCli: string };
  /** Whether the install was already there for this tarball. */
  reused: boolean;
  installSeconds: number;
}

function version(dir: string, name: string): string {
  const file = path.join(dir, 'node_modules', name, 'package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : 'missing';
}

/** `npm pack` of the repository (dist/ must be built), then `npm install <tgz> gulp@5` unless this tarball is installed already. */
export async function ensureUserInstall(workDir: string, logFile?: string): Promise<UserInstall> {
  const dir = path.join(workDir, 'user');
  const packDir = path.join(workDir, 'pack');
  rmSync(packDir, { recursive: true, force: true });
  mkdirSync(packDir, { recursive: true });
  mkdirSync(dir, { recursive: true });
  await spawnChecked('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: REPO_ROOT, logFile });
  const packed = readdirSync(packDir).find((f) => f.endsWith('.tgz'));
  if (!packed) throw new Error(`npm pack wrote no .tgz into ${packDir}`);
  const bytes = readFileSync(path.join(packDir, packed));
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  // A name per content: npm would otherwise take a changed tarball at the same path for the one in its lock.
  const tarball = path.join(dir, `gulp-attache-${hash}.tgz`);
  const stamp = path.join(dir, '.installed');
  const t0 = performance.now();
  const reused =
    existsSync(stamp) &&
    readFileSync(stamp, 'utf8') === hash &&
    version(dir, 'gulp-attache') !== 'missing' &&
    version(dir, 'gulp') !== 'missing';
  if (!reused) {
    for (const f of readdirSync(dir)) if (/^gulp-attache-.*\.tgz$/.test(f)) rmSync(path.join(dir, f));
    renameSync(path.join(packDir, packed), tarball);
    if (!existsSync(path.join(dir, 'package.json')))
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'attache-bench-user', private: true }, null, 2) + '\n');
    rmSync(path.join(dir, 'node_modules', 'gulp-attache'), { recursive: true, force: true });
    await spawnChecked('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball, 'gulp@5'], { cwd: dir, logFile });
    writeFileSync(stamp, hash);
  }
  rmSync(packDir, { recursive: true, force: true });
  return {
    dir,
    gulpBin: path.join(dir, 'node_modules', '.bin', 'gulp'),
    tarball,
    hash,
    versions: { gulpAttache: version(dir, 'gulp-attache'), gulp: version(dir, 'gulp'), gulpCli: version(dir, 'gulp-cli') },
    reused,
    installSeconds: (performance.now() - t0) / 1000,
  };
}

export interface LogLine {
  /** performance.now() when the line arrived from the process (ms). */
  t: number;
  /** Date.now() then. */
  wall: number;
  /** The line without fancy-log's "[HH:MM:SS] " prefix. */
  text: string;
  /** Whether it had that prefix (the first line of a log entry) or continues the entry before it. */
  entry: boolean;
}

export interface DeployOutcome {
  /** Wall seconds of the whole `gulp deploy` process, spawn to exit. */
  seconds: number;
  lines: LogLine[];
  report: DeployReport;
  /** Step -> when its "step…" and "step done in" lines arrived (ms, performance.now()). */
  steps: Record<string, { start: number; end: number }>;
  /** One entry per server whose live link was swapped: when the swap line arrived. */
  swaps: Array<{ server: string; t: number; wall: number }>;
}

export interface ServerEntry {
  name: string;
  port: number;
  root: string;
  /** More keys of this server's entry (e.g. `composer: { reuseVendor: false }`, `peerAddress`). */
  extra?: Record<string, unknown>;
}

export interface ProjectOptions {
  /** file:// URL of the deploy repository. */
  repository: string;
  branch: string;
  /** Local build output dir (absolute) -> path in the release, e.g. { "/…/build/public/js": "public/js" }. */
  assets: Record<string, string>;
  /** Each server's `"strategy"`; unset: none written (the default, clone). */
  strategy?: 'clone' | 'artifact';
  /** The local build commands; unset: none (the fixture's build output is there already). */
  build?: string[];
}

const GULPFILE = `const { attache } = require('gulp-attache');

const { deploy, rollback, activate, releases, prune, unlock } = attache();
module.exports = { deploy, rollback, activate, releases, prune, unlock };
`;

const STAMP = /^\[\d\d:\d\d:\d\d\] /;

/**
 * A project directory (bench/.work/user/projects/<name>) with the README's gulpfile and an
 * `.attache.json` whose assets are the fixture's build output by absolute path. `configure()`
 * rewrites the config (untimed, in a case's setup); `deploy()` runs `gulp deploy` in it.
 */
export class UserProject {
  readonly dir: string;
  readonly configFile: string;
  private reports = 0;

  constructor(
    private readonly install: UserInstall,
    name: string,
    private readonly options: ProjectOptions,
  ) {
    this.dir = path.join(install.dir, 'projects', name);
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(path.join(this.dir, 'gulpfile.js'), GULPFILE);
    this.configFile = path.join(this.dir, '.attache.json');
  }

  /** One server entry per sshd (or link) and root; the first is the default. `top`: more top-level keys (e.g. `rollout`). */
  configure(servers: ServerEntry[], top: Record<string, unknown> = {}): void {
    const entries = Object.fromEntries(
      servers.map((s) => [
        s.name,
        {
          host: '127.0.0.1',
          port: s.port,
          user: 'root',
          root: s.root,
          branch: this.options.branch,
          // The assets are built already (the fixture's build output): no local build step, unless asked for.
          scripts: { build: this.options.build ?? [] },
          assets: this.options.assets,
          ...(this.options.strategy && { strategy: this.options.strategy }),
          ...s.extra,
        },
      ]),
    );
    const config = { repository: this.options.repository, ...top, default: servers[0].name, servers: entries };
    writeFileSync(this.configFile, JSON.stringify(config, null, 4) + '\n');
  }

  /** `gulp deploy --report=<file> [flags]` as a process. Rejects if it exits non-zero, with the tail of its log. */
  async deploy(flags: string[] = []): Promise<DeployOutcome> {
    const reportFile = path.join(this.dir, '.reports', `deploy-${++this.reports}.json`);
    mkdirSync(path.dirname(reportFile), { recursive: true });
    rmSync(reportFile, { force: true });
    const lines: LogLine[] = [];
    const started = performance.now();
    const child = spawn(this.install.gulpBin, ['deploy', `--report=${reportFile}`, ...flags], {
      cwd: this.dir,
      env: timedEnv({ FORCE_COLOR: '0', NO_COLOR: '1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (stream: NodeJS.ReadableStream) => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const t = performance.now();
        const wall = Date.now();
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() as string;
        for (const raw of parts) lines.push({ t, wall, text: raw.replace(STAMP, ''), entry: STAMP.test(raw) });
      });
      stream.on('end', () => {
        if (rest) lines.push({ t: performance.now(), wall: Date.now(), text: rest.replace(STAMP, ''), entry: STAMP.test(rest) });
      });
    };
    collect(child.stdout);
    collect(child.stderr);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, signal) => resolve(c ?? (signal ? -1 : null)));
    });
    const seconds = (performance.now() - started) / 1000;
    const log = () => lines.map((l) => l.text).join('\n');
    if (code !== 0)
      throw new Error(
        `gulp deploy in ${this.dir} exited with ${code}: ${lines
          .slice(-6)
          .map((l) => l.text.trim())
          .filter(Boolean)
          .join(' | ')}\n--- its log:\n${log()}`,
      );
    const report = readReport(reportFile);
    return { seconds, lines, report, steps: stepEvents(lines), swaps: swapEvents(lines) };
  }
}

/** Step start/end times from the runner's lines: "clone…" and "clone done in 0.3 s". */
function stepEvents(lines: LogLine[]): Record<string, { start: number; end: number }> {
  const steps: Record<string, { start: number; end: number }> = {};
  for (const line of lines) {
    const start = /^([a-z]+)…$/.exec(line.text);
    if (start) steps[start[1]] = { start: line.t, end: NaN };
    const end = /^([a-z]+) done in [\d.]+ s$/.exec(line.text);
    if (end && steps[end[1]]) steps[end[1]].end = line.t;
  }
  return steps;
}

/** The swap plugin's line, written right after a server's rename and its check: "[web1] /root/live -> releases/<id> (was …)". */
function swapEvents(lines: LogLine[]): Array<{ server: string; t: number; wall: number }> {
  const out: Array<{ server: string; t: number; wall: number }> = [];
  for (const line of lines) {
    const match = /^\[([^\]]+)\] \S+ -> releases\/\S+ \(was /.exec(line.text);
    if (match) out.push({ server: match[1], t: line.t, wall: line.wall });
  }
  return out;
}
