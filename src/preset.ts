import { flagsOf, parseFlags, type TaskName } from './cli/flags';
import { tellFailure } from './ci/failure';
import { AttacheError } from './errors';
import { createLogger } from './log';
import { toPluginError } from './plugins/plugin-error';
import type { Step } from './release/lifecycle/context';
import { Deployment } from './release/lifecycle/deployment';
import { makePlan, type PlanOptions } from './release/lifecycle/plan';
import type { DeployReport } from './release/lifecycle/report';
import { phasesOf, replaceStep, rolloutOf, stepsInBranches, stepsOf, type PlanPart } from './release/lifecycle/series';
import { build } from './release/steps/build';
import { connect } from './release/steps/connect';
import { TASKS, type LocalTask, type ReleaseTask, type ServerTask } from './release/tasks';

/** A gulp task function, with the metadata `gulp --tasks` shows. */
// biome-ignore lint/suspicious/noConfusingVoidType: gulp accepts a task that returns nothing (a callback task) or a promise
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
  /** Everything a first deploy needs, checked here and on the servers; nothing changed. */
  doctor: TaskFunction;
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
 * The task list (release/tasks.ts) as gulp tasks: names, descriptions, flags, and the wiring of a
 * release task's series into gulp's series and parallel. The life of a deploy is
 * release/lifecycle/deployment.ts. Top-level tasks carry no displayName, so gulp registers each
 * under the name it is exported as.
 */
export function attache(options: AttacheOptions = {}): AttacheTasks {
  const gulp = resolveGulp(options.gulp, options.cwd ?? process.cwd());
  const plans = new Map(
    TASKS.filter((task): task is ReleaseTask => task.kind === 'release').map((task) => [
      task.name,
      options.build === undefined ? task.plan : withBuild(task.plan, options.build, gulp),
    ]),
  );
  const planOf = (task: TaskName) => plans.get(task)!;
  const inBranches = new Set([...plans.values()].flatMap(stepsInBranches));
  const firstSteps = new Set([...plans.values()].map((plan) => stepsOf(plan)[0]));
  let current: Deployment | undefined;
  let last: DeployReport | undefined;

  /** The deploy (or install) under way, or a new one: config and flags are read and checked before anything builds or connects. */
  function deployment(task: TaskName): Deployment {
    if (current && !current.ended) return current;
    const planned = makePlan(task, options);
    const plan = planOf(task);
    current = new Deployment(planned, {
      connect,
      steps: stepsOf(plan),
      phases: phasesOf(plan),
      rollout: rolloutOf(plan),
      printReport: true,
      reportFile: planned.flags.report,
      onReport: (report) => (last = report),
    });
    return current;
  }

  function stepTask(step: Step, task: TaskName): TaskFunction {
    return describe(
      async () => {
        // The deploy failed (or was interrupted) and is undone: the rest of this gulp run has nothing to do.
        // Without gulp's task events only the other branch of a parallel part can tell.
        // It waits for the undo: gulp must not print "Finished 'deploy'" before the report says it was undone.
        if (current?.failed && (tracked || inBranches.has(step))) return current.whenEnded();
        // A step ended the deploy early (nothing to deploy): the rest of this run has nothing to do either.
        if (current?.endedEarly && (tracked || !firstSteps.has(step))) return;
        await pluginErrors(task, () => deployment(task).runStep(step));
      },
      step.description,
      `${task}:${step.name}`,
    );
  }

  function releaseTask(task: ReleaseTask): TaskFunction {
    const tasks = Object.fromEntries(stepsOf(planOf(task.name)).map((step) => [step.name, stepTask(step, task.name)]));
    const gulpSeries = (parts: readonly PlanPart[]): TaskFunction[] =>
      parts.flatMap((part) =>
        'together' in part
          ? [gulp.parallel(...part.together.map((branch) => gulp.series(...branch.map((step) => tasks[step.name]))))]
          : 'phase' in part
            ? gulpSeries(part.parts)
            : 'rollout' in part
              ? part.rollout.map((step) => tasks[step.name])
              : [tasks[part.name]],
      );
    stepTasks.set(task.name, tasks);
    return gulp.series(...gulpSeries(planOf(task.name)));
  }

  function serverTask(task: ServerTask): TaskFunction {
    return async () => {
      await pluginErrors(task.name, async () => {
        const planned = makePlan(task.name, options);
        const series = task.series(planned.flags, planned); // the flags an operation needs are checked before it connects
        await new Deployment(planned, { connect }).runSeries(series);
      });
    };
  }

  function localTask(task: LocalTask): TaskFunction {
    return async () => {
      await pluginErrors(task.name, async () => {
        const flags = parseFlags(options.argv, task.name);
        const log = options.logger ?? createLogger({ verbosity: flags.verbose ? 'verbose' : flags.quiet ? 'quiet' : 'normal' });
        await task.run({ options, flags, log });
      });
    };
  }

  /** Our errors become PluginErrors at gulp's edge, told once (in CI, and under --silent) on their way. */
  async function pluginErrors(task: TaskName, work: () => Promise<void>): Promise<void> {
    leaveGulpDomains();
    try {
      await work();
    } catch (error) {
      const argv = options.argv ?? process.argv;
      tellFailure(error, { task, log: options.logger ?? createLogger({ verbosity: 'quiet' }), silent: argv.includes('--silent') });
      throw toPluginError(error);
    }
  }

  // A series without unlock (a custom one) still ends: once gulp has run everything, the deploy finishes.
  // A bare call's series has no task around its steps: gulp's count falls to zero between two of
  // them, and the next starts within the same turn of the event loop; so the finish waits a turn.
  const tracked = onRunEnd(gulp, (idle) => {
    const ending = current;
    if (ending?.ended) current = undefined;
    else if (ending) {
      setImmediate(() => {
        if (idle() && !ending.ended) ending.finish().catch(() => (process.exitCode = 1));
      });
    }
  });

  const stepTasks = new Map<TaskName, Record<string, TaskFunction>>();
  const tasks = Object.fromEntries(
    TASKS.map((task) => {
      const fn = task.kind === 'release' ? releaseTask(task) : task.kind === 'servers' ? serverTask(task) : localTask(task);
      return [task.name, withFlags(task.name, describe(fn, task.description))];
    }),
  ) as Record<TaskName, TaskFunction>;

  return {
    ...tasks,
    steps: stepTasks.get('deploy')!,
    get report() {
      return last;
    },
  };
}

