/**
 * gulp-attache's extra measurements, run after the main table (bench/run.ts) and printed as small
 * tables of their own, then the targets:
 *
 *   handshakes  SSH logins per deploy: sshd's "Accepted publickey" lines and handshakeCount()
 *   memory      peak RSS of a child process uploading ~1 GB with the upload plugin in streaming mode
 *   clone       the server's shallow mirror on the long-history fixture: a redeploy that fetches one
 *               new commit vs a fresh `git clone --depth 1` (time and bytes)
 *   overlap     the asset upload beside shared → composer → artisan: their sum vs the part's wall time
 *   fleet       1, 10 and 25 servers (each its own sshd and root), `--server=all`, parallel 10:
 *               total time and the spread of the live swaps (BENCH_FLEET=0 skips it)
 *
 * Environment: BENCH_FLEET=0 skips the fleet; BENCH_FLEET_SIZES (default "1,10,25");
 * BENCH_FLEET_RUNS (runs per fleet size, default 1; the one-server size runs at least 3 times, it is
 * the reference); BENCH_MEMORY=0 skips the 1 GB upload; BENCH_MEMORY_MB (default 1024, in 8 files).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acceptedLogins, startSshd, trust, type SshServer, type TestHome } from '../support/sshd';
import { createLogger } from '../src/log';
import { openSession } from '../src/ssh/session';
import type { DeployOutcome } from './attache-project';
import { CASE, gulpAttacheDir, projectFor, type Observations } from './cases/gulp-attache';
import { fmt, mb, median, type Section, type Target } from './report';
import type { BenchContext } from './types';
import { treeSize, verifyDeploy } from './verify';

/** What the runner measured for one case (run.ts's CaseResult). */
export interface MainResult {
  name: string;
  seconds: number[];
  sshLogins: number[];
  bytesSent: number[];
  error?: string;
}

export interface ExtrasInput {
  ctx: BenchContext;
  observations: Observations;
  results: MainResult[];
  /** Extra sshd_config lines the bench server got (the fleet's servers get the same). */
  sshdConfig: string[];
  say(message: string): void;
}

export interface ExtrasOutput {
  sections: Section[];
  targets: Target[];
}

function flag(name: string, fallback: boolean): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  return !['0', 'false', 'no', 'off'].includes(raw.toLowerCase());
}

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

/** The first line of an error; when it ends with ":" (e.g. "step "shared": 5 servers failed:"), the next one too. */
function firstLine(error: unknown): string {
  const lines = (error instanceof Error ? error.message : String(error)).split('\n');
  const head = lines[0].endsWith(':') && lines[1] ? `${lines[0]} ${lines[1].trim()}` : lines[0];
  return head.slice(0, 300);
}

/** Machine-wide CPU time from /proc/stat: busy and total jiffies (every CPU, every process on the machine). */
function cpuTimes(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/**
 * Runs `attempt` until it succeeds, at most `times` times; each failure is pushed onto `failures`
 * (reported under the section) and logged. A deploy that fails undoes itself, so an attempt that
 * starts from its own setup can simply be made again.
 */
async function retrying<T>(what: string, failures: string[], input: ExtrasInput, attempt: () => Promise<T>, times = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      failures.push(`${what}: ${firstLine(error)}`);
      input.ctx.log(error instanceof Error ? (error.stack ?? error.message) : String(error));
      if (i >= times) throw error;
      input.say(`${what}: FAILED (attempt ${i}, trying again): ${firstLine(error)}`);
    }
  }
}

function failureNotes(failures: string[]): string[] {
  return failures.length ? [`${failures.length} failed attempt(s), each made again: ${failures.join('; ')}`] : [];
}

/** The timed runs of a case: the runner runs warm-ups first, so they are the last `runs`. */
function timed<T>(all: T[], runs: number): T[] {
  return all.slice(-runs);
}

function stepSeconds(o: DeployOutcome, step: string): number {
  const s = o.steps[step];
  return s && Number.isFinite(s.end) ? (s.end - s.start) / 1000 : NaN;
}

function dirBytes(dir: string): number {
  return existsSync(dir) ? treeSize(dir).bytes : 0;
}

