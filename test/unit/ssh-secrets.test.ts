import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AttacheError } from '../../src/errors';
import { redact } from '../../src/log';
import { planAuthentication } from '../../src/ssh/auth';
import { jumpSpec } from '../../src/ssh/forward';
import { inCi } from '../../src/ci/runner';
import { knownHostsSources, verifyHostKey } from '../../src/ssh/host-key';
import { fingerprint } from '../../src/ssh/known-hosts';
import { resolveServer, type ServerOptions } from '../../src/ssh/resolve';
import { tempDir } from '../support/fixtures';
import { keygen } from '../../support/sshd';

/**
 * The SSH secrets a CI job holds in its environment: a private key (identityEnv) and known_hosts
 * lines (knownHostsEnv), and what the unknown-host refusal tells a CI job; and IdentityFile read
 * as OpenSSH reads it (a missing one from the ssh config file is a warning, one named in the
 * options an error).
 */

const dir = tempDir('attache-ssh-secrets-');
const noConfig = path.join(dir, 'no-ssh-config');
process.env.HOME = tempDir('attache-empty-home-'); // no ~/.ssh at all: the default keys are absent, as on a CI runner

/** A server resolved without the machine's ~/.ssh/config, agent, keys or known_hosts. */
function server(options: Partial<ServerOptions> = {}) {
  return resolveServer({
    host: '127.0.0.1',
    port: 2222,
    agent: false,
    sshConfigFile: noConfig,
    knownHostsFile: path.join(dir, 'no-known-hosts'),
    ...options,
  });
}

