/**
 * The benchmark: `npm run bench` (= `npm run build && node --import tsx bench/run.ts`).
 *
 * Starts one throwaway sshd on loopback (support/sshd.ts), builds or reuses the fixture
 * (bench/fixture.ts), runs every case BENCH_RUNS times (default 5; plus BENCH_WARMUP untimed runs
 * first, default 1), round-robin so that drift hits every case alike, and prints one table: median,
 * min and max wall seconds, and the median's ratio to the scp floor, to Attaché's method and to
 * shipit-deploy. The same goes to bench/results.json with a description of the machine.
 *
 * Then gulp-attache's extra measurements (bench/extras.ts: SSH logins, memory for a 1 GB upload,
 * clone strategy, overlap, fleet of 1/10/25 servers) as small tables, and the targets with MET /
 * NOT MET; all of it also goes to bench/results.json and bench/RESULTS.md.
 *
 * The bench sshd gets `SetEnv SHLVL=1` so that bash skips this machine's root ~/.bashrc (it runs
 * `pyenv init`, ~100–200 ms per remote command); BENCH_SERVER_BASHRC=1 keeps it. See extras.ts.
 *
 * Logs of every command are in bench/.work/logs/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { acceptedLogins, addAlias, createHome, startSshd, trust } from '../support/sshd';
import { createGulpAttacheBench } from './cases/gulp-attache';
import { runExtras } from './extras';
import { buildFixture, FIXTURE_PARAMS } from './fixture';
import { floorCases } from './floors';
import { attacheCase } from './peers/attache';
import { SHIPIT_CASE_NAME, shipitCase } from './peers/shipit';
import { spawnChecked } from './proc';
import { renderSection, renderTargets, type Section, type Target } from './report';
import type { BenchCase, BenchContext, SshCommandLine } from './types';

const WORK = path.join(__dirname, '.work');
const LOGS = path.join(WORK, 'logs');
const ROOTS = path.join(WORK, 'roots');
const RESULTS = path.join(__dirname, 'results.json');
const RESULTS_MD = path.join(__dirname, 'RESULTS.md');

const SCP_FLOOR = 'floor: scp -r';
const ATTACHE = 'attache method (full deploy)';
const SHIPIT = SHIPIT_CASE_NAME;

interface CaseResult {
  name: string;
  seconds: number[];
  sshLogins: number[];
  bytesSent: number[];
  /** Attempts that failed and were retried (BENCH_RETRIES): "<label>: <first line of the error>". */
  failures: string[];
  error?: string;
}

function positiveInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
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

// ---------------------------------------------------------------------------------------------
// Table

function fmtSeconds(s: number): string {
  return s.toFixed(2);
}

function ratio(value: number, reference: number | undefined): string {
  return reference === undefined || reference <= 0 ? 'n/a' : `${(value / reference).toFixed(2)}×`;
}

