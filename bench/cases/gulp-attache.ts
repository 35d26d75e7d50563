/**
 * ============================================================================================
 *  gulp-attache's own cases. The runner (bench/run.ts) appends them to the table, after the
 *  floors and the peers, and compares each row with them.
 * ============================================================================================
 *
 *   0. gulp --tasks               start-up alone: node, gulp-cli, the gulpfile's require of gulp-attache
 *                                 and the task list, no connection (its round trips should read ~0)
 *   1. full first deploy          setup: a fresh root; run: `gulp deploy` with the preset
 *                                 (composer on, assets from the fixture's build output)
 *   2. redeploy, nothing changed  setup: a fresh root + one untimed deploy; run: deploy again
 *   3. redeploy, one asset changed setup: a fresh root + one untimed deploy, then one ~60 KB
 *                                 image of a private COPY of the build output gets new bytes
 *                                 (same size); run: deploy; teardown: the image is restored
 *   4. upload step alone          the upload plugin: gulp.src(build/public/**) into a fresh
 *                                 dest over one connection (its handshake included, as scp's is)
 *   5. … upload step alone (buffer: false)  the same with gulp.src(…, { buffer: false }): file contents
 *                                 as streams, as the preset's assets step feeds the upload
 *   6. redeploy, one PHP file changed  setup: a fresh root + one untimed deploy, then a new commit
 *                                 changes a controller (bench/cases/one-php-file.ts); run: deploy
 *   7. artifact: full first deploy  "strategy": "artifact", the project a checkout of the app (the
 *                                 tree is exported from it, as a developer's deploy would): setup: a
 *                                 fresh root and no artifact built yet; run: deploy (here: export,
 *                                 composer install, assets copied, hashing; there: the whole tree sent)
 *   8. artifact: redeploy, one PHP file changed  case 6 with "strategy": "artifact"
 *
 * Cases 1–3 and 6–8 are whole `gulp deploy` processes in a project that installed the packed package
 * (bench/user-project.ts), as users run it; bytes sent/reused and step times come from the deploy's
 * report. Cases 4–5 measure the plugin alone, in this process (the upload is the unit, not start-up).
 * Each case keeps what it observed per run in `observations`, for the measurements (bench/measurements/).
 */
import { cpSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createLogger } from '../../src/log';
import { upload } from '../../src/plugins/upload';
import { handshakeCount } from '../../src/ssh/session';
import type { BenchCase, BenchContext, BenchFixture } from '../types';
import { spawnChecked, timedEnv } from '../proc';
import { UserProject, type DeployOutcome, type ProjectOptions, type UserInstall } from '../user-project';
import { AppCheckout } from '../app-checkout';
import { verifyAssets, verifyDeploy } from '../verify';
import { CASE } from './names';
import { onePhpFileCase, type OnePhpFileOutcome } from './one-php-file';

/** gulp for the in-process upload cases (gulp has no usable type declarations for src's options). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const gulp = require('gulp') as { src(globs: string | string[], options?: Record<string, unknown>): NodeJS.ReadableStream };

export interface UploadObservation {
  seconds: number;
  handshakes: number;
  files: number;
  bytes: number;
}

/** What each case saw, run by run (warm-up runs first, then the timed ones). */
export interface Observations {
  full: DeployOutcome[];
  unchanged: DeployOutcome[];
  oneAsset: Array<DeployOutcome & { changedFile: string; changedBytes: number }>;
  upload: UploadObservation[];
  uploadStreaming: UploadObservation[];
  onePhpFile: OnePhpFileOutcome[];
  artifactFull: DeployOutcome[];
  artifactOnePhpFile: OnePhpFileOutcome[];
}

export function gulpAttacheDir(ctx: BenchContext): string {
  return path.join(ctx.workDir, 'gulp-attache');
}

/** The `assets` mapping of `.attache.json`: each of the fixture's asset paths under `buildDir`, to the same path in the release. */
export function assetMapping(fixture: BenchFixture, buildDir = fixture.buildDir): Record<string, string> {
  return Object.fromEntries(fixture.assetPaths.map((p) => [path.join(buildDir, p), p]));
}

export function projectFor(
  ctx: BenchContext,
  install: UserInstall,
  name: string,
  options: { repository?: string; buildDir?: string; strategy?: ProjectOptions['strategy'] } = {},
): UserProject {
  return new UserProject(install, name, {
    repository: options.repository ?? ctx.fixture.appRepoUrl,
    branch: ctx.fixture.branch,
    assets: assetMapping(ctx.fixture, options.buildDir),
    ...(options.strategy && { strategy: options.strategy }),
  });
}

/** The mid-size image (~60 KB) whose size is closest to 60 KiB: the one asset case 3 changes. */
function oneImage(fixture: BenchFixture): string {
  const images = fixture.assetFiles.filter((f) => /^public\/images\/products\/.*\.jpg$/.test(f));
  if (!images.length) throw new Error('the fixture has no mid-size product images');
  const size = (f: string) => statSync(path.join(fixture.buildDir, f)).size;
  return images.reduce((best, f) => (Math.abs(size(f) - 61440) < Math.abs(size(best) - 61440) ? f : best));
}

