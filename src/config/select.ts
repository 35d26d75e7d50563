import { AttacheError } from '../errors';
import { closest } from './suggest';
import type { AttacheConfig, ServerConfig } from './types';
import { validateBranch } from './validate';

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
  for (const part of wanted.split(',').map((s) => s.trim()).filter(Boolean)) {
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

export interface Flags {
  /** `--server=`; repeated flags are joined with commas. */
  server?: string;
  branch?: string;
  release?: string;
  env?: string;
  dryRun: boolean;
  verbose: boolean;
  quiet: boolean;
  parallel?: number;
  /** `--config=<file>` (or `-c <file>`): another config file than .attache.json. */
  config?: string;
  /** `--count=<n>`: how many releases prune removes (Attaché's releases:prune --count). */
  count?: number;
  /** `--remote=<name>`: the git remote init writes into the config. */
  remote?: string;
  /** `--flags` that are neither ours nor gulp's, by name (e.g. `--sever`). */
  unknown: string[];
}

const GULP_FLAGS = new Set([
  '--gulpfile',
  '--cwd',
  '--tasks',
  '--color',
  '--no-color',
  '--series',
  '--continue',
  '--require',
  '--preload',
  '--log-level',
  '--silent',
  '--depth',
  '--compact-tasks',
  '--tasks-simple',
  '--tasks-json',
  '--sort-tasks',
  '--verify',
  '--help',
  '--version',
  '--completion',
]);
const WITH_VALUE = new Set(['--server', '--branch', '--release', '--env', '--parallel', '--config', '--count', '--remote']);
const BOOLEAN = new Set(['--dry-run', '--verbose', '--quiet']);

/**
 * Our command-line flags, from gulp's argv. Positional words (node, gulp, task names) and
 * single-dash flags (-T, -h, -v, -L) are gulp's business and ignored.
 */
export function parseFlags(argv: readonly string[] = process.argv): Flags {
  const flags: Flags = { dryRun: false, verbose: false, quiet: false, unknown: [] };
  const servers: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') break;
    // Attaché's -c for --config; gulp has no -c of its own.
    const short = arg === '-c' || arg.startsWith('-c=') ? `--config${arg.slice(2)}` : arg;
    if (!short.startsWith('--')) continue;
    const eq = short.indexOf('=');
    const name = eq === -1 ? short : short.slice(0, eq);
    let value = eq === -1 ? undefined : short.slice(eq + 1);

    if (BOOLEAN.has(name)) {
      if (value !== undefined) throw new AttacheError(`${name} takes no value (got ${arg})`, { hint: `Write ${name} alone.` });
      if (name === '--dry-run') flags.dryRun = true;
      else if (name === '--verbose') flags.verbose = true;
      else flags.quiet = true;
    } else if (WITH_VALUE.has(name)) {
      if (value === undefined && i + 1 < argv.length && !argv[i + 1].startsWith('-')) value = argv[++i];
      if (value === undefined || value === '') {
        throw new AttacheError(`${name} needs a value`, { hint: `Write ${name}=<value>.` });
      }
      if (name === '--server') servers.push(value);
      else if (name === '--branch') flags.branch = validateBranch(value);
      // Not checked here: the rollback task also accepts words such as `latest`, and validates ids itself.
      else if (name === '--release') flags.release = value;
      else if (name === '--env') flags.env = value;
      else if (name === '--config') flags.config = value;
      else if (name === '--remote') flags.remote = value;
      else if (name === '--count') flags.count = positiveInteger(value, name);
      else flags.parallel = positiveInteger(value, name);
    } else if (name === '--silent') {
      // gulp's own quiet flag; the logger treats it as --quiet too.
      flags.quiet = true;
    } else if (!GULP_FLAGS.has(name)) {
      flags.unknown.push(name);
    }
  }
  if (servers.length) flags.server = servers.join(',');
  return flags;
}

function positiveInteger(value: string, name: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new AttacheError(`${name}=${value} is not a positive whole number`, { hint: `Write ${name}=N, e.g. ${name}=2.` });
  }
  return n;
}
