import path from 'node:path/posix';
import type { Readable } from 'node:stream';
import { AttacheError } from '../errors';
import type { Logger } from '../log';
import { createLimit, type Limit } from '../limit';
import type { Target } from './target';
import { temporaryBeside } from './temporary';
import { fileSystemSpace, outOfInodes } from './disk-space';
import { formatBytes } from './format';

export { formatBytes };

/** A local file under this size is read whole for an upload (faster than a stream; the upload holds at most 32 at once, 32 MB); a bigger one is streamed. */
export const READ_WHOLE = 1024 * 1024;

export interface TransferFile {
  /** Path relative to the destination, with forward or back slashes. */
  relative: string;
  contents: Buffer | Readable;
  /** Permission bits to keep (default 0o644). */
  mode?: number;
  /** Local path, for errors and logs. */
  source?: string;
  /** A streamed file's size (an archive's header comes before the bytes). */
  size?: number;
  /** Kept by the stream mode (tar carries it); the atomic mode leaves the server's time. */
  mtimeMs?: number;
  /**
   * The contents' sha256 when known ahead (a manifest's): the stream mode refuses the file if its
   * bytes have another. The stream mode sets it once the file is in the stream: the bytes' own hash.
   */
  sha256?: string;
}

export interface TransferStats {
  files: number;
  bytes: number;
  seconds: number;
}

export interface TransferOptions {
  /** Files written at once over the one connection (default 16). */
  concurrency?: number;
  /** Write under a temporary name and rename into place (default true), so no reader sees half a file. */
  atomic?: boolean;
  /** Expected totals, for a progress line with time left. */
  expected?: { files: number; bytes: number };
  step?: string;
  /** When aborted (a failed deploy, Ctrl-C), files not yet started are refused. */
  signal?: AbortSignal;
}

/**
 * Writes files under a remote directory: many at once on the one connection (a bounded number in
 * flight), each directory created once, each file written under a temporary name and renamed into
 * place. Reports progress to the logger.
 */
export class Transfer {
  readonly dest: string;
  private readonly limit: Limit;
  private readonly directories = new Map<string, Promise<void>>();
  private readonly started = Date.now();
  private files = 0;
  private bytes = 0;

  constructor(
    private readonly target: Target,
    dest: string,
    private readonly log: Logger,
    private readonly options: TransferOptions = {},
  ) {
    this.dest = path.normalize(dest.replace(/\\/g, '/')).replace(/(.)\/$/, '$1');
    this.limit = createLimit(options.concurrency ?? 16);
  }

  /** The remote path of a file; refuses a relative path that would leave the destination. */
  remotePath(relative: string): string {
    return remotePathIn(this.dest, relative, this.target.name, this.options.step);
  }

  /** Queues one file; resolves with its remote path once it is in place. */
  put(file: TransferFile): Promise<string> {
    return this.limit(async () => {
      if (this.options.signal?.aborted)
        throw new AttacheError('upload stopped: the deploy was cancelled', { server: this.target.name, step: this.options.step });
      const remote = this.remotePath(file.relative);
      try {
        await this.ensureDirectory(path.dirname(remote));
        const atomic = this.options.atomic !== false;
        // Atomic: written under a temporary name, renamed into place in the close's round trip.
        const written = atomic
          ? await this.target.writeFile(temporaryBeside(remote), file.contents, file.mode ?? 0o644, remote)
          : await this.target.writeFile(remote, file.contents, file.mode ?? 0o644);
        this.files++;
        this.bytes += written;
        this.log.debug(`[${this.target.name}] uploaded ${file.source ?? file.relative} -> ${remote} (${formatBytes(written)})`);
        this.reportProgress(false);
        return remote;
      } catch (error) {
        const message = error instanceof AttacheError ? error.what : error instanceof Error ? error.message : String(error);
        const full = (await this.diskIsFull(message, remote)) ? `no space left on device at ${remote} (${message})` : message;
        throw new AttacheError(
          `upload failed: ${full}`,
          {
            server: this.target.name,
            step: this.options.step,
            file: file.source ?? file.relative,
            remotePath: remote,
            hint: error instanceof AttacheError ? error.context.hint : undefined,
          },
          { cause: error },
        );
      }
    });
  }

  /**
   * A symbolic link, made under a temporary name and renamed into place like a file. The caller
   * checked that it stays inside the tree.
   */
  putSymlink(relative: string, linkTarget: string, source?: string): Promise<string> {
    return this.limit(async () => {
      const remote = this.remotePath(relative);
      try {
        await this.ensureDirectory(path.dirname(remote));
        const temporary = temporaryBeside(remote);
        await this.target.symlink(linkTarget, temporary);
        await this.target.rename(temporary, remote);
        return remote;
      } catch (error) {
        throw new AttacheError(
          `upload failed: ${(error as Error).message}`,
          { server: this.target.name, step: this.options.step, file: source ?? relative, remotePath: remote },
          { cause: error },
        );
      }
    });
  }

