import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { commitChange } from '../support/fixtures';
import { servedRelease, startLoad, swapWatchingLogger, type LoadSummary, type Swap } from '../support/load';
import { createSite, startTarget, type Site, type TargetSpec } from '../support/preset';
import { httpGet, startWeb, type WebServer } from '../support/web';

/**
 * Zero downtime with "strategy": "artifact", as zero-downtime.test.ts measures it for clone: nginx +
 * php-fpm serve root/live/public while a separate process keeps requesting the page, and releases
 * built here and sent (mostly hard links to the live release's files) are swapped in again and
 * again, then rolled back. Not one request may fail, every page comes whole from one deployed
 * release, and each swap is served within a second.
 */

const SWAP_TO_SERVED_MS = 1000;

describe('zero downtime with the artifact strategy, served by nginx + php-fpm', () => {
  let target: TargetSpec;
  let stopTarget = async () => {};
  let site: Site;
  let web: WebServer;

  before(async () => {
    ({ target, stop: stopTarget } = await startTarget('sshd'));
    site = createSite({ target, server: { strategy: 'artifact' } });
    web = await startWeb({ root: site.root });
  });
  after(async () => {
    await web?.stop();
    await stopTarget();
  });

  it('serves every request with 200 from exactly one deployed release; each swap is served within 1 s', async (t) => {
    const url = web.url + '/';
    const deployed: string[] = [];
    const swaps: Swap[] = [];
    const run = async (task: 'deploy' | 'rollback', flags: string[] = []) => {
      const watcher = swapWatchingLogger(url);
      try {
        await site.run(task, flags, { logger: watcher.log });
      } catch (error) {
        (error as Error).message += `\n--- log:\n${watcher.lines.join('\n')}`;
        throw error;
      }
      assert.equal(watcher.swaps.length, 1, `one swap logged by ${task}:\n${watcher.lines.join('\n')}`);
      swaps.push(watcher.swaps[0]);
      return watcher.swaps[0];
    };

    deployed.push((await run('deploy')).id);
    assert.equal(servedRelease((await httpGet(url)).body), deployed[0]);

    const load = await startLoad({ url, concurrency: 6, pauseMs: 20, limitMs: 120_000 });
    let summary: LoadSummary;
    try {
      for (let i = 1; i <= 8; i++) {
        // A new commit for most deploys; the others ship the same artifact again (--force: it is what live holds).
        const same = i % 3 === 0;
        if (!same) commitChange(site.repo.work, site.repo.bare, 'app/Version.php', `<?php // deploy ${i}\n`);
        const swap = await run('deploy', same ? ['--force'] : []);
        assert.ok(!deployed.includes(swap.id), `deploy ${i} made a new release (${swap.id})`);
        deployed.push(swap.id);
      }
      const rollback = await run('rollback');
      assert.equal(rollback.id, deployed.at(-2));
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(servedRelease((await httpGet(url)).body), deployed.at(-2), 'after the rollback the previous release is served');
    } finally {
      summary = await load.stop();
    }

    for (const swap of swaps) {
      const servedAt = await swap.served;
      assert.ok(servedAt - swap.at <= SWAP_TO_SERVED_MS, `release ${swap.id} served ${servedAt - swap.at} ms after its swap`);
    }
    t.diagnostic(
      `load: ${summary.requests} requests, ${summary.errors} failed, ${summary.non200} non-200, ${summary.malformed} malformed; releases served: ${JSON.stringify(summary.seen)}`,
    );
    assert.equal(summary.timedOut, false);
    assert.ok(summary.requests >= 200, `enough requests to mean something (${summary.requests})`);
    assert.equal(summary.errors, 0, `no failed requests:\n${summary.samples.join('\n')}`);
    assert.equal(summary.non200, 0, `no status but 200:\n${summary.samples.join('\n')}`);
    assert.equal(summary.malformed, 0, `every body names exactly one release:\n${summary.samples.join('\n')}`);
    for (const id of Object.keys(summary.seen)) assert.ok(deployed.includes(id), `served release ${id} is one that was deployed`);
    assert.ok(Object.keys(summary.seen).length >= 6, `the load saw the releases change (${Object.keys(summary.seen).length} seen)`);
  });
});
