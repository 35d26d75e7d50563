import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, parseFlags, selectServers, validateBranch, validateReleaseId } from './config';
import { closest } from './config/suggest';
import { AttacheError } from './errors';
import { createLogger, registerSecret, type Logger } from './log';
import { mapLimit } from './limit';
import { toPluginError } from './plugins/plugin-error';
import { COMMIT_AFTER, DEPLOY_PLAN, DEPLOY_SERIES, connect, lock, unlock, type Deploy, type ServerRun, type Step } from './release';
import type { PlanPart } from './release/index';
import { deleteRelease } from './release/operations/delete';
import { initConfig, terminalAsk } from './release/operations/init';
import { INSTALL_ENV, INSTALL_PLAN } from './release/operations/install';
import { maintenance } from './release/operations/maintenance';
import { pruneCount } from './release/operations/prune-count';
import { serversTable } from './release/operations/servers';
import { openShell } from './release/operations/ssh';
import { listReleases, type ReleaseInfo } from './release/releases';
import { activateRelease } from './release/rollback';
import { pruneReleases } from './release/prune';
import { releaseLock } from './release/lock';
import { abort, close, commit, onInterrupt, runStep } from './release/runner';
import { deploySummary, releasesAcrossServers, releasesTable } from './release/summary';

/** A gulp task function, with the metadata `gulp --tasks` shows. */
export type TaskFunction = ((done?: (error?: Error) => void) => Promise<unknown> | void) & {
  displayName?: string;
  description?: string;
  flags?: Record<string, string>;
};

/** The part of gulp the preset needs: its own `series`, so `gulp --tasks` shows every step. */
export interface GulpLike {
  series(...tasks: TaskFunction[]): TaskFunction;
  parallel(...tasks: TaskFunction[]): TaskFunction;
}

/** Steps that may begin a new deploy; any other step joins the one under way. */
const STARTING_STEPS = new Set(['build', 'connect', 'lock']);

export interface AttacheOptions {
  /** Path of the config file (default `.attache.json` in cwd). */
  config?: string;
  /** The project directory: where the config, the build and the assets are (default process.cwd()). */
  cwd?: string;
  /** Server selection; overrides --server. */
  server?: string;
  /** Branch; overrides --branch and the config. */
  branch?: string;
  /** Local env file installed as root/.env on a first deploy; overrides --env. */
  env?: string;
  /** Replace the build step with your own gulp task, or `false` to skip it. */
  build?: TaskFunction | false;
  /** Values applied over every server of the file (gulpfile options win over the file). */
  overrides?: Record<string, unknown>;
  /** Servers prepared at once; overrides --parallel (default 10). */
  parallel?: number;
  dryRun?: boolean;
  /** Your gulp (default: the `gulp` your project has installed). */
  gulp?: GulpLike;
  logger?: Logger;
  /** Command-line flags (default process.argv). */
  argv?: string[];
}

export interface AttacheTasks {
  deploy: TaskFunction;
  rollback: TaskFunction;
  activate: TaskFunction;
  releases: TaskFunction;
  prune: TaskFunction;
  unlock: TaskFunction;
  /** Attaché's commands: init, install, releases:delete, releases:down/up, servers:list, ssh. */
  init: TaskFunction;
  install: TaskFunction;
  delete: TaskFunction;
  down: TaskFunction;
  up: TaskFunction;
  servers: TaskFunction;
  ssh: TaskFunction;
  /** Each deploy step as its own task (`deploy:clone`, …), to compose a series of your own. */
  steps: Record<string, TaskFunction>;
}

const CONFIG_FLAG = { '--config': 'the config file (default .attache.json); also -c <file>' };

/** The flags every task that reads the servers takes. */
const SERVER_FLAGS = {
  ...CONFIG_FLAG,
  '--server': 'server name(s), group, or "all" (default: the config\'s default)',
  '--dry-run': 'print what would be done; change nothing',
  '--verbose': 'show every remote command and file',
  '--quiet': 'show only errors and the summary',
};

const FLAGS = {
  ...CONFIG_FLAG,
  '--server': 'server name(s), group, or "all" (default: the config\'s default)',
  '--branch': 'branch to deploy (default: the config\'s)',
  '--env': 'local env file to install as root/.env on a first deploy',
  '--dry-run': 'print what would be done; change nothing',
  '--parallel': 'servers prepared at once (default 10)',
  '--verbose': 'show every remote command and file',
  '--quiet': 'show only errors and the summary',
};

