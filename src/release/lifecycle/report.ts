import { formatBytes } from '../../remote/transfer';
import type { ServerRun } from './context';
import { table } from '../operations/releases-table';

/**
 * The outcome of a deploy as a value: printed by formatReport, written by --report=<file>, returned
 * to callers (tasks.report), read by the benchmark.
 */
export interface DeployReport {
  /** The task that ran (deploy, rollback, …). */
  task: string;
  result: 'deployed' | 'failed' | 'interrupted' | 'dry run' | 'done';
  releaseId?: string;
  startedAt: string;
  seconds: number;
  /** The first failure's message (redacted), when the deploy failed. */
  error?: string;
  /** A rollout's batches, in order (server names), and how many failures it allowed. */
  rollout?: { batches: string[][]; maxFailures: number };
  servers: ServerReport[];
}

export interface ServerReport {
  server: string;
  result: 'deployed' | 'failed' | 'rolled back' | 'untouched' | 'dry run' | 'done';
  release?: string;
  commit?: string;
  /** The artifact strategy's tree id. */
  artifact?: string;
  /** Step name -> seconds, in the order they ran. */
  steps: Record<string, number>;
  /** Asset files sent over the wire. */
  sent: { files: number; bytes: number };
  /** Asset files linked from the live release: no bytes sent. */
  reused: { files: number; bytes: number };
  /** Files taken from another server of the fleet (the fan-out): not sent from here. */
  fetched?: { files: number; bytes: number; from: string };
  /** What live pointed to before the deploy and after it (null: no live link; absent: the server was not reached). */
  liveBefore?: string | null;
  liveAfter?: string | null;
  /** What the undo of a failed deploy did on this server, newest first. */
  undone?: string[];
  /** What a failed undo left on this server, and the error of this server when it failed. */
  left?: string[];
  error?: string;
}

/** One server's row of the report, from its run and how the deploy ended. */
export function serverReport(
  run: ServerRun,
  outcome: { committed: boolean; dryRun: boolean; releaseId?: string; finished: boolean; left: string[]; undone: string[] },
): ServerReport {
  const deployedHere = outcome.committed && outcome.releaseId !== undefined;
  const result: ServerReport['result'] = outcome.dryRun
    ? 'dry run'
    : deployedHere && run.keptPrevious !== undefined
      ? 'rolled back' // a rollout went on without it
      : deployedHere
        ? 'deployed'
        : outcome.committed || (outcome.finished && outcome.releaseId === undefined)
          ? 'done'
          : run.error
            ? 'failed'
            : run.liveChanged
              ? 'rolled back'
              : 'untouched';
  const liveAfter =
    deployedHere && !outcome.dryRun && run.keptPrevious === undefined ? run.layout.liveTarget(outcome.releaseId!) : run.liveBefore;
  return {
    server: run.server.name,
    result,
    release: outcome.releaseId,
    commit: run.commit,
    ...(run.artifact && { artifact: run.artifact }),
    steps: { ...run.timings },
    sent: { ...run.uploaded },
    reused: { ...run.skipped },
    ...(run.fetched && { fetched: { ...run.fetched } }),
    liveBefore: run.liveBefore,
    liveAfter: outcome.left.length ? null : liveAfter,
    ...(outcome.undone.length ? { undone: outcome.undone } : {}),
    ...(outcome.left.length ? { left: outcome.left } : {}),
    ...(run.error ? { error: run.error.message.split('\n')[0] } : {}),
  };
}

/** The servers a rollout left on their previous release, for the summary's last word. */
function stayedBehind(report: DeployReport): string[] {
  return report.result === 'deployed'
    ? report.servers.filter((s) => s.result === 'rolled back').map((s) => `${s.server} (${s.error ?? 'failed'})`)
    : [];
}

/** A server the deploy never connected to: failed with why, or untouched when another failure came first. */
export function unreachedReport(server: string, error: Error | undefined): ServerReport {
  return {
    server,
    result: error ? 'failed' : 'untouched',
    steps: {},
    sent: { files: 0, bytes: 0 },
    reused: { files: 0, bytes: 0 },
    ...(error ? { error: error.message.split('\n')[0] } : {}),
  };
}

/**
 * The printed summary: one row per server (result, release, commit, files sent and reused, live),
 * then each server's step timings on a line of its own, so that the table fits in 100 columns.
 */
export function formatReport(report: DeployReport): string {
  const title =
    report.result === 'dry run'
      ? 'dry run, nothing changed'
      : report.result === 'deployed'
        ? `deployed ${report.releaseId ?? ''}`.trim()
        : report.result;
  // The release id is in the title (the same on every server): the row keeps its room for the live link.
  const header = ['server', 'result', 'commit', 'sent', 'reused', 'live'];
  const rows = report.servers.map((s) => [
    s.server,
    s.result,
    s.commit?.slice(0, 8) ?? '-',
    amount(s.sent),
    amount(s.reused),
    liveColumn(s),
  ]);
  const lines = [`${report.task} summary (${report.seconds.toFixed(1)} s): ${title}`, table([header, ...rows])];
  for (const s of report.servers) {
    const steps = Object.entries(s.steps).map(([step, seconds]) => `${step} ${seconds.toFixed(1)}s`);
    if (steps.length) lines.push(...wrap(`  ${s.server} steps: `, steps, 100));
    if (s.fetched) lines.push(`  ${s.server} took ${amount(s.fetched)} from ${s.fetched.from} (fan-out), not sent from here`);
    if (s.left?.length) lines.push(`  ${s.server} left as it is: ${s.left.join('; ')}`);
    if (s.liveAfter === undefined && s.error) lines.push(`  ${s.server}: ${s.error}`);
  }
  if (report.rollout) lines.push(`  rollout: ${batchesText(report.rollout.batches)} (${report.rollout.maxFailures} failures allowed)`);
  const stayed = stayedBehind(report);
  if (stayed.length) lines.push(`  left on the previous release: ${stayed.join('; ')}`);
  return lines.join('\n');
}

/** A rollout's batches in order: `web1 → web2, web3 → web4`. */
export function batchesText(batches: readonly string[][]): string {
  return batches.map((batch) => batch.join(', ')).join(' → ');
}

/** Where live points after the run, in the table's words. */
export function liveColumn(s: ServerReport): string {
  if (s.liveAfter === undefined) return '(not reached)';
  if (s.liveAfter === null) return s.left ? '(see below)' : '(none)';
  return s.liveAfter === s.liveBefore ? `${s.liveAfter} (unchanged)` : s.liveAfter;
}

/** Items after a prefix, as many lines of at most `width` columns as it takes. */
function wrap(prefix: string, items: string[], width: number): string[] {
  const lines: string[] = [];
  let line = prefix;
  for (const [i, item] of items.entries()) {
    const piece = item + (i < items.length - 1 ? ',' : '');
    if (line.length + piece.length + 1 > width && line.trim() !== prefix.trim()) {
      lines.push(line.trimEnd());
      line = ' '.repeat(prefix.length);
    }
    line += (line.endsWith(' ') ? '' : ' ') + piece;
  }
  lines.push(line.trimEnd());
  return lines;
}

/** `3 files, 1.2 MB`. */
export function amount({ files, bytes }: { files: number; bytes: number }): string {
  return `${files} file${files === 1 ? '' : 's'}, ${formatBytes(bytes)}`;
}
