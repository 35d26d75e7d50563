import { validateReleaseId } from '../../config';
import { AttacheError } from '../../errors';
import { sh } from '../../remote/quote';
import type { ServerRun, Step } from '../lifecycle/context';
import { listReleases } from '../model/release-list';

/** `--release=<id>`, checked before anything connects. */
export function deleteStep(release: string | undefined): Step {
  if (!release) throw new AttacheError('delete needs a release: --release=<id>', { hint: 'List them with: gulp releases' });
  validateReleaseId(release);
  return {
    name: 'delete',
    description: 'remove the release --release=<id> (never the live one)',
    run: (run) => deleteRelease(run, release),
  };
}

/** Attaché's `releases:delete <id>`: removes one release, never the live one. */
export async function deleteRelease(run: ServerRun, id: string): Promise<void> {
  const releases = await listReleases(run.target, run.layout);
  const release = releases.find((r) => r.id === id);
  if (!release) {
    throw new AttacheError(`there is no release ${id} on ${run.server.name}`, {
      server: run.server.name,
      hint: releases.length
        ? `Releases: ${releases.map((r) => r.id + (r.live ? ' (live)' : '')).join(', ')}.`
        : 'There are no releases yet.',
    });
  }
  if (release.live) {
    throw new AttacheError(`release ${id} is the live one on ${run.server.name}: it cannot be deleted`, {
      server: run.server.name,
      hint: 'Activate another release first (gulp rollback, or gulp activate --release=<id>), then delete this one.',
    });
  }
  if (run.target.dryRun) return void run.log.info(`[dry run] [${run.server.name}] would delete release ${id} (${run.layout.release(id)})`);
  await run.target.exec(sh`rm -rf -- ${run.layout.release(id)}`, { step: 'delete' });
  run.log.info(`[${run.server.name}] deleted release ${id}`);
}
