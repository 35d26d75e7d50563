import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openTarget } from '../../src/open-target';
import { ArchiveUpload } from '../../src/remote/archive';
import { tempDir } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { createSite, exists } from '../support/preset';
import { createHome, startSshd, trust, type SshServer } from '../../support/sshd';

/**
 * A file system that runs out of inodes while it has bytes to spare (a real tmpfs of 50 MB with
 * 200 inodes): the free-space check counts inodes too, and an ENOSPC ("No space left on device")
 * says "no free inodes on <mount>" with what to do, the tool's own line kept.
 */

function inodes(dir: string): { used: number; free: number } {
  const [, line] = execFileSync('df', ['-P', '-i', dir], { encoding: 'utf8' }).trim().split('\n');
  const fields = line.split(/\s+/);
  return { used: Number(fields.at(-4)), free: Number(fields.at(-3)) };
}

/** Takes inodes (empty files in `dir`/filler) until `left` remain free. */
function fillInodes(dir: string, left: number): void {
  const filler = path.join(dir, 'filler');
  mkdirSync(filler);
  for (let i = 0, n = inodes(dir).free - left; i < n; i++) writeFileSync(path.join(filler, String(i)), '');
}

describe('a file system without free inodes (a tmpfs with nr_inodes=200), against a real sshd', () => {
  let sshd: SshServer;
  const mounts: string[] = [];

  before(async () => {
    const home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
  });
  after(async () => {
    for (const dir of mounts) execFileSync('umount', ['-l', dir]);
    await sshd.stop();
  });

  const tmpfs = () => {
    const dir = tempDir('attache-inodes-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=50m,nr_inodes=200', 'tmpfs', dir]);
    mounts.push(dir);
    return dir;
  };
  const direct = { host: '127.0.0.1', port: 0, user: 'root' } as const;

  it('the free-space check before a stream upload counts inodes: "no free inodes on <mount> (tmpfs): N files to write…"', async () => {
    const mount = tmpfs();
    fillInodes(mount, 20);
    const session = await openTarget({ ...direct, port: sshd.port }, captureLogger('quiet').log);
    try {
      const dest = path.join(mount, 'release');
      const archive = new ArchiveUpload(session, dest, captureLogger('quiet').log, { step: 'assets', expected: { files: 40, bytes: 40 } });
      for (let i = 0; i < 40; i++) await archive.put({ relative: `f-${i}.txt`, contents: Buffer.from('x') });
      await assert.rejects(archive.finish(), (error: Error) => {
        assert.match(
          error.message,
          new RegExp(
            `^server "[^"]+", step "assets", remote path ${dest}: no free inodes on ${mount} \\(tmpfs\\): 40 files to write, 1[89] inodes free \\(and [\\d.]+ MB\\)$`,
            'm',
          ),
        );
        assert.match(error.message, /df -i .*nr_inodes/);
        return true;
      });
      assert.ok(!exists(path.join(dest, 'f-0.txt')), 'nothing was unpacked');
    } finally {
      await session.close();
    }
  });

  it("a deploy's free-space check counts the inodes its assets need", async () => {
    const mount = tmpfs();
    const root = path.join(mount, 'root');
    const site = createSite({ target: { ...direct, port: sshd.port }, root });
    // More asset files than inodes left, before the clone (beside the upload) takes its share or after.
    mkdirSync(path.join(site.cwd, 'public/js/chunks'));
    for (let i = 0; i < 300; i++) writeFileSync(path.join(site.cwd, 'public/js/chunks', `${i}.js`), `// ${i}\n`);
    fillInodes(mount, 150);
    const { error } = await site.fail('deploy');
    assert.match(
      error.message,
      new RegExp(
        `^server "production", step "assets".*: no free inodes on ${mount} \\(tmpfs\\): 30\\d files to write, \\d+ inodes? free \\(and [\\d.]+ MB\\)$`,
        'm',
      ),
      error.message,
    );
    assert.ok(!exists(path.join(root, '.attache-lock')), 'the lock is freed');
    assert.deepEqual(site.releases(), [], 'the undo removed the release');
  });

  it('a step that runs out of inodes (the clone) says "no free inodes on <mount>", keeping the tool\'s own "No space left on device" line, and undoes what it did', async () => {
    const mount = tmpfs();
    const root = path.join(mount, 'root');
    const site = createSite({ target: { ...direct, port: sshd.port }, root, server: { skip: ['assets', 'composer', 'artisan'] } });
    fillInodes(mount, 40);
    const { error } = await site.fail('deploy');
    assert.match(
      error.message,
      new RegExp(
        `^server "production", step "clone"[^:]*: no free inodes on ${mount} \\(tmpfs\\), though [\\d.]+ MB are free: .*No space left on device`,
        'm',
      ),
      error.message,
    );
    assert.match(error.message, /gulp prune/);
    assert.ok(!exists(path.join(root, '.attache-lock')), 'the lock is freed');
    assert.deepEqual(site.releases(), [], 'the undo removed the release');
  });
});
