import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, selectServers, type HookName, type ServerConfig } from '../../src/config';
import { Layout } from '../../src/release/model/layout';
import { expandTags } from '../../src/release/model/tags';
import { artisanCommand, composerBin, composerCommand, localComposerPath, phpCommand } from '../../src/release/model/tools';

/**
 * Every `.attache.json` of Attaché's own material (../shared/attache-corpus), read by us and
 * compared, item by item, with what Attaché 0.7.10 computes from the same file. The expected
 * values were worked out by reading Attaché's code (ConfigurationProvider, Server, ScriptCompiler,
 * Deployer), never by running ours: where we differ on purpose the entry says `ours` and `why`
 * (each such difference is a row of docs/attache.md, linked from the README's "Differences from Attaché").
 */

const REPO = path.resolve(__dirname, '../..');
const CORPUS = [path.resolve(REPO, '../shared/attache-corpus/configs'), '/work/shared/attache-corpus/configs'].find((dir) =>
  fs.existsSync(dir),
);

const R = '20261201120000';

/** A value where we knowingly differ from Attaché. */
interface Differs<T> {
  attache: T;
  ours: T;
  why: string;
}
type Value<T> = T | Differs<T>;
const differs = (value: unknown): value is Differs<unknown> => typeof value === 'object' && value !== null && 'why' in value;
const ours = <T>(value: Value<T>): T => (differs(value) ? (value as Differs<T>).ours : (value as T));

interface Server {
  host: string;
  port: number;
  user: string;
  /** Server::root() */
  root: string;
  branch: string;
  repository: string;
  /** Server::path(key): root/ + paths[key] */
  paths: { releases: string; serve: string; storage: string; env: string };
  /** Server::assets(): local => target inside the release */
  assets: Record<string, string>;
  /** ScriptCompiler's @php: Server::phpBin() */
  php: string;
  /** ScriptCompiler's @composer: Server::composerBin() */
  composerTag: string;
  /** Deployer::composerSteps(): the composer command up to " install", and whether --no-dev is added */
  composer: string;
  noDev: boolean;
  /** Deployer::getComposer(): root's composer.phar, when composer.local */
  localComposer?: string;
  /** Deployer::storageLinkSteps()/migrationSteps(): `<phpBin> <release>/artisan` */
  artisan: string;
  migrate: boolean;
  /** Deployer::buildTask(): script('build') ?: ['yarn prod'] */
  build: Value<string[]>;
  /** Server::script(hook, …): every compiled line */
  hooks: Partial<Record<HookName, Array<Value<string>>>>;
}

const paths = (root: string, names = { releases: 'releases', serve: 'live', storage: 'storage', env: '.env' }) => ({
  releases: `${root}/${names.releases}`,
  serve: `${root}/${names.serve}`,
  storage: `${root}/${names.storage}`,
  env: `${root}/${names.env}`,
});
const DEFAULT_ASSETS = { 'public/js': 'public/js', 'public/css': 'public/css', 'public/mix-manifest.json': 'public/mix-manifest.json' };

/** The docs' base server (docs/reference/README.md), which most derived files complete their fragment with. */
const BASE: Server = {
  host: 'myhost.test',
  port: 22,
  user: 'user',
  root: '/path/to/application',
  branch: 'master',
  repository: 'git@repository.git',
  paths: paths('/path/to/application'),
  assets: DEFAULT_ASSETS,
  php: 'php',
  composerTag: 'composer',
  composer: 'composer',
  noDev: true,
  artisan: `php /path/to/application/releases/${R}/artisan`,
  migrate: false,
  build: ['yarn prod'],
  hooks: {},
};
const INIT: Server = { ...BASE, host: 'example.test' };

/** common + the server, array_replace_recursive'd, for the "Common server configuration" examples. */
const COMMON: Server = {
  ...BASE,
  root: '/root/to/application',
  paths: paths('/root/to/application'),
  artisan: `php /root/to/application/releases/${R}/artisan`,
};

