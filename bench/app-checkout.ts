/**
 * The fixture's app as a developer has it: a git checkout in the project directory, with `origin` a
 * bare repository. The artifact strategy exports the commit from the project's own checkout when it
 * has it (src/release/artifact-build.ts), as a user's deploy would; without one it would fetch.
 *
 * A case that commits gets a private bare copy of the fixture's app repository (the other cases
 * deploy from the shared one), and `restore()` puts its branch back to the fixture's commit.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Who commits, whatever this machine's git config says (the clone-strategy measurement's commits too). */
export const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.invalid',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.invalid',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

function git(cwd: string | undefined, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} (in ${cwd ?? process.cwd()}) failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout.trim();
}

/** A fresh bare copy of `source` at `bare` (made again by every bench run: a run cut short may have left commits in the old one). */
export function privateRepository(source: string, bare: string): string {
  rmSync(bare, { recursive: true, force: true });
  mkdirSync(path.dirname(bare), { recursive: true });
  git(undefined, 'clone', '-q', '--bare', '--no-local', source, bare);
  return bare;
}

export class AppCheckout {
  /** The fixture's commit of the branch: what `restore()` puts back. */
  readonly original: string;

  /** `dir` (the project directory; its gulpfile and config stay untracked) becomes a checkout of `originUrl`'s `branch`. */
  constructor(
    readonly dir: string,
    originUrl: string,
    private readonly branch: string,
  ) {
    if (!existsSync(path.join(dir, '.git'))) git(dir, 'init', '-q', '-b', branch);
    // Set, not added: a checkout left by an earlier bench run has an origin already. Only its URL is
    // used (fetches land in FETCH_HEAD; pushes name their refs).
    git(dir, 'config', 'remote.origin.url', originUrl);
    git(dir, 'fetch', '-q', 'origin', branch);
    this.original = git(dir, 'rev-parse', 'FETCH_HEAD');
    git(dir, 'reset', '-q', '--hard', this.original);
  }

  /** The checkout and origin's branch at the fixture's commit again. Only for a private origin (privateRepository): it force-pushes. */
  restore(): void {
    git(this.dir, 'reset', '-q', '--hard', this.original);
    git(this.dir, 'push', '-q', '--force', 'origin', `${this.original}:refs/heads/${this.branch}`);
  }

  /** Writes `data` to `file` (relative; a new file is added), commits it and pushes the branch; returns the new commit. */
  commitFile(file: string, data: Buffer, message: string): string {
    writeFileSync(path.join(this.dir, file), data);
    git(this.dir, 'add', '--', file);
    git(this.dir, 'commit', '-q', '-m', message, '--', file);
    git(this.dir, 'push', '-q', 'origin', `HEAD:refs/heads/${this.branch}`);
    return git(this.dir, 'rev-parse', 'HEAD');
  }
}
