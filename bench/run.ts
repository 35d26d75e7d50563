/**
 * The benchmark: `npm run bench` (= `npm run build && node --import tsx bench/run.ts`).
 *
 * Starts one throwaway sshd on loopback (support/sshd.ts), builds or reuses the fixture
 * (bench/fixture.ts), packs this repository and installs it with gulp into a user project
 * (bench/user-project.ts), and runs every case over three links to that one sshd:
 *
 *   loopback   the sshd's own port, BENCH_RUNS times (default 5; plus BENCH_WARMUP untimed runs
 *              first, default 1): the loopback table, its ratios and the loopback targets;
 *   0 ms       through the WAN relay (bench/wan/relay.ts), paced to BENCH_WAN_MBIT (default 100)
 *              Mbit/s each way, no delay;
 *   N ms       the same relay with BENCH_WAN_DELAY_MS (default 25) each way.
 *
 * The 0 ms and N ms links run BENCH_WAN_RUNS times each (default: BENCH_RUNS if set, else 3; plus
 * BENCH_WAN_WARMUP untimed runs, default 0), interleaved case by case. `scp -r` and Attaché's method
 * cost a round trip per file (~90 s a run at 25 ms); at N ms they run BENCH_WAN_SLOW_RUNS times
 * (default 1; the table's "runs" column shows it). BENCH_WAN=0 leaves the WAN links out (their table
 * and targets then say so). Each case's sequential round trips: (T at N ms − T at 0 ms) / (2 N ms).
 *
 * BENCH_CASES=<comma-separated substrings of case names> (case-insensitive; bench/case-filter.ts) runs
 * only the cases whose names contain one of them, e.g. BENCH_CASES="gulp-attache artifact" for the
 * artifact strategy's rows, or "gulp-attache: full,PHP file,artifact" for them beside clone's.
 * Tables, targets and measurements then say "skipped" for what needs a case left out, and the results
 * go to bench/results-subset.json and bench/RESULTS-subset.md, so that a partial run never replaces
 * the whole run's record (bench/RESULTS.md, which the README quotes).
 * BENCH_CASES may also name the measurements that take time of their own (MEASUREMENT in
 * bench/cases/names.ts): then only those run, e.g. BENCH_CASES=fleet BENCH_WAN=0 for the fleet and
 * the rollout comparison alone (no case).
 *
 * Runs are round-robin so that drift hits every case alike; a failed attempt is made again from its
 * setup up to BENCH_RETRIES times (default 2). Then the extra measurements (bench/measurements/) on
 * loopback, and the targets with MET / NOT MET. Everything goes to the console, bench/results.json
 * and bench/RESULTS.md (whose first tables are the ones for the README).
 *
 * The bench sshd gets `SetEnv SHLVL=1` so that bash skips this machine's root ~/.bashrc (it runs
 * `pyenv init`, ~100–200 ms per remote command); BENCH_SERVER_BASHRC=1 keeps it. See
 * bench/measurements/server-shell.ts. Logs of every command are in bench/.work/logs/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { acceptedLogins, addAlias, createHome, startSshd, type SshServer, type TestHome } from '../support/sshd';
import { caseFilter } from './case-filter';
import { createGulpAttacheBench, type Observations } from './cases/gulp-attache';
import { CASE, MEASUREMENT } from './cases/names';
import { buildFixture, FIXTURE_PARAMS } from './fixture';
import { floorCases } from './floors';
import { flag } from './measurements/common';
import { runMeasurements } from './measurements/index';
import { attacheCase } from './peers/attache';
import { shipitCase } from './peers/shipit';
import { spawnChecked } from './proc';
import { median, renderSection, renderTargets, type Section, type Target } from './report';
import { serverDisk } from './server-disk';
import { renderMainTable, renderStrategyTable, renderWanTable, wanRows, type CaseResult } from './tables';
import { loopbackTargets, maxSessionsTargets, uplinkTargets, wanTargets, type WanRow } from './targets';
import type { BenchCase, BenchContext, BenchFixture, SshCommandLine } from './types';
import { ensureUserInstall, type UserInstall } from './user-project';
import { startLink, type Link } from './wan/link';

const WORK = path.join(__dirname, '.work');
const LOGS = path.join(WORK, 'logs');
const ROOTS = path.join(WORK, 'roots');
const RESULTS_ALL = { json: path.join(__dirname, 'results.json'), md: path.join(__dirname, 'RESULTS.md') };
const RESULTS_SUBSET = { json: path.join(__dirname, 'results-subset.json'), md: path.join(__dirname, 'RESULTS-subset.md') };

/** Latency-bound cases (a round trip per file) that run BENCH_WAN_SLOW_RUNS times on the delayed link. */
const SLOW_OVER_WAN: ReadonlySet<string> = new Set([CASE.scpFloor, CASE.attache]);

function positiveInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0].slice(0, 300);
}

function version(command: string, args: string[]): string {
  try {
    const out = execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    return out.trim().split('\n')[0];
  } catch (error) {
    // `ssh -V` prints to stderr (and exits 0); others may too.
    const e = error as { stderr?: string };
    return (e.stderr ?? firstLine(error)).trim().split('\n')[0];
  }
}

function sshVersion(): string {
  const r = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return (r.stderr || r.stdout).trim();
}

function machine() {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} (${os.platform()}/${os.arch()})`,
    cpus: { model: cpus[0]?.model ?? 'unknown', count: cpus.length },
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    ssh: sshVersion(),
    git: version('git', ['--version']),
    rsync: version('rsync', ['--version']),
    php: version('php', ['--version']),
    composer: version('composer', ['--version', '--no-ansi']).replace(/^.*?(Composer version)/, '$1'),
    date: new Date().toISOString(),
  };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** Every `gulp deploy` a link's cases timed (the upload cases are no deploys). */
function deploysOf(o: Observations) {
  return [...o.full, ...o.unchanged, ...o.oneAsset, ...o.onePhpFile, ...o.artifactFull, ...o.artifactOnePhpFile];
}

/** One link's cases and what they observed. */
interface LinkRun {
  label: string;
  link: Link;
  ctx: BenchContext;
  cases: BenchCase[];
  results: CaseResult[];
  observations: Observations;
  shipitVersions: Record<string, string>;
}

interface Entry {
  link: LinkRun;
  benchCase: BenchCase;
  result: CaseResult;
  /** Timed runs this entry gets. */
  runs: number;
}

async function main(): Promise<void> {
  const runs = positiveInt('BENCH_RUNS', 5, 1);
  const warmup = positiveInt('BENCH_WARMUP', 1, 0);
  const retries = positiveInt('BENCH_RETRIES', 2, 0);
  const wanOn = flag('BENCH_WAN', true);
  const wanRuns = positiveInt('BENCH_WAN_RUNS', process.env.BENCH_RUNS ? runs : 3, 1);
  const wanWarmup = positiveInt('BENCH_WAN_WARMUP', 0, 0);
  const wanSlowRuns = Math.min(wanRuns, positiveInt('BENCH_WAN_SLOW_RUNS', 1, 1));
  const delayMs = positiveInt('BENCH_WAN_DELAY_MS', 25, 1);
  const mbit = positiveInt('BENCH_WAN_MBIT', 100, 1);
  const filter = caseFilter(process.env.BENCH_CASES);
  const { json: RESULTS, md: RESULTS_MD } = filter.setting ? RESULTS_SUBSET : RESULTS_ALL;
  const benchStarted = performance.now();
  mkdirSync(LOGS, { recursive: true });
  const disk = serverDisk(ROOTS, path.join(WORK, 'server-disk.img'), flag('BENCH_SERVER_DISK', true));
  const benchLog = path.join(LOGS, 'bench.log');
  writeFileSync(benchLog, `bench started ${new Date().toISOString()}\n`);
  const log = (message: string) => appendFileSync(benchLog, `${message}\n`);
  const say = (message: string) => {
    console.log(message);
    log(message);
  };
  const caseLog = (name: string) => {
    const file = path.join(LOGS, `${slug(name)}.log`);
    writeFileSync(file, '');
    return file;
  };

  // The server and the ssh home.
  const home = createHome();
  // Extra sshd_config lines: see the header comment (BENCH_SERVER_BASHRC).
  const sshdConfig = process.env.BENCH_SERVER_BASHRC === '1' ? [] : ['SetEnv SHLVL=1'];
  const server = await startSshd(home, { name: 'bench', config: sshdConfig });
  const links: Link[] = [];

  try {
    say(
      `sshd on 127.0.0.1:${server.port} (pid ${server.pid}); HOME=${home.dir}; extra sshd_config: ${sshdConfig.join('; ') || 'none'}; server roots on ${disk.description}`,
    );
    const fixture = buildFixture(WORK, say);
    say(
      `fixture ${fixture.reused ? 'reused' : 'built'}: app ${fixture.appRepo}; assets ${fixture.assetFileCount} files, ` +
        `${(fixture.assetBytes / 1e6).toFixed(1)} MB; long history ${fixture.longHistoryCommits} commits`,
    );
    const install = await ensureUserInstall(WORK, caseLog('user-install'));
    say(
      `gulp-attache ${install.versions.gulpAttache} packed (${path.basename(install.tarball)}) and installed with gulp ${install.versions.gulp} (gulp-cli ${install.versions.gulpCli}) in ${install.dir}: ` +
        `${install.reused ? 'reused' : `installed in ${install.installSeconds.toFixed(1)} s`}`,
    );

    let rootSeq = 0;
    const pendingRoots: string[] = [];
    const freshServerRoot = async () => {
      const root = path.join(ROOTS, `root-${String(++rootSeq).padStart(3, '0')}`);
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
      writeFileSync(
        path.join(root, '.env'),
        'APP_NAME=Bench\nAPP_ENV=production\nAPP_KEY=base64:YmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJlbmNoMDA=\nAPP_DEBUG=false\n',
      );
      pendingRoots.push(root);
      return root;
    };

    const direct = await startLink(server.port, null);
    const plan: Array<{ label: string; link: Link; runs: number }> = [{ label: 'loopback', link: direct, runs }];
    if (wanOn) {
      const rate = (mbit * 1e6) / 8;
      for (const delay of [0, delayMs]) {
        const link = await startLink(server.port, { delayMs: delay, bytesPerSecond: rate });
        links.push(link);
        plan.push({ label: `${delay} ms`, link, runs: wanRuns });
        say(`WAN relay on 127.0.0.1:${link.port}: ${delay} ms each way, ${mbit} Mbit/s each way, in front of the sshd`);
      }
    } else say('WAN links: skipped (BENCH_WAN=0)');
    if (filter.setting) {
      const measurements = Object.values(MEASUREMENT).filter((m) => !filter.measurementSkipped(m));
      say(
        `BENCH_CASES=${filter.setting}: only ${Object.values(CASE).filter(filter.selects).join('; ') || 'no case'}; measurements: ${measurements.length === Object.values(MEASUREMENT).length ? 'all' : measurements.join('; ')}`,
      );
    }

    const linkRuns: LinkRun[] = [];
    for (const { label, link } of plan) {
      const ctx = contextFor({ server, home, link, label, fixture, runs: label === 'loopback' ? runs : wanRuns, freshServerRoot, log });
      await spawnChecked('ssh', [...ctx.ssh.ssh, 'true']).catch((error: unknown) => {
        throw new Error(`cannot reach the bench sshd with ssh over the ${label} link: ${firstLine(error)}`);
      });
      const tag = slug(label);
      // shipit is installed (npm) only when its case runs.
      const shipit = filter.selects(CASE.shipit) ? await shipitCase(ctx, caseLog(`${CASE.shipit} ${tag}`)) : undefined;
      const ours = createGulpAttacheBench(ctx, install, tag, server.port);
      const cases: BenchCase[] = [
        ...floorCases(ctx, caseLog(`floors ${tag}`)),
        attacheCase(ctx, caseLog(`${CASE.attache} ${tag}`)),
        ...(shipit ? [shipit.benchCase] : []),
        ...ours.cases,
      ].filter((c) => filter.selects(c.name));
      const results = cases.map((c): CaseResult => ({ name: c.name, seconds: [], sshLogins: [], bytesSent: [], failures: [] }));
      linkRuns.push({
        label,
        link,
        ctx,
        cases,
        results,
        observations: ours.observations,
        shipitVersions: shipit?.versions ?? { 'shipit-deploy': 'not run (BENCH_CASES)' },
      });
    }

    const pass = async (entries: Entry[], passWarmup: number) => {
      const started = performance.now();
      const loadAtStart = os.loadavg()[0];
      const rounds = entries.length ? passWarmup + Math.max(...entries.map((e) => e.runs)) : 0;
      for (let round = 1; round <= rounds; round++) {
        const timed = round > passWarmup;
        for (const e of entries) {
          if (e.result.error || (timed && round - passWarmup > e.runs)) continue;
          const label = `${e.link.label}, ${timed ? `run ${round - passWarmup}/${e.runs}` : `warm-up ${round}/${passWarmup}`}`;
          const c = e.benchCase;
          // A failed attempt is counted (the table's "failed attempts" column) and made again from
          // setup, up to BENCH_RETRIES times; only then is the case given up (its row reads n/a).
          for (let attempt = 0; attempt <= retries; attempt++) {
            try {
              await c.setup?.();
              const logins = acceptedLogins(server);
              const t0 = performance.now();
              await c.run();
              const seconds = (performance.now() - t0) / 1000;
              const used = acceptedLogins(server) - logins;
              await c.verify?.();
              await c.teardown?.();
              if (timed) {
                e.result.seconds.push(seconds);
                e.result.sshLogins.push(used);
                const bytes = c.bytesSent?.();
                if (bytes !== undefined) e.result.bytesSent.push(bytes);
              }
              say(`[${label}] ${c.name}: ${seconds.toFixed(2)} s, ${used} ssh logins${timed ? '' : ' (untimed)'}`);
              break;
            } catch (error) {
              const reason = firstLine(error);
              e.result.failures.push(`${label}: ${reason}`);
              log(error instanceof Error ? (error.stack ?? error.message) : String(error));
              if (attempt === retries) {
                e.result.error = reason;
                say(`[${label}] ${c.name}: FAILED: ${reason}`);
              } else say(`[${label}] ${c.name}: FAILED (attempt ${attempt + 1}, trying again): ${reason}`);
              await c.teardown?.().catch(() => undefined);
            } finally {
              for (const root of pendingRoots.splice(0)) rmSync(root, { recursive: true, force: true });
              // Flush this run's writes (tens of MB) now, untimed, rather than during the next timed run.
              spawnSync('sync');
            }
          }
        }
      }
      return { seconds: (performance.now() - started) / 1000, load: { start: loadAtStart, end: os.loadavg()[0] } };
    };

    // ---- loopback: every case, round-robin
    const loop = linkRuns[0];
    const loopPass = await pass(
      loop.cases.map((c, i) => ({ link: loop, benchCase: c, result: loop.results[i], runs })),
      warmup,
    );
    const mainTable = renderMainTable(loop.results);

    // ---- WAN: every case at 0 ms and at the delay, interleaved case by case
    let wanPass: Awaited<ReturnType<typeof pass>> | undefined;
    let wan: WanRow[] = [];
    let wanTable = `WAN links: skipped (BENCH_WAN=0).`;
    if (wanOn) {
      const [zero, far] = linkRuns.slice(1);
      const entries: Entry[] = zero.cases.flatMap((c, i) => [
        { link: zero, benchCase: c, result: zero.results[i], runs: wanRuns },
        { link: far, benchCase: far.cases[i], result: far.results[i], runs: SLOW_OVER_WAN.has(c.name) ? wanSlowRuns : wanRuns },
      ]);
      wanPass = await pass(entries, wanWarmup);
      wan = wanRows(zero.results, far.results, delayMs);
      wanTable = renderWanTable(wan, { loopback: loop.results, at0: zero.results, atDelay: far.results, delayMs });
    }
    const strategyTable = renderStrategyTable({ loopback: loop.results, wan: wanOn ? { rows: wan, delayMs } : undefined });

    const info = machine();
    const failureLines = linkRuns.flatMap((l) => l.results.flatMap((r) => r.failures.map((f) => `${r.name} [${f}]`)));
    const failureText = failureLines.length
      ? `Failed attempts (each made again from setup; BENCH_RETRIES=${retries}):\n${failureLines.map((l) => `- ${l}`).join('\n')}`
      : '';
    const completed = linkRuns.some((l) => deploysOf(l.observations).length > 0);
    const reportNote = completed ? "bytes and step times read from each deploy's --report file" : 'no gulp-attache deploy completed';
    console.log(`\n## Loopback\n\n${mainTable}\n`);
    if (wanOn) console.log(`## WAN: ${delayMs} ms each way, ${mbit} Mbit/s\n\n${wanTable}\n`);
    if (strategyTable) console.log(`## Artifact vs clone\n\n${strategyTable}\n`);
    if (failureText) console.log(`${failureText}\n`);
    const busyNote = (load: { start: number; end: number }) =>
      Math.max(load.start, load.end) > info.cpus.count
        ? ' (WARNING: above the CPU count: other work was running, the numbers are noisy)'
        : '';

    // ---- the extra measurements (loopback) and the targets
    const loadBeforeExtras = os.loadavg()[0];
    say(`measurements: load average (1 min) ${loadBeforeExtras.toFixed(2)}`);
    const extrasStarted = performance.now();
    const measured = await runMeasurements({
      ctx: loop.ctx,
      install,
      observations: loop.observations,
      results: loop.results,
      sshdConfig,
      skipped: filter.skipped,
      measurementSkipped: filter.measurementSkipped,
      say,
    });
    const extrasSeconds = (performance.now() - extrasStarted) / 1000;
    const loadAfterExtras = os.loadavg()[0];
    const targets: Target[] = [
      ...wanTargets(wan, delayMs, wanOn ? undefined : 'skipped (BENCH_WAN=0)', filter.skipped),
      ...loopbackTargets({
        results: loop.results,
        observations: loop.observations,
        runs,
        fixture,
        values: measured.values,
        skipped: filter.skipped,
      }),
      ...uplinkTargets(measured.values),
      ...maxSessionsTargets(measured.values),
    ];
    const totalSeconds = (performance.now() - benchStarted) / 1000;
    console.log('');
    console.log(measured.sections.map(renderSection).join('\n\n'));
    console.log('');
    console.log(renderTargets(targets));
    console.log('');
    const settingsLine =
      (filter.setting
        ? `BENCH_CASES=${filter.setting} (only the cases, and the measurements if it names any, whose names contain one of these); `
        : '') +
      `loopback: ${runs} timed run(s) per case (+${warmup} warm-up), ${loopPass.seconds.toFixed(0)} s` +
      (wanPass
        ? `; WAN: ${wanRuns} run(s) per case and link (+${wanWarmup} warm-up; ${wanSlowRuns} at ${delayMs} ms for ${[...SLOW_OVER_WAN].join(', ')}), ${wanPass.seconds.toFixed(0)} s`
        : '') +
      `; measurements ${extrasSeconds.toFixed(0)} s; whole bench ${totalSeconds.toFixed(0)} s`;
    console.log(`${info.cpus.count} × ${info.cpus.model}, ${info.memoryGiB} GiB, ${info.os}, node ${info.node}; ${settingsLine}`);
    console.log(reportNote);

    const caseJson = (results: CaseResult[]) =>
      results.map((r) => ({
        name: r.name,
        ...(r.error ? { error: `n/a: ${r.error}` } : {}),
        seconds: r.seconds.map(round3),
        median: r.seconds.length ? round3(median(r.seconds)) : null,
        sshLoginsPerRun: r.sshLogins.length ? median(r.sshLogins) : null,
        bytesSent: r.bytesSent.length ? median(r.bytesSent) : null,
        failedAttempts: r.failures,
      }));
    writeFileSync(
      RESULTS,
      JSON.stringify(
        {
          machine: info,
          settings: {
            cases: filter.setting ?? 'all',
            runs,
            warmupRuns: warmup,
            retries,
            wan: wanOn
              ? { delayMs, mbit, runs: wanRuns, warmupRuns: wanWarmup, slowRuns: wanSlowRuns, slowCases: [...SLOW_OVER_WAN] }
              : null,
            order: 'round-robin over cases, each run on a fresh server root',
            totalSeconds: round3(totalSeconds),
          },
          passes: {
            loopback: { seconds: round3(loopPass.seconds), loadAverage1m: loopPass.load },
            wan: wanPass ? { seconds: round3(wanPass.seconds), loadAverage1m: wanPass.load } : null,
          },
          fixture: {
            params: FIXTURE_PARAMS,
            assets: { files: fixture.assetFileCount, bytes: fixture.assetBytes, paths: fixture.assetPaths },
            longHistoryCommits: fixture.longHistoryCommits,
            vendorApp: { packages: fixture.vendorApp.packages, files: fixture.vendorApp.files, bytes: fixture.vendorApp.bytes },
          },
          gulpAttache: { install: { tarball: path.basename(install.tarball), versions: install.versions }, reportSource: reportNote },
          peers: { attache: 'bench/peers/attache-method.sh (tpg/attache Deployer.php, command for command)', shipit: loop.shipitVersions },
          links: Object.fromEntries(linkRuns.map((l) => [l.label, { shape: l.link.shape, cases: caseJson(l.results) }])),
          wan: wan.map((r) => ({
            ...r,
            at0: r.at0 === undefined ? null : round3(r.at0),
            atDelay: r.atDelay === undefined ? null : round3(r.atDelay),
            roundTrips: r.roundTrips === undefined ? null : round3(r.roundTrips),
          })),
          tables: { loopback: mainTable, wan: wanTable, ...(strategyTable && { strategies: strategyTable }) },
          measurements: {
            elapsedSeconds: round3(extrasSeconds),
            loadAverage1m: { start: round3(loadBeforeExtras), end: round3(loadAfterExtras) },
            sshdConfig,
            serverDisk: disk.description,
            ...Object.fromEntries(
              measured.sections.map((s) => [s.key, { title: s.title, header: s.header, rows: s.rows, notes: s.notes, data: s.data }]),
            ),
          },
          targets,
        },
        null,
        2,
      ) + '\n',
    );
    const journal = filter.setting ? '' : keptJournal(RESULTS_MD);
    writeFileSync(
      RESULTS_MD,
      resultsMarkdown({
        info,
        settingsLine,
        cases: filter.setting,
        reportNote,
        loopback: { runs, warmup, seconds: loopPass.seconds, load: loopPass.load, busy: busyNote(loopPass.load) },
        wan: wanPass
          ? {
              delayMs,
              mbit,
              runs: wanRuns,
              warmup: wanWarmup,
              slowRuns: wanSlowRuns,
              seconds: wanPass.seconds,
              load: wanPass.load,
              busy: busyNote(wanPass.load),
            }
          : undefined,
        measurementsLoad: { start: loadBeforeExtras, end: loadAfterExtras },
        fixture,
        install,
        sshdConfig,
        serverDisk: disk.description,
        mainTable: failureText ? `${mainTable}\n\n${failureText}` : mainTable,
        wanTable,
        strategyTable,
        sections: measured.sections,
        targets,
      }) + journal,
    );
    console.log(
      `results: ${path.relative(process.cwd(), RESULTS)}, ${path.relative(process.cwd(), RESULTS_MD)}; logs: ${path.relative(process.cwd(), LOGS)}/`,
    );
  } finally {
    for (const link of links) await link.stop();
    await server.stop();
    rmSync(home.dir, { recursive: true, force: true });
    rmSync(server.dir, { recursive: true, force: true });
    disk.release();
  }
}

