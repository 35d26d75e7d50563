import type net from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { Client, ClientChannel, ConnectConfig, ServerHostKeyAlgorithm, SFTPWrapper, Stats } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { AttacheError } from '../errors';
import type { Logger } from '../log';
import { createLimit } from '../limit';
import { parseSocketAddress, type SocketAddress } from '../remote/address';
import { finishCommand, inDirectory, sendInput } from '../remote/command';
import { SHELL_COMMAND, ShellEnded, type ShellChannel } from './persistent-shell';
import { ShellPool } from './shell-pool';
import { STANDBY_COMMAND, standbyLine } from './standby-shell';
import { sh } from '../remote/quote';
import { fileType, type ExecOptions, type ExecResult, type FileStat, type Target } from '../remote/target';
import { planAuthentication, signKeysAtOnce } from './auth';
import { countChannel, countHandshake } from './counters';
import { PacedWrites, pacedInput } from './paced-input';
import { verifyHostKey, preferredHostKeyAlgorithms } from './host-key';
import { resolveServer, type ResolvedServer, type ServerSpec } from './resolve';
import { connectTcp } from './tcp';

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
/** SFTP write requests in flight for one file. */
const WRITES_IN_FLIGHT = 16;
const SFTP_NO_SUCH_FILE = 2;
/**
 * A server that stops answering is noticed within 30 s: a keepalive every 5 s once 5 s pass with
 * nothing received, given up after 4 unanswered ((4 + 1) × 5 = 25 s of silence, 26 s at most). Any byte
 * from the server counts as an answer (see heardCounts()), so a slow upload whose replies queue behind
 * its own writes, or a long silent composer run, is never cut: only the peer's silence counts.
 */
const KEEPALIVE_INTERVAL_MS = 5_000;
const KEEPALIVE_COUNT_MAX = 4;
export const SILENCE_LIMIT_MS = KEEPALIVE_INTERVAL_MS * (KEEPALIVE_COUNT_MAX + 1);

// The benchmark and a test read these: one handshake per server per deploy, and how many channels.
export { channelCount, handshakeCount } from './counters';

/**
 * One SSH connection to one server, carrying the SFTP channel and the persistent shells that run
 * every step's commands (shell-pool.ts). Host keys are verified against known_hosts, keys only, TCP_NODELAY on (ssh2
 * leaves Nagle's algorithm on, which costs ~40 ms per small sequential SFTP request).
 */
export class SshSession implements Target {
  readonly kind = 'ssh' as const;
  readonly name: string;
  private closed = false;
  /** Set when the connection ended without close(): the network failed or the server went away. */
  private lostBecause: Error | undefined;
  private readonly shells: ShellPool;

  /**
   * The SFTP channel opens beside the first shells once the server has accepted us: open() does not
   * wait for it (the first commands need no SFTP). Set when it is open; `sftpReady` for the requests made before.
   */
  private sftp?: SFTPWrapper;
  private sftpReady!: Promise<SFTPWrapper>;
  private waitingForSftp = 0;
  /**
   * The quickest answer so far, from a shell command or an SFTP request, in ms from sent to answered:
   * the round trip, or a little more (the server's work included); undefined before any answer.
   */
  private roundTripMs?: number;
  private readonly writes = new PacedWrites(() => this.roundTripMs);
  /** A channel opened with the connection, waiting for the first command with a streamed input (standby-shell.ts). */
  private standby?: Promise<Standby | undefined>;
  /** The standby once it is open, until it is taken. */
  private standbyWaiting?: Standby;

  private constructor(
    readonly server: ResolvedServer,
    private readonly sock: Duplex,
    private readonly client: Client,
    private readonly log: Logger,
    private readonly jump?: SshSession,
  ) {
    this.name = server.name;
    client.on('error', (error: Error) => (this.lostBecause ??= error));
    client.on('close', () => {
      if (!this.closed) this.lostBecause ??= new Error('the connection was closed');
      this.closed = true;
    });
    this.shells = new ShellPool({
      open: (commandLine) => this.openShellChannel(commandLine),
      size: SHELLS_PER_SESSION,
      startTimeoutMs: server.connectTimeoutMs,
      answered: (ms) => this.answered(ms),
    });
  }

