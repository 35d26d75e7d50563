import type { ServerOptions } from './resolve';

/**
 * The SSH options a config file may set per server (besides host, port and user), once: the
 * config validator accepts exactly these, and the compiler checks each is a ServerOptions key.
 * `passphrase` is left out on purpose: a passphrase never belongs in a file (passphraseEnv does).
 */
export const SSH_OPTION_NAMES = [
  'acceptNewHostKeys',
  'knownHostsFile',
  'knownHostsEnv',
  'identityFile',
  'identityEnv',
  'passphraseEnv',
  'forwardAgent',
  'connectTimeout',
  'proxyJump',
  'sshConfigFile',
  'agent',
] as const satisfies ReadonlyArray<keyof ServerOptions>;
