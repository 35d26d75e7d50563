/**
 * One link shared by several flows (the bench's shared uplink, bench/wan/uplink.ts): a pure schedule,
 * with the time passed in, so that what it does can be computed and tested without a clock.
 *
 *   - The link carries one segment at a time, at `bytesPerSecond`: a segment of n bytes takes
 *     n / rate to cross, and the next starts the moment it has (the link never idles while a flow
 *     has bytes queued).
 *   - The flows take turns (round robin): each turn carries at most `quantum` bytes of one flow, then
 *     the next flow with bytes queued has its turn. Flows with bytes queued therefore share the rate
 *     equally (two get ~half each), a flow that wants less gets what it wants, and a few bytes of a
 *     quiet flow (an SSH window update, one command) wait at most one turn of each busy flow rather
 *     than behind everything the busy flows have queued (as a router with fair queueing does).
 *   - A flow's bytes cross in the order they were pushed.
 *
 * Times are milliseconds on any clock that does not go back (the relay uses performance.now()).
 * Call `push` and `advance` with times that do not decrease; both return the segments that finished
 * crossing up to that time, with the time each finished (`leftAt`): these times follow from the rate
 * and the pushes alone, not from when the caller got round to asking.
 */

/** A segment that finished crossing the link: `bytes` of `flow`'s queue, in order, at `leftAt`. */
export interface Crossing {
  flow: number;
  bytes: number;
  leftAt: number;
}

/** 16 KiB a turn: about a TCP send burst; at 20 Mbit/s one turn takes ~6.6 ms. */
export const DEFAULT_QUANTUM = 16 * 1024;

export class SharedPacer {
  private readonly bytesPerMs: number;
  /** Bytes each flow has queued that have not finished crossing (the segment on the link included). */
  private readonly queued = new Map<number, number>();
  /** Flows waiting for a turn, in turn order (the flow on the link is not in it while it crosses). */
  private readonly turns: number[] = [];
  private current: { flow: number; bytes: number; leftAt: number } | undefined;
  private now = -Infinity;

  constructor(
    bytesPerSecond: number,
    private readonly quantum = DEFAULT_QUANTUM,
  ) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond))
      throw new Error(`a shared link needs a finite rate > 0, got ${bytesPerSecond}`);
    if (!(quantum > 0)) throw new Error(`a shared link needs a quantum > 0, got ${quantum}`);
    this.bytesPerMs = bytesPerSecond / 1000;
  }

  /** `bytes` more of `flow`, arrived at `now`; returns what finished crossing up to `now` (before these bytes arrived). */
  push(flow: number, bytes: number, now: number): Crossing[] {
    const done = this.advance(now);
    if (bytes <= 0) return done;
    const before = this.queued.get(flow) ?? 0;
    this.queued.set(flow, before + bytes);
    // A flow that had nothing queued joins the back of the turns (one already queued keeps its place).
    if (before === 0) this.turns.push(flow);
    if (!this.current) this.startNext(this.now);
    return done;
  }

  /** The segments that finished crossing up to `now`, in the order they did. */
  advance(now: number): Crossing[] {
    if (now > this.now) this.now = now;
    const done: Crossing[] = [];
    while (this.current && this.current.leftAt <= this.now) {
      const { flow, bytes, leftAt } = this.current;
      this.current = undefined;
      const rest = (this.queued.get(flow) ?? 0) - bytes;
      if (rest > 0) {
        this.queued.set(flow, rest);
        // Its turn is over: to the back, after every flow that was waiting.
        this.turns.push(flow);
      } else this.queued.delete(flow);
      done.push({ flow, bytes, leftAt });
      this.startNext(leftAt);
    }
    return done;
  }

  /** When the segment on the link finishes crossing (undefined: the link is idle). */
  nextAt(): number | undefined {
    return this.current?.leftAt;
  }

  /** Bytes of `flow` that have not finished crossing. */
  queuedBytes(flow: number): number {
    return this.queued.get(flow) ?? 0;
  }

  /** Bytes of every flow that have not finished crossing. */
  totalQueued(): number {
    let sum = 0;
    for (const n of this.queued.values()) sum += n;
    return sum;
  }

  /**
   * Forgets `flow`'s queued bytes (its connection is gone). A segment of it already on the link
   * finishes crossing (the link is busy for its time) and is still reported; nothing after it is.
   */
  drop(flow: number): void {
    const onLink = this.current?.flow === flow ? this.current.bytes : 0;
    if (onLink) this.queued.set(flow, onLink);
    else this.queued.delete(flow);
    const at = this.turns.indexOf(flow);
    if (at >= 0) this.turns.splice(at, 1);
  }

  private startNext(at: number): void {
    const flow = this.turns.shift();
    if (flow === undefined) return;
    const bytes = Math.min(this.quantum, this.queued.get(flow) ?? 0);
    this.current = { flow, bytes, leftAt: at + bytes / this.bytesPerMs };
  }
}
