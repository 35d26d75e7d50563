import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/fixtures';
import { createSite, exists, type Site, type TargetSpec } from '../support/preset';
import { acceptedLogins, createHome, keygen, startSshd, trust, type SshServer } from '../../support/sshd';

/**
 * Bad input against a real sshd: shell metacharacters in branch and release names, asset paths
 * that leave the release, broken config files, a missing key and a wrong passphrase. Each must
 * fail with a clear error before anything on the server changes (the server root is compared file
 * by file, hashes and modes, before and after) and, for input known before connecting, before any
 * SSH login. Awkward but legal input (a root path and asset names with spaces, quotes, `$(…)` and
 * non-ASCII letters) must simply work.
 */

const PWNED = '/tmp/pwned';

/** Every path under `dir`: type, mode, link target or content hash. */
function tree(dir: string, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const name of readdirSync(path.join(dir, prefix)).sort()) {
    const relative = prefix ? `${prefix}/${name}` : name;
    const full = path.join(dir, relative);
    const stat = lstatSync(full);
    const mode = (stat.mode & 0o7777).toString(8);
    if (stat.isSymbolicLink()) out[relative] = `link:${readlinkSync(full)}`;
    else if (stat.isDirectory()) {
      out[relative] = `dir:${mode}`;
      tree(dir, relative, out);
    } else out[relative] = `file:${mode}:${createHash('sha256').update(readFileSync(full)).digest('hex')}`;
  }
  return out;
}

