import { randomBytes } from 'node:crypto';
import { Readable, type Writable } from 'node:stream';
import { RemoteCommandError } from '../errors';
import type { Logger } from '../log';
import { quote } from './quote';
import type { ExecOptions, ExecResult, Target } from './target';
import { formatBytes } from './format';

/** Output kept whole for the caller (enough for `git rev-parse`, a lock file, a listing). */
const MAX_CAPTURE = 4 * 1024 * 1024;
/** Lines of output an error shows. */
const TAIL_LINES = 20;
/** Characters of an overlong line kept from its start and from its end (what a tool says first and last). */
const LINE_HEAD = 4096;
const LINE_TAIL = 4096;

/**
 * Run first in every shell a deploy starts (the SSH target's, the local target's): what it writes (a checkout, vendor/, the directories
 * tar makes, caches) can be read by the web server whatever the account's umask (077 would make a
 * release only its owner reads). Only read and search are given back: a umask that lets the group
 * write (002) keeps that.
 */
export const READABLE_UMASK = 'umask u=rwx,go+rx';

export interface RunningCommand {
  stdout: Readable;
  stderr: Readable;
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** From sendInput: the input stream's own failure, if it failed. */
  input?: Promise<Error | undefined>;
}

/**
 * Gives a command its standard input: bytes at once, or a stream piped with backpressure. A
 * stream that fails ends the input where it is (the command sees end of input and finishes);
 * resolves with that failure.
 */
export function sendInput(stdin: ExecOptions['stdin'], to: Writable): Promise<Error | undefined> {
  to.on('error', () => {}); // a command that does not read its input closes it early
  if (!(stdin instanceof Readable)) {
    if (stdin === undefined) to.end();
    else to.end(stdin);
    return Promise.resolve(undefined);
  }
  if (stdin.destroyed) {
    // Stopped before the command started (an SSH channel opens a round trip later): the input is cut.
    to.end();
    return Promise.resolve(stdin.errored ?? new Error('the input stream was closed before the command started'));
  }
  return new Promise((resolve) => {
    stdin.on('error', (error) => {
      stdin.unpipe(to);
      to.end();
      resolve(error);
    });
    stdin.once('end', () => resolve(undefined));
    stdin.once('close', () => resolve(undefined));
    stdin.pipe(to);
  });
}

/**
 * Shared by the SSH and local targets: streams a running command's output line by line to the log,
 * prefixed with the server's name, captures it, and turns a non-zero exit into a RemoteCommandError
 * that names server, command, exit code and the tail of the output. stderr alone is not a failure.
 *
 * Memory stays bounded whatever the command prints: a line longer than LINE_HEAD + LINE_TAIL keeps
 * its head and tail, the capture stops at MAX_CAPTURE, and lines the log cannot take (its reader
 * is behind) are counted and said once the command ends.
 */
export async function finishCommand(
  server: string,
  command: string,
  running: RunningCommand,
  options: ExecOptions,
  log: Logger,
): Promise<ExecResult> {
  const tail: string[] = [];
  const captured = { stdout: '', stderr: '' };
  const dropped = { lines: 0, bytes: 0 };
  const emit = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    if (options.output === 'none') return;
    if (log.output(`[${server}] ${line}`, options.output === 'info' ? 'info' : 'debug') === false) {
      dropped.lines++;
      dropped.bytes += Buffer.byteLength(line) + 1;
    }
  };
  const read = (stream: Readable, which: 'stdout' | 'stderr') =>
    new Promise<void>((resolve) => {
      const lines = new LineCutter(emit);
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const room = MAX_CAPTURE - captured[which].length;
        if (room > 0) captured[which] += chunk.length > room ? chunk.slice(0, room) : chunk;
        lines.push(chunk);
      });
      const done = () => {
        lines.end();
        resolve();
      };
      stream.on('end', done);
      stream.on('close', done);
      stream.on('error', done);
    });

  const [status] = await Promise.all([running.exited, read(running.stdout, 'stdout'), read(running.stderr, 'stderr')]);
  if (dropped.lines)
    log.warn(
      `[${server}] ... ${dropped.lines} line${dropped.lines === 1 ? '' : 's'} (${formatBytes(dropped.bytes)}) of output not shown: ` +
        'the log could not keep up (its reader is slower than the command printed). The last lines are in any error.',
    );
  // A command that ended without reading all its input: stop the stream, so its producer does not wait forever.
  if (options.stdin instanceof Readable && !options.stdin.readableEnded) options.stdin.destroy();
  const inputFailure = await running.input;
  if (inputFailure) throw inputFailure;
  const result: ExecResult = { ...status, ...captured };
  if (options.check !== false && (status.code !== 0 || status.signal))
    throw commandFailure(server, command, result, options.step, tail.join('\n'));
  return result;
}

