import { execReporting, inDirectory } from '../../remote/command';
import { raw, sh } from '../../remote/quote';
import { releaseIdOf, type Step } from '../lifecycle/context';
import { composerCommand, composerInstallArgs, phpCommand } from '../model/tools';

const NO_COMPOSER_JSON = 'attache:no-composer-json';
const REUSED = 'attache:vendor-reused';
/** What the last install was for (PHP's version, the flags), beside the packages it installed. */
const STAMP = 'vendor/.attache-vendor';
/** What Composer writes when it finds nothing to install: copied, never linked, so no write reaches the live release. */
const COMPOSER_WRITES = ['vendor/composer', 'vendor/autoload.php', 'vendor/bin'];

/**
 * `composer install` in the release (no dev packages unless composer.dev). When the live release
 * was installed from the same composer.lock, with the same PHP and flags, vendor/ starts as hard
 * links to its packages and real copies of what Composer writes: the install then finds nothing to
 * install, and only dumps the autoloader and runs the scripts (seconds of copying saved on every
 * redeploy of an unchanged lock). Everything is one script: one round trip.
 */
export const composer: Step = {
  name: 'composer',
  description: 'composer install in the release (--no-dev unless composer.dev); vendor/ linked from live when the lock is unchanged',
  hooks: 'composer',
  appliesTo: (server) => server.strategy === 'clone', // the artifact strategy runs it locally
  async run(run, deploy) {
    const { server, layout } = run;
    const dir = layout.release(releaseIdOf(deploy));
    const flags = composerInstallArgs(server);
    const install = sh`${composerCommand(server)} ${flags}`;
    const stamp = raw(sh`"$(${phpCommand(server)} -r 'echo PHP_VERSION;' 2>/dev/null)"${` ${flags.join(' ')}`}`);
    const reuse = server.composer.reuseVendor
      ? sh`live=$(readlink -f -- ${layout.live} 2>/dev/null) || live=; ` +
        sh`if [ -n "$live" ] && [ "$live" != "$PWD" ] && [ -d "$live/vendor" ] && [ ! -e vendor ] && [ -f composer.lock ] && ` +
        sh`cmp -s composer.lock "$live/composer.lock" && [ "$(cat "$live/${raw(STAMP)}" 2>/dev/null)" = "$stamp" ]; then ` +
        sh`cp -al -- "$live/vendor" vendor && for p in ${raw(COMPOSER_WRITES.join(' '))}; do ` +
        sh`if [ -e "$live/$p" ] || [ -L "$live/$p" ]; then rm -rf -- "$p" && cp -RP -- "$live/$p" "$p"; fi; done && rm -f -- ${raw(STAMP)} && echo ${REUSED}; fi; `
      : '';
    // The check goes with the command (one round trip); a failure names the install alone.
    const script =
      sh`if [ -e composer.json ] || [ -L composer.json ]; then stamp=${stamp}; ` +
      reuse +
      sh`${raw(install)} && { rm -f -- ${raw(STAMP)}; printf '%s' "$stamp" > ${raw(STAMP)}; }; else echo ${NO_COMPOSER_JSON}; fi`;
    const result = await execReporting(run.target, script, { cwd: dir, step: 'composer' }, undefined, inDirectory(install, dir));
    if (result.stdout.includes(NO_COMPOSER_JSON)) run.log.info(`[${server.name}] no composer.json in the release: nothing to install`);
    if (result.stdout.includes(REUSED))
      run.log.info(
        `[${server.name}] composer.lock is the live release's: vendor/ linked from it, composer install only dumps the autoloader`,
      );
  },
};
