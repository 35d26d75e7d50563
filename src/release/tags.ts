import type { ServerConfig } from '../config/types';
import { AttacheError } from '../errors';
import { quote } from '../remote/quote';
import type { Layout } from './layout';
import { artisanCommand, composerCommand, phpCommand } from './tools';

/**
 * Attaché's hook tag language: @php, @composer, @release (the release id), @root,
 * @path:<releases|serve|storage|env>, @artisan (`<php> <release>/artisan`). Tags may be written
 * `{{ @tag }}`. Every value is quoted; the hook's own text is the user's shell.
 */
export function expandTags(template: string, server: ServerConfig, layout: Layout, releaseId?: string): string {
  const release = () => {
    if (releaseId === undefined) {
      throw new AttacheError(`"${template}" uses a release tag before the release exists`, {
        server: server.name,
        hint: '@release and @artisan are known from the clone step on (after-clone and later hooks).',
      });
    }
    return releaseId;
  };
  const values: Record<string, () => string> = {
    php: () => phpCommand(server).text,
    composer: () => composerCommand(server).text,
    release: () => quote(release()),
    root: () => quote(layout.root),
    artisan: () => artisanCommand(server, layout.inRelease(release(), 'artisan')).text,
    'path:releases': () => quote(layout.releases),
    'path:serve': () => quote(layout.live),
    'path:storage': () => quote(layout.storage),
    'path:env': () => quote(layout.env),
  };
  return template.replace(/\{\{\s*@([a-z]+(?::[a-z]+)?)\s*\}\}|@([a-z]+(?::[a-z]+)?)/g, (match, braced, bare) => {
    const tag = braced ?? bare;
    const value = values[tag];
    if (!value) {
      if (braced) throw new AttacheError(`unknown script tag @${tag}`, { server: server.name, hint: `Tags: ${Object.keys(values).map((t) => '@' + t).join(', ')}` });
      return match; // e.g. an e-mail address in an echo
    }
    return value();
  });
}
