/**
 * Checks that a timed run did the whole job, so that a fast row can never be a broken deploy.
 * The server is this machine, so its files are checked with plain fs calls (untimed).
 */
import { existsSync, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BenchFixture } from './types';

function fail(message: string): never {
  throw new Error(`verify: ${message}`);
}

/** Files and bytes under `dir` (recursive, regular files only). */
export function treeSize(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const sub = treeSize(full);
      files += sub.files;
      bytes += sub.bytes;
    } else if (entry.isFile()) {
      files++;
      bytes += statSync(full).size;
    }
  }
  return { files, bytes };
}

/** `base` holds every asset path of the fixture with the same file count and bytes. */
export function verifyAssets(fixture: BenchFixture, base: string): void {
  let files = 0;
  let bytes = 0;
  for (const asset of fixture.assetPaths) {
    const dir = path.join(base, asset);
    if (!existsSync(dir)) fail(`${dir} is missing`);
    const size = treeSize(dir);
    files += size.files;
    bytes += size.bytes;
  }
  if (files !== fixture.assetFileCount || bytes !== fixture.assetBytes) {
    fail(`assets under ${base}: ${files} files / ${bytes} bytes, expected ${fixture.assetFileCount} / ${fixture.assetBytes}`);
  }
}

function isLinkTo(link: string, target: string): boolean {
  return existsSync(link) && lstatSync(link).isSymbolicLink() && realpathSync(link) === realpathSync(target);
}

/**
 * A complete release is live under `root`: `<root>/<liveLink>` is a symlink to a directory in
 * `<root>/releases/` that has the code, vendor/ from composer, the shared storage and .env links,
 * public/storage from `artisan storage:link`, and every asset. Returns the release directory.
 */
export function verifyDeploy(fixture: BenchFixture, root: string, liveLink = 'live'): string {
  const live = path.join(root, liveLink);
  if (!existsSync(live) || !lstatSync(live).isSymbolicLink()) fail(`${live} is not a symlink`);
  const release = realpathSync(live);
  if (path.dirname(release) !== realpathSync(path.join(root, 'releases'))) fail(`${live} points at ${release}, not into ${root}/releases`);
  for (const file of ['artisan', 'composer.json', 'composer.lock', 'public/index.php', 'vendor/autoload.php']) {
    if (!existsSync(path.join(release, file))) fail(`${release}/${file} is missing`);
  }
  if (!existsSync(path.join(root, 'storage', 'app', 'public'))) fail(`${root}/storage is not the app's storage`);
  if (!isLinkTo(path.join(release, 'storage'), path.join(root, 'storage'))) fail(`${release}/storage is not a link to ${root}/storage`);
  if (!isLinkTo(path.join(release, '.env'), path.join(root, '.env'))) fail(`${release}/.env is not a link to ${root}/.env`);
  if (!lstatSync(path.join(release, 'public', 'storage'), { throwIfNoEntry: false })?.isSymbolicLink())
    fail(`${release}/public/storage (artisan storage:link) is missing`);
  verifyAssets(fixture, release);
  return release;
}