/** Writes `data` to `file` under a temporary name and renames it into place. */
function replaceFile(file: string, data: Buffer): void {
  const temporary = `${file}.bench-tmp`;
  writeFileSync(temporary, data);
  renameSync(temporary, file);
}

/**
 * The cases for one link (ctx.server.port is the link's port); `tag` keeps the projects of different
 * links apart. The redeploy cases' untimed first deploy goes to `setupPort` (the direct loopback
 * port, by default the link's): the server ends up the same, and a slow link is not paid for twice.
 */
export function createGulpAttacheBench(
  ctx: BenchContext,
  install: UserInstall,
  tag: string,
  setupPort = ctx.server.port,
): { cases: BenchCase[]; observations: Observations } {
  const observations: Observations = {
    full: [],
    unchanged: [],
    oneAsset: [],
    upload: [],
    uploadStreaming: [],
    onePhpFile: [],
    artifactFull: [],
    artifactOnePhpFile: [],
  };
  const server = (root: string, port = ctx.server.port) => [{ name: 'bench', port, root }];

  // 1. Full first deploy.
  const full = projectFor(ctx, install, `${tag}-full`);
  let fullRoot = '';
  let fullLast: DeployOutcome | undefined;
  const fullCase: BenchCase = {
    name: CASE.full,
    async setup() {
      fullRoot = await ctx.freshServerRoot();
      full.configure(server(fullRoot));
    },
    async run() {
      fullLast = await full.deploy();
      observations.full.push(fullLast);
    },
    async verify() {
      verifyDeploy(ctx.fixture, fullRoot, 'live');
    },
    bytesSent: () => fullLast?.report.servers[0].sent.bytes ?? 0,
  };

  // 2. Redeploy, nothing changed.
  const unchanged = projectFor(ctx, install, `${tag}-unchanged`);
  let unchangedRoot = '';
  let unchangedLast: DeployOutcome | undefined;
  const unchangedCase: BenchCase = {
    name: CASE.unchanged,
    async setup() {
      unchangedRoot = await ctx.freshServerRoot();
      unchanged.configure(server(unchangedRoot, setupPort));
      await unchanged.deploy();
      unchanged.configure(server(unchangedRoot));
    },
    async run() {
      unchangedLast = await unchanged.deploy();
      observations.unchanged.push(unchangedLast);
    },
    async verify() {
      const release = verifyDeploy(ctx.fixture, unchangedRoot, 'live');
      const row = unchangedLast?.report.servers[0];
      if (path.basename(release) !== row?.release) throw new Error(`verify: live is ${release}, not the redeploy's release`);
      if (row.sent.files !== 0) throw new Error(`verify: a redeploy of unchanged assets uploaded ${row.sent.files} files`);
    },
    bytesSent: () => unchangedLast?.report.servers[0].sent.bytes ?? 0,
  };

  // 3. Redeploy, one asset changed. A private copy of the build output: the other cases share the fixture's.
  const copyDir = path.join(gulpAttacheDir(ctx), 'build-one-asset');
  const changed = oneImage(ctx.fixture);
  const changedFile = path.join(copyDir, changed);
  const original = readFileSync(path.join(ctx.fixture.buildDir, changed));
  // Same size, different bytes (so verifyAssets' byte count still holds).
  const altered = Buffer.from(original.map((b, i) => (i < 16 ? b : b ^ 0x5a)));
  const oneAsset = projectFor(ctx, install, `${tag}-one-asset`, { buildDir: copyDir });
  let oneAssetRoot = '';
  let oneAssetLast: (DeployOutcome & { changedFile: string; changedBytes: number }) | undefined;
  const oneAssetCase: BenchCase = {
    name: CASE.oneAsset,
    async setup() {
      if (!existsSync(path.join(copyDir, changed))) {
        rmSync(copyDir, { recursive: true, force: true });
        cpSync(ctx.fixture.buildDir, copyDir, { recursive: true });
      }
      replaceFile(changedFile, original);
      oneAssetRoot = await ctx.freshServerRoot();
      oneAsset.configure(server(oneAssetRoot, setupPort));
      await oneAsset.deploy();
      oneAsset.configure(server(oneAssetRoot));
      replaceFile(changedFile, altered);
    },
    async run() {
      oneAssetLast = { ...(await oneAsset.deploy()), changedFile: changed, changedBytes: altered.length };
      observations.oneAsset.push(oneAssetLast);
    },
    async verify() {
      const release = verifyDeploy(ctx.fixture, oneAssetRoot, 'live');
      if (!readFileSync(path.join(release, changed)).equals(altered))
        throw new Error(`verify: ${changed} in the release does not hold the new bytes`);
      const row = oneAssetLast!.report.servers[0];
      if (row.sent.files !== 1 || row.reused.files !== ctx.fixture.assetFileCount - 1) {
        throw new Error(
          `verify: one changed asset: sent ${row.sent.files} files and reused ${row.reused.files}, expected 1 and ${ctx.fixture.assetFileCount - 1}`,
        );
      }
    },
    async teardown() {
      replaceFile(changedFile, original);
    },
    bytesSent: () => oneAssetLast?.report.servers[0].sent.bytes ?? 0,
  };

  // 4. The upload plugin alone, over one connection of its own (like `scp -r`); 5. the same, streaming.
  const uploadCase = (name: string, buffer: boolean, into: UploadObservation[]): BenchCase => {
    let root = '';
    let last: UploadObservation | undefined;
    return {
      name,
      async setup() {
        root = await ctx.freshServerRoot();
      },
      async run() {
        const before = handshakeCount();
        const t0 = performance.now();
        const logger = createLogger({ verbosity: 'quiet', interactive: false, write: () => undefined });
        let files = 0;
        let bytes = 0;
        const sink = new Writable({
          objectMode: true,
          write(file: { isDirectory(): boolean; stat?: { size: number } | null }, _encoding, done) {
            if (!file.isDirectory()) {
              files++;
              bytes += file.stat?.size ?? 0;
            }
            done();
          },
        });
        await pipeline(
          gulp.src(path.join(ctx.fixture.buildDir, 'public/**'), { base: ctx.fixture.buildDir, encoding: false, buffer }),
          upload({ server: { host: '127.0.0.1', port: ctx.server.port, user: 'root' }, dest: root, logger }),
          sink,
        );
        last = { seconds: (performance.now() - t0) / 1000, handshakes: handshakeCount() - before, files, bytes };
        into.push(last);
      },
      async verify() {
        verifyAssets(ctx.fixture, root);
      },
      bytesSent: () => last?.bytes ?? 0,
    };
  };

  // 0. Start-up: `gulp --tasks` in the full deploy's project (its .attache.json written by then).
  const startupCase: BenchCase = {
    name: CASE.startup,
    async setup() {
      full.configure(server(await ctx.freshServerRoot()));
    },
    async run() {
      const { stdout } = await spawnChecked(install.gulpBin, ['--tasks'], {
        cwd: full.dir,
        env: timedEnv({ FORCE_COLOR: '0', NO_COLOR: '1' }),
      });
      if (!/deploy/.test(stdout)) throw new Error(`gulp --tasks listed no deploy task: ${stdout.slice(0, 300)}`);
    },
  };

  // 6 and 8. Redeploy, one PHP file changed, each strategy from a private copy of the app repository.
  const onePhpFile = (name: string, strategy: 'clone' | 'artifact', into: OnePhpFileOutcome[]) => {
    const projectName = `${tag}-${strategy}-one-php-file`;
    const bare = path.join(gulpAttacheDir(ctx), 'one-php-file', `${projectName}.git`);
    const project = projectFor(ctx, install, projectName, { repository: `file://${bare}`, strategy });
    return onePhpFileCase(ctx, { name, project, bare, strategy, setupPort, into });
  };

  // 7. Artifact strategy, full first deploy.
  const artifactFull = projectFor(ctx, install, `${tag}-artifact-full`, { strategy: 'artifact' });
  // biome-ignore lint/correctness/noUnusedVariables: made once, for its side effect (the checkout on disk)
  let artifactFullCheckout: AppCheckout | undefined;
  let artifactFullRoot = '';
  let artifactFullLast: DeployOutcome | undefined;
  const artifactFullCase: BenchCase = {
    name: CASE.artifactFull,
    async setup() {
      // A checkout of the shared repository: it is only read (nothing is committed or pushed).
      artifactFullCheckout ??= new AppCheckout(artifactFull.dir, ctx.fixture.appRepoUrl, ctx.fixture.branch);
      // A first deploy builds the tree: the trees built by earlier runs go (asset hashes stay cached, as for clone's project).
      rmSync(path.join(artifactFull.dir, 'node_modules', '.cache', 'gulp-attache', 'artifacts'), { recursive: true, force: true });
      artifactFullRoot = await ctx.freshServerRoot();
      artifactFull.configure(server(artifactFullRoot));
    },
    async run() {
      artifactFullLast = await artifactFull.deploy();
      observations.artifactFull.push(artifactFullLast);
    },
    async verify() {
      const release = verifyDeploy(ctx.fixture, artifactFullRoot, 'live');
      if (!existsSync(path.join(release, '.attache-artifact.json')))
        throw new Error(`verify: ${release} has no artifact listing: not an artifact release`);
      const row = artifactFullLast!.report.servers[0];
      if (row.reused.files !== 0 || row.sent.files === 0)
        throw new Error(`verify: a first deploy sent ${row.sent.files} files and reused ${row.reused.files}`);
    },
    bytesSent: () => artifactFullLast?.report.servers[0].sent.bytes ?? 0,
  };

  return {
    cases: [
      startupCase,
      fullCase,
      unchangedCase,
      oneAssetCase,
      uploadCase(CASE.upload, true, observations.upload),
      uploadCase(CASE.uploadStreaming, false, observations.uploadStreaming),
      onePhpFile(CASE.onePhpFile, 'clone', observations.onePhpFile),
      artifactFullCase,
      onePhpFile(CASE.artifactOnePhpFile, 'artifact', observations.artifactOnePhpFile),
    ],
    observations,
  };
}
