import { AttacheError } from '../errors';
import { editDistance } from '../config/suggest';
import { validateBranch } from '../config/validate';

/**
 * Every command-line flag of gulp-attache, once: its name, what it means, which tasks take it and
 * how its value is read. `gulp --tasks` shows each task's own list from here, and parseFlags refuses
 * a flag that is one of ours misspelt (or one of ours that this task does not take) before anything
 * builds or connects.
 */

/** The preset's tasks, by the names its object gives them (gulp may register them under others). */
export type TaskName = 'deploy' | 'rollback' | 'activate' | 'releases' | 'prune' | 'unlock' | 'doctor' | AttacheCommand;

/** Attaché's other commands, as tasks: init, install, releases:delete, releases:down/up, servers:list, ssh. */
export type AttacheCommand = 'init' | 'install' | 'delete' | 'down' | 'up' | 'servers' | 'ssh';

/** Tasks that work on servers (all but init, which writes the config, and servers, which only reads it). */
const ON_SERVERS: readonly TaskName[] = [
  'deploy',
  'rollback',
  'activate',
  'releases',
  'prune',
  'unlock',
  'install',
  'delete',
  'down',
  'up',
  'ssh',
];

export interface FlagSpec {
  name: `--${string}`;
  description: string;
  /** Tasks that take it; 'every' for all of them. */
  tasks: readonly TaskName[] | 'every';
  /** Placeholder of the value (`--server=<name>`); a flag without one is a switch. */
  value?: string;
}

export const FLAGS: readonly FlagSpec[] = [
  {
    name: '--server',
    value: '<name>',
    description: 'server name(s), group, or "all" (default: the config\'s default)',
    tasks: [...ON_SERVERS, 'doctor'],
  },
  {
    name: '--config',
    value: '<file>',
    description: 'the config file (default .attache.json; init writes it); also -c <file>',
    tasks: 'every',
  },
  { name: '--branch', value: '<branch>', description: "branch to deploy (default: the config's)", tasks: ['deploy', 'install', 'doctor'] },
  {
    name: '--env',
    value: '<file>',
    description: 'local env file to install as root/.env on a first deploy (install: default .env.example)',
    tasks: ['deploy', 'install'],
  },
  { name: '--release', value: '<id>', description: 'the release id (activate: or "latest")', tasks: ['activate', 'delete'] },
  {
    name: '--count',
    value: '<n>',
    description: 'remove this many of the oldest releases, whatever "keep" says (Attaché\'s releases:prune --count)',
    tasks: ['prune'],
  },
  { name: '--remote', value: '<name>', description: 'the git remote to write as the repository, when there are several', tasks: ['init'] },
  {
    name: '--parallel',
    value: '<n>',
    description: 'servers worked on at once (default 10)',
    tasks: [...ON_SERVERS.filter((t) => t !== 'ssh'), 'doctor'],
  },
  { name: '--report', value: '<file>', description: 'write the report as JSON to this file', tasks: ['deploy', 'install', 'doctor'] },
  {
    name: '--artifact',
    value: '<id|server>',
    description: 'deploy this built artifact, or the one a server runs (promote staging\'s): "strategy": "artifact"',
    tasks: ['deploy'],
  },
  { name: '--force', description: 'deploy even when the live release already holds this artifact', tasks: ['deploy'] },
  {
    name: '--any-commit',
    description:
      'deploy even when the local checkout the assets are built from has uncommitted changes or is not the commit the server deploys',
    tasks: ['deploy', 'install'],
  },
  { name: '--dry-run', description: 'read the server and print what would change; change nothing', tasks: ON_SERVERS },
  { name: '--verbose', description: 'show every remote command and file', tasks: 'every' },
  { name: '--quiet', description: 'show only warnings, errors and the summary', tasks: 'every' },
];

export interface Flags {
  /** `--server=`; repeated flags are joined with commas. */
  server?: string;
  config?: string;
  branch?: string;
  release?: string;
  env?: string;
  count?: number;
  remote?: string;
  parallel?: number;
  report?: string;
  /** `--artifact=`: an artifact id (or prefix) in the local cache, or a server whose live artifact to deploy. */
  artifact?: string;
  force: boolean;
  /** `--any-commit`: assets built from another commit than the server deploys are accepted (said in the log and the marker). */
  anyCommit: boolean;
  dryRun: boolean;
  verbose: boolean;
  quiet: boolean;
  /** `--flags` that are neither ours nor gulp's nor near ours: the gulpfile's own tasks may have them. */
  unknown: string[];
}

