import { setTimeout as sleep } from 'node:timers/promises';
import type { HookName } from '../../config/types';
import { AttacheError } from '../../errors';
import type { Deploy, ServerRun, Step } from './context';
import { runHookHere, runServerHook } from './hooks';
import { connectionLost } from './reconnect';
import { batchesText } from './report';
import { ALL_AT_ONCE, batchesOf, failureBudget } from './rollout-plan';
import { applies, oneFailure, settleOnServers } from './runner';
import { undoNow } from './undo';

/**
 * The rollout part of a plan (the swap and what checks it), once every server is prepared: batch by
 * batch (`rollout` in the config; without it, one batch of every server). In a batch each server is
 * drained, then every server's `before-` hooks run, then the step runs on all of them in one burst,
 * then the `after-` hooks; the servers are undrained once the batch's last step passed. A server
 * that fails is swapped back at once and left out of the rest. Past the failure budget the rollout
 * stops: every server it switched goes back to its previous release, newest first, and is undrained;
 * the servers not reached are not touched; the deploy fails (its undo removes the prepared releases).
 */
export async function runRollout(deploy: Deploy, steps: readonly Step[]): Promise<void> {
  const config = deploy.selected[0]?.rollout ?? ALL_AT_ONCE;
  const fleet = deploy.servers.filter((run) => steps.some((step) => applies(step, run.server)));
  if (!fleet.length) return;
  const batches = batchesOf(fleet, config.batches);
  const rollout = new Rollout(
    deploy,
    failureBudget(config.maxFailures, fleet.length),
    fleet.length,
    deploy.selected[0]?.rollout !== undefined,
  );
  deploy.rolloutPlan = { batches: batches.map((batch) => batch.map((run) => run.server.name)), maxFailures: rollout.budget };
  if (batches.length > 1) {
    const plan = batchesText(deploy.rolloutPlan.batches);
    deploy.log.info(`rollout in ${batches.length} batches: ${plan} (${rollout.budget} failure${rollout.budget === 1 ? '' : 's'} allowed)`);
  }
  // A step's once- and after-parts frame its per-server parts, as the runner's do.
  for (const step of steps) await step.once?.(deploy);
  for (const [i, batch] of batches.entries()) {
    if (i > 0 && config.pause > 0 && !deploy.dryRun) await rollout.pause(config.pause);
    await rollout.stopIfInterrupted();
    if (batches.length > 1) deploy.log.info(`rollout batch ${i + 1}/${batches.length}: ${batch.map((run) => run.server.name).join(', ')}`);
    await rollout.batch(batch, steps);
  }
  rollout.sayWhoStayed();
  for (const step of steps) await step.after?.(deploy);
}

class Rollout {
  private readonly failed = new Map<ServerRun, Error>();
  /** Servers this rollout switched to the new release, in the order it did. */
  private readonly switched: ServerRun[] = [];
  private readonly drained = new Set<ServerRun>();
  /** A failed server could not be swapped back: the rollout cannot go on. */
  private stuck = false;

  constructor(
    private readonly deploy: Deploy,
    readonly budget: number,
    private readonly fleet: number,
    /** A `rollout` in the config; without it the fleet swaps together and a failure is the deploy's, as it is. */
    private readonly configured: boolean,
  ) {}

  async batch(batch: readonly ServerRun[], steps: readonly Step[]): Promise<void> {
    await this.phase(
      batch.filter((run) => hasHooks(run, 'drain', 'local-drain')),
      'drain',
      (run) => this.drain(run),
    );
    let active = batch.filter((run) => !this.failed.has(run));
    for (const step of steps) {
      const before: HookName | undefined = step.hooks && `before-${step.hooks}`;
      const after: HookName | undefined = step.hooks && `after-${step.hooks}`;
      const here = active.filter((run) => applies(step, run.server));
      // Every server's before- hooks first: one that fails is not swapped, and the others swap together.
      let ready = before ? await this.phase(here, before, (run) => runServerHook(before, run, this.deploy)) : here;
      ready = await this.phase(ready, step.name, async (run) => {
        await step.run?.(run, this.deploy);
        if (run.liveChanged && !this.switched.includes(run)) this.switched.push(run);
      });
      if (after) ready = await this.phase(ready, after, (run) => runServerHook(after, run, this.deploy));
      active = active.filter((run) => !this.failed.has(run));
    }
    await this.phase(
      active.filter((run) => this.drained.has(run)),
      'undrain',
      (run) => this.undrain(run),
    );
  }

