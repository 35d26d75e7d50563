import { quote, raw, sh } from './quote';

/**
 * The fan-out's shell commands, as pure functions (files/fanout.ts runs them): the seed keeps a
 * release's bytes as one tar in a private directory, each receiving server makes a one-time key
 * pair there, the seed's deploy user lets exactly that key read exactly that file, and the
 * receiver pulls it with its own OpenSSH client. Nothing here runs anything.
 */

/** The name the receiver's known_hosts gives the seed, whatever its address: one line, no `[host]:port` forms. */
export const SEED_ALIAS = 'attache-seed';
/** Inside the fan-out directory: the seed's tar, the receiver's key pair and known_hosts. */
export const SEED_ARCHIVE = 'bytes.tar';
const KEY = 'key';
/** How every line of ours starts: what the removal also checks, besides the deploy's comment. */
const LINE_START = 'restrict,command="cat -- ';
const KNOWN_HOSTS = 'known_hosts';

export interface SeedEndpoint {
  /** The seed's peerAddress. */
  host: string;
  port: number;
  /** The seed's deploy user, whose authorized_keys lets the receivers in. */
  user: string;
}

/**
 * On the seed: its private directory, and in it one tar of the files the receivers need, taken
 * from the directory the seed's own upload filled and checked. The names come on stdin, each
 * ended by a NUL (`--null -T -`): any name, no argument-length limit.
 */
export function stageCommand(dir: string, from: string): string {
  return sh`umask 077 && mkdir -m 700 -- ${dir} && tar -c -f ${`${dir}/${SEED_ARCHIVE}`} -C ${from} --no-recursion --null -T -`;
}

/**
 * On a receiving server: its private directory with a one-time ed25519 key pair (the private key
 * never leaves it) and a known_hosts that names the seed's host key, the one the deploying machine
 * verified; prints the public key.
 */
export function keyPairScript(dir: string, seedHostKey: string, comment: string): string {
  const hostKey = checkedHostKey(seedHostKey);
  return [
    'umask 077',
    sh`mkdir -m 700 -- ${dir}`,
    sh`ssh-keygen -q -t ed25519 -N '' -C ${comment} -f ${`${dir}/${KEY}`} </dev/null`,
    sh`printf '%s\\n' ${`${SEED_ALIAS} ${hostKey}`} > ${`${dir}/${KNOWN_HOSTS}`}`,
    sh`cat -- ${`${dir}/${KEY}.pub`}`,
  ].join('\n');
}

/**
 * The seed's authorized_keys line for one receiver's key: no pty, no forwarding (`restrict`), from
 * the fleet's addresses only, and whatever the client asks, `cat` of the one file (no input read,
 * no path the client chooses). `comment` is this deploy's own, so the removal finds exactly its lines.
 */
