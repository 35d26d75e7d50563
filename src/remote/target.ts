import type { Duplex, Readable } from 'node:stream';

/**
 * What every plugin and step talks to: one server, reached over SSH (ssh/session.ts) or the local
 * machine (remote/local.ts). Paths are POSIX strings on the target. A step never opens its own
 * connection: it receives a Target.
 *
 * The one-request file operations (lstat, stat, readlink, mkdir, rename, symlink, link, unlink) are
 * carried out in the order they are called, each once the one before has finished, awaited or not.
 * So a caller may send dependent ones together (a symlink, then its rename): over SSH they are
 * pipelined SFTP requests, one round trip for all. writeFile and readFile take several requests
 * and keep no such order with the others.
 */
export interface Target {
  /** The server's name in logs and errors. */
  readonly name: string;
  readonly kind: 'ssh' | 'local';
  /** True for --dry-run's target (remote/dry-run.ts): it reads the server and only prints what it would change. */
  readonly dryRun?: boolean;
  /**
   * An SSH target's host key as it was verified when the connection opened ("ssh-ed25519 AAAA…"),
   * and the user it logged in as: what another server needs to reach it (the fan-out). Undefined
   * for the local target.
   */
  readonly hostKey?: string;
  readonly user?: string;
  /** Runs a shell command; rejects with RemoteCommandError on a non-zero exit unless `check: false`. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** null when nothing is at the path; symlinks are not followed. */
  lstat(path: string): Promise<FileStat | null>;
  /** null when nothing is at the path (or a symlink points nowhere). */
  stat(path: string): Promise<FileStat | null>;
  readlink(path: string): Promise<string | null>;
  /** Creates one directory; succeeds if it already exists as a directory. */
  mkdir(path: string): Promise<void>;
  /**
   * Writes a file in place, with the given mode; stream contents are sent as they are read. With
   * `moveTo`, the closed file is then renamed there (as rename() does): over SSH in the same round
   * trip as the close, for an upload that writes under a temporary name.
   */
  writeFile(path: string, contents: Buffer | Readable, mode?: number, moveTo?: string): Promise<number>;
  readFile(path: string): Promise<Buffer>;
  /** Atomically replaces `to` with `from` (rename(2) semantics, posix-rename over SFTP). */
  rename(from: string, to: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  /** A hard link: `path` becomes another name of `existing`'s bytes (no bytes are sent). */
  link(existing: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Closes the connection; idempotent. */
  close(): Promise<void>;
  /**
   * A byte stream to a socket on the target's side (a unix socket path, or host:port as the target
   * sees it), e.g. php-fpm's: over SSH a stream-local or TCP forward of the same connection.
   */
  connectTo(address: string): Promise<Duplex>;
}

export interface ExecOptions {
  /** Directory to run in (quoted by the target). */
  cwd?: string;
  /** Reject on a non-zero exit (default true). */
  check?: boolean;
  /** Where output lines go: 'info' (shown), 'debug' (only --verbose, the default) or 'none'. */
  output?: 'info' | 'debug' | 'none';
  /**
   * The command's standard input: bytes, or a stream sent as the command reads it (memory stays
   * bounded for any size). A stream that fails ends the input there, and the command's result is
   * that failure, once the command has ended.
   */
  stdin?: string | Buffer | Readable;
  /** Context added to a failure's error (the deploy step). */
  step?: string;
  /** The command only reads (a listing, the lock, `df`): a dry run runs it for real instead of printing it. */
  readOnly?: boolean;
  /** Ends the command when aborted: the local target ends its whole process group (a build and what it started). */
  signal?: AbortSignal;
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface FileStat {
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** Permission bits only (0o7777). */
  mode: number;
  mtimeMs: number;
}

export function fileType(mode: number): FileStat['type'] {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}
