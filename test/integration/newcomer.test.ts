import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attache } from '../../src/preset';
import { buildAssets, createAppRepository, tempDir, type AppRepository } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { createHome, startSshd, trust, type SshServer } from '../../support/sshd';

const gulp = require('gulp');
gulp.on('error', () => {}); // as gulp-cli does: a failed task is reported through the series callback
const run = (task: unknown) => new Promise<void>((resolve, reject) => gulp.series(task)((e?: Error) => (e ? reject(e) : resolve())));

/** Every path under a directory with its type, size and link target: enough to see any change. */
function snapshot(dir: string): string[] {
  if (!existsSync(dir)) return ['(absent)'];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      const st = statSync(full, { throwIfNoEntry: false }) ?? null;
      const link = (() => {
        try {
          return readlinkSync(full);
        } catch {
          return undefined;
        }
      })();
      out.push(`${path.relative(dir, full)} ${link ? '-> ' + link : st?.isDirectory() ? 'dir' : st?.size}`);
      if (!link && st?.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out;
}

describe("the newcomer's path", () => {
  let server: SshServer;
  let repo: AppRepository;
  let root: string;

  before(async () => {
    const home = createHome();
    server = await startSshd(home);
    trust(home, server);
    repo = createAppRepository();
    buildAssets(repo.work);
    root = path.join(tempDir('attache-newcomer-'), 'site');
    writeFileSync(
      path.join(repo.work, '.attache.json'),
      JSON.stringify({
        repository: `file://${repo.bare}`,
        servers: { production: { host: '127.0.0.1', port: server.port, user: 'root', root, scripts: { build: [] } } },
      }),
    );
  });
  after(() => server.stop());

  it('a dry run connects, prints every command and transfer it would do, and changes nothing on the server', async () => {
    const { log } = captureLogger('verbose');
    await run(attache({ cwd: repo.work, argv: ['node', 'gulp'], logger: log }).deploy);
    const before = snapshot(root);
    const { log: dry, lines } = captureLogger('normal');
    await run(attache({ cwd: repo.work, argv: ['node', 'gulp', '--dry-run'], logger: dry }).deploy);
    assert.deepEqual(snapshot(root), before, 'nothing on the server changed');
    const text = lines.join('\n');
    assert.match(text, /\[dry run\] \[production\] would run: mkdir -p -- .* && if mkdir -- .*\.attache-lock/);
    assert.match(text, /\[dry run\] \[production\] would run: .*git .*fetch/);
    assert.match(text, /\[dry run\] \[production\] would run: .*composer install/);
    assert.match(text, /\[dry run\] \[production\] would point .*\/live -> releases\//);
  });

  it('a dry run prints the scripts it would send on stdin and says "would upload", never "uploaded"', async () => {
    const appJs = path.join(repo.work, 'public/js/app.js');
    const built = readFileSync(appJs);
    writeFileSync(appJs, '/* changed, not deployed */\n');
    try {
      const before = snapshot(root);
      const { log: dry, lines } = captureLogger('normal');
      await run(attache({ cwd: repo.work, argv: ['node', 'gulp', '--dry-run'], logger: dry }).deploy);
      assert.deepEqual(snapshot(root), before, 'nothing on the server changed');
      const text = lines.join('\n');
      // The permissions step's script, and the asset step's links and manifest, each under its command.
      assert.match(
        text,
        /\[dry run\] \[production\] would run: \/bin\/sh -s, with this on stdin:\n {4}fail\(\) \{[^]*\n {4}.*bootstrap\/cache/,
      );
      assert.match(
        text,
        /\[dry run\] \[production\] would run: sh -e -s, with this on stdin:\n {4}mkdir -p -- .*\/public\/js[^]*\n {4}ln -f -- /,
      );
      // The archive itself is bytes: said by its size, under the script that would unpack it.
      assert.match(text, /tar -x -p --no-same-owner -f - [^]*, with [\d.]+ KB of binary input on stdin/);
      assert.match(text, /\[dry run\] \[production\] would upload 1 file, 28 B to \S+\/releases\/\S+$/m);
      assert.match(text, /\[dry run\] \[production\] assets: would reuse 3 unchanged file\(s\) from the live release, would send 1$/m);
      assert.doesNotMatch(text, /^uploaded |upload: \d+\/\d+ files| would run: (\/bin\/)?sh (-e )?-s$/m);
    } finally {
      writeFileSync(appJs, built);
    }
  });

  it('a dry run still reads the lock: a held lock is reported', async () => {
    mkdirSync(path.join(root, '.attache-lock'));
    writeFileSync(
      path.join(root, '.attache-lock', 'owner'),
      JSON.stringify({ by: 'ana', host: 'laptop', pid: 42, since: new Date().toISOString() }),
    );
    try {
      await assert.rejects(
        run(attache({ cwd: repo.work, argv: ['node', 'gulp', '--dry-run'], logger: captureLogger('quiet').log }).deploy),
        /another deploy holds the lock: ana@laptop/,
      );
    } finally {
      execFileSync('rm', ['-rf', path.join(root, '.attache-lock')]);
    }
  });

  it('ends every deploy with a summary: steps and durations, release, commit, bytes, live target', async () => {
    const { log, lines } = captureLogger('quiet');
    await run(attache({ cwd: repo.work, argv: ['node', 'gulp', '--quiet'], logger: log }).deploy);
    assert.equal(lines.length, 1, `--quiet prints the summary only, got:\n${lines.join('\n')}`);
    const summary = lines[0];
    const live = readlinkSync(path.join(root, 'live'));
    const id = path.basename(live);
    assert.match(summary, /deploy summary \(\d+\.\d s\)/);
    const [title, header, row, ...stepLines] = summary.split('\n');
    const steps = stepLines.join(' ');
    assert.match(title, new RegExp(`^deploy summary \\(\\d+\\.\\d s\\): deployed ${id}$`));
    assert.deepEqual(header.trim().split(/\s+/), ['server', 'result', 'commit', 'sent', 'reused', 'live'], 'column names, none twice');
    assert.match(
      row,
      new RegExp(`production\\s+deployed\\s+${repo.head.slice(0, 8)}\\s+0 files, 0 B\\s+4 files, 752 B\\s+${live}$`),
      'nothing changed since the last deploy: the 4 assets were reused, none sent',
    );
    for (const step of ['lock', 'clone', 'composer', 'assets', 'live'])
      assert.match(steps, new RegExp(`\\b${step} \\d+\\.\\ds`), `step ${step} timed`);
    for (const line of summary.split('\n')) assert.ok(line.length <= 100, `fits in 100 columns: ${line}`);
  });

  it('an unknown flag, server or a missing config says what would be right', async () => {
    const tasks = (argv: string[], cwd = repo.work) =>
      attache({ cwd, argv: ['node', 'gulp', ...argv], logger: captureLogger('quiet').log });
    // A misspelt flag of ours stops the task before anything connects; a flag far from ours is the gulpfile's own.
    await assert.rejects(
      run(tasks(['--sever=production']).releases),
      /unknown flag --sever; did you mean --server\?\n {2}Nothing was done/,
    );
    await run(tasks(['--production']).releases);
    await assert.rejects(run(tasks(['--server=prod']).deploy), /production/);
    await assert.rejects(run(tasks([], tempDir('attache-empty-')).deploy), /\.attache\.json/);
  });

  it("the README's TypeScript gulpfile command works as written: gulp --tasks lists the example gulpfile's tasks", () => {
    // Exactly as the README writes it: NODE_OPTIONS="--import=tsx" npx gulp --gulpfile gulpfile.example.ts --cwd . --tasks
    const result = spawnSync('npx', ['gulp', '--gulpfile', 'gulpfile.example.ts', '--cwd', '.', '--tasks'], {
      env: { ...process.env, NODE_OPTIONS: '--import=tsx' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 0, result.stderr + result.stdout);
    for (const task of ['deploy', 'rollback', 'activate', 'releases', 'prune', 'unlock', 'deployAnnounced', 'pushDocs']) {
      assert.match(result.stdout, new RegExp(`[├└]─[─┬] ${task}\\b`), `${task} in:\n${result.stdout}`);
    }
    assert.match(result.stdout, /deploy:clone/, 'the deploy steps show as tasks');
  });

  it('npm run demo works on a machine without sshd, PHP or composer, and leaves git status clean', () => {
    // A PATH with only node, git and the shell tools (tar and sha256sum fill a fresh release): no php, composer, ssh or sshd.
    const bin = mkdtempSync(path.join(os.tmpdir(), 'attache-bin-'));
    for (const tool of [
      'node',
      'git',
      'sh',
      'mkdir',
      'rm',
      'mv',
      'ln',
      'cat',
      'tr',
      'printf',
      'cp',
      'env',
      'tar',
      'sha256sum',
      'df',
      'awk',
    ]) {
      const found = spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      if (found.startsWith('/')) symlinkSync(found, path.join(bin, tool));
    }
    assert.notEqual(
      spawnSync('/bin/sh', ['-c', 'command -v php || command -v composer || command -v sshd'], { env: { PATH: bin } }).status,
      0,
    );
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'example/demo.ts'], {
      env: { PATH: bin, HOME: process.env.HOME },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /composer: skipped \("skip" in the config\)/);
    assert.match(result.stdout, /live -> releases\/\d{14}/);
    assert.match(result.stdout, /after deploy 1 the site served: .*version 1/);
    assert.match(result.stdout, /after deploy 2 the site served: .*version 2/);
    assert.equal(
      execFileSync('git', ['status', '--porcelain', '--', 'example'], { encoding: 'utf8' }).trim(),
      '',
      'the demo leaves git status clean',
    );
  });
});
