import path from 'node:path/posix';
import { sh } from '../remote/quote';
import type { ServerRun } from './context';

const CREATED = 'attache:created';
const MISSING = 'attache:missing';

/**
 * `"shared": { "dirs": [...], "files": [...] }`: each lives at root/shared/<path> and is linked into
 * the release at <path>. The first deploy that names one moves the release's own copy there (as
 * storage is); later deploys drop the release's copy and never overwrite the shared one. A file
 * neither side has is linked anyway (dangling, like a missing .env) and named in a warning.
 */
export async function linkSharedPaths(run: ServerRun, id: string): Promise<void> {
  const { layout, target, server } = run;
  const entries = [...server.shared.dirs.map((p) => ({ p, dir: true })), ...server.shared.files.map((p) => ({ p, dir: false }))];
  for (const { p, dir } of entries) {
    const shared = layout.shared(p);
    const inRelease = layout.inRelease(id, p);
    // One command per path: create the shared copy only when it is missing, from the release's copy if it has one.
    const created = await target.exec(
      sh`if [ -e ${shared} ] || [ -L ${shared} ]; then rm -rf -- ${inRelease}; ` +
        sh`else mkdir -p -- ${path.dirname(shared)} && ` +
        (dir
          ? sh`{ if [ -d ${inRelease} ] && [ ! -L ${inRelease} ]; then mv -- ${inRelease} ${shared}; else rm -rf -- ${inRelease} && mkdir -- ${shared}; fi; } && echo ${CREATED}; fi`
          : sh`{ if [ -f ${inRelease} ] && [ ! -L ${inRelease} ]; then mv -- ${inRelease} ${shared} && echo ${CREATED}; else rm -rf -- ${inRelease}; echo ${MISSING}; fi; }; fi`),
      { step: 'shared' },
    );
    if (created.stdout.includes(CREATED)) {
      run.undo.push('shared', `remove ${shared}, which this deploy created`, () => target.exec(sh`rm -rf -- ${shared}`).then(() => undefined));
      run.log.info(`[${server.name}] created the shared ${dir ? 'directory' : 'file'} ${shared}${dir ? '' : ' from the release'}`);
    }
    if (created.stdout.includes(MISSING)) {
      run.log.warn(`[${server.name}] the shared file ${shared} does not exist and the release has no ${p}: it is linked anyway. Create it on the server.`);
    }
    await target.exec(sh`mkdir -p -- ${path.dirname(inRelease)}`, { step: 'shared' });
    await target.symlink(path.relative(path.dirname(inRelease), shared), inRelease);
  }
}
