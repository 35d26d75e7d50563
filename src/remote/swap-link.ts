import path from 'node:path/posix';
import { AttacheError } from '../errors';
import type { Target } from './target';
import { temporaryBeside } from './temporary';

export interface SwapResult {
  link: string;
  /** What the link pointed to before (null if it did not exist): what a rollback swaps back to. */
  previous: string | null;
  current: string;
  changed: boolean;
}

/**
 * Points `link` at `to` with one rename(2): a new symlink is made beside the link under a temporary
 * name and renamed over it, so at no instant is the link missing or pointing anywhere else
 * (`ln -nfs` unlinks first and leaves a gap). Refuses, changing nothing, when the link path is a real
 * file or directory or the target does not exist; checks afterwards that the swap took effect.
 */
export async function swapLink(target: Target, link: string, to: string, step = 'swap'): Promise<SwapResult> {
  const where = { server: target.name, step, remotePath: link };
  const existing = await target.lstat(link);
  if (existing && existing.type !== 'symlink') {
    throw new AttacheError(`${link} is a real ${existing.type === 'directory' ? 'directory' : 'file'}, not a symlink; refusing to replace it`, {
      ...where,
      hint: `Move it away (e.g. mv ${link} ${link}.old) so that the deploy can manage the link, then run again.`,
    });
  }
  const resolved = path.resolve(path.dirname(link), to);
  if ((await target.stat(resolved))?.type !== 'directory') {
    throw new AttacheError(`the swap target ${resolved} does not exist (or is not a directory)`, { ...where, hint: 'Nothing was changed.' });
  }
  const previous = existing ? await target.readlink(link) : null;
  if (previous === to) return { link, previous, current: to, changed: false };

  const temporary = temporaryBeside(link);
  await target.symlink(to, temporary);
  try {
    await target.rename(temporary, link);
  } catch (error) {
    await target.unlink(temporary).catch(() => undefined);
    throw error;
  }
  const now = await target.readlink(link);
  if (now !== to) {
    throw new AttacheError(`the swap did not take effect: ${link} points to ${now ?? 'nothing'}, expected ${to}`, where);
  }
  return { link, previous, current: to, changed: true };
}
