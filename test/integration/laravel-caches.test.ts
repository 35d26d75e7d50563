import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitChange, tempDir } from '../support/fixtures';
import { createFleet } from '../support/fleet';
import { createSite, startTarget, type Site, type TargetSpec } from '../support/preset';
import type { SshServer } from '../../support/sshd';

/**
 * Laravel's caches and workers, on the real sshd with the example app's artisan stand-in (it logs
 * every call as "<release> live=<release live points to> <command>"): `optimize` runs in the new
 * release before the swap and a config that does not load fails the deploy with live untouched;
 * `restart` runs in the new release after the swap, its failure only a warning; on a fleet of
 * three, queue:restart runs once and horizon:terminate on every server.
 */

const calls = (root: string): string[] => {
  const file = path.join(root, 'storage/logs/artisan-calls.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
};

describe('optimize and restart', () => {
  let target: TargetSpec;
  let sshd: SshServer | undefined;
  let stopTarget = async () => {};
  before(async () => {
    ({ target, sshd, stop: stopTarget } = await startTarget('sshd'));
  });
  after(() => stopTarget());

  describe('on one server', () => {
    let site: Site;
    let seen: string;
    before(() => {
      seen = path.join(tempDir('attache-seen-'), 'seen');
      site = createSite({
        target,
        server: {
          optimize: true,
          restart: ['queue:restart', 'octane:reload', 'nope:restart'],
          // What the release holds at the moment before the swap.
          scripts: { build: [], 'before-live': [`test -f releases/@release/bootstrap/cache/config.php && echo config-cached >> ${seen}`] },
        },
      });
    });

    it('optimize builds the caches in the new release before the swap (view:cache and event:cache too, for Laravel 10)', async () => {
      await site.run('deploy');
      const id = site.liveId()!;
      assert.equal(readFileSync(seen, 'utf8'), 'config-cached\n', 'bootstrap/cache/config.php existed before the swap');
      assert.ok(existsSync(path.join(site.release(id), 'bootstrap/cache/config.php')));
      const log = calls(site.root);
      for (const command of ['optimize', 'view:cache', 'event:cache'])
        assert.ok(log.includes(`${id} live=- ${command}`), `${command} before the swap:\n${log.join('\n')}`);
    });

    it('restart runs in the new release after the swap; a failing restart command is a warning and the release stays live', async () => {
      const previous = site.liveId()!;
      commitChange(site.repo.work, site.repo.bare, 'app/Version.php', '<?php // two\n');
      const { lines } = await site.run('deploy');
      const id = site.liveId()!;
      assert.notEqual(id, previous);
      const log = calls(site.root);
      assert.ok(log.includes(`${id} live=${previous} optimize`), log.join('\n'));
      for (const command of ['queue:restart', 'octane:reload'])
        assert.ok(log.includes(`${id} live=${id} ${command}`), `${command} after the swap:\n${log.join('\n')}`);
      assert.ok(
        lines.some((line) =>
          /artisan nope:restart failed after the swap \(.*Command "nope:restart" is not defined.*\); the new release stays live/.test(line),
        ),
        lines.join('\n'),
      );
      assert.equal(site.marker(id).status, 'ready');
    });

    it('a config that does not load fails the deploy before the swap: live untouched, the release removed, nothing restarted', async () => {
      const live = site.liveId()!;
      const before = calls(site.root).length;
      commitChange(site.repo.work, site.repo.bare, 'config/app.php', "<?php\nreturn ['name' => undefined_helper()];\n");
      const { error } = await site.fail('deploy');
      assert.match(
        error.message,
        /artisan optimize failed in the new release: .*In app\.php line 2: Call to undefined function undefined_helper\(\)/,
        error.message,
      );
      assert.match(error.message, /step "optimize"/);
      assert.match(error.message, /live still serves the previous release/);
      assert.equal(site.liveId(), live);
      assert.equal(site.releases().length, 2, 'the failed release is removed');
      const after = calls(site.root).slice(before);
      assert.ok(
        after.some((line) => line.endsWith(' optimize')),
        after.join('\n'),
      );
      assert.ok(!after.some((line) => /restart|reload/.test(line)), `nothing restarted:\n${after.join('\n')}`);
    });
  });

  describe('on a fleet of three', () => {
    it('queue:restart runs once (shared cache); horizon:terminate on every server (it signals its own host)', async () => {
      const fleet = createFleet({
        servers: { web1: sshd!, web2: sshd!, web3: sshd! },
        common: { restart: ['queue:restart', 'horizon:terminate'] },
      });
      const { lines } = await fleet.run('deploy', ['--server=web']);
      const id = fleet.liveId('web1')!;
      const all = fleet.names.flatMap((name) => calls(fleet.roots[name]).map((line) => `${name} ${line}`));
      assert.equal(all.filter((line) => line.endsWith(' queue:restart')).length, 1, all.join('\n'));
      assert.ok(all.includes(`web1 ${id} live=${id} queue:restart`), all.join('\n'));
      for (const name of fleet.names) assert.ok(all.includes(`${name} ${id} live=${id} horizon:terminate`), all.join('\n'));
      assert.ok(
        lines.some((line) => line.includes('[web2] artisan queue:restart: run once for the fleet, on web1')),
        lines.join('\n'),
      );
    });
  });
});
