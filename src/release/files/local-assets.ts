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

/** Every local file the `assets` mappings name, with its path in the release. */
export async function collectAssets(mappings: AssetMapping[], cwd: string, log: Logger): Promise<LocalAsset[]> {
  const found: LocalAsset[] = [];
  for (const mapping of mappings) {
    const local = path.resolve(cwd, mapping.local);
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
      // The upload reads a backslash as a separator (Windows paths): the link script and the manifest must agree.
      const inTree = path.relative(local, file.path).split(path.sep).join('/').replace(/\\/g, '/');
      // A link is kept when it stays inside the tree, refused when it leads out; never dropped.
      if (file.symlink !== undefined) checkSymlink(inTree, file.symlink, { file: file.path, tree: mapping.local, step: 'assets' });
      found.push({ source: file.path, remote: path.posix.join(mapping.remote, inTree), stat: file.stat, symlink: file.symlink });
    }
  }
  return found;
}

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
