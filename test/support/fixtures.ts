import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The example Laravel-shaped app as a git repository the deploy tool can clone, built the way a
 * developer's checkout would be: example/app's sources committed, never its build outputs.
 */
export const EXAMPLE_APP = path.resolve(__dirname, '../../example/app');

/** Paths (relative to the app) that are built or installed, never committed: see example/app/.gitignore. */
const BUILT = new Set(['vendor', 'node_modules', 'public/js', 'public/css', 'public/mix-manifest.json', 'public/storage', '.env']);

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** git with a fixed identity and no signing or line-ending rewriting, whatever the user's config says. */
export function git(cwd: string, ...args: string[]): string {
  const config = ['user.name=Attache Tests', 'user.email=tests@attache.invalid', 'commit.gpgsign=false', 'core.autocrlf=false'];
  return execFileSync('git', [...config.flatMap((c) => ['-c', c]), ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

export interface AppRepository {
  /** The bare repository: the deploy `repository` (a plain path, or `file://${bare}` for --depth). */
  bare: string;
  /** The working clone commits are made in (see commitChange). */
  work: string;
  /** The sha of master's last commit. */
  head: string;
}

/**
 * Copies example/app into `<dir>/work`, commits it on master, and clones it bare to `<dir>/app.git`.
 * `extraCommits` adds that many more commits (to history.txt), so history is deeper than one.
 * `overlay` is a directory copied over the app first (test/fixtures/vite-app: a Vite app's files).
 */
export function createAppRepository(options: { dir?: string; extraCommits?: number; overlay?: string } = {}): AppRepository {
  const dir = options.dir ?? tempDir('attache-repo-');
  const work = path.join(dir, 'work');
  const bare = path.join(dir, 'app.git');
  cpSync(EXAMPLE_APP, work, {
    recursive: true,
    filter: (src) => !BUILT.has(path.relative(EXAMPLE_APP, src).split(path.sep).join('/')),
  });
  if (options.overlay) cpSync(options.overlay, work, { recursive: true });
  git(work, 'init', '-q', '-b', 'master');
  git(work, 'add', '-A'); // the copied .gitignore files keep out anything else (e.g. storage/logs/*)
  git(work, 'commit', '-q', '-m', 'Example app');
  for (let i = 1; i <= (options.extraCommits ?? 0); i++) {
    writeFileSync(path.join(work, 'history.txt'), `commit ${i}\n`, { flag: 'a' });
    git(work, 'add', 'history.txt');
    git(work, 'commit', '-q', '-m', `Extra commit ${i}`);
  }
  git(dir, 'clone', '-q', '--bare', work, bare);
  return { bare, work, head: git(work, 'rev-parse', 'HEAD') };
}

/** Writes `file` (relative to the work clone), commits it and pushes master to the bare repo; returns the new head. */
export function commitChange(work: string, bare: string, file: string, content: string): string {
  const target = path.join(work, file);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, content);
  git(work, 'add', '--', file);
  git(work, 'commit', '-q', '-m', `Change ${file}`);
  git(work, 'push', '-q', bare, 'HEAD:master');
  return git(work, 'rev-parse', 'HEAD');
}

/** Runs the app's asset build (public/js, public/css, public/mix-manifest.json). */
export function buildAssets(appDir: string): void {
  execFileSync(process.execPath, ['build.js'], { cwd: appDir, stdio: 'pipe' });
}

/**
 * `composer install` as a deploy runs it. The app has no dependencies and a committed lock, so
 * this needs no network; COMPOSER_DISABLE_NETWORK makes any attempt fail instead of hang.
 */
export function composerInstall(appDir: string): void {
  execFileSync('composer', ['install', '--no-dev', '--no-interaction', '--no-progress'], {
    cwd: appDir,
    stdio: 'pipe',
    env: { ...process.env, COMPOSER_ALLOW_SUPERUSER: '1', COMPOSER_DISABLE_NETWORK: '1' },
  });
}
