import { existsSync, readFileSync } from 'node:fs';
import { utils, type AuthenticationType, type Client, type ParsedKey } from 'ssh2';
import { AttacheError } from '../errors';
import { registerSecret } from '../log';
import type { ResolvedServer } from './resolve';
import { replaceAuthPK } from './ssh2-internals';

/**
 * Key-only authentication, in OpenSSH's order: the agent, then each identity file. Keys are read and
 * decrypted before connecting, so a missing key or a wrong passphrase is reported as such, not as a
 * vague "authentication failed" from the server.
 */
export interface AuthPlan {
  methods: AuthenticationType[];
  /** What will be tried, for the error when the server refuses all of it. */
  described: string[];
}

export function planAuthentication(server: ResolvedServer): AuthPlan {
  registerSecret(server.passphrase);
  const methods: AuthenticationType[] = [];
  const described: string[] = [];
  const username = server.user;

  if (server.agent && existsSync(server.agent)) {
    // @types/ssh2's AuthenticationType union omits some methods ssh2 accepts; the shapes below are ssh2's own.
    methods.push({ type: 'agent', username, agent: server.agent } as unknown as AuthenticationType);
    described.push(`the SSH agent (${server.agent})`);
  }
  for (const file of server.identityFiles) {
    if (!existsSync(file)) {
      if (server.identityFilesExplicit) {
        throw new AttacheError(`private key ${file} does not exist`, {
          server: server.name,
          file,
          hint: 'Check IdentityFile in ~/.ssh/config or the identityFile option.',
        });
      }
      continue;
    }
    const key = parseKeyFile(server, file);
    methods.push({ type: 'publickey', username, key } as unknown as AuthenticationType);
    described.push(`key ${file}`);
  }
  if (methods.length === 0) {
    throw new AttacheError('no SSH agent and no private key to authenticate with', {
      server: server.name,
      hint: `Start ssh-agent and add your key, create ~/.ssh/id_ed25519, or name a key with IdentityFile (passwords are not supported).`,
    });
  }
  return { methods, described };
}

function parseKeyFile(server: ResolvedServer, file: string): ParsedKey {
  const parsed = utils.parseKey(readFileSync(file), server.passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error) {
    const encrypted = /passphrase|encrypted/i.test(key.message);
    throw new AttacheError(encrypted ? passphraseProblem(server, file) : `private key ${file} cannot be read: ${key.message}`, {
      server: server.name,
      file,
      hint: !encrypted
        ? 'Use an OpenSSH or PEM private key.'
        : server.passphraseEnv && !server.passphrase
          ? `Set ${server.passphraseEnv} in the environment gulp runs in (export ${server.passphraseEnv}=…), or add the key to ssh-agent (ssh-add).`
          : 'Add the key to ssh-agent (ssh-add), or give its passphrase with the passphraseEnv option (an environment variable).',
    });
  }
  return key;
}

/** Why an encrypted key could not be opened, naming the variable passphraseEnv points at when it is the cause. */
function passphraseProblem(server: ResolvedServer, file: string): string {
  const variable = server.passphraseEnv;
  if (server.passphrase) return `wrong passphrase for private key ${file}${variable ? ` (from the environment variable ${variable})` : ''}`;
  if (!variable) return `private key ${file} is encrypted and no passphrase was given`;
  const state = process.env[variable] === undefined ? 'is not set' : 'is empty';
  return `private key ${file} is encrypted and the environment variable ${variable} named by passphraseEnv ${state}`;
}

/** The hash ssh2 signs with for each key algorithm it names (its getKeyAlgos); other key types have one of their own. */
const HASH_OF_ALGORITHM: Record<string, string> = { 'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512', 'ssh-rsa': 'sha1' };

/**
 * A key read from a file goes to the server signed at once, as OpenSSH's client sends a key it
 * holds. ssh2 first asks whether the server would take the key (USERAUTH_PK_OK), and signs only
 * then: a round trip more on every connection. Agent keys keep the question (the agent is asked to
 * sign only what the server would take). ssh2's protocol object is not public (ssh2-internals.ts):
 * where it is not as expected, or a signature cannot be made, ssh2 goes its own way.
 */
export function signKeysAtOnce(client: Client): void {
  client.once('handshake', () => {
    replaceAuthPK(
      client,
      (authPK) =>
        function (this: unknown, username, key, keyAlgo, sign) {
          if (sign || typeof keyAlgo === 'function' || typeof key?.isPrivateKey !== 'function' || !key.isPrivateKey()) {
            return authPK.call(this, username, key, keyAlgo, sign);
          }
          return authPK.call(this, username, key, keyAlgo, (data, done) => {
            const signature = key.sign(data, keyAlgo ? HASH_OF_ALGORITHM[keyAlgo] : undefined);
            // Not signed: ask first after all (ssh2 signs on the answer, and reports its own failure).
            if (signature instanceof Error) setImmediate(() => authPK.call(this, username, key, keyAlgo));
            else done(signature);
          });
        },
    );
  });
}
