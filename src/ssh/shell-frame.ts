import { randomBytes } from 'node:crypto';
import { READABLE_UMASK } from '../remote/command';
import { printfBytes, raw, sh } from '../remote/quote';

/**
 * The wire format of the persistent shell (persistent-shell.ts). The shell reads its script
 * from the channel, one line per command:
 *
 *   ( eval '<command>' ) </dev/null; printf '%s %s\n' <nonce> "$?"; printf '%s\n' <nonce> >&2
 *
 * - The command is one quoted word for `eval`: however broken its syntax, the shell that reads the
 *   stream only ever parses a quoted string, so a command can never desynchronise the stream.
 * - `( … )`: a subshell, so `cd`, variables, `set`, traps and `exit 3` end with the command and the
 *   shell stays as it was (`exit 3` yields 3).
 * - Its stdin is /dev/null or exactly its own bytes (`printf … |`), never the shell's own input,
 *   so a command that reads stdin gets EOF and cannot eat the commands that follow.
 * - Its end is a random nonce on stdout (with the exit status) and on stderr: output cannot contain
 *   a nonce it has never seen, so no output, however it looks, can end a command early.
 */
export function commandFrame(command: string, stdin: string | Buffer | undefined, nonce: string): string {
  const body = sh`( eval ${command} )`;
  const run =
    stdin === undefined
      ? `${body} </dev/null`
      : typeof stdin === 'string'
        ? sh`printf %s ${stdin} | ${raw(body)}`
        : sh`printf ${printfBytes(stdin)} | ${raw(body)}`;
  return `${run}; ${endMarkers(nonce)}\n`;
}

/** The first line a new shell gets: its answer proves that a POSIX shell reads the stream. */
export function readyFrame(nonce: string): string {
  return `${READABLE_UMASK}; ${endMarkers(nonce)}\n`;
}

function endMarkers(nonce: string): string {
  return sh`printf '%s %s\n' ${nonce} "$?"; printf '%s\n' ${nonce} >&2`;
}

export function newNonce(): string {
  return `attache-end-${randomBytes(16).toString('hex')}`;
}

interface Expected {
  marker: Buffer;
  /** Output before the marker. */
  data(chunk: Buffer): void;
  /** The rest of the marker's line (on stdout: " <exit status>"). */
  end(trailer: string): void;
}

/**
 * Cuts one of the shell's output streams into the commands' outputs at their end markers, in the
 * order the commands were written. Only the longest tail that could be the start of the marker is
 * held back, so output still reaches the log as it arrives. Bytes that belong to no command (what a
 * login shell's rc file prints before the ready marker; a background job's late output) go to `stray`.
 */
export class MarkerSplitter {
  private readonly expected: Array<Expected & { inTrailer: boolean }> = [];
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly stray: (chunk: Buffer) => void = () => undefined) {}

  expect(marker: string, data: Expected['data'], end: Expected['end']): void {
    this.expected.push({ marker: Buffer.from(marker), data, end, inTrailer: false });
  }

  push(chunk: Buffer): void {
    let buffer = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (buffer.length) {
      const current = this.expected[0];
      if (!current) {
        this.stray(buffer);
        return;
      }
      if (current.inTrailer) {
        const newline = buffer.indexOf(0x0a);
        if (newline < 0) {
          this.pending = buffer;
          return;
        }
        this.expected.shift();
        current.end(buffer.subarray(0, newline).toString('latin1'));
        buffer = buffer.subarray(newline + 1);
        continue;
      }
      const at = buffer.indexOf(current.marker);
      if (at >= 0) {
        if (at > 0) current.data(buffer.subarray(0, at));
        current.inTrailer = true;
        buffer = buffer.subarray(at + current.marker.length);
        continue;
      }
      const held = partialMarkerAtEnd(buffer, current.marker);
      if (buffer.length > held) current.data(buffer.subarray(0, buffer.length - held));
      this.pending = Buffer.from(buffer.subarray(buffer.length - held));
      return;
    }
  }

  /** How many commands still wait for their marker on this stream. */
  get waiting(): number {
    return this.expected.length;
  }
}

/** The length of the longest end of `buffer` that is a beginning of `marker` (shorter than the marker). */
function partialMarkerAtEnd(buffer: Buffer, marker: Buffer): number {
  for (let length = Math.min(marker.length - 1, buffer.length); length > 0; length--) {
    if (buffer.subarray(buffer.length - length).equals(marker.subarray(0, length))) return length;
  }
  return 0;
}
