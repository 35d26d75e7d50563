import { AttacheError, withContext } from '../errors';
import { mapLimit } from '../limit';
import type { ServerConfig } from '../config/types';
import type { Deploy, ServerRun, Step } from './context';
import { stopHeartbeat } from './lock';
import { clearCommand, leftOn, undoOnServer } from './undo';

/**
 * Runs one step: its once-part, then its per-server part on every server (at most `parallel` at
 * once). Every server finishes its step before a failure is reported, so that the undo that follows
 * never races a command still running.
 */
export async function runStep(step: Step, deploy: Deploy): Promise<void> {
  const running = runStepNow(step, deploy);
  deploy.inFlight.add(running);
  try {
    await running;
  } finally {
    deploy.inFlight.delete(running);
  }
}

async function runStepNow(step: Step, deploy: Deploy): Promise<void> {
  if (deploy.cancel.signal.aborted) throw new AttacheError('the deploy was stopped', { step: step.name });
  const started = Date.now();
  const skips = (server: ServerConfig) => (server.skip as readonly string[]).includes(step.name);
  if (deploy.selected.every(skips)) {
    deploy.log.info(`${step.name}: skipped ("skip" in the config)`);
    return;
  }
  deploy.log.info(`${step.name}…`);
  try {
    if (step.once) await step.once(deploy);
  } catch (error) {
    throw withContext(error, { step: step.name });
  }
  if (step.run) {
    const results = await mapLimit(deploy.servers.filter((run) => !skips(run.server)), deploy.parallel, async (run) => {
      const t0 = Date.now();
      const running = runningSteps.get(run) ?? new Set<string>();
      runningSteps.set(run, running.add(step.name));
      try {
        await step.run!(run, deploy);
        return undefined;
      } catch (error) {
        run.error = withContext(error, { server: run.server.name, step: step.name });
        return run.error;
      } finally {
        running.delete(step.name);
        run.timings[step.name] = (run.timings[step.name] ?? 0) + (Date.now() - t0) / 1000;
      }
    });
    const failures = results.filter((e): e is Error => e !== undefined);
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      throw new AttacheError(`${failures.length} servers failed:\n${failures.map((f) => f.message).join('\n')}`, { step: step.name });
    }
  }
  try {
    if (step.after) await step.after(deploy);
  } catch (error) {
    throw withContext(error, { step: step.name });
  }
  deploy.log.info(`${step.name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * The deploy failed (or was interrupted): on every server, undo what the steps did, newest first
 * (swap live back, remove the half-built release, restore shared paths, release the lock).
 */
export async function abort(deploy: Deploy): Promise<void> {
  deploy.state = 'failed';
  deploy.cancel.abort();
  await Promise.allSettled([...deploy.inFlight]);
  await Promise.all(
    deploy.servers.map(async (run) => {
      // Each server on its own: a lost connection is replaced for the undo (see undo.ts).
      const { done, left } = await undoOnServer(run, deploy.releaseId);
      if (deploy.interrupted) run.log.info(`[${run.server.name}] ${done.length ? `undone: ${done.join('; ')}` : 'nothing to undo'}${left.length ? `; left: ${left.join('; ')}` : ''}`);
      if (deploy.committed) run.result = 'deployed';
      else run.result = run.error ? 'failed' : run.timings.live !== undefined ? 'rolled back' : 'untouched';
    }),
  );
  await close(deploy);
}

/** Past the health check: nothing more to undo but the lock. */
export function commit(deploy: Deploy): void {
  deploy.committed = true;
  for (const run of deploy.servers) {
    run.undo = run.undo.filter((u) => u.step === 'lock');
    run.result = 'deployed';
  }
}

export async function close(deploy: Deploy): Promise<void> {
  await Promise.all(deploy.servers.map((run) => stopHeartbeat(run).then(() => run.target.close()).catch(() => undefined)));
}

/**
 * Ctrl-C or SIGTERM during a deploy. The first stops it the way a failure does (`stop` waits for
 * the running commands, undoes and closes), saying what it waits for, then exits non-zero at once
 * (gulp prints no "Finished" for a deploy that was undone). A second says the undo is still
 * running; a third leaves at once, saying what is left where. Returns the function that removes
 * the handlers once the deploy is over.
 */
export function onInterrupt(deploy: Deploy, stop: (reason: Error) => Promise<void>): () => void {
  let presses = 0;
  const handler = (signal: NodeJS.Signals) => {
    presses++;
    const code = signal === 'SIGINT' ? 130 : 143;
    const waiting = runningNow(deploy);
    if (presses === 1) {
      deploy.interrupted = true;
      deploy.log.error(`${signal}: stopping the deploy; ${waiting ? `waiting for ${waiting} to stop, then ` : ''}undoing what it did…`);
      stop(new AttacheError(`the deploy was interrupted (${signal})`, { hint: 'Nothing was switched; run the deploy again when ready.' })).finally(() => {
        // The summary is out. The steps still pending end quietly now (each waited for the undo), so
        // gulp finishes after it; the timer covers anything that lingers.
        exitWith(code);
        setTimeout(() => process.exit(code), 1000).unref();
      });
    } else if (presses === 2) {
      deploy.log.error(
        `${signal}: the undo is still running${waiting ? ` (waiting for ${waiting} to stop)` : ''}. ` +
          'Press Ctrl-C once more to leave at once: the lock and what is not yet undone stay on the server.',
      );
    } else {
      const left = deploy.servers.map((run) => ({ run, left: leftOn(run, deploy.releaseId) })).filter((s) => s.left.length);
      deploy.log.error(
        `${signal}: leaving without finishing the undo.` +
          (left.length
            ? ` ${left.map(({ run, left }) => `Left on ${run.server.name}: ${left.join('; ')}. To clear: ${clearCommand(run)}`).join('\n')}` +
              ' (or deploy again: from this host the lock is taken over once this process has ended).'
            : ' Nothing is left to undo.'),
      );
      exitWith(code);
      process.exit(code);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/**
 * The exit code the process ends with, whatever runs at exit: gulp-cli turns an exit with tasks
 * pending into 1 from its own 'exit' listener, which runs before this one.
 */
function exitWith(code: number): void {
  process.exitCode = code;
  process.once('exit', () => (process.exitCode = code));
}

/** Step name per server, for "waiting for composer on web1 to stop". */
const runningSteps = new WeakMap<ServerRun, Set<string>>();

function runningNow(deploy: Deploy): string {
  return deploy.servers.flatMap((run) => [...(runningSteps.get(run) ?? [])].map((step) => `${step} on ${run.server.name}`)).join(', ');
}
