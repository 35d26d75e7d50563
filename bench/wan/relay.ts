/**
 * The bench's WAN link: a TCP relay on loopback in front of the bench sshd that makes every byte
 * cross a slower, farther network. Each direction of each connection is its own one-way link:
 *
 *   - paced to `bytesPerSecond` (100 Mbit/s = 12.5e6): a chunk occupies the link for
 *     size / rate after the previous one left it (so a burst queues behind itself, as on a wire);
 *   - then delayed by `delayMs` (one-way latency: 25 ms each way is a 50 ms round trip);
 *   - delivered in order (one queue per direction), FIN included, after the data before it.
 *
 * A source that gets more than HIGH_WATER bytes ahead of the link is paused until the queue
 * drains below LOW_WATER (the router's buffer; TCP on loopback then pushes back on the sender).
 * SSH's own channel windows travel through the relay, so its flow control sees the latency; the
 * loopback TCP between a client and the relay does not (no slow start on the emulated path).
 *
 * Run as a child process by bench/wan/link.ts, so that the bench process's own work (in-process
 * upload cases, verification) cannot delay deliveries:
 *   node --import tsx bench/wan/relay.ts <target port> <delay ms> <bytes per second>
 * prints "listening <port>" and relays until killed.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const HIGH_WATER = 4 * 2 ** 20;
const LOW_WATER = 1 * 2 ** 20;

export interface LinkShape {
  /** One-way delay of each direction, ms. */
  delayMs: number;
  /** Pace of each direction, bytes per second (Infinity: unpaced). */
  bytesPerSecond: number;
}

type Item = { at: number; data: Buffer } | { at: number; end: true };

/** One direction of one connection: `from` → (pace, delay) → `to`. */
function oneWay(from: net.Socket, to: net.Socket, shape: LinkShape): void {
  const bytesPerMs = shape.bytesPerSecond / 1000;
  const queue: Item[] = [];
  let queued = 0;
  let linkFreeAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let paused = false;

  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0].at <= now) {
      const item = queue.shift() as Item;
      if ('end' in item) {
        to.end();
        continue;
      }
      queued -= item.data.length;
      if (!to.destroyed) to.write(item.data);
    }
    if (paused && queued < LOW_WATER) {
      paused = false;
      from.resume();
    }
    // Node's timers fire no earlier than asked, ~1 ms late at worst; delivery times are absolute, so lateness does not add up.
    if (queue.length) timer = setTimeout(flush, Math.max(0, queue[0].at - performance.now()));
  };

  const enqueue = (item: Item) => {
    queue.push(item);
    if (queue.length === 1 && timer === undefined) {
      if (item.at <= performance.now()) flush();
      else timer = setTimeout(flush, item.at - performance.now());
    }
  };

  from.on('data', (data: Buffer) => {
    const now = performance.now();
    linkFreeAt = Math.max(now, linkFreeAt) + (Number.isFinite(bytesPerMs) ? data.length / bytesPerMs : 0);
    queued += data.length;
    enqueue({ at: linkFreeAt + shape.delayMs, data });
    if (queued > HIGH_WATER && !paused) {
      paused = true;
      from.pause();
    }
  });
  from.on('end', () => enqueue({ at: Math.max(performance.now(), linkFreeAt) + shape.delayMs, end: true }));
  from.on('close', () => {
    if (timer) clearTimeout(timer);
  });
}

/**
 * Ties a relayed connection's two sockets together: an error on either drops it (`drop`), and so
 * does the end of both directions; one side closed for good drops it `graceMs` later (what that
 * side sent is still on the emulated wire: let it arrive).
 */
export function tieEnds(client: net.Socket, upstream: net.Socket, graceMs: number, drop: () => void): void {
  client.on('error', drop);
  upstream.on('error', drop);
  let ended = 0;
  const halfDone = () => {
    if (++ended === 2) drop();
  };
  client.on('finish', halfDone);
  upstream.on('finish', halfDone);
  const later = () => setTimeout(drop, graceMs).unref();
  client.on('close', later);
  upstream.on('close', later);
}

export function startRelay(targetPort: number, shape: LinkShape): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    tieEnds(client, upstream, shape.delayMs + 200, () => {
      client.destroy();
      upstream.destroy();
    });
    oneWay(client, upstream, shape);
    oneWay(upstream, client, shape);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

if (require.main === module) {
  const [port, delay, rate] = process.argv.slice(2).map(Number);
  if (!Number.isInteger(port) || !(delay >= 0) || !(rate > 0)) {
    console.error('usage: relay.ts <target port> <delay ms> <bytes per second>');
    process.exit(2);
  }
  startRelay(port, { delayMs: delay, bytesPerSecond: rate }).then(
    (server) => console.log(`listening ${(server.address() as net.AddressInfo).port}`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
