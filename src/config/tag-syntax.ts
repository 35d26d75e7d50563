import type { HookName } from './types';

/**
 * The syntax of Attaché's hook tags (what is a tag, which are known, where @release exists): the
 * config checks every hook line with it when the file is loaded; release/tags.ts expands them.
 */

/** Where a line runs: a hook, or `build` (scripts.build's commands). */
export type TagSite = HookName | 'build';

const PLAIN_TAGS = ['php', 'composer', 'release', 'root', 'artisan', 'server', 'host'] as const;
export const TAG_LIST = '@php, @composer, @release, @root, @artisan, @path:<name>, @server, @host';

/** Lines that run before the release id is chosen (the local build). */
export const BEFORE_RELEASE: readonly TagSite[] = ['build', 'before-build', 'after-build'];

export interface Tag {
  start: number;
  end: number;
  name: string;
  param?: string;
}

const TAG = /\{\{\s*@([a-z]+)(?::([a-z]+))?\s*\}\}|(?<![A-Za-z0-9_])@([a-z]+)(?::([a-z]+))?(?![A-Za-z0-9_])/g;

export function scanTags(template: string, site: TagSite | undefined): { tags: Tag[]; problems: string[] } {
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
      problems.push(
        `"@release" is not known in ${site === 'build' ? 'the build' : `the ${site} hook`}: the build runs before the release exists`,
      );
      continue;
    }
    tags.push({ start, end, name, ...(param !== undefined && { param }) });
  }
  return { tags, problems };
}

/** What is wrong with the tags of a line (empty when nothing): config validation calls this for every hook line. */
export function checkTags(template: string, site: TagSite): string[] {
  return scanTags(template, site).problems;
}
