import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitChange, git, tempDir } from '../support/fixtures';
import { createSite, startTarget, type Site, type TargetSpec } from '../support/preset';

/**
 * The artifact strategy's refusals, each before anything on the server changed: no composer on
 * this machine, a lock that does not match composer.json, a branch the repository does not have,
 * a server whose PHP is not the one composer resolved for. And a commit this checkout lacks is
 * fetched from the repository into the local cache.
 */
describe('the artifact strategy refuses clearly, changing nothing', () => {
  let target: TargetSpec;
  let stop: () => Promise<void>;
  before(async () => {
    ({ target, stop } = await startTarget('sshd'));
  });
  after(() => stop());

  const site = (): Site => createSite({ target, server: { strategy: 'artifact' } });
  const untouched = (s: Site) => {
    assert.deepEqual(s.releases(), [], 'no release was made');
    assert.equal(s.live(), null);
  };

  it('no composer on this machine: says so, and how to go on', async () => {
    const s = site();
    const shims = tempDir('attache-no-composer-');
    writeFileSync(path.join(shims, 'composer'), '#!/bin/sh\nexit 127\n');
    chmodSync(path.join(shims, 'composer'), 0o755);
    const saved = process.env.PATH;
    process.env.PATH = `${shims}:${saved}`;
    try {
      const { error } = await s.fail('deploy');
      assert.match(error.message, /composer is not installed on this machine, and the "artifact" strategy runs composer install here/);
      assert.match(error.message, /"strategy": "clone"/);
    } finally {
      process.env.PATH = saved;
    }
    untouched(s);
  });

  it('a composer.lock that does not match composer.json', async () => {
    const s = site();
    const json = JSON.parse(readFileSync(path.join(s.cwd, 'composer.json'), 'utf8'));
    json.require = { php: '>=8.0' };
    commitChange(s.cwd, s.repo.bare, 'composer.json', JSON.stringify(json, null, 4));
    const { error } = await s.fail('deploy');
    assert.match(error.message, /composer\.lock does not match composer\.json/);
    assert.match(error.message, /composer update --lock/);
    untouched(s);
  });

  it('a branch the repository does not have', async () => {
    const s = site();
    const { error } = await s.fail('deploy', ['--branch=nope']);
    assert.match(error.message, /branch nope is not in the repository file:\/\//);
    untouched(s);
  });

  it('a server whose PHP is not config.platform.php: names both versions and where the wanted one comes from', async () => {
    const s = site();
    const file = path.join(s.cwd, 'composer.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.config.platform = { php: '5.6.0' };
    writeFileSync(file, JSON.stringify(json, null, 4));
    execFileSync('composer', ['update', '--lock', '--no-interaction', '--quiet'], {
      cwd: s.cwd,
      env: { ...process.env, COMPOSER_ALLOW_SUPERUSER: '1', COMPOSER_DISABLE_NETWORK: '1' },
    });
    git(s.cwd, 'add', 'composer.json', 'composer.lock');
    git(s.cwd, 'commit', '-q', '-m', 'Platform');
    git(s.cwd, 'push', '-q', s.repo.bare, 'HEAD:master');
    const serverPhp = execFileSync('php', ['-r', 'echo PHP_VERSION;'], { encoding: 'utf8' });
    const { error } = await s.fail('deploy');
    assert.match(
      error.message,
      new RegExp(
        `PHP version mismatch: the server runs PHP ${serverPhp.replace(/\./g, '\\.')}, and vendor/ was installed for PHP 5\\.6\\.0 \\(config\\.platform\\.php in composer\\.json`,
      ),
    );
    untouched(s);
  });

  it('no php on the server while the artisan steps need it', async () => {
    const s = createSite({ target, server: { strategy: 'artifact', php: { bin: '/nonexistent/php' } } });
    const { error } = await s.fail('deploy');
    assert.match(error.message, /php does not run on the server \(\/nonexistent\/php: .*\), and the artisan steps need it/);
    assert.match(error.message, /"skip"/);
    untouched(s);
  });

  it('a commit this checkout does not have is fetched from the repository into the local cache', async () => {
    const s = site();
    const other = path.join(tempDir('attache-other-'), 'clone');
    git(path.dirname(other), 'clone', '-q', s.repo.bare, other);
    const head = commitChange(other, s.repo.bare, 'app/Elsewhere.php', '<?php // pushed from another clone\n');
    assert.throws(() => git(s.cwd, 'cat-file', '-e', `${head}^{commit}`), 'the project checkout lacks it');
    const { lines } = await s.run('deploy');
    assert.match(lines.join('\n'), /fetching master from file:\/\/.* \(this checkout does not have/);
    const id = s.liveId() as string;
    assert.equal(s.marker(id).commit, head);
    assert.ok(existsSync(path.join(s.release(id), 'app', 'Elsewhere.php')));
  });
});
