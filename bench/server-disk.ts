/**
 * The disk the bench's server roots live on: a journaled ext4, as a server's disk is.
 *
 * This machine's own disk is ext4 without a journal, and there ext4 skips every inode freed in the
 * last minute when it creates a file (fs/ext4/ialloc.c, recently_deleted: a check only made
 * without a journal). The bench removes a server root (~1,500 files) after every run, so each run
 * creates its files after thousands of recent deletions: 400 files took 0.08 s after 2,000
 * deletions and 0.37 s after 6,000 here, and the `tar` unpacking a deploy's assets spent 0.6 s of
 * CPU in that search. Every case pays it (scp, rsync, git and tar alike) on the same two cores.
 *
 * So the roots go on a sparse ext4 image with a journal, mounted on a loop device, when this
 * machine allows it (root, mkfs.ext4, a free loop device); otherwise on the work directory, and
 * the results say which. BENCH_SERVER_DISK=0 keeps them on the work directory.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

export interface ServerDisk {
  /** What the roots are on, for the results. */
  description: string;
  /** Removes everything under the roots' directory (a mount point stays). */
  clear(): void;
  /** Unmounts and removes the image, if one was mounted. */
  release(): void;
}

const IMAGE_BYTES = 16 * 2 ** 30; // sparse: only what is written takes space; the 1 GB memory case fits

export function serverDisk(rootsDir: string, imageFile: string, wanted: boolean): ServerDisk {
  unmountIfMounted(rootsDir); // a run that was killed left its disk mounted
  rmSync(rootsDir, { recursive: true, force: true });
  mkdirSync(rootsDir, { recursive: true });
  const clear = () => {
    for (const entry of readdirSync(rootsDir))
      if (entry !== 'lost+found') rmSync(path.join(rootsDir, entry), { recursive: true, force: true });
  };
  const onWorkDir = (why: string): ServerDisk => ({ description: `the work directory's filesystem (${why})`, clear, release: clear });
  if (!wanted) return onWorkDir('BENCH_SERVER_DISK=0');
  if (process.getuid?.() !== 0) return onWorkDir('not root: no loop device');

  rmSync(imageFile, { force: true });
  const steps: Array<[string, string[]]> = [
    ['truncate', ['-s', String(IMAGE_BYTES), imageFile]],
    ['mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=1,lazy_journal_init=1', imageFile]],
    ['mount', ['-o', 'loop', imageFile, rootsDir]],
  ];
  for (const [command, args] of steps) {
    const run = spawnSync(command, args, { encoding: 'utf8' });
    if (run.status !== 0) {
      rmSync(imageFile, { force: true });
      const reason = (run.error?.message ?? run.stderr).trim().split('\n')[0];
      return onWorkDir(`${command} failed: ${reason}`);
    }
  }
  return {
    description: `a journaled ext4 on a loop device (a sparse ${IMAGE_BYTES / 2 ** 30} GiB image in the work directory), as a server's disk`,
    clear,
    release() {
      clear();
      unmountIfMounted(rootsDir);
      rmSync(imageFile, { force: true });
    },
  };
}

function unmountIfMounted(dir: string): void {
  // /proc/self/mounts writes a space in a path as \040 (octal escapes).
  const unescape = (field = '') => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => unescape(line.split(' ')[1]));
  if (mounts.includes(path.resolve(dir))) spawnSync('umount', [dir]);
}
