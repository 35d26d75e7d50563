import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openTarget } from '../../src/open-target';
import { attache } from '../../src/preset';
import type { DeployReport } from '../../src/release/lifecycle/report';
import { commitChange, createAppRepository, buildAssets, git, tempDir, type AppRepository } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { createHome, startSshd, trust, type SshServer } from '../../support/sshd';
import { runTask } from '../support/streams';

/**
 * "strategy": "artifact" end to end on the real sshd, with a deploy user who has no git and no
 * composer (shims that exit 127 first on its PATH, set by sshd): the tree is built here, sent once,
 * then only what changed; staging's artifact is promoted to production byte for byte; a deploy of
 * what already runs changes nothing.
 */

interface Tree {
  files: Record<string, { sha256: string; size: number; mode: number }>;
  id: string;
}

/** Every path under a directory with its type, size, inode and link target: any change shows. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      const st = lstatSync(full);
      out.push(
        `${path.relative(dir, full)} ${st.isSymbolicLink() ? '-> ' + readlinkSync(full) : st.isDirectory() ? 'dir' : `${st.size} ${st.ino} ${st.mtimeMs}`}`,
      );
      if (st.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out;
}

describe('the artifact strategy: built here, shipped as files, to a server without git or composer', () => {
  let sshd: SshServer;
  let repo: AppRepository;
  const roots = { staging: '', production: '' };
  let config: string;

  const deploy = async (flags: string[], task: 'deploy' | 'rollback' | 'releases' = 'deploy') => {
    const { log, lines } = captureLogger('normal');
    const tasks = attache({ cwd: repo.work, argv: ['node', 'gulp', task, ...flags], logger: log });
    try {
      await runTask(tasks[task]);
    } catch (error) {
      (error as Error).message += `\n--- log:\n${lines.join('\n')}`;
      throw error;
    }
    return { lines, report: tasks.report as DeployReport };
  };
  const liveId = (root: string) => path.basename(readlinkSync(path.join(root, 'live')));
  const release = (root: string, id: string) => path.join(root, 'releases', id);
  const tree = (root: string, id: string) =>
    JSON.parse(readFileSync(path.join(release(root, id), '.attache-artifact.json'), 'utf8')) as Tree;
  const marker = (root: string, id: string) => JSON.parse(readFileSync(path.join(release(root, id), '.attache-release.json'), 'utf8'));

  before(async () => {
    const shims = tempDir('attache-shims-');
    for (const tool of ['git', 'composer']) {
      writeFileSync(path.join(shims, tool), '#!/bin/sh\necho "$0: not on this server" >&2\nexit 127\n');
      chmodSync(path.join(shims, tool), 0o755);
    }
    const home = createHome();
    sshd = await startSshd(home, { setEnv: { PATH: `${shims}:/usr/local/bin:/usr/bin:/bin` } });
    trust(home, sshd);
    repo = createAppRepository();
    // A tree of some size, as a real app's vendor/ is: one changed file is a small part of it.
    for (let i = 0; i < 200; i++)
      writeFileSync(path.join(repo.work, 'resources', `lang-${i}.php`), `<?php\nreturn ${JSON.stringify({ key: 'x'.repeat(4000), i })};\n`);
    git(repo.work, 'add', '-A');
    git(repo.work, 'commit', '-q', '-m', 'Translations');
    git(repo.work, 'push', '-q', repo.bare, 'HEAD:master');
    buildAssets(repo.work);
    const base = tempDir('attache-artifact-');
    roots.staging = path.join(base, 'staging');
    roots.production = path.join(base, 'production');
    const server = (root: string) => ({
      host: '127.0.0.1',
      port: sshd.port,
      user: 'root',
      root,
      strategy: 'artifact',
      scripts: { build: [] },
    });
    config = path.join(repo.work, '.attache.json');
    writeFileSync(
      config,
      JSON.stringify({
        repository: `file://${repo.bare}`,
        default: 'staging',
        servers: { staging: server(roots.staging), production: server(roots.production) },
      }),
    );
  });
  after(() => sshd.stop());

  it('the deploy user has neither git nor composer, but php', async () => {
    const target = await openTarget({ host: '127.0.0.1', port: sshd.port, user: 'root', name: 'check' }, captureLogger('quiet').log);
    try {
      for (const tool of ['git --version', 'composer --version']) assert.equal((await target.exec(tool, { check: false })).code, 127, tool);
      assert.equal((await target.exec('php -r "echo 1;"')).stdout, '1');
    } finally {
      await target.close();
    }
  });

  let first: string;
  it('a first deploy builds the tree here (composer, assets, no shared paths) and sends all of it', async () => {
    const { report } = await deploy(['--server=staging']);
    first = liveId(roots.staging);
    const dir = release(roots.staging, first);
    assert.equal(report.result, 'deployed');
    assert.ok(existsSync(path.join(dir, 'vendor', 'autoload.php')), 'composer ran locally');
    assert.ok(existsSync(path.join(dir, 'public', 'mix-manifest.json')), 'the assets are in the tree');
    assert.ok(!existsSync(path.join(dir, '.git')));
    assert.ok(lstatSync(path.join(dir, 'storage')).isSymbolicLink(), 'storage is linked to the shared one');
    assert.ok(lstatSync(path.join(dir, '.env')).isSymbolicLink(), '.env is linked to the shared one');
    assert.ok(
      statSync(path.join(roots.staging, 'storage', 'framework', 'views')).isDirectory(),
      "the shared storage got the app's skeleton",
    );
    assert.ok(lstatSync(path.join(dir, 'public', 'storage')).isSymbolicLink(), 'artisan storage:link ran (php on the server)');
    const listing = tree(roots.staging, first);
    const bytes = Object.values(listing.files).reduce((n, f) => n + f.size, 0);
    assert.deepEqual(report.servers[0].sent, { files: Object.keys(listing.files).length, bytes });
    assert.equal(marker(roots.staging, first).artifact, listing.id);
    assert.equal(marker(roots.staging, first).commit, git(repo.work, 'rev-parse', 'HEAD'));
    assert.ok(!existsSync(path.join(roots.staging, '.attache-mirror.git')), 'no clone on the server');
  });

  let second: string;
  it("a redeploy with one PHP file changed sends that file (under 1% of the tree's bytes) and links the rest", async () => {
    commitChange(
      repo.work,
      repo.bare,
      'app/Greeting.php',
      readFileSync(path.join(repo.work, 'app/Greeting.php'), 'utf8') + '\n// changed\n',
    );
    const { report } = await deploy(['--server=staging']);
    second = liveId(roots.staging);
    assert.notEqual(second, first);
    const listing = tree(roots.staging, second);
    const bytes = Object.values(listing.files).reduce((n, f) => n + f.size, 0);
    const { sent, reused } = report.servers[0];
    assert.equal(sent.files, 1, JSON.stringify(report.servers[0]));
    assert.ok(sent.bytes < bytes / 100, `sent ${sent.bytes} of ${bytes} bytes`);
    assert.equal(reused.files + sent.files, Object.keys(listing.files).length);
    assert.match(readFileSync(path.join(release(roots.staging, second), 'app/Greeting.php'), 'utf8'), /\/\/ changed/);
    assert.doesNotMatch(
      readFileSync(path.join(release(roots.staging, first), 'app/Greeting.php'), 'utf8'),
      /\/\/ changed/,
      'the old release keeps its bytes',
    );
    const ino = (id: string, file: string) => statSync(path.join(release(roots.staging, id), file)).ino;
    assert.equal(
      ino(first, 'vendor/autoload.php'),
      ino(second, 'vendor/autoload.php'),
      "an unchanged file is a hard link to the live release's",
    );
    assert.notEqual(tree(roots.staging, first).id, listing.id);
  });

  it('a rollback points live back at the first release, whose files are as they were', async () => {
    await deploy(['--server=staging'], 'rollback');
    assert.equal(liveId(roots.staging), first);
    const listing = tree(roots.staging, first);
    assert.equal(marker(roots.staging, first).artifact, listing.id);
  });

  it('--artifact=staging promotes what staging runs: production gets the identical tree', async () => {
    const { lines } = await deploy(['--server=production', '--artifact=staging']);
    const prod = liveId(roots.production);
    const [a, b] = [tree(roots.staging, first), tree(roots.production, prod)];
    assert.equal(b.id, a.id, 'the same artifact id');
    assert.deepEqual(b.files, a.files, 'the same listing');
    assert.equal(marker(roots.production, prod).artifact, a.id);
    for (const file of Object.keys(a.files)) {
      assert.ok(
        readFileSync(path.join(release(roots.production, prod), file)).equals(readFileSync(path.join(release(roots.staging, first), file))),
        file,
      );
    }
    assert.match(lines.join('\n'), /promoting artifact/);
  });

  it('deploying what the live release already holds says so and changes nothing', async () => {
    const before = snapshot(roots.production);
    const { lines, report } = await deploy(['--server=production', '--artifact=staging']);
    assert.deepEqual(snapshot(roots.production), before);
    assert.match(lines.join('\n'), /already runs artifact [0-9a-f]{20}: nothing to deploy/);
    assert.equal(report.result, 'done');
    assert.equal(report.servers[0].liveAfter, report.servers[0].liveBefore);
  });

  it('a deploy of the commit staging runs, built before, is a no-op; --force makes a release of links only', async () => {
    await deploy(['--server=staging']); // staging ran the first release (rolled back): now the branch's head again
    const head = liveId(roots.staging);
    const before = snapshot(roots.staging);
    const again = await deploy(['--server=staging']);
    assert.match(again.lines.join('\n'), /already built from commit [0-9a-f]{8} and these assets \(cache\)/);
    assert.match(again.lines.join('\n'), /staging \(release \d+\) already runs artifact/);
    assert.deepEqual(snapshot(roots.staging), before, 'nothing changed');
    assert.ok(!again.lines.some((line) => line.startsWith('lock')), 'not even the lock was taken');

    const forced = await deploy(['--server=staging', '--force']);
    const id = liveId(roots.staging);
    assert.notEqual(id, head);
    assert.equal(forced.report.servers[0].sent.files, 0, 'every file linked from the live release');
    assert.equal(tree(roots.staging, id).id, tree(roots.staging, head).id);
  });

  it('a dry run says what it would send and changes nothing', async () => {
    commitChange(repo.work, repo.bare, 'app/Dry.php', '<?php // dry\n');
    const before = snapshot(roots.staging);
    const { lines } = await deploy(['--server=staging', '--dry-run']);
    assert.deepEqual(snapshot(roots.staging), before);
    assert.match(
      lines.join('\n'),
      /\[dry run\] \[staging\] would make .* from artifact [0-9a-f]{20}: \d+ file\(s\) linked from release \d{14}(-\d+)?, 1 sent/,
    );
  });

  it('a deploy that fails after the tree was sent leaves no release behind and live as it was', async () => {
    const saved = readFileSync(config, 'utf8');
    const broken = JSON.parse(saved);
    broken.servers.staging.scripts = { build: [], 'after-symlinks': ['exit 3'] };
    writeFileSync(config, JSON.stringify(broken));
    const releases = readdirSync(path.join(roots.staging, 'releases')).sort();
    const live = liveId(roots.staging);
    try {
      const { log } = captureLogger('quiet');
      await assert.rejects(
        runTask(attache({ cwd: repo.work, argv: ['node', 'gulp', 'deploy', '--server=staging'], logger: log }).deploy),
        /after-symlinks/,
      );
    } finally {
      writeFileSync(config, saved);
    }
    assert.deepEqual(readdirSync(path.join(roots.staging, 'releases')).sort(), releases);
    assert.equal(liveId(roots.staging), live);
    assert.ok(!existsSync(path.join(roots.staging, '.attache-lock')));
  });

  it('the local cache keeps the three artifacts used last', async () => {
    commitChange(repo.work, repo.bare, 'app/Fourth.php', '<?php // a fourth tree\n');
    await deploy(['--server=staging']); // the fourth artifact built by this project
    const artifacts = readdirSync(path.join(repo.work, 'node_modules', '.cache', 'gulp-attache', 'artifacts')).filter(
      (name) => !name.startsWith('.'),
    );
    assert.equal(artifacts.length, 3, artifacts.join(', '));
    assert.ok(artifacts.includes(tree(roots.staging, liveId(roots.staging)).id), 'the one deployed last is kept');
  });

  it('a big file goes whole, a symlink and file modes arrive as committed', async () => {
    const big = Buffer.alloc(17 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2654435761) >>> 0, i); // not all zeros: a real file
    writeFileSync(path.join(repo.work, 'resources', 'big.bin'), big);
    writeFileSync(path.join(repo.work, 'bin-tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
    symlinkSync('resources/big.bin', path.join(repo.work, 'big-link'));
    git(repo.work, 'add', '-A');
    git(repo.work, 'commit', '-q', '-m', 'Big file, a tool, a link');
    git(repo.work, 'push', '-q', repo.bare, 'HEAD:master');
    await deploy(['--server=staging']);
    const dir = release(roots.staging, liveId(roots.staging));
    assert.ok(readFileSync(path.join(dir, 'resources', 'big.bin')).equals(big));
    assert.equal(readlinkSync(path.join(dir, 'big-link')), 'resources/big.bin');
    assert.equal(statSync(path.join(dir, 'bin-tool')).mode & 0o7777, 0o755);
    assert.equal(
      statSync(path.join(dir, 'app', 'Greeting.php')).mode & 0o7777,
      0o644,
      "not writable by the group, whatever git archive's umask",
    );
    for (const [file, entry] of Object.entries(tree(roots.staging, liveId(roots.staging)).files)) {
      if (file.startsWith('bootstrap/cache/')) continue; // made writable for the web server by the permissions step
      assert.equal(statSync(path.join(dir, file)).mode & 0o7777, entry.mode, `${file}'s mode`);
    }
  });

  it('releases shows the artifact of each release', async () => {
    const { lines } = await deploy(['--server=staging'], 'releases');
    assert.match(lines.join('\n'), new RegExp(`\\*\\s+${liveId(roots.staging)}\\s.*${tree(roots.staging, liveId(roots.staging)).id}`));
  });
});
