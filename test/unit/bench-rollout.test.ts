import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { announcedBatches, expectedBatches, swapTiming } from '../../bench/measurements/rollout';

/** The bench's rollout row reads the deploy's batch lines and the arrival of its swap lines. */
describe('bench: the rollout measurement', () => {
  const names = Array.from({ length: 10 }, (_, i) => `web${String(i + 1).padStart(2, '0')}`);

  it('expects batches of 3, 3, 3, 1 for 10 servers at "25%"', () => {
    assert.deepEqual(
      expectedBatches(names).map((b) => b.length),
      [3, 3, 3, 1],
    );
  });

  it('reads the batches the deploy announced, and none from a deploy that swapped at once', () => {
    const lines = [
      { text: 'rollout in 2 batches: web01, web02 → web03 (0 failures allowed)' },
      { text: 'rollout batch 1/2: web01, web02' },
      { text: '[web01] /srv/live -> releases/1 (was none)' },
      { text: 'rollout batch 2/2: web03' },
    ];
    assert.deepEqual(announcedBatches(lines), [['web01', 'web02'], ['web03']]);
    assert.deepEqual(announcedBatches([{ text: '[web01] /srv/live -> releases/1 (was none)' }]), []);
  });

  it('measures the spread overall and within each batch, and the gap from a batch to the next', () => {
    const swaps = [
      { server: 'web01', t: 1000 },
      { server: 'web02', t: 1004 },
      { server: 'web03', t: 1130 },
      { server: 'web04', t: 1121 },
    ];
    assert.deepEqual(
      swapTiming(swaps, [
        ['web01', 'web02'],
        ['web03', 'web04'],
      ]),
      {
        batches: [
          ['web01', 'web02'],
          ['web03', 'web04'],
        ],
        spreadMs: 130,
        batchSpreadsMs: [4, 9],
        gapsMs: [117],
      },
    );
    assert.deepEqual(swapTiming(swaps, [['web01', 'web02', 'web03', 'web04']]).gapsMs, []);
    assert.throws(() => swapTiming(swaps, [['web01', 'web05']]), /no swap line for web05/);
  });
});
