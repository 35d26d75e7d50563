import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ServerConfig } from '../../config/types';
import { checkoutRemotes, sameRepository } from '../steps/source';
import type { Check } from './checklist';

const PACKAGE_MANAGERS = new Set(['npm', 'yarn', 'pnpm', 'bun']);

/**
 * The deploying machine's part: the build's commands exist (and the package.json script it runs),
 * the gulpfile's module syntax suits its package, no `public/hot` from `npm run dev`, and the
 * checkout is what the server will deploy: clean, its branch on the remote, its HEAD pushed.
 */
export async function checkHere(cwd: string, server: ServerConfig, branch: string): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, verdict: Check['verdict'], fact: string, fix?: string) =>
    checks.push({ where: 'here', area: 'here', name, verdict, fact, ...(fix && { fix }) });
  const packageJson = readJson(path.join(cwd, 'package.json'));

  // The build.
  if (!server.build.length) add('build', 'ok', 'no build command ("scripts.build" is empty)');
  for (const command of server.build) {
    const words = command
      .replace(/^(\s*[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+/, '')
      .trim()
      .split(/\s+/);
    const tool = words[0];
    if (!onPath(tool)) {
      add(
        'build',
        'fail',
        `\`${command}\`: ${tool} is not installed here`,
        `install ${tool}, or set "scripts": { "build": [...] } to the build you use`,
      );
      continue;
    }
    const script = PACKAGE_MANAGERS.has(tool) ? (words[1] === 'run' ? words[2] : tool === 'npm' ? undefined : words[1]) : undefined;
    const scripts = (packageJson?.scripts ?? {}) as Record<string, unknown>;
    if (script && !['install', 'ci', 'exec', 'x'].includes(script) && scripts[script] === undefined)
      add(
        'build',
        'fail',
        `\`${command}\`: package.json has no "${script}" script`,
        `add it to package.json's "scripts", or set "scripts": { "build": [...] }`,
      );
    else add('build', 'ok', `\`${command}\` (${tool} is installed)`);
  }

  // The gulpfile's module syntax.
  const gulpfile = ['gulpfile.js', 'gulpfile.mjs', 'gulpfile.cjs', 'gulpfile.ts', 'gulpfile.mts', 'gulpfile.cts'].find((f) =>
    existsSync(path.join(cwd, f)),
  );
  if (gulpfile) {
    const text = readFileSync(path.join(cwd, gulpfile), 'utf8');
    const esmPackage = packageJson?.type === 'module';
    const usesEsm = /^\s*(import\s[^(]|export\s)/m.test(text);
    const usesCjs = /\brequire\(|\bmodule\.exports\b|^\s*exports\./m.test(text);
    if (gulpfile === 'gulpfile.js' && esmPackage && usesCjs && !usesEsm)
      add(
        'gulpfile',
        'fail',
        'gulpfile.js uses require/module.exports, and package.json says "type": "module"',
        'rename it gulpfile.cjs, or write it with import/export',
      );
    else if (gulpfile === 'gulpfile.js' && !esmPackage && usesEsm)
      add(
        'gulpfile',
        'warn',
        'gulpfile.js uses import/export, and package.json does not say "type": "module" (Node older than 20.19 refuses it)',
        'rename it gulpfile.mjs, or add "type": "module" to package.json',
      );
    else add('gulpfile', 'ok', `${gulpfile} suits the package`);
  }

  if (existsSync(path.join(cwd, 'public/hot')))
    add(
      'public/hot',
      'warn',
      'public/hot is here: `npm run dev` is running or left it (the deploy leaves it out)',
      'stop the dev server, or rm public/hot',
    );

  await checkCheckout(cwd, server, branch, add);
  return checks;
}

/** The checkout against the repository's branch: what the match step will compare on the server. */
async function checkCheckout(
  cwd: string,
  server: ServerConfig,
  branch: string,
  add: (name: string, verdict: Check['verdict'], fact: string, fix?: string) => void,
): Promise<void> {
  const git = (...args: string[]) =>
    promisify(execFile)('git', args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
  const head = await git('rev-parse', 'HEAD').catch(() => undefined);
  if (!head) return add('checkout', 'ok', `${cwd} is not a git checkout: the assets' commit is not checked`);
  const commit = head.stdout.trim();
  const remote = (await checkoutRemotes(cwd)).find((r) => sameRepository(r.url) === sameRepository(server.repository));
  if (!remote) return add('checkout', 'ok', `no remote of this checkout is ${server.repository}: the assets' commit is not checked`);

  const status = await git('status', '--porcelain=v1', '--untracked-files=no');
  const changed = status.stdout.split('\n').filter((line) => line && !line.endsWith('.attache.json'));
  if (changed.length)
    add(
      'clean tree',
      'fail',
      `${changed.length} uncommitted change${changed.length === 1 ? '' : 's'} to tracked files (${changed
        .slice(0, 3)
        .map((l) => l.slice(3))
        .join(', ')})`,
      'commit and push them, or stash them (the deploy refuses them without --any-commit)',
    );
  else add('clean tree', 'ok', 'no uncommitted change to tracked files');

  const listed = await git('ls-remote', '--', remote.name, `refs/heads/${branch}`).catch((error: Error & { stderr?: string }) => error);
  if (listed instanceof Error)
    return add(
      'branch on the remote',
      'warn',
      `could not ask ${remote.name} from here: ${(listed.stderr ?? listed.message).trim().split('\n')[0]}`,
      'the server check below asks from the server',
    );
  const tip = listed.stdout.trim().split(/\s/)[0];
  if (!tip)
    return add(
      'branch on the remote',
      'fail',
      `${remote.name} has no branch ${branch}`,
      `git push ${remote.name} ${branch}, or set "branch" to one it has`,
    );
  add('branch on the remote', 'ok', `${remote.name}/${branch} is at ${tip.slice(0, 10)}`);
  if (tip === commit) return add('HEAD pushed', 'ok', `HEAD ${commit.slice(0, 10)} is ${remote.name}/${branch}`);
  const behind = await git('merge-base', '--is-ancestor', commit, tip).then(
    () => true,
    () => false,
  );
  if (behind)
    add(
      'HEAD pushed',
      'fail',
      `HEAD ${commit.slice(0, 10)} is behind ${remote.name}/${branch} (${tip.slice(0, 10)}): the server would deploy newer code than the assets built here`,
      `git pull ${remote.name} ${branch}`,
    );
  else
    add(
      'HEAD pushed',
      'fail',
      `HEAD ${commit.slice(0, 10)} is not on ${remote.name}/${branch} (${tip.slice(0, 10)}): an unpushed commit`,
      `git push ${remote.name} ${branch}`,
    );
}

function onPath(tool: string): boolean {
  if (tool.includes('/')) return isExecutable(tool);
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && isExecutable(path.join(dir, tool)));
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
