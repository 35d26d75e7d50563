import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import PluginError from 'plugin-error';
import { swap } from '../../src/plugins/swap';
import { openTarget } from '../../src/open-target';
import type { SwapResult } from '../../src/remote/swap-link';
import { tempDir } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { createHome, startSshd, trust, type SshServer } from '../../support/sshd';
import { collect, fromFiles, runTask, startLoopReader } from '../support/streams';

describe('swap plugin against a real sshd', () => {
  let server: SshServer;

  before(async () => {
    const home = createHome();
    server = await startSshd(home);
    trust(home, server);
  });
  after(() => server.stop());

  const web1 = () => ({ host: '127.0.0.1', port: server.port, user: 'root', name: 'web1' });
  const quiet = () => captureLogger('quiet').log;

  /** An app directory with releases/1 and releases/2 (each holding a marker file) and no link yet. */
  function appDir(): { base: string; link: string; r1: string; r2: string } {
    const base = tempDir('attache-swap-');
    const r1 = path.join(base, 'releases', '1');
    const r2 = path.join(base, 'releases', '2');
    for (const release of [r1, r2]) {
      mkdirSync(release, { recursive: true });
      writeFileSync(path.join(release, 'VERSION'), path.basename(release));
    }
    return { base, link: path.join(base, 'current'), r1, r2 };
  }
  const leftovers = (dir: string) => readdirSync(dir).filter((name) => name.includes('attache-'));

  it('creates the link when absent, swaps it when present, and emits "swap" with the previous target', async () => {
    const { base, link, r1, r2 } = appDir();
    const { log, lines } = captureLogger('normal');
    const events: SwapResult[] = [];
    const run = async (target: string) => {
      const stream = swap({ server: web1(), link, target, logger: log });
      stream.on('swap', (result: SwapResult) => events.push(result));
      await collect(fromFiles([]), stream);
    };

    await run(r1);
    assert.equal(readlinkSync(link), r1);
    assert.deepEqual(events, [{ link, previous: null, current: r1, changed: true }]);

    await run(r2);
    assert.equal(readlinkSync(link), r2);
    assert.deepEqual(events[1], { link, previous: r1, current: r2, changed: true });
    assert.equal(readFileSync(path.join(link, 'VERSION'), 'utf8'), '2');
    assert.ok(
      lines.some((line) => line === `[web1] ${link} -> ${r2} (was ${r1})`),
      lines.join('\n'),
    );
    assert.deepEqual(leftovers(base), [], 'no temporary links remain');
  });

  it('swap.task resolves with { previous, current, changed } and accepts a target relative to the link', async () => {
    const { link, r1, r2 } = appDir();
    symlinkSync(r1, link);

    const result = await swap.task({ server: web1(), link, target: 'releases/2', logger: quiet() })();
    assert.deepEqual(result, { link, previous: r1, current: 'releases/2', changed: true });
    assert.equal(readlinkSync(link), 'releases/2');
    assert.equal(readFileSync(path.join(link, 'VERSION'), 'utf8'), '2');

    const again = await swap.task({ server: web1(), link, target: 'releases/2', logger: quiet() })();
    assert.deepEqual(again, { link, previous: 'releases/2', current: 'releases/2', changed: false });

    await runTask(swap.task({ server: web1(), link, target: r2, logger: quiet() }));
    assert.equal(readlinkSync(link), r2, 'ran as a gulp task');
  });

  it('refuses a real directory at the link path, changing nothing', async () => {
    const { base, link, r2 } = appDir();
    mkdirSync(link);
    writeFileSync(path.join(link, 'index.php'), '<?php // the app, deployed by hand');

    await assert.rejects(swap.task({ server: web1(), link, target: r2, logger: quiet() })(), (error: unknown) => {
      assert.ok(error instanceof PluginError, `a PluginError, got ${String(error)}`);
      assert.equal(error.plugin, 'gulp-attache');
      assert.ok(error.message.includes(`${link} is a real directory, not a symlink`), error.message);
      assert.match(error.message, /server "web1"/);
      return true;
    });
    assert.ok(lstatSync(link).isDirectory(), 'still a directory');
    assert.deepEqual(readdirSync(link), ['index.php']);
    assert.equal(readFileSync(path.join(link, 'index.php'), 'utf8'), '<?php // the app, deployed by hand');
    assert.deepEqual(leftovers(base), []);
  });

  it('refuses a real file at the link path, changing nothing (also in a stream)', async () => {
    const { base, link, r2 } = appDir();
    writeFileSync(link, 'not a link');

    await assert.rejects(collect(fromFiles([]), swap({ server: web1(), link, target: r2, logger: quiet() })), (error: unknown) => {
      assert.ok(error instanceof PluginError, `a PluginError, got ${String(error)}`);
      assert.ok(error.message.includes(`${link} is a real file, not a symlink`), error.message);
      return true;
    });
    assert.ok(lstatSync(link).isFile());
    assert.equal(readFileSync(link, 'utf8'), 'not a link');
    assert.deepEqual(leftovers(base), []);
  });

  it('refuses a target that does not exist, changing nothing', async () => {
    const { base, link, r1 } = appDir();
    const missing = path.join(base, 'releases', '3');

    await assert.rejects(swap.task({ server: web1(), link, target: missing, logger: quiet() })(), (error: unknown) => {
      assert.ok(error instanceof PluginError, `a PluginError, got ${String(error)}`);
      assert.ok(error.message.includes(`the swap target ${missing} does not exist`), error.message);
      return true;
    });
    assert.equal(lstatSync(link, { throwIfNoEntry: false }), undefined, 'no link was created');

    symlinkSync(r1, link);
    await assert.rejects(swap.task({ server: web1(), link, target: missing, logger: quiet() })(), /does not exist/);
    assert.equal(readlinkSync(link), r1, 'the link still points to the old release');
    assert.deepEqual(leftovers(base), []);
  });

  it('never leaves the link missing or pointing elsewhere during 1,000 swaps (reader in another process)', async () => {
    const { base, link, r1, r2 } = appDir();
    symlinkSync(r1, link);
    const session = await openTarget(web1(), quiet());
    const reader = await startLoopReader('readlink', link, path.join(base, 'stop'));
    let report: Awaited<ReturnType<typeof reader.stop>>;
    const previous: Array<string | null> = [];
    try {
      for (let i = 1; i <= 1000; i++) {
        const result = await swap.task({ session, link, target: i % 2 ? r2 : r1, logger: quiet() })();
        previous.push(result?.previous ?? null);
      }
    } finally {
      report = await reader.stop();
      await session.close();
    }

    assert.equal(report.errors, 0, `the link was missing or unreadable ${report.errors} times: ${report.errorSamples.join('; ')}`);
    assert.deepEqual(Object.keys(report.seen).sort(), [r1, r2].sort(), `the reader saw only the two releases (${report.reads} reads)`);
    assert.equal(readlinkSync(link), r1, 'after an even number of swaps the link is back on release 1');
    assert.ok(
      previous.every((value, i) => value === (i % 2 ? r2 : r1)),
      'each swap reported what it replaced',
    );
    assert.deepEqual(leftovers(base), [], 'no temporary links remain');
  });
});
