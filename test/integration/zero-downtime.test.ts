import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitChange, EXAMPLE_APP } from '../support/fixtures';
import { servedRelease, startLoad, swapWatchingLogger, type LoadSummary, type Swap } from '../support/load';
import { createSite, exists, startTarget, type Site, type TargetSpec } from '../support/preset';
import { httpGet, startWeb, type WebServer } from '../support/web';

/**
 * Zero downtime, measured from outside: a real nginx + php-fpm serves root/live/public (the
 * recommended example/nginx/site.conf) while a separate process keeps requesting the page, and the
 * deploy preset deploys over the real sshd again and again, then rolls back. Not one request may
 * fail, every page must come whole from exactly one deployed release, and each swap must be served
 * within a second. Then the health check: a release that fails it is swapped back, marked failed,
 * and never chosen again.
 */

const SWAP_TO_SERVED_MS = 1000;
const INDEX = 'public/index.php';
const ORIGINAL_INDEX = readFileSync(path.join(EXAMPLE_APP, INDEX), 'utf8');

describe('zero downtime on the real sshd, served by nginx + php-fpm', () => {
  let target: TargetSpec;
  let stopTarget = async () => {};

  before(async () => {
    ({ target, stop: stopTarget } = await startTarget('sshd'));
  });
  after(() => stopTarget());

  describe('ten deploys and a rollback under load', () => {
    let site: Site;
    let web: WebServer;

    before(async () => {
      site = createSite({ target }); // scripts.build [] and the assets built; composer runs on the server
      web = await startWeb({ root: site.root });
    });
    after(() => web?.stop());

    it('serves every request with 200 from exactly one deployed release; each swap is served within 1 s', async (t) => {
      const started = Date.now();
      const url = web.url + '/';
      const deployed: string[] = [];
      const swaps: Swap[] = [];

      const run = async (task: 'deploy' | 'rollback') => {
        const watcher = swapWatchingLogger(url);
        try {
          await site.run(task, [], { logger: watcher.log });
        } catch (error) {
          (error as Error).message += `\n--- log:\n${watcher.lines.join('\n')}`;
          throw error;
        }
        assert.equal(watcher.swaps.length, 1, `one swap logged by ${task}:\n${watcher.lines.join('\n')}`);
        const [swap] = watcher.swaps;
        assert.equal(swap.id, site.liveId(), 'the logged swap is where live points');
        swaps.push(swap);
        return swap;
      };

      // The first deploy, before any load: there is nothing to serve before it.
      deployed.push((await run('deploy')).id);
      assert.equal(servedRelease((await httpGet(url)).body), deployed[0]);

      const load = await startLoad({ url, concurrency: 6, pauseMs: 20, limitMs: 120_000 });
      let summary: LoadSummary | undefined;
      try {
        for (let i = 1; i <= 10; i++) {
          // A new commit for most deploys, so that releases differ in content too; some redeploy the same commit.
          if (i % 3 !== 0) commitChange(site.repo.work, site.repo.bare, 'app/Version.php', `<?php // deploy ${i}\n`);
          const swap = await run('deploy');
          assert.ok(!deployed.includes(swap.id), `deploy ${i} made a new release (${swap.id})`);
          deployed.push(swap.id);
        }
        const rollback = await run('rollback');
        assert.equal(rollback.id, deployed.at(-2), 'rollback went back to the release deployed before the last');
        // The rollback's release stays served while the load runs a little longer.
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(servedRelease((await httpGet(url)).body), deployed.at(-2), 'after the rollback the previous release is served');
      } finally {
        summary = await load.stop();
      }

      // Each swap served within a second of the swap completing.
      const delays: number[] = [];
      for (const swap of swaps) {
        const servedAt = await swap.served;
        delays.push(servedAt - swap.at);
        assert.ok(servedAt - swap.at <= SWAP_TO_SERVED_MS, `release ${swap.id} served ${servedAt - swap.at} ms after its swap`);
      }

      const report =
        `load: ${summary.requests} requests in ${((summary.endedAt - summary.startedAt) / 1000).toFixed(1)} s, ` +
        `${summary.errors} failed, ${summary.non200} non-200, ${summary.malformed} not naming exactly one release; ` +
        `releases served: ${JSON.stringify(summary.seen)}; swap → served: max ${Math.max(...delays)} ms; ` +
        `test ${((Date.now() - started) / 1000).toFixed(1)} s`;
      t.diagnostic(report);

      assert.equal(summary.timedOut, false, 'the load stopped at the stop file, not at its time limit');
      assert.ok(summary.requests >= 200, `enough requests to mean something (${summary.requests})`);
      assert.equal(summary.errors, 0, `no failed requests:\n${summary.samples.join('\n')}`);
      assert.equal(summary.non200, 0, `no status but 200:\n${summary.samples.join('\n')}`);
      assert.equal(summary.malformed, 0, `every body names exactly one release:\n${summary.samples.join('\n')}`);
      for (const id of Object.keys(summary.seen)) assert.ok(deployed.includes(id), `served release ${id} is one that was deployed`);
      assert.ok(Object.keys(summary.seen).length >= 8, `the load saw the releases change (${Object.keys(summary.seen).length} seen)`);

      // Never stale: a request that started after swap k was logged shows the release of swap k, or
      // that of swap k+1 (whose rename may precede its log line), never an older one.
      const states = swaps.map((s) => s.id);
      let stale = 0;
      const staleSamples: string[] = [];
      for (const [startedAt, , , releases] of summary.records) {
        let k = -1;
        while (k + 1 < swaps.length && swaps[k + 1].at <= startedAt) k++;
        if (k < 0) continue;
        const allowed = new Set([states[k], states[k + 1]].filter(Boolean));
        if (!allowed.has(releases[0])) {
          stale++;
          if (staleSamples.length < 5)
            staleSamples.push(`started ${startedAt - swaps[k].at} ms after swap to ${states[k]}, served ${releases[0]}`);
        }
      }
      assert.equal(stale, 0, `requests after a swap served an older release:\n${staleSamples.join('\n')}`);
    });
  });

  describe('the health check', () => {
    let site: Site;
    let web: WebServer;
    const ids: Record<'a' | 'b' | 'failed' | 'c', string> = { a: '', b: '', failed: '', c: '' };

    before(async () => {
      site = createSite({ target });
      web = await startWeb({ root: site.root });
      // The URL is known only now: the server entry is rewritten before the first deploy.
      const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
      config.servers.production.healthcheck = { url: web.url + '/', contains: 'release: ', timeout: 3, retries: 2 };
      writeFileSync(site.configFile, JSON.stringify(config, null, 4) + '\n');
    });
    after(() => web?.stop());

    const served = async () => {
      const { status, body } = await httpGet(web.url + '/');
      return { status, id: servedRelease(body) };
    };

    it('a healthy release passes it', async () => {
      const { lines } = await site.run('deploy');
      ids.a = site.liveId()!;
      assert.ok(
        lines.some((line) => line.includes(`health check passed: ${web.url}/`)),
        lines.join('\n'),
      );
      commitChange(site.repo.work, site.repo.bare, 'app/Version.php', '<?php // b\n');
      await site.run('deploy');
      ids.b = site.liveId()!;
      assert.notEqual(ids.b, ids.a);
      assert.deepEqual(await served(), { status: 200, id: ids.b });
      assert.equal(site.marker(ids.b).status, 'ready');
    });

    it('a release answering 500 fails the deploy naming the health check; live is swapped back to the previous release', async () => {
      commitChange(site.repo.work, site.repo.bare, INDEX, '<?php\nhttp_response_code(500);\necho "broken release\\n";\n');
      const { error } = await site.fail('deploy');
      assert.match(error.message, /step "health"/, error.message);
      assert.match(error.message, /health check failed: .* answered 500, expected 200/, error.message);
      assert.match(error.message, /live was swapped back/, error.message);

      const releases = site.releases();
      assert.equal(releases.length, 3, `the failed release is kept for a look: ${releases.join(', ')}`);
      ids.failed = releases.at(-1)!;
      assert.ok(![ids.a, ids.b].includes(ids.failed));
      assert.equal(site.liveId(), ids.b, 'live points at the previous release again');
      assert.deepEqual(await served(), { status: 200, id: ids.b }, 'the previous release is what is served');
      const marker = site.marker(ids.failed);
      assert.equal(marker.status, 'failed', JSON.stringify(marker));
      assert.ok(!exists(path.join(site.root, '.attache-lock')), 'the lock is released');
    });

    it('releases lists it as failed', async () => {
      const { lines } = await site.run('releases');
      const table = lines.find((line) => line.startsWith('releases on production'));
      assert.ok(table, lines.join('\n'));
      assert.match(table, new RegExp(`^\\s+${ids.failed}\\s+failed\\b`, 'm'), table);
      assert.match(table, new RegExp(`^\\s+\\*\\s+${ids.b}\\s+ready\\b`, 'm'), table);
    });

    it('activate --release=latest does not choose it (though it is the newest); activate of it by id is refused', async () => {
      await site.run('activate', ['--release=latest']);
      assert.equal(site.liveId(), ids.b);
      const { error } = await site.fail('activate', [`--release=${ids.failed}`]);
      assert.match(error.message, new RegExp(`release ${ids.failed} is failed; refusing to activate it`));
      assert.equal(site.liveId(), ids.b);
      assert.deepEqual(await served(), { status: 200, id: ids.b });
    });

    it('rollback skips it', async () => {
      commitChange(site.repo.work, site.repo.bare, INDEX, ORIGINAL_INDEX);
      await site.run('deploy');
      ids.c = site.liveId()!;
      // The failed release, older than the new live one, is pruned by this deploy: failed releases go first.
      assert.deepEqual(site.releases(), [ids.a, ids.b, ids.c]);
      assert.deepEqual(await served(), { status: 200, id: ids.c });

      await site.run('rollback');
      assert.equal(site.liveId(), ids.b, 'rollback from the release after the failed one goes to the ready one before it');
      assert.deepEqual(await served(), { status: 200, id: ids.b });
    });

    it('prune with keep=2 keeps the two newest ready releases and the live one', async () => {
      // Live on the oldest: only the keep count protects the two newest ready releases (b and c).
      await site.run('activate', [`--release=${ids.a}`]);
      const incomplete = '20000101000000'; // a killed deploy's leftover (no marker): shows that prune prunes
      mkdirSync(site.release(incomplete));
      const { lines } = await site.run('prune', [], { overrides: { keep: 2 } });
      assert.deepEqual(site.releases(), [ids.a, ids.b, ids.c], lines.join('\n'));
      assert.ok(
        lines.some((line) => line.includes(`pruned 1 release: ${incomplete}`)),
        lines.join('\n'),
      );

      await site.run('activate', ['--release=latest']);
      assert.equal(site.liveId(), ids.c, 'latest is the newest ready release');
      assert.deepEqual(await served(), { status: 200, id: ids.c });
    });
  });
});
