import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allows, pathsDownTo } from '../../src/release/doctor/access';

const www = { uid: 33, gids: [33] };

describe("the doctor's access rules", () => {
  it('modes: owner, then group, then other', () => {
    assert.equal(allows({ path: '/a', mode: 0o700, uid: 1000, gid: 1000 }, www, 'x'), false);
    assert.equal(allows({ path: '/a', mode: 0o711, uid: 1000, gid: 1000 }, www, 'x'), true);
    assert.equal(allows({ path: '/a', mode: 0o750, uid: 1000, gid: 33 }, www, 'x'), true);
    // The group's bits decide for a member, even when other's would allow more.
    assert.equal(allows({ path: '/a', mode: 0o707, uid: 1000, gid: 33 }, www, 'r'), false);
    assert.equal(allows({ path: '/a', mode: 0o700, uid: 33, gid: 1 }, www, 'w'), true);
    assert.equal(allows({ path: '/a', mode: 0o000, uid: 1, gid: 1 }, { uid: 0, gids: [0] }, 'r'), true);
  });

  it('ACLs: a named user entry, masked; named groups; other', () => {
    const dir = { path: '/a', mode: 0o750, uid: 1000, gid: 1000 };
    assert.equal(allows({ ...dir, acl: ['user::rwx', 'user:33:r-x', 'group::r-x', 'mask::r-x', 'other::---'] }, www, 'x'), true);
    assert.equal(allows({ ...dir, acl: ['user::rwx', 'user:33:rwx', 'group::r-x', 'mask::r-x', 'other::---'] }, www, 'w'), false);
    assert.equal(allows({ ...dir, acl: ['user::rwx', 'group::---', 'group:33:r-x', 'mask::r-x', 'other::---'] }, www, 'r'), true);
    assert.equal(allows({ ...dir, acl: ['user::rwx', 'user:44:rwx', 'group::---', 'mask::rwx', 'other::r-x'] }, www, 'r'), true);
    // A minimal ACL (three entries) is the mode itself.
    assert.equal(allows({ ...dir, mode: 0o700, acl: ['user::rwx', 'group::---', 'other::---'] }, www, 'x'), false);
  });

  it('the directories from / down to a path', () => {
    assert.deepEqual(pathsDownTo('/var/www/app/public'), ['/', '/var', '/var/www', '/var/www/app', '/var/www/app/public']);
  });
});
