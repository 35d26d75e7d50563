import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { commitChange, EXAMPLE_APP } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { createSite, exists, startTarget, tempFile, type Site, type TargetKind, type TargetSpec } from '../support/preset';

/**
 * The safety promises, end to end: secrets (an --env file's values, the config's `secrets`) never
 * reach the log, the terminal of a real `gulp` run, or an error; and the data that lives outside
 * the releases (root/storage, root/.env) survives every operation byte for byte: deploys, rollback,
 * activate, prune, a failed deploy and a deploy refused by the lock, on the real sshd and on the
 * local target.
 */

const REPO_ROOT = path.resolve(__dirname, '../..');
/** gulp's CLI (gulp-cli, through gulp's bin); its package exports no subpaths, so it is found from the main file. */
const GULP_BIN = path.join(path.dirname(require.resolve('gulp', { paths: [REPO_ROOT] })), 'bin/gulp.js');

const TOKEN = 'tok-very-secret-42';
const APP_KEY = 'base64:SuperSecretValue123';
const SECRETS = [TOKEN, APP_KEY];
const ENV_CONTENTS = `APP_NAME="Secretive"\nAPP_KEY=${APP_KEY}\n`;
/** Printed by a hook but not secret: shows that hook output does reach the captured text. */
const VISIBLE = 'plainly-visible-marker-7';

/** Replaces the server entry's keys in .attache.json (scripts replaced whole). */
function patchServer(site: Site, patch: Record<string, unknown>): void {
  const config = JSON.parse(readFileSync(site.configFile, 'utf8'));
  Object.assign(config.servers.production, patch);
  writeFileSync(site.configFile, JSON.stringify(config, null, 4) + '\n');
}

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) {
    const at = text.indexOf(secret);
    assert.equal(at, -1, `${where} shows the secret ${JSON.stringify(secret)}: …${text.slice(Math.max(0, at - 200), at + 100)}…`);
  }
}

/**
 * `gulp <task> <flags>` with the real gulp CLI in the project directory, as a user runs it: a
 * gulpfile that calls attache() (the sources through tsx), every byte of stdout and stderr kept.
 */