export function authorizedKeyLine(options: { file: string; from: readonly string[]; publicKey: string; comment: string }): string {
  const command = `cat -- ${quote(options.file)}`;
  // sshd reads command="…" up to the next unescaped double quote; a line ends the entry.
  if (/["\r\n\\]/.test(command))
    throw new Error(`the fan-out cannot serve ${options.file}: its path holds a double quote, a backslash or a line break`);
  if (!options.from.length) throw new Error('the fan-out needs the address of at least one receiving server');
  for (const host of options.from) {
    if (!/^[A-Za-z0-9.:_*?-]+$/.test(host)) throw new Error(`not an address sshd's from="…" can take: ${host}`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(options.comment)) throw new Error(`not a key comment of ours: ${options.comment}`);
  const [type, body] = options.publicKey.trim().split(/\s+/);
  if (type !== 'ssh-ed25519' || !/^[A-Za-z0-9+/]+=*$/.test(body ?? '')) {
    throw new Error(`ssh-keygen printed no ed25519 public key: ${options.publicKey.split('\n')[0].slice(0, 80)}`);
  }
  return `${LINE_START}${command.slice('cat -- '.length)}",from="${options.from.join(',')}" ${type} ${body} ${options.comment}`;
}

/** On the seed, as its deploy user: the line appended to ~/.ssh/authorized_keys (on a line of its own). */
export function grantScript(line: string): string {
  return [
    'umask 077',
    'mkdir -p -- "$HOME/.ssh"',
    'f="$HOME/.ssh/authorized_keys"',
    // A file whose last line has no line break would swallow ours.
    'if [ -s "$f" ] && [ -n "$(tail -c 1 -- "$f")" ]; then echo >> "$f"; fi',
    sh`printf '%s\\n' ${line} >> "$f"`,
  ].join('\n');
}

/**
 * On the seed: every line of this deploy's (its comment is the last field) removed from
 * ~/.ssh/authorized_keys; any other line, added meanwhile or not, is kept.
 */
export function revokeScript(comment: string): string {
  return withoutLines(comment, sh`awk -v c=${comment} -v ours=${LINE_START} '!(index($0, ours) == 1 && $NF == c)'`);
}

/**
 * After a deploy that died during a fan-out (its lock taken over, or freed by `gulp unlock`): every
 * fan-out directory whose path starts with `prefix` (the layout's fan-out path without its token),
 * and every line of ours serving a file in one of them. Only this root's: another app's deploy,
 * under a lock of its own, may be in the middle of its fan-out.
 */
export function sweepScript(prefix: string): string {
  const quoted = quote(prefix);
  // The line's command holds the quoted path of the tar: its start is the quoted prefix without its closing quote.
  const start = LINE_START + (quoted.startsWith("'") ? quoted.slice(0, -1) : quoted);
  return [sh`rm -rf -- ${prefix}${raw('*')}`, withoutLines(start, sh`awk -v start=${start} 'index($0, start) != 1'`)].join('\n');
}

/**
 * ~/.ssh/authorized_keys without the lines `filter` (an awk program reading the file) drops, when
 * `needle` is in it: rewritten under a temporary name in the same directory, with its mode, and
 * renamed over the old one, so sshd never reads half a file. Nothing to do when no line is there.
 */
function withoutLines(needle: string, filter: string): string {
  return [
    'f="$HOME/.ssh/authorized_keys"',
    sh`[ -f "$f" ] && grep -q -F -e ${needle} -- "$f" || exit 0`,
    't=$(mktemp "$f.attache-XXXXXX")',
    `trap 'rm -f -- "$t"' EXIT`,
    'cp -p -- "$f" "$t"',
    `${filter} "$f" > "$t"`,
    'mv -f -- "$t" "$f"',
  ].join('\n');
}

/**
 * On a receiving server: the seed's tar on stdout, with the receiver's own `ssh`: only its key,
 * only the seed's pinned host key, never a question (BatchMode), no ssh config of the server's
 * user, no agent; given up when the seed does not answer. Run inside the fan-out directory (the
 * key's and known_hosts' names are relative: no quoting of a root into ssh's own option syntax).
 */
export function fetchCommand(dir: string, seed: SeedEndpoint, connectTimeoutSeconds: number): string {
  const options = [
    'BatchMode=yes',
    'StrictHostKeyChecking=yes',
    `UserKnownHostsFile=./${KNOWN_HOSTS}`,
    'GlobalKnownHostsFile=/dev/null',
    `HostKeyAlias=${SEED_ALIAS}`,
    'IdentitiesOnly=yes',
    `IdentityFile=./${KEY}`,
    'IdentityAgent=none',
    'PasswordAuthentication=no',
    `ConnectTimeout=${Math.max(1, Math.round(connectTimeoutSeconds))}`,
    'ServerAliveInterval=10',
    'ServerAliveCountMax=3',
    'LogLevel=ERROR',
  ].flatMap((option) => ['-o', option]);
  return sh`(cd -- ${dir} && exec ssh -n -T -F /dev/null ${options} -p ${seed.port} -l ${seed.user} -- ${seed.host})`;
}

/** The removal of a server's fan-out directory (the seed's tar, a receiver's key pair). */
export function removeCommand(dir: string): string {
  return sh`rm -rf -- ${dir}`;
}

/** "ssh-ed25519 AAAA…": the type and the base64 body, nothing else on the line. */
function checkedHostKey(line: string): string {
  const [type, body] = line.trim().split(/\s+/);
  if (!/^[a-z0-9@.-]+$/.test(type ?? '') || !/^[A-Za-z0-9+/]+=*$/.test(body ?? '')) throw new Error(`not a host key: ${line.slice(0, 80)}`);
  return `${type} ${body}`;
}
