import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { caseFilter } from '../../bench/case-filter';
import { CASE, MEASUREMENT } from '../../bench/cases/names';

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

  const measurements = ['measurement: peak memory', 'measurement: fleet sizes', 'measurement: fleet rollout'];

  it('naming no measurement runs every measurement, as a whole run does', () => {
    for (const raw of [undefined, 'artifact']) {
      const filter = caseFilter(raw, names, measurements);
      assert.ok(measurements.every((m) => filter.measurementSkipped(m) === undefined));
    }
  });

  it('naming a measurement runs only the measurements named, and no case unless one is named too', () => {
    const rollout = caseFilter('Rollout', names, measurements);
    assert.deepEqual(names.filter(rollout.selects), []);
    assert.deepEqual(
      measurements.map((m) => rollout.measurementSkipped(m)),
      ['not in BENCH_CASES', 'not in BENCH_CASES', undefined],
    );
    const fleet = caseFilter('fleet,rsync', names, measurements);
    assert.deepEqual(names.filter(fleet.selects), ['floor: rsync -a']);
    assert.deepEqual(
      measurements.map((m) => fleet.measurementSkipped(m)),
      ['not in BENCH_CASES', undefined, undefined],
    );
  });

  it('refuses a substring that matches no case and no measurement, listing both', () => {
    assert.throws(() => caseFilter('fleat', names, measurements), /"fleat" matches no case or measurement[\s\S]*measurement: fleet sizes/);
  });

  it("the bench's own names: no word of a measurement's name is in a case's name", () => {
    const words = Object.values(MEASUREMENT).flatMap((m) => m.replace(/^measurement: /, '').split(' '));
    for (const word of words)
      assert.deepEqual(
        Object.values(CASE).filter((c) => c.toLowerCase().includes(word.toLowerCase())),
        [],
        word,
      );
    const filter = caseFilter('fleet');
    assert.deepEqual(Object.values(CASE).filter(filter.selects), []);
    assert.equal(filter.measurementSkipped(MEASUREMENT.fleet), undefined);
    assert.equal(filter.measurementSkipped(MEASUREMENT.rollout), undefined);
    assert.equal(filter.measurementSkipped(MEASUREMENT.memory), 'not in BENCH_CASES');
  });
});
