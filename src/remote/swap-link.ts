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
 * `beforeChange` runs between the checks and the swap (the deploy registers its undo there, and
 * waits for the release's marker); if it throws, nothing is changed.
 *
 * Two round trips over SSH: the checks go out together, and so do symlink, rename and the check
 * (the Target keeps their order). A rename of a name that was never made fails (the name is new
 * each time), so a failed symlink changes nothing.
 */
export async function swapLink(
  target: Target,
  link: string,
  to: string,
  step = 'swap',
  beforeChange?: (previous: string | null) => Promise<void> | void,
): Promise<SwapResult> {
  const where = { server: target.name, step, remotePath: link };
  const resolved = path.resolve(path.dirname(link), to);
  const [existing, destination, pointsTo] = await Promise.all([
    target.lstat(link),
    target.stat(resolved),
    target.readlink(link).catch(() => null),
  ]);
  if (existing && existing.type !== 'symlink') {
    throw new AttacheError(
      `${link} is a real ${existing.type === 'directory' ? 'directory' : 'file'}, not a symlink; refusing to replace it`,
      {
        ...where,
        hint: `Move it away (e.g. mv ${link} ${link}.old) so that the deploy can manage the link, then run again.`,
      },
    );
  }
  if (destination?.type !== 'directory') {
    throw new AttacheError(`the swap target ${resolved} does not exist (or is not a directory)`, {
      ...where,
      hint: 'Nothing was changed.',
    });
  }
  const previous = existing ? pointsTo : null;
  if (previous === to) return { link, previous, current: to, changed: false };
  await beforeChange?.(previous);

  const temporary = temporaryBeside(link);
  const [made, renamed, after] = await Promise.allSettled([
    target.symlink(to, temporary),
    target.rename(temporary, link),
    target.readlink(link),
  ]);
  if (made.status === 'rejected') throw made.reason;
  if (renamed.status === 'rejected') {
    await target.unlink(temporary).catch(() => undefined);
    throw renamed.reason;
  }
  // A server without posix-rename renames by a command (ssh/sftp.ts), after the check was answered: look again.
  const now = after.status === 'fulfilled' && after.value === to ? to : await target.readlink(link);
  if (now !== to) {
    throw new AttacheError(`the swap did not take effect: ${link} points to ${now ?? 'nothing'}, expected ${to}`, where);
  }
  return { link, previous, current: to, changed: true };
}