function runGulp(site: Site, args: string[]): { code: number | null; output: string } {
  if (!exists(path.join(site.cwd, 'gulpfile.js'))) {
    // gulp-cli looks for the local gulp from the project; the project borrows this repo's node_modules.
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(site.cwd, 'node_modules'));
    writeFileSync(
      path.join(site.cwd, 'gulpfile.js'),
      `const { attache } = require(${JSON.stringify(path.join(REPO_ROOT, 'src/index.ts'))});\n` +
        `const { deploy, rollback, releases } = attache();\n` +
        `module.exports = { deploy, rollback, releases };\n`,
    );
  }
  const result = spawnSync(process.execPath, [GULP_BIN, ...args], {
    cwd: site.cwd,
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import tsx`.trim() },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { code: result.status, output: `${result.stdout}\n${result.stderr}` };
}

describe('secrets', () => {
  let target: TargetSpec;
  let stop = async () => {};
  let envFile: string;

  before(async () => {
    ({ target, stop } = await startTarget('sshd'));
    envFile = tempFile('production.env', ENV_CONTENTS);
  });
  after(() => stop());

  const hooks = {
    build: [],
    'before-deploy': [`echo ${TOKEN}`, `echo ${VISIBLE}`],
    'after-symlinks': ['cat {{ @path:env }}'],
  };

  describe('in the log of a verbose deploy (this process)', () => {
    let site: Site;

    before(() => {
      site = createSite({ target, server: { secrets: [TOKEN], scripts: hooks } });
    });

    it('a deploy with --env and a hook using the secret logs neither secret, but *** where they were', async () => {
      const { log, lines } = captureLogger('verbose');
      await site.run('deploy', [`--env=${envFile}`, '--verbose'], { logger: log });
      const text = lines.join('\n');
      assertNoSecret(text, 'the log');
      assert.equal(readFileSync(path.join(site.root, '.env'), 'utf8'), ENV_CONTENTS, 'the .env itself reached the server whole');

      // The lines that would have shown them are there, redacted.
      assert.ok(lines.includes('[production] before-deploy: echo ***'), text);
      assert.ok(
        lines.some((line) => /^\[production\] \$ .*echo \*\*\*$/.test(line)),
        `the verbose command line, redacted:\n${text}`,
      );
      const output = lines.indexOf('[production] before-deploy: echo ***');
      assert.ok(lines.slice(output).includes('[production] ***'), `the hook's output, redacted:\n${text}`);
      assert.ok(lines.includes(`[production] ${VISIBLE}`), `hook output is in the log at all:\n${text}`);
      const cat = lines.findIndex((line) => line.startsWith('[production] after-symlinks: cat '));
      assert.ok(cat >= 0, text);
      // The upload runs beside this hook, so its lines may interleave: pick the .env lines by their keys.
      const printed = lines
        .slice(cat + 1)
        .filter((line) => /^\[production\] APP_/.test(line))
        .slice(0, 2);
      // APP_NAME is an ordinary setting and stays readable; APP_KEY's value is a secret.
      assert.deepEqual(
        printed,
        ['[production] APP_NAME="Secretive"', '[production] APP_KEY=***'],
        `the .env lines the hook printed, redacted:\n${text}`,
      );
    });

    it('a failing hook with the secret in its command and output: neither in the log nor in the error message', async () => {
      patchServer(site, { scripts: { ...hooks, 'after-symlinks': [`echo ${TOKEN} >&2; grep APP_KEY {{ @path:env }} >&2; exit 3`] } });
      const { log, lines } = captureLogger('verbose');
      const { error } = await site.fail('deploy', [`--env=${envFile}`, '--verbose'], { logger: log });
      assert.match(error.message, /step "after-symlinks": command exited with code 3/, error.message);
      assert.match(error.message, /command: .*echo \*\*\* >&2; grep APP_KEY/, error.message);
      assert.match(error.message, /output \(last lines\):\n\s+\*\*\*\n\s+APP_KEY=\*\*\*/, error.message);
      assertNoSecret(error.message, 'the error message');
      assertNoSecret(String(error), 'the error as a string (what gulp prints)');
      assertNoSecret(error.stack ?? '', 'the error stack');
      assertNoSecret(lines.join('\n'), 'the log');
    });

    it('a failing hook with the secret: the error object holds no secret in its properties either (what console.error(error) prints)', async () => {
      patchServer(site, { scripts: { ...hooks, 'after-symlinks': [`echo ${TOKEN} >&2; exit 3`] } });
      const { error } = await site.fail('deploy', [], { logger: captureLogger('quiet').log });
      assert.match(error.message, /exited with code 3/);
      assertNoSecret(inspect(error, { depth: 10 }), 'util.inspect(error)');
      assertNoSecret(JSON.stringify(error), 'JSON.stringify(error)');
    });
  });

  describe('on the terminal of a real gulp run (a child process)', () => {
    let site: Site;

    before(() => {
      site = createSite({ target, server: { secrets: [TOKEN], scripts: hooks } });
    });

    it('gulp deploy --env --verbose, a first deploy: neither secret in stdout or stderr', () => {
      const { code, output } = runGulp(site, ['deploy', `--env=${envFile}`, '--verbose']);
      assert.equal(code, 0, output);
      assertNoSecret(output, 'gulp deploy');
      assert.match(output, /before-deploy: echo \*\*\*/, output);
      assert.match(output, new RegExp(`\\[production\\] ${VISIBLE}`), output);
      assert.match(output, /\[production\] \*\*\*/, output);
      assert.match(output, /Finished 'deploy'/, output);
      assert.equal(readFileSync(path.join(site.root, '.env'), 'utf8'), ENV_CONTENTS);
    });

    it('gulp deploy with a failing hook that prints the secret: neither secret in stdout or stderr, and gulp shows the error', () => {
      patchServer(site, { scripts: { ...hooks, 'after-symlinks': [`echo ${TOKEN} >&2; exit 3`] } });
      const { code, output } = runGulp(site, ['deploy', `--env=${envFile}`, '--verbose']);
      assert.equal(code, 1, output);
      assertNoSecret(output, 'gulp deploy');
      assert.match(output, /command exited with code 3/, output);
      assert.match(output, /command: .*echo \*\*\* >&2; exit 3/, output);
      assert.match(output, /errored after/, output);
    });

    it('a later gulp deploy given --env again (the file is not installed, root/.env exists) still redacts its values', () => {
      // The same --env file, passed on every deploy as CI scripts do; a hook prints the server's .env.
      patchServer(site, { scripts: { ...hooks, 'after-symlinks': ['cat {{ @path:env }}'] } });
      const { code, output } = runGulp(site, ['deploy', `--env=${envFile}`, '--verbose']);
      assert.equal(code, 0, output);
      assert.match(output, /after-symlinks: cat /, output);
      assertNoSecret(output, 'gulp deploy');
    });
  });
});

