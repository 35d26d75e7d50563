import { validateReleaseId } from '../../config';
import { AttacheError } from '../../errors';
import type { Deploy, ServerRun, Step } from '../lifecycle/context';
import { pruneReleases } from '../steps/prune';
import { listReleases, type ReleaseInfo } from '../model/release-list';
import { activateRelease } from './rollback';
import { releasesAcrossServers, releasesTable } from './releases-table';
import { freeLock } from '../steps/unlock';

/**
 * The tasks beside deploy, each one step that the preset runs between connect (and lock, where it
 * changes something) and the end, with the same life as a deploy: rollback, activate, releases,
 * prune, unlock.
 */

export const rollbackStep: Step = {
  name: 'rollback',
  description: 'point live at the release before it (atomic)',
  async run(run) {
    await activateRelease(run, 'previous');
  },
};

/** `--release=<id>` or `latest`, checked before anything connects. */
export function activateStep(release: string | undefined): Step {
  if (!release) throw new AttacheError('activate needs a release: --release=<id> or --release=latest', { hint: 'List them with: gulp releases' });
  if (release !== 'latest') validateReleaseId(release);
  return {
    name: 'activate',
    description: 'point live at --release=<id> (or "latest")',
    async run(run) {
      await activateRelease(run, release);
    },
  };
}

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
      if (listed.size > 1) deploy.log.summary(releasesAcrossServers(new Map(deploy.servers.map((run) => [run.server.name, listed.get(run.server.name) ?? []]))));
    },
  };
}

export const pruneStep: Step = {
  name: 'prune',
  description: 'remove old releases (keeps "keep", never live nor the one before it)',
  async run(run) {
    await pruneReleases(run);
  },
};

/** Frees the lock whoever holds it: for a deploy that was killed. */
export const forceUnlockStep: Step = {
  name: 'unlock',
  description: 'free a deploy lock left by a deploy that was killed',
  run: freeLock,
};
