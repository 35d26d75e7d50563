/**
 * The composer step at real scale: the fixture's vendor app (bench/fixture.ts: ~100 packages,
 * ~9,600 files from a local path repository, copied as an install from dists would; a
 * post-autoload-dump script) deployed with the clone strategy on loopback.
 *
 * Each rep, for each mode (the order alternates rep by rep, so that drift hits both):
 *   1. a fresh root, the app's commit deployed: the first deploy, a fresh `composer install` of the lock;
 *   2. a new commit (the lock unchanged), deployed again: the redeploy.
 * Modes: `reuseVendor` on (the default: vendor/ from the live release) with one PHP file changed
 * (Composer is not run: only its scripts), the same with one class added (a new file in an autoloaded
 * directory: Composer dumps the autoloader again), and `"composer": { "reuseVendor": false }` with one
 * PHP file changed (a whole install every deploy, as before the reuse). The composer step's time is
 * the deploy report's; the whole deploy is the `gulp deploy` process. The first release whose
 * redeploy ran no Composer is checked against `composer dump-autoload` run on a copy of it.
 *
 * Every deploy is checked: the release is whole (bench/verify.ts), its autoloader finds a package's
 * class and an autoloaded helper, the post-autoload-dump script wrote bootstrap/cache/packages.php;
 * after a redeploy, what Composer writes in the live release (vendor/autoload.php,
 * vendor/composer/*) is the same file with the same bytes as before it, so no write of the new
 * release reached it through a hard link.
 *
 * BENCH_VENDOR=0 leaves it out; BENCH_VENDOR_RUNS (default 3) reps.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { AppCheckout, privateRepository } from '../app-checkout';
import { gulpAttacheDir, projectFor } from '../cases/gulp-attache';
import { CHANGED_PHP_FILE } from '../cases/one-php-file';
import { fmt, mb, median, type Section } from '../report';
import type { DeployOutcome } from '../user-project';
import { treeSize, verifyDeploy } from '../verify';
import { failureNotes, freshRoot, intEnv, retrying, stepSeconds, type MeasurementInput } from './common';

export type VendorMode = 'reuse' | 'added' | 'today';

/** The composer step's log lines: vendor/ linked from the live release; and Composer not run at all. */
const REUSED_LINE = /composer\.lock is the live release's: vendor\/ linked from it/;
const SKIPPED_LINE = /composer install not needed/;

export interface VendorRun {
  mode: VendorMode;
  rep: number;
  first: { deploy: number; composer: number };
  redeploy: { deploy: number; composer: number; reused: boolean; skipped: boolean };
}

/** Medians the targets compare (seconds). */
export interface VendorValues {
  freshStep: number;
  reuseStep: number;
  /** reuseVendor on, a class added: Composer runs (its autoloader dumped again). */
  addedStep: number;
  todayStep: number;
  reuseDeploy: number;
  todayDeploy: number;
}

const MODES: Record<VendorMode, { label: string; composer: Record<string, unknown> }> = {
  reuse: { label: 'one PHP file changed, reuseVendor on (the default)', composer: { reuseVendor: true } },
  added: { label: 'one PHP class added, reuseVendor on', composer: { reuseVendor: true } },
  today: { label: 'one PHP file changed, "reuseVendor": false (a whole install)', composer: { reuseVendor: false } },
};

/** The class the "added" mode's redeploys add (a new file in an autoloaded directory). */
const ADDED_CLASS = 'app/Models/BenchAdded.php';

/** What Composer writes, which the live release must keep as they are while the next one is made. */
function composerWrites(release: string): Map<string, { inode: number; sha: string }> {
  const files = ['vendor/autoload.php', ...readdirSync(path.join(release, 'vendor/composer')).map((f) => `vendor/composer/${f}`)];
  const out = new Map<string, { inode: number; sha: string }>();
  for (const file of files) {
    const full = path.join(release, file);
    if (!statSync(full).isFile()) continue;
    out.set(file, { inode: statSync(full).ino, sha: createHash('sha1').update(readFileSync(full)).digest('hex') });
  }
  return out;
}

