import type { AssetMapping, HealthCheck, HookName } from './types';

/** SSH options as the config file names them (see ssh/resolve.ts for their meaning). */
export interface SshKeys {
  acceptNewHostKeys?: boolean;
  knownHostsFile?: string;
  knownHostsEnv?: string;
  identityFile?: string | string[];
  identityEnv?: string;
  passphraseEnv?: string;
  forwardAgent?: boolean;
  connectTimeout?: number;
  proxyJump?: string;
  sshConfigFile?: string;
  agent?: string | false;
}

/** A server as written in `.attache.json` (or passed from a gulpfile), before validation and defaults. */
export interface RawServer extends SshKeys {
  /** Only in the older array form of `servers`. */
  name?: string;
  host: string;
  port?: number;
  user?: string;
  root: string;
  repository?: string;
  branch?: string;
  paths?: { releases?: string; serve?: string; storage?: string; env?: string };
  php?: { bin?: string };
  composer?: { bin?: string; dev?: boolean };
  /** `{ "local": "remote" }`, `["same/path"]` or `[{ "local": …, "remote": … }]`. */
  assets?: Record<string, string> | Array<string | AssetMapping>;
  migrate?: boolean;
  scripts?: Partial<Record<HookName | 'build', string | string[]>>;
  /** Same as `scripts.build`. */
  build?: string | string[];
  keep?: number;
  /** The SSH options may also be grouped in `ssh`; a key given directly on the server wins. */
  ssh?: SshKeys;
  /** A URL, or the full form. */
  healthcheck?: string | (Partial<HealthCheck> & { url: string });
  secrets?: string[];
  skip?: string[];
}

export type Segment = string | number;

/** One thing wrong with the configuration: where (a key path) and what. */
export interface Problem {
  key: string;
  message: string;
}

export interface MergedServer {
  name: string;
  /** The key path of the server's own entry: `servers.production`, or `servers[0]` in the array form. */
  prefix: string;
  /** `common` (and the top-level `repository`) with the server's keys and the overrides merged over it. */
  raw: Record<string, unknown>;
  /** The key path a value came from (the server, `common`, the top level or the overrides), for messages. */
  where(keys: readonly Segment[]): string;
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Never a setting, anywhere: JSON.parse keeps `"__proto__"` as a plain key, and merging or assigning
 * it (deepMerge, `servers[name] = …`) would replace an object's prototype instead of setting a value;
 * `constructor` and `prototype` name the same machinery.
 */
export const UNSAFE_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** `value` rebuilt without UNSAFE_KEYS at any depth; each one found is a problem at its key path (under `keys`). */
export function withoutUnsafeKeys(value: unknown, keys: readonly Segment[], problems: Problem[]): unknown {
  if (Array.isArray(value)) return value.map((item, i) => withoutUnsafeKeys(item, [...keys, i], problems));
  // Only plain objects (all JSON makes): a gulpfile's overrides may hold an instance, which stays as it is.
  if (!isObject(value) || ![Object.prototype, null].includes(Object.getPrototypeOf(value))) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const at = [...keys, key];
    if (UNSAFE_KEYS.includes(key)) {
      problems.push({
        key: formatKey(at),
        message: `the key "${key}" is not allowed anywhere in the configuration: it is a name JavaScript objects reserve, never a setting`,
      });
    } else {
      out[key] = withoutUnsafeKeys(item, at, problems);
    }
  }
  return out;
}

/** Objects merge key by key, recursively; arrays and scalars in `over` replace what `base` has; UNSAFE_KEYS are skipped. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isObject(base) || !isObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) if (!UNSAFE_KEYS.includes(key)) out[key] = deepMerge(base[key], value);
  return out;
}

export function formatKey(keys: readonly Segment[]): string {
  return keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

function has(value: unknown, keys: readonly Segment[]): boolean {
  let current = value;
  for (const key of keys) {
    if (typeof key === 'number' ? !Array.isArray(current) || key >= current.length : !isObject(current) || !Object.hasOwn(current, key)) {
      return false;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return true;
}

/**
 * The servers of a parsed file, each merged over `common`. `servers` is an object keyed by name
 * (Attaché 0.7) or an array of objects with `name` (older Attaché).
 */
