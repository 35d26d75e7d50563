import type { Readable } from 'node:stream';
import type { SFTPWrapper, Stats } from 'ssh2';
import { AttacheError } from '../errors';
import { sh } from '../remote/quote';
import { fileType, type FileStat } from '../remote/target';
import type { Connection } from './connect';
import { PacedWrites } from './paced-input';
import { writeBuffer, writeStream } from './sftp-writes';

const SFTP_NO_SUCH_FILE = 2;

/** One SFTP request, in the callback style of ssh2's SFTPWrapper. */
export type SftpRequest<T> = (sftp: SFTPWrapper, cb: (error: Error | null | undefined, value?: T) => void) => void;

/**
 * A session's file operations over its SFTP channel. The channel opens beside the first shells once
 * the server has accepted us: nothing waits for it (the first commands need no SFTP), and the
 * requests made before it is open wait for it, in call order.
 */
export class SftpFiles {
  /** Set when the SFTP channel is open; `ready` for the requests made before. */
  sftp?: SFTPWrapper;
  readonly ready: Promise<SFTPWrapper>;
  private waitingForSftp = 0;
  /** Bytes of writes in flight over the whole session, paced to the round trip (paced-input.ts). */
  readonly writes: PacedWrites;

  constructor(
    readonly connection: Connection,
    sftp: Promise<SFTPWrapper>,
    /** Runs a shell command: the rename of a server without posix-rename. */
    private readonly exec: (command: string) => Promise<unknown>,
  ) {
    this.ready = sftp.then((opened) => (this.sftp = opened));
    this.ready.catch(() => undefined); // told to whoever asks for a file operation
    this.writes = new PacedWrites(() => connection.roundTripMs);
  }

  async lstat(path: string): Promise<FileStat | null> {
    return toStat(await this.call<Stats>((sftp, cb) => sftp.lstat(path, cb), path, true));
  }

  async stat(path: string): Promise<FileStat | null> {
    return toStat(await this.call<Stats>((sftp, cb) => sftp.stat(path, cb), path, true));
  }

  readlink(path: string): Promise<string | null> {
    return this.call<string>((sftp, cb) => sftp.readlink(path, cb), path, true);
  }

  async mkdir(path: string): Promise<void> {
    try {
      await this.call<void>((sftp, cb) => sftp.mkdir(path, cb), path);
    } catch (error) {
      // SFTP has no EEXIST: any failure on an existing directory is success.
      if ((await this.stat(path))?.type === 'directory') return;
      throw error;
    }
  }

  /**
   * Opens, writes with requests pipelined at their offsets, sets the mode (umask applies on open),
   * closes and, with `moveTo`, renames: the last three go out together (sftp-server carries them
   * out in order), one round trip. A mode that could not be set still fails the write, though the
   * rename has gone (an fchmod of a file we just created and hold open fails only if the server does).
   */
  async writeFile(path: string, contents: Buffer | Readable, mode?: number, moveTo?: string): Promise<number> {
    const handle = await this.call<Buffer>((sftp, cb) => sftp.open(path, 'w', mode === undefined ? {} : { mode }, cb), path);
    const close = () => this.call<void>((sftp, cb) => sftp.close(handle, cb), path).catch(() => undefined);
    let written: number;
    try {
      written = Buffer.isBuffer(contents)
        ? await writeBuffer(this, handle, contents, path)
        : await writeStream(this, handle, contents, path);
    } catch (error) {
      await close();
      throw error;
    }
    const chmod = mode === undefined ? undefined : this.call<void>((sftp, cb) => sftp.fchmod(handle, mode & 0o7777, cb), path);
    const closed = close();
    const moved = moveTo === undefined ? undefined : this.rename(path, moveTo);
    try {
      await chmod;
      await moved;
    } finally {
      await closed;
      await moved?.catch(() => undefined);
    }
    return written;
  }

  async readFile(path: string): Promise<Buffer> {
    const sftp = await this.ready;
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = sftp.createReadStream(path);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error: Error) => reject(this.sftpError(error, path)));
      stream.on('close', () => resolve());
    });
    return Buffer.concat(chunks);
  }

  /** posix-rename@openssh.com replaces the destination atomically; plain SFTP rename refuses to. */
  async rename(from: string, to: string): Promise<void> {
    await this.call<void>((sftp, cb) => sftp.ext_openssh_rename(from, to, cb), `${from} -> ${to}`).catch(async (error) => {
      if (!/extension|not supported/i.test(String(error))) throw error;
      await this.exec(sh`mv -f -T -- ${from} ${to}`);
    });
  }

  symlink(target: string, path: string): Promise<void> {
    return this.call<void>((sftp, cb) => sftp.symlink(target, path, cb), path);
  }

  /** hardlink@openssh.com: one SFTP request, no shell. */
  link(existing: string, path: string): Promise<void> {
    return this.call<void>((sftp, cb) => sftp.ext_openssh_hardlink(existing, path, cb), path);
  }

  unlink(path: string): Promise<void> {
    return this.call<void>((sftp, cb) => sftp.unlink(path, cb), path);
  }

  /**
   * Promisifies one SFTP request; with `missingIsNull`, "no such file" resolves null. Requests are
   * sent in call order (the Target contract), also those made while the SFTP channel still opens.
   */
  call<T>(request: SftpRequest<T>, path: string, missingIsNull: true): Promise<T | null>;
  call<T>(request: SftpRequest<T>, path: string): Promise<T>;
  call<T>(request: SftpRequest<T>, path: string, missingIsNull = false): Promise<T | null> {
    return new Promise((resolve, reject) => {
      const send = (sftp: SFTPWrapper) => {
        if (this.connection.closed) return reject(this.connection.lost(new Error('connection closed'), { remotePath: path }));
        const sent = performance.now();
        request(sftp, (error, value) => {
          this.connection.answered(performance.now() - sent);
          if (!error) return resolve(value as T);
          if (missingIsNull && (error as Error & { code?: number }).code === SFTP_NO_SUCH_FILE) return resolve(null);
          reject(this.sftpError(error, path));
        });
      };
      if (this.sftp && this.waitingForSftp === 0) return send(this.sftp);
      this.waitingForSftp++;
      this.ready.then(
        (sftp) => {
          this.waitingForSftp--;
          send(sftp);
        },
        (error: unknown) => {
          this.waitingForSftp--;
          reject(error);
        },
      );
    });
  }

  /** An SFTP failure as the user should read it: the connection's loss, or the server's answer. */
  sftpError(error: Error, path: string): AttacheError {
    if (this.connection.closed) return this.connection.lost(error, { remotePath: path });
    return new AttacheError(`SFTP: ${error.message}`, { server: this.connection.name, remotePath: path }, { cause: error });
  }
}

function toStat(stats: Stats | null): FileStat | null {
  if (!stats) return null;
  return { type: fileType(stats.mode), size: stats.size, mode: stats.mode & 0o7777, mtimeMs: stats.mtime * 1000 };
}
