import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Vinyl from 'vinyl';
import type { AssetMapping } from '../config/types';
import { mapLimit } from '../limit';
import { upload } from '../plugins/upload';
import { Transfer } from '../remote/transfer';
import { hashFile, readManifest, unchanged, writeManifest, type AssetManifest } from './asset-manifest';
import { releaseIdOf, type Deploy, type ServerRun, type Step } from './context';
import { runLocalHook } from './hooks';

interface LocalAsset {
  source: string;
  /** Path inside the release. */
  remote: string;
  stat: Stats;
  sha256: string;
}

/**
 * 8. Upload the locally built assets into the release with the upload plugin. Files whose bytes the
 * live release already has are hard-linked from it instead (a content-hash manifest per release),
 * so a redeploy sends only what changed; a changed file is always written under a new name and
 * renamed, so an older release keeps its bytes. A directory's contents land in the target
 * directory itself, never one level deeper (Attaché's `scp -r` bug); a missing path is skipped
 * with a warning.
 */
export const assets: Step = {
  name: 'assets',
  description: 'upload the built assets into the release; unchanged files are reused from the live release',
  async once(deploy) {
    await runLocalHook('before-assets', deploy.selected[0], deploy);
  },
  async after(deploy) {
    await runLocalHook('after-assets', deploy.selected[0], deploy);
  },
  async run(run, deploy) {
    const files = await collectOnce(run.server.assets, deploy);
    const id = releaseIdOf(deploy);
    const previous = await previousManifest(run);
    const reuse = files.filter((f) => previous.dir && unchanged(previous.manifest, f.remote, entryOf(f)));
    const send = files.filter((f) => !reuse.includes(f));

    if (reuse.length) await linkFromPrevious(run, previous.dir as string, id, reuse, deploy.cancel.signal);
    if (send.length) await uploadFiles(run, id, send, deploy.cancel.signal);
    await writeManifest(run.target, run.layout.assetManifest(id), Object.fromEntries(files.map((f) => [f.remote, entryOf(f)])));

    run.skipped.files += reuse.length;
    run.skipped.bytes += sum(reuse);
    run.uploaded.files += send.length;
    run.uploaded.bytes += sum(send);
    if (reuse.length) run.log.info(`[${run.server.name}] assets: ${reuse.length} unchanged file(s) reused from the live release, ${send.length} sent`);
  },
};

async function previousManifest(run: ServerRun): Promise<{ dir?: string; manifest: AssetManifest }> {
  const live = await run.target.readlink(run.layout.live);
  if (!live) return { manifest: {} };
  const id = run.layout.releaseIdOf(live);
  return { dir: run.layout.release(id), manifest: await readManifest(run.target, run.layout.assetManifest(id)) };
}

async function linkFromPrevious(run: ServerRun, previousDir: string, id: string, files: LocalAsset[], signal: AbortSignal): Promise<void> {
  const release = new Transfer(run.target, run.layout.release(id), run.log, { step: 'assets', signal });
  await mapLimit(files, 32, async (file) => {
    const to = release.remotePath(file.remote);
    await release.ensureDirectory(path.posix.dirname(to));
    // The checkout may hold a committed copy at the same path (a committed mix-manifest.json, say):
    // link under a temporary name and rename over it, as uploads do.
    const temporary = path.posix.join(path.posix.dirname(to), `.${path.posix.basename(to)}.attache-${randomBytes(4).toString('hex')}`);
    await run.target.link(path.posix.join(previousDir, file.remote), temporary);
    await run.target.rename(temporary, to);
  });
}

async function uploadFiles(run: ServerRun, id: string, files: LocalAsset[], signal: AbortSignal): Promise<void> {
  // Files are opened only as the upload pulls them: memory and open files stay bounded for any size.
  const source = Readable.from(
    (function* () {
      for (const file of files) {
        yield new Vinyl({ base: '/', path: path.posix.join('/', file.remote), stat: file.stat, contents: createReadStream(file.source) });
      }
    })(),
  );
  const sink = upload({ session: run.target, dest: run.layout.release(id), logger: run.log, expected: { files: files.length, bytes: sum(files) }, signal });
  await pipeline(source, sink, drain());
}

const collected = new WeakMap<Deploy, Map<string, Promise<LocalAsset[]>>>();

/** A fleet's servers usually share their mappings: walk and hash the files once per deploy. */
function collectOnce(mappings: AssetMapping[], deploy: Deploy): Promise<LocalAsset[]> {
  const byMappings = collected.get(deploy) ?? new Map<string, Promise<LocalAsset[]>>();
  collected.set(deploy, byMappings);
  const key = JSON.stringify(mappings);
  if (!byMappings.has(key)) byMappings.set(key, collectAssets(mappings, deploy));
  return byMappings.get(key) as Promise<LocalAsset[]>;
}

/** Every local file the `assets` mappings name, with its path in the release and its hash. */
export async function collectAssets(mappings: AssetMapping[], deploy: Deploy): Promise<LocalAsset[]> {
  const found: Array<Omit<LocalAsset, 'sha256'>> = [];
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
  return mapLimit(found, 8, async (file) => ({ ...file, sha256: await hashFile(file.source) }));
}

async function* walk(dir: string): AsyncGenerator<{ path: string; stat: Stats }> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield { path: full, stat: await fs.stat(full) };
  }
}

function entryOf(file: LocalAsset): AssetManifest[string] {
  return { sha256: file.sha256, size: file.stat.size, mode: file.stat.mode & 0o7777 };
}

function sum(files: LocalAsset[]): number {
  return files.reduce((total, f) => total + f.stat.size, 0);
}

/** The upload passes files on; nobody reads them here, so let them flow (vinyl-fs's habit). */
function drain(): Writable {
  return new Writable({ objectMode: true, write: (_file, _encoding, done) => done() });
}
