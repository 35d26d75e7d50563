import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import PluginError from 'plugin-error';
import Vinyl from 'vinyl';
import { exec } from '../../src/plugins/exec';
import { tempDir } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { acceptedLogins, createHome, startSshd, trust, type SshServer } from '../../support/sshd';
import { collect, fromFiles, runTask } from '../support/streams';

describe('exec plugin against a real sshd', () => {
  let server: SshServer;
  /** A working directory whose name needs quoting: a space and a single quote. */
  let cwd: string;

  before(async () => {
    const home = createHome();
    server = await startSshd(home);
    trust(home, server);
  });
  after(() => server.stop());

  const web1 = () => ({ host: '127.0.0.1', port: server.port, user: 'root', name: 'web1' });
  const freshCwd = () => {
    cwd = path.join(tempDir('attache-exec-'), "it's a dir");
    mkdirSync(cwd);
    return cwd;
  };
  const order = () => readFileSync(path.join(cwd, 'order.txt'), 'utf8');

  it('runs one command in cwd and logs its output lines with the server name', async () => {
    freshCwd();
    const { log, lines } = captureLogger('normal');
    const out = await collect(fromFiles([]), exec('pwd; echo to-stderr >&2; echo one > order.txt', { server: web1(), cwd, logger: log }));
    assert.equal(out.length, 0);
    assert.equal(order(), 'one\n', 'the command ran in cwd');
    assert.ok(lines.includes(`[web1] ${cwd}`), lines.join('\n'));
    assert.ok(lines.includes('[web1] to-stderr'), lines.join('\n'));
  });

  it('runs a list of commands in order, each in cwd', async () => {
    freshCwd();
    const { log, lines } = captureLogger('normal');
    const commands = ['echo first >> order.txt', 'cd / && echo second >> /dev/null', 'echo third >> order.txt; cat order.txt'];
    await collect(fromFiles([]), exec(commands, { server: web1(), cwd, logger: log }));
    assert.equal(order(), 'first\nthird\n', 'in order, and the third ran in cwd again after the second left it');
    const output = lines.filter((line) => /^\[web1\] (first|third)$/.test(line));
    assert.deepEqual(output, ['[web1] first', '[web1] third'], lines.join('\n'));
  });

  it('stops a list at the first failure with a PluginError naming server, command, exit code and stderr tail', async () => {
    freshCwd();
    const { log, lines } = captureLogger('normal');
    const failing = 'echo second >> order.txt; echo "disk quota exceeded" >&2; exit 7';
    const commands = ['echo first >> order.txt', failing, 'echo third >> order.txt'];
    await assert.rejects(collect(fromFiles([]), exec(commands, { server: web1(), cwd, logger: log })), (error: unknown) => {
      assert.ok(error instanceof PluginError, `a PluginError, got ${String(error)}`);
      assert.equal(error.plugin, 'gulp-attache');
      assert.match(error.message, /server "web1"/);
      assert.match(error.message, /exited with code 7/);
      assert.ok(error.message.includes(failing), `names the command: ${error.message}`);
      assert.match(error.message, /disk quota exceeded/);
      return true;
    });
    assert.equal(order(), 'first\nsecond\n', 'the third command did not run');
    assert.ok(lines.includes('[web1] disk quota exceeded'), lines.join('\n'));
  });

  it('passes files through untouched', async () => {
    freshCwd();
    const base = tempDir('attache-exec-files-');
    const files = [
      new Vinyl({ cwd: base, base, path: path.join(base, 'a.txt'), contents: Buffer.from('alpha') }),
      new Vinyl({ cwd: base, base, path: path.join(base, 'nested', 'b.bin'), contents: Buffer.from([0, 255, 1]) }),
      new Vinyl({ cwd: base, base, path: path.join(base, 'empty'), contents: null }),
    ];
    const original = files.map((file) => ({ path: file.path, contents: file.isBuffer() ? Buffer.from(file.contents) : null }));
    const out = await collect(fromFiles(files), exec('true', { server: web1(), cwd, logger: captureLogger('quiet').log }));
    assert.equal(out.length, 3);
    out.forEach((file, i) => {
      assert.equal(file, files[i], 'the same file object, in order');
      assert.equal(file.path, original[i].path);
      assert.deepEqual(file.contents, original[i].contents);
    });
  });

  it('exec.task works as a gulp task, over one login, and rejects with a PluginError on failure', async () => {
    freshCwd();
    const logins = acceptedLogins(server);
    const task = exec.task(['echo task >> order.txt', 'echo again >> order.txt'], {
      server: web1(),
      cwd,
      logger: captureLogger('quiet').log,
    });
    const returned = task();
    assert.ok(returned instanceof Promise, 'the task returns a promise');
    await returned;
    assert.equal(order(), 'task\nagain\n');
    assert.equal(acceptedLogins(server) - logins, 1);

    await runTask(exec.task('echo from-gulp >> order.txt', { server: web1(), cwd, logger: captureLogger('quiet').log }));
    assert.equal(order(), 'task\nagain\nfrom-gulp\n', 'ran through gulp.series');

    const failing = exec.task(['echo "no such table" >&2; exit 3', 'echo never >> order.txt'], {
      server: web1(),
      cwd,
      logger: captureLogger('quiet').log,
    });
    await assert.rejects(runTask(failing), (error: unknown) => {
      assert.ok(error instanceof PluginError, `a PluginError, got ${String(error)}`);
      assert.equal(error.plugin, 'gulp-attache');
      assert.match(error.message, /server "web1"[\s\S]*exited with code 3[\s\S]*no such table/);
      return true;
    });
    assert.equal(order(), 'task\nagain\nfrom-gulp\n', 'the list stopped at the failure');
  });
});