  /** True once the connection has ended by itself (not by close()): an undo then needs a new one. */
  get isLost(): boolean {
    return this.lostBecause !== undefined;
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
      void options.early?.sock?.then((sock) => sock.destroy(), () => undefined);
      throw error;
    }
  }

  private static async connect(spec: ServerSpec, log: Logger, options: { warm?: boolean; early?: EarlyConnection }): Promise<SshSession> {
    const server = options.early?.server ?? resolveServer(spec);
    const auth = planAuthentication(server); // before connecting: a missing key or wrong passphrase fails here
    const jump = server.proxyJump ? await SshSession.open(jumpSpec(server), log).catch((error) => Promise.reject(viaJump(server, error))) : undefined;
    try {
      const sock = jump ? await jump.forward(server) : await (options.early?.sock ?? connectTcp(server));
      // ssh2-sftp-client prints connection events to the console by default; the session tracks them itself.
      const quiet = () => undefined;
      const sftpClient = new SftpClient(server.name, { error: quiet, end: quiet, close: quiet });
      const client = (sftpClient as unknown as { client: Client }).client;
      signKeysAtOnce(client);
      let lastError: (Error & { level?: string }) | undefined;
      client.on('error', (error: Error & { level?: string }) => (lastError = error));
      let hostKeyError: AttacheError | undefined;

      const config: ConnectConfig = {
        sock,
        username: server.user,
        authHandler: auth.methods,
        readyTimeout: server.connectTimeoutMs,
        keepaliveInterval: KEEPALIVE_INTERVAL_MS,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
        agent: server.forwardAgent ? server.agent : undefined,
        agentForward: server.forwardAgent && server.agent !== undefined,
        algorithms: { serverHostKey: preferredHostKeyAlgorithms(server) as ServerHostKeyAlgorithm[] },
        hostVerifier: (key: Buffer) => {
          hostKeyError = verifyHostKey(server, key);
          return hostKeyError === undefined;
        },
      };
      log.debug(`[${server.name}] connecting to ${server.user}@${server.hostname}:${server.port}${jump ? ` via ${jump.name}` : ''}`);
      const session = new SshSession(server, sock, client, log, jump);
      const accepted = new Promise<void>((resolve) => client.once('ready', () => resolve()));
      if (options.warm) void accepted.then(() => session.warmUp());
      countHandshake();
      const connected = sftpClient.connect(config as SftpClient.ConnectOptions);
      session.sftpReady = connected.then(
        () => {
          countChannel(); // the SFTP channel
          session.sftp = (sftpClient as unknown as { sftp: SFTPWrapper }).sftp;
          return session.sftp;
        },
        (error: unknown) => {
          // ssh2-sftp-client ends the connection then: every later failure says why.
          const failure = sftpFailure(server, error);
          session.lostBecause ??= failure;
          return Promise.reject(failure);
        },
      );
      session.sftpReady.catch(() => undefined); // told to whoever asks for a file operation
      try {
        // Authenticated is enough to go on; a connection that fails before that fails here.
        await Promise.race([accepted, connected]);
      } catch (error) {
        session.shells.close();
        sock.destroy();
        throw hostKeyError ?? connectionError(server, lastError ?? error, auth.described);
      }
      heardCounts(sock, client);
      return session;
    } catch (error) {
      await jump?.close();
      throw error;
    }
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const full = inDirectory(command, options.cwd);
    this.log.debug(`[${this.name}] $ ${full}`);
    // A streamed input (a release's tar) gets a channel of its own: the shell's framing needs its bytes up front.
    if (options.stdin !== undefined && !(typeof options.stdin === 'string' || Buffer.isBuffer(options.stdin))) return this.execOnChannel(full, options);
    // Binary input goes to a shell as octal escapes (up to four bytes a byte, which the shell parses twice): a large one takes the standby, raw, if it waits ready.
    if (Buffer.isBuffer(options.stdin) && options.stdin.length > RAW_INPUT && this.standbyWaiting?.open()) return this.execOnChannel(full, options);
    const stdin = options.stdin;
    return this.shells.run(full, stdin, (running) => finishCommand(this.name, full, running, options, this.log)).catch((error: unknown) => {
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
      this.client.exec(command, { pty: { term: pty.term, rows: pty.rows, cols: pty.cols } }, (error, channel) => (error ? reject(error) : resolve(channel)));
    });
  }

  /**
   * One command on a channel of its own (the standby opened with the connection, if it is still
   * there, else a new one), its input streamed with back-pressure, paced to the round trip (paced-input.ts).
   */
  private async execOnChannel(full: string, options: ExecOptions): Promise<ExecResult> {
    const standby = await this.takeStandby();
    return new Promise<ExecResult>((resolve, reject) => {
      const start = (error: Error | undefined, channel: ClientChannel) => {
        if (error) return reject(this.closed ? this.lost(error, { command: full, step: options.step }) : error);
        // Listen before this callback returns: ssh2 may emit a fast command's exit status in the
        // same tick, and a listener added after an await would miss it.
        let status = { code: null as number | null, signal: null as string | null };
        channel.on('exit', (code: number | null, signal?: string) => (status = { code, signal: signal ?? null }));
        const exited = new Promise<typeof status>((done) => channel.on('close', () => done(status)));
        const input = sendInput(options.stdin, pacedInput(channel, this.roundTripMs));
        finishCommand(this.name, full, { stdout: channel, stderr: channel.stderr, exited, input }, options, this.log).then(resolve, (failure) =>
          // A command cut off by a dead connection has no exit status: say what really happened.
          reject(this.closed ? this.lost(new Error('the command was cut off'), { command: full, step: options.step }) : failure),
        );
      };
      if (standby) {
        standby.write(standbyLine(full));
        start(undefined, standby);
      } else {
        countChannel();
        this.client.exec(full, start);
      }
    });
  }

  /** Opens the standby channel; undefined if the server will not give one (its MaxSessions). */
  private openStandby(): Promise<Standby | undefined> {
    return new Promise<Standby | undefined>((resolve) => {
      if (this.closed) return resolve(undefined);
      countChannel();
      this.client.exec(STANDBY_COMMAND, (error, channel) => {
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
    return taken?.open() && !this.closed ? taken.channel : undefined;
  }

  async lstat(path: string): Promise<FileStat | null> {
    return toStat(await this.call<Stats>((sftp, cb) => sftp.lstat(path, cb), path, true));
  }

  async stat(path: string): Promise<FileStat | null> {
    return toStat(await this.call<Stats>((sftp, cb) => sftp.stat(path, cb), path, true));
  }

  readlink(path: string): Promise<string | null> {
    return this.call<string>((sftp, cb) => sftp.readlink(path, cb), path, true);
  }

  async mkdir(path: string): Promise<void> {
    try {
      await this.call<void>((sftp, cb) => sftp.mkdir(path, cb), path);
    } catch (error) {
      // SFTP has no EEXIST: any failure on an existing directory is success.
      if ((await this.stat(path))?.type === 'directory') return;
      throw error;
    }
  }

  /**
   * Opens, writes with requests pipelined at their offsets, sets the mode (umask applies on open),
   * closes and, with `moveTo`, renames: the last three go out together (sftp-server carries them
   * out in order), one round trip. A mode that could not be set still fails the write, though the
   * rename has gone (an fchmod of a file we just created and hold open fails only if the server does).
   */
  async writeFile(path: string, contents: Buffer | Readable, mode?: number, moveTo?: string): Promise<number> {
    const handle = await this.call<Buffer>((sftp, cb) => sftp.open(path, 'w', mode === undefined ? {} : { mode }, cb), path);
    const close = () => this.call<void>((sftp, cb) => sftp.close(handle, cb), path).catch(() => undefined);
    let written: number;
    try {
      written = Buffer.isBuffer(contents) ? await this.writeBuffer(handle, contents, path) : await this.writeStream(handle, contents, path);
    } catch (error) {
      await close();
      throw error;
    }
    const chmod = mode === undefined ? undefined : this.call<void>((sftp, cb) => sftp.fchmod(handle, mode & 0o7777, cb), path);
    const closed = close();
    const moved = moveTo === undefined ? undefined : this.rename(path, moveTo);
    try {
      await chmod;
      await moved;
    } finally {
      await closed;
      await moved?.catch(() => undefined);
    }
    return written;
  }

  async readFile(path: string): Promise<Buffer> {
    const sftp = await this.sftpReady;
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = sftp.createReadStream(path);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error: Error) => reject(this.sftpError(error, path)));
      stream.on('close', () => resolve());
    });
    return Buffer.concat(chunks);
  }

  /** posix-rename@openssh.com replaces the destination atomically; plain SFTP rename refuses to. */
  async rename(from: string, to: string): Promise<void> {
    await this.call<void>((sftp, cb) => sftp.ext_openssh_rename(from, to, cb), `${from} -> ${to}`).catch(async (error) => {
      if (!/extension|not supported/i.test(String(error))) throw error;
      await this.exec(sh`mv -f -T -- ${from} ${to}`);
    });
  }

  symlink(target: string, path: string): Promise<void> {
    return this.call<void>((sftp, cb) => sftp.symlink(target, path, cb), path);
  }

  /** hardlink@openssh.com: one SFTP request, no shell. */
  link(existing: string, path: string): Promise<void> {
    return this.call<void>((sftp, cb) => sftp.ext_openssh_hardlink(existing, path, cb), path);
  }

  unlink(path: string): Promise<void> {
    return this.call<void>((sftp, cb) => sftp.unlink(path, cb), path);
  }

  /**
   * Says goodbye (EOF to the shells, SSH's disconnect) and lets go of the socket once that is
   * written, without waiting a round trip or more for the server to close its side: every command
   * has answered by now, so nothing more is to be heard.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.shells.close();
      this.sock.once('finish', () => this.sock.destroy());
      this.client.end();
    }
    await this.jump?.close();
  }

  /** A channel to host:port through this connection (ProxyJump). */
  forward(server: ResolvedServer): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, server.hostname, server.port, (error, channel) => {
        if (error) {
          reject(new AttacheError(`jump host ${this.name} could not reach ${server.hostname}:${server.port}: ${error.message}`, {
            server: server.name,
            hint: `Check that ${this.name} can connect to ${server.hostname}:${server.port} and allows TCP forwarding.`,
          }));
        } else resolve(channel as unknown as Duplex);
      });
    });
  }

  /** One channel running `exec /bin/sh` (or a preloaded shell's command line) for the shell pool; listeners attached before ssh2 can emit. */
  private openShellChannel(commandLine = SHELL_COMMAND): Promise<ShellChannel> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('connection closed'));
      countChannel();
      this.client.exec(commandLine, (error, channel) => {
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
    if (this.closed) return this.lost(new Error('the command was cut off'), { command, step });
    if (error instanceof ShellEnded && error.atStart) {
      return new AttacheError(error.message, {
        server: this.name,
        command,
        step,
        hint: `Commands run in /bin/sh, started by the login shell of "${this.server.user}" (${SHELL_COMMAND}): check that shell in /etc/passwd, that its rc files do not wait for input, and that no ForceCommand applies.`,
      });
    }
    if (error instanceof ShellEnded) return this.lost(new Error(error.message), { command, step });
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

  private async writeBuffer(handle: Buffer, data: Buffer, path: string): Promise<number> {
    const chunk = this.maxWrite();
    const offsets: number[] = [];
    for (let offset = 0; offset < data.length; offset += chunk) offsets.push(offset);
    const limit = createLimit(WRITES_IN_FLIGHT);
    await Promise.all(
      offsets.map((offset) =>
        limit(async () => {
          const length = Math.min(chunk, data.length - offset);
          await this.writes.take(length);
          try {
            await this.call<void>((sftp, cb) => sftp.write(handle, data, offset, length, offset, cb), path);
          } finally {
            this.writes.give(length);
          }
        }),
      ),
    );
    return data.length;
  }

  /** Streams with a bounded number of writes in flight, pausing the source: memory stays flat for any size. */
  private writeStream(handle: Buffer, source: Readable, path: string): Promise<number> {
    const chunkSize = this.maxWrite();
    if (source.readableEnded || source.destroyed) {
      return Promise.reject(new AttacheError('the file\'s contents were already read by someone else', { server: this.name, remotePath: path }));
    }
    return new Promise((resolve, reject) => {
      let position = 0;
      let inFlight = 0;
      let ended = false;
      let failed = false;
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        source.destroy();
        reject(error);
      };
      const maybeDone = () => {
        if (ended && inFlight === 0 && !failed) resolve(position);
      };
      source.on('data', (data: Buffer | string) => {
        const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data);
        for (let offset = 0; offset < buffer.length; offset += chunkSize) {
          const piece = buffer.subarray(offset, offset + chunkSize);
          const at = position;
          position += piece.length;
          inFlight++;
          // Each write waits for its share of the session's bytes in flight (paced-input.ts); they are handed out in order.
          void this.writes.take(piece.length).then(() => {
            if (failed || this.closed) {
              this.writes.give(piece.length);
              return fail(this.lost(new Error('connection closed'), { remotePath: path }));
            }
            (this.sftp as SFTPWrapper).write(handle, piece, 0, piece.length, at, (error) => {
              this.writes.give(piece.length);
              inFlight--;
              if (error) return fail(this.sftpError(error, path));
              if (inFlight < WRITES_IN_FLIGHT) source.resume();
              maybeDone();
            });
          });
        }
        if (inFlight >= WRITES_IN_FLIGHT) source.pause();
      });
      source.on('end', () => {
        ended = true;
        maybeDone();
      });
      source.on('error', fail);
      // Destroyed without an end (a pipe torn down): the file is incomplete, so fail rather than wait forever.
      source.on('close', () => ended || fail(new AttacheError('the file\'s contents ended early (stream closed)', { server: this.name, remotePath: path })));
    });
  }

  private answered(ms: number): void {
    this.roundTripMs = Math.min(this.roundTripMs ?? Infinity, ms);
  }

  private maxWrite(): number {
    return (this.sftp as unknown as { _maxWriteLen?: number })._maxWriteLen ?? 32 * 1024;
  }

  /**
   * Promisifies one SFTP request; with `missingIsNull`, "no such file" resolves null. Requests are
   * sent in call order (the Target contract), also those made while the SFTP channel still opens.
   */
  private call<T>(request: (sftp: SFTPWrapper, cb: (error: Error | null | undefined, value?: T) => void) => void, path: string, missingIsNull: true): Promise<T | null>;
  private call<T>(request: (sftp: SFTPWrapper, cb: (error: Error | null | undefined, value?: T) => void) => void, path: string): Promise<T>;
  private call<T>(request: (sftp: SFTPWrapper, cb: (error: Error | null | undefined, value?: T) => void) => void, path: string, missingIsNull = false): Promise<T | null> {
    return new Promise((resolve, reject) => {
      const send = (sftp: SFTPWrapper) => {
        if (this.closed) return reject(this.lost(new Error('connection closed'), { remotePath: path }));
        const sent = performance.now();
        request(sftp, (error, value) => {
          this.answered(performance.now() - sent);
          if (!error) return resolve(value as T);
          if (missingIsNull && (error as Error & { code?: number }).code === SFTP_NO_SUCH_FILE) return resolve(null);
          reject(this.sftpError(error, path));
        });
      };
      if (this.sftp && this.waitingForSftp === 0) return send(this.sftp);
      this.waitingForSftp++;
      this.sftpReady.then(
        (sftp) => {
          this.waitingForSftp--;
          send(sftp);
        },
        (error: unknown) => {
          this.waitingForSftp--;
          reject(error);
        },
      );
    });
  }

  private sftpError(error: Error, path: string): AttacheError {
    if (this.closed) return this.lost(error, { remotePath: path });
    return new AttacheError(`SFTP: ${error.message}`, { server: this.name, remotePath: path }, { cause: error });
  }

  private lost(error: Error, where: { remotePath?: string; command?: string; step?: string }): AttacheError {
    const why = this.lostBecause ?? error;
    const stopped = /keepalive timeout/i.test(why.message);
    const reason = stopped ? `the server stopped answering: nothing received for ${SILENCE_LIMIT_MS / 1000} s` : why.message;
    return new AttacheError(`connection to ${this.server.hostname}:${this.server.port} was lost (${reason})`, {
      server: this.name,
      ...where,
      hint: 'Check that the server is reachable. A deploy cut off this way undoes itself over a new connection; if it could not, it names what was left and the command that clears it.',
    });
  }

  /** A stream to a socket on the server (php-fpm's), through this connection: stream-local for a path, TCP for host:port. */
  connectTo(address: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const done = (error: Error | undefined, channel: unknown) => {
        if (error) {
          reject(new AttacheError(`could not reach ${address} through the SSH connection: ${error.message}`, {
            server: this.name,
            hint: `Check that ${address} exists on the server and that sshd allows forwarding (AllowStreamLocalForwarding / AllowTcpForwarding).`,
          }));
        } else resolve(channel as Duplex);
      };
      let socket: SocketAddress;
      try {
        socket = parseSocketAddress(address);
      } catch {
        return done(new Error('it is neither a socket path nor host:port'), undefined);
      }
      if ('path' in socket) this.client.openssh_forwardOutStreamLocal(socket.path, done);
      else this.client.forwardOut('127.0.0.1', 0, socket.host, socket.port, done);
    });
  }
}

