import type { ServerConfig } from '../../config/types';
import { AttacheError } from '../../errors';
import { openTarget } from '../../open-target';
import { readSections } from '../../remote/command';
import { sh } from '../../remote/quote';
import { formatBytes } from '../../remote/transfer';
import { buildArtifact, loadArtifact, pruneArtifacts } from '../files/artifact-build';
import { treeBytes, type ArtifactManifest, type LocalArtifact } from '../files/artifact-tree';
import type { Deploy, ServerRun, Step } from '../lifecycle/context';
import { Layout } from '../model/layout';
import { minorMismatch, satisfies } from '../model/php-version';
import type { ReleaseMarker } from '../model/release-list';
import { phpCommand } from '../model/tools';

/** The artifact this deploy ships (chosen by the package step). */
export function artifactOf(deploy: Deploy): LocalArtifact {
  const artifact = deploy.localArtifact;
  if (!artifact) throw new Error('no artifact yet: the package step must run before the artifact step');
  return artifact;
}

/**
 * The artifact strategy's first step, before the lock: the tree built here (or taken from the
 * cache: --artifact=<id>, or --artifact=<server> for what that server runs), the server's PHP
 * checked against the one composer resolved for, and, when every live release already holds this
 * artifact, the end of the deploy with nothing changed (unless --force).
 */
export const packageStep: Step = {
  name: 'package',
  description: 'artifact strategy: build the release tree here (export, composer install, assets) or take --artifact=<id|server>',
  appliesTo: (server) => server.strategy === 'artifact',
  async once(deploy) {
    const servers = deploy.selected.filter((server) => server.strategy === 'artifact');
    warnIfBuildsDiffer(deploy, servers);
    const wanted = deploy.flags.artifact;
    const artifact = wanted ? await loadArtifact(deploy.cwd, await artifactIdOf(wanted, deploy)) : await buildArtifact(deploy, servers[0]);
    deploy.localArtifact = artifact;
    const { manifest } = artifact;
    deploy.log.info(
      `[local] artifact ${manifest.id}: commit ${manifest.commit.slice(0, 8)} (${manifest.branch}), ${Object.keys(manifest.files).length} files, ${formatBytes(treeBytes(manifest))}`,
    );
    await pruneArtifacts(deploy.cwd, manifest.id);
  },
  async run(run, deploy) {
    const { manifest } = artifactOf(deploy);
    run.artifact = manifest.id;
    run.commit = manifest.commit;
    const live = run.liveBefore ? run.layout.releaseIdOf(run.liveBefore) : undefined;
    // One round trip: the server's PHP, and the live release's marker and listing (the artifact step links from it).
    const [php, marker, listing] = await readSections(
      run.target,
      [
        sh`${phpCommand(run.server)} -r ${'echo PHP_VERSION;'} 2>&1; printf '\\n%s' "$?"`,
        ...(live ? [sh`cat -- ${run.layout.marker(live)} 2>/dev/null`, sh`cat -- ${run.layout.artifactManifest(live)} 2>/dev/null`] : []),
      ],
      { step: 'package', output: 'none' },
    );
    if (!live) run.liveArtifact = null;
    else if (listing !== undefined) run.liveArtifact = parsed<ArtifactManifest>(listing) ?? null;
    const held = parsed<ReleaseMarker>(marker);
    if (held?.artifact === manifest.id && held.status === 'ready' && live) run.liveHoldsArtifact = live;
    else checkPhp(run, artifactOf(deploy), php ?? ''); // where live holds it already, it runs on this PHP
  },
  async after(deploy) {
    const { manifest } = artifactOf(deploy);
    // A fleet with clone servers in it goes on: those have no artifact to compare.
    if (!deploy.servers.length || !deploy.servers.every((run) => run.liveHoldsArtifact !== undefined)) return;
    const where = deploy.servers.map((run) => `${run.server.name} (release ${run.liveHoldsArtifact})`).join(', ');
    if (deploy.flags.force) {
      deploy.log.info(
        `${where} already run${deploy.servers.length === 1 ? 's' : ''} artifact ${manifest.id}; deploying it again (--force)`,
      );
      return;
    }
    deploy.log.info(
      `${where} already run${deploy.servers.length === 1 ? 's' : ''} artifact ${manifest.id}: nothing to deploy, nothing changed (--force deploys it again)`,
    );
    await deploy.finish();
  },
};

