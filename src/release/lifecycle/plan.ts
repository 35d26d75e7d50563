import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseFlags, type Flags, type TaskName } from '../../cli/flags';
import { loadConfig, selectServers, validateBranch } from '../../config';
import type { AttacheConfig, ServerConfig } from '../../config/types';
import { AttacheError } from '../../errors';
import { createLogger, registerSecret, registerSecretText, type Logger } from '../../log';

/** The env file Attaché's `install` installs as root/.env when --env names none. */
export const INSTALL_ENV = '.env.example';

/** What the gulpfile may say instead of the command line (each wins over its flag). */
export interface PlanOptions {
  /** Path of the config file (default `.attache.json` in cwd; --config). */
  config?: string;
  /** The project directory: where the config, the build and the assets are (default process.cwd()). */
  cwd?: string;
  /** Server selection; overrides --server. */
  server?: string;
  /** Branch; overrides --branch and the config. */
  branch?: string;
  /** Local env file installed as root/.env on a first deploy; overrides --env. */
  env?: string;
  /** Values applied over every server of the file (gulpfile options win over the file). */
  overrides?: Record<string, unknown>;
  /** Servers worked on at once; overrides --parallel (default 10). */
  parallel?: number;
  dryRun?: boolean;
  logger?: Logger;
  /** Command-line flags (default process.argv). */
  argv?: string[];
}

/** A task's plan: the config read and checked, the servers chosen, the flags read. Nothing has connected yet. */
export interface Plan {
  task: TaskName;
  config: AttacheConfig;
  /** The servers this task is for, in order (from --server, groups, default). */
  selected: ServerConfig[];
  /** The project directory (where assets are built and found). */
  cwd: string;
  /** The branch to deploy (--branch overrides each server's). */
  branch?: string;
  /** A local .env file to install as root/.env on a first deploy (--env=). */
  envFile?: string;
  dryRun: boolean;
  /** Servers worked on at once (--parallel, default 10). */
  parallel: number;
  log: Logger;
  /** The command line's flags (--force, --artifact, …), read and checked here. */
  flags: Flags;
}

/**
 * Config and flags into a plan, with every rule that can be checked before anything builds or
 * connects: the flags, the file, the server selection, the branch, the env file, and for a deploy
 * the fleet rule (one migrating server). Secrets are registered here, before anything can print them.
 */
export function makePlan(task: TaskName, options: PlanOptions): Plan {
  const flags = parseFlags(options.argv, task);
  const log = options.logger ?? createLogger({ verbosity: flags.verbose ? 'verbose' : flags.quiet ? 'quiet' : 'normal' });
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const config = readConfig(options, flags, log);
  const selected = selectServers(config, options.server ?? flags.server);
  const branch = options.branch ?? flags.branch;
  if (branch) validateBranch(branch);
  if (task === 'deploy' || task === 'install') checkOneMigratingServer(selected);
  if (flags.artifact && !selected.some((server) => server.strategy === 'artifact')) {
    throw new AttacheError(
      `--artifact=${flags.artifact} ships a built artifact, and none of ${selected.map((s) => s.name).join(', ')} has "strategy": "artifact"`,
      {
        key: 'strategy',
        hint: 'Set "strategy": "artifact" on the server(s) to deploy built trees, or leave --artifact out.',
      },
    );
  }
  for (const server of selected) {
    server.secrets.forEach(registerSecret);
    registerSecret(server.ssh.passphrase);
    if (server.ssh.identityEnv) registerSecretText(process.env[server.ssh.identityEnv]);
  }
  // Attaché's install installs .env.example unless told otherwise.
  const envFile = options.env ?? flags.env ?? (task === 'install' ? INSTALL_ENV : undefined);
  if (envFile && !existsSync(path.resolve(cwd, envFile))) {
    throw new AttacheError(`the env file ${path.resolve(cwd, envFile)} does not exist`, {
      hint: '--env names a local file to install as root/.env on a first deploy.',
    });
  }
  return {
    task,
    config,
    selected,
    cwd,
    branch,
    envFile,
    dryRun: options.dryRun ?? flags.dryRun,
    parallel: options.parallel ?? flags.parallel ?? 10,
    log,
    flags,
  };
}

/** The config file (the gulpfile's, else --config, else .attache.json), its warnings said once. */
export function readConfig(options: PlanOptions, flags: Flags, log: Logger): AttacheConfig {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const config = loadConfig(options.config ?? flags.config ?? '.attache.json', { cwd, overrides: options.overrides });
  for (const warning of config.warnings) log.warn(`${path.relative(cwd, config.file) || config.file}: ${warning.key}: ${warning.message}`);
  return config;
}

/** Servers share one database: a fleet migrates once, from the server marked for it. */
function checkOneMigratingServer(selected: ServerConfig[]): void {
  const migrating = selected.filter((server) => server.migrate).map((server) => server.name);
  if (migrating.length > 1) {
    throw new AttacheError(`"migrate" is true on ${migrating.join(', ')}, which are deployed together`, {
      key: 'migrate',
      hint: 'Set "migrate": true on one server of the fleet only (in its own server block, not in "common").',
    });
  }
}
