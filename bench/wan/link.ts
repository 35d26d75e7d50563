/**
 * Starts the WAN relay (bench/wan/relay.ts) as a child process in front of a port and stops it by
 * its pid. `shape: null` is the direct loopback link: no relay, the server's own port.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { LinkShape } from './relay';

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
