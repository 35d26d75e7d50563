import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { RunningCommand } from '../remote/command';
import { quote } from '../remote/quote';
import { commandFrame, MarkerSplitter, newNonce, readyFrame } from './shell-frame';

/** A channel that runs `exec /bin/sh` on the server: what the SSH session hands a PersistentShell. */
export interface ShellChannel {
  /** The shell's standard input: the command stream. */
  input: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Settles once the shell has exited or its channel closed, with its exit status if it sent one. */
  ended: Promise<{ code: number | null; signal: string | null }>;
  close(): void;
}

/** The command line that starts the shell. The login shell (bash, zsh, dash…) parses only this. */
export const SHELL_COMMAND = 'exec /bin/sh';

/** A command line that starts /bin/sh on `script`: the login shell parses only one quoted word. */
export function shellCommandLine(script: string): string {
  return `${SHELL_COMMAND} -c ${quote(script)}`;
}

/** Longest first command (its frame) carried in a shell's command line: far below the kernel's limit for one argument (128 KiB). */
const MAX_PRELOAD = 16 * 1024;

/**
 * A shell's first lines, carried in its command line instead of its input: the ready line and one
 * command's frame, run by `/bin/sh -c`, which then becomes the shell that reads the input. The
 * command's answer comes with the channel's opening, one round trip sooner than a command written
 * once the shell has started; the login shell still parses only a quoted word.
 */
export interface Preload {
  /** The command line to start the channel with (instead of SHELL_COMMAND). */
  commandLine: string;
  readyNonce: string;
  commandNonce: string;
}

/** The preload of `command`; undefined when its frame is too long for a command line. */
export function preload(command: string, stdin: string | Buffer | undefined): Preload | undefined {
  const readyNonce = newNonce();
  const commandNonce = newNonce();
  const script = readyFrame(readyNonce) + commandFrame(command, stdin, commandNonce) + `${SHELL_COMMAND}\n`;
  if (script.length > MAX_PRELOAD) return undefined;
  return { commandLine: shellCommandLine(script), readyNonce, commandNonce };
}

/** Why a shell could not run a command: it ended (killed, its channel closed) or never started. */
export class ShellEnded extends Error {
  constructor(
    message: string,
    /** True when the shell never answered its first line (it did not start). */
    readonly atStart: boolean,
  ) {
    super(message);
  }
}

interface Pending {
  fail(error: ShellEnded): void;
}

/**
 * One long-lived POSIX shell on one channel, running one command at a time (shell-frame.ts has the
 * wire format). The first command may be written with the ready line, so a new shell costs no round
 * trip of its own beyond opening the channel.
 */
export class PersistentShell {
  private readonly out: MarkerSplitter;
  private readonly err: MarkerSplitter;
  private readonly pending = new Set<Pending>();
  private ended: ShellEnded | undefined;
  private started = false;
  private startOutput = '';
  /** Resolves once the shell has answered its ready line; rejects if it ends or times out first. */
  readonly ready: Promise<void>;

  /** With `preloaded`, the channel was started with its ready line and first command (preload()): run() is then told that command's nonce. */
  constructor(
    private readonly channel: ShellChannel,
    startTimeoutMs: number,
    readonly preloaded?: Preload,
  ) {
    const keep = (chunk: Buffer) => {
      if (!this.started && this.startOutput.length < 4096) this.startOutput += chunk.toString('utf8');
    };
    this.out = new MarkerSplitter(keep);
    this.err = new MarkerSplitter(keep);
    // After the shell has ended, what its orphaned jobs still print belongs to no command.
    channel.stdout.on('data', (chunk: Buffer) => this.ended || this.out.push(chunk));
    channel.stderr.on('data', (chunk: Buffer) => this.ended || this.err.push(chunk));
    // Writes after the shell has gone fail with EPIPE-like errors; the close below reports it.
    channel.input.on('error', () => undefined);

    const nonce = preloaded?.readyNonce ?? newNonce();
    this.ready = new Promise<void>((resolve, reject) => {
      let answers = 0;
      const answered = () => {
        if (++answers < 2) return;
        this.started = true;
        this.pending.delete(waiting);
        clearTimeout(timer);
        resolve();
      };
      const waiting: Pending = { fail: reject };
      this.pending.add(waiting);
      this.out.expect(nonce, keep, answered);
      this.err.expect(nonce, keep, answered);
      const timer = setTimeout(
        () => this.end(new ShellEnded(`the remote shell did not answer within ${startTimeoutMs / 1000} s`, true)),
        startTimeoutMs,
      );
      timer.unref();
    });
    this.ready.catch(() => undefined);
    if (!preloaded) channel.input.write(readyFrame(nonce));
    channel.ended.then((status) => {
      const how = status.signal
        ? `was killed by ${status.signal}`
        : status.code !== null
          ? `exited with code ${status.code}`
          : `lost its channel`;
      if (this.started) this.end(new ShellEnded(`the remote shell ${how} during the command`, false));
      else {
        // The exit status may come before the shell's last words: let its output drain first (briefly).
        void Promise.race([drained(channel.stdout), new Promise((r) => setTimeout(r, 1000).unref())])
          .then(() => Promise.race([drained(channel.stderr), new Promise((r) => setTimeout(r, 1000).unref())]))
          .then(() => {
            const said = firstLine(this.startOutput);
            this.end(
              new ShellEnded(`the remote shell (${SHELL_COMMAND}) did not start: it ${how}${said ? `, saying "${said}"` : ''}`, true),
            );
          });
      }
    });
  }

  /** False once the shell has ended: the pool then opens another. */
  get alive(): boolean {
    return this.ended === undefined;
  }

  /**
   * Writes one command and returns its output streams and exit status, as finishCommand takes them.
   * The caller runs one command at a time per shell (the pool sees to it).
   */
  run(command: string, stdin: string | Buffer | undefined, preloadedNonce?: string): RunningCommand {
    const nonce = preloadedNonce ?? newNonce();
    // throws (a NUL in the command) before anything is expected; a preloaded command is on its way already
    const frame = preloadedNonce ? '' : commandFrame(command, stdin, nonce);
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
      if (this.ended) return reject(this.ended);
      let code: number | null = null;
      let answers = 0;
      const pending: Pending = {
        fail: (error) => {
          stdout.end();
          stderr.end();
          reject(error);
        },
      };
      const answered = () => {
        if (++answers < 2) return;
        this.pending.delete(pending);
        resolve({ code, signal: null });
      };
      this.pending.add(pending);
      this.out.expect(
        nonce,
        (chunk) => stdout.write(chunk),
        (trailer) => {
          const status = Number.parseInt(trailer.trim(), 10);
          code = Number.isNaN(status) ? null : status;
          stdout.end();
          answered();
        },
      );
      this.err.expect(
        nonce,
        (chunk) => stderr.write(chunk),
        () => {
          stderr.end();
          answered();
        },
      );
      if (frame) this.channel.input.write(frame);
    });
    return { stdout, stderr, exited };
  }

  /** Ends the shell: EOF on its input, then the channel closes. */
  close(): void {
    if (this.ended) return;
    this.end(new ShellEnded('the remote shell was closed', false));
    this.channel.input.end();
    this.channel.close();
  }

  private end(error: ShellEnded): void {
    if (this.ended) return;
    this.ended = error;
    for (const pending of this.pending) pending.fail(error);
    this.pending.clear();
    if (error.atStart) this.channel.close();
  }
}

function firstLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .find(Boolean) ?? ''
  );
}

/** Resolves when a stream has ended or closed. */
function drained(stream: Readable): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
  });
}
