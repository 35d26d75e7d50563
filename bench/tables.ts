/**
 * The bench's two main tables: the loopback table (every case on the direct loopback link, ratios to
 * the scp floor, Attaché's method and shipit) and the WAN table (every case at 0 ms and at the
 * delay through the relay, and its sequential round trips); and the artifact strategy beside clone,
 * job by job, from those two.
 */
import { CASE } from './cases/names';
import { markdownTable, median } from './report';
import type { WanRow } from './targets';

export interface CaseResult {
  name: string;
  seconds: number[];
  sshLogins: number[];
  bytesSent: number[];
  /** Attempts that failed and were retried (BENCH_RETRIES): "<label>: <first line of the error>". */
  failures: string[];
  error?: string;
}

function medianOf(results: CaseResult[], name: string): number | undefined {
  const r = results.find((x) => x.name === name);
  return r && !r.error && r.seconds.length ? median(r.seconds) : undefined;
}

function ratio(value: number | undefined, reference: number | undefined): string {
  return value === undefined || reference === undefined || reference <= 0 ? 'n/a' : `${(value / reference).toFixed(2)}×`;
}

function shorten(reason: string): string {
  return reason.length > 110 ? `${reason.slice(0, 110)}… (see results.json, bench/.work/logs/)` : reason;
}

export function renderMainTable(results: CaseResult[]): string {
  const refs = { scp: medianOf(results, CASE.scpFloor), attache: medianOf(results, CASE.attache), shipit: medianOf(results, CASE.shipit) };
  const showBytes = results.some((r) => r.bytesSent.length > 0);
  const showFailures = results.some((r) => r.failures.length > 0);
  const header = [
    'case',
    'median s',
    'min s',
    'max s',
    '× scp floor',
    '× attaché',
    '× shipit',
    'ssh logins/run',
    ...(showBytes ? ['MB sent'] : []),
    ...(showFailures ? ['failed attempts'] : []),
  ];
  const rows: string[][] = results.map((r) => {
    if (r.error || r.seconds.length === 0) return [r.name, `n/a: ${shorten(r.error ?? 'no runs')}`];
    const m = median(r.seconds);
    return [
      r.name,
      m.toFixed(2),
      Math.min(...r.seconds).toFixed(2),
      Math.max(...r.seconds).toFixed(2),
      ratio(m, refs.scp),
      ratio(m, refs.attache),
      ratio(m, refs.shipit),
      String(median(r.sshLogins)),
      ...(showBytes ? [r.bytesSent.length ? (median(r.bytesSent) / 1e6).toFixed(2) : ''] : []),
      ...(showFailures ? [String(r.failures.length)] : []),
    ];
  });
  return markdownTable(header, rows);
}

