import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log';
import { LineCutter, readSections } from '../../src/remote/command';
import { LocalTarget } from '../../src/remote/local';

describe('the local target', () => {
  it('carries out one-request file operations in call order, as SFTP does (a swap sent without waiting)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attache-local-order-'));
    try {
      mkdirSync(path.join(dir, 'a'));
      mkdirSync(path.join(dir, 'b'));
      symlinkSync('a', path.join(dir, 'live'));
      const target = new LocalTarget('local', createLogger({ verbosity: 'quiet', write: () => undefined }));
      const link = path.join(dir, 'live');
      // Without the order kept, the thread pool runs these at once and a rename meets no link.
      for (let i = 0; i < 50; i++) {
        const to = i % 2 ? 'a' : 'b';
        const next = path.join(dir, `live.${i}`);
        const [, , now] = await Promise.all([target.symlink(to, next), target.rename(next, link), target.readlink(link)]);
        assert.equal(now, to, `round ${i}`);
      }
      assert.equal(readlinkSync(link), 'a');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads several commands in one (readSections): each output apart, and none for a section cut short', async () => {
    const target = new LocalTarget('local', createLogger({ verbosity: 'quiet', write: () => undefined }));
    const sections = await readSections(target, ['printf "one\\n"', 'false', 'printf "three"; echo >&2 noise', 'printf "\\n"'], {});
    assert.deepEqual(sections, ['one\n', '', 'three', '\n']);
    // More than exec keeps (4 MB): the long section and those after it are not there, rather than cut.
    const [short, long, after] = await readSections(target, ['echo ok', 'head -c 5000000 /dev/zero | tr "\\0" x', 'echo after'], {});
    assert.equal(short, 'ok\n');
    assert.equal(long, undefined);
    assert.equal(after, undefined);
  });

  it('cuts output into lines as it arrives: a line split across chunks, CRLF, empty lines, the last line without a newline', () => {
    const lines: string[] = [];
    const cutter = new LineCutter((line) => lines.push(line));
    for (const chunk of ['one\r\ntw', 'o\n\nthr', 'ee']) cutter.push(chunk);
    cutter.end();
    cutter.end();
    assert.deepEqual(lines, ['one', 'two', '', 'three']);
  });

  it('keeps the head and the tail of an overlong line and says how much was cut, in bytes', () => {
    const lines: string[] = [];
    const cutter = new LineCutter((line) => lines.push(line));
    cutter.push('HEAD');
    for (let i = 0; i < 100; i++) cutter.push('é'.repeat(10_000)); // 2 bytes each in UTF-8
    cutter.push('TAIL\nnext');
    cutter.end();
    assert.equal(lines.length, 2);
    const [head, cut, tail] = lines[0].split(' ... ');
    assert.equal(head, `HEAD${'é'.repeat(4092)}`);
    assert.equal(tail, `${'é'.repeat(4092)}TAIL`);
    assert.equal(cut, `[${(((1_000_000 - 8184) * 2) / 1024 / 1024).toFixed(1)} MB cut from this line]`);
    assert.equal(lines[1], 'next');
  });

  it('runs a command that prints one endless line and many lines, keeping what it captures bounded', async () => {
    const lines: string[] = [];
    const log = createLogger({ verbosity: 'normal', interactive: false, write: (l) => lines.push(l) });
    const target = new LocalTarget('local', log);
    const result = await target.exec('head -c 20000000 /dev/zero | tr "\\0" x; echo; seq 1 100000', { output: 'info' });
    assert.equal(result.stdout.length, 4 * 1024 * 1024);
    assert.match(lines[0], /^\[local\] x{4096} \.\.\. \[19\.1 MB cut from this line\] \.\.\. x{4096}$/);
    assert.equal(lines.length, 100_001);
    assert.equal(lines.at(-1), '[local] 100000');
  });
});
