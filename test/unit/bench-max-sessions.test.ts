import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { caseFilter } from '../../bench/case-filter';
import { CASE, MEASUREMENT } from '../../bench/cases/names';
import { LIMITS, limitLineProblem, limitLines, type MaxSessionsResult, maxSessionsValues } from '../../bench/measurements/max-sessions';

/** The hardened-sshd measurement: the deploy's line about the server's limit decides whether a run counts. */
describe('bench: max sessions', () => {
  const line = (n: number) =>
    `[hardened] the server allows ${n} session(s) per SSH connection (MaxSessions ${n}): its one session holds the file transfers, so the deploy takes longer.`;
  const [byDefault, two, one] = LIMITS;

  it('reads the limit each line names', () => {
    assert.deepEqual(limitLines(['clone…', line(1), 'clone done in 0.3 s']), [1]);
    assert.deepEqual(limitLines(['clone…']), []);
  });

  it('a limited sshd needs its line, the default none', () => {
    assert.equal(limitLineProblem(one, [1]), undefined);
    assert.equal(limitLineProblem(two, [2]), undefined);
    assert.match(limitLineProblem(one, []) ?? '', /never said the server allows 1 session/);
    assert.match(limitLineProblem(two, [1]) ?? '', /allows 1 session\(s\), not 2/);
    assert.equal(limitLineProblem(byDefault, []), undefined);
    assert.match(limitLineProblem(byDefault, [2]) ?? '', /default sshd's deploy said/);
  });

  it('a row with a run given up has no median: it reads FAILED', () => {
    const run = (key: 'default' | 'max2' | 'max1', seconds: number) => ({
      key,
      rep: 1,
      seconds,
      logins: 1,
      sessions: 5,
      limitLines: 0,
      steps: {},
      warnings: [],
    });
    const result: MaxSessionsResult = {
      reps: 2,
      shape: { delayMs: 25, mbit: 100 },
      runs: [run('default', 4), run('default', 6), run('max2', 5)],
      gaveUp: [{ key: 'max1', rep: 1, reason: 'no line' }],
      failures: [],
      attempts: {},
      load: { start: 1, end: 1 },
    };
    const values = maxSessionsValues(result);
    assert.deepEqual(values.medians, { default: 5, max2: 5 });
    assert.equal(values.missing.max1, 'FAILED: no line');
  });

  it('BENCH_CASES="max sessions" picks it alone', () => {
    const filter = caseFilter('max sessions');
    assert.deepEqual(Object.values(CASE).filter(filter.selects), []);
    assert.equal(filter.measurementSkipped(MEASUREMENT.maxSessions), undefined);
    assert.equal(filter.measurementSkipped(MEASUREMENT.fleet), 'not in BENCH_CASES');
  });
});
