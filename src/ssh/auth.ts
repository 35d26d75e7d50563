import { existsSync, readFileSync } from 'node:fs';
import { utils, type AuthenticationType, type Client, type ParsedKey } from 'ssh2';
import { AttacheError, type ErrorContext } from '../errors';
import { registerSecret, registerSecretText } from '../log';
import type { ResolvedServer } from './resolve';
import { replaceAuthPK } from './ssh2-internals';

/**
 * Key-only authentication, in OpenSSH's order: the agent, then the key held in an environment
 * variable (identityEnv: a CI secret, named for this server as an IdentityFile would be), then
 * each identity file. Keys are read and decrypted before connecting, so a missing key or a wrong
 * passphrase is reported as such, not as a vague "authentication failed" from the server.
 */
export interface AuthPlan {
  methods: AuthenticationType[];
  /** What will be tried, for the error when the server refuses all of it. */
  described: string[];
  /** What the caller should log as a warning (an IdentityFile of the ssh config file that does not exist). */
  warnings: string[];
}

export function planAuthentication(server: ResolvedServer, env: NodeJS.ProcessEnv = process.env): AuthPlan {
  registerSecret(server.passphrase);
  const methods: AuthenticationType[] = [];
  const described: string[] = [];
  const warnings: string[] = [];
  const missing: string[] = [];
  const username = server.user;

  if (server.agent && existsSync(server.agent)) {
    // @types/ssh2's AuthenticationType union omits some methods ssh2 accepts; the shapes below are ssh2's own.
    methods.push({ type: 'agent', username, agent: server.agent } as unknown as AuthenticationType);
    described.push(`the SSH agent (${server.agent})`);
  }
  if (server.identityEnv) {
    const key = parseEnvKey(server, server.identityEnv, env);
    methods.push({ type: 'publickey', username, key } as unknown as AuthenticationType);
    described.push(`the key in the environment variable ${server.identityEnv} (identityEnv)`);
  }
  for (const file of server.identityFiles) {
    if (!existsSync(file)) {
      if (server.identityFilesFrom === 'options') {
        throw new AttacheError(`private key ${file} does not exist`, {
          server: server.name,
          file,
          key: 'identityFile',
          hint: 'Check the identityFile option (a leading ~ is your home directory).',
        });
      }
      if (server.identityFilesFrom === 'sshConfig') {
        // OpenSSH says "no such identity" and goes on with the other keys.
        warnings.push(`no such identity: ${file} (IdentityFile in ${server.sshConfigFile}); trying the other keys`);
        missing.push(file);
      }
      continue;
    }
    const key = parseKey(server, readFileSync(file), `private key ${file}`, { file });
    methods.push({ type: 'publickey', username, key } as unknown as AuthenticationType);
    described.push(`key ${file}`);
  }
  if (methods.length === 0) {
    const none = missing.length ? ` (IdentityFile ${missing.join(', ')} in ${server.sshConfigFile} does not exist)` : '';
    throw new AttacheError(`no SSH agent and no private key to authenticate with${none}`, {
      server: server.name,
      hint: `Start ssh-agent and add your key, create ~/.ssh/id_ed25519, name a key with IdentityFile, or (in CI) put the key's text in an environment variable and name it with identityEnv (passwords are not supported).`,
    });
  }
  return { methods, described, warnings };
}

/** What identityEnv's variable should hold, for its errors: never the text itself. */
const ENV_KEY_HINT = (variable: string) =>
  `Set ${variable} to the private key's text (the whole file, -----BEGIN … to -----END …, with its line breaks) in the environment gulp runs in; in CI, store the key as a secret and pass it to the job's env (GitHub Actions: env: ${variable}: \${{ secrets.${variable} }}).`;

/**
 * The private key held in an environment variable (identityEnv). Its text is registered as a
 * secret, whole and line by line, before anything can print it; it is never written to a file.
 * Literal `\n` sequences (a key pasted into a CI variable on one line that way) are read as
 * line breaks: such text is no key otherwise, so nothing else can be meant.
 */
function parseEnvKey(server: ResolvedServer, variable: string, env: NodeJS.ProcessEnv): ParsedKey {
  const raw = env[variable];
  registerSecretText(raw);
  const where = { server: server.name, key: 'identityEnv' };
  if (!raw?.trim()) {
    const state = raw === undefined ? 'is not set' : 'is empty';
    throw new AttacheError(`the environment variable ${variable} named by identityEnv ${state}`, {
      ...where,
      hint: ENV_KEY_HINT(variable),
    });
  }
  let text = raw.trim().replace(/\r?\n/g, '\n');
  if (!text.includes('\n') && text.includes('\\n')) text = text.replace(/\\n/g, '\n');
  registerSecretText(text);
  const label = `the key in the environment variable ${variable} (identityEnv)`;
  const notKey = notAPrivateKey(text);
  if (notKey) throw new AttacheError(`${label} is not a private key: ${notKey}`, { ...where, hint: ENV_KEY_HINT(variable) });
  return parseKey(server, `${text}\n`, label, where);
}

/** Why a variable's text is plainly no private key (never quoting it), or undefined when it may be one. */
function notAPrivateKey(text: string): string | undefined {
  if (/^(ssh-|ecdsa-|sk-)\S+ AAAA/.test(text)) return 'it holds a public key (the .pub file); it needs the private half';
  if (/^[~/.]/.test(text) && !text.includes('\n')) return 'it holds a path; to use a key file, name it with identityFile';
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) return 'it has no -----BEGIN … PRIVATE KEY----- line';
  if (!text.includes('\n')) return 'it is on one line: its line breaks were lost (store the key with them)';
  return undefined;
}

/** A private key's text, read (and decrypted with the passphrase) as ssh2 reads it; `label` names it in errors. */
function parseKey(server: ResolvedServer, data: Buffer | string, label: string, context: ErrorContext): ParsedKey {
  const parsed = utils.parseKey(data, server.passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error) {
    const encrypted = /passphrase|encrypted/i.test(key.message);
    throw new AttacheError(encrypted ? passphraseProblem(server, label) : `${label} cannot be read: ${key.message}`, {
      server: server.name,
      ...context,
      hint: !encrypted
        ? 'Use an OpenSSH or PEM private key.'
        : server.passphraseEnv && !server.passphrase
          ? `Set ${server.passphraseEnv} in the environment gulp runs in (export ${server.passphraseEnv}=…), or add the key to ssh-agent (ssh-add).`
          : 'Add the key to ssh-agent (ssh-add), or give its passphrase with the passphraseEnv option (an environment variable).',
    });
  }
  if (!key.isPrivateKey()) {
    throw new AttacheError(`${label} is a public key, not a private one`, {
      server: server.name,
      ...context,
      hint: 'Name the private half (the file without .pub).',
    });
  }
  return key;
}

/** Why an encrypted key could not be opened, naming the variable passphraseEnv points at when it is the cause. */
function passphraseProblem(server: ResolvedServer, label: string): string {
  const variable = server.passphraseEnv;
  if (server.passphrase) return `wrong passphrase for ${label}${variable ? ` (from the environment variable ${variable})` : ''}`;
  if (!variable) return `${label} is encrypted and no passphrase was given`;
  const state = process.env[variable] === undefined ? 'is not set' : 'is empty';
  return `${label} is encrypted and the environment variable ${variable} named by passphraseEnv ${state}`;
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
