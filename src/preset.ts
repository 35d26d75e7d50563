import { flagsOf, parseFlags, type TaskName } from './cli/flags';
import { AttacheError } from './errors';
import { createLogger } from './log';
import { toPluginError } from './plugins/plugin-error';
import { DEPLOY_PLAN, build, connect, lock, opcache, stepsOf, unlock, type PlanPart, type Step } from './release';
import { Deployment, type Phase } from './release/lifecycle/deployment';
import { activateStep, forceUnlockStep, pruneStep, releasesStep, rollbackStep } from './release/operations/index';
import { makePlan, readConfig, type PlanOptions } from './release/lifecycle/plan';
import { deleteStep } from './release/operations/delete';
import { initConfig, terminalAsk } from './release/operations/init';
import { INSTALL_PLAN } from './release/steps/install';
import { maintenanceStep } from './release/operations/maintenance';
import { pruneCountStep } from './release/operations/prune-count';
import { serversTable } from './release/operations/servers';
import { sshStep } from './release/operations/ssh';
import type { DeployReport } from './release/lifecycle/report';

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
  /** gulp's task events: a series of steps without unlock ends when gulp has run everything. */
  on?(event: 'start' | 'stop' | 'error', listener: () => void): unknown;
}

export interface AttacheOptions extends PlanOptions {
  /** Replace the build step with your own gulp task, or `false` to leave it out. */
  build?: TaskFunction | false;
  /** Your gulp (default: the `gulp` your project has installed). */
  gulp?: GulpLike;
}

export interface AttacheTasks {
  deploy: TaskFunction;
  rollback: TaskFunction;
  activate: TaskFunction;
  releases: TaskFunction;
  prune: TaskFunction;
  unlock: TaskFunction;
  /** Attaché's other commands: init, install, releases:delete, releases:down/up, servers:list, ssh. */
  init: TaskFunction;
  install: TaskFunction;
  delete: TaskFunction;
  down: TaskFunction;
  up: TaskFunction;
  servers: TaskFunction;
  ssh: TaskFunction;
  /** Each deploy step as its own task (`deploy:clone`, …), to compose a series of your own. */
  steps: Record<string, TaskFunction>;
  /**
   * The report of the last deploy that ended (also printed, and written by --report=<file>). A
   * value, not a function, so that `module.exports = attache()` registers no task for it.
   */
  readonly report: DeployReport | undefined;
}

/**
 * Attaché's release series as gulp tasks: names, descriptions, flags, and the wiring of steps into
 * gulp's series and parallel. The life of a deploy is release/deployment.ts; the steps are release/.
 * Top-level tasks carry no displayName, so gulp registers each under the name it is exported as.
 */
