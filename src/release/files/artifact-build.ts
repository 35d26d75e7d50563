import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { platformPhp } from '../../config/project';
import type { ServerConfig } from '../../config/types';
import { AttacheError } from '../../errors';
import { quote } from '../../remote/quote';
import type { Deploy } from '../lifecycle/context';
import { composerInstallArgs } from '../model/tools';
import { cacheDir } from './local-cache';
import { isLocalOnly } from './local-assets';
import { manifestOf, treeId, type ArtifactManifest, type LocalArtifact } from './artifact-tree';
import { HashCache } from './hash-cache';

/**
 * The artifact strategy's local half: the release tree built on this machine, once per commit and
 * config, kept in a bounded cache so that staging and production get the very same tree.
 *
 *   node_modules/.cache/gulp-attache/artifacts/<id>/{artifact.json, tree/}
 */

/** Artifacts kept in the local cache (the newest used; the one being deployed is never removed). */
export const ARTIFACTS_KEPT = 3;

/**
 * The branch's commit exported (from the local repository when it has it, otherwise from a
 * fetch of `repository` into the cache), composer install run in it, the assets copied in, the
 * shared paths taken out; then hashed and kept under its id.
 */
export async function buildArtifact(deploy: Deploy, server: ServerConfig): Promise<LocalArtifact> {
  const branch = deploy.branch ?? server.branch;
  const cache = cacheDir(deploy.cwd);
  const artifacts = path.join(cache, 'artifacts');
  await fs.mkdir(artifacts, { recursive: true });
  const { commit, gitDir } = await exportSource(deploy, server, branch, cache);
  const key = await buildKey(deploy, server, commit);
  const known = readJson(path.join(artifacts, BUILDS)) as Record<string, string> | undefined;
  if (known?.[key]) {
    const built = await loadArtifact(deploy.cwd, known[key]).catch(() => undefined);
    if (built) {
      deploy.log.info(`[local] artifact ${built.manifest.id}: already built from commit ${commit.slice(0, 8)} and these assets (cache)`);
      return built;
    }
  }
  const work = await fs.mkdtemp(path.join(artifacts, '.build-'));
  try {
    const tree = path.join(work, 'tree');
    await fs.mkdir(tree);
    await local('/bin/sh', ['-c', `git --git-dir=${quote(gitDir)} archive --format=tar ${quote(commit)} | tar -x -f - -C ${quote(tree)}`], {
      step: 'artifact',
    });
    const php = await composerInstall(tree, server, deploy);
    copyAssets(tree, server, deploy);
    await removeShared(tree);
    const listing = await manifestOf(tree);
    const id = treeId(listing);
    const manifest: ArtifactManifest = { id, commit, branch, builtAt: new Date().toISOString(), ...(php && { php }), ...listing };
    const home = path.join(artifacts, id);
    if (!existsSync(path.join(home, 'artifact.json'))) {
      await fs.rm(home, { recursive: true, force: true });
      await fs.writeFile(path.join(work, 'artifact.json'), JSON.stringify(manifest));
      await fs.rename(work, home);
    } else {
      deploy.log.info(`[local] artifact ${id}: the same tree is already built (commit ${commit.slice(0, 8)})`);
    }
    await fs.writeFile(path.join(artifacts, BUILDS), JSON.stringify({ ...known, [key]: id }));
    return await loadArtifact(deploy.cwd, id);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** An artifact from the cache by id (or a unique prefix of one), marked as just used. */
export async function loadArtifact(cwd: string, id: string): Promise<LocalArtifact> {
  const artifacts = path.join(cacheDir(cwd), 'artifacts');
  const names = await fs.readdir(artifacts).catch(() => [] as string[]);
  const matches = names.filter((name) => !name.startsWith('.') && name.startsWith(id));
  if (matches.length !== 1) {
    throw new AttacheError(
      matches.length ? `artifact id ${id} is ambiguous (${matches.join(', ')})` : `artifact ${id} is not in the local cache (${artifacts})`,
      {
        step: 'package',
        hint: `Artifacts here: ${names.filter((n) => !n.startsWith('.')).join(', ') || 'none'}. Deploy its commit with "strategy": "artifact" to build it again.`,
      },
    );
  }
  const home = path.join(artifacts, matches[0]);
  const file = path.join(home, 'artifact.json');
  const now = new Date();
  await fs.utimes(file, now, now); // the cache keeps the newest used
  return { manifest: JSON.parse(readFileSync(file, 'utf8')) as ArtifactManifest, tree: path.join(home, 'tree') };
}

/** Keeps the `keep` artifacts used last, and always `inUse`. */
export async function pruneArtifacts(cwd: string, inUse: string, keep = ARTIFACTS_KEPT): Promise<string[]> {
  const artifacts = path.join(cacheDir(cwd), 'artifacts');
  const names = (await fs.readdir(artifacts).catch(() => [] as string[])).filter((name) => !name.startsWith('.'));
  const used = await Promise.all(
    names.map(async (name) => ({ name, at: (await fs.stat(path.join(artifacts, name, 'artifact.json')).catch(() => null))?.mtimeMs ?? 0 })),
  );
  const doomed = used
    .sort((a, b) => b.at - a.at)
    .slice(keep)
    .map((u) => u.name)
    .filter((name) => name !== inUse);
  await Promise.all(doomed.map((name) => fs.rm(path.join(artifacts, name), { recursive: true, force: true })));
  return doomed;
}

/** What a build is made from → the artifact it made, so the same inputs are not built twice. */
const BUILDS = '.builds.json';

/**
 * What the tree depends on besides the tools: the commit, the composer and asset settings, and
 * every asset file's path, mode and content (hashes remembered by size and mtime, as for uploads).
 */
async function buildKey(deploy: Deploy, server: ServerConfig, commit: string): Promise<string> {
  const hash = createHash('sha256').update(
    JSON.stringify({ commit, dev: server.composer.dev, skip: server.skip.filter((s) => s === 'composer' || s === 'assets') }),
  );
  if (server.skip.includes('assets')) return hash.digest('hex');
  const hashes = await HashCache.open(deploy.cwd);
  async function add(local: string, remote: string): Promise<void> {
    if (isLocalOnly(deploy.cwd, local)) return;
    const stat = await fs.stat(local).catch(() => null);
    if (!stat) return void hash.update(`missing ${remote}\n`);
    if (stat.isFile()) return void hash.update(`${remote} ${stat.mode & 0o7777} ${await hashes.hash(local, stat)}\n`);
    if (!stat.isDirectory()) return;
    for (const name of (await fs.readdir(local)).sort()) await add(path.join(local, name), `${remote}/${name}`);
  }
  for (const mapping of server.assets) await add(path.resolve(deploy.cwd, mapping.local), mapping.remote);
  await hashes.save();
  return hash.digest('hex');
}

/**
 * The branch's commit as the server's clone would see it (`git ls-remote` of `repository`), and a
 * git directory that has it: the project's own when it does, else a bare cache fetched from `repository`.
 */
async function exportSource(
  deploy: Deploy,
  server: ServerConfig,
  branch: string,
  cache: string,
): Promise<{ commit: string; gitDir: string }> {
  const ref = `refs/heads/${branch}`;
  const listed = await local('git', ['ls-remote', '--', server.repository, ref], { step: 'artifact' });
  const commit = listed
    .split('\n')
    .find((line) => line.endsWith(`\t${ref}`))
    ?.split('\t')[0];
  if (!commit) {
    throw new AttacheError(`branch ${branch} is not in the repository ${server.repository}`, {
      step: 'artifact',
      server: server.name,
      hint: `Push it first (git push origin ${branch}), or deploy another branch with --branch=<name>.`,
    });
  }
  const own = await local('git', ['rev-parse', '--absolute-git-dir'], { cwd: deploy.cwd, step: 'artifact' }).catch(() => undefined);
  if (
    own &&
    (await local('git', ['--git-dir', own.trim(), 'cat-file', '-e', `${commit}^{commit}`], { step: 'artifact' }).then(
      () => true,
      () => false,
    ))
  ) {
    return { commit, gitDir: own.trim() };
  }
  const mirror = path.join(cache, 'repository.git');
  if (!existsSync(path.join(mirror, 'HEAD'))) await local('git', ['init', '--quiet', '--bare', mirror], { step: 'artifact' });
  deploy.log.info(`[local] artifact: fetching ${branch} from ${server.repository} (this checkout does not have ${commit.slice(0, 8)})`);
  await local('git', ['--git-dir', mirror, 'fetch', '--quiet', '--depth', '1', '--force', '--', server.repository, `+${ref}:${ref}`], {
    step: 'artifact',
  });
  const has = await local('git', ['--git-dir', mirror, 'cat-file', '-e', `${commit}^{commit}`], { step: 'artifact' }).then(
    () => true,
    () => false,
  );
  if (!has) {
    throw new AttacheError(`commit ${commit} (${branch}) is missing from the repository ${server.repository}`, {
      step: 'artifact',
      server: server.name,
      hint: 'The branch moved while fetching, or the repository is incomplete: run the deploy again.',
    });
  }
  return { commit, gitDir: mirror };
}

/**
 * composer install --no-dev (composer.dev keeps dev packages) in the tree, with the same options as
 * the clone strategy's step on the server, after checking that composer exists and the lock matches
 * composer.json. Returns the PHP the lock was resolved for, when composer.json or the lock says.
 */
async function composerInstall(tree: string, server: ServerConfig, deploy: Deploy): Promise<ArtifactManifest['php']> {
  if (!existsSync(path.join(tree, 'composer.json'))) return undefined;
  if (server.skip.includes('composer')) {
    deploy.log.info('[local] composer: skipped ("skip" in the config)');
    return undefined;
  }
  const env = { ...process.env, COMPOSER_NO_INTERACTION: '1' };
  await local('composer', ['--version'], { cwd: tree, env, step: 'artifact' }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AttacheError('composer is not installed on this machine, and the "artifact" strategy runs composer install here', {
        step: 'artifact',
        hint: 'Install Composer locally (https://getcomposer.org/download/), or use "strategy": "clone" to run it on the server.',
      });
    }
    throw error;
  });
  if (existsSync(path.join(tree, 'composer.lock'))) {
    const validated = await local('composer', ['validate', '--no-check-all', '--no-check-publish', '--no-ansi'], {
      cwd: tree,
      env,
      step: 'artifact',
      both: true,
    }).catch((error: unknown) => `${(error as Error).message}\n${(error as AttacheError).context?.output ?? ''}`);
    if (/lock file is not up to date/i.test(validated)) {
      throw new AttacheError('composer.lock does not match composer.json in the commit being deployed', {
        step: 'artifact',
        file: 'composer.lock',
        hint: 'Run `composer update --lock` (or `composer update`), commit composer.lock, push, and deploy again.',
      });
    }
  }
  const flags = composerInstallArgs(server);
  deploy.log.info(`[local] artifact: composer ${flags.join(' ')}`);
  // The same tree for the same dependencies: composer's autoloader class suffix is random unless
  // configured, so it is set (to the lock's hash) for the install and composer.json put back as
  // committed; and git must not find the project around the cache, or composer would record its HEAD.
  const file = path.join(tree, 'composer.json');
  const committed = readFileSync(file);
  const json = JSON.parse(committed.toString('utf8')) as { config?: Record<string, unknown> };
  const lock = readJson(path.join(tree, 'composer.lock')) as { 'content-hash'?: string } | undefined;
  json.config = { 'autoloader-suffix': lock?.['content-hash'] ?? createHash('md5').update(committed).digest('hex'), ...json.config };
  await fs.writeFile(file, JSON.stringify(json, null, 4));
  try {
    await local('composer', flags, { cwd: tree, env: { ...env, GIT_CEILING_DIRECTORIES: path.dirname(tree) }, step: 'artifact' });
  } finally {
    await fs.writeFile(file, committed);
  }
  return platformPhp(tree);
}