/** A fresh key pair: the private key's text, the public line's type and blob. */
function keyPair(passphrase = '', type = 'ed25519'): { text: string; blob: Buffer; publicLine: string } {
  const file = path.join(tempDir('attache-keypair-'), `id_${type}`);
  keygen(file, passphrase, type);
  const publicLine = readFileSync(`${file}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
  return { text: readFileSync(file, 'utf8'), blob: Buffer.from(publicLine.split(' ')[1], 'base64'), publicLine };
}

/** A line of the key's base64 body, which no output may show. */
const bodyLine = (text: string) => text.split('\n')[2];

describe('identityEnv: a private key held in an environment variable', () => {
  it('is read from the variable, tried after the agent and before the identity files, and registered as a secret (whole and line by line)', () => {
    const { text } = keyPair();
    const keyFile = path.join(dir, 'file_key');
    keygen(keyFile);
    const plan = planAuthentication(server({ identityEnv: 'DEPLOY_KEY', identityFile: keyFile }), { DEPLOY_KEY: text });
    assert.deepEqual(plan.described, [`the key in the environment variable DEPLOY_KEY (identityEnv)`, `key ${keyFile}`]);
    assert.equal(plan.methods.length, 2);
    assert.deepEqual(plan.warnings, []);
    assert.equal(redact(`a tool printed ${bodyLine(text)} here`), 'a tool printed *** here');
    assert.ok(!redact(text).includes(bodyLine(text)));
    assert.equal(redact('-----BEGIN OPENSSH PRIVATE KEY-----'), '-----BEGIN OPENSSH PRIVATE KEY-----', 'the armour stays readable');
  });

  it('takes a key pasted with literal \\n sequences, or with CRLF line ends', () => {
    const { text } = keyPair();
    const literal = text.trim().split('\n').join('\\n');
    assert.equal(planAuthentication(server({ identityEnv: 'DEPLOY_KEY' }), { DEPLOY_KEY: literal }).methods.length, 1);
    assert.ok(!redact(`x ${literal} y`).includes(bodyLine(text)), 'the pasted text is a secret as it is');
    const crlf = text.replace(/\n/g, '\r\n');
    assert.equal(planAuthentication(server({ identityEnv: 'DEPLOY_KEY' }), { DEPLOY_KEY: crlf }).methods.length, 1);
  });

  it('an encrypted key takes the passphrase from passphraseEnv; a wrong or missing one names the variables, never the values', () => {
    const { text } = keyPair('env key passphrase');
    const env = { DEPLOY_KEY: text };
    process.env.ATTACHE_TEST_ENV_KEY_PASS = 'env key passphrase';
    try {
      const spec = { identityEnv: 'DEPLOY_KEY', passphraseEnv: 'ATTACHE_TEST_ENV_KEY_PASS' };
      assert.equal(planAuthentication(server(spec), env).methods.length, 1);
      process.env.ATTACHE_TEST_ENV_KEY_PASS = 'not it';
      assert.throws(
        () => planAuthentication(server(spec), env),
        /wrong passphrase for the key in the environment variable DEPLOY_KEY \(identityEnv\) \(from the environment variable ATTACHE_TEST_ENV_KEY_PASS\)/,
      );
      delete process.env.ATTACHE_TEST_ENV_KEY_PASS;
      assert.throws(
        () => planAuthentication(server(spec), env),
        /the key in the environment variable DEPLOY_KEY \(identityEnv\) is encrypted and the environment variable ATTACHE_TEST_ENV_KEY_PASS named by passphraseEnv is not set/,
      );
    } finally {
      delete process.env.ATTACHE_TEST_ENV_KEY_PASS;
    }
  });

  it('an unset or empty variable: an error naming the variable, the server and the config key, with the CI fix', () => {
    for (const [env, state] of [
      [{}, 'is not set'],
      [{ DEPLOY_KEY: ' \n' }, 'is empty'],
    ] as const) {
      assert.throws(
        () => planAuthentication(server({ name: 'production', identityEnv: 'DEPLOY_KEY' }), env),
        (error: unknown) => {
          assert.ok(error instanceof AttacheError);
          assert.match(
            error.message,
            new RegExp(`^server "production", config key "identityEnv": the environment variable DEPLOY_KEY named by identityEnv ${state}`),
          );
          assert.ok(error.message.includes(`env: DEPLOY_KEY: \${{ secrets.DEPLOY_KEY }}`), error.message);
          return true;
        },
      );
    }
  });

  it('text that is no private key: says what it is instead, without printing it', () => {
    const { text, publicLine } = keyPair();
    const cases: Array<[string, RegExp]> = [
      [`${publicLine} me@laptop`, /is not a private key: it holds a public key/],
      ['/home/runner/.ssh/id_ed25519', /is not a private key: it holds a path; to use a key file, name it with identityFile/],
      ['not a key at all, but long enough', /is not a private key: it has no -----BEGIN … PRIVATE KEY----- line/],
      [text.trim().replace(/\n/g, ' '), /is not a private key: it is on one line: its line breaks were lost/],
      [text.replace(bodyLine(text), 'AAAA'), /the key in the environment variable DEPLOY_KEY \(identityEnv\) cannot be read/],
    ];
    for (const [value, expected] of cases) {
      assert.throws(
        () => planAuthentication(server({ identityEnv: 'DEPLOY_KEY' }), { DEPLOY_KEY: value }),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(error.message, expected);
          assert.ok(!error.message.includes(value.trim().slice(20, 60)), `no part of the text in: ${error.message}`);
          return true;
        },
      );
    }
  });
});

describe('IdentityFile as OpenSSH reads it', () => {
  function sshConfig(lines: string): string {
    const file = path.join(tempDir('attache-sshcfg-'), 'config');
    writeFileSync(file, `Host 127.0.0.1\n${lines}\n`);
    return file;
  }

  it('a missing IdentityFile of the ssh config file is a warning (no such identity), and the other keys are still tried', () => {
    const { text } = keyPair();
    const present = path.join(dir, 'present_key');
    keygen(present);
    const missing = path.join(dir, 'missing_key');
    const config = sshConfig(`  IdentityFile ${missing}\n  IdentityFile ${present}`);
    const spec = { sshConfigFile: config, identityEnv: 'DEPLOY_KEY' };
    const plan = planAuthentication(server(spec), { DEPLOY_KEY: text });
    assert.deepEqual(plan.warnings, [`no such identity: ${missing} (IdentityFile in ${config}); trying the other keys`]);
    assert.deepEqual(plan.described, ['the key in the environment variable DEPLOY_KEY (identityEnv)', `key ${present}`]);
  });

  it('with nothing else left, the error names the missing file and suggests identityEnv', () => {
    const missing = path.join(dir, 'missing_key');
    const config = sshConfig(`  IdentityFile ${missing}`);
    assert.throws(
      () => planAuthentication(server({ sshConfigFile: config }), {}),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(
          error.message,
          new RegExp(`no SSH agent and no private key to authenticate with \\(IdentityFile ${missing} in ${config} does not exist\\)`),
        );
        assert.match(error.message, /identityEnv/);
        return true;
      },
    );
  });

  it('a missing identityFile named in the options stays an error; the default keys stay silent', () => {
    const { text } = keyPair();
    const missing = path.join(dir, 'named_but_missing');
    assert.throws(
      () => planAuthentication(server({ identityFile: missing, identityEnv: 'DEPLOY_KEY' }), { DEPLOY_KEY: text }),
      new RegExp(`config key "identityFile", file ${missing}: private key ${missing} does not exist`),
    );
    const plan = planAuthentication(server({ identityEnv: 'DEPLOY_KEY' }), { DEPLOY_KEY: text });
    assert.deepEqual(plan.warnings, [], 'HOME has no ~/.ssh: the default keys are skipped without a word');
    assert.equal(plan.methods.length, 1);
  });
});

describe('knownHostsEnv: known_hosts lines held in an environment variable', () => {
  const host = keyPair();
  const other = keyPair();
  const name = '[127.0.0.1]:2222';
  const hashed = (host: string) => {
    const salt = Buffer.from('fedcba9876543210fedc');
    return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(host).digest('base64')}`;
  };

  it('trusts a key the variable holds: plain, hashed, or among other lines', () => {
    const spec = { knownHostsEnv: 'DEPLOY_KNOWN_HOSTS' };
    for (const lines of [`${name} ${host.publicLine}`, `other.example ${other.publicLine}\n${hashed(name)} ${host.publicLine}\n`]) {
      assert.equal(verifyHostKey(server(spec), host.blob, { DEPLOY_KNOWN_HOSTS: lines }), undefined, lines);
    }
    assert.equal(
      verifyHostKey(server(spec), host.blob, { DEPLOY_KNOWN_HOSTS: `# pinned\\n${name} ${host.publicLine}` }),
      undefined,
      'lines joined by literal \\n',
    );
    assert.ok(verifyHostKey(server(spec), host.blob, { DEPLOY_KNOWN_HOSTS: `${hashed('[127.0.0.1]:2223')} ${host.publicLine}` }));
  });

  it('is read beside knownHostsFile as OpenSSH reads two files: the key in either is known; @revoked in either refuses; a different key in either is a change', () => {
    const file = path.join(tempDir('attache-kh-'), 'known_hosts');
    const spec = { knownHostsEnv: 'DEPLOY_KNOWN_HOSTS', knownHostsFile: file };
    writeFileSync(file, `${name} ${host.publicLine}\n`);
    assert.equal(verifyHostKey(server(spec), host.blob, { DEPLOY_KNOWN_HOSTS: `${name} ${other.publicLine}` }), undefined);
    writeFileSync(file, `@revoked * ${host.publicLine}\n`);
    assert.match(
      verifyHostKey(server(spec), host.blob, { DEPLOY_KNOWN_HOSTS: `${name} ${host.publicLine}` })?.message ?? '',
      new RegExp(`is marked @revoked in ${file}:1; refusing to connect`),
    );
    writeFileSync(file, '');
    const changed = verifyHostKey(server(spec), host.blob, { DEPLOY_KNOWN_HOSTS: `# pinned\n${name} ${other.publicLine}` });
    assert.match(
      changed?.message ?? '',
      /has CHANGED: .* does not match line 2 of the environment variable DEPLOY_KNOWN_HOSTS \(knownHostsEnv\)/,
    );
    assert.match(changed?.message ?? '', /replace the old line in DEPLOY_KNOWN_HOSTS/);
  });

  it('named but unset or empty: an error naming the variable, never an empty list', () => {
    const spec = server({ name: 'production', knownHostsEnv: 'DEPLOY_KNOWN_HOSTS' });
    assert.throws(
      () => knownHostsSources(spec, {}),
      /^AttacheError: server "production", config key "knownHostsEnv": the environment variable DEPLOY_KNOWN_HOSTS named by knownHostsEnv is not set/,
    );
    assert.throws(() => verifyHostKey(spec, host.blob, { DEPLOY_KNOWN_HOSTS: '' }), /DEPLOY_KNOWN_HOSTS named by knownHostsEnv is empty/);
  });

  it('with acceptNewHostKeys, a new key is accepted and recorded in knownHostsFile; the variable is left as it is', () => {
    const file = path.join(tempDir('attache-kh-'), 'known_hosts');
    const env = { DEPLOY_KNOWN_HOSTS: `other.example ${other.publicLine}` };
    const spec = server({ knownHostsEnv: 'DEPLOY_KNOWN_HOSTS', knownHostsFile: file, acceptNewHostKeys: true });
    assert.equal(verifyHostKey(spec, host.blob, env), undefined);
    assert.equal(readFileSync(file, 'utf8'), `${name} ${host.publicLine}\n`);
    assert.equal(env.DEPLOY_KNOWN_HOSTS, `other.example ${other.publicLine}`);
  });
});

