import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { HookName } from '../../config/types';
import { AttacheError } from '../../errors';
import type { Deploy, ReleaseTree, ServerRun, Step } from './context';
import { fireHook, isLocalHook } from './hooks';
import type { Plan } from './plan';
import type { Phase } from './series';
import { publishToCi } from './ci-report';
import { formatReport, serverReport, unreachedReport, type DeployReport } from './report';
import { runRollout } from './rollout';
import { runningNow, runStep } from './runner';
import { exitNow, exitWith, onInterrupt } from './signals';
import { leftEverywhere, undoOnServer } from './undo';

export interface DeploymentOptions {
  /** The step that opens the connections: run first by any step that needs a server. */
  connect: Step;
  /** The steps of the plan: each one's `prepare` starts as the deploy connects, once its local build is done. */
  steps?: readonly Step[];
  /** The phases of the plan, so that their hooks fire around their first and last step. */
  phases?: readonly Phase[];
  /** The plan's rollout part: these steps run together, server by server, batch by batch (rollout.ts). */
  rollout?: readonly Step[];
  /** Print the report at the end (deploys do; operations such as rollback print their own lines). */
  printReport?: boolean;
  /** Write the report as JSON here at the end (--report=<file>). */
  reportFile?: string;
  onReport?(report: DeployReport): void;
}

/**
 * The life of one deploy (or operation), whatever its steps are called: it runs steps, keeps each
 * server's undo log, commits, and ends exactly once: on failure or Ctrl-C by undoing what the steps
 * did (newest first, on every server), on success by committing and freeing what is still held.
 * Either way the connections close and the report is made.
 */
// The plan's fields are the deployment's own (Object.assign in the constructor), declared once in Plan.
export interface Deployment extends Readonly<Plan> {}
export class Deployment implements Deploy {
  readonly cancel = new AbortController();
  releaseId?: string;
  servers: ServerRun[] = [];
  releaseTree?: ReleaseTree;
  readonly unreachable = new Map<string, Error>();
  rolloutPlan?: { batches: string[][]; maxFailures: number };

  private readonly startedAt = new Date();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly openPhases = new Set<Phase>();
  /** Each phase's `before-` hook, once started: a step of the phase that starts beside another waits for it. */
  private readonly startedPhases = new Map<Phase, Promise<void>>();
  /** The deploy connects: the steps' preparations start once no `buildsLocally` step is left to run. */
  private connecting = false;
  private prepared = false;
  private readonly buildsPending: Set<Step>;
  /** A step ended the deploy (it had nothing to do): the steps after it do nothing. */
  endedEarly = false;
  private committed = false;
  private failure?: unknown;
  private finishing?: Promise<void>;
  private interrupted?: NodeJS.Signals;
  private left = new Map<string, string[]>();
  private undone = new Map<string, string[]>();
  private presses = 0;
  private final?: DeployReport;
  private readonly removeInterruptHandlers: () => void;
  private readonly releases: Array<() => void> = [];
  /** The rollout, once its first step was asked for: its other steps wait for it. */
  private rollingOut?: Promise<void>;

  constructor(
    plan: Plan,
    private readonly options: DeploymentOptions,
  ) {
    Object.assign(this, plan);
    this.buildsPending = new Set((options.steps ?? []).filter((step) => step.buildsLocally));
    this.removeInterruptHandlers = onInterrupt((signal) => this.interrupt(signal));
  }

  /** Failed (or interrupted) and undone, or being undone. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  get ended(): boolean {
    return this.finishing !== undefined;
  }

  /** Resolves once the end (the undo or the commit, then the report) is done: nothing may end before it. */
  whenEnded(): Promise<void> {
    return this.finishing?.catch(() => undefined) ?? Promise.resolve();
  }