/** The context of one link: the same server, home and fixture, reached at the link's port (an ssh alias and known_hosts entry of its own). */
function contextFor(input: {
  server: SshServer;
  home: TestHome;
  link: Link;
  label: string;
  fixture: BenchFixture;
  runs: number;
  freshServerRoot: () => Promise<string>;
  log: (message: string) => void;
}): BenchContext {
  const { server, home, link, fixture } = input;
  const port = link.port;
  // The relay shows the sshd's host key at its own port.
  appendFileSync(home.knownHosts, `[127.0.0.1]:${port} ${server.hostKey}\n`);
  const alias = `attache-bench-${slug(input.label)}`;
  addAlias(home, alias, {
    HostName: server.host,
    Port: port,
    User: 'root',
    IdentityFile: home.key,
    IdentitiesOnly: 'yes',
    UserKnownHostsFile: home.knownHosts,
    StrictHostKeyChecking: 'yes',
    BatchMode: 'yes',
  });
  const options = [
    '-F',
    home.config,
    '-i',
    home.key,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${home.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'ControlMaster=no',
    '-o',
    'ControlPath=none',
  ];
  const destination = `root@${server.host}`;
  const ssh: SshCommandLine = {
    options,
    ssh: [...options, '-p', String(port), destination],
    scp: [...options, '-P', String(port)],
    rsyncShell: ['ssh', ...options, '-p', String(port)].join(' '),
    destination,
  };
  return {
    server: {
      host: server.host,
      port,
      user: 'root',
      alias,
      spec: `root@${server.host}:${port}`,
      hostKey: server.hostKey,
      logFile: server.logFile,
    },
    home: { dir: home.dir, sshDir: home.sshDir, key: home.key, knownHosts: home.knownHosts, config: home.config },
    ssh,
    fixture,
    workDir: WORK,
    runs: input.runs,
    freshServerRoot: input.freshServerRoot,
    sshLogins: () => acceptedLogins(server),
    log: input.log,
  };
}

/**
 * The hand-written journal of bench/RESULTS.md (the earlier runs, what each change bought, why a
 * target is not met): everything from JOURNAL_MARKER on. A whole run rewrites the tables above it
 * and keeps the journal as it is.
 */
const JOURNAL_MARKER = '<!-- journal: written by hand; npm run bench keeps everything below this line -->';

function keptJournal(file: string): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(JOURNAL_MARKER);
  return at < 0 ? '' : '\n' + text.slice(at);
}

