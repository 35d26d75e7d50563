/**
 * BENCH_CASES: run only some cases, to try the bench quickly. A comma-separated list of
 * case-insensitive substrings of case names (bench/cases/names.ts); a case runs when its name
 * contains any of them. Unset or empty: every case. A substring that matches no case is an error
 * (a typo would otherwise run nothing and look like a result).
 */
import { CASE } from './cases/names';

export interface CaseFilter {
  /** The raw setting, for the results ("BENCH_CASES=…"), or undefined when every case runs. */
  setting?: string;
  selects(name: string): boolean;
  /** Why a case has no row: "skipped (not in BENCH_CASES)", or undefined when it was selected. */
  skipped(name: string): string | undefined;
}

export function caseFilter(raw: string | undefined, names: readonly string[] = Object.values(CASE)): CaseFilter {
  const parts = (raw ?? '')
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  if (!parts.length) return { selects: () => true, skipped: () => undefined };
  const unmatched = parts.filter((p) => !names.some((n) => n.toLowerCase().includes(p)));
  if (unmatched.length)
    throw new Error(
      `BENCH_CASES: ${unmatched.map((p) => `"${p}"`).join(', ')} match${unmatched.length === 1 ? 'es' : ''} no case; the cases are:\n${names.map((n) => `  ${n}`).join('\n')}`,
    );
  const selects = (name: string) => parts.some((p) => name.toLowerCase().includes(p));
  return { setting: raw, selects, skipped: (name) => (selects(name) ? undefined : 'skipped (not in BENCH_CASES)') };
}