/** The release autoloads a package's class and a helper, and the post-autoload-dump script ran there. */
function verifyAutoload(input: MeasurementInput, release: string): void {
  const { className, functionName } = input.ctx.fixture.vendorApp.probe;
  const said = execFileSync(
    'php',
    [
      '-r',
      `require ${JSON.stringify(`${release}/vendor/autoload.php`)}; new \\${className}(); echo function_exists('${functionName}') ? 'ok' : 'no helper';`,
    ],
    { encoding: 'utf8' },
  );
  if (said !== 'ok') throw new Error(`verify: ${release}'s autoloader: ${said}`);
  if (!existsSync(path.join(release, 'bootstrap/cache/packages.php')))
    throw new Error(`verify: ${release}/bootstrap/cache/packages.php is missing: the post-autoload-dump script did not run`);
}

/**
 * What Composer would write for `release` is what it holds: its composer.json, composer.lock, app/
 * and vendor/ copied (real copies) to `scratch`, `composer dump-autoload` run there with the deploy's
 * flags, and the autoloader's files compared. For a release whose redeploy ran no Composer.
 */
function verifyFreshDump(release: string, scratch: string): number {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  for (const part of ['composer.json', 'composer.lock', 'app', 'vendor'])
    execFileSync('cp', ['-R', path.join(release, part), path.join(scratch, part)], { stdio: 'ignore' });
  execFileSync('composer', ['dump-autoload', '--optimize', '--no-dev', '--no-scripts', '--no-interaction'], {
    cwd: scratch,
    env: { ...process.env, COMPOSER_ALLOW_SUPERUSER: '1' },
    stdio: 'ignore',
  });
  const files = ['vendor/autoload.php', ...readdirSync(path.join(scratch, 'vendor/composer')).map((f) => `vendor/composer/${f}`)];
  let compared = 0;
  for (const file of files) {
    if (!statSync(path.join(scratch, file)).isFile()) continue;
    if (!readFileSync(path.join(scratch, file)).equals(readFileSync(path.join(release, file))))
      throw new Error(`verify: ${file} of ${release} (copied from the live release) is not what composer dump-autoload writes for it`);
    compared++;
  }
  rmSync(scratch, { recursive: true, force: true });
  return compared;
}

