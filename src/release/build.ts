import { runLocal, runLocalHook } from './hooks';
import type { Step } from './context';

/** 1. Build the assets locally: scripts.build (default `yarn prod`); an empty list skips it. */
export const build: Step = {
  name: 'build',
  description: 'build the assets locally (scripts.build; default "yarn prod"; [] skips it)',
  async once(deploy) {
    const server = deploy.selected[0];
    await runLocalHook('before-build', server, deploy);
    for (const command of server.build) {
      deploy.log.info(`[local] build: ${command}`);
      await runLocal(command, deploy.cwd, 'build', deploy.dryRun);
    }
    await runLocalHook('after-build', server, deploy);
  },
};