/** The plan with the build replaced by the user's gulp task (which still gets the build hooks and `skip`), or left out. */
function withBuild(plan: readonly PlanPart[], task: TaskFunction | false, gulp: GulpLike): PlanPart[] {
  if (task === false) return replaceStep(plan, build, []);
  const name = task.displayName ?? task.name ?? 'build';
  const custom: Step = {
    ...build,
    description: `your build task ${name}, with the build hooks`,
    async once(deploy) {
      if (deploy.dryRun) return deploy.log.info(`[dry run] [local] would run your build task ${name}`);
      await new Promise<void>((resolve, reject) => gulp.series(task)((error?: Error) => (error ? reject(error) : resolve())));
    },
  };
  return replaceStep(plan, build, [custom]);
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
 * listener whenever none is left, with a function that says whether that is still so.
 * False when this gulp has no task events.
 */
function onRunEnd(gulp: GulpLike, ended: (idle: () => boolean) => void): boolean {
  if (!gulp.on) return false;
  let listeners = runEndListeners.get(gulp);
  if (!listeners) {
    const all = new Set<(idle: () => boolean) => void>();
    listeners = all;
    runEndListeners.set(gulp, all);
    let running = 0;
    gulp.on('start', () => running++);
    const stopped = () => {
      if (--running === 0) for (const listener of all) listener(() => running === 0);
    };
    gulp.on('stop', stopped);
    gulp.on('error', stopped);
  }
  listeners.add(ended);
  return true;
}

const runEndListeners = new WeakMap<GulpLike, Set<(idle: () => boolean) => void>>();

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
  throw new AttacheError('the deploy preset needs gulp, and none is installed here', {
    hint: 'npm install --save-dev gulp, or pass attache({ gulp })',
  });
}