function git(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Buffer } = {}): string {
  const r = spawnSync('git', args, { cwd: options.cwd, env: { ...process.env, ...options.env }, input: options.input, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr?.toString().trim()}`);
  return r.stdout.toString().trim();
}

function countObjects(gitDir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of git(['--git-dir', gitDir, 'count-objects', '-v']).split('\n')) {
    const [key, value] = line.split(':').map((s) => s.trim());
    if (key && value !== undefined) out[key] = Number(value);
  }
  return out;
}

async function freshRoot(dir: string): Promise<string> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, '.env'), 'APP_NAME=Bench\nAPP_ENV=production\nAPP_KEY=base64:YmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJlbmNoMDA=\nAPP_DEBUG=false\n');
  return dir;
}

// ---------------------------------------------------------------------------------------------
// 5. Handshakes

function handshakes(input: ExtrasInput): Section {
  const { ctx, observations, results } = input;
  const rows: string[][] = [];
  const data: Record<string, unknown> = {};
  const of = (name: string) => results.find((r) => r.name === name);
  const entries: Array<[string, number[] | undefined]> = [
    [CASE.full, timed(observations.full, ctx.runs).map((o) => o.handshakes)],
    [CASE.unchanged, timed(observations.unchanged, ctx.runs).map((o) => o.handshakes)],
    [CASE.oneAsset, timed(observations.oneAsset, ctx.runs).map((o) => o.handshakes)],
    [CASE.upload, timed(observations.upload, ctx.runs).map((o) => o.handshakes)],
    [CASE.uploadStreaming, timed(observations.uploadStreaming, ctx.runs).map((o) => o.handshakes)],
    ['attache method (full deploy)', undefined],
    ['shipit-deploy (full deploy)', undefined],
  ];
  for (const [name, inProcess] of entries) {
    const r = of(name);
    const logins = r && !r.error ? r.sshLogins : [];
    const range = (v: number[]) => (v.length ? `${Math.min(...v)}–${Math.max(...v)}` : 'n/a');
    rows.push([name, logins.length ? String(median(logins)) : 'n/a', range(logins), inProcess ? (inProcess.length ? range(inProcess) : 'n/a') : '(other process)']);
    data[name] = { sshdAcceptedPerRun: logins, handshakeCountPerRun: inProcess ?? null };
  }
  return {
    key: 'handshakes',
    title: 'SSH logins per run',
    header: ['case', 'sshd logins (median)', 'sshd logins (min–max)', 'handshakeCount() (min–max)'],
    rows,
    notes: [
      'sshd logins: "Accepted publickey" lines the bench sshd logged during each timed run (LogLevel VERBOSE).',
      'handshakeCount(): SSH handshakes gulp-attache made in this process during the run (src/ssh/session.ts).',
    ],
    data,
  };
}

// ---------------------------------------------------------------------------------------------
// The server's shell: what one remote command costs on the bench sshd, and on one without its setting

async function commandLatency(port: number, count = 12): Promise<number> {
  const log = createLogger({ verbosity: 'quiet', interactive: false, write: () => undefined });
  const session = await openSession({ host: '127.0.0.1', port, user: 'root' }, log);
  try {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await session.exec('true');
      times.push(performance.now() - t0);
    }
    return median(times.slice(2));
  } finally {
    await session.close();
  }
}

async function shellCost(input: ExtrasInput): Promise<Section> {
  const { ctx } = input;
  const home: TestHome = { ...ctx.home, publicKey: readFileSync(`${ctx.home.key}.pub`, 'utf8').trim() };
  const plain = await startSshd(home, { name: 'bench-plain' });
  trust(home, plain);
  const failures: string[] = [];
  try {
    const configured = await retrying('command latency (bench sshd)', failures, input, () => commandLatency(ctx.server.port));
    const unchanged = await retrying('command latency (plain sshd)', failures, input, () => commandLatency(plain.port));
    const setting = input.sshdConfig.length ? input.sshdConfig.join('; ') : '(none)';
    return {
      key: 'serverShell',
      title: 'One remote command (`true` on an open connection) on the bench sshd',
      header: ['sshd', 'ms per command (median)'],
      rows: [
        [`the bench sshd (extra sshd_config: ${setting})`, fmt(configured, 1)],
        ['the same sshd without extra settings', fmt(unchanged, 1)],
      ],
      notes: [
        'sshd runs every command through the user\'s shell; bash sources ~/.bashrc when started by sshd. This machine\'s /root/.bashrc runs `pyenv init -` and `pyenv virtualenv-init -` (~100–200 ms per command), which a deploy user\'s non-interactive shell normally skips.',
        'So the bench sshd gets `SetEnv SHLVL=1` (bash then acts as a nested shell and skips ~/.bashrc) unless BENCH_SERVER_BASHRC=1. It applies to every case alike: the floors, both peers and gulp-attache talk to the same server.',
        ...failureNotes(failures),
      ],
      data: { settings: input.sshdConfig, configuredMs: configured, withoutSettingsMs: unchanged },
    };
  } finally {
    await plain.stop();
    rmSync(plain.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// 6. Memory: ~1 GB through the upload plugin in streaming mode, in a child process

const MEMORY_FILES = 8;

function ensureBigFiles(dir: string, count: number, bytesEach: number, say: (m: string) => void): string[] {
  mkdirSync(dir, { recursive: true });
  const files = Array.from({ length: count }, (_, i) => path.join(dir, `random-${i}.bin`));
  const stamp = path.join(dir, 'stamp.json');
  const want = JSON.stringify({ count, bytesEach });
  const ok = existsSync(stamp) && readFileSync(stamp, 'utf8') === want && files.every((f) => existsSync(f) && statSync(f).size === bytesEach);
  if (ok) return files;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  say(`generating ${count} × ${(bytesEach / 2 ** 20).toFixed(0)} MiB of random data in ${dir} (once)…`);
  const chunk = Buffer.allocUnsafe(4 * 2 ** 20);
  for (const file of files) {
    const fd = openSync(file, 'w');
    try {
      for (let written = 0; written < bytesEach; ) {
        const n = Math.min(chunk.length, bytesEach - written);
        randomFillSync(chunk, 0, n);
        writeSync(fd, chunk, 0, n);
        written += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  writeFileSync(stamp, want);
  return files;
}

function vmRss(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface ChildReport {
  seconds: number;
  files: number;
  bytes: number;
  /** The child's RSS with everything loaded, before the upload began. */
  rssBefore: number;
  peak: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  vmHWM: number;
  vmRSS: number;
}

async function memory(input: ExtrasInput): Promise<{ section: Section; peakBytes?: number }> {
  const { ctx, say } = input;
  const totalMb = intEnv('BENCH_MEMORY_MB', 1024, 8);
  const work = gulpAttacheDir(ctx);
  mkdirSync(work, { recursive: true });
  const free = statfsSync(work).bavail * statfsSync(work).bsize;
  let bytesEach = Math.floor((totalMb * 2 ** 20) / MEMORY_FILES);
  // Source + the uploaded copy + room to spare.
  const notes: string[] = [];
  if (free < MEMORY_FILES * bytesEach * 2 + 2 * 2 ** 30) {
    bytesEach = Math.max(2 ** 20, Math.floor((free - 2 * 2 ** 30) / (2 * MEMORY_FILES)));
    notes.push(`disk: only ${(free / 2 ** 30).toFixed(1)} GiB free, so ${MEMORY_FILES} × ${(bytesEach / 2 ** 20).toFixed(0)} MiB instead of ${totalMb} MiB.`);
  }
  const sourceDir = path.join(work, 'memory-source');
  ensureBigFiles(sourceDir, MEMORY_FILES, bytesEach, say);
  const dest = path.join(ctx.workDir, 'roots', 'memory-dest');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  spawnSync('sync');

  say(`memory: uploading ${MEMORY_FILES} × ${(bytesEach / 2 ** 20).toFixed(0)} MiB with the upload plugin (buffer: false) in a child process…`);
  const script = path.join(__dirname, 'memory-upload-1gb.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: path.resolve(__dirname, '..'),
    env: { ...process.env, BENCH_MEM_SOURCE: sourceDir, BENCH_MEM_DEST: dest, BENCH_MEM_PORT: String(ctx.server.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  let sampledPeak = 0;
  let samples = 0;
  const sampler = setInterval(() => {
    const rss = vmRss(child.pid as number);
    if (rss !== undefined) {
      samples++;
      sampledPeak = Math.max(sampledPeak, rss);
    }
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearInterval(sampler);
  const uploaded = treeSize(dest);
  rmSync(dest, { recursive: true, force: true });
  // Keep the source for the next bench run unless the disk is getting short.
  if (statfsSync(work).bavail * statfsSync(work).bsize < 10 * 2 ** 30) rmSync(sourceDir, { recursive: true, force: true });

  const header = ['files × size', 'GB sent', 'seconds', 'MB/s', 'RSS before upload MB', 'VmHWM MB (peak RSS)', 'sampled RSS max MB', 'heapUsed max MB', 'external max MB', 'arrayBuffers max MB'];
  if (code !== 0) {
    const reason = `the child exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
    return { section: { key: 'memory', title: 'Peak memory uploading ~1 GB (upload plugin, streaming)', header, rows: [[`n/a: ${reason}`]], notes, data: { error: reason } } };
  }
  const report = JSON.parse(stdout.trim().split('\n').at(-1) as string) as ChildReport;
  if (uploaded.files !== MEMORY_FILES || uploaded.bytes !== MEMORY_FILES * bytesEach) {
    notes.push(`verify FAILED: the destination held ${uploaded.files} files / ${uploaded.bytes} bytes, expected ${MEMORY_FILES} / ${MEMORY_FILES * bytesEach}.`);
  }
  const row = [
    `${MEMORY_FILES} × ${(bytesEach / 2 ** 20).toFixed(0)} MiB`,
    (report.bytes / 1e9).toFixed(2),
    fmt(report.seconds),
    fmt(report.bytes / 1e6 / report.seconds, 0),
    mb(report.rssBefore, 0),
    mb(report.vmHWM, 0),
    mb(sampledPeak, 0),
    mb(report.peak.heapUsed, 0),
    mb(report.peak.external, 0),
    mb(report.peak.arrayBuffers, 0),
  ];
  notes.push(
    'The child: `node --import tsx bench/memory-upload-1gb.ts`: gulp.src(<dir>/*.bin, { buffer: false }) → upload({ server }) over one connection (default concurrency 16).',
    `VmHWM: the kernel's peak resident set of the child (/proc/self/status at its end); sampled RSS: the parent read /proc/<pid>/status every 100 ms (${samples} samples). MB = 10^6 bytes.`,
    'The uploaded copy was deleted afterwards.',
  );
  return {
    section: { key: 'memory', title: 'Peak memory uploading ~1 GB (upload plugin, streaming)', header, rows: [row], notes, data: { ...report, sampledPeakRss: sampledPeak, samples, verified: uploaded } },
    peakBytes: report.vmHWM,
  };
}

