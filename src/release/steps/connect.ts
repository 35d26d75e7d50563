import { readFileSync } from 'node:fs';
import path from 'node:path';
import { envValue, registerEnvSecrets } from '../../log';
import type { ServerConfig } from '../../config/types';
import { AttacheError } from '../../errors';
import { openTarget } from '../../open-target';
import { readSections } from '../../remote/command';
import { sh } from '../../remote/quote';
import type { Target } from '../../remote/target';
import { mapLimit } from '../../limit';
import { Layout } from '../model/layout';
import type { Step } from '../lifecycle/context';
import { dryRun } from '../../remote/dry-run';
import { serverSpec } from '../lifecycle/reconnect';
import { UndoLog } from '../lifecycle/undo-log';
import { fleetSplit } from '../model/release-list';

/** One connection per server for the whole deploy; every later step uses it. */
export const connect: Step = {
  name: 'connect',
  description: 'open one SSH connection per server (host keys verified)',
  async once(deploy) {
    if (deploy.servers.length) return;
    const settled = await mapLimit(deploy.selected, deploy.parallel, (server) =>
      openTarget({ ...serverSpec(server), matchExec: !deploy.dryRun }, deploy.log).then(
        (target) => ({ server, target: deploy.dryRun ? dryRun(target, deploy.log) : target }),
        (error: unknown) => ({ server, error }),
      ),
    );
    const failed = settled.filter((s): s is { server: ServerConfig; error: unknown } => 'error' in s);
    for (const { server, error } of failed) deploy.unreachable.set(server.name, error as Error);
    if (failed.length) {
      // One server unreachable: close the connections that did open, or they would keep gulp alive.
      await Promise.all(settled.map((s) => ('target' in s ? s.target.close().catch(() => undefined) : undefined)));
      if (failed.length === 1) throw failed[0].error;
      throw new AttacheError(
        `${failed.length} servers could not be reached:\n${failed.map((f) => (f.error as Error).message).join('\n')}`,
        { step: 'connect' },
      );
    }
    const opened = settled as Array<{ server: ServerConfig; target: Target }>;
    const runs = opened.map(({ server, target }) => ({
      server,
      target,
      layout: new Layout(server),
      log: deploy.log,
      liveBefore: null as string | null,
      appUrl: undefined as string | undefined,
      undo: new UndoLog(),
      running: new Set<string>(),
      timings: {},
      uploaded: { files: 0, bytes: 0 },
      skipped: { files: 0, bytes: 0 },
    }));
    // .env values are secrets, from --env or already on the server: registered before any hook can print them.
    const localEnv = deploy.envFile ? readFileSync(path.resolve(deploy.cwd, deploy.envFile), 'utf8') : undefined;
    if (localEnv) registerEnvSecrets(localEnv);
    await Promise.all(
      runs.map(async (run) => {
        const { env, live } = await readEnvAndLive(run.target, run.layout);
        registerEnvSecrets(env);
        // Where root/.env is missing, the --env file becomes it (the shared step).
        run.appUrl = envValue(env, 'APP_URL') ?? (env === '' && localEnv ? envValue(localEnv, 'APP_URL') : undefined);
        run.liveBefore = live; // for the report: where live was before this deploy
      }),
    );
    deploy.servers = runs;
    const split =
      deploy.task === 'deploy' &&
      fleetSplit(runs.map((run) => [run.server.name, run.liveBefore && run.layout.releaseIdOf(run.liveBefore)]));
    if (split) deploy.log.warn(`the fleet is split: ${split}; this deploy puts every server on one release`);
  },
};

/**
 * The server's .env (its values are secrets to redact) and where live points, in one command: the
 * first shell is ready before SFTP could read a file (open, read, close). Its output is never logged.
 */
async function readEnvAndLive(target: Target, layout: Layout): Promise<{ env: string; live: string | null }> {
  const [env, live] = await readSections(target, [sh`cat -- ${layout.env} 2>/dev/null`, sh`readlink -- ${layout.live} 2>/dev/null`], {
    step: 'connect',
    output: 'none',
  });
  return { env: env ?? '', live: live?.replace(/\n$/, '') || null };
}