export function attache(options: AttacheOptions = {}): AttacheTasks {
  const gulp = resolveGulp(options.gulp, options.cwd ?? process.cwd());
  const customBuild = (parts: readonly PlanPart[]) => (options.build === undefined ? parts : withBuild(parts, options.build, gulp));
  const plans = { deploy: customBuild(DEPLOY_PLAN), install: customBuild(INSTALL_PLAN) };
  const phasesOf = (plan: readonly PlanPart[]): Phase[] => plan.flatMap((part) => ('phase' in part ? [{ hooks: part.phase, steps: new Set(stepsOf(part.parts)) }] : []));
  const inBranches = new Set(
    Object.values(plans).flatMap((plan) => plan.flatMap((part) => ('together' in part ? part.together.flat() : 'phase' in part ? stepsOf(part.parts.filter((p) => 'together' in p)) : []))),
  );
  let current: Deployment | undefined;
  let last: DeployReport | undefined;

  /** The deploy (or install) under way, or a new one: config and flags are read and checked before anything builds or connects. */
  function deployment(task: 'deploy' | 'install'): Deployment {
    if (current && !current.ended) return current;
    const planned = makePlan(task, options);
    current = new Deployment(planned, { connect, steps: stepsOf(plans[task]), phases: phasesOf(plans[task]), printReport: true, reportFile: planned.flags.report, onReport: (report) => (last = report) });
    return current;
  }

  function stepTask(step: Step, task: 'deploy' | 'install' = 'deploy'): TaskFunction {
    return describe(async () => {
      // The deploy failed (or was interrupted) and is undone: the rest of this gulp run has nothing to do.
      // Without gulp's task events only the other branch of a parallel part can tell.
      // It waits for the undo: gulp must not print "Finished 'deploy'" before the report says it was undone.
      if (current?.failed && (tracked || inBranches.has(step))) return current.whenEnded();
      // A step ended the deploy early (nothing to deploy): the rest of this run has nothing to do either.
      if (current?.endedEarly && (tracked || !firstSteps.has(step))) return;
      await pluginErrors(() => deployment(task).runStep(step));
    }, step.description, `${task}:${step.name}`);
  }

  function operation(task: TaskName, description: string, steps: (flags: ReturnType<typeof makePlan>['flags'], planned: ReturnType<typeof makePlan>) => Step[]): TaskFunction {
    return withFlags(task, describe(async () => {
      await pluginErrors(async () => {
        const planned = makePlan(task, options);
        const series = steps(planned.flags, planned); // the flags an operation needs are checked before it connects
        await new Deployment(planned, { connect }).runSeries(series);
      });
    }, description));
  }

  const firstSteps = new Set(Object.values(plans).map((plan) => stepsOf(plan)[0]));
  const steps = Object.fromEntries(stepsOf(plans.deploy).map((step) => [step.name, stepTask(step)]));
  const installSteps = Object.fromEntries(stepsOf(plans.install).map((step) => [step.name, stepTask(step, 'install')]));
  const gulpSeries = (parts: readonly PlanPart[], tasks = steps): TaskFunction[] =>
    parts.flatMap((part) =>
      'together' in part
        ? [gulp.parallel(...part.together.map((branch) => gulp.series(...branch.map((step) => tasks[step.name]))))]
        : 'phase' in part
          ? gulpSeries(part.parts, tasks)
          : [tasks[part.name]],
    );

  /** A task that reads the config but works on no server (servers, init): its flags, its log, its errors as PluginErrors. */
  function local(task: TaskName, description: string, work: (flags: ReturnType<typeof parseFlags>, log: ReturnType<typeof createLogger>) => Promise<void> | void): TaskFunction {
    return withFlags(task, describe(async () => {
      await pluginErrors(async () => {
        const flags = parseFlags(options.argv, task);
        const log = options.logger ?? createLogger({ verbosity: flags.verbose ? 'verbose' : flags.quiet ? 'quiet' : 'normal' });
        await work(flags, log);
      });
    }, description));
  }
  // A series without unlock (a custom one) still ends: when gulp has run everything, the deploy finishes.
  const tracked = onRunEnd(gulp, () => {
    const ending = current;
    if (ending?.ended) current = undefined;
    else if (ending) setImmediate(() => ending.finish().catch(() => (process.exitCode = 1)));
  });

  return {
    deploy: withFlags('deploy', describe(gulp.series(...gulpSeries(plans.deploy)), 'deploy a new release (build while connecting, lock, clone, then shared → composer → artisan → migrate beside the asset upload, live, health, prune, unlock)')),
    // OPcache is reset after these swaps too, or php-fpm goes on serving the code it cached.
    rollback: operation('rollback', rollbackStep.description, () => [lock, rollbackStep, opcache, unlock]),
    activate: operation('activate', 'point live at --release=<id> (or "latest")', (flags) => [lock, activateStep(flags.release), opcache, unlock]),
    releases: operation('releases', 'list the releases on the server(s): id, date, commit, status, which is live', () => [releasesStep()]),
    prune: operation('prune', 'remove old releases (keeps "keep", or the --count oldest; never live nor the one before it)', (flags) => [lock, flags.count === undefined ? pruneStep : pruneCountStep(flags.count), unlock]),
    unlock: operation('unlock', forceUnlockStep.description, () => [forceUnlockStep]),
    init: local('init', "write .attache.json from the project's git remote (asks which when there are several)", async (flags, log) => {
      const { file, repository } = await initConfig({ cwd: options.cwd ?? process.cwd(), file: options.config ?? flags.config, remote: flags.remote, ask: terminalAsk() });
      log.info(`wrote ${file} (repository ${repository}): set the server's host, user and root`);
    }),
    install: withFlags(
      'install',
      describe(gulp.series(...gulpSeries(plans.install, installSteps)), 'the first deploy: refuses a server with releases, installs --env (default .env.example) as root/.env, runs artisan key:generate'),
    ),
    delete: operation('delete', 'remove the release --release=<id> (never the live one)', (flags) => [lock, deleteStep(flags.release), unlock]),
    down: operation('down', 'php artisan down in the live release (maintenance mode)', () => [maintenanceStep('down')]),
    up: operation('up', 'php artisan up in the live release (out of maintenance mode)', () => [maintenanceStep('up')]),
    servers: local('servers', 'list the configured servers: name, host, port, user, root, branch (nothing connects)', (flags, log) => {
      log.summary(serversTable(readConfig(options, flags, log)));
    }),
    ssh: operation('ssh', "an interactive login shell on the server, in its root, over the deploy's verified connection", (_flags, planned) => [sshStep(planned.selected)]),
    steps,
    get report() {
      return last;
    },
  };
}

