import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AttacheError } from '../../errors';
import type { Logger } from '../../log';
import { pidAlive } from '../model/lock-owner';
import { cacheDir } from './local-cache';

/**
 * One deploy at a time from a project directory: a second one's build would rewrite public/build
 * under the first one's upload. `mkdir` is atomic, as for the server's lock; the holder's pid is in
 * it, so a lock whose process has ended (a kill, a crash) is taken over. Released when the deploy
 * ends, however it ends, and on exit.
 */
export function lockCheckout(cwd: string, log: Logger): () => void {
  const dir = path.join(cacheDir(cwd), 'deploy.lock');
  mkdirSync(path.dirname(dir), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    // Made whole beside it, then renamed into place: a lock is never seen without its owner.
    const made = mkdtempSync(`${dir}.`);
    writeFileSync(path.join(made, 'owner'), JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() }));
    try {
      renameSync(made, dir);
      break;
    } catch (error) {
      rmSync(made, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt > 0) throw error;
      const owner = readOwner(dir);
      if (owner && owner.host === os.hostname() && pidAlive(owner.pid)) {
        throw new AttacheError(`another deploy from this project directory is running (pid ${owner.pid}, since ${owner.since})`, {
          step: 'source',
          file: dir,
          hint: `Its build and upload would be overwritten by this one's: wait for it to end. If no such deploy runs, remove ${dir}.`,
        });
      }
      log.warn(`[local] a deploy from this directory that ended without freeing its lock (pid ${owner?.pid ?? '?'}): taking it over`);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', release);
  return release;
}

function readOwner(dir: string): { pid: number; host: string; since: string } | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'owner'), 'utf8'));
  } catch {
    return undefined; // not ours to read: judged as gone
  }
}