describe('the unknown-host refusal', () => {
  const host = keyPair();
  const line = `[127.0.0.1]:2222 ${host.publicLine}`;

  it('gives the exact known_hosts line, the SHA256 fingerprint and how to check it on the server', () => {
    const error = verifyHostKey(server(), host.blob, {});
    assert.ok(error);
    assert.match(error.message, /the host \[127\.0\.0\.1\]:2222 is not in .*no-known-hosts; its key is ssh-ed25519 SHA256:/);
    assert.ok(error.message.includes(fingerprint(host.blob)), error.message);
    assert.ok(
      error.message.split('\n').some((l) => l.trim() === line),
      `the line on a line of its own:\n${error.message}`,
    );
    assert.ok(error.message.includes('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub'), error.message);
    assert.match(error.message, /acceptNewHostKeys: true/);
    const rsa = keyPair('', 'rsa');
    assert.ok(verifyHostKey(server(), rsa.blob, {})?.message.includes('ssh-keygen -lf /etc/ssh/ssh_host_rsa_key.pub'));
  });

  it('in CI: store the line in a CI secret named by knownHostsEnv; no ssh-keyscan, no acceptNewHostKeys', () => {
    for (const [spec, env, where] of [
      [{}, { CI: 'true' }, /store this line in a CI secret and name its variable with knownHostsEnv/],
      [
        { knownHostsEnv: 'DEPLOY_KNOWN_HOSTS' },
        { CI: '1', DEPLOY_KNOWN_HOSTS: 'other.example ssh-ed25519 AAAA' },
        /is not in the environment variable DEPLOY_KNOWN_HOSTS \(knownHostsEnv\) nor in .*no-known-hosts;[\s\S]*store this line in a CI secret \(the one behind DEPLOY_KNOWN_HOSTS\)/,
      ],
    ] as const) {
      const message = verifyHostKey(server(spec), host.blob, env)?.message ?? '';
      assert.match(message, where);
      assert.ok(message.includes(line) && message.includes(fingerprint(host.blob)), message);
      assert.doesNotMatch(message, /ssh-keyscan|acceptNewHostKeys/);
    }
  });

  it('CI counts as set when non-empty and not "false"', () => {
    assert.deepEqual(
      ['true', '1', 'yes', '', 'false', 'FALSE', undefined].map((CI) => inCi({ CI })),
      [true, true, true, false, false, false, false],
    );
  });
});

describe('a jump host', () => {
  it("is checked and logged into with the server's environment secrets: one CI secret may serve both", () => {
    const spec = jumpSpec(
      server({
        proxyJump: 'root@bastion:2200',
        identityEnv: 'DEPLOY_KEY',
        knownHostsEnv: 'DEPLOY_KNOWN_HOSTS',
        passphraseEnv: 'DEPLOY_PASS',
      }),
    );
    assert.ok(typeof spec === 'object');
    assert.deepEqual(
      [spec.host, spec.port, spec.identityEnv, spec.knownHostsEnv, spec.passphraseEnv],
      ['bastion', 2200, 'DEPLOY_KEY', 'DEPLOY_KNOWN_HOSTS', 'DEPLOY_PASS'],
    );
  });
});
