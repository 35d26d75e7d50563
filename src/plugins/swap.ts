import type { Transform } from 'node:stream';
import PluginError from 'plugin-error';
import type { Logger } from '../log';
import { swapLink, type SwapResult } from '../remote/swap-link';
import type { Target } from '../remote/target';
import { actAsTask, actAtFlush } from './at-flush';
import type { CommonOptions } from './options';

export interface SwapOptions extends CommonOptions {
  /** Path of the symlink to swap (e.g. /var/www/app/live). */
  link: string;
  /** What it must point to; relative targets are resolved from the link's directory. */
  target: string;
  /**
   * Runs once the checks have passed, just before the link changes, with what it points to now
   * (null: nothing). If it throws, the link is left as it was.
   */
  beforeChange?: (previous: string | null) => Promise<void> | void;
}

/**
 * Swaps the symlink atomically once every file has passed through (at flush). The stream emits
 * 'swap' with { link, previous, current, changed }: `previous` is what to swap back to for a rollback.
 */
export function swap(options: SwapOptions): Transform {
  checkOptions(options);
  return actAtFlush(
    options,
    'swap',
    (target, log) => swapNow(target, options, log),
    (stream, result) => {
      if (result) stream.emit('swap', result);
    },
  );
}

/** `swap.task(options)`: a gulp task function that swaps the link; resolves with the SwapResult. */
swap.task = function swapTask(options: SwapOptions): () => Promise<SwapResult | undefined> {
  checkOptions(options);
  return actAsTask(options, 'swap', (target, log) => swapNow(target, options, log));
};

async function swapNow(target: Target, options: SwapOptions, log: Logger): Promise<SwapResult | undefined> {
  if (options.dryRun) {
    log.info(`[dry run] [${target.name}] would point ${options.link} -> ${options.target}`);
    return undefined;
  }
  const result = await swapLink(target, options.link, options.target, 'swap', options.beforeChange);
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
