import { isReleaseId, validateReleaseId } from '../../config';
import { mapLimit } from '../../limit';
import { execReporting } from '../../remote/command';
import { sh } from '../../remote/quote';
import type { ExecOptions, ExecResult } from '../../remote/target';
import type { Deploy, ServerRun, Step } from '../lifecycle/context';
import type { UndoEntry } from '../lifecycle/undo-log';
import { recordRelease } from './lock';
import { connectionLost } from '../lifecycle/reconnect';
import { compareIds } from '../model/release-list';

/** What the claim prints once it has made the release directory. */
const CLAIMED = 'attache:claimed';

/** The new release's id, the same on every server, known to every hook from before-deploy on. */
export const release: Step = {
  name: 'release',
  description: 'choose the release id (a UTC timestamp, the same on every server)',
  async once(deploy) {
    deploy.releaseId ??= await chooseReleaseId(deploy);
  },
};

/**
 * A UTC timestamp, unless some release on some server already sorts at or after it (a deploy in
 * the same second, or a clock that went back): then one past the newest, so ids always sort in
 * deploy order and "the release before live" means what it says.
 */
export async function chooseReleaseId(deploy: Deploy): Promise<string> {
  const now = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const listings = await mapLimit(
    deploy.servers,
    deploy.parallel,
    async (run) =>
      run.releasesSeen?.map((r) => r.id) ??
      (await run.target.exec(sh`ls -1 -- ${run.layout.releases} 2>/dev/null || true`, { step: 'release', readOnly: true })).stdout.split(
        '\n',
      ),
  );
  const existing = listings.flat().filter(isReleaseId).sort(compareIds);
  const newest = existing.at(-1);
  if (!newest || compareIds(now, newest) > 0) return validateReleaseId(now);
  const [time, suffix = '1'] = newest.split('-');
  return validateReleaseId(`${time}-${Number(suffix) + 1}`);
}

/**
 * The command that claims releases/<id> for this deploy (clone's, artifact's): the lock records the
 * release first (if the deploy dies, whoever frees its lock removes the release too), then `mkdir`
 * fails on a directory that is there already. It says so when it made the directory: pass the
 * script's output, even that of a script that failed later, to undoIfClaimed.
 */
export function claimRelease(run: ServerRun, id: string): string {
  return sh`${recordRelease(run, id)}mkdir -p -- ${run.layout.releases} && mkdir -- ${run.layout.release(id)} && echo ${CLAIMED}`;
}

/** Only a directory this deploy made is removed by its undo: registers that undo when the claim's output says so. */
function undoIfClaimed(run: ServerRun, id: string, stdout: string, ...alsoRemove: string[]): void {
  if (stdout.includes(CLAIMED)) undoRelease(run, run.layout.release(id), ...alsoRemove);
}

/**
 * Runs a script that claims the release first (claimRelease) and registers the release's undo when
 * its output says it made the directory, or when the connection died before any answer came (the
 * upload beside the clone can be what breaks it): the id is newer than every release listed under
 * this deploy's lock, so a directory of that name can only be this deploy's.
 */
export async function execClaiming(
  run: ServerRun,
  id: string,
  script: string,
  options: ExecOptions,
  alsoRemove: string[] = [],
  shown?: string,
): Promise<ExecResult> {
  let answered = false;
  try {
    return await execReporting(
      run.target,
      script,
      options,
      (stdout) => ((answered = true), undoIfClaimed(run, id, stdout, ...alsoRemove)),
      shown,
    );
  } catch (error) {
    if (!answered && connectionLost(run.target)) undoRelease(run, run.layout.release(id), ...alsoRemove);
    throw error;
  }
}

/**
 * The undo of a release directory this deploy made (clone's, artifact's, and the asset upload's
 * staging directory beside it; the run's target when it runs, as a reconnect may have replaced the
 * connection). After a cut connection the server may
 * still run the old session's tar for a moment, adding files while `rm -rf` walks the tree
 * ("Directory not empty"): so it tries again, twice, a second or two later. Once the directory is
 * gone, that tar can add nothing more.
 */
export function undoRelease(run: ServerRun, dir: string, ...alsoRemove: string[]): UndoEntry {
  const remove = sh`rm -rf -- ${dir} ${alsoRemove}`;
  const script = `${remove} 2>/dev/null || { sleep 1; ${remove} 2>/dev/null; } || { sleep 2; ${remove}; }`;
  return run.undo.push('release', `remove ${dir}`, () => run.target.exec(script, { step: 'clean up' }).then(() => undefined));
}