  /**
   * Runs one step on every server. A failure undoes the deploy (once, whichever step fails first)
   * and is rethrown, after the undo, to the step that failed; steps asked to run after the end
   * return at once. A step that `ends` the deploy finishes it.
   */
  async runStep(step: Step): Promise<void> {
    if (this.finishing) return this.finishing;
    const running = (async () => {
      const needsServers =
        step.run || (step.hooks && !isLocalHook(`before-${step.hooks}`)) || this.options.phases?.some((phase) => phase.steps.has(step));
      if (step === this.options.connect || (needsServers && !this.servers.length)) {
        this.connecting = true;
        this.prepare();
      }
      if (needsServers && !this.servers.length && step !== this.options.connect) await runStep(this.options.connect, this);
      await this.enterPhases(step);
      // A step beside the one that makes the release starts at once, but its server hooks may expect the release's files.
      if (this.releaseTree && !step.makesReleaseTree && this.hasServerBeforeHooks(step)) await this.releaseTree.ready;
      const rollout = this.options.rollout;
      if (rollout?.includes(step)) {
        this.rollingOut ??= this.rollOut(rollout);
        await this.rollingOut;
        return;
      }
      await runStep(step, this);
      if (this.buildsPending.delete(step)) this.prepare();
      if (step.commits) this.commit();
    })();
    // Set before this returns: gulp starts the branches of a parallel part one after another, in the same tick.
    if (step.makesReleaseTree) this.trackReleaseTree(running);
    this.inFlight.add(running);
    try {
      await running;
    } catch (error) {
      await this.fail(error);
      if (this.interrupted) return; // already undone and reported; the exit code says the rest
      throw this.failure;
    } finally {
      this.inFlight.delete(running);
    }
    // Interrupted while this step ran: it ends with the undo, so gulp reports nothing before it.
    if (this.finishing) return this.finishing;
    if (step.ends) await this.finish();
  }

