import path from 'node:path/posix';
import { sh } from '../../remote/quote';
import type { ServerRun } from '../lifecycle/context';

const CREATED = 'attache:created-shared=';
const MISSING = 'attache:missing-shared=';

/**
 * `"shared": { "dirs": [...], "files": [...] }`: each lives at root/shared/<path> and is linked into
 * the release at <path>. The first deploy that names one moves the release's own copy there (as
 * storage is); later deploys drop the release's copy and never overwrite the shared one. A file
 * neither side has is linked anyway (dangling, like a missing .env) and named in a warning.
 *
 * The commands go into the symlinks step's script; `afterwards` reads its output (run even when the
 * script failed part-way, so that what it created is undone).
 */
export function sharedPathsScript(run: ServerRun, id: string): { commands: string[]; afterwards(stdout: string): void } {
  const { layout, server } = run;
  const entries = [...server.shared.dirs.map((p) => ({ p, dir: true })), ...server.shared.files.map((p) => ({ p, dir: false }))];
  const commands = entries.map(({ p, dir }, i) => {
    const shared = layout.shared(p);
    const inRelease = layout.inRelease(id, p);
    // Create the shared copy only when it is missing, from the release's copy if it has one; then link it.
    const create =
      sh`if [ -e ${shared} ] || [ -L ${shared} ]; then rm -rf -- ${inRelease}; ` +
      sh`else mkdir -p -- ${path.dirname(shared)} && ` +
      (dir
        ? sh`{ if [ -d ${inRelease} ] && [ ! -L ${inRelease} ]; then mv -- ${inRelease} ${shared}; else rm -rf -- ${inRelease} && mkdir -- ${shared}; fi; } && echo ${`${CREATED}${i}`}; fi`
        : sh`{ if [ -f ${inRelease} ] && [ ! -L ${inRelease} ]; then mv -- ${inRelease} ${shared} && echo ${`${CREATED}${i}`}; else rm -rf -- ${inRelease}; echo ${`${MISSING}${i}`}; fi; }; fi`);
    return (
      `${create} && ` +
      sh`mkdir -p -- ${path.dirname(inRelease)} && ln -s -- ${path.relative(path.dirname(inRelease), shared)} ${inRelease}`
    );
  });
  const afterwards = (stdout: string) => {
    entries.forEach(({ p, dir }, i) => {
      const shared = layout.shared(p);
      if (new RegExp(`^${CREATED}${i}$`, 'm').test(stdout)) {
        run.undo.push('shared', `remove ${shared}, which this deploy created`, () =>
          run.target.exec(sh`rm -rf -- ${shared}`).then(() => undefined),
        );
        run.log.info(`[${server.name}] created the shared ${dir ? 'directory' : 'file'} ${shared}${dir ? '' : ' from the release'}`);
      }
      if (new RegExp(`^${MISSING}${i}$`, 'm').test(stdout)) {
        run.log.warn(
          `[${server.name}] the shared file ${shared} does not exist and the release has no ${p}: it is linked anyway. Create it on the server.`,
        );
      }
    });
  };
  return { commands, afterwards };
}