/** tests/attache-test.json: common gives paths, php and a local composer; production migrates and has a build and hooks. */
const ATTACHE_TEST_COMMON = {
  root: '/path/to/application',
  port: 22,
  paths: paths('/path/to/application', {
    releases: 'common-releases',
    serve: 'common-serve',
    storage: 'common-storage',
    env: 'common-env',
  }),
  assets: DEFAULT_ASSETS,
  repository: 'git@vcs.test:vendor/application.git',
  php: 'common-php',
  composerTag: '/path/to/application/common-composer',
  composer: 'common-php /path/to/application/common-composer',
  noDev: true,
  localComposer: '/path/to/application/common-composer',
  artisan: `common-php /path/to/application/common-releases/${R}/artisan`,
};
const ATTACHE_TEST: Record<string, Server> = {
  production: {
    ...ATTACHE_TEST_COMMON,
    host: 'common-host.test',
    user: 'common-user',
    branch: 'common-branch',
    migrate: true,
    build: ['some-build-command'],
    hooks: { 'before-migrate': ['before-migrate-script'], 'before-build': ['before-build-script'] },
  },
  staging: {
    ...ATTACHE_TEST_COMMON,
    host: 'staging.test',
    user: 'user',
    branch: 'staging',
    migrate: false,
    build: ['yarn prod'],
    hooks: {},
  },
};

interface Loadable {
  /** Attaché's ConfigurationProvider::server() with no name: the default, else the only server, else an error. */
  default: string | RegExp;
  servers: Record<string, Server>;
  /** Warnings we give while loading (each naming its key). */
  warnings?: RegExp[];
}

/**
 * Servers in the older array form are named by their "name", as the Attaché of that form (0.6 and
 * before) names them; 0.7.10 would name them 0, 1, 2 (a difference in the README's table).
 */
const LOADABLE: Record<string, Loadable> = {
  'tpg-attache-docs__reference-README@3f5ed6d': { default: 'production', servers: { production: BASE } },
  'tpg-attache-docs__reference-README@efb369c-array-form': { default: 'production', servers: { production: BASE } },
  'tpg-attache-docs__reference-scripts@3f5ed6d-after-composer+base': {
    default: 'production',
    servers: {
      production: {
        ...BASE,
        hooks: {
          'after-composer': [
            'echo "Dependencies installed."',
            {
              attache: 'php @release/artisan custom-command',
              ours: `php ${R}/artisan custom-command`,
              why: 'ScriptCompiler only reads a tag before a space, "}" or the end: @release/ stays as text there',
            },
          ],
        },
      },
    },
  },
  'tpg-attache-docs__reference-scripts@3f5ed6d-before-deploy+base': {
    default: 'production',
    servers: { production: { ...BASE, hooks: { 'before-deploy': ['mysqldump --databases my_app storage/backups/backup.sql'] } } },
  },
  'tpg-attache-docs__reference-scripts@3f5ed6d-build+base': {
    default: 'production',
    servers: { production: { ...BASE, build: ['npm run production'] } },
  },
  'tpg-attache-docs__reference-scripts@3f5ed6d-build-empty+base': {
    default: 'production',
    servers: {
      production: {
        ...BASE,
        build: {
          attache: ['yarn prod'],
          ours: [],
          why: "0.7.10's `script('build') ?: ['yarn prod']` treats [] as unset; its docs say [] skips the build, as ours does",
        },
      },
    },
  },
  'tpg-attache-docs__reference-scripts@3f5ed6d-release-tag+base': {
    default: 'production',
    servers: { production: { ...BASE, hooks: { 'after-composer': [`releases/${R}/artisan some-command`] } } },
  },
  'tpg-attache-docs__reference-servers@3f5ed6d-assets+base': {
    default: 'production',
    servers: {
      production: {
        ...BASE,
        assets: { ...DEFAULT_ASSETS, 'public/vendors~js': 'public/vendors~js', 'public/local-asset': 'public/remote-asset' },
      },
    },
  },
  'tpg-attache-docs__reference-servers@3f5ed6d-assets-storage+base': {
    default: 'production',
    servers: { production: { ...BASE, assets: { ...DEFAULT_ASSETS, 'storage/app/public/demo': 'storage/app/public/demo' } } },
  },
  'tpg-attache-docs__reference-servers@3f5ed6d-common+repository': {
    default: /3 servers are configured and there is no "default"/,
    servers: { staging: COMMON, testing: { ...COMMON, branch: 'testing' }, production: { ...COMMON, host: 'myproductionhost.test' } },
  },
  'tpg-attache-docs__reference-servers@3f5ed6d-common-only+repository': { default: 'staging', servers: { staging: COMMON } },
  'tpg-attache-docs__reference-servers@efb369c-common-array-form+repository': {
    default: /3 servers are configured and there is no "default"/,
    servers: { staging: COMMON, testing: { ...COMMON, branch: 'testing' }, production: { ...COMMON, host: 'myproductionhost.test' } },
  },
  'tpg-attache-docs__reference-servers@3f5ed6d-composer-local-dev+base': {
    default: 'production',
    servers: {
      production: {
        ...BASE,
        composerTag: '/path/to/application/composer.phar',
        composer: 'php /path/to/application/composer.phar',
        noDev: false,
        localComposer: '/path/to/application/composer.phar',
      },
    },
  },
  'tpg-attache-docs__reference-servers@3f5ed6d-composer-phar+base': {
    default: 'production',
    servers: { production: { ...BASE, composerTag: 'composer.phar', composer: 'composer.phar' } },
  },
  'tpg-attache-docs__reference-servers@3f5ed6d-default+base': { default: 'staging', servers: { staging: BASE, production: BASE } },
  'tpg-attache-docs__reference-servers@3f5ed6d-migrate+base': {
    default: 'production',
    servers: { production: { ...BASE, migrate: true } },
  },
  'tpg-attache-docs__reference-servers@3f5ed6d-paths-serve+base': {
    default: 'production',
    servers: { production: { ...BASE, paths: { ...BASE.paths, serve: '/path/to/application/www' } } },
  },
  'tpg-attache-docs__reference-servers@3f5ed6d-php-bin+base': {
    default: 'production',
    servers: {
      production: { ...BASE, php: '/usr/local/bin/php7.4', artisan: `/usr/local/bin/php7.4 /path/to/application/releases/${R}/artisan` },
    },
    warnings: [/^servers\.production\.php\.bin: defined twice \(line 12, column 17; first at line 11, column 17\): the last one is used/],
  },
  'tpg-attache-docs__started-README@3f5ed6d': { default: 'production', servers: { production: INIT } },
  'tpg-attache-docs__started-README@b98e612-array-form': { default: 'production', servers: { production: INIT } },
  'tpg-attache-docs__started-README@efb369c-array-form': { default: 'production', servers: { production: INIT } },
  'tpg-attache__src-Initializer-init@0.7.10': { default: 'production', servers: { production: { ...INIT, repository: 'git@origin.git' } } },
  'tpg-attache__tests-attache-test@0.7.10': { default: 'production', servers: ATTACHE_TEST },
  'tpg-attache__tests-attache-test@5cfbe71-array-form': { default: 'production', servers: ATTACHE_TEST },
};

