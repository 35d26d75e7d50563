/**
 * What every measurement (bench/measurements/*.ts) takes and the small helpers they share.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Observations } from '../cases/gulp-attache';
import type { Section } from '../report';
import type { BenchContext } from '../types';
import type { DeployOutcome, UserInstall } from '../user-project';
import { treeSize } from '../verify';

/** What the runner measured for one case (run.ts's CaseResult). */
export interface MainResult {
  name: string;
  seconds: number[];
  sshLogins: number[];
  bytesSent: number[];
  error?: string;
}

/** What a measurement gets: the loopback context (its sshd, fixture, home), the installed package, and the main table's loopback runs. */
export interface MeasurementInput {
  ctx: BenchContext;
  install: UserInstall;
  observations: Observations;
  results: MainResult[];
  /** Extra sshd_config lines the bench server got (the fleet's servers get the same). */
  sshdConfig: string[];
  /** BENCH_CASES (bench/case-filter.ts): why a case did not run, or undefined when it ran. */
  skipped(name: string): string | undefined;
  /** BENCH_CASES naming measurements (MEASUREMENT in bench/cases/names.ts): why this one does not run, or undefined when it runs. */
  measurementSkipped(name: string): string | undefined;
  say(message: string): void;
}

export type { Section };

export function flag(name: string, fallback: boolean): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  return !['0', 'false', 'no', 'off'].includes(raw.toLowerCase());
}

export function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

/** The first line of an error; when it ends with ":" (e.g. "step "shared": 5 servers failed:"), the next one too. */
export function firstLine(error: unknown): string {
  const lines = (error instanceof Error ? error.message : String(error)).split('\n');
  const head = lines[0].endsWith(':') && lines[1] ? `${lines[0]} ${lines[1].trim()}` : lines[0];
  return head.slice(0, 300);
}

/**
 * Runs `attempt` until it succeeds, at most `times` times; each failure is pushed onto `failures`
 * (reported under the section) and logged. A deploy that fails undoes itself, so an attempt that
 * starts from its own setup can simply be made again.
 */
export async function retrying<T>(
  what: string,
  failures: string[],
  input: MeasurementInput,
  attempt: () => Promise<T>,
  times = 3,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      failures.push(`${what}: ${firstLine(error)}`);
      input.ctx.log(error instanceof Error ? (error.stack ?? error.message) : String(error));
      if (i >= times) throw error;
      input.say(`${what}: FAILED (attempt ${i}, trying again): ${firstLine(error)}`);
    }
  }
}

export function failureNotes(failures: string[]): string[] {
  return failures.length ? [`${failures.length} failed attempt(s), each made again: ${failures.join('; ')}`] : [];
}

/** The timed runs of a case: the runner runs warm-ups first, so they are the last `runs`. */
export function timed<T>(all: T[], runs: number): T[] {
  return all.slice(-runs);
}

/** A step's seconds on the deploy's first server, from its report. */
export function stepSeconds(o: DeployOutcome, step: string): number {
  return o.report.servers[0]?.steps[step] ?? NaN;
}

export function dirBytes(dir: string): number {
  return existsSync(dir) ? treeSize(dir).bytes : 0;
}

export async function freshRoot(dir: string): Promise<string> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, '.env'),
    'APP_NAME=Bench\nAPP_ENV=production\nAPP_KEY=base64:YmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJlbmNoMDA=\nAPP_DEBUG=false\n',
  );
  return dir;
}
