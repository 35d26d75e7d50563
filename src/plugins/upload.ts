import PluginError from 'plugin-error';
import through2 from 'through2';
import type { Transform } from 'node:stream';
import type Vinyl from 'vinyl';
import { readlink } from 'node:fs/promises';
import { AttacheError } from '../errors';
import { ArchiveUpload } from '../remote/archive';
import { checkSymlink, Transfer, type TransferFile, type TransferOptions } from '../remote/transfer';
import { drainUnlessRead } from './drain';
import { lease } from './lease';
import { loggerFor, serverOf, type CommonOptions } from './options';
import { decodedAsText } from './decoded-binary';
import { toPluginError } from './plugin-error';

export interface UploadOptions extends CommonOptions, Pick<TransferOptions, 'concurrency' | 'atomic' | 'expected' | 'signal' | 'step'> {
  /** Remote directory; each file lands at dest/<file.relative>. */
  dest: string;
  /**
   * 'atomic' (default): each file is written under a temporary name and renamed into place, so a
   * directory that is served never shows half a file. 'stream': every file goes in one tar stream
   * to one command, checked on the server against the sent bytes' sha256; no round trip per file,
   * but files appear as they arrive: for a directory nobody serves yet (the deploy's fresh release).
   */
  mode?: 'atomic' | 'stream';
}

/** What the upload passes on: `remotePath`, and in stream mode `sha256`, the hash of the bytes sent (checked on the server). */
export type UploadedFile = Vinyl & { remotePath?: string; sha256?: string };

/**
 * Uploads every file that passes through to `dest/<file.relative>`, many at once on one connection,
 * and passes each file on once it is written (with `remotePath` set). Directories pass through.
 */
export function upload(options: UploadOptions): Transform {
  if (!options?.dest) throw new PluginError('gulp-attache', 'upload: the "dest" option (the remote directory) is required');
  const log = loggerFor(options);
  const connection = lease(serverOf(options, 'upload'), log);
  let transfer: Promise<Transfer | ArchiveUpload> | undefined;
  const inFlight = new Set<Promise<void>>();
  let failed = false;

  const fail = async (stream: Transform, error: unknown) => {
    if (failed) return;
    failed = true;
    await transfer?.then(
      (started) => started.abort(error),
      () => undefined,
    ); // the server's command ends before we report
    await connection.release();
    stream.emit('error', toPluginError(error));
  };

  const stream = through2.obj(
    function (file: UploadedFile, _encoding, done) {
      if (failed) {
        if (file.isStream()) (file.contents as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.(); // never read: close it
        return done();
      }
      const symlink = file.isSymbolic();
      if ((file.isNull() && !symlink) || file.isDirectory()) return done(null, file);
      if (!symlink && decodedAsText(file)) {
        const what = `upload: ${file.relative} is binary but was decoded as UTF-8 text (${file.stat.size} bytes on disk, ${file.contents.length} after decoding); it would arrive corrupted`;
        void fail(
          this,
          new AttacheError(what, {
            file: file.path,
            hint: 'Read binary files with gulp.src(…, { encoding: false }): gulp 5 decodes file contents as UTF-8 by default.',
          }),
        );
        return done();
      }
      if (options.dryRun) {
        log.info(`[dry run] would upload ${file.relative} -> ${options.dest}/${file.relative.replace(/\\/g, '/')}`);
        return done(null, file);
      }
      const job = (async () => {
        const step = options.step ?? 'upload';
        transfer ??= connection
          .target()
          .then((target) =>
            options.mode === 'stream'
              ? new ArchiveUpload(target, options.dest, log, { ...options, step })
              : new Transfer(target, options.dest, log, { ...options, step }),
          );
        if (symlink) {
          // Never dropped: kept as a link when it stays inside the tree, refused when it leads out.
          const linkTarget = file.symlink ?? (await readlink(file.path));
          checkSymlink(file.relative, linkTarget, { file: file.path, tree: file.base, step });
          file.remotePath = await (await transfer).putSymlink(file.relative, linkTarget, file.path);
          this.push(file);
          return;
        }
        const sent: TransferFile = {
          relative: file.relative,
          contents: file.contents as Buffer,
          mode: file.stat?.mode,
          source: file.path,
          size: file.stat?.size,
          mtimeMs: file.stat?.mtimeMs,
          sha256: file.sha256, // the deploy's manifest hash, when it set one
        };
        file.remotePath = await (await transfer).put(sent);
        if (sent.sha256) file.sha256 = sent.sha256; // stream mode: the hash of the bytes sent
        // A stream's contents are consumed by the upload; the file goes on without them.
        if (file.isStream()) (file as { contents: unknown }).contents = null;
        this.push(file);
      })().catch((error) => fail(this, error));
      inFlight.add(job);
      job.finally(() => inFlight.delete(job));
      // Backpressure: take the next file only while fewer than `concurrency` are in flight.
      if (inFlight.size < (options.concurrency ?? 16) * 2) done();
      else Promise.race(inFlight).then(() => done());
    },
    function (done) {
      Promise.all(inFlight)
        .then(async () => {
          if (failed) return done();
          if (transfer) {
            const finished = await transfer;
            await finished.finish(); // stream mode: the server has unpacked and checked every file
            finished.reportProgress(true);
            log.info(finished.summary());
          }
          await connection.release();
          done();
        })
        .catch((error) => fail(this, error).then(() => done()));
    },
  );
  // A stream destroyed by a failure elsewhere in the pipe never flushes: give the connection back anyway.
  stream.on('close', () => void connection.release());
  return drainUnlessRead(stream);
}