/** Files Attaché cannot run either (it fails on them, or would run from a relative root); we refuse them, saying where. */
const REFUSED: Record<string, RegExp[]> = {
  // No repository anywhere: Attaché's `string $repository` property refuses the null.
  'tpg-attache-docs__reference-servers@3f5ed6d-common': [
    /servers\.staging\.repository: expected a git repository URL/,
    /servers\.production\.repository: /,
  ],
  // Trailing commas, as published: json_decode refuses them too.
  'tpg-attache__README@7361073-common': [/invalid JSON at line 16, column 9: .*JSON allows no comma before "\}"/],
  'tpg-attache__README@7361073-init': [/invalid JSON at line 25, column 9: .*JSON allows no comma before "\}"/],
  // A fragment with neither host nor repository: Server::host() returns null into a string.
  'tpg-attache__README@7361073-scripts': [
    /servers\[0\]\.host: expected a host name/,
    /servers\[0\]\.repository: expected a git repository URL/,
  ],
  // server-2 inherits "common-root", a relative root (a difference: ours must be absolute).
  'tpg-attache__tests-TestCase-config@0.7.10': [
    /common\.root: expected an absolute path on the server, e\.g\. "\/var\/www\/app", got "common-root": it is not absolute/,
  ],
  'tpg-attache__tests-TestCase-config@v0.6.4-array-form': [/common\.root: expected an absolute path on the server.*it is not absolute/],
};

