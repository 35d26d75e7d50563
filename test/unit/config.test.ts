import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AttacheError } from '../../src/errors';
import {
  ConfigError,
  deepMerge,
  isReleaseId,
  loadConfig,
  selectServers,
  validateBranch,
  validateReleaseId,
  type AttacheConfig,
  type LoadOptions,
} from '../../src/config';
import { parseFlags } from '../../src/cli/flags';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes `.attache.json` (an object is written as JSON, a string as it is) into a fresh directory. */
function write(config: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-config-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, '.attache.json'), typeof config === 'string' ? config : JSON.stringify(config, null, 4));
  return dir;
}

function load(config: unknown, options: LoadOptions = {}): AttacheConfig {
  return loadConfig('.attache.json', { cwd: write(config), ...options });
}

/** The error loading `config` throws. */
function failure(config: unknown, options: LoadOptions = {}): AttacheError {
  const dir = write(config);
  try {
    loadConfig('.attache.json', { cwd: dir, ...options });
  } catch (error) {
    assert.ok(error instanceof AttacheError, `expected an AttacheError, got ${error}`);
    assert.equal(error.context.file, path.join(dir, '.attache.json'));
    assert.ok(error.message.includes(path.join(dir, '.attache.json')), 'the message names the file');
    return error;
  }
  assert.fail('expected loading to fail');
}

