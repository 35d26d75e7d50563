/**
 * BENCH_CASES: run only some cases, to try the bench quickly. A comma-separated list of
 * case-insensitive substrings of case names (bench/cases/names.ts); a case runs when its name
 * contains any of them. Unset or empty: every case. A substring that matches no case is an error
 * (a typo would otherwise run nothing and look like a result).
 *
 * The substrings may name the extra measurements that take time of their own too (MEASUREMENT in
 * bench/cases/names.ts: "fleet", "rollout", "peak memory", …). When one does, only the measurements
 * named run; when none does, every measurement runs, as in a whole run (BENCH_FLEET=0 and
 * BENCH_MEMORY=0 still leave theirs out). A setting that names only measurements runs no case:
 * `BENCH_CASES=rollout` is the rollout comparison alone.
 */
import { CASE, MEASUREMENT } from './cases/names';

export interface CaseFilter {
  /** The raw setting, for the results ("BENCH_CASES=…"), or undefined when every case runs. */
  setting?: string;
  selects(name: string): boolean;
  /** Why a case has no row: "skipped (not in BENCH_CASES)", or undefined when it was selected. */
  skipped(name: string): string | undefined;
  /** Why a measurement (a MEASUREMENT name) does not run: "not in BENCH_CASES", or undefined when it runs. */
  measurementSkipped(name: string): string | undefined;
}

export function caseFilter(
  raw: string | undefined,
  names: readonly string[] = Object.values(CASE),
  measurements: readonly string[] = Object.values(MEASUREMENT),
): CaseFilter {
  const parts = (raw ?? '')
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  if (!parts.length) return { selects: () => true, skipped: () => undefined, measurementSkipped: () => undefined };
  const all = [...names, ...measurements];
  const unmatched = parts.filter((p) => !all.some((n) => n.toLowerCase().includes(p)));
  if (unmatched.length)
    throw new Error(
      `BENCH_CASES: ${unmatched.map((p) => `"${p}"`).join(', ')} match${unmatched.length === 1 ? 'es' : ''} no case or measurement; the cases are:\n${names.map((n) => `  ${n}`).join('\n')}\nand the measurements:\n${measurements.map((n) => `  ${n}`).join('\n')}`,
    );
  const selects = (name: string) => parts.some((p) => name.toLowerCase().includes(p));
  const namesMeasurement = measurements.some(selects);
  return {
    setting: raw,
    selects,
    skipped: (name) => (selects(name) ? undefined : 'skipped (not in BENCH_CASES)'),
    measurementSkipped: (name) => (!namesMeasurement || selects(name) ? undefined : 'not in BENCH_CASES'),
  };
}
