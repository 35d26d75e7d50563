import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config';
import { attache } from '../../src/preset';
import { tempDir } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { createSite, startTarget, type Site, type TargetSpec } from '../support/preset';
import { runTask } from '../support/streams';

const REPO_ROOT = path.resolve(__dirname, '../..');

/** Attaché's commands as tasks, against the real sshd: init, install, delete, down/up, servers, ssh, --config, prune --count. */
describe("Attaché's commands (real sshd)", () => {
  let target: TargetSpec;
  let stop = async () => {};

  before(async () => {
    ({ target, stop } = await startTarget('sshd'));
  });
  after(() => stop());

  it('each command is in gulp --tasks with its flags', () => {
    const out = execFileSync('npx', ['gulp', '--gulpfile', 'gulpfile.example.ts', '--cwd', '.', '--tasks', '--no-color'], {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_OPTIONS: '--import=tsx' },
      encoding: 'utf8',
    });
    // A task's flags are the lines under it, up to the next task.
    const flagsOf = (task: string) => {
      const block = out.split(/\n(?=[├└])/).find((b) => new RegExp(`^[├└]─[─┬] ${task}\\s`).test(b));
      assert.ok(block, `${task} in:\n${out}`);
      return [...block.matchAll(/(--[a-z-]+)(?:=\S+)?\s+…/g)].map((m) => m[1]);
    };
    const everyServerTask = ['--config', '--dry-run', '--parallel', '--quiet', '--server', '--verbose'];
    assert.deepEqual(flagsOf('init'), ['--config', '--quiet', '--remote', '--verbose']);
    assert.deepEqual(flagsOf('install'), [
      '--any-commit',
      '--branch',
      '--config',
      '--dry-run',
      '--env',
      '--parallel',
      '--quiet',
      '--report',
      '--server',
      '--verbose',
    ]);
    assert.deepEqual(flagsOf('delete'), ['--config', '--dry-run', '--parallel', '--quiet', '--release', '--server', '--verbose']);
    assert.deepEqual(flagsOf('down'), everyServerTask);
    assert.deepEqual(flagsOf('up'), everyServerTask);
    assert.deepEqual(flagsOf('servers'), ['--config', '--quiet', '--verbose']);
    assert.deepEqual(flagsOf('ssh'), ['--config', '--dry-run', '--quiet', '--server', '--verbose']);
    assert.ok(flagsOf('prune').includes('--count'));
    for (const task of ['deploy', 'rollback', 'activate', 'releases', 'unlock']) assert.ok(flagsOf(task).includes('--config'), task);
  });

  describe('init', () => {
    const project = (remotes: Array<[string, string]>) => {
      const dir = tempDir('attache-init-');
      execFileSync('git', ['init', '-q', '-b', 'trunk', dir]);
      for (const [name, url] of remotes) execFileSync('git', ['-C', dir, 'remote', 'add', name, url]);
      return dir;
    };
    const init = async (cwd: string, flags: string[] = []) => {
      const { log, lines } = captureLogger('normal');
      const tasks = attache({ cwd, argv: ['node', 'gulp', 'init', ...flags], logger: log });
      const error = await runTask(tasks.init).then(
        () => undefined,
        (e: Error) => e,
      );
      return { error, lines };
    };

    it("writes .attache.json with the only remote as the repository, as Attaché's init does, and it loads", async () => {
      const cwd = project([['origin', 'git@github.com:me/app.git']]);
      const { error } = await init(cwd);
      assert.equal(error, undefined);
      const config = loadConfig('.attache.json', { cwd });
      assert.equal(config.servers.production.repository, 'git@github.com:me/app.git');
      assert.equal(config.servers.production.root, '/path/to/application');
      assert.equal(config.servers.production.branch, 'trunk', 'the branch checked out, not master');
      const written = JSON.parse(readFileSync(path.join(cwd, '.attache.json'), 'utf8')).servers.production;
      assert.ok(!('port' in written) && !('user' in written), 'no placeholders that would override ~/.ssh/config');
      assert.deepEqual(config.warnings, []);
      const again = await init(cwd);
      assert.match(again.error!.message, /\.attache\.json already exists/, 'an existing file is never overwritten');
    });

    it('with two remotes and no terminal, lists them and asks for --remote; with --remote=<name> writes that one', async () => {
      const cwd = project([
        ['origin', 'git@github.com:me/app.git'],
        ['upstream', 'git@gitlab.com:team/app.git'],
      ]);
      const { error } = await init(cwd);
      assert.match(
        error!.message,
        /this repository has 2 remotes: which one should deploys clone\? origin \(git@github\.com:me\/app\.git\), upstream \(git@gitlab\.com:team\/app\.git\)/,
      );
      assert.match(error!.message, /--remote=<name>/);
      assert.ok(!existsSync(path.join(cwd, '.attache.json')));
      assert.equal((await init(cwd, ['--remote=upstream'])).error, undefined);
      assert.equal(loadConfig('.attache.json', { cwd }).servers.production.repository, 'git@gitlab.com:team/app.git');
      assert.match((await init(project([['origin', 'x']]), ['--remote=nope'])).error!.message, /there is no git remote "nope"/);
    });

    it('with two remotes on a terminal, asks which one by name', async () => {
      const cwd = project([
        ['origin', 'git@github.com:me/app.git'],
        ['upstream', 'git@gitlab.com:team/app.git'],
      ]);
      const { output, code } = await inTerminal(cwd, 'init', [], 'upstream\n', /Which one/);
      assert.equal(code, 0, output);
      assert.match(output, /There is more than one remote: origin \(git@github\.com:me\/app\.git\), upstream/);
      assert.equal(loadConfig('.attache.json', { cwd }).servers.production.repository, 'git@gitlab.com:team/app.git');
    });
  });

  describe('install, deploy, delete, down/up, prune --count', () => {
    let site: Site;
    before(() => {
      site = createSite({ target });
    });
    const artisanLog = () => readFileSync(path.join(site.root, 'storage/logs/artisan.log'), 'utf8').trim().split('\n');

    it('install on a fresh root deploys, installs .env.example as root/.env and generates the key', async () => {
      const example = readFileSync(path.join(site.cwd, '.env.example'), 'utf8');
      await site.run('install');
      assert.equal(site.releases().length, 1);
      assert.equal(site.liveId(), site.releases()[0]);
      const env = readFileSync(path.join(site.root, '.env'), 'utf8');
      assert.match(env, /^APP_KEY=base64:[A-Za-z0-9+/=]{44}$/m);
      assert.doesNotMatch(env, /ZmFrZS1rZXktZm9yLXRoZS1leGFtcGxlLWFwcC0wMDA=/, 'a new key, not the example one');
      assert.equal(env.replace(/^APP_KEY=.*$/m, ''), example.replace(/^APP_KEY=.*$/m, ''), 'the rest is .env.example');
      assert.deepEqual(artisanLog(), ['storage:link', 'key:generate --force']);
    });

    it('deploy then works on it, and a second install is refused with nothing changed', async () => {
      await site.run('deploy');
      assert.equal(site.releases().length, 2);
      const before = site.releases();
      const { error } = await site.fail('install');
      assert.match(error.message, /there is already an installation on production: 2 releases in .*releases/);
      assert.match(error.message, /Did you mean gulp deploy\?/);
      assert.deepEqual(site.releases(), before);
      assert.ok(!existsSync(path.join(site.root, '.attache-lock')));
    });

    it('delete removes an old release and refuses the live one', async () => {
      const [first, second] = site.releases();
      await site.run('delete', [`--release=${first}`]);
      assert.deepEqual(site.releases(), [second]);
      const { error } = await site.fail('delete', [`--release=${second}`]);
      assert.match(error.message, new RegExp(`release ${second} is the live one on production: it cannot be deleted`));
      assert.deepEqual(site.releases(), [second]);
      assert.match(
        (await site.fail('delete', ['--release=20200101000000'])).error.message,
        /there is no release 20200101000000 on production/,
      );
      assert.match((await site.fail('delete')).error.message, /delete needs a release: --release=<id>/);
    });

    it("down and up run artisan in the live release, as artisan's log shows", async () => {
      await site.run('down');
      assert.equal(artisanLog().at(-1), 'down');
      assert.ok(existsSync(path.join(site.root, 'storage/framework/down')));
      await site.run('up');
      assert.equal(artisanLog().at(-1), 'up');
      assert.ok(!existsSync(path.join(site.root, 'storage/framework/down')));
    });

    it('prune --count removes that many of the oldest releases, whatever keep says, never live nor the one before it', async () => {
      for (let i = 0; i < 3; i++) await site.run('deploy');
      const [oldest, next, ...rest] = site.releases();
      assert.equal(rest.length, 2);
      await site.run('prune', ['--count=1']);
      assert.deepEqual(site.releases(), [next, ...rest], 'keep is 5, yet --count=1 removed the oldest');
      await site.run('prune', ['--count=9']);
      assert.deepEqual(site.releases(), rest, 'never live nor the one before it');
      assert.ok(!site.releases().includes(oldest));
      assert.match((await site.fail('prune', ['--count=0'])).error.message, /--count=0 is not a whole number of at least 1/);
    });
  });

  describe('servers and --config', () => {
    it('servers lists name, host, port, user, root and branch without connecting; --config and -c name another file', async () => {
      const site = createSite({ target, server: { branch: 'master' } });
      const other = path.join(site.cwd, 'deploy', 'staging.json');
      execFileSync('mkdir', ['-p', path.dirname(other)]);
      const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
      writeFileSync(
        other,
        JSON.stringify({ ...config, servers: { staging: { ...config.servers.production, root: `${site.root}-staging` } } }),
      );

      const { lines } = await site.run('servers');
      const table = lines.join('\n');
      assert.match(table, /server\s+host\s+port\s+user\s+root\s+branch/);
      assert.match(
        table,
        new RegExp(
          `production\\s+127\\.0\\.0\\.1\\s+${(target as { port: number }).port}\\s+root\\s+${site.root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+master`,
        ),
      );

      assert.match((await site.run('servers', ['--config=deploy/staging.json'])).lines.join('\n'), /^staging\s+127\.0\.0\.1/m);
      assert.match((await site.run('servers', ['-c', 'deploy/staging.json'])).lines.join('\n'), /^staging\s+127\.0\.0\.1/m);
      await site.run('deploy', ['--config=deploy/staging.json']);
      assert.ok(existsSync(path.join(`${site.root}-staging`, 'live')), 'the deploy went where the other file says');
      assert.ok(!existsSync(path.join(site.root, 'live')));
      assert.match((await site.fail('releases', ['--config=nope.json'])).error.message, /no configuration file at .*nope\.json/);
    });
  });

  describe('ssh', () => {
    it('opens a login shell in the root through a pseudo-terminal and passes its exit code back', async () => {
      const site = createSite({ target });
      execFileSync('mkdir', ['-p', site.root]);
      const { output, code } = await inTerminal(site.cwd, 'ssh', [], 'pwd; exit 3\n', /[$#] $/m);
      assert.equal(code, 3, output);
      // The shell's terminal controls (bracketed paste on and off) are not text.
      const text = output.replace(/\x1b\[[?0-9;]*[A-Za-z]/g, '');
      assert.ok(
        text.split(/\r?\n/).some((line) => line.trim() === site.root),
        `pwd printed the root:\n${output}`,
      );
    });

    it('sizes the pty to the local terminal and follows it when the terminal is resized (SIGWINCH)', async () => {
      const site = createSite({ target });
      execFileSync('mkdir', ['-p', site.root]);
      const dir = tempDir('attache-tmux-');
      const tmux = (...args: string[]) => execFileSync('tmux', ['-S', path.join(dir, 'socket'), ...args], { encoding: 'utf8' });
      const status = path.join(dir, 'status');
      tmux('new-session', '-d', '-s', 'ssh', '-x', '100', '-y', '30', `${gulpCommand(site.cwd, 'ssh', [])}; echo $? > ${status}`);
      const screen = () => tmux('capture-pane', '-p', '-t', 'ssh');
      const until = async (pattern: RegExp) => {
        for (let i = 0; i < 300 && !pattern.test(screen()); i++) await new Promise((r) => setTimeout(r, 100));
        assert.match(screen(), pattern);
      };
      try {
        await until(/[$#]$/m); // capture-pane drops the space after the prompt
        tmux('send-keys', '-t', 'ssh', 'stty size', 'Enter');
        await until(/^30 100$/m);
        tmux('resize-window', '-t', 'ssh', '-x', '120', '-y', '40');
        tmux('send-keys', '-t', 'ssh', 'clear; stty size', 'Enter');
        await until(/^40 120$/m);
        tmux('send-keys', '-t', 'ssh', 'exit 3', 'Enter');
        for (let i = 0; i < 300 && !existsSync(status); i++) await new Promise((r) => setTimeout(r, 100));
        assert.equal(readFileSync(status, 'utf8').trim(), '3');
      } finally {
        try {
          tmux('kill-server');
        } catch {}
      }
    });
  });
});

/** The gulp CLI running one task of attache() for the project at cwd, as a shell command line. */
function gulpCommand(cwd: string, task: string, flags: string[]): string {
  const dir = tempDir('attache-gulpfile-');
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const gulpfile = path.join(dir, 'gulpfile.js');
  writeFileSync(
    gulpfile,
    `const { attache } = require(${JSON.stringify(path.join(REPO_ROOT, 'src/index.ts'))});\nmodule.exports = attache({ cwd: ${JSON.stringify(cwd)} });\ndelete module.exports.steps;\n`,
  );
  const gulp = [
    process.execPath,
    '--import',
    'tsx',
    path.join(REPO_ROOT, 'node_modules/gulp/bin/gulp.js'),
    '--gulpfile',
    gulpfile,
    '--cwd',
    REPO_ROOT,
    '--no-color',
    task,
    ...flags,
  ];
  return gulp.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
}

/**
 * The gulp CLI on a pseudo-terminal (util-linux `script`), as a person runs it: `input` is typed
 * once `prompt` appears. Resolves with what the terminal showed and gulp's exit code.
 */
function inTerminal(
  cwd: string,
  task: string,
  flags: string[],
  input: string,
  prompt: RegExp,
): Promise<{ output: string; code: number | null }> {
  const command = gulpCommand(cwd, task, flags);
  // script returns the command's exit status (-e); its own stdin is a pipe, the command's a pty.
  const child = spawn('script', ['-qefc', command, '/dev/null'], { cwd: REPO_ROOT, env: { ...process.env, TERM: 'xterm', PS1: '$ ' } });
  let output = '';
  let typed = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no exit from "${task}" on the terminal; it showed:\n${output}`));
    }, 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (!typed && prompt.test(output)) {
        typed = true;
        child.stdin.write(input);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ output, code });
    });
  });
}
