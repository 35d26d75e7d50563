import { Writable } from 'node:stream';
import type { ClientChannel } from 'ssh2';

/** The least that may be in flight. */
export const LEAST_IN_FLIGHT = 512 * 1024;
/**
 * Bytes in flight allowed per millisecond of the measured round trip: 320 Mbit/s. The round trip
 * is the session's quickest command so far (a shell's work included), so it overstates the
 * network's, and a link this fast or slower is never held back; over a WAN (50 ms and more) the
 * limit is over OpenSSH's 2 MB window, and nothing is paced.
 */
const BYTES_PER_MS = 40_000;

/** ssh2's view of the server's window for a channel (not in its typings). */
interface Outgoing {
  window: number;
}

/**
 * A channel's input, sent no further ahead of the server than the link needs: the bytes the
 * command has not yet taken (not yet credited back by the server's window adjusts) stay under
 * BYTES_PER_MS × `roundTripMs`, and at least LEAST_IN_FLIGHT. Why: OpenSSH's sshd grows a
 * channel's buffer, copying it into a fresh allocation each time, as far as the 2 MB window lets
 * the client run ahead of the command's reading, and on a near link the client always can. On our
 * bench machine that growth cost ~0.7 s of a connection's first 33 MB upload (0.9 s, against
 * 0.18 s for the next one on the same connection), and a loopback first deploy went 2.53 → 1.88 s
 * with this limit. Far from the server the limit is over the window and the channel itself is
 * returned, as it is when the round trip is not known yet or ssh2's window cannot be read.
 */
export function pacedInput(channel: ClientChannel, roundTripMs: number | undefined): Writable {
  const outgoing = (channel as unknown as { outgoing?: Outgoing }).outgoing;
  const descriptor = outgoing && Object.getOwnPropertyDescriptor(outgoing, 'window');
  if (roundTripMs === undefined || !outgoing || typeof outgoing.window !== 'number' || !descriptor?.configurable || !descriptor.writable) return channel;
  const limit = Math.max(LEAST_IN_FLIGHT, roundTripMs * BYTES_PER_MS);
  if (limit >= outgoing.window) return channel;

  let window = outgoing.window;
  let fullWindow = window;
  const held = () => fullWindow - window >= limit;
  let resume: (() => void) | undefined;
  // ssh2 lowers the window as it sends and raises it on each adjust: the moment to go on.
  Object.defineProperty(outgoing, 'window', {
    configurable: true,
    enumerable: true,
    get: () => window,
    set(value: number) {
      window = value;
      fullWindow = Math.max(fullWindow, value);
      if (resume && !held()) {
        const waiting = resume;
        resume = undefined;
        waiting();
      }
    },
  });

  const send = (chunk: Buffer, done: (error?: Error | null) => void) => {
    if (channel.write(chunk)) done();
    else channel.once('drain', () => done());
  };
  const paced = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, done) {
      if (!held()) send(chunk, done);
      else resume = () => send(chunk, done);
    },
    final(done) {
      channel.end();
      done();
    },
    destroy(error, done) {
      resume = undefined;
      done(error);
    },
  });
  // The command closed its input (or the connection died): nothing more goes, and the writer hears of it.
  channel.once('close', () => paced.destroy());
  channel.on('error', (error: Error) => paced.destroy(error));
  return paced;
}
