import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import type { AssetMapping } from '../../config/types';
import type { Logger } from '../../log';
import { checkSymlink } from '../../remote/transfer';

/** The asset files of one set of mappings, and the warning about built files they leave out (it only warns). */
export interface AssetListing {
  files: Promise<LocalAsset[]>;
  warned: Promise<void>;
}

/** A local file the asset mappings name, and where it goes in the release. */
export interface LocalAsset {
  source: string;
  /** Path inside the release. */
  remote: string;
  stat: Stats;
  /** Known once hashed (before reuse is decided) or sent (the upload hashes the bytes it sends). */
  sha256?: string;
  /** A symbolic link's target (relative, inside the tree): sent as a link, never hashed or reused. */
  symlink?: string;
}

interface WalkedFile {
  path: string;
  stat: Stats;
  symlink?: string;
}

/**
 * Files Laravel keeps in public/ for this machine alone, never sent whatever the mappings say: the
 * storage link (artisan makes the server's own) and the Vite (or Mix) dev server's marker, with which
 * production would load its scripts from a dev server on the developer's machine.
 */
export const LOCAL_ONLY: ReadonlySet<string> = new Set(['public/storage', 'public/hot']);

/** Whether a file of the project (an absolute path) is one of LOCAL_ONLY. */
export function isLocalOnly(cwd: string, file: string): boolean {
  return LOCAL_ONLY.has(path.relative(cwd, file).split(path.sep).join('/'));
}

/** Every local file the `assets` mappings name, with its path in the release (the local-only files left out). */
export async function collectAssets(mappings: AssetMapping[], cwd: string, log: Logger): Promise<LocalAsset[]> {
  const found: LocalAsset[] = [];
  const leftOut = new Set<string>();
  const localOnly = (file: string) => {
    if (!isLocalOnly(cwd, file)) return false;
    leftOut.add(path.relative(cwd, file).split(path.sep).join('/'));
    return true;
  };
  for (const mapping of mappings) {
    const local = path.resolve(cwd, mapping.local);
    if (localOnly(local)) continue;
    const stat = await fs.stat(local).catch(() => null);
    if (!stat) {
      log.warn(`assets: ${mapping.local} does not exist locally; skipped (did the build run?)`);
      continue;
    }
    if (stat.isFile()) {
      found.push({ source: local, remote: mapping.remote, stat });
      continue;
    }
    for (const file of await walk(local)) {
      if (localOnly(file.path)) continue;
      // The upload reads a backslash as a separator (Windows paths): the link script and the manifest must agree.
      const inTree = path.relative(local, file.path).split(path.sep).join('/').replace(/\\/g, '/');
      // A link is kept when it stays inside the tree, refused when it leads out; never dropped.
      if (file.symlink !== undefined) checkSymlink(inTree, file.symlink, { file: file.path, tree: mapping.local, step: 'assets' });
      found.push({ source: file.path, remote: path.posix.join(mapping.remote, inTree), stat: file.stat, symlink: file.symlink });
    }
  }
  for (const file of leftOut) log.info(`assets: ${file} left out (it belongs to this machine: ${LOCAL_REASON[file]})`);
  return found;
}

const LOCAL_REASON: Record<string, string> = {
  'public/hot': 'the dev server marker of `npm run dev`',
  'public/storage': 'the storage link, which artisan storage:link makes on the server',
};

/**
 * A tree's files, as one array: every directory is read at once and its entries looked at all at
 * once (hundreds of stats in parallel), without the promises per file per level of a recursive
 * async generator (each one more trip through gulp's domain hooks).
 */
async function walk(dir: string): Promise<WalkedFile[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const looked = await Promise.all(
    entries.map(async (entry): Promise<WalkedFile[]> => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return walk(full);
      if (entry.isFile()) return [{ path: full, stat: await fs.stat(full) }];
      if (entry.isSymbolicLink()) return [{ path: full, stat: await fs.lstat(full), symlink: await fs.readlink(full) }];
      return [];
    }),
  );
  return looked.flat();
}
