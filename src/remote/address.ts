/** A socket on the target's side: a unix socket's absolute path, or host:port (`tcp://` allowed). */
export type SocketAddress = { path: string } | { host: string; port: number };

export function parseSocketAddress(address: string): SocketAddress {
  if (address.startsWith('/')) return { path: address };
  const match = /^(?:tcp:\/\/)?\[?([^\]\s/]+?)\]?:(\d+)$/.exec(address);
  if (!match) throw new Error(`"${address}" is neither a socket path nor host:port`);
  return { host: match[1], port: Number(match[2]) };
}
