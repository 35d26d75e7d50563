/**
 * The floors: the cheapest ways to put the build output on the server, with no deploy around them.
 * Each run copies into a fresh target directory over ONE connection. And the cost of reaching the
 * server at all: one `ssh … true` (handshake, authentication, one command), the unit a deploy that
 * changes nothing is measured against.
 */
import path from 'node:path';
import { CASE } from './cases/names';
import { spawnChecked } from './proc';
import type { BenchCase, BenchContext } from './types';
import { verifyAssets } from './verify';

export function floorCases(ctx: BenchContext, logFile?: string): BenchCase[] {
  const source = path.join(ctx.fixture.buildDir, 'public');
  let target = '';

  const scp: BenchCase = {
    name: CASE.scpFloor,
    async setup() {
      target = await ctx.freshServerRoot();
    },
    async run() {
      // `scp -r dir host:<target>/public` creates <target>/public (OpenSSH 9 scp speaks SFTP underneath).
      await spawnChecked('scp', [...ctx.ssh.scp, '-q', '-r', source, `${ctx.ssh.destination}:${target}/public`], { logFile });
    },
    async verify() {
      verifyAssets(ctx.fixture, target);
    },
  };

  const rsync: BenchCase = {
    name: CASE.rsyncFloor,
    async setup() {
      target = await ctx.freshServerRoot();
    },
    async run() {
      await spawnChecked('rsync', ['-a', '-e', ctx.ssh.rsyncShell, `${source}/`, `${ctx.ssh.destination}:${target}/public/`], { logFile });
    },
    async verify() {
      verifyAssets(ctx.fixture, target);
    },
  };

  const sshTrue: BenchCase = {
    name: CASE.sshTrue,
    async run() {
      await spawnChecked('ssh', [...ctx.ssh.ssh, 'true'], { logFile });
    },
  };

  return [sshTrue, scp, rsync];
}
