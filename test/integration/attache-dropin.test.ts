import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/fixtures';
import { createSite, startTarget, type TargetSpec } from '../support/preset';

/**
 * A stand-in for Composer's official installer, served over HTTP on loopback (no internet in
 * tests). Like the real one it takes --install-dir and --filename and writes an executable
 * composer there; that composer logs each call beside itself and hands `install` to the real one.
 */
const INSTALLER = String.raw`<?php
$dir = null; $name = 'composer.phar';
foreach (array_slice($argv, 1) as $arg) {
    if (strpos($arg, '--install-dir=') === 0) $dir = substr($arg, 14);
    if (strpos($arg, '--filename=') === 0) $name = substr($arg, 11);
}
if ($dir === null) { fwrite(STDERR, "no --install-dir\n"); exit(1); }
$composer = <<<'PHP'
<?php
file_put_contents(__DIR__ . '/composer-calls.log', implode(' ', array_slice($argv, 1)) . "\n", FILE_APPEND);
if (($argv[1] ?? '') === 'self-update') { echo "You are already using the latest available Composer version.\n"; exit(0); }
passthru('composer ' . implode(' ', array_map('escapeshellarg', array_slice($argv, 1))), $status);
exit($status);
PHP;
file_put_contents("$dir/$name", $composer);
chmod("$dir/$name", 0755);
echo "Composer successfully installed to: $dir/$name\n";
`;

describe('Attaché drop-in: composer.local, the install and prepcomposer hooks, dry-run live hooks, tag errors (real sshd)', () => {
  let target: TargetSpec;
  let stop = async () => {};
  let installerUrl = '';
  let downloads = 0;
  let web: http.Server;

  before(async () => {
    ({ target, stop } = await startTarget('sshd'));
    web = http.createServer((request, response) => {
      if (request.url !== '/installer') return void response.writeHead(404).end();
      downloads++;
      response.writeHead(200, { 'content-type': 'text/plain' }).end(INSTALLER);
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    installerUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}/installer`;
  });
  after(async () => {
    await new Promise((resolve) => web.close(resolve));
    await stop();
  });

  it('composer.local: downloads root/composer.phar with the installer, runs it as <php> root/composer.phar, self-updates it next time; hooks run in order', async () => {
    const root = path.join(tempDir('attache-root-'), 'root');
    const log = (name: string) => `echo ${name} >> @root/hooks.log`;
    const site = createSite({
      target,
      root,
      server: {
        composer: { bin: 'composer.phar', local: true, installer: installerUrl },
        scripts: {
          build: [],
          'before-install': [log('before-install')],
          'after-install': [log('after-install')],
          'before-prepcomposer': [log('before-prepcomposer'), 'test ! -e composer.phar || echo composer.phar-present >> hooks.log'],
          'after-prepcomposer': [log('after-prepcomposer')],
          'after-composer': ['echo @php @composer >> hooks.log'],
        },
      },
    });
    await site.run('deploy');
    assert.equal(downloads, 1);
    assert.ok(existsSync(path.join(root, 'composer.phar')));
    assert.ok(!existsSync(path.join(root, `.attache-composer-installer-${process.pid}.php`)), 'the installer is removed');
    const calls = () => readFileSync(path.join(root, 'composer-calls.log'), 'utf8').trim().split('\n');
    assert.match(calls()[0], /^install --no-interaction .*--no-dev$/);
    assert.ok(
      existsSync(path.join(site.release(site.liveId()!), 'vendor/autoload.php')),
      'the real composer ran through root/composer.phar',
    );
    assert.deepEqual(readFileSync(path.join(root, 'hooks.log'), 'utf8').trim().split('\n'), [
      'before-prepcomposer', // Attaché's order: prepcomposer, install, symlinks, composer
      'after-prepcomposer',
      'before-install',
      'after-install',
      `php ${root}/composer.phar`,
    ]);

    // The lock, composer.json and the autoloaded files are the live release's: no install, only the self-update.
    const second = await site.run('deploy');
    assert.equal(downloads, 1, 'the second deploy does not download again');
    assert.deepEqual(
      calls()
        .slice(1)
        .map((c) => c.split(' ')[0]),
      ['self-update'],
    );
    assert.ok(
      second.lines.some((line) => /composer install not needed/.test(line)),
      second.lines.join('\n'),
    );
    assert.equal(site.releases().length, 2);
  });

  it('--dry-run prints the before-live and after-live hooks it would run', async () => {
    const site = createSite({
      target,
      server: { scripts: { build: [], 'before-live': ['echo going live @release'], 'after-live': ['@artisan queue:restart'] } },
    });
    const { lines } = await site.run('deploy', ['--dry-run']);
    const before = lines.findIndex((l) => /\[dry run\].*would run: echo going live \d{14}/.test(l));
    const swap = lines.findIndex((l) => /\[dry run\].*would point .*live -> releases\/\d{14}/.test(l));
    const afterLive = lines.findIndex((l) => /\[dry run\].*would run: php .*\/releases\/\d{14}(?:-\d+)?\/artisan queue:restart/.test(l));
    assert.ok(before >= 0 && swap > before && afterLive > swap, lines.join('\n'));
    assert.deepEqual(site.releases(), [], 'nothing changed');
  });

  it('an unknown tag, braced or bare, stops the deploy before anything connects, naming the hook line', async () => {
    const site = createSite({
      target,
      server: { scripts: { build: [], 'after-live': ['{{ @badtag }}'], 'before-deploy': ['try @badtag'] } },
    });
    const { error } = await site.fail('deploy');
    assert.match(error.message, /servers\.production\.scripts\.after-live\[0\]: unknown tag "@badtag"/);
    assert.match(error.message, /servers\.production\.scripts\.before-deploy\[0\]: unknown tag "@badtag"/);
    assert.ok(!existsSync(site.root), 'the server root was never touched');
  });
});
