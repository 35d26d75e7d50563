import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSite, startTarget, type Site } from '../support/preset';

/**
 * rollback and activate run what follows a deploy's swap: the restart commands in the release now
 * live, and the health check, which swaps live back when it fails.
 */
describe('rollback and activate run the after-swap steps', () => {
  let site: Site;
  let stop: () => Promise<void>;
  let web: Server;
  let status = 200;
  let requests = 0;
  let first: string;
  let second: string;
  const calls = () => readFileSync(path.join(site.root, 'storage/logs/artisan-calls.log'), 'utf8').trim().split('\n');

  before(async () => {
    web = createServer((_request, response) => {
      requests++;
      response.writeHead(status).end(status === 200 ? 'ok' : 'broken');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(web.address() as AddressInfo).port}/up`;
    const started = await startTarget('sshd');
    stop = started.stop;
    site = createSite({ target: started.target, server: { restart: ['queue:restart'], healthcheck: { url, retries: 1, timeout: 2 } } });
    await site.run('deploy');
    await site.run('deploy');
    [first, second] = site.releases();
  });
  after(async () => {
    await stop();
    web.close();
  });

  it('rollback --dry-run says what it would run and changes nothing', async () => {
    const { lines } = await site.run('rollback', ['--dry-run']);
    assert.equal(site.liveId(), second);
    assert.ok(
      lines.some((line) => /\[dry run\].*would point .*live -> releases\/\d{14}/.test(line)),
      lines.join('\n'),
    );
  });

  it('rollback runs the restart commands in the release it made live, after the swap, and the health check', async () => {
    const asked = requests;
    await site.run('rollback');
    assert.equal(site.liveId(), first);
    assert.ok(calls().includes(`${first} live=${first} queue:restart`), calls().join('\n'));
    assert.ok(requests > asked, 'the health check asked the web server');
  });

  it('activate whose health check fails swaps live back, says so, and runs no restart', async () => {
    status = 500;
    const restarts = calls().length;
    const { error } = await site.fail('activate', ['--release=latest']);
    status = 200;
    assert.match(error.message, /health check failed: .* answered 500/);
    assert.equal(site.liveId(), first, 'live is back on the release it was on');
    assert.equal(calls().length, restarts);
    assert.equal(site.marker(second).status, 'failed');
  });
});
