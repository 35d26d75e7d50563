import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHashedBuildFile, oldAssetsToKeep, type AssetManifest } from '../../src/release/files/asset-manifest';

const entry = (sha256: string, age?: number) => ({ sha256, size: 1, mode: 0o644, ...(age !== undefined && { age }) });

describe('old hashed build files kept across a release', () => {
  it("knows Vite's hashed output (build/assets/) from the build's other files", () => {
    assert.ok(isHashedBuildFile('public/build/assets/app-3-tJAIdQ.css'));
    assert.ok(isHashedBuildFile('build/assets/chunk-Bx9.js'));
    assert.ok(!isHashedBuildFile('public/build/manifest.json'));
    assert.ok(!isHashedBuildFile('public/js/app.js'));
    assert.ok(!isHashedBuildFile('public/build/assetsfile.js'));
  });

  it("keeps the previous build's hashed files the new build lacks, one release older each time, up to the setting", () => {
    const previous: AssetManifest = {
      'public/build/manifest.json': entry('m1'),
      'public/build/assets/app-old.css': entry('a'),
      'public/build/assets/app-same.js': entry('b'),
      'public/build/assets/older-x.js': entry('c', 1),
    };
    const current = new Set(['public/build/manifest.json', 'public/build/assets/app-same.js', 'public/build/assets/app-new.css']);
    assert.deepEqual(oldAssetsToKeep(previous, current, 1), { 'public/build/assets/app-old.css': entry('a', 1) });
    assert.deepEqual(oldAssetsToKeep(previous, current, 2), {
      'public/build/assets/app-old.css': entry('a', 1),
      'public/build/assets/older-x.js': entry('c', 2),
    });
    assert.deepEqual(oldAssetsToKeep(previous, current, 0), {});
  });
});
