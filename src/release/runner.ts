import { AttacheError, withContext } from '../errors';
import { mapLimit } from '../limit';
import type { ServerConfig } from '../config/types';
import type { Deploy, Step } from './context';
import { stopHeartbeat } from './lock';
import { undoOnServer } from './undo';

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
      try {
        await step.run!(run, deploy);
        return undefined;
      } catch (error) {
        run.error = withContext(error, { server: run.server.name, step: step.name });
        return run.error;
      } finally {
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
      await undoOnServer(run, deploy.releaseId);
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
 * Ctrl-C or SIGTERM during a deploy: stop it the way a failure does (`stop` undoes and closes),
 * then exit non-zero. Returns the function that removes the handlers once the deploy is over.
 */
export function onInterrupt(deploy: Deploy, stop: (reason: Error) => Promise<void>): () => void {
  const handler = (signal: NodeJS.Signals) => {
    deploy.log.error(`${signal}: stopping the deploy; undoing what it did…`);
    deploy.interrupted = true;
    const code = signal === 'SIGINT' ? 130 : 143;
    stop(new AttacheError(`the deploy was interrupted (${signal})`, { hint: 'Nothing was switched; run the deploy again when ready.' })).finally(() => {
      // The steps still pending end quietly now, so gulp finishes and the process exits with this code
      // (gulp-cli would turn an exit with tasks pending into 1). The timer covers anything that lingers.
      process.exitCode = code;
      setTimeout(() => process.exit(code), 1000).unref();
    });
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