/**
 * A failed command's error (exit code, the tool's first error line, the tail of its output), as
 * exec throws it; for a caller that ran with `check: false` to read the output first.
 */
export function commandFailure(server: string, command: string, result: ExecResult, step?: string, output?: string): RemoteCommandError {
  return new RemoteCommandError({
    server,
    step,
    command,
    exitCode: result.code,
    signal: result.signal,
    output: output ?? `${result.stdout}\n${result.stderr}`.split('\n').filter(Boolean).slice(-TAIL_LINES).join('\n'),
    stderr: result.stderr,
    hint: 'Run the command by hand on the server to see the whole output, or run again with --verbose.',
  });
}

/**
 * Runs a script whose output says what it did (`echo attache:…`) and hands that output to `seen`
 * even when the script failed part-way (so that what it made is registered for undo); then fails
 * as exec does. `shown` is the command an error names (by default the script, in its `cwd`).
 */
export async function execReporting(
  target: Target,
  script: string,
  options: ExecOptions,
  seen?: (stdout: string) => void,
  shown = inDirectory(script, options.cwd),
): Promise<ExecResult> {
  const result = await target.exec(script, { ...options, check: false });
  seen?.(result.stdout);
  if (result.code !== 0 || result.signal) throw commandFailure(target.name, shown, result, options.step);
  return result;
}

/**
 * Read-only commands in one round trip, each one's stdout apart: between them goes a separator
 * that no output holds. A section is undefined when the output was cut before it ended (longer than
 * exec keeps), so a caller can read that one another way.
 */
export async function readSections(target: Target, commands: readonly string[], options: ExecOptions): Promise<Array<string | undefined>> {
  const separator = `attache-${randomBytes(12).toString('hex')}`;
  const script = commands.map((command) => `{ ${command}\n}; printf '\\n%s\\n' ${quote(separator)}`).join('\n');
  const { stdout } = await target.exec(script, { ...options, readOnly: true });
  const parts = stdout.split(`\n${separator}\n`);
  return commands.map((_, i) => (i < parts.length - 1 ? parts[i] : undefined));
}

/**
 * Commands as one script that stops at the first failure, with its status: each runs only when the
 * one before succeeded (`set -e` would not stop at the left side of an `&&`).
 */
export function inSequence(commands: readonly string[]): string {
  return commands.map((command) => `{ ${command}; }`).join(' && ');
}

/** The command as run: `cd` into the working directory first, so both targets treat `cwd` alike. */
export function inDirectory(command: string, cwd: string | undefined): string {
  return cwd === undefined ? command : `cd -- ${quote(cwd)} && ${command}`;
}

/**
 * Cuts a stream of text into lines, each handed on as it ends. A line longer than LINE_HEAD +
 * LINE_TAIL characters keeps its head and its tail and says how much was cut between them: a
 * line without end costs its length in time and a few KB in memory, never its square.
 */
export class LineCutter {
  private head = '';
  private tail = '';
  private cut = 0;
  private open = false;

  constructor(private readonly line: (line: string) => void) {}

  push(text: string): void {
    let from = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', from)) {
      this.add(text.slice(from, newline));
      this.flush();
      from = newline + 1;
    }
    if (from < text.length) this.add(from ? text.slice(from) : text);
  }

  /** The last line, if the text did not end with a newline. */
  end(): void {
    if (this.open) this.flush();
  }

  private add(piece: string): void {
    this.open = true;
    let rest = piece;
    if (!this.tail && this.head.length < LINE_HEAD) {
      const room = LINE_HEAD - this.head.length;
      this.head += rest.slice(0, room);
      rest = rest.slice(room);
    }
    if (!rest) return;
    this.tail += rest;
    if (this.tail.length > LINE_TAIL) {
      const excess = this.tail.length - LINE_TAIL;
      this.cut += Buffer.byteLength(this.tail.slice(0, excess));
      this.tail = this.tail.slice(excess);
    }
  }

  private flush(): void {
    let text = this.cut ? `${this.head} ... [${formatBytes(this.cut)} cut from this line] ... ${this.tail}` : this.head + this.tail;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    this.head = '';
    this.tail = '';
    this.cut = 0;
    this.open = false;
    this.line(text);
  }
}
