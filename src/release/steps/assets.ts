import { createReadStream, readFile } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Vinyl from 'vinyl';
import type { AssetMapping } from '../../config/types';
import { mapLimit, settleAll } from '../../limit';
import { upload } from '../../plugins/upload';
import { raw, sh } from '../../remote/quote';
import { READ_WHOLE } from '../../remote/transfer';
import { oldAssetsToKeep, readManifest, unchanged, writeManifestCommand, type AssetManifest } from '../files/asset-manifest';
import { HashCache } from '../files/hash-cache';
import { collectAssets, type AssetListing, type LocalAsset } from '../files/local-assets';
import { closeNetwork, inFanOut, inNetwork, sendOnce } from '../files/fanout';
import { releaseIdOf, type Deploy, type ServerRun, type Step } from '../lifecycle/context';
import { Layout } from '../model/layout';
import { undoRelease } from './release';
import { applies } from '../lifecycle/runner';
import { warnUncoveredAssets } from '../files/uncovered-assets';

/** Marks a reused file's line in the links' script's output when the live release does not have it. */
const MISSING = 'attache:missing';

/** Bytes to send up to which every file is hashed before the upload starts (reading them twice costs little). */
const HASH_FIRST = 1024 * 1024;

/**
 * Upload the locally built assets into the release with the upload plugin. Files whose bytes the
 * live release already has are hard-linked from it instead (a content-hash manifest per release),
 * so a redeploy sends only what changed; a changed file is always written under a new name and
 * renamed, so an older release keeps its bytes. A directory's contents land in the target
 * directory itself, never one level deeper (Attaché's `scp -r` bug); a missing path is skipped
 * with a warning.
 *
 * The upload runs beside the clone: while the checkout is still being made it writes into a
 * staging directory beside the release (`releases/.<id>.assets`), merged into the release by one
 * `cp -l` (hard links, no bytes copied) once the checkout is done, so an asset still replaces a
 * file of the same path that the repository holds.
 */
export const assets: Step = {
  name: 'assets',
  description: 'upload the built assets into the release; unchanged files are reused from the live release',
  hooks: 'assets',
  appliesTo: (server) => server.strategy === 'clone', // the artifact strategy puts them in its tree
  prepare(deploy) {
    // The trees are walked while the connections open, unless a before-assets hook may still change them.
    const servers = deploy.selected.filter((server) => applies(assets, server));
    if (servers.some((server) => server.scripts['before-assets']?.length)) return;
    for (const server of servers) collectOnce(server.assets, deploy);
  },
  run: (run, deploy) => inFanOut(run, deploy, 'assets', runsOf(deploy), () => putAssets(run, deploy)),
  // Every server has its files: the fan-out's key lines, key pairs and tar go now.
  after: (deploy) => closeNetwork(deploy, 'assets'),
};

/** The servers this step runs on, in order: the fan-out's network is made of them. */
function runsOf(deploy: Deploy): ServerRun[] {
  return deploy.servers.filter((run) => applies(assets, run.server));
}

