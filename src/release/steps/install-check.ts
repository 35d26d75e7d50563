import { AttacheError } from '../../errors';
import type { Step } from '../lifecycle/context';
import { listReleases } from '../model/release-list';

/** Attaché's `install` is a first deploy: it refuses a server that already has releases. */
export const installCheck: Step = {
  name: 'check',
  description: 'refuse a server that already has releases (install is the first deploy)',
  async run(run) {
    const releases = await listReleases(run.target, run.layout);
    if (releases.length) {
      throw new AttacheError(
        `there is already an installation on ${run.server.name}: ${releases.length} release${releases.length === 1 ? '' : 's'} in ${run.layout.releases}`,
        {
          server: run.server.name,
          step: 'install',
          hint: 'Did you mean gulp deploy?',
        },
      );
    }
  },
};