/** The single problem of a config that has exactly one mistake: `key: message`. */
function problem(config: unknown, options: LoadOptions = {}): string {
  const error = failure(config, options);
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got: ${error.message}`);
  assert.equal(error.problems.length, 1, `expected one problem, got:\n${error.message}`);
  return `${error.problems[0].key}: ${error.problems[0].message}`;
}

const server = (extra: Record<string, unknown> = {}) => ({ host: 'example.com', root: '/var/www/app', ...extra });
const withServer = (extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => ({
  repository: 'git@github.com:me/app.git',
  servers: { production: server(extra) },
  ...top,
});
const loadServer = (extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) =>
  load(withServer(extra, top)).servers.production;

const DEFAULT_ASSETS = ['public/js', 'public/css', 'public/mix-manifest.json'].map((p) => ({ local: p, remote: p }));

describe('loadConfig: the file', () => {
  it('names the absolute path of a missing file and shows a minimal example', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-config-'));
    dirs.push(dir);
    assert.throws(
      () => loadConfig('.attache.json', { cwd: dir }),
      (e: unknown) => {
        assert.ok(e instanceof AttacheError);
        assert.equal(e.context.file, path.join(dir, '.attache.json'));
        assert.match(e.message, new RegExp(`no configuration file at ${escape(path.join(dir, '.attache.json'))}`));
        assert.match(e.message, /Create \.attache\.json/);
        assert.match(e.message, /"servers"/);
        assert.match(e.message, /"root": "\/var\/www\/app"/);
        return true;
      },
    );
  });

  it('resolves a relative file name against cwd and records the absolute path', () => {
    const dir = write(withServer());
    fs.mkdirSync(path.join(dir, 'deploy'));
    fs.renameSync(path.join(dir, '.attache.json'), path.join(dir, 'deploy', 'servers.json'));
    const config = loadConfig('deploy/servers.json', { cwd: dir });
    assert.equal(config.file, path.join(dir, 'deploy', 'servers.json'));
  });

  it('reports a malformed file with the line and column of the mistake and what was expected', () => {
    const text = '{\n    "repository": "r",\n    "servers": {\n        "production": { "host": "h" "root": "/x" }\n    }\n}\n';
    const error = failure(text);
    assert.match(error.message, /invalid JSON at line 4, column 37: expected "," or "}" after a property value, found "\\"root/);
  });

  it('reports a truncated file at its end and says it ends early', () => {
    const text = '{\n    "repository": "r",\n    "servers": {\n        "production": { "host": "h",';
    const error = failure(text);
    assert.match(error.message, /invalid JSON at line 4, column 37: expected a property name in double quotes/);
    assert.match(error.message, /found the end of the file/);
    assert.match(error.message, /ends early/);
  });

  it('reports a trailing comma, a comment and single quotes with a hint', () => {
    assert.match(failure('{"servers": {},}').message, /line 1, column 16: .*no comma before "}"/);
    assert.match(failure('{\n  // production\n}').message, /line 2, column 3: .*\n[^]*comments/);
    assert.match(failure("{'servers': {}}").message, /line 1, column 2: [^]*double quotes/);
    assert.match(failure('[1, 2,]').message, /line 1, column 7: .*no comma before "]"/);
  });

  it('reports a line break inside a string and content after the top-level value', () => {
    assert.match(failure('{"repository": "a\nb"}').message, /line 1, column 18: expected the closing quote/);
    assert.match(failure('{}\n{}').message, /line 2, column 1: expected the end of the file/);
  });

  it('refuses an empty file and a file that is not an object', () => {
    assert.match(failure('  \n').message, /empty[^]*"servers"/);
    assert.match(failure('[]').message, /expected a JSON object with "servers"/);
  });

  it('accepts a byte order mark', () => {
    assert.equal(load(`\uFEFF${JSON.stringify(withServer())}`).servers.production.host, 'example.com');
  });
});

describe('loadConfig: servers', () => {
  it('reads the Attaché 0.7 object form, keeping file order', () => {
    const config = load({ repository: 'r', servers: { staging: server(), production: server({ host: 'prod.example.com' }) } });
    assert.deepEqual(Object.keys(config.servers), ['staging', 'production']);
    assert.equal(config.servers.production.name, 'production');
    assert.equal(config.servers.production.host, 'prod.example.com');
  });

  it('reads the older array form with names', () => {
    const config = load({
      repository: 'r',
      servers: [
        { name: 'staging', ...server() },
        { name: 'production', ...server({ port: 2222 }) },
      ],
    });
    assert.deepEqual(Object.keys(config.servers), ['staging', 'production']);
    assert.equal(config.servers.production.port, 2222);
  });

  it('refuses a name used twice in the array form; in the object form keeps the last, as PHP does, with a warning naming the key', () => {
    assert.match(
      problem({
        repository: 'r',
        servers: [
          { name: 'a', ...server() },
          { name: 'a', ...server() },
        ],
      }),
      /^servers\[1\]: server name "a" is used twice \(first at servers\[0\]\)/,
    );
    const text = '{"repository": "r", "servers": {\n  "a": {"host": "h", "root": "/x"},\n  "a": {"host": "h", "root": "/y"}\n}}';
    const config = load(text);
    assert.equal(config.servers.a.root, '/y');
    assert.equal(config.warnings.length, 1);
    assert.equal(config.warnings[0].key, 'servers.a');
    assert.match(
      config.warnings[0].message,
      /^defined twice \(line 3, column 3; first at line 2, column 3\): the last one is used, as in Attaché/,
    );
  });

  it('refuses an array entry without a name', () => {
    assert.match(
      problem({ repository: 'r', servers: [server()] }),
      /^servers\[0\]\.name: expected the server's name \(a string\), got nothing/,
    );
  });

  it('refuses a missing or empty servers list', () => {
    assert.match(problem({ repository: 'r' }), /^servers: expected an object of servers by name/);
    assert.match(problem({ repository: 'r', servers: {} }), /^servers: expected at least one server/);
    assert.match(problem({ repository: 'r', servers: { a: 'example.com' } }), /^servers\.a: expected a server object, got "example.com"/);
  });

  it('refuses server names that cannot be typed in --server=a,b', () => {
    assert.match(problem({ repository: 'r', servers: { all: server() } }), /^servers\.all: the name "all" is reserved/);
    assert.match(problem({ repository: 'r', servers: { 'a,b': server() } }), /^servers\.a,b: expected a name without commas/);
  });
});

describe('loadConfig: common and overrides', () => {
  it('deep-merges common under every server: nested objects merge, scalars and arrays are replaced', () => {
    const config = load({
      repository: 'r',
      common: {
        user: 'deploy',
        branch: 'main',
        paths: { releases: 'rel', storage: 'shared/storage' },
        composer: { dev: true },
        assets: ['dist'],
        scripts: { 'after-live': ['php artisan queue:restart'] },
      },
      servers: {
        production: server({
          paths: { storage: '/mnt/storage' },
          assets: { 'public/build': 'public/build' },
          scripts: { 'before-live': 'php artisan down' },
        }),
        staging: server({ branch: 'develop', user: 'stage' }),
      },
    });
    const { production, staging } = config.servers;
    assert.deepEqual(production.paths, { releases: 'rel', serve: 'live', storage: '/mnt/storage', env: '.env' });
    assert.deepEqual(staging.paths, { releases: 'rel', serve: 'live', storage: 'shared/storage', env: '.env' });
    assert.deepEqual(production.composer, {
      bin: 'composer',
      dev: true,
      local: false,
      reuseVendor: true,
      installer: 'https://getcomposer.org/installer',
    });
    assert.equal(production.user, 'deploy');
    assert.equal(production.branch, 'main');
    assert.equal(staging.user, 'stage');
    assert.equal(staging.branch, 'develop');
    assert.deepEqual(production.assets, [...DEFAULT_ASSETS, { local: 'public/build', remote: 'public/build' }]);
    assert.deepEqual(staging.assets, [...DEFAULT_ASSETS, { local: 'dist', remote: 'dist' }]);
    assert.deepEqual(production.scripts, { 'after-live': ['php artisan queue:restart'], 'before-live': ['php artisan down'] });
    assert.deepEqual(staging.scripts, { 'after-live': ['php artisan queue:restart'] });
  });

  it('takes repository from the top level unless common or the server overrides it', () => {
    const config = load({
      repository: 'git@top:app.git',
      servers: { a: server(), b: server({ repository: 'git@mirror:app.git' }) },
    });
    assert.equal(config.servers.a.repository, 'git@top:app.git');
    assert.equal(config.servers.b.repository, 'git@mirror:app.git');
    assert.equal(load({ repository: 'x', common: { repository: 'y' }, servers: { a: server() } }).servers.a.repository, 'y');
  });

  it('names a mistake in common once, by its key in common, however many servers inherit it', () => {
    const error = failure({ repository: 'r', common: { keep: 1 }, servers: { a: server(), b: server() } });
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(
      error.problems.map((p) => p.key),
      ['common.keep'],
    );
  });

  it('applies gulpfile overrides over every server, deeply, and names them in errors', () => {
    const config = load(withServer({ paths: { serve: 'current' } }), { overrides: { branch: 'hotfix', paths: { env: 'shared/.env' } } });
    assert.equal(config.servers.production.branch, 'hotfix');
    assert.deepEqual(config.servers.production.paths, { releases: 'releases', serve: 'current', storage: 'storage', env: 'shared/.env' });
    assert.match(problem(withServer(), { overrides: { branch: 'a;b' } }), /^overrides\.branch: /);
  });

  it('deepMerge replaces arrays and scalars and merges objects', () => {
    assert.deepEqual(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: 2 }), { a: { b: 1, c: [3] }, d: 2 });
    assert.deepEqual(deepMerge({ a: 1 }, undefined), { a: 1 });
  });
});

describe('loadConfig: defaults', () => {
  it('fills in every default', () => {
    const config = load(withServer());
    assert.equal(config.default, undefined);
    assert.deepEqual(config.groups, {});
    assert.deepEqual(config.servers.production, {
      name: 'production',
      host: 'example.com',
      root: '/var/www/app',
      repository: 'git@github.com:me/app.git',
      branch: 'master',
      paths: { releases: 'releases', serve: 'live', storage: 'storage', env: '.env' },
      php: { bin: 'php' },
      composer: { bin: 'composer', dev: false, local: false, reuseVendor: true, installer: 'https://getcomposer.org/installer' },
      assets: [
        { local: 'public/js', remote: 'public/js' },
        { local: 'public/css', remote: 'public/css' },
        { local: 'public/mix-manifest.json', remote: 'public/mix-manifest.json' },
      ],
      migrate: false,
      build: ['yarn prod'],
      scripts: {},
      keep: 5,
      oldAssets: 1,
      ssh: {},
      secrets: [],
      skip: [],
      strategy: 'clone',
      shared: { dirs: [], files: [] },
      writable: [],
      optimize: false,
      restart: [],
    });
  });

  it('keeps every value given', () => {
    const s = loadServer({
      host: 'local',
      port: 2222,
      user: 'deploy',
      branch: 'release/2.0',
      paths: { releases: 'r', serve: 'current', storage: '/srv/shared/storage', env: 'shared/.env' },
      php: { bin: '/usr/bin/php8.3' },
      composer: { bin: 'composer2', dev: true },
      migrate: true,
      keep: 2,
    });
    assert.equal(s.host, 'local');
    assert.equal(s.port, 2222);
    assert.equal(s.user, 'deploy');
    assert.equal(s.branch, 'release/2.0');
    assert.deepEqual(s.paths, { releases: 'r', serve: 'current', storage: '/srv/shared/storage', env: 'shared/.env' });
    assert.deepEqual(s.php, { bin: '/usr/bin/php8.3' });
    assert.deepEqual(s.composer, {
      bin: 'composer2',
      dev: true,
      local: false,
      reuseVendor: true,
      installer: 'https://getcomposer.org/installer',
    });
    assert.equal(s.migrate, true);
    assert.equal(s.keep, 2);
  });

  it('normalises root and paths without changing what they name', () => {
    const s = loadServer({ root: '/var//www/app/', paths: { releases: './releases/' } });
    assert.equal(s.root, '/var/www/app');
    assert.equal(s.paths.releases, 'releases');
  });

  it('accepts a root with spaces, a quote and non-ASCII letters', () => {
    const root = "/srv/my app/it's/Ünïcødé Страница";
    assert.equal(loadServer({ root }).root, root);
  });

  it('reads a group list and a default', () => {
    const config = load({
      repository: 'r',
      servers: { web1: server(), web2: server() },
      groups: { web: ['web1', 'web2'] },
      default: 'web',
    });
    assert.deepEqual(config.groups, { web: ['web1', 'web2'] });
    assert.equal(config.default, 'web');
  });

  it('refuses unknown keys, listing the keys valid at that place; $schema is allowed', () => {
    assert.equal(loadServer({}, { $schema: 'x' }).host, 'example.com');
    const e = failure(withServer({ notes: 'x' }, { comment: 'y' }));
    assert.match(
      e.message,
      /comment: unknown key "comment"\. Valid keys here: repository, servers, default, rollout, common, groups, secrets, \$schema/,
    );
    assert.match(
      e.message,
      /servers\.production\.notes: unknown key "notes"\. Valid keys here: name, host, port, user, root, repository, branch, paths, php, composer, assets, migrate, scripts,/,
    );
    assert.match(
      problem(withServer({ migrations: true })),
      /^servers\.production\.migrations: unknown key "migrations"\. Valid keys here: .*\bmigrate\b/,
    );
    assert.match(
      problem(withServer({ composer: { lokal: true } })),
      /^servers\.production\.composer\.lokal: unknown key "lokal": did you mean "local"\? Valid keys here: bin, dev, local, reuseVendor, installer$/,
    );
  });
});

describe('loadConfig: assets', () => {
  const defaults = { local: 'public/js', remote: 'public/js' };

  it("reads Attaché's object form { local: remote }", () => {
    assert.deepEqual(loadServer({ assets: { 'public/build': 'public/build', 'dist/app.js': 'public/js/app.js' } }).assets, [
      ...DEFAULT_ASSETS,
      { local: 'public/build', remote: 'public/build' },
      { local: 'dist/app.js', remote: 'public/js/app.js' },
    ]);
  });

  it('reads an array of paths (the same on both sides)', () => {
    assert.deepEqual(loadServer({ assets: ['public/build', 'public/manifest.json'] }).assets, [
      ...DEFAULT_ASSETS,
      { local: 'public/build', remote: 'public/build' },
      { local: 'public/manifest.json', remote: 'public/manifest.json' },
    ]);
  });

  it('reads an array of { local, remote }, and { local } alone as the same path', () => {
    assert.deepEqual(loadServer({ assets: [{ local: 'dist', remote: 'public/dist' }, { local: 'public/img' }] }).assets, [
      ...DEFAULT_ASSETS,
      { local: 'dist', remote: 'public/dist' },
      { local: 'public/img', remote: 'public/img' },
    ]);
  });

  it('normalises remote paths: backslashes, "./", trailing slashes, harmless ".."', () => {
    assert.deepEqual(loadServer({ assets: { 'public\\js': 'public\\js\\', './x': './public/x', y: 'a/../public/y' } }).assets, [
      ...DEFAULT_ASSETS.slice(1),
      { local: 'public\\js', remote: 'public/js' },
      { local: './x', remote: 'public/x' },
      { local: 'y', remote: 'public/y' },
    ]);
  });

  it('keeps the defaults for an empty list, and drops one mapped to false or null', () => {
    assert.deepEqual(loadServer({ assets: [] }).assets, DEFAULT_ASSETS);
    assert.deepEqual(loadServer({ assets: {} }).assets, DEFAULT_ASSETS);
    assert.deepEqual(loadServer().assets[0], defaults);
    assert.deepEqual(loadServer({ assets: { 'public/js': false, 'public/css': null, 'public/mix-manifest.json': false } }).assets, []);
  });

  for (const remote of ['../x', '/etc', 'a/../../b', '..\\x', 'public\\..\\..\\x', '..', '.', './', '\\etc']) {
    it(`refuses the remote path ${JSON.stringify(remote)}, which is not inside the release`, () => {
      assert.match(
        problem(withServer({ assets: { 'public/js': remote } })),
        /^servers\.production\.assets\.public\/js: expected a path inside the release, got .*: it (leaves the release|is absolute|names the release directory)/,
      );
      assert.match(problem(withServer({ assets: [{ local: 'public/js', remote }] })), /^servers\.production\.assets\[0\]\.remote: /);
    });
  }

  it('refuses escaping paths in the array-of-strings form, and empty ones', () => {
    assert.match(
      problem(withServer({ assets: ['public/js', '../x'] })),
      /^servers\.production\.assets\[1\]: expected a path \(the same locally and inside the release\), got "..\/x": it leaves the release directory/,
    );
    assert.match(
      problem(withServer({ assets: [''] })),
      /^servers\.production\.assets\[0\]: expected a path \(the same locally and inside the release\), got ""$/,
    );
    assert.match(
      problem(withServer({ assets: [{ remote: 'x' }] })),
      /^servers\.production\.assets\[0\]\.local: expected a local path, got nothing/,
    );
    assert.match(
      problem(withServer({ assets: 'public/js' })),
      /^servers\.production\.assets: expected an object \{ "local": "remote" \}, an array of paths/,
    );
  });

  it('refuses an asset mapping that lands in a shared path (every release links the same directory)', () => {
    assert.match(
      problem(withServer({ assets: ['public/build'], shared: { dirs: ['public/build'] } })),
      /^servers\.production\.assets: expected asset mappings outside the shared paths, got "public\/build" -> "public\/build", which overlaps the shared "public\/build"/,
    );
    assert.match(
      problem(withServer({ assets: ['public'], shared: { dirs: ['public/uploads'] } })),
      /overlaps the shared "public\/uploads"/,
    );
    assert.doesNotThrow(() => load(withServer({ assets: ['public/build'], shared: { dirs: ['public/uploads'] } })));
  });
});

describe('loadConfig: build and scripts', () => {
  it('builds with "yarn prod" by default, with scripts.build when given, and not at all for []', () => {
    assert.deepEqual(loadServer().build, ['yarn prod']);
    assert.deepEqual(loadServer({ scripts: { build: ['npm ci', 'npm run build'] } }).build, ['npm ci', 'npm run build']);
    assert.deepEqual(loadServer({ scripts: { build: [] } }).build, []);
    assert.deepEqual(loadServer({ scripts: { build: 'vite build' } }).build, ['vite build']);
  });

  it('keeps build out of the hooks and wraps a single command in an array', () => {
    const s = loadServer({ scripts: { build: [], 'before-deploy': 'php artisan down', 'after-live': ['a', 'b'] } });
    assert.deepEqual(s.scripts, { 'before-deploy': ['php artisan down'], 'after-live': ['a', 'b'] });
  });

  it('refuses an unknown hook, listing the valid names', () => {
    const message = problem(withServer({ scripts: { 'before-everything': ['x'] } }));
    assert.match(message, /^servers\.production\.scripts\.before-everything: unknown hook "before-everything"\./);
    assert.match(
      message,
      /Valid names: before-build, after-build, .*before-live, after-live, drain, undrain, local-drain, local-undrain, build/,
    );
    assert.match(problem(withServer({ scripts: { 'befor-live': ['x'] } })), /did you mean "before-live"\?/);
  });

  it('refuses commands that are not strings, and build given twice', () => {
    assert.match(
      problem(withServer({ scripts: { 'after-live': [1] } })),
      /^servers\.production\.scripts\.after-live\[0\]: expected a non-empty string, got 1/,
    );
    assert.match(
      problem(withServer({ scripts: { 'after-live': { a: 1 } } })),
      /^servers\.production\.scripts\.after-live: expected an array of commands, got an object/,
    );
    assert.match(
      problem(withServer({ build: [], scripts: { build: [] } })),
      /^servers\.production\.build: expected either "build" or "scripts\.build", got both/,
    );
  });
});

describe('loadConfig: ssh, healthcheck, secrets', () => {
  it('puts our SSH keys into ssh, from the server or an "ssh" object', () => {
    const s = loadServer({
      acceptNewHostKeys: true,
      knownHostsFile: '/tmp/known_hosts',
      identityFile: ['~/.ssh/deploy', '~/.ssh/id_ed25519'],
      passphraseEnv: 'DEPLOY_KEY_PASSPHRASE',
      ssh: { forwardAgent: true, connectTimeout: 7.5, proxyJump: 'bastion', acceptNewHostKeys: false },
    });
    assert.deepEqual(s.ssh, {
      acceptNewHostKeys: true,
      forwardAgent: true,
      knownHostsFile: '/tmp/known_hosts',
      proxyJump: 'bastion',
      passphraseEnv: 'DEPLOY_KEY_PASSPHRASE',
      connectTimeout: 7.5,
      identityFile: ['~/.ssh/deploy', '~/.ssh/id_ed25519'],
    });
    assert.deepEqual(loadServer({ identityFile: '~/.ssh/deploy' }).ssh, { identityFile: '~/.ssh/deploy' });
  });

  it('refuses bad SSH values and a passphrase written in the file', () => {
    assert.match(
      problem(withServer({ connectTimeout: 0 })),
      /^servers\.production\.connectTimeout: expected a positive number of seconds, got 0/,
    );
    assert.match(
      problem(withServer({ acceptNewHostKeys: 'yes' })),
      /^servers\.production\.acceptNewHostKeys: expected true or false, got "yes"/,
    );
    assert.match(
      problem(withServer({ passphraseEnv: 'MY-VAR' })),
      /^servers\.production\.passphraseEnv: expected the name of an environment variable/,
    );
    assert.match(
      problem(withServer({ identityFile: [] })),
      /^servers\.production\.identityFile: expected at least one private key file path/,
    );
    assert.match(
      problem(withServer({ ssh: { passphrase: 'hunter22' } })),
      /^servers\.production\.ssh\.passphrase: expected no passphrase in the config file: .*passphraseEnv/,
    );
  });

  it('takes identityEnv and knownHostsEnv as names of environment variables, on the server or in "ssh"', () => {
    assert.deepEqual(loadServer({ identityEnv: 'DEPLOY_KEY', ssh: { knownHostsEnv: 'DEPLOY_KNOWN_HOSTS' } }).ssh, {
      identityEnv: 'DEPLOY_KEY',
      knownHostsEnv: 'DEPLOY_KNOWN_HOSTS',
    });
  });

  it('refuses what the variable should hold, written in the file, without quoting a key', () => {
    const body = 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW';
    const key = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\nQyNTUxOQAAACDistinctiveSecretBodyLine0123456789abcdef\n-----END OPENSSH PRIVATE KEY-----\n`;
    const keyProblem = problem(withServer({ identityEnv: key }));
    assert.match(
      keyProblem,
      /^servers\.production\.identityEnv: expected the name of an environment variable, got a private key's text \(not shown\): put a private key's text in an environment variable/,
    );
    assert.ok(!keyProblem.includes('Distinctive') && !keyProblem.includes(body.slice(0, 20)), keyProblem);
    assert.match(
      problem(withServer({ ssh: { knownHostsEnv: '[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOt' } })),
      /^servers\.production\.ssh\.knownHostsEnv: expected the name of an environment variable, got a known_hosts line: .*knownHostsFile/,
    );
    assert.match(
      problem(withServer({ identityEnv: '$DEPLOY_KEY' })),
      /^servers\.production\.identityEnv: expected the name of an environment variable, got "\$DEPLOY_KEY": write the name without "\$"/,
    );
    assert.match(
      problem(withServer({ knownHostsEnv: 'DEPLOY-HOSTS' })),
      /^servers\.production\.knownHostsEnv: expected the name of an environment variable, got "DEPLOY-HOSTS": a variable name has letters, digits and "_" only/,
    );
    assert.match(
      problem(withServer({ identityEnv: 42 })),
      /^servers\.production\.identityEnv: expected the name of an environment variable, got 42/,
    );
    assert.match(
      problem(withServer({ identityEnv: '' })),
      /^servers\.production\.identityEnv: expected the name of an environment variable, got ""/,
    );
    const passphrase = problem(withServer({ passphraseEnv: 'correct horse' }));
    assert.match(
      passphrase,
      /^servers\.production\.passphraseEnv: expected the name of an environment variable, got a value that is no variable name \(not shown/,
    );
    assert.ok(!passphrase.includes('horse'), passphrase);
  });

  it('reads a health check with defaults, or a URL alone', () => {
    assert.deepEqual(loadServer({ healthcheck: { url: 'https://example.com/up' } }).healthcheck, {
      url: 'https://example.com/up',
      from: 'local',
      status: 200,
      timeout: 5,
      retries: 3,
    });
    assert.deepEqual(loadServer({ healthcheck: 'http://example.com/' }).healthcheck, {
      url: 'http://example.com/',
      from: 'local',
      status: 200,
      timeout: 5,
      retries: 3,
    });
    assert.deepEqual(
      loadServer({ healthcheck: { url: 'https://x.test/health', status: 204, contains: 'ok', timeout: 2, retries: 10 } }).healthcheck,
      {
        url: 'https://x.test/health',
        from: 'local',
        status: 204,
        contains: 'ok',
        timeout: 2,
        retries: 10,
      },
    );
    assert.equal(loadServer().healthcheck, undefined);
  });

  it('reads where the health check is fetched: "local" (the default) or "server"', () => {
    assert.equal(loadServer({ healthcheck: { url: 'http://127.0.0.1/up', from: 'server' } }).healthcheck?.from, 'server');
    assert.equal(loadServer({ healthcheck: { url: 'http://127.0.0.1/up', from: 'local' } }).healthcheck?.from, 'local');
    assert.equal(loadServer({}, { common: { healthcheck: { url: 'http://127.0.0.1/up', from: 'server' } } }).healthcheck?.from, 'server');
  });

  it('refuses any other "from", saying what each value means', () => {
    for (const from of ['remote', 'Server', '', true])
      assert.match(
        problem(withServer({ healthcheck: { url: 'https://x.test', from } })),
        /^servers\.production\.healthcheck\.from: expected "local" \(fetched from the machine that deploys, the default\) or "server" \(fetched on the server, over SSH\), got /,
      );
    assert.match(
      problem(withServer({ healthcheck: { url: 'https://x.test', form: 'server' } })),
      /^servers\.production\.healthcheck\.form: unknown key "form": did you mean "from"\?/,
    );
  });

  it('refuses a health check without an http(s) URL or with bad numbers', () => {
    assert.match(
      problem(withServer({ healthcheck: { url: 'ftp://example.com' } })),
      /^servers\.production\.healthcheck\.url: expected an http:\/\/ or https:\/\/ URL, got "ftp:\/\/example.com": its scheme is ftp:/,
    );
    assert.match(
      problem(withServer({ healthcheck: { status: 200 } })),
      /^servers\.production\.healthcheck\.url: expected an http:\/\/ or https:\/\/ URL, got nothing/,
    );
    assert.match(
      problem(withServer({ healthcheck: { url: 'https://x.test', retries: 0 } })),
      /^servers\.production\.healthcheck\.retries: /,
    );
    assert.match(
      problem(withServer({ healthcheck: { url: 'https://x.test', staus: 200 } })),
      /^servers\.production\.healthcheck\.staus: unknown key "staus": did you mean "status"\?/,
    );
  });

  it("combines top-level secrets with a server's own", () => {
    const config = load({
      repository: 'r',
      secrets: ['top-secret'],
      servers: { a: server({ secrets: ['a-secret', 'top-secret'] }), b: server() },
    });
    assert.deepEqual(config.servers.a.secrets, ['top-secret', 'a-secret']);
    assert.deepEqual(config.servers.b.secrets, ['top-secret']);
    assert.match(problem(withServer({}, { secrets: 'x' })), /^secrets: expected an array of non-empty strings, got "x"/);
    assert.match(problem(withServer({ secrets: [1] })), /^servers\.production\.secrets\[0\]: expected a non-empty string, got 1/);
  });
});

