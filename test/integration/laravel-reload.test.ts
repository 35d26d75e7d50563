import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitChange } from '../support/fixtures';
import { createSite, startTarget, type Site } from '../support/preset';

/**
 * After the swap, what composer.lock's Laravel packages need, with no "restart" in the config:
 * `artisan reload` from Laravel 12.41 (its FAIL line a warning), the packages' own commands before.
 * The example app's artisan logs each call with the release live at that moment.
 */
const lock = (packages: Record<string, string>) =>
  JSON.stringify({ packages: Object.entries(packages).map(([name, version]) => ({ name, version })) }, null, 2);

describe("restart's default from composer.lock", () => {
  let site: Site;
  let stop: () => Promise<void>;
  const calls = () => readFileSync(path.join(site.root, 'storage/logs/artisan-calls.log'), 'utf8').trim().split('\n');

  before(async () => {
    const started = await startTarget('sshd');
    stop = started.stop;
    // No vendor to install (the lock names packages this test has no copy of): composer is skipped.
    site = createSite({ target: started.target, server: { skip: ['composer'] } });
  });
  after(() => stop());

  it('Laravel 12.41+: artisan reload runs in the new release, after the swap', async () => {
    commitChange(site.cwd, site.repo.bare, 'composer.lock', lock({ 'laravel/framework': 'v12.41.0', 'laravel/horizon': 'v5.30.0' }));
    await site.run('deploy');
    const id = site.liveId();
    assert.ok(calls().includes(`${id} live=${id} reload`), calls().join('\n'));
    assert.ok(!calls().some((line) => line.endsWith('queue:restart')));
  });

  it("a FAIL line of reload's output is a warning naming it; the release stays live", async () => {
    writeFileSync(path.join(site.root, 'storage/reload-fails'), 'queue\n');
    commitChange(site.cwd, site.repo.bare, 'app/Version.php', '<?php // reload fails\n');
    const { lines } = await site.run('deploy');
    assert.ok(
      lines.some((line) => /artisan reload failed after the swap \(Queue workers \.* FAIL\)/.test(line)),
      lines.join('\n'),
    );
    assert.equal(site.marker(site.liveId()!).status, 'ready');
  });

  it("before 12.41: queue:restart, schedule:interrupt and the installed packages' commands", async () => {
    commitChange(site.cwd, site.repo.bare, 'composer.lock', lock({ 'laravel/framework': 'v11.9.0', 'laravel/horizon': 'v5.30.0' }));
    await site.run('deploy');
    const id = site.liveId();
    for (const command of ['queue:restart', 'schedule:interrupt', 'horizon:terminate']) {
      assert.ok(calls().includes(`${id} live=${id} ${command}`), `${command}:\n${calls().join('\n')}`);
    }
    assert.ok(!calls().includes(`${id} live=${id} reload`));
  });

  it('"restart" in the config overrides the default', async () => {
    const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
    config.servers.production.restart = ['octane:reload'];
    writeFileSync(site.configFile, JSON.stringify(config));
    commitChange(site.cwd, site.repo.bare, 'app/Version.php', '<?php // override\n');
    await site.run('deploy');
    const id = site.liveId();
    assert.ok(calls().includes(`${id} live=${id} octane:reload`));
    assert.ok(!calls().includes(`${id} live=${id} queue:restart`));
  });
});
