/**
 * Fleet rollout: 10 servers swapped all at once (one burst, as without `rollout`) and with
 * `"rollout": { "batches": ["25%"] }` (batches of 3, 3, 3, 1). Both run in the fleet's pass
 * (fleet.ts: its sshd servers, roots and checks), round-robin, BENCH_FLEET_RUNS times each; this file
 * reads their swap lines and makes the section: total time, the swap spread, and for the rollout the
 * spread within a batch and the gap between batches. A measurement, not a target: a rollout is slower
 * by design.
 */
import { batchesOf } from '../../src/release/lifecycle/rollout-plan';
import { fmt, median, type Section } from '../report';
import type { FleetPass, FleetRun } from './fleet';

export const ROLLOUT = { servers: 10, config: { batches: ['25%'] } } as const;

/** What the fleet's runs record of their swaps (milliseconds, from the arrival of the swap lines). */
export interface SwapTiming {
  /** The servers of each batch, in order; one batch when the fleet swapped at once. */
  batches: string[][];
  /** From the first swap to the last. */
  spreadMs: number;
  /** Per batch: from its first swap to its last (0 for a batch of one). */
  batchSpreadsMs: number[];
  /** Per pair of batches: from the last swap of one to the first swap of the next. */
  gapsMs: number[];
}

/** The batches a deploy announced ("rollout batch 2/4: web04, web05, web06"); none when it swapped at once. */
export function announcedBatches(lines: ReadonlyArray<{ text: string }>): string[][] {
  const out: string[][] = [];
  for (const line of lines) {
    const match = /^rollout batch (\d+)\/\d+: (.+)$/.exec(line.text.trim());
    if (match) out[Number(match[1]) - 1] = match[2].split(', ');
  }
  return out;
}

/** The batches a rollout of these servers is expected to have (the preset's own rule). */
export function expectedBatches(servers: readonly string[]): string[][] {
  return batchesOf(servers, ROLLOUT.config.batches);
}

/** The spreads and gaps of the swap lines' arrival times (`t`, ms), batch by batch. Throws when a server has no swap line. */
export function swapTiming(swaps: ReadonlyArray<{ server: string; t: number }>, batches: readonly (readonly string[])[]): SwapTiming {
  const when = new Map(swaps.map((s) => [s.server, s.t]));
  const times = batches.map((batch) =>
    batch.map((server) => {
      const t = when.get(server);
      if (t === undefined) throw new Error(`no swap line for ${server}`);
      return t;
    }),
  );
  const all = times.flat();
  return {
    batches: batches.map((b) => [...b]),
    spreadMs: Math.max(...all) - Math.min(...all),
    batchSpreadsMs: times.map((ts) => Math.max(...ts) - Math.min(...ts)),
    gapsMs: times.slice(1).map((ts, i) => Math.min(...ts) - Math.max(...times[i])),
  };
}

const range = (values: number[]) => (values.length ? `${fmt(Math.min(...values), 0)}–${fmt(Math.max(...values), 0)}` : 'n/a');

/** The rollout's section, from the fleet pass's runs of ROLLOUT.servers servers (both modes). */
export function rolloutSection(pass: FleetPass, attempts: number): Section {
  const size = ROLLOUT.servers;
  const of = (mode: FleetRun['mode']) => pass.runs.filter((r) => r.servers === size && r.mode === mode);
  const allAtOnce = median(of('all at once').map((r) => r.seconds));
  const label = `\`"rollout": ${JSON.stringify(ROLLOUT.config)
    .replace(/":/g, '": ')
    .replace(/^\{(.*)\}$/, '{ $1 }')}\` (in \`common\`)`;
  const rows = (['all at once', 'rollout'] as const).map((mode) => {
    const runs = of(mode);
    const key = `${size} ${mode}`;
    const tried = pass.attempts[key] ?? 0;
    const gaveUp = pass.gaveUp.filter((g) => g.servers === size && g.mode === mode).length;
    const name = mode === 'rollout' ? `rollout ${JSON.stringify(ROLLOUT.config.batches)}` : 'all at once (no rollout)';
    const shape =
      mode === 'rollout'
        ? expectedBatches([...Array(size).keys()].map(String))
            .map((b) => b.length)
            .join(', ')
        : String(size);
    const head = [name, shape, gaveUp ? `${runs.length} (${gaveUp} given up)` : String(runs.length), `${tried - runs.length}/${tried}`];
    if (!runs.length) return [...head, 'n/a', '', '', '', '', ''];
    const seconds = median(runs.map((r) => r.seconds));
    // Within a batch: the batches of two servers or more (a batch of one has no spread).
    const within = runs.flatMap((r) => r.batchSpreadsMs.filter((_, i) => r.batches[i].length > 1));
    const gaps = runs.flatMap((r) => r.gapsMs);
    return [
      ...head,
      fmt(seconds),
      Number.isFinite(allAtOnce) ? `${(seconds / allAtOnce).toFixed(2)}×` : 'n/a',
      fmt(median(runs.map((r) => r.spreadMs)), 0),
      within.length ? `${fmt(median(within), 0)} (${range(within)})` : 'n/a',
      gaps.length ? `${fmt(median(gaps), 0)} (${range(gaps)})` : '—',
      `${(median(runs.map((r) => r.cpuBusy)) * 100).toFixed(0)}%`,
    ];
  });
  return {
    key: 'rollout',
    title: `Fleet rollout: ${size} servers all at once and with ${label}, \`gulp deploy --server=all\` on loopback`,
    header: [
      'swap',
      'batch sizes',
      'runs',
      'failed attempts',
      'total s (median)',
      '× all at once',
      'swap spread ms (first → last)',
      'spread within a batch ms (median, range)',
      'gap between batches ms (median, range)',
      'machine CPU busy',
    ],
    textColumns: 2,
    rows,
    notes: [
      `The fleet's sshd servers (${size} of them), roots and checks, in the fleet's pass: a run of each, one after the other, BENCH_FLEET_RUNS times. Without \`rollout\` every server's swap comes in one burst; with it the swap (live, then the OPcache reset and the health check where configured: neither is here) runs batch by batch, each batch once the one before it has passed. A measurement, not a target: a rollout is slower by design.`,
      "swap spread: from the first server's swap line (\"[server] …/live -> releases/<id>\", as it arrived from the process) to the last. Within a batch: first to last swap of each batch of two servers or more, over every batch of every run. Gap between batches: from the last swap of a batch to the first of the next (the batch's checks and undrain, the next batch's drain and `before-live` hooks: none are configured here, so it is what the rollout itself costs), over every pair of batches of every run.",
      `The batches are read from the deploy's "rollout batch i/n: …" lines and checked against the preset's rule (src/release/lifecycle/rollout-plan.ts); a run is given up after ${attempts} failed attempts.`,
    ],
    data: { config: ROLLOUT.config, runs: pass.runs.filter((r) => r.servers === size) },
  };
}
