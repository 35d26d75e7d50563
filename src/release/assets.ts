import { createReadStream, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Vinyl from 'vinyl';
import type { AssetMapping } from '../config/types';
import { upload } from '../plugins/upload';
import { releaseIdOf, type Deploy, type Step } from './context';
import { runLocalHook } from './hooks';

interface LocalAsset {
  source: string;
  /** Path inside the release. */
  remote: string;
  stat: Stats;
}

/**
 * 8. Upload the locally built assets into the release with the upload plugin. A directory's
 * contents land in the target directory itself, never one level deeper (Attaché's `scp -r` bug);
 * a missing local path is skipped with a warning.
 */
export const assets: Step = {
  name: 'assets',
  description: 'upload the built assets into the release (upload plugin, parallel, atomic)',
  async once(deploy) {
    await runLocalHook('before-assets', deploy.selected[0], deploy);
  },
  async run(run, deploy) {
    const files = await collectAssets(run.server.assets, deploy);
    if (!files.length) return;
    const bytes = files.reduce((sum, f) => sum + f.stat.size, 0);
    const dest = run.layout.release(releaseIdOf(deploy));
    // Files are opened only as the upload pulls them: memory and open files stay bounded for any size.
    const source = Readable.from(
      (function* () {
        for (const file of files) {
          yield new Vinyl({ base: '/', path: path.posix.join('/', file.remote), stat: file.stat, contents: createReadStream(file.source) });
        }
      })(),
    );
    const sink = upload({ session: run.target, dest, logger: run.log, expected: { files: files.length, bytes }, signal: deploy.cancel.signal });
    await pipeline(source, sink, drain());
    run.uploaded.files += files.length;
    run.uploaded.bytes += bytes;
  },
};

/** Every local file the `assets` mappings name, with its path in the release. */
export async function collectAssets(mappings: AssetMapping[], deploy: Deploy): Promise<LocalAsset[]> {
  const found: LocalAsset[] = [];
  for (const mapping of mappings) {
    const local = path.resolve(deploy.cwd, mapping.local);
    const stat = await fs.stat(local).catch(() => null);
    if (!stat) {
      deploy.log.warn(`assets: ${mapping.local} does not exist locally; skipped (did the build run?)`);
      continue;
    }
    if (stat.isFile()) {
      found.push({ source: local, remote: mapping.remote, stat });
      continue;
    }
    for await (const file of walk(local)) {
      found.push({ source: file.path, remote: path.posix.join(mapping.remote, path.relative(local, file.path).split(path.sep).join('/')), stat: file.stat });
    }
  }
  return found;
}

async function* walk(dir: string): AsyncGenerator<{ path: string; stat: Stats }> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield { path: full, stat: await fs.stat(full) };
  }
}

/** The upload passes files on; nobody reads them here, so let them flow (vinyl-fs's habit). */
function drain(): Writable {
  return new Writable({ objectMode: true, write: (_file, _encoding, done) => done() });
}
