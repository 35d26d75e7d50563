import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { ServerConfig } from '../../src/config/types';
import { expandTags } from '../../src/release/model/tags';
import { Layout } from '../../src/release/model/layout';
import { releasesToPrune } from '../../src/release/steps/prune';
import { compareIds, type ReleaseInfo } from '../../src/release/model/release-list';
import { undoRelease } from '../../src/release/steps/release';
import type { ServerRun } from '../../src/release/lifecycle/context';
import { UndoLog } from '../../src/release/lifecycle/undo-log';
import { LocalTarget } from '../../src/remote/local';
import { captureLogger } from '../support/log';

const release = (id: string, status: ReleaseInfo['status'] = 'ready', live = false): ReleaseInfo => ({ id, status, live });

describe('release ids', () => {
  it('sort by time, then by their -N suffix (numerically)', () => {
    const ids = ['20261126120000-10', '20261126120001', '20261126120000', '20261126120000-2'];
    assert.deepEqual([...ids].sort(compareIds), ['20261126120000', '20261126120000-2', '20261126120000-10', '20261126120001']);
  });
});

describe('releasesToPrune', () => {
  it('keeps the newest `keep` ready releases', () => {
    const list = ['1', '2', '3', '4', '5'].map((n) => release(`2026112612000${n}`, 'ready', n === '5'));
    assert.deepEqual(releasesToPrune(list, 2), ['20261126120001', '20261126120002', '20261126120003']);
  });

  it('never removes the live release nor the one before it, even when both are old', () => {
    const list = [
      release('20261126120001'),
      release('20261126120002', 'ready', true),
      release('20261126120003'),
      release('20261126120004'),
    ];
    assert.deepEqual(releasesToPrune(list, 2), []);
  });

  it('does not count failed releases toward keep, and removes incomplete ones', () => {
    const list = [
      release('20261126120001'),
      release('20261126120002'),
      release('20261126120003', 'incomplete'),
      release('20261126120004', 'ready', true),
      release('20261126120005', 'failed'),
    ];
    // keep 2 = 120002 and 120004 (ready); 120005 failed is newer than them and kept for a look.
    assert.deepEqual(releasesToPrune(list, 2), ['20261126120001', '20261126120003']);
  });

  it('removes failed releases whatever their age: only the newest, when newer than live, stays for a look', () => {
    const list = [
      release('20261126120001', 'failed'),
      release('20261126120002'),
      release('20261126120003', 'failed'),
      release('20261126120004', 'ready', true),
      release('20261126120005', 'failed'),
      release('20261126120006', 'failed'),
    ];
    assert.deepEqual(releasesToPrune(list, 5), ['20261126120001', '20261126120003', '20261126120005']);
  });

  it('never removes the release being deployed', () => {
    assert.deepEqual(releasesToPrune([release('20261126120001', 'incomplete')], 2, '20261126120001'), []);
  });
});

describe('hook tags', () => {
  const server = {
    name: 'web',
    root: "/srv/my app's",
    paths: { releases: 'releases', serve: 'live', storage: 'storage', env: '.env' },
    php: { bin: 'php8.3' },
    composer: { bin: 'composer.phar', dev: false, local: false, installer: 'https://getcomposer.org/installer' },
  } as ServerConfig;
  const layout = new Layout(server);

  it('expand to quoted values, braced or bare, and leave unknown @words alone', () => {
    assert.equal(expandTags('cd @root && @php -v', server, layout, '20261126120000'), `cd '/srv/my app'\\''s' && php8.3 -v`);
    assert.equal(
      expandTags('{{ @artisan }} migrate', server, layout, '20261126120000'),
      `php8.3 '/srv/my app'\\''s/releases/20261126120000/artisan' migrate`,
    );
    assert.equal(expandTags('ls @path:storage', server, layout, 'x'), `ls '/srv/my app'\\''s/storage'`);
    assert.equal(
      expandTags('@php @composer install', server, layout, 'x'),
      'php8.3 composer.phar install',
      '@composer is the bin itself, as in Attaché',
    );
    assert.equal(expandTags('mail ops@example.com', server, layout, 'x'), 'mail ops@example.com');
  });

  it('refuse a release tag before the release exists, and an unknown braced tag', () => {
    assert.throws(() => expandTags('echo @release', server, layout), /uses a release tag before the release exists/);
    assert.throws(() => expandTags('{{ @nope }}', server, layout, 'x'), /unknown tag "@nope"/);
  });
});

describe('the undo of a release directory', () => {
  it('removes it even while a writer left behind (the tar of a cut connection) still adds files for a moment', async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'attache-undo-')), 'releases', '20261202000000');
    mkdirSync(dir, { recursive: true });
    // Many files in many directories, then more for ~1.2 s: rm -rf meets "Directory not empty".
    const writer = spawn(
      'sh',
      [
        '-c',
        'i=0; end=$(( $(date +%s) + 2 )); while [ $(date +%s) -lt $end ]; do mkdir -p "d$((i % 50))" && : > "d$((i % 50))/f$i"; i=$((i+1)); done',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    const ended = new Promise((resolve) => writer.on('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { log } = captureLogger('quiet');
    const run = { undo: new UndoLog(), target: new LocalTarget('local', log) } as unknown as ServerRun;
    undoRelease(run, dir, `${dir}.index`);
    const undo = run.undo.newest();
    assert.ok(undo);
    await assert.doesNotReject(undo.action());
    await ended;
    assert.equal(existsSync(dir), false);
  });
});
