/**
 * `npm run demo`: deploys example/app twice to example/.demo/server with the local target (no SSH
 * server, PHP or composer needed), then lists the releases, shows where live points, and what the
 * site served after each deploy. Everything it writes is under example/.demo/ (git-ignored).
 */
import { readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { attache } from '../src';
import { commitChange, createAppRepository } from '../test/support/fixtures';

const gulp = require('gulp');
gulp.on('error', () => {}); // as gulp-cli does: a failed task is reported through the series callback below
const DEMO = path.resolve(__dirname, '.demo');
const SERVER_ROOT = path.join(DEMO, 'server');

async function main(): Promise<void> {
  rmSync(DEMO, { recursive: true, force: true });
  const repo = createAppRepository({ dir: DEMO });
  writeFileSync(
    path.join(repo.work, '.attache.json'),
    JSON.stringify(
      {
        repository: `file://${repo.bare}`,
        servers: {
          demo: {
            host: 'local',
            root: SERVER_ROOT,
            scripts: { build: ['node build.js'] },
            // The demo runs on a machine with only Node and git: the PHP steps are switched off here, visibly.
            skip: ['composer', 'artisan'],
          },
        },
      },
      null,
      2,
    ),
  );
  const { deploy, releases } = attache({ cwd: repo.work, argv: ['node', 'gulp', '--server=demo'], gulp });
  const site = await serve(path.join(SERVER_ROOT, 'live', 'public'));
  const served: string[] = [];

  await run(deploy);
  served.push(await site.page('/welcome.html'));

  commitChange(
    repo.work,
    repo.bare,
    'public/welcome.html',
    readFileSync(path.join(repo.work, 'public/welcome.html'), 'utf8').replace('version 1', 'version 2'),
  );
  await new Promise((r) => setTimeout(r, 1000)); // release ids have one-second resolution
  await run(deploy);
  served.push(await site.page('/welcome.html'));

  await run(releases);
  site.close();
  console.log(`\nlive -> ${readlinkLive()}`);
  served.forEach((text, i) => console.log(`after deploy ${i + 1} the site served: ${text}`));
  console.log(
    `\nEverything is under ${path.relative(process.cwd(), DEMO)}/ (the server root is ${path.relative(process.cwd(), SERVER_ROOT)}/).`,
  );
}

function run(task: unknown): Promise<void> {
  return new Promise((resolve, reject) => gulp.series(task)((error?: Error) => (error ? reject(error) : resolve())));
}

function readlinkLive(): string {
  return path.relative(SERVER_ROOT, realpathSync(path.join(SERVER_ROOT, 'live')));
}

/** A static file server over live/public that resolves the link on every request, as nginx's $realpath_root does. */
async function serve(publicDir: string): Promise<{ page(url: string): Promise<string>; close(): void }> {
  const server = http.createServer((req, res) => {
    try {
      const file = path.join(realpathSync(publicDir), path.normalize(req.url ?? '/'));
      res.end(readFileSync(file));
    } catch {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    page: async (url) => {
      const text = await (await fetch(`http://127.0.0.1:${port}${url}`)).text();
      return text
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim();
    },
    close: () => server.close(),
  };
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
