import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchesOf, failureBudget } from '../../src/release/lifecycle/rollout-plan';

const ten = Array.from({ length: 10 }, (_, i) => `web${i + 1}`);

describe('a rollout plan', () => {
  it("batches as Ansible's serial: each entry the next batch, the last repeating, percentages rounded up", () => {
    assert.deepEqual(
      batchesOf(ten, [1, '25%']).map((b) => b.length),
      [1, 3, 3, 3],
    );
    assert.deepEqual(batchesOf(ten, [1, '100%']), [['web1'], ten.slice(1)]);
    assert.deepEqual(
      batchesOf(ten, ['25%']).map((b) => b.length),
      [3, 3, 3, 1],
    );
    assert.deepEqual(batchesOf(['a', 'b'], ['10%']), [['a'], ['b']], 'at least one server a batch');
    assert.deepEqual(batchesOf(['a', 'b', 'c', 'd'], [1, '100%']), [['a'], ['b', 'c', 'd']]);
  });

  it('a failure budget: a number, or a percentage rounded down', () => {
    assert.equal(failureBudget(0, 10), 0);
    assert.equal(failureBudget(2, 10), 2);
    assert.equal(failureBudget('25%', 10), 2);
    assert.equal(failureBudget('10%', 4), 0);
    assert.equal(failureBudget('100%', 4), 4);
  });
});
