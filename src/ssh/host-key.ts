import { AttacheError } from '../errors';
import { quote } from '../remote/quote';
import { appendKnownHost, checkHostKey, fingerprint, keyTypeOf, knownHostName, knownKeyTypes, readKnownHosts } from './known-hosts';
import type { ResolvedServer } from './resolve';

/**
 * The host key decision, as OpenSSH makes it with StrictHostKeyChecking=yes (or accept-new when the
 * user opts in). Returns the error to fail the handshake with, or undefined when the key is trusted.
 * ssh2's default is to accept any key; we never do.
 */
export function verifyHostKey(server: ResolvedServer, keyBlob: Buffer): AttacheError | undefined {
  const name = knownHostName(server.hostKeyAlias ?? server.hostname, server.port);
  const verdict = checkHostKey(readKnownHosts(server.knownHostsFile), name, keyBlob);
  const print = `${keyTypeOf(keyBlob)} ${fingerprint(keyBlob)}`;
  switch (verdict.status) {
    case 'known':
      return undefined;
    case 'revoked':
      return new AttacheError(
        `the host key of ${name} (${print}) is marked @revoked in ${server.knownHostsFile}:${verdict.line}; refusing to connect`,
        {
          server: server.name,
        },
      );
    case 'changed':
      return new AttacheError(
        `the host key of ${name} has CHANGED: the server now presents ${print}, which does not match ${server.knownHostsFile}:${verdict.line}`,
        {
          server: server.name,
          hint: `This can be a man-in-the-middle attack, or the server was reinstalled. If you know why it changed, remove the old key with: ssh-keygen -R ${quote(name)} -f ${quote(server.knownHostsFile)}`,
        },
      );
    case 'unknown':
      if (server.acceptNewHostKeys) {
        appendKnownHost(server.knownHostsFile, name, keyBlob);
        return undefined;
      }
      return new AttacheError(`the host ${name} is not in ${server.knownHostsFile}; its key is ${print}`, {
        server: server.name,
        hint: `Check the fingerprint with the server's owner, then trust it with: ssh-keyscan -p ${server.port} ${quote(server.hostname)} >> ${quote(server.knownHostsFile)} (or connect once with ssh), or set acceptNewHostKeys: true to record it on first use.`,
      });
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
  const known = knownKeyTypes(readKnownHosts(server.knownHostsFile), name).flatMap((t) => ALGORITHMS_FOR_TYPE[t] ?? [t]);
  return [...new Set([...known.filter((a) => DEFAULT_ORDER.includes(a)), ...DEFAULT_ORDER])];
}
