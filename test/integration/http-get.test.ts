import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log';
import { HttpGetFailure, httpGetOn } from '../../src/remote/http-get';
import { LocalTarget } from '../../src/remote/local';
import { raw } from '../../src/remote/quote';
import { freePort } from '../../support/sshd';
import { tempDir } from '../support/fixtures';

/**
 * The script the health check "from": "server" sends, run for real by /bin/sh (the local target),
 * with a PATH that holds only what the script needs and the tools of each case: curl; GNU wget
 * without curl; PHP without either; none. Each way gives the same response, or says why none came.
 */
const SHELL_TOOLS = ['mktemp', 'head', 'tail', 'wc', 'tr', 'cat', 'rm'];

function binDir(tools: string[]): string {
  const dir = path.join(tempDir('attache-bin-'), 'bin');
  mkdirSync(dir);
  for (const tool of [...SHELL_TOOLS, ...tools]) {
    const found = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    assert.ok(found, `${tool} is installed (apt-get install -y ${tool})`);
    symlinkSync(found, path.join(dir, tool));
  }
  return dir;
}

const target = new LocalTarget('here', createLogger({ verbosity: 'quiet', interactive: false, write: () => undefined }));

/** The GET with only `bin` on the PATH (the local target's /bin/sh inherits it). */
async function getWith(bin: string, url: string, options: { timeout?: number; limit?: number } = {}) {
  const saved = process.env.PATH;
  process.env.PATH = bin;
  try {
    return await httpGetOn(target, url, { timeout: options.timeout ?? 3, php: raw('php'), limit: options.limit });
  } finally {
    process.env.PATH = saved;
  }
}

async function failureWith(bin: string, url: string, options: { timeout?: number } = {}): Promise<HttpGetFailure> {
  const error = await getWith(bin, url, options).then(
    (response) => assert.fail(`expected no response, got ${response.status}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof HttpGetFailure, String(error));
  return error;
}

describe('the GET on a server: curl, else GNU wget, else PHP', () => {
  let base: string;
  let web: http.Server;
  const big = 'x'.repeat(5000);
  before(async () => {
    web = http.createServer((request, response) => {
      if (request.url === '/up') return void response.writeHead(200, { 'x-release': '20261207-1' }).end('release: 20261207-1\n');
      if (request.url === '/moved') return void response.writeHead(302, { location: '/elsewhere' }).end('moved');
      if (request.url === '/down') return void response.writeHead(503).end('the database is down');
      if (request.url === '/big') return void response.writeHead(200).end(big);
      if (request.url === '/stall') return; // never answers
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(web.address() as { port: number }).port}`;
  });
  after(() => {
    web.closeAllConnections();
    web.close();
  });

  for (const [tool, tools] of [
    ['curl', ['curl', 'wget', 'php']],
    ['wget', ['wget', 'php']],
    ['php', ['php']],
  ] as const) {
    describe(`with ${tools.join(', ')} on the PATH: ${tool}`, () => {
      let bin: string;
      before(() => (bin = binDir([...tools])));

      it('reads status, headers and body', async () => {
        const response = await getWith(bin, `${base}/up`);
        assert.equal(response.tool, tool);
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('x-release'), '20261207-1');
        assert.equal(response.body, 'release: 20261207-1\n');
        assert.equal(response.truncated, false);
      });

      it('follows no redirect: the status and Location are what the server said', async () => {
        const response = await getWith(bin, `${base}/moved`);
        assert.equal(response.status, 302);
        assert.equal(response.headers.get('location'), '/elsewhere');
      });

      it("reads an error status's body", async () => {
        const response = await getWith(bin, `${base}/down`);
        assert.equal(response.status, 503);
        assert.equal(response.body, 'the database is down');
      });

      it('reads no more of the body than the limit', async () => {
        const response = await getWith(bin, `${base}/big`, { limit: 1000 });
        assert.equal(response.status, 200);
        assert.equal(response.body, big.slice(0, 1000));
        assert.equal(response.truncated, true);
      });

      it('says "connection refused" with its own first error line', async () => {
        const error = await failureWith(bin, `http://127.0.0.1:${await freePort()}/up`);
        assert.equal(error.code, 'ECONNREFUSED');
        assert.match(error.message, /refused|Couldn't connect/);
      });

      it('says it timed out', async () => {
        const started = Date.now();
        const error = await failureWith(bin, `${base}/stall`, { timeout: 1 });
        assert.equal(error.code, 'TIMEOUT', error.message);
        assert.ok(Date.now() - started < 5000, 'within the timeout');
      });

      it('says the host name did not resolve', async () => {
        const error = await failureWith(bin, 'http://attache-no-such-host.invalid/up');
        assert.match(error.code ?? '', /^(ENOTFOUND|EAI_AGAIN)$/, error.message);
      });
    });
  }

  it('without curl, GNU wget or php, says so', async () => {
    const error = await failureWith(binDir([]), `${base}/up`);
    assert.match(error.message, /none of curl, GNU wget or php is on the server's PATH/);
  });
});
