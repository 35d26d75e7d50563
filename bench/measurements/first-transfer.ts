/**
 * What the first large transfer on an SSH connection costs on this machine, beside the transfers
 * after it on the same connection: every case of the main table makes its upload the first one on
 * a fresh connection (scp, rsync, Attaché's method, shipit and gulp-attache alike).
 */
import { Readable } from 'node:stream';
import { createLogger } from '../../src/log';
import { openSession } from '../../src/ssh/session';
import { fmt, median, type Section } from '../report';
import { failureNotes, retrying, type MeasurementInput } from './common';

const CONNECTIONS = 3;
const TRANSFERS = 3;
const CHUNK = 64 * 1024;

/** `bytes` of zeros into `cat > /dev/null` on its own channel; the seconds until the command ended. */
async function transfer(session: Awaited<ReturnType<typeof openSession>>, bytes: number): Promise<number> {
  const chunk = Buffer.alloc(CHUNK);
  const input = Readable.from(
    (function* () {
      for (let sent = 0; sent < bytes; sent += CHUNK) yield sent + CHUNK <= bytes ? chunk : chunk.subarray(0, bytes - sent);
    })(),
  );
  const t0 = performance.now();
  await session.exec('cat > /dev/null', { stdin: input });
  return (performance.now() - t0) / 1000;
}

/** Seconds of each transfer in order, on one connection. */
async function oneConnection(port: number, bytes: number): Promise<number[]> {
  const log = createLogger({ verbosity: 'quiet', interactive: false, write: () => undefined });
  const session = await openSession({ host: '127.0.0.1', port, user: 'root' }, log);
  try {
    const seconds: number[] = [];
    for (let i = 0; i < TRANSFERS; i++) seconds.push(await transfer(session, bytes));
    return seconds;
  } finally {
    await session.close();
  }
}

export async function firstTransfer(input: MeasurementInput): Promise<Section> {
  const { ctx } = input;
  const bytes = ctx.fixture.assetBytes;
  const failures: string[] = [];
  const runs: number[][] = [];
  for (let i = 0; i < CONNECTIONS; i++)
    runs.push(await retrying('first transfer', failures, input, () => oneConnection(ctx.server.port, bytes)));
  const nth = (n: number) => median(runs.map((seconds) => seconds[n]));
  const rows = Array.from({ length: TRANSFERS }, (_, n) => [
    `transfer ${n + 1} on the connection`,
    fmt(nth(n)),
    fmt(bytes / 1e6 / nth(n), 0),
  ]);
  return {
    key: 'firstTransfer',
    title: `The first ${fmt(bytes / 1e6, 1)} MB on an SSH connection and the ones after it (cat > /dev/null on the bench sshd)`,
    header: ['transfer', 'seconds (median)', 'MB/s'],
    rows,
    notes: [
      `${CONNECTIONS} connections, each making ${TRANSFERS} transfers of the fixture's asset bytes in a row, each on a channel of its own (as the deploy's tar stream); medians per position.`,
      "Every case of the main table uploads on a fresh connection, so each pays the first transfer's price once: on a machine where it is high, uploads weigh more in a deploy's time than their bytes say.",
      ...failureNotes(failures),
    ],
    data: { bytes, seconds: runs },
  };
}