export async function composerVendor(input: MeasurementInput): Promise<{ section: Section; values: VendorValues }> {
  const { ctx, say } = input;
  const app = ctx.fixture.vendorApp;
  const reps = intEnv('BENCH_VENDOR_RUNS', 3, 1);
  const dir = path.join(gulpAttacheDir(ctx), 'composer-vendor');
  const bare = privateRepository(app.repo, path.join(dir, 'app.git'));
  const project = projectFor(ctx, input.install, 'composer-vendor', { repository: `file://${bare}` });
  const checkout = new AppCheckout(project.dir, `file://${bare}`, ctx.fixture.branch);
  const original = readFileSync(path.join(project.dir, CHANGED_PHP_FILE));
  say(
    `composer vendor: the vendor app (${app.packages} packages, ${app.files} files, ${mb(app.bytes, 1)} MB); ${reps} × (first deploy, one PHP file changed, redeploy) with reuseVendor on and off…`,
  );

  const failures: string[] = [];
  const runs: VendorRun[] = [];
  let vendorTree: { files: number; bytes: number } | undefined;
  let commits = 0;
  let dumpChecked = 0;
  for (let rep = 1; rep <= reps; rep++) {
    const order: VendorMode[] = rep % 2 ? ['reuse', 'added', 'today'] : ['today', 'added', 'reuse'];
    for (const mode of order) {
      const run = await retrying(`composer vendor: ${mode}, rep ${rep}`, failures, input, async () => {
        checkout.restore();
        const root = await freshRoot(path.join(ctx.workDir, 'roots', `composer-vendor-${mode}`));
        try {
          project.configure([{ name: 'bench', port: ctx.server.port, root, extra: { composer: MODES[mode].composer } }]);
          spawnSync('sync');
          const first = await project.deploy();
          const firstRelease = verifyDeploy(ctx.fixture, root, 'live');
          verifyAutoload(input, firstRelease);
          vendorTree ??= treeSize(path.join(firstRelease, 'vendor'));
          const before = composerWrites(firstRelease);

          const changed = Buffer.concat([original, Buffer.from(`// bench: composer vendor, change ${++commits}\n`)]);
          if (mode === 'added') {
            const added = `<?php\nnamespace App\\Models;\n\nclass BenchAdded\n{\n    public const CHANGE = ${commits};\n}\n`;
            checkout.commitFile(ADDED_CLASS, Buffer.from(added), `bench: ${ADDED_CLASS} added (${commits})`);
          } else checkout.commitFile(CHANGED_PHP_FILE, changed, `bench: ${CHANGED_PHP_FILE} changed (${commits})`);
          spawnSync('sync');
          const redeploy: DeployOutcome = await project.deploy();
          const release = verifyDeploy(ctx.fixture, root, 'live');
          if (release === realpathSync(firstRelease)) throw new Error('verify: the redeploy did not make a new release');
          if (mode === 'added') {
            if (!readFileSync(path.join(release, 'vendor/composer/autoload_classmap.php'), 'utf8').includes('App\\\\Models\\\\BenchAdded'))
              throw new Error(`verify: ${release}'s class map lacks the added class`);
          } else if (!readFileSync(path.join(release, CHANGED_PHP_FILE)).equals(changed))
            throw new Error(`verify: ${CHANGED_PHP_FILE} in ${release} does not hold the new commit's bytes`);
          verifyAutoload(input, release);
          verifyAutoload(input, firstRelease);
          for (const [file, was] of before) {
            const now = composerWrites(firstRelease).get(file);
            if (!now || now.inode !== was.inode || now.sha !== was.sha)
              throw new Error(`verify: the redeploy changed ${file} of the previous (live) release`);
          }
          const text = redeploy.lines.map((l) => l.text).join('\n');
          const reused = REUSED_LINE.test(text);
          const skipped = SKIPPED_LINE.test(text);
          if (skipped && !dumpChecked) dumpChecked = verifyFreshDump(release, path.join(ctx.workDir, 'roots', 'composer-vendor-dump'));
          if (mode === 'added' && (!reused || skipped))
            throw new Error('verify: a class added, and vendor/ was not linked, or Composer did not run');
          if (mode === 'reuse' && !reused)
            throw new Error('verify: reuseVendor on, an unchanged lock, and vendor/ was not linked from the live release');
          if (mode === 'today' && (reused || skipped))
            throw new Error('verify: "reuseVendor": false, and vendor/ was linked from the live release');
          return {
            mode,
            rep,
            first: { deploy: first.seconds, composer: stepSeconds(first, 'composer') },
            redeploy: { deploy: redeploy.seconds, composer: stepSeconds(redeploy, 'composer'), reused, skipped },
          };
        } finally {
          rmSync(root, { recursive: true, force: true });
          spawnSync('sync');
        }
      });
      runs.push(run);
      say(
        `composer vendor [${mode}, rep ${rep}/${reps}]: first deploy ${run.first.deploy.toFixed(2)} s (composer ${run.first.composer.toFixed(2)} s); ` +
          `redeploy ${run.redeploy.deploy.toFixed(2)} s (composer ${run.redeploy.composer.toFixed(2)} s${run.redeploy.skipped ? ', composer not run' : run.redeploy.reused ? ', vendor/ linked' : ''})`,
      );
    }
  }
  checkout.restore();

  const of = (mode: VendorMode) => runs.filter((r) => r.mode === mode);
  const values: VendorValues = {
    freshStep: median(runs.map((r) => r.first.composer)),
    reuseStep: median(of('reuse').map((r) => r.redeploy.composer)),
    addedStep: median(of('added').map((r) => r.redeploy.composer)),
    todayStep: median(of('today').map((r) => r.redeploy.composer)),
    reuseDeploy: median(of('reuse').map((r) => r.redeploy.deploy)),
    todayDeploy: median(of('today').map((r) => r.redeploy.deploy)),
  };
  const range = (xs: number[]) => (xs.length > 1 ? ` (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : '');
  const skippedRuns = of('reuse').filter((r) => r.redeploy.skipped).length;
  const rows = [
    [
      'first deploy: a fresh `composer install` of the lock (both modes)',
      fmt(values.freshStep) + range(runs.map((r) => r.first.composer)),
      '1.00×',
      fmt(median(runs.map((r) => r.first.deploy))) + range(runs.map((r) => r.first.deploy)),
      '',
    ],
    ...(['reuse', 'added', 'today'] as const).map((mode) => {
      const step = median(of(mode).map((r) => r.redeploy.composer));
      const deploy = median(of(mode).map((r) => r.redeploy.deploy));
      return [
        `redeploy, lock unchanged: ${MODES[mode].label}`,
        fmt(step) + range(of(mode).map((r) => r.redeploy.composer)),
        `${fmt(step / values.freshStep)}×`,
        fmt(deploy) + range(of(mode).map((r) => r.redeploy.deploy)),
        `${fmt(deploy / values.todayDeploy)}×`,
      ];
    }),
  ];
  return {
    section: {
      key: 'composerVendor',
      title: `Composer at real scale: ${app.packages} packages, ${vendorTree ? `${vendorTree.files} files, ${mb(vendorTree.bytes, 1)} MB in vendor/` : `${app.files} package files`} (loopback)`,
      header: ['deploy', 'composer step s', '× fresh install', 'whole deploy s', "× today's redeploy"],
      rows,
      notes: [
        `Medians of ${reps} rep(s) per mode (first deploys: ${runs.length}, both modes), min–max in brackets; the modes alternate their order rep by rep. composer step: the deploy report's time for the step (one script: the vendor/ reuse when it applies, then \`composer install --no-dev -o\` with the post-autoload-dump script); whole deploy: the \`gulp deploy\` process.`,
        `The app: the fixture's Laravel-shaped app requiring ${app.packages} packages from a path repository on this machine (\`symlink: false\`: an install copies every file, as from dists; offline), \`optimize-autoloader\` on (as Laravel's composer.json), \`post-autoload-dump\`: \`@php artisan package:discover\` (a stand-in writing bootstrap/cache/packages.php). The redeploy changes one PHP file (${CHANGED_PHP_FILE}), or adds one class, in a new commit; composer.lock and composer.json are the same.`,
        `reuseVendor on: vendor/ is \`cp -al\` of the live release's, with real copies of vendor/composer, vendor/autoload.php and vendor/bin${skippedRuns ? `; in ${skippedRuns} of ${of('reuse').length} redeploys Composer was not run at all (composer.json and the app's autoloaded file list unchanged: only the scripts ran)${dumpChecked ? `; the first such release's ${dumpChecked} autoloader files (copied from the live release) were byte for byte what \`composer dump-autoload -o --no-dev\` writes for a copy of it` : ''}` : ''}. One class added (${ADDED_CLASS}, a new file in an autoloaded directory): vendor/ linked, and \`composer install\` runs to dump the autoloader again (its class map scans every package's files). Every deploy checked: the app autoloads a package class and a helper, packages.php written, and the live release's vendor/autoload.php and vendor/composer/* the same files with the same bytes after the redeploy.`,
        ...failureNotes(failures),
      ],
      data: { reps, runs, values, vendorTree, dumpChecked },
    },
    values,
  };
}
