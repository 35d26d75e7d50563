import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { commitChange } from '../support/fixtures';
import { servedRelease } from '../support/load';
import { createSite, startTarget, type Site, type TargetSpec } from '../support/preset';
import { httpGet, startWeb, type WebServer } from '../support/web';

/**
 * Verified activation against the setup that serves stale code: php-fpm with opcache.enable=1 and
 * opcache.validate_timestamps=0 behind an nginx site that passes the symlinked path
 * ($document_root, the wrong way). A release-aware health check ("@release") catches the old code
 * being served: live is swapped back and the message names the causes. With "opcache": { "fpm" }
 * the pool's OPcache is reset over FastCGI through the SSH connection right after the swap, and
 * every request after it shows the new release: over a unix socket or TCP, through SSH or locally.
 */

describe('OPcache without revalidation behind a symlinked document root', () => {
  let target: TargetSpec;
  let stopTarget = async () => {};
  let site: Site;
  let web: WebServer;

  const configure = (extra: Record<string, unknown>) => {
    const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
    Object.assign(config.servers.production, extra);
    writeFileSync(site.configFile, JSON.stringify(config, null, 4) + '\n');
  };
  const served = async () => {
    const { status, body, headers } = await httpGet(web.url + '/');
    return { status, id: servedRelease(body), header: headers['x-release'] };
  };

  before(async () => {
    ({ target, stop: stopTarget } = await startTarget('sshd'));
    site = createSite({ target });
    web = await startWeb({ root: site.root, opcacheNoRevalidate: true, symlinkedPath: true });
    configure({
      healthcheck: { url: web.url + '/', contains: 'release: @release', header: 'X-Release: @release', timeout: 3, retries: 2 },
    });
  });
  after(async () => {
    await web?.stop();
    await stopTarget();
  });

  it('without "opcache": the health check sees the previous release, live is swapped back, the message names the causes', async () => {
    await site.run('deploy');
    const first = site.liveId()!;
    for (let i = 0; i < 8; i++) assert.equal((await served()).id, first); // every worker has it cached now
    commitChange(site.repo.work, site.repo.bare, 'app/Version.php', '<?php // two\n');
    const { error } = await site.fail('deploy');
    assert.match(error.message, /step "health"/, error.message);
    assert.match(error.message, /the web server is still running the previous code/, error.message);
    assert.match(error.message, new RegExp(`answered for release ${first}, not \\d{14}`), error.message);
    assert.match(error.message, /symlinked path .*\$realpath_root/, error.message);
    assert.match(error.message, /OPcache .*no reset .*"opcache": \{ "fpm"/, error.message);
    assert.match(error.message, /README "Laravel in production/, error.message);
    assert.equal(site.liveId(), first, 'live is swapped back');
    assert.equal(site.marker(site.releases().at(-1)!).status, 'failed');
  });

  it('with "opcache": { "fpm": <socket> }: the reset runs right after the swap, the deploy passes, every request shows the new release', async () => {
    configure({ opcache: { fpm: web.socket } });
    commitChange(site.repo.work, site.repo.bare, 'app/Version.php', '<?php // three\n');
    const { lines } = await site.run('deploy');
    const id = site.liveId()!;
    assert.ok(
      lines.some((line) => line.includes(`OPcache reset through php-fpm at ${web.socket}`)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((line) => line.includes('health check passed')),
      lines.join('\n'),
    );
    for (let i = 0; i < 20; i++) assert.deepEqual(await served(), { status: 200, id, header: id }, `request ${i + 1} after the swap`);
    assert.deepEqual(
      readdirSync(site.root).filter((name) => name.includes('opcache')),
      [],
      'the reset script is removed',
    );
  });

  it('rollback and activate reset OPcache too: every request then shows the release live points to', async () => {
    const current = site.liveId()!;
    const previous = site
      .releases()
      .filter((id) => id !== current && site.marker(id)?.status === 'ready')
      .at(-1)!;
    const rolled = await site.run('rollback');
    assert.ok(
      rolled.lines.some((line) => line.includes(`OPcache reset through php-fpm at ${web.socket}`)),
      rolled.lines.join('\n'),
    );
    assert.equal(site.liveId(), previous);
    for (let i = 0; i < 10; i++)
      assert.deepEqual(await served(), { status: 200, id: previous, header: previous }, `request ${i + 1} after the rollback`);
    await site.run('activate', [`--release=${current}`]);
    assert.equal(site.liveId(), current);
    for (let i = 0; i < 10; i++)
      assert.deepEqual(await served(), { status: 200, id: current, header: current }, `request ${i + 1} after activate`);
  });

  it('a pool that cannot be reached fails the deploy before the health check, and live is swapped back', async () => {
    const live = site.liveId()!;
    configure({ opcache: { fpm: web.socket + '.missing' } });
    commitChange(site.repo.work, site.repo.bare, 'app/Version.php', '<?php // four\n');
    const { error, lines } = await site.fail('deploy');
    assert.match(error.message, /step "opcache"/, error.message);
    assert.match(error.message, /could not reset OPcache through php-fpm at .*\.missing/, error.message);
    assert.ok(!lines.some((line) => line.includes('health check')), lines.join('\n'));
    assert.equal(site.liveId(), live);
    assert.deepEqual(
      readdirSync(site.root).filter((name) => name.includes('opcache')),
      [],
      'the reset script is removed',
    );
  });
});

for (const [kind, tcp] of [
  ['sshd', true],
  ['local', false],
] as const) {
  describe(`the OPcache reset over ${tcp ? 'TCP (host:port)' : 'a unix socket'}, on the ${kind} target`, () => {
    let stopTarget = async () => {};
    let site: Site;
    let web: WebServer;
    before(async () => {
      const started = await startTarget(kind);
      stopTarget = started.stop;
      site = createSite({ target: started.target });
      web = await startWeb({ root: site.root, opcacheNoRevalidate: true, symlinkedPath: true, fpmTcp: tcp });
      const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
      Object.assign(config.servers.production, {
        opcache: { fpm: web.socket },
        healthcheck: { url: web.url + '/', header: 'X-Release: @release', timeout: 3, retries: 2 },
      });
      writeFileSync(site.configFile, JSON.stringify(config, null, 4) + '\n');
    });
    after(async () => {
      await web?.stop();
      await stopTarget();
    });

    it('a redeploy passes the release-aware health check and every request shows the new release', async () => {
      await site.run('deploy');
      for (let i = 0; i < 8; i++) await httpGet(web.url + '/');
      commitChange(site.repo.work, site.repo.bare, 'app/Version.php', '<?php // two\n');
      const { lines } = await site.run('deploy');
      const id = site.liveId()!;
      assert.ok(
        lines.some((line) => line.includes(`OPcache reset through php-fpm at ${web.socket}`)),
        lines.join('\n'),
      );
      for (let i = 0; i < 12; i++) assert.equal((await httpGet(web.url + '/')).headers['x-release'], id, `request ${i + 1} after the swap`);
    });
  });
}
