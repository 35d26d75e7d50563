/**
 * What one remote command costs on an open connection: the median wall time of N × `true` over one
 * session, on loopback and through the test relay with each direction delayed, and from the two the
 * sequential round trips per command: (T delayed − T loopback) / (2 × delay). Also the SSH channels
 * the session opened for them (channelCount()).
 *
 *   node --import tsx bench/command-latency.ts
 *
 * Environment: N (default 50), DELAY_MS (each way, default 25; 0 skips the relay).
 */
import { rmSync } from 'node:fs';
import { createLogger } from '../src/log';
import { channelCount, openSession } from '../src/ssh/session';
import { startRelay } from '../test/support/relay';
import { createHome, startSshd, trust } from '../test/support/sshd';

async function timeCommands(port: number, n: number): Promise<{ ms: number; channels: number }> {
  const log = createLogger({ verbosity: 'quiet', interactive: false, write: () => undefined });
  const session = await openSession({ host: '127.0.0.1', port, user: 'root' }, log);
  try {
    await session.exec('true'); // the first command may open the shell: not part of the per-command cost
    const channels = channelCount();
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await session.exec('true');
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { ms: times[Math.floor(times.length / 2)], channels: channelCount() - channels };
  } finally {
    await session.close();
  }
}

async function main(): Promise<void> {
  const n = Number(process.env.N ?? 50);
  const delay = Number(process.env.DELAY_MS ?? 25);
  const home = createHome();
  const server = await startSshd(home, { name: 'latency' });
  trust(home, server);
  try {
    const loopback = await timeCommands(server.port, n);
    console.log(`loopback: ${loopback.ms.toFixed(2)} ms per \`true\` (median of ${n}), ${loopback.channels} channels opened for ${n} commands`);
    if (delay > 0) {
      const relay = await startRelay(server.port);
      relay.delay(delay);
      trust(home, { ...server, port: relay.port });
      const wan = await timeCommands(relay.port, n);
      await relay.close();
      const trips = (wan.ms - loopback.ms) / (2 * delay);
      console.log(`relay ${delay} ms each way: ${wan.ms.toFixed(1)} ms per \`true\` (median of ${n}), ${trips.toFixed(2)} round trips per command`);
    }
  } finally {
    await server.stop();
    rmSync(home.dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
