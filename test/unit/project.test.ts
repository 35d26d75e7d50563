import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config';
import { ATTACHE_PROJECT, detectProject } from '../../src/config/project';
import { sameRepository } from '../../src/release/steps/source';

/** A project directory with these files (a value is the file's text; package.json's is an object). */
function project(files: Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attache-project-'));
  for (const [name, value] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), typeof value === 'string' ? value : JSON.stringify(value));
  }
  return dir;
}

const VITE_APP = {
  'package.json': { type: 'module', scripts: { build: 'vite build', dev: 'vite' } },
  'vite.config.js': 'export default {}',
};
const MIX_APP = { 'package.json': { scripts: { prod: 'mix --production', dev: 'mix' } } };

describe('the build and the assets found from the project', () => {
  it('a Vite app (laravel new): its package manager runs build, into public/build', () => {
    assert.deepEqual(detectProject(project({ ...VITE_APP, 'package-lock.json': '{}' })), {
      bundler: 'vite',
      build: ['npm run build'],
      assets: ['public/build'],
      found: 'Vite (vite.config.js), npm (package-lock.json)',
      restart: [],
    });
    assert.deepEqual(detectProject(project({ ...VITE_APP, 'pnpm-lock.yaml': '' })).build, ['pnpm run build']);
    assert.deepEqual(detectProject(project({ ...VITE_APP, 'bun.lock': '' })).build, ['bun run build']);
    assert.deepEqual(detectProject(project({ ...VITE_APP, 'yarn.lock': '' })).build, ['yarn build']);
    assert.deepEqual(detectProject(project(VITE_APP)).build, ['yarn build'], 'no lockfile: yarn, as Attaché');
  });

  it("Inertia's SSR bundle ships too when the build makes one", () => {
    const ssr = { ...VITE_APP, 'package.json': { scripts: { build: 'vite build && vite build --ssr' } } };
    assert.deepEqual(detectProject(project(ssr)).assets, ['public/build', 'bootstrap/ssr']);
  });

  it("a Mix app keeps Attaché's assets, its build run by its package manager; no package.json keeps Attaché's defaults", () => {
    assert.deepEqual(detectProject(project({ ...MIX_APP, 'yarn.lock': '' })), {
      bundler: 'mix',
      build: ['yarn prod'],
      assets: ['public/js', 'public/css', 'public/mix-manifest.json'],
      found: 'Mix, yarn (yarn.lock)',
      restart: [],
    });
    assert.deepEqual(detectProject(project({ ...MIX_APP, 'package-lock.json': '{}' })).build, ['npm run prod']);
    assert.deepEqual(detectProject(project({})), ATTACHE_PROJECT);
    assert.deepEqual(ATTACHE_PROJECT.build, ['yarn prod']);
    // A vite dependency without a vite config is not a Vite app (a tool may depend on it).
    assert.deepEqual(
      detectProject(project({ 'package.json': { scripts: { build: 'tsc' }, devDependencies: { vite: '7' } } })),
      ATTACHE_PROJECT,
    );
  });

  it('the config takes them as defaults; explicit settings win; a mapping of public/ covers public/build', () => {
    const config = { repository: 'git@example.com:app.git', servers: { production: { host: 'h', root: '/srv/app' } } };
    const dir = project({ ...VITE_APP, 'package-lock.json': '{}', '.attache.json': JSON.stringify(config) });
    const server = (extra: Record<string, unknown>) => {
      writeFileSync(
        path.join(dir, '.attache.json'),
        JSON.stringify({ ...config, servers: { production: { ...config.servers.production, ...extra } } }),
      );
      return loadConfig('.attache.json', { cwd: dir }).servers.production;
    };
    assert.deepEqual(server({}).build, ['npm run build']);
    assert.deepEqual(server({}).assets, [{ local: 'public/build', remote: 'public/build' }]);
    assert.deepEqual(server({ scripts: { build: ['make assets'] } }).build, ['make assets']);
    assert.deepEqual(server({ assets: ['public'] }).assets, [{ local: 'public', remote: 'public' }]);
    assert.deepEqual(server({ assets: { 'public/build': false } }).assets, []);
    assert.deepEqual(server({ assets: ['resources/extra'] }).assets, [
      { local: 'public/build', remote: 'public/build' },
      { local: 'resources/extra', remote: 'resources/extra' },
    ]);
  });
});

describe("what a Laravel app's packages need after a swap, and its health route", () => {
  const lock = (packages: Record<string, string>) =>
    JSON.stringify({ packages: Object.entries(packages).map(([name, version]) => ({ name, version })) });

  it('Laravel 12.41 and later: artisan reload, which the packages register with', () => {
    assert.deepEqual(
      detectProject(project({ 'composer.lock': lock({ 'laravel/framework': 'v12.41.0', 'laravel/horizon': 'v5.30.0' }) })).restart,
      ['reload'],
    );
    assert.deepEqual(detectProject(project({ 'composer.lock': lock({ 'laravel/framework': 'v13.0.1' }) })).restart, ['reload']);
  });

  it("before it: queue:restart, schedule:interrupt and each installed package's own command; nothing without Laravel", () => {
    const packages = {
      'laravel/framework': 'v12.40.2',
      'laravel/horizon': 'v5.30.0',
      'laravel/pulse': 'v1.4.0',
      'laravel/reverb': 'v1.5.0',
      'laravel/octane': 'v2.6.0',
      'inertiajs/inertia-laravel': 'v2.0.0',
    };
    assert.deepEqual(detectProject(project({ 'composer.lock': lock(packages), 'bootstrap/ssr/ssr.js': '' })).restart, [
      'queue:restart',
      'schedule:interrupt',
      'horizon:terminate',
      'pulse:restart',
      'reverb:restart',
      'octane:stop',
      'inertia:stop-ssr',
    ]);
    assert.deepEqual(detectProject(project({ 'composer.lock': lock({ 'laravel/framework': 'v9.52.0' }) })).restart, ['queue:restart']);
    assert.deepEqual(detectProject(project({ 'composer.lock': lock({ 'symfony/console': 'v7.0.0' }) })).restart, []);
  });

  it('reads the health route bootstrap/app.php declares (Laravel 11+)', () => {
    const app =
      "return Application::configure(basePath: dirname(__DIR__))\n    ->withRouting(web: __DIR__.'/../routes/web.php', health: '/up')\n    ->create();\n";
    assert.equal(detectProject(project({ 'bootstrap/app.php': app })).healthRoute, '/up');
    assert.equal(detectProject(project({ 'bootstrap/app.php': '<?php return 1;' })).healthRoute, undefined);
  });
});

describe('one repository, however its URL is written', () => {
  it('matches scp-like, ssh://, https:// (with credentials), file:// and path forms, with or without .git', () => {
    const github = [
      'git@github.com:you/app.git',
      'ssh://git@github.com/you/app.git',
      'https://github.com/you/app',
      'https://u:t@GitHub.com/you/app.git/',
    ];
    for (const url of github) assert.equal(sameRepository(url), 'github.com/you/app', url);
    for (const url of ['file:///srv/git/app.git', '/srv/git/app.git', '/srv/git/app'])
      assert.equal(sameRepository(url), '/srv/git/app', url);
    assert.notEqual(sameRepository('git@github.com:you/app.git'), sameRepository('git@gitlab.com:you/app.git'));
  });
});
