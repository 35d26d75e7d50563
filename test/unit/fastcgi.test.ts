import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import {
  decodePairs,
  encodePair,
  encodeRecord,
  encodeRequest,
  FCGI,
  fastcgiRequest,
  parseCgiOutput,
  RecordReader,
  type FcgiRecord,
} from '../../src/remote/fastcgi';

/** The FastCGI client's bytes, record by record, and one request against a scripted php-fpm stand-in. */

const records = (bytes: Buffer): FcgiRecord[] => new RecordReader().push(bytes);

/** A php-fpm stand-in on the other end of a duplex: it reads the request's records and answers with `reply(params)`. */
function fakeFpm(reply: (params: Record<string, string>, seen: FcgiRecord[]) => Buffer[]): Duplex {
  const reader = new RecordReader();
  const seen: FcgiRecord[] = [];
  let params = Buffer.alloc(0);
  const stream: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      for (const record of reader.push(chunk)) {
        seen.push(record);
        if (record.type === FCGI.PARAMS) params = Buffer.concat([params, record.content]);
        if (record.type === FCGI.STDIN && record.content.length === 0) for (const out of reply(decodePairs(params), seen)) stream.push(out);
      }
      done();
    },
  });
  return stream;
}

const end = (appStatus = 0, protocolStatus = 0) => {
  const body = Buffer.alloc(8);
  body.writeUInt32BE(appStatus, 0);
  body.writeUInt8(protocolStatus, 4);
  return encodeRecord(FCGI.END_REQUEST, 1, body);
};

describe('FastCGI records', () => {
  it('a record is an 8-byte header (version 1, type, request id, length, padding) and content padded to 8', () => {
    const bytes = encodeRecord(FCGI.STDIN, 7, Buffer.from('hello'));
    assert.equal(bytes.length, 16);
    assert.deepEqual([...bytes.subarray(0, 8)], [1, FCGI.STDIN, 0, 7, 0, 5, 3, 0]);
    assert.equal(bytes.subarray(8, 13).toString(), 'hello');
    assert.equal(encodeRecord(FCGI.PARAMS, 1).length, 8, 'an empty record ends a stream');
    assert.throws(() => encodeRecord(FCGI.STDIN, 1, Buffer.alloc(65536)), /at most 65535 bytes/);
  });

  it('name-value lengths take 1 byte below 128 and 4 bytes (top bit set) from 128 on; pairs decode back', () => {
    assert.deepEqual([...encodePair('A', 'bc').subarray(0, 2)], [1, 2]);
    const long = 'x'.repeat(300);
    const pair = encodePair('SCRIPT_FILENAME', long);
    assert.deepEqual([...pair.subarray(0, 5)], [15, 0x80, 0, 1, 44]);
    assert.deepEqual(decodePairs(Buffer.concat([pair, encodePair('É', 'ü')])), { SCRIPT_FILENAME: long, É: 'ü' });
  });

  it('a request is BEGIN_REQUEST (responder, no keep-alive), PARAMS, an empty PARAMS, an empty STDIN; long params span records', () => {
    const params = { SCRIPT_FILENAME: '/var/www/app/x.php', BIG: 'y'.repeat(70_000) };
    const list = records(encodeRequest(params));
    assert.deepEqual(
      list.map((r) => r.type),
      [FCGI.BEGIN_REQUEST, FCGI.PARAMS, FCGI.PARAMS, FCGI.PARAMS, FCGI.STDIN],
    );
    assert.deepEqual([...list[0].content], [0, 1, 0, 0, 0, 0, 0, 0]);
    assert.equal(list[3].content.length, 0);
    assert.equal(list[4].content.length, 0);
    assert.deepEqual(decodePairs(Buffer.concat(list.slice(1, 3).map((r) => r.content))), params);
  });

  it('the reader reassembles records split at any byte', () => {
    const bytes = Buffer.concat([encodeRecord(FCGI.STDOUT, 1, Buffer.from('Status: 200\r\n\r\nok')), end()]);
    const reader = new RecordReader();
    const out: FcgiRecord[] = [];
    for (const byte of bytes) out.push(...reader.push(Buffer.from([byte])));
    assert.deepEqual(
      out.map((r) => r.type),
      [FCGI.STDOUT, FCGI.END_REQUEST],
    );
    assert.equal(out[0].content.toString(), 'Status: 200\r\n\r\nok');
  });

  it('CGI output: the Status header gives the status (200 without one), header names lower-cased, then the body', () => {
    assert.deepEqual(parseCgiOutput(Buffer.from('Status: 404 Not Found\r\nContent-type: text/html\r\n\r\nFile not found.\n')), {
      status: 404,
      headers: { status: '404 Not Found', 'content-type': 'text/html' },
      body: 'File not found.\n',
    });
    assert.equal(parseCgiOutput(Buffer.from('X-A: 1\n\nbody')).status, 200);
  });
});

describe('fastcgiRequest', () => {
  it('sends the params and resolves with the body, stderr and status at END_REQUEST', async () => {
    const fpm = fakeFpm((params) => [
      encodeRecord(FCGI.STDOUT, 1, Buffer.from('Content-type: text/plain\r\n\r\nran ')),
      encodeRecord(FCGI.STDERR, 1, Buffer.from('PHP Notice: x')),
      encodeRecord(FCGI.STDOUT, 1, Buffer.from(params.SCRIPT_FILENAME)),
      end(0),
    ]);
    const response = await fastcgiRequest(fpm, { SCRIPT_FILENAME: '/srv/reset.php', REQUEST_METHOD: 'GET' });
    assert.deepEqual(response, {
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: 'ran /srv/reset.php',
      stderr: 'PHP Notice: x',
      appStatus: 0,
    });
  });

  it('rejects when php-fpm refuses the request, closes early, or does not answer in time', async () => {
    await assert.rejects(
      fastcgiRequest(
        fakeFpm(() => [end(0, 2)]),
        {},
      ),
      /refused the request \(FastCGI protocol status 2\)/,
    );
    const closing = fakeFpm(() => []);
    closing.on('finish', () => closing.destroy());
    setImmediate(() => closing.destroy());
    await assert.rejects(fastcgiRequest(closing, {}), /closed the connection before the end of the request/);
    await assert.rejects(
      fastcgiRequest(
        fakeFpm(() => []),
        {},
        { timeoutMs: 50 },
      ),
      /no FastCGI answer within 0.05 s/,
    );
    await assert.rejects(
      fastcgiRequest(
        fakeFpm(() => [Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')]),
        {},
      ),
      /not a FastCGI answer/,
    );
  });
});
