import { execReporting, inDirectory } from '../../remote/command';
import { raw, sh } from '../../remote/quote';
import { releaseIdOf, type Step } from '../lifecycle/context';
import { Layout } from '../model/layout';
import { composerCommand, composerInstallArgs, phpCommand } from '../model/tools';

const NO_COMPOSER_JSON = 'attache:no-composer-json';
const REUSED = 'attache:vendor-reused';
const NOT_NEEDED = 'attache:composer-not-needed';
const PLUGINS = 'attache:composer-plugins=';
/** What Composer writes when it finds nothing to install: copied, never linked, so no write reaches the live release. */
const COMPOSER_WRITES = ['vendor/composer', 'vendor/autoload.php', 'vendor/bin'];

/** The events `composer install` fires when it finds nothing to install, in its order. */
const INSTALL_EVENTS = ['pre-install-cmd', 'pre-autoload-dump', 'post-autoload-dump', 'post-install-cmd'];

/**
 * The Composer plugins the install would install (`dev` as its first argument: packages-dev too),
 * comma-separated on one line. A plugin may write into vendor/ on any of the install's events, into
 * a package's files too: with vendor/ linked from the live release, that write would reach it.
 */
const PLUGINS_PHP = `$lock = json_decode(file_get_contents('composer.lock'), true);
if (!is_array($lock)) exit(1);
$names = [];
foreach (array_merge($lock['packages'] ?? [], ($argv[1] ?? '') === 'dev' ? ($lock['packages-dev'] ?? []) : []) as $package)
  if (($package['type'] ?? '') === 'composer-plugin') $names[] = $package['name'];
echo implode(',', $names);`.replace(/\n\s*/g, ' ');

/**
 * Whether the autoloader Composer wrote for the live release is the one it would write for this one,
 * given the same composer.json and composer.lock (and no plugin: PLUGINS_PHP): the root package autoloads only by psr-4, psr-0 and files
 * (a classmap depends on what the files hold), not classmap-authoritative, and every psr-4 and psr-0
 * directory lists the same files in both releases (a class's path follows from its name there, so
 * the class map points at the same files; a class new in an existing file is found by psr-4). Run
 * with the live release's path; prints the install's events that have scripts, one a line, and exits
 * 0; exits 1 when Composer must run.
 */
const SAME_AUTOLOAD_PHP = `$live = $argv[1];
$json = json_decode(file_get_contents('composer.json'), true);
if (!is_array($json) || !empty($json['config']['classmap-authoritative'])) exit(1);
$dirs = [];
foreach (['autoload', 'autoload-dev'] as $section) {
  foreach ($json[$section] ?? [] as $type => $map) {
    if ($type === 'files') continue;
    if (($type !== 'psr-4' && $type !== 'psr-0') || !is_array($map)) exit(1);
    foreach ($map as $paths) foreach ((array) $paths as $p) {
      $p = trim(preg_replace('#^(\\./)+#', '', (string) $p), '/');
      if ($p === '' || $p === '.' || strpos($p, '..') !== false) exit(1);
      $dirs[] = $p;
    }
  }
}
$list = function ($base) use ($dirs) {
  $out = [];
  foreach ($dirs as $d) {
    if (!is_dir("$base/$d")) { $out[] = is_file("$base/$d") ? "$d:file" : "$d:none"; continue; }
    $it = new RecursiveIteratorIterator(new RecursiveDirectoryIterator("$base/$d", FilesystemIterator::SKIP_DOTS));
    foreach ($it as $f) $out[] = substr($f->getPathname(), strlen($base));
  }
  sort($out);
  return $out;
};
if ($list('.') !== $list($live)) exit(1);
foreach (${JSON.stringify(INSTALL_EVENTS)} as $e) if (!empty($json['scripts'][$e])) echo $e, PHP_EOL;`
  // One line: the step's script reads as one command in a dry run and in an error.
  .replace(/\n\s*/g, ' ');

