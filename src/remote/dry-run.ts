import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Logger } from '../log';
import { formatBytes } from './format';
import type { ExecOptions, Target } from './target';

/**
 * --dry-run: a target that really reads (stat, readlink, files, commands marked `readOnly`) but
 * only prints what it would change. Other commands are printed, not run, since any command may
 * change something.
 */
export function dryRun(target: Target, log: Logger): Target {
  const say = (what: string) => log.info(`[dry run] [${target.name}] would ${what}`);
  return {
    name: target.name,
    kind: target.kind,
    dryRun: true,
    hostKey: target.hostKey,
    user: target.user,
    exec: async (command, options = {}) => {
      if (options.readOnly) return target.exec(command, options);
      say(`run: ${command}${options.cwd ? ` (in ${options.cwd})` : ''}${input(options.stdin)}`);
      // A streamed input (an archive) is read to its end, as the command would: its producer finishes.
      if (options.stdin instanceof Readable) await finished(options.stdin.resume()).catch(() => undefined);
      return { code: 0, signal: null, stdout: '', stderr: '' };
    },
    lstat: (p) => target.lstat(p),
    stat: (p) => target.stat(p),
    readlink: (p) => target.readlink(p),
    readFile: (p) => target.readFile(p),
    mkdir: async (p) => say(`create directory ${p}`),
    writeFile: async (p, contents, _mode, moveTo) => {
      say(`write ${p}`);
      if (moveTo !== undefined) say(`rename ${p} -> ${moveTo}`);
      if (!Buffer.isBuffer(contents)) contents.resume();
      return Buffer.isBuffer(contents) ? contents.length : 0;
    },
    rename: async (from, to) => say(`rename ${from} -> ${to}`),
    symlink: async (to, p) => say(`link ${p} -> ${to}`),
    link: async (existing, p) => say(`reuse ${existing} as ${p}`),
    unlink: async (p) => say(`remove ${p}`),
    close: () => target.close(),
    connectTo: (address) => target.connectTo(address),
  };
}

/**
 * What a command would read on stdin, as the dry run shows it: a script (`/bin/sh -s`) whole,
 * indented under the command; bytes that are not text (an archive), and a stream, by what they are.
 */
function input(stdin: ExecOptions['stdin']): string {
  if (stdin === undefined) return '';
  if (stdin instanceof Readable) return ', its input streamed on stdin';
  const text = typeof stdin === 'string' ? stdin : stdin.toString('utf8');
  if (text.includes('\0') || text.includes('\uFFFD')) return `, with ${formatBytes(Buffer.byteLength(stdin))} of binary input on stdin`;
  const lines = text.replace(/\n$/, '').split('\n');
  return `, with this on stdin:\n${lines.map((line) => `    ${line}`).join('\n')}`;
}
