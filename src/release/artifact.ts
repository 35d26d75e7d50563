import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { sh } from '../remote/quote';
import { readArtifactManifest, type ArtifactManifest } from './artifact-tree';
import { releaseIdOf, type ServerRun, type Step } from './context';
import { artifactOf } from './package';
import { chooseReleaseId } from './release';
import { tarOf, tarSize, type TarFile } from '../remote/tar';

/** A tar sent in one exec holds at most this much; a bigger file goes alone, streamed over SFTP. */
const BATCH_BYTES = 16 * 1024 * 1024;

/**
 * The artifact strategy's release: the tree built by the package step put into releases/<id>.
 * Every file whose bytes (and mode) the live release already has becomes a hard link to that copy,
 * all in one script; the others are sent as tar streams into `tar -x` (one exec per 16 MB). Last
 * comes the release's listing, which the next deploy links from. Replaces clone and composer.
 */
export const artifact: Step = {
  name: 'artifact',
  description: 'artifact strategy: put the built tree into releases/<id>: files the live release has are hard-linked, the rest sent',
  appliesTo: (server) => server.strategy === 'artifact',
  async once(deploy) {
    deploy.releaseId ??= await chooseReleaseId(deploy); // a custom series may leave the release step out
  },
  async run(run, deploy) {
    const { layout, target, server } = run;
    const local = artifactOf(deploy);
    const { manifest } = local;
    const id = releaseIdOf(deploy);
    const dir = layout.release(id);
    run.artifact = manifest.id;
    run.commit = manifest.commit;

    const liveId = run.liveBefore ? layout.releaseIdOf(run.liveBefore) : undefined;
    const previous = liveId ? await readArtifactManifest(target, layout.artifactManifest(liveId)) : undefined;
    const { linked, sent } = reuse(manifest, previous);
    const bytes = (paths: string[]) => paths.reduce((n, p) => n + manifest.files[p].size, 0);
    if (deploy.dryRun) {
      run.log.info(`[dry run] [${server.name}] would make ${dir} from artifact ${manifest.id}: ${linked.length} file(s) linked from release ${liveId ?? '-'}, ${sent.length} sent (${bytes(sent)} bytes)`);
      return;
    }

    await target.exec(sh`mkdir -p -- ${layout.releases} && mkdir -- ${dir}`, { step: 'artifact' });
    run.undo.push('release', `remove ${dir}`, () => target.exec(sh`rm -rf -- ${dir}`, { step: 'clean up' }).then(() => undefined));

    await target.exec('sh -e -s', { stdin: linkScript(run, dir, manifest, liveId, linked), step: 'artifact' });
    await send(run, dir, local.tree, manifest, sent, deploy.cancel.signal);
    await target.writeFile(layout.artifactManifest(id), Buffer.from(JSON.stringify(manifest)), 0o644);

    run.skipped.files += linked.length;
    run.skipped.bytes += bytes(linked.map((l) => l.path));
    run.uploaded.files += sent.length;
    run.uploaded.bytes += bytes(sent);
    run.log.info(`[${server.name}] artifact ${manifest.id}: ${linked.length} file(s) linked from the live release, ${sent.length} sent (${bytes(sent)} bytes)`);
  },
};

interface Link {
  path: string;
  /** The path in the live release with the same bytes and mode. */
  from: string;
}

/** Which files the live release has (same content hash and mode, at any path) and which must be sent. */
export function reuse(manifest: ArtifactManifest, previous: ArtifactManifest | undefined): { linked: Link[]; sent: string[] } {
  const byContent = new Map<string, string>();
  for (const [file, entry] of Object.entries(previous?.files ?? {})) byContent.set(`${entry.sha256}:${entry.size}:${entry.mode}`, file);
  const linked: Link[] = [];
  const sent: string[] = [];
  for (const [file, entry] of Object.entries(manifest.files)) {
    const from = byContent.get(`${entry.sha256}:${entry.size}:${entry.mode}`);
    if (from !== undefined) linked.push({ path: file, from });
    else sent.push(file);
  }
  return { linked, sent };
}

/**
 * One script: every directory, every hard link (one `ln` per directory for files of the same name
 * at the same path, which is nearly all of them), every symlink of the tree.
 */
function linkScript(run: ServerRun, dir: string, manifest: ArtifactManifest, liveId: string | undefined, linked: Link[]): string {
  const lines: string[] = [];
  const at = (p: string) => path.posix.join(dir, p);
  for (let i = 0; i < manifest.dirs.length; i += 200) lines.push(sh`mkdir -p -- ${manifest.dirs.slice(i, i + 200).map(at)}`);
  if (liveId) {
    const byDirectory = new Map<string, string[]>();
    for (const link of linked) {
      const source = run.layout.inRelease(liveId, link.from);
      if (path.posix.basename(link.from) !== path.posix.basename(link.path)) {
        lines.push(sh`ln -f -- ${source} ${at(link.path)}`);
        continue;
      }
      const target = path.posix.dirname(at(link.path));
      byDirectory.set(target, [...(byDirectory.get(target) ?? []), source]);
    }
    for (const [target, sources] of byDirectory) {
      for (let i = 0; i < sources.length; i += 500) lines.push(sh`ln -f -- ${sources.slice(i, i + 500)} ${target}`);
    }
  }
  for (const [link, to] of Object.entries(manifest.links)) lines.push(sh`ln -s -- ${to} ${at(link)}`);
  return lines.join('\n') + '\n';
}

/** Small files in tar batches (one exec each, stdin bounded by BATCH_BYTES); a bigger file streamed alone over SFTP. */
async function send(run: ServerRun, dir: string, tree: string, manifest: ArtifactManifest, files: string[], signal: AbortSignal): Promise<void> {
  const untar = sh`tar -x -p --no-same-owner -f - -C ${dir}`;
  const mtime = Date.now() / 1000;
  let batch: TarFile[] = [];
  let size = 0;
  const flush = async () => {
    if (!batch.length) return;
    const archive = tarOf(batch);
    batch = [];
    size = 0;
    if (signal.aborted) throw new Error('the deploy was stopped');
    await run.target.exec(untar, { stdin: archive, step: 'artifact' });
  };
  for (const file of files) {
    const entry = manifest.files[file];
    if (entry.size > BATCH_BYTES) {
      if (signal.aborted) throw new Error('the deploy was stopped');
      await run.target.writeFile(path.posix.join(dir, file), createReadStream(path.join(tree, file)), entry.mode);
      continue;
    }
    const entrySize = tarSize(file, entry.size);
    if (size + entrySize > BATCH_BYTES) await flush();
    batch.push({ name: file, mode: entry.mode, contents: await fs.readFile(path.join(tree, file)), mtime });
    size += entrySize;
  }
  await flush();
}
