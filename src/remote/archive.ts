import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path/posix';
import { PassThrough } from 'node:stream';
import { AttacheError } from '../errors';
import type { Logger } from '../log';
import { inodeHint, parseSpace, SPACE_LINES } from './disk-space';
import { raw, sh } from './quote';
import { END, fileHeader, padding, symlinkHeader } from './tar';
import type { ExecResult, Target } from './target';
import {
  formatBytes,
  progressLine,
  remotePathIn,
  summaryLine,
  type TransferFile,
  type TransferOptions,
  type TransferStats,
} from './transfer';

/** Exit codes of the unpacking script, so that each failure is told by its own cause. */
const NO_DIRECTORY = 70;
const NO_SPACE = 75;
const NO_INODES = 78;
const UNPACK_FAILED = 76;
const CHECK_FAILED = 77;
const FETCH_FAILED = 79;
/** What the script says when the quick check passed (the file-by-file one was not needed). */
export const QUICK_CHECKED = 'attache:checked=all';
/** Archive bytes buffered towards the channel: the rest waits in the files (memory stays flat for any size). */
const BUFFERED = 1024 * 1024;
/**
 * An upload expected to be at most this big (a redeploy's few changed files) is sent whole, as the
 * input of one command on a persistent shell: one round trip instead of a channel's two more (open,
 * exec), worth the input's encoding (printf escapes, ~4× the bytes) up to about this size.
 */
const SMALL = 128 * 1024;
/**
 * Small pieces (headers, small files, padding) are gathered up to this size before they go: each
 * write to the channel is an SSH packet, and thousands of tiny ones crawl (3,000 small files took 18 s).
 */
const GATHER = 64 * 1024;
/** A piece at least this big (a file's contents, most often) is written as it is, not gathered. */
const DIRECT = 16 * 1024;

/**
 * Where an archive comes from when it is not sent from here: a command on the server that prints
 * it (the fan-out's `ssh` to the seed), run in `scratch`, a private directory where its first error
 * line is kept. Only the hash lists, made here, go from here: the server checks the files it took
 * elsewhere against them.
 */
export interface ArchiveSource {
  command: string;
  scratch: string;
}

/** The archive's source command failed (the seed could not be reached): nothing was checked, the caller may send the files itself. */
export class ArchiveSourceFailed extends AttacheError {
  constructor(
    /** The source command's first error line (ssh's). */
    readonly firstLine: string,
    context: { server: string; step?: string; remotePath: string },
  ) {
    super(`could not take the archive from its source: ${firstLine || '(no message)'}`, context);
  }
}

/**
 * Fills a directory nobody serves yet (a fresh release) through ONE command over one channel: a
 * tar stream made here, file after file as they are read, unpacked on the server by GNU tar
 * (modes kept, owned by the deploy user), then checked there against the hashes of the bytes
 * that were sent, so a cut or altered stream fails the upload. No round trip per file. Files
 * appear under their own names as they arrive, so this is not for a served directory: the
 * upload plugin's atomic mode is (transfer.ts).
 *
 * The check reads every file again. First, quickly: every file through one `openssl dgst -sha256`
 * (OpenSSL's SHA-256 is several times coreutils'), its hashes compared in order with those of the
 * bytes sent. Only when they differ (or the server has no openssl) does `sha256sum -c` check the
 * same hashes (two lists at once) and name the file that differs: it decides. A hash known ahead
 * (the deploy's manifest) is compared here with the bytes as they are sent.
 * With `expected`, the script first compares the bytes to send with `df`'s free space.
 */
