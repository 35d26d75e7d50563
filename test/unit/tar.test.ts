import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { halves, sumLine } from '../../src/remote/archive';
import { BLOCK, END, fileHeader, padding, symlinkHeader } from '../../src/remote/tar';
import { tempDir } from '../support/fixtures';

/** The archive writer's output, read back by GNU tar (as the server does) and by sha256sum -c. */

const NAMES = [
  'plain.txt',
  'with space.css',
  `quo'te"s.js`,
  'new\nline.txt',
  '-dash.js',
  'ünïcødé-日本.css',
  `${'d'.repeat(120)}/${'f'.repeat(200)}.js`, // 325 bytes: beyond ustar's 100 and its 155+100 prefix form
  'back\\slash.txt',
  'x'.repeat(99) + 'é', // 101 bytes, 100 characters
];

function archive(entries: Array<{ name: string; data: Buffer; mode: number } | { name: string; target: string }>): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if ('target' in entry) parts.push(symlinkHeader({ name: entry.name, target: entry.target, mode: 0o777, mtimeMs: 1_700_000_000_000 }));
    else
      parts.push(
        fileHeader({ name: entry.name, mode: entry.mode, mtimeMs: 1_700_000_000_000, size: entry.data.length }),
        entry.data,
        padding(entry.data.length),
      );
  }
  parts.push(END);
  return Buffer.concat(parts);
}

describe('tar writer (ustar + PAX), read back by GNU tar', () => {
  it('extracts every name byte for byte, with contents, modes, mtime and links', () => {
    const files = NAMES.map((name, i) => ({ name, data: randomBytes(i * 700), mode: i % 2 ? 0o755 : 0o640 }));
    const links = [
      { name: 'link-to-dash', target: '-dash.js' },
      { name: 'long-link', target: `${'d'.repeat(120)}/${'f'.repeat(200)}.js` },
    ];
    const dir = tempDir('attache-tar-');
    const bytes = archive([...files, ...links]);
    assert.equal(bytes.length % BLOCK, 0);
    execFileSync('tar', ['-x', '-p', '--no-same-owner', '-f', '-'], { cwd: dir, input: bytes });
    for (const file of files) {
      const at = path.join(dir, file.name);
      assert.deepEqual(readFileSync(at), file.data, JSON.stringify(file.name));
      assert.equal(lstatSync(at).mode & 0o7777, file.mode, JSON.stringify(file.name));
      assert.equal(lstatSync(at).mtimeMs, 1_700_000_000_000);
    }
    for (const link of links) assert.equal(readlinkSync(path.join(dir, link.name)), link.target);
  });

  it('a PAX record length counts its own digits, also where adding them makes one more digit', () => {
    // Values whose records cross 10 → 100 bytes in length: GNU tar rejects a wrong length ("Malformed extended header").
    for (let length = 80; length < 110; length++) {
      const dir = tempDir('attache-tar-pax-');
      const name = 'é'.repeat(Math.floor(length / 2)) + (length % 2 ? 'a' : '');
      execFileSync('tar', ['-x', '-f', '-'], { cwd: dir, input: archive([{ name, data: Buffer.from('x'), mode: 0o644 }]) });
      assert.equal(readFileSync(path.join(dir, name), 'utf8'), 'x');
    }
  });

  it('sum lines escape backslashes and newlines as GNU sha256sum -c reads them', () => {
    const dir = tempDir('attache-sums-');
    const lines = NAMES.filter((name) => !name.includes('/')).map((name, i) => {
      const data = Buffer.from(`contents ${i}`);
      writeFileSync(path.join(dir, name), data);
      return sumLine(execFileSync('sha256sum', { input: data, encoding: 'utf8' }).slice(0, 64), name);
    });
    writeFileSync(path.join(dir, 'sums'), lines.join(''));
    execFileSync('sha256sum', ['-c', '--quiet', '--strict', 'sums'], { cwd: dir });
    writeFileSync(path.join(dir, 'new\nline.txt'), 'altered');
    assert.throws(() => execFileSync('sha256sum', ['-c', '--quiet', '--strict', 'sums'], { cwd: dir, stdio: 'pipe' }), /Command failed/);
  });

  it('the hash lines split in two lists of about the same bytes to read, every line in one of them', () => {
    const entries = [900, 500, 400, 300, 100, 100, 0].map((size, i) => ({ line: `line ${i}\n`, size }));
    const [a, b] = halves(entries);
    assert.deepEqual([...a, ...b].sort(), entries.map((e) => e.line).sort());
    const bytes = (list: string[]) => list.reduce((total, line) => total + (entries.find((e) => e.line === line)?.size ?? 0), 0);
    assert.deepEqual([bytes(a), bytes(b)], [1200, 1100]);
    assert.deepEqual(halves([{ line: 'only\n', size: 5 }]), [['only\n'], []]);
  });
});
