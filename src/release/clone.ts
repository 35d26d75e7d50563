import { validateReleaseId } from '../config';
import { mapLimit } from '../limit';
import { sh } from '../remote/quote';
import { releaseIdOf, type Deploy, type Step } from './context';
import { runHook } from './hooks';
import { recordRelease } from './lock';
import { compareIds } from './releases';

/**
 * Put the branch's files into root/releases/<id>. The server keeps a shallow bare mirror of the
 * repository: the first deploy clones it (--depth 1), later ones fetch only the new objects, and
 * the commit is checked out into the release (all files, no .git). The id (chooseReleaseId) is
 * the same on every server; `mkdir` claims the directory first and the claim registers its
 * removal, so a failed deploy leaves no half-built release behind.
 */
export const clone: Step = {
  name: 'clone',
  description: 'fetch the branch into the server\'s mirror and check it out into releases/<id>',
  async once(deploy) {
    deploy.releaseId = await chooseReleaseId(deploy);
  },
  async run(run, deploy) {
    const { layout, target, server } = run;
    const id = releaseIdOf(deploy);
    const dir = layout.release(id);
    const branch = deploy.branch ?? server.branch;
    const ref = `refs/heads/${branch}`;
    await runHook('before-deploy', run, deploy); // Attaché's "deploy" task, clone through migrate, starts here
    await runHook('before-clone', run, deploy);
    // The lock records the release first: if this deploy dies, whoever frees its lock removes the release too.
    await target.exec(sh`${recordRelease(run, id)}mkdir -p -- ${layout.releases} && mkdir -- ${dir}`, { step: 'clone' });
    // Undo actions use the run's target when they run: a reconnect may have replaced it.
    run.undo.push({ step: 'clone', action: () => run.target.exec(sh`rm -rf -- ${dir} ${layout.checkoutIndex(id)}`, { step: 'clean up' }).then(() => undefined) });

    // A mirror left half-made by an interrupted first clone is made again.
    await target.exec(
      sh`if git --git-dir=${layout.mirror} rev-parse --git-dir >/dev/null 2>&1; then ` +
        sh`git --git-dir=${layout.mirror} remote set-url origin ${server.repository} && ` +
        sh`git --git-dir=${layout.mirror} fetch --quiet --depth 1 --force origin ${`+${ref}:${ref}`}; ` +
        sh`else rm -rf -- ${layout.mirror} && git clone --quiet --bare --depth 1 --branch ${branch} -- ${server.repository} ${layout.mirror}; fi`,
      { step: 'clone' },
    );
    run.commit = (await target.exec(sh`git --git-dir=${layout.mirror} rev-parse --verify ${`${ref}^{commit}`}`, { step: 'clone' })).stdout.trim();
    const index = layout.checkoutIndex(id);
    await target.exec(
      sh`GIT_INDEX_FILE=${index} git --git-dir=${layout.mirror} read-tree ${run.commit} && ` +
        sh`GIT_INDEX_FILE=${index} git --git-dir=${layout.mirror} --work-tree=${dir} checkout-index --all --force && rm -f -- ${index}`,
      { step: 'clone' },
    );
    await runHook('after-clone', run, deploy);
  },
};

/**
 * A UTC timestamp, unless some release on some server already sorts at or after it (a deploy in
 * the same second, or a clock that went back): then one past the newest, so ids always sort in
 * deploy order and "the release before live" means what it says.
 */
async function chooseReleaseId(deploy: Deploy): Promise<string> {
  const now = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const listings = await mapLimit(deploy.servers, deploy.parallel, async (run) =>
    (await run.target.exec(sh`ls -1 -- ${run.layout.releases} 2>/dev/null || true`, { step: 'clone' })).stdout.split('\n'),
  );
  const existing = listings.flat().filter((name) => /^\d{14}(-\d+)?$/.test(name)).sort(compareIds);
  const newest = existing.at(-1);
  if (!newest || compareIds(now, newest) > 0) return validateReleaseId(now);
  const [time, suffix = '1'] = newest.split('-');
  return validateReleaseId(`${time}-${Number(suffix) + 1}`);
}
