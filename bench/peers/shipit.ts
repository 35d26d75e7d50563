/**
 * shipit-deploy doing the same job as Attaché's method: a release from the fixture repository
 * (shallow clone), shared storage and .env links, composer install, artisan storage:link, the built
 * assets, then the live symlink (shipit's is `<root>/current`, relative, swapped with mv -fT).
 *
 * shipit-cli and shipit-deploy are NOT dependencies of gulp-attache: they are installed for the
 * bench only, into bench/.work/peers/, and run as a child process:
 *   node bench/.work/peers/node_modules/shipit-cli/bin/shipit bench deploy   (cwd: bench/.work/shipit)
 *
 * How shipit reaches the throwaway sshd: shipit (ssh-pool) shells out to `ssh` and `rsync --rsh "ssh …"`.
 * OpenSSH takes ~ from the passwd entry, not from $HOME, so the test home's ~/.ssh/config alias is
 * never read by it (checked: `HOME=<test home> ssh <alias>` → "Could not resolve hostname"). The
 * shipitfile therefore gives the server as an object with `extraSshOptions` (IdentityFile,
 * UserKnownHostsFile, StrictHostKeyChecking=yes, BatchMode, IdentitiesOnly) plus shipit's own `key`
 * and `strict` settings; every ssh and rsync shipit runs gets them as `-o` options.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CASE } from '../cases/names';
import { CommandError, spawnChecked, timedEnv } from '../proc';
import type { BenchCase, BenchContext } from '../types';
import { verifyDeploy } from '../verify';

/** The versions this harness was written against (shipit 5.3.0 is the latest release). */
export const SHIPIT_PACKAGES = ['shipit-cli@5.3.0', 'shipit-deploy@5.3.0'] as const;

function peersDir(ctx: BenchContext): string {
  return path.join(ctx.workDir, 'peers');
}

