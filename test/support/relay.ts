import net from 'node:net';

/**
 * A TCP relay on loopback in front of a server (the test sshd), for fault injection: it forwards
 * bytes both ways until told to cut, then destroys both sockets of every connection it carries, as
 * a network failure or a server that went away would. New connections after a cut pass again.
 *
 *   relay.cutAfter(n)  — cut once n more bytes have gone client → server (counted across connections)
 *   relay.cut()        — cut now
 *   relay.throttle(r)  — pass at most r bytes per second client → server (null: full speed)
 *   relay.stall()      — stop forwarding either way, keeping every socket open (new connections
 *                        are accepted and held too): a route that went dead without a word
 *   relay.resume()     — forward again, including what was held
 *   relay.delay(ms)    — hold every chunk ms before passing it on, each direction (a WAN's latency)
 */
export interface Relay {
  port: number;
  /** Bytes client → server since the relay started. */
  readonly bytesUp: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Cuts made so far. */
  readonly cuts: number;
  /** Arms a cut: once `bytes` more bytes have passed client → server, every connection is destroyed. Resolves when it happens. */
  cutAfter(bytes: number): Promise<void>;
  /** Destroys every connection now. */
  cut(): void;
  /** Limits client → server to `bytesPerSecond` (null: no limit), to make an upload last. */
  throttle(bytesPerSecond: number | null): void;
  /** Stops forwarding both ways on every connection, new ones included; the sockets stay open. */
  stall(): void;
  /** Forwards again after stall(). */
  resume(): void;
  readonly stalled: boolean;
  /** Delays each direction by `ms` (0: none); order is kept, so a round trip costs 2 × ms. Delayed chunks skip throttle and back-pressure: for latency, not bulk. */
  delay(ms: number): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number, targetHost = '127.0.0.1'): Promise<Relay> {
  const pairs = new Set<{ client: net.Socket; server: net.Socket }>();
  let bytesUp = 0;
  let connections = 0;
  let cuts = 0;
  let armed: { at: number; fired: () => void } | undefined;
  let cutting = false;
  let rate: number | null = null;
  let stalled = false;
  /** Resumes reading a socket unless the relay is stalled (then resume() does it). */
  const flow = (socket: net.Socket) => {
    if (!stalled) socket.resume();
  };
  let latency = 0;
  // Timers of one duration fire in the order they were set, so delayed chunks keep their order.
  const later = (action: () => void) => (latency > 0 ? setTimeout(action, latency) : action());

  const cut = () => {
    cuts++;
    for (const pair of pairs) {
      pair.client.destroy();
      pair.server.destroy();
    }
    pairs.clear();
  };

  const listener = net.createServer((client) => {
    connections++;
    const server = net.connect({ host: targetHost, port: targetPort });
    const pair = { client, server };
    pairs.add(pair);
    client.setNoDelay(true);
    server.setNoDelay(true);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('error', drop).on('close', drop);
    server.on('error', drop).on('close', drop);
    if (stalled) {
      client.pause();
      server.pause();
    }

    client.on('data', (chunk: Buffer) => {
      if (cutting) return;
      if (armed && bytesUp + chunk.length >= armed.at) {
        // Forward only what fits before the cut point, then cut: the server sees a stream that stops mid-packet.
        const fits = Math.max(0, armed.at - bytesUp);
        bytesUp += fits;
        const { fired } = armed;
        armed = undefined;
        cutting = true;
        const now = () => {
          cutting = false;
          cut();
          fired();
        };
        if (fits > 0) server.write(chunk.subarray(0, fits), now);
        else now();
        return;
      }
      bytesUp += chunk.length;
      if (latency > 0) return later(() => server.destroyed || server.write(chunk));
      const full = !server.write(chunk);
      if (rate !== null) {
        // Hold the client back for as long as this chunk takes at the limited rate.
        client.pause();
        setTimeout(
          () => {
            if (!full || server.writableLength === 0) flow(client);
          },
          (chunk.length / rate) * 1000,
        );
      } else if (full) client.pause();
    });
    server.on('drain', () => flow(client));
    server.on('data', (chunk: Buffer) => {
      if (latency > 0) return later(() => client.destroyed || client.write(chunk));
      if (!client.write(chunk)) server.pause();
    });
    client.on('drain', () => flow(server));
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => resolve());
  });
  listener.unref();
  const { port } = listener.address() as net.AddressInfo;

  return {
    port,
    get bytesUp() {
      return bytesUp;
    },
    get connections() {
      return connections;
    },
    get cuts() {
      return cuts;
    },
    cutAfter(bytes) {
      return new Promise<void>((resolve) => {
        armed = { at: bytesUp + bytes, fired: resolve };
      });
    },
    cut,
    throttle(bytesPerSecond) {
      rate = bytesPerSecond;
    },
    get stalled() {
      return stalled;
    },
    stall() {
      stalled = true;
      for (const pair of pairs) {
        pair.client.pause();
        pair.server.pause();
      }
    },
    resume() {
      stalled = false;
      for (const pair of pairs) {
        pair.client.resume();
        pair.server.resume();
      }
    },
    delay(ms) {
      latency = ms;
    },
    close() {
      armed = undefined;
      for (const pair of pairs) {
        pair.client.destroy();
        pair.server.destroy();
      }
      pairs.clear();
      return new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}
