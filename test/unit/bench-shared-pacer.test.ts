import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Crossing, SharedPacer } from '../../bench/wan/shared-pacer';

/** Everything that crosses from now on, until the link is idle. */
function drain(pacer: SharedPacer): Crossing[] {
  const out: Crossing[] = [];
  for (let at = pacer.nextAt(); at !== undefined; at = pacer.nextAt()) out.push(...pacer.advance(at));
  return out;
}

/** Bytes of each flow that had crossed by `t`. */
function crossedBy(crossings: Crossing[], t: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const c of crossings) if (c.leftAt <= t) out.set(c.flow, (out.get(c.flow) ?? 0) + c.bytes);
  return out;
}

/** The time the last byte of `flow` crossed. */
const finish = (crossings: Crossing[], flow: number) => Math.max(...crossings.filter((c) => c.flow === flow).map((c) => c.leftAt));

/**
 * The bench's shared uplink: one link, one rate, the flows in turns. The schedule is computed from
 * the pushes and the rate, so these tests check it exactly, with no clock.
 */
describe('bench: the shared uplink pacer', () => {
  // 1 MB/s = 1000 bytes per ms; quantum 1000 bytes = 1 ms a turn.
  const RATE = 1e6;
  const Q = 1000;

  it('one flow alone gets the whole rate, in order, every byte once', () => {
    const pacer = new SharedPacer(RATE, Q);
    assert.deepEqual(pacer.push(1, 2500, 0), []);
    assert.equal(pacer.nextAt(), 1);
    const crossings = drain(pacer);
    assert.deepEqual(crossings, [
      { flow: 1, bytes: 1000, leftAt: 1 },
      { flow: 1, bytes: 1000, leftAt: 2 },
      { flow: 1, bytes: 500, leftAt: 2.5 },
    ]);
    assert.equal(pacer.nextAt(), undefined);
    assert.equal(pacer.queuedBytes(1), 0);
  });

  it('two flows with bytes queued each get half the rate', () => {
    const pacer = new SharedPacer(RATE, Q);
    pacer.push(1, 1_000_000, 0);
    pacer.push(2, 1_000_000, 0);
    const crossings = drain(pacer);
    // 2 MB at 1 MB/s: 2 s for both together, each finishing at the end (within one turn).
    assert.equal(finish(crossings, 1), 1999);
    assert.equal(finish(crossings, 2), 2000);
    // Half way, each has sent half of its megabyte.
    assert.deepEqual(
      [...crossedBy(crossings, 1000)],
      [
        [1, 500_000],
        [2, 500_000],
      ],
    );
    // And the turns alternate.
    assert.deepEqual(
      crossings.slice(0, 4).map((c) => c.flow),
      [1, 2, 1, 2],
    );
  });

  it('eight flows each get an eighth, and the link stays busy: the last byte leaves at total / rate', () => {
    const pacer = new SharedPacer(RATE, Q);
    for (let flow = 1; flow <= 8; flow++) pacer.push(flow, 100_000, 0);
    const crossings = drain(pacer);
    assert.equal(Math.max(...crossings.map((c) => c.leftAt)), 800);
    for (const [, bytes] of crossedBy(crossings, 400)) assert.equal(bytes, 50_000);
    for (let flow = 1; flow <= 8; flow++) assert.ok(finish(crossings, flow) >= 793, `flow ${flow} ends with the others`);
  });

  it('a flow that arrives later shares from then on; the first kept the whole rate until it came', () => {
    const pacer = new SharedPacer(RATE, Q);
    pacer.push(1, 1_000_000, 0);
    const early = pacer.push(2, 250_000, 500);
    // Up to 500 ms, flow 1 alone: 500 turns of 1000 bytes.
    assert.equal(early.length, 500);
    assert.ok(early.every((c) => c.flow === 1));
    const crossings = [...early, ...drain(pacer)];
    // From 500 ms the two share: flow 2's 250 kB take 500 ms at half the rate.
    assert.equal(finish(crossings, 2), 1000);
    assert.equal(crossedBy(crossings, 1000).get(1), 750_000);
    // Then flow 1 alone again: its last 250 kB by 1250 ms, the link never idle.
    assert.equal(finish(crossings, 1), 1250);
  });

  it("a few bytes of a quiet flow wait for one turn, not behind the busy flow's queue", () => {
    const pacer = new SharedPacer(RATE, Q);
    pacer.push(1, 4_000_000, 0);
    const before = pacer.push(2, 100, 10.5);
    // At 10.5 ms flow 1's 11th turn is on the link (10 ms → 11 ms); flow 2 is next.
    assert.equal(before.length, 10);
    const next = pacer.advance(11.1);
    assert.deepEqual(next, [
      { flow: 1, bytes: 1000, leftAt: 11 },
      { flow: 2, bytes: 100, leftAt: 11.1 },
    ]);
  });

  it('an idle link starts a segment when its bytes arrive, not when the link went idle', () => {
    const pacer = new SharedPacer(RATE, Q);
    pacer.push(1, 100, 0);
    assert.deepEqual(pacer.push(1, 100, 50), [{ flow: 1, bytes: 100, leftAt: 0.1 }]);
    assert.deepEqual(drain(pacer), [{ flow: 1, bytes: 100, leftAt: 50.1 }]);
  });

  it('the times come from the rate, not from when advance is asked: asking late loses nothing and shifts nothing', () => {
    const early = new SharedPacer(RATE, Q);
    const late = new SharedPacer(RATE, Q);
    for (const p of [early, late]) {
      p.push(1, 30_000, 0);
      p.push(2, 20_000, 3.3);
    }
    const asked: Crossing[] = [];
    for (let t = 0; t <= 60; t += 0.7) asked.push(...early.advance(t));
    assert.deepEqual(asked, late.advance(1000));
  });

  it('a dropped flow gives up its turns; the segment on the link still finishes', () => {
    const pacer = new SharedPacer(RATE, Q);
    pacer.push(1, 10_000, 0);
    pacer.push(2, 10_000, 0);
    pacer.advance(0.5);
    pacer.drop(1);
    assert.equal(pacer.queuedBytes(1), 1000);
    const crossings = drain(pacer);
    assert.deepEqual(
      crossings.filter((c) => c.flow === 1),
      [{ flow: 1, bytes: 1000, leftAt: 1 }],
    );
    // Flow 2 then has the whole rate: its 10 kB by 11 ms.
    assert.equal(finish(crossings, 2), 11);
    assert.equal(pacer.totalQueued(), 0);
  });

  it('refuses a rate it cannot schedule', () => {
    assert.throws(() => new SharedPacer(Infinity), /finite rate/);
    assert.throws(() => new SharedPacer(0), /finite rate/);
  });
});
