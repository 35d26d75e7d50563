import type { Client, ClientChannel, ParsedKey, SFTPWrapper } from 'ssh2';
import { AttacheError } from '../errors';

/**
 * Every use of what ssh2 keeps private (and the ssh2 client ssh2-sftp-client holds), in one place,
 * each checked where it is first used, on the first connection. A shape the session cannot do
 * without fails with the installed version and the one to install; one the session only goes
 * faster with degrades to what ssh2 does by itself. package.json pins ssh2 to the minor version
 * tested, so a changed shape means an override, a patched copy, or a new pin not yet tested.
 */

/** The minor versions these accesses were written and tested against. */
const TESTED = { ssh2: '1.17', 'ssh2-sftp-client': '12.1' } as const;

/** The ssh2 client inside ssh2-sftp-client: it creates and connects it, the session uses it for everything else. */
export function clientOf(sftpClient: object): Client {
  const client = (sftpClient as { client?: unknown }).client;
  // No degraded mode: without the client there are no shells, no host key check, no keepalive.
  if (typeof (client as Client | undefined)?.connect !== 'function' || typeof (client as Client).exec !== 'function') {
    throw changed('ssh2-sftp-client', 'its client property should be the ssh2 Client it connects', client);
  }
  return client as Client;
}

/**
 * ssh2's keepalive restart (Client._resetKA, set by connect()), for heardCounts() in connect.ts to
 * call whenever the server is heard. No degraded mode: without it a healthy upload that keeps the
 * link busy is cut after 25 s as a silent server, a failed deploy; better to refuse before starting.
 */
export function keepaliveRestart(client: Client): () => void {
  const reset = (client as unknown as { _resetKA?: unknown })._resetKA;
  if (typeof reset !== 'function') throw changed('ssh2', 'Client._resetKA should be a function once connect() is called', reset);
  return () => reset.call(client);
}

type Sign = (data: Buffer, done: (signature: Buffer) => void) => void;
export type AuthPK = (this: unknown, username: string, key: ParsedKey, keyAlgo?: string, sign?: Sign) => void;

/**
 * Replaces the authPK of ssh2's protocol object (Client._protocol, set by connect()) with what
 * `wrap` makes of it. Degrades (false, nothing replaced): ssh2 then asks the server whether it
 * takes a key before signing, as it does by itself: one round trip more, nothing else lost.
 */
export function replaceAuthPK(client: Client, wrap: (authPK: AuthPK) => AuthPK): boolean {
  const protocol = (client as unknown as { _protocol?: { authPK?: AuthPK } })._protocol;
  const authPK = protocol?.authPK;
  if (!protocol || typeof authPK !== 'function') return false;
  protocol.authPK = wrap(authPK);
  return true;
}

/** ssh2's view of the server's window for a channel: lowered as it sends, raised on each adjust. */
interface ChannelWindow {
  window: number;
}

function outgoingOf(channel: ClientChannel): ChannelWindow | undefined {
  const outgoing = (channel as unknown as { outgoing?: ChannelWindow }).outgoing;
  const descriptor = outgoing && Object.getOwnPropertyDescriptor(outgoing, 'window');
  if (!outgoing || typeof outgoing.window !== 'number' || !descriptor?.configurable || !descriptor.writable) return undefined;
  return outgoing;
}

/**
 * The window ssh2 keeps for a channel (Channel.outgoing.window), when it is a plain number property
 * that watchChannelWindow() can watch. Degrades (undefined): paced-input.ts then sends the input
 * unpaced, as ssh2 does by itself; only sshd's buffer growth on a near link is paid.
 */
export function channelWindow(channel: ClientChannel): number | undefined {
  return outgoingOf(channel)?.window;
}

/** Tells `changed` each value ssh2 gives the channel's window from now on; for a channel whose channelWindow() is known. */
export function watchChannelWindow(channel: ClientChannel, changed: (window: number) => void): void {
  const outgoing = outgoingOf(channel) as ChannelWindow;
  let window = outgoing.window;
  Object.defineProperty(outgoing, 'window', {
    configurable: true,
    enumerable: true,
    get: () => window,
    set(value: number) {
      window = value;
      changed(value);
    },
  });
}

/** What every SFTP server takes in one write (the SFTP draft's least packet is 34000 bytes). */
const SAFE_WRITE = 32 * 1024;

/**
 * The largest write the server takes (SFTPWrapper._maxWriteLen, raised by OpenSSH's limits@openssh.com).
 * Degrades to 32 KiB, which every server takes: more requests per file, nothing else lost.
 */
export function maxWriteLength(sftp: SFTPWrapper): number {
  const length = (sftp as unknown as { _maxWriteLen?: unknown })._maxWriteLen;
  return typeof length === 'number' && length > 0 ? length : SAFE_WRITE;
}

/** A library's private shape is not what gulp-attache was written against: which, what, and the fix. */
function changed(library: keyof typeof TESTED, expected: string, found: unknown): AttacheError {
  const tested = TESTED[library];
  return new AttacheError(
    `installed ${library} ${installedVersion(library)} differs from what gulp-attache expects: ${expected}, found ${describe(found)}`,
    {
      hint: `Install ${library} ${tested}.x, the version gulp-attache was tested with (npm install ${library}@~${tested}.0), or remove what overrides it.`,
    },
  );
}

/** The installed version of `library`, from its package.json (the copy this module loads). */
export function installedVersion(library: keyof typeof TESTED): string {
  try {
    return String((require(`${library}/package.json`) as { version?: unknown }).version ?? 'of an unknown version');
  } catch {
    return 'of an unknown version';
  }
}

function describe(value: unknown): string {
  if (value === undefined || value === null) return 'none';
  return typeof value === 'function' ? 'a function' : `a ${typeof value}`;
}
