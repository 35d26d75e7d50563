import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { ArchiveUpload } from '../../remote/archive';
import { sh } from '../../remote/quote';
import { READ_WHOLE } from '../../remote/transfer';
import { readArtifactManifest, type ArtifactManifest } from '../files/artifact-tree';
import { closeNetwork, inFanOut, sendOnce } from '../files/fanout';
import { releaseIdOf, type Deploy, type ServerRun, type Step } from '../lifecycle/context';
import { applies } from '../lifecycle/runner';
import { artifactOf } from './package';
import { chooseReleaseId, claimRelease, execClaiming } from './release';

/**
 * The artifact strategy's release: the tree built by the package step put into releases/<id>.
 * Every file whose bytes (and mode) the live release already has becomes a hard link to that copy,
 * all in one script; the others go as one checked tar stream. Beside them goes the release's
 * listing, which the next deploy links from. Replaces clone and composer.
 */
export const artifact: Step = {
  name: 'artifact',
  description: 'artifact strategy: put the built tree into releases/<id>: files the live release has are hard-linked, the rest sent',
  appliesTo: (server) => server.strategy === 'artifact',
  async once(deploy) {
    deploy.releaseId ??= await chooseReleaseId(deploy); // a custom series may leave the release step out
  },
  run: (run, deploy) => inFanOut(run, deploy, 'artifact', runsOf(deploy), () => makeRelease(run, deploy)),
  // Every server has its bytes: the fan-out's key lines, key pairs and tar go now.
  after: (deploy) => closeNetwork(deploy, 'artifact'),
};

/** The servers this step runs on, in order: the fan-out's network is made of them. */
function runsOf(deploy: Deploy): ServerRun[] {
  return deploy.servers.filter((run) => applies(artifact, run.server));
}

async function makeRelease(run: ServerRun, deploy: Deploy): Promise<void> {
  const { layout, target, server } = run;
  const local = artifactOf(deploy);
  const { manifest } = local;
  const id = releaseIdOf(deploy);
  const dir = layout.release(id);
  run.artifact = manifest.id;
  run.commit = manifest.commit;

  const liveId = run.liveBefore ? layout.releaseIdOf(run.liveBefore) : undefined;
  // Read with the marker by the package step; here only when it was too long to come back that way.
  const read = run.liveArtifact;
  const previous = !liveId || read === null ? undefined : (read ?? (await readArtifactManifest(target, layout.artifactManifest(liveId))));
  const { linked, sent } = reuse(manifest, previous);
  const bytes = (paths: string[]) => paths.reduce((n, p) => n + manifest.files[p].size, 0);
  if (deploy.dryRun) {
    run.log.info(
      `[dry run] [${server.name}] would make ${dir} from artifact ${manifest.id}: ${linked.length} file(s) linked from release ${liveId ?? '-'}, ${sent.length} sent (${bytes(sent)} bytes)`,
    );
    return;
  }

  // One script claims releases/<id> and makes its directories, links and symlinks (`sh -e` does not stop inside an && list: hence the exit).
  const script = `{ ${claimRelease(run, id)}; } || exit 1\n` + linkScript(run, dir, manifest, liveId, linked);
  await execClaiming(
    run,
    id,
    'sh -e -s',
    { stdin: script, step: 'artifact' },
    [],
    `sh -e -s (make ${dir}: its directories, ${linked.length} hard link(s) from release ${liveId ?? '-'}, its symlinks)`,
  );
  // The listing goes in the same stream as the files: a release that fails is removed, listing and all.
  const listing = { relative: path.posix.relative(dir, layout.artifactManifest(id)), contents: Buffer.from(JSON.stringify(manifest)) };
  // Within a fleet of peers the bytes go from here to one server, and from it to the others (files/fanout.ts).
  const files = [
    ...sent.map((file) => ({ relative: file, ...manifest.files[file] })),
    {
      relative: listing.relative,
      size: listing.contents.length,
      mode: 0o644,
      sha256: createHash('sha256').update(listing.contents).digest('hex'),
    },
  ];
  const from = await sendOnce(run, deploy, runsOf(deploy), {
    step: 'artifact',
    dest: dir,
    files,
    send: () => send(run, dir, local.tree, manifest, sent, listing, deploy.cancel.signal),
  });

  run.skipped.files += linked.length;
  run.skipped.bytes += bytes(linked.map((l) => l.path));
  if (from === 'here') {
    run.uploaded.files += sent.length;
    run.uploaded.bytes += bytes(sent);
  } else run.fetched = { files: sent.length, bytes: bytes(sent), from };
  run.log.info(
    `[${server.name}] artifact ${manifest.id}: ${linked.length} file(s) linked from the live release, ${sent.length} ${from === 'here' ? 'sent' : `taken from ${from}`} (${bytes(sent)} bytes)`,
  );
}

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

/**
 * The files the live release lacks and the release's listing, as one checked tar stream into the
 * fresh release (the assets' fast path: no round trip per file, free space checked first, each file
 * checked on the server against its hash). Files are read as the stream takes them: memory stays flat.
 */
async function send(
  run: ServerRun,
  dir: string,
  tree: string,
  manifest: ArtifactManifest,
  files: string[],
  listing: { relative: string; contents: Buffer },
  signal: AbortSignal,
): Promise<void> {
  const bytes = files.reduce((n, file) => n + manifest.files[file].size, listing.contents.length);
  const archive = new ArchiveUpload(run.target, dir, run.log, { expected: { files: files.length + 1, bytes }, step: 'artifact', signal });
  for (const file of files) {
    const { size, mode, sha256 } = manifest.files[file];
    const source = path.join(tree, file);
    const contents = size < READ_WHOLE ? await fs.readFile(source) : createReadStream(source);
    await archive.put({ relative: file, contents, size, mode, sha256, source });
  }
  await archive.put({ ...listing, size: listing.contents.length, mode: 0o644 });
  await archive.finish(); // the server has unpacked and checked every file
  archive.reportProgress(true);
}
