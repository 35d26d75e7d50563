import { readFileSync } from 'node:fs';
import path from 'node:path';
import { urlCredentials } from '../log';
import { AttacheError } from '../errors';
import { parseJson } from './json';
import { describe, isObject, mergeServers, serverNameProblem, withoutUnsafeKeys, type Problem, type RawServer } from './merge';
import { detectProject } from './project';
import { TOP_SCHEMA } from './schema';
import { closest } from './suggest';
import type { AttacheConfig, ConfigWarning, ServerConfig } from './types';
import { checkKeys, validateServer } from './validate';

export interface LoadOptions {
  /** Directory a relative `file` is resolved against (default: the process's). */
  cwd?: string;
  /** Settings from the gulpfile, merged over every server (they win over the file). */
  overrides?: Partial<RawServer>;
}

/** Everything wrong with a configuration file, in one error. */
export class ConfigError extends AttacheError {
  readonly problems: readonly Problem[];

  constructor(file: string, problems: readonly Problem[], positions = new Map<string, { line: number; column: number }>()) {
    const [only] = problems;
    super(
      problems.length === 1
        ? only.message // the key is in the context, which the message names once
        : `${problems.length} problems in the configuration:\n${problems.map((p) => `  - ${p.key}: ${p.message}`).join('\n')}`,
      { file, ...(problems.length === 1 && { key: only.key }), ...positionOf(positions, only.key) },
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Where a key path is written, or its nearest written parent (a key from `common` is written there). */
function positionOf(positions: Map<string, { line: number; column: number }>, key: string): { line?: number; column?: number } {
  for (let path = key; path; path = path.replace(/(?:\.[^.[\]]*|\[\d+\])$/, '')) {
    const found = positions.get(path);
    if (found) return found;
    if (!/[.[]/.test(path)) break;
  }
  return {};
}

const EXAMPLE = `{
    "repository": "git@github.com:you/app.git",
    "servers": {
        "production": { "host": "example.com", "user": "deploy", "root": "/var/www/app" }
    }
}`;

/** Reads `.attache.json` (Attaché 0.7's format, older array form too), merges `common`, validates, applies defaults. */
export function loadConfig(file = '.attache.json', options: LoadOptions = {}): AttacheConfig {
  const absolute = path.resolve(options.cwd ?? process.cwd(), file);
  const text = read(absolute).replace(/^\uFEFF/, '');
  if (text.trim() === '') {
    throw new AttacheError('the configuration file is empty', { file: absolute, hint: `A minimal configuration:\n${EXAMPLE}` });
  }
  const { value: parsed, duplicates, positions } = parseJson(text, absolute);
  if (!isObject(parsed)) {
    throw new AttacheError(`expected a JSON object with "servers" at the top of the file, got ${describe(parsed)}`, {
      file: absolute,
      hint: `A minimal configuration:\n${EXAMPLE}`,
    });
  }

  // PHP's json_decode (Attaché's reader) keeps the last of two equal keys, and so does JSON.parse: load, but say so.
  const warnings: ConfigWarning[] = duplicates.map((d) => ({
    key: d.key,
    message: `defined twice (line ${d.line}, column ${d.column}; first at line ${d.firstLine}, column ${d.firstColumn}): the last one is used, as in Attaché; keep one`,
  }));
  const problems: Problem[] = [];
  const value = withoutUnsafeKeys(parsed, [], problems) as Record<string, unknown>;
  const overrides = withoutUnsafeKeys(options.overrides, ['overrides'], problems);
  checkKeys(value, [], Object.keys(TOP_SCHEMA), (keys, message) => problems.push({ key: keys.join('.'), message }));

  const topSecrets = secretsOf(value.secrets, problems);
  // The build and the assets default to what the project directory holds (Vite or Mix).
  const project = detectProject(path.resolve(options.cwd ?? process.cwd()));
  const servers: Record<string, ServerConfig> = {};
  for (const merged of mergeServers(value, overrides, problems)) {
    const server = validateServer(merged, problems, warnings, project);
    server.secrets = [...new Set([...topSecrets, ...server.secrets, ...urlCredentials(JSON.stringify(server))])]; // a token in a URL is a secret
    servers[merged.name] = server;
  }
  const groups = groupsOf(value.groups, servers, problems);
  const defaultName = defaultOf(value.default, servers, groups, problems);

  // A mistake in `common` shows up once per server, with the same key path: report it once.
  const unique = [...new Map(problems.map((p) => [`${p.key}\0${p.message}`, p])).values()];
  if (unique.length) throw new ConfigError(absolute, unique, positions);
  const uniqueWarnings = [...new Map(warnings.map((w) => [`${w.key}\0${w.message}`, w])).values()];
  return { file: absolute, servers, ...(defaultName !== undefined && { default: defaultName }), groups, warnings: uniqueWarnings, project };
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new AttacheError(`no configuration file at ${file}`, {
        file,
        hint: `Create ${path.basename(file)} in your project (or pass its path). A minimal one:\n${EXAMPLE}`,
      });
    }
    const reason = code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new AttacheError(`cannot read the configuration file: ${reason}`, { file }, { cause: error });
  }
}

function secretsOf(value: unknown, problems: Problem[]): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((s) => typeof s !== 'string' || s === '')) {
    problems.push({ key: 'secrets', message: `expected an array of non-empty strings, got ${describe(value)}` });
    return [];
  }
  return value as string[];
}

function groupsOf(value: unknown, servers: Record<string, ServerConfig>, problems: Problem[]): Record<string, string[]> {
  if (value === undefined) return {};
  if (!isObject(value)) {
    problems.push({
      key: 'groups',
      message: `expected an object of server lists, e.g. { "web": ["web1", "web2"] }, got ${describe(value)}`,
    });
    return {};
  }
  const names = Object.keys(servers);
  const groups: Record<string, string[]> = {};
  for (const [group, members] of Object.entries(value)) {
    const key = `groups.${group}`;
    const nameProblem = serverNameProblem(group);
    if (nameProblem) problems.push({ key, message: nameProblem });
    if (Object.hasOwn(servers, group)) problems.push({ key, message: `expected a name that is not also a server's, got "${group}"` });
    if (!Array.isArray(members) || members.length === 0) {
      problems.push({ key, message: `expected a non-empty array of server names, got ${describe(members)}` });
      continue;
    }
    members.forEach((member, i) => {
      if (typeof member !== 'string') {
        problems.push({ key: `${key}[${i}]`, message: `expected a server name, got ${describe(member)}` });
      } else if (!Object.hasOwn(servers, member)) {
        problems.push({ key: `${key}[${i}]`, message: unknownServer(member, names) });
      }
    });
    groups[group] = [...new Set(members.filter((m): m is string => typeof m === 'string'))];
  }
  return groups;
}

function defaultOf(
  value: unknown,
  servers: Record<string, ServerConfig>,
  groups: Record<string, string[]>,
  problems: Problem[],
): string | undefined {
  if (value === undefined) return undefined;
  const known = [...Object.keys(servers), ...Object.keys(groups), 'all'];
  if (typeof value !== 'string') {
    problems.push({ key: 'default', message: `expected the name of a server or group, got ${describe(value)}` });
  } else if (!known.includes(value)) {
    problems.push({ key: 'default', message: unknownServer(value, known) });
  }
  return typeof value === 'string' ? value : undefined;
}

function unknownServer(name: string, known: string[]): string {
  const guess = closest(name, known);
  return `there is no server "${name}"${guess ? `: did you mean "${guess}"?` : '.'} Known: ${known.join(', ') || '(none)'}`;
}
