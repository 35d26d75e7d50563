import { readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AttacheError } from '../errors';

/** A server as a user names it: an ~/.ssh/config alias, `user@host:port`, `local`, or an object. */
export type ServerSpec = string | ServerOptions;

export interface ServerOptions {
  /** Name in logs and errors (default: the host). */
  name?: string;
  /** Host name, address, ~/.ssh/config alias, or `local` for the local target. */
  host: string;
  port?: number;
  user?: string;
  /** Private key files, tried in order after the agent and identityEnv's key. Default: ~/.ssh/config's, then id_ed25519, id_ecdsa, id_rsa. */
  identityFile?: string | string[];
  /** Name of an environment variable holding a private key's text (a CI secret): tried after the agent, before the files. */
  identityEnv?: string;
  /** Passphrase for encrypted keys (prefer `passphraseEnv`: the value never reaches a log). */
  passphrase?: string;
  /** Name of an environment variable holding the key passphrase. */
  passphraseEnv?: string;
  /** SSH agent socket; default $SSH_AUTH_SOCK; false turns the agent off. */
  agent?: string | false;
  /** Forward the agent so that `git clone` on the server can use your key (default: ~/.ssh/config's ForwardAgent). */
  forwardAgent?: boolean;
  /** Like OpenSSH's StrictHostKeyChecking=accept-new: trust and record an unknown host's key. A changed key is always refused. */
  acceptNewHostKeys?: boolean;
  /** known_hosts file (default ~/.ssh/known_hosts). */
  knownHostsFile?: string;
  /** Name of an environment variable holding known_hosts lines (a CI secret): read beside knownHostsFile. */
  knownHostsEnv?: string;
  /** Seconds to wait for the TCP connection and the handshake (default: ~/.ssh/config's ConnectTimeout, else 20). */
  connectTimeout?: number;
  /** A jump host (`ProxyJump`): an alias or `user@host:port`; comma-separated for a chain. */
  proxyJump?: string;
  /** ssh config file (default ~/.ssh/config). */
  sshConfigFile?: string;
  /**
   * Whether `Match exec` lines of the user's own ssh config run their command (as OpenSSH does);
   * false for what only lists or pretends (gulp servers, dry runs). Never from a file the project
   * names (sshConfigFile): a command in a repository runs nowhere by being read.
   */
  matchExec?: boolean;
}

/** Everything needed to connect, after ~/.ssh/config and defaults are applied. Explicit options win. */
export interface ResolvedServer {
  name: string;
  /** The name used for known_hosts: the HostName (or HostKeyAlias). */
  hostname: string;
  port: number;
  user: string;
  identityFiles: string[];
  /**
   * Where identityFiles came from, which decides what a missing one is: named in the options (an
   * error), IdentityFile in the ssh config file (a warning, as OpenSSH's "no such identity"), or
   * the default keys (silently skipped).
   */
  identityFilesFrom: 'options' | 'sshConfig' | 'default';
  /** The environment variable holding a private key's text (identityEnv); read when authenticating. */
  identityEnv?: string;
  passphrase?: string;
  /** The environment variable the passphrase was to come from (passphraseEnv), for the errors that name it. */
  passphraseEnv?: string;
  agent?: string;
  forwardAgent: boolean;
  acceptNewHostKeys: boolean;
  knownHostsFile: string;
  /** The environment variable holding known_hosts lines (knownHostsEnv); read when the host key is checked. */
  knownHostsEnv?: string;
  hostKeyAlias?: string;
  connectTimeoutMs: number;
  proxyJump?: string;
  sshConfigFile: string;
}

// ssh-config's type declarations point at its ESM build; the CommonJS build we load has this shape.
const SSHConfig: {
  parse(text: string): { compute(host: string, options: { matchExec: boolean }): Record<string, string | string[]> };
} = require('ssh-config');

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

export function parseServerString(spec: string): ServerOptions {
  const match = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s]+)(?::(\d+))?$/.exec(spec.trim());
  if (!match) {
    throw new AttacheError(`"${spec}" is not a server: expected an ~/.ssh/config alias or user@host:port`);
  }
  const [, user, host, port] = match;
  return { host: host.replace(/^\[|\]$/g, ''), user, port: port ? Number(port) : undefined };
}

export function resolveServer(spec: ServerSpec): ResolvedServer {
  const options = typeof spec === 'string' ? parseServerString(spec) : spec;
  const home = os.homedir();
  const sshDir = path.join(home, '.ssh');
  const sshConfigFile = options.sshConfigFile ?? path.join(sshDir, 'config');
  const ownConfig = path.resolve(sshConfigFile) === path.join(sshDir, 'config');
  const file = readSshConfig(sshConfigFile, options.host, ownConfig && options.matchExec !== false);

  const user = options.user ?? first(file.user) ?? os.userInfo().username;
  const hostname = first(file.hostname)?.replace(/%h/g, options.host) ?? options.host;
  const port = options.port ?? numberOf(first(file.port), 'Port', sshConfigFile) ?? 22;
  const expand = (p: string) =>
    p
      .replace(/^~(?=$|\/)/, home)
      .replace(/%d/g, home)
      .replace(/%u/g, os.userInfo().username)
      .replace(/%r/g, user)
      .replace(/%h/g, hostname)
      .replace(/%p/g, String(port));
  const fromOptions = toArray(options.identityFile);
  const fromFile = toArray(file.identityfile);
  const identityFilesFrom = fromOptions.length ? 'options' : fromFile.length ? 'sshConfig' : 'default';
  const named = fromOptions.length ? fromOptions : fromFile;
  const identityFiles = (named.length ? named : DEFAULT_KEYS.map((k) => path.join(sshDir, k))).map(expand);
  const timeout = options.connectTimeout ?? numberOf(first(file.connecttimeout), 'ConnectTimeout', sshConfigFile) ?? 20;
  const agent = options.agent === false ? undefined : (options.agent ?? process.env.SSH_AUTH_SOCK ?? undefined);
  const proxyJump = options.proxyJump ?? first(file.proxyjump);

  return {
    name: options.name ?? options.host,
    hostname,
    port,
    user,
    identityFiles,
    identityFilesFrom,
    identityEnv: options.identityEnv,
    passphrase: options.passphrase ?? (options.passphraseEnv ? process.env[options.passphraseEnv] : undefined),
    passphraseEnv: options.passphrase === undefined ? options.passphraseEnv : undefined,
    agent: agent || undefined,
    forwardAgent: options.forwardAgent ?? first(file.forwardagent)?.toLowerCase() === 'yes',
    acceptNewHostKeys: options.acceptNewHostKeys ?? false,
    knownHostsFile: options.knownHostsFile ?? path.join(sshDir, 'known_hosts'),
    knownHostsEnv: options.knownHostsEnv,
    hostKeyAlias: first(file.hostkeyalias),
    connectTimeoutMs: timeout * 1000,
    proxyJump: proxyJump && proxyJump.toLowerCase() !== 'none' ? proxyJump : undefined,
    sshConfigFile,
  };
}

