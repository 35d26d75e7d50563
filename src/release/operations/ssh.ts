import os from 'node:os';
import { AttacheError } from '../../errors';
import { sh } from '../../remote/quote';
import type { SshSession } from '../../ssh/session';
import type { Target } from '../../remote/target';
import type { ServerConfig } from '../../config/types';
import type { ServerRun, Step } from '../lifecycle/context';

/** One shell, on one server: checked before anything connects. */
export function sshStep(selected: readonly ServerConfig[]): Step {
  if (selected.length !== 1) {
    throw new AttacheError(`ssh opens one shell, and ${selected.length} servers are selected (${selected.map((s) => s.name).join(', ')})`, {
      hint: 'Pass --server=<name>.',
    });
  }
  return {
    name: 'ssh',
    description: 'an interactive login shell on the server, in its root',
    async run(run) {
      if (run.target.dryRun) return void run.log.info(`[dry run] [${run.server.name}] would open a shell in ${run.layout.root}`);
      // The shell's status is the task's: `exit 3` in the shell makes gulp exit 3.
      const status = await openShell(run);
      if (status !== 0) process.exitCode = status;
    },
  };
}

/** The terminal the shell is joined to (process.stdin/stdout/stderr unless a test gives others). */
export interface Terminal {
  stdin: NodeJS.ReadStream | NodeJS.ReadableStream;
  stdout: NodeJS.WriteStream | NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Attaché's `ssh`: an interactive login shell on the server, in root, over the deploy's own
 * verified connection (no `ssh` binary). The pty has the local terminal's size and follows it
 * when it is resized; the keyboard goes through raw; resolves with the shell's exit status.
 */
export async function openShell(
  run: ServerRun,
  terminal: Terminal = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const { target, server, layout } = run;
  if (!isSshSession(target)) {
    throw new AttacheError(`${server.name} is not reached over SSH (host "${server.host}")`, {
      server: server.name,
      hint: 'gulp ssh opens a shell on a server reached over SSH.',
    });
  }
  const stdin = terminal.stdin as NodeJS.ReadStream;
  const stdout = terminal.stdout as NodeJS.WriteStream;
  const size = () => ({ rows: stdout.isTTY ? stdout.rows : 24, cols: stdout.isTTY ? stdout.columns : 80 });
  // The user's own login shell, started in root ("$SHELL" is set by sshd for every session).
  const command = sh`cd -- ${layout.root} && exec "\${SHELL:-/bin/sh}" -l`;
  const channel = await target.interactive(command, { term: process.env.TERM || 'xterm-256color', ...size() });

  const raw = stdin.isTTY === true;
  const resize = () => {
    const { rows, cols } = size();
    channel.setWindow(rows, cols, 0, 0);
  };
  return new Promise<number>((resolve) => {
    let status = 0;
    // A shell killed by a signal reports it as the shell itself would: 128 + the signal's number.
    channel.on('exit', (code: number | null, signal?: string) => {
      status = code ?? 128 + ((signal && os.constants.signals[`SIG${signal}` as NodeJS.Signals]) || 1);
    });
    channel.on('close', () => {
      stdout.off?.('resize', resize);
      process.off('SIGWINCH', resize);
      stdin.unpipe(channel);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      resolve(status);
    });
    channel.pipe(stdout, { end: false });
    channel.stderr.pipe(terminal.stderr, { end: false });
    if (raw) stdin.setRawMode(true);
    stdin.pipe(channel);
    stdin.resume();
    // Node emits 'resize' on a TTY stdout when SIGWINCH arrives; listening to the signal too covers a piped stdout.
    stdout.on?.('resize', resize);
    process.on('SIGWINCH', resize);
  });
}

/** By shape, not instanceof: ssh/session (and ssh2) is loaded only when a task connects. */
function isSshSession(target: Target): target is SshSession {
  return target.kind === 'ssh' && typeof (target as Partial<SshSession>).interactive === 'function';
}
