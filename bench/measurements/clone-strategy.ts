/**
 * Clone strategy on the long-history fixture: the server's shallow mirror (a redeploy fetches one
 * new commit) against a fresh `git clone --depth 1` (what Attaché and shipit do every deploy).
 */
import { randomFillSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { gulpAttacheDir, projectFor } from '../cases/gulp-attache';
import { fmt, mb, median, type Section } from '../report';
import { verifyDeploy } from '../verify';
import { dirBytes, failureNotes, freshRoot, retrying, stepSeconds, type MeasurementInput } from './common';
import { GIT_ENV } from '../app-checkout';

function git(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Buffer } = {}): string {
  const r = spawnSync('git', args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    input: options.input,
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr?.toString().trim()}`);
  return r.stdout.toString().trim();
}

function countObjects(gitDir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of git(['--git-dir', gitDir, 'count-objects', '-v']).split('\n')) {
    const [key, value] = line.split(':').map((s) => s.trim());
    if (key && value !== undefined) out[key] = Number(value);
  }
  return out;
}

/** One new commit on `branch` of a bare repository: one new ~50 KB random file (plumbing, no work tree). */
function addCommit(bare: string, branch: string, n: number): void {
  const data = randomFillSync(Buffer.alloc(50 * 1024));
  const blob = git(['--git-dir', bare, 'hash-object', '-w', '--stdin'], { input: data });
  const index = path.join(path.dirname(bare), `index-${n}`);
  const env = { ...GIT_ENV, GIT_INDEX_FILE: index };
  git(['--git-dir', bare, 'read-tree', branch], { env });
  git(['--git-dir', bare, 'update-index', '--add', '--cacheinfo', `100644,${blob},resources/data/bench-new-${n}.bin`], { env });
  const tree = git(['--git-dir', bare, 'write-tree'], { env });
  const commit = git(['--git-dir', bare, 'commit-tree', tree, '-p', branch, '-m', `bench: new commit ${n}`], { env });
  git(['--git-dir', bare, 'update-ref', `refs/heads/${branch}`, commit]);
  rmSync(index, { force: true });
}

export async function cloneStrategy(input: MeasurementInput): Promise<{ section: Section; mirrorBytes?: number; freshBytes?: number }> {
  const { ctx, say } = input;
  const dir = path.join(gulpAttacheDir(ctx), 'clone-strategy');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const bare = path.join(dir, 'repo.git');
  git(['clone', '-q', '--bare', '--no-local', ctx.fixture.longHistoryRepo, bare], { env: GIT_ENV });
  const url = `file://${bare}`;
  const project = projectFor(ctx, input.install, 'clone-strategy', { repository: url });
  const root = await freshRoot(path.join(ctx.workDir, 'roots', 'clone-strategy'));
  project.configure([{ name: 'bench', port: ctx.server.port, root }]);
  const mirror = path.join(root, '.attache-mirror.git');
  const reps = Math.min(ctx.runs, 3);
  say(
    `clone strategy: long-history repository (${ctx.fixture.longHistoryCommits} commits, ${mb(dirBytes(bare), 1)} MB packed); first deploy, then ${reps} × (one new commit, redeploy, fresh clone)…`,
  );

  const failures: string[] = [];
  const first = await retrying('clone strategy: first deploy', failures, input, async () => {
    const o = await project.deploy();
    verifyDeploy(ctx.fixture, root, 'live');
    return o;
  });
  const firstMirror = dirBytes(path.join(mirror, 'objects'));
  let commits = 0;
  const redeploys: Array<{ deploySeconds: number; cloneStep: number; bytes: number; objects: Record<string, number> }> = [];
  const fresh: Array<{ seconds: number; bytes: number }> = [];
  for (let i = 1; i <= reps; i++) {
    // A failed redeploy may have fetched already: the retry starts over with another new commit.
    await retrying(`clone strategy: redeploy ${i}`, failures, input, async () => {
      addCommit(bare, ctx.fixture.branch, ++commits);
      spawnSync('sync');
      const before = dirBytes(path.join(mirror, 'objects'));
      const beforeObjects = countObjects(mirror);
      const o = await project.deploy();
      verifyDeploy(ctx.fixture, root, 'live');
      const after = dirBytes(path.join(mirror, 'objects'));
      const afterObjects = countObjects(mirror);
      redeploys.push({
        deploySeconds: o.seconds,
        cloneStep: stepSeconds(o, 'clone'),
        bytes: after - before,
        objects: Object.fromEntries(Object.keys(afterObjects).map((k) => [k, afterObjects[k] - (beforeObjects[k] ?? 0)])),
      });
    });

    // What Attaché and shipit do on every deploy: a fresh shallow clone with a checkout.
    const target = path.join(dir, `fresh-${i}`);
    spawnSync('sync');
    const t0 = performance.now();
    git(['clone', '-q', '--depth', '1', '--branch', ctx.fixture.branch, url, target], { env: GIT_ENV });
    fresh.push({ seconds: (performance.now() - t0) / 1000, bytes: dirBytes(path.join(target, '.git', 'objects')) });
    rmSync(target, { recursive: true, force: true });
  }
  rmSync(root, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });

  const mirrorBytes = median(redeploys.map((r) => r.bytes));
  const freshBytes = median(fresh.map((f) => f.bytes));
  const rows = [
    [
      'gulp-attache first deploy: mirror made (clone --bare --depth 1) + checkout',
      fmt(stepSeconds(first, 'clone')),
      mb(firstMirror, 3),
      fmt(first.seconds),
    ],
    [
      'gulp-attache redeploy, one new commit: mirror fetch --depth 1 + checkout',
      fmt(median(redeploys.map((r) => r.cloneStep))),
      mb(mirrorBytes, 3),
      fmt(median(redeploys.map((r) => r.deploySeconds))),
    ],
    ['fresh git clone --depth 1 (Attaché, shipit: every deploy)', fmt(median(fresh.map((f) => f.seconds))), mb(freshBytes, 3), ''],
  ];
  return {
    section: {
      key: 'cloneStrategy',
      title: `Clone strategy on the long-history repository (${ctx.fixture.longHistoryCommits} commits)`,
      header: ['what', 'clone s (median)', 'MB received', 'whole deploy s'],
      rows,
      notes: [
        `Medians of ${reps} rounds; each round adds one commit (one new 50 KB random file) to a copy of the fixture's long-history repository.`,
        "clone s: the deploy's clone step (mkdir, mirror clone/fetch over file://, read-tree + checkout-index of every file into the release), from the deploy's report; fresh clone: `git clone --depth 1` with its checkout, timed here (the server is this machine).",
        "MB received: growth of the mirror's objects/ (du, apparent size) for the redeploy; size of the fresh clone's .git/objects. Random-byte blobs do not compress, so these are close to the bytes sent.",
        ...failureNotes(failures),
      ],
      data: { first: { cloneStep: stepSeconds(first, 'clone'), mirrorBytes: firstMirror, deploySeconds: first.seconds }, redeploys, fresh },
    },
    mirrorBytes,
    freshBytes,
  };
}
