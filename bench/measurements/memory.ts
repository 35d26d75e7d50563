/** Memory: ~1 GB through the upload plugin in streaming mode, in a child process (bench/measurements/memory-upload-1gb.ts). */
import { spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { gulpAttacheDir } from '../cases/gulp-attache';
import { fmt, mb, type Section } from '../report';
import { treeSize } from '../verify';
import { intEnv, type MeasurementInput } from './common';

const MEMORY_FILES = 8;

function ensureBigFiles(dir: string, count: number, bytesEach: number, say: (m: string) => void): string[] {
  mkdirSync(dir, { recursive: true });
  const files = Array.from({ length: count }, (_, i) => path.join(dir, `random-${i}.bin`));
  const stamp = path.join(dir, 'stamp.json');
  const want = JSON.stringify({ count, bytesEach });
  const ok =
    existsSync(stamp) && readFileSync(stamp, 'utf8') === want && files.every((f) => existsSync(f) && statSync(f).size === bytesEach);
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

export async function memory(input: MeasurementInput): Promise<{ section: Section; peakBytes?: number }> {
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
    notes.push(
      `disk: only ${(free / 2 ** 30).toFixed(1)} GiB free, so ${MEMORY_FILES} × ${(bytesEach / 2 ** 20).toFixed(0)} MiB instead of ${totalMb} MiB.`,
    );
  }
  const sourceDir = path.join(work, 'memory-source');
  ensureBigFiles(sourceDir, MEMORY_FILES, bytesEach, say);
  const dest = path.join(ctx.workDir, 'roots', 'memory-dest');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  spawnSync('sync');

  say(
    `memory: uploading ${MEMORY_FILES} × ${(bytesEach / 2 ** 20).toFixed(0)} MiB with the upload plugin (buffer: false) in a child process…`,
  );
  const script = path.join(__dirname, 'memory-upload-1gb.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: path.resolve(__dirname, '../..'),
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

  const header = [
    'files × size',
    'GB sent',
    'seconds',
    'MB/s',
    'RSS before upload MB',
    'VmHWM MB (peak RSS)',
    'sampled RSS max MB',
    'heapUsed max MB',
    'external max MB',
    'arrayBuffers max MB',
  ];
  if (code !== 0) {
    const reason = `the child exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
    return {
      section: {
        key: 'memory',
        title: 'Peak memory uploading ~1 GB (upload plugin, streaming)',
        header,
        rows: [[`n/a: ${reason}`]],
        notes,
        data: { error: reason },
      },
    };
  }
  const report = JSON.parse(stdout.trim().split('\n').at(-1) as string) as ChildReport;
  if (uploaded.files !== MEMORY_FILES || uploaded.bytes !== MEMORY_FILES * bytesEach) {
    notes.push(
      `verify FAILED: the destination held ${uploaded.files} files / ${uploaded.bytes} bytes, expected ${MEMORY_FILES} / ${MEMORY_FILES * bytesEach}.`,
    );
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
    'The child: `node --import tsx bench/measurements/memory-upload-1gb.ts`: gulp.src(<dir>/*.bin, { buffer: false }) → upload({ server }) over one connection (default concurrency 16).',
    `VmHWM: the kernel's peak resident set of the child (/proc/self/status at its end); sampled RSS: the parent read /proc/<pid>/status every 100 ms (${samples} samples). MB = 10^6 bytes.`,
    'The uploaded copy was deleted afterwards.',
  );
  return {
    section: {
      key: 'memory',
      title: 'Peak memory uploading ~1 GB (upload plugin, streaming)',
      header,
      rows: [row],
      notes,
      data: { ...report, sampledPeakRss: sampledPeak, samples, verified: uploaded },
    },
    peakBytes: report.vmHWM,
  };
}
