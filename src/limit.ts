/** Runs at most `size` tasks at once; the rest wait in order. */
export type Limit = <T>(task: () => Promise<T>) => Promise<T>;

export function createLimit(size: number): Limit {
  let active = 0;
  const waiting: Array<() => void> = [];
  const next = () => {
    active--;
    waiting.shift()?.();
  };
  return (task) =>
    new Promise((resolve, reject) => {
      const start = () => {
        active++;
        task().then(resolve, reject).finally(next);
      };
      if (active < size) start();
      else waiting.push(start);
    });
}

/**
 * Maps with at most `size` calls in flight, keeping order. On a failure it still waits for every
 * call to settle before rejecting with the first error: nothing is left running behind the caller's
 * back (an undo must never race a step still at work).
 */
export async function mapLimit<T, R>(items: readonly T[], size: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const limit = createLimit(size);
  const settled = await Promise.allSettled(items.map((item, index) => limit(() => fn(item, index))));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}

/** Waits for every one of them (so that no command still runs when the step fails and is undone), then fails with the first failure. */
export async function settleAll(work: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
