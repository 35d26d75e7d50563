import path from 'node:path/posix';
import { AttacheError } from '../../errors';
import { commandFailure } from '../../remote/command';
import { sh } from '../../remote/quote';
import type { ServerRun } from '../lifecycle/context';

/** Printed before a commit's .gitmodules (git config -z): a release with submodules. */
export const GITMODULES = 'attache:gitmodules';
const SUBMODULE_COMMIT = 'attache:submodule-commit=';

/** How deep submodules of submodules go before the deploy stops following them (a loop of repositories). */
const MAX_DEPTH = 8;

export interface Submodule {
  name: string;
  path: string;
  url: string;
}

/** A repository checked out somewhere in the release: the top one (the mirror) or a submodule. */
interface Checkout {
  mirror: string;
  commit: string;
  /** Its URL: a submodule's relative URL is resolved against it, as git does. */
  url: string;
  dir: string;
  /** Its path in the release, for messages ("" for the release itself). */
  at: string;
}

/** The line of a script that prints the submodules of the commit in `$commit` (GITMODULES, then .gitmodules' paths and URLs), if it has any. */
export function listSubmodules(mirror: string): string {
  return (
    sh`if git --git-dir=${mirror} cat-file -e "$commit:.gitmodules" 2>/dev/null; then echo ${GITMODULES}; ` +
    sh`git --git-dir=${mirror} config -z --blob "$commit:.gitmodules" --get-regexp '^submodule\\..*\\.(path|url)$' || true; fi`
  );
}

/** The submodules a GITMODULES listing names (each with a path and a URL), in its order. */
export function parseSubmodules(stdout: string): Submodule[] {
  const at = stdout.indexOf(`${GITMODULES}\n`);
  if (at < 0) return [];
  const byName = new Map<string, Partial<Submodule>>();
  for (const entry of stdout.slice(at + GITMODULES.length + 1).split('\0')) {
    const newline = entry.indexOf('\n');
    const key = /^submodule\.(.+)\.(path|url)$/.exec(newline < 0 ? entry : entry.slice(0, newline));
    if (!key || newline < 0) continue;
    const module = byName.get(key[1]) ?? { name: key[1] };
    module[key[2] as 'path' | 'url'] = entry.slice(newline + 1);
    byName.set(key[1], module);
  }
  return [...byName.values()].filter((m): m is Submodule => m.path !== undefined && m.url !== undefined);
}

/**
 * A submodule's URL as git resolves it: `./x` and `../x` are relative to the superproject's URL
 * (`git@host:org/app.git` with `../lib.git` is `git@host:org/lib.git`); any other is as written.
 */
export function resolveSubmoduleUrl(base: string, url: string): string {
  if (!url.startsWith('./') && !url.startsWith('../')) return url;
  let remote = base.replace(/\/+$/, '');
  let rest = url;
  for (;;) {
    if (rest.startsWith('./')) rest = rest.slice(2);
    else if (rest.startsWith('../')) {
      rest = rest.slice(3);
      const cut = Math.max(remote.lastIndexOf('/'), remote.lastIndexOf(':'));
      if (cut < 0) throw new Error(`"${url}" leads above the repository's URL ${base}`);
      // An scp-like URL keeps its colon (host:org/app -> host:org, host:app -> host:).
      remote = remote[cut] === ':' ? remote.slice(0, cut + 1) : remote.slice(0, cut);
    } else break;
  }
  return remote.endsWith(':') ? `${remote}${rest}` : `${remote}/${rest}`;
}

/**
 * Checks out the submodules of a release's commit (and theirs), each at the commit its superproject
 * records, from a shallow bare mirror of its own in root (fetched by commit, else by its branches
 * and tags), over the same connection and so with the same forwarded agent as the clone. A
 * submodule that cannot be fetched fails the deploy, naming it, its URL and git's own line.
 */
