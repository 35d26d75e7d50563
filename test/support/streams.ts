import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Vinyl from 'vinyl';

/**
 * Stream plumbing for the plugin tests: feeding vinyl files into a plugin chain and collecting what
 * comes out, gulp's API (gulp has no type declarations here), child node processes that run a
 * gulpfile-like script or read a path in a tight loop while a test changes it.
 */

export const REPO_ROOT = path.resolve(__dirname, '../..');

/** The part of gulp's API the tests use. */
export interface Gulp {
  src(
    globs: string | string[],
    options?: { cwd?: string; base?: string; buffer?: boolean; encoding?: string | false; dot?: boolean },
  ): NodeJS.ReadableStream;
  series(...tasks: Array<(done: (error?: unknown) => void) => unknown>): (done: (error?: unknown) => void) => void;
  on(event: 'error', listener: (event: unknown) => void): unknown;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const gulp: Gulp = require('gulp');
// gulp re-emits a failed task as an 'error' event; the gulp CLI listens (and logs), so do we: the
// failure itself reaches the series callback.
gulp.on('error', () => undefined);

/** Runs a gulp task function the way the gulp CLI would (gulp.series), resolving or rejecting with its outcome. */
export function runTask(task: (done: (error?: unknown) => void) => unknown): Promise<void> {
  return new Promise((resolve, reject) => gulp.series(task)((error?: unknown) => (error ? reject(error) : resolve())));
}

/** An object stream of the given files. */
export function fromFiles(files: Vinyl[]): Readable {
  return Readable.from(files);
}

/**
 * Pipes `source` through `transforms` into a sink and resolves with every object that came out of
 * the last one, once the chain has ended; rejects with the first error of any stream.
 */
export async function collect(source: NodeJS.ReadableStream, ...transforms: NodeJS.ReadWriteStream[]): Promise<Vinyl[]> {
  const out: Vinyl[] = [];
  const sink = new Writable({
    objectMode: true,
    write(file: Vinyl, _encoding, done) {
      out.push(file);
      done();
    },
  });
  await (pipeline as (...streams: unknown[]) => Promise<void>)(source, ...transforms, sink);
  return out;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every regular file under `dir`, as forward-slash paths relative to it. */
export function listFiles(dir: string, prefix = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...listFiles(dir, relative));
    else found.push(relative);
  }
  return found;
}

/**
 * Runs a CommonJS script (TypeScript allowed, through tsx) in a child node process from the repo
 * root, so that `require('./src/…')` and `require('gulp')` resolve. Synchronous: the child's own
 * event loop decides when it exits, which is what the exit tests check.
 */
export function runScript(
  script: string,
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): SpawnSyncReturns<string> & { ms: number } {
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    timeout: options.timeoutMs ?? 20_000,
    encoding: 'utf8',
  });
  return Object.assign(result, { ms: Date.now() - started });
}

export interface LoopReport {
  /** Reads made while the test ran. */
  reads: number;
  /** Reads that threw, and a few of their messages. */
  errors: number;
  errorSamples: string[];
  /** What was seen (a link's target, or a file's sha256) and how often. */
  seen: Record<string, number>;
}

export interface LoopReader {
  /** Stops the loop and returns what it saw. */
  stop(): Promise<LoopReport>;
}

/**
 * A separate node process that reads `target` in a tight loop — `readlink` (the link's value) or
 * `sha256` (readFileSync and hash) — until told to stop, and once more after that. Resolves once it
 * has made its first read.
 */
export async function startLoopReader(mode: 'readlink' | 'sha256', target: string, stopFile: string): Promise<LoopReader> {
  const script = `
    const fs = require('node:fs');
    const crypto = require('node:crypto');
    const [mode, target, stopFile] = process.argv.slice(1);
    const report = { reads: 0, errors: 0, errorSamples: [], seen: {} };
    const readOnce = () => {
      try {
        const value = mode === 'readlink' ? fs.readlinkSync(target) : crypto.createHash('sha256').update(fs.readFileSync(target)).digest('hex');
        report.seen[value] = (report.seen[value] || 0) + 1;
      } catch (error) {
        report.errors++;
        if (report.errorSamples.length < 5) report.errorSamples.push(String(error && error.message));
      }
      report.reads++;
    };
    readOnce();
    process.stdout.write('ready\\n');
    const batch = mode === 'readlink' ? 200 : 1;
    while (!fs.existsSync(stopFile)) for (let i = 0; i < batch; i++) readOnce();
    readOnce(); // once more after the test's last change
    process.stdout.write(JSON.stringify(report) + '\\n');
  `;
  return startWatcher<LoopReport>(script, [mode, target, stopFile], stopFile, 'the reader');
}

/**
 * Runs `node -e script ...args` as a watcher process: resolves once it prints "ready", and its
 * stop() creates the stop file, waits for the exit and parses the JSON it printed after "ready".
 */
export async function startWatcher<T>(script: string, args: string[], stopFile: string, what: string): Promise<{ stop(): Promise<T> }> {
  const child = spawn(process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (stdout.includes('ready\n')) {
        child.stdout.off('data', check);
        resolve();
      }
    };
    child.stdout.on('data', check);
    exited.then((code) => reject(new Error(`${what} exited (${code}) before it started: ${stderr}`)));
  });
  return {
    async stop() {
      writeFileSync(stopFile, '');
      const code = await exited;
      if (code !== 0) throw new Error(`${what} failed (exit ${code}): ${stderr}`);
      return JSON.parse(stdout.slice(stdout.indexOf('ready\n') + 6).trim()) as T;
    },
  };
}

/** A mark in an sshd log (see sshd.ts), to look at what happened after it. */
export function logMark(logFile: string): number {
  return readFileSync(logFile, 'utf8').length;
}

/**
 * The SSH logins sshd logged after `mark`, by client port, and whether each has disconnected
 * ("Disconnected from user …" is logged when the client closes the connection).
 */
export function loginsSince(logFile: string, mark: number): Array<{ port: number; disconnected: boolean }> {
  const log = readFileSync(logFile, 'utf8').slice(mark);
  return [...log.matchAll(/Accepted publickey for \S+ from \S+ port (\d+)/g)].map((match) => ({
    port: Number(match[1]),
    disconnected: new RegExp(`Disconnected from user \\S+ \\S+ port ${match[1]}\\b`).test(log),
  }));
}

/** Polls `condition` every 50 ms; fails the test after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
