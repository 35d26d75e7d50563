import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config';

/** The production keys: shared, webUser, writable, optimize, restart, opcache, healthcheck.header. */

const dirs: string[] = [];
after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function load(server: Record<string, unknown>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-laravel-config-'));
  dirs.push(dir);
  const config = {
    repository: 'git@github.com:me/app.git',
    servers: { production: { host: 'example.com', root: '/var/www/app', ...server } },
  };
  fs.writeFileSync(path.join(dir, '.attache.json'), JSON.stringify(config));
  return loadConfig('.attache.json', { cwd: dir }).servers.production;
}

function problems(server: Record<string, unknown>): string[] {
  try {
    load(server);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems.map((p) => `${p.key}: ${p.message}`);
  }
  return assert.fail('expected the config to be refused');
}

describe('config: Laravel activation keys', () => {
  it('defaults to nothing extra', () => {
    const server = load({});
    assert.deepEqual(server.shared, { dirs: [], files: [] });
    assert.deepEqual(server.writable, []);
    assert.equal(server.optimize, false);
    assert.deepEqual(server.restart, []);
    assert.equal(server.webUser, undefined);
    assert.equal(server.opcache, undefined);
  });

  it('reads shared dirs and files, webUser, writable, optimize, restart, opcache and a health check header', () => {
    const server = load({
      shared: { dirs: ['public/uploads/'], files: ['auth.json'] },
      webUser: 'www-data',
      writable: ['public/uploads'],
      optimize: true,
      restart: ['queue:restart', 'octane:reload --server=swoole'],
      opcache: { fpm: '/run/php/php8.2-fpm.sock' },
      healthcheck: { url: 'https://example.com/', contains: 'release: @release', header: 'X-Release: @release' },
    });
    assert.deepEqual(server.shared, { dirs: ['public/uploads'], files: ['auth.json'] });
    assert.equal(server.webUser, 'www-data');
    assert.deepEqual(server.writable, ['public/uploads']);
    assert.equal(server.optimize, true);
    assert.deepEqual(server.restart, ['queue:restart', 'octane:reload --server=swoole']);
    assert.deepEqual(server.opcache, { fpm: '/run/php/php8.2-fpm.sock' });
    assert.deepEqual(server.healthcheck?.header, { name: 'X-Release', value: '@release' });
    assert.deepEqual(load({ opcache: { fpm: '127.0.0.1:9000' } }).opcache, { fpm: '127.0.0.1:9000' });
  });

  it('refuses nested shared paths, paths leaving the release, and shared paths inside storage or .env', () => {
    assert.match(
      problems({ shared: { dirs: ['public/uploads', 'public/uploads/avatars'] } }).join('\n'),
      /shared\.dirs\[1\]: .*overlaps shared "public\/uploads"/,
    );
    assert.match(
      problems({ shared: { dirs: ['public'], files: ['public/robots.txt'] } }).join('\n'),
      /shared\.files\[0\]: .*overlaps shared "public"/,
    );
    assert.match(problems({ shared: { dirs: ['storage/app'] } }).join('\n'), /shared\.dirs\[0\]: .*overlaps the shared storage/);
    assert.match(problems({ shared: { files: ['.env'] } }).join('\n'), /shared\.files\[0\]: .*overlaps the shared \.env/);
    assert.match(problems({ shared: { dirs: ['../uploads'] } }).join('\n'), /shared\.dirs\[0\]: .*leaves the release/);
    assert.match(problems({ writable: ['/var/tmp'] }).join('\n'), /writable\[0\]: .*absolute/);
  });

  it('refuses a bad webUser, restart command, opcache socket and header, naming the key', () => {
    assert.match(problems({ webUser: 'www data' }).join('\n'), /webUser: .*letters, digits/);
    assert.match(problems({ restart: ['--force'] }).join('\n'), /restart\[0\]: .*starts with "-"/);
    assert.match(problems({ restart: 'queue:restart' }).join('\n'), /restart: expected an array of artisan commands/);
    assert.match(problems({ opcache: { fpm: 'php-fpm.sock' } }).join('\n'), /opcache\.fpm: .*absolute socket path or host:port/);
    assert.match(problems({ opcache: {} }).join('\n'), /opcache\.fpm: expected php-fpm's socket path/);
    assert.match(problems({ opcache: { fmp: '/run/x.sock' } }).join('\n'), /opcache\.fmp: unknown key "fmp": did you mean "fpm"\?/);
    assert.match(
      problems({ healthcheck: { url: 'https://example.com/', header: 'X-Release' } }).join('\n'),
      /healthcheck\.header: .*not "Name: value"/,
    );
  });
});
