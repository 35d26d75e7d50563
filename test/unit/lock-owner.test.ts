import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeOwner } from '../../src/release/model/lock-owner';

describe('describeOwner', () => {
  const now = Date.parse('2026-11-26T21:00:00.000Z');

  it('reads an owner record as who, where, which process and since when', () => {
    const json = JSON.stringify({ by: 'deploy', host: 'ci-7', pid: 31, since: '2026-11-26T20:30:00.000Z' });
    assert.equal(describeOwner(json, now), 'deploy@ci-7 (pid 31) since 2026-11-26T20:30:00.000Z, 30 min ago');
  });

  it('says an empty owner file is unknown and shows a foreign one as text, shortened', () => {
    assert.equal(describeOwner('\n', now), 'an unknown deploy (no owner recorded)');
    assert.equal(describeOwner('held by the release script\n', now), 'an unknown deploy (owner file: "held by the release script")');
    assert.match(describeOwner('x'.repeat(200), now), /^an unknown deploy \(owner file: "x{80}…"\)$/);
  });
});
