import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client, ConnectConfig, ServerHostKeyAlgorithm, SFTPWrapper } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { AttacheError } from '../errors';
import type { Logger } from '../log';
import { signKeysAtOnce, type AuthPlan } from './auth';
import { countChannel, countHandshake } from './counters';
import { verifyHostKey, preferredHostKeyAlgorithms } from './host-key';
import { keyTypeOf } from './known-hosts';
import type { ResolvedServer } from './resolve';
import { clientOf, keepaliveRestart } from './ssh2-internals';

/**
 * A server that stops answering is noticed within 30 s: a keepalive every 5 s once 5 s pass with
 * nothing received, given up after 4 unanswered ((4 + 1) × 5 = 25 s of silence, 26 s at most). Any byte
 * from the server counts as an answer (see heardCounts()), so a slow upload whose replies queue behind
 * its own writes, or a long silent composer run, is never cut: only the peer's silence counts.
 */
const KEEPALIVE_INTERVAL_MS = 5_000;
const KEEPALIVE_COUNT_MAX = 4;
export const SILENCE_LIMIT_MS = KEEPALIVE_INTERVAL_MS * (KEEPALIVE_COUNT_MAX + 1);

/** What open-target.ts did before ssh2 loaded: the server resolved, and its TCP connection started (none through a jump host). */
export interface EarlyConnection {
  server: ResolvedServer;
  sock?: Promise<net.Socket>;
}

/** The session a connection goes through (ProxyJump): closed after it. */
export interface Jump {
  readonly name: string;
  close(): Promise<void>;
}

/**
 * One SSH connection's state, shared by its channels and its SFTP requests: whether it is closed
 * or was lost (and why), and the quickest answer heard on it so far.
 */
export class Connection {
  closed = false;
  /** Set when the connection ended without close(): the network failed or the server went away. */
  lostBecause: Error | undefined;
  /**
   * The quickest answer so far, from a shell command or an SFTP request, in ms from sent to answered:
   * the round trip, or a little more (the server's work included); undefined before any answer.
   */
  roundTripMs?: number;
  /** The host key the server presented and known_hosts vouched for: "<type> <base64>". */
  hostKey?: string;

  constructor(
    readonly server: ResolvedServer,
    readonly sock: Duplex,
    readonly client: Client,
    readonly jump?: Jump,
  ) {
    client.on('error', (error: Error) => (this.lostBecause ??= error));
    client.on('close', () => {
      if (!this.closed) this.lostBecause ??= new Error('the connection was closed');
      this.closed = true;
    });
  }

  get name(): string {
    return this.server.name;
  }

  /** True once the connection has ended by itself (not by close()): an undo then needs a new one. */
  get isLost(): boolean {
    return this.lostBecause !== undefined;
  }

  answered(ms: number): void {
    this.roundTripMs = Math.min(this.roundTripMs ?? Infinity, ms);
  }

  /** A failure on a connection that is gone, told as the connection's loss and its cause. */
  lost(error: Error, where: { remotePath?: string; command?: string; step?: string }): AttacheError {
    const why = this.lostBecause ?? error;
    const stopped = /keepalive timeout/i.test(why.message);
    const reason = stopped ? `the server stopped answering: nothing received for ${SILENCE_LIMIT_MS / 1000} s` : why.message;
    return new AttacheError(`connection to ${this.server.hostname}:${this.server.port} was lost (${reason})`, {
      server: this.name,
      ...where,
      hint: 'Check that the server is reachable. A deploy cut off this way undoes itself over a new connection; if it could not, it names what was left and the command that clears it.',
    });
  }

  /**
   * Says goodbye (`goodbye`, then SSH's disconnect) and lets go of the socket once that is written,
   * without waiting a round trip or more for the server to close its side; then closes the jump host's.
   */
  async close(goodbye: () => void): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      goodbye();
      this.sock.once('finish', () => this.sock.destroy());
      this.client.end();
    }
    await this.jump?.close();
  }
}

