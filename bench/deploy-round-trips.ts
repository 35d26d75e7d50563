/**
 * The round trips and channels of the preset's deploy, without the main bench's fixture: the
 * example app (test/support/preset.ts) deployed to a throwaway sshd, directly and through the test
 * relay with each direction delayed. Per case: median wall seconds at 0 ms and at DELAY_MS, the
 * sequential round trips (T delayed − T direct) / (2 × DELAY_MS), and the SSH channels opened
 * (channelCount(): SFTP + shells) and handshakes per deploy.
 *
 *   node --import tsx bench/deploy-round-trips.ts
 *
 * Environment: RUNS (redeploys per link, default 3), DELAY_MS (each way, default 25).
 */
import { createSite } from '../test/support/preset';
import { startRelay } from '../test/support/relay';
import { createHome, startSshd, trust } from '../test/support/sshd';
import { channelCount, handshakeCount } from '../src/ssh/session';

interface Run {
  seconds: number;
  channels: number;
  handshakes: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const runs = Number(process.env.RUNS ?? 3);
  const delay = Number(process.env.DELAY_MS ?? 25);
  const home = createHome();
  const sshd = await startSshd(home, { name: 'round-trips' });
  trust(home, sshd);
  const relay = await startRelay(sshd.port);
  relay.delay(delay);
  trust(home, { ...sshd, port: relay.port });

  const measure = async (port: number): Promise<{ first: Run; redeploy: Run[] }> => {
    const site = createSite({ target: { host: '127.0.0.1', port, user: 'root' } as never });
    const deploy = async (): Promise<Run> => {
      const [c, h, t] = [channelCount(), handshakeCount(), performance.now()];
      await site.run('deploy');
      return { seconds: (performance.now() - t) / 1000, channels: channelCount() - c, handshakes: handshakeCount() - h };
    };
    const first = await deploy();
    const redeploy: Run[] = [];
    for (let i = 0; i < runs; i++) redeploy.push(await deploy());
    return { first, redeploy };
  };
  try {
    const direct = await measure(sshd.port);
    const delayed = await measure(relay.port);
    const row = (name: string, a: Run[], b: Run[]) => {
      const [ta, tb] = [median(a.map((r) => r.seconds)), median(b.map((r) => r.seconds))];
      const trips = (tb - ta) / ((2 * delay) / 1000);
      console.log(`${name}: ${ta.toFixed(2)} s direct, ${tb.toFixed(2)} s at ${delay} ms each way, ~${trips.toFixed(0)} round trips, ${median(a.map((r) => r.channels))} channels, ${median(a.map((r) => r.handshakes))} handshake(s)`);
    };
    row('first deploy', [direct.first], [delayed.first]);
    row(`redeploy, nothing changed (median of ${runs})`, direct.redeploy, delayed.redeploy);
  } finally {
    await relay.close();
    await sshd.stop();
  }
  process.exit(0); // sessions a failed run left open must not keep the bench alive
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
