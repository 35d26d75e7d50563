import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** A holder whose heartbeat is older than this (by the server's clock) is gone: its lock is taken over. */
export const STALE_AFTER_S = 60;

/** Who holds a deploy lock, as the lock step records it in root/.attache-lock/owner. */
export interface LockRecord {
  by: string;
  host: string;
  pid: number;
  since: string;
}

/**
 * The owner file's JSON as people read it: `deploy@build-box (pid 4242) since 2026-11-26T20:30:00.000Z,
 * 12 min ago`. A file that is not an owner record is shown as it is (shortened), an empty one as unknown.
 */
export function describeOwner(ownerJson: string, now = Date.now()): string {
  const text = ownerJson.trim();
  let owner: Partial<LockRecord> | null = null;
  try {
    owner = JSON.parse(text) as Partial<LockRecord>;
  } catch {}
  if (owner && typeof owner === 'object' && typeof owner.by === 'string' && typeof owner.host === 'string') {
    const since = typeof owner.since === 'string' && !Number.isNaN(Date.parse(owner.since)) ? owner.since : undefined;
    const ago = since === undefined ? '' : `, ${Math.max(0, Math.round((now - Date.parse(since)) / 60000))} min ago`;
    return `${owner.by}@${owner.host}${owner.pid === undefined ? '' : ` (pid ${owner.pid})`}${since === undefined ? '' : ` since ${since}${ago}`}`;
  }
  if (text === '') return 'an unknown deploy (no owner recorded)';
  return `an unknown deploy (owner file: ${JSON.stringify(text.length > 80 ? text.slice(0, 80) + '…' : text)})`;
}

/** A holder as gulp-attache records it: who, plus what makes a takeover or an unlock act on this very lock. */
export interface LockOwner extends LockRecord {
  /** Unique per taking: a takeover and an unlock act on this lock only, not on a newer one. */
  token?: string;
  /** The kernel's boot id where the holder ran: a pid on "this host" means this boot, not a namesake. */
  boot?: string;
}

/** What a deploy found in a lock it could not take. */
export interface HeldLock {
  owner: LockOwner | null;
  /** Seconds since the holder's last heartbeat, by the server's clock; null when it never wrote one. */
  heartbeatAge: number | null;
  release: string | null;
}

export type Verdict = { holder: 'alive' | 'gone'; why: string };

/**
 * Alive or provably gone, from the lock's record. On this host (same boot) the holder's pid
 * decides; elsewhere its heartbeat's age. A lock without a record or without a heartbeat (an older
 * gulp-attache) is never judged gone: `gulp unlock` is for those.
 */
export function judgeHolder(owner: LockOwner | null, heartbeatAge: number | null, here = thisHost()): Verdict {
  if (!owner) return { holder: 'alive', why: 'no owner is recorded' };
  if (owner.host === here.host && (owner.boot === undefined || here.boot === undefined || owner.boot === here.boot)) {
    return pidAlive(owner.pid)
      ? { holder: 'alive', why: `its process ${owner.pid} is running on this host` }
      : { holder: 'gone', why: `its process ${owner.pid} on this host no longer exists` };
  }
  if (heartbeatAge === null) return { holder: 'alive', why: 'it records no heartbeat' };
  if (heartbeatAge > STALE_AFTER_S)
    return { holder: 'gone', why: `its last heartbeat is ${heartbeatAge} s old (more than ${STALE_AFTER_S} s)` };
  return { holder: 'alive', why: `its last heartbeat is ${heartbeatAge} s old` };
}

/** What a lock script printed of a lock it could not take: its record, the heartbeat's age, the release being built. */
export function parseHeld(stdout: string): HeldLock {
  const lines = stdout.split('\n');
  const age = lineValue(stdout, 'age');
  const json = lines.find((l) => l.startsWith('{'));
  let owner: LockOwner | null = null;
  try {
    const parsed = JSON.parse(json ?? '') as LockOwner;
    if (
      typeof parsed.by === 'string' &&
      typeof parsed.host === 'string' &&
      typeof parsed.pid === 'number' &&
      typeof parsed.since === 'string'
    )
      owner = parsed;
  } catch {}
  return {
    owner,
    heartbeatAge: age === null || !/^-?\d+$/.test(age) ? null : Math.max(0, Number(age)),
    release: lineValue(stdout, 'release'),
  };
}

/** `alice@build-box (pid 4242) since …, 12 min ago`, as `gulp unlock` says it too. */
export function describeHolder(owner: LockOwner): string {
  return describeOwner(JSON.stringify(owner));
}

/** The value of a `key=value` line of a lock script's output, or null. */
export function lineValue(stdout: string, key: string): string | null {
  const line = stdout.split('\n').find((l) => l.startsWith(`${key}=`));
  const value = line?.slice(key.length + 1).trim();
  return value ? value : null;
}

/** This process as a lock's holder, with a fresh token. */
export function newOwner(): LockOwner {
  const { host, boot } = thisHost();
  return {
    by: os.userInfo().username,
    host,
    pid: process.pid,
    since: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
    ...(boot ? { boot } : {}),
  };
}

let here: { host: string; boot?: string } | undefined;
function thisHost(): { host: string; boot?: string } {
  if (!here) {
    let boot: string | undefined;
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
    } catch {}
    here = { host: os.hostname(), boot };
  }
  return here;
}

/** Whether a process of this host runs with `pid` (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