  /** One part on each server; a failure is that server's (swapped back at once), and past the budget the rollout's end. */
  private async phase(runs: readonly ServerRun[], name: string, part: (run: ServerRun) => Promise<void>): Promise<ServerRun[]> {
    if (!runs.length) return [];
    await this.stopIfInterrupted();
    const results = await settleOnServers(name, runs, this.deploy, part);
    for (const [i, error] of results.entries()) if (error) this.failed.set(runs[i], error);
    if (this.failed.size > this.budget || this.stuck) await this.stop();
    for (const [i, error] of results.entries()) if (error) await this.leaveOut(runs[i], error);
    if (this.stuck) await this.stop();
    return runs.filter((run) => !this.failed.has(run));
  }

  /** Within the budget, a failed server goes back to its previous release now, and back into the load balancer. */
  private async leaveOut(run: ServerRun, error: Error): Promise<void> {
    const name = run.server.name;
    if (this.switched.includes(run)) {
      try {
        await undoNow(run, 'live');
      } catch (undoError) {
        // It cannot stay on a release that failed: the rollout stops, and the deploy's undo (reconnecting) tries again.
        this.stuck = true;
        run.log.error(`[${name}] could not swap back now: ${(undoError as Error).message.split('\n')[0]}`);
        return;
      }
      this.switched.splice(this.switched.indexOf(run), 1);
      run.log.warn(`[${name}] swapped back to its previous release: ${error.message.split('\n')[0]}`);
    }
    run.keptPrevious = error.message.split('\n')[0];
    if (this.drained.has(run)) await this.undrain(run).catch((e: Error) => run.log.error(`[${name}] undrain failed: ${e.message}`));
  }

  /** Past the budget, or interrupted: every switched server back, newest first, and undrained; then the deploy fails. */
  private async stop(interrupted = false): Promise<never> {
    const back: string[] = [];
    for (const run of [...this.switched].reverse()) {
      if (connectionLost(run.target)) continue; // the deploy's undo reconnects and swaps it back
      try {
        await undoNow(run, 'live');
        back.push(run.server.name);
      } catch (error) {
        // Left in its undo log: the deploy's undo tries again, and says so if it cannot.
        run.log.error(`[${run.server.name}] could not swap back: ${(error as Error).message}`);
      }
    }
    this.switched.length = 0;
    await settleOnServers('undrain', [...this.drained], this.deploy, (run) => this.undrain(run));
    const errors = [...this.failed.values()];
    if (!interrupted && !this.configured) throw oneFailure(errors);
    const failures = [...this.failed].map(([run, error]) => `${run.server.name}: ${error.message.split('\n')[0]}`);
    // Interrupted, the deploy's own message stands and this error is not shown: say what the rollout did.
    if (interrupted && back.length)
      this.deploy.log.warn(`the rollout was interrupted: swapped back to their previous release, newest first: ${back.join(', ')}`);
    const what = interrupted
      ? 'the rollout was interrupted'
      : `the rollout stopped: ${this.failed.size} of ${this.fleet} servers failed (${this.budget} allowed): ${failures.join('; ')}`;
    throw new AttacheError(what, {
      step: 'rollout',
      hint: `${back.length ? `Swapped back to their previous release, newest first: ${back.join(', ')}. ` : ''}The servers not reached were not touched.`,
    });
  }

  async stopIfInterrupted(): Promise<void> {
    if (this.deploy.cancel.signal.aborted) await this.stop(true);
  }

  /** Between batches: `seconds`, or until Enter on a terminal; a Ctrl-C ends it at once. */
  async pause(seconds: number): Promise<void> {
    const stdin = process.stdin.isTTY ? process.stdin : undefined;
    this.deploy.log.info(`rollout: pausing ${seconds} s before the next batch${stdin ? ' (Enter to go on now)' : ''}`);
    const enter = new AbortController();
    const onData = () => enter.abort();
    stdin?.once('data', onData);
    try {
      await sleep(seconds * 1000, undefined, { signal: AbortSignal.any([this.deploy.cancel.signal, enter.signal]) });
    } catch {
      // Ctrl-C (the next check stops the rollout) or Enter
    } finally {
      stdin?.off('data', onData);
      stdin?.pause();
    }
  }

  private async drain(run: ServerRun): Promise<void> {
    this.drained.add(run);
    await runHookHere('local-drain', run, this.deploy);
    await runServerHook('drain', run, this.deploy);
  }

  private async undrain(run: ServerRun): Promise<void> {
    this.drained.delete(run);
    await runServerHook('undrain', run, this.deploy);
    await runHookHere('local-undrain', run, this.deploy);
  }

  /** Within the budget the deploy goes on: it says which servers stay on their previous release, and why. */
  sayWhoStayed(): void {
    for (const [run, error] of this.failed)
      this.deploy.log.warn(`[${run.server.name}] stays on its previous release: ${error.message.split('\n')[0]}`);
  }
}

function hasHooks(run: ServerRun, ...hooks: HookName[]): boolean {
  return hooks.some((hook) => run.server.scripts[hook]?.length);
}
