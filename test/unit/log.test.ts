import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { createLogger, redact, registerSecret } from '../../src/log';

describe('logger', () => {
  it('on a terminal, redraws one progress line in place and clears it before the next log line', () => {
    const drawn: string[] = [];
    const lines: string[] = [];
    const log = createLogger({ verbosity: 'normal', interactive: true, terminal: { write: (t: string) => drawn.push(t) }, write: (l) => lines.push(l) });
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

  it('replaces registered secrets, and each value of a .env file, in every line', () => {
    registerSecret('APP_KEY=base64:c2VjcmV0LXZhbHVl\nDB_PASSWORD="hunter2-long"\n');
    const lines: string[] = [];
    const log = createLogger({ verbosity: 'normal', interactive: false, write: (l) => lines.push(l) });
    log.info('key base64:c2VjcmV0LXZhbHVl and password hunter2-long');
    assert.deepEqual(lines, ['key *** and password ***']);
    assert.equal(redact('no secret here'), 'no secret here');
  });
});
