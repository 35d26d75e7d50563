import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { exec } from '../../src/plugins/exec';
import { swap } from '../../src/plugins/swap';
import { upload } from '../../src/plugins/upload';
import { sh } from '../../src/remote/quote';
import type { SwapResult } from '../../src/remote/swap-link';
import { tempDir } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { acceptedLogins, createHome, startSshd, trust, type SshServer } from '../../support/sshd';
import { gulp, listFiles, runScript, runTask, sha256 } from '../support/streams';

/**
 * upload → exec → swap in one gulp task, the way a gulpfile uses them: the three plugins share one
 * SSH connection, the command sees the uploaded files, the link moves last, and gulp exits by itself.
 */
describe('upload → exec → swap pipeline against a real sshd', () => {
  let server: SshServer;
  let local: string;
  let app: string;
  let link: string;

  before(async () => {
    const home = createHome();
    server = await startSshd(home);
    trust(home, server);
    local = tempDir('attache-pipe-src-');
    mkdirSync(path.join(local, 'public', 'js'), { recursive: true });
    writeFileSync(path.join(local, 'index.php'), '<?php echo "hello";\n');
    writeFileSync(path.join(local, 'public', 'js', 'app.js'), 'console.log("hello");\n');
    writeFileSync(path.join(local, 'public', 'logo.png'), randomBytes(50_000));
    app = tempDir('attache-pipe-app-');
    link = path.join(app, 'current');
  });
  after(() => server.stop());

  const web1 = () => ({ host: '127.0.0.1', port: server.port, user: 'root', name: 'web1' });
  const release = (name: string) => path.join(app, 'releases', name);
  /** What the link points to now; a first release if there is none (so a test can run alone). */
  const live = () => {
    if (!lstatSync(link, { throwIfNoEntry: false })) {
      mkdirSync(release('0'), { recursive: true });
      symlinkSync(release('0'), link);
    }
    return readlinkSync(link);
  };

  /**
   * A gulpfile-like script for a child process: the deploy task as the test defines it, run with
   * gulp.series; prints "deployed" or the PluginError as JSON and leaves the exit to node.
   */
  function deployScript(dest: string, command: string): string {
    return `
      const { pipeline } = require('node:stream');
      const gulp = require('gulp');
      const { upload } = require('./src/plugins/upload.ts');
      const { exec } = require('./src/plugins/exec.ts');
      const { swap } = require('./src/plugins/swap.ts');
      const server = { host: '127.0.0.1', port: ${server.port}, user: 'root', name: 'web1' };
      const dest = ${JSON.stringify(dest)};
      function deploy() {
        return pipeline(
          gulp.src('**/*', { cwd: ${JSON.stringify(local)}, encoding: false }),
          upload({ server, dest, verbosity: 'quiet' }),
          exec(${JSON.stringify(command)}, { server, cwd: dest, verbosity: 'quiet' }),
          swap({ server, link: ${JSON.stringify(link)}, target: dest, verbosity: 'quiet' }),
          () => {},
        );
      }
      gulp.on('error', () => {}); // as the gulp CLI does: the series callback gets the failure
      gulp.series(deploy)((error) => {
        if (error) {
          console.log(JSON.stringify({ plugin: error.plugin, message: error.message }));
          process.exitCode = 1;
        } else console.log('deployed');
      });
    `;
  }

  it('deploys in one gulp task over one SSH login: files uploaded, the command sees them, the link swapped last', async () => {
    const dest = release('1');
    const { log, lines } = captureLogger('normal');
    const swaps: SwapResult[] = [];
    const logins = acceptedLogins(server);

    await runTask(function deploy() {
      const swapping = swap({ server: web1(), link, target: dest, logger: log });
      swapping.on('swap', (result: SwapResult) => swaps.push(result));
      return pipeline(
        gulp.src('**/*', { cwd: local, encoding: false }),
        upload({ server: web1(), dest, logger: log }),
        exec(['sha256sum public/logo.png', sh`{ readlink ${link} || echo absent; } > ../link-during-exec`], {
          server: web1(),
          cwd: dest,
          logger: log,
        }),
        swapping,
        () => {},
      );
    });

    assert.deepEqual(listFiles(dest).sort(), listFiles(local).sort());
    for (const file of listFiles(local))
      assert.equal(sha256(readFileSync(path.join(dest, file))), sha256(readFileSync(path.join(local, file))), file);
    const logo = sha256(readFileSync(path.join(local, 'public', 'logo.png')));
    assert.ok(lines.includes(`[web1] ${logo}  public/logo.png`), `the command saw the uploaded file:\n${lines.join('\n')}`);
    assert.equal(
      readFileSync(path.join(app, 'releases', 'link-during-exec'), 'utf8'),
      'absent\n',
      'the link was not swapped before the command ran',
    );
    assert.equal(readlinkSync(link), dest);
    assert.deepEqual(swaps, [{ link, previous: null, current: dest, changed: true }]);
    assert.equal(acceptedLogins(server) - logins, 1, 'one SSH login for upload, exec and swap');
  });

  it('the same task in a child process exits by itself (status 0) once deployed', () => {
    const dest = release('2');
    const logins = acceptedLogins(server);
    const result = runScript(deployScript(dest, 'test -f index.php && test -f public/js/app.js'), { timeoutMs: 15_000 });
    assert.equal(
      result.signal,
      null,
      `the process did not exit by itself and was killed after ${result.ms} ms. stdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^deployed$/m);
    assert.equal(readlinkSync(link), dest);
    assert.equal(readFileSync(path.join(link, 'index.php'), 'utf8'), '<?php echo "hello";\n');
    assert.equal(acceptedLogins(server) - logins, 1, 'one SSH login in the child');
  });

  it('a failing command fails the task with the PluginError, does not swap, and the process exits non-zero by itself', () => {
    const previous = live();
    const dest = release('3');
    const result = runScript(deployScript(dest, 'echo "migration failed: no such table" >&2; exit 4'), { timeoutMs: 15_000 });
    assert.equal(
      result.signal,
      null,
      `the process did not exit by itself and was killed after ${result.ms} ms. stdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
    assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}`);
    const line = result.stdout.trim().split('\n').pop() ?? '';
    assert.ok(line.startsWith('{'), `the task failed with an error: ${result.stdout}\n${result.stderr}`);
    const reported = JSON.parse(line) as { plugin?: string; message: string };
    assert.equal(reported.plugin, 'gulp-attache');
    assert.match(reported.message, /server "web1"[\s\S]*exited with code 4[\s\S]*migration failed: no such table/);
    assert.equal(readlinkSync(link), previous, 'the link was not swapped');
    assert.ok(listFiles(dest).includes('index.php'), 'the upload itself had happened');
  });

  it('a failing upload fails the task, runs no command, does not swap, and the process exits non-zero by itself', () => {
    const previous = live();
    const dest = release('4');
    mkdirSync(dest, { recursive: true });
    writeFileSync(path.join(dest, 'public'), 'a regular file where public/ should go');
    const result = runScript(deployScript(dest, 'touch ../exec-ran-4'), { timeoutMs: 15_000 });
    assert.equal(
      result.signal,
      null,
      `the process did not exit by itself and was killed after ${result.ms} ms. stdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
    assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}`);
    const reported = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as { plugin?: string; message: string };
    assert.equal(reported.plugin, 'gulp-attache');
    assert.ok(reported.message.includes(`${dest}/public/`), reported.message);
    assert.equal(existsSync(path.join(app, 'releases', 'exec-ran-4')), false, 'the command did not run');
    assert.equal(readlinkSync(link), previous, 'the link was not swapped');
  });
});