/** Attaché's release series as gulp tasks. The preset wires config and steps together; the steps do the work. */
export function attache(options: AttacheOptions = {}): AttacheTasks {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  let current: Deploy | undefined;
  let stopInterrupt = () => {};

  /** Config first: every mistake in it is reported before anything connects. */
  function begin(mode: 'deploy' | 'install' = 'deploy'): Deploy {
    const flags = parseFlags(options.argv);
    const log = options.logger ?? createLogger({ verbosity: flags.verbose ? 'verbose' : flags.quiet ? 'quiet' : 'normal' });
    // A warning, not a failure: the gulpfile's own tasks may have flags of their own.
    if (flags.unknown.length) log.warn(unknownFlags(flags.unknown));
    const config = loadOnly(flags, log);
    const selected = selectServers(config, options.server ?? flags.server);
    const branch = options.branch ?? flags.branch;
    if (branch) validateBranch(branch);
    const migrating = selected.filter((server) => server.migrate).map((server) => server.name);
    if (migrating.length > 1) {
      // Servers share one database: a fleet migrates once, from the server marked for it.
      throw new AttacheError(`"migrate" is true on ${migrating.join(', ')}, which are deployed together`, {
        key: 'migrate',
        hint: 'Set "migrate": true on one server of the fleet only (in its own server block, not in "common").',
      });
    }
    for (const server of selected) {
      server.secrets.forEach(registerSecret);
      registerSecret(server.ssh.passphrase);
    }
    // Attaché's install installs .env.example unless told otherwise.
    const envFile = options.env ?? flags.env ?? (mode === 'install' ? INSTALL_ENV : undefined);
    if (envFile && !existsSync(path.resolve(cwd, envFile))) {
      throw new AttacheError(`the env file ${path.resolve(cwd, envFile)} does not exist`, { hint: '--env names a local file to install as root/.env on a first deploy.' });
    }
    return {
      config,
      selected,
      servers: [],
      cwd,
      branch,
      envFile,
      dryRun: options.dryRun ?? flags.dryRun,
      parallel: options.parallel ?? flags.parallel ?? 10,
      log,
      startedAt: Date.now(),
      inFlight: new Set(),
      cancel: new AbortController(),
      state: 'running',
    };
  }

  /** The config file (--config, else .attache.json), its warnings said once. */
  function loadOnly(flags: ReturnType<typeof parseFlags>, log: Logger) {
    const config = loadConfig(options.config ?? flags.config ?? '.attache.json', { cwd, overrides: options.overrides });
    for (const warning of config.warnings) log.warn(`${path.relative(cwd, config.file) || config.file}: ${warning.key}: ${warning.message}`);
    return config;
  }

  /** begin(), with its config and flag errors turned into PluginErrors like every other failure. */
  function startDeploy(mode: 'deploy' | 'install' = 'deploy'): Deploy {
    try {
      return begin(mode);
    } catch (error) {
      throw toPluginError(error);
    }
  }

  /**
   * The end of a deploy, exactly once: on failure (a step, the other branch of the parallel part, or
   * Ctrl-C, whichever comes first) the undo; on success the commit. Later callers wait for the same end.
   */
  function finish(deploy: Deploy, failure?: unknown): Promise<void> {
    deploy.finishing ??= (async () => {
      if (failure !== undefined) {
        deploy.failure = failure;
        await abort(deploy);
        if (deploy.committed) deploy.log.warn('the new release is live: it passed the health check before this failure, which was not undone');
      } else {
        commit(deploy);
        deploy.state = 'deployed';
        await close(deploy);
      }
      deploy.log.summary(deploySummary(deploy, DEPLOY_SERIES.map((s) => s.name)));
      stopInterrupt();
    })();
    return deploy.finishing;
  }

  function stepTask(step: Step, mode: 'deploy' | 'install' = 'deploy'): TaskFunction {
    return named(`${mode}:${step.name}`, step.description, async () => {
      if (current?.state === 'failed' && !STARTING_STEPS.has(step.name)) {
        // The other branch of a parallel part failed and undid the deploy: nothing left to do here.
        current.log.debug(`${step.name}: not run, the deploy failed`);
        return;
      }
      if (!current || current.state !== 'running') {
        const started = startDeploy(mode);
        current = started;
        stopInterrupt = onInterrupt(started, (reason) => finish(started, reason));
      }
      const deploy = current;
      try {
        if (step.run && !deploy.servers.length) await runStep(connect, deploy); // a custom series may leave connect out
        await runStep(step, deploy);
        if (step.name === COMMIT_AFTER) commit(deploy);
        if (step === unlock) await finish(deploy);
      } catch (error) {
        await finish(deploy, error); // the first failure undoes; the others wait for it
        if (deploy.interrupted) return; // Ctrl-C: already undone and reported; the exit code says the rest
        throw toPluginError(deploy.failure);
      }
    });
  }

  const gulp = resolveGulp(options.gulp, cwd);
  const steps = Object.fromEntries(DEPLOY_SERIES.map((step) => [step.name, stepTask(step)]));
  const planned = (plan: readonly PlanPart[], tasks: Record<string, TaskFunction>) =>
    plan.flatMap((part): TaskFunction[] => {
      if ('together' in part) return [gulp.parallel(...part.together.map((branch) => gulp.series(...branch.map((step) => tasks[step.name]))))];
      if (part.name !== 'build') return [tasks[part.name]];
      return options.build === false ? [] : [options.build ?? tasks.build];
    });
  const series = planned(DEPLOY_PLAN, steps);
  const installSteps = Object.fromEntries(INSTALL_PLAN.flatMap((part) => ('together' in part ? part.together.flat() : [part])).map((step) => [step.name, stepTask(step, 'install')]));

  const listed = new Map<string, ReleaseInfo[]>();

  /** rollback, activate, prune, unlock, releases: connect, (lock,) act on each server, (unlock,) close. */
  function operation(
    name: string,
    description: string,
    locked: boolean,
    act: (run: ServerRun, deploy: Deploy) => Promise<void>,
    check: (deploy: Deploy) => void = () => {},
  ): TaskFunction {
    const step: Step = { name, description, run: act };
    return named(name, description, async () => {
      const deploy = startDeploy();
      listed.clear();
      try {
        check(deploy); // flags the operation needs, before anything connects
      } catch (error) {
        throw toPluginError(error);
      }
      // The same runner as a deploy: every server finishes before a failure is undone, and Ctrl-C undoes too.
      const stop = (reason?: unknown) => (deploy.finishing ??= (reason === undefined ? close(deploy) : ((deploy.failure = reason), abort(deploy))));
      const removeHandlers = onInterrupt(deploy, stop);
      try {
        await runStep(connect, deploy);
        if (locked) await runStep(lock, deploy);
        await runStep(step, deploy);
        if (locked) await runStep(unlock, deploy);
        await stop();
      } catch (error) {
        await stop(error);
        if (!deploy.interrupted) throw toPluginError(deploy.failure);
      } finally {
        removeHandlers();
      }
    });
  }

  return {
    deploy: withFlags(named('deploy', 'deploy a new release (build, lock, clone, then shared → composer → artisan beside the asset upload, live, health, prune, unlock)', gulp.series(...series))),
    rollback: withFlags(
      operation('rollback', 'point live at the release before it (atomic)', true, async (run) => {
        await activateRelease(run, 'previous');
      }),
      SERVER_FLAGS,
      true,
    ),
    activate: withFlags(
      operation(
        'activate',
        'point live at --release=<id> (or "latest")',
        true,
        async (run) => {
          await activateRelease(run, parseFlags(options.argv).release as string);
        },
        () => {
          const release = parseFlags(options.argv).release;
          if (!release) throw new AttacheError('activate needs a release: --release=<id> or --release=latest', { hint: 'List them with: gulp releases' });
          if (release !== 'latest') validateReleaseId(release);
        },
      ),
      { '--release': 'the release id to activate, or "latest"' },
    ),
    releases: withFlags(
      operation('releases', 'list the releases on the server(s): id, date, commit, status, which is live', false, async (run, deploy) => {
        const releases = await listReleases(run.target, run.layout);
        listed.set(run.server.name, releases);
        deploy.log.summary(releasesTable(run.server.name, releases));
        if (listed.size === deploy.servers.length && listed.size > 1) deploy.log.summary(releasesAcrossServers(listed));
      }),
      SERVER_FLAGS,
      true,
    ),
    prune: withFlags(
      operation('prune', 'remove old releases (keeps "keep", or the --count oldest; never live nor the one before it)', true, async (run) => {
        const { count } = parseFlags(options.argv);
        if (count !== undefined) await pruneCount(run, count);
        else await pruneReleases(run);
      }),
      { ...SERVER_FLAGS, '--count': 'remove this many of the oldest releases (Attaché\'s releases:prune --count), whatever "keep" says' },
      true,
    ),
    unlock: withFlags(
      operation('unlock', 'free a deploy lock left by a deploy that was killed', false, async (run) => {
        const owner = await run.target.readFile(run.layout.lockOwner).catch(() => null);
        await releaseLock(run);
        run.log.info(`[${run.server.name}] lock freed${owner ? ` (it was held by ${owner.toString().trim()})` : ' (it was not held)'}`);
      }),
      SERVER_FLAGS,
      true,
    ),
    init: withFlags(
      named('init', "write .attache.json from the project's git remote (asks which when there are several)", async () => {
        const flags = parseFlags(options.argv);
        const log = options.logger ?? createLogger({ verbosity: flags.verbose ? 'verbose' : flags.quiet ? 'quiet' : 'normal' });
        try {
          const { file, repository } = await initConfig({ cwd, file: options.config ?? flags.config, remote: flags.remote, ask: terminalAsk() });
          log.info(`wrote ${file} (repository ${repository}): set the server's host, user and root`);
        } catch (error) {
          throw toPluginError(error);
        }
      }),
      { '--config': 'the file to write (default .attache.json)', '--remote': 'the git remote to use when there are several' },
      true,
    ),
    install: withFlags(
      named(
        'install',
        'the first deploy: refuses a server with releases, installs --env (default .env.example) as root/.env, runs artisan key:generate',
        gulp.series(...planned(INSTALL_PLAN, installSteps)),
      ),
      { '--env': `local env file to install as root/.env (default ${INSTALL_ENV})` },
    ),
    delete: withFlags(
      operation(
        'delete',
        'remove the release --release=<id> (never the live one)',
        true,
        async (run) => {
          await deleteRelease(run, parseFlags(options.argv).release as string);
        },
        () => {
          const release = parseFlags(options.argv).release;
          if (!release) throw new AttacheError('delete needs a release: --release=<id>', { hint: 'List them with: gulp releases' });
          validateReleaseId(release);
        },
      ),
      { ...SERVER_FLAGS, '--release': 'the release id to delete' },
      true,
    ),
    down: withFlags(operation('down', 'php artisan down in the live release (maintenance mode)', false, (run) => maintenance(run, 'down')), SERVER_FLAGS, true),
    up: withFlags(operation('up', 'php artisan up in the live release (out of maintenance mode)', false, (run) => maintenance(run, 'up')), SERVER_FLAGS, true),
    servers: withFlags(
      named('servers', 'list the configured servers: name, host, port, user, root, branch (nothing connects)', async () => {
        const flags = parseFlags(options.argv);
        const log = options.logger ?? createLogger({ verbosity: flags.verbose ? 'verbose' : flags.quiet ? 'quiet' : 'normal' });
        try {
          log.summary(serversTable(loadOnly(flags, log)));
        } catch (error) {
          throw toPluginError(error);
        }
      }),
      CONFIG_FLAG,
      true,
    ),
    ssh: withFlags(
      operation(
        'ssh',
        "an interactive login shell on the server, in its root, over the deploy's verified connection",
        false,
        async (run, deploy) => {
          if (deploy.dryRun) return void run.log.info(`[dry run] [${run.server.name}] would open a shell in ${run.layout.root}`);
          // The shell's status is the task's: `exit 3` in the shell makes gulp exit 3.
          const status = await openShell(run);
          if (status !== 0) process.exitCode = status;
        },
        (deploy) => {
          if (deploy.selected.length !== 1) {
            throw new AttacheError(`ssh opens one shell, and ${deploy.selected.length} servers are selected (${deploy.selected.map((s) => s.name).join(', ')})`, { hint: 'Pass --server=<name>.' });
          }
        },
      ),
      { ...CONFIG_FLAG, '--server': 'the server to open a shell on (default: the config\'s default)' },
      true,
    ),
    steps,
  };
}

