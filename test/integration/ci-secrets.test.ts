import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/fixtures';
import { startGulpChild } from '../support/gulp-child';
import { createSite, type Site } from '../support/preset';
import { logMark } from '../support/streams';
import { createHome, keygen, startSshd, type SshServer } from '../../support/sshd';

/**
 * A deploy from a CI job, through the real gulp CLI, with the SSH secrets in the job's
 * environment and nothing else: HOME is an empty directory (no ~/.ssh at all), no agent, CI and
 * GITHUB_ACTIONS set, the private key's text in DEPLOY_KEY (identityEnv) and the server's
 * known_hosts line in DEPLOY_KNOWN_HOSTS (knownHostsEnv). The key never reaches the output or a file.
 */

/** A private key's text, its public line and the lines of its base64 body; the key file is removed at once. */
function secretKey(passphrase = ''): { text: string; publicKey: string; bodyLines: string[] } {
  const file = path.join(tempDir('attache-ci-key-'), 'id_ed25519');
  keygen(file, passphrase);
  const text = readFileSync(file, 'utf8');
  const publicKey = readFileSync(`${file}.pub`, 'utf8').trim();
  rmSync(path.dirname(file), { recursive: true, force: true }); // from now on the key is only in this process and the child's env
  // The first line of the base64 body is the format's header, the same in every unencrypted ed25519 key: the others are this key's.
  const bodyLines = text
    .split('\n')
    .filter((line) => line.length >= 16 && !line.startsWith('-----'))
    .slice(1);
  return { text, publicKey, bodyLines };
}

/** The files among `files` that contain any of `needles`. */
function filesHolding(files: Iterable<string>, needles: string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue; // gone since it was listed (another test's file)
    }
    if (needles.some((needle) => text.includes(needle))) found.push(file);
  }
  return found;
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const stat = lstatSync(full);
    if (stat.isDirectory()) yield* walk(full);
    else if (stat.isFile() && stat.size < 8 << 20) yield full;
  }
}

/**
 * Files under /tmp modified since `marker` was: other tests' too, so only the new ones. node_modules
 * and .git directories are left out (large, and not where a deploy writes; the project's own
 * .git and the server's mirror are walked whole with their trees).
 */
function tmpFilesSince(marker: string): string[] {
  const result = spawnSync(
    'find',
    [
      '/tmp',
      '-xdev',
      '(',
      '-name',
      'node_modules',
      '-o',
      '-name',
      '.git',
      ')',
      '-prune',
      '-o',
      '-type',
      'f',
      '-newer',
      marker,
      '-size',
      '-8M',
      '-print0',
    ],
    { maxBuffer: 1 << 30 },
  );
  return result.stdout.toString().split('\0').filter(Boolean);
}

