import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { quote, raw, sh } from '../../src/remote/quote';

const echoed = (command: string) => execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' });

describe('quote', () => {
  const hostile = ["it's", 'a b', '$(touch /tmp/pwned)', '`id`', 'line\nbreak', '-rf', '"dq"', '', 'ünïcödé', '*', '\\', ';ls'];
  for (const value of hostile) {
    it(`passes ${JSON.stringify(value)} to the shell as one literal word`, () => {
      assert.equal(echoed(`printf '%s|' ${quote(value)}`), `${value}|`);
    });
  }

  it('leaves plain paths readable', () => {
    assert.equal(quote('/var/www/releases/20261126203000'), '/var/www/releases/20261126203000');
  });

  it('refuses a NUL byte', () => {
    assert.throws(() => quote('a\0b'), /NUL/);
  });

  it('sh quotes every interpolated value, joins arrays and keeps raw fragments', () => {
    const dir = "/srv/my app/it's";
    assert.equal(sh`mkdir -p ${dir}`, `mkdir -p '/srv/my app/it'\\''s'`);
    assert.equal(sh`rm -rf -- ${['a b', 'c']}`, `rm -rf -- 'a b' c`);
    assert.equal(sh`cd ${dir} && ${raw('echo $HOME')}`, `cd '/srv/my app/it'\\''s' && echo $HOME`);
  });
});
