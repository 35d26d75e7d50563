/**
 * Where a deploy's round trips go: `npm run bench:trace` (= build, then this file).
 *
 * Starts the bench's sshd and fixture (as bench/run.ts does), makes one untimed deploy on loopback,
 * then runs the redeploys this prints over the WAN relay at TRACE_DELAY_MS each way (default 25):
 * "nothing changed" and, with TRACE_CASES=first,unchanged,one-asset,one-php, a first deploy (a fresh
 * root), "one asset changed" and "one PHP file changed" (committed and pushed) too; TRACE_STRATEGY=artifact
 * deploys with that strategy from a checkout of the app. Each is a
 * whole `gulp deploy --verbose` process; every log line is printed with the milliseconds since the
 * process started, and each step's seconds from the report with them divided by the round trip
 * (2 × delay): the step's sequential round trips, upper bound (its own work included). Read it
 * beside `npm run bench`'s round-trip column: that one subtracts the 0 ms link's time.
 * TRACE_DIRECT=1 deploys straight to the sshd's port instead (loopback: where the CPU time goes);
 * TRACE_QUIET=1 without --verbose, as the bench deploys (a line per file costs time of its own).
 * TRACE_BUILD='sleep 1' gives the project that build command (default: none, the assets are built).
 */
import { appendFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHome, startSshd, trust } from '../support/sshd';
import { AppCheckout, privateRepository } from './app-checkout';
import { assetMapping } from './cases/gulp-attache';
import { CHANGED_PHP_FILE } from './cases/one-php-file';
import { buildFixture } from './fixture';
import { flag } from './measurements/common';
import { serverDisk } from './server-disk';
import { UserProject, ensureUserInstall, type DeployOutcome } from './user-project';
import { startLink } from './wan/link';

const WORK = path.join(__dirname, '.work');

function print(label: string, outcome: DeployOutcome, roundTrip: number): void {
  const start = outcome.lines[0]?.t ?? 0;
  console.log(
    `\n=== ${label}: ${outcome.seconds.toFixed(2)} s (${(outcome.seconds / roundTrip).toFixed(1)} round trips of ${roundTrip * 1000} ms, start-up included)`,
  );
  for (const line of outcome.lines) if (line.text.trim()) console.log(`${String(Math.round(line.t - start)).padStart(6)} ms  ${line.text}`);
  const steps = outcome.report.servers[0]?.steps ?? {};
  console.log('step seconds (÷ round trip):');
  for (const [step, seconds] of Object.entries(steps))
    console.log(`  ${step.padEnd(12)} ${seconds.toFixed(3)} s  ${(seconds / roundTrip).toFixed(1)}`);
}

async function main(): Promise<void> {
  const delayMs = Number(process.env.TRACE_DELAY_MS ?? 25);
  const cases = (process.env.TRACE_CASES ?? 'unchanged').split(',');
  const strategy = process.env.TRACE_STRATEGY ?? 'clone';
  const deployFlags = process.env.TRACE_QUIET === '1' ? [] : ['--verbose'];
  if (strategy !== 'clone' && strategy !== 'artifact') throw new Error(`TRACE_STRATEGY: "${strategy}" is not a strategy (clone, artifact)`);
  const home = createHome();
  const server = await startSshd(home, { name: 'trace', config: ['SetEnv SHLVL=1'] });
  trust(home, server);
  const link = await startLink(server.port, { delayMs, bytesPerSecond: 100e6 / 8 });
  appendFileSync(home.knownHosts, `[127.0.0.1]:${link.port} ${server.hostKey}\n`);
  const port = process.env.TRACE_DIRECT === '1' ? server.port : link.port;
  // The server's roots on a journaled ext4, as the bench's (bench/server-disk.ts).
  const disk = serverDisk(path.join(WORK, 'trace-roots'), path.join(WORK, 'trace-disk.img'), flag('BENCH_SERVER_DISK', true));
  console.log(`server roots on ${disk.description}`);
  const root = path.join(WORK, 'trace-roots', 'root');
  try {
    const fixture = buildFixture(WORK, console.log);
    const install = await ensureUserInstall(WORK);
    const buildDir = path.join(WORK, 'trace-build');
    rmSync(buildDir, { recursive: true, force: true });
    cpSync(fixture.buildDir, buildDir, { recursive: true });
    // A private copy of the app repository: the one-php case commits to it.
    const bare = privateRepository(fixture.appRepo, path.join(WORK, 'trace-app.git'));
    const build = process.env.TRACE_BUILD ? [process.env.TRACE_BUILD] : undefined;
    const project = new UserProject(install, 'trace', {
      repository: `file://${bare}`,
      branch: fixture.branch,
      assets: assetMapping(fixture, buildDir),
      strategy,
      build,
    });
    const checkout =
      strategy === 'artifact' || cases.includes('one-php') ? new AppCheckout(project.dir, `file://${bare}`, fixture.branch) : undefined;
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, '.env'), 'APP_KEY=base64:dHJhY2V0cmFjZXRyYWNldHJhY2V0cmFjZXRyYWNlMDA=\n');
    project.configure([{ name: 'bench', port: server.port, root }]);
    await project.deploy();
    project.configure([{ name: 'bench', port, root }]);
    for (const name of cases) {
      if (name === 'first') {
        // A fresh root: the whole tree goes over the link.
        const fresh = `${root}-first`;
        rmSync(fresh, { recursive: true, force: true });
        mkdirSync(fresh, { recursive: true });
        writeFileSync(path.join(fresh, '.env'), readFileSync(path.join(root, '.env')));
        project.configure([{ name: 'bench', port, root: fresh }]);
        print(`first deploy at ${delayMs} ms each way`, await project.deploy(deployFlags), (2 * delayMs) / 1000);
        rmSync(fresh, { recursive: true, force: true });
        project.configure([{ name: 'bench', port, root }]);
        continue;
      }
      if (name === 'one-asset') {
        const image = fixture.assetFiles.find((f) => f.endsWith('.jpg')) as string;
        const file = path.join(buildDir, image);
        writeFileSync(file, Buffer.from(readFileSync(file).map((b) => b ^ 0x5a)));
      } else if (name === 'one-php') {
        const file = path.join(project.dir, CHANGED_PHP_FILE);
        checkout!.commitFile(
          CHANGED_PHP_FILE,
          Buffer.concat([readFileSync(file), Buffer.from(`// trace: changed at ${new Date().toISOString()}\n`)]),
          'trace: one PHP file changed',
        );
      } else if (name !== 'unchanged') throw new Error(`TRACE_CASES: unknown case "${name}" (first, unchanged, one-asset, one-php)`);
      print(`${name} at ${delayMs} ms each way`, await project.deploy(deployFlags), (2 * delayMs) / 1000);
    }
  } finally {
    await link.stop();
    await server.stop();
    disk.release();
    rmSync(home.dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
