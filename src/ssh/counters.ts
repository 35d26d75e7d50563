/**
 * Process-wide counts of what the SSH side costs, for the benchmark and the tests: handshakes (one
 * per server per deploy) and channels (SFTP, the persistent shells, anything else opened on a
 * connection). Kept apart from session.ts so that reading them loads no SSH library.
 */
let handshakes = 0;
let channels = 0;

/** SSH handshakes this process has made. */
export function handshakeCount(): number {
  return handshakes;
}

/** SSH channels this process has opened (each costs a round trip or two before its first byte). */
export function channelCount(): number {
  return channels;
}

export function countHandshake(): void {
  handshakes++;
}

export function countChannel(): void {
  channels++;
}
