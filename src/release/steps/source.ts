import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ServerConfig } from '../../config/types';
import { AttacheError } from '../../errors';
import { lockCheckout } from '../files/checkout-lock';
import type { Step } from '../lifecycle/context';

/** A server whose release gets assets built here (the clone's upload, or the artifact's tree). */
export function shipsLocalAssets(server: ServerConfig): boolean {
  return server.assets.length > 0 && !server.skip.includes('assets');
}

/**
 * The assets are built from the project directory, the release's code comes from the repository:
 * they must be one commit. Before the build, a checkout with uncommitted changes to tracked files
 * is refused (the config file aside), and its HEAD is recorded; the match step then compares it with
 * the commit each server checked out. Only a checkout of the deployed repository (one of its remotes
 * is `repository`) is checked: another one (none, or a repository around the project) says nothing
 * about which commit the server deploys.
 */
export const source: Step = {
  name: 'source',
  description: 'the local checkout the assets are built from: no uncommitted change, its commit recorded',
  appliesTo: shipsLocalAssets,
  async once(deploy) {
    if (deploy.flags.artifact) return; // a built artifact carries its own assets and commit
    if (!deploy.dryRun) deploy.whenDone(lockCheckout(deploy.cwd, deploy.log));
    const git = (...args: string[]) => promisify(execFile)('git', args, { cwd: deploy.cwd, maxBuffer: 16 * 1024 * 1024 });
    const head = await git('rev-parse', '--show-toplevel', 'HEAD').catch(() => undefined);
    if (!head) {
      deploy.log.debug(`[local] ${deploy.cwd} is not a git checkout: the assets' commit is not checked`);
      return;
    }
    const [top, commit] = head.stdout.trim().split('\n');
    const urls = new Set((await checkoutRemotes(deploy.cwd)).map((remote) => sameRepository(remote.url)));
    const repositories = deploy.selected.filter(shipsLocalAssets).map((server) => server.repository);
    if (!repositories.some((repository) => urls.has(sameRepository(repository)))) {
      deploy.log.info(`[local] the assets' commit is not checked: ${top} has no remote ${repositories[0]}`);
      return;
    }
    const config = path.relative(top, deploy.config.file).split(path.sep).join('/');
    const { stdout } = await git('status', '--porcelain=v1', '-z', '--untracked-files=no');
    const changed = stdout
      .split('\0')
      .filter(Boolean)
      .map((entry) => entry.slice(3))
      .filter((file) => file !== config);
    deploy.sourceCommit = commit;
    if (!changed.length) return;
    const files = `${changed.slice(0, 5).join(', ')}${changed.length > 5 ? `, and ${changed.length - 5} more` : ''}`;
    if (deploy.flags.anyCommit) {
      deploy.log.warn(`[local] uncommitted changes (${files}): the assets are built from them (--any-commit)`);
      return;
    }
    throw new AttacheError(
      `the project has uncommitted changes to tracked files (${files}): the assets would be built from them, while the server deploys ${commit.slice(0, 10)}`,
      {
        step: 'source',
        hint: 'Commit and push them (or stash them) and deploy again; --any-commit deploys anyway.',
      },
    );
  },
};

/** A repository URL in one form for all the ways to write it: scp-like, ssh://, https://, file://, a path, with or without .git. */
/** The checkout's remotes (`git config remote.<name>.url`); none when it is not a git checkout. */
export async function checkoutRemotes(cwd: string): Promise<Array<{ name: string; url: string }>> {
  const { stdout } = await promisify(execFile)('git', ['config', '--get-regexp', '^remote\\..*\\.url$'], { cwd }).catch(() => ({
    stdout: '',
  }));
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => ({ name: line.slice('remote.'.length, line.indexOf('.url ')), url: line.slice(line.indexOf(' ') + 1) }));
}

export function sameRepository(url: string): string {
  const text = url.trim();
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/\/)(.*)$/.exec(text);
  const parsed = scp ? { host: scp[1], path: scp[2] } : /^[a-z+]+:\/\//i.test(text) ? urlParts(text) : { host: '', path: text };
  const file = parsed.path
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .replace(/^\/+/, '');
  return `${parsed.host.toLowerCase()}/${file}`;
}

function urlParts(text: string): { host: string; path: string } {
  try {
    const url = new URL(text);
    return { host: url.protocol === 'file:' ? '' : url.hostname, path: decodeURIComponent(url.pathname) };
  } catch {
    return { host: '', path: text };
  }
}
