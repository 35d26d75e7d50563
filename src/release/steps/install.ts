import { AttacheError } from '../../errors';
import { sh } from '../../remote/quote';
import { artisanCommand } from '../model/tools';
import { releaseIdOf, type Step } from '../lifecycle/context';
import { artifact, artisan, assets, build, clone, composer, connect, health, live, lock, migrate, packageStep, prepcomposer, prune, release, shared, unlock, type PlanPart } from '../index';
import { listReleases } from '../model/release-list';

/** The env file Attaché's `install` installs as root/.env when --env names none. */
export const INSTALL_ENV = '.env.example';

/** Attaché's `install` is a first deploy: it refuses a server that already has releases. */
export const installCheck: Step = {
  name: 'check',
  description: 'refuse a server that already has releases (install is the first deploy)',
  async run(run) {
    const releases = await listReleases(run.target, run.layout);
    if (releases.length) {
      throw new AttacheError(`there is already an installation on ${run.server.name}: ${releases.length} release${releases.length === 1 ? '' : 's'} in ${run.layout.releases}`, {
        server: run.server.name,
        step: 'install',
        hint: 'Did you mean gulp deploy?',
      });
    }
  },
};

/** After the first deploy's artisan steps, before it goes live: the app's key, as Attaché's install does. */
export const keyGenerate: Step = {
  name: 'key',
  description: 'php artisan key:generate in the new release (writes APP_KEY into root/.env)',
  async run(run, deploy) {
    const id = releaseIdOf(deploy);
    if (!deploy.dryRun && !(await run.target.lstat(run.layout.inRelease(id, 'artisan')))) {
      run.log.warn(`[${run.server.name}] no artisan in the release: no key generated`);
      return;
    }
    // --force: Laravel asks for confirmation in production, and a deploy must never wait for a prompt.
    await run.target.exec(sh`${artisanCommand(run.server, 'artisan')} key:generate --force`, { cwd: run.layout.release(id), output: 'info', step: 'install' });
  },
};

/**
 * The deploy plan with the check first (right after connecting, before the build) and the key
 * generated after storage:link and before migrate, as in Attaché.
 */
export const INSTALL_PLAN: readonly PlanPart[] = [
  connect,
  installCheck,
  build,
  packageStep,
  lock,
  release,
  { phase: 'deploy', parts: [clone, artifact, { together: [[prepcomposer, shared, composer, artisan, keyGenerate, migrate], [assets]] }] },
  live,
  health,
  prune,
  unlock,
];
