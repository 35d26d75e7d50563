import { validateReleaseId } from '../config';
import { mapLimit } from '../limit';
import { sh } from '../remote/quote';
import { releaseIdOf, type Deploy, type Step } from './context';
import { runHook } from './hooks';

/**
 * 4. Clone the branch into root/releases/<id>. The id is a UTC timestamp, the same on every
 * server, with a -N suffix when taken. `mkdir` claims the directory before git writes into it, and
 * the claim registers its removal, so a failed deploy leaves no half-built release behind.
 */
export const clone: Step = {
  name: 'clone',
  description: 'clone the branch into releases/<id> (git clone --depth 1)',
  async once(deploy) {
    deploy.releaseId = await chooseReleaseId(deploy);
  },
  async run(run, deploy) {
    const { layout, target, server } = run;
    const id = releaseIdOf(deploy);
    const dir = layout.release(id);
    const branch = deploy.branch ?? server.branch;
    await runHook('before-clone', run, deploy);
    await target.exec(sh`mkdir -p -- ${layout.releases} && mkdir -- ${dir}`, { step: 'clone' });
    run.undo.push({ step: 'clone', action: () => target.exec(sh`rm -rf -- ${dir}`, { step: 'clean up' }).then(() => undefined) });
    await target.exec(sh`git clone --quiet --depth 1 --branch ${branch} -- ${server.repository} ${dir}`, { step: 'clone' });
    run.commit = (await target.exec(sh`git -C ${dir} rev-parse HEAD`, { step: 'clone' })).stdout.trim() || undefined;
    await runHook('after-clone', run, deploy);
  },
};

async function chooseReleaseId(deploy: Deploy): Promise<string> {
  const base = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  for (let n = 1; ; n++) {
    const id = n === 1 ? base : `${base}-${n}`;
    validateReleaseId(id);
    const taken = await mapLimit(deploy.servers, deploy.parallel, async (run) => (await run.target.lstat(run.layout.release(id))) !== null);
    if (!taken.includes(true)) return id;
  }
}
