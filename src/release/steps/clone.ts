import { inSequence } from '../../remote/command';
import { raw, sh } from '../../remote/quote';
import type { Step } from '../lifecycle/context';
import { chooseReleaseId, claimRelease, execClaiming } from './release';
import { checkoutSubmodules, listSubmodules, parseSubmodules } from './submodules';

const COMMIT = 'attache:commit=';

/**
 * Put the branch's files into root/releases/<id>. The server keeps a shallow bare mirror of the
 * repository: the first deploy clones it (--depth 1), later ones fetch only the new objects, and
 * the commit is checked out into the release (all files, no .git), then its submodules
 * (submodules.ts). `mkdir` claims the directory first and the claim registers its removal, so a
 * failed deploy leaves no half-built release behind.
 */
export const clone: Step = {
  name: 'clone',
  description: "fetch the branch into the server's mirror and check it out into releases/<id>",
  hooks: 'clone',
  makesReleaseTree: true, // the asset upload runs beside it, into a staging directory (assets.ts)
  appliesTo: (server) => server.strategy === 'clone',
  async once(deploy) {
    deploy.releaseId ??= await chooseReleaseId(deploy); // a custom series may leave the release step out
  },
  async run(run, deploy) {
    const { layout, server } = run;
    const id = deploy.releaseId!;
    const dir = layout.release(id);
    const branch = deploy.branch ?? server.branch;
    const ref = `refs/heads/${branch}`;
    const index = layout.checkoutIndex(id);
    // One script, one round trip; each part runs only when the one before succeeded.
    const script = inSequence([
      claimRelease(run, id),
      // A mirror left half-made by an interrupted first clone is made again.
      sh`if git --git-dir=${layout.mirror} rev-parse --git-dir >/dev/null 2>&1; then ` +
        sh`git --git-dir=${layout.mirror} remote set-url origin ${server.repository} && ` +
        sh`git --git-dir=${layout.mirror} fetch --quiet --depth 1 --force origin ${`+${ref}:${ref}`}; ` +
        sh`else rm -rf -- ${layout.mirror} && git clone --quiet --bare --depth 1 --branch ${branch} -- ${server.repository} ${layout.mirror}; fi`,
      sh`commit=$(git --git-dir=${layout.mirror} rev-parse --verify ${`${ref}^{commit}`}) && printf '${raw(COMMIT)}%s\\n' "$commit"`,
      sh`GIT_INDEX_FILE=${index} git --git-dir=${layout.mirror} read-tree "$commit" && ` +
        sh`GIT_INDEX_FILE=${index} git --git-dir=${layout.mirror} --work-tree=${dir} checkout-index --all --force && rm -f -- ${index}`,
      listSubmodules(layout.mirror),
    ]);
    const result = await execClaiming(run, id, script, { step: 'clone' }, [index, layout.moduleIndex(id)]);
    const commit = new RegExp(`^${COMMIT}([0-9a-f]+)$`, 'm').exec(result.stdout)?.[1];
    run.commit = commit;
    // A submodule is an empty directory in the checkout: its files come from its own repository.
    const modules = parseSubmodules(result.stdout);
    if (commit && modules.length)
      await checkoutSubmodules(run, id, { mirror: layout.mirror, commit, url: server.repository, dir, at: '' }, modules);
  },
};
