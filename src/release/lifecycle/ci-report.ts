import { appendJobSummary, markdownCell, setStepOutputs } from '../../ci/job-files';
import { AttacheError } from '../../errors';
import { amount, batchesText, type DeployReport, liveColumn, type ServerReport } from './report';

/**
 * The report, for a GitHub Actions job: a Markdown summary on the run's page (the result, the
 * release, the commit, per server where live was and is, files sent and reused, step times; on
 * failure the cause, the fix and what was undone) and the step's outputs `result`, `release` and
 * `commit`. Nothing is written outside GitHub Actions.
 */
export function publishToCi(report: DeployReport, failure?: unknown): void {
  const cause = failure === undefined ? undefined : attacheErrorOf(failure);
  appendJobSummary(jobSummary(report, cause), failure);
  const commits = [...new Set(report.servers.map((s) => s.commit).filter((c) => c !== undefined))];
  setStepOutputs({ result: report.result, release: report.releaseId, commit: commits.length === 1 ? commits[0] : undefined });
}

export function jobSummary(report: DeployReport, failure?: { message: string; hint?: string }): string {
  const icon = report.result === 'deployed' || report.result === 'done' || report.result === 'dry run' ? '✅' : '❌';
  const release = report.releaseId ? ` \`${report.releaseId}\`` : '';
  const lines = [`### ${icon} gulp-attache ${report.task}: ${report.result}${release} (${report.seconds.toFixed(1)} s)`, ''];
  if (failure) {
    lines.push(`**Cause:** ${markdownCell(failure.message.split('\n')[0])}`, '');
    if (failure.hint) lines.push(`**Fix:** ${markdownCell(failure.hint)}`, '');
  }
  lines.push(
    '| server | result | commit | live before | live after | sent | reused |',
    '|---|---|---|---|---|---|---|',
    ...report.servers.map((s) =>
      row([
        s.server,
        s.result,
        s.commit ? `\`${s.commit.slice(0, 12)}\`` : '-',
        s.liveBefore === undefined ? '(not reached)' : s.liveBefore === null ? '(none)' : `\`${s.liveBefore}\``,
        liveColumn(s),
        amount(s.sent),
        amount(s.reused),
      ]),
    ),
    '',
  );
  if (report.rollout)
    lines.push(`**Rollout:** ${markdownCell(batchesText(report.rollout.batches))} (${report.rollout.maxFailures} failures allowed)`, '');
  const notes = report.servers.flatMap((s) => serverNotes(s, failure?.message.split('\n')[0]));
  if (notes.length) lines.push(...notes, '');
  const timed = report.servers.filter((s) => Object.keys(s.steps).length);
  if (timed.length) {
    lines.push('<details><summary>Step times</summary>', '', '| server | steps |', '|---|---|');
    for (const s of timed)
      lines.push(
        row([
          s.server,
          Object.entries(s.steps)
            .map(([step, t]) => `${step} ${t.toFixed(1)} s`)
            .join(', '),
        ]),
      );
    lines.push('', '</details>', '');
  }
  return lines.join('\n');
}

/** A server's error (unless it is the cause already shown), what its undo did, what it left. */
function serverNotes(s: ServerReport, cause: string | undefined): string[] {
  return [
    ...(s.error && s.error !== cause ? [`- **${markdownCell(s.server)}** failed: ${markdownCell(s.error)}`] : []),
    ...(s.undone?.length ? [`- **${markdownCell(s.server)}** undone: ${markdownCell(s.undone.join('; '))}`] : []),
    ...(s.left?.length ? [`- **${markdownCell(s.server)}** left as it is (not undone): ${markdownCell(s.left.join('; '))}`] : []),
  ];
}

function attacheErrorOf(error: unknown): { message: string; hint?: string } {
  if (error instanceof AttacheError) return { message: error.message, hint: error.context.hint };
  if (error instanceof Error && error.cause instanceof AttacheError) return attacheErrorOf(error.cause);
  return { message: error instanceof Error ? error.message : String(error) };
}

function row(cells: string[]): string {
  return `| ${cells.map(markdownCell).join(' | ')} |`;
}
