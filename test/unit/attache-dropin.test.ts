import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseFlags } from '../../src/cli/flags';
import { type ConfigError, HOOK_NAMES, loadConfig, selectServers, type AttacheConfig } from '../../src/config';
import { Layout } from '../../src/release/model/layout';
import { checkTags, expandTags } from '../../src/release/model/tags';
import { composerBin, composerCommand } from '../../src/release/model/tools';

/** Attaché's config as a drop-in: the items and the three divergences, one by one, on the config and the tag language. */

const dirs: string[] = [];
after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function load(servers: Record<string, unknown>, top: Record<string, unknown> = {}): AttacheConfig {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-dropin-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, '.attache.json'), JSON.stringify({ repository: 'git@example.com:app.git', servers, ...top }));
  return loadConfig('.attache.json', { cwd: dir });
}
const server = (extra: Record<string, unknown> = {}) =>
  load({ production: { host: 'example.com', root: '/var/www/app', ...extra } }).servers.production;
/** Each problem as `key: message`, one a line (a single problem's message names its key in the context instead). */
const refusal = (extra: Record<string, unknown>): string => {
  try {
    server(extra);
  } catch (error) {
    return (error as ConfigError).problems.map((p) => `${p.key}: ${p.message}`).join('\n');
  }
  throw new Error('expected the file to be refused');
};
const expand = (line: string, extra: Record<string, unknown> = {}, site?: Parameters<typeof expandTags>[4]) => {
  const s = server(extra);
  return expandTags(line, s, new Layout(s), '20261201120000', site);
};

describe("1. composer.local: root's own composer.phar", () => {
  it('runs root/<bin> through php.bin, and @composer is root/<bin> itself', () => {
    const s = server({ php: { bin: 'php8.3' }, composer: { bin: 'composer.phar', local: true } });
    assert.equal(s.composer.local, true);
    assert.equal(s.composer.installer, 'https://getcomposer.org/installer');
    assert.equal(composerCommand(s).text, 'php8.3 /var/www/app/composer.phar');
    assert.equal(
      expand('@php @composer dump-autoload', { php: { bin: 'php8.3' }, composer: { bin: 'composer.phar', local: true } }),
      'php8.3 /var/www/app/composer.phar dump-autoload',
    );
  });

  it('takes the installer URL from composer.installer, and refuses a bin outside root or a non-http URL', () => {
    assert.equal(
      server({ composer: { local: true, installer: 'http://127.0.0.1:8080/installer' } }).composer.installer,
      'http://127.0.0.1:8080/installer',
    );
    assert.match(
      refusal({ composer: { local: true, bin: '/usr/bin/composer' } }),
      /composer\.bin: expected a file name inside root for composer\.local/,
    );
    assert.match(
      refusal({ composer: { local: true, installer: 'ftp://x/installer' } }),
      /composer\.installer: expected the URL of Composer's installer, got "ftp:\/\/x\/installer": its scheme is ftp:/,
    );
  });
});

describe('2. @composer is the bin itself, @php the php bin', () => {
  it('makes the documented `@php @composer install` with composer.bin composer.phar run `php composer.phar install`', () => {
    assert.equal(expand('@php @composer install', { composer: { bin: 'composer.phar' } }), 'php composer.phar install');
    assert.equal(composerBin(server({ composer: { bin: 'composer.phar' } })).text, 'composer.phar');
    assert.equal(
      composerCommand(server({ composer: { bin: 'composer.phar' } })).text,
      'composer.phar',
      'the step runs the bin, as Attaché does',
    );
  });
});

