import through2 from 'through2';
import type { Transform } from 'node:stream';
import type { Target } from '../remote/target';
import type { Logger } from '../log';
import { lease } from './lease';
import { loggerFor, serverOf, type CommonOptions } from './options';
import { toPluginError, type FlushDone } from './plugin-error';

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
  const log = loggerFor(options);
  const connection = lease(serverOf(options, 'exec'), log);
  const stream = through2.obj(
    (file, _encoding, done) => done(null, file),
    function (done) {
      connection
        .target()
        .then((target) => runCommands(target, commands, options, log))
        .then(
          () => connection.release().then(() => done()),
          (error) => connection.release().then(() => (done as FlushDone)(toPluginError(error))),
        );
    },
  );
  // A stream destroyed by a failure elsewhere in the pipe never flushes: give the connection back anyway.
  stream.on('close', () => void connection.release());
  return stream;
}

/** `exec.task(commands, options)`: the same as a gulp task function, for use without a pipe. */
exec.task = function execTask(commands: string | string[], options: ExecOptions): () => Promise<void> {
  return async () => {
    const log = loggerFor(options);
    const connection = lease(serverOf(options, 'exec'), log);
    try {
      await runCommands(await connection.target(), commands, options, log);
    } catch (error) {
      throw toPluginError(error);
    } finally {
      await connection.release();
    }
  };
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