describe('SSH secrets from the environment, as a CI job deploys (gulp CLI, real sshd)', () => {
  let sshd: SshServer;
  let site: Site;
  let home: string; // the job's HOME: empty
  let marker: string; // touched when the tests start: /tmp files newer than it were written by them (or beside them)
  const key = secretKey();
  // Made here, not written in this file: tsx's cache under /tmp holds this file's compiled text.
  const passphrase = `ci-passphrase-${randomBytes(6).toString('hex')}`;
  const encrypted = secretKey(passphrase);
  const refusedKey = secretKey(); // sshd does not authorise it
  let knownLine: string;
  let fingerprint: string;

  before(async () => {
    marker = path.join(tempDir('attache-ci-marker-'), 'started');
    writeFileSync(marker, '');
    const serverHome = createHome({ setEnv: false });
    sshd = await startSshd(serverHome, { authorizedKeys: [key.publicKey, encrypted.publicKey] });
    knownLine = `[127.0.0.1]:${sshd.port} ${sshd.hostKey}`;
    fingerprint = execFileSync('ssh-keygen', ['-lf', `${sshd.hostKeyFile}.pub`], { encoding: 'utf8' }).split(' ')[1];
    site = createSite({ target: { host: '127.0.0.1', port: sshd.port, user: 'root' } });
    home = tempDir('attache-ci-home-');
  });
  after(() => sshd?.stop());

  /** The server's entry: the site's, with the CI secrets' options and `extra`. */
  function configure(extra: Record<string, unknown> = {}): void {
    const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
    config.servers.production = { ...site.server, identityEnv: 'DEPLOY_KEY', knownHostsEnv: 'DEPLOY_KNOWN_HOSTS', ...extra };
    writeFileSync(site.configFile, JSON.stringify(config, null, 4));
  }

  /** gulp deploy as a CI job runs it: the job's env holds the secrets, and nothing else of SSH's. */
  async function deployInCi(env: NodeJS.ProcessEnv): Promise<{ code: number | null; lines: string[]; out: string }> {
    const child = startGulpChild({
      cwd: site.cwd,
      env: {
        HOME: home,
        SSH_AUTH_SOCK: undefined,
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        DEPLOY_KEY: key.text,
        DEPLOY_KNOWN_HOSTS: `${knownLine}\n`,
        ...env,
      },
    });
    const { code } = await child.exited;
    return { code, lines: child.lines, out: child.lines.join('\n') };
  }

  // The lines the runner shows: it reads its commands (the masks among them), it does not print them.
  const holding = (lines: string[], needles: string[]) =>
    lines.filter((line) => !line.startsWith('::add-mask::') && needles.some((needle) => line.includes(needle)));

  it('(a) deploys with the key and the host key from the environment; the key is in no output line and no file', async () => {
    configure();
    const { code, lines, out } = await deployInCi({});
    assert.equal(code, 0, out);
    assert.match(out, /deploy summary .*: deployed \d{14}/);
    assert.ok(site.liveId(), 'live points to the new release');
    assert.deepEqual(holding(lines, key.bodyLines), [], 'no line of the key in the output');
    assert.ok(
      key.bodyLines.every((line) => lines.includes(`::add-mask::${line}`)),
      'the runner is told to mask each line of the key',
    );
    assert.deepEqual(filesHolding([...walk(site.root), ...walk(site.cwd)], key.bodyLines), [], 'under the deploy root and the project');
    assert.deepEqual(readdirSync(home), [], 'nothing written to HOME: no key file, no known_hosts');
  });

  it('(b) knownHostsEnv naming an unset variable: refused, naming it', async () => {
    configure();
    const { code, out } = await deployInCi({ DEPLOY_KNOWN_HOSTS: undefined });
    assert.equal(code, 1, out);
    assert.match(
      out,
      /server "production", step "connect", config key "knownHostsEnv": the environment variable DEPLOY_KNOWN_HOSTS named by knownHostsEnv is not set/,
    );
  });

  it("(b) the variable holding only another host's line: refused before authenticating, with the fingerprint and the exact line to store", async () => {
    configure();
    const mark = logMark(sshd.logFile);
    // A key sshd would reject: had the client authenticated first, the error would be a rejected key.
    const { code, lines, out } = await deployInCi({
      DEPLOY_KEY: refusedKey.text,
      DEPLOY_KNOWN_HOSTS: `[127.0.0.1]:${sshd.port + 1} ${sshd.hostKey}\nother.example.com ${sshd.hostKey}\n`,
    });
    assert.equal(code, 1, out);
    assert.match(
      out,
      new RegExp(`the host \\[127\\.0\\.0\\.1\\]:${sshd.port} is not in the environment variable DEPLOY_KNOWN_HOSTS \\(knownHostsEnv\\)`),
    );
    assert.ok(out.includes(fingerprint), `the fingerprint ${fingerprint} in:\n${out}`);
    assert.ok(
      lines.some((line) => line.trim() === knownLine),
      `the line to store, on a line of its own:\n${out}`,
    );
    assert.match(out, /store this line in a CI secret \(the one behind DEPLOY_KNOWN_HOSTS\)/);
    assert.match(out, /ssh-keygen -lf \/etc\/ssh\/ssh_host_ed25519_key\.pub/);
    assert.doesNotMatch(out, /ssh-keyscan|acceptNewHostKeys|authentication as/);
    const log = readFileSync(sshd.logFile, 'utf8').slice(mark);
    assert.match(log, /Connection from 127\.0\.0\.1/, 'the client reached sshd');
    assert.doesNotMatch(log, /publickey|Accepted|Failed|Postponed/, `no authentication attempt in sshd's log:\n${log}`);
    assert.deepEqual(holding(lines, refusedKey.bodyLines), []);
    assert.deepEqual(readdirSync(home), [], 'nothing recorded in HOME');
  });

  it('(c) an encrypted key in the variable, its passphrase from passphraseEnv: deploys; the passphrase is not in the output', async () => {
    configure({ passphraseEnv: 'DEPLOY_KEY_PASSPHRASE' });
    const before = site.liveId();
    const { code, lines, out } = await deployInCi({ DEPLOY_KEY: encrypted.text, DEPLOY_KEY_PASSPHRASE: passphrase });
    assert.equal(code, 0, out);
    assert.notEqual(site.liveId(), before, 'a new release is live');
    assert.deepEqual(holding(lines, [passphrase, passphrase.slice(-12), ...encrypted.bodyLines]), []);
  });

  it('(d) an ssh config file whose IdentityFile is missing: a warning, and the deploy goes on with identityEnv', async () => {
    const missing = path.join(tempDir('attache-ci-sshcfg-'), 'no_such_key');
    const sshConfig = path.join(path.dirname(missing), 'config');
    writeFileSync(sshConfig, `Host 127.0.0.1\n  IdentityFile ${missing}\n`);
    configure({ sshConfigFile: sshConfig });
    const before = site.liveId();
    const { code, lines, out } = await deployInCi({});
    assert.equal(code, 0, out);
    assert.ok(
      lines.some((line) =>
        line.includes(`[production] no such identity: ${missing} (IdentityFile in ${sshConfig}); trying the other keys`),
      ),
      out,
    );
    assert.notEqual(site.liveId(), before, 'a new release is live');
    assert.deepEqual(holding(lines, key.bodyLines), []);
  });

  it('no file written while these deploys ran holds a line of either key or the passphrase (/tmp, the deploy root, the project)', () => {
    const needles = [...key.bodyLines, ...encrypted.bodyLines, ...refusedKey.bodyLines, passphrase];
    // The scan's own check: a line of the key planted in a new file deep under /tmp is found.
    const planted = path.join(tempDir('attache-ci-planted-'), 'a', 'b', 'leak.txt');
    mkdirSync(path.dirname(planted), { recursive: true });
    writeFileSync(planted, `x ${key.bodyLines[1]} y\n`);
    try {
      const files = [...tmpFilesSince(marker), ...walk(site.root), ...walk(site.cwd)];
      assert.deepEqual(filesHolding(files, needles), [planted]);
    } finally {
      rmSync(path.dirname(path.dirname(path.dirname(planted))), { recursive: true, force: true });
    }
  });
});
