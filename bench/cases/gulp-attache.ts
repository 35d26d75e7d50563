/**
 * ============================================================================================
 *  EXTENSION POINT: gulp-attache's own cases. The runner (bench/run.ts) appends whatever this
 *  returns to the table, after the floors and the peers, and compares each row with them.
 * ============================================================================================
 *
 * To be filled in with (one BenchCase each):
 *   1. "gulp-attache (full first deploy)"           setup: root = await ctx.freshServerRoot()
 *                                                   run:   deploy ctx.fixture.appRepoUrl@branch + assets from ctx.fixture.buildDir
 *                                                   verify: verifyDeploy(ctx.fixture, root, 'live')  (../verify)
 *   2. "gulp-attache (redeploy, nothing changed)"   setup: fresh root + an untimed first deploy; run: deploy again
 *   3. "gulp-attache (redeploy, one asset changed)" setup: fresh root + first deploy + change one file in a copy of the
 *                                                   build dir (do not touch ctx.fixture.buildDir: other cases share it)
 *   4. "gulp-attache (upload step alone)"           setup: fresh root with a cloned release; run: only the asset upload
 *
 * What the context gives (bench/types.ts):
 *   - ctx.server.spec ("root@127.0.0.1:<port>") or ctx.server.alias (a Host block in the test home's
 *     ~/.ssh/config with Port, User, IdentityFile, UserKnownHostsFile, StrictHostKeyChecking yes).
 *     process.env.HOME is the test home, so gulp-attache's ssh-config/known_hosts lookups find them.
 *   - ctx.fixture: appRepo / appRepoUrl (bare; use the file:// URL), branch, buildDir + assetPaths,
 *     longHistoryRepo / longHistoryRepoUrl (300 commits) for the clone-strategy measurement.
 *   - ctx.freshServerRoot(): an empty deploy root holding only `.env`; deleted after the run.
 *   - ctx.ssh: OpenSSH argument lists, for any untimed server-side preparation.
 * Timing: only run() is timed; setup/verify/teardown are not. bytesSent() (optional) is reported.
 * The build (`npm run build`) has run before the bench, so cases may import from '../../src' or '../../dist'.
 */
import type { BenchCase, BenchContext } from '../types';

export function gulpAttacheCases(ctx: BenchContext): BenchCase[] {
  void ctx;
  return [];
}
