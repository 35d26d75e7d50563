import type { Duplex, Readable } from 'node:stream';
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import type { Logger } from '../log';
import type { ExecOptions, ExecResult, FileStat, Target } from '../remote/target';
import { type AuthPlan, planAuthentication } from './auth';
import { Channels } from './channels';
import { type Connection, startHandshake, type EarlyConnection, type Handshake } from './connect';
import { connectTo, forward, jumpSpec, viaJump } from './forward';
import { knownHostsSources } from './host-key';
import { resolveServer, type ResolvedServer, type ServerSpec } from './resolve';
import { SftpFiles } from './sftp';
import { connectTcp } from './tcp';

export { SILENCE_LIMIT_MS, type EarlyConnection } from './connect';
// The benchmark and a test read these: one handshake per server per deploy, and how many channels.
export { channelCount, handshakeCount } from './counters';

/**
 * One SSH connection to one server (connect.ts), carrying the persistent shells that run every
 * step's commands and a channel for each streamed input (channels.ts), and the SFTP channel for
 * files (sftp.ts). Host keys are verified against known_hosts, keys only, TCP_NODELAY on (ssh2
 * leaves Nagle's algorithm on, which costs ~40 ms per small sequential SFTP request).
 */
export class SshSession implements Target {
  readonly kind = 'ssh' as const;
  readonly name: string;
  readonly server: ResolvedServer;
  private readonly channels: Channels;
  private readonly files: SftpFiles;

  /** Set once commands moved to a connection of their own (a server that allows one session). */
  private second?: Connection;

  private constructor(
    private readonly connection: Connection,
    sftp: Promise<SFTPWrapper>,
    log: Logger,
    another: () => Promise<Connection>,
  ) {
    this.server = connection.server;
    this.name = connection.name;
    this.channels = new Channels(connection, log, () => another().then((second) => (this.second = second)));
    this.files = new SftpFiles(connection, sftp, (command) => this.exec(command));
  }

  get hostKey(): string | undefined {
    return this.connection.hostKey;
  }

  get user(): string {
    return this.server.user;
  }

  /** True once a connection has ended by itself (not by close()): an undo then needs a new one. */
  get isLost(): boolean {
    return this.connection.isLost || this.second?.isLost === true;
  }

  /**
   * Connects and opens the SFTP channel. With `warm`, the first persistent shell starts as soon as
   * the server has accepted us, beside the SFTP channel (not after it): the first command finds it ready.
   */
  static async open(spec: ServerSpec, log: Logger, options: { warm?: boolean; early?: EarlyConnection } = {}): Promise<SshSession> {
    try {
      return await SshSession.connect(spec, log, options);
    } catch (error) {
      // A connection opened early (open-target.ts) is closed whatever failed first, or gulp would not exit.
      void options.early?.sock?.then(
        (sock) => sock.destroy(),
        () => undefined,
      );
      throw error;
    }
  }

  private static async connect(spec: ServerSpec, log: Logger, options: { warm?: boolean; early?: EarlyConnection }): Promise<SshSession> {
    const server = options.early?.server ?? resolveServer(spec);
    const auth = planAuthentication(server); // before connecting: a missing key or wrong passphrase fails here
    for (const warning of auth.warnings) log.warn(`[${server.name}] ${warning}`);
    knownHostsSources(server); // before connecting too: a knownHostsEnv that names an unset variable
    const jump = server.proxyJump
      ? await SshSession.open(jumpSpec(server), log).catch((error) => Promise.reject(viaJump(server, error)))
      : undefined;
    try {
      const sock = jump ? await jump.forward(server) : await (options.early?.sock ?? connectTcp(server));
      let handshake: Handshake;
      try {
        handshake = startHandshake(server, sock, auth, log, jump);
      } catch (error) {
        sock.destroy(); // ssh2 is not as expected (ssh2-internals.ts): nothing else holds the socket
        throw error;
      }
      const another = () => SshSession.commandsOnly(server, auth, log, jump);
      const session = new SshSession(handshake.connection, handshake.sftp, log, another);
      // Counted from the start among the connection's sessions, before the shells ask for theirs.
      void handshake.accepted.then(() => session.channels.holdFiles(handshake.sftp));
      if (options.warm) void handshake.accepted.then(() => session.warmUp());
      try {
        await handshake.authenticated;
      } catch (error) {
        session.channels.close();
        sock.destroy();
        throw error;
      }
      return session;
    } catch (error) {
      await jump?.close();
      throw error;
    }
  }

  /** A second connection to the server, for commands only (no SFTP): where the server allows one session per connection. */
  private static async commandsOnly(
    server: ResolvedServer,
    auth: AuthPlan,
    log: Logger,
    jump: SshSession | undefined,
  ): Promise<Connection> {
    const sock = jump ? await jump.forward(server) : await connectTcp(server);
    const handshake = startHandshake(server, sock, auth, log, undefined, false);
    try {
      await handshake.authenticated;
    } catch (error) {
      sock.destroy();
      throw error;
    }
    return handshake.connection;
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return this.channels.exec(command, options);
  }

  /** Starts the persistent shells and the standby in the background (channels.ts warmUp()). */
  warmUp(): void {
    this.channels.warmUp();
  }

  /** A command on a pseudo-terminal, for a person at a keyboard (the ssh task). */
  interactive(command: string, pty: { term: string; rows: number; cols: number }): Promise<ClientChannel> {
    return this.channels.interactive(command, pty);
  }

  lstat(path: string): Promise<FileStat | null> {
    return this.files.lstat(path);
  }

  stat(path: string): Promise<FileStat | null> {
    return this.files.stat(path);
  }

  readlink(path: string): Promise<string | null> {
    return this.files.readlink(path);
  }

  mkdir(path: string): Promise<void> {
    return this.files.mkdir(path);
  }

  writeFile(path: string, contents: Buffer | Readable, mode?: number, moveTo?: string): Promise<number> {
    return this.files.writeFile(path, contents, mode, moveTo);
  }

  readFile(path: string): Promise<Buffer> {
    return this.files.readFile(path);
  }

  rename(from: string, to: string): Promise<void> {
    return this.files.rename(from, to);
  }

  symlink(target: string, path: string): Promise<void> {
    return this.files.symlink(target, path);
  }

  link(existing: string, path: string): Promise<void> {
    return this.files.link(existing, path);
  }

  unlink(path: string): Promise<void> {
    return this.files.unlink(path);
  }

  /**
   * Says goodbye (EOF to the shells, SSH's disconnect) and lets go of the socket once that is
   * written, without waiting a round trip or more for the server to close its side: every command
   * has answered by now, so nothing more is to be heard.
   */
  async close(): Promise<void> {
    const second = this.second;
    await this.connection.close(() => this.channels.close());
    await second?.close(() => undefined);
  }

  /** A channel to host:port through this connection (ProxyJump). */
  forward(server: ResolvedServer): Promise<Duplex> {
    return forward(this.connection, server);
  }

  /** A stream to a socket on the server (php-fpm's), through this connection. */
  connectTo(address: string): Promise<Duplex> {
    return connectTo(this.connection, address);
  }
}

/** A session for a task, with its first shell already starting (a jump host's session gets none). */
export function openSession(spec: ServerSpec, log: Logger, early?: EarlyConnection): Promise<SshSession> {
  return SshSession.open(spec, log, { warm: true, early });
}