describe('bad input, against a real sshd', () => {
  let sshd: SshServer;
  let target: TargetSpec;
  let site: Site;

  before(async () => {
    const home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
    target = { host: '127.0.0.1', port: sshd.port, user: 'root' };
    site = createSite({ target });
    await site.run('deploy');
    writeFileSync(path.join(site.root, '.env'), 'APP_NAME="Bad Input"\n');
    writeFileSync(path.join(site.root, 'storage/app/upload.bin'), randomBytes(2048));
    rmSync(PWNED, { force: true });
  });
  after(() => sshd.stop());

  /** A config file next to the site's, with the server entry changed; returns its name (for the `config` option). */
  function configWith(name: string, server: Record<string, unknown>): string {
    const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
    Object.assign(config.servers.production, server);
    writeFileSync(path.join(site.cwd, name), JSON.stringify(config, null, 4) + '\n');
    return name;
  }

  /**
   * Runs a task that must fail; checks the server root is exactly as before, that no SSH login
   * happened (when `connects` is false) and that no injected command ran. Returns the error.
   */
  async function refused(
    task: Parameters<Site['fail']>[0],
    flags: string[],
    extra: Parameters<Site['fail']>[2] = {},
    connects = false,
  ): Promise<Error> {
    const was = tree(site.root);
    const logins = acceptedLogins(sshd);
    const { error } = await site.fail(task, flags, extra);
    assert.deepEqual(tree(site.root), was, `the server root is byte for byte as before (${error.message})`);
    assert.equal(existsSync(PWNED), false, `${PWNED} was created: an injected command ran`);
    if (!connects) assert.equal(acceptedLogins(sshd), logins, `no SSH login before the error: ${error.message}`);
    return error;
  }

  describe('branch names with shell metacharacters', () => {
    const bad = [
      'a;touch /tmp/pwned',
      '$(touch /tmp/pwned)',
      '`touch /tmp/pwned`',
      'main\ntouch /tmp/pwned',
      '-x',
      '--upload-pack=touch /tmp/pwned',
      "a' ; touch /tmp/pwned; '",
    ];

    for (const branch of bad) {
      it(`--branch=${JSON.stringify(branch)} is refused before connecting`, async () => {
        const error = await refused('deploy', [`--branch=${branch}`]);
        assert.ok(error.message.includes(`${JSON.stringify(branch)} is not a usable branch name: it `), error.message);
        assert.match(error.message, /A branch name may use letters, digits/);
      });
    }

    it('--branch given as a separate word is checked the same way', async () => {
      const error = await refused('deploy', ['--branch', '$(touch /tmp/pwned)']);
      assert.match(error.message, /is not a usable branch name/);
    });

    for (const branch of bad) {
      it(`"branch": ${JSON.stringify(branch)} in .attache.json is refused, naming the key`, async () => {
        const error = await refused('deploy', [], { config: configWith('.attache.branch.json', { branch }) });
        const file = path.join(site.cwd, '.attache.branch.json');
        assert.ok(
          error.message.includes(
            `config key "servers.production.branch", file ${file}: expected a git branch name, got ${JSON.stringify(branch)}`,
          ),
          error.message,
        );
        assert.ok(error.message.includes(path.join(site.cwd, '.attache.branch.json')), 'the error names the file');
      });
    }
  });

  describe('release names for activate --release=', () => {
    const bad = ['x;rm -rf /', '../x', '-rf', '20260101000000\nrm -rf /', '$(touch /tmp/pwned)', '../../live'];

    for (const release of bad) {
      it(`--release=${JSON.stringify(release)} is refused with a clear error; nothing on the server changes`, async () => {
        const error = await refused('activate', [`--release=${release}`], {}, true);
        assert.ok(error.message.includes(`${JSON.stringify(release)} is not a release id`), error.message);
        assert.match(error.message, /A release id is 14 digits \(YYYYMMDDHHMMSS\)/);
        assert.ok(!exists(path.join(site.root, '.attache-lock')));
      });
    }

    it('a bad --release is refused before connecting and taking the lock (like every other mistake in the input)', async () => {
      // Taking the lock is a change on the server (and with another deploy holding it, the user
      // would be told about the lock instead of the typo).
      await refused('activate', ['--release=x;rm -rf /']);
    });
  });

  describe('a root path with spaces, single and double quotes, $(…) and non-ASCII letters', () => {
    it('deploys twice and rolls back', async () => {
      const parent = tempDir('attache-root-');
      // No "/" in a directory name: the injected commands touch "pwned" in whatever directory they would run in.
      const name = `my "app's" $(touch pwned) \`touch pwned\` ünïcødé röot`;
      const root = path.join(parent, name);
      const odd = createSite({ target, root });
      await odd.run('deploy');
      await odd.run('deploy');
      const [first, second] = odd.releases();
      assert.ok(first && second, odd.releases().join(', '));
      assert.equal(odd.live(), `releases/${second}`);
      for (const id of [first, second]) {
        assert.equal(odd.marker(id).status, 'ready');
        assert.ok(exists(path.join(odd.release(id), 'vendor/autoload.php')));
        assert.deepEqual(
          readFileSync(path.join(odd.release(id), 'public/js/app.js.map')),
          readFileSync(path.join(odd.cwd, 'public/js/app.js.map')),
        );
        assert.equal(readlinkSync(path.join(odd.release(id), 'storage')), '../../storage');
      }
      await odd.run('rollback');
      assert.equal(odd.live(), `releases/${first}`);
      assert.ok(!exists(path.join(root, '.attache-lock')));
      assert.deepEqual(readdirSync(parent), [name], 'nothing was made beside the root (a path split at a space or quote)');
      for (const dir of [root, parent, path.join(root, 'releases'), odd.release(first), odd.release(second), '/root', '/']) {
        assert.equal(existsSync(path.join(dir, 'pwned')), false, `no injected command ran in ${dir}`);
      }
    });
  });

  describe('assets whose remote path leaves the release', () => {
    const cases: Array<[string, unknown, string]> = [
      ['"../outside" (object form)', { 'public/js': '../outside' }, 'assets.public/js'],
      ['"/etc/x" (object form)', { 'public/js': '/etc/x' }, 'assets.public/js'],
      ['"public/../../x" (object form)', { 'public/js': 'public/../../x' }, 'assets.public/js'],
      ['"../outside" (array of paths)', ['../outside'], 'assets[0]'],
      ['"/etc/x" (array of { local, remote })', [{ local: 'public/js', remote: '/etc/x' }], 'assets[0].remote'],
      ['"public/../../x" (array of { local, remote })', [{ local: 'public/js', remote: 'public/../../x' }], 'assets[0].remote'],
    ];
    for (const [what, assets, key] of cases) {
      it(`${what} is refused, naming the key, before connecting`, async () => {
        const error = await refused('deploy', [], { config: configWith('.attache.assets.json', { assets }) });
        assert.ok(error.message.includes(`config key "servers.production.${key}", file `), error.message);
        assert.match(error.message, /: expected a path/);
        assert.match(error.message, /it leaves the release directory|it is absolute: it must be a path inside the release/);
      });
    }
  });

  describe('asset file names with spaces, quotes, a leading dash, $(…), backticks and non-ASCII letters', () => {
    it('arrive byte for byte in the release, and nothing runs', async () => {
      const names = [
        'with space.js',
        "single'quote.js",
        'double"quote.js',
        '-leading-dash.js',
        '--help',
        '$(touch x).js',
        '`touch x`.js',
        'semi;colon&amp.js',
        'ünïcødé-名前.js',
        'new\nline.js',
      ];
      const dir = path.join(site.cwd, 'public/js/odd names');
      mkdirSync(dir, { recursive: true });
      for (const name of names) writeFileSync(path.join(dir, name), Buffer.concat([Buffer.from(name + '\n'), randomBytes(300)]));
      const before = site.releases();
      try {
        await site.run('deploy');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const id = site.liveId()!;
      assert.ok(!before.includes(id));
      const release = path.join(site.release(id), 'public/js/odd names');
      assert.deepEqual(readdirSync(release).sort(), [...names].sort(), 'every name arrived as it is, and nothing else (no temporary file)');
      for (const name of names) {
        const content = readFileSync(path.join(release, name));
        assert.equal(content.subarray(0, Buffer.byteLength(name) + 1).toString(), name + '\n', `${JSON.stringify(name)} has its own bytes`);
        assert.equal(content.length, Buffer.byteLength(name) + 1 + 300);
      }
      assert.equal(existsSync(path.join(site.release(id), 'x')), false);
      assert.equal(existsSync(PWNED), false);
    });
  });

  describe('a broken .attache.json', () => {
    it('malformed (a missing comma): the error names the file and line:column, before connecting', async () => {
      const text = readFileSync(site.configFile, 'utf8').replace(
        '"repository": "file://' + site.repo.bare + '",',
        '"repository": "file://' + site.repo.bare + '"',
      );
      assert.notEqual(text, readFileSync(site.configFile, 'utf8'));
      writeFileSync(path.join(site.cwd, '.attache.malformed.json'), text);
      const line = text.split('\n').findIndex((l) => l.includes('"servers"')) + 1;
      const column = text.split('\n')[line - 1].indexOf('"servers"') + 1;
      const error = await refused('deploy', [], { config: '.attache.malformed.json' });
      assert.ok(
        error.message.startsWith(
          `file ${path.join(site.cwd, '.attache.malformed.json')}: invalid JSON at line ${line}, column ${column}: `,
        ),
        error.message,
      );
      assert.match(error.message, /expected "," or "}" after a property value/);
    });

    it('truncated: the error names the file, the line:column where it ends, and says it ends early', async () => {
      const whole = readFileSync(site.configFile, 'utf8');
      const text = whole.slice(0, Math.floor(whole.length / 2));
      writeFileSync(path.join(site.cwd, '.attache.truncated.json'), text);
      const lines = text.split('\n');
      const error = await refused('deploy', [], { config: '.attache.truncated.json' });
      assert.ok(
        error.message.includes(
          `file ${path.join(site.cwd, '.attache.truncated.json')}: invalid JSON at line ${lines.length}, column ${lines.at(-1)!.length + 1}`,
        ),
        error.message,
      );
      assert.match(error.message, /the end of the file/);
      assert.match(error.message, /The file ends early: is it truncated/);
    });

    it('empty: says so, naming the file', async () => {
      writeFileSync(path.join(site.cwd, '.attache.empty.json'), '');
      const error = await refused('deploy', [], { config: '.attache.empty.json' });
      assert.ok(
        error.message.startsWith(`file ${path.join(site.cwd, '.attache.empty.json')}: the configuration file is empty`),
        error.message,
      );
    });
  });

  describe('keys', () => {
    it('a missing private key (identityFile pointing nowhere): a clear error, before connecting', async () => {
      const missing = path.join(tempDir('attache-nokey-'), 'id_ed25519');
      const error = await refused('deploy', [], { config: configWith('.attache.key.json', { identityFile: missing }) });
      assert.match(
        error.message,
        new RegExp(`server "production".*: private key ${missing.replace(/[.]/g, '\\.')} does not exist`),
        error.message,
      );
      assert.match(error.message, /identityFile/);
    });

    it('a passphrase-protected key with the wrong passphrase (passphraseEnv): a clear error that never shows it', async () => {
      const key = path.join(tempDir('attache-key-'), 'id_ed25519');
      keygen(key, 'the right passphrase 1234');
      process.env.ATTACHE_BAD_INPUT_PASSPHRASE = 'wrong-passphrase-4711';
      try {
        const error = await refused('deploy', [], {
          config: configWith('.attache.key.json', { identityFile: key, passphraseEnv: 'ATTACHE_BAD_INPUT_PASSPHRASE' }),
        });
        assert.match(error.message, new RegExp(`wrong passphrase for private key ${key.replace(/[.]/g, '\\.')}`), error.message);
        assert.match(error.message, /passphraseEnv|ssh-add/);
        assert.ok(!error.message.includes('wrong-passphrase-4711'), 'the passphrase is not in the error');
      } finally {
        delete process.env.ATTACHE_BAD_INPUT_PASSPHRASE;
      }
    });

    it('a passphrase-protected key whose passphraseEnv variable is not set: names the variable', async () => {
      const key = path.join(tempDir('attache-key-'), 'id_ed25519');
      keygen(key, 'the right passphrase 1234');
      delete process.env.ATTACHE_UNSET_PASSPHRASE;
      const error = await refused('deploy', [], {
        config: configWith('.attache.key.json', { identityFile: key, passphraseEnv: 'ATTACHE_UNSET_PASSPHRASE' }),
      });
      assert.match(
        error.message,
        /is encrypted and the environment variable ATTACHE_UNSET_PASSPHRASE named by passphraseEnv is not set/,
        error.message,
      );
    });
  });

  describe('--env naming a file that does not exist, on a first deploy', () => {
    it('is refused with an error naming the file, before the server root is even created', async () => {
      const fresh = createSite({ target });
      const logins = acceptedLogins(sshd);
      const { error } = await fresh.fail('deploy', ['--env=production.env']);
      assert.ok(error.message.includes(path.join(fresh.cwd, 'production.env')), error.message);
      assert.equal(
        exists(fresh.root),
        false,
        `the root was not created (found: ${exists(fresh.root) ? JSON.stringify(tree(fresh.root)) : ''})`,
      );
      assert.equal(acceptedLogins(sshd), logins, 'no SSH login before the error');
    });
  });

  it('after all of it, the site still deploys and the injected commands never ran', async () => {
    const was = site.liveId();
    await site.run('deploy');
    assert.notEqual(site.liveId(), was);
    assert.equal(existsSync(PWNED), false);
  });
});
