/**
 * Redeploy, one PHP file changed: the change a developer deploys most often, for either strategy.
 *
 *   setup     a private copy of the fixture's app repository (the other cases deploy from the
 *             shared one) checked out in the project directory (bench/app-checkout.ts); a fresh
 *             root and one untimed deploy of the fixture's commit (over the setup port); then one
 *             PHP file gets new bytes in a new commit, pushed to the copy
 *   run       `gulp deploy`
 *   verify    the release is complete, holds the new bytes and the new commit; clone: no asset
 *             sent; artifact: what was sent is under 1% of the tree's bytes (sent + reused)
 *   teardown  the branch back to the fixture's commit
 *
 * Every run commits different bytes, so the artifact strategy builds a tree it has never built
 * (its local cache would otherwise hand back the last run's).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AppCheckout, privateRepository } from '../app-checkout';
import type { BenchCase, BenchContext } from '../types';
import type { DeployOutcome, UserProject } from '../user-project';
import { verifyDeploy } from '../verify';

/** The file that changes: a controller, as a small fix would be. */
export const CHANGED_PHP_FILE = 'app/Http/Controllers/HomeController.php';

export interface OnePhpFileOutcome extends DeployOutcome {
  commit: string;
  changedFile: string;
  changedBytes: number;
}

/**
 * `project` deploys from `file://<bare>` with `strategy`; `bare` is made here, a copy of the
 * fixture's app repository. The untimed first deploy goes to `setupPort`.
 */
export function onePhpFileCase(
  ctx: BenchContext,
  input: { name: string; project: UserProject; bare: string; strategy: 'clone' | 'artifact'; setupPort: number; into: OnePhpFileOutcome[] },
): BenchCase {
  const { project, bare } = input;
  const url = `file://${bare}`;
  const server = (root: string, port: number) => [{ name: 'bench', port, root }];
  let checkout: AppCheckout | undefined;
  let original = Buffer.alloc(0);
  let changed = Buffer.alloc(0);
  let commit = '';
  let root = '';
  let runs = 0;
  let last: OnePhpFileOutcome | undefined;
  return {
    name: input.name,
    async setup() {
      if (!checkout) {
        privateRepository(ctx.fixture.appRepo, bare);
        checkout = new AppCheckout(project.dir, url, ctx.fixture.branch);
        original = readFileSync(path.join(project.dir, CHANGED_PHP_FILE));
      }
      checkout.restore();
      root = await ctx.freshServerRoot();
      project.configure(server(root, input.setupPort));
      await project.deploy();
      project.configure(server(root, ctx.server.port));
      changed = Buffer.concat([original, Buffer.from(`// bench: changed for run ${++runs} at ${new Date().toISOString()}\n`)]);
      commit = checkout.commitFile(CHANGED_PHP_FILE, changed, `bench: ${CHANGED_PHP_FILE} changed (run ${runs})`);
    },
    async run() {
      last = { ...(await project.deploy()), commit, changedFile: CHANGED_PHP_FILE, changedBytes: changed.length };
      input.into.push(last);
    },
    async verify() {
      const release = verifyDeploy(ctx.fixture, root, 'live');
      if (!readFileSync(path.join(release, CHANGED_PHP_FILE)).equals(changed))
        throw new Error(`verify: ${CHANGED_PHP_FILE} in ${release} does not hold the new commit's bytes`);
      const row = last!.report.servers[0];
      if (path.basename(release) !== row.release) throw new Error(`verify: live is ${release}, not the redeploy's release ${row.release}`);
      if (row.commit !== undefined && row.commit !== commit)
        throw new Error(`verify: the report says commit ${row.commit}, the branch is at ${commit}`);
      if (input.strategy === 'clone' && row.sent.files !== 0) throw new Error(`verify: no asset changed, yet ${row.sent.files} were sent`);
      if (input.strategy === 'artifact') {
        const tree = row.sent.bytes + row.reused.bytes;
        if (row.sent.files < 1 || row.sent.bytes >= 0.01 * tree) {
          throw new Error(
            `verify: one PHP file changed, and the artifact step sent ${row.sent.files} files, ${row.sent.bytes} bytes of the tree's ${tree} (not under 1%)`,
          );
        }
      }
    },
    async teardown() {
      checkout?.restore();
    },
    bytesSent: () => last?.report.servers[0].sent.bytes ?? 0,
  };
}