async function putAssets(run: ServerRun, deploy: Deploy): Promise<void> {
  const { files: listed, warned } = collectOnce(run.server.assets, deploy);
  const collected = await listed;
  const files = collected.filter((f) => f.symlink === undefined);
  const links = collected.filter((f) => f.symlink !== undefined);
  const cache = await (deploy.hashCache ??= HashCache.open(deploy.cwd));
  for (const f of files) f.sha256 ??= cache.get(f.source, f.stat); // known from an earlier run: no need to read it
  const id = releaseIdOf(deploy);
  const into = destinationFor(run, deploy, id);
  const previous = await previousManifest(run);

  // Only a file the live release has at the same path, size and mode can be reused: hash those.
  const candidates = files.filter((f) => {
    const before = previous.manifest[f.remote];
    return before !== undefined && before.size === f.stat.size && before.mode === (f.stat.mode & 0o7777);
  });
  await hashAll(candidates, cache);
  const reuse = previous.id ? candidates.filter((f) => unchanged(previous.manifest, f.remote, entryOf(f))) : [];
  const send = files.filter((f) => !reuse.includes(f));
  // Within a fleet of peers the files go from here to one server, and from it to the others (files/fanout.ts): hashed first.
  const runs = runsOf(deploy);
  const member = inNetwork(deploy, 'assets', runs, run);
  if (member) await hashAll(send, cache);
  let from = 'here';
  const transfer = async () => {
    from = await sendOnce(run, deploy, runs, {
      step: 'assets',
      dest: into.dir,
      // Outside a network large files are hashed as they are sent: their hashes are not known yet (nor needed).
      files: member ? send.map((f) => ({ relative: f.remote, ...entryOf(f) })) : [],
      links: Object.fromEntries(links.map((l) => [l.remote, l.symlink as string])),
      send: () => uploadFiles(run, into, send, links, cache, deploy.cancel.signal),
    });
  };

  // The live release's hashed build files that this build lacks stay, linked: pages already open still load them.
  const kept = previous.id ? oldAssetsToKeep(previous.manifest, new Set(files.map((f) => f.remote)), run.server.oldAssets) : {};
  const linkedPaths = () => [...reuse.map((f) => f.remote), ...Object.keys(kept)];
  const manifest = () =>
    writeManifestCommand(into.at(Layout.ASSET_MANIFEST), { ...kept, ...Object.fromEntries(files.map((f) => [f.remote, entryOf(f)])) });
  let linked: string;
  if (!send.length && !links.length) {
    linked = await into.finish(linkScript(run, previous.id, into, linkedPaths(), manifest()));
  } else if (sum(send) <= HASH_FIRST) {
    // A few changed files: hashed first, so that the links and the manifest go beside the upload (one round trip for both).
    await hashAll(send, cache);
    const linking = runScript(run, linkScript(run, previous.id, into, linkedPaths(), manifest()));
    await settleAll([transfer(), linking]);
    linked = await linking;
    await into.finish();
  } else {
    // Large files are hashed as they are sent: the manifest follows the upload, in the links' script.
    await transfer();
    linked = await into.finish(linkScript(run, previous.id, into, linkedPaths(), manifest()));
  }
  const missing = missingIn(linked, reuse, run.layout.inRelease.bind(run.layout, previous.id ?? ''));
  if (missing.length) {
    run.log.warn(
      `[${run.server.name}] assets: ${missing.length} file(s) the live release's manifest lists are not there (${missing[0].remote}${missing.length > 1 ? ', …' : ''}): sent instead`,
    );
    await uploadFiles(run, destinationFor(run, deploy, id), missing, [], cache, deploy.cancel.signal);
    for (const file of missing) reuse.splice(reuse.indexOf(file), 1);
    send.push(...missing);
  }
  await cache.save();
  await warned;

  run.skipped.files += reuse.length;
  run.skipped.bytes += sum(reuse);
  if (from === 'here') {
    run.uploaded.files += send.length;
    run.uploaded.bytes += sum(send);
  } else run.fetched = { files: send.length, bytes: sum(send), from };
  if (reuse.length)
    run.log.info(
      run.target.dryRun
        ? `[dry run] [${run.server.name}] assets: would reuse ${reuse.length} unchanged file(s) from the live release, would send ${send.length}`
        : `[${run.server.name}] assets: ${reuse.length} unchanged file(s) reused from the live release, ${send.length} sent`,
    );
}

/** The reused files the links' script found missing in the live release. */
function missingIn(output: string, reused: LocalAsset[], inPrevious: (remote: string) => string): LocalAsset[] {
  const named = new Set(output.split('\n').flatMap((line) => (line.startsWith(`${MISSING} `) ? [line.slice(MISSING.length + 1)] : [])));
  return named.size ? reused.filter((file) => named.has(inPrevious(file.remote))) : [];
}

