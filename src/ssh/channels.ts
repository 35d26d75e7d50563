import type { ClientChannel } from 'ssh2';
import { AttacheError } from '../errors';
import type { Logger } from '../log';
import { finishCommand, inDirectory, READABLE_UMASK, sendInput } from '../remote/command';
import type { ExecOptions, ExecResult } from '../remote/target';
import type { Connection } from './connect';
import { countChannel } from './counters';
import { pacedInput } from './paced-input';
import { SHELL_COMMAND, ShellEnded, shellCommandLine, type ShellChannel } from './persistent-shell';
import { ShellPool } from './shell-pool';
import { STANDBY_COMMAND, standbyLine } from './standby-shell';

/**
 * Persistent shells per session (commands over them cost one round trip and no new channel). A
 * deploy runs at most a few commands at once on one server (the asset step's beside composer's),
 * so 4 rarely makes a command wait, and with the SFTP channel it leaves half of OpenSSH's default
 * MaxSessions (10) for stream uploads (the standby among them) and forwarded channels. A server that allows fewer gets fewer
 * (shell-pool.ts). A queue alone would hold the asset step's one-line `ln` script behind composer.
 */
const SHELLS_PER_SESSION = 4;
/**
 * Shells opened with the connection, before any command asks: a deploy runs up to three commands at
 * once on a server (the clone's, or shared's, beside the asset step's link script and merge), and a
 * shell opened when a command asks costs that command two round trips more (channel open, exec).
 */
const WARM_SHELLS = 3;
/** A binary input larger than this goes raw to the standby when it waits ready (a redeploy's changed image), not escaped to a shell. */
const RAW_INPUT = 8 * 1024;

/**
 * The channels that run a session's commands: the persistent shells (shell-pool.ts), a channel of
 * its own for a command with a streamed input (the standby opened with the connection first,
 * standby-shell.ts), and a pseudo-terminal for a person at a keyboard.
 */
export class Channels {
  private readonly shells: ShellPool;
  /** A channel opened with the connection, waiting for the first command with a streamed input (standby-shell.ts). */
  private standby?: Promise<Standby | undefined>;
  /** The standby once it is open, until it is taken. */
  private standbyWaiting?: Standby;

  constructor(
    private readonly connection: Connection,
    private readonly log: Logger,
  ) {
    this.shells = new ShellPool({
      open: (commandLine) => this.openShellChannel(commandLine),
      size: SHELLS_PER_SESSION,
      startTimeoutMs: connection.server.connectTimeoutMs,
      answered: (ms) => connection.answered(ms),
    });
  }

  private get name(): string {
    return this.connection.name;
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const full = inDirectory(command, options.cwd);
    this.log.debug(`[${this.name}] $ ${full}`);
    // A streamed input (a release's tar) gets a channel of its own: the shell's framing needs its bytes up front.
    if (options.stdin !== undefined && !(typeof options.stdin === 'string' || Buffer.isBuffer(options.stdin)))
      return this.execOnChannel(full, options);
    // Binary input goes to a shell as octal escapes (up to four bytes a byte, which the shell parses twice): a large one takes the standby, raw, if it waits ready.
    if (Buffer.isBuffer(options.stdin) && options.stdin.length > RAW_INPUT && this.standbyWaiting?.open())
      return this.execOnChannel(full, options);
    const stdin = options.stdin;
    return this.shells
      .run(full, stdin, (running) => finishCommand(this.name, full, running, options, this.log))
      .catch((error: unknown) => {
        throw this.commandError(error, full, options.step);
      });
  }

  /**
   * Starts WARM_SHELLS persistent shells in the background (shell-pool.ts warm()): the deploy's
   * first commands find them ready; then a standby for the first streamed input (standby-shell.ts).
   * Their channels are asked for in that order, after the SFTP channel's, so a server that allows
   * few sessions gives them to SFTP and a shell first.
   */
  warmUp(): void {
    this.shells.warm(WARM_SHELLS);
    this.standby ??= this.openStandby();
  }

