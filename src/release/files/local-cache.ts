import path from 'node:path';

/**
 * gulp-attache's own directory in the project (the usual place for tools' caches, which git and
 * the deploy ignore): the asset hashes, the built artifacts, the project directory's deploy lock.
 */
export function cacheDir(cwd: string): string {
  return path.join(cwd, 'node_modules', '.cache', 'gulp-attache');
}
