import net from 'node:net';
import { AttacheError } from '../errors';
import type { ResolvedServer } from './resolve';

/** The TCP connection to a server's sshd (no ssh2 here: open-target.ts starts it before ssh2 loads). */
export function connectTcp(server: ResolvedServer): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.hostname, port: server.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new AttacheError(`no answer from ${server.hostname}:${server.port} within ${server.connectTimeoutMs / 1000} s`, {
          server: server.name,
          hint: 'Check the host and port, the firewall, or raise ConnectTimeout.',
        }),
      );
    }, server.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      // The kernel probes an idle connection after 10 s (a peer that vanished without a word);
      // a stall with the socket still acknowledged is the SSH keepalive's job (heardCounts).
      socket.setKeepAlive(true, 10_000);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const what =
        error.code === 'ECONNREFUSED'
          ? `connection refused by ${server.hostname}:${server.port}`
          : error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN'
            ? `host name ${server.hostname} could not be resolved`
            : `could not connect to ${server.hostname}:${server.port}: ${error.message}`;
      reject(
        new AttacheError(what, {
          server: server.name,
          hint: 'Is sshd running there, and are host and port right (.attache.json or ~/.ssh/config)?',
        }),
      );
    });
  });
}