describe('3. custom assets are added to the three defaults', () => {
  const defaults = ['public/js', 'public/css', 'public/mix-manifest.json'].map((p) => ({ local: p, remote: p }));

  it("keeps the defaults and adds the entry, in Attaché's ServerTest order", () => {
    assert.deepEqual(server({ assets: { 'public/example': 'public/example' } }).assets, [
      ...defaults,
      { local: 'public/example', remote: 'public/example' },
    ]);
  });

  it("lets an entry for a default's local path, or aimed at a default's remote path, take that default's place", () => {
    assert.deepEqual(server({ assets: { 'public/js': 'public/scripts' } }).assets, [
      defaults[1],
      defaults[2],
      { local: 'public/js', remote: 'public/scripts' },
    ]);
    assert.deepEqual(server({ assets: { 'dist/js': 'public/js' } }).assets, [
      defaults[1],
      defaults[2],
      { local: 'dist/js', remote: 'public/js' },
    ]);
  });

  it('drops a default mapped to false, and refuses false for a path that is not a default', () => {
    assert.deepEqual(server({ assets: { 'public/mix-manifest.json': false } }).assets, defaults.slice(0, 2));
    assert.match(
      refusal({ assets: { 'public/images': false } }),
      /assets\.public\/images: expected a path inside the release \(false drops a default/,
    );
  });
});

describe('4. the install and prepcomposer hooks', () => {
  it('are known hook names and load', () => {
    for (const hook of ['before-install', 'after-install', 'before-prepcomposer', 'after-prepcomposer'])
      assert.ok((HOOK_NAMES as readonly string[]).includes(hook), hook);
    const s = server({
      scripts: { 'before-install': ['a'], 'after-install': ['b'], 'before-prepcomposer': ['c'], 'after-prepcomposer': ['d'] },
    });
    assert.deepEqual(s.scripts, {
      'before-install': ['a'],
      'after-install': ['b'],
      'before-prepcomposer': ['c'],
      'after-prepcomposer': ['d'],
    });
  });
});

describe('5. an unknown bare tag', () => {
  it('refuses the file, naming the hook line, as Attaché refuses `try @badtag`', () => {
    assert.match(
      refusal({ scripts: { 'after-deploy': ['echo ok', 'try @badtag'] } }),
      /servers\.production\.scripts\.after-deploy\[1\]: unknown tag "@badtag"\. Tags: @php, @composer/,
    );
    assert.match(refusal({ scripts: { 'after-live': 'try @badtag' } }), /servers\.production\.scripts\.after-live: unknown tag "@badtag"/);
    assert.match(refusal({ scripts: { build: ['npm run @prod'] } }), /servers\.production\.scripts\.build\[0\]: unknown tag "@prod"/);
  });

  it('leaves text that is not a tag alone: an e-mail address, a scoped package, @php8.2, @release.tar', () => {
    for (const line of ['mail ops@example.com', 'npm i @scope/pkg', 'ls @php8.2', 'echo "@here."']) {
      assert.deepEqual(checkTags(line, 'after-live'), [], line);
      assert.equal(expand(line), line);
    }
    assert.equal(expand('tar cf @release.tar .'), 'tar cf 20261201120000.tar .');
  });
});

describe('6. every tag error is found when the file is loaded', () => {
  it('refuses an unknown braced tag, @path without a name, and @release where no release exists yet', () => {
    assert.match(refusal({ scripts: { 'after-live': ['{{ @badtag }}'] } }), /scripts\.after-live\[0\]: unknown tag "@badtag"/);
    assert.match(refusal({ scripts: { 'after-live': ['ls @path'] } }), /scripts\.after-live\[0\]: "@path" needs a name: @path:releases/);
    assert.match(
      refusal({ scripts: { 'before-build': ['echo @release'] } }),
      /scripts\.before-build\[0\]: "@release" is not known in the before-build hook: the build runs before the release exists/,
    );
    assert.match(refusal({ scripts: { build: ['echo {{ @release }}'] } }), /scripts\.build\[0\]: "@release" is not known in the build/);
  });

  it('reports them all at once, in common too', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-dropin-'));
    dirs.push(dir);
    fs.writeFileSync(
      path.join(dir, '.attache.json'),
      JSON.stringify({
        repository: 'r',
        common: { scripts: { 'after-live': ['@nope'] } },
        servers: { a: { host: 'h', root: '/x', scripts: { 'before-live': ['{{ @also }}'] } } },
      }),
    );
    assert.throws(
      () => loadConfig('.attache.json', { cwd: dir }),
      (e: Error) =>
        /common\.scripts\.after-live\[0\]: unknown tag "@nope"/.test(e.message) &&
        /servers\.a\.scripts\.before-live\[0\]: unknown tag "@also"/.test(e.message),
    );
  });
});