  /**
   * A command on a pseudo-terminal, for a person at a keyboard (the ssh task): the channel, for the
   * caller to join to its terminal (setWindow on resize; 'exit' gives the status).
   */
  interactive(command: string, pty: { term: string; rows: number; cols: number }): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.connection.client.exec(command, { pty: { term: pty.term, rows: pty.rows, cols: pty.cols } }, (error, channel) =>
        error ? reject(error) : resolve(channel),
      );
    });
  }

  /** EOF to the shells: sent before the connection says goodbye. */
  close(): void {
    this.shells.close();
  }

  /**
   * One command on a channel of its own (the standby opened with the connection, if it is still
   * there, else a new one), its input streamed with back-pressure, paced to the round trip (paced-input.ts).
   */
  private async execOnChannel(full: string, options: ExecOptions): Promise<ExecResult> {
    const standby = await this.takeStandby();
    const connection = this.connection;
    return new Promise<ExecResult>((resolve, reject) => {
      const start = (error: Error | undefined, channel: ClientChannel) => {
        if (error) return reject(connection.closed ? connection.lost(error, { command: full, step: options.step }) : error);
        // Listen before this callback returns: ssh2 may emit a fast command's exit status in the
        // same tick, and a listener added after an await would miss it.
        let status = { code: null as number | null, signal: null as string | null };
        channel.on('exit', (code: number | null, signal?: string) => (status = { code, signal: signal ?? null }));
        const exited = new Promise<typeof status>((done) => channel.on('close', () => done(status)));
        const input = sendInput(options.stdin, pacedInput(channel, connection.roundTripMs));
        finishCommand(this.name, full, { stdout: channel, stderr: channel.stderr, exited, input }, options, this.log).then(
          resolve,
          (failure) =>
            // A command cut off by a dead connection has no exit status: say what really happened.
            reject(
              connection.closed ? connection.lost(new Error('the command was cut off'), { command: full, step: options.step }) : failure,
            ),
        );
      };
      if (standby) {
        standby.write(standbyLine(full));
        start(undefined, standby);
      } else {
        countChannel();
        // Through /bin/sh like every command (the login shell parses one quoted word), with the same umask.
        connection.client.exec(shellCommandLine(`${READABLE_UMASK}\n${full}`), start);
      }
    });
  }

  /** Opens the standby channel; undefined if the server will not give one (its MaxSessions). */
  private openStandby(): Promise<Standby | undefined> {
    return new Promise<Standby | undefined>((resolve) => {
      if (this.connection.closed) return resolve(undefined);
      countChannel();
      this.connection.client.exec(STANDBY_COMMAND, (error, channel) => {
        if (error) return resolve(undefined);
        let open = true;
        channel.once('exit', () => (open = false)); // its shell ended unused (a login shell that runs nothing)
        channel.once('close', () => (open = false));
        channel.on('error', () => undefined); // a standby that fails unused is simply not used
        const standby = { channel, open: () => open };
        if (this.standby) this.standbyWaiting = standby; // not taken while it opened
        resolve(standby);
      });
    }).catch(() => undefined); // the connection ended as it was asked for: no standby
  }

  /** The standby channel, once: undefined when there is none, or it ended unused (its shell would not start). */
  private async takeStandby(): Promise<ClientChannel | undefined> {
    const standby = this.standby;
    this.standby = undefined;
    this.standbyWaiting = undefined;
    const taken = await standby;
    return taken?.open() && !this.connection.closed ? taken.channel : undefined;
  }

  /** One channel running `exec /bin/sh` (or a preloaded shell's command line) for the shell pool; listeners attached before ssh2 can emit. */
  private openShellChannel(commandLine = SHELL_COMMAND): Promise<ShellChannel> {
    return new Promise((resolve, reject) => {
      if (this.connection.closed) return reject(new Error('connection closed'));
      countChannel();
      this.connection.client.exec(commandLine, (error, channel) => {
        if (error) return reject(new ChannelRefused(error.message));
        // The shell's exit ends it at once: a job it left behind may hold the channel open for long.
        const ended = new Promise<{ code: number | null; signal: string | null }>((done) => {
          channel.on('exit', (code: number | null, signal?: string) => done({ code, signal: signal ?? null }));
          channel.on('close', () => done({ code: null, signal: null }));
        });
        resolve({ input: channel, stdout: channel, stderr: channel.stderr, ended, close: () => channel.close() });
      });
    });
  }

  /** A command's failure as the user should read it: a lost connection, a shell that would not start, or the command's own. */
  private commandError(error: unknown, command: string, step: string | undefined): unknown {
    if (this.connection.closed) return this.connection.lost(new Error('the command was cut off'), { command, step });
    if (error instanceof ShellEnded && error.atStart) {
      return new AttacheError(error.message, {
        server: this.name,
        command,
        step,
        hint: `Commands run in /bin/sh, started by the login shell of "${this.connection.server.user}" (${SHELL_COMMAND}): check that shell in /etc/passwd, that its rc files do not wait for input, and that no ForceCommand applies.`,
      });
    }
    if (error instanceof ShellEnded) return this.connection.lost(new Error(error.message), { command, step });
    if (error instanceof ChannelRefused) {
      return new AttacheError(`could not open a channel for commands: ${error.message}`, {
        server: this.name,
        command,
        step,
        hint: 'The server may limit sessions per connection (MaxSessions in sshd_config); gulp-attache needs at least 2.',
      });
    }
    return error;
  }
}

/** The server refused to open a channel for a shell. */
class ChannelRefused extends Error {}

interface Standby {
  channel: ClientChannel;
  /** False once its shell has ended or the channel closed (unused: a login shell that runs nothing, a connection that ended). */
  open(): boolean;
}
