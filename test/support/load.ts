import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger, type Logger } from '../../src/log';
import { tempDir } from './fixtures';
import { httpGet } from './web';

/**
 * Load for the zero-downtime tests: a SEPARATE node process (so that the deploy in the test process
 * can neither slow it down nor hide its failures) that sends GETs with a bounded number of
 * concurrent clients, each on a fresh connection, and records every response. It stops when a
 * stop file appears or after a hard time limit, and writes its records as JSON on exit.
 */

/** One response, or one failed request: [started ms, ended ms, status (0 = no response), release ids in the body, error]. */
export type LoadRecord = [started: number, ended: number, status: number, releases: string[], error?: string];

export interface LoadSummary {
  url: string;
  requests: number;
  /** Requests without a response (connection refused/reset, timeout). */
  errors: number;
  /** Responses with a status other than 200. */
  non200: number;
  /** Responses whose body did not name exactly one release. */
  malformed: number;
  /** Release id → responses that named it. */
  seen: Record<string, number>;
  /** Whether it stopped at the hard time limit rather than at the stop file. */
  timedOut: boolean;
  startedAt: number;
  endedAt: number;
  /** The first few failures, with their body or error. */
  samples: string[];
  records: LoadRecord[];
}

export interface LoadOptions {
  url: string;
  /** Concurrent clients (default 8). */
  concurrency?: number;
  /** Pause of each client between its requests, ms (default 5): keeps the load bounded on a small machine. */
  pauseMs?: number;
  /** Hard limit, ms (default 120 000). */
  limitMs?: number;
}

export interface LoadGenerator {
  /** Requests recorded so far (as the generator reports them on stdout, about every 250 ms). */
  progress(): number;
  /** Stops the load (stop file), waits for the process to exit and returns what it saw. */
  stop(): Promise<LoadSummary>;
  pid: number;
}

const SCRIPT = String.raw`
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const [url, concurrency, pauseMs, limitMs, stopFile, outFile] = process.argv.slice(2);
const startedAt = Date.now();
const deadline = startedAt + Number(limitMs);
const summary = { url, requests: 0, errors: 0, non200: 0, malformed: 0, seen: {}, timedOut: false, startedAt, endedAt: 0, samples: [], records: [] };
const sample = (text) => { if (summary.samples.length < 20) summary.samples.push(text.slice(0, 400)); };
let stopping = false;
const shouldStop = () => {
  if (stopping) return true;
  if (fs.existsSync(stopFile)) stopping = true;
  else if (Date.now() > deadline) stopping = summary.timedOut = true;
  return stopping;
};
const once = () => new Promise((resolve) => {
  const started = Date.now();
  const record = (status, releases, error) => {
    summary.requests++;
    summary.records.push(error ? [started, Date.now(), status, releases, error] : [started, Date.now(), status, releases]);
    resolve();
  };
  const request = http.get(url, { agent: false, timeout: 5000, headers: { connection: 'close' } }, (response) => {
    const chunks = [];
    response.on('data', (chunk) => chunks.push(chunk));
    response.on('error', (error) => { summary.errors++; sample('response error: ' + error.message); record(response.statusCode || 0, [], error.message); });
    response.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const lines = body.split('\n').filter((line) => line.startsWith('release: '));
      const releases = lines.map((line) => line.slice('release: '.length).trim());
      for (const id of releases) summary.seen[id] = (summary.seen[id] || 0) + 1;
      if (response.statusCode !== 200) { summary.non200++; sample(response.statusCode + ': ' + body); }
      if (releases.length !== 1) { summary.malformed++; sample('not exactly one release line: ' + body); }
      record(response.statusCode, releases);
    });
  });
  request.on('timeout', () => request.destroy(new Error('timed out after 5 s')));
  request.on('error', (error) => { summary.errors++; sample('request error: ' + error.message); record(0, [], error.message); });
});
const client = async () => {
  while (!shouldStop()) {
    await once();
    if (Number(pauseMs) > 0) await new Promise((r) => setTimeout(r, Number(pauseMs)));
  }
};
const ticker = setInterval(() => process.stdout.write('requests ' + summary.requests + '\n'), 250);
Promise.all(Array.from({ length: Number(concurrency) }, client)).then(() => {
  clearInterval(ticker);
  summary.endedAt = Date.now();
  fs.writeFileSync(outFile, JSON.stringify(summary));
  process.stdout.write('done\n');
});
`;