/** Files with random contents, their checksums, and checks that they are all still there, byte for byte. */
class Data {
  private readonly files = new Map<string, string>();

  constructor(private readonly root: string) {}

  /** Writes `count` files of random content under root/storage (some through live/storage, as the app would). */
  write(label: string): void {
    const storage = path.join(this.root, 'storage');
    const viaLive = path.join(this.root, 'live', 'storage');
    const specs: Array<[base: string, relative: string, size: number]> = [
      [storage, `app/uploads/${label}/photo one.bin`, 64 * 1024 + Math.floor(Math.random() * 4096)],
      [storage, `app/uploads/${label}/.hidden`, 100],
      [storage, `logs/${label}-ünïcode.log`, 3000],
      [storage, `framework/sessions/${label}-empty`, 0],
      [viaLive, `app/public/${label}/avatar.png`, 20_000],
    ];
    for (const [base, relative, size] of specs) {
      const file = path.join(base, relative);
      mkdirSync(path.dirname(file), { recursive: true });
      const contents = randomBytes(size);
      writeFileSync(file, contents);
      this.files.set(path.join('storage', relative), sha256(contents));
    }
  }

  /** Every file written so far is in root/storage with its checksum; root/storage is a real directory. */
  check(when: string): void {
    const storage = path.join(this.root, 'storage');
    assert.ok(lstatSync(storage).isDirectory(), `${when}: root/storage is a real directory`);
    const problems: string[] = [];
    for (const [relative, sum] of this.files) {
      const file = path.join(this.root, relative);
      if (!exists(file)) problems.push(`${relative}: missing`);
      else if (sha256(readFileSync(file)) !== sum) problems.push(`${relative}: changed`);
    }
    assert.deepEqual(problems, [], `${when}: of ${this.files.size} files in root/storage`);
  }