/** The plan with the build replaced by the user's gulp task (which still gets the build hooks and `skip`), or left out. */
function withBuild(plan: readonly PlanPart[], task: TaskFunction | false, gulp: GulpLike): PlanPart[] {
  if (task === false) return replaceStep(plan, build, undefined);
  const name = task.displayName ?? task.name ?? 'build';
  const custom: Step = {
    ...build,
    description: `your build task ${name}, with the build hooks`,
    async once(deploy) {
      if (deploy.dryRun) return deploy.log.info(`[dry run] [local] would run your build task ${name}`);
      await new Promise<void>((resolve, reject) => gulp.series(task)((error?: Error) => (error ? reject(error) : resolve())));
    },
  };
  return replaceStep(plan, build, custom);
}

/** The plan with one step replaced, wherever it is (in a branch, in a phase), or left out; a branch left empty goes too. */
function replaceStep(plan: readonly PlanPart[], step: Step, by: Step | undefined): PlanPart[] {
  return plan.flatMap((part): PlanPart[] => {
    if (part === step) return by ? [by] : [];
    if ('phase' in part) return [{ phase: part.phase, parts: replaceStep(part.parts, step, by) }];
    if (!('together' in part)) return [part];
    const branches = part.together.map((branch) => replaceStep(branch, step, by) as Step[]).filter((branch) => branch.length);
    return branches.length === 1 ? branches[0] : [{ together: branches }];
  });
}

async function pluginErrors(work: () => Promise<void>): Promise<void> {
  leaveGulpDomains();
  try {
    await work();
  } catch (error) {
    throw toPluginError(error);
  }
}

/**
 * gulp (async-done) runs each task inside a Node domain, to catch errors of callback-style tasks.
 * Ours return promises and catch their own errors; but in a domain every socket read, timer and
 * promise the deploy creates carries it and pays for it on each callback. The domains nest: a step
 * of a composed task (`gulp deploy`'s series, a branch of its parallel part) runs in the domain of
 * each task around it as well as its own. A task's work starts outside all of them (a first
 * deploy's client CPU 1.24 -> 1.10 s, median of 6 pairs here, against leaving only the innermost).
 * The domain module stays loaded.
 */
function leaveGulpDomains(): void {
  const proc = process as { domain?: { exit(): void } | null };
  // exit() pops the domain and those above it; one that is not on the stack changes nothing.
  for (let domain = proc.domain; domain; domain = proc.domain) {
    domain.exit();
    if (proc.domain === domain) break;
  }
}

/**
 * Counts gulp's running tasks, once per gulp instance however many presets listen; calls each
 * listener whenever none is left. False when this gulp has no task events.
 */
function onRunEnd(gulp: GulpLike, ended: () => void): boolean {
  if (!gulp.on) return false;
  let listeners = runEndListeners.get(gulp);
  if (!listeners) {
    const all = new Set<() => void>();
    listeners = all;
    runEndListeners.set(gulp, all);
    let running = 0;
    gulp.on('start', () => running++);
    const stopped = () => {
      if (--running === 0) for (const listener of all) listener();
    };
    gulp.on('stop', stopped);
    gulp.on('error', stopped);
  }
  listeners.add(ended);
  return true;
}

const runEndListeners = new WeakMap<GulpLike, Set<() => void>>();

function describe<T extends TaskFunction>(fn: T, description: string, displayName?: string): T {
  return Object.assign(fn, { description }, displayName ? { displayName } : {});
}

function withFlags<T extends TaskFunction>(task: TaskName, fn: T): T {
  return Object.assign(fn, { flags: flagsOf(task) });
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
