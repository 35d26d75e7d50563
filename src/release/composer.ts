import { sh } from '../remote/quote';
import { composerCommand } from './tools';
import { releaseIdOf, type Step } from './context';

/** `composer install` in the release (no dev packages unless composer.dev). */
export const composer: Step = {
  name: 'composer',
  description: 'composer install in the release (--no-dev unless composer.dev)',
  hooks: 'composer',
  async run(run, deploy) {
    const dir = run.layout.release(releaseIdOf(deploy));
    // A dry run has no clone to look into: it prints the install as if composer.json were there.
    if (!deploy.dryRun && !(await run.target.lstat(run.layout.inRelease(releaseIdOf(deploy), 'composer.json')))) {
      run.log.info(`[${run.server.name}] no composer.json in the release: nothing to install`);
      return;
    }
    const flags = ['install', '--no-interaction', '--prefer-dist', '--no-progress', '--optimize-autoloader', ...(run.server.composer.dev ? [] : ['--no-dev'])];
    await run.target.exec(sh`${composerCommand(run.server)} ${flags}`, { cwd: dir, step: 'composer' });
  },
};