/** The server refused to open a channel for a shell. */
class ChannelRefused extends Error {}

/** What open-target.ts did before ssh2 loaded: the server resolved, and its TCP connection started (none through a jump host). */
export interface EarlyConnection {
  server: ResolvedServer;
  sock?: Promise<net.Socket>;
}

/** A session for a task, with its first shell already starting (a jump host's session gets none). */
export function openSession(spec: ServerSpec, log: Logger, early?: EarlyConnection): Promise<SshSession> {
  return SshSession.open(spec, log, { warm: true, early });
}

interface Standby {
  channel: ClientChannel;
  /** False once its shell has ended or the channel closed (unused: a login shell that runs nothing, a connection that ended). */
  open(): boolean;
}

/** A jump host's failure, told as the failure of the server it leads to. */
function viaJump(server: ResolvedServer, error: unknown): AttacheError {
  const inner = error instanceof AttacheError ? error : undefined;
  const what = inner?.what ?? (error as Error).message;
  return new AttacheError(`could not reach it through the jump host ${server.proxyJump}: ${what}`, { ...inner?.context, server: server.name }, { cause: error });
}

function jumpSpec(server: ResolvedServer): ServerSpec {
  // A chain "a,b" reaches b through a: the last hop is ours, the rest is its own ProxyJump.
  const hops = (server.proxyJump ?? '').split(',').map((h) => h.trim());
  const last = hops.pop() as string;
  const base = /[@:]/.test(last) ? { ...parseHop(last) } : { host: last };
  return {
    ...base,
    acceptNewHostKeys: server.acceptNewHostKeys,
    knownHostsFile: server.knownHostsFile,
    sshConfigFile: server.sshConfigFile,
    proxyJump: hops.length ? hops.join(',') : undefined,
  };
}

