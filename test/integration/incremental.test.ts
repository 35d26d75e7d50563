import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attache, type AttacheTasks } from '../../src/preset';
import type { DeployReport } from '../../src/release/lifecycle/report';
import { commitChange, createAppRepository, git, tempDir, type AppRepository } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { exists, readLink, releaseIds, startTarget, type TargetKind, type TargetSpec } from '../support/preset';
import { listFiles, runTask } from '../support/streams';

/**
 * The two fast paths of a redeploy, end to end on the real sshd and on the local target:
 *
 * - assets: each release gets .attache-assets.json (path → sha256, size, mode); a redeploy
 *   hard-links every file the LIVE release already has (same bytes, same mode) and uploads only the
 *   rest, under a temporary name then renamed, so an older release never changes;
 * - clone: a shallow bare mirror on the server (root/.attache-mirror.git) that each deploy fetches
 *   the branch into; the commit is checked out into the release without a .git.
 */

const ASSET_DIR = 'dist';
const ASSET_REMOTE = 'public/build';
const FILE_COUNT = 200;

// ---------------------------------------------------------------------------------------------
// A project + server root whose config the tests can rewrite between deploys.

interface Deployment {
  lines: string[];
  /** The release this deploy made (the newest under releases/). */
  id: string;
  summary: SummaryRow;
}

interface SummaryRow {
  result: string;
  release: string;
  uploaded: { files: number; bytes: number; text: string };
  skipped: { files: number; bytes: number; text: string };
}

interface Project {
  repo: AppRepository;
  cwd: string;
  root: string;
  mirror: string;
  server: Record<string, unknown>;
  repository: string;
  writeConfig(): void;
  deploy(): Promise<Deployment>;
  run(task: 'rollback' | 'releases'): Promise<string[]>;
  release(id: string): string;
  liveId(): string | null;
  marker(id: string): { commit?: string; status?: string };
}

function createProject(target: TargetSpec, options: { repo?: AppRepository; server?: Record<string, unknown> } = {}): Project {
  const repo = options.repo ?? createAppRepository();
  const cwd = repo.work;
  const root = path.join(tempDir('attache-root-'), 'root');
  const project: Project = {
    repo,
    cwd,
    root,
    mirror: path.join(root, '.attache-mirror.git'),
    repository: 'file://' + repo.bare,
    server: {
      ...target,
      root,
      scripts: { build: [] },
      skip: ['composer', 'artisan'],
      assets: { [ASSET_DIR]: ASSET_REMOTE },
      keep: 50,
      ...options.server,
    },
    writeConfig() {
      writeFileSync(
        path.join(cwd, '.attache.json'),
        JSON.stringify({ repository: project.repository, servers: { production: project.server } }, null, 2),
      );
    },
    async deploy() {
      const before = new Set(releaseIds(root));
      let report: DeployReport | undefined;
      const lines = await runLogged('deploy', (tasks) => (report = tasks.report));
      const made = releaseIds(root).filter((id) => !before.has(id));
      assert.equal(made.length, 1, `one new release per deploy, got ${JSON.stringify(made)}\n${lines.join('\n')}`);
      const summary = summaryOf(report);
      assert.equal(summary.release, made[0], 'the summary names the new release');
      assert.equal(summary.result, 'deployed');
      assert.equal(project.liveId(), made[0], 'live points at the new release');
      return { lines, id: made[0], summary };
    },
    run: (task) => runLogged(task),
    release: (id) => path.join(root, 'releases', id),
    liveId() {
      const link = readLink(path.join(root, 'live'));
      return link === null ? null : path.basename(link);
    },
    marker: (id) => JSON.parse(readFileSync(path.join(root, 'releases', id, '.attache-release.json'), 'utf8')),
  };

  async function runLogged(task: 'deploy' | 'rollback' | 'releases', after: (tasks: AttacheTasks) => void = () => {}): Promise<string[]> {
    project.writeConfig();
    const { log, lines } = captureLogger('normal');
    const tasks = attache({ cwd, argv: ['node', 'gulp', task], logger: log });
    try {
      await runTask(tasks[task]);
    } catch (error) {
      if (error instanceof Error) error.message += `\n--- log of "${task}":\n${lines.join('\n')}`;
      throw error;
    }
    after(tasks);
    return lines;
  }

  project.writeConfig();
  return project;
}

