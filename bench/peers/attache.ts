/** Attaché's method (peers/attache-method.sh) as a bench case: a full deploy into a fresh root. */
import path from 'node:path';
import { CASE } from '../cases/names';
import { spawnChecked, timedEnv } from '../proc';
import type { BenchCase, BenchContext } from '../types';
import { verifyDeploy } from '../verify';

/** Attaché's release id: the UTC time as YmdHis. */
export function releaseId(date = new Date()): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export function attacheCase(ctx: BenchContext, logFile?: string): BenchCase {
  const script = path.join(__dirname, 'attache-method.sh');
  let root = '';
  return {
    name: CASE.attache,
    async setup() {
      root = await ctx.freshServerRoot();
    },
    async run() {
      await spawnChecked('bash', [script], {
        logFile,
        env: timedEnv({
          SSH_OPTS: ctx.ssh.options.join(' '),
          PORT: String(ctx.server.port),
          HOST: ctx.ssh.destination,
          ROOT: root,
          REPO: ctx.fixture.appRepoUrl,
          BRANCH: ctx.fixture.branch,
          RELEASE: releaseId(),
          ASSETS_DIR: ctx.fixture.buildDir,
          ASSETS: ctx.fixture.assetPaths.join(' '),
        }),
      });
    },
    async verify() {
      verifyDeploy(ctx.fixture, root, 'live');
    },
  };
}
