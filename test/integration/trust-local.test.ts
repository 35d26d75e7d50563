import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { upload } from '../../src/plugins/upload';
import { tempDir } from '../support/fixtures';
import { startGulpChild } from '../support/gulp-child';
import { captureLogger } from '../support/log';
import { freePort } from '../../support/sshd';
import { createSite, startTarget, tempFile, type TargetSpec } from '../support/preset';
import { collect, gulp, listFiles, REPO_ROOT } from '../support/streams';

/**
 * The local edges: what a user meets on their own machine before (or instead of) a server
 * answers: gulp 5's text decoding, the local build, the messages and the output they print.
 */

describe('upload refuses binary files that gulp 5 decoded as text', () => {
  // Small binary files with real headers and random bodies, and a UTF-8 text file with non-ASCII letters.
  const fixtures: Record<string, Buffer> = {
    'images/logo.png': Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), randomBytes(12_404)]),
    'images/photo.jpg': Buffer.concat([Buffer.from('ffd8ffe000104a46494600', 'hex'), randomBytes(9_000)]),
    'fonts/body.woff2': Buffer.concat([Buffer.from('wOF2', 'latin1'), randomBytes(5_000)]),
    'text/greeting.txt': Buffer.from('Grüße aus Zürich, 日本語のテキスト, café — “quotes” ☕ 🎉\n'.repeat(40), 'utf8'),
  };
  const project = tempDir('attache-decoded-');
  for (const [name, data] of Object.entries(fixtures)) {
    const file = path.join(project, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, data);
  }
  const send = (glob: string, options: { encoding?: false }) => {
    const dest = tempDir('attache-decoded-dest-');
    const done = collect(
      gulp.src(glob, { cwd: project, base: project, ...options }),
      upload({ server: 'local', dest, logger: captureLogger('quiet').log }),
    );
    return { dest, done };
  };

  for (const name of ['images/logo.png', 'images/photo.jpg', 'fonts/body.woff2']) {
    it(`refuses ${name} read without encoding: false, naming the file and the fix, and writes nothing`, async () => {
      const { dest, done } = send(name, {});
      const error = await done.then(
        () => assert.fail(`${name} was uploaded although gulp decoded it as text`),
        (e: Error) => e,
      );
      assert.equal((error as { plugin?: string }).plugin, 'gulp-attache');
      assert.ok(error.message.includes(path.join(project, name)), error.message);
      assert.match(error.message, /decoded as UTF-8 text/);
      assert.match(error.message, /gulp\.src\(…, \{ encoding: false \}\)/);
      assert.deepEqual(listFiles(dest), [], 'nothing was written');
    });
  }

  it('uploads a UTF-8 text file read without encoding: false byte for byte', async () => {
    const { dest, done } = send('text/greeting.txt', {});
    await done;
    assert.deepEqual(readFileSync(path.join(dest, 'text/greeting.txt')), fixtures['text/greeting.txt']);
  });

  it('uploads PNG, JPEG, WOFF2 and UTF-8 text read with encoding: false byte for byte', async () => {
    const { dest, done } = send('**/*', { encoding: false });
    await done;
    for (const [name, data] of Object.entries(fixtures)) assert.deepEqual(readFileSync(path.join(dest, name)), data, `${name} differs`);
  });
});

describe('a failing local build names itself, not a server', () => {
  it("says the default build `yarn prod` failed with the shell's own line and lists the three ways to choose the build (gulp CLI)", async () => {
    const site = createSite({ target: { host: 'local' } });
    const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
    delete config.servers.production.scripts; // the default build, yarn prod
    writeFileSync(site.configFile, JSON.stringify(config));
    // A PATH with nothing on it: no yarn, whatever this machine has installed.
    const child = startGulpChild({ cwd: site.cwd, env: { PATH: tempDir('attache-empty-path-') } });
    const { code } = await child.exited;
    const out = child.lines.join('\n');
    assert.equal(code, 1, out);
    assert.match(out, /the local build command `yarn prod` failed \(exit 127: yarn: not found\)/);
    assert.doesNotMatch(out, /server "local"/);
    assert.doesNotMatch(out, /by hand on the server/);
    for (const way of ['"scripts": { "build":', 'attache({ build: myTask })', 'attache({ build: false })'])
      assert.ok(out.includes(way), `the hint names ${way}:\n${out}`);
    assert.deepEqual(site.releases(), [], 'nothing was deployed');
  });
});