/** A handshake under way, from startHandshake(). */
export interface Handshake {
  connection: Connection;
  /** Resolves when the server has accepted us (authenticated). */
  accepted: Promise<void>;
  /** The SFTP channel, opened once the server has accepted us; rejects with why it would not open. */
  sftp: Promise<SFTPWrapper>;
  /** Resolves once authenticated; rejects with the failure as the user should read it. */
  authenticated: Promise<void>;
}

/**
 * Starts the SSH handshake on `sock`: host key checked against known_hosts, keys only, keepalives
 * on, and the SFTP channel asked for as soon as the server has accepted us. Throws, before the
 * server is heard, when ssh2 is not as expected (ssh2-internals.ts): the caller destroys `sock`.
 */
export function startHandshake(
  server: ResolvedServer,
  sock: Duplex,
  auth: AuthPlan,
  log: Logger,
  jump?: Jump,
  /** False for a connection that carries commands only (the second one, where the server allows one session): no SFTP channel. */
  files = true,
): Handshake {
  // ssh2-sftp-client prints connection events to the console by default; the session tracks them itself.
  const quiet = () => undefined;
  const sftpClient = new SftpClient(server.name, { error: quiet, end: quiet, close: quiet });
  const client = clientOf(sftpClient);
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
      if (hostKeyError === undefined) connection.hostKey = `${keyTypeOf(key)} ${key.toString('base64')}`;
      return hostKeyError === undefined;
    },
  };
  log.debug(`[${server.name}] connecting to ${server.user}@${server.hostname}:${server.port}${jump ? ` via ${jump.name}` : ''}`);
  const connection = new Connection(server, sock, client, jump);
  const accepted = new Promise<void>((resolve) => client.once('ready', () => resolve()));
  countHandshake();
  const connected = files ? sftpClient.connect(config as SftpClient.ConnectOptions) : connectOnly(client, config);
  const sftp = (files ? (connected as Promise<SFTPWrapper>) : Promise.reject(new Error('no SFTP on this connection'))).then(
    (opened) => {
      countChannel(); // the SFTP channel
      return opened;
    },
    (error: unknown) => {
      // ssh2-sftp-client ends the connection then: every later failure says why.
      const failure = sftpFailure(server, error);
      connection.lostBecause ??= failure;
      return Promise.reject(failure);
    },
  );
  sftp.catch(() => undefined); // told to whoever asks for a file operation
  const restartKeepalive = keepaliveRestart(client); // set by connect(): checked before the server is heard
  // Authenticated is enough to go on; a connection that fails before that fails here.
  const authenticated = Promise.race([accepted, connected]).then(
    () => heardCounts(sock, restartKeepalive),
    (error: unknown) => Promise.reject(hostKeyError ?? connectionError(server, lastError ?? error, auth.described)),
  );
  return { connection, accepted, sftp, authenticated };
}

/** Connects without opening SFTP: resolves once authenticated, rejects with why it failed. */
function connectOnly(client: Client, config: ConnectConfig): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('the connection was closed')));
    client.connect(config);
  });
}

/**
 * ssh2 restarts its keepalive count only when a keepalive is answered, so on a link busy with our
 * own writes an answer can queue for longer than the limit and a healthy upload would be cut. Any
 * data from the server proves it is there: restart the count then too (at most once a second).
 */
function heardCounts(sock: Duplex, restartKeepalive: () => void): void {
  let last = 0;
  sock.on('data', () => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    restartKeepalive();
  });
}

/** The SFTP channel would not open (the server offers no sftp subsystem, or refused the channel). */
function sftpFailure(server: ResolvedServer, error: unknown): AttacheError {
  return new AttacheError(
    `could not open the SFTP channel: ${(error as Error)?.message ?? String(error)}`,
    {
      server: server.name,
      hint: 'The server must offer SFTP (a "Subsystem sftp" line in sshd_config, as OpenSSH has by default).',
    },
    { cause: error },
  );
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
  return new AttacheError(
    `SSH connection to ${server.hostname}:${server.port} failed: ${message}`,
    { server: server.name },
    { cause: error },
  );
}
