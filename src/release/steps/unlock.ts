import type { Step } from '../lifecycle/context';
import { releaseLock } from './lock';

/** Release the deploy lock: the last step; the deploy ends with it (connections closed, report printed). */
export const unlock: Step = {
  name: 'unlock',
  description: 'release the deploy lock',
  ends: true,
  async run(run) {
    // Only a lock this deploy took: a custom series without deploy:lock must not free someone else's.
    if (!run.undo.holds('lock')) return;
    await releaseLock(run);
    run.undo.drop('lock');
  },
};
