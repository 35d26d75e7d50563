import type { Transform } from 'node:stream';
import type { Logger } from '../log';
import type { Target } from '../remote/target';
import { actAsTask, actAtFlush } from './at-flush';
import type { CommonOptions } from './options';

export interface ExecOptions extends CommonOptions {
  /** Directory the commands run in (quoted for you). */
  cwd?: string;
}

/**
 * Runs remote command(s) once every file has passed through (at flush), in order, each in `cwd`,
 * stopping at the first failure. Files pass through untouched. Commands are shell text written by
 * you: values you interpolate should go through `quote` or `sh`.
 */
export function exec(commands: string | string[], options: ExecOptions): Transform {
  return actAtFlush(options, 'exec', (target, log) => runCommands(target, commands, options, log));
}

/** `exec.task(commands, options)`: the same as a gulp task function, for use without a pipe. */
exec.task = function execTask(commands: string | string[], options: ExecOptions): () => Promise<void> {
  return actAsTask(options, 'exec', (target, log) => runCommands(target, commands, options, log));
};

async function runCommands(target: Target, commands: string | string[], options: ExecOptions, log: Logger): Promise<void> {
  for (const command of Array.isArray(commands) ? commands : [commands]) {
    if (options.dryRun) {
      log.info(`[dry run] [${target.name}] would run: ${command}${options.cwd ? ` (in ${options.cwd})` : ''}`);
      continue;
    }
    log.info(`[${target.name}] $ ${command}`);
    await target.exec(command, { cwd: options.cwd, output: 'info', step: 'exec' });
  }
}
