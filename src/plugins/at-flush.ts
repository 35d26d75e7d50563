import through2 from 'through2';
import type { Transform } from 'node:stream';
import type { Logger } from '../log';
import type { Target } from '../remote/target';
import { drainUnlessRead } from './drain';
import { lease } from './lease';
import { loggerFor, serverOf, type CommonOptions } from './options';
import { toPluginError, type FlushDone } from './plugin-error';

type Action<R> = (target: Target, log: Logger) => Promise<R>;

/**
 * The shape exec and swap share: files pass through untouched, and once all have passed (at flush)
 * the action runs on the server's leased connection. Its result is handed to `onResult`.
 */
export function actAtFlush<R>(
  options: CommonOptions,
  plugin: string,
  action: Action<R>,
  onResult?: (stream: Transform, result: R) => void,
): Transform {
  const log = loggerFor(options);
  const connection = lease(serverOf(options, plugin), log);
  const stream = through2.obj(
    (file, _encoding, done) => done(null, file),
    function (done) {
      connection
        .target()
        .then((target) => action(target, log))
        .then(
          (result) =>
            connection.release().then(() => {
              onResult?.(this, result);
              done();
            }),
          (error) => connection.release().then(() => (done as FlushDone)(toPluginError(error))),
        )
        .catch((error) => (done as FlushDone)(toPluginError(error))); // a throwing 'swap' listener, say
    },
  );
  // A stream destroyed by a failure elsewhere in the pipe never flushes: give the connection back anyway.
  stream.on('close', () => void connection.release());
  return drainUnlessRead(stream);
}

/** The same action as a gulp task function, for use without a pipe. */
export function actAsTask<R>(options: CommonOptions, plugin: string, action: Action<R>): () => Promise<R> {
  return async () => {
    const log = loggerFor(options);
    const connection = lease(serverOf(options, plugin), log);
    try {
      return await action(await connection.target(), log);
    } catch (error) {
      throw toPluginError(error);
    } finally {
      await connection.release();
    }
  };
}
