import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/fixtures';
import { createSite, type Site, startTarget } from '../support/preset';
import { httpGet, startWeb, type WebServer } from '../support/web';

/**
 * vendor/ from the live release when composer.lock is unchanged, against a real sshd and real
 * Composer (packages from local path repositories, so it runs offline): the packages' files are
 * hard links to the live release's, what Composer writes is the new release's own (the live
 * release's copies keep their inode and bytes), and the app autoloads, as PHP here and as nginx and
 * php-fpm serve it; a changed lock installs afresh.
 */
describe('vendor/ reused from the live release', () => {
  let stop: () => Promise<void>;
  let site: Site;
  let web: WebServer;
  let packages: string;

  const git = (...args: string[]) => execFileSync('git', args, { cwd: site.cwd, encoding: 'utf8' }).trim();
  const inode = (file: string) => statSync(file).ino;

  /** A package in a local path repository: `Acme\<Name>\Hello::hi()` says its name. */
  function definePackage(name: string): void {
    const dir = path.join(packages, name);
    mkdirSync(path.join(dir, 'src'), { recursive: true });
    writeFileSync(
      path.join(dir, 'composer.json'),
      JSON.stringify({ name: `acme/${name}`, version: '1.0.0', autoload: { 'psr-4': { [`Acme\\${cap(name)}\\`]: 'src/' } } }),
    );
    writeFileSync(
      path.join(dir, 'src/Hello.php'),
      `<?php\nnamespace Acme\\${cap(name)};\nclass Hello { public static function hi(): string { return '${name}'; } }\n`,
    );
  }
  const cap = (name: string) => name[0].toUpperCase() + name.slice(1);

  /** The app requires these packages; the lock is made here (offline) and pushed. */
  function requirePackages(names: string[], message: string): void {
    const file = path.join(site.cwd, 'composer.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.require = Object.fromEntries(names.map((name) => [`acme/${name}`, '1.0.0']));
    json.repositories = [
      ...names.map((name) => ({ type: 'path', url: path.join(packages, name), options: { symlink: false } })),
      { 'packagist.org': false },
    ];
    writeFileSync(file, JSON.stringify(json, null, 4));
    execFileSync('composer', ['update', '--no-interaction', '--no-install', '--quiet'], {
      cwd: site.cwd,
      env: { ...process.env, COMPOSER_HOME: tempDir('attache-composer-') },
    });
    commit(message, ['composer.json', 'composer.lock']);
  }

  function commit(message: string, files: string[]): void {
    git('add', '--', ...files);
    git('-c', 'user.email=t@example.com', '-c', 'user.name=T', 'commit', '-q', '-m', message);
    git('push', '-q', site.repo.bare, 'HEAD:master');
  }

  const phpSays = (release: string, code: string) =>
    execFileSync('php', ['-r', `require ${JSON.stringify(path.join(release, 'vendor/autoload.php'))}; echo ${code};`], {
      encoding: 'utf8',
    });

  before(async () => {
    const started = await startTarget('sshd');
    stop = started.stop;
    site = createSite({ target: started.target });
    packages = tempDir('attache-packages-');
    definePackage('one');
    definePackage('two');
    requirePackages(['one'], 'Require acme/one');
    web = await startWeb({ root: site.root });
  });
  after(async () => {
    await web?.stop();
    await stop();
  });

  /** The page nginx and php-fpm serve from live: it loads vendor/autoload.php and an autoloaded class of the app. */
  async function served(release: string): Promise<void> {
    const page = await httpGet(`${web.url}/`);
    assert.equal(page.status, 200, page.body + web.logs());
    assert.equal(page.headers['x-release'], path.basename(release), 'the page comes from the new release');
  }

  it('a redeploy with the same lock links the packages, copies what Composer writes, and the app autoloads', async () => {
    await site.run('deploy');
    const first = site.release(site.liveId()!);
    const written = ['vendor/autoload.php', 'vendor/composer/installed.php', 'vendor/composer/autoload_static.php'];
    const kept = written.map((file) => ({
      file,
      inode: inode(path.join(first, file)),
      bytes: readFileSync(path.join(first, file), 'utf8'),
    }));

    writeFileSync(path.join(site.cwd, 'app/Version.php'), '<?php // two\n');
    commit('Change the app, not the lock', ['app/Version.php']);
    const { lines } = await site.run('deploy');
    const second = site.release(site.liveId()!);
    assert.notEqual(second, first);
    assert.ok(
      lines.some((line) => /composer\.lock is the live release's: vendor\/ linked from it/.test(line)),
      lines.join('\n'),
    );
    const hello = 'vendor/acme/one/src/Hello.php';
    assert.equal(inode(path.join(second, hello)), inode(path.join(first, hello)), "a package's file is a hard link to the live release's");
    for (const { file, inode: before, bytes } of kept) {
      assert.equal(inode(path.join(first, file)), before, `${file} of the live release is the same file`);
      assert.equal(readFileSync(path.join(first, file), 'utf8'), bytes, `${file} of the live release is unchanged`);
      assert.notEqual(inode(path.join(second, file)), before, `${file} is the new release's own`);
    }
    assert.equal(phpSays(second, '\\Acme\\One\\Hello::hi()'), 'one');
    await served(second);
  });

  it('a changed lock installs afresh', async () => {
    requirePackages(['one', 'two'], 'Require acme/two too');
    const { lines } = await site.run('deploy');
    const release = site.release(site.liveId()!);
    assert.ok(!lines.some((line) => /vendor\/ linked from it/.test(line)), lines.join('\n'));
    assert.equal(phpSays(release, '\\Acme\\One\\Hello::hi() . \\Acme\\Two\\Hello::hi()'), 'onetwo');
    await served(release);
  });

  it('"reuseVendor": false installs afresh with an unchanged lock', async () => {
    const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
    config.servers.production.composer = { reuseVendor: false };
    writeFileSync(site.configFile, JSON.stringify(config));
    writeFileSync(path.join(site.cwd, 'app/Version.php'), '<?php // three\n');
    commit('Change the app again', ['app/Version.php']);
    const previous = site.release(site.liveId()!);
    const { lines } = await site.run('deploy');
    const release = site.release(site.liveId()!);
    assert.ok(!lines.some((line) => /vendor\/ linked from it/.test(line)), lines.join('\n'));
    const hello = 'vendor/acme/one/src/Hello.php';
    assert.notEqual(inode(path.join(release, hello)), inode(path.join(previous, hello)));
  });

  it('with composer.json and the autoloaded files unchanged too, Composer does not run: its scripts do, on copies of its files', async () => {
    const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
    delete config.servers.production.composer;
    writeFileSync(site.configFile, JSON.stringify(config));
    // A post-autoload-dump script that leaves its mark in the release (as Laravel's package:discover writes bootstrap/cache).
    const file = path.join(site.cwd, 'composer.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.scripts = { 'post-autoload-dump': [`@php -r "file_put_contents('dumped', getenv('COMPOSER_DEV_MODE'));"`] };
    writeFileSync(file, JSON.stringify(json, null, 4));
    execFileSync('composer', ['update', '--no-interaction', '--no-install', '--quiet'], {
      cwd: site.cwd,
      env: { ...process.env, COMPOSER_HOME: tempDir('attache-composer-') },
    });
    commit('A post-autoload-dump script', ['composer.json', 'composer.lock']);
    await site.run('deploy');
    const first = site.release(site.liveId()!);
    assert.equal(readFileSync(path.join(first, 'dumped'), 'utf8'), '0');
    const written = ['vendor/autoload.php', 'vendor/composer/autoload_static.php', 'vendor/composer/installed.php'];
    const kept = written.map((f) => ({ f, inode: inode(path.join(first, f)), bytes: readFileSync(path.join(first, f), 'utf8') }));

    writeFileSync(path.join(site.cwd, 'app/Version.php'), '<?php // four\n');
    commit('Change an app file, add none', ['app/Version.php']);
    const { lines } = await site.run('deploy');
    const second = site.release(site.liveId()!);
    assert.notEqual(second, first);
    assert.ok(
      lines.some((line) => /composer install not needed, its scripts run/.test(line)),
      lines.join('\n'),
    );
    assert.equal(readFileSync(path.join(second, 'dumped'), 'utf8'), '0', 'the post-autoload-dump script ran, without dev packages');
    for (const { f, inode: before, bytes } of kept) {
      assert.equal(inode(path.join(first, f)), before, `${f} of the live release is the same file`);
      assert.equal(readFileSync(path.join(first, f), 'utf8'), bytes, `${f} of the live release is unchanged`);
      assert.notEqual(inode(path.join(second, f)), before, `${f} is the new release's own`);
      assert.equal(readFileSync(path.join(second, f), 'utf8'), bytes, `${f} is what Composer wrote for the live release`);
    }
    assert.equal(phpSays(second, '\\Acme\\One\\Hello::hi() . \\Acme\\Two\\Hello::hi()'), 'onetwo');
    await served(second);

    // A new class in an autoloaded directory: Composer dumps the autoloader again.
    writeFileSync(
      path.join(site.cwd, 'app/Added.php'),
      '<?php\nnamespace App;\nclass Added { public static function hi(): string { return "added"; } }\n',
    );
    commit('Add a class', ['app/Added.php']);
    const third = await site.run('deploy');
    assert.ok(!third.lines.some((line) => /composer install not needed/.test(line)), third.lines.join('\n'));
    assert.ok(
      third.lines.some((line) => /vendor\/ linked from it, composer install only dumps the autoloader/.test(line)),
      third.lines.join('\n'),
    );
    const release = site.release(site.liveId()!);
    assert.match(readFileSync(path.join(release, 'vendor/composer/autoload_classmap.php'), 'utf8'), /App\\\\Added/);
    assert.equal(phpSays(release, '\\App\\Added::hi()'), 'added');
    await served(release);
  });

  it('a Composer plugin in the lock: installed afresh, so what the plugin writes in vendor/ never reaches the live release', async () => {
    // A plugin that writes into its own package's directory after every autoload dump (as symfony/runtime writes vendor/autoload_runtime.php).
    const dir = path.join(packages, 'plugin');
    mkdirSync(path.join(dir, 'src'), { recursive: true });
    writeFileSync(
      path.join(dir, 'composer.json'),
      JSON.stringify({
        name: 'acme/plugin',
        type: 'composer-plugin',
        version: '1.0.0',
        require: { 'composer-plugin-api': '^2.0' },
        autoload: { 'psr-4': { 'Acme\\Plugin\\': 'src/' } },
        extra: { class: 'Acme\\Plugin\\Plugin' },
      }),
    );
    writeFileSync(
      path.join(dir, 'src/Plugin.php'),
      [
        '<?php',
        'namespace Acme\\Plugin;',
        'use Composer\\Composer; use Composer\\IO\\IOInterface; use Composer\\Plugin\\PluginInterface;',
        'use Composer\\EventDispatcher\\EventSubscriberInterface; use Composer\\Script\\ScriptEvents;',
        'class Plugin implements PluginInterface, EventSubscriberInterface {',
        '  public function activate(Composer $c, IOInterface $io) {}',
        '  public function deactivate(Composer $c, IOInterface $io) {}',
        '  public function uninstall(Composer $c, IOInterface $io) {}',
        "  public static function getSubscribedEvents() { return [ScriptEvents::POST_AUTOLOAD_DUMP => 'dumped']; }",
        "  public function dumped() { file_put_contents(getcwd() . '/vendor/acme/plugin/state.txt', getcwd()); }",
        '}',
        '',
      ].join('\n'),
    );
    const file = path.join(site.cwd, 'composer.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.config = { ...json.config, 'allow-plugins': { 'acme/plugin': true } };
    writeFileSync(file, JSON.stringify(json, null, 4));
    requirePackages(['one', 'two', 'plugin'], 'Require a Composer plugin');
    await site.run('deploy');
    const first = site.release(site.liveId()!);
    const state = path.join(first, 'vendor/acme/plugin/state.txt');
    assert.equal(readFileSync(state, 'utf8'), first, 'the plugin ran');
    const before = inode(state);

    writeFileSync(path.join(site.cwd, 'app/Version.php'), '<?php // five\n');
    commit('Change the app, not the lock', ['app/Version.php']);
    const { lines } = await site.run('deploy');
    const second = site.release(site.liveId()!);
    assert.notEqual(second, first);
    assert.ok(
      lines.some((line) => /holds Composer plugins \(acme\/plugin\): installed afresh/.test(line)),
      lines.join('\n'),
    );
    assert.equal(readFileSync(state, 'utf8'), first, "the live release's file still says the live release");
    assert.equal(inode(state), before);
    assert.equal(readFileSync(path.join(second, 'vendor/acme/plugin/state.txt'), 'utf8'), second);
    assert.notEqual(inode(path.join(second, 'vendor/acme/one/src/Hello.php')), inode(path.join(first, 'vendor/acme/one/src/Hello.php')));
  });
});
