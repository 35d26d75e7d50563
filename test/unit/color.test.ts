import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { colorEnabled, stripAnsi } from '../../src/log';

describe('colour', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };

  it('is on only on a terminal, off under NO_COLOR or --no-color, forced by --color', () => {
    assert.equal(colorEnabled(tty, [], {}), true);
    assert.equal(colorEnabled(pipe, [], {}), false);
    assert.equal(colorEnabled(tty, [], { NO_COLOR: '1' }), false);
    assert.equal(colorEnabled(tty, [], { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count (no-color.org)');
    assert.equal(colorEnabled(tty, ['--no-color'], {}), false);
    assert.equal(colorEnabled(pipe, ['--color'], {}), true);
  });

  it('stripAnsi removes colour and cursor sequences and keeps the text', () => {
    assert.equal(stripAnsi('\x1b[31mError\x1b[39m in plugin "\x1b[36mgulp-attache\x1b[39m"'), 'Error in plugin "gulp-attache"');
    assert.equal(stripAnsi('\r\x1b[Kuploaded 3 files'), '\ruploaded 3 files');
    assert.equal(stripAnsi('[12:00:00] plain ✓'), '[12:00:00] plain ✓');
  });
});
