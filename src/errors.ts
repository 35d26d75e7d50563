import { redact } from './log';

/**
 * Errors are values with context. Every failure says what failed, where (server, step, command,
 * file, config key) and what to do; the plugin edge turns them into PluginErrors.
 */
export interface ErrorContext {
  server?: string;
  step?: string;
  command?: string;
  exitCode?: number | null;
  signal?: string | null;
  file?: string;
  /** Where in `file` (a config file's key), for a CI annotation; the message says it in words. */
  line?: number;
  column?: number;
  remotePath?: string;
  key?: string;
  /** The tail of the command's output, already redacted. */
  output?: string;
  /** What the user can do about it. */
  hint?: string;
}

export class AttacheError extends Error {
  readonly context: ErrorContext;
  /** What failed, without the where: the message is built from both. */
  readonly what: string;

  constructor(what: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(redact(formatMessage(what, context)), options);
    this.name = 'AttacheError';
    this.what = redact(what); // may hold a tool's stderr line (RemoteCommandError)
    this.context = redactContext(context);
  }
}

/**
 * A remote (or local-target) command that exited non-zero or was killed by a signal. The first
 * line ends with the tool's own error line (git's `fatal: …`, mkdir's `Permission denied`), taken
 * from its stderr; the command itself is shortened (--verbose logs it whole).
 */
export class RemoteCommandError extends AttacheError {
  constructor(context: ErrorContext & { command: string; server: string; stderr?: string }) {
    const { stderr, ...rest } = context;
    const status = context.signal ? `was killed by signal ${context.signal}` : `exited with code ${context.exitCode}`;
    const cause = toolLine(stderr ?? context.output ?? '');
    // Redacted before it is cut: a secret cut in half would no longer be recognised.
    super(`command ${status}${cause ? `: ${cause}` : ''}`, { ...rest, command: shorten(redact(context.command)) });
    this.name = 'RemoteCommandError';
  }
}

/** Characters of a failed command an error shows: enough for a hook or composer line, not a 400-character clone script. */
const COMMAND_SHOWN = 240;

function shorten(command: string): string {
  if (command.length <= COMMAND_SHOWN) return command;
  return `${command.slice(0, COMMAND_SHOWN)}… (${command.length - COMMAND_SHOWN} more characters; --verbose logs the whole command)`;
}

/** Progress and advice that tools print on stderr before the real error. */
const NOISE =
  /^(Cloning into|warning:|hint:|remote: (Enumerating|Counting|Compressing|Total)|Receiving objects|Resolving deltas|Installing dependencies|Updating dependencies|Loading composer|Verifying lock file|Package operations|Nothing to install|Generating .*autoload|\s*- (Installing|Downloading|Upgrading|Removing) )/i;
const ERROR_WORD =
  /\b(fatal|error|failed|failure|cannot|can't|couldn't|could not|unable|not found|denied|no such|not permitted|invalid|refused|missing|does not|is not)\b/i;

/**
 * The line of a command's stderr that says what went wrong: the first `fatal:`/`error:` line, else
 * the first line with an error's words, else the first line that is not progress; none when stderr
 * is empty. Exported for the tests.
 */
export function toolLine(stderr: string): string | undefined {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && line.length < 1000);
  const meaningful = lines.filter((line) => !NOISE.test(line));
  const pick =
    meaningful.find((line) => /^(fatal|error|ERROR|E):/.test(line)) ?? meaningful.find((line) => ERROR_WORD.test(line)) ?? meaningful[0];
  return pick && pick.length > 300 ? `${pick.slice(0, 300)}…` : pick;
}

/** Every string in the context goes through redaction too: an error object may be printed whole. */
function redactContext(context: ErrorContext): ErrorContext {
  return Object.fromEntries(
    Object.entries(context).map(([key, value]) => [key, typeof value === 'string' ? redact(value) : value]),
  ) as ErrorContext;
}

function formatMessage(what: string, c: ErrorContext): string {
  const where = [
    c.server && `server "${c.server}"`,
    c.step && `step "${c.step}"`,
    c.key && `config key "${c.key}"`,
    c.file && `file ${c.file}`,
    c.remotePath && `remote path ${c.remotePath}`,
  ].filter(Boolean);
  let message = where.length ? `${where.join(', ')}: ${what}` : what;
  if (c.command) message += `\n  command: ${c.command}`;
  if (c.output) message += `\n  output (last lines):\n${indent(c.output, '    ')}`;
  if (c.hint) message += `\n  ${c.hint}`;
  return message;
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}

/** Adds context (the step, usually) to an error raised below it; the error's own context wins. */
export function withContext(error: unknown, context: ErrorContext): AttacheError {
  // A plugin's PluginError carries our error as its cause: add context to that, not to its message.
  if (!(error instanceof AttacheError) && error instanceof Error && error.cause instanceof AttacheError) error = error.cause;
  if (error instanceof AttacheError) {
    const wrapped = new AttacheError(error.what, { ...context, ...error.context }, { cause: error });
    wrapped.name = error.name;
    return wrapped;
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AttacheError(message, context, { cause: error });
}
