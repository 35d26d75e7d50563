import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { createLogger } from '../../src/log';
import { attache, type GulpLike } from '../../src/preset';
import { gulp, runTask as run } from '../support/streams';

const domainNow = () => (process as { domain?: unknown }).domain;

it("a preset task's work runs outside the domain gulp runs each task in (whose bookkeeping every callback would pay)", async () => {
  // The control: gulp (async-done) still runs a plain task function inside a domain.
  let inPlainTask: unknown;
  await run(async () => void (inPlainTask = domainNow()));
  assert.ok(inPlainTask, 'gulp runs a task in a domain');

  const cwd = mkdtempSync(path.join(os.tmpdir(), 'attache-domain-'));
  writeFileSync(
    path.join(cwd, '.attache.json'),
    JSON.stringify({ repository: 'x', servers: { one: { host: 'h', user: 'u', root: '/srv/app' } } }),
  );
  const seen: unknown[] = [];
  const log = createLogger({ verbosity: 'normal', interactive: false, write: () => seen.push(domainNow()) });
  const { servers } = attache({ cwd, logger: log, argv: ['node', 'gulp', 'servers'], gulp: gulp as unknown as GulpLike });
  await run(servers);
  assert.ok(seen.length > 0, 'the servers task printed its table');
  assert.deepEqual(
    seen,
    seen.map(() => undefined),
  );

  // A task of a composed task runs in the composite's domain as well as its own (as every step of
  // `gulp deploy` does): every domain is left, not only the innermost.
  seen.length = 0;
  let inSecond: unknown;
  await run(
    gulp.series(
      async () => {},
      async () => void (inSecond = domainNow()),
      servers,
    ),
  );
  assert.ok(inSecond, 'the control: a task of a series runs in a domain');
  assert.ok(seen.length > 0, 'the servers task printed its table in the series');
  assert.deepEqual(
    seen,
    seen.map(() => undefined),
  );
});