  /** The rollout's steps, all of them, batch by batch; the deploy is committed once it has passed. */
  private async rollOut(steps: readonly Step[]): Promise<void> {
    const started = Date.now();
    this.log.group('rollout');
    try {
      await runRollout(this, steps);
    } finally {
      this.log.groupEnd('rollout');
    }
    this.log.info(`${steps.map((step) => step.name).join(', ')} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (steps.some((step) => step.commits)) this.commit();
  }

  private trackReleaseTree(running: Promise<void>): void {
    const tree: ReleaseTree = {
      // Its failure is that step's own, whichever step hears of it first.
      ready: running.finally(() => void (tree.done = true)),
      done: false,
    };
    tree.ready.catch(() => undefined); // reported by the step that makes it
    this.releaseTree = tree;
  }

  private hasServerBeforeHooks(step: Step): boolean {
    const hook: HookName | undefined = step.hooks && `before-${step.hooks}`;
    return hook !== undefined && !isLocalHook(hook) && this.selected.some((server) => server.scripts[hook]?.length);
  }

  /** Runs steps in order, then finishes: an operation such as rollback, with the same life as a deploy. */
  async runSeries(steps: readonly Step[]): Promise<void> {
    for (const step of steps) await this.runStep(step);
    await this.finish();
  }

  /**
   * The steps' local work that needs no server starts beside the handshakes (once), but not before
   * the build has made the files it reads: the connections open while the build runs.
   */
  private prepare(): void {
    if (this.prepared || !this.connecting || this.buildsPending.size) return;
    this.prepared = true;
    for (const step of this.options.steps ?? []) step.prepare?.(this);
  }

  /** Past this point the new release stays whatever fails afterwards: nothing more to undo but the lock (and what is temporary). */
  commit(): void {
    this.committed = true;
    for (const run of this.servers) run.undo.keepOnly('lock', 'temporary');
  }

  /**
   * The successful end, once: the open phases' `after-` hooks, the commit, what is still held (the
   * lock, when the series had no unlock step) freed, the connections closed, the report made.
   */
  async finish(): Promise<void> {
    if (this.finishing) return this.finishing;
    if (this.inFlight.size) this.endedEarly = true; // a step ended it: nothing left to do (a no-op deploy)
    try {
      for (const phase of this.openPhases) await this.closePhase(phase);
    } catch (error) {
      await this.fail(error);
      throw this.failure;
    }
    this.finishing = (async () => {
      this.commit();
      await Promise.all(this.servers.map((run) => this.undoOn(run)));
      await this.end();
    })();
    return this.finishing;
  }

  /** The failed end, once: stop what runs, wait for it, undo on every server, close, report. */
  fail(error: unknown): Promise<void> {
    this.finishing ??= (async () => {
      this.failure = error;
      this.cancel.abort();
      await Promise.allSettled([...this.inFlight]);
      await Promise.all(this.servers.map((run) => this.undoOn(run)));
      if (this.committed) this.log.warn('the new release is live: it passed the health check before this failure, which was not undone');
      await this.end();
    })();
    return this.finishing;
  }

  whenDone(release: () => void): void {
    this.releases.push(release);
  }

  /** The report, once the deploy has ended. */
  report(): DeployReport | undefined {
    return this.final;
  }

  /** Each server on its own: a lost connection is replaced for the undo; what cannot be undone is named (undo.ts). */
  private async undoOn(run: ServerRun): Promise<void> {
    const { done, left } = await undoOnServer(run);
    if (left.length) this.left.set(run.server.name, left);
    if (this.failure !== undefined && done.length) this.undone.set(run.server.name, done);
    if (this.interrupted) run.log.info(`[${run.server.name}] ${done.length ? `undone: ${done.join('; ')}` : 'nothing to undo'}`);
  }

  private async end(): Promise<void> {
    await Promise.allSettled(
      this.servers.map(async (run) => {
        await run.lock?.stopHeartbeat();
        await run.target.close();
      }),
    );
    this.removeInterruptHandlers();
    for (const release of this.releases.splice(0)) release();
    const report = this.makeReport();
    this.final = report;
    if (this.options.printReport) this.log.summary(formatReport(report));
    if (this.options.reportFile) writeFileSync(path.resolve(this.cwd, this.options.reportFile), JSON.stringify(report, null, 2) + '\n');
    publishToCi(report, this.failure);
    this.options.onReport?.(report);
  }

  private makeReport(): DeployReport {
    const result: DeployReport['result'] = this.interrupted
      ? 'interrupted'
      : this.failure !== undefined && !this.committed
        ? 'failed'
        : this.dryRun
          ? 'dry run'
          : this.releaseId !== undefined
            ? 'deployed'
            : 'done';
    const finished = this.failure === undefined;
    return {
      task: this.task,
      result,
      releaseId: this.releaseId,
      startedAt: this.startedAt.toISOString(),
      seconds: (Date.now() - this.startedAt.getTime()) / 1000,
      ...(this.failure !== undefined ? { error: String((this.failure as Error).message ?? this.failure).split('\n')[0] } : {}),
      ...(this.rolloutPlan && this.rolloutPlan.batches.length > 1 && { rollout: this.rolloutPlan }),
      servers: this.selected.map((server) => {
        const run = this.servers.find((r) => r.server === server);
        if (!run) return unreachedReport(server.name, this.unreachable.get(server.name));
        return serverReport(run, {
          committed: this.committed,
          dryRun: this.dryRun,
          releaseId: this.releaseId,
          finished,
          left: this.left.get(server.name) ?? [],
          undone: this.undone.get(server.name) ?? [],
        });
      }),
    };
  }

  /** Before a step: the `before-` hooks of phases it opens, the `after-` hooks of phases it leaves. */
  private async enterPhases(step: Step): Promise<void> {
    for (const phase of this.openPhases) if (!phase.steps.has(step)) await this.closePhase(phase);
    for (const phase of this.options.phases ?? []) {
      if (!phase.steps.has(step)) continue;
      if (!this.startedPhases.has(phase)) {
        this.openPhases.add(phase);
        this.startedPhases.set(phase, this.phaseHook(`before-${phase.hooks}`));
      }
      await this.startedPhases.get(phase);
    }
  }

  private async closePhase(phase: Phase): Promise<void> {
    this.openPhases.delete(phase);
    await this.phaseHook(`after-${phase.hooks}`);
  }

  private async phaseHook(hook: HookName): Promise<void> {
    try {
      await fireHook(hook, this);
    } catch (error) {
      throw error instanceof AttacheError ? error : new AttacheError(String((error as Error).message ?? error), { step: hook });
    }
  }

  /**
   * Ctrl-C or SIGTERM. The first stops the deploy the way a failure does (waits for what runs,
   * undoes, closes), saying what it waits for, then exits non-zero. A second says the undo is still
   * running; a third leaves at once, saying what is left where and the command that clears it.
   */
  private interrupt(signal: NodeJS.Signals): void {
    this.presses++;
    const code = signal === 'SIGINT' ? 130 : 143;
    const waiting = runningNow(this);
    if (this.presses === 1) {
      this.log.error(`${signal}: stopping the deploy; ${waiting ? `waiting for ${waiting} to stop, then ` : ''}undoing what it did…`);
      this.interrupted = signal;
      this.fail(
        new AttacheError(`the deploy was interrupted (${signal})`, { hint: 'Nothing was switched; run the deploy again when ready.' }),
      ).finally(() => {
        // The steps still pending end quietly now (each waits for the undo), so gulp finishes after
        // the report and the process exits with this code. The timer covers anything that lingers.
        exitWith(code);
        setTimeout(() => process.exit(code), 1000).unref();
      });
    } else if (this.presses === 2) {
      this.log.error(
        `${signal}: the undo is still running${waiting ? ` (waiting for ${waiting} to stop)` : ''}. ` +
          'Press Ctrl-C once more to leave at once: the lock and what is not yet undone stay on the server.',
      );
    } else {
      this.log.error(`${signal}: leaving without finishing the undo. ${leftEverywhere(this.servers)}`);
      exitNow(code);
    }
  }
}