  /** Every file is in place once its put() resolved: nothing is left to wait for. */
  async finish(): Promise<void> {}

  async abort(): Promise<void> {}

  /**
   * SFTP says only "Failure" when a write hits a full disk (sftp-server maps ENOSPC to it): ask the
   * file system (one `df`, on failure only) whether that is what happened.
   */
  private async diskIsFull(message: string, remote: string): Promise<boolean> {
    if (/ENOSPC|no space left/i.test(message)) return true;
    if (!/\bFailure\b/.test(message)) return false;
    const space = await fileSystemSpace(this.target, [path.dirname(remote), this.dest]).catch(() => undefined);
    // Under 64 KiB the write could not fit; without an inode, the file could not be made.
    return space !== undefined && (space.bytesFree < 64 * 1024 || outOfInodes(space));
  }

  /**
   * Each directory is created once, parent first. Below `dest` nothing is assumed to exist yet;
   * `dest` and its parents may exist already, so they are looked at (stat) before being made.
   */
  ensureDirectory(dir: string): Promise<void> {
    let pending = this.directories.get(dir);
    if (!pending) {
      const parent = path.dirname(dir);
      const atOrAboveDest = dir === this.dest || !dir.startsWith(this.dest + '/');
      pending = (async () => {
        if (atOrAboveDest && (await this.target.stat(dir))?.type === 'directory') return;
        if (parent !== dir) await this.ensureDirectory(parent);
        await this.target.mkdir(dir);
      })();
      this.directories.set(dir, pending);
    }
    return pending;
  }

  stats(): TransferStats {
    return { files: this.files, bytes: this.bytes, seconds: (Date.now() - this.started) / 1000 };
  }

  /** The end-of-upload line: files, bytes, seconds, throughput. */
  summary(): string {
    return summaryLine(this.target.name, this.dest, this.stats(), this.target.dryRun);
  }

  reportProgress(final: boolean): void {
    if (this.target.dryRun) return; // nothing is sent: no progress to show
    this.log.progress(progressLine(this.target.name, this.stats(), this.options.expected), final);
  }
}

/** The remote path of a file under `dest`; refuses a relative path that would leave it. */
export function remotePathIn(dest: string, relative: string, server: string, step?: string): string {
  const clean = path.normalize(relative.replace(/\\/g, '/'));
  if (clean.startsWith('../') || clean === '..' || path.isAbsolute(clean) || clean === '.') {
    throw new AttacheError(`the file path "${relative}" would land outside ${dest}`, { server, step, file: relative });
  }
  return path.join(dest, clean);
}

/**
 * A symlink in an asset tree is kept only when it is relative and stays inside the tree: anything
 * else would point at nothing (or at something else) on the server. `relative` is the link's path
 * inside the tree.
 */
export function checkSymlink(
  relative: string,
  linkTarget: string,
  where: { file: string; tree: string; server?: string; step?: string },
): void {
  const clean = relative.replace(/\\/g, '/');
  const lands = path.normalize(path.join(path.dirname(clean), linkTarget));
  if (!path.isAbsolute(linkTarget) && lands !== '..' && !lands.startsWith('../')) return;
  throw new AttacheError(`the symlink points to ${linkTarget}, outside ${where.tree}: on the server it would lead nowhere, or elsewhere`, {
    server: where.server,
    step: where.step,
    file: where.file,
    hint: 'Make it a relative link to a file inside the directory, or copy what it points to into the build output.',
  });
}

export function summaryLine(server: string, dest: string, { files, bytes, seconds }: TransferStats, dryRun = false): string {
  if (dryRun) return `[dry run] [${server}] would upload ${files} file${files === 1 ? '' : 's'}, ${formatBytes(bytes)} to ${dest}`;
  return `uploaded ${files} file${files === 1 ? '' : 's'}, ${formatBytes(bytes)} in ${seconds.toFixed(1)} s (${formatBytes(bytes / Math.max(seconds, 0.001))}/s) to ${server}:${dest}`;
}

export function progressLine(
  server: string,
  { files, bytes, seconds }: TransferStats,
  expected?: { files: number; bytes: number },
): string {
  const rate = bytes / Math.max(seconds, 0.001);
  let line = `[${server}] upload: ${files}${expected ? `/${expected.files}` : ''} files, ${formatBytes(bytes)}${expected ? `/${formatBytes(expected.bytes)}` : ''}, ${formatBytes(rate)}/s`;
  if (expected && rate > 0) line += `, ${Math.max(0, (expected.bytes - bytes) / rate).toFixed(0)} s left`;
  return line;
}
