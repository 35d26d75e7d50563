import path from 'node:path';
import { AttacheError } from '../errors';
import type { Logger } from '../log';
import { appendJobSummary, markdownCell, wasSummarised } from './job-files';
import { ciOutput } from './output';

const told = new WeakSet<object>();
/** The same failure made twice: a config error, read again by each branch of a parallel part. */
const toldMessages = new Set<string>();

/**
 * A task's failure, told once however many of gulp's tasks rethrow it (the branches of a parallel
 * part end with the same error): in a CI runner as the run's one annotation, with the cause, the
 * fix and, for a config error, the file's line; in the job summary when no deploy report carried
 * it (a config error, a flag); and under gulp's --silent, which hides gulp's own printout of it,
 * as the cause and the fix.
 */
export function tellFailure(error: unknown, options: { task: string; log: Logger; silent: boolean }): void {
  if (error === null || typeof error !== 'object' || told.has(error)) return;
  told.add(error);
  const message = (error as Error).message ?? String(error);
  if (toldMessages.has(`${options.task}\0${message}`)) return;
  toldMessages.add(`${options.task}\0${message}`);
  const attache =
    error instanceof AttacheError ? error : error instanceof Error && error.cause instanceof AttacheError ? error.cause : undefined;
  const cause = message.split('\n')[0];
  const hint = attache?.context.hint;
  const { server, step, file, line, column } = attache?.context ?? {};
  const where = [step && `${step} failed`, server && `on ${server}`].filter(Boolean).join(' ');
  ciOutput()?.annotate({
    title: `gulp-attache ${options.task}${where ? `: ${where}` : ' failed'}`,
    message: hint ? `${cause}\n${hint}` : cause,
    ...(file && { file: path.relative(process.env.GITHUB_WORKSPACE ?? process.cwd(), file) || file, line, column }),
  });
  if (!wasSummarised(error)) {
    appendJobSummary(
      [
        `### ❌ gulp-attache ${options.task}: failed`,
        '',
        `**Cause:** ${markdownCell(message)}`,
        ...(hint ? ['', `**Fix:** ${markdownCell(hint)}`] : []),
        '',
      ].join('\n'),
      error,
    );
  }
  if (options.silent) {
    options.log.error(`gulp-attache ${options.task} failed: ${cause}`);
    if (hint) options.log.error(`  ${hint}`);
  }
}
