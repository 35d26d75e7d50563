import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config';
import { reuse } from '../../src/release/steps/artifact';
import type { ArtifactManifest } from '../../src/release/files/artifact-tree';
import { treeId } from '../../src/release/files/artifact-tree';
import { minorMismatch, satisfies } from '../../src/release/model/php-version';

describe("artifact: PHP versions against composer's platform", () => {
  it("reads the lock's constraint forms", () => {
    assert.equal(satisfies('8.2.36', '>=8.1'), true);
    assert.equal(satisfies('8.2.36', '^8.3'), false);
    assert.equal(satisfies('8.2.36', '^7.4 || ^8.0'), true);
    assert.equal(satisfies('8.2.36', '>=8.0 <8.2'), false);
    assert.equal(satisfies('8.2.36', '~8.1'), true);
    assert.equal(satisfies('8.2.36', '~8.1.2'), false);
    assert.equal(satisfies('8.2.36', '8.2.*'), true);
    assert.equal(satisfies('8.2.36', 'dev-main'), undefined, 'a form not understood is not called a mismatch');
  });

  it("config.platform.php must be the server's minor version", () => {
    assert.equal(minorMismatch('8.2.36', '8.2.0'), undefined);
    assert.equal(minorMismatch('8.2.36', '7.4'), '8.2 is not 7.4');
  });
});

describe('artifact: what the live release already has', () => {
  const manifest = (files: Record<string, [string, number]>): ArtifactManifest => ({
    id: '',
    commit: '',
    branch: 'master',
    builtAt: '',
    links: {},
    dirs: [],
    files: Object.fromEntries(Object.entries(files).map(([p, [sha256, mode]]) => [p, { sha256, size: 1, mode }])),
  });

  it('links files by content and mode, at any path, and sends the rest', () => {
    const live = manifest({ 'a.php': ['h1', 0o644], 'old/b.php': ['h2', 0o644], x: ['h3', 0o755] });
    const next = manifest({ 'a.php': ['h1', 0o644], 'new/b.php': ['h2', 0o644], x: ['h3', 0o644], 'c.php': ['h4', 0o644] });
    const { linked, sent } = reuse(next, live);
    assert.deepEqual(linked, [
      { path: 'a.php', from: 'a.php' },
      { path: 'new/b.php', from: 'old/b.php' },
    ]);
    assert.deepEqual(sent, ['x', 'c.php'], 'a mode change is sent: a hard link shares its mode');
    assert.deepEqual(reuse(next, undefined).sent.length, 4);
  });

  it("the id is the tree's content, not the order it was listed in", () => {
    const a = manifest({ 'a.php': ['h1', 0o644], 'b.php': ['h2', 0o644] });
    const b = manifest({ 'b.php': ['h2', 0o644], 'a.php': ['h1', 0o644] });
    assert.equal(treeId(a), treeId(b));
    assert.notEqual(treeId(a), treeId(manifest({ 'a.php': ['h1', 0o755], 'b.php': ['h2', 0o644] })));
  });
});

describe('artifact: "strategy" in the config', () => {
  const load = (strategy: unknown) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attache-strategy-'));
    writeFileSync(
      path.join(dir, '.attache.json'),
      JSON.stringify({
        repository: 'git@example.com:a/b.git',
        servers: { production: { host: 'example.com', root: '/var/www/app', strategy } },
      }),
    );
    return loadConfig('.attache.json', { cwd: dir }).servers.production.strategy;
  };

  it('is "clone" unless "artifact" is asked for, and refuses anything else', () => {
    assert.equal(load(undefined), 'clone');
    assert.equal(load('artifact'), 'artifact');
    assert.throws(() => load('artefact'), /strategy.*expected "clone" .* or "artifact"/s);
  });
});
