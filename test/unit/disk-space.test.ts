import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { outOfInodes, parseSpace, SPACE_LINES } from '../../src/remote/disk-space';

/** SPACE_LINES run by the local /bin/sh against a `df` that answers as another system's does. */
function spaceFrom(blocks: string, inodes: string) {
  const df = `df() { case "$1" in -Pk) printf '%s\\n' '${blocks.replaceAll('\n', "' '")}' ;; *) printf '%s\\n' '${inodes.replaceAll('\n', "' '")}' ;; esac; }`;
  return parseSpace(execFileSync('/bin/sh', ['-c', [df, ...SPACE_LINES].join('\n')], { encoding: 'utf8' }));
}

describe('free space and inodes from df', () => {
  it('reads GNU df (IUsed, IFree), a file system name with spaces included', () => {
    const space = spaceFrom(
      'Filesystem 1024-blocks Used Available Capacity Mounted on\nmy disk 51200 100 51100 1% /srv',
      'Filesystem Inodes IUsed IFree IUse% Mounted on\nmy disk 200 195 5 98% /srv',
    );
    assert.deepEqual(space, { filesystem: 'my disk', mount: '/srv', bytesFree: 51100 * 1024, inodesFree: 5, inodesTotal: 200 });
    assert.ok(space && outOfInodes(space));
  });

  it("reads BSD df (blocks and inodes on one line: iused, ifree) and BusyBox's (Used, Available)", () => {
    const bsd = spaceFrom(
      'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/disk3s1 482797652 9670052 206018296 5% /',
      'Filesystem 512-blocks Used Available Capacity iused ifree %iused Mounted on\n/dev/disk3s1 965595304 19340104 412036592 5% 403755 2060182960 0% /',
    );
    assert.equal(bsd?.inodesFree, 2060182960);
    assert.equal(bsd?.inodesTotal, 403755 + 2060182960);
    assert.ok(bsd && !outOfInodes(bsd));
    const busybox = spaceFrom(
      'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/root 1000 10 990 1% /',
      'Filesystem Inodes Used Available Use% Mounted on\n/dev/root 64 64 0 100% /',
    );
    assert.equal(busybox?.inodesFree, 0);
    assert.ok(busybox && outOfInodes(busybox));
  });

  it('a file system that counts no inodes (btrfs: 0 of 0) has none to run out of; a df that says nothing gives nothing', () => {
    const btrfs = spaceFrom(
      'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda 1000 10 990 1% /',
      'Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/sda 0 0 0 - /',
    );
    assert.equal(btrfs?.inodesFree, undefined);
    assert.ok(btrfs && !outOfInodes(btrfs));
    assert.equal(spaceFrom('', ''), undefined);
  });
});
