import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { clockTime, createLogger, redact, registerEnvSecrets, registerSecret } from '../../src/log';

describe('logger', () => {
  it('on a terminal, redraws one progress line in place and clears it before the next log line', () => {
    const drawn: string[] = [];
    const lines: string[] = [];
    const log = createLogger({
      verbosity: 'normal',
      interactive: true,
      terminal: { write: (t: string) => drawn.push(t) },
      write: (l) => lines.push(l),
    });
    log.progress('upload: 1/3 files');
    log.progress('upload: 2/3 files');
    log.info('a step finished');
    assert.deepEqual(drawn, ['\r\x1b[Kupload: 1/3 files', '\r\x1b[Kupload: 2/3 files', '\r\x1b[K']);
    assert.deepEqual(lines, ['a step finished'], 'progress never becomes a log line on a terminal');
  });

  it('not on a terminal (CI), prints a progress line at most every few seconds, and always the last one', () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    try {
      const lines: string[] = [];
      const log = createLogger({ verbosity: 'normal', interactive: false, write: (l) => lines.push(l) });
      log.progress('1 file');
      log.progress('2 files');
      mock.timers.tick(1000);
      log.progress('3 files');
      mock.timers.tick(2500);
      log.progress('4 files');
      log.progress('5 files', true);
      assert.deepEqual(lines, ['1 file', '4 files', '5 files']);
    } finally {
      mock.timers.reset();
    }
  });

  it('--quiet shows errors and the summary only; --verbose adds debug lines', () => {
    const quiet: string[] = [];
    const q = createLogger({ verbosity: 'quiet', interactive: false, write: (l) => quiet.push(l) });
    q.info('info');
    q.warn('warn');
    q.debug('debug');
    q.progress('progress', true);
    q.error('error');
    q.summary('summary');
    assert.deepEqual(quiet, ['error', 'summary']);
    const verbose: string[] = [];
    const v = createLogger({ verbosity: 'verbose', interactive: false, write: (l) => verbose.push(l) });
    v.debug('debug');
    assert.deepEqual(verbose, ['debug']);
  });

  it("drops a tool's output line when the sink is more than 1 MB behind (saying so by returning false), never other lines", () => {
    const lines: string[] = [];
    let behind = 0;
    const log = createLogger({ verbosity: 'normal', interactive: false, write: (l) => lines.push(l), backlog: () => behind });
    assert.equal(log.output('[web] one', 'info'), true);
    behind = 2 * 1024 * 1024;
    assert.equal(log.output('[web] two', 'info'), false);
    assert.equal(log.output('[web] debug', 'debug'), true, 'a line not meant to be shown is not counted as dropped');
    log.warn('a warning is never dropped');
    behind = 0;
    assert.equal(log.output('[web] three', 'info'), true);
    assert.deepEqual(lines, ['[web] one', 'a warning is never dropped', '[web] three']);
  });

  it("stamps plain lines with gulp's local HH:MM:SS, as toLocaleTimeString would", () => {
    for (const date of [
      new Date(2026, 0, 2, 3, 4, 5),
      new Date(2026, 11, 31, 23, 59, 59),
      new Date(2026, 5, 1, 0, 0, 0),
      new Date(2026, 5, 1, 12, 30, 7),
    ]) {
      assert.equal(clockTime(date), date.toLocaleTimeString('en', { hour12: false }).replace(/^24:/, '00:'));
    }
  });

  it('replaces registered secrets in every line', () => {
    registerSecret('tok-unit-secret-1');
    assert.equal(redact('token tok-unit-secret-1 used'), 'token *** used');
    assert.equal(redact('no secret here'), 'no secret here');
  });

  it('takes the secrets of a .env file by their exact values, and leaves its ordinary settings readable, random-looking or not', () => {
    registerEnvSecrets(
      [
        'APP_ENV=production',
        'APP_DEBUG=false',
        'APP_KEY=base64:c2VjcmV0LXZhbHVl',
        'DB_PASSWORD="hunter2-long"',
        'export STRIPE_TOKEN=sk_live_abc',
        'DATABASE_URL=mysql://app:pa55word@db/app',
        'MAILGUN_SECRET=9f86d081884c7d659a2feaa0c55ad015',
        'APP_URL=https://example.com',
        'ASSET_URL=http://127.0.0.1:8080/build2026',
        'CACHE_PREFIX=shop2026cache_v2x9',
        'PUSHER_APP_ID=1234567',
      ].join('\n'),
    );
    const lines: string[] = [];
    const log = createLogger({ verbosity: 'normal', interactive: false, write: (l) => lines.push(l) });
    log.info('env production, debug false, url https://example.com');
    log.info('assets http://127.0.0.1:8080/build2026, cache shop2026cache_v2x9, pusher 1234567');
    log.info('base64:c2VjcmV0LXZhbHVl hunter2-long sk_live_abc mysql://app:pa55word@db/app 9f86d081884c7d659a2feaa0c55ad015');
    assert.deepEqual(lines, [
      'env production, debug false, url https://example.com',
      'assets http://127.0.0.1:8080/build2026, cache shop2026cache_v2x9, pusher 1234567',
      '*** *** *** *** ***',
    ]);
  });
});
