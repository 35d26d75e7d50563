import type { Deploy, ServerRun, Step } from '../lifecycle/context';
import { fleetSplit, listReleases, type ReleaseInfo } from '../model/release-list';
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
      if (listed.size < 2) return;
      const byServer = new Map(deploy.servers.map((run) => [run.server.name, listed.get(run.server.name) ?? []]));
      deploy.log.summary(releasesAcrossServers(byServer));
      const split = fleetSplit([...byServer].map(([server, releases]) => [server, releases.find((r) => r.live)?.id ?? null]));
      if (split)
        deploy.log.warn(
          `the fleet is split: ${split}. The next gulp deploy puts them all on its release (gulp activate --release=<id> on one release also does).`,
        );
    },
  };
}
