/**
 * Starts the WAN relay (bench/wan/relay.ts) as a child process in front of a port and stops it by
 * its pid. `shape: null` is the direct loopback link: no relay, the server's own port. And the
 * shared uplink (bench/wan/uplink.ts): one relay in front of several servers' ports, whose
 * connections share one link each way.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { LinkShape } from './relay';
import type { UplinkCounters, UplinkShape } from './uplink';

export interface Link {
  /** The port clients connect to. */
  port: number;
  /** How the link is shaped; null for the direct loopback. */
  shape: LinkShape | null;
  stop(): Promise<void>;
}

export async function startLink(targetPort: number, shape: LinkShape | null): Promise<Link> {
  if (!shape) return { port: targetPort, shape, stop: async () => undefined };
  const script = path.join(__dirname, 'relay.ts');
  const rate = Number.isFinite(shape.bytesPerSecond) ? shape.bytesPerSecond : 1e15;
  const child = spawn(process.execPath, ['--import', 'tsx', script, String(targetPort), String(shape.delayMs), String(rate)], {
    cwd: path.resolve(__dirname, '../..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The link must not wait for a CPU behind the deploys it carries (a busy 2-core machine adds
  // milliseconds per hop otherwise); raising the priority needs root, which the bench's sshd has anyway.
  try {
    os.setPriority(child.pid as number, -10);
  } catch {
    // not root: the link runs at normal priority
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const match = /listening (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`the WAN relay exited with ${code} before listening: ${err.trim()}`)));
  });
  return {
    port,
    shape,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The shared uplink (bench/wan/uplink.ts) as the bench sees it: a listener per target, and its counters. */
export interface SharedUplinkLink {
  /** The listeners' ports, in the order of the target ports given. */
  ports: number[];
  shape: UplinkShape;
  /** The relay's counters now (cumulative since it started). */
  counters(): Promise<UplinkCounters>;
  stop(): Promise<void>;
}

/** Starts bench/wan/uplink.ts as a child process in front of these ports (each server's sshd), and stops it by its pid. */
export async function startSharedUplink(targetPorts: number[], shape: UplinkShape): Promise<SharedUplinkLink> {
  const script = path.join(__dirname, 'uplink.ts');
  const args = [String(shape.delayMs), String(shape.upBytesPerSecond), String(shape.downBytesPerSecond), ...targetPorts.map(String)];
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: path.resolve(__dirname, '../..'),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  try {
    os.setPriority(child.pid as number, -10);
  } catch {
    // not root: the relay runs at normal priority
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  // stdout is lines: "listening …" once, then one "counters {…}" per request, in order.
  const waiting: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = [];
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (buffered + chunk).split('\n');
    buffered = lines.pop() as string;
    for (const line of lines) waiting.shift()?.resolve(line);
  });
  child.once('exit', (code, signal) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`the shared uplink exited (${code ?? signal}): ${err.trim()}`));
  });
  const nextLine = () => new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
  const first = await nextLine();
  const match = /^listening ((?:\d+ ?)+)$/.exec(first.trim());
  if (!match) throw new Error(`the shared uplink said "${first}" instead of its ports: ${err.trim()}`);
  const ports = match[1].split(' ').map(Number);
  let chain: Promise<unknown> = Promise.resolve();
  return {
    ports,
    shape,
    counters() {
      const asked = chain.then(async () => {
        const answer = nextLine();
        child.stdin.write('counters\n');
        const line = await answer;
        if (!line.startsWith('counters ')) throw new Error(`the shared uplink answered "${line.slice(0, 200)}"`);
        return JSON.parse(line.slice('counters '.length)) as UplinkCounters;
      });
      chain = asked.catch(() => undefined);
      return asked;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