/** `--artifact=<server>` is what that server's live release holds; anything else is an id in the cache. */
async function artifactIdOf(wanted: string, deploy: Deploy): Promise<string> {
  const server = deploy.config.servers[wanted];
  if (!server) return wanted;
  const target = await openTarget(
    { ...server.ssh, name: server.name, host: server.host, port: server.port, user: server.user },
    deploy.log,
  );
  try {
    const layout = new Layout(server);
    const live = await target.readlink(layout.live);
    const marker = live
      ? await target.readFile(layout.marker(layout.releaseIdOf(live))).then(
          (b) => JSON.parse(b.toString('utf8')) as ReleaseMarker,
          () => undefined,
        )
      : undefined;
    if (!marker?.artifact) {
      throw new AttacheError(`${wanted}'s live release ${live ? layout.releaseIdOf(live) : '(none)'} holds no artifact to promote`, {
        server: wanted,
        step: 'package',
        hint: `Deploy ${wanted} with "strategy": "artifact" first, or name an artifact id: --artifact=<id>.`,
      });
    }
    deploy.log.info(
      `[local] promoting artifact ${marker.artifact}: what ${wanted} runs (release ${marker.id}, commit ${marker.commit?.slice(0, 8) ?? '?'})`,
    );
    return marker.artifact;
  } finally {
    await target.close().catch(() => undefined);
  }
}

function parsed<T>(json: string | undefined): T | undefined {
  try {
    return json ? (JSON.parse(json) as T) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The server's PHP against the one vendor/ was resolved for (config.platform.php: the same minor
 * version; the lock's platform requirement: within it). php is needed on the server only for the
 * artisan steps: without them, a server without php is fine.
 */
function checkPhp(run: ServerRun, artifact: LocalArtifact, output: string): void {
  const { server } = run;
  const needed = !server.skip.includes('artisan') && (artifact.manifest.files.artisan !== undefined || server.migrate);
  // `php -r 'echo PHP_VERSION;' 2>&1`, then its exit status: what it printed last is the version.
  const lines = output.split('\n');
  const code = lines.pop();
  const version = (lines.pop() ?? '').trim();
  if (code !== '0' || !/^\d+\.\d+/.test(version)) {
    if (!needed) return run.log.debug(`[${server.name}] no php on the server; the release runs no artisan step`);
    const said = lines
      .concat(version)
      .map((line) => line.trim())
      .find(Boolean);
    throw new AttacheError(
      `php does not run on the server (${server.php.bin}: ${said || `exit code ${code}`}), and the artisan steps need it`,
      {
        server: server.name,
        step: 'package',
        hint: 'Install PHP there, set "php": { "bin": "/path/to/php" }, or add "artisan" to "skip".',
      },
    );
  }
  const wanted = artifact.manifest.php;
  if (!wanted) return;
  const problem =
    wanted.from === 'config.platform.php'
      ? minorMismatch(version, wanted.version)
      : satisfies(version, wanted.version) === false
        ? `${version} is not ${wanted.version}`
        : undefined;
  if (!problem) return;
  const source =
    wanted.from === 'config.platform.php'
      ? `config.platform.php in composer.json says ${wanted.version}`
      : `composer.lock's platform requirement is php ${wanted.version}`;
  throw new AttacheError(
    `PHP version mismatch: the server runs PHP ${version}, and vendor/ was installed for PHP ${wanted.version} (${source}; ${problem})`,
    {
      server: server.name,
      step: 'package',
      hint: "Set config.platform.php in composer.json to the servers' PHP version and run composer update --lock, or upgrade PHP on the server.",
    },
  );
}

/** The tree is built once, from the first artifact server's config: say so when others differ. */
function warnIfBuildsDiffer(deploy: Deploy, servers: ServerConfig[]): void {
  const build = (s: ServerConfig) =>
    JSON.stringify([s.repository, s.branch, s.composer.dev, s.assets, s.skip.includes('composer'), s.skip.includes('assets')]);
  const [first, ...others] = servers;
  const differing = others.filter((s) => build(s) !== build(first)).map((s) => s.name);
  if (differing.length)
    deploy.log.warn(
      `the artifact is built once, from server "${first.name}"'s repository, branch, composer and assets; ${differing.join(', ')} differ`,
    );
}
