import type { Deploy, ServerRun, Step } from '../lifecycle/context';
import { listReleases, type ReleaseInfo } from '../model/release-list';
import { releasesAcrossServers, releasesTable } from './releases-table';

/** `gulp releases`: each server's releases, and side by side where a fleet differs. */
export function releasesStep(): Step {
  const listed = new Map<string, ReleaseInfo[]>();
  return {
    name: 'releases',
    description: 'list the releases on the server(s): id, date, commit, status, which is live',
    async run(run: ServerRun, deploy: Deploy) {
      const releases = await listReleases(run.target, run.layout);
      listed.set(run.server.name, releases);
      deploy.log.summary(releasesTable(run.server.name, releases));
    },
    async after(deploy) {
      if (listed.size > 1)
        deploy.log.summary(
          releasesAcrossServers(new Map(deploy.servers.map((run) => [run.server.name, listed.get(run.server.name) ?? []]))),
        );
    },
  };
}
