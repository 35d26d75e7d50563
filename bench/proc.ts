import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Append the command line and all of its output to this file. */
  logFile?: string;
}

export interface SpawnResult {
  stdout: string;
  stderr: string;
}

const KEEP = 64 * 1024;

/**
 * The environment of a timed process (every peer's and ours alike). This machine sets
 * NODE_EXTRA_CA_CERTS for its registry proxy, which makes every Node process read a CA bundle at
 * start (~90 ms here); a developer's laptop or a CI runner does not, and nothing timed uses TLS.
 * The untimed installs keep it.
 */
export function timedEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** A program that exited non-zero; the message carries the tail of its output, the fields all of it (≤ 64 KiB each). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/**
 * Runs a program (no shell) and resolves when it exits 0; rejects with the tail of its output
 * otherwise. Output is kept in memory up to 64 KiB per stream (the tail) and, with `logFile`, logged.
 */
export function spawnChecked(command: string, args: readonly string[], options: SpawnOptions = {}): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    if (options.logFile) appendFileSync(options.logFile, `\n$ ${[command, ...args].join(' ')}\n`);
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout = (stdout + chunk.toString()).slice(-KEEP);
      if (options.logFile) appendFileSync(options.logFile, chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-KEEP);
      if (options.logFile) appendFileSync(options.logFile, chunk);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const tail = lastLines(`${stderr}\n${stdout}`, 8);
      reject(new CommandError(`${command} exited with ${signal ?? code}${tail ? `: ${tail}` : ''}`, code, stdout, stderr));
    });
  });
}

function lastLines(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join(' | ');
}
