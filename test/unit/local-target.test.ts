import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log';
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
});
