import { Writable } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { channelWindow, watchChannelWindow } from './ssh2-internals';

/** The least that may be in flight. */
export const LEAST_IN_FLIGHT = 512 * 1024;
/**
 * Bytes in flight allowed per millisecond of the measured round trip: 320 Mbit/s. The round trip
 * is the session's quickest answer so far (a shell command's or an SFTP request's, the server's
 * work included), so it overstates the network's, and a link this fast or slower is never held
 * back; from a 53 ms round trip on the limit is over OpenSSH's 2 MiB window, and nothing is paced.
 */
const BYTES_PER_MS = 40_000;

/** The bytes that may be in flight to a server this near (Infinity when the round trip is not known yet). */
export function inFlightLimit(roundTripMs: number | undefined): number {
  return roundTripMs === undefined ? Infinity : Math.max(LEAST_IN_FLIGHT, roundTripMs * BYTES_PER_MS);
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
  const start = channelWindow(channel); // ssh2's, not in its typings (ssh2-internals.ts)
  if (start === undefined) return channel;
  const limit = inFlightLimit(roundTripMs);
  if (limit >= start) return channel;

  let window = start;
  let fullWindow = window;
  const held = () => fullWindow - window >= limit;
  let resume: (() => void) | undefined;
  // ssh2 lowers the window as it sends and raises it on each adjust: the moment to go on.
  watchChannelWindow(channel, (value) => {
    window = value;
    fullWindow = Math.max(fullWindow, value);
    if (resume && !held()) {
      const waiting = resume;
      resume = undefined;
      waiting();
    }
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

/**
 * The same limit for SFTP writes, over the whole session: the bytes of writes not yet answered by
 * sftp-server. Without it an upload of many files keeps the 2 MB window full (16 files × 16 writes
 * of 32 KB are asked at once), and sshd's buffer grows as it does for a streamed input. A write
 * waits its turn (first come, first served); one write alone always goes.
 */
export class PacedWrites {
  private inFlight = 0;
  private readonly waiting: Array<{ bytes: number; go: () => void }> = [];

  constructor(private readonly roundTripMs: () => number | undefined) {}

  /** Resolves when `bytes` more may go; give() them back once the write is answered (or failed). */
  take(bytes: number): Promise<void> {
    if (!this.waiting.length && this.fits(bytes)) {
      this.inFlight += bytes;
      return Promise.resolve();
    }
    return new Promise((go) => this.waiting.push({ bytes, go }));
  }

  give(bytes: number): void {
    this.inFlight -= bytes;
    while (this.waiting.length && this.fits(this.waiting[0].bytes)) {
      const next = this.waiting.shift() as { bytes: number; go: () => void };
      this.inFlight += next.bytes;
      next.go();
    }
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= inFlightLimit(this.roundTripMs());
  }
}