function resultsMarkdown(r: {
  info: ReturnType<typeof machine>;
  settingsLine: string;
  /** BENCH_CASES, when only some cases ran. */
  cases?: string;
  reportNote: string;
  loopback: { runs: number; warmup: number; seconds: number; load: { start: number; end: number }; busy: string };
  wan?: {
    delayMs: number;
    mbit: number;
    runs: number;
    warmup: number;
    slowRuns: number;
    seconds: number;
    load: { start: number; end: number };
    busy: string;
  };
  measurementsLoad: { start: number; end: number };
  fixture: BenchFixture;
  install: UserInstall;
  sshdConfig: string[];
  serverDisk: string;
  mainTable: string;
  wanTable: string;
  strategyTable?: string;
  sections: Section[];
  targets: Target[];
}): string {
  const { info, wan } = r;
  const day = info.date.slice(0, 10);
  const cpu = `${info.cpus.count} × ${info.cpus.model}`;
  const load = (l: { start: number; end: number }) => `${l.start.toFixed(2)}–${l.end.toFixed(2)}`;
  return [
    '# gulp-attache benchmark results',
    '',
    `Generated by \`npm run bench\` (bench/run.ts) on ${info.date}. The tables down to the journal are the bench's: run it again rather than edit them.`,
    ...(r.cases
      ? [
          '',
          `**A partial run: BENCH_CASES=${r.cases}.** Only the cases whose names contain one of these ran; the others' rows, ratios and targets are missing or "skipped". bench/RESULTS.md is the last whole run.`,
        ]
      : []),
    '',
    '## Machine',
    '',
    `- ${cpu}, ${info.memoryGiB} GiB, ${info.os}`,
    `- node ${info.node}; ${info.ssh}; ${info.git}; ${info.php}; ${info.composer}; ${info.rsync}`,
    `- gulp-attache ${r.install.versions.gulpAttache} as users run it: \`npm pack\`, \`npm install <tgz> gulp@5\` (gulp ${r.install.versions.gulp}, gulp-cli ${r.install.versions.gulpCli}) into a project, and every deploy a whole \`gulp deploy --report=<file>\` process; ${r.reportNote}`,
    `- bench sshd on loopback, extra sshd_config: ${r.sshdConfig.length ? r.sshdConfig.map((c) => `\`${c}\``).join(', ') : 'none'}; every server root on ${r.serverDisk} (bench/server-disk.ts)`,
    "- every timed process (ours, shipit-deploy, Attaché's method) runs without NODE_EXTRA_CA_CERTS, which this machine sets for its registry proxy: a Node process reads that CA bundle at start (~90 ms here), where a laptop or CI runner has none (bench/proc.ts timedEnv)",
    `- ${r.settingsLine}`,
    '',
    `Fixture: ${r.fixture.assetFileCount} asset files, ${(r.fixture.assetBytes / 1e6).toFixed(1)} MB; a Laravel-shaped app with composer.lock; a long-history repository of ${r.fixture.longHistoryCommits} commits; the vendor app (${r.fixture.vendorApp.packages} Composer packages, ${r.fixture.vendorApp.files} files, ${(r.fixture.vendorApp.bytes / 1e6).toFixed(1)} MB, from a local path repository).`,
    '',
    wan ? `## WAN: ${wan.delayMs} ms each way, ${wan.mbit} Mbit/s (for the README)` : '## WAN',
    '',
    ...(wan
      ? [
          `Run on ${day}, ${cpu}, ${info.os.split(' (')[0]}, Node ${info.node.replace(/^v/, '')}; load average ${load(wan.load)}${wan.busy}. Every case crosses the bench's TCP relay (bench/wan/relay.ts) to the same sshd: each direction paced to ${wan.mbit} Mbit/s and, on the far link, delayed ${wan.delayMs} ms (a ${2 * wan.delayMs} ms round trip), order kept. ` +
            `Medians of ${wan.runs} run(s) per link (${wan.slowRuns} at ${wan.delayMs} ms for \`scp -r\` and Attaché's method, a round trip per file), +${wan.warmup} warm-up; "loopback s" is the direct loopback table's median. ` +
            `**round trips** = (T at ${wan.delayMs} ms − T at 0 ms) / ${((2 * wan.delayMs) / 1000).toFixed(3)} s: the round trips the case waits for one after another. The \`gulp --tasks\` row opens no connection: its round trips are this run's noise. The redeploy cases' untimed first deploy goes over the direct link.`,
          '',
        ]
      : []),
    r.wanTable,
    '',
    ...(r.strategyTable
      ? [
          '## Artifact vs clone',
          '',
          `The same job with \`"strategy": "artifact"\` (the tree built here, sent as files) and with the default, clone (git and composer on the server), from the tables of this run: medians; ÷ is artifact over clone; round trips as in the WAN table; MB sent on loopback (clone: assets; artifact: the tree's files not already in the live release).`,
          '',
          r.strategyTable,
          '',
        ]
      : []),
    '## Targets',
    '',
    renderTargets(r.targets).replace(/^### Targets\n\n/, ''),
    '',
    '## Loopback table',
    '',
    `Direct to the sshd's port. ${r.loopback.runs} timed run(s) per case (+${r.loopback.warmup} warm-up), round-robin, each on a fresh server root; medians; ratios are of medians. Wall time of the runs: ${r.loopback.seconds.toFixed(0)} s; load average ${load(r.loopback.load)}${r.loopback.busy}.`,
    '',
    r.mainTable,
    '',
    '## Extra measurements (loopback)',
    '',
    `Load average ${load(r.measurementsLoad)} around them.`,
    '',
    r.sections.map(renderSection).join('\n\n'),
    '',
  ].join('\n');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
