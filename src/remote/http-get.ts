import { randomBytes } from 'node:crypto';
import { quote, type ShellFragment } from './quote';
import type { Target } from './target';

/**
 * An HTTP GET made on a target, with the tools a server has: curl, else GNU wget, else PHP's http
 * stream. Whichever runs, the answer is read into one shape, the one a GET made here with Node's
 * fetch is read into too, so a caller judges a response once, wherever it was fetched.
 */

/** A response as read: status, headers (names in lower case, repeated ones joined with ", "), the body's first bytes. */
export interface HttpResponse {
  status: number;
  headers: ReadonlyMap<string, string>;
  body: string;
  /** The body was longer than the limit: `body` is its beginning. */
  truncated: boolean;
}

/** Bytes of a body read at most: enough for any health page, and a huge page cannot fill memory. */
export const BODY_LIMIT = 1024 * 1024;

/**
 * No response: why, as one of Node's error codes where the tool's message says which (ECONNREFUSED,
 * ENOTFOUND, …, or TIMEOUT), so one table words both ways of fetching; the message is the tool's own
 * first error line.
 */
export class HttpGetFailure extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'HttpGetFailure';
  }
}

export interface HttpGetOptions {
  /** Seconds the request may take. */
  timeout: number;
  /** The server's PHP command (php.bin), the last resort. */
  php: ShellFragment;
  limit?: number;
}

/** The GET from this machine, with Node's fetch: no redirect followed, the body read up to `limit`. */
export async function httpGetHere(url: string, timeoutSeconds: number, limit = BODY_LIMIT): Promise<HttpResponse> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutSeconds * 1000), redirect: 'manual' });
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  const reader = response.body?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    if (size > limit) {
      truncated = true;
      await reader.cancel();
      break;
    }
  }
  const body = new TextDecoder().decode(Buffer.concat(chunks).subarray(0, limit));
  return { status: response.status, headers: new Map(response.headers), body, truncated };
}

/** The GET from this machine, or, `on` a target, with the target's own tools (a URL only its network reaches). */
export function httpGet(url: string, options: HttpGetOptions & { on?: Target }): Promise<HttpResponse & { tool?: string }> {
  return options.on ? httpGetOn(options.on, url, options) : httpGetHere(url, options.timeout, options.limit);
}

/** The GET on the target: one command, one round trip. Fails with HttpGetFailure when no response came. */
export async function httpGetOn(target: Target, url: string, options: HttpGetOptions): Promise<HttpResponse & { tool: string }> {
  const marker = `attache-http-${randomBytes(8).toString('hex')}`;
  const limit = options.limit ?? BODY_LIMIT;
  const result = await target.exec(httpGetScript(url, { ...options, limit, marker }), { check: false, output: 'none' });
  return readHttpGet(result.stdout, result.stderr, marker, limit);
}

/**
 * PHP's http stream, for a server with neither curl nor wget: no redirect followed, the body of an
 * error status read too (`ignore_errors`). When no response comes it prints PHP's warning (which
 * says only "HTTP request failed!" when the time ran out: "(timed out)" is added) and exits 1.
 */
const PHP_GET = [
  '[, $u, $h, $n, $s] = $argv;',
  "ini_set('default_socket_timeout', $s);",
  "$c = stream_context_create(['http' => ['ignore_errors' => true, 'follow_location' => 0, 'timeout' => (float) $s]]);",
  '$t = microtime(true);',
  "$f = @fopen($u, 'rb', false, $c);",
  'if ($f === false) {',
  "  $e = error_get_last()['message'] ?? 'the request failed';",
  "  fwrite(STDERR, $e . (microtime(true) - $t >= $s * 0.95 ? ' (timed out)' : '') . \"\\n\");",
  '  exit(1);',
  '}',
  'file_put_contents($h, implode("\\n", stream_get_meta_data($f)[\'wrapper_data\'] ?? []) . "\\n");',
  '$b = stream_get_contents($f, (int) $n);',
  "if (stream_get_meta_data($f)['timed_out']) { fwrite(STDERR, \"the body's read timed out\\n\"); exit(1); }",
  'echo $b;',
].join('\n');

/**
 * The script: it picks the tool, runs it with the body cut at `limit` bytes (one more is read, to
 * know it was cut), and prints, after a marker line each: the tool, its exit status and the body's
 * size, the tail of its stderr (wget's holds the headers), the headers, then the body, last, so its
 * bytes need no escaping.
 * BusyBox's wget is passed over: it follows redirects and drops an error status's body.
 */
