import { randomBytes } from 'node:crypto';
import { type CiRunner, ciRunner } from './runner';

/**
 * What a CI runner reads from a job's log besides its text: collapsible groups, a failure's
 * annotation, secrets to mask, and (on GitHub) where the lines a tool printed begin, so that a
 * hook echoing `::error::…` or `##[error]` is never taken as a command to the runner. The lines
 * are written raw (no timestamp), each on a line of its own, to the same stream as the log's.
 */
export interface CiOutput {
  /** Opens a collapsible group; a group still open is closed first (runners do not nest them reliably). */
  group(title: string): void;
  /** Closes the group `title`, if it is the one open. */
  groupEnd(title: string): void;
  /** A line a tool printed follows: its text must not be obeyed. */
  toolOutput(): void;
  /** A secret: the runner hides it wherever it appears in the log. */
  mask(secret: string): void;
  /** The failure of the run, as one annotation: a title, the message, and the config file's position when known. */
  annotate(failure: { title: string; message: string; file?: string; line?: number; column?: number }): void;
  /** Ends what is open (a group, a stop of commands): the rest of the job's log is the runner's again. */
  close(): void;
}

export type RawWrite = (line: string) => void;

const stdoutLine: RawWrite = (line) => void process.stdout.write(`${line}\n`);

let shared: { runner: CiRunner | undefined; output: CiOutput | undefined } | undefined;

/** The process's CI output (one stdout, one state), or undefined outside GitHub Actions and GitLab CI. */
export function ciOutput(): CiOutput | undefined {
  if (!shared) {
    const runner = ciRunner();
    const output = runner === 'github' ? githubOutput(stdoutLine) : runner === 'gitlab' ? gitlabOutput(stdoutLine) : undefined;
    shared = { runner, output };
    // Pipes are written synchronously on exit: the runner obeys commands again after us.
    if (output) process.once('exit', () => output.close());
  }
  return shared.output;
}

/** GitHub's workflow commands (docs.github.com, "Workflow commands for GitHub Actions"). */
export function githubOutput(write: RawWrite): CiOutput {
  let open: string | undefined;
  let stopToken: string | undefined;
  const masked = new Set<string>();
  const command = (name: string, message: string, properties: Record<string, string | number | undefined> = {}) => {
    resume();
    const props = Object.entries(properties)
      .filter(([, value]) => value !== undefined && value !== '')
      .map(([key, value]) => `${key}=${escapeProperty(String(value))}`)
      .join(',');
    write(`::${name}${props ? ` ${props}` : ''}::${escapeData(message)}`);
  };
  const resume = () => {
    if (stopToken === undefined) return;
    write(`::${stopToken}::`);
    stopToken = undefined;
  };
  return {
    group(title) {
      if (open !== undefined) command('endgroup', '');
      open = title;
      command('group', title);
    },
    groupEnd(title) {
      if (open !== title) return;
      open = undefined;
      command('endgroup', '');
    },
    toolOutput() {
      if (stopToken !== undefined) return;
      // A token nobody can guess: a tool cannot print it to resume commands on its own.
      stopToken = randomBytes(16).toString('hex');
      write(`::stop-commands::${stopToken}`);
    },
    mask(secret) {
      // The runner matches masks line by line: a key's text is masked a line at a time.
      for (const line of secret.split(/\r?\n/)) {
        const value = line.trim();
        if (value.length < 4 || masked.has(value)) continue;
        masked.add(value);
        command('add-mask', value);
      }
    },
    annotate({ title, message, file, line, column }) {
      command('error', message, { title, file, line, col: column });
    },
    close() {
      if (open !== undefined) {
        open = undefined;
        command('endgroup', '');
      }
      resume();
    },
  };
}

/** GitLab's collapsible sections (docs.gitlab.com, "Custom collapsible sections"). */
export function gitlabOutput(write: RawWrite, now: () => number = Date.now): CiOutput {
  let open: { title: string; name: string } | undefined;
  let count = 0;
  const seconds = () => Math.floor(now() / 1000);
  const end = () => {
    if (!open) return;
    write(`\x1b[0Ksection_end:${seconds()}:${open.name}\r\x1b[0K`);
    open = undefined;
  };
  return {
    group(title) {
      end();
      // Section names take letters, digits, `_`, `.` and `-` only; the count keeps them unique.
      open = { title, name: `attache_${++count}_${title.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 40)}` };
      write(`\x1b[0Ksection_start:${seconds()}:${open.name}[collapsed=true]\r\x1b[0K${title}`);
    },
    groupEnd(title) {
      if (open?.title === title) end();
    },
    toolOutput() {},
    mask() {},
    annotate() {},
    close: end,
  };
}

/** The runner's escaping of a command's message. */
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** The runner's escaping of a property's value. */
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
