import { Writable, type Readable } from 'node:stream';

/**
 * A plugin's output flows when nobody reads it, as vinyl-fs's dest does: unless something reads the
 * stream by the next tick (a pipe, a 'data' or 'readable' listener), a sink takes what comes out,
 * and it lets go as soon as a reader appears. Without it a pipeline that ends in the plugin stalls
 * once 16 files wait unread, and its flush (the upload's end, exec's commands) never runs.
 */
export function drainUnlessRead<T extends Readable>(stream: T): T {
  const sink = new Writable({ objectMode: true, write: (_file, _encoding, done) => done() });
  let sinking = false;
  const hasReader = () => stream.listenerCount('data') > 0 || stream.listenerCount('readable') > 0;
  stream.on('newListener', (event) => {
    // Emitted before the listener is added: the sink's own pipe finds no reader and stays.
    if (sinking && (event === 'data' || event === 'readable') && hasReader()) {
      sinking = false;
      stream.unpipe(sink);
    }
  });
  process.nextTick(() => {
    if (hasReader() || stream.destroyed) return;
    sinking = true;
    stream.pipe(sink);
  });
  return stream;
}