function installedVersion(ctx: BenchContext, name: string): string | undefined {
  const file = path.join(peersDir(ctx), 'node_modules', name, 'package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : undefined;
}

/** `npm install --prefix bench/.work/peers shipit-cli shipit-deploy` unless both are there. Returns their versions. */
export async function ensureShipit(ctx: BenchContext, logFile?: string): Promise<Record<string, string>> {
  const wanted = SHIPIT_PACKAGES.map((spec) => spec.slice(0, spec.lastIndexOf('@')));
  if (wanted.some((name) => !installedVersion(ctx, name))) {
    mkdirSync(peersDir(ctx), { recursive: true });
    ctx.log(`installing ${SHIPIT_PACKAGES.join(' ')} into ${peersDir(ctx)}`);
    await spawnChecked('npm', ['install', '--prefix', peersDir(ctx), '--no-audit', '--no-fund', ...SHIPIT_PACKAGES], { logFile });
  }
  return Object.fromEntries(wanted.map((name) => [name, installedVersion(ctx, name) ?? 'missing']));
}

function shipitfile(ctx: BenchContext): string {
  const deployModule = path.join(peersDir(ctx), 'node_modules', 'shipit-deploy');
  return `// Written by bench/peers/shipit.ts for the gulp-attache benchmark; regenerated on every bench run.
'use strict';
const fs = require('fs');
const path = require('path');

const env = process.env;
const ASSETS = ${JSON.stringify(ctx.fixture.assetPaths)};

module.exports = (shipit) => {
  require(${JSON.stringify(deployModule)})(shipit);

  shipit.initConfig({
    default: {
      repositoryUrl: env.BENCH_REPO,
      branch: env.BENCH_BRANCH,
      // With shallowClone, shipit-deploy ignores this and fetches into a temp dir of its own (it logs a warning).
      workspace: env.BENCH_WORKSPACE,
      shallowClone: true,
      keepReleases: 5,
      deployTo: env.BENCH_DEPLOY_TO,
      // shipit's documented defaults: the workspace is rsynced without these.
      ignores: ['.git', 'node_modules'],
      key: env.BENCH_KEY,
      strict: 'yes',
    },
    bench: {
      servers: [
        {
          user: 'root',
          host: '127.0.0.1',
          port: Number(env.BENCH_PORT),
          extraSshOptions: {
            UserKnownHostsFile: env.BENCH_KNOWN_HOSTS,
            IdentitiesOnly: 'yes',
            BatchMode: 'yes',
          },
        },
      ],
    },
  });

  // Assets, shipit's normal way: the build output goes into the workspace after the fetch, and
  // deploy:update's single rsync (--archive --compress --del) ships code and assets together.
  // (Not shipit.copyToRemote: that would be one more rsync/connection per asset path.) The assets
  // are already built, so "building" is copying them in. blTask + start() from the event is how a
  // shipitfile makes shipit-deploy wait for a hook.
  shipit.blTask('bench:assets', async () => {
    for (const asset of ASSETS) {
      await fs.promises.cp(path.join(env.BENCH_BUILD_DIR, asset), path.join(shipit.workspace, asset), { recursive: true });
    }
  });
  shipit.on('fetched', () => shipit.start('bench:assets'));

  // After the release is on the server: shared storage and .env, composer, storage:link — one remote
  // command, like Attaché's deployment script.
  shipit.blTask('bench:release', async () => {
    const root = shipit.config.deployTo;
    const release = shipit.releasePath;
    await shipit.remote(
      [
        \`if [ ! -e \${root}/storage ]; then mv \${release}/storage \${root}/storage; else rm -rf \${release}/storage; fi\`,
        \`ln -nfs \${root}/storage \${release}/storage\`,
        \`ln -nfs \${root}/.env \${release}/.env\`,
        \`cd \${release}\`,
        'COMPOSER_ALLOW_SUPERUSER=1 composer install --no-dev --no-interaction',
        \`php \${release}/artisan storage:link\`,
      ].join(' && '),
    );
  });
  shipit.on('updated', () => shipit.start('bench:release'));
};
`;
}

/** "ECONNREFUSED: request to … failed" out of npm's error output. */
function npmReason(error: unknown): string {
  if (!(error instanceof CommandError)) return error instanceof Error ? error.message : String(error);
  const lines = error.stderr.split('\n').map((l) => l.replace(/^npm (error|ERR!)\s*/, '').trim());
  const code = /^code (\S+)/.exec(lines.find((l) => l.startsWith('code ')) ?? '')?.[1];
  const what = lines.find((l) => l && !l.startsWith('code ') && !l.startsWith('errno ') && !l.startsWith('syscall '));
  return [code, what].filter(Boolean).join(': ') || error.message;
}

/** The shipit case. If shipit cannot be installed, the case's run() throws why (its row reads n/a). */
export async function shipitCase(ctx: BenchContext, logFile?: string): Promise<{ benchCase: BenchCase; versions: Record<string, string> }> {
  let versions: Record<string, string> = {};
  let unavailable: string | undefined;
  try {
    versions = await ensureShipit(ctx, logFile);
  } catch (error) {
    unavailable = `npm install ${SHIPIT_PACKAGES.join(' ')} failed: ${npmReason(error)}`;
  }
  const dir = path.join(ctx.workDir, 'shipit');
  mkdirSync(dir, { recursive: true });
  mkdirSync(path.join(ctx.workDir, 'shipit-workspace'), { recursive: true });
  writeFileSync(path.join(dir, 'shipitfile.js'), shipitfile(ctx));
  const bin = path.join(peersDir(ctx), 'node_modules', 'shipit-cli', 'bin', 'shipit');
  let root = '';

  const benchCase: BenchCase = {
    name: CASE.shipit,
    async setup() {
      if (unavailable) throw new Error(unavailable);
      root = await ctx.freshServerRoot();
    },
    async run() {
      await spawnChecked(process.execPath, [bin, 'bench', 'deploy'], {
        cwd: dir,
        logFile,
        env: timedEnv({
          HOME: ctx.home.dir,
          FORCE_COLOR: '0',
          BENCH_REPO: ctx.fixture.appRepoUrl,
          BENCH_BRANCH: ctx.fixture.branch,
          BENCH_WORKSPACE: path.join(ctx.workDir, 'shipit-workspace'),
          BENCH_DEPLOY_TO: root,
          BENCH_BUILD_DIR: ctx.fixture.buildDir,
          BENCH_PORT: String(ctx.server.port),
          BENCH_KEY: ctx.home.key,
          BENCH_KNOWN_HOSTS: ctx.home.knownHosts,
        }),
      });
    },
    async verify() {
      verifyDeploy(ctx.fixture, root, 'current');
    },
  };
  return { benchCase, versions };
}