// ---------------------------------------------------------------------------------------------
// 7. Clone strategy on the long-history fixture

const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.invalid',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.invalid',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

/** One new commit on `branch` of a bare repository: one new ~50 KB random file (plumbing, no work tree). */
function addCommit(bare: string, branch: string, n: number): void {
  const data = randomFillSync(Buffer.alloc(50 * 1024));
  const blob = git(['--git-dir', bare, 'hash-object', '-w', '--stdin'], { input: data });
  const index = path.join(path.dirname(bare), `index-${n}`);
  const env = { ...GIT_IDENTITY, GIT_INDEX_FILE: index };
  git(['--git-dir', bare, 'read-tree', branch], { env });
  git(['--git-dir', bare, 'update-index', '--add', '--cacheinfo', `100644,${blob},resources/data/bench-new-${n}.bin`], { env });
  const tree = git(['--git-dir', bare, 'write-tree'], { env });
  const commit = git(['--git-dir', bare, 'commit-tree', tree, '-p', branch, '-m', `bench: new commit ${n}`], { env });
  git(['--git-dir', bare, 'update-ref', `refs/heads/${branch}`, commit]);
  rmSync(index, { force: true });
}

async function cloneStrategy(input: ExtrasInput): Promise<{ section: Section; mirrorBytes?: number; freshBytes?: number }> {
  const { ctx, say } = input;
  const dir = path.join(gulpAttacheDir(ctx), 'clone-strategy');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const bare = path.join(dir, 'repo.git');
  git(['clone', '-q', '--bare', '--no-local', ctx.fixture.longHistoryRepo, bare], { env: GIT_IDENTITY });
  const url = `file://${bare}`;
  const project = projectFor(ctx, 'clone-strategy', { repository: url });
  const root = await freshRoot(path.join(ctx.workDir, 'roots', 'clone-strategy'));
  project.configure([{ name: 'bench', port: ctx.server.port, root }]);
  const mirror = path.join(root, '.attache-mirror.git');
  const reps = Math.min(ctx.runs, 3);
  say(`clone strategy: long-history repository (${ctx.fixture.longHistoryCommits} commits, ${mb(dirBytes(bare), 1)} MB packed); first deploy, then ${reps} × (one new commit, redeploy, fresh clone)…`);

  const failures: string[] = [];
  const first = await retrying('clone strategy: first deploy', failures, input, async () => {
    const o = await project.deploy();
    verifyDeploy(ctx.fixture, root, 'live');
    return o;
  });
  const firstMirror = dirBytes(path.join(mirror, 'objects'));
  let commits = 0;
  const redeploys: Array<{ deploySeconds: number; cloneStep: number; bytes: number; objects: Record<string, number> }> = [];
  const fresh: Array<{ seconds: number; bytes: number }> = [];
  for (let i = 1; i <= reps; i++) {
    // A failed redeploy may have fetched already: the retry starts over with another new commit.
    await retrying(`clone strategy: redeploy ${i}`, failures, input, async () => {
      addCommit(bare, ctx.fixture.branch, ++commits);
      spawnSync('sync');
      const before = dirBytes(path.join(mirror, 'objects'));
      const beforeObjects = countObjects(mirror);
      const o = await project.deploy();
      verifyDeploy(ctx.fixture, root, 'live');
      const after = dirBytes(path.join(mirror, 'objects'));
      const afterObjects = countObjects(mirror);
      redeploys.push({
        deploySeconds: o.seconds,
        cloneStep: stepSeconds(o, 'clone'),
        bytes: after - before,
        objects: Object.fromEntries(Object.keys(afterObjects).map((k) => [k, afterObjects[k] - (beforeObjects[k] ?? 0)])),
      });
    });

    // What Attaché and shipit do on every deploy: a fresh shallow clone with a checkout.
    const target = path.join(dir, `fresh-${i}`);
    spawnSync('sync');
    const t0 = performance.now();
    git(['clone', '-q', '--depth', '1', '--branch', ctx.fixture.branch, url, target], { env: GIT_IDENTITY });
    fresh.push({ seconds: (performance.now() - t0) / 1000, bytes: dirBytes(path.join(target, '.git', 'objects')) });
    rmSync(target, { recursive: true, force: true });
  }
  rmSync(root, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });

  const mirrorBytes = median(redeploys.map((r) => r.bytes));
  const freshBytes = median(fresh.map((f) => f.bytes));
  const rows = [
    ['gulp-attache first deploy: mirror made (clone --bare --depth 1) + checkout', fmt(stepSeconds(first, 'clone')), mb(firstMirror, 3), fmt(first.seconds)],
    ['gulp-attache redeploy, one new commit: mirror fetch --depth 1 + checkout', fmt(median(redeploys.map((r) => r.cloneStep))), mb(mirrorBytes, 3), fmt(median(redeploys.map((r) => r.deploySeconds)))],
    ['fresh git clone --depth 1 (Attaché, shipit: every deploy)', fmt(median(fresh.map((f) => f.seconds))), mb(freshBytes, 3), ''],
  ];
  return {
    section: {
      key: 'cloneStrategy',
      title: `Clone strategy on the long-history repository (${ctx.fixture.longHistoryCommits} commits)`,
      header: ['what', 'clone s (median)', 'MB received', 'whole deploy s'],
      rows,
      notes: [
        `Medians of ${reps} rounds; each round adds one commit (one new 50 KB random file) to a copy of the fixture's long-history repository.`,
        'clone s: the deploy\'s clone step (mkdir, mirror clone/fetch over file://, read-tree + checkout-index of every file into the release), from its log; fresh clone: `git clone --depth 1` with its checkout, timed here (the server is this machine).',
        'MB received: growth of the mirror\'s objects/ (du, apparent size) for the redeploy; size of the fresh clone\'s .git/objects. Random-byte blobs do not compress, so these are close to the bytes sent.',
        ...failureNotes(failures),
      ],
      data: { first: { cloneStep: stepSeconds(first, 'clone'), mirrorBytes: firstMirror, deploySeconds: first.seconds }, redeploys, fresh },
    },
    mirrorBytes,
    freshBytes,
  };
}

