import { spawn } from 'node:child_process';
import type { HookName, ServerConfig } from '../config/types';
import { AttacheError } from '../errors';
import { quote } from '../remote/quote';
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
    await runLocal(command, deploy.cwd, hook, deploy.dryRun);
  }
}

export function expandTags(template: string, server: ServerConfig, layout: Layout, releaseId = ''): string {
  const release = releaseId;
  const values: Record<string, () => string> = {
    php: () => quote(server.php.bin),
    composer: () => quote(server.composer.bin),
    release: () => quote(release),
    root: () => quote(layout.root),
    artisan: () => `${quote(server.php.bin)} ${quote(layout.inRelease(release, 'artisan'))}`,
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

/** A command on the local machine (build and assets hooks, the build itself). */
export function runLocal(command: string, cwd: string, step: string, dryRun = false): Promise<void> {
  if (dryRun) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, stdio: ['ignore', 'inherit', 'pipe'] });
    let tail = '';
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString()).slice(-2000);
    });
    child.on('error', (error) => reject(new AttacheError(`could not run "${command}": ${error.message}`, { server: 'local', step })));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      reject(
        new AttacheError(signal ? `local command was killed by ${signal}` : `local command exited with code ${code}`, {
          server: 'local',
          step,
          command,
          exitCode: code,
          output: tail.trim().split('\n').slice(-20).join('\n'),
          hint: `Run it yourself in ${cwd} to see why.`,
        }),
      );
    });
  });
}