export class ArchiveUpload {
  readonly dest: string;
  private readonly started = Date.now();
  /** By name: a file sent twice is checked against its last bytes, the ones tar leaves in place. */
  private readonly sums = new Map<string, { line: string; size: number; sha256: string }>();
  /**
   * The archive's last members: the two lists of `sha256sum -c` (checked at once), and for the quick
   * check the names (NUL-separated) and their hashes, one a line, in the same order.
   */
  private readonly lists = ((tag) => ({
    sums: [`.attache-sha256-${tag}-1`, `.attache-sha256-${tag}-2`],
    names: `.attache-sha256-${tag}-names`,
    hashes: `.attache-sha256-${tag}-hashes`,
  }))(randomBytes(6).toString('hex'));
  private tar?: PassThrough;
  private remote?: Promise<ExecResult>;
  private remoteEnded?: Promise<void>;
  /** put() calls run one after another: an archive is one sequence of members. */
  private queue: Promise<unknown> = Promise.resolve();
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  private files = 0;
  private bytes = 0;
  private failure?: unknown;
  /** The server's command has ended (it read the whole archive, or gave up). */
  private ended = false;
  /** A small upload's archive, held until finish() sends it whole (see SMALL); undefined once streaming. */
  private held?: Buffer[];
  private heldBytes = 0;

  constructor(
    private readonly target: Target,
    dest: string,
    private readonly log: Logger,
    private readonly options: TransferOptions & { from?: ArchiveSource } = {},
  ) {
    this.dest = path.normalize(dest.replace(/\\/g, '/')).replace(/(.)\/$/, '$1');
    // From a source, only the hash lists go from here: a small input, sent whole.
    if (options.from || (options.expected !== undefined && options.expected.bytes <= SMALL)) this.held = [];
  }

  /**
   * A file the source's archive holds (`from`): not sent from here, but checked on the server
   * against `sha256`, the hash of the bytes it must have.
   */
  expect(file: { relative: string; size: number; sha256: string }): void {
    const remote = remotePathIn(this.dest, file.relative, this.target.name, this.options.step);
    const name = path.relative(this.dest, remote);
    this.sums.delete(name);
    this.sums.set(name, { line: sumLine(file.sha256, name), size: file.size, sha256: file.sha256 });
  }

  /** Queues one file; resolves with its remote path once its bytes are in the stream (checked at finish). */
  put(file: TransferFile): Promise<string> {
    return this.serially(async () => {
      const remote = remotePathIn(this.dest, file.relative, this.target.name, this.options.step);
      const name = path.relative(this.dest, remote);
      const contents = file.contents;
      const size = Buffer.isBuffer(contents) ? contents.length : file.size;
      if (size === undefined) {
        throw this.fileError(
          file,
          remote,
          'a streamed file needs its size (file.stat.size) to go into the archive; give it a stat, or use mode "atomic"',
        );
      }
      // The bytes are hashed as they go: that hash is what the server checks.
      const hash = createHash('sha256');
      await this.write(fileHeader({ name, mode: file.mode ?? 0o644, mtimeMs: file.mtimeMs ?? Date.now(), size }));
      let sent = 0;
      if (Buffer.isBuffer(contents)) {
        hash.update(contents);
        await this.write(contents);
        sent = contents.length;
      } else {
        for await (const chunk of contents as AsyncIterable<Buffer | string>) {
          const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
          sent += buffer.length;
          // The header promised `size` bytes: a file that grows or shrinks while read would shift every member after it.
          if (sent > size) throw this.fileError(file, remote, `the file grew while it was sent (${size} bytes when it was listed)`);
          hash.update(buffer);
          await this.write(buffer);
        }
        if (sent !== size) throw this.fileError(file, remote, `the file shrank while it was sent (${sent} of ${size} bytes)`);
      }
      await this.write(padding(size));
      const sha256 = hash.digest('hex');
      // A manifest that said other bytes would let a later deploy reuse this file for content it does not hold.
      if (file.sha256 !== undefined && file.sha256 !== sha256) {
        throw this.fileError(
          file,
          remote,
          `the file's bytes are not those its hash (${file.sha256.slice(0, 12)}…) was taken from: it changed after it was hashed; build again, then deploy`,
        );
      }
      file.sha256 = sha256;
      this.sums.delete(name);
      this.sums.set(name, { line: sumLine(sha256, name), size, sha256 });
      this.files++;
      this.bytes += size;
      this.log.debug(`[${this.target.name}] streamed ${file.source ?? file.relative} -> ${remote} (${formatBytes(size)})`);
      this.reportProgress(false);
      return remote;
    }, file);
  }

