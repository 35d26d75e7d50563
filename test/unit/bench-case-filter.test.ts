import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { caseFilter } from '../../bench/case-filter';

/** BENCH_CASES picks cases by substrings of their names; a substring that picks nothing is refused. */
describe('bench: BENCH_CASES', () => {
  const names = [
    'floor: rsync -a',
    'gulp-attache: full first deploy',
    'gulp-attache artifact: full first deploy',
    'gulp-attache artifact: redeploy, one PHP file changed',
  ];

  it('unset or empty: every case, nothing skipped', () => {
    for (const raw of [undefined, '', ' , ']) {
      const filter = caseFilter(raw, names);
      assert.equal(filter.setting, undefined);
      assert.ok(names.every(filter.selects));
      assert.equal(filter.skipped(names[0]), undefined);
    }
  });

  it('selects the names that contain any substring, case-insensitively, and says why the others are missing', () => {
    const filter = caseFilter('Artifact, gulp-attache: full', names);
    assert.deepEqual(names.filter(filter.selects), names.slice(1));
    assert.equal(filter.skipped(names[0]), 'skipped (not in BENCH_CASES)');
    assert.equal(filter.skipped(names[2]), undefined);
    assert.equal(filter.setting, 'Artifact, gulp-attache: full');
  });

  it('refuses a substring that matches no case, listing the cases', () => {
    assert.throws(() => caseFilter('artifact,artefact', names), /"artefact" matches no case[\s\S]*floor: rsync -a/);
  });
});
