import type { Step } from './context';
import { releaseLock } from './lock';

/** 12. Release the deploy lock. Always the last step: the preset closes the connections after it. */
export const unlock: Step = {
  name: 'unlock',
  description: 'release the deploy lock',
  async run(run) {
    await releaseLock(run);
    run.undo = run.undo.filter((u) => u.step !== 'lock');
  },
};
