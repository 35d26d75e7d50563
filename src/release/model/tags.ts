import path from 'node:path/posix';
import { BEFORE_RELEASE, scanTags, TAG_LIST, type Tag, type TagSite } from '../../config/tag-syntax';
import type { ServerConfig } from '../../config/types';
import { AttacheError } from '../../errors';
import { quote } from '../../remote/quote';
import type { Layout } from './layout';
import { artisanCommand, composerBin, phpCommand } from './tools';

/**
 * Attaché's hook tag language: @php, @composer, @release (the release id), @root,
 * @path:<name> (root/paths.<name>, or root/<name> for a name paths does not define), @artisan;
 * ours, @server (the server's name) and @host (its host), for a rollout's drain hooks.
 * Tags may be written `{{ @tag }}`. Every value is quoted; the hook's own text is the user's shell.
 *
 * What is a tag follows Attaché's ScriptCompiler: `@` and lower-case letters. An unknown one
 * followed by a space, `}` or the end of the line is a mistake (Attaché refuses the file too);
 * one followed by anything else (`git@host.com`, `@scope/pkg`) is text. Unlike Attaché, a known
 * tag followed by `/` is expanded (`@root/.env`), and `@` after a letter or digit is never a tag.
 */

/** Lines that run before the release's files exist: there, @artisan is the live release's (as in Attaché). */
const BEFORE_CLONE: readonly TagSite[] = [...BEFORE_RELEASE, 'before-deploy', 'before-clone'];

export { checkTags, type TagSite } from '../../config/tag-syntax';

/** The line with its tags replaced by their (quoted) values. */
export function expandTags(template: string, server: ServerConfig, layout: Layout, releaseId?: string, site?: TagSite): string {
  const { tags, problems } = scanTags(template, site);
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
      case 'server':
        return quote(server.name);
      case 'host':
        return quote(server.host);
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
