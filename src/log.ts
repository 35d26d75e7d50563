import fancyLog from 'fancy-log';
import { type CiOutput, ciOutput } from './ci/output';

/**
 * One logger for the whole deploy: step start and end, remote output, progress, the summary.
 * Every line passes through `redact`, so a registered secret never reaches the terminal;
 * errors use the same function for their messages.
 */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

export interface Logger {
  readonly verbosity: Verbosity;
  /** Normal progress: step start and end, summaries of a plugin's work. */
  info(message: string): void;
  /** Only with --verbose: every remote command, every file. */
  debug(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Shown even with --quiet: the end-of-deploy summary. */
  summary(message: string): void;
  /** A live line (progress) that a terminal redraws in place; off in quiet mode. */
  progress(message: string, final?: boolean): void;
  /**
   * A line a tool printed (a remote command, the build), shown at `level`: a CI runner never obeys
   * it. Returns false when the line was dropped because the sink is too far behind (a pipe read
   * slower than the tool prints): the caller counts what was dropped and says so.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a logger of the caller's own may return nothing, as before
  output(line: string, level: 'info' | 'debug'): boolean | void;
  /** A step's lines, collapsible in a CI runner's log (GitHub Actions, GitLab CI); nothing elsewhere. */
  group(title: string): void;
  groupEnd(title: string): void;
}

export interface LoggerOptions {
  verbosity?: Verbosity;
  /** Where lines go; default fancy-log (gulp's own format). Tests pass a collector. */
  write?: (line: string, level: 'info' | 'warn' | 'error') => void;
  /** Whether progress may redraw one line in place (a TTY); otherwise it is throttled. */
  interactive?: boolean;
  /** Where a terminal's live progress line is drawn (default process.stdout). */
  terminal?: { write(text: string): unknown };
  /** The CI runner's groups and commands (default: the process's, from the environment; null for none). */
  ci?: CiOutput | null;
  /**
   * Bytes written to the sink and not yet taken by its reader (default: process.stdout's queue, when
   * `write` is not given; else none). Past MAX_BACKLOG, tool output is dropped, not queued.
   */
  backlog?: () => number;
}

/**
 * How far the sink may fall behind before tool output is dropped: process.stdout on a pipe queues
 * every write in memory, so a flood read slowly (a CI log, `| tee`) would grow without limit.
 * A terminal or a file is written synchronously and never falls behind: there the tool waits.
 */
const MAX_BACKLOG = 1024 * 1024;

const secrets = new Set<string>();

/** Marks a value as secret: from now on it is replaced by *** in every log line and error. */
export function registerSecret(value: string | undefined | null): void {
  // A secret of under 4 characters would redact ordinary words and protects little.
  if (!value || value.length < 4 || secrets.has(value)) return;
  secrets.add(value);
  ciOutput()?.mask(value); // before anything could print it
}

/** A line of a multi-line secret shorter than this is not registered alone: a key's short last line ("AAAA==") would redact ordinary text. */
const SECRET_LINE_MIN = 16;

/**
 * Marks a multi-line secret (a private key's text) as secret: the whole text, and each of its lines,
 * since a tool may print a single line of it. Lines split at real newlines and at literal `\n`
 * sequences (a key pasted into a CI variable that way); the armour lines (`-----BEGIN …`) are
 * public and left readable.
 */
export function registerSecretText(text: string | undefined | null): void {
  if (!text) return;
  registerSecret(text);
  registerSecret(text.trim());
  for (const line of text.split(/\r?\n|\\n/)) {
    const trimmed = line.trim();
    if (trimmed.length >= SECRET_LINE_MIN && !trimmed.startsWith('-----')) registerSecret(trimmed);
  }
}

/** Names of .env keys whose values are secrets. */
const SECRET_KEY = /(KEY|SECRET|PASS|PASSWORD|PASSPHRASE|TOKEN|SALT|PRIVATE|DSN|CREDENTIALS?|AUTH)$/i;

/**
 * Registers the secrets of a .env file, each by its exact value: values of keys named like secrets
 * (APP_KEY, DB_PASSWORD, …_TOKEN) and URLs carrying credentials (scheme://user:pass@…). A value is
 * not a secret for looking random: an address, a build id or a cache prefix stays readable, as do
 * ordinary settings (APP_ENV=production, APP_DEBUG=false).
 */
export function registerEnvSecrets(contents: string): void {
  for (const [key, value] of envEntries(contents)) {
    if (SECRET_KEY.test(key) || /:\/\/[^/\s]*:[^/\s]*@/.test(value)) registerSecret(value);
  }
}

/** A .env file's assignments, in order, each value without its quotes. */
function envEntries(contents: string): Array<[string, string]> {
  return contents.split(/\r?\n/).flatMap((line): Array<[string, string]> => {
    const assignment = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    return assignment ? [[assignment[1], assignment[2].trim().replace(/^(["'])(.*)\1$/, '$2')]] : [];
  });
}

/** One value of a .env file (the last assignment wins, as for Laravel's loader), or undefined. */
export function envValue(contents: string, key: string): string | undefined {
  return (
    envEntries(contents)
      .filter(([name]) => name === key)
      .at(-1)?.[1] || undefined
  );
}

/** `scheme://user:password@`: the password part, wherever a URL carrying credentials is printed. */
// The password runs to the last @ before the path: an unencoded @ in it is common.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@'"]*):([^/\s'"]+)@/gi;

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('***');
  return out.replace(URL_CREDENTIALS, '$1:***@');
}

/**
 * The passwords of URLs carrying credentials in `text` (a repository, a health check URL, a hook),
 * as written and percent-decoded: registered as secrets, they are redacted even where a tool
 * prints them without the URL around them.
 */
export function urlCredentials(text: string): string[] {
  const found = new Set<string>();
  for (const [, , password] of text.matchAll(URL_CREDENTIALS)) {
    found.add(password);
    try {
      found.add(decodeURIComponent(password));
    } catch {}
  }
  return [...found];
}

export function verbosityFromArgv(argv: readonly string[] = process.argv): Verbosity {
  if (argv.includes('--verbose')) return 'verbose';
  if (argv.includes('--quiet') || argv.includes('--silent')) return 'quiet';
  return 'normal';
}

/**
 * Whether our output may carry colour: only on a terminal, never with NO_COLOR (no-color.org) or
 * gulp's --no-color; gulp's --color forces it.
 */
export function colorEnabled(
  stream: { isTTY?: boolean } = process.stdout,
  argv: readonly string[] = process.argv,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (argv.includes('--no-color') || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) return false;
  return argv.includes('--color') || Boolean(stream.isTTY);
}

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** The text without ANSI escape sequences (colours, cursor moves). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** gulp's line format, `[HH:MM:SS] line`, without colour: fancy-log colours its timestamp on a terminal even under NO_COLOR. */
function plainLine(line: string, level: 'info' | 'warn' | 'error'): void {
  (level === 'info' ? process.stdout : process.stderr).write(`[${clockTime(new Date())}] ${stripAnsi(line)}\n`);
}

/** HH:MM:SS, local time. By hand: toLocaleTimeString costs ~0.4 ms a line (ICU), 0.2 s of a verbose deploy's CPU. */
export function clockTime(date: Date): string {
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const verbosity = options.verbosity ?? verbosityFromArgv();
  const write =
    options.write ??
    ((line: string, level: 'info' | 'warn' | 'error') => {
      if (!colorEnabled()) return plainLine(line, level);
      if (level === 'error') fancyLog.error(line);
      else if (level === 'warn') fancyLog.warn(line);
      else fancyLog(line);
    });
  const interactive = options.interactive ?? Boolean(process.stdout.isTTY && !process.env.CI);
  const terminal = options.terminal ?? process.stdout;
  const ci = options.ci === undefined ? ciOutput() : (options.ci ?? undefined);
  const backlog = options.backlog ?? (options.write ? () => 0 : () => process.stdout.writableLength ?? 0);
  let lastProgress = 0;
  let progressShown = false;

  const clearProgress = () => {
    if (interactive && progressShown) {
      terminal.write('\r\x1b[K');
      progressShown = false;
    }
  };
  const emit = (line: string, level: 'info' | 'warn' | 'error') => {
    clearProgress();
    write(redact(line), level);
  };

  return {
    verbosity,
    info: (m) => verbosity !== 'quiet' && emit(m, 'info'),
    debug: (m) => verbosity === 'verbose' && emit(m, 'info'),
    warn: (m) => verbosity !== 'quiet' && emit(m, 'warn'),
    error: (m) => emit(m, 'error'),
    summary: (m) => emit(m, 'info'),
    output(line, level) {
      if (verbosity === 'quiet' || (level === 'debug' && verbosity !== 'verbose')) return true;
      if (backlog() > MAX_BACKLOG) return false;
      ci?.toolOutput();
      emit(line, 'info');
      return true;
    },
    group(title) {
      clearProgress();
      ci?.group(title);
    },
    groupEnd(title) {
      clearProgress();
      ci?.groupEnd(title);
    },
    progress(message, final = false) {
      if (verbosity === 'quiet') return;
      if (interactive) {
        terminal.write(`\r\x1b[K${redact(message)}`);
        progressShown = true;
        if (final) clearProgress();
        return;
      }
      // Not a terminal (CI): a line every few seconds, and the last one.
      const now = Date.now();
      if (final || now - lastProgress >= 3000) {
        lastProgress = now;
        emit(message, 'info');
      }
    },
  };
}
