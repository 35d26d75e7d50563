import path from 'node:path/posix';
import type { HookName, ServerConfig } from '../config/types';
import { AttacheError } from '../errors';
import { quote } from '../remote/quote';
import type { Layout } from './layout';
import { artisanCommand, composerBin, phpCommand } from './tools';

/**
 * Attaché's hook tag language: @php, @composer, @release (the release id), @root,
 * @path:<name> (root/paths.<name>, or root/<name> for a name paths does not define), @artisan.
 * Tags may be written `{{ @tag }}`. Every value is quoted; the hook's own text is the user's shell.
 *
 * What is a tag follows Attaché's ScriptCompiler: `@` and lower-case letters. An unknown one
 * followed by a space, `}` or the end of the line is a mistake (Attaché refuses the file too);
 * one followed by anything else (`git@host.com`, `@scope/pkg`) is text. Unlike Attaché, a known
 * tag followed by `/` is expanded (`@root/.env`), and `@` after a letter or digit is never a tag.
 */

/** Where a line runs: a hook, or `build` (scripts.build's commands). */
export type TagSite = HookName | 'build';

const PLAIN_TAGS = ['php', 'composer', 'release', 'root', 'artisan'] as const;
const TAG_LIST = '@php, @composer, @release, @root, @artisan, @path:<name>';

/** Lines that run before the release id is chosen (the local build). */
const BEFORE_RELEASE: readonly TagSite[] = ['build', 'before-build', 'after-build'];
/** Lines that run before the release's files exist: there, @artisan is the live release's (as in Attaché). */
const BEFORE_CLONE: readonly TagSite[] = [...BEFORE_RELEASE, 'before-deploy', 'before-clone'];

interface Tag {
  start: number;
  end: number;
  name: string;
  param?: string;
}

const TAG = /\{\{\s*@([a-z]+)(?::([a-z]+))?\s*\}\}|(?<![A-Za-z0-9_])@([a-z]+)(?::([a-z]+))?(?![A-Za-z0-9_])/g;

function scan(template: string, site: TagSite | undefined): { tags: Tag[]; problems: string[] } {
  const tags: Tag[] = [];
  const problems: string[] = [];
  for (const m of template.matchAll(TAG)) {
    const braced = m[1] !== undefined;
    const name = braced ? m[1] : m[3];
    const param = braced ? m[2] : m[4];
    const start = m.index;
    const end = start + m[0].length;
    const written = `@${name}${param !== undefined ? `:${param}` : ''}`;
    const known = name === 'path' ? param !== undefined : param === undefined && (PLAIN_TAGS as readonly string[]).includes(name);
    if (!known) {
      // Text such as `@scope/pkg` or `a@b.c` is not a tag; Attaché only reads one before a space, `}` or the end.
      const next = template[end];
      if (!braced && next !== undefined && !/[\s}]/.test(next)) continue;
      problems.push(
        name === 'path' && param === undefined
          ? `"${written}" needs a name: @path:releases, @path:serve, @path:storage, @path:env or @path:<your own>`
          : `unknown tag "${written}". Tags: ${TAG_LIST}`,
      );
      continue;
    }
    if (name === 'release' && site !== undefined && BEFORE_RELEASE.includes(site)) {
      problems.push(`"@release" is not known in ${site === 'build' ? 'the build' : `the ${site} hook`}: the build runs before the release exists`);
      continue;
    }
    tags.push({ start, end, name, ...(param !== undefined && { param }) });
  }
  return { tags, problems };
}

/** What is wrong with the tags of a line (empty when nothing): config validation calls this for every hook line. */
export function checkTags(template: string, site: TagSite): string[] {
  return scan(template, site).problems;
}

/** The line with its tags replaced by their (quoted) values. */
export function expandTags(template: string, server: ServerConfig, layout: Layout, releaseId?: string, site?: TagSite): string {
  const { tags, problems } = scan(template, site);
  if (problems.length) throw new AttacheError(`"${template}": ${problems[0]}`, { server: server.name, hint: `Tags: ${TAG_LIST}` });
  const release = () => {
    if (releaseId === undefined) {
      throw new AttacheError(`"${template}" uses a release tag before the release exists`, {
        server: server.name,
        hint: '@release is known from the before-deploy hook on.',
      });
    }
    return releaseId;
  };
  const value = (tag: Tag): string => {
    switch (tag.name) {
      case 'php':
        return phpCommand(server).text;
      case 'composer':
        return composerBin(server).text;
      case 'release':
        return quote(release());
      case 'root':
        return quote(layout.root);
      case 'artisan': {
        // Before the clone the new release has no files: Attaché's @artisan (the live release's) is what can run.
        const early = releaseId === undefined || (site !== undefined && BEFORE_CLONE.includes(site));
        return artisanCommand(server, path.join(early ? layout.live : layout.release(release()), 'artisan')).text;
      }
      default:
        return quote(pathTag(tag.param ?? '', server, layout));
    }
  };
  let out = '';
  let at = 0;
  for (const tag of tags) {
    out += template.slice(at, tag.start) + value(tag);
    at = tag.end;
  }
  return out + template.slice(at);
}

function pathTag(name: string, server: ServerConfig, layout: Layout): string {
  const known: Record<string, string> = { releases: layout.releases, serve: layout.live, storage: layout.storage, env: layout.env };
  if (Object.hasOwn(known, name)) return known[name];
  return path.resolve(layout.root, Object.hasOwn(server.paths, name) ? server.paths[name] : name);
}
