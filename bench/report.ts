/**
 * Small tables for the bench's extra measurements and targets, printed after the main table, and
 * bench/RESULTS.md (every table, the machine, the date) for the README.
 */

/** A titled table with notes under it. */
export interface Section {
  /** Key in results.json's `extras`. */
  key: string;
  title: string;
  header: string[];
  rows: string[][];
  /** Columns from the left that hold text (left-aligned); default 1. */
  textColumns?: number;
  notes: string[];
  /** Machine-readable values for results.json. */
  data: unknown;
}

export interface Target {
  goal: string;
  measured: string;
  /** null: could not be measured (the reason is in `measured`). */
  met: boolean | null;
}

/** A Markdown table: by default the first column left-aligned and the others (numbers) right-aligned. */
export function markdownTable(header: string[], rows: string[][], left: (column: number) => boolean = (i) => i === 0): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    '| ' + widths.map((w, i) => (left(i) ? (cells[i] ?? '').padEnd(w) : (cells[i] ?? '').padStart(w))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, i) => (left(i) ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function renderSection(section: Section): string {
  const parts = [
    `### ${section.title}`,
    '',
    section.rows.length ? markdownTable(section.header, section.rows, (i) => i < (section.textColumns ?? 1)) : '(no data)',
  ];
  if (section.notes.length) parts.push('', ...section.notes.map((n) => `- ${n}`));
  return parts.join('\n');
}

export function renderTargets(targets: Target[]): string {
  const rows = targets.map((t) => [t.goal, t.measured, t.met === null ? 'n/a' : t.met ? 'MET' : 'NOT MET']);
  return ['### Targets', '', markdownTable(['target', 'measured', 'status'], rows, () => true)].join('\n');
}

export function fmt(n: number | undefined | null, digits = 2): string {
  return n === undefined || n === null || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits);
}

export function mb(bytes: number | undefined | null, digits = 2): string {
  return bytes === undefined || bytes === null || !Number.isFinite(bytes) ? 'n/a' : (bytes / 1e6).toFixed(digits);
}

export function median(values: number[]): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