/** The deploy's report (tasks.report), as the numbers these tests check. */
function summaryOf(report: DeployReport | undefined): SummaryRow {
  assert.ok(report, 'the deploy made a report');
  const server = report.servers[0];
  const amount = (a: { files: number; bytes: number }) => ({ ...a, text: `${a.files} files, ${a.bytes} B` });
  return { result: report.result, release: report.releaseId ?? '-', uploaded: amount(server.sent), skipped: amount(server.reused) };
}

/** `assets: N unchanged file(s) reused from the live release, M sent`, or null when none was reused. */
function reuseLine(lines: string[]): { reused: number; sent: number } | null {
  for (const line of lines) {
    const match = /assets: (\d+) unchanged file\(s\) reused from the live release, (\d+) sent/.exec(line);
    if (match) return { reused: Number(match[1]), sent: Number(match[2]) };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Local asset trees and what a release holds.

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** 200 files of random bytes (about 10 MB) in nested directories, one with a space and a quote in its path. */
function writeAssetTree(dir: string): string[] {
  const names: string[] = [];
  for (let i = 0; i < FILE_COUNT; i++) {
    const name =
      i === 7
        ? "dir with space/it's file.bin"
        : `${['js', 'css', 'img', 'fonts/sub'][i % 4]}/${String.fromCharCode(97 + (i % 5))}/file-${i}.bin`;
    const size = 1024 + ((i * 7919) % 100) * 1000; // 1 KB … 100 KB, about 10 MB in all
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(size));
    names.push(name);
  }
  return names.sort();
}

/** relative path → sha256 of every file under dir. */
function hashTree(dir: string): Map<string, string> {
  return new Map(listFiles(dir).map((name) => [name, sha256(readFileSync(path.join(dir, name)))]));
}

function sumSizes(dir: string): number {
  return listFiles(dir).reduce((total, name) => total + statSync(path.join(dir, name)).size, 0);
}

const ino = (file: string) => statSync(file).ino;
const mode = (file: string) => statSync(file).mode & 0o7777;

function assertLinked(newFile: string, oldFile: string, what: string): void {
  const [a, b] = [statSync(newFile), statSync(oldFile)];
  assert.equal(a.ino, b.ino, `${what}: a hard link to the previous release's copy (same inode)`);
  assert.equal(a.dev, b.dev, what);
  assert.ok(a.nlink >= 2, `${what}: nlink ${a.nlink} >= 2`);
}

function gitIn(mirror: string, ...args: string[]): string {
  return execFileSync('git', [`--git-dir=${mirror}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

// ---------------------------------------------------------------------------------------------

for (const kind of ['sshd', 'local'] as TargetKind[]) {
  describe(`incremental redeploys on the ${kind === 'sshd' ? 'real sshd' : 'local target'}`, () => {
    let target: TargetSpec;
    let stop = async () => {};

    before(async () => {
      ({ target, stop } = await startTarget(kind));
    });
    after(() => stop());

    describe('assets: unchanged files are hard-linked from the live release, the rest uploaded', () => {
      let project: Project;
      let local: string;
      let names: string[];
      let first: Deployment;
      let second: Deployment;
      const changed = 'css/b/file-1.bin';
      const removed = 'img/c/file-2.bin';
      const added = 'new/deeper/added.bin';

      before(() => {
        project = createProject(target);
        local = path.join(project.cwd, ASSET_DIR);
        names = writeAssetTree(local);
      });

      it('the first deploy uploads every file and records its hash, size and mode in .attache-assets.json', async () => {
        first = await project.deploy();
        const release = path.join(project.release(first.id), ASSET_REMOTE);
        assert.deepEqual(listFiles(release).sort(), names);
        assert.deepEqual(hashTree(release), hashTree(local), 'every file uploaded byte for byte');
        const total = sumSizes(local);
        assert.ok(total > 9 * 1024 ** 2, `about 10 MB of assets (${total})`);
        assert.equal(first.summary.uploaded.files, FILE_COUNT, first.summary.uploaded.text);
        assert.ok(Math.abs(first.summary.uploaded.bytes - total) / total < 0.01, `${first.summary.uploaded.text} ≈ ${total} B`);
        assert.equal(first.summary.skipped.files, 0);
        assert.equal(reuseLine(first.lines), null, 'nothing to reuse on a first deploy');

        const manifest = JSON.parse(readFileSync(path.join(project.release(first.id), '.attache-assets.json'), 'utf8'));
        assert.deepEqual(Object.keys(manifest).sort(), names.map((n) => `${ASSET_REMOTE}/${n}`).sort());
        const entry = manifest[`${ASSET_REMOTE}/${names[0]}`];
        const stat = statSync(path.join(local, names[0]));
        assert.deepEqual(entry, { sha256: sha256(readFileSync(path.join(local, names[0]))), size: stat.size, mode: stat.mode & 0o7777 });
        assert.ok(!listFiles(release).some((name) => name.includes('.attache-')), 'no temporary upload left behind');
      });

      it('a redeploy sends only the changed and added files, links the rest, drops the removed one and leaves the previous release untouched', async () => {
        const previous = path.join(project.release(first.id), ASSET_REMOTE);
        const before = hashTree(previous);
        assert.ok(before.has(changed) && before.has(removed));

        const newBytes = randomBytes(8 * 1024);
        writeFileSync(path.join(local, changed), newBytes);
        mkdirSync(path.dirname(path.join(local, added)), { recursive: true });
        writeFileSync(path.join(local, added), randomBytes(6 * 1024));
        unlinkSync(path.join(local, removed));

        second = await project.deploy();
        const release = path.join(project.release(second.id), ASSET_REMOTE);

        assert.deepEqual(readFileSync(path.join(release, changed)), newBytes, 'the changed file has its new bytes');
        assert.deepEqual(readFileSync(path.join(release, added)), readFileSync(path.join(local, added)), 'the added file is there');
        assert.ok(!exists(path.join(release, removed)), 'the removed file is not in the new release');
        assert.deepEqual(hashTree(release), hashTree(local), 'the new release holds exactly the local assets');

        const unchanged = names.filter((n) => n !== changed && n !== removed);
        assert.equal(unchanged.length, FILE_COUNT - 2);
        for (const name of unchanged) {
          assert.equal(sha256(readFileSync(path.join(release, name))), before.get(name), `${name} byte-identical`);
          assertLinked(path.join(release, name), path.join(previous, name), name);
        }
        assert.notEqual(
          ino(path.join(release, changed)),
          ino(path.join(previous, changed)),
          'the changed file is a new inode, not written in place',
        );
        assert.equal(statSync(path.join(release, changed)).nlink, 1);
        assert.deepEqual(
          hashTree(previous),
          before,
          "the previous release's files (the changed and removed ones too) are byte for byte as they were",
        );
        assert.ok(!listFiles(release).some((name) => name.includes('.attache-')), 'no temporary upload left behind');

        assert.equal(second.summary.uploaded.files, 2, `changed + added: ${second.summary.uploaded.text}`);
        assert.equal(second.summary.skipped.files, FILE_COUNT - 2, second.summary.skipped.text);
        assert.ok(
          second.summary.uploaded.bytes < first.summary.uploaded.bytes / 100,
          `the redeploy sent ${second.summary.uploaded.text}, under 1% of the first deploy's ${first.summary.uploaded.text}`,
        );
        assert.deepEqual(reuseLine(second.lines), { reused: FILE_COUNT - 2, sent: 2 });

        const manifest = JSON.parse(readFileSync(path.join(project.release(second.id), '.attache-assets.json'), 'utf8'));
        assert.equal(manifest[`${ASSET_REMOTE}/${changed}`].sha256, sha256(newBytes));
        assert.ok(manifest[`${ASSET_REMOTE}/${added}`]);
        assert.equal(manifest[`${ASSET_REMOTE}/${removed}`], undefined, 'the removed file is not in the new manifest');
      });

      it('a redeploy with nothing changed uploads 0 files and links every one', async () => {
        const previous = path.join(project.release(second.id), ASSET_REMOTE);
        const third = await project.deploy();
        const release = path.join(project.release(third.id), ASSET_REMOTE);
        assert.equal(third.summary.uploaded.files, 0, third.summary.uploaded.text);
        assert.equal(third.summary.uploaded.bytes, 0, third.summary.uploaded.text);
        assert.equal(third.summary.skipped.files, FILE_COUNT, third.summary.skipped.text);
        assert.deepEqual(reuseLine(third.lines), { reused: FILE_COUNT, sent: 0 });
        assert.deepEqual(hashTree(release), hashTree(local));
        for (const name of listFiles(local)) assertLinked(path.join(release, name), path.join(previous, name), name);
      });

      it('a file the live release lists but no longer has is sent instead of linked, and the deploy succeeds', async () => {
        const live = path.join(project.release(project.liveId()!), ASSET_REMOTE);
        const gone = listFiles(local)[0];
        rmSync(path.join(live, gone));
        const next = await project.deploy();
        const release = path.join(project.release(next.id), ASSET_REMOTE);
        assert.deepEqual(hashTree(release), hashTree(local));
        assert.equal(next.summary.uploaded.files, 1, next.summary.uploaded.text);
        assert.equal(next.summary.skipped.files, FILE_COUNT - 1, next.summary.skipped.text);
        assert.ok(
          next.lines.some((line) => /assets: 1 file\(s\) the live release's manifest lists are not there .*: sent instead/.test(line)),
          next.lines.join('\n'),
        );
      });

      it('a file whose mode changed (chmod 755) is sent again, not linked, and has the new mode', async () => {
        const previousId = project.liveId() as string;
        const previous = path.join(project.release(previousId), ASSET_REMOTE);
        const name = names[10];
        assert.equal(mode(path.join(previous, name)), 0o644, 'uploaded as 644 the first time');
        chmodSync(path.join(local, name), 0o755);

        const deployment = await project.deploy();
        const release = path.join(project.release(deployment.id), ASSET_REMOTE);
        assert.equal(deployment.summary.uploaded.files, 1, deployment.summary.uploaded.text);
        assert.equal(deployment.summary.skipped.files, FILE_COUNT - 1, deployment.summary.skipped.text);
        assert.notEqual(ino(path.join(release, name)), ino(path.join(previous, name)), 'sent again: its own inode');
        assert.equal(mode(path.join(release, name)), 0o755, 'the new release has the new mode');
        assert.equal(mode(path.join(previous, name)), 0o644, "the previous release's copy keeps its mode");
        assert.deepEqual(readFileSync(path.join(release, name)), readFileSync(path.join(local, name)));
        const manifest = JSON.parse(readFileSync(path.join(project.release(deployment.id), '.attache-assets.json'), 'utf8'));
        assert.equal(manifest[`${ASSET_REMOTE}/${name}`].mode, 0o755);

        const again = await project.deploy();
        assert.equal(again.summary.uploaded.files, 0, `the 755 file is reused by the next deploy: ${again.summary.uploaded.text}`);
        assertLinked(path.join(project.release(again.id), ASSET_REMOTE, name), path.join(release, name), name);
      });

      it('after a rollback, a deploy reuses files from the live (rolled-back-to) release, not the newest one', async () => {
        const x = names[20];
        const z = names[30];
        const baseId = project.liveId() as string;
        const base = path.join(project.release(baseId), ASSET_REMOTE);
        const x1 = readFileSync(path.join(local, x));

        writeFileSync(path.join(local, x), randomBytes(4096));
        const newer = await project.deploy();
        assert.equal(newer.summary.uploaded.files, 1);

        await project.run('rollback');
        assert.equal(project.liveId(), baseId, 'rollback made the base release live again');
        const baseHashes = hashTree(base);

        // Locally: x back to what the live release has, z changed.
        writeFileSync(path.join(local, x), x1);
        const z3 = randomBytes(5000);
        writeFileSync(path.join(local, z), z3);
        const deployment = await project.deploy();
        const release = path.join(project.release(deployment.id), ASSET_REMOTE);
        const newerDir = path.join(project.release(newer.id), ASSET_REMOTE);

        assert.equal(deployment.summary.uploaded.files, 1, `only z is sent: ${deployment.summary.uploaded.text}`);
        assert.equal(deployment.summary.skipped.files, FILE_COUNT - 1);
        assert.deepEqual(readFileSync(path.join(release, x)), x1, 'x has the live release bytes');
        assertLinked(path.join(release, x), path.join(base, x), 'x, linked from the live release');
        assert.notEqual(ino(path.join(release, x)), ino(path.join(newerDir, x)), 'x is not the newer (not live) release copy');
        assert.deepEqual(readFileSync(path.join(release, z)), z3, 'z has its new bytes');
        assert.notEqual(ino(path.join(release, z)), ino(path.join(base, z)));
        for (const name of listFiles(local).filter((n) => n !== z)) assertLinked(path.join(release, name), path.join(base, name), name);
        assert.deepEqual(hashTree(release), hashTree(local));
        assert.deepEqual(hashTree(base), baseHashes, 'the rolled-back-to release is unchanged');
      });
    });

    describe('assets: a built file at a path the checkout already has', () => {
      // e.g. a Laravel app that commits public/mix-manifest.json, which is also a default asset.
      it('is replaced by the asset on every deploy, the redeploy included (reused, not failing on the existing file)', async () => {
        const project = createProject(target, { server: { assets: { 'welcome-built.html': 'public/welcome.html' } } });
        const committed = readFileSync(path.join(project.cwd, 'public/welcome.html'));
        const built = Buffer.from('<p>built, not committed</p>\n');
        writeFileSync(path.join(project.cwd, 'welcome-built.html'), built);
        const one = await project.deploy();
        assert.notDeepEqual(built, committed);
        assert.deepEqual(
          readFileSync(path.join(project.release(one.id), 'public/welcome.html')),
          built,
          'the asset replaced the committed file',
        );
        const two = await project.deploy();
        assert.deepEqual(readFileSync(path.join(project.release(two.id), 'public/welcome.html')), built);
        assert.equal(two.summary.uploaded.files, 0, two.summary.uploaded.text);
      });
    });

    describe('clone: a shallow bare mirror on the server', () => {
      let project: Project;
      let firstId: string;

      before(() => {
        project = createProject(target, { server: { assets: {} } });
      });

      it('the first deploy makes a shallow mirror and a release without .git whose artisan stays executable', async () => {
        const { id } = await project.deploy();
        firstId = id;
        assert.ok(existsSync(project.mirror), 'root/.attache-mirror.git exists');
        assert.equal(gitIn(project.mirror, 'rev-parse', '--is-bare-repository'), 'true');
        assert.equal(gitIn(project.mirror, 'rev-parse', '--is-shallow-repository'), 'true');
        const release = project.release(id);
        assert.ok(!exists(path.join(release, '.git')), 'no .git in the release');
        assert.ok(mode(path.join(release, 'artisan')) & 0o111, 'artisan keeps its executable bit');
        assert.equal(mode(path.join(release, 'composer.json')) & 0o111, 0, 'a plain file is not made executable');
        assert.deepEqual(readFileSync(path.join(release, 'public/index.php')), readFileSync(path.join(project.cwd, 'public/index.php')));
        assert.equal(project.marker(id).commit, project.repo.head);
        assert.ok(!listFiles(path.join(project.root, 'releases'), '').some((n) => n.endsWith('.index')), 'the temporary index is removed');
      });

      it('after a new commit, the next deploy has the new content and records the new head', async () => {
        const head = commitChange(project.repo.work, project.repo.bare, 'app/Version.php', '<?php // version 2\n');
        const { id } = await project.deploy();
        assert.equal(readFileSync(path.join(project.release(id), 'app/Version.php'), 'utf8'), '<?php // version 2\n');
        assert.equal(project.marker(id).commit, head);
        assert.ok(!exists(path.join(project.release(firstId), 'app/Version.php')), 'the first release is untouched');
        assert.equal(gitIn(project.mirror, 'rev-parse', 'refs/heads/master'), head);
        assert.equal(gitIn(project.mirror, 'rev-parse', '--is-shallow-repository'), 'true');
      });

      it('a deleted mirror is made again', async () => {
        rmSync(project.mirror, { recursive: true, force: true });
        const head = commitChange(project.repo.work, project.repo.bare, 'app/Version.php', '<?php // version 3\n');
        const { id } = await project.deploy();
        assert.equal(readFileSync(path.join(project.release(id), 'app/Version.php'), 'utf8'), '<?php // version 3\n');
        assert.equal(project.marker(id).commit, head);
        assert.equal(gitIn(project.mirror, 'rev-parse', '--is-shallow-repository'), 'true');
      });

      it('a mirror whose objects directory was removed is made again, not failing forever', async () => {
        // The same commit deployed again: the branch has not moved, so nothing new would be fetched.
        const head = gitIn(project.repo.bare, 'rev-parse', 'refs/heads/master');
        rmSync(path.join(project.mirror, 'objects'), { recursive: true, force: true });
        const { id } = await project.deploy();
        assert.equal(readFileSync(path.join(project.release(id), 'app/Version.php'), 'utf8'), '<?php // version 3\n');
        assert.equal(project.marker(id).commit, head);
        assert.equal(gitIn(project.mirror, 'rev-parse', '--is-shallow-repository'), 'true');
      });

      it('a mirror whose object files were lost (objects/ still there) is repaired by the next deploy, not failing forever', async () => {
        // The repository still looks like one (objects/ and refs/ exist), but the commit its
        // branch names is gone: what a disk filled during a gc, or a half-copied root, leaves.
        for (const sub of ['pack', ...Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))]) {
          rmSync(path.join(project.mirror, 'objects', sub), { recursive: true, force: true });
        }
        mkdirSync(path.join(project.mirror, 'objects', 'pack'), { recursive: true });
        assert.equal(gitIn(project.mirror, 'rev-parse', '--is-bare-repository'), 'true', 'git still takes it for a repository');
        // The same commit deployed again: the branch has not moved, so a fetch finds nothing new to get.
        const head = gitIn(project.repo.bare, 'rev-parse', 'refs/heads/master');
        const { id } = await project.deploy();
        assert.equal(readFileSync(path.join(project.release(id), 'app/Version.php'), 'utf8'), '<?php // version 3\n');
        assert.equal(project.marker(id).commit, head);
      });

      it('a changed repository URL in the config is honoured', async () => {
        const other = createAppRepository();
        const head = commitChange(other.work, other.bare, 'app/Other.php', '<?php // from the second repository\n');
        project.repository = 'file://' + other.bare;
        const { id } = await project.deploy();
        assert.equal(project.marker(id).commit, head, 'the release is the second repository head');
        assert.equal(readFileSync(path.join(project.release(id), 'app/Other.php'), 'utf8'), '<?php // from the second repository\n');
        assert.ok(!exists(path.join(project.release(id), 'app/Version.php')), 'nothing of the first repository');
        assert.equal(gitIn(project.mirror, 'remote', 'get-url', 'origin'), 'file://' + other.bare);
      });
    });

    describe('clone: a repository with a long history', () => {
      it('the mirror holds only the last commit or so, across deploys', async () => {
        const repo = createAppRepository({ extraCommits: 50 });
        assert.equal(git(repo.work, 'rev-list', '--count', 'HEAD'), '51');
        const project = createProject(target, { repo, server: { assets: {} } });
        const one = await project.deploy();
        assert.equal(project.marker(one.id).commit, repo.head);
        assert.equal(gitIn(project.mirror, 'rev-parse', '--is-shallow-repository'), 'true');
        const count = Number(gitIn(project.mirror, 'rev-list', '--all', '--count'));
        assert.ok(count <= 3, `the mirror holds ${count} commits of 51`);
        assert.equal(
          readFileSync(path.join(project.release(one.id), 'history.txt'), 'utf8')
            .split('\n')
            .filter(Boolean).length,
          50,
        );

        const head = commitChange(
          repo.work,
          repo.bare,
          'history.txt',
          readFileSync(path.join(repo.work, 'history.txt'), 'utf8') + 'commit 51\n',
        );
        const two = await project.deploy();
        assert.equal(project.marker(two.id).commit, head);
        const after = Number(gitIn(project.mirror, 'rev-list', '--all', '--count'));
        assert.ok(after <= 3, `after a second deploy the mirror holds ${after} commits of 52`);
      });
    });
  });
}
