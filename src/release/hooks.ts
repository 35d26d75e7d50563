import type { HookName, ServerConfig } from '../config/types';
import { LocalTarget } from '../remote/local';
import { expandTags } from './tags';
import type { Deploy, ServerRun } from './context';
import { Layout } from './layout';

/** As in Attaché, build and assets hooks run on the local machine in the project directory; the others on the server in root. */
type LocalHook = 'before-build' | 'after-build' | 'before-assets' | 'after-assets';

/** Runs a hook's commands on the server, in root, with Attaché's tags expanded (tags.ts). */
export async function runHook(hook: Exclude<HookName, LocalHook>, run: ServerRun, deploy: Deploy): Promise<void> {
  for (const template of run.server.scripts[hook] ?? []) {
    const command = expandTags(template, run.server, run.layout, deploy.releaseId, hook);
    run.log.info(`[${run.server.name}] ${hook}: ${command}`);
    await run.target.exec(command, { cwd: run.layout.root, output: 'info', step: hook });
  }
}

export async function runLocalHook(hook: LocalHook, server: ServerConfig, deploy: Deploy): Promise<void> {
  for (const template of server.scripts[hook] ?? []) {
    const command = expandTags(template, server, new Layout(server), deploy.releaseId, hook);
    deploy.log.info(`[local] ${hook}: ${command}`);
    await runLocal(command, deploy, hook);
  }
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
  await new LocalTarget('local', deploy.log).exec(command, { cwd: deploy.cwd, output: 'info', step });
}