/** The ~/.ssh/config entries for a host, with lower-cased keys (OpenSSH keywords are case-insensitive). */
function readSshConfig(file: string, host: string, matchExec: boolean): Record<string, string | string[]> {
  const text = readWithIncludes(file, includeBase(file), 0);
  if (text === undefined) return {};
  // Without matchExec a `Match exec` block does not match, and its command does not run.
  const computed = SSHConfig.parse(text).compute(host, { matchExec });
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(computed)) out[key.toLowerCase()] = value;
  return out;
}

/** OpenSSH's limit on nested Include (READCONF_MAX_DEPTH). */
const MAX_INCLUDE_DEPTH = 16;
const INCLUDE = /^\s*include(?:\s*=\s*|\s+)(.*)$/i;
const SECTION = /^\s*(host|match)(?:\s*=\s*|\s+)/i;

/** Relative Include paths resolve against ~/.ssh for a user's config, /etc/ssh for the system's (as OpenSSH). */
function includeBase(file: string): string {
  return path.resolve(file).startsWith('/etc/ssh/') ? '/etc/ssh' : path.join(os.homedir(), '.ssh');
}

/**
 * The config's text with every `Include` replaced by the files it names (globs, `~`, absolute or
 * relative paths; sorted like glob(3); files that do not exist are skipped, as OpenSSH does), the
 * included ones expanded the same way. ssh-config (the parser) does not follow Include itself.
 * An Include inside a Host or Match block is conditional on that block, as in OpenSSH: after the
 * included text, the enclosing block's header is repeated so that its remaining lines stay in it
 * (and `Host *` restores the unconditional part of the file). Not reproduced: Host or Match blocks
 * inside a file included from a block are not also conditional on the enclosing block.
 */
function readWithIncludes(file: string, base: string, depth: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  if (depth > MAX_INCLUDE_DEPTH) {
    throw new AttacheError(`Include nested more than ${MAX_INCLUDE_DEPTH} deep (an Include loop?)`, {
      file,
      hint: 'Check the Include lines of your ssh config.',
    });
  }
  const out: string[] = [];
  let section: string | undefined; // the header of the Host/Match block the line is in
  for (const line of text.split(/\r?\n/)) {
    if (SECTION.test(line)) section = line.trim();
    const include = INCLUDE.exec(line);
    if (!include) {
      out.push(line);
      continue;
    }
    for (const pattern of splitArguments(include[1])) {
      for (const included of expandInclude(pattern, base)) {
        const body = readWithIncludes(included, base, depth + 1);
        if (body !== undefined) out.push(`# Include ${included}`, body);
      }
    }
    out.push(section ?? 'Host *');
  }
  return out.join('\n');
}

/** The words of an Include line; double quotes keep spaces, `#` starts a comment. */
function splitArguments(text: string): string[] {
  const words: string[] = [];
  for (const match of text.matchAll(/"([^"]*)"|(\S+)/g)) {
    if (match[2]?.startsWith('#')) break;
    words.push(match[1] ?? match[2]);
  }
  return words;
}

/** The existing files an Include pattern names, sorted; `*`, `?` and `[…]` match within one path component. */
function expandInclude(pattern: string, base: string): string[] {
  const expanded = pattern.replace(/^~(?=$|\/)/, os.homedir());
  const absolute = path.isAbsolute(expanded) ? expanded : path.join(base, expanded);
  let paths = ['/'];
  for (const part of absolute.split('/').filter(Boolean)) {
    if (!/[*?[]/.test(part)) {
      paths = paths.map((p) => path.join(p, part));
      continue;
    }
    const matcher = globComponent(part);
    paths = paths.flatMap((dir) => {
      try {
        return readdirSync(dir)
          .filter((name) => matcher.test(name) && (part.startsWith('.') || !name.startsWith('.')))
          .sort()
          .map((name) => path.join(dir, name));
      } catch {
        return [];
      }
    });
  }
  return paths.filter((p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  });
}

function globComponent(part: string): RegExp {
  let source = '';
  for (let i = 0; i < part.length; i++) {
    const c = part[i];
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const end = part.indexOf(']', i + 2);
      if (end < 0) source += '\\[';
      else {
        source += `[${part
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function toArray(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function numberOf(value: string | undefined, keyword: string, file: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new AttacheError(`${keyword} "${value}" is not a positive whole number`, { file, hint: `Fix ${keyword} in ${file}.` });
  }
  return n;
}
