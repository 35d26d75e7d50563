import path from 'node:path/posix';
import { sh } from '../remote/quote';
import { composerCommand, localComposerPath, phpCommand } from './tools';
import { releaseIdOf, type Deploy, type ServerRun, type Step } from './context';
import { runHook } from './hooks';

/** `composer install` in the release (no dev packages unless composer.dev); with composer.local, root's own copy first. */
export const composer: Step = {
  name: 'composer',
  description: 'composer install in the release (--no-dev unless composer.dev; composer.local: root\'s own composer.phar)',
  async run(run, deploy) {
    if (run.server.composer.local) await prepareLocalComposer(run, deploy);
    const dir = run.layout.release(releaseIdOf(deploy));
    // A dry run has no clone to look into: it prints the install as if composer.json were there.
    if (!deploy.dryRun && !(await run.target.lstat(run.layout.inRelease(releaseIdOf(deploy), 'composer.json')))) {
      run.log.info(`[${run.server.name}] no composer.json in the release: nothing to install`);
      return;
    }
    await runHook('before-composer', run, deploy);
    const flags = ['install', '--no-interaction', '--prefer-dist', '--no-progress', '--optimize-autoloader', ...(run.server.composer.dev ? [] : ['--no-dev'])];
    await run.target.exec(sh`${composerCommand(run.server)} ${flags}`, { cwd: dir, step: 'composer' });
    await runHook('after-composer', run, deploy);
  },
};

/**
 * Attaché's composer.local: root/<bin> is downloaded with Composer's official installer when it is
 * missing (from composer.installer, so a mirror or a test can serve it), and self-updated otherwise.
 */
async function prepareLocalComposer(run: ServerRun, deploy: Deploy): Promise<void> {
  const { server, target, layout } = run;
  await runHook('before-prepcomposer', run, deploy);
  const bin = localComposerPath(server);
  const installer = path.join(path.dirname(bin), `.attache-composer-installer-${process.pid}.php`);
  const php = phpCommand(server);
  await target.exec(
    sh`if [ -f ${bin} ]; then ${php} ${bin} self-update --no-interaction; ` +
      sh`else curl -fsSL -o ${installer} -- ${server.composer.installer} && ` +
      sh`${php} ${installer} --install-dir=${path.dirname(bin)} --filename=${path.basename(bin)}; status=$?; rm -f -- ${installer}; exit $status; fi`,
    { cwd: layout.root, step: 'composer' },
  );
  await runHook('after-prepcomposer', run, deploy);
}