// ---------------------------------------------------------------------------------------------
// 8. Overlap: assets beside shared → composer → artisan

function overlap(input: ExtrasInput): Section {
  const { ctx, observations } = input;
  const rows: string[][] = [];
  const data: Record<string, unknown> = {};
  const cases: Array<[string, DeployOutcome[]]> = [
    [CASE.full, timed(observations.full, ctx.runs)],
    [CASE.unchanged, timed(observations.unchanged, ctx.runs)],
    [CASE.oneAsset, timed(observations.oneAsset, ctx.runs)],
  ];
  for (const [name, runs] of cases) {
    const per = runs.map((o) => {
      const chain = ['shared', 'composer', 'artisan'].reduce((sum, s) => sum + stepSeconds(o, s), 0);
      const assets = stepSeconds(o, 'assets');
      const start = Math.min(o.steps.shared?.start ?? NaN, o.steps.assets?.start ?? NaN);
      const end = Math.max(o.steps.artisan?.end ?? NaN, o.steps.assets?.end ?? NaN);
      const wall = (end - start) / 1000;
      const summary = o.summary[0]?.timings ?? {};
      return { chain, assets, serial: chain + assets, wall, saved: chain + assets - wall, summary };
    });
    const m = (key: 'chain' | 'assets' | 'serial' | 'wall' | 'saved') => median(per.map((p) => p[key]));
    rows.push([name, fmt(m('chain')), fmt(m('assets')), fmt(m('serial')), fmt(m('wall')), fmt(m('saved')), m('serial') > 0 ? `${((m('saved') / Math.min(m('chain'), m('assets'))) * 100).toFixed(0)}%` : 'n/a']);
    data[name] = per;
  }
  return {
    key: 'overlap',
    title: 'Overlap: the asset upload runs beside shared → composer → artisan',
    header: ['case', 'shared+composer+artisan s', 'assets s', 'sum s', 'wall of that part s', 'saved s', 'shorter branch hidden'],
    rows,
    notes: [
      `Medians of the timed runs. Step times from the runner's "<step>…" / "<step> done in" log lines (ms resolution; the deploy summary prints the same to 0.1 s).`,
      'wall of that part: from the first of "shared…"/"assets…" to the last of "artisan done"/"assets done". saved = sum − wall; "shorter branch hidden" = saved / the shorter of the two branches (100% = fully overlapped).',
    ],
    data,
  };
}

