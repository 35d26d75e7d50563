import { cpSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { attache, type AttacheOptions, type AttacheTasks } from '../../src/preset';
import { buildAssets, createAppRepository, tempDir, type AppRepository } from './fixtures';
import { captureLogger } from './log';
import { createHome, startSshd, trust, type SshServer } from '../../support/sshd';
import { runTask } from './streams';

/**
 * A project and a server root for the deploy preset tests: the example app as a git repository
 * (its work clone is the project directory, with `.attache.json` and the built assets in it), and
 * an empty temp directory as the server's root. Tasks run through a fresh attache() each time, with
 * their log captured.
 */

export type TargetKind = 'sshd' | 'local';

/** How `.attache.json` reaches a server: the real sshd on loopback, or the local target. */
export type TargetSpec = { host: '127.0.0.1'; port: number; user: 'root' } | { host: 'local' };

export type TaskName = Exclude<keyof AttacheTasks, 'steps' | 'report'>;

export interface TaskResult {
  lines: string[];
}

export interface Site {
  repo: AppRepository;
  /** The project directory (the repo's work clone): .attache.json, built assets, --env files. */
  cwd: string;
  /** The server's root directory. */
  root: string;
  configFile: string;
  /** The server's entry as written to .attache.json (without repository). */
  server: Record<string, unknown>;
  /** Runs a task with `--flags` (e.g. `--env=x`); rejects with the task's error, the log appended to its message. */
  run(task: TaskName, flags?: string[], options?: Partial<AttacheOptions>): Promise<TaskResult>;
  /** Runs a task that must fail; resolves with its error and log. */
  fail(task: TaskName, flags?: string[], options?: Partial<AttacheOptions>): Promise<TaskResult & { error: Error }>;
  /** Release directory names under root/releases, oldest first. */
  releases(): string[];
  /** What root/live points to, as stored in the link (null when absent). */
  live(): string | null;
  /** The release id live points to. */
  liveId(): string | null;
  /** The parsed .attache-release.json of a release. */
  marker(id: string): { id: string; status: string; commit?: string; branch?: string };
  release(id: string): string;
}

export interface SiteOptions {
  target: TargetSpec;
  /** Default: a fresh temp dir's `root`. */
  root?: string;
  /** Merged over the server's entry (root, target and `scripts: { build: [] }` come first). */
  server?: Record<string, unknown>;
  /** Build the assets into the work clone now, as a developer's checkout would have them (default true). */
  buildAssets?: boolean;
}

export function createSite(options: SiteOptions): Site {
  const repo = createAppRepository();
  const cwd = repo.work;
  const root = options.root ?? path.join(tempDir('attache-root-'), 'root');
  if (options.buildAssets !== false) buildAssets(cwd);
  const server = { ...options.target, root, scripts: { build: [] }, ...options.server };
  const configFile = path.join(cwd, '.attache.json');
  writeFileSync(configFile, JSON.stringify({ repository: 'file://' + repo.bare, servers: { production: server } }, null, 4) + '\n');

  const start = (task: TaskName, flags: string[], extra: Partial<AttacheOptions>) => {
    const { log, lines } = captureLogger('normal');
    const tasks = attache({ cwd, argv: ['node', 'gulp', task, ...flags], logger: log, ...extra });
    return { promise: runTask(tasks[task]), lines };
  };
  const site: Site = {
    repo,
    cwd,
    root,
    configFile,
    server,
    async run(task, flags = [], extra = {}) {
      const { promise, lines } = start(task, flags, extra);
      try {
        await promise;
      } catch (error) {
        if (error instanceof Error) error.message += `\n--- log of "${task} ${flags.join(' ')}":\n${lines.join('\n')}`;
        throw error;
      }
      return { lines };
    },
    async fail(task, flags = [], extra = {}) {
      const { promise, lines } = start(task, flags, extra);
      try {
        await promise;
      } catch (error) {
        return { error: error as Error, lines };
      }
      throw new Error(`"${task} ${flags.join(' ')}" was expected to fail, and succeeded. Its log:\n${lines.join('\n')}`);
    },
    releases: () => releaseIds(root),
    live: () => readLink(path.join(root, 'live')),
    liveId() {
      const link = site.live();
      return link === null ? null : path.basename(link);
    },
    marker: (id) => JSON.parse(readFileSync(path.join(root, 'releases', id, '.attache-release.json'), 'utf8')),
    release: (id) => path.join(root, 'releases', id),
  };
  return site;
}

export function releaseIds(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(path.join(root, 'releases'));
  } catch {
    return [];
  }
  return names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

export function readLink(file: string): string | null {
  try {
    return readlinkSync(file);
  } catch {
    return null;
  }
}

/** Where a symlink leads, resolved from its directory (without requiring the target to exist). */
export function linkDestination(link: string): string {
  return path.resolve(path.dirname(link), readlinkSync(link));
}

export function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

export function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** The target spec for a kind: for sshd, a fresh HOME that trusts a freshly started server. */
export async function startTarget(kind: TargetKind): Promise<{ target: TargetSpec; sshd?: SshServer; stop(): Promise<void> }> {
  if (kind === 'local') return { target: { host: 'local' }, stop: async () => {} };
  const home = createHome();
  const sshd = await startSshd(home);
  trust(home, sshd);
  return { target: { host: '127.0.0.1', port: sshd.port, user: 'root' }, sshd, stop: () => sshd.stop() };
}

/**
 * A copy of the project directory (its git checkout, config and built assets, not its
 * node_modules): a second machine deploying the same project, which the server's lock, not the
 * project directory's, keeps apart.
 */
export function secondCheckout(site: Site): string {
  const dir = path.join(tempDir('attache-checkout-'), 'work');
  cpSync(site.cwd, dir, { recursive: true, filter: (src) => path.basename(src) !== 'node_modules' });
  return dir;
}

/** A file of `contents` in a fresh temp dir; returns its path. */
export function tempFile(name: string, contents: string): string {
  const file = path.join(tempDir('attache-file-'), name);
  writeFileSync(file, contents);
  return file;
}
