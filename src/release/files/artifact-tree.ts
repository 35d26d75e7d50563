import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Target } from '../../remote/target';

/**
 * A release tree as a value: every file with its content hash, size and mode, every symlink and
 * directory. The artifact's id is the hash of this listing, so two trees with the same id hold the
 * same bytes at the same paths, whatever commit or machine they were built from.
 */
export interface TreeManifest {
  files: Record<string, { sha256: string; size: number; mode: number }>;
  links: Record<string, string>;
  dirs: string[];
}

/** What is kept beside a built tree, locally and in each release on the server. */
export interface ArtifactManifest extends TreeManifest {
  id: string;
  commit: string;
  branch: string;
  builtAt: string;
  /** The PHP the vendor directory was resolved for, and where that came from (checked against the server's). */
  php?: { version: string; from: 'config.platform.php' | 'composer.lock' };
}

/**
 * Files are 0644, or 0755 when executable, as git itself records them: the same tree has the same
 * id whatever the building machine's umask (git archive's own is 0002), and nothing in a release is
 * writable by the group.
 */
function normalMode(mode: number): number {
  return mode & 0o111 ? 0o755 : 0o644;
}

/** Walks a local tree (relative POSIX paths, sorted), gives every file its normal mode, and hashes it. */
export async function manifestOf(root: string): Promise<TreeManifest> {
  const manifest: TreeManifest = { files: {}, links: {}, dirs: [] };
  async function walk(dir: string, relative: string): Promise<void> {
    const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const rel = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isSymbolicLink()) manifest.links[rel] = await fs.readlink(full);
      else if (entry.isDirectory()) {
        manifest.dirs.push(rel);
        await walk(full, rel);
      } else if (entry.isFile()) {
        const stat = await fs.stat(full);
        const mode = normalMode(stat.mode);
        if ((stat.mode & 0o7777) !== mode) await fs.chmod(full, mode);
        manifest.files[rel] = { sha256: await hashFile(full), size: stat.size, mode };
      }
    }
  }
  await walk(root, '');
  return manifest;
}

/** The artifact id: the first 20 hex digits of the sha256 of the tree's listing. */
export function treeId(tree: TreeManifest): string {
  const canonical = JSON.stringify({
    files: Object.entries(tree.files).sort(),
    links: Object.entries(tree.links).sort(),
    dirs: [...tree.dirs].sort(),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 20);
}

export function treeBytes(tree: TreeManifest): number {
  return Object.values(tree.files).reduce((n, f) => n + f.size, 0);
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A release's artifact manifest on the server, or undefined (a clone release, or none). */
export async function readArtifactManifest(target: Target, file: string): Promise<ArtifactManifest | undefined> {
  try {
    return JSON.parse((await target.readFile(file)).toString('utf8')) as ArtifactManifest;
  } catch {
    return undefined;
  }
}

/** A built artifact in the local cache: its listing and the directory of its tree. */
export interface LocalArtifact {
  manifest: ArtifactManifest;
  /** The tree's directory in the cache. */
  tree: string;
}
