import type { RolloutConfig } from '../../config/types';

/**
 * A rollout's shape, from the config's `rollout`: which servers swap in which batch, and how many
 * may fail before it stops. Pure, so it is unit-tested.
 *
 * As Ansible's `serial`: each entry of `batches` is the size of the next batch (a number of servers,
 * or a percentage of the fleet, rounded up, at least one), and the last entry repeats until every
 * server is in a batch. `maxFailures` is a number, or a percentage of the fleet rounded down.
 */

/** Without a `rollout`: every server in one batch, and no failure allowed (a fleet swaps together). */
export const ALL_AT_ONCE: RolloutConfig = { batches: ['100%'], maxFailures: 0, pause: 0 };

export function batchesOf<T>(servers: readonly T[], sizes: ReadonlyArray<number | string>): T[][] {
  const batches: T[][] = [];
  let next = 0;
  for (let i = 0; next < servers.length; i++) {
    const size = countOf(sizes[Math.min(i, sizes.length - 1)], servers.length, 'up');
    batches.push(servers.slice(next, next + Math.max(1, size)));
    next += Math.max(1, size);
  }
  return batches;
}

/** Failures allowed before the rollout stops. */
export function failureBudget(maxFailures: number | string, fleet: number): number {
  return countOf(maxFailures, fleet, 'down');
}

function countOf(value: number | string, fleet: number, round: 'up' | 'down'): number {
  if (typeof value === 'number') return value;
  const percent = Number(value.replace(/%$/, ''));
  const exact = (percent / 100) * fleet;
  // 25% of 10 servers is 2.5: a batch of 3, a budget of 2 (a tenth of a server is not a server).
  return round === 'up' ? Math.ceil(exact - 1e-9) : Math.floor(exact + 1e-9);
}
