import through2 from 'through2';
import type { Transform } from 'node:stream';
import PluginError from 'plugin-error';
import type { Logger } from '../log';
import { swapLink, type SwapResult } from '../remote/swap-link';
import type { Target } from '../remote/target';
import { lease } from './lease';
import { loggerFor, serverOf, type CommonOptions } from './options';
import { toPluginError, type FlushDone } from './plugin-error';

export interface SwapOptions extends CommonOptions {
  /** Path of the symlink to swap (e.g. /var/www/app/live). */
  link: string;
  /** What it must point to; relative targets are resolved from the link's directory. */
  target: string;
}

/**
 * Swaps the symlink atomically once every file has passed through (at flush). The stream emits
 * 'swap' with { link, previous, current, changed }: `previous` is what to swap back to for a rollback.
 */
export function swap(options: SwapOptions): Transform {
  checkOptions(options);
  const log = loggerFor(options);
  const connection = lease(serverOf(options, 'swap'), log);
  const stream = through2.obj(
    (file, _encoding, done) => done(null, file),
    function (done) {
      connection
        .target()
        .then((target) => swapNow(target, options, log))
        .then(
          (result) => connection.release().then(() => {
            if (result) this.emit('swap', result);
            done();
          }),
          (error) => connection.release().then(() => (done as FlushDone)(toPluginError(error))),
        );
    },
  );
  // A stream destroyed by a failure elsewhere in the pipe never flushes: give the connection back anyway.
  stream.on('close', () => void connection.release());
  return stream;
}

/** `swap.task(options)`: a gulp task function that swaps the link; resolves with the SwapResult. */
swap.task = function swapTask(options: SwapOptions): () => Promise<SwapResult | undefined> {
  checkOptions(options);
  return async () => {
    const log = loggerFor(options);
    const connection = lease(serverOf(options, 'swap'), log);
    try {
      return await swapNow(await connection.target(), options, log);
    } catch (error) {
      throw toPluginError(error);
    } finally {
      await connection.release();
    }
  };
};

async function swapNow(target: Target, options: SwapOptions, log: Logger): Promise<SwapResult | undefined> {
  if (options.dryRun) {
    log.info(`[dry run] [${target.name}] would point ${options.link} -> ${options.target}`);
    return undefined;
  }
  const result = await swapLink(target, options.link, options.target);
  log.info(
    result.changed
      ? `[${target.name}] ${result.link} -> ${result.current} (was ${result.previous ?? 'absent'})`
      : `[${target.name}] ${result.link} already points to ${result.current}`,
  );
  return result;
}

function checkOptions(options: SwapOptions): void {
  if (!options?.link || !options?.target) {
    throw new PluginError('gulp-attache', 'swap: the "link" (symlink path) and "target" (what it points to) options are required');
  }
}