function unknownFlags(unknown: string[]): string {
  const known = [...Object.keys(FLAGS), '--release', '--count', '--remote'];
  const lines = unknown.map((flag) => {
    const near = closest(flag.split('=')[0], known);
    return `${flag}${near ? ` (did you mean ${near}?)` : ''}`;
  });
  return `unknown flag${unknown.length > 1 ? 's' : ''} for gulp-attache: ${lines.join(', ')}; its flags are ${known.join(', ')} (see gulp --tasks)`;
}

function named<T extends TaskFunction>(displayName: string, description: string, fn: T): T {
  return Object.assign(fn, { displayName, description });
}

/** `flags` for `gulp --tasks`: the deploy flags and `extra`, or `extra` alone when `only`. */
function withFlags<T extends TaskFunction>(fn: T, extra: Record<string, string> = {}, only = false): T {
  return Object.assign(fn, { flags: only ? extra : { ...FLAGS, ...extra } });
}

/**
 * gulp is the user's, not ours (a peer dependency, as the plugin guidelines ask): the one their
 * gulpfile uses, so that `gulp --tasks` shows our steps.
 */
function resolveGulp(given: GulpLike | undefined, cwd: string): GulpLike {
  if (given) return given;
  for (const from of [cwd, __dirname]) {
    try {
      return require(require.resolve('gulp', { paths: [from] })) as GulpLike;
    } catch {}
  }
  throw new AttacheError('the deploy preset needs gulp, and none is installed here', { hint: 'npm install --save-dev gulp, or pass attache({ gulp })' });
}
