import path from 'node:path/posix';
import type { HookName, ServerConfig } from '../../config/types';
import { AttacheError, withContext } from '../../errors';
import { mapLimit } from '../../limit';
import { explainNoSpace } from '../../remote/disk-space';
import type { Deploy, ServerRun, Step } from './context';
import { fireHook, isLocalHook, runServerHook } from './hooks';

/**
 * Runs one step: its `before-` hook, its once-part, its per-server part on every server it applies
 * to (at most `parallel` at once), its after-part, its `after-` hook. Server hooks run beside the
 * step on each server; local hooks once. Every server finishes its part before a failure is
 * reported, so that the undo that follows never races a command still running.
 */
export async function runStep(step: Step, deploy: Deploy): Promise<void> {
  if (deploy.cancel.signal.aborted) throw new AttacheError('the deploy was stopped', { step: step.name });
  const runs = deploy.servers.filter((run) => applies(step, run.server));
  if (!deploy.selected.some((server) => applies(step, server))) {
    if (deploy.selected.every((server) => skips(step, server))) deploy.log.info(`${step.name}: skipped ("skip" in the config)`);
    else deploy.log.debug(`${step.name}: nothing to do on these servers`);
    return;
  }
  const started = Date.now();
  const names = runs.map((run) => run.server.name);
  const group = `${step.name}${names.length > 3 ? ` (${names.length} servers)` : names.length ? ` (${names.join(', ')})` : ''}`;
  deploy.log.group(group);
  try {
    await runParts(step, deploy, runs);
  } finally {
    deploy.log.groupEnd(group);
  }
  deploy.log.info(`${step.name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function runParts(step: Step, deploy: Deploy, runs: readonly ServerRun[]): Promise<void> {
  deploy.log.info(`${step.name}…`);
  const before: HookName | undefined = step.hooks && `before-${step.hooks}`;
  const after: HookName | undefined = step.hooks && `after-${step.hooks}`;
  const localHooks = before !== undefined && isLocalHook(before);

  if (localHooks) await inStep(step, () => fireHook(before, deploy));
  await inStep(step, () => step.once?.(deploy));
  if (step.run || (step.hooks && !localHooks)) {
    await onEveryServer(step, runs, deploy, async (run) => {
      if (before && !localHooks) await runServerHook(before, run, deploy);
      await step.run?.(run, deploy);
      if (after && !localHooks) await runServerHook(after, run, deploy);
    });
  }
  await inStep(step, () => step.after?.(deploy));
  if (localHooks && after) await inStep(step, () => fireHook(after, deploy));
}

/** A step applies to a server unless the config skips it there or the step has nothing to do there. */
export function applies(step: Step, server: ServerConfig): boolean {
  return !skips(step, server) && (step.appliesTo?.(server) ?? true);
}

function skips(step: Step, server: ServerConfig): boolean {
  return (server.skip as readonly string[]).includes(step.name);
}

async function inStep(step: Step, part: () => Promise<void> | void): Promise<void> {
  try {
    await part();
  } catch (error) {
    throw withContext(error, { step: step.name });
  }
}

/** One part on each server; every server finishes before the failures (all of them) are reported. */
export async function onEveryServer(
  step: Step | string,
  runs: readonly ServerRun[],
  deploy: Deploy,
  part: (run: ServerRun) => Promise<void>,
): Promise<void> {
  const name = typeof step === 'string' ? step : step.name;
  const results = await settleOnServers(name, runs, deploy, part);
  const failures = results.filter((e): e is AttacheError => e !== undefined);
  if (failures.length) throw oneFailure(failures, name);
}

/** The servers' failures as the one error of a step: the only one as it is, several in one message. */
export function oneFailure(failures: readonly Error[], step?: string): Error {
  if (failures.length === 1) return failures[0];
  return new AttacheError(`${failures.length} servers failed:\n${failures.map((f) => f.message).join('\n')}`, step ? { step } : {});
}

/** One part on each server, timed; each server's error (undefined: it succeeded), in the order of `runs`. */
export function settleOnServers(
  name: string,
  runs: readonly ServerRun[],
  deploy: Deploy,
  part: (run: ServerRun) => Promise<void>,
): Promise<Array<AttacheError | undefined>> {
  return mapLimit([...runs], deploy.parallel, async (run) => {
    const t0 = Date.now();
    run.running.add(name);
    try {
      await part(run);
      return undefined;
    } catch (caught) {
      const failure = withContext(caught, { server: run.server.name, step: name });
      // "No space left on device" while df shows space: say that the inodes ran out, and where.
      const remotePath = failure.context.remotePath;
      const near = remotePath?.startsWith('/') ? [remotePath, path.dirname(remotePath)] : [];
      const error = withContext(await explainNoSpace(failure, run.target, [...near, run.layout.root]), {});
      run.error ??= error;
      return error;
    } finally {
      run.running.delete(name);
      run.timings[name] = (run.timings[name] ?? 0) + (Date.now() - t0) / 1000;
    }
  });
}

/** What runs now, for Ctrl-C's "waiting for composer on web1 to stop". */
export function runningNow(deploy: Deploy): string {
  return deploy.servers.flatMap((run) => [...run.running].map((step) => `${step} on ${run.server.name}`)).join(', ');
}
