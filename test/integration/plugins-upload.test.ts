import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import PluginError from 'plugin-error';
import Vinyl from 'vinyl';
import { upload, type UploadedFile } from '../../src/plugins/upload';
import { openTarget } from '../../src/open-target';
import type { Target } from '../../src/remote/target';
import { tempDir } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { acceptedLogins, createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';
import { collect, fromFiles, gulp, listFiles, loginsSince, logMark, runScript, sha256, startLoopReader, waitFor } from '../support/streams';

describe('upload plugin against a real sshd', () => {
  let home: TestHome;
  let server: SshServer;

  before(async () => {
    home = createHome();
    // sshd (and its internal-sftp) inherit this umask: a mode that is not set explicitly after the
    // open would come out as 0600/0700, so the mode test below can tell.
    const umask = process.umask(0o077);
    try {
      server = await startSshd(home);
    } finally {
      process.umask(umask);
    }
    trust(home, server);
  });
  after(() => server.stop());

  const web1 = () => ({ host: '127.0.0.1', port: server.port, user: 'root', name: 'web1' });
  const quiet = () => captureLogger('quiet').log;

  it('uploads 300 binary files in nested directories byte for byte, over one SSH login', async () => {
    const local = tempDir('attache-up-src-');
    const dest = path.join(tempDir('attache-up-dest-'), 'release');
    const sizes = [0, 1, 300 * 1024, 300 * 1024 - 1, 32 * 1024, 32 * 1024 + 1];
    while (sizes.length < 300) sizes.push(sizes.length % 10 === 0 ? randomInt(0, 300 * 1024 + 1) : randomInt(0, 20 * 1024));
    const expected = new Map<string, string>();
    sizes.forEach((size, i) => {
      const relative = `d${i % 7}/s${i % 3}${i % 2 ? '/deeper' : ''}/file-${i}.bin`;
      mkdirSync(path.join(local, path.dirname(relative)), { recursive: true });
      const data = randomBytes(size);
      writeFileSync(path.join(local, relative), data);
      expected.set(relative, sha256(data));
    });

    const logins = acceptedLogins(server);
    const out = (await collect(
      gulp.src('**/*', { cwd: local, encoding: false }),
      upload({ server: web1(), dest, logger: quiet() }),
    )) as UploadedFile[];

    const remote = listFiles(dest).sort();
    assert.deepEqual(remote, [...expected.keys()].sort());
    for (const [relative, hash] of expected) assert.equal(sha256(readFileSync(path.join(dest, relative))), hash, `${relative} differs`);
    const files = out.filter((file) => !file.isDirectory());
    assert.equal(files.length, 300);
    for (const file of files) assert.equal(file.remotePath, `${dest}/${file.relative}`);
    assert.equal(acceptedLogins(server) - logins, 1, 'one SSH login for the whole upload');
  });

  it('uploads stream contents (buffer: false) byte for byte, including a 20 MB file', async () => {
    const local = tempDir('attache-up-stream-');
    const dest = tempDir('attache-up-stream-dest-');
    const big = randomBytes(20 * 1024 * 1024);
    writeFileSync(path.join(local, 'big.bin'), big);
    mkdirSync(path.join(local, 'small'));
    const small = [randomBytes(0), randomBytes(1), randomBytes(70_000)];
    small.forEach((data, i) => writeFileSync(path.join(local, 'small', `${i}.bin`), data));

    const out = (await collect(
      gulp.src('**/*.bin', { cwd: local, buffer: false, encoding: false }),
      upload({ server: web1(), dest, logger: quiet() }),
    )) as UploadedFile[];

    assert.equal(statSync(path.join(dest, 'big.bin')).size, big.length);
    assert.equal(sha256(readFileSync(path.join(dest, 'big.bin'))), sha256(big));
    small.forEach((data, i) => assert.equal(sha256(readFileSync(path.join(dest, 'small', `${i}.bin`))), sha256(data), `small/${i}.bin`));
    assert.equal(out.length, 4);
    assert.ok(out.every((file) => file.remotePath?.startsWith(`${dest}/`)));
  });

  it('passes null files and directories through untouched, and files on with remotePath', async () => {
    const local = tempDir('attache-up-null-');
    const dest = tempDir('attache-up-null-dest-');
    mkdirSync(path.join(local, 'assets'));
    const directory = new Vinyl({ cwd: local, base: local, path: path.join(local, 'assets'), stat: statSync(path.join(local, 'assets')) });
    const nothing = new Vinyl({ cwd: local, base: local, path: path.join(local, 'empty-entry'), contents: null });
    const real = new Vinyl({ cwd: local, base: local, path: path.join(local, 'assets', 'app.css'), contents: Buffer.from('body {}\n') });
    assert.ok(directory.isDirectory() && nothing.isNull());

    const out = (await collect(fromFiles([directory, nothing, real]), upload({ server: web1(), dest, logger: quiet() }))) as UploadedFile[];

    assert.equal(out.length, 3, 'every file comes out, uploaded or not');
    assert.ok(out.includes(directory) && out.includes(nothing) && out.includes(real));
    assert.equal((directory as UploadedFile).remotePath, undefined);
    assert.equal((nothing as UploadedFile).remotePath, undefined);
    assert.equal(real.remotePath, `${dest}/assets/app.css`);
    assert.deepEqual(listFiles(dest), ['assets/app.css'], 'only the file with contents was written');
    assert.equal(readFileSync(path.join(dest, 'assets/app.css'), 'utf8'), 'body {}\n');
  });

  it('keeps file modes (0755, 0600, 0666, 0777) whatever the server umask', async () => {
    const local = tempDir('attache-up-mode-');
    const dest = tempDir('attache-up-mode-dest-');
    const modes: Record<string, number> = { 'bin/deploy.sh': 0o755, 'secret.key': 0o600, 'shared.txt': 0o666, 'bin/all.sh': 0o777 };
    for (const [relative, mode] of Object.entries(modes)) {
      mkdirSync(path.join(local, path.dirname(relative)), { recursive: true });
      writeFileSync(path.join(local, relative), `${relative}\n`);
      chmodSync(path.join(local, relative), mode);
    }

    await collect(gulp.src('**/*', { cwd: local }), upload({ server: web1(), dest, logger: quiet() }));

    for (const [relative, mode] of Object.entries(modes)) {
      assert.equal((statSync(path.join(dest, relative)).mode & 0o7777).toString(8), mode.toString(8), relative);
    }
  });

  it('creates each remote directory at most once (mkdir calls counted on a passed session)', async () => {
    const base = tempDir('attache-up-mkdir-');
    const dest = path.join(base, 'new', 'release'); // neither exists yet
    const relatives = ['top.txt', 'a/1.txt', 'a/2.txt', 'x/y/z/deep.txt'];
    for (let i = 0; i < 40; i++) relatives.push(`a/b/c/file-${i}.txt`);
    const files = relatives.map(
      (relative) => new Vinyl({ cwd: base, base, path: path.join(base, relative), contents: Buffer.from(relative) }),
    );

    const real = await openTarget(web1(), quiet());
    const mkdirs = new Map<string, number>();
    const counting = new Proxy(real, {
      get(target, property) {
        if (property === 'mkdir') {
          return (dir: string) => {
            mkdirs.set(dir, (mkdirs.get(dir) ?? 0) + 1);
            return target.mkdir(dir);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Target;
    try {
      await collect(fromFiles(files), upload({ session: counting, dest, logger: quiet() }));
      // The plugin never closes a session it was given.
      assert.equal((await real.exec('echo still open', { output: 'none' })).stdout, 'still open\n');
    } finally {
      await real.close();
    }

    assert.deepEqual(listFiles(dest).sort(), [...relatives].sort());
    for (const dir of ['', '/a', '/a/b', '/a/b/c', '/x', '/x/y', '/x/y/z'])
      assert.ok(mkdirs.has(dest + dir), `mkdir ${dest + dir} was called`);
    const repeated = [...mkdirs].filter(([, count]) => count > 1);
    assert.deepEqual(repeated, [], `directories created more than once: ${JSON.stringify(Object.fromEntries(mkdirs))}`);
  });

  it('replaces a file atomically: a reader never sees half of it, and no temporary files remain', async () => {
    const local = tempDir('attache-up-atomic-');
    const dest = tempDir('attache-up-atomic-dest-');
    const versions = [randomBytes(8 * 1024 * 1024), randomBytes(8 * 1024 * 1024)];
    const hashes = versions.map(sha256);
    writeFileSync(path.join(dest, 'bundle.bin'), versions[0]);

    const session = await openTarget(web1(), quiet());
    const reader = await startLoopReader('sha256', path.join(dest, 'bundle.bin'), path.join(local, 'stop'));
    let report: Awaited<ReturnType<typeof reader.stop>>;
    try {
      // New, old, new, old, new: five replacements while the reader reads.
      for (let round = 1; round <= 5; round++) {
        const file = new Vinyl({ cwd: local, base: local, path: path.join(local, 'bundle.bin'), contents: versions[round % 2] });
        await collect(fromFiles([file]), upload({ session, dest, logger: quiet() }));
      }
    } finally {
      report = await reader.stop();
      await session.close();
    }

    const unexpected = Object.keys(report.seen).filter((hash) => !hashes.includes(hash));
    assert.equal(report.errors, 0, `read errors: ${report.errorSamples.join('; ')}`);
    assert.deepEqual(unexpected, [], `the reader saw ${unexpected.length} partial version(s) in ${report.reads} reads`);
    assert.ok(
      hashes.every((hash) => report.seen[hash] > 0),
      'the reader saw both the old and the new version',
    );
    assert.equal(sha256(readFileSync(path.join(dest, 'bundle.bin'))), hashes[1]);
    assert.deepEqual(
      readdirSync(dest).filter((name) => /attache-/.test(name)),
      [],
      'no temporary files remain',
    );
  });

  it('lands a file whose relative path has Windows separators under forward slashes', async () => {
    const local = tempDir('attache-up-win-');
    const dest = tempDir('attache-up-win-dest-');
    const file = new Vinyl({ cwd: local, base: local, path: `${local}/public\\js\\app.js`, contents: Buffer.from('console.log(1);\n') });
    assert.equal(file.relative, 'public\\js\\app.js');

    const [out] = (await collect(fromFiles([file]), upload({ server: web1(), dest, logger: quiet() }))) as UploadedFile[];

    assert.equal(out.remotePath, `${dest}/public/js/app.js`);
    assert.equal(readFileSync(path.join(dest, 'public', 'js', 'app.js'), 'utf8'), 'console.log(1);\n');
    assert.deepEqual(listFiles(dest), ['public/js/app.js'], 'no file with a backslash in its name');
  });

  it('fails the stream with a PluginError naming the local file and the remote path, and closes the connection', async () => {
    const local = tempDir('attache-up-fail-');
    const dest = tempDir('attache-up-fail-dest-');
    writeFileSync(path.join(dest, 'storage'), 'a regular file where a directory is needed\n');
    const files = Array.from(
      { length: 30 },
      (_, i) => new Vinyl({ cwd: local, base: local, path: path.join(local, `ok-${i}.txt`), contents: Buffer.from(`${i}`) }),
    );
    const bad = new Vinyl({
      cwd: local,
      base: local,
      path: path.join(local, 'storage', 'logs', 'app.log'),
      contents: Buffer.from('log\n'),
    });
    files.splice(10, 0, bad);
    const mark = logMark(server.logFile);

    await assert.rejects(collect(fromFiles(files), upload({ server: web1(), dest, logger: quiet() })), (error: unknown) => {
      assert.ok(error instanceof PluginError, `a PluginError, got ${String(error)}`);
      assert.equal(error.plugin, 'gulp-attache');
      assert.ok(error.message.includes(bad.path), `names the local file: ${error.message}`);
      assert.ok(error.message.includes(`${dest}/storage/logs/app.log`), `names the remote path: ${error.message}`);
      assert.match(error.message, /server "web1"/);
      return true;
    });
    assert.ok(statSync(path.join(dest, 'storage')).isFile(), 'the blocking file is left alone');
    const logins = loginsSince(server.logFile, mark);
    assert.equal(logins.length, 1, 'one connection for the upload');
    await waitFor(() => loginsSince(server.logFile, mark)[0].disconnected, 'sshd logs that the client closed the connection');
  });

  it('a failed upload lets the process exit by itself, with a non-zero status', () => {
    const local = tempDir('attache-up-exit-');
    const dest = tempDir('attache-up-exit-dest-');
    writeFileSync(path.join(dest, 'storage'), 'blocks storage/\n');
    mkdirSync(path.join(local, 'storage'));
    for (let i = 0; i < 20; i++) writeFileSync(path.join(local, `ok-${i}.txt`), `${i}`);
    writeFileSync(path.join(local, 'storage', 'app.log'), 'log\n');
    const script = `
      const { pipeline } = require('node:stream');
      const gulp = require('gulp');
      gulp.on('error', () => {}); // as the gulp CLI does: the series callback gets the failure
      const { upload } = require('./src/plugins/upload.ts');
      const server = { host: '127.0.0.1', port: ${server.port}, user: 'root', name: 'web1' };
      function deploy() {
        return pipeline(gulp.src('**/*', { cwd: ${JSON.stringify(local)} }), upload({ server, dest: ${JSON.stringify(dest)}, verbosity: 'quiet' }), () => {});
      }
      gulp.series(deploy)((error) => {
        if (error) {
          console.log(JSON.stringify({ plugin: error.plugin, message: error.message }));
          process.exitCode = 1;
        }
      });
    `;
    const result = runScript(script, { timeoutMs: 20_000 });
    assert.equal(result.signal, null, `the process had to be killed after ${result.ms} ms: ${result.stderr}`);
    assert.equal(result.status, 1, result.stderr);
    assert.ok(result.ms < 15_000, `exited after ${result.ms} ms`);
    const reported = lastJsonLine(result.stdout, result.stderr);
    assert.equal(reported.plugin, 'gulp-attache');
    assert.ok(reported.message.includes(`${dest}/storage/app.log`), reported.message);
  });

  it('logs a summary line at the end, and a line per file only at verbose level', async () => {
    const local = tempDir('attache-up-log-');
    const files = () =>
      ['a.txt', 'b.txt', 'c/d.txt'].map(
        (relative) => new Vinyl({ cwd: local, base: local, path: path.join(local, relative), contents: Buffer.alloc(1000, 1) }),
      );
    const summary = /^uploaded 3 files, 2\.9 KB in \d+\.\d s \(\d+(\.\d)? (B|KB|MB|GB)\/s\) to web1:/;
    const perFile = /^\[web1\] uploaded .+ -> .+ \(1000 B\)$/;

    const normal = captureLogger('normal');
    const normalDest = tempDir('attache-up-log-normal-');
    await collect(fromFiles(files()), upload({ server: web1(), dest: normalDest, logger: normal.log }));
    assert.match(normal.lines.at(-1) ?? '', summary, normal.lines.join('\n'));
    assert.ok(normal.lines.at(-1)?.endsWith(`to web1:${normalDest}`));
    assert.deepEqual(
      normal.lines.filter((line) => perFile.test(line)),
      [],
      'no per-file lines at normal level',
    );

    const verbose = captureLogger('verbose');
    const verboseDest = tempDir('attache-up-log-verbose-');
    await collect(fromFiles(files()), upload({ server: web1(), dest: verboseDest, logger: verbose.log }));
    assert.match(verbose.lines.at(-1) ?? '', summary, verbose.lines.join('\n'));
    const uploaded = verbose.lines.filter((line) => perFile.test(line));
    assert.equal(uploaded.length, 3, verbose.lines.join('\n'));
    assert.ok(
      uploaded.some((line) => line.includes(`${path.join(local, 'c/d.txt')} -> ${verboseDest}/c/d.txt`)),
      uploaded.join('\n'),
    );
  });

  it('dryRun uploads nothing and does not connect', async () => {
    const local = tempDir('attache-up-dry-');
    const dest = path.join(tempDir('attache-up-dry-dest-'), 'release');
    const { log, lines } = captureLogger('normal');
    const files = ['a.txt', 'b/c.txt'].map(
      (relative) => new Vinyl({ cwd: local, base: local, path: path.join(local, relative), contents: Buffer.from(relative) }),
    );
    const logins = acceptedLogins(server);

    const out = await collect(fromFiles(files), upload({ server: web1(), dest, dryRun: true, logger: log }));

    assert.equal(out.length, 2, 'the files still pass through');
    assert.equal(existsSync(dest), false, 'nothing was created');
    assert.equal(acceptedLogins(server) - logins, 0, 'no SSH login');
    assert.ok(
      lines.some((line) => line.includes(`would upload b/c.txt -> ${dest}/b/c.txt`)),
      lines.join('\n'),
    );
  });
});

function lastJsonLine(stdout: string, stderr: string): { plugin?: string; message: string } {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return assert.fail(`no JSON report from the child. stdout:\n${stdout}\nstderr:\n${stderr}`);
  }
}
