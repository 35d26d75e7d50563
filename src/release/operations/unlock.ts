import type { ServerRun, Step } from '../lifecycle/context';
import { describeOwner } from '../model/lock-owner';
import { forceFreeLock } from '../steps/lock';

/** Frees the lock whoever holds it: for a deploy that was killed. */
export const forceUnlockStep: Step = {
  name: 'unlock',
  description: 'free a deploy lock left by a deploy that was killed',
  run: freeLock,
};

/**
 * `gulp unlock`: free a lock left by a deploy that was killed, saying whose it was. A dry run reads
 * the lock and says what it would free.
 */
export async function freeLock(run: ServerRun): Promise<void> {
  const { layout, server, target } = run;
  const held = await target.lstat(layout.lock);
  const record = held ? (await target.readFile(layout.lockOwner).catch(() => null))?.toString().trim() : undefined;
  const owner = record ? describeOwner(record) : undefined;
  const whose = owner ? `held by ${owner}` : 'no owner recorded';
  if (target.dryRun) {
    run.log.info(
      `[dry run] [${server.name}] ${held ? `would free the lock ${layout.lock} (${whose})` : 'the lock is not held: nothing to free'}`,
    );
    return;
  }
  await forceFreeLock(run); // and the incomplete release its holder was building, if it recorded one
  run.log.info(`[${server.name}] lock freed${owner ? ` (it was held by ${owner})` : held ? ' (no owner recorded)' : ' (it was not held)'}`);
}
