import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LEAST_IN_FLIGHT, PacedWrites, inFlightLimit } from '../../src/ssh/paced-input';

/** The bookkeeping of PacedWrites (the real writes are tested against sshd in test/integration/paced-input.test.ts). */
describe('PacedWrites', () => {
  const settled = () => new Promise((resolve) => setImmediate(resolve));

  it('holds writes beyond the limit and lets them go in the order they asked', async () => {
    const writes = new PacedWrites(() => 1);
    const order: number[] = [];
    const half = LEAST_IN_FLIGHT / 2;
    await writes.take(half);
    await writes.take(half);
    const third = writes.take(half).then(() => order.push(3));
    const fourth = writes.take(1).then(() => order.push(4)); // would fit alone, but waits behind the third
    await settled();
    assert.deepEqual(order, []);
    writes.give(half);
    await third;
    await settled();
    assert.deepEqual(order, [3], 'the fourth waits until its byte fits');
    writes.give(half);
    await fourth;
    assert.deepEqual(order, [3, 4]);
  });

  it('always lets one write go, however large, and sets no limit before a round trip is known', async () => {
    await new PacedWrites(() => 1).take(10 * LEAST_IN_FLIGHT);
    const unknown = new PacedWrites(() => undefined);
    await unknown.take(100 * LEAST_IN_FLIGHT);
    await unknown.take(100 * LEAST_IN_FLIGHT);
    assert.equal(inFlightLimit(undefined), Infinity);
    assert.equal(inFlightLimit(1), LEAST_IN_FLIGHT);
    assert.ok(inFlightLimit(55) > 2 * 1024 * 1024, "from a 55 ms round trip on, the limit is over OpenSSH's 2 MB window");
  });
});
