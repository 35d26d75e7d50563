import { AttacheError } from '../errors';
import { quote } from './quote';
import type { Target } from './target';
import { formatBytes } from './format';

/** What `df` says of the file system that holds a directory. */
export interface FileSystemSpace {
  /** df's first column: the device, or `tmpfs`, `overlay`… */
  filesystem: string;
  /** Where it is mounted. */
  mount: string;
  /** Bytes the deploy user may still write. */
  bytesFree: number;
  /** Free inodes; undefined where the file system does not count them (btrfs says 0 of 0) or df cannot say. */
  inodesFree?: number;
  inodesTotal?: number;
}

/**
 * Shell lines that print, for the current directory, `free <KiB available>`, `fs <filesystem>
 * <mount>` and, where inodes are counted, `inodes <used> <free>`. POSIX `df -P` columns are read
 * from the right (a file system's name may hold spaces); `df -P -i`'s inode columns are found by
 * their header, which GNU (IUsed, IFree), BSD (iused, ifree) and BusyBox (Used, Available) name
 * differently. "Mounted on" is two words in the header and one in a line.
 */
export const SPACE_LINES = [
  `df -Pk . 2>/dev/null | awk 'NR==2 { name = $1; for (i = 2; i <= NF - 5; i++) name = name " " $i; print "free " $(NF-2); print "fs " name " " $NF }'`,
  `df -P -i . 2>/dev/null | awk 'NR==1 { for (i = 1; i <= NF; i++) { if ($i ~ /^(IUsed|iused|Used)$/) u = NF - i; if ($i ~ /^(IFree|ifree|Free|Available)$/) f = NF - i } } NR==2 && u && f { print "inodes " $(NF-u+1) " " $(NF-f+1) }'`,
];

/** Reads SPACE_LINES' output; undefined when df said nothing usable. */
export function parseSpace(output: string): FileSystemSpace | undefined {
  const free = /^free (\d+)$/m.exec(output);
  const fs = /^fs (.+) (\S+)$/m.exec(output);
  if (!free || !fs) return undefined;
  const space: FileSystemSpace = { filesystem: fs[1], mount: fs[2], bytesFree: Number(free[1]) * 1024 };
  const inodes = /^inodes (\d+) (\d+)$/m.exec(output);
  if (inodes) {
    const [used, available] = [Number(inodes[1]), Number(inodes[2])];
    if (used + available > 0) Object.assign(space, { inodesFree: available, inodesTotal: used + available });
  }
  return space;
}

/** The file system of the first of `dirs` that exists on the target; undefined when df cannot say. */
export async function fileSystemSpace(target: Target, dirs: readonly string[]): Promise<FileSystemSpace | undefined> {
  const pick = `for dir in ${dirs.map(quote).join(' ')}; do [ -d "$dir" ] && break; done; cd -- "$dir" || exit 1`;
  const result = await target.exec([pick, ...SPACE_LINES].join('\n'), { check: false, output: 'none', readOnly: true });
  return parseSpace(result.stdout);
}

/** True when `space` has no inode left to give (a few are left by whatever cleaned up after the failure). */
export function outOfInodes(space: FileSystemSpace): boolean {
  return space.inodesFree !== undefined && space.inodesTotal !== undefined && space.inodesFree < Math.max(16, space.inodesTotal / 1000);
}

export function inodeHint(space: FileSystemSpace): string {
  return (
    `Every file and directory takes an inode, and ${space.mount} has run out of them while it still has space (\`df -i ${space.mount}\` shows it). ` +
    'Remove what holds many small files there (old releases: gulp prune; caches, sessions, stray node_modules), or give the file system more inodes ' +
    '(a tmpfs: its nr_inodes option; ext4: mkfs.ext4 -i), then deploy again.'
  );
}

/**
 * A failure that says "No space left on device", told as what it is when the file system still has
 * bytes free but no inodes: `no free inodes on <mount> (<filesystem>)`, the failure's own words
 * after it. Any other error, or one df cannot explain, is returned as it was.
 */
export async function explainNoSpace(error: unknown, target: Target, dirs: readonly string[]): Promise<unknown> {
  if (!(error instanceof AttacheError) || !/no space left on device|ENOSPC/i.test(error.message)) return error;
  if (/no free inodes/.test(error.message)) return error;
  const space = await fileSystemSpace(target, dirs).catch(() => undefined);
  if (!space || !outOfInodes(space)) return error;
  const explained = new AttacheError(
    `no free inodes on ${space.mount} (${space.filesystem}), though ${formatBytes(space.bytesFree)} are free: ${error.what}`,
    { ...error.context, hint: inodeHint(space) },
    { cause: error },
  );
  explained.name = error.name;
  return explained;
}
