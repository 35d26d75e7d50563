import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log';
import { readSections } from '../../src/remote/command';
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
});
