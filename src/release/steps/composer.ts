import { execReporting, inDirectory } from '../../remote/command';
import { raw, sh } from '../../remote/quote';
import { composerCommand, composerInstallArgs } from '../model/tools';
import { releaseIdOf, type Step } from '../lifecycle/context';

const NO_COMPOSER_JSON = 'attache:no-composer-json';

/** `composer install` in the release (no dev packages unless composer.dev). */
export const composer: Step = {
  name: 'composer',
  description: 'composer install in the release (--no-dev unless composer.dev)',
  hooks: 'composer',
  appliesTo: (server) => server.strategy === 'clone', // the artifact strategy runs it locally
  async run(run, deploy) {
    const dir = run.layout.release(releaseIdOf(deploy));
    const flags = composerInstallArgs(run.server);
    const install = sh`${composerCommand(run.server)} ${flags}`;
    // The check goes with the command (one round trip); a failure names the install alone.
    const script = sh`if [ -e composer.json ] || [ -L composer.json ]; then ${raw(install)}; else echo ${NO_COMPOSER_JSON}; fi`;
    const result = await execReporting(run.target, script, { cwd: dir, step: 'composer' }, undefined, inDirectory(install, dir));
    if (result.stdout.includes(NO_COMPOSER_JSON)) run.log.info(`[${run.server.name}] no composer.json in the release: nothing to install`);
  },
};
