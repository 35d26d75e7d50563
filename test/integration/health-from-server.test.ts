import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHome, freePort, startSshd, trust, type SshServer } from '../../support/sshd';
import { createSite, type Site, type TargetSpec } from '../support/preset';

/**
 * `"healthcheck": { "from": "server" }`: the check is fetched on the server, over the deploy's SSH
 * connection. The server here is a network namespace, reached from this machine through a veth
 * pair; its sshd and a web server run inside it, the web server on the namespace's own 127.0.0.1,
 * so the health URL answers only there. The web server answers with the release live at that moment.
 */
const ns = `attache-h${process.pid}`;
const vethHost = `ah${process.pid}`;
const vethNs = `an${process.pid}`;
// A /30 of 10.213.0.0/16 of the test's own, from its pid: concurrent runs do not collide.
const block = `10.213.${(process.pid >> 6) & 255}`;
const hostAddress = `${block}.${((process.pid & 63) << 2) + 1}`;
const nsAddress = `${block}.${((process.pid & 63) << 2) + 2}`;

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const inNs = ['ip', 'netns', 'exec', ns];

/** Logs each request's path to <root>.requests; answers /up with the live release, /frozen with the release in frozen.txt (a server still running old code), /down with 503. */
const WEB_SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const [root, port] = process.argv.slice(1);
const live = () => path.basename(fs.readlinkSync(path.join(root, 'live')));
http.createServer((request, response) => {
  fs.appendFileSync(root + '.requests', request.url + '\\n');
  if (request.url === '/up') return void response.end('release: ' + live() + '\\n');
  if (request.url === '/frozen') return void response.end('release: ' + fs.readFileSync(path.join(root, 'frozen.txt'), 'utf8'));
  if (request.url === '/down') return void response.writeHead(503).end('Service Unavailable: the database is down\\n');
  response.writeHead(404).end('not found');
}).listen(Number(port), '127.0.0.1', () => console.log('listening'));
`;

describe('the health check fetched on the server ("from": "server")', () => {
  let sshd: SshServer | undefined;
  let web: ChildProcess | undefined;
  let site: Site;
  let url: string;
  const withPath = (route: string) => url.replace(/\/up$/, route);

  before(async () => {
    ip('netns', 'add', ns);
    ip('link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethNs);
    ip('link', 'set', vethNs, 'netns', ns);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', vethHost);
    ip('link', 'set', vethHost, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${nsAddress}/30`, 'dev', vethNs);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', vethNs, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');

    const home = createHome();
    sshd = await startSshd(home, { listen: nsAddress, wrapper: inNs });
    trust(home, sshd);
    const target = { host: nsAddress, port: sshd.port, user: 'root' } as unknown as TargetSpec;
    site = createSite({ target, server: { skip: ['composer'] } });

    const port = await freePort(); // free here too, so that the same URL from here is refused
    url = `http://127.0.0.1:${port}/up`;
    web = spawn(inNs[0], [...inNs.slice(1), process.execPath, '-e', WEB_SERVER, site.root, String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      web!.stdout!.once('data', () => resolve());
      web!.once('exit', (code) => reject(new Error(`the web server in the namespace exited with ${code}`)));
    });
  });

  after(async () => {
    if (web?.pid && web.exitCode === null) process.kill(web.pid, 'SIGTERM');
    await sshd?.stop();
    try {
      ip('link', 'del', vethHost); // its peer goes with it
    } catch {}
    try {
      ip('netns', 'del', ns);
    } catch {}
  });

  it('passes on the server, with @release in "contains", where the same URL from here is refused', async () => {
    const check = { url, contains: 'release: @release', timeout: 2, retries: 1 };
    const { lines } = await site.run('deploy', [], { overrides: { healthcheck: { ...check, from: 'server' } } });
    const id = site.liveId()!;
    assert.ok(
      lines.some((line) => line.includes(`health check passed: ${url} (fetched on the server with curl)`)),
      lines.join('\n'),
    );
    assert.equal(site.marker(id).status, 'ready');

    const { error } = await site.fail('deploy', [], { overrides: { healthcheck: check } });
    assert.match(
      error.message,
      new RegExp(`health check failed: ${escape(url)}: connection refused \\(nothing listens on that port\\)`),
      'from the deploying machine the URL is unreachable',
    );
    assert.equal(site.liveId(), id, 'live was swapped back');
  });

  it('a dry run fetches nothing', async () => {
    const requests = () => readFileSync(`${site.root}.requests`, 'utf8').split('\n').length;
    const before = requests();
    await site.run('deploy', ['--dry-run'], { overrides: { healthcheck: { url, from: 'server' } } });
    assert.equal(requests(), before);
  });

  it('a wrong status swaps back, marks the release failed and says what the server answered', async () => {
    const before = site.liveId();
    const { error } = await site.fail('deploy', [], { overrides: { healthcheck: { url: withPath('/down'), from: 'server', retries: 1 } } });
    assert.match(
      error.message,
      new RegExp(
        `health check failed: ${escape(withPath('/down'))} \\(from the server\\) answered 503, expected 200; ` +
          'the body begins: "Service Unavailable: the database is down"',
      ),
    );
    assert.equal(site.liveId(), before, 'live was swapped back');
    assert.equal(site.marker(site.releases().at(-1)!).status, 'failed');
  });

  it('a body without the expected text fails as clearly', async () => {
    const { error } = await site.fail('deploy', [], {
      overrides: { healthcheck: { url, from: 'server', contains: 'Laravel is up', retries: 1 } },
    });
    assert.match(
      error.message,
      new RegExp(
        `health check failed: ${escape(url)} \\(from the server\\) answered without "Laravel is up"; the body begins: "release: \\S+"`,
      ),
    );
  });

  it('an answer naming the previous release says the web server still runs the previous code', async () => {
    writeFileSync(path.join(site.root, 'frozen.txt'), site.liveId()!);
    const { error } = await site.fail('deploy', [], {
      overrides: { healthcheck: { url: withPath('/frozen'), from: 'server', contains: 'release: @release', retries: 1 } },
    });
    assert.match(
      error.message,
      /health check failed: the web server is still running the previous code \(.*\(from the server\) answered for release /,
    );
  });

  it("says the server's connection was refused, with curl's own line", async () => {
    const refused = `http://127.0.0.1:${await freePort()}/up`;
    const { error } = await site.fail('deploy', [], { overrides: { healthcheck: { url: refused, from: 'server', retries: 1 } } });
    assert.match(
      error.message,
      new RegExp(
        `health check failed: ${escape(refused)} \\(from the server\\): connection refused \\(nothing listens on that port\\): curl: \\(7\\)`,
      ),
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