  /** Queues a symbolic link (kept as a link: tar carries it). */
  putSymlink(relative: string, linkTarget: string, source?: string): Promise<string> {
    return this.serially(
      async () => {
        const remote = remotePathIn(this.dest, relative, this.target.name, this.options.step);
        const name = path.relative(this.dest, remote);
        await this.write(symlinkHeader({ name, target: linkTarget, mode: 0o777, mtimeMs: Date.now() }));
        this.sums.delete(name); // a link that replaces a file sent earlier: nothing to hash
        return remote;
      },
      { relative, source },
    );
  }

  /**
   * Ends the archive (the hash list, then the end blocks) and waits for the server's answer:
   * resolves once every file is unpacked and matches its hash.
   */
  async finish(): Promise<void> {
    await this.serially(async () => {
      if (!this.tar && !this.gatheredBytes && !this.heldBytes && !this.options.from) return; // nothing was sent
      const [first, second] = halves([...this.sums.values()]);
      // openssl prints a line per file, "<hash> *<name>": a name with a newline or a backslash may change that; "./" keeps a leading dash a name.
      const quick = [...this.sums].every(([name]) => !/[\n\\]/.test(name)) ? [...this.sums] : [];
      const members: [string, string][] = [
        [this.lists.sums[0], first.join('')],
        [this.lists.sums[1], second.join('')],
        [this.lists.names, quick.map(([name]) => `./${name}\0`).join('')],
        [this.lists.hashes, quick.map(([, entry]) => `${entry.sha256}\n`).join('')],
      ];
      for (const [name, text] of members) {
        const list = Buffer.from(text, 'utf8');
        await this.write(fileHeader({ name, mode: 0o600, mtimeMs: Date.now(), size: list.length }));
        await this.write(Buffer.concat([list, padding(list.length)]));
      }
      await this.write(END);
      await this.flush();
      if (this.held) this.sendHeld();
      this.tar?.end();
    }, {});
    if (this.remote) await this.answer();
  }

  /**
   * Stops the stream (a failure elsewhere, a cancelled deploy) and waits until the server's command
   * has ended, so that an undo never races a tar still writing into the release.
   */
  async abort(reason: unknown): Promise<void> {
    this.failure ??= reason;
    this.tar?.destroy(reason instanceof Error ? reason : new Error(String(reason)));
    await this.remote?.catch(() => undefined);
  }

  stats(): TransferStats {
    return { files: this.files, bytes: this.bytes, seconds: (Date.now() - this.started) / 1000 };
  }

  summary(): string {
    return summaryLine(this.target.name, this.dest, this.stats(), this.target.dryRun);
  }

  reportProgress(final: boolean): void {
    if (this.target.dryRun) return; // nothing is sent: no progress to show
    this.log.progress(progressLine(this.target.name, this.stats(), this.options.expected), final);
  }

