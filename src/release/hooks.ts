import type { HookName, ServerConfig } from '../config/types';
import { AttacheError } from '../errors';
import { LocalTarget } from '../remote/local';
import { quote } from '../remote/quote';
import { composerCommand } from './composer';
import type { Deploy, ServerRun } from './context';
import { Layout } from './layout';

/** As in Attaché, build and assets hooks run on the local machine in the project directory; the others on the server in root. */
type LocalHook = 'before-build' | 'after-build' | 'before-assets' | 'after-assets';

/**
 * Runs a hook's commands with Attaché's tags expanded (each value quoted):
 * @php, @composer, @release (the release id), @root, @path:<releases|serve|storage|env>, @artisan
 * (`<php> <release>/artisan`). Tags may be written `{{ @tag }}`.
 */
export async function runHook(hook: Exclude<HookName, LocalHook>, run: ServerRun, deploy: Deploy): Promise<void> {
  for (const template of run.server.scripts[hook] ?? []) {
    const command = expandTags(template, run.server, run.layout, deploy.releaseId);
    run.log.info(`[${run.server.name}] ${hook}: ${command}`);
    await run.target.exec(command, { cwd: run.layout.root, output: 'info', step: hook });
  }
}

export async function runLocalHook(hook: LocalHook, server: ServerConfig, deploy: Deploy): Promise<void> {
  for (const template of server.scripts[hook] ?? []) {
    const command = expandTags(template, server, new Layout(server), deploy.releaseId);
    deploy.log.info(`[local] ${hook}: ${command}`);
    await runLocal(command, deploy, hook);
  }
}

export function expandTags(template: string, server: ServerConfig, layout: Layout, releaseId?: string): string {
  const release = () => {
    if (releaseId === undefined) {
      throw new AttacheError(`"${template}" uses a release tag before the release exists`, {
        server: server.name,
        hint: '@release and @artisan are known from the clone step on (after-clone and later hooks).',
      });
    }
    return releaseId;
  };
  const values: Record<string, () => string> = {
    php: () => quote(server.php.bin),
    composer: () => composerCommand(server).text,
    release: () => quote(release()),
    root: () => quote(layout.root),
    artisan: () => `${quote(server.php.bin)} ${quote(layout.inRelease(release(), 'artisan'))}`,
    'path:releases': () => quote(layout.releases),
    'path:serve': () => quote(layout.live),
    'path:storage': () => quote(layout.storage),
    'path:env': () => quote(layout.env),
  };
  return template.replace(/\{\{\s*@([a-z]+(?::[a-z]+)?)\s*\}\}|@([a-z]+(?::[a-z]+)?)/g, (match, braced, bare) => {
    const tag = braced ?? bare;
    const value = values[tag];
    if (!value) {
      if (braced) throw new AttacheError(`unknown script tag @${tag}`, { server: server.name, hint: `Tags: ${Object.keys(values).map((t) => '@' + t).join(', ')}` });
      return match; // e.g. an e-mail address in an echo
    }
    return value();
  });
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
