import { spawn, type ChildProcess } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './fixtures';

/**
 * A preset task (deploy, by default) run in a child node process — through the real gulp CLI with a
 * gulpfile that exports attache()'s tasks, as a user runs it, or through a plain script — so that a
 * test can send it signals (SIGINT, SIGTERM, SIGKILL) and see what the user would. The child logs
 * to its stdout; the test waits for lines and for the exit.
 */
const REPO_ROOT = path.resolve(__dirname, '../..');

export interface GulpChild {
  child: ChildProcess;
  pid: number;
  /** Every line the child wrote (stdout and stderr), in order. */
  lines: string[];
  /** Resolves with the first line matching `pattern`; rejects if the child exits first or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the child has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Sends a signal; returns the time it was sent. */
  signal(signal: NodeJS.Signals): number;
}

export interface GulpChildOptions {
  /** The project directory (its .attache.json, its built assets). */
  cwd: string;
  /**
   * 'gulp-cli' (default): the real gulp CLI with a gulpfile, as a user runs it (the CLI exits 1 as
   * soon as the task reports a failure). 'script': a plain script that runs the task with
   * gulp.series and logs to stdout, leaving the exit to the preset (its signal handlers) and node.
   */
  via?: 'gulp-cli' | 'script';
  /** The task to run: one of the preset's, or one the `gulpfile` option exports. */
  task?: string;
  flags?: string[];
  /** A gulpfile of the test's own (gulp-cli only); `ATTACHE` in it is replaced by the package's path. */
  gulpfile?: string;
  env?: NodeJS.ProcessEnv;
  /** Pass gulp's --no-color (default true); false leaves colour to the output's own detection. */
  noColorFlag?: boolean;
  /** Which lines `lines` keeps (default all): a child that prints a flood need not be held in the test's memory. */
  keep?: (line: string) => boolean;
}

export function startGulpChild(options: GulpChildOptions): GulpChild {
  const task = options.task ?? 'deploy';
  const dir = tempDir('attache-child-');
  const src = JSON.stringify(path.join(REPO_ROOT, 'src/index.ts'));
  let args: string[];
  if (options.via === 'script') {
    const script = path.join(dir, 'run-task.ts');
    writeFileSync(
      script,
      [
        `import { attache, createLogger } from ${src};`,
        `const gulp = require(${JSON.stringify(require.resolve('gulp', { paths: [REPO_ROOT] }))});`,
        `gulp.on('error', () => undefined);`,
        `const logger = createLogger({ verbosity: 'normal', interactive: false, write: (line: string) => process.stdout.write(line + '\\n') });`,
        `const tasks = attache({ cwd: ${JSON.stringify(options.cwd)}, gulp, logger, argv: process.argv });`,
        `gulp.series(tasks[${JSON.stringify(task)}])((error?: Error) => {`,
        `  process.stdout.write(error ? 'child: the task failed: ' + error.message + '\\n' : 'child: the task finished\\n');`,
        `  if (error) process.exitCode = 1;`,
        `});`,
      ].join('\n') + '\n',
    );
    args = ['--import', 'tsx', script, task, ...(options.flags ?? [])];
  } else {
    // A gulpfile outside the project; node_modules links to ours, so the CLI finds its local gulp.
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    const gulpfile = path.join(dir, 'gulpfile.js');
    writeFileSync(
      gulpfile,
      options.gulpfile?.replaceAll('ATTACHE', src) ??
        `const { attache } = require(${src});\n` +
          `module.exports = attache({ cwd: ${JSON.stringify(options.cwd)} });\n` +
          `delete module.exports.steps;\n`,
    );
    const gulpBin = path.join(REPO_ROOT, 'node_modules/gulp/bin/gulp.js');
    args = [
      '--import',
      'tsx',
      gulpBin,
      '--gulpfile',
      gulpfile,
      ...(options.noColorFlag === false ? [] : ['--no-color']),
      task,
      ...(options.flags ?? []),
    ];
  }
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const collect = (stream: NodeJS.ReadableStream) => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      // Only the chunk is split: a long line without a newline costs its length, not its square.
      const parts = chunk.split('\n');
      if (parts.length === 1) {
        partial += chunk;
        return;
      }
      parts[0] = partial + parts[0];
      partial = parts.pop() ?? '';
      for (const line of parts) if (!options.keep || options.keep(line)) lines.push(line);
      for (const wake of waiters) wake();
    });
    stream.on('end', () => {
      if (partial && (!options.keep || options.keep(partial))) lines.push(partial);
      for (const wake of waiters) wake();
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal, at: Date.now() });
      for (const wake of waiters) wake();
    }),
  );

  return {
    child,
    pid: child.pid as number,
    lines,
    exited,
    signal(signal) {
      child.kill(signal);
      return Date.now();
    },
    waitForLine(pattern, timeoutMs = 30_000) {
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}. The child wrote:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        const finish = (error?: Error, line?: string) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve(line as string);
        };
        const check = () => {
          const line = lines.find((l) => pattern.test(l));
          if (line !== undefined) return finish(undefined, line);
          if (done) finish(new Error(`the child exited before writing a line matching ${pattern}. It wrote:\n${lines.join('\n')}`));
        };
        waiters.add(check);
        check();
      });
    },
  };
}