describe('7. @path:<name>', () => {
  it('gives root/<name> for a name paths does not define, root/paths.<name> for one it does, quoted', () => {
    assert.equal(expand('ls @path:backups'), 'ls /var/www/app/backups');
    assert.equal(expand('ls @path:backups', { paths: { backups: 'shared/backups' } }), 'ls /var/www/app/shared/backups');
    assert.equal(expand('ls {{ @path:serve }}', { root: '/srv/my app' }), "ls '/srv/my app/live'");
  });

  it('still refuses a misspelt path key', () => {
    assert.match(refusal({ paths: { relases: 'r' } }), /paths\.relases: unknown key "relases": did you mean "releases"\?/);
  });
});

describe('@artisan', () => {
  it("is the new release's artisan once the release has its files, and the live one's before the clone (as in Attaché)", () => {
    assert.equal(expand('@artisan config:cache', {}, 'after-composer'), 'php /var/www/app/releases/20261201120000/artisan config:cache');
    assert.equal(expand('@artisan down', {}, 'before-deploy'), 'php /var/www/app/live/artisan down');
  });
});

describe('the three divergences', () => {
  it('casts a port written as a string', () => {
    assert.equal(server({ port: '2222' }).port, 2222);
  });

  it('keeps the last of two equal keys, with a warning naming the key', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-dropin-'));
    dirs.push(dir);
    fs.writeFileSync(
      path.join(dir, '.attache.json'),
      '{"repository": "r", "servers": {"a": {"host": "h", "root": "/x", "php": {"bin": "php74", "bin": "php8"}}}}',
    );
    const config = loadConfig('.attache.json', { cwd: dir });
    assert.equal(config.servers.a.php.bin, 'php8');
    assert.deepEqual(
      config.warnings.map((w) => w.key),
      ['servers.a.php.bin'],
    );
  });

  it('refuses an unknown server name even when there is one server (Attaché takes the only one whatever the name)', () => {
    const config = load({ production: { host: 'h', root: '/x' } });
    assert.throws(() => selectServers(config, 'staging'), /no server or group named "staging"/);
  });
});

describe('unknown keys', () => {
  it('are refused with the keys valid at that place', () => {
    assert.match(
      refusal({ migrations: true }),
      /servers\.production\.migrations: unknown key "migrations"\. Valid keys here: name, host, port, user, root, .*migrate/,
    );
    assert.match(refusal({ php: { binary: 'php' } }), /servers\.production\.php\.binary: unknown key "binary"\. Valid keys here: bin$/m);
  });

  it('but a "name" inside an object-form server, which Attaché ignores too, is a warning', () => {
    const config = load({ production: { name: 'prod', host: 'h', root: '/x' } });
    assert.deepEqual(Object.keys(config.servers), ['production']);
    assert.deepEqual(config.warnings, [
      {
        key: 'servers.production.name',
        message: 'ignored, as Attaché ignores it: the server is called "production" (its key in "servers")',
      },
    ]);
    assert.deepEqual(
      load({ production: { name: 'production', host: 'h', root: '/x' } }).warnings,
      [],
      "the name Attaché's init writes, equal to the key, says nothing",
    );
  });
});

describe("the flags of Attaché's commands", () => {
  const flags = (...args: string[]) => parseFlags(['node', 'gulp', 'task', ...args]);

  it('reads --config=<file>, --config <file>, -c <file> and -c=<file>', () => {
    for (const args of [['--config=deploy/x.json'], ['--config', 'deploy/x.json'], ['-c', 'deploy/x.json'], ['-c=deploy/x.json']]) {
      assert.equal(flags(...args).config, 'deploy/x.json', args.join(' '));
    }
    assert.deepEqual(flags('-c', 'x.json').unknown, []);
  });

  it('reads --count and --remote, and refuses a count that is not a positive whole number', () => {
    assert.equal(parseFlags(['node', 'gulp', 'prune', '--count=3'], 'prune').count, 3);
    assert.equal(parseFlags(['node', 'gulp', 'init', '--remote=upstream'], 'init').remote, 'upstream');
    assert.throws(() => flags('--count=0'), /--count=0 is not a whole number of at least 1/);
    assert.throws(() => flags('--count=two'), /--count=two is not a whole number/);
    assert.throws(
      () => parseFlags(['node', 'gulp', 'deploy', '--remote=x'], 'deploy'),
      /--remote is not a flag of deploy \(it is one of init\)/,
    );
  });
});
