import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path/posix';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config';
import { RemoteCommandError, toolLine } from '../../src/errors';
import { redact, urlCredentials } from '../../src/log';
import { temporaryBeside } from '../../src/remote/temporary';
import { planAuthentication } from '../../src/ssh/auth';
import { resolveServer } from '../../src/ssh/resolve';
import { tempDir } from '../support/fixtures';
import { keygen } from '../../support/sshd';

describe("a failed remote command leads with the tool's own error line", () => {
  it('git: skips "Cloning into" and warnings, takes the fatal line', () => {
    const stderr =
      "Cloning into bare repository '/srv/app/.attache-mirror.git'...\nwarning: Could not find remote branch nope to clone.\nfatal: Remote branch nope not found in upstream origin\n";
    assert.equal(toolLine(stderr), 'fatal: Remote branch nope not found in upstream origin');
  });

  it('mkdir, composer and a plain message: the line that says what is wrong', () => {
    assert.equal(
      toolLine("mkdir: cannot create directory '/srv/app/releases': Permission denied\n"),
      "mkdir: cannot create directory '/srv/app/releases': Permission denied",
    );
    const composer =
      'Installing dependencies from lock file\nVerifying lock file contents can be installed on current platform.\nYour lock file does not contain a compatible set of packages. Please run composer update.\n';
    assert.equal(toolLine(composer), 'Your lock file does not contain a compatible set of packages. Please run composer update.');
    assert.equal(toolLine('it is not fit to serve\n'), 'it is not fit to serve');
    assert.equal(toolLine(''), undefined);
  });

  it('the message: exit code and the tool line first; the long command shortened after its secrets are redacted', () => {
    const token = 'ghp_0123456789abcdefTOKEN';
    const command = `${'x'.repeat(200)} git clone https://deploy:${token}@git.example.com/app.git ${'y'.repeat(300)}`;
    const error = new RemoteCommandError({
      server: 'web1',
      step: 'clone',
      command,
      exitCode: 128,
      output: 'fatal: repository not found',
      stderr: 'fatal: repository not found\n',
    });
    assert.equal(error.message.split('\n')[0], 'server "web1", step "clone": command exited with code 128: fatal: repository not found');
    const shown = /^ {2}command: (.*)$/m.exec(error.message)?.[1] ?? '';
    assert.ok(shown.startsWith('x'.repeat(200) + ' git clone https://deploy:***@git.'), shown);
    assert.match(shown, /… \(\d+ more characters; --verbose logs the whole command\)$/);
    assert.ok(!error.message.includes(token.slice(0, 8)), 'no part of the token');
  });

  it('with nothing on stderr, says only how the command ended', () => {
    const error = new RemoteCommandError({ server: 'web1', command: 'exit 3', exitCode: 3, stderr: '' });
    assert.equal(error.message.split('\n')[0], 'server "web1": command exited with code 3');
  });
});

describe('credentials in URLs', () => {
  it('redact masks the password of any scheme://user:password@ and keeps the rest readable', () => {
    assert.equal(
      redact("fatal: unable to access 'https://deploy:t0k3n@git.example.com/app.git/'"),
      "fatal: unable to access 'https://deploy:***@git.example.com/app.git/'",
    );
    assert.equal(redact('curl http://monitor:p@ss-w0rd@127.0.0.1/up'), 'curl http://monitor:***@127.0.0.1/up');
    assert.equal(
      redact('git clone ssh://git@github.com:22/acme/app.git'),
      'git clone ssh://git@github.com:22/acme/app.git',
      'a user alone is no secret',
    );
  });

  it('a config with a credential in its repository, health check or hook registers the passwords (decoded too) as secrets', () => {
    assert.deepEqual(urlCredentials('https://u:a%40b%2Fc@h/x'), ['a%40b%2Fc', 'a@b/c']);
    const dir = tempDir('attache-config-');
    writeFileSync(
      path.join(dir, '.attache.json'),
      JSON.stringify({
        repository: 'https://deploy:repo-T0ken-1@git.example.com/app.git',
        servers: {
          production: {
            host: 'web1',
            root: '/srv/app',
            healthcheck: { url: 'https://m:health-S3cret@app.example.com/up' },
            scripts: { 'after-live': ['curl https://h:hook-S3cret@hooks.example.com'] },
          },
        },
      }),
    );
    const { servers } = loadConfig('.attache.json', { cwd: dir });
    for (const secret of ['repo-T0ken-1', 'health-S3cret', 'hook-S3cret'])
      assert.ok(servers.production.secrets.includes(secret), `${secret} in ${servers.production.secrets}`);
  });
});

