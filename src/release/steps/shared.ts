import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execReporting, inSequence } from '../../remote/command';
import { sh } from '../../remote/quote';
import { releaseIdOf, type Step } from '../lifecycle/context';

const CREATED = 'attache:created-storage';
const NO_ENV = 'attache:no-env';

/**
 * Shared storage and .env, outside the releases (Attaché's "install" hooks around it). On the first
 * deploy the release's storage becomes root/storage and a local env file (--env=) becomes
 * root/.env; later deploys never touch them. The next step links them into the release.
 */
export const shared: Step = {
  name: 'shared',
  description: 'the shared storage/ and .env outside the releases (made on the first deploy)',
  hooks: 'install',
  async run(run, deploy) {
    const { layout, target, server } = run;
    const id = releaseIdOf(deploy);
    const script = inSequence([
      // First deploy: the release's storage skeleton becomes the shared storage. Later: the clone's copy goes.
      sh`if [ -e ${layout.storage} ]; then rm -rf -- ${layout.releaseStorage(id)}; ` +
        sh`else mkdir -p -- ${path.posix.dirname(layout.storage)} && ` +
        sh`{ if [ -d ${layout.releaseStorage(id)} ]; then mv -- ${layout.releaseStorage(id)} ${layout.storage}; else mkdir -- ${layout.storage}; fi; } && echo ${CREATED}; fi`,
      sh`if [ -e ${layout.env} ] || [ -L ${layout.env} ]; then :; else echo ${NO_ENV}; fi`,
    ]);
    // What it created is registered for undo even when the script failed part-way.
    const { stdout } = await execReporting(run.target, script, { step: 'shared' }, (out) => {
      if (out.includes(CREATED)) {
        run.undo.push('shared', `remove ${layout.storage}, which this deploy created`, () =>
          run.target.exec(sh`rm -rf -- ${layout.storage}`).then(() => undefined),
        );
      }
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
  },
};