// ---------------------------------------------------------------------------------------------
// 9. Fleet

interface FleetRun {
  servers: number;
  seconds: number;
  /** Share of the machine's CPU time that was busy during the deploy (all processes, all CPUs). */
  cpuBusy: number;
  spreadMs: number;
  liveStep: number;
  uploadedBytes: number;
  loginsPerServer: number[];
  handshakes: number;
}

interface FleetPass {
  runs: FleetRun[];
  /** Runs (size, rep) that failed every attempt. */
  gaveUp: Array<{ servers: number; rep: number }>;
  failures: string[];
  attempts: Record<number, number>;
}

const FLEET_ATTEMPTS = 3;

/** One pass over the fleet sizes; a run that fails FLEET_ATTEMPTS times is given up (recorded), the pass goes on. */
async function fleetPass(input: ExtrasInput, servers: SshServer[], sizes: number[], runsPer: number): Promise<FleetPass> {
  const { ctx, say } = input;
  const base = path.join(ctx.workDir, 'roots', 'fleet');
  const project = projectFor(ctx, 'fleet');
  const pass: FleetPass = { runs: [], gaveUp: [], failures: [], attempts: {} };
  try {
    for (const size of sizes) {
      const reps = size === 1 ? Math.max(3, runsPer) : runsPer;
      const names = servers.slice(0, size).map((s) => s.name);
      for (let rep = 1; rep <= reps; rep++) {
        say(`fleet: ${size} server${size === 1 ? '' : 's'}, run ${rep}/${reps}…`);
        let cpuBusy = NaN;
        try {
          const { o, logins } = await retrying(`fleet of ${size}, run ${rep}`, pass.failures, input, async () => {
            pass.attempts[size] = (pass.attempts[size] ?? 0) + 1;
            const roots: string[] = [];
            for (const name of names) roots.push(await freshRoot(path.join(base, `${size}`, name)));
            project.configure(names.map((name, i) => ({ name, port: servers[i].port, root: roots[i] })));
            spawnSync('sync');
            const before = servers.slice(0, size).map((s) => acceptedLogins(s));
            try {
              const cpu0 = cpuTimes();
              const o = await project.deploy(['--server=all']);
              const cpu1 = cpuTimes();
              cpuBusy = (cpu1.busy - cpu0.busy) / Math.max(1, cpu1.total - cpu0.total);
              const logins = servers.slice(0, size).map((s, i) => acceptedLogins(s) - before[i]);
              roots.forEach((root) => verifyDeploy(ctx.fixture, root, 'live'));
              if (o.summary.length !== size || o.summary.some((r) => r.result !== 'deployed')) throw new Error(`fleet of ${size}: not every server deployed`);
              if (o.swaps.length !== size) throw new Error(`fleet of ${size}: ${o.swaps.length} swap lines, expected ${size}`);
              return { o, logins };
            } finally {
              rmSync(path.join(base, `${size}`), { recursive: true, force: true });
              spawnSync('sync');
            }
          }, FLEET_ATTEMPTS);
          const times = o.swaps.map((s) => s.t);
          pass.runs.push({
            servers: size,
            seconds: o.seconds,
            cpuBusy,
            spreadMs: Math.max(...times) - Math.min(...times),
            liveStep: stepSeconds(o, 'live'),
            uploadedBytes: o.summary.reduce((sum, r) => sum + r.uploaded.bytes, 0),
            loginsPerServer: logins,
            handshakes: o.handshakes,
          });
          say(`fleet: ${size} server${size === 1 ? '' : 's'}: ${o.seconds.toFixed(2)} s, swap spread ${pass.runs.at(-1)!.spreadMs.toFixed(0)} ms`);
        } catch {
          pass.gaveUp.push({ servers: size, rep });
          say(`fleet: ${size} servers, run ${rep}: given up after ${FLEET_ATTEMPTS} failed attempts`);
        }
      }
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  return pass;
}

async function fleet(input: ExtrasInput): Promise<{ section: Section; runs: FleetRun[] }> {
  const { ctx, say } = input;
  const sizes = (process.env.BENCH_FLEET_SIZES ?? '1,10,25').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
  const runsPer = intEnv('BENCH_FLEET_RUNS', 1, 1);
  const max = Math.max(...sizes);
  const home: TestHome = { ...ctx.home, publicKey: readFileSync(`${ctx.home.key}.pub`, 'utf8').trim() };
  const servers: SshServer[] = [];
  const load = os.loadavg()[0];
  let pass: FleetPass;
  try {
    say(`fleet: starting ${max} sshd servers on loopback…`);
    for (let i = 0; i < max; i++) {
      const server = await startSshd(home, { name: `web${String(i + 1).padStart(2, '0')}`, config: input.sshdConfig });
      trust(home, server);
      servers.push(server);
    }
    pass = await fleetPass(input, servers, sizes, runsPer);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    for (const s of servers) rmSync(s.dir, { recursive: true, force: true });
  }

  const rows: string[][] = [];
  const one = median(pass.runs.filter((r) => r.servers === 1).map((r) => r.seconds));
  for (const size of sizes) {
    const of = pass.runs.filter((r) => r.servers === size);
    const gaveUp = pass.gaveUp.filter((g) => g.servers === size).length;
    const attempts = pass.attempts[size] ?? 0;
    const failedAttempts = attempts - of.length;
    if (!of.length) {
      rows.push([String(size), `0 (${gaveUp} given up)`, `${failedAttempts}/${attempts}`, 'n/a', '', '', '', '', '', '', '']);
      continue;
    }
    const seconds = median(of.map((r) => r.seconds));
    const logins = of.flatMap((r) => r.loginsPerServer);
    rows.push([
      String(size),
      gaveUp ? `${of.length} (${gaveUp} given up)` : String(of.length),
      `${failedAttempts}/${attempts}`,
      fmt(seconds),
      Number.isFinite(one) ? `${(seconds / one).toFixed(2)}×` : 'n/a',
      fmt(seconds / size),
      `${(median(of.map((r) => r.cpuBusy)) * 100).toFixed(0)}%`,
      fmt(median(of.map((r) => r.spreadMs)), 0),
      fmt(median(of.map((r) => r.liveStep))),
      mb(median(of.map((r) => r.uploadedBytes)), 0),
      logins.length ? `${Math.min(...logins)}–${Math.max(...logins)}` : 'n/a',
    ]);
  }
  return {
    section: {
      key: 'fleet',
      title: 'Fleet: `gulp deploy --server=all`, parallel 10 (default), each server its own sshd and root on loopback',
      header: ['servers', 'runs', 'failed attempts', 'total s (median)', '× one server', 's per server', 'machine CPU busy', 'swap spread ms', 'live step s', 'MB uploaded (all servers)', 'ssh logins per server'],
      rows,
      notes: [
        'swap spread: from the first server\'s live swap to the last, by the swap plugin\'s "[server] …/live -> releases/<id>" log lines (each written right after that server\'s rename and its check).',
        `A run is given up after ${FLEET_ATTEMPTS} failed attempts (a failed deploy rolls every server back; each attempt starts from fresh roots).`,
        `Every server is on this machine: its sshd, git, composer and the SFTP writes of all of them share the ${os.cpus().length} CPUs with the deploying process, so the time grows with the fleet here where real servers would each bring their own CPU. machine CPU busy: the share of all CPUs' time (every process on the machine, from /proc/stat) that was busy during the deploy. Load average (1 min) before the fleet: ${load.toFixed(2)}.`,
        'The one-server size runs at least 3 times (it is the reference); × one server compares with the one-server median.',
        ...(pass.failures.length ? [`Failed attempts: ${pass.failures.slice(0, 6).join('; ')}${pass.failures.length > 6 ? `; … (${pass.failures.length} in all, see results.json)` : ''}`] : []),
      ],
      data: pass,
    },
    runs: pass.runs,
  };
}

// ---------------------------------------------------------------------------------------------

export async function runExtras(input: ExtrasInput): Promise<ExtrasOutput> {
  const { ctx, observations, results, say } = input;
  const sections: Section[] = [];
  const guard = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      say(`${name}: FAILED: ${message}`);
      sections.push({ key: name, title: `${name}: FAILED`, header: ['error'], rows: [[message]], notes: ['see bench/.work/logs/bench.log'], data: { error: message } });
      ctx.log(error instanceof Error ? (error.stack ?? error.message) : String(error));
      return undefined;
    }
  };

  const shell = await guard('serverShell', () => shellCost(input));
  if (shell) sections.push(shell);
  sections.push(handshakes(input));
  let memoryPeak: number | undefined;
  let memorySkipped = false;
  if (flag('BENCH_MEMORY', true)) {
    const m = await guard('memory', () => memory(input));
    if (m) {
      sections.push(m.section);
      memoryPeak = m.peakBytes;
    }
  } else memorySkipped = true;
  const clone = await guard('cloneStrategy', () => cloneStrategy(input));
  if (clone) sections.push(clone.section);
  sections.push(overlap(input));
  let fleetRuns: FleetRun[] | undefined;
  const fleetOn = flag('BENCH_FLEET', true);
  if (fleetOn) {
    const f = await guard('fleet', () => fleet(input));
    if (f) {
      sections.push(f.section);
      fleetRuns = f.runs;
    }
  }

  // ---- targets
  const med = (name: string) => {
    const r = results.find((x) => x.name === name);
    return r && !r.error && r.seconds.length ? median(r.seconds) : undefined;
  };
  const ratioTarget = (goal: string, a: number | undefined, b: number | undefined, max: number, what: string): Target =>
    a === undefined || b === undefined
      ? { goal, measured: `n/a (${what} missing)`, met: null }
      : { goal, measured: `${(a / b).toFixed(2)}× (${a.toFixed(2)} s vs ${b.toFixed(2)} s)`, met: a / b <= max };
  const full = med(CASE.full);
  const targets: Target[] = [
    ratioTarget('full deploy ≤ 0.5× attaché method', full, med('attache method (full deploy)'), 0.5, 'a median'),
    ratioTarget('full deploy ≤ 0.3× shipit-deploy', full, med('shipit-deploy (full deploy)'), 0.3, 'a median'),
    ratioTarget('upload step alone ≤ 1.0× scp -r', med(CASE.upload), med('floor: scp -r'), 1.0, 'a median'),
  ];
  const oneRuns = timed(observations.oneAsset, ctx.runs);
  const oneBytes = median(oneRuns.map((o) => o.summary[0].uploaded.bytes));
  targets.push(
    oneRuns.length
      ? {
          goal: 'one-asset redeploy sends < 1% of the full upload\'s bytes',
          measured: `${((oneBytes / ctx.fixture.assetBytes) * 100).toFixed(3)}% (${(oneBytes / 1024).toFixed(1)} KiB of ${mb(ctx.fixture.assetBytes, 1)} MB)`,
          met: oneBytes / ctx.fixture.assetBytes < 0.01,
        }
      : { goal: 'one-asset redeploy sends < 1% of the full upload\'s bytes', measured: 'n/a', met: null },
  );
  const oneAssets = median(oneRuns.map((o) => stepSeconds(o, 'assets')));
  const fullAssets = median(timed(observations.full, ctx.runs).map((o) => stepSeconds(o, 'assets')));
  const uploadAlone = med(CASE.upload);
  targets.push(
    Number.isFinite(oneAssets) && Number.isFinite(fullAssets)
      ? {
          goal: 'one-asset redeploy\'s assets step ≤ 0.2× the full upload step',
          measured: `${(oneAssets / fullAssets).toFixed(2)}× (${oneAssets.toFixed(2)} s vs the full deploy's assets step ${fullAssets.toFixed(2)} s; ${uploadAlone ? `${(oneAssets / uploadAlone).toFixed(2)}× the upload step alone` : ''})`,
          met: oneAssets / fullAssets <= 0.2,
        }
      : { goal: 'one-asset redeploy\'s assets step ≤ 0.2× the full upload step', measured: 'n/a', met: null },
  );
  const fullLogins = results.find((r) => r.name === CASE.full)?.sshLogins ?? [];
  const fullHandshakes = timed(observations.full, ctx.runs).map((o) => o.handshakes);
  targets.push(
    fullLogins.length
      ? {
          goal: 'exactly 1 SSH handshake per full deploy',
          measured: `sshd logins per run: ${[...new Set(fullLogins)].join(', ')}; handshakeCount(): ${[...new Set(fullHandshakes)].join(', ')} (${fullLogins.length} runs)`,
          met: fullLogins.every((n) => n === 1) && fullHandshakes.every((n) => n === 1),
        }
      : { goal: 'exactly 1 SSH handshake per full deploy', measured: 'n/a', met: null },
  );
  targets.push(
    memoryPeak !== undefined
      ? { goal: 'peak memory uploading ~1 GB < 300 MB', measured: `${mb(memoryPeak, 0)} MB (VmHWM)`, met: memoryPeak < 300e6 }
      : { goal: 'peak memory uploading ~1 GB < 300 MB', measured: memorySkipped ? 'skipped (BENCH_MEMORY=0)' : 'n/a (failed)', met: null },
  );
  targets.push(
    clone?.mirrorBytes !== undefined && clone.freshBytes !== undefined
      ? {
          goal: 'mirror redeploy transfers less than a fresh clone',
          measured: `${mb(clone.mirrorBytes, 3)} MB vs ${mb(clone.freshBytes, 3)} MB (${((clone.mirrorBytes / clone.freshBytes) * 100).toFixed(2)}%)`,
          met: clone.mirrorBytes < clone.freshBytes,
        }
      : { goal: 'mirror redeploy transfers less than a fresh clone', measured: 'n/a', met: null },
  );
  const fleetMedian = (n: number, key: 'seconds' | 'spreadMs') => median((fleetRuns ?? []).filter((r) => r.servers === n).map((r) => r[key]));
  const biggest = fleetRuns?.length ? Math.max(...fleetRuns.map((r) => r.servers)) : undefined;
  const one = fleetMedian(1, 'seconds');
  const big = biggest !== undefined ? fleetMedian(biggest, 'seconds') : NaN;
  const skipped = fleetOn ? 'n/a (failed)' : 'skipped (BENCH_FLEET=0)';
  targets.push(
    Number.isFinite(one) && Number.isFinite(big) && biggest !== undefined && biggest > 1
      ? { goal: `${biggest} servers ≤ 2× one server`, measured: `${(big / one).toFixed(2)}× (${big.toFixed(2)} s vs ${one.toFixed(2)} s)`, met: big / one <= 2 }
      : { goal: '25 servers ≤ 2× one server', measured: skipped, met: null },
  );
  const spread = biggest !== undefined ? fleetMedian(biggest, 'spreadMs') : NaN;
  targets.push(
    Number.isFinite(spread)
      ? { goal: `swap spread across ${biggest} servers < 250 ms`, measured: `${spread.toFixed(0)} ms`, met: spread < 250 }
      : { goal: 'swap spread across 25 servers < 250 ms', measured: skipped, met: null },
  );
  return { sections, targets };
}
