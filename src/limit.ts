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

/** Maps with at most `size` calls in flight, keeping order; the first rejection rejects the whole. */
export function mapLimit<T, R>(items: readonly T[], size: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const limit = createLimit(size);
  return Promise.all(items.map((item, index) => limit(() => fn(item, index))));
}