function renderTable(results: CaseResult[]): string {
  const medianOf = (name: string) => {
    const r = results.find((x) => x.name === name);
    return r && !r.error && r.seconds.length ? median(r.seconds) : undefined;
  };
  const refs = { scp: medianOf(SCP_FLOOR), attache: medianOf(ATTACHE), shipit: medianOf(SHIPIT) };
  const showBytes = results.some((r) => r.bytesSent.length > 0);
  const showFailures = results.some((r) => r.failures.length > 0);
  const header = ['case', 'median s', 'min s', 'max s', '× scp floor', '× attaché', '× shipit', 'ssh logins/run', ...(showBytes ? ['MB sent'] : []), ...(showFailures ? ['failed attempts'] : [])];
  const rows: string[][] = results.map((r) => {
    if (r.error || r.seconds.length === 0) {
      const reason = r.error ?? 'no runs';
      return [r.name, `n/a: ${reason.length > 110 ? `${reason.slice(0, 110)}… (see results.json, bench/.work/logs/)` : reason}`];
    }
    const m = median(r.seconds);
    return [
      r.name,
      fmtSeconds(m),
      fmtSeconds(Math.min(...r.seconds)),
      fmtSeconds(Math.max(...r.seconds)),
      ratio(m, refs.scp),
      ratio(m, refs.attache),
      ratio(m, refs.shipit),
      String(median(r.sshLogins)),
      ...(showBytes ? [r.bytesSent.length ? (median(r.bytesSent) / 1e6).toFixed(2) : ''] : []),
      ...(showFailures ? [String(r.failures.length)] : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.filter((row) => row.length > 2).map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => {
    if (cells.length === 2 && header.length > 2) return `| ${cells[0].padEnd(widths[0])} | ${cells[1]}`;
    return '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  };
  const rule = '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(header), rule, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const runs = positiveInt('BENCH_RUNS', 5, 1);
  const warmup = positiveInt('BENCH_WARMUP', 1, 0);
  const retries = positiveInt('BENCH_RETRIES', 2, 0);
  mkdirSync(LOGS, { recursive: true });
  rmSync(ROOTS, { recursive: true, force: true });
  mkdirSync(ROOTS, { recursive: true });
  const benchLog = path.join(LOGS, 'bench.log');
  writeFileSync(benchLog, `bench started ${new Date().toISOString()}\n`);
  const log = (message: string) => appendFileSync(benchLog, `${message}\n`);
  const say = (message: string) => {
    console.log(message);
    log(message);
  };

  // The server and the ssh home.
  const home = createHome();
  // Extra sshd_config lines: see the header comment (BENCH_SERVER_BASHRC).
  const sshdConfig = process.env.BENCH_SERVER_BASHRC === '1' ? [] : ['SetEnv SHLVL=1'];
  const server = await startSshd(home, { name: 'bench', config: sshdConfig });
  trust(home, server);
  const alias = 'attache-bench';
  addAlias(home, alias, {
    HostName: server.host,
    Port: server.port,
    User: 'root',
    IdentityFile: home.key,
    IdentitiesOnly: 'yes',
    UserKnownHostsFile: home.knownHosts,
    StrictHostKeyChecking: 'yes',
    BatchMode: 'yes',
  });
  const options = [
    '-F', home.config,
    '-i', home.key,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${home.knownHosts}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'ControlMaster=no',
    '-o', 'ControlPath=none',
  ];
  const destination = `root@${server.host}`;
  const ssh: SshCommandLine = {
    options,
    ssh: [...options, '-p', String(server.port), destination],
    scp: [...options, '-P', String(server.port)],
    rsyncShell: ['ssh', ...options, '-p', String(server.port)].join(' '),
    destination,
  };

  try {
    say(`sshd on 127.0.0.1:${server.port} (pid ${server.pid}); HOME=${home.dir}; extra sshd_config: ${sshdConfig.join('; ') || 'none'}`);
    await spawnChecked('ssh', [...ssh.ssh, 'true']).catch((error: unknown) => {
      throw new Error(`cannot reach the bench sshd with ssh: ${firstLine(error)}`);
    });

    const fixture = buildFixture(WORK, say);
    say(
      `fixture ${fixture.reused ? 'reused' : 'built'}: app ${fixture.appRepo}; assets ${fixture.assetFileCount} files, ` +
        `${(fixture.assetBytes / 1e6).toFixed(1)} MB; long history ${fixture.longHistoryCommits} commits`,
    );

    let rootSeq = 0;
    const pendingRoots: string[] = [];
    const ctx: BenchContext = {
      server: { host: server.host, port: server.port, user: 'root', alias, spec: `root@${server.host}:${server.port}`, hostKey: server.hostKey, logFile: server.logFile },
      home: { dir: home.dir, sshDir: home.sshDir, key: home.key, knownHosts: home.knownHosts, config: home.config },
      ssh,
      fixture,
      workDir: WORK,
      runs,
      async freshServerRoot() {
        const root = path.join(ROOTS, `root-${String(++rootSeq).padStart(3, '0')}`);
        rmSync(root, { recursive: true, force: true });
        mkdirSync(root, { recursive: true });
        writeFileSync(path.join(root, '.env'), 'APP_NAME=Bench\nAPP_ENV=production\nAPP_KEY=base64:YmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJlbmNoMDA=\nAPP_DEBUG=false\n');
        pendingRoots.push(root);
        return root;
      },
      sshLogins: () => acceptedLogins(server),
      log,
    };

    const caseLog = (name: string) => {
      const file = path.join(LOGS, `${slug(name)}.log`);
      writeFileSync(file, '');
      return file;
    };
    const shipit = await shipitCase(ctx, caseLog(SHIPIT));
    const ours = createGulpAttacheBench(ctx);
    const cases: BenchCase[] = [
      ...floorCases(ctx, caseLog('floors')),
      attacheCase(ctx, caseLog(ATTACHE)),
      shipit.benchCase,
      // ---- gulp-attache's cases (bench/cases/gulp-attache.ts) ----
      ...ours.cases,
    ];
    const results: CaseResult[] = cases.map((c) => ({ name: c.name, seconds: [], sshLogins: [], bytesSent: [], failures: [] }));

    const started = performance.now();
    const loadAtStart = os.loadavg()[0];
    const total = warmup + runs;
    for (let round = 1; round <= total; round++) {
      const timed = round > warmup;
      const label = timed ? `run ${round - warmup}/${runs}` : `warm-up ${round}/${warmup}`;
      for (const [i, c] of cases.entries()) {
        const result = results[i];
        if (result.error) continue;
        // A failed attempt is counted (the table's "failed attempts" column) and made again from
        // setup, up to BENCH_RETRIES times; only then is the case given up (its row reads n/a).
        for (let attempt = 0; attempt <= retries; attempt++) {
          try {
            await c.setup?.();
            const logins = ctx.sshLogins();
            const t0 = performance.now();
            await c.run();
            const seconds = (performance.now() - t0) / 1000;
            const used = ctx.sshLogins() - logins;
            await c.verify?.();
            await c.teardown?.();
            if (timed) {
              result.seconds.push(seconds);
              result.sshLogins.push(used);
              const bytes = c.bytesSent?.();
              if (bytes !== undefined) result.bytesSent.push(bytes);
            }
            say(`[${label}] ${c.name}: ${seconds.toFixed(2)} s, ${used} ssh logins${timed ? '' : ' (untimed)'}`);
            break;
          } catch (error) {
            const reason = firstLine(error);
            result.failures.push(`${label}: ${reason}`);
            log(error instanceof Error ? (error.stack ?? error.message) : String(error));
            if (attempt === retries) {
              result.error = reason;
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
    const elapsed = (performance.now() - started) / 1000;
    const loadAtEnd = os.loadavg()[0];

    const table = renderTable(results);
    const failureLines = results.flatMap((r) => r.failures.map((f) => `${r.name} [${f}]`));
    const failureText = failureLines.length
      ? `Failed attempts (each made again from setup; BENCH_RETRIES=${retries}):\n${failureLines.map((l) => `- ${l}`).join('\n')}`
      : '';
    console.log('');
    console.log(table);
    if (failureText) console.log(`\n${failureText}`);
    console.log('');
    const info = machine();
    console.log(`${info.cpus.count} × ${info.cpus.model}, ${info.memoryGiB} GiB, ${info.os}, node ${info.node}; ${runs} timed runs per case (+${warmup} warm-up), ${elapsed.toFixed(0)} s`);
    const load = `load average (1 min) ${loadAtStart.toFixed(2)} at the start of the runs, ${loadAtEnd.toFixed(2)} at the end`;
    // The bench itself keeps about one core busy; well above that, something else was running.
    const busy = Math.max(loadAtStart, loadAtEnd) > info.cpus.count;
    console.log(busy ? `WARNING: ${load} on ${info.cpus.count} CPUs: other work was running, the numbers are noisy.` : load);

    // ---- gulp-attache's extra measurements and the targets
    const loadBeforeExtras = os.loadavg()[0];
    say(`extras: load average (1 min) ${loadBeforeExtras.toFixed(2)}`);
    const extrasStarted = performance.now();
    const extras = await runExtras({ ctx, observations: ours.observations, results, sshdConfig, say });
    const extrasSeconds = (performance.now() - extrasStarted) / 1000;
    const loadAfterExtras = os.loadavg()[0];
    const extraText = extras.sections.map(renderSection).join('\n\n');
    const targetsText = renderTargets(extras.targets);
    console.log('');
    console.log(extraText);
    console.log('');
    console.log(targetsText);
    console.log('');
    console.log(`extras: ${extrasSeconds.toFixed(0)} s; load average (1 min) ${loadBeforeExtras.toFixed(2)} before them, ${loadAfterExtras.toFixed(2)} after`);

    const refMedian = (name: string) => {
      const r = results.find((x) => x.name === name);
      return r && !r.error && r.seconds.length ? median(r.seconds) : undefined;
    };
    const round3 = (n: number) => Math.round(n * 1000) / 1000;
    const refs = { scpFloor: refMedian(SCP_FLOOR), attache: refMedian(ATTACHE), shipit: refMedian(SHIPIT) };
    writeFileSync(
      RESULTS,
      JSON.stringify(
        {
          machine: { ...info, loadAverage1m: { start: round3(loadAtStart), end: round3(loadAtEnd) } },
          settings: { runs, warmupRuns: warmup, retries, order: 'round-robin over cases, each run on a fresh server root', elapsedSeconds: round3(elapsed) },
          fixture: {
            params: FIXTURE_PARAMS,
            assets: { files: fixture.assetFileCount, bytes: fixture.assetBytes, paths: fixture.assetPaths },
            longHistoryCommits: fixture.longHistoryCommits,
          },
          peers: { attache: 'bench/peers/attache-method.sh (tpg/attache Deployer.php, command for command)', shipit: shipit.versions },
          cases: results.map((r) => {
            const m = r.seconds.length ? median(r.seconds) : undefined;
            return {
              name: r.name,
              ...(r.error ? { error: `n/a: ${r.error}` } : {}),
              seconds: r.seconds.map(round3),
              median: m === undefined ? null : round3(m),
              min: r.seconds.length ? round3(Math.min(...r.seconds)) : null,
              max: r.seconds.length ? round3(Math.max(...r.seconds)) : null,
              ratio: {
                scpFloor: m !== undefined && refs.scpFloor ? round3(m / refs.scpFloor) : null,
                attache: m !== undefined && refs.attache ? round3(m / refs.attache) : null,
                shipit: m !== undefined && refs.shipit ? round3(m / refs.shipit) : null,
              },
              sshLoginsPerRun: r.sshLogins.length ? median(r.sshLogins) : null,
              bytesSent: r.bytesSent.length ? median(r.bytesSent) : null,
              failedAttempts: r.failures,
            };
          }),
          table,
          extras: {
            elapsedSeconds: round3(extrasSeconds),
            loadAverage1m: { start: round3(loadBeforeExtras), end: round3(loadAfterExtras) },
            sshdConfig,
            ...Object.fromEntries(extras.sections.map((s) => [s.key, { title: s.title, header: s.header, rows: s.rows, notes: s.notes, data: s.data }])),
          },
          targets: extras.targets,
        },
        null,
        2,
      ) + '\n',
    );
    writeFileSync(
      RESULTS_MD,
      resultsMarkdown({
        info,
        runs,
        warmup,
        elapsed,
        load: { start: loadAtStart, end: loadAtEnd, extrasStart: loadBeforeExtras, extrasEnd: loadAfterExtras },
        fixture: { files: fixture.assetFileCount, bytes: fixture.assetBytes, commits: fixture.longHistoryCommits },
        sshdConfig,
        table: failureText ? `${table}\n\n${failureText}` : table,
        sections: extras.sections,
        targets: extras.targets,
      }),
    );
    console.log(`results: ${path.relative(process.cwd(), RESULTS)}, ${path.relative(process.cwd(), RESULTS_MD)}; logs: ${path.relative(process.cwd(), LOGS)}/`);
  } finally {
    await server.stop();
    rmSync(home.dir, { recursive: true, force: true });
    rmSync(server.dir, { recursive: true, force: true });
    rmSync(ROOTS, { recursive: true, force: true });
  }
}

function resultsMarkdown(r: {
  info: ReturnType<typeof machine>;
  runs: number;
  warmup: number;
  elapsed: number;
  load: { start: number; end: number; extrasStart: number; extrasEnd: number };
  fixture: { files: number; bytes: number; commits: number };
  sshdConfig: string[];
  table: string;
  sections: Section[];
  targets: Target[];
}): string {
  const { info } = r;
  return [
    '# gulp-attache benchmark results',
    '',
    `Generated by \`npm run bench\` (bench/run.ts) on ${info.date}. Do not edit by hand: run the bench again.`,
    '',
    '## Machine',
    '',
    `- ${info.cpus.count} × ${info.cpus.model}, ${info.memoryGiB} GiB, ${info.os}`,
    `- node ${info.node}; ${info.ssh}; ${info.git}; ${info.php}; ${info.composer}; ${info.rsync}`,
    `- load average (1 min): ${r.load.start.toFixed(2)} at the start of the runs, ${r.load.end.toFixed(2)} at their end; ${r.load.extrasStart.toFixed(2)} / ${r.load.extrasEnd.toFixed(2)} around the extra measurements`,
    `- bench sshd on loopback, extra sshd_config: ${r.sshdConfig.length ? r.sshdConfig.map((c) => `\`${c}\``).join(', ') : 'none'}`,
    '',
    '## Main table',
    '',
    `Fixture: ${r.fixture.files} asset files, ${(r.fixture.bytes / 1e6).toFixed(1)} MB; a Laravel-shaped app with composer.lock; a long-history repository of ${r.fixture.commits} commits.`,
    `${r.runs} timed runs per case (+${r.warmup} warm-up), round-robin, each on a fresh server root; medians; ratios are of medians. Wall time of the runs: ${r.elapsed.toFixed(0)} s.`,
    '',
    r.table,
    '',
    '## Extra measurements',
    '',
    r.sections.map(renderSection).join('\n\n'),
    '',
    '## Targets',
    '',
    renderTargets(r.targets).replace(/^### Targets\n\n/, ''),
    '',
  ].join('\n');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