describe('loadConfig: skip', () => {
  it('switches off the steps a machine cannot run, and nothing by default', () => {
    assert.deepEqual(loadServer().skip, []);
    assert.deepEqual(loadServer({ skip: ['composer', 'artisan'] }).skip, ['composer', 'artisan']);
  });

  it('refuses to skip a step that keeps the deploy safe, naming the ones that may be skipped', () => {
    const message = problem(withServer({ skip: ['lock'] }));
    assert.match(message, /servers\.production\.skip\[0\]/);
    assert.match(message, /expected one of build, preflight, composer, artisan, assets, health, prune, got "lock"/);
  });
});

describe('loadConfig: mistakes', () => {
  it('refuses a missing host, root or repository, naming each key', () => {
    assert.match(
      problem({ repository: 'r', servers: { production: { root: '/x' } } }),
      /^servers\.production\.host: expected a host name, .*got nothing/,
    );
    assert.match(
      problem({ repository: 'r', servers: { production: { host: 'h' } } }),
      /^servers\.production\.root: expected an absolute path on the server/,
    );
    assert.match(problem({ servers: { production: server() } }), /^servers\.production\.repository: expected a git repository URL/);
    assert.match(problem(withServer({ host: 'a host' })), /^servers\.production\.host: .*it contains a space/);
  });

  it('refuses a root that is relative, uses ~, is / or contains .. or a NUL byte', () => {
    assert.match(
      problem(withServer({ root: 'var/www' })),
      /^servers\.production\.root: expected an absolute path on the server, e\.g\. "\/var\/www\/app", got "var\/www": it is not absolute/,
    );
    assert.match(problem(withServer({ root: '~/app' })), /^servers\.production\.root: .*"~" is not expanded/);
    assert.match(problem(withServer({ root: '/' })), /^servers\.production\.root: .*it is the filesystem root/);
    assert.match(problem(withServer({ root: '/var/www/../app' })), /^servers\.production\.root: .*"\.\." segment/);
    assert.match(problem(withServer({ root: '/var/www\0/app' })), /^servers\.production\.root: .*NUL byte/);
    assert.match(problem(withServer({ root: 42 })), /^servers\.production\.root: .*got 42$/);
  });

  it('refuses bad paths: .. in a relative path, empty, the root itself, two keys naming one place', () => {
    assert.match(
      problem(withServer({ paths: { storage: '../shared/storage' } })),
      /^servers\.production\.paths\.storage: .*must not contain "\.\." segments/,
    );
    assert.match(
      problem(withServer({ paths: { env: '' } })),
      /^servers\.production\.paths\.env: expected a path, relative to root or absolute, got ""/,
    );
    assert.match(problem(withServer({ paths: { serve: '.' } })), /^servers\.production\.paths\.serve: .*names the root directory itself/);
    assert.match(
      problem(withServer({ paths: { serve: 'releases' } })),
      /^servers\.production\.paths\.serve: expected a path different from paths\.releases/,
    );
    assert.equal(loadServer({ paths: { storage: '/srv/shared/../storage' } }).paths.storage, '/srv/storage');
  });

  it('reads a port written as a string of digits, as Attaché casts it', () => {
    assert.equal(loadServer({ port: '2222' }).port, 2222);
  });

  for (const port of [0, 65536, -1, 22.5, '22x', '', ' 22', '0', '99999']) {
    it(`refuses the port ${JSON.stringify(port)}`, () => {
      assert.match(
        problem(withServer({ port })),
        /^servers\.production\.port: expected a port number \(a whole number from 1 to 65535\), got /,
      );
    });
  }

  const badBranches: Array<[string, RegExp]> = [
    ['main;rm -rf /', /it contains ";"/],
    ['$(id)', /it contains "\$"/],
    ['`id`', /it contains a backtick \(`\)/],
    ['main\nrm', /it contains a line break/],
    ['-delete', /it starts with "-"/],
    ['a|b', /it contains "\|"/],
    ['a&b', /it contains "&"/],
    ['a<b', /it contains "<"/],
    ['a>b', /it contains ">"/],
    ["it's", /it contains a single quote \('\)/],
    ['"x"', /it contains a double quote \("\)/],
    ['my branch', /it contains a space/],
    ['a\tb', /it contains a tab/],
    ['a\\b', /it contains a backslash \(\\\)/],
    ['a..b', /it contains "\.\."/],
    ['a@{1}', /it contains "@\{"/],
    ['topic.lock', /it ends with "\.lock"/],
    ['topic/', /it ends with "\/"/],
    ['a\u0001b', /it contains the character U\+0001/],
    ['', /expected a git branch name, got ""/],
  ];
  for (const [branch, reason] of badBranches) {
    it(`refuses the branch ${JSON.stringify(branch)}, saying why and what is allowed`, () => {
      const message = problem(withServer({ branch }));
      assert.match(message, /^servers\.production\.branch: expected a git branch name, got /);
      assert.match(message, reason);
      if (branch !== '') assert.match(message, /A branch name may use letters, digits/);
    });
  }

  it('accepts ordinary branch names', () => {
    for (const branch of ['main', 'feature/login-form', 'release/2.0.1', 'fix_123+hotfix', 'user@topic', 'überarbeitung']) {
      assert.equal(loadServer({ branch }).branch, branch);
    }
  });

  it('refuses keep below 2 or not a whole number', () => {
    assert.match(
      problem(withServer({ keep: 1 })),
      /^servers\.production\.keep: expected a whole number of releases to keep, at least 2 \(the live release and the one before it are never pruned\), got 1/,
    );
    assert.match(problem(withServer({ keep: 2.5 })), /^servers\.production\.keep: .*got 2\.5/);
    assert.match(problem(withServer({ keep: '5' })), /^servers\.production\.keep: .*got "5"/);
  });

  it('refuses wrong types for booleans and objects', () => {
    assert.match(problem(withServer({ migrate: 'yes' })), /^servers\.production\.migrate: expected true or false, got "yes"/);
    assert.match(problem(withServer({ composer: { dev: 1 } })), /^servers\.production\.composer\.dev: expected true or false, got 1/);
    assert.match(problem(withServer({ paths: 'releases' })), /^servers\.production\.paths: expected an object, got "releases"/);
  });

  it('refuses a repository that git would read as an option', () => {
    assert.match(problem(withServer({ repository: '--upload-pack=touch /tmp/x' })), /^servers\.production\.repository: .*starts with "-"/);
  });

  it('refuses misspelt keys with "did you mean", in servers, common, nested objects and the top level', () => {
    assert.match(
      problem({ reposotory: 'r', servers: { production: server() }, repository: 'r' }),
      /^reposotory: unknown key "reposotory": did you mean "repository"\? Valid keys here: /,
    );
    assert.match(
      problem(withServer({ brach: 'main' })),
      /^servers\.production\.brach: unknown key "brach": did you mean "branch"\? Valid keys here: /,
    );
    assert.match(
      problem(withServer({ hots: 'x' })),
      /^servers\.production\.hots: unknown key "hots": did you mean "host"\? Valid keys here: /,
    );
    assert.match(
      problem(withServer({}, { common: { migrat: true } })),
      /^common\.migrat: unknown key "migrat": did you mean "migrate"\? Valid keys here: /,
    );
    assert.match(
      problem(withServer({ paths: { relases: 'r' } })),
      /^servers\.production\.paths\.relases: unknown key "relases": did you mean "releases"\? Valid keys here: /,
    );
    assert.match(problem(withServer({}, { sevrers: {} })), /^sevrers: unknown key "sevrers": did you mean "servers"\? Valid keys here: /);
  });

  it('refuses a group member or default that is not a server, with "did you mean"', () => {
    const servers = { web1: server(), web2: server() };
    assert.equal(
      problem({ repository: 'r', servers, groups: { web: ['web1', 'web3'] } }),
      'groups.web[1]: there is no server "web3": did you mean "web1"? Known: web1, web2',
    );
    assert.match(
      problem({ repository: 'r', servers, groups: { web: [] } }),
      /^groups\.web: expected a non-empty array of server names, got an array/,
    );
    assert.match(
      problem({ repository: 'r', servers, groups: { web1: ['web2'] } }),
      /^groups\.web1: expected a name that is not also a server's/,
    );
    assert.match(
      problem({ repository: 'r', servers, default: 'production' }),
      /^default: there is no server "production"\. Known: web1, web2, all/,
    );
  });

  it('reports several mistakes together in one error, each with its key path', () => {
    const error = failure({
      repository: 'r',
      servers: {
        production: { host: 'h', root: 'relative', port: 0, branch: '$(id)', keep: 1, reposotory: 'x', assets: ['../x'] },
        staging: { root: '/x', scripts: { nope: [] } },
      },
    });
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems.map((p) => p.key).sort(), [
      'servers.production.assets[0]',
      'servers.production.branch',
      'servers.production.keep',
      'servers.production.port',
      'servers.production.reposotory',
      'servers.production.root',
      'servers.staging.host',
      'servers.staging.scripts.nope',
    ]);
    assert.match(error.message, /^file .*\.attache\.json: 8 problems in the configuration:\n {2}- servers\.production\.reposotory: /);
    for (const p of error.problems) assert.ok(error.message.includes(`  - ${p.key}: ${p.message}`));
  });
});

describe('loadConfig: __proto__, constructor and prototype', () => {
  const at = (json: string, options: LoadOptions = {}) => {
    const error = failure(json, options);
    assert.ok(error instanceof ConfigError, error.message);
    return error.problems.map((p) => `${p.key}: ${p.message}`);
  };
  const refused = (key: string, name: string) =>
    `${key}: the key "${name}" is not allowed anywhere in the configuration: it is a name JavaScript objects reserve, never a setting`;
  const prod = (inside: string) => `{ "repository": "r", "servers": { "production": { "host": "h", "root": "/srv/app", ${inside} } } }`;

  const cases: Array<[string, string, string]> = [
    [
      'at the top',
      '{ "__proto__": { "host": "evil" }, "repository": "r", "servers": { "p": { "host": "h", "root": "/srv/app" } } }',
      '__proto__',
    ],
    [
      'as a server name',
      '{ "repository": "r", "servers": { "__proto__": { "host": "h", "root": "/srv/app" }, "p": { "host": "h", "root": "/srv/app" } } }',
      'servers.__proto__',
    ],
    ['inside a server', prod('"__proto__": { "migrate": true }'), 'servers.production.__proto__'],
    [
      'inside a server of the array form',
      '{ "repository": "r", "servers": [{ "name": "p", "host": "h", "root": "/srv/app", "constructor": 1 }] }',
      'servers[0].constructor',
    ],
    [
      'in common',
      '{ "repository": "r", "common": { "constructor": { "prototype": 1 } }, "servers": { "p": { "host": "h", "root": "/srv/app" } } }',
      'common.constructor',
    ],
    ['in scripts', prod('"scripts": { "prototype": ["echo"] }'), 'servers.production.scripts.prototype'],
    [
      'in a nested object',
      prod('"healthcheck": { "url": "http://x/", "__proto__": { "status": 500 } }'),
      'servers.production.healthcheck.__proto__',
    ],
    ['as a path name of your own', prod('"paths": { "constructor": "x" }'), 'servers.production.paths.constructor'],
    ['as an asset path', prod('"assets": { "__proto__": "public/x" }'), 'servers.production.assets.__proto__'],
    ['inside an array', prod('"assets": [{ "local": "a", "prototype": "b" }]'), 'servers.production.assets[0].prototype'],
    [
      'as a group name',
      '{ "repository": "r", "servers": { "p": { "host": "h", "root": "/srv/app" } }, "groups": { "__proto__": ["p"] } }',
      'groups.__proto__',
    ],
  ];
  for (const [where, json, key] of cases) {
    it(`are refused ${where}, naming the key path`, () => {
      assert.deepEqual(at(json), [refused(key, key.replace(/^.*[.\]]/, ''))]);
    });
  }

  it('are refused in the overrides a gulpfile passes, and the key path is in the message', () => {
    const error = failure(withServer(), { overrides: JSON.parse('{ "ssh": { "__proto__": { "agent": "/tmp/evil" } } }') });
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [{ key: 'overrides.ssh.__proto__', message: refused('', '__proto__').slice(2) }]);
    assert.match(
      error.message,
      /config key "overrides\.ssh\.__proto__".*: the key "__proto__" is not allowed anywhere in the configuration/,
    );
  });

  it('never reach a prototype, and deepMerge skips them', () => {
    at(
      '{ "repository": "r", "common": { "__proto__": { "polluted": true } }, "servers": { "p": { "host": "h", "root": "/srv/app", "__proto__": { "polluted": true } } } }',
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const merged = deepMerge({ a: 1 }, JSON.parse('{ "__proto__": { "polluted": true }, "b": 2 }')) as Record<string, unknown>;
    assert.equal(merged.polluted, undefined);
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
    assert.deepEqual(merged, { a: 1, b: 2 });
  });

  it('are fine as values: "constructor" is an ordinary string', () => {
    assert.deepEqual(loadServer({ secrets: ['constructor', '__proto__'] }).secrets, ['constructor', '__proto__']);
  });
});

describe('validateBranch', () => {
  it('returns a safe name and refuses an unsafe one, explaining what is allowed', () => {
    assert.equal(validateBranch('feature/x'), 'feature/x');
    for (const bad of ['$(id)', '`id`', 'a;b', 'a\nb', '-x', 'a..b', 'a.lock', 'a/']) {
      assert.throws(
        () => validateBranch(bad),
        (e: unknown) =>
          e instanceof AttacheError && /is not a usable branch name/.test(e.message) && /A branch name may use/.test(e.message),
      );
    }
  });
});

describe('validateReleaseId', () => {
  it('accepts 14 digits, optionally followed by -N', () => {
    for (const id of ['20261126203000', '20261126203000-2', '20261126203000-12']) assert.equal(validateReleaseId(id), id);
  });

  it('is the one rule: isReleaseId agrees, and accepts the ids a deploy makes (a UTC second, then -2, -3, … in the same second)', () => {
    const now = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14); // as chooseReleaseId makes it
    for (const id of [now, `${now}-2`, `${now}-10`]) assert.ok(isReleaseId(id), id);
    for (const id of [`${now}-0`, `${now}-01`, `${now}-`, now.slice(1), undefined, 20261126203000])
      assert.equal(isReleaseId(id), false, String(id));
  });

  for (const id of [
    '',
    '2026112620300',
    '202611262030000',
    '20261126203000;rm -rf /',
    '$(id)',
    '20261126203000$(id)',
    '20261126203000\n',
    '-20261126203000',
    '../20261126203000',
    '20261126203000/x',
    '..',
    '20261126203000-',
    '20261126203000-0',
    '20261126203000-a',
    ' 20261126203000',
    'latest',
  ]) {
    it(`refuses ${JSON.stringify(id)}`, () => {
      assert.throws(
        () => validateReleaseId(id),
        (e: unknown) => e instanceof AttacheError && /is not a release id/.test(e.message) && /14 digits/.test(e.message),
      );
    });
  }
});

describe('selectServers', () => {
  const config = (top: Record<string, unknown> = {}, names = ['web1', 'web2', 'worker']) =>
    load({ repository: 'r', servers: Object.fromEntries(names.map((n) => [n, server()])), groups: { web: ['web2', 'web1'] }, ...top });
  const names = (servers: { name: string }[]) => servers.map((s) => s.name);

  it('uses the default without --server', () => {
    assert.deepEqual(names(selectServers(config({ default: 'worker' }))), ['worker']);
    assert.deepEqual(names(selectServers(config({ default: 'web' }))), ['web2', 'web1']);
  });

  it('uses the only server when there is one and no default', () => {
    assert.deepEqual(names(selectServers(load(withServer()))), ['production']);
  });

  it('asks which server, listing servers and groups, when there are several and no default', () => {
    assert.throws(
      () => selectServers(config()),
      (e: unknown) =>
        e instanceof AttacheError &&
        /3 servers are configured and there is no "default"/.test(e.message) &&
        /--server=<name>/.test(e.message) &&
        /Servers: web1, web2, worker\. Groups: web\./.test(e.message) &&
        e.context.file !== undefined,
    );
  });

  it('selects every server with all, a group by name, a comma list deduplicated in order', () => {
    const c = config();
    assert.deepEqual(names(selectServers(c, 'all')), ['web1', 'web2', 'worker']);
    assert.deepEqual(names(selectServers(c, 'web')), ['web2', 'web1']);
    assert.deepEqual(names(selectServers(c, 'worker, web,web1 ,worker')), ['worker', 'web2', 'web1']);
    assert.deepEqual(names(selectServers(c, 'web1')), ['web1']);
  });

  it('refuses an unknown name, listing the known ones and suggesting the closest', () => {
    assert.throws(
      () => selectServers(config(), 'web1,wokrer'),
      (e: unknown) =>
        e instanceof AttacheError &&
        /no server or group named "wokrer" \(for "wokrer", did you mean "worker"\?\)/.test(e.message) &&
        /Servers: web1, web2, worker\. Groups: web\. Or all\./.test(e.message),
    );
    assert.throws(
      () => selectServers(config(), 'db'),
      (e: unknown) => e instanceof AttacheError && /no server or group named "db"/.test(e.message) && !/did you mean/.test(e.message),
    );
    assert.throws(() => selectServers(config(), ','), /names no server/);
  });
});

describe('parseFlags', () => {
  const argv = (...flags: string[]) => ['/usr/bin/node', '/usr/bin/gulp', 'deploy', ...flags];

  it('has defaults when no flag is given', () => {
    assert.deepEqual(parseFlags(argv()), { force: false, anyCommit: false, dryRun: false, verbose: false, quiet: false, unknown: [] });
  });

  it('reads every flag, with = or a separate value', () => {
    assert.deepEqual(
      parseFlags(
        argv(
          '--server=production',
          '--branch',
          'feature/x',
          '--release=20261126203000-2',
          '--env',
          'staging',
          '--dry-run',
          '--verbose',
          '--quiet',
          '--parallel=3',
          '--artifact=staging',
          '--force',
        ),
      ),
      {
        force: true,
        anyCommit: false,
        artifact: 'staging',
        dryRun: true,
        verbose: true,
        quiet: true,
        unknown: [],
        server: 'production',
        branch: 'feature/x',
        release: '20261126203000-2',
        env: 'staging',
        parallel: 3,
      },
    );
    assert.equal(parseFlags(argv('--server', 'web')).server, 'web');
    assert.equal(parseFlags(argv('--parallel', '2')).parallel, 2);
  });

  it('joins repeated --server flags with commas', () => {
    assert.equal(parseFlags(argv('--server=a', '--server', 'b,c')).server, 'a,b,c');
  });

  it("ignores gulp's own flags and task names, collects other --flags as unknown", () => {
    const flags = parseFlags(
      argv(
        '--gulpfile',
        'g.js',
        '--cwd=/x',
        '--tasks',
        '-T',
        '--color',
        '--no-color',
        '--series',
        '--continue',
        '--require',
        'ts-node',
        '--log-level',
        '--depth=2',
        '--compact-tasks',
        '--tasks-simple',
        '--tasks-json',
        '--sort-tasks',
        '--verify',
        '--help',
        '-h',
        '--version',
        '-v',
        'build',
        '--production',
        '--port=80',
      ),
    );
    assert.deepEqual(flags.unknown, ['--production', '--port']);
    assert.equal(flags.server, undefined);
  });

  it('refuses a misspelt flag of ours before anything runs: --dryrun never deploys for real', () => {
    assert.throws(
      () => parseFlags(argv('--dryrun')),
      /^AttacheError: unknown flag --dryrun; did you mean --dry-run\?\n {2}Nothing was done/,
    );
    assert.throws(() => parseFlags(argv('--sever=x')), /did you mean --server\?/);
    assert.throws(() => parseFlags(argv('--relase=1')), /did you mean --release\?/);
    assert.throws(() => parseFlags(argv('--verbos')), /did you mean --verbose\?/);
  });

  it('refuses a flag of ours that the task does not take, naming the tasks that do', () => {
    assert.throws(
      () => parseFlags(argv('--release=20261126203000'), 'deploy'),
      /--release is not a flag of deploy \(it is one of activate, delete\)/,
    );
    assert.equal(parseFlags(argv('--release=latest'), 'activate').release, 'latest');
    assert.equal(parseFlags(argv('--count=3'), 'prune').count, 3);
  });

  it('treats --silent as quiet and stops at --', () => {
    assert.equal(parseFlags(argv('--silent')).quiet, true);
    assert.deepEqual(parseFlags(argv('--', '--server=x', '--nope')), {
      force: false,
      anyCommit: false,
      dryRun: false,
      verbose: false,
      quiet: false,
      unknown: [],
    });
  });

  it('passes --release through unchecked (rollback also takes words like latest)', () => {
    assert.equal(parseFlags(argv('--release=latest')).release, 'latest');
  });

  it('refuses a missing value, a bad --parallel, an unsafe --branch, a value on a switch', () => {
    assert.throws(() => parseFlags(argv('--server')), /--server needs a value/);
    assert.throws(() => parseFlags(argv('--server=')), /--server needs a value/);
    assert.throws(() => parseFlags(argv('--branch', '--dry-run')), /--branch needs a value/);
    for (const n of ['0', '-1', '1.5', 'abc', '']) assert.throws(() => parseFlags(argv(`--parallel=${n}`)), AttacheError);
    assert.throws(() => parseFlags(argv('--branch=$(id)')), /"\$\(id\)" is not a usable branch name: it contains "\$"/);
    assert.throws(() => parseFlags(argv('--branch=-x')), /starts with "-"/);
    assert.throws(() => parseFlags(argv('--dry-run=false')), /--dry-run takes no value/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
