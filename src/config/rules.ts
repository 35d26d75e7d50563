import path from 'node:path';
import type { PeerAddress } from './types';

/**
 * What makes a configured string unusable, one function per kind of value: each returns the reason
 * (for "expected …, got …: <reason>") or undefined. Pure, so the schema, the flags and tests share them.
 */

export const BRANCH_RULES =
  'A branch name may use letters, digits, ".", "_", "-", "+", "@" and "/"; it must not start with "-", "/" or ".", ' +
  'contain "..", "//" or "@{", or end with "/", "." or ".lock".';

/** What is wrong with a branch name, or undefined if it is a safe git ref name. */
export function branchProblem(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (name.includes('@{')) return 'it contains "@{"';
  const bad = /[^\p{L}\p{M}\p{N}._+@/-]/u.exec(name);
  if (bad) return `it contains ${describeChar(bad[0])}`;
  if (name.startsWith('-')) return 'it starts with "-", so git would read it as an option';
  for (const bad of ['..', '//']) if (name.includes(bad)) return `it contains "${bad}"`;
  if (name.startsWith('/')) return 'it starts with "/"';
  if (name === '@') return '"@" alone is not a branch name';
  if (name.split('/').some((part) => part.startsWith('.'))) return 'a part of it starts with "."';
  if (name.endsWith('.lock')) return 'it ends with ".lock"';
  if (name.endsWith('/') || name.endsWith('.')) return `it ends with "${name.at(-1)}"`;
  return undefined;
}

export function describeChar(c: string): string {
  if (c === '\n' || c === '\r') return 'a line break';
  if (c === '\t') return 'a tab';
  if (c === ' ') return 'a space';
  if (c === '\0') return 'a NUL byte';
  if (c === '"') return 'a double quote (")';
  if (c === "'") return "a single quote (')";
  if (c === '`') return 'a backtick (`)';
  if (c === '\\') return 'a backslash (\\)';
  if (/[\u0000-\u001f\u007f]|\s/.test(c)) return `the character U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return `"${c}"`;
}

/** User names and host names: one word, never read as an option. */
export const noSpaceOrDash = (s: string) =>
  /[\s\u0000-\u001f\u007f]/.test(s) ? 'it contains a space or control character' : s.startsWith('-') ? 'it starts with "-"' : undefined;

export function controlProblem(s: string): string | undefined {
  const control = /[\u0000-\u001f\u007f]/.exec(s);
  return control ? `it contains ${describeChar(control[0])}` : undefined;
}

export const hasDotDot = (p: string) => p.split('/').includes('..');

export function rootProblem(root: string): string | undefined {
  if (!root.startsWith('/')) return root.startsWith('~') ? '"~" is not expanded: write the full path' : 'it is not absolute';
  if (hasDotDot(root)) return 'it contains a ".." segment';
  if (path.posix.normalize(root) === '/') return 'it is the filesystem root';
  return controlProblem(root);
}

export function rootPath(root: string): string {
  return root === '' ? root : trimPath(root);
}

export function pathProblem(p: string): string | undefined {
  if (!p.startsWith('/') && hasDotDot(p)) return 'a relative path must not contain ".." segments';
  const normal = trimPath(p);
  if (normal === '.' || normal === '/') return 'it names the root directory itself';
  return controlProblem(p);
}

/** Normalised, without a trailing slash: `./releases/` → `releases`. */
export function trimPath(p: string): string {
  const normal = path.posix.normalize(p);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/** Asset remote paths may use `\` (written on Windows); they are compared as `/`. */
export function assetRemote(p: string): string {
  return p === '' ? p : trimPath(p.replace(/\\/g, '/'));
}

export function remoteProblem(p: string): string | undefined {
  const slashed = p.replace(/\\/g, '/');
  if (slashed.startsWith('/')) return 'it is absolute: it must be a path inside the release';
  const normal = trimPath(slashed);
  if (hasDotDot(normal)) return 'it leaves the release directory ("..")';
  if (normal === '.') return 'it names the release directory itself';
  return controlProblem(p);
}

/** A unix socket's absolute path, or host:port (TCP). */
export function fpmProblem(s: string): string | undefined {
  if (s.startsWith('/')) return controlProblem(s);
  const match = /^(.+):(\d+)$/.exec(s.replace(/^tcp:\/\//, ''));
  if (!match || /[\s/]/.test(match[1])) return 'expected an absolute socket path or host:port';
  const port = Number(match[2]);
  return port >= 1 && port <= 65535 ? undefined : 'the port is not from 1 to 65535';
}

/** `host`, `host:port` or `[v6]:port`, as the other servers of a fleet reach this one's sshd. */
export function peerAddressProblem(s: string): string | undefined {
  const parsed = splitPeerAddress(s);
  if (!parsed) return 'expected host or host:port (an IPv6 address in brackets: [::1]:22)';
  if (!/^[A-Za-z0-9.:_-]+$/.test(parsed.host) || parsed.host.startsWith('-'))
    return 'the host has letters, digits, ".", ":", "_" and "-" only';
  return parsed.port >= 1 && parsed.port <= 65535 ? undefined : 'the port is not from 1 to 65535';
}

/** A checked `host[:port]` as host and port (22 by default); undefined stays undefined. */
export function peerAddress(s: string | undefined): PeerAddress | undefined {
  return s === undefined ? undefined : splitPeerAddress(s);
}

function splitPeerAddress(s: string): PeerAddress | undefined {
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(s);
  if (!match) return undefined;
  return { host: match[1], port: match[2] === undefined ? 22 : Number(match[2]) };
}

export function urlProblem(s: string): string | undefined {
  try {
    const url = new URL(s);
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : `its scheme is ${url.protocol} (expected http: or https:)`;
  } catch {
    return 'it is not a URL';
  }
}