export async function checkoutSubmodules(run: ServerRun, id: string, top: Checkout, modules: Submodule[], depth = 0): Promise<void> {
  for (const module of modules) {
    const at = top.at ? `${top.at}/${module.path}` : module.path;
    const fail = (why: string, hint?: string) =>
      new AttacheError(`submodule "${at}" (${module.url}): ${why}`, { server: run.server.name, step: 'clone', hint });
    const clean = path.normalize(module.path);
    if (path.isAbsolute(clean) || clean === '.' || clean.startsWith('../') || clean === '..' || clean.startsWith('-')) {
      throw fail('its path leads outside the repository', 'Fix the path in .gitmodules.');
    }
    if (depth >= MAX_DEPTH) throw fail(`submodules nest more than ${MAX_DEPTH} deep`, 'Check .gitmodules for a loop.');
    let url: string;
    try {
      url = resolveSubmoduleUrl(top.url, module.url);
    } catch (error) {
      throw fail((error as Error).message, 'Fix the URL in .gitmodules.');
    }
    if (url.startsWith('-')) throw fail('its URL begins with "-"', 'Fix the URL in .gitmodules.');
    const mirror = run.layout.moduleMirror(url);
    const index = run.layout.moduleIndex(id);
    const dir = path.join(top.dir, clean);
    const script = [
      // The commit the superproject records (a gitlink); a path that is not one is left alone, as git does.
      sh`set -- $(git --git-dir=${top.mirror} ls-tree ${top.commit} -- ${clean})`,
      `[ "$1" = 160000 ] || exit 0`,
      sh`commit=$3; printf '%s%s\\n' ${SUBMODULE_COMMIT} "$commit"`,
      sh`if git --git-dir=${mirror} rev-parse --git-dir >/dev/null 2>&1; then git --git-dir=${mirror} remote set-url origin ${url}; ` +
        sh`else rm -rf -- ${mirror} && mkdir -p -- ${path.dirname(mirror)} && git init --quiet --bare ${mirror} && git --git-dir=${mirror} remote add origin ${url}; fi || exit`,
      // By commit first (what most servers allow); else the branches and tags, which must then hold it.
      sh`git --git-dir=${mirror} cat-file -e "$commit^{commit}" 2>/dev/null || ` +
        sh`git --git-dir=${mirror} fetch --quiet --depth 1 origin "$commit" 2>/dev/null || ` +
        sh`git --git-dir=${mirror} fetch --quiet origin '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*' || exit`,
      sh`git --git-dir=${mirror} cat-file -e "$commit^{commit}" 2>/dev/null || { printf 'error: commit %s is on no branch or tag of %s\\n' "$commit" ${url} >&2; exit 1; }`,
      sh`GIT_INDEX_FILE=${index} git --git-dir=${mirror} read-tree "$commit" && mkdir -p -- ${dir} && ` +
        sh`GIT_INDEX_FILE=${index} git --git-dir=${mirror} --work-tree=${dir} checkout-index --all --force; status=$?; rm -f -- ${index}; [ "$status" -eq 0 ] || exit "$status"`,
      listSubmodules(mirror),
    ].join('\n');
    const result = await run.target.exec(script, { step: 'clone', check: false });
    const commit = new RegExp(`^${SUBMODULE_COMMIT}([0-9a-f]+)$`, 'm').exec(result.stdout)?.[1];
    if (result.code !== 0 || result.signal) {
      const failure = commandFailure(run.server.name, `submodule ${at}`, result, 'clone');
      throw fail(
        `${commit ? `commit ${commit.slice(0, 12)} ` : ''}could not be fetched${url === module.url ? '' : ` from ${url}`}: ${failure.what}`,
        'The server fetches submodules itself, as it clones the repository: check that it can reach this URL (your agent is forwarded with forwardAgent) and that the commit was pushed.',
      );
    }
    if (!commit) continue;
    run.log.info(`[${run.server.name}] submodule ${at}: ${url} at ${commit.slice(0, 12)}`);
    const inner = parseSubmodules(result.stdout);
    if (inner.length) await checkoutSubmodules(run, id, { mirror, commit, url, dir, at }, inner, depth + 1);
  }
}
