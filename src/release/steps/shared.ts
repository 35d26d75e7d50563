import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execReporting, inSequence } from '../../remote/command';
import { sh } from '../../remote/quote';
import { releaseIdOf, type Deploy, type ServerRun, type Step } from '../lifecycle/context';
import { runServerHook } from '../lifecycle/hooks';
import { sharedPathsScript } from '../files/shared-paths';

const CREATED = 'attache:created-storage';
const NO_ENV = 'attache:no-env';

/**
 * Shared storage and .env, outside the releases. On the first deploy the release's storage
 * becomes root/storage and a local env file (--env=) becomes root/.env; later deploys never touch
 * them. Both are then linked into the release, and so are the paths of `"shared"` (shared-paths.ts).
 *
 * One script, one round trip; split in two only when hooks run between its halves (Attaché's
 * order: install hooks around storage and .env, then symlink hooks around the links).
 */
export const shared: Step = {
  name: 'shared',
  description: 'link the shared storage/ and .env into the release (created on the first deploy)',
  async run(run, deploy) {
    const { layout, server } = run;
    const id = releaseIdOf(deploy);
    await runServerHook('before-install', run, deploy);

    const install = [
      // First deploy: the release's storage skeleton becomes the shared storage. Later: the clone's copy goes.
      sh`if [ -e ${layout.storage} ]; then rm -rf -- ${layout.releaseStorage(id)}; ` +
        sh`else mkdir -p -- ${path.posix.dirname(layout.storage)} && ` +
        sh`{ if [ -d ${layout.releaseStorage(id)} ]; then mv -- ${layout.releaseStorage(id)} ${layout.storage}; else mkdir -- ${layout.storage}; fi; } && echo ${CREATED}; fi`,
      sh`if [ -e ${layout.env} ] || [ -L ${layout.env} ]; then :; else echo ${NO_ENV}; fi`,
    ];
    const paths = sharedPathsScript(run, id);
    const symlinks = [
      sh`rm -rf -- ${layout.releaseEnv(id)}`,
      sh`ln -s -- ${layout.fromRelease(id, layout.storage)} ${layout.releaseStorage(id)}`,
      sh`ln -s -- ${layout.fromRelease(id, layout.env)} ${layout.releaseEnv(id)}`,
      ...paths.commands,
    ];
    const between = ['after-install', 'before-symlinks'] as const;
    if (between.some((hook) => server.scripts[hook]?.length)) {
      await installShared(run, deploy, install);
      for (const hook of between) await runServerHook(hook, run, deploy);
      await runScript(run, symlinks, paths.afterwards);
    } else {
      await installShared(run, deploy, [...install, ...symlinks], paths.afterwards);
    }
    await runServerHook('after-symlinks', run, deploy);
  },
};

/** Storage and the .env check (and with them the links, when no hook comes between): then the .env from --env. */
async function installShared(run: ServerRun, deploy: Deploy, commands: string[], afterwards?: (stdout: string) => void): Promise<void> {
  const { layout, target, server } = run;
  const stdout = await runScript(run, commands, (out) => {
    if (out.includes(CREATED)) {
      run.undo.push('shared', `remove ${layout.storage}, which this deploy created`, () =>
        run.target.exec(sh`rm -rf -- ${layout.storage}`).then(() => undefined),
      );
    }
    afterwards?.(out);
  });
  if (!stdout.includes(NO_ENV)) return;
  const local = deploy.envFile ? readFileSync(path.resolve(deploy.cwd, deploy.envFile)) : undefined;
  if (local) {
    // 0640: php-fpm (www-data) reads it through the deploy user's group; nobody else can.
    await target.writeFile(layout.env, local, 0o640);
    run.undo.push('shared', `remove ${layout.env}, which this deploy created`, () => run.target.unlink(layout.env));
    run.log.info(`[${server.name}] created ${layout.env} from ${deploy.envFile}`);
  } else {
    run.log.warn(
      `[${server.name}] ${layout.env} does not exist: the app will run without it. Create it on the server, or pass --env=<local file> once.`,
    );
  }
}

/** Runs the commands as one script; what it created is registered for undo even when it failed part-way. */
async function runScript(run: ServerRun, commands: string[], afterwards: (stdout: string) => void): Promise<string> {
  return (await execReporting(run.target, inSequence(commands), { step: 'shared' }, afterwards)).stdout;
}