describe('the temporary name of an atomic write', () => {
  it('stays within 255 bytes for a 250-byte name, in the same directory, unique, never splitting a character', () => {
    const name = `${'é'.repeat(100)}${'n'.repeat(46)}.png`;
    const file = `/srv/app/releases/1/public/img/${name}`;
    const names = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const temporary = temporaryBeside(file);
      assert.equal(path.dirname(temporary), path.dirname(file));
      const base = path.basename(temporary);
      assert.ok(Buffer.byteLength(base) <= 255, `${Buffer.byteLength(base)} bytes`);
      assert.ok(!base.includes('\uFFFD') && Buffer.from(base).toString('utf8') === base);
      assert.match(base, /^\.é{100}n+\.attache-[0-9a-f]{12}$/);
      names.add(base);
    }
    assert.equal(names.size, 20);
    assert.match(path.basename(temporaryBeside('/srv/app/app.css')), /^\.app\.css\.attache-[0-9a-f]{12}$/, 'a short name is kept whole');
  });
});

describe('passphraseEnv naming an unset variable', () => {
  it('names the variable, not "no passphrase was given"', () => {
    const key = path.join(tempDir('attache-key-'), 'id_ed25519');
    keygen(key, 'the passphrase');
    delete process.env.ATTACHE_TEST_UNSET_PASS;
    const unset = () =>
      planAuthentication(resolveServer({ host: 'web1', identityFile: key, agent: false, passphraseEnv: 'ATTACHE_TEST_UNSET_PASS' }));
    assert.throws(unset, (error: Error) => {
      assert.match(error.message, /the environment variable ATTACHE_TEST_UNSET_PASS named by passphraseEnv is not set/);
      assert.match(error.message, /export ATTACHE_TEST_UNSET_PASS=/);
      assert.doesNotMatch(error.message, /no passphrase was given/);
      return true;
    });
    process.env.ATTACHE_TEST_UNSET_PASS = 'not the passphrase';
    try {
      assert.throws(unset, /wrong passphrase for private key .* \(from the environment variable ATTACHE_TEST_UNSET_PASS\)/);
    } finally {
      delete process.env.ATTACHE_TEST_UNSET_PASS;
    }
  });
});

describe('Include in the ssh config', () => {
  /** A fresh HOME with ~/.ssh/config; files maps paths relative to ~/.ssh (or absolute) to contents. */
  function sshHome(config: string, files: Record<string, string> = {}): string {
    const home = tempDir('attache-sshcfg-');
    process.env.HOME = home;
    const ssh = path.join(home, '.ssh');
    mkdirSync(ssh);
    writeFileSync(path.join(ssh, 'config'), config.replaceAll('$HOME', home));
    for (const [file, text] of Object.entries(files)) {
      const full = file.startsWith('$HOME') ? file.replace('$HOME', home) : path.join(ssh, file);
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, text);
    }
    return home;
  }
  const resolve = (host: string) => resolveServer({ host, agent: false });

  it('follows a glob relative to ~/.ssh, files in sorted order (the first value wins, as in OpenSSH)', () => {
    sshHome('Include config.d/*\n\nHost *\n  User fallback\n', {
      'config.d/20-lab': 'Host lab\n  HostName 10.0.0.2\n  User second\n',
      'config.d/10-lab': 'Host lab\n  Port 2222\n  User first\n',
    });
    const lab = resolve('lab');
    assert.deepEqual([lab.hostname, lab.port, lab.user], ['10.0.0.2', 2222, 'first']);
    assert.equal(resolve('other').user, 'fallback', 'the lines after the Include are not swallowed by the included Host block');
  });

  it('follows absolute paths, ~ paths and nested Includes; skips files that do not exist', () => {
    sshHome('Include $HOME/elsewhere/abs ~/.ssh/missing-file\nInclude ~/.ssh/outer\n', {
      '$HOME/elsewhere/abs': 'Host abs\n  HostName 10.0.0.3\n',
      outer: 'Include inner.d/*.conf\nHost outer\n  HostName 10.0.0.4\n',
      'inner.d/a.conf': 'Host inner\n  HostName 10.0.0.5\n  Port 2200\n',
      'inner.d/b.txt': 'Host inner\n  HostName 10.9.9.9\n',
    });
    assert.equal(resolve('abs').hostname, '10.0.0.3');
    assert.equal(resolve('outer').hostname, '10.0.0.4');
    assert.deepEqual([resolve('inner').hostname, resolve('inner').port], ['10.0.0.5', 2200]);
  });

  it('an Include inside a Host block applies only to that host; the block continues after it', () => {
    sshHome('Host prod\n  Include prod.conf\n  User deployer\n', { 'prod.conf': 'HostName 10.0.0.6\nPort 2022\n' });
    const prod = resolve('prod');
    assert.deepEqual([prod.hostname, prod.port, prod.user], ['10.0.0.6', 2022, 'deployer']);
    assert.equal(resolve('staging').hostname, 'staging');
  });

  it('Match host and Match originalhost blocks apply', () => {
    sshHome('Host lab\n  HostName lab.internal\nMatch host lab.internal\n  User matched\nMatch originalhost lab\n  Port 2323\n');
    const lab = resolve('lab');
    assert.deepEqual([lab.hostname, lab.user, lab.port], ['lab.internal', 'matched', 2323]);
  });

  it('an Include loop is refused with a message, not a stack overflow', () => {
    sshHome('Include config\n');
    assert.throws(() => resolve('x'), /Include nested more than 16 deep \(an Include loop\?\)/);
  });
});