export function mergeServers(file: Record<string, unknown>, overrides: unknown, problems: Problem[]): MergedServer[] {
  const common = file.common ?? {};
  if (!isObject(common)) {
    problems.push({ key: 'common', message: `expected an object of settings shared by every server, got ${describe(common)}` });
  }
  if (overrides !== undefined && !isObject(overrides)) {
    problems.push({ key: 'overrides', message: `expected an object of server settings, got ${describe(overrides)}` });
  }
  // The top level's server keys (repository; a fleet's rollout) apply to every server, under `common`.
  const base: Record<string, unknown> = Object.fromEntries(
    (['repository', 'rollout'] as const).filter((key) => file[key] !== undefined).map((key) => [key, file[key]]),
  );
  const shared = deepMerge(base, isObject(common) ? common : {});

  const entries: Array<{ name: string; prefix: string; value: Record<string, unknown> }> = [];
  const { servers } = file;
  if (Array.isArray(servers)) {
    servers.forEach((value, i) => {
      const prefix = `servers[${i}]`;
      if (!isObject(value)) {
        problems.push({ key: prefix, message: `expected a server object, got ${describe(value)}` });
      } else if (typeof value.name !== 'string') {
        problems.push({ key: `${prefix}.name`, message: `expected the server's name (a string), got ${describe(value.name)}` });
      } else {
        entries.push({ name: value.name, prefix, value });
      }
    });
  } else if (isObject(servers)) {
    for (const [name, value] of Object.entries(servers)) {
      const prefix = `servers.${name}`;
      if (isObject(value)) entries.push({ name, prefix, value });
      else problems.push({ key: prefix, message: `expected a server object, got ${describe(value)}` });
    }
  } else {
    problems.push({
      key: 'servers',
      message: `expected an object of servers by name, e.g. { "production": { "host": …, "root": … } }, got ${describe(servers)}`,
    });
  }
  if ((Array.isArray(servers) && servers.length === 0) || (isObject(servers) && Object.keys(servers).length === 0)) {
    problems.push({ key: 'servers', message: 'expected at least one server, got none' });
  }

  const seen = new Map<string, string>();
  const merged: MergedServer[] = [];
  for (const { name, prefix, value } of entries) {
    const nameProblem = serverNameProblem(name);
    if (nameProblem) problems.push({ key: Array.isArray(servers) ? `${prefix}.name` : prefix, message: nameProblem });
    const first = seen.get(name);
    if (first !== undefined) {
      problems.push({ key: prefix, message: `server name "${name}" is used twice (first at ${first}); names must be unique` });
      continue;
    }
    seen.set(name, prefix);
    const raw = deepMerge(deepMerge(shared, value), isObject(overrides) ? overrides : undefined) as Record<string, unknown>;
    const where = (keys: readonly Segment[]): string => {
      if (has(overrides, keys)) return formatKey(['overrides', ...keys]);
      if (has(value, keys)) return `${prefix}.${formatKey(keys)}`;
      if (has(common, keys)) return formatKey(['common', ...keys]);
      if (has(base, keys)) return formatKey(keys);
      return `${prefix}.${formatKey(keys)}`;
    };
    merged.push({ name, prefix, raw, where });
  }
  return merged;
}

/** Names are typed in `--server=a,b`: no commas or spaces, and `all` means every server. */
export function serverNameProblem(name: string): string | undefined {
  if (name === '') return 'expected a non-empty name';
  if (name === 'all') return 'the name "all" is reserved: --server=all selects every server';
  if (/[,\s\0]/.test(name) || /[\u0000-\u001f\u007f]/.test(name)) {
    return `expected a name without commas, spaces or control characters (it is typed in --server=a,b), got ${JSON.stringify(name)}`;
  }
  return undefined;
}

/** A value as an error message shows it: strings and numbers quoted as JSON, structures by kind. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (isObject(value)) return 'an object';
  const json = JSON.stringify(value);
  return json.length > 80 ? `${json.slice(0, 77)}…` : json;
}
