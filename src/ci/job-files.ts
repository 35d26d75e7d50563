import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { redact } from '../log';

/**
 * The files a GitHub Actions step leaves for the rest of the job: the Markdown job summary
 * (`$GITHUB_STEP_SUMMARY`, shown on the run's page) and the step's outputs (`$GITHUB_OUTPUT`, for
 * later steps: `steps.<id>.outputs.release`). Nothing is written where the variables are not set.
 */

/** GitHub refuses a step summary over 1 MiB; ours stays far below, whatever the fleet. */
export const SUMMARY_LIMIT = 64 * 1024;

/** Text in a Markdown table cell or on a line of the summary: no pipe that would split it, no newline that would end it. */
export function markdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** Failures whose summary a deploy wrote: the run's end does not write another. */
const summarised = new WeakSet<object>();

export function appendJobSummary(markdown: string, failure?: unknown, env: NodeJS.ProcessEnv = process.env): void {
  if (failure !== null && typeof failure === 'object') summarised.add(failure);
  const file = env.GITHUB_STEP_SUMMARY;
  if (!file) return;
  let text = redact(markdown);
  if (Buffer.byteLength(text) > SUMMARY_LIMIT)
    text = `${text.slice(0, SUMMARY_LIMIT - 200)}\n\n… (cut: the whole report is in the log, and in --report=<file>)\n`;
  appendFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}

export function wasSummarised(failure: unknown): boolean {
  return failure !== null && typeof failure === 'object' && summarised.has(failure);
}

/** `name=value` lines; a value over several lines in the delimiter form GitHub documents. */
export function setStepOutputs(outputs: Record<string, string | undefined>, env: NodeJS.ProcessEnv = process.env): void {
  const file = env.GITHUB_OUTPUT;
  if (!file) return;
  const lines = Object.entries(outputs)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, raw]) => {
      const value = redact(raw);
      if (!/[\r\n]/.test(value)) return `${name}=${value}\n`;
      const delimiter = `ATTACHE_${randomBytes(8).toString('hex')}`;
      return `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
    });
  if (lines.length) appendFileSync(file, lines.join(''));
}
