import { runLocal } from '../lifecycle/hooks';
import { Layout } from '../model/layout';
import { expandTags } from '../model/tags';
import type { ServerConfig } from '../../config/types';
import type { Deploy, Step } from '../lifecycle/context';

/**
 * Build the assets locally: scripts.build, by default found from the project (a Vite app's
 * package manager runs `build`; Attaché's `yarn prod` otherwise); an empty list skips it.
 */
export const build: Step = {
  name: 'build',
  description: 'build the assets locally (scripts.build; by default found from the project: Vite or Mix; [] skips it)',
  hooks: 'build',
  buildsLocally: true,
  async once(deploy) {
    warnIfLocalWorkDiffers(deploy);
    const server = deploy.selected[0];
    const project = deploy.config.project;
    if (project && server.build === project.build) deploy.log.info(`[local] build found from the project: ${project.found}`);
    for (const template of server.build) {
      // As in Attaché, the build commands are compiled like hook lines (they may use @php, @root, …).
      const command = expandTags(template, server, new Layout(server), undefined, 'build');
      deploy.log.info(`[local] build: ${command}`);
      await runLocal(command, deploy, 'build');
    }
  },
};

/** The build and local hooks run once for a fleet, from the first server's config: say so when others differ. */
function warnIfLocalWorkDiffers(deploy: Deploy): void {
  const local = (s: ServerConfig) =>
    JSON.stringify([s.build, s.scripts['before-build'], s.scripts['after-build'], s.scripts['before-assets'], s.scripts['after-assets']]);
  const [first, ...others] = deploy.selected;
  const differing = others.filter((s) => local(s) !== local(first)).map((s) => s.name);
  if (differing.length) {
    deploy.log.warn(
      `the build and the local hooks run once, from server "${first.name}"; ${differing.join(', ')} set${differing.length === 1 ? 's' : ''} different ones, which are not run`,
    );
  }
}
