import { sh } from '../remote/quote';
import type { Step } from './context';
import { chooseReleaseId } from './release';

/**
 * Put the branch's files into root/releases/<id>. The server keeps a shallow bare mirror of the
 * repository: the first deploy clones it (--depth 1), later ones fetch only the new objects, and
 * the commit is checked out into the release (all files, no .git). `mkdir` claims the directory
 * first and the claim registers its removal, so a failed deploy leaves no half-built release behind.
 */
export const clone: Step = {
  name: 'clone',
  description: 'fetch the branch into the server\'s mirror and check it out into releases/<id>',
  hooks: 'clone',
  async once(deploy) {
    deploy.releaseId ??= await chooseReleaseId(deploy); // a custom series may leave the release step out
  },
  async run(run, deploy) {
    const { layout, target, server } = run;
    const id = deploy.releaseId!;
    const dir = layout.release(id);
    const branch = deploy.branch ?? server.branch;
    const ref = `refs/heads/${branch}`;
    await target.exec(sh`mkdir -p -- ${layout.releases} && mkdir -- ${dir}`, { step: 'clone' });
    run.undo.push('release', `remove ${dir}`, () => target.exec(sh`rm -rf -- ${dir} ${layout.checkoutIndex(id)}`, { step: 'clean up' }).then(() => undefined));

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
  },
};
