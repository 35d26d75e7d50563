import { spawn } from 'node:child_process';
import { createWriteStream, promises as fs } from 'node:fs';
import net from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../log';
import { parseSocketAddress } from './address';
import { finishCommand, inDirectory, READABLE_UMASK, sendInput } from './command';
import { fileType, type ExecOptions, type ExecResult, type FileStat, type Target } from './target';

/**
 * The local target (`host: "local"`): the same contract as an SSH session, carried out by the local
 * shell and file system. rename(2) and symlink(2) give it the same atomic swap.
 */
export class LocalTarget implements Target {
  readonly kind = 'local' as const;
  /** The one-request file operations, one after another (the Target contract: in call order, as over SFTP). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly log: Logger,
  ) {}

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const full = inDirectory(command, options.cwd);
    this.log.debug(`[${this.name}] $ ${full}`);
    const { signal } = options;
    // With a signal, the command leads a process group of its own, so that stopping it stops what it started (npm → vite).
    const child = spawn('/bin/sh', ['-c', `${READABLE_UMASK}\n${full}`], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: signal !== undefined,
    });
    const stop = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
      } catch {} // already gone
    };
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.on('error', () => resolve({ code: 127, signal: null }));
      child.on('close', (code, exitSignal) => {
        signal?.removeEventListener('abort', stop);
        resolve({ code, signal: exitSignal });
      });
    });
    const input = sendInput(options.stdin, child.stdin);
    return finishCommand(this.name, full, { stdout: child.stdout, stderr: child.stderr, exited, input }, options, this.log);
  }

  lstat(path: string): Promise<FileStat | null> {
    return this.inOrder(async () => toStat(await fs.lstat(path).catch(ifMissing(null))));
  }

  stat(path: string): Promise<FileStat | null> {
    return this.inOrder(async () => toStat(await fs.stat(path).catch(ifMissing(null))));
  }

  readlink(path: string): Promise<string | null> {
    return this.inOrder(() => fs.readlink(path).catch(ifMissing(null)));
  }

  mkdir(path: string): Promise<void> {
    return this.inOrder(() =>
      fs.mkdir(path).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST' && (await fs.stat(path)).isDirectory()) return;
        throw error;
      }),
    ).then(() => undefined);
  }

  readFile(path: string): Promise<Buffer> {
    return fs.readFile(path);
  }

  rename(from: string, to: string): Promise<void> {
    return this.inOrder(() => fs.rename(from, to));
  }

  symlink(target: string, path: string): Promise<void> {
    return this.inOrder(() => fs.symlink(target, path));
  }

  link(existing: string, path: string): Promise<void> {
    return this.inOrder(() => fs.link(existing, path));
  }

  unlink(path: string): Promise<void> {
    return this.inOrder(() => fs.unlink(path));
  }

  private inOrder<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation);
    this.queue = result.catch(() => undefined);
    return result;
  }

  async writeFile(path: string, contents: Buffer | Readable, mode?: number, moveTo?: string): Promise<number> {
    let bytes = 0;
    // Created with its mode (a .env is never world-readable, not even for a moment), then chmod against the umask.
    if (Buffer.isBuffer(contents)) {
      await fs.writeFile(path, contents, { mode: mode ?? 0o644 });
      bytes = contents.length;
    } else {
      contents.on('data', (chunk: Buffer) => (bytes += chunk.length));
      await pipeline(contents, createWriteStream(path, { mode: mode ?? 0o644 }));
    }
    if (mode !== undefined) await fs.chmod(path, mode & 0o7777);
    if (moveTo !== undefined) await this.rename(path, moveTo);
    return bytes;
  }

  async close(): Promise<void> {}

  connectTo(address: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const where = parseSocketAddress(address);
      const socket = 'path' in where ? net.connect(where.path) : net.connect(where.port, where.host);
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    });
  }
}

function toStat(stats: import('node:fs').Stats | null): FileStat | null {
  if (!stats) return null;
  return { type: fileType(stats.mode), size: stats.size, mode: stats.mode & 0o7777, mtimeMs: stats.mtimeMs };
}

function ifMissing<T>(value: T) {
  return (error: NodeJS.ErrnoException): T => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return value;
    throw error;
  };
}