  private serially<T>(job: () => Promise<T>, file: Partial<TransferFile>): Promise<T> {
    const run = this.queue.then(async () => {
      if (this.failure) throw this.failure;
      if (this.options.signal?.aborted) throw this.cancelled();
      try {
        return await job();
      } catch (error) {
        // The first failure ends the stream, and the server's command ends on the cut archive before anyone undoes.
        const remote = this.ended ? await this.remoteFailure() : undefined;
        const reason = remote ?? (error instanceof AttacheError ? error : this.fileError(file, undefined, (error as Error).message));
        await this.abort(reason);
        throw reason;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Writes archive bytes, waiting while the channel is full. Small pieces are gathered into larger
   * ones; a large piece goes as it is, after what was gathered (copying it into a gathered piece
   * would cost a copy of most of the archive: 60 ms of CPU for 33 MB).
   */
  private async write(chunk: Buffer): Promise<void> {
    if (!chunk.length) return;
    if (chunk.length >= DIRECT) {
      await this.flush();
      return this.send(chunk);
    }
    this.gathered.push(chunk);
    this.gatheredBytes += chunk.length;
    if (this.gatheredBytes >= GATHER) await this.flush();
  }

  /** Sends what was gathered. */
  private async flush(): Promise<void> {
    if (!this.gatheredBytes) return;
    const chunk = this.gathered.length === 1 ? this.gathered[0] : Buffer.concat(this.gathered);
    this.gathered = [];
    this.gatheredBytes = 0;
    return this.send(chunk);
  }

  /** Holds a small upload's bytes (see SMALL), or streams them; starts the server's command on first use. */
  private async send(chunk: Buffer): Promise<void> {
    if (this.options.signal?.aborted) throw this.cancelled();
    if (this.held) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes <= 2 * SMALL) return;
      // Bigger than expected after all: stream it.
      const held = Buffer.concat(this.held);
      this.held = undefined;
      return this.flushChunk(held);
    }
    return this.flushChunk(chunk);
  }

  private async flushChunk(chunk: Buffer): Promise<void> {
    const tar = this.tar ?? this.start();
    if (!this.ended && tar.write(chunk)) return;
    if (!this.ended) await Promise.race([once(tar, 'drain'), this.remoteEnded]);
    // The command ended while we were still sending: it failed (no space, tar refused); say why.
    if (this.ended)
      throw (
        (await this.remoteFailure()) ??
        new AttacheError('the server stopped reading the archive before its end', {
          server: this.target.name,
          step: this.options.step,
          remotePath: this.dest,
        })
      );
  }

  private start(): PassThrough {
    const tar = new PassThrough({ highWaterMark: BUFFERED });
    // abort() may destroy it before the command's channel is open and listening: the failure is kept in `failure`.
    tar.on('error', () => {});
    this.tar = tar;
    this.run(tar);
    return tar;
  }

  /** The whole small archive as one command's input (a persistent shell takes it: no channel of its own). */
  private sendHeld(): void {
    const archive = Buffer.concat(this.held as Buffer[]);
    this.held = undefined;
    this.run(archive);
  }

  private run(stdin: PassThrough | Buffer): void {
    const remote = this.target.exec(this.script(), { stdin, check: false, step: this.options.step });
    this.remote = remote;
    this.remoteEnded = remote.then(
      () => void (this.ended = true),
      () => void (this.ended = true),
    );
  }

  private cancelled(): AttacheError {
    return new AttacheError('upload stopped: the deploy was cancelled', { server: this.target.name, step: this.options.step });
  }

  /** The server's half, one script: free space, unpack, check, remove the list. */
  private script(): string {
    const lines = [sh`mkdir -p -- ${this.dest} && cd -- ${this.dest} || exit ${NO_DIRECTORY}`];
    const needed = this.options.expected?.bytes;
    if (needed !== undefined) {
      // Bytes and inodes (disk-space.ts prints them). A df that answers no number (none there, an odd
      // format, a file system that counts no inodes) does not block the upload: a full disk still says so.
      const files = this.options.expected?.files ?? 0;
      lines.push(
        `space=$( ${SPACE_LINES.join('; ')} )`,
        `printf '%s\n' "$space"`,
        `free=$(printf '%s\n' "$space" | sed -n 's/^free //p')`,
        `inodes=$(printf '%s\n' "$space" | sed -n 's/^inodes [0-9]* //p')`,
        sh`case $free in ''|*[!0-9]*) ;; *) [ "$free" -ge ${Math.ceil(needed / 1024)} ] || exit ${NO_SPACE} ;; esac`,
        sh`case $inodes in ''|*[!0-9]*) ;; *) [ "$inodes" -ge ${files} ] || exit ${NO_INODES} ;; esac`,
      );
    }
    const [first, second] = this.lists.sums;
    const { names, hashes } = this.lists;
    const every = [first, second, names, hashes];
    // An empty list is no error (nothing to check in it); a missing one is: the stream ended before it.
    const check = (list: string) => sh`if [ -s ${list} ]; then sha256sum -c --quiet --strict -- ${list}; fi`;
    // The quick check; its complaints (a file missing, no openssl) are left to the file-by-file check, which says them.
    const quick = sh`[ -s ${hashes} ] && command -v openssl >/dev/null 2>&1 && xargs -0 openssl dgst -sha256 -r < ${names} 2>/dev/null | cut -c1-64 | cmp -s - ${hashes}`;
    lines.push(
      // -p keeps modes whatever the umask; the archive names no owner: files belong to the deploy user.
      ...(this.options.from ? this.fromSource(this.options.from, every) : [sh`tar -x -p --no-same-owner -f - || exit ${UNPACK_FAILED}`]),
      sh`[ -f ${first} ] && [ -f ${second} ] && [ -f ${names} ] && [ -f ${hashes} ] || { rm -f -- ${every}; echo 'the archive ended before its hash lists' >&2; exit ${CHECK_FAILED}; }`,
      `if ${quick}; then echo ${QUICK_CHECKED}; else`,
      `  ${check(first)} & checking=$!`,
      `  ${check(second)}; second=$?`,
      sh`  wait "$checking" && [ "$second" -eq 0 ] || { rm -f -- ${every}; exit ${CHECK_FAILED}; }`,
      `fi`,
      sh`rm -f -- ${every}`,
    );
    return lines.join('\n');
  }

  /**
   * The source's archive, then ours (the hash lists) on stdin, as one stream into one tar (`-i`
   * reads past the first archive's end). A source that fails is told by its own exit code and
   * first error line, before tar's complaint about the cut archive.
   */
  private fromSource(from: ArchiveSource, lists: string[]): string[] {
    const failed = `${from.scratch}/source-failed`;
    const errors = `${from.scratch}/source-errors`;
    return [
      sh`rm -f -- ${failed} ${errors}`,
      sh`{ ${raw(from.command)} 2>${errors} || echo failed > ${failed}; cat; } | tar -x -i -p --no-same-owner -f -; untar=$?`,
      sh`if [ -f ${failed} ]; then rm -f -- ${lists}; head -n 1 -- ${errors} >&2; exit ${FETCH_FAILED}; fi`,
      sh`[ "$untar" -eq 0 ] || exit ${UNPACK_FAILED}`,
    ];
  }

  /** The command's answer, as the upload's failure (or nothing when it succeeded). */
  private async answer(): Promise<void> {
    const failure = await this.remoteFailure();
    if (failure) throw failure;
  }

  private async remoteFailure(): Promise<AttacheError | undefined> {
    if (!this.remote) return undefined;
    let result: ExecResult;
    try {
      result = await this.remote;
    } catch (error) {
      // The input's own failure (ours) or a lost connection: the error as it is.
      if (error === this.failure) return undefined;
      return error instanceof AttacheError
        ? error
        : new AttacheError((error as Error).message, { server: this.target.name, step: this.options.step });
    }
    if (result.code === 0 && !result.signal) return undefined;
    if (result.code === null && !result.signal) {
      // No exit status: the channel went away. A command that the connection carries says whether it is still there.
      const probe = () =>
        this.target.exec('true', { output: 'none', step: this.options.step }).then(
          () => undefined,
          (error: unknown) => error,
        );
      let lost = await probe();
      // The channel may close a moment before the connection says it is gone: ask once more, later.
      if (lost && !(lost instanceof AttacheError)) lost = await new Promise((resolve) => setTimeout(resolve, 200)).then(probe);
      if (lost)
        return lost instanceof AttacheError
          ? lost
          : new AttacheError(`the connection was lost while the archive was sent (${(lost as Error).message})`, {
              server: this.target.name,
              step: this.options.step,
            });
    }
    const context = { server: this.target.name, step: this.options.step, remotePath: this.dest };
    const lines = (text: string) =>
      text
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !/^(free|fs|inodes) /.test(line));
    const firstLine = lines(result.stderr)[0] ?? '';
    if (result.code === FETCH_FAILED && this.options.from) return new ArchiveSourceFailed(firstLine, context);
    const space = parseSpace(result.stdout);
    if (result.code === NO_INODES && space) {
      const files = this.options.expected?.files ?? 0;
      return new AttacheError(
        `no free inodes on ${space.mount} (${space.filesystem}): ${files} file${files === 1 ? '' : 's'} to write, ${space.inodesFree} inode${space.inodesFree === 1 ? '' : 's'} free (and ${formatBytes(space.bytesFree)})`,
        { ...context, hint: inodeHint(space) },
      );
    }
    if (result.code === NO_SPACE) {
      const free = Number(/^free (\d+)/m.exec(result.stdout)?.[1] ?? 0) * 1024;
      return new AttacheError(
        `not enough space on ${this.target.name}: ${formatBytes(this.options.expected?.bytes ?? 0)} needed, ${formatBytes(free)} free at ${this.dest}`,
        {
          ...context,
          hint: 'Free space on the server (gulp prune removes old releases; old logs, caches), then deploy again.',
        },
      );
    }
    if (/no space left on device/i.test(result.stderr)) {
      // tar's own first line is kept, though it may only say "Wrote only 8704 of 10240 bytes".
      return new AttacheError(`no space left on device at ${this.dest}: ${firstLine}`, {
        ...context,
        hint: 'Free space on the server (gulp prune removes old releases), then deploy again.',
      });
    }
    if (result.code === CHECK_FAILED) {
      // sha256sum names each file that failed on stdout ("name: FAILED"), its summary on stderr.
      return new AttacheError(
        `the files on the server do not match what was sent (the stream was cut or altered): ${lines(result.stdout)[0] ?? firstLine}`,
        context,
      );
    }
    const what =
      result.code === NO_DIRECTORY
        ? 'the directory could not be made'
        : result.code === UNPACK_FAILED
          ? 'the archive could not be unpacked'
          : `the unpacking command ended with ${result.signal ? `signal ${result.signal}` : `code ${result.code}`}`;
    return new AttacheError(`${what}: ${firstLine || '(no message)'}`, {
      ...context,
      hint: 'The server needs GNU tar and sha256sum (Debian and Ubuntu have both).',
    });
  }

  private fileError(file: Partial<TransferFile>, remote: string | undefined, what: string): AttacheError {
    return new AttacheError(`upload failed: ${what}`, {
      server: this.target.name,
      step: this.options.step,
      file: file.source ?? file.relative,
      remotePath: remote,
    });
  }
}

/** The hash lines in two lists of about the same bytes to read, for the two checks that run at once. */
export function halves(entries: readonly { line: string; size: number }[]): [string[], string[]] {
  const lists: [string[], string[]] = [[], []];
  const bytes = [0, 0];
  for (const entry of [...entries].sort((a, b) => b.size - a.size)) {
    const lighter = bytes[0] <= bytes[1] ? 0 : 1;
    lists[lighter].push(entry.line);
    bytes[lighter] += entry.size;
  }
  return lists;
}

/**
 * A line of `sha256sum -c`'s list. A name holding a backslash or a newline is escaped the way GNU
 * coreutils reads it back: the line starts with a backslash, and `\\` and `\n` stand for them.
 */
export function sumLine(sha256: string, name: string): string {
  if (!/[\\\n]/.test(name)) return `${sha256}  ${name}\n`;
  return `\\${sha256}  ${name.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n`;
}