/** The assets mappings, applied as the assets step would upload them: local path → path in the release. */
function copyAssets(tree: string, server: ServerConfig, deploy: Deploy): void {
  if (server.skip.includes('assets')) return;
  for (const mapping of server.assets) {
    const from = path.resolve(deploy.cwd, mapping.local);
    if (!existsSync(from)) {
      deploy.log.warn(`assets: ${mapping.local} does not exist locally; skipped (did the build run?)`);
      continue;
    }
    const sent = (file: string) => !isLocalOnly(deploy.cwd, file);
    if (sent(from)) cpSync(from, path.join(tree, mapping.remote), { recursive: true, force: true, filter: sent });
  }
}

/**
 * The shared paths out of the tree: .env entirely, storage's files (its directories stay, so the
 * first deploy's shared storage gets the app's skeleton). The server links both in, as for a clone.
 */
async function removeShared(tree: string): Promise<void> {
  await fs.rm(path.join(tree, '.env'), { force: true, recursive: true });
  const storage = path.join(tree, 'storage');
  async function filesOut(dir: string): Promise<void> {
    for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await filesOut(full);
      else await fs.rm(full, { force: true });
    }
  }
  await filesOut(storage);
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** A local command; rejects with its own first error line. `both` resolves with stdout and stderr together. */
function local(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; step: string; both?: boolean },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: options.cwd, env: options.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(options.both ? `${stdout}\n${stderr}` : stdout);
      const code = (error as { code?: unknown }).code;
      if (code === 'ENOENT' || code === 127) return reject(Object.assign(new Error(`${command}: not found`), { code: 'ENOENT' }));
      const line = `${stderr}\n${stdout}`
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l && !/^(warning:|hint:)/i.test(l));
      reject(
        new AttacheError(`[local] ${command} ${args[0] ?? ''} failed${line ? `: ${line}` : ''}`, {
          step: options.step,
          output: `${stdout}\n${stderr}`.slice(-2000),
        }),
      );
    });
  });
}