  get count(): number {
    return this.files.size;
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

for (const kind of ['sshd', 'local'] as TargetKind[]) {
  describe(`data survives every operation (${kind === 'sshd' ? 'real sshd' : 'local target'})`, () => {
    let target: TargetSpec;
    let stop = async () => {};
    let site: Site;
    let data: Data;
    let env: { contents: Buffer; mode: number; ino: number };
    const envPath = () => path.join(site.root, '.env');
    const ids: string[] = [];

    before(async () => {
      ({ target, stop } = await startTarget(kind));
      site = createSite({ target });
      data = new Data(site.root);
    });
    after(() => stop());

    /** All data there and unchanged, root/.env the same file with the same bytes, live's storage the shared one. */
    const check = (when: string) => {
      data.check(when);
      const now = statSync(envPath());
      assert.deepEqual({ contents: readFileSync(envPath()), mode: now.mode & 0o777, ino: now.ino }, env, `${when}: root/.env is unchanged`);
      assert.equal(
        realpathSync(path.join(site.root, 'live', 'storage')),
        realpathSync(path.join(site.root, 'storage')),
        `${when}: live's storage is the shared one`,
      );
      assert.ok(!exists(path.join(site.root, '.attache-lock')) || when.includes('lock'), `${when}: no lock left behind`);
    };

    it('first deploy with --env: root/.env installed; files written into storage', async () => {
      await site.run('deploy', [`--env=${tempFile('first.env', `APP_NAME="Data ${kind}"\nAPP_KEY=data-${kind}-key\n`)}`]);
      ids.push(site.liveId()!);
      const stat = statSync(envPath());
      env = { contents: readFileSync(envPath()), mode: stat.mode & 0o777, ino: stat.ino };
      assert.equal(env.mode, 0o640);
      data.write('first');
      check('after the first deploy');
    });

    it('two more deploys of new commits (one given another --env): data and .env unchanged', async () => {
      commitChange(site.repo.work, site.repo.bare, 'app/Version.php', '<?php // two\n');
      await site.run('deploy', [`--env=${tempFile('other.env', 'APP_NAME="Other"\nAPP_KEY=other-key\n')}`]);
      ids.push(site.liveId()!);
      check('after the second deploy');
      data.write('second');

      commitChange(site.repo.work, site.repo.bare, 'app/Version.php', '<?php // three\n');
      await site.run('deploy');
      ids.push(site.liveId()!);
      assert.equal(new Set(ids).size, 3);
      check('after the third deploy');
      data.write('third');
    });

    it('rollback', async () => {
      await site.run('rollback');
      assert.equal(site.liveId(), ids[1]);
      check('after rollback');
      data.write('rollback');
    });

    it('activate --release=latest', async () => {
      await site.run('activate', ['--release=latest']);
      assert.equal(site.liveId(), ids[2]);
      check('after activate');
      data.write('activate');
    });

    it('prune with keep=2', async () => {
      await site.run('prune', [], { overrides: { keep: 2 } });
      assert.deepEqual(site.releases(), [ids[1], ids[2]], 'the oldest release was pruned');
      check('after prune');
      data.write('prune');
    });

    it('a failed deploy (broken composer.json) undoes itself and leaves the data alone', async () => {
      commitChange(site.repo.work, site.repo.bare, 'composer.json', '{ "name": "attache/example-app",\n');
      const { error } = await site.fail('deploy', [`--env=${tempFile('third.env', 'APP_NAME="Never"\n')}`]);
      assert.match(error.message, /step "composer"/);
      assert.equal(site.liveId(), ids[2]);
      assert.deepEqual(site.releases(), [ids[1], ids[2]], 'the failed release is gone');
      check('after a failed deploy');
      data.write('failed');
      commitChange(site.repo.work, site.repo.bare, 'composer.json', readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'));
    });

    it('a deploy refused by a held lock changes nothing', async () => {
      const lock = path.join(site.root, '.attache-lock');
      mkdirSync(lock);
      const owner = JSON.stringify({ by: 'someone', host: 'elsewhere', pid: 1, since: new Date().toISOString() }) + '\n';
      writeFileSync(path.join(lock, 'owner'), owner);
      const { error } = await site.fail('deploy');
      assert.match(error.message, /another deploy holds the lock/);
      assert.equal(readFileSync(path.join(lock, 'owner'), 'utf8'), owner, "the holder's lock is left alone");
      assert.deepEqual(site.releases(), [ids[1], ids[2]]);
      check('after a deploy refused by the lock');
      await site.run('unlock');
      assert.ok(!exists(lock));
    });

    it('a last deploy still works, and everything written along the way is there', async () => {
      await site.run('deploy');
      assert.notEqual(site.liveId(), ids[2]);
      check('after the last deploy');
      assert.equal(data.count, 7 * 5);
    });
  });
}
