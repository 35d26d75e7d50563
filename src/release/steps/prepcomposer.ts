import path from 'node:path/posix';
import { sh } from '../../remote/quote';
import type { Step } from '../lifecycle/context';
import { localComposerPath, phpCommand } from '../model/tools';

/**
 * Attaché's composer.local: root/<bin> is downloaded with Composer's official installer when it is
 * missing (from composer.installer, so a mirror or a test can serve it), and self-updated otherwise.
 * Where it runs, as in Attaché: after the clone, before the install and symlinks hooks.
 */
export const prepcomposer: Step = {
  name: 'prepcomposer',
  description: "composer.local: download root's own composer.phar with the official installer, or self-update it",
  hooks: 'prepcomposer',
  // Only where composer.local is set; a server that skips composer skips this too.
  appliesTo: (server) => server.composer.local && !(server.skip as readonly string[]).includes('composer'),
  async run(run) {
    const { server, target, layout } = run;
    const bin = localComposerPath(server);
    const installer = path.join(path.dirname(bin), `.attache-composer-installer-${process.pid}.php`);
    const php = phpCommand(server);
    await target.exec(
      sh`if [ -f ${bin} ]; then ${php} ${bin} self-update --no-interaction; ` +
        sh`else curl -fsSL -o ${installer} -- ${server.composer.installer} && ` +
        sh`${php} ${installer} --install-dir=${path.dirname(bin)} --filename=${path.basename(bin)}; status=$?; rm -f -- ${installer}; exit $status; fi`,
      { cwd: layout.root, step: 'prepcomposer' },
    );
  },
};
