import { inCi } from '../ci/runner';
import { AttacheError } from '../errors';
import { quote } from '../remote/quote';
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  type HostKeyVerdict,
  keyTypeOf,
  knownHostLine,
  knownHostName,
  knownKeyTypes,
  readKnownHosts,
} from './known-hosts';
import type { ResolvedServer } from './resolve';

/** Where known_hosts lines come from: knownHostsEnv's variable, or a file. */
export interface KnownHostsSource {
  text: string;
  /** The file, for a source that is one (ssh-keygen -R can edit it). */
  file?: string;
  /** The environment variable, for a source that is one. */
  variable?: string;
}

/**
 * The known_hosts lines a server's host key is checked against: those of knownHostsEnv's variable
 * first (a CI secret: a runner starts with no known_hosts), then knownHostsFile's. A variable named
 * but not set is an error, never an empty list: the deploy would then refuse the host as unknown
 * and send the user after the wrong cause.
 */
export function knownHostsSources(server: ResolvedServer, env: NodeJS.ProcessEnv = process.env): KnownHostsSource[] {
  const sources: KnownHostsSource[] = [];
  const variable = server.knownHostsEnv;
  if (variable) {
    const value = env[variable];
    if (!value?.trim()) {
      throw new AttacheError(
        `the environment variable ${variable} named by knownHostsEnv ${value === undefined ? 'is not set' : 'is empty'}`,
        {
          server: server.name,
          key: 'knownHostsEnv',
          hint: `Set ${variable} to the server's known_hosts line(s) in the environment gulp runs in; in CI, store them as a secret and pass it to the job's env (GitHub Actions: env: ${variable}: \${{ secrets.${variable} }}).`,
        },
      );
    }
    // Lines pasted into a CI variable with literal \n between them: a known_hosts line never holds a backslash.
    sources.push({ text: value.includes('\n') ? value : value.replace(/\\n/g, '\n'), variable });
  }
  sources.push({ text: readKnownHosts(server.knownHostsFile), file: server.knownHostsFile });
  return sources;
}

/** A line of a source, as a user finds it: `file:3`, or `line 3 of the environment variable X`. */
function lineOf(source: KnownHostsSource, line: number): string {
  return source.file !== undefined
    ? `${source.file}:${line}`
    : `line ${line} of the environment variable ${source.variable} (knownHostsEnv)`;
}

function nameOf(source: KnownHostsSource): string {
  return source.file ?? `the environment variable ${source.variable} (knownHostsEnv)`;
}

/**
 * The verdict over every source, as OpenSSH gives it over several known_hosts files: a key marked
 * @revoked in any is refused; a key any of them holds is known; otherwise a different key of the
 * same type in any of them is a changed key.
 */
function verdictOver(sources: KnownHostsSource[], name: string, keyBlob: Buffer): { verdict: HostKeyVerdict; source?: KnownHostsSource } {
  const verdicts = sources.map((source) => ({ source, verdict: checkHostKey(source.text, name, keyBlob) }));
  for (const status of ['revoked', 'known', 'changed'] as const) {
    const found = verdicts.find((v) => v.verdict.status === status);
    if (found) return found;
  }
  return { verdict: { status: 'unknown' } };
}

/** The server's own public key file of a key type, whose fingerprint its owner can print there. */
function hostKeyFileOf(keyType: string): string {
  const kind = keyType === 'ssh-ed25519' ? 'ed25519' : keyType.startsWith('ecdsa-') ? 'ecdsa' : keyType === 'ssh-rsa' ? 'rsa' : undefined;
  return kind ? `/etc/ssh/ssh_host_${kind}_key.pub` : '/etc/ssh/ssh_host_*_key.pub';
}

/**
 * The host key decision, as OpenSSH makes it with StrictHostKeyChecking=yes (or accept-new when the
 * user opts in). Returns the error to fail the handshake with, or undefined when the key is trusted.
 * ssh2's default is to accept any key; we never do. It runs during the handshake, before any key
 * of ours is offered.
 */
export function verifyHostKey(server: ResolvedServer, keyBlob: Buffer, env: NodeJS.ProcessEnv = process.env): AttacheError | undefined {
  const name = knownHostName(server.hostKeyAlias ?? server.hostname, server.port);
  const sources = knownHostsSources(server, env);
  const { verdict, source } = verdictOver(sources, name, keyBlob);
  const type = keyTypeOf(keyBlob);
  const print = `${type} ${fingerprint(keyBlob)}`;
  const check = `on the server, ssh-keygen -lf ${hostKeyFileOf(type)} prints its fingerprint`;
  switch (verdict.status) {
    case 'known':
      return undefined;
    case 'revoked':
      return new AttacheError(
        `the host key of ${name} (${print}) is marked @revoked in ${lineOf(source!, verdict.line)}; refusing to connect`,
        {
          server: server.name,
        },
      );
    case 'changed':
      return new AttacheError(
        `the host key of ${name} has CHANGED: the server now presents ${print}, which does not match ${lineOf(source!, verdict.line)}`,
        {
          server: server.name,
          hint: `This can be a man-in-the-middle attack, or the server was reinstalled. If you know why it changed (${check}), ${
            source?.file !== undefined
              ? `remove the old key with: ssh-keygen -R ${quote(name)} -f ${quote(source.file)}`
              : `replace the old line in ${source?.variable}`
          }`,
        },
      );
    case 'unknown': {
      if (server.acceptNewHostKeys) {
        // The variable's text cannot be added to: the key is recorded in the file, as accept-new does.
        appendKnownHost(server.knownHostsFile, name, keyBlob);
        return undefined;
      }
      const line = knownHostLine(name, keyBlob);
      const checkFirst = `Check the fingerprint first: ${check}, which must be ${fingerprint(keyBlob)}.`;
      const variable = server.knownHostsEnv;
      const hint = inCi(env)
        ? // A runner starts empty every time: only a line stored beforehand pins the key (a scan or accept-new in the job trusts whatever answers).
          `${checkFirst} Then store this line in a CI secret ${
            variable ? `(the one behind ${variable})` : 'and name its variable with knownHostsEnv'
          }:\n    ${line}`
        : `${checkFirst} Then add this line to ${variable ? `${server.knownHostsFile} or to ${variable}` : server.knownHostsFile}:\n    ${line}\n  or set acceptNewHostKeys: true to record it on first use.`;
      return new AttacheError(`the host ${name} is not in ${sources.map(nameOf).join(' nor in ')}; its key is ${print}`, {
        server: server.name,
        hint,
      });
    }
  }
}

const ALGORITHMS_FOR_TYPE: Record<string, string[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};
const DEFAULT_ORDER = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** Host key algorithms with the types already in known_hosts first, so a known host is not reported unknown. */
export function preferredHostKeyAlgorithms(server: ResolvedServer): string[] {
  const name = knownHostName(server.hostKeyAlias ?? server.hostname, server.port);
  const text = knownHostsSources(server)
    .map((source) => source.text)
    .join('\n');
  const known = knownKeyTypes(text, name).flatMap((t) => ALGORITHMS_FOR_TYPE[t] ?? [t]);
  return [...new Set([...known.filter((a) => DEFAULT_ORDER.includes(a)), ...DEFAULT_ORDER])];
}
