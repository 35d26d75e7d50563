import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * known_hosts as OpenSSH reads it: plain and hashed (`|1|salt|hash`) host fields, `[host]:port`
 * for non-standard ports, wildcards and `!` negation, `@revoked` lines. `@cert-authority` lines are
 * not supported and never match.
 */
export type HostKeyVerdict =
  | { status: 'known' }
  | { status: 'unknown' }
  | { status: 'changed'; line: number }
  | { status: 'revoked'; line: number };

interface Entry {
  line: number;
  marker?: string;
  hosts: string;
  keyType: string;
  key: string;
}

/** The name OpenSSH records: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(hostname: string, port: number): string {
  return port === 22 ? hostname : `[${hostname}]:${port}`;
}

/** SHA256 fingerprint as `ssh-keygen -l` prints it. */
export function fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The key type named inside a public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …). */
export function keyTypeOf(keyBlob: Buffer): string {
  const length = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + length).toString('latin1');
}

export function checkHostKey(text: string, name: string, keyBlob: Buffer): HostKeyVerdict {
  const keyType = keyTypeOf(keyBlob);
  const key = keyBlob.toString('base64');
  const entries = parse(text).filter((e) => hostsMatch(e.hosts, name));
  const revoked = entries.find((e) => e.marker === '@revoked' && e.key === key);
  if (revoked) return { status: 'revoked', line: revoked.line };
  const plain = entries.filter((e) => e.marker === undefined);
  if (plain.some((e) => e.keyType === keyType && e.key === key)) return { status: 'known' };
  const changed = plain.find((e) => e.keyType === keyType);
  if (changed) return { status: 'changed', line: changed.line };
  return { status: 'unknown' };
}

/** Key types known for a host, so the handshake can prefer a key we can verify (as OpenSSH does). */
export function knownKeyTypes(text: string, name: string): string[] {
  return [
    ...new Set(
      parse(text)
        .filter((e) => !e.marker && hostsMatch(e.hosts, name))
        .map((e) => e.keyType),
    ),
  ];
}

export function readKnownHosts(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The known_hosts line that trusts a key for a host name, as OpenSSH writes it: `[host]:port ssh-ed25519 AAAA…`. */
export function knownHostLine(name: string, keyBlob: Buffer): string {
  return `${name} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}`;
}

export function appendKnownHost(file: string, name: string, keyBlob: Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const existing = readKnownHosts(file);
  const separator = existing && !existing.endsWith('\n') ? '\n' : '';
  appendFileSync(file, `${separator}${knownHostLine(name, keyBlob)}\n`, { mode: 0o600 });
}

function parse(text: string): Entry[] {
  const entries: Entry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const marker = fields[0].startsWith('@') ? fields.shift() : undefined;
    if (fields.length < 3) return;
    entries.push({ line: index + 1, marker, hosts: fields[0], keyType: fields[1], key: fields[2] });
  });
  return entries;
}

function hostsMatch(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return digest === hash;
  }
  let matched = false;
  for (const pattern of field.split(',')) {
    const negated = pattern.startsWith('!');
    if (wildcard(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function wildcard(pattern: string, name: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 'i').test(name);
}
