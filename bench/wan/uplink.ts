/**
 * The bench's shared uplink: one deploying machine (a laptop, an office line, a self-hosted runner)
 * whose one uplink carries its connections to every server. A TCP relay on loopback with one
 * listener per target port (one per server's sshd):
 *
 *   - client → server: every connection of every listener crosses ONE link (bench/wan/shared-pacer.ts),
 *     paced to `upBytesPerSecond` (20 Mbit/s in the bench), the connections taking turns; then each
 *     byte is delayed `delayMs` (25 ms);
 *   - server → client: likewise ONE shared link (the machine's downlink), paced to
 *     `downBytesPerSecond` (100 Mbit/s in the bench: lines are asymmetric), delayed `delayMs`;
 *   - each direction of each connection delivered in order, FIN included, after its data.
 *
 * A connection whose bytes queue up beyond HIGH_WATER on a link is paused until it is below
 * LOW_WATER (TCP on loopback then pushes back on its sender). The turns keep one connection's queue
 * from delaying another's (an SSH window update waits at most one turn of each busy connection).
 *
 * It counts the bytes each listener's connections put on each link ("accepted") and the bytes that
 * finished crossing ("crossed"; equal to accepted once the link has drained), and the connections.
 *
 * Run as a child process (bench/wan/link.ts startUplink), so that the bench's own work cannot delay it:
 *   node --import tsx bench/wan/uplink.ts <delay ms> <up bytes/s> <down bytes/s> <target port>...
 * prints "listening <port> <port>…" (one per target, in order), then answers each line "counters"
 * on its stdin with one line "counters <json>" (UplinkCounters). It exits when its stdin closes
 * (the bench is gone) or when killed.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { tieEnds } from './relay';
import { type Crossing, SharedPacer } from './shared-pacer';

/** A connection's queue on a shared link: pause it above this, resume below LOW_WATER (~0.4 s and ~0.1 s at 20 Mbit/s). */
const HIGH_WATER = 1 * 2 ** 20;
const LOW_WATER = 256 * 2 ** 10;

export interface UplinkShape {
  /** One-way delay of each direction, ms. */
  delayMs: number;
  /** The shared client → server link, bytes per second. */
  upBytesPerSecond: number;
  /** The shared server → client link, bytes per second. */
  downBytesPerSecond: number;
}

export interface LinkCount {
  /** Bytes the connections put on the link. */
  accepted: number;
  /** Bytes that finished crossing it. */
  crossed: number;
}

export interface UplinkCounters {
  up: LinkCount;
  down: LinkCount;
  connections: number;
  /** Per listener, in the order of the target ports. */
  targets: Array<{ port: number; listener: number; up: LinkCount; down: LinkCount; connections: number }>;
}

type Item = { at: number; data: Buffer } | { at: number; end: true };

