import type { ClientChannel, SFTPWrapper } from 'ssh2';
import { AttacheError } from '../errors';
import type { Logger } from '../log';
import { finishCommand, inDirectory, READABLE_UMASK, sendInput } from '../remote/command';
import type { ExecOptions, ExecResult } from '../remote/target';
import type { Connection } from './connect';
import { countChannel } from './counters';
import { pacedInput } from './paced-input';
import { SHELL_COMMAND, ShellEnded, shellCommandLine, type ShellChannel } from './persistent-shell';
import { ChannelRefused, NoRoomForCommands, SessionSlots, type TakeOptions } from './session-slots';
import { type OpenOptions, ShellPool } from './shell-pool';
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

/** A connection and the count of its session channels. */
interface Line {
  connection: Connection;
  slots: SessionSlots;
}

/**
 * The channels that run a session's commands: the persistent shells (shell-pool.ts), a channel of
 * its own for a command with a streamed input (the standby opened with the connection first,
 * standby-shell.ts), and a pseudo-terminal for a person at a keyboard. They live within the
 * sessions the server allows a connection (session-slots.ts); where SFTP's channel takes the only
 * one (MaxSessions 1), they move to a second connection of their own.
 */
export class Channels {
  private readonly shells: ShellPool;
  /** A channel opened with the connection, waiting for the first command with a streamed input (standby-shell.ts). */
  private standby?: Promise<Standby | undefined>;
  /** The standby once it is open, until it is taken. */
  private standbyWaiting?: Standby;
  /** The connection the session was opened on (SFTP's), and the one the commands use: the same one unless MaxSessions is 1. */
  private readonly first: Line;
  private commands: Line;
  private second?: Promise<Line>;

  constructor(
    connection: Connection,
    private readonly log: Logger,
    /** Opens another connection to the same server, without SFTP, for the commands. */
    private readonly another: () => Promise<Connection>,
  ) {
    this.first = { connection, slots: this.slotsFor() };
    this.commands = this.first;
    this.shells = new ShellPool({
      open: (commandLine, how) => this.openShellChannel(commandLine, how),
      idle: () => this.commands.slots.idle(),
      size: SHELLS_PER_SESSION,
      startTimeoutMs: connection.server.connectTimeoutMs,
      answered: (ms) => this.commands.connection.answered(ms),
    });
  }

  private get name(): string {
    return this.first.connection.name;
  }

  /** The connection commands run on. */
  private get connection(): Connection {
    return this.commands.connection;
  }

  /** Counts the SFTP channel, asked for with the connection, among the first connection's sessions. */
  holdFiles(sftp: Promise<SFTPWrapper>): void {
    this.first.slots.hold(sftp);
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
    return this.openSession(
      (connection) =>
        new Promise((resolve, reject) => {
          connection.client.exec(command, { pty: { term: pty.term, rows: pty.rows, cols: pty.cols } }, (error, channel) =>
            error ? reject(refusedOr(error)) : resolve(channel),
          );
        }),
    );
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
    let connection = this.connection;
    return new Promise<ExecResult>((resolve, reject) => {
      const start = (channel: ClientChannel) => {
        // Listen before ssh2's callback returns: it may emit a fast command's exit status in the
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
        return start(standby);
      }
      // Through /bin/sh like every command (the login shell parses one quoted word), with the same umask.
      const commandLine = shellCommandLine(`${READABLE_UMASK}\n${full}`);
      this.openSession((on) =>
        execChannel(on, commandLine, (channel) => {
          connection = on;
          start(channel);
        }),
      ).catch((error: unknown) => {
        connection = this.connection;
        reject(
          connection.closed
            ? connection.lost(error as Error, { command: full, step: options.step })
            : this.commandError(error, full, options.step),
        );
      });
    });
  }

  /**
   * Opens a session channel with `open` on the connection commands use, within the sessions the
   * server allows (session-slots.ts); when SFTP's channel takes them all, on a second connection.
   */
  private async openSession(open: (connection: Connection) => Promise<ClientChannel>, how: TakeOptions = {}): Promise<ClientChannel> {
    for (;;) {
      const line = this.commands;
      try {
        return await line.slots.take(
          () => (line.connection.closed ? Promise.reject(new Error('connection closed')) : open(line.connection)),
          how,
        );
      } catch (error) {
        if (!(error instanceof NoRoomForCommands) || line !== this.first) throw error;
        this.second ??= this.openSecond();
        this.commands = await this.second;
      }
    }
  }