/** gulp-cli's own long flags: never ours to judge. */
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

/** The flags a task takes, as `gulp --tasks` shows them (`--server=<name>`: description). */
export function flagsOf(task: TaskName): Record<string, string> {
  return Object.fromEntries(
    FLAGS.filter((flag) => takes(flag, task)).map((flag) => [flag.value ? `${flag.name}=${flag.value}` : flag.name, flag.description]),
  );
}

function takes(flag: FlagSpec, task: TaskName): boolean {
  return flag.tasks === 'every' || flag.tasks.includes(task);
}

/**
 * Our flags, from gulp's argv, for one task (or for none: every flag of ours is then accepted).
 * Positional words (node, gulp, task names) and single-dash flags (-T, -h) are gulp's business.
 */
export function parseFlags(argv: readonly string[] = process.argv, task?: TaskName): Flags {
  const flags: Flags = { force: false, anyCommit: false, dryRun: false, verbose: false, quiet: false, unknown: [] };
  const servers: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    // Attaché's -c for --config (gulp has no -c of its own).
    const arg = argv[i] === '-c' || argv[i].startsWith('-c=') ? `--config${argv[i].slice(2)}` : argv[i];
    if (arg === '--') break;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    let value = eq === -1 ? undefined : arg.slice(eq + 1);
    if (name === '--silent') flags.quiet = true; // gulp's own quiet flag means ours too
    if (GULP_FLAGS.has(name)) continue;

    const spec = FLAGS.find((flag) => flag.name === name);
    if (!spec) {
      const near = nearest(name);
      if (near) {
        // A typo of ours would otherwise be ignored, and `--dryrun` would deploy for real.
        throw new AttacheError(`unknown flag ${name}; did you mean ${near}?`, {
          hint: `Nothing was done. The flags are listed by: gulp --tasks`,
        });
      }
      flags.unknown.push(name);
      continue;
    }
    if (task && !takes(spec, task)) {
      const owners = spec.tasks === 'every' ? [] : spec.tasks;
      throw new AttacheError(`${name} is not a flag of ${task} (it is one of ${owners.join(', ')})`, {
        hint: `Nothing was done. ${task} takes: ${Object.keys(flagsOf(task)).join(' ')}`,
      });
    }
    if (!spec.value) {
      if (value !== undefined) throw new AttacheError(`${name} takes no value (got ${arg})`, { hint: `Write ${name} alone.` });
      if (name === '--dry-run') flags.dryRun = true;
      else if (name === '--force') flags.force = true;
      else if (name === '--any-commit') flags.anyCommit = true;
      else if (name === '--verbose') flags.verbose = true;
      else flags.quiet = true;
      continue;
    }
    if (value === undefined && i + 1 < argv.length && !argv[i + 1].startsWith('-')) value = argv[++i];
    if (value === undefined || value === '') throw new AttacheError(`${name} needs a value`, { hint: `Write ${name}=${spec.value}.` });
    if (name === '--server') servers.push(value);
    else if (name === '--branch') flags.branch = validateBranch(value);
    // Not checked here: activate also takes words such as `latest`, and validates ids itself.
    else if (name === '--release') flags.release = value;
    else if (name === '--env') flags.env = value;
    else if (name === '--config') flags.config = value;
    else if (name === '--report') flags.report = value;
    else if (name === '--artifact') flags.artifact = value;
    else if (name === '--remote') flags.remote = value;
    else if (name === '--count') flags.count = wholeNumber(name, value, 1);
    else flags.parallel = wholeNumber(name, value, 1);
  }
  if (servers.length) flags.server = servers.join(',');
  return flags;
}

/**
 * The flag of ours a foreign one is probably a typo of: within two edits, or one for short names
 * (so that a gulpfile's own `--port` is not taken for `--report`).
 */
function nearest(name: string): string | undefined {
  const bare = name.slice(2).toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const flag of FLAGS) {
    const candidate = flag.name.slice(2);
    const distance = editDistance(bare, candidate);
    const limit = Math.min(bare.length, candidate.length) < 6 ? 1 : 2;
    if (distance <= limit && (!best || distance < best.distance)) best = { name: flag.name, distance };
  }
  return best?.name;
}

function wholeNumber(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new AttacheError(`${name}=${value} is not a whole number${min > 0 ? ` of at least ${min}` : ''}`, {
      hint: `Write ${name}=N, e.g. ${name}=2.`,
    });
  }
  return n;
}
