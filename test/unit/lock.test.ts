import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { judgeHolder, parseHeld, STALE_AFTER_S, type LockOwner } from '../../src/release/model/lock-owner';

const here = { host: 'build-box', boot: 'boot-1' };
const owner = (extra: Partial<LockOwner> = {}): LockOwner => ({
  by: 'alice',
  host: 'elsewhere',
  pid: 4242,
  since: '2026-01-01T00:00:00.000Z',
  token: 'ab12',
  ...extra,
});
/** A pid that existed and has ended: a child that ran `true`. */
const deadPid = () => spawnSync('true').pid as number;

describe('judging the holder of a lock', () => {
  it('another host: alive while its heartbeat is fresh, gone once it is older than the bound', () => {
    assert.equal(judgeHolder(owner(), 3, here).holder, 'alive');
    assert.equal(judgeHolder(owner(), STALE_AFTER_S, here).holder, 'alive');
    const gone = judgeHolder(owner(), STALE_AFTER_S + 1, here);
    assert.equal(gone.holder, 'gone');
    assert.match(gone.why, new RegExp(`last heartbeat is ${STALE_AFTER_S + 1} s old \\(more than ${STALE_AFTER_S} s\\)`));
  });

  it('this host: its process decides, whatever the heartbeat says', () => {
    assert.equal(judgeHolder(owner({ host: 'build-box', boot: 'boot-1', pid: process.pid }), 999, here).holder, 'alive');
    const pid = deadPid();
    const gone = judgeHolder(owner({ host: 'build-box', boot: 'boot-1', pid }), 0, here);
    assert.deepEqual(gone, { holder: 'gone', why: `its process ${pid} on this host no longer exists` });
  });

  it('a namesake host (same name, another boot) is judged by its heartbeat, not by a pid of ours', () => {
    assert.equal(judgeHolder(owner({ host: 'build-box', boot: 'boot-2', pid: deadPid() }), 5, here).holder, 'alive');
  });

  it('never judges gone a lock without an owner record or without a heartbeat (an older gulp-attache)', () => {
    assert.equal(judgeHolder(null, 10_000, here).holder, 'alive');
    assert.equal(judgeHolder(owner(), null, here).holder, 'alive');
  });
});

describe('reading a held lock', () => {
  it('parses the age, the release and the owner record', () => {
    const held = parseHeld(`age=75\nrelease=20260101000000\n${JSON.stringify(owner())}\n`);
    assert.equal(held.heartbeatAge, 75);
    assert.equal(held.release, '20260101000000');
    assert.deepEqual(held.owner, owner());
  });

  it('no heartbeat, no release, a broken record: nulls, never a throw', () => {
    assert.deepEqual(parseHeld('release=\n{not json\n'), { owner: null, heartbeatAge: null, release: null });
    assert.equal(parseHeld('age=-3\n').heartbeatAge, 0, 'a clock that went back counts as fresh');
  });
});