describe("root/.env is readable by the web server through the deploy user's group (real sshd)", () => {
  let server: { target: TargetSpec; stop(): Promise<void> };
  before(async () => (server = await startTarget('sshd')));
  after(() => server.stop());

  it('a first deploy with --env creates root/.env mode 0640: www-data in its group reads it, www-data outside it cannot', async () => {
    const base = tempDir('attache-env-mode-');
    chmodSync(base, 0o711); // www-data may pass through to root/.env, as it does to a real deploy root
    const site = createSite({ target: server.target, root: path.join(base, 'root') });
    await site.run('deploy', [`--env=${tempFile('production.env', 'APP_ENV=production\nDB_PASSWORD=mode-test-secret-1\n')}`]);
    const env = path.join(site.root, '.env');
    const stat = statSync(env);
    assert.equal(stat.mode & 0o777, 0o640);
    // php-fpm's worker as www-data: with the deploy user's group (what docs/production.md says to set up), and without it.
    const readAs = (gid: number) =>
      spawnSync('setpriv', ['--reuid=33', `--regid=${gid}`, '--clear-groups', 'cat', env], { encoding: 'utf8' });
    const inGroup = readAs(stat.gid);
    assert.equal(inGroup.status, 0, inGroup.stderr);
    assert.match(inGroup.stdout, /^APP_ENV=production$/m);
    const outside = readAs(33);
    assert.notEqual(outside.status, 0, 'a user outside the group cannot read it');
    assert.match(outside.stderr, /Permission denied/);
  });
});

