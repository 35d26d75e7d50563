import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { promisify } from 'node:util';
import { AttacheError } from '../../errors';

/**
 * Attaché's `init`: writes `.attache.json` with the project's git remote as the repository and
 * the same starting server Attaché writes. With several remotes it asks which (on a terminal), or
 * wants `--remote=<name>`.
 */

export interface InitOptions {
  cwd: string;
  /** The file to write (default .attache.json), relative to cwd. */
  file?: string;
  /** The remote to use when there are several. */
  remote?: string;
  /** Asks which remote; absent when there is no terminal to ask on. */
  ask?: (question: string, remotes: Remote[]) => Promise<string>;
}

export interface Remote {
  name: string;
  url: string;
}

const PLACEHOLDER = 'git@remote.com:vendor/repository.git';

export async function initConfig(options: InitOptions): Promise<{ file: string; repository: string }> {
  const file = path.resolve(options.cwd, options.file ?? '.attache.json');
  if (existsSync(file)) {
    throw new AttacheError(`${file} already exists`, {
      file,
      hint: 'Edit it, or remove it and run gulp init again (or write another with --config=<file>).',
    });
  }
  const remotes = await gitRemotes(options.cwd);
  const repository = (await chooseRemote(remotes, options))?.url ?? PLACEHOLDER;
  writeFileSync(file, JSON.stringify(startingConfig(repository, await currentBranch(options.cwd)), null, 4) + '\n');
  return { file, repository };
}

/** The remotes of the repository at cwd, in git's order; none outside a repository. */
export async function gitRemotes(cwd: string): Promise<Remote[]> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('git', ['config', '--local', '--get-regexp', '^remote\\..*\\.url$'], { cwd }));
  } catch (error) {
    const code = (error as { code?: number | string }).code;
    if (code === 1) return []; // a repository without remotes
    if (code === 'ENOENT') throw new AttacheError('git is not installed here', { hint: 'Install git, or write .attache.json by hand.' });
    throw new AttacheError(
      `${cwd} is not a git repository`,
      { hint: 'gulp init reads the repository URL from git remote: run it in your project, or write .attache.json by hand.' },
      { cause: error },
    );
  }
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [key, ...url] = line.split(' ');
      return { name: key.replace(/^remote\./, '').replace(/\.url$/, ''), url: url.join(' ') };
    });
}

async function chooseRemote(remotes: Remote[], options: InitOptions): Promise<Remote | undefined> {
  const list = remotes.map((r) => `${r.name} (${r.url})`).join(', ');
  if (options.remote !== undefined) {
    const named = remotes.find((r) => r.name === options.remote);
    if (!named)
      throw new AttacheError(`there is no git remote "${options.remote}"`, {
        hint: remotes.length ? `Remotes: ${list}.` : 'This repository has no remotes.',
      });
    return named;
  }
  if (remotes.length <= 1) return remotes[0];
  if (!options.ask) {
    throw new AttacheError(`this repository has ${remotes.length} remotes: which one should deploys clone? ${list}`, {
      hint: `Pass --remote=<name>, e.g. gulp init --remote=${remotes[0].name}.`,
    });
  }
  for (;;) {
    const answer = (await options.ask(`There is more than one remote: ${list}. Which one (its name)? `, remotes)).trim();
    const chosen = remotes.find((r) => r.name === answer);
    if (chosen) return chosen;
  }
}

/** A terminal prompt for `ask`, or undefined when stdin or stdout is not a terminal. */
export function terminalAsk(): InitOptions['ask'] {
  if (!process.stdin.isTTY || !process.stdout.isTTY) return undefined;
  return async (question) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  };
}

/** The branch checked out here (what the repository really has), or Attaché's default outside one. */
async function currentBranch(cwd: string): Promise<string> {
  try {
    return (await promisify(execFile)('git', ['symbolic-ref', '--short', 'HEAD'], { cwd })).stdout.trim() || 'master';
  } catch {
    return 'master';
  }
}

/**
 * What Attaché's Initializer writes (its getConfig()), with the chosen remote and the branch checked
 * out here, and without its `port` and `user` placeholders: written, they would override what
 * ~/.ssh/config says of the host. The build and the assets are left to what the project holds.
 */
function startingConfig(repository: string, branch: string): unknown {
  return {
    repository,
    servers: {
      production: {
        host: 'example.test',
        root: '/path/to/application',
        paths: { releases: 'releases', serve: 'live', storage: 'storage', env: '.env' },
        php: { bin: 'php' },
        composer: { bin: 'composer', local: false },
        branch,
        migrate: false,
      },
    },
  };
}
