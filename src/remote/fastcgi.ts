import type { Duplex } from 'node:stream';

/**
 * A minimal FastCGI client (the protocol php-fpm speaks): one request on a fresh connection,
 * BEGIN_REQUEST (responder, no keep-alive), PARAMS, an empty STDIN, then STDOUT/STDERR until
 * END_REQUEST. Enough to run one PHP script in a php-fpm pool, as `cachetool` does, without any
 * tool on the server: the stream may be an SSH channel to the pool's socket.
 */

const VERSION = 1;
export const FCGI = { BEGIN_REQUEST: 1, ABORT_REQUEST: 2, END_REQUEST: 3, PARAMS: 4, STDIN: 5, STDOUT: 6, STDERR: 7 } as const;
const RESPONDER = 1;
const MAX_CONTENT = 0xffff;
const HEADER = 8;

export interface FcgiRecord {
  type: number;
  requestId: number;
  content: Buffer;
}

/** One record: the 8-byte header, the content, padding to a multiple of 8. */
export function encodeRecord(type: number, requestId: number, content: Buffer = Buffer.alloc(0)): Buffer {
  if (content.length > MAX_CONTENT) throw new Error(`a FastCGI record holds at most ${MAX_CONTENT} bytes, got ${content.length}`);
  const padding = (8 - (content.length % 8)) % 8;
  const header = Buffer.alloc(HEADER);
  header.writeUInt8(VERSION, 0);
  header.writeUInt8(type, 1);
  header.writeUInt16BE(requestId, 2);
  header.writeUInt16BE(content.length, 4);
  header.writeUInt8(padding, 6);
  return Buffer.concat([header, content, Buffer.alloc(padding)]);
}

/** A name-value pair: each length in 1 byte below 128, else 4 bytes with the top bit set. */
export function encodePair(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  const v = Buffer.from(value, 'utf8');
  return Buffer.concat([encodeLength(n.length), encodeLength(v.length), n, v]);
}

function encodeLength(length: number): Buffer {
  if (length < 128) return Buffer.from([length]);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((length | 0x80000000) >>> 0, 0);
  return out;
}

/** Reads name-value pairs back (what php-fpm parses; the tests use it to check the encoding). */
export function decodePairs(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  const length = () => {
    if (data[at] < 128) return data[at++];
    const value = data.readUInt32BE(at) & 0x7fffffff;
    at += 4;
    return value;
  };
  while (at < data.length) {
    const n = length();
    const v = length();
    const name = data.subarray(at, at + n).toString('utf8');
    at += n;
    out[name] = data.subarray(at, at + v).toString('utf8');
    at += v;
  }
  return out;
}

/** The bytes of a whole request: BEGIN_REQUEST, PARAMS in records of at most 64 KiB, an empty PARAMS, STDIN, an empty STDIN. */
export function encodeRequest(params: Record<string, string>, body: Buffer = Buffer.alloc(0), requestId = 1): Buffer {
  const begin = Buffer.alloc(8);
  begin.writeUInt16BE(RESPONDER, 0); // flags 0: php-fpm closes the connection after the request
  const pairs = Buffer.concat(Object.entries(params).map(([name, value]) => encodePair(name, value)));
  const records = [encodeRecord(FCGI.BEGIN_REQUEST, requestId, begin)];
  for (let at = 0; at < pairs.length; at += MAX_CONTENT)
    records.push(encodeRecord(FCGI.PARAMS, requestId, pairs.subarray(at, at + MAX_CONTENT)));
  records.push(encodeRecord(FCGI.PARAMS, requestId));
  for (let at = 0; at < body.length; at += MAX_CONTENT)
    records.push(encodeRecord(FCGI.STDIN, requestId, body.subarray(at, at + MAX_CONTENT)));
  records.push(encodeRecord(FCGI.STDIN, requestId));
  return Buffer.concat(records);
}

/** Splits a byte stream into records, whatever the chunk boundaries. */
export class RecordReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): FcgiRecord[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const records: FcgiRecord[] = [];
    while (this.pending.length >= HEADER) {
      if (this.pending.readUInt8(0) !== VERSION) throw new Error(`not a FastCGI answer (version byte ${this.pending.readUInt8(0)})`);
      const length = this.pending.readUInt16BE(4);
      const padding = this.pending.readUInt8(6);
      if (this.pending.length < HEADER + length + padding) break;
      records.push({
        type: this.pending.readUInt8(1),
        requestId: this.pending.readUInt16BE(2),
        content: this.pending.subarray(HEADER, HEADER + length),
      });
      this.pending = this.pending.subarray(HEADER + length + padding);
    }
    return records;
  }
}

export interface FcgiResponse {
  /** From the CGI `Status:` header; 200 when the script set none. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** What PHP wrote to FCGI_STDERR (warnings, when display_errors is off and log_errors goes there). */
  stderr: string;
  /** The application's exit status from END_REQUEST. */
  appStatus: number;
}

/** The CGI response in STDOUT: headers (lower-cased names), a blank line, the body. */
export function parseCgiOutput(stdout: Buffer): Pick<FcgiResponse, 'status' | 'headers' | 'body'> {
  const text = stdout.toString('utf8');
  const split = /\r?\n\r?\n/.exec(text);
  const head = split ? text.slice(0, split.index) : text;
  const body = split ? text.slice(split.index + split[0].length) : '';
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(/^(\d{3})/.exec(headers.status ?? '')?.[1] ?? 200);
  return { status, headers, body };
}

/** Sends one request on `stream` and resolves at END_REQUEST; rejects on a closed stream, a refused request or the timeout. */
export function fastcgiRequest(
  stream: Duplex,
  params: Record<string, string>,
  options: { timeoutMs?: number; body?: Buffer } = {},
): Promise<FcgiResponse> {
  return new Promise((resolve, reject) => {
    const reader = new RecordReader();
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let settled = false;
    const finish = (error: Error | undefined, response?: FcgiResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.destroy();
      if (error) reject(error);
      else resolve(response as FcgiResponse);
    };
    const timer = setTimeout(
      () => finish(new Error(`no FastCGI answer within ${(options.timeoutMs ?? 10_000) / 1000} s`)),
      options.timeoutMs ?? 10_000,
    );
    stream.on('data', (chunk: Buffer) => {
      let records: FcgiRecord[];
      try {
        records = reader.push(chunk);
      } catch (error) {
        return finish(error as Error);
      }
      for (const record of records) {
        if (record.type === FCGI.STDOUT) stdout.push(record.content);
        else if (record.type === FCGI.STDERR) stderr.push(record.content);
        else if (record.type === FCGI.END_REQUEST) {
          const protocolStatus = record.content.readUInt8(4);
          // 1: the server cannot multiplex, 2: it is overloaded, 3: unknown role.
          if (protocolStatus !== 0) return finish(new Error(`php-fpm refused the request (FastCGI protocol status ${protocolStatus})`));
          return finish(undefined, {
            ...parseCgiOutput(Buffer.concat(stdout)),
            stderr: Buffer.concat(stderr).toString('utf8'),
            appStatus: record.content.readUInt32BE(0),
          });
        }
      }
    });
    stream.on('error', (error: Error) => finish(error));
    stream.on('close', () => finish(new Error('php-fpm closed the connection before the end of the request')));
    stream.write(encodeRequest(params, options.body));
  });
}
