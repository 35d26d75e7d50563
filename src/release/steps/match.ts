import { AttacheError } from '../../errors';
import type { Step } from '../lifecycle/context';
import { shipsLocalAssets } from './source';

/**
 * The release's commit (what the clone checked out from the repository, or the artifact's) must be
 * the one the assets were built from (the source step): otherwise new CSS would ship with old PHP,
 * or the other way round. No command: both commits are known by now.
 */
export const match: Step = {
  name: 'match',
  description: 'refuse a release whose commit is not the local one the assets were built from (an unpushed commit, another --branch)',
  appliesTo: shipsLocalAssets,
  async run(run, deploy) {
    const built = deploy.sourceCommit;
    if (!built || !run.commit || run.commit === built) return;
    const branch = deploy.branch ?? run.server.branch;
    const what = `the release's commit ${run.commit.slice(0, 10)} (${branch} in the repository) is not ${built.slice(0, 10)}, the local commit the assets are built from`;
    if (deploy.flags.anyCommit) {
      run.log.warn(`[${run.server.name}] ${what} (--any-commit)`);
      return;
    }
    throw new AttacheError(what, {
      server: run.server.name,
      step: 'match',
      hint: `Push your commits (git push) if ${built.slice(0, 10)} is the one to deploy, or check out ${branch} at ${run.commit.slice(0, 10)}; --any-commit deploys anyway. Nothing was switched.`,
    });
  },
};