/** Where the step writes: the release itself, or its staging directory while the checkout is being made. */
interface Destination {
  dir: string;
  /** `dir` is the staging directory, made by whichever command gets there first (the upload or the links' script). */
  staged: boolean;
  /** A path inside it, from a path inside the release. */
  at(relative: string): string;
  /**
   * Runs the step's last script, if any, and puts what was written into the release once the
   * checkout is there: when it already is, the merge ends that same script (one round trip for both).
   * Resolves with the script's output.
   */
  finish(script?: string): Promise<string>;
}

function destinationFor(run: ServerRun, deploy: Deploy, id: string): Destination {
  const { layout } = run;
  const tree = deploy.releaseTree;
  if (!tree || tree.done) {
    return {
      dir: layout.release(id),
      staged: false,
      at: (relative) => layout.inRelease(id, relative),
      finish: (script) => runScript(run, script),
    };
  }
  const staged = layout.stagedAssets(id);
  const undo = undoRelease(run, staged);
  // -P keeps a link a link (cp -l would otherwise link its target); an asset replaces the checkout's file.
  const merge = sh`cp -R -P -l --remove-destination -- ${`${staged}/.`} ${`${layout.release(id)}/`} && rm -rf -- ${staged}`;
  return {
    dir: staged,
    staged: true,
    at: (relative) => layout.inStagedAssets(id, relative),
    async finish(script) {
      let out: string;
      if (tree.done && script) out = await runScript(run, `${script}\n${merge}`);
      else {
        out = await runScript(run, script);
        await tree.ready;
        await run.target.exec(merge, { step: 'assets' });
      }
      run.undo.remove(undo); // gone: its files are the release's now, which the clone's undo removes
      return out;
    },
  };
}

/** A script of the step's, as one command (`sh -e -s`: a line that fails stops it); nothing to do without one. Its output. */
async function runScript(run: ServerRun, script: string | undefined): Promise<string> {
  return script ? (await run.target.exec('sh -e -s', { stdin: script + '\n', step: 'assets' })).stdout : '';
}

/** Hashes the files whose hash is not known yet, eight at a time. */
async function hashAll(files: LocalAsset[], cache: HashCache): Promise<void> {
  await mapLimit(
    files.filter((f) => f.sha256 === undefined),
    8,
    async (f) => void (f.sha256 = await cache.hash(f.source, f.stat)),
  );
}

/** The live release (the one unchanged files are reused from: where live pointed when the deploy connected) and its manifest. */
async function previousManifest(run: ServerRun): Promise<{ id?: string; manifest: AssetManifest }> {
  const live = run.liveBefore;
  if (!live) return { manifest: {} };
  const id = run.layout.releaseIdOf(live);
  return { id, manifest: await readManifest(run.target, run.layout.assetManifest(id)) };
}

/**
 * One shell script for all reused files (one round trip, however many files): one `mkdir -p` for
 * every directory, then one `ln` per directory (`ln -f -- a b c dir`, which GNU and BSD ln both
 * take): each file becomes a hard link to the live release's copy. Few processes, as a process
 * start costs milliseconds on a small server. `-f` replaces a copy the checkout may hold at the
 * same path (a committed mix-manifest.json); the release is not live yet, so nobody reads it
 * meanwhile. The script ends with `last` (the manifest's write).
 */
function linkScript(run: ServerRun, previousId: string | undefined, into: Destination, remotes: string[], last: string): string {
  const byDirectory = new Map<string, string[]>();
  for (const remote of previousId ? remotes : []) {
    const dir = path.posix.dirname(into.at(remote));
    byDirectory.set(dir, [...(byDirectory.get(dir) ?? []), run.layout.inRelease(previousId as string, remote)]);
  }
  const directories = [...(into.staged ? [into.dir] : []), ...byDirectory.keys()];
  const lines: string[] = [];
  // At most 500 names per command: thousands of files or directories stay well under the argument-length limit.
  for (let i = 0; i < directories.length; i += 500) lines.push(sh`mkdir -p -- ${directories.slice(i, i + 500)}`);
  for (const [dir, sources] of byDirectory) {
    for (let i = 0; i < sources.length; i += 500) {
      const some = sources.slice(i, i + 500);
      // A file the live release's manifest lists but that is not there (removed by hand, a shared path
      // that was once mapped) is named, and sent instead; only then are the files linked one by one.
      lines.push(
        sh`ln -f -- ${some} ${dir} 2>/dev/null || for f in ${some}; do ` +
          sh`if [ -f "$f" ]; then ln -f -- "$f" ${dir}; else printf '${raw(MISSING)} %s\\n' "$f"; fi; done`,
      );
    }
  }
  lines.push(last);
  return lines.join('\n');
}

