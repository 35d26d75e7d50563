/**
 * The child process of the memory measurement (bench/measurements/memory.ts): uploads every *.bin file of
 * BENCH_MEM_SOURCE (~1 GB of random data) with the upload plugin in streaming mode
 * (gulp.src(…, { buffer: false })) to BENCH_MEM_DEST on the bench sshd (127.0.0.1:BENCH_MEM_PORT,
 * user root, HOME's key and known_hosts), then prints one JSON line: seconds, files, bytes, its own
 * memory samples (process.memoryUsage() every 100 ms) and VmHWM/VmRSS from /proc/self/status.
 *
 *   BENCH_MEM_SOURCE=… BENCH_MEM_DEST=… BENCH_MEM_PORT=… node --import tsx bench/measurements/memory-upload-1gb.ts
 *
 * The parent samples this process's RSS from /proc/<pid>/status as well.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createLogger } from '../../src/log';
import { upload } from '../../src/plugins/upload';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const gulp = require('gulp') as { src(globs: string | string[], options?: Record<string, unknown>): NodeJS.ReadableStream };

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function procStatus(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
    const match = /^(Vm\w+):\s+(\d+) kB/.exec(line);
    if (match) out[match[1]] = Number(match[2]) * 1024;
  }
  return out;
}

async function main(): Promise<void> {
  const source = env('BENCH_MEM_SOURCE');
  const dest = env('BENCH_MEM_DEST');
  const port = Number(env('BENCH_MEM_PORT'));
  const peak = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    for (const key of Object.keys(peak) as Array<keyof typeof peak>) peak[key] = Math.max(peak[key], m[key]);
  };
  sample();
  const before = process.memoryUsage().rss;
  const timer = setInterval(sample, 100);
  const logger = createLogger({ verbosity: 'quiet', interactive: false, write: () => undefined });
  let files = 0;
  let bytes = 0;
  const t0 = performance.now();
  await pipeline(
    gulp.src(path.join(source, '*.bin'), { base: source, buffer: false, encoding: false }),
    upload({ server: { host: '127.0.0.1', port, user: 'root' }, dest, logger }),
    new Writable({
      objectMode: true,
      write(file: { isDirectory(): boolean; stat?: { size: number } | null }, _encoding, done) {
        if (!file.isDirectory()) {
          files++;
          bytes += file.stat?.size ?? 0;
        }
        done();
      },
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  sample();
  const status = procStatus();
  process.stdout.write(JSON.stringify({ seconds, files, bytes, rssBefore: before, peak, vmHWM: status.VmHWM, vmRSS: status.VmRSS }) + '\n');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
