import type { Duplex } from 'node:stream';
import { AttacheError } from '../errors';
import { parseSocketAddress, type SocketAddress } from '../remote/address';
import type { Connection } from './connect';
import type { ResolvedServer, ServerSpec } from './resolve';

/**
 * Channels through a connection to somewhere else: the next server of a ProxyJump chain, or a
 * socket on the server (php-fpm's); and the jump host's spec and failure, told as its target's.
 */

/** A channel to host:port through this connection (ProxyJump). */
export function forward(connection: Connection, server: ResolvedServer): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    connection.client.forwardOut('127.0.0.1', 0, server.hostname, server.port, (error, channel) => {
      if (error) {
        reject(
          new AttacheError(`jump host ${connection.name} could not reach ${server.hostname}:${server.port}: ${error.message}`, {
            server: server.name,
            hint: `Check that ${connection.name} can connect to ${server.hostname}:${server.port} and allows TCP forwarding.`,
          }),
        );
      } else resolve(channel as unknown as Duplex);
    });
  });
}

/** A stream to a socket on the server (php-fpm's), through this connection: stream-local for a path, TCP for host:port. */
export function connectTo(connection: Connection, address: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | undefined, channel: unknown) => {
      if (error) {
        reject(
          new AttacheError(`could not reach ${address} through the SSH connection: ${error.message}`, {
            server: connection.name,
            hint: `Check that ${address} exists on the server and that sshd allows forwarding (AllowStreamLocalForwarding / AllowTcpForwarding).`,
          }),
        );
      } else resolve(channel as Duplex);
    };
    let socket: SocketAddress;
    try {
      socket = parseSocketAddress(address);
    } catch {
      return done(new Error('it is neither a socket path nor host:port'), undefined);
    }
    if ('path' in socket) connection.client.openssh_forwardOutStreamLocal(socket.path, done);
    else connection.client.forwardOut('127.0.0.1', 0, socket.host, socket.port, done);
  });
}

/** A jump host's failure, told as the failure of the server it leads to. */
export function viaJump(server: ResolvedServer, error: unknown): AttacheError {
  const inner = error instanceof AttacheError ? error : undefined;
  const what = inner?.what ?? (error as Error).message;
  return new AttacheError(
    `could not reach it through the jump host ${server.proxyJump}: ${what}`,
    { ...inner?.context, server: server.name },
    { cause: error },
  );
}

export function jumpSpec(server: ResolvedServer): ServerSpec {
  // A chain "a,b" reaches b through a: the last hop is ours, the rest is its own ProxyJump.
  const hops = (server.proxyJump ?? '').split(',').map((h) => h.trim());
  const last = hops.pop() as string;
  const base = /[@:]/.test(last) ? { ...parseHop(last) } : { host: last };
  return {
    ...base,
    acceptNewHostKeys: server.acceptNewHostKeys,
    knownHostsFile: server.knownHostsFile,
    // A CI job's secrets serve its jump host too: one variable may hold both hosts' lines, one key open both.
    knownHostsEnv: server.knownHostsEnv,
    identityEnv: server.identityEnv,
    passphraseEnv: server.passphraseEnv,
    sshConfigFile: server.sshConfigFile,
    proxyJump: hops.length ? hops.join(',') : undefined,
  };
}

function parseHop(hop: string): { host: string; user?: string; port?: number } {
  const match = /^(?:([^@]+)@)?([^:]+)(?::(\d+))?$/.exec(hop);
  if (!match) return { host: hop };
  return { user: match[1], host: match[2], port: match[3] ? Number(match[3]) : undefined };
}
