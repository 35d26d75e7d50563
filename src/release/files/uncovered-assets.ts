import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AssetMapping } from '../../config/types';
import type { Logger } from '../../log';
import { LOCAL_ONLY } from './local-assets';

/**
 * Built output under public/ that no asset mapping covers would silently stay behind (the release
 * has only what git committed and what the mappings send), so say so. "Built" means not committed:
 * files git does not track (ignored or not). Without git, committed and built cannot be told apart,
 * so nothing is said.
 */
export async function warnUncoveredAssets(mappings: AssetMapping[], cwd: string, log: Logger): Promise<void> {
  const listed = await promisify(execFile)('git', ['ls-files', '-z', '--others', '--', 'public'], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
  }).catch(() => null);
  if (!listed) return;
  const covered = mappings.map((m) => path.relative(cwd, path.resolve(cwd, m.local)).split(path.sep).join('/'));
  const isCovered = (file: string) => covered.some((local) => file === local || file.startsWith(local + '/') || local === '');
  const left: string[] = [];
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    if (LOCAL_ONLY.has(file) || isCovered(file)) continue;
    const stat = await fs.lstat(path.join(cwd, file)).catch(() => null);
    if (stat?.isFile()) left.push(file); // a symlink is not an asset here (the storage link, say)
  }
  if (left.length === 0) return;
  const groups = new Map<string, number>();
  for (const file of left) {
    const parts = file.split('/');
    const key = parts.length > 2 ? parts.slice(0, 2).join('/') : file;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  const names = [...groups].map(([name, count]) => (left.includes(name) ? name : `${name}/ (${count} file${count === 1 ? '' : 's'})`));
  log.warn(
    `assets: the build left ${left.length} file${left.length === 1 ? '' : 's'} under public/ that no "assets" mapping covers, so the release will not have ${left.length === 1 ? 'it' : 'them'}: ${names.join(', ')}. ` +
      `To deploy them, add them to "assets" in .attache.json, e.g. "assets": ${JSON.stringify([...covered, ...groups.keys()])}`,
  );
}