/**
 * The release is not live yet, so its files go as one checked tar stream (the upload plugin's
 * stream mode): no round trip per file, free space checked first.
 */
async function uploadFiles(
  run: ServerRun,
  into: Destination,
  files: LocalAsset[],
  links: LocalAsset[],
  cache: HashCache,
  signal: AbortSignal,
): Promise<void> {
  // The upload passes on the very vinyl it was given: that is how its hash finds the file.
  const assetOf = new WeakMap<object, LocalAsset>();
  // Files are opened only as the upload pulls them: memory and open files stay bounded for any size.
  const source = Readable.from(
    (async function* () {
      for (const file of files) {
        // A hash known ahead (the cache's) goes along: the upload refuses bytes that have another.
        const contents = file.stat.size < READ_WHOLE ? await readWhole(file.source) : createReadStream(file.source);
        const vinyl = new Vinyl({ base: '/', path: path.posix.join('/', file.remote), stat: file.stat, contents, sha256: file.sha256 });
        assetOf.set(vinyl, file);
        yield vinyl;
      }
      for (const link of links) {
        const vinyl = new Vinyl({ base: '/', path: path.posix.join('/', link.remote), stat: link.stat });
        vinyl.symlink = link.symlink as string;
        yield vinyl;
      }
    })(),
  );
  const sink = upload({
    session: run.target,
    dest: into.dir,
    logger: run.log,
    expected: { files: files.length, bytes: sum(files) },
    signal,
    mode: 'stream',
    step: 'assets',
  });
  // The upload hashes what it sends (the server checks those hashes): they go into the manifest.
  const hashed = new Writable({
    objectMode: true,
    write(sent: { sha256?: string }, _encoding, done) {
      const file = assetOf.get(sent);
      if (file && sent.sha256) file.sha256 = sent.sha256;
      done();
    },
  });
  await pipeline(source, sink, hashed);
  for (const file of files) if (file.sha256) cache.set(file.source, file.stat, file.sha256);
}

/**
 * A small file, read whole by fs.readFile's callback form: one promise, where fs.promises.readFile
 * makes one per open, stat, read and close, each seen by gulp's domain hooks (~0.1 s of CPU in a
 * deploy of 400 files, 33 MB). A synchronous read saved a little more on one server, but would put
 * every server's reads of a fleet on the main thread, which already encrypts for all of them.
 */
const readWhole = promisify(readFile);

/** A fleet's servers usually share their mappings: walked and hashed once per deploy. */
function collectOnce(mappings: AssetMapping[], deploy: Deploy): AssetListing {
  deploy.assetListings ??= new Map();
  const key = JSON.stringify(mappings);
  let listing = deploy.assetListings.get(key);
  if (!listing) {
    const files = collectAssets(mappings, deploy.cwd, deploy.log);
    files.catch(() => undefined); // walked early (prepare) for a step that may never run: its failure is the step's to report
    listing = { files, warned: warnUncoveredAssets(mappings, deploy.cwd, deploy.log).catch(() => undefined) };
    deploy.assetListings.set(key, listing);
  }
  return listing;
}

function entryOf(file: LocalAsset): AssetManifest[string] {
  if (!file.sha256) throw new Error(`no content hash for ${file.source}`); // every file is hashed before or while it is sent
  return { sha256: file.sha256, size: file.stat.size, mode: file.stat.mode & 0o7777 };
}

function sum(files: LocalAsset[]): number {
  return files.reduce((total, f) => total + f.stat.size, 0);
}