describe('output carries no colour codes where colour is off', () => {
  const site = createSite({ target: { host: 'local' } });
  const ESC = '\x1b';

  it('piped (no --no-color): a task\'s lines and a failure\'s "Error in plugin" message have no escape codes (gulp CLI)', async () => {
    for (const flags of [[], ['--server=nope']]) {
      const child = startGulpChild({ cwd: site.cwd, task: 'releases', flags, noColorFlag: false });
      const { code } = await child.exited;
      const out = child.lines.join('\n');
      assert.equal(code, flags.length ? 1 : 0, out);
      assert.match(out, flags.length ? /Error in plugin "gulp-attache"/ : /releases on production/);
      assert.ok(!out.includes(ESC), `escape codes in piped output:\n${JSON.stringify(out)}`);
    }
  });

  // A real terminal (a pty from util-linux's script(1)), where gulp colours its own lines.
  const onTerminal = (args: string, env: NodeJS.ProcessEnv = {}) => {
    const dir = tempDir('attache-tty-');
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    writeFileSync(
      path.join(dir, 'gulpfile.js'),
      `module.exports = require(${JSON.stringify(path.join(REPO_ROOT, 'src/index.ts'))}).attache({ cwd: ${JSON.stringify(site.cwd)} });\ndelete module.exports.steps;\n`,
    );
    const command = `${process.execPath} --import tsx ${path.join(REPO_ROOT, 'node_modules/gulp/bin/gulp.js')} --gulpfile ${path.join(dir, 'gulpfile.js')} ${args}`;
    const base: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
    delete base.NO_COLOR;
    delete base.CI; // color-support turns colour off under CI
    const result = spawnSync('script', ['-qec', command, '/dev/null'], {
      cwd: REPO_ROOT,
      env: { ...base, ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return result.stdout.split(/\r?\n/);
  };
  const ours = (lines: string[]) => lines.filter((l) => /releases on production|connect done|Error.* in plugin|no server or group/.test(l));

  it('NO_COLOR on a terminal: our lines have no escape codes; without it the error is coloured (gulp CLI)', () => {
    const coloured = ours(onTerminal('releases --server=nope'));
    assert.ok(
      coloured.some((l) => l.includes(ESC)),
      `on a terminal without NO_COLOR the error is coloured:\n${coloured.join('\n')}`,
    );
    for (const args of ['releases', 'releases --server=nope']) {
      const lines = ours(onTerminal(args, { NO_COLOR: '1' }));
      assert.ok(lines.length >= 1, `our lines were printed for ${args}`);
      for (const line of lines) {
        // Our logger writes the whole line; an error's line starts with gulp-cli's own timestamp.
        const mine = /Error.* in plugin/.test(line) ? line.slice(line.indexOf(']') + 1) : line;
        assert.ok(!mine.includes(ESC), `escape codes in ${JSON.stringify(line)}`);
      }
    }
  });
});

describe('a config error names its key once', () => {
  it('a bad port says config key "servers.production.port" once, then what was expected (gulp CLI)', async () => {
    const site = createSite({ target: { host: 'local' } });
    const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
    config.servers.production.port = 'twenty-two';
    writeFileSync(site.configFile, JSON.stringify(config));
    const child = startGulpChild({ cwd: site.cwd });
    const { code } = await child.exited;
    const out = child.lines.join('\n');
    assert.equal(code, 1, out);
    assert.match(
      out,
      new RegExp(`config key "servers\\.production\\.port", file ${site.configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: expected `),
    );
    assert.equal(out.split('servers.production.port').length - 1, 1, `the key path is printed once:\n${out}`);
  });
});

describe('gulp unlock says who held the lock in words', () => {
  it('prints "held by alice@build-box (pid 4242) since <time>, N min ago", not the owner file\'s JSON (gulp CLI)', async () => {
    const site = createSite({ target: { host: 'local' } });
    const since = new Date(Date.now() - 12 * 60_000).toISOString();
    mkdirSync(path.join(site.root, '.attache-lock'), { recursive: true });
    writeFileSync(
      path.join(site.root, '.attache-lock', 'owner'),
      JSON.stringify({ by: 'alice', host: 'build-box', pid: 4242, since }) + '\n',
    );
    const child = startGulpChild({ cwd: site.cwd, task: 'unlock' });
    const { code } = await child.exited;
    const out = child.lines.join('\n');
    assert.equal(code, 0, out);
    assert.ok(out.includes(`[production] lock freed (it was held by alice@build-box (pid 4242) since ${since}, 12 min ago)`), out);
    assert.doesNotMatch(out, /"by"|\{/);
  });
});

describe('a failed health check names the cause', () => {
  const site = createSite({ target: { host: 'local' } });
  let web: Server;
  let port: number;
  before(async () => {
    web = createServer((request, response) => {
      if (request.url === '/down')
        return void response
          .writeHead(503, { 'content-type': 'text/plain' })
          .end('Service Unavailable:\n  the database is down (SQLSTATE[HY000] [2002])\n');
      if (request.url === '/stall') return; // never answers
      response.writeHead(200).end('<html>welcome</html>');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    port = (web.address() as { port: number }).port;
  });
  after(() => {
    web.closeAllConnections();
    web.close();
  });
  const failure = async (url: string, extra: Record<string, unknown> = {}) => {
    const { error } = await site.fail('deploy', [], { overrides: { healthcheck: { url, retries: 1, timeout: 1, ...extra } } });
    return error.message;
  };

  it('says "connection refused" when nothing listens', async () => {
    const url = `http://127.0.0.1:${await freePort()}/health`; // nothing listens
    assert.match(await failure(url), new RegExp(`health check failed: ${url.replace(/\./g, '\\.')}: connection refused .*ECONNREFUSED`));
  });

  it('says it timed out when the server never answers', async () => {
    assert.match(await failure(`http://127.0.0.1:${port}/stall`), /health check failed: \S+\/stall: no answer within 1 s \(timeout\)/);
  });

  it('gives the status and the first bytes of an error page', async () => {
    assert.match(
      await failure(`http://127.0.0.1:${port}/down`),
      /answered 503, expected 200; the body begins: "Service Unavailable: the database is down \(SQLSTATE\[HY000\] \[2002\]\)"/,
    );
  });

  it('gives the first bytes of a body that lacks the expected text', async () => {
    assert.match(
      await failure(`http://127.0.0.1:${port}/`, { contains: 'release: ' }),
      /answered without "release: "; the body begins: "<html>welcome<\/html>"/,
    );
  });
});

describe('gulp releases on a server without releases', () => {
  it('says "no releases yet" instead of an empty table (gulp CLI)', async () => {
    const site = createSite({ target: { host: 'local' } });
    const child = startGulpChild({ cwd: site.cwd, task: 'releases' });
    const { code } = await child.exited;
    const out = child.lines.join('\n');
    assert.equal(code, 0, out);
    assert.match(out, /releases on production: no releases yet/);
    assert.doesNotMatch(out, /release\s+status\s+deployed at/, 'no empty table header');
  });
});

describe('build output under public/ that no asset mapping covers', () => {
  it('is named in a warning with the mapping to add; committed files and covered output are not', async () => {
    const site = createSite({ target: { host: 'local' } });
    const built = { 'public/images/logo.png': 'png', 'public/images/icons/cart.svg': '<svg/>', 'public/robots-extra.txt': 'User-agent: *' };
    for (const [file, data] of Object.entries(built)) {
      mkdirSync(path.dirname(path.join(site.cwd, file)), { recursive: true });
      writeFileSync(path.join(site.cwd, file), data);
    }
    const { lines } = await site.run('deploy');
    const warning = lines.find((l) => l.includes('no "assets" mapping covers'));
    assert.ok(warning, lines.join('\n'));
    assert.match(warning, /the build left 3 files under public\/ .*: public\/images\/ \(2 files\), public\/robots-extra\.txt\./);
    assert.match(
      warning,
      /"assets": \["public\/js","public\/css","public\/mix-manifest\.json","public\/images","public\/robots-extra\.txt"\]/,
    );
    assert.doesNotMatch(warning, /index\.php|welcome\.html|public\/js\/|public\/css\//, 'committed and covered files are not named');
    assert.equal(
      existsSync(path.join(site.release(site.liveId()!), 'public/images')),
      false,
      'the warning tells the truth: they were not deployed',
    );
  });

  it('says nothing when every built file is covered', async () => {
    const site = createSite({ target: { host: 'local' } });
    const { lines } = await site.run('deploy');
    assert.ok(!lines.some((l) => l.includes('no "assets" mapping covers')), lines.join('\n'));
  });
});

describe("the README's gulpfile lines", () => {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const snippet = /`gulpfile\.cjs`:\n\n```js\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const existing = {
    'exports.x =': "const { series } = require('gulp');\nexports.build = (done) => done();\nexports.watch = series(exports.build);\n",
    'module.exports = { … }': 'const build = (done) => done();\nconst watch = (done) => done();\nmodule.exports = { build, watch };\n',
  };

  for (const [style, own] of Object.entries(existing)) {
    it(`add the deploy tasks to a gulpfile that exports its own with ${style}, keeping them (gulp CLI)`, () => {
      assert.match(snippet, /require\('gulp-attache'\)/);
      const dir = tempDir('attache-readme-gulpfile-');
      symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
      const gulpfile = path.join(dir, 'gulpfile.cjs');
      writeFileSync(
        gulpfile,
        own + snippet.replace("require('gulp-attache')", `require(${JSON.stringify(path.join(REPO_ROOT, 'src/index.ts'))})`),
      );
      const result = spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(REPO_ROOT, 'node_modules/gulp/bin/gulp.js'), '--gulpfile', gulpfile, '--tasks-simple'],
        { cwd: dir, encoding: 'utf8' },
      );
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(result.stdout.trim().split('\n').sort(), [
        'activate',
        'build',
        'deploy',
        'install',
        'prune',
        'releases',
        'rollback',
        'unlock',
        'watch',
      ]);
    });
  }
});