  /** The second connection, for the commands of a server whose one session SFTP holds. */
  private async openSecond(): Promise<Line> {
    const connection = await this.another();
    const slots = this.slotsFor();
    slots.limit = this.first.slots.limit; // known: no refusal to learn it again
    return { connection, slots };
  }

  private slotsFor(): SessionSlots {
    return new SessionSlots({ reclaim: () => this.reclaim(), learned: (limit) => this.tellLimit(limit) });
  }

  /** Closes an idle channel for a request the server's limit holds back: the unused standby first, else an idle shell. */
  private reclaim(): void {
    const standby = this.standbyWaiting;
    if (standby?.open()) {
      this.standby = undefined;
      this.standbyWaiting = undefined;
      standby.channel.end(); // its shell, still waiting for a command line, exits
      return;
    }
    this.shells.closeIdle();
  }

  /** Said once per server: the deploy goes on within the server's limit, and what that costs. */
  private tellLimit(limit: number): void {
    const how =
      limit === 1
        ? 'its one session holds the file transfers, and a second connection runs the commands, one at a time'
        : `commands and uploads share ${limit - 1} channel(s) beside the file transfers' and wait for one another`;
    this.log.warn(
      `[${this.name}] the server allows ${limit} session(s) per SSH connection (MaxSessions ${limit}): ${how}, so the deploy takes longer. ` +
        `For full speed, allow this user more (OpenSSH's default is 10), e.g. "Match User ${this.first.connection.server.user}" with "MaxSessions 10" in sshd_config.`,
    );
  }

  /** Opens the standby channel; undefined if the server will not give one (its MaxSessions). */
  private openStandby(): Promise<Standby | undefined> {
    return this.openSession((on) => execChannel(on, STANDBY_COMMAND), { ahead: true }).then(
      (channel) => {
        let open = true;
        channel.once('exit', () => (open = false)); // its shell ended unused (a login shell that runs nothing)
        channel.once('close', () => (open = false));
        channel.on('error', () => undefined); // a standby that fails unused is simply not used
        const standby = { channel, open: () => open };
        if (this.standby) this.standbyWaiting = standby; // not taken while it opened
        return standby;
      },
      () => undefined, // refused, or the connection ended as it was asked for: no standby
    );
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
  private async openShellChannel(commandLine: string | undefined, how: OpenOptions): Promise<ShellChannel> {
    let ended!: Promise<{ code: number | null; signal: string | null }>;
    const channel = await this.openSession(
      (on) =>
        execChannel(on, commandLine ?? SHELL_COMMAND, (opened) => {
          // The shell's exit ends it at once: a job it left behind may hold the channel open for long.
          ended = new Promise((done) => {
            opened.on('exit', (code: number | null, signal?: string) => done({ code, signal: signal ?? null }));
            opened.on('close', () => done({ code: null, signal: null }));
          });
        }),
      how,
    );
    return { input: channel, stdout: channel, stderr: channel.stderr, ended, close: () => channel.close() };
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
    if (error instanceof ChannelRefused) return refusedError(this.name, this.connection.server.user, error, { command, step });
    return error;
  }
}

/** The server refused every session (none was open to learn a limit from): MaxSessions 0, or a Match block for this user. */
function refusedError(server: string, user: string, error: Error, where: { command?: string; step?: string }): AttacheError {
  return new AttacheError(`the server refused a session for commands: ${error.message}`, {
    server,
    ...where,
    hint: `Check sshd_config on the server for "${user}": MaxSessions must be at least 1, and no "Match" block may deny sessions (DisableForwarding does not; ForceCommand internal-sftp does).`,
  });
}

/**
 * Opens a session channel running `command` (counted for the benchmark); `listen` attaches
 * listeners in ssh2's callback, before it can emit. A channel-open failure is ChannelRefused.
 */
function execChannel(connection: Connection, command: string, listen?: (channel: ClientChannel) => void): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    countChannel();
    connection.client.exec(command, (error, channel) => {
      if (error) return reject(refusedOr(error));
      listen?.(channel);
      resolve(channel);
    });
  });
}

/** ssh2's channel-open failure (it carries the server's reason code) as ChannelRefused; other errors as they are. */
function refusedOr(error: Error): Error {
  return (error as Error & { reason?: unknown }).reason !== undefined ? new ChannelRefused(error.message) : error;
}

interface Standby {
  channel: ClientChannel;
  /** False once its shell has ended or the channel closed (unused: a login shell that runs nothing, a connection that ended). */
  open(): boolean;
}
