import type { Step } from './context';
import { holdsLock, releaseLock } from './lock';

/** Release the deploy lock. Always the last step: the preset closes the connections after it. */
export const unlock: Step = {
  name: 'unlock',
  description: 'release the deploy lock',
  async run(run) {
    // Only a lock this deploy took: a custom series without deploy:lock must not free someone else's.
    if (!holdsLock(run)) return;
    await releaseLock(run);
    run.undo = run.undo.filter((u) => u.step !== 'lock');
  },
};
