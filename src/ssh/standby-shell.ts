import { shellCommandLine } from './persistent-shell';
import { READABLE_UMASK } from '../remote/command';
import { printfBytes, sh } from '../remote/quote';

/**
 * The command line of a channel opened ahead of need (a standby): its shell waits for one command,
 * the first line of its input, and runs it with the rest of that input as the command's own. The
 * first command with a streamed input (a release's tar) starts on it at once, where a channel of its
 * own would first cost two round trips (opening it, starting the command). POSIX shells read a
 * line of a pipe byte by byte, so nothing after the newline is taken from the command. 70: the
 * input ended before a command came (a standby closed unused).
 */
export const STANDBY_COMMAND = shellCommandLine(`${READABLE_UMASK}; IFS= read -r command || exit 70; eval "$command"`);

/** The line that runs `command` on a standby: the command as one `printf` format, so that it is one line whatever it holds. */
export function standbyLine(command: string): string {
  return sh`eval "$(printf ${printfBytes(Buffer.from(command, 'utf8'))})"` + '\n';
}
