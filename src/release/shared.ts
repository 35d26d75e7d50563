import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sh } from '../remote/quote';
import { releaseIdOf, type Step } from './context';
import { runServerHook } from './hooks';
import { linkSharedPaths } from './shared-paths';

const CREATED = 'attache:created';

/**
 * Shared storage and .env, outside the releases. On the first deploy the release's storage
 * becomes root/storage and a local env file (--env=) becomes root/.env; later deploys never touch
 * them. Both are then linked into the release, and so are the paths of `"shared"` (shared-paths.ts).
 */
export const shared: Step = {
  name: 'shared',
  description: 'link the shared storage/ and .env into the release (created on the first deploy)',
  // Two hook pairs, in Attaché's order: install (around storage and .env) then symlinks, so fired here.
  async run(run, deploy) {
    const { layout, target, server } = run;
    const id = releaseIdOf(deploy);
    await runServerHook('before-install', run, deploy);

    // First deploy: the release's storage skeleton becomes the shared storage. Later: the clone's copy goes.
    const storage = await target.exec(
      sh`if [ -e ${layout.storage} ]; then rm -rf -- ${layout.releaseStorage(id)}; ` +
        sh`else mkdir -p -- ${path.posix.dirname(layout.storage)} && ` +
        sh`{ if [ -d ${layout.releaseStorage(id)} ]; then mv -- ${layout.releaseStorage(id)} ${layout.storage}; else mkdir -- ${layout.storage}; fi; } && echo ${CREATED}; fi`,
      { step: 'shared' },
    );
    if (storage.stdout.includes(CREATED)) {
      run.undo.push('shared', `remove ${layout.storage}, which this deploy created`, () => run.target.exec(sh`rm -rf -- ${layout.storage}`).then(() => undefined));
    }

    if (!(await target.lstat(layout.env))) {
      const local = deploy.envFile ? readFileSync(path.resolve(deploy.cwd, deploy.envFile)) : undefined;
      if (local) {
        // 0640: php-fpm (www-data) reads it through the deploy user's group; nobody else can.
        await target.writeFile(layout.env, local, 0o640);
        run.undo.push('shared', `remove ${layout.env}, which this deploy created`, () => run.target.unlink(layout.env));
        run.log.info(`[${server.name}] created ${layout.env} from ${deploy.envFile}`);
      } else {
        run.log.warn(`[${server.name}] ${layout.env} does not exist: the app will run without it. Create it on the server, or pass --env=<local file> once.`);
      }
    }

    await runServerHook('after-install', run, deploy);

    await runServerHook('before-symlinks', run, deploy);
    await target.exec(sh`rm -rf -- ${layout.releaseEnv(id)}`, { step: 'shared' });
    await target.symlink(layout.fromRelease(id, layout.storage), layout.releaseStorage(id));
    await target.symlink(layout.fromRelease(id, layout.env), layout.releaseEnv(id));
    await linkSharedPaths(run, id);
    await runServerHook('after-symlinks', run, deploy);
  },
};
