import type { HookName } from '../../config/types';
import { mapLimit } from '../../limit';
import type { Deploy, ServerRun } from './context';
import { Layout } from '../model/layout';
import { runLocalCommand } from './local-command';
import { expandTags } from '../model/tags';

/** As in Attaché, build and assets hooks run on the local machine in the project directory; the others on the server in root. */
const LOCAL_HOOKS: ReadonlySet<HookName> = new Set(['before-build', 'after-build', 'before-assets', 'after-assets']);

/**
 * Fires one hook: a local hook once (from the first server's config, as the build), a server hook
 * on each of `runs` (default every server of the deploy), at most `parallel` at once.
 */
export async function fireHook(hook: HookName, deploy: Deploy, runs: readonly ServerRun[] = deploy.servers): Promise<void> {
  if (LOCAL_HOOKS.has(hook)) {
    const server = deploy.selected[0];
    for (const template of server.scripts[hook] ?? []) {
      const command = expandTags(template, server, new Layout(server), deploy.releaseId, hook);
      deploy.log.info(`[local] ${hook}: ${command}`);
      await runLocal(command, deploy, hook);
    }
    return;
  }
  await mapLimit([...runs], deploy.parallel, (run) => runServerHook(hook, run, deploy));
}

/** A server hook's commands, in root, with Attaché's tags expanded (tags.ts). */
export async function runServerHook(hook: HookName, run: ServerRun, deploy: Deploy): Promise<void> {
  for (const template of run.server.scripts[hook] ?? []) {
    const command = expandTags(template, run.server, run.layout, deploy.releaseId, hook);
    run.log.info(`[${run.server.name}] ${hook}: ${command}`);
    await run.target.exec(command, { cwd: run.layout.root, output: 'info', step: hook });
  }
}

/**
 * A hook of one server run here, in the project directory (a rollout's `local-drain`, for a load
 * balancer driven by an API from the deploying machine): that server's tags (@server, @host).
 */
export async function runHookHere(hook: HookName, run: ServerRun, deploy: Deploy): Promise<void> {
  for (const template of run.server.scripts[hook] ?? []) {
    const command = expandTags(template, run.server, run.layout, deploy.releaseId, hook);
    deploy.log.info(`[local] [${run.server.name}] ${hook}: ${command}`);
    await runLocal(command, deploy, hook);
  }
}

export function isLocalHook(hook: HookName): boolean {
  return LOCAL_HOOKS.has(hook);
}

/**
 * A command on the local machine (build and assets hooks, the build itself), through the local
 * target: its output goes to the logger line by line, redacted, like a server's.
 */
export async function runLocal(command: string, deploy: Deploy, step: string): Promise<void> {
  if (deploy.dryRun) {
    deploy.log.info(`[dry run] [local] would run: ${command}`);
    return;
  }
  // A failure elsewhere (a server that cannot be reached) stops the build at once, not at its end.
  await runLocalCommand(command, { cwd: deploy.cwd, log: deploy.log, step, signal: deploy.cancel.signal });
}
