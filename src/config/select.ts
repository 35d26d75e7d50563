import { AttacheError } from '../errors';
import { closest } from './suggest';
import type { AttacheConfig, ServerConfig } from './types';

/**
 * The servers a `--server=` value names: a server, a group, `all`, or a comma-separated mix
 * (deduplicated, in order). Without one: the configured default, else the only server.
 */
export function selectServers(config: AttacheConfig, selection?: string): ServerConfig[] {
  const names = Object.keys(config.servers);
  let wanted = selection?.trim() || undefined;
  if (wanted === undefined) {
    if (config.default !== undefined) wanted = config.default;
    else if (names.length === 1) return [config.servers[names[0]]];
    else {
      throw new AttacheError(`${names.length} servers are configured and there is no "default": which one?`, {
        file: config.file,
        hint: `Pass --server=<name> (a server, a group, a comma-separated list, or all). ${known(config)}`,
      });
    }
  }

  const selected = new Map<string, ServerConfig>();
  const unknown: string[] = [];
  for (const part of wanted
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const members = part === 'all' ? names : Object.hasOwn(config.groups, part) ? config.groups[part] : [part];
    for (const name of members) {
      if (!Object.hasOwn(config.servers, name)) unknown.push(name);
      else if (!selected.has(name)) selected.set(name, config.servers[name]);
    }
  }
  if (unknown.length) {
    const candidates = [...names, ...Object.keys(config.groups)];
    const guesses = unknown.map((name) => [name, closest(name, candidates)] as const).filter(([, guess]) => guess);
    const didYouMean = guesses.map(([name, guess]) => ` (for "${name}", did you mean "${guess}"?)`).join('');
    throw new AttacheError(`no server or group named ${unknown.map((n) => `"${n}"`).join(', ')}${didYouMean}`, {
      file: config.file,
      hint: `${known(config)} Pass --server=<name>.`,
    });
  }
  if (selected.size === 0) {
    throw new AttacheError(`--server=${selection} names no server`, { file: config.file, hint: `${known(config)} Pass --server=<name>.` });
  }
  return [...selected.values()];
}

function known(config: AttacheConfig): string {
  const groups = Object.keys(config.groups);
  return `Servers: ${Object.keys(config.servers).join(', ')}.${groups.length ? ` Groups: ${groups.join(', ')}.` : ''} Or all.`;
}
