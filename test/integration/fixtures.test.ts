import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildAssets, commitChange, composerInstall, createAppRepository, git, tempDir, type AppRepository } from '../support/fixtures';
import { httpGet, startWeb, type WebServer } from '../support/web';

/** The app's page carries exactly one `release: <id>` line. */
function releaseOf(body: string): string {
  const lines = body.match(/^release: .*$/gm) ?? [];
  assert.equal(lines.length, 1, `one release line in:\n${body}`);
  return lines[0].slice('release: '.length);
}

describe('test fixtures: the example app, its repository and a real nginx + php-fpm', () => {
  const dirs: string[] = [];
  let repo: AppRepository;
  let web: WebServer | undefined;

  /** `git clone --depth 1` of master, as a deploy does. */
  const clone = (into: string) => {
    git(path.dirname(into), 'clone', '-q', '--depth', '1', '--branch', 'master', `file://${repo.bare}`, into);
    return into;
  };

  before(() => {
    const dir = tempDir('attache-fixtures-');
    dirs.push(dir);
    repo = createAppRepository({ dir, extraCommits: 2 });
  });
  after(async () => {
    await web?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('makes a bare repository whose master clones shallow with the sources and no build outputs', () => {
    const work = clone(path.join(dirs[0], 'clone'));
    assert.equal(git(work, 'rev-parse', 'HEAD'), repo.head);
    assert.equal(git(work, 'rev-list', '--count', 'HEAD'), '1', 'shallow: file:// honours --depth');
    assert.equal(git(repo.bare, 'rev-list', '--count', 'master'), '3', 'the first commit and two extra ones');
    for (const file of [
      'composer.json',
      'composer.lock',
      'public/index.php',
      'app/Greeting.php',
      'storage/app/public/.gitignore',
      'storage/logs/.gitignore',
      '.env.example',
    ]) {
      assert.ok(existsSync(path.join(work, file)), file);
    }
    assert.ok(statSync(path.join(work, 'artisan')).mode & 0o100, 'artisan is executable');
    for (const built of ['vendor', 'public/js', 'public/css', 'public/mix-manifest.json']) {
      assert.equal(existsSync(path.join(work, built)), false, `${built} is not committed`);
    }
  });

  it('commits and pushes a change, returning the new head', () => {
    const head = commitChange(repo.work, repo.bare, 'resources/css/extra.css', 'p { color: red; }\n');
    assert.notEqual(head, repo.head);
    assert.equal(git(repo.bare, 'rev-parse', 'master'), head);
    repo = { ...repo, head };
  });

  it('installs with composer from the committed lock, offline', () => {
    const work = clone(path.join(dirs[0], 'composer'));
    composerInstall(work);
    assert.ok(existsSync(path.join(work, 'vendor/autoload.php')));
    const out = execFileSync('php', ['-r', 'require "vendor/autoload.php"; echo (new App\\Greeting("CLI"))->text();'], {
      cwd: work,
      encoding: 'utf8',
    });
    assert.equal(out, 'Hello from CLI!');
  });

  it('builds deterministic assets and a mix-manifest with sha1-versioned names', () => {
    const work = clone(path.join(dirs[0], 'assets'));
    buildAssets(work);
    const css = readFileSync(path.join(work, 'public/css/app.css'));
    const js = readFileSync(path.join(work, 'public/js/app.js'));
    const map = readFileSync(path.join(work, 'public/js/app.js.map'));
    assert.equal(css.toString().split('\n')[0], '/* example css */');
    assert.ok(map.includes(Buffer.from([0x00, 0x01])) && map.includes(Buffer.from([0xfe, 0xff])), 'the map is binary-ish');
    const version = (data: Buffer) => crypto.createHash('sha1').update(data).digest('hex').slice(0, 8);
    assert.deepEqual(JSON.parse(readFileSync(path.join(work, 'public/mix-manifest.json'), 'utf8')), {
      '/js/app.js': `/js/app.js?id=${version(js)}`,
      '/css/app.css': `/css/app.css?id=${version(css)}`,
    });
    buildAssets(work);
    assert.deepEqual(readFileSync(path.join(work, 'public/js/app.js.map')), map, 'a rebuild is byte-identical');
  });

  it('runs artisan storage:link and migrate --force, logging each call; migrate without --force fails', () => {
    const work = clone(path.join(dirs[0], 'artisan'));
    const artisan = (...args: string[]) => spawnSync(path.join(work, 'artisan'), args, { cwd: work, encoding: 'utf8' });
    assert.equal(artisan('storage:link').status, 0);
    assert.equal(artisan('storage:link').status, 0, 'idempotent');
    assert.equal(readlinkSync(path.join(work, 'public/storage')), '../storage/app/public');
    assert.equal(artisan('migrate').status, 1);
    assert.equal(artisan('migrate', '--force').status, 0);
    const unknown = artisan('queue:work');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /"queue:work" is not defined/);
    const log = readFileSync(path.join(work, 'storage/logs/artisan.log'), 'utf8');
    assert.equal(log, 'storage:link\nstorage:link\nmigrate\nmigrate --force\nqueue:work\n');
  });

  it('serves root/live/public through nginx + php-fpm and follows an atomic swap of live at the next request', async () => {
    // The layout a deploy leaves: releases/<id> clones sharing root/storage and root/.env.
    const root = path.join(dirs[0], 'deploy');
    mkdirSync(path.join(root, 'releases'), { recursive: true });
    writeFileSync(path.join(root, '.env'), 'APP_NAME="Fixture Test"\n');
    for (const id of ['A', 'B']) {
      const release = clone(path.join(root, 'releases', id));
      if (!existsSync(path.join(root, 'storage'))) cpSync(path.join(release, 'storage'), path.join(root, 'storage'), { recursive: true });
      rmSync(path.join(release, 'storage'), { recursive: true });
      symlinkSync('../../storage', path.join(release, 'storage'));
      symlinkSync('../../.env', path.join(release, '.env'));
      composerInstall(release);
      if (id === 'A') buildAssets(release); // B without assets: its page says "asset: none"
      execFileSync(path.join(release, 'artisan'), ['storage:link'], { cwd: release });
    }
    writeFileSync(path.join(root, 'storage/app/public/hello.txt'), 'shared\n');
    symlinkSync('releases/A', path.join(root, 'live'));

    web = await startWeb({ root });
    const first = await httpGet(`${web.url}/`);
    assert.equal(first.status, 200, first.body + web.logs());
    assert.equal(releaseOf(first.body), 'A');
    assert.match(first.body, /Hello from Fixture Test!/, 'the shared .env reached the release');
    assert.match(first.body, /^asset: \/\* example css \*\/$/m);
    assert.equal((await httpGet(`${web.url}/css/app.css`)).body.split('\n')[0], '/* example css */');
    assert.equal((await httpGet(`${web.url}/storage/hello.txt`)).body, 'shared\n', 'public/storage reaches the shared storage');
    assert.equal((await httpGet(`${web.url}/.env`)).status, 403);
    // Every php-fpm worker (4) has now run release A: with $document_root instead of
    // $realpath_root in site.conf, their OPcache and realpath cache keep serving A after the swap.
    for (let i = 0; i < 8; i++) assert.equal(releaseOf((await httpGet(`${web.url}/`)).body), 'A');

    // The swap a deploy does: a new symlink renamed over the old one (rename(2) is atomic).
    symlinkSync('releases/B', path.join(root, 'live.tmp'));
    renameSync(path.join(root, 'live.tmp'), path.join(root, 'live'));
    const next = await httpGet(`${web.url}/`);
    assert.equal(next.status, 200, next.body + web.logs());
    assert.equal(releaseOf(next.body), 'B', 'the very next request runs the new release, with no php-fpm reload');
    assert.match(next.body, /^asset: none$/m);
    for (let i = 0; i < 8; i++) assert.equal(releaseOf((await httpGet(`${web.url}/`)).body), 'B', 'and so does every worker');
    assert.ok(lstatSync(path.join(root, 'live')).isSymbolicLink());

    const { nginxPid, fpmPid, dir } = web;
    await web.stop();
    web = undefined;
    for (const pid of [nginxPid, fpmPid]) assert.throws(() => process.kill(pid, 0), 'stopped');
    assert.equal(existsSync(dir), false, 'its temp dir is gone');
  });
});
