import os from 'node:os';
import { AttacheError, RemoteCommandError } from '../errors';
import { sh } from '../remote/quote';
import type { ServerRun, Step } from './context';

const HELD = 75;

/** The deploy lock: `mkdir` is atomic, so two deploys can never both take it (no check-then-write). */
export const lock: Step = {
  name: 'lock',
  description: 'take the deploy lock on each server (atomic mkdir, records who, when, from where)',
  async run(run, deploy) {
    const { layout, target } = run;
    if (deploy.dryRun && (await target.lstat(layout.lock))) {
      // A dry run changes nothing, so it reads the lock instead of taking it.
      throw lockHeld(run, (await target.readFile(layout.lockOwner).catch(() => Buffer.from(''))).toString());
    }
    const owner = JSON.stringify({ by: os.userInfo().username, host: os.hostname(), pid: process.pid, since: new Date().toISOString() });
    const command = sh`mkdir -p -- ${layout.root} && if mkdir -- ${layout.lock} 2>/dev/null; then printf '%s\n' ${owner} > ${layout.lockOwner}; else cat -- ${layout.lockOwner} 2>/dev/null; exit ${HELD}; fi`;
    const result = await target.exec(command, { check: false, step: 'lock' });
    if (result.code === HELD) throw lockHeld(run, result.stdout);
    if (result.code !== 0) {
      throw new RemoteCommandError({ server: run.server.name, step: 'lock', command, exitCode: result.code, output: result.stderr.trim() });
    }
    run.undo.push('lock', `free the lock ${layout.lock}`, () => releaseLock(run));
  },
};

export async function releaseLock(run: ServerRun): Promise<void> {
  await run.target.exec(sh`rm -rf -- ${run.layout.lock}`, { step: 'unlock' });
}

/** Who holds the lock, from its owner file: the error a refused deploy shows. */
export function lockHeld(run: ServerRun, ownerJson: string): AttacheError {
  let who = 'an unknown deploy (no owner recorded)';
  try {
    const owner = JSON.parse(ownerJson) as { by: string; host: string; pid: number; since: string };
    const minutes = Math.round((Date.now() - Date.parse(owner.since)) / 60000);
    who = `${owner.by}@${owner.host} (pid ${owner.pid}) since ${owner.since}, ${minutes} min ago`;
  } catch {}
  return new AttacheError(`another deploy holds the lock: ${who}`, {
    server: run.server.name,
    step: 'lock',
    remotePath: run.layout.lock,
    hint: `Wait for it to finish. If no deploy is running (it was killed), free the lock with: gulp unlock --server=${run.server.name}`,
  });
}