function parseHop(hop: string): { host: string; user?: string; port?: number } {
  const match = /^(?:([^@]+)@)?([^:]+)(?::(\d+))?$/.exec(hop);
  if (!match) return { host: hop };
  return { user: match[1], host: match[2], port: match[3] ? Number(match[3]) : undefined };
}

/**
 * ssh2 restarts its keepalive count only when a keepalive is answered, so on a link busy with our
 * own writes an answer can queue for longer than the limit and a healthy upload would be cut. Any
 * data from the server proves it is there: restart the count then too (at most once a second).
 */
function heardCounts(sock: Duplex, client: Client): void {
  const reset = (client as unknown as { _resetKA?: () => void })._resetKA;
  if (typeof reset !== 'function') return;
  let last = 0;
  sock.on('data', () => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    reset.call(client);
  });
}

/** The SFTP channel would not open (the server offers no sftp subsystem, or refused the channel). */
function sftpFailure(server: ResolvedServer, error: unknown): AttacheError {
  return new AttacheError(`could not open the SFTP channel: ${(error as Error)?.message ?? String(error)}`, {
    server: server.name,
    hint: 'The server must offer SFTP (a "Subsystem sftp" line in sshd_config, as OpenSSH has by default).',
  }, { cause: error });
}

function connectionError(server: ResolvedServer, error: unknown, tried: string[]): AttacheError {
  const err = error as Error & { level?: string };
  const message = err?.message ?? String(error);
  if (err?.level === 'client-authentication' || /authentication methods failed/i.test(message)) {
    return new AttacheError(`authentication as "${server.user}" was rejected`, {
      server: server.name,
      hint: `Tried: ${tried.join(', ')}. Add your public key to ~${server.user}/.ssh/authorized_keys on the server, or check User.`,
    });
  }
  if (/timed out/i.test(message)) {
    return new AttacheError(`the SSH handshake with ${server.hostname}:${server.port} timed out`, {
      server: server.name,
      hint: 'Is this an SSH server? Check the port, or raise ConnectTimeout.',
    });
  }
  return new AttacheError(`SSH connection to ${server.hostname}:${server.port} failed: ${message}`, { server: server.name }, { cause: error });
}

function toStat(stats: Stats | null): FileStat | null {
  if (!stats) return null;
  return { type: fileType(stats.mode), size: stats.size, mode: stats.mode & 0o7777, mtimeMs: stats.mtime * 1000 };
}
