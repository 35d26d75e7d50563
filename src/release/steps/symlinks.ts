import { execReporting, inSequence } from '../../remote/command';
import { sh } from '../../remote/quote';
import { sharedPathsScript } from '../files/shared-paths';
import { releaseIdOf, type Step } from '../lifecycle/context';

/**
 * The shared storage and .env linked into the release (Attaché's "symlinks" hooks around it), and
 * the paths of `"shared"` (files/shared-paths.ts), in one script.
 */
export const symlinks: Step = {
  name: 'symlinks',
  description: 'link the shared storage/, .env and "shared" paths into the release',
  hooks: 'symlinks',
  async run(run, deploy) {
    const { layout } = run;
    const id = releaseIdOf(deploy);
    const paths = sharedPathsScript(run, id);
    const script = inSequence([
      sh`rm -rf -- ${layout.releaseEnv(id)}`,
      sh`ln -s -- ${layout.fromRelease(id, layout.storage)} ${layout.releaseStorage(id)}`,
      sh`ln -s -- ${layout.fromRelease(id, layout.env)} ${layout.releaseEnv(id)}`,
      ...paths.commands,
    ]);
    await execReporting(run.target, script, { step: 'symlinks' }, paths.afterwards);
  },
};