describe("the Attaché corpus: every file of Attaché's own material", () => {
  it('is there, and every file in it is in one of the two tables', () => {
    assert.ok(
      CORPUS,
      `the corpus is missing: expected ../shared/attache-corpus/configs beside the checkout (${path.resolve(REPO, '../shared')}) or /work/shared`,
    );
    const files = fs
      .readdirSync(CORPUS)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
    assert.equal(files.length, 30);
    assert.deepEqual(files, [...Object.keys(LOADABLE), ...Object.keys(REFUSED)].sort());
  });

  for (const [name, problems] of Object.entries(REFUSED)) {
    it(`refuses ${name}, naming the file and the place`, () => {
      assert.ok(CORPUS, 'the corpus is missing');
      const file = path.join(CORPUS, `${name}.json`);
      assert.throws(
        () => loadConfig(file),
        (e: unknown) => {
          assert.ok(e instanceof Error);
          assert.ok(e.message.includes(file), `the message names the file: ${e.message}`);
          // A config error's places are its problems' key paths (one problem's message names its key in the context).
          const places = e instanceof ConfigError ? e.problems.map((p) => `${p.key}: ${p.message}`).join('\n') : e.message;
          for (const problem of problems) assert.match(places, problem);
          return true;
        },
      );
    });
  }

  for (const [name, expected] of Object.entries(LOADABLE)) {
    it(`reads ${name} as Attaché 0.7.10 does`, () => {
      assert.ok(CORPUS, 'the corpus is missing');
      const config = loadConfig(path.join(CORPUS, `${name}.json`));
      assert.deepEqual(Object.keys(config.servers), Object.keys(expected.servers), 'servers');
      if (typeof expected.default === 'string')
        assert.equal(
          selectServers(config)
            .map((s) => s.name)
            .join(','),
          expected.default,
          'the server chosen without --server',
        );
      else assert.throws(() => selectServers(config), expected.default);
      assert.equal(config.warnings.length, expected.warnings?.length ?? 0, `warnings: ${JSON.stringify(config.warnings)}`);
      expected.warnings?.forEach((w, i) => assert.match(`${config.warnings[i].key}: ${config.warnings[i].message}`, w));
      for (const [serverName, want] of Object.entries(expected.servers)) compare(config.servers[serverName], want);
    });
  }
});

function compare(server: ServerConfig, want: Server): void {
  const at = (what: string) => `${server.name}: ${what}`;
  const layout = new Layout(server);
  assert.equal(server.host, want.host, at('host'));
  assert.equal(server.port ?? 22, want.port, at('port'));
  assert.equal(server.user, want.user, at('user'));
  assert.equal(layout.root, want.root, at('root'));
  assert.equal(server.branch, want.branch, at('branch'));
  assert.equal(server.repository, want.repository, at('repository'));
  assert.deepEqual({ releases: layout.releases, serve: layout.live, storage: layout.storage, env: layout.env }, want.paths, at('paths'));
  assert.deepEqual(Object.fromEntries(server.assets.map((a) => [a.local, a.remote])), want.assets, at('assets'));
  assert.equal(server.assets.length, Object.keys(want.assets).length, at('assets: one mapping per local path'));
  assert.equal(phpCommand(server).text, want.php, at('@php'));
  assert.equal(expandTags('@php', server, layout, R, 'after-composer'), want.php, at('@php'));
  assert.equal(composerBin(server).text, want.composerTag, at('@composer'));
  assert.equal(expandTags('{{ @composer }}', server, layout, R, 'after-composer'), want.composerTag, at('{{ @composer }}'));
  assert.equal(composerCommand(server).text, want.composer, at('the composer command'));
  assert.equal(!server.composer.dev, want.noDev, at('--no-dev'));
  assert.equal(server.composer.local ? localComposerPath(server) : undefined, want.localComposer, at("root's own composer"));
  assert.equal(artisanCommand(server, layout.inRelease(R, 'artisan')).text, want.artisan, at('artisan storage:link / migrate'));
  assert.equal(server.migrate, want.migrate, at('migrate'));
  assert.deepEqual(server.build, ours(want.build), at('build'));
  assert.deepEqual(
    server.build.map((line) => expandTags(line, server, layout, undefined, 'build')),
    ours(want.build),
    at('build, compiled'),
  );
  assert.deepEqual(Object.keys(server.scripts).sort(), Object.keys(want.hooks).sort(), at('hooks'));
  for (const [hook, lines] of Object.entries(want.hooks) as Array<[HookName, Array<Value<string>>]>) {
    const compiled = (server.scripts[hook] ?? []).map((line) => expandTags(line, server, layout, R, hook));
    assert.deepEqual(compiled, lines.map(ours), at(`${hook}, compiled`));
  }
}
