/**
 * gulp-attache's side of the benchmark: a project directory with a `.attache.json` for the fixture,
 * and a deploy that runs the real preset (src/preset.ts) the way the gulp CLI would, with its log
 * captured line by line and time-stamped, so that a case can read the deploy summary (per-step
 * timings, uploaded and skipped bytes), when each step started and ended, and when each server's
 * live link was swapped.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../src/log';
import { attache, type GulpLike, type TaskFunction } from '../src/preset';
import { handshakeCount } from '../src/ssh/session';

/** gulp, as a gulpfile has it (gulp has no usable type declarations for what the preset needs). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const gulp = require('gulp') as GulpLike & {
  src(globs: string | string[], options?: Record<string, unknown>): NodeJS.ReadableStream;
  on(event: 'error', listener: (event: unknown) => void): unknown;
};
// gulp re-emits a failed task as an 'error' event (the gulp CLI listens and logs); the failure
// itself reaches the series callback.
gulp.on('error', () => undefined);

/** Runs a gulp task function as the gulp CLI would. */
export function runTask(task: TaskFunction): Promise<void> {
  return new Promise((resolve, reject) => gulp.series(task)((error?: Error) => (error ? reject(error) : resolve())));
}

export interface LogLine {
  /** performance.now() when the line was written (ms). */
  t: number;
  /** Date.now() when the line was written (ms since the epoch). */
  wall: number;
  level: 'info' | 'warn' | 'error';
  text: string;
}

export interface SummaryRow {
  server: string;
  result: string;
  release: string;
  /** Step -> seconds, as the summary prints them (0.1 s resolution). */
  timings: Record<string, number>;
  uploaded: { files: number; bytes: number };
  skipped: { files: number; bytes: number };
  live: string;
}

export interface DeployOutcome {
  /** Wall seconds of the whole task. */
  seconds: number;
  lines: LogLine[];
  summary: SummaryRow[];
  /** SSH handshakes this process made during the deploy (src/ssh/session.ts handshakeCount()). */
  handshakes: number;
  /** Step -> when it started and ended (ms, performance.now()), from the runner's "step…" and "step done in" lines. */
  steps: Record<string, { start: number; end: number }>;
  /** One entry per server whose live link was swapped: when the swap line was written. */
  swaps: Array<{ server: string; t: number; wall: number }>;
  /** performance.now() when the task started. */
  startedAt: number;
}

export interface ServerEntry {
  name: string;
  port: number;
  root: string;
}

export interface ProjectOptions {
  /** file:// URL of the deploy repository. */
  repository: string;
  branch: string;
  /** Local build output dir (absolute) -> path in the release, e.g. { "/…/build/public/js": "public/js" }. */
  assets: Record<string, string>;
}

/**
 * A project directory (bench/.work/gulp-attache/projects/<name>) holding only `.attache.json`: the
 * assets are the fixture's build output, named by absolute path. `configure()` rewrites the file
 * (untimed, in a case's setup); `deploy()` reads it, as `gulp deploy` does.
 */
export class AttacheProject {
  readonly configFile: string;

  constructor(
    readonly dir: string,
    private readonly options: ProjectOptions,
  ) {
    mkdirSync(dir, { recursive: true });
    this.configFile = path.join(dir, '.attache.json');
  }

  /** One server entry per sshd and root; the first is the default. */
  configure(servers: ServerEntry[]): void {
    const entries = Object.fromEntries(
      servers.map((s) => [
        s.name,
        {
          host: '127.0.0.1',
          port: s.port,
          user: 'root',
          root: s.root,
          branch: this.options.branch,
          // The assets are built already (the fixture's build output): no local build step.
          scripts: { build: [] },
          assets: this.options.assets,
        },
      ]),
    );
    const config = { repository: this.options.repository, default: servers[0].name, servers: entries };
    writeFileSync(this.configFile, JSON.stringify(config, null, 4) + '\n');
  }

  /** `gulp deploy [flags]` with the preset, its log captured. Rejects with the task's error, its log appended. */
  async deploy(flags: string[] = []): Promise<DeployOutcome> {
    const lines: LogLine[] = [];
    const logger = createLogger({
      verbosity: 'normal',
      interactive: false,
      write: (text, level) => lines.push({ t: performance.now(), wall: Date.now(), level, text }),
    });
    const tasks = attache({ cwd: this.dir, argv: ['node', 'gulp', 'deploy', ...flags], logger, gulp });
    const handshakesBefore = handshakeCount();
    const startedAt = performance.now();
    try {
      await runTask(tasks.deploy);
    } catch (error) {
      if (error instanceof Error) error.message += `\n--- log of the deploy:\n${lines.map((l) => l.text).join('\n')}`;
      throw error;
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const summaryLine = lines.find((l) => l.text.startsWith('deploy summary'));
    if (!summaryLine) throw new Error(`the deploy printed no summary:\n${lines.map((l) => l.text).join('\n')}`);
    return {
      seconds,
      lines,
      summary: parseSummary(summaryLine.text),
      handshakes: handshakeCount() - handshakesBefore,
      steps: stepEvents(lines),
      swaps: swapEvents(lines),
      startedAt,
    };
  }
}

/** Step start/end times from the runner's lines: "clone…" and "clone done in 0.3 s". */
export function stepEvents(lines: LogLine[]): Record<string, { start: number; end: number }> {
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
export function swapEvents(lines: LogLine[]): Array<{ server: string; t: number; wall: number }> {
  const out: Array<{ server: string; t: number; wall: number }> = [];
  for (const line of lines) {
    const match = /^\[([^\]]+)\] \S+ -> releases\/\S+ \(was /.exec(line.text);
    if (match) out.push({ server: match[1], t: line.t, wall: line.wall });
  }
  return out;
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

/** "397 files, 31.7 MB" -> { files: 397, bytes: 33239859 } (the summary rounds to 0.1 of a unit). */
export function parseFilesBytes(cell: string): { files: number; bytes: number } {
  const match = /^(\d+) files?, ([\d.]+) (B|KB|MB|GB)$/.exec(cell.trim());
  if (!match) throw new Error(`unexpected files/bytes cell in the deploy summary: "${cell}"`);
  return { files: Number(match[1]), bytes: Math.round(Number(match[2]) * UNITS[match[3]]) };
}

/**
 * The deploy summary (src/release/summary.ts) back into values. Its header cells are single words
 * and every column is padded to one width, so a column starts at the same offset on every row.
 */
export function parseSummary(text: string): SummaryRow[] {
  const [, header, ...rows] = text.split('\n');
  const columns = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], start: m.index as number }));
  const names = columns.map((c) => c.name);
  const fixed = new Set(['server', 'result', 'release', 'commit', 'uploaded', 'skipped', 'live']);
  // The last "live" is the link column; an earlier "live" is the step.
  const linkColumn = names.lastIndexOf('live');
  return rows
    .filter((row) => row.trim())
    .map((row) => {
      const cells = columns.map((c, i) => row.slice(c.start, i + 1 < columns.length ? columns[i + 1].start : undefined).trim());
      const cell = (name: string) => cells[names.indexOf(name)];
      const timings: Record<string, number> = {};
      columns.forEach((c, i) => {
        if (i === linkColumn || (fixed.has(c.name) && c.name !== 'live')) return;
        if (cells[i] !== '-') timings[c.name] = Number(cells[i].replace(/s$/, ''));
      });
      return {
        server: cell('server'),
        result: cell('result'),
        release: cell('release'),
        timings,
        uploaded: parseFilesBytes(cell('uploaded')),
        skipped: parseFilesBytes(cell('skipped')),
        live: cells[linkColumn],
      };
    });
}