/** The far end of one direction: items delivered to `to` in order, each at its time. */
class Delivery {
  private readonly queue: Item[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastAt = 0;

  constructor(private readonly to: net.Socket) {}

  add(item: Item): void {
    // In order: an item never arrives before the one ahead of it.
    item.at = Math.max(item.at, this.lastAt);
    this.lastAt = item.at;
    this.queue.push(item);
    if (this.queue.length === 1 && this.timer === undefined) this.flush();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush = (): void => {
    this.timer = undefined;
    const now = performance.now();
    while (this.queue.length && this.queue[0].at <= now) {
      const item = this.queue.shift() as Item;
      if ('end' in item) this.to.end();
      else if (!this.to.destroyed) this.to.write(item.data);
    }
    if (this.queue.length) this.timer = setTimeout(this.flush, Math.max(0, this.queue[0].at - performance.now()));
  };
}

/** One direction of one connection on a shared link. */
interface Flow {
  from: net.Socket;
  /** Bytes read from `from` that have not finished crossing, in order. */
  pending: Buffer[];
  delivery: Delivery;
  ended: boolean;
  paused: boolean;
  count: LinkCount;
}

/** One shared link: its pacer, the flows on it, and one timer for the next crossing. */
class SharedLink {
  readonly pacer: SharedPacer;
  readonly total: LinkCount = { accepted: 0, crossed: 0 };
  private readonly flows = new Map<number, Flow>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(
    bytesPerSecond: number,
    private readonly delayMs: number,
  ) {
    this.pacer = new SharedPacer(bytesPerSecond);
  }

  /** `from`'s bytes cross this link to `to`; `count` is the listener's counter for this link. */
  add(id: number, from: net.Socket, to: net.Socket, count: LinkCount): void {
    const flow: Flow = { from, pending: [], delivery: new Delivery(to), ended: false, paused: false, count };
    this.flows.set(id, flow);
    from.on('data', (data: Buffer) => {
      flow.pending.push(data);
      flow.count.accepted += data.length;
      this.total.accepted += data.length;
      this.handle(this.pacer.push(id, data.length, performance.now()));
      if (!flow.paused && this.pacer.queuedBytes(id) > HIGH_WATER) {
        flow.paused = true;
        from.pause();
      }
    });
    from.on('end', () => {
      flow.ended = true;
      // Nothing of it left to cross: the FIN follows the data that already crossed.
      if (this.pacer.queuedBytes(id) === 0) flow.delivery.add({ at: performance.now() + this.delayMs, end: true });
    });
  }

  /** The connection is gone: its queued bytes go, and so do its deliveries still waiting. */
  remove(id: number): void {
    const flow = this.flows.get(id);
    if (!flow) return;
    this.flows.delete(id);
    flow.delivery.stop();
    this.pacer.drop(id);
  }

  private tick = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    this.handle(this.pacer.advance(performance.now()));
  };

  private handle(crossings: Crossing[]): void {
    for (const { flow: id, bytes, leftAt } of crossings) {
      this.total.crossed += bytes;
      const flow = this.flows.get(id);
      if (!flow) continue;
      flow.count.crossed += bytes;
      const at = leftAt + this.delayMs;
      let rest = bytes;
      while (rest > 0 && flow.pending.length) {
        const head = flow.pending[0];
        if (head.length <= rest) {
          flow.pending.shift();
          rest -= head.length;
          flow.delivery.add({ at, data: head });
        } else {
          flow.delivery.add({ at, data: head.subarray(0, rest) });
          flow.pending[0] = head.subarray(rest);
          rest = 0;
        }
      }
      const left = this.pacer.queuedBytes(id);
      if (flow.ended && left === 0) flow.delivery.add({ at, end: true });
      if (flow.paused && left < LOW_WATER) {
        flow.paused = false;
        flow.from.resume();
      }
    }
    // One timer for the link: the next crossing, at its absolute time (a late timer does not add up).
    const next = this.pacer.nextAt();
    if (next !== undefined && next < this.timerAt) {
      if (this.timer) clearTimeout(this.timer);
      this.timerAt = next;
      this.timer = setTimeout(this.tick, Math.max(0, next - performance.now()));
    }
  }
}

export interface Uplink {
  servers: net.Server[];
  counters(): UplinkCounters;
}

export async function startUplink(targetPorts: number[], shape: UplinkShape): Promise<Uplink> {
  const up = new SharedLink(shape.upBytesPerSecond, shape.delayMs);
  const down = new SharedLink(shape.downBytesPerSecond, shape.delayMs);
  const targets = targetPorts.map((port) => ({
    port,
    listener: 0,
    up: { accepted: 0, crossed: 0 },
    down: { accepted: 0, crossed: 0 },
    connections: 0,
  }));
  let connections = 0;
  let nextId = 0;
  const servers = await Promise.all(
    targets.map(
      (target) =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer({ allowHalfOpen: true }, (client) => {
            connections++;
            target.connections++;
            const id = ++nextId;
            const upstream = net.connect({ host: '127.0.0.1', port: target.port, allowHalfOpen: true });
            client.setNoDelay(true);
            upstream.setNoDelay(true);
            let dropped = false;
            // One side gone for good: what it sent may still be queued behind the shared link; give it time to cross.
            tieEnds(client, upstream, shape.delayMs + 2000, () => {
              if (dropped) return;
              dropped = true;
              up.remove(id);
              down.remove(id);
              client.destroy();
              upstream.destroy();
            });
            up.add(id, client, upstream, target.up);
            down.add(id, upstream, client, target.down);
          });
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => {
            target.listener = (server.address() as net.AddressInfo).port;
            resolve(server);
          });
        }),
    ),
  );
  return {
    servers,
    counters: () => ({
      up: { ...up.total },
      down: { ...down.total },
      connections,
      targets: targets.map((t) => ({ ...t, up: { ...t.up }, down: { ...t.down } })),
    }),
  };
}

if (require.main === module) {
  const [delay, upRate, downRate, ...ports] = process.argv.slice(2).map(Number);
  if (!(delay >= 0) || !(upRate > 0) || !(downRate > 0) || !ports.length || !ports.every((p) => Number.isInteger(p) && p > 0)) {
    console.error('usage: uplink.ts <delay ms> <up bytes/s> <down bytes/s> <target port>...');
    process.exit(2);
  }
  startUplink(ports, { delayMs: delay, upBytesPerSecond: upRate, downBytesPerSecond: downRate }).then(
    (uplink) => {
      console.log(`listening ${uplink.servers.map((s) => (s.address() as net.AddressInfo).port).join(' ')}`);
      const control = createInterface({ input: process.stdin });
      control.on('line', (line) => {
        if (line.trim() === 'counters') console.log(`counters ${JSON.stringify(uplink.counters())}`);
        else console.error(`uplink: unknown command "${line.trim()}"`);
      });
      // The bench is gone (or stopped us): so are we.
      control.on('close', () => process.exit(0));
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
