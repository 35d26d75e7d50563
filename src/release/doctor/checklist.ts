import { markdownCell } from '../../ci/job-files';

/**
 * The doctor's findings: one row per check, with its verdict, the fact it read and the exact fix.
 * Printed as a checklist per place (here, then each server), written by --report=<file> as JSON,
 * and in GitHub Actions as the job summary.
 */
export type Verdict = 'ok' | 'warn' | 'fail';

export interface Check {
  /** `here` (the deploying machine) or a server's name. */
  where: string;
  area: 'here' | 'connection' | 'server' | 'web';
  name: string;
  verdict: Verdict;
  /** What was read: a version, a mode, an answer. */
  fact: string;
  /** What to do, when the verdict is not ok. */
  fix?: string;
}

export interface DoctorReport {
  task: 'doctor';
  result: Verdict;
  startedAt: string;
  seconds: number;
  checks: Check[];
}

export function worst(checks: readonly Check[]): Verdict {
  return checks.some((c) => c.verdict === 'fail') ? 'fail' : checks.some((c) => c.verdict === 'warn') ? 'warn' : 'ok';
}

const MARK: Record<Verdict, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

/** The checklist as the terminal shows it: a block per place, a line per check, its fix indented below. */
export function formatChecklist(report: DoctorReport): string {
  const lines: string[] = [];
  for (const where of placesOf(report.checks)) {
    lines.push(where === 'here' ? 'here (this machine):' : `server ${where}:`);
    for (const check of report.checks.filter((c) => c.where === where)) {
      lines.push(`  ${MARK[check.verdict]}  ${check.name}: ${check.fact}`);
      if (check.fix && check.verdict !== 'ok') lines.push(`        fix: ${check.fix}`);
    }
  }
  const count = (v: Verdict) => report.checks.filter((c) => c.verdict === v).length;
  lines.push(`doctor (${report.seconds.toFixed(1)} s): ${count('fail')} failed, ${count('warn')} warnings, ${count('ok')} ok`);
  return lines.join('\n');
}

/** The checklist as Markdown, for a CI job summary. */
export function checklistMarkdown(report: DoctorReport): string {
  const icon = { ok: '✅', warn: '⚠️', fail: '❌' };
  return [
    `### ${icon[report.result]} gulp-attache doctor: ${report.result}`,
    '',
    '| where | check | verdict | fact | fix |',
    '|---|---|---|---|---|',
    ...report.checks.map(
      (c) =>
        `| ${markdownCell(c.where)} | ${markdownCell(c.name)} | ${c.verdict} | ${markdownCell(c.fact)} | ${markdownCell(c.verdict === 'ok' ? '' : (c.fix ?? ''))} |`,
    ),
    '',
  ].join('\n');
}

function placesOf(checks: readonly Check[]): string[] {
  return [...new Set(checks.map((c) => c.where))];
}