/** Starts the load process and resolves once it has had its first responses. */
export async function startLoad(options: LoadOptions): Promise<LoadGenerator> {
  const dir = tempDir('attache-load-');
  const script = path.join(dir, 'load.js');
  const stopFile = path.join(dir, 'stop');
  const outFile = path.join(dir, 'summary.json');
  writeFileSync(script, SCRIPT);
  const args = [
    script,
    options.url,
    String(options.concurrency ?? 8),
    String(options.pauseMs ?? 5),
    String(options.limitMs ?? 120_000),
    stopFile,
    outFile,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let requests = 0;
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const counts = [...chunk.matchAll(/requests (\d+)/g)];
    if (counts.length) requests = Number(counts.at(-1)![1]);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // A test that throws before stop() must not leave the generator running.
  const kill = () => {
    try {
      process.kill(child.pid as number, 'SIGTERM');
    } catch {}
  };
  process.once('exit', kill);

  const deadline = Date.now() + 10_000;
  while (requests < 10) {
    if (child.exitCode !== null) throw new Error(`the load generator exited (${child.exitCode}) before it started: ${stderr}`);
    if (Date.now() > deadline) {
      kill();
      throw new Error(`the load generator made no requests within 10 s: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    pid: child.pid as number,
    progress: () => requests,
    async stop() {
      writeFileSync(stopFile, '');
      const code = await exited;
      process.off('exit', kill);
      if (code !== 0) throw new Error(`the load generator failed (exit ${code}): ${stderr}`);
      return JSON.parse(readFileSync(outFile, 'utf8')) as LoadSummary;
    },
  };
}

/** The release id a served page names (its one `release: <id>` line), or null. */
export function servedRelease(body: string): string | null {
  const lines = body.split('\n').filter((line) => line.startsWith('release: '));
  return lines.length === 1 ? lines[0].slice('release: '.length).trim() : null;
}

/** Polls `url` (fresh connections) until it serves `id`; resolves with the time it did, rejects after `timeoutMs`. */
export async function waitUntilServed(url: string, id: string, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const { status, body } = await httpGet(url);
      if (status === 200 && servedRelease(body) === id) return Date.now();
      last = `${status}: ${servedRelease(body) ?? body.slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url} did not serve release ${id} within ${timeoutMs} ms (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Swap {
  /** The release live now points to. */
  id: string;
  /** When the log said the swap was done (the rename came just before it). */
  at: number;
  /** When the web server first served `id` after that, or the error that it did not. */
  served: Promise<number>;
}

/**
 * A logger that notices each swap of `live` as it is logged (the deploy's "live -> releases/<id> (was …)",
 * rollback's and activate's "live -> <id> (was …)") and starts polling `url` at that moment, so that
 * the time until the new release is served is measured from the swap, not from the end of the task.
 */
export function swapWatchingLogger(url: string): { log: Logger; lines: string[]; swaps: Swap[] } {
  const lines: string[] = [];
  const swaps: Swap[] = [];
  const log = createLogger({
    verbosity: 'normal',
    interactive: false,
    write(line) {
      lines.push(line);
      const match = /\blive -> (?:releases\/)?(\d{14}(?:-\d+)?) \(was /.exec(line);
      if (match) {
        const served = waitUntilServed(url, match[1]);
        served.catch(() => undefined); // awaited by the test; not an unhandled rejection meanwhile
        swaps.push({ id: match[1], at: Date.now(), served });
      }
    },
  });
  return { log, lines, swaps };
}