export function httpGetScript(url: string, options: { timeout: number; php: ShellFragment; limit: number; marker: string }): string {
  const { timeout, php, limit, marker } = options;
  const run = (command: string) => `{ ${command}; echo $? >"$t/x"; } 2>"$t/e" | head -c "$n" >"$t/b"`;
  return [
    'LC_ALL=C; export LC_ALL', // the tools' messages in English, as they are matched
    `u=${quote(url)}; s=${quote(timeout)}; n=${quote(limit + 1)}; m=${quote(marker)}`,
    't=$(mktemp -d) || exit 1',
    `trap 'rm -rf "$t"' EXIT`,
    ': >"$t/h"; : >"$t/e"; : >"$t/b"',
    'if command -v curl >/dev/null 2>&1; then tool=curl',
    'else',
    '  case $(wget --version 2>/dev/null) in',
    "  'GNU Wget'*) tool=wget ;;",
    `  *) if command -v ${php} >/dev/null 2>&1; then tool=php; else tool=none; fi ;;`,
    '  esac',
    'fi',
    'case $tool in',
    // -v: its "connect … failed: Connection refused" says why, where curl's own line says only "Couldn't connect".
    `curl) ${run('curl -sSv -g -D "$t/h" --max-time "$s" "$u"')} ;;`,
    `wget) ${run('wget -nv -S -O - --content-on-error --max-redirect=0 --timeout="$s" --tries=1 -- "$u"')} ;;`,
    `php) ${run(`${php} -r ${quote(PHP_GET)} -- "$u" "$t/h" "$n" "$s"`)} ;;`,
    'esac',
    `printf '%s tool=%s exit=%s size=%s\\n' "$m" "$tool" "$(cat "$t/x" 2>/dev/null)" "$(wc -c <"$t/b" | tr -d ' ')"`,
    `printf '%s stderr\\n' "$m"; tail -c 65536 "$t/e"`,
    `printf '\\n%s headers\\n' "$m"; head -c 65536 "$t/h"`,
    `printf '\\n%s body\\n' "$m"; head -c ${quote(limit)} "$t/b"`,
  ].join('\n');
}

/** The script's output as a response, or the HttpGetFailure that says why none came. */
export function readHttpGet(stdout: string, stderr: string, marker: string, limit: number): HttpResponse & { tool: string } {
  const first = new RegExp(`^${marker} tool=(\\S+) exit=(\\d*) size=(\\d*)$`, 'm').exec(stdout);
  const at = (name: string) => stdout.indexOf(`${marker} ${name}\n`);
  const [errors, headers, body] = [at('stderr'), at('headers'), at('body')];
  if (!first || errors < 0 || headers < errors || body < headers) {
    const said = stderr.trim().split('\n')[0] || stdout.trim().split('\n')[0] || '(no output)';
    throw new HttpGetFailure(`the GET's script did not run on the server: ${said}`);
  }
  const [, tool, exit, size] = first;
  if (tool === 'none')
    throw new HttpGetFailure('none of curl, GNU wget or php is on the server\'s PATH: the check "from": "server" needs one');
  const section = (from: number, name: string, to?: number) => stdout.slice(from + marker.length + name.length + 2, to);
  const toolStderr = section(errors, 'stderr', headers);
  // wget -S writes the headers to stderr, each line indented by two spaces.
  const headerText =
    tool === 'wget'
      ? toolStderr
          .split('\n')
          .filter((line) => line.startsWith('  '))
          .map((line) => line.slice(2))
          .join('\n')
      : section(headers, 'headers', body);
  const response = parseHeaders(headerText);
  const truncated = Number(size) > limit;
  // wget exits 8 for any status of 400 and more, and for a redirect it was told not to follow.
  const complete = exit === '0' || truncated || (tool === 'wget' && exit === '8');
  if (response && complete) return { ...response, body: section(body, 'body'), truncated, tool };
  throw new HttpGetFailure(firstErrorLine(toolStderr, tool, exit), failureCode(toolStderr, tool, exit));
}

/** The last status line and the headers after it (a proxy's CONNECT answer comes first, when there is one). */
function parseHeaders(text: string): Omit<HttpResponse, 'body' | 'truncated'> | undefined {
  const lines = text.split(/\r?\n/);
  let start = -1;
  lines.forEach((line, i) => {
    if (/^HTTP\/\S+\s+\d{3}\b/.test(line)) start = i;
  });
  if (start < 0) return undefined;
  const status = Number(/^HTTP\/\S+\s+(\d{3})/.exec(lines[start])![1]);
  const headers = new Map<string, string>();
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { status, headers };
}

/** The tool's own error line: curl's `curl: (7) …`, wget's first line that is not a header, PHP's warning. */
function firstErrorLine(stderr: string, tool: string, exit: string): string {
  const lines = stderr.split('\n').map((line) => line.trimEnd());
  return (
    lines.find((line) => /^curl: \(\d+\)/.test(line)) ??
    lines.find((line) => line !== '' && !/^( {2}|[*<>{}] )/.test(line)) ??
    `${tool} exited with ${exit === '' ? 'no status' : `code ${exit}`}`
  );
}

/** Phrases of the tools' messages (curl -v, wget, PHP), most particular first, as Node's error codes. */
const PHRASES: ReadonlyArray<[RegExp, string]> = [
  [/timed out/i, 'TIMEOUT'],
  [/Connection refused/i, 'ECONNREFUSED'],
  [/Temporary failure in name resolution/i, 'EAI_AGAIN'],
  [/resolve host|getaddrinfo|Name or service not known|nodename nor servname|No address associated/i, 'ENOTFOUND'],
  [/Connection reset/i, 'ECONNRESET'],
  [/No route to host/i, 'EHOSTUNREACH'],
  [/Network is unreachable/i, 'ENETUNREACH'],
  [/Empty reply from server|closed the connection|Connection closed/i, 'UND_ERR_SOCKET'],
];

/** curl's exit codes, where its messages name no cause. */
const CURL_CODES: Readonly<Record<string, string>> = {
  '6': 'ENOTFOUND',
  '7': 'ECONNREFUSED',
  '28': 'TIMEOUT',
  '52': 'UND_ERR_SOCKET',
  '56': 'ECONNRESET',
};

function failureCode(stderr: string, tool: string, exit: string): string | undefined {
  return PHRASES.find(([phrase]) => phrase.test(stderr))?.[1] ?? (tool === 'curl' ? CURL_CODES[exit] : undefined);
}