/** Per case: the medians at 0 ms and at the delay, and (T at delay − T at 0 ms) / one round trip. */
export function wanRows(at0: CaseResult[], atDelay: CaseResult[], delayMs: number): WanRow[] {
  const roundTrip = (2 * delayMs) / 1000;
  return at0.map((zero) => {
    const far = atDelay.find((r) => r.name === zero.name);
    const a = medianOf(at0, zero.name);
    const b = far ? medianOf(atDelay, zero.name) : undefined;
    const missing = [
      a === undefined ? `0 ms: ${zero.error ?? 'no runs'}` : '',
      b === undefined ? `${delayMs} ms: ${far?.error ?? 'no runs'}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    return {
      name: zero.name,
      at0: a,
      atDelay: b,
      roundTrips: a !== undefined && b !== undefined ? (b - a) / roundTrip : undefined,
      ...(missing ? { missing } : {}),
    };
  });
}

export function renderWanTable(
  rows: WanRow[],
  input: { loopback: CaseResult[]; at0: CaseResult[]; atDelay: CaseResult[]; delayMs: number },
): string {
  const { loopback, at0, atDelay, delayMs } = input;
  const rsync = rows.find((r) => r.name === CASE.rsyncFloor)?.atDelay;
  const shipit = rows.find((r) => r.name === CASE.shipit)?.atDelay;
  const runs = (results: CaseResult[], name: string) => results.find((r) => r.name === name)?.seconds.length ?? 0;
  const mbSent = (name: string) => {
    const r = atDelay.find((x) => x.name === name);
    return r?.bytesSent.length ? (median(r.bytesSent) / 1e6).toFixed(2) : '';
  };
  const header = [
    'case',
    'loopback s',
    '0 ms s',
    `${delayMs} ms s`,
    'round trips',
    `× rsync floor @${delayMs}`,
    `× shipit @${delayMs}`,
    'runs 0/' + delayMs,
    'MB sent',
  ];
  const body = rows.map((r) => {
    const direct = medianOf(loopback, r.name);
    return [
      r.name,
      direct === undefined ? 'n/a' : direct.toFixed(2),
      r.at0 === undefined ? 'n/a' : r.at0.toFixed(2),
      r.atDelay === undefined ? 'n/a' : r.atDelay.toFixed(2),
      r.roundTrips === undefined ? 'n/a' : r.roundTrips.toFixed(1),
      ratio(r.atDelay, rsync),
      ratio(r.atDelay, shipit),
      `${runs(at0, r.name)}/${runs(atDelay, r.name)}`,
      mbSent(r.name),
    ];
  });
  const failed = rows.filter((r) => r.missing).map((r) => `- ${r.name}: ${shorten(r.missing as string)}`);
  return [markdownTable(header, body), ...(failed.length ? ['', 'Missing medians:', ...failed] : [])].join('\n');
}

/** The jobs both strategies have a case for: clone's row (the default) and the artifact strategy's. */
export const STRATEGY_PAIRS = [
  { job: 'full first deploy', clone: CASE.full, artifact: CASE.artifactFull },
  { job: 'redeploy, one PHP file changed', clone: CASE.onePhpFile, artifact: CASE.artifactOnePhpFile },
] as const;

/**
 * Artifact vs clone, job by job, from the same run: the loopback medians, the medians at the delay,
 * their ratios, the round trips (from the WAN rows) and the MB sent. Undefined when no pair ran.
 */
export function renderStrategyTable(input: { loopback: CaseResult[]; wan?: { rows: WanRow[]; delayMs: number } }): string | undefined {
  const { loopback, wan } = input;
  const ran = (name: string) => loopback.some((r) => r.name === name);
  const pairs = STRATEGY_PAIRS.filter((p) => ran(p.clone) || ran(p.artifact));
  if (!pairs.length) return undefined;
  const s = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(2));
  const mbSent = (results: CaseResult[], name: string) => {
    const r = results.find((x) => x.name === name);
    return r && !r.error && r.bytesSent.length ? (median(r.bytesSent) / 1e6).toFixed(2) : 'n/a';
  };
  const d = wan?.delayMs;
  const header = [
    'job',
    'clone loopback s',
    'artifact loopback s',
    'artifact ÷ clone',
    ...(wan ? [`clone ${d} ms s`, `artifact ${d} ms s`, `artifact ÷ clone @${d}`, 'clone round trips', 'artifact round trips'] : []),
    'clone MB sent',
    'artifact MB sent',
  ];
  const rows = pairs.map((p) => {
    const row = (name: string) => wan?.rows.find((r) => r.name === name);
    const [c, a] = [medianOf(loopback, p.clone), medianOf(loopback, p.artifact)];
    const trips = (name: string) => (row(name)?.roundTrips === undefined ? 'n/a' : row(name)!.roundTrips!.toFixed(1));
    return [
      p.job,
      s(c),
      s(a),
      ratio(a, c),
      ...(wan
        ? [
            s(row(p.clone)?.atDelay),
            s(row(p.artifact)?.atDelay),
            ratio(row(p.artifact)?.atDelay, row(p.clone)?.atDelay),
            trips(p.clone),
            trips(p.artifact),
          ]
        : []),
      mbSent(loopback, p.clone),
      mbSent(loopback, p.artifact),
    ];
  });
  return markdownTable(header, rows);
}