/**
 * `composer install` in the release (no dev packages unless composer.dev). When the live release
 * was installed from the same composer.lock, with the same PHP, Composer command and flags, and
 * the lock installs no Composer plugin (PLUGINS_PHP), vendor/ starts as hard
 * links to its packages and real copies of what Composer writes: the install then finds nothing to
 * install, and only dumps the autoloader and runs the scripts (seconds of copying saved on every
 * redeploy of an unchanged lock). When composer.json is the live release's too, and the app's
 * autoloaded directories list the same files (SAME_AUTOLOAD_PHP), the autoloader copied from the live
 * release is the one Composer would write: `composer install` is not run, only the scripts it would
 * run (`composer run-script` for each of INSTALL_EVENTS that has any): the optimized autoloader's
 * class map, a scan of every package's files, is the install's whole cost then. Everything is one
 * script: one round trip.
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
    // Another PHP, another Composer (composer.bin) or other flags: another install.
    const stamp = raw(
      sh`"$(${phpCommand(server)} -r 'echo PHP_VERSION;' 2>/dev/null)"${` ${composerCommand(server).text} ${flags.join(' ')}`}`,
    );
    const dev = !flags.includes('--no-dev');
    const scripts = raw(sh`${composerCommand(server)} run-script --no-interaction ${dev ? [] : ['--no-dev']}`);
    const stampFile = Layout.VENDOR_STAMP;
    const reuse = server.composer.reuseVendor
      ? sh`live=$(readlink -f -- ${layout.live} 2>/dev/null) || live=; ` +
        sh`if [ -n "$live" ] && [ "$live" != "$PWD" ] && [ -d "$live/vendor" ] && [ ! -e vendor ] && [ -f composer.lock ] && ` +
        sh`cmp -s composer.lock "$live/composer.lock" && [ "$(cat "$live"/${stampFile} 2>/dev/null)" = "$stamp" ] && ` +
        sh`plugins=$(${phpCommand(server)} -r ${PLUGINS_PHP} ${dev ? 'dev' : 'no-dev'}) && { [ -z "$plugins" ] || { echo ${PLUGINS}"$plugins"; false; }; }; then ` +
        sh`cp -al -- "$live/vendor" vendor && for p in ${COMPOSER_WRITES}; do ` +
        sh`if [ -e "$live/$p" ] || [ -L "$live/$p" ]; then rm -rf -- "$p" && cp -RP -- "$live/$p" "$p"; fi; done && rm -f -- ${stampFile} && echo ${REUSED} && ` +
        sh`if cmp -s composer.json "$live/composer.json" && events=$(${phpCommand(server)} -r ${SAME_AUTOLOAD_PHP} "$live"); then same=1; fi; fi; `
      : '';
    // With the autoloader the live release's (`same`), only the scripts the install would run.
    const installOrScripts = server.composer.reuseVendor
      ? sh`if [ -n "$same" ]; then echo ${NOT_NEEDED}; rc=0; for e in $events; do ${scripts} "$e" || { rc=$?; break; }; done; [ "$rc" -eq 0 ]; else ${raw(install)}; fi`
      : install;
    // The check goes with the command (one round trip); a failure names the install alone.
    const script =
      sh`if [ -e composer.json ] || [ -L composer.json ]; then stamp=${stamp}; same=; ` +
      reuse +
      sh`{ ${raw(installOrScripts)}; } && { rm -f -- ${stampFile}; printf '%s' "$stamp" > ${stampFile}; }; else echo ${NO_COMPOSER_JSON}; fi`;
    const result = await execReporting(run.target, script, { cwd: dir, step: 'composer' }, undefined, inDirectory(install, dir));
    const plugins = result.stdout.split('\n').find((line) => line.startsWith(PLUGINS));
    if (plugins)
      run.log.info(
        `[${server.name}] composer.lock is the live release's, but holds Composer plugins (${plugins.slice(PLUGINS.length)}): installed afresh, since a plugin may write into vendor/ files a link would share with the live release`,
      );
    if (result.stdout.includes(NO_COMPOSER_JSON)) run.log.info(`[${server.name}] no composer.json in the release: nothing to install`);
    if (result.stdout.includes(NOT_NEEDED))
      run.log.info(
        `[${server.name}] composer.lock is the live release's: vendor/ linked from it; composer.json and the autoloaded files too: composer install not needed, its scripts run`,
      );
    else if (result.stdout.includes(REUSED))
      run.log.info(
        `[${server.name}] composer.lock is the live release's: vendor/ linked from it, composer install only dumps the autoloader`,
      );
  },
};
