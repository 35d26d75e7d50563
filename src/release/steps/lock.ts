import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { isReleaseId } from '../../config';
import { AttacheError, RemoteCommandError } from '../../errors';
import { quote, raw, sh } from '../../remote/quote';
import type { ServerRun, Step } from '../lifecycle/context';
import { describeOwner as describeRecord, type LockOwner as RecordedOwner } from '../model/lock-owner';
import { listingScript, parseListing } from '../model/release-list';

/**
 * The deploy lock, a lease that heals. Taking it is one atomic `mkdir` (two deploys can never both
 * take it); inside, `owner` says who holds it and `heartbeat` is rewritten by the holder every
 * HEARTBEAT_MS over the deploy's own connection. A later deploy that finds the lock refuses while
 * the holder is alive, and takes it over when the holder is provably gone: on another host, no
 * heartbeat for STALE_AFTER_S (the server's clock on both ends); on this host, its process has
 * ended. The takeover is one `mkdir` too (of `.takeover-<token>` inside that very lock), so of two
 * deploys taking over one stale lock exactly one wins. The taker removes the dead holder's
 * incomplete release (`release` inside the lock names it).
 */
export const HEARTBEAT_MS = 10_000;
export const STALE_AFTER_S = 60;

const HELD = 75;
const ROOT_FAILED = 71;
const MKDIR_FAILED = 72;
const RECORD_FAILED = 73;
const TAKEOVER_RACED = 76;
const TAKEOVER_CHANGED = 77;
const NOT_MINE = 'attache:not-mine';
/** Attempts at taking a lock that vanishes or changes under us (its holder unlocking meanwhile). */
const ATTEMPTS = 3;

export interface LockOwner extends RecordedOwner {
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

/** The heartbeat of a lock this deploy holds. */
interface Heartbeat {
  timer: NodeJS.Timeout;
  beat?: Promise<void>;
}

export const lock: Step = {
  name: 'lock',
  description:
    'take the deploy lock on each server (atomic mkdir, records who, when, from where; a heartbeat keeps it while the deploy runs)',
  async run(run, deploy) {
    if (deploy.dryRun) return dryRunLock(run);
    for (let attempt = 1; ; attempt++) {
      const owner = newOwner();
      const result = await run.target.exec(acquireScript(run, owner), { check: false, step: 'lock', output: 'none' });
      if (result.code === 0) {
        run.releasesSeen = parseListing(result.stdout, run.layout);
        return hold(run, owner);
      }
      if (result.code === TAKEOVER_CHANGED && attempt < ATTEMPTS) continue; // the lock vanished while we looked: again
      if (result.code !== HELD) throw lockFailure(run, result.code, result.stdout, result.stderr);
      const found = parseHeld(result.stdout);
      const verdict = judgeHolder(found.owner, found.heartbeatAge);
      if (verdict.holder === 'alive' || !found.owner?.token) throw lockHeld(run, found, verdict);
      const taken = await run.target.exec(takeoverScript(run, found.owner.token, owner), { check: false, step: 'lock', output: 'none' });
      if (taken.code === 0) {
        run.log.warn(`[${run.server.name}] took over the stale lock of ${describeOwner(found.owner)}: ${verdict.why}`);
        hold(run, owner);
        await removeIncompleteRelease(run, lineValue(taken.stdout, 'release'));
        return;
      }
      if (taken.code === TAKEOVER_RACED) {
        throw new AttacheError(`another deploy is taking over the stale lock of ${describeOwner(found.owner)} at this moment`, {
          server: run.server.name,
          step: 'lock',
          remotePath: run.layout.lock,
          hint: 'Two deploys started at once; this one stands back. Run it again once the other is done.',
        });
      }
      if (taken.code !== TAKEOVER_CHANGED) throw lockFailure(run, taken.code, taken.stdout, taken.stderr);
      if (attempt >= ATTEMPTS) throw lockHeld(run, found, { holder: 'alive', why: 'the lock kept changing hands' });
      // The lock changed hands while we looked (its holder unlocked, another took it): look again.
    }
  },
};

/** Whether this deploy holds the lock on that server (a custom series may leave deploy:lock out). */
export function holdsLock(run: ServerRun): boolean {
  return run.lock !== undefined;
}

/**
 * A shell fragment that records the release being built in the lock (followed by `&&`), or nothing
 * when this deploy holds no lock there. The clone step puts it before the mkdir of the release.
 */
export function recordRelease(run: ServerRun, id: string): ReturnType<typeof raw> {
  return raw(holdsLock(run) ? sh`printf '%s\\n' ${id} > ${run.layout.lockRelease} && ` : '');
}

/** Frees this deploy's lock: the heartbeat stops first, and a lock someone else has since taken over stays. */
export async function releaseLock(run: ServerRun): Promise<void> {
  const lease = run.lock;
  if (!lease) return;
  await lease.stopHeartbeat();
  const { lock: dir } = run.layout;
  const result = await run.target.exec(
    sh`${raw(ownsScript(run, lease.token))} rm -rf -- ${dir}; elif [ -e ${dir} ]; then echo ${NOT_MINE}; fi`,
    {
      step: 'unlock',
    },
  );
  run.lock = undefined;
  if (result.stdout.includes(NOT_MINE))
    run.log.warn(`[${run.server.name}] the lock ${dir} is no longer this deploy's (another deploy took it over): left as it is`);
}

/**
 * `gulp unlock`: frees the lock whoever holds it, and removes the incomplete release its holder
 * was building (a release with its completion marker stays). Returns the owner record it freed.
 */
export async function forceFreeLock(run: ServerRun): Promise<{ owner: string | null; removed: string | null }> {
  const { layout } = run;
  const found = await run.target.exec(
    sh`cat -- ${layout.lockRelease} 2>/dev/null; printf '\n'; cat -- ${layout.lockOwner} 2>/dev/null || true`,
    {
      step: 'unlock',
      output: 'none',
    },
  );
  const [release, ...owner] = found.stdout.split('\n');
  await run.target.exec(sh`rm -rf -- ${layout.lock}`, { step: 'unlock' });
  const removed = await removeIncompleteRelease(run, release.trim() || null);
  return { owner: owner.join('\n').trim() || null, removed };
}

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

/** Who holds the lock, from its owner file: the error a refused deploy shows. */
export function lockHeld(run: ServerRun, found: HeldLock, verdict?: Verdict): AttacheError {
  const who = found.owner ? describeOwner(found.owner) : 'an unknown deploy (no owner recorded)';
  return new AttacheError(`another deploy holds the lock: ${who}${verdict && found.owner ? ` (${verdict.why})` : ''}`, {
    server: run.server.name,
    step: 'lock',
    remotePath: run.layout.lock,
    hint:
      `Wait for it to finish. A lock whose holder is gone (no heartbeat for ${STALE_AFTER_S} s, or its process on this host ended) is taken over by the next deploy. ` +
      `If no deploy is running (it was killed), free the lock with: gulp unlock --server=${run.server.name}`,
  });
}

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
function describeOwner(owner: LockOwner): string {
  return describeRecord(JSON.stringify(owner));
}

function lineValue(stdout: string, key: string): string | null {
  const line = stdout.split('\n').find((l) => l.startsWith(`${key}=`));
  const value = line?.slice(key.length + 1).trim();
  return value ? value : null;
}

function newOwner(): LockOwner {
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

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The heartbeat's age in seconds by the server's clock (GNU stat, else BSD), and the lock's record. */
function describeScript(run: ServerRun): string {
  const { lockHeartbeat, lockRelease, lockOwner } = run.layout;
  return (
    sh`if hb=$(stat -c %Y -- ${lockHeartbeat} 2>/dev/null || stat -f %m -- ${lockHeartbeat} 2>/dev/null); then printf 'age=%s\n' "$(( $(date +%s) - hb ))"; fi; ` +
    sh`printf 'release=%s\n' "$(cat -- ${lockRelease} 2>/dev/null)"; cat -- ${lockOwner} 2>/dev/null`
  );
}

/**
 * mkdir the lock and write its record and first heartbeat. When it exists: what it holds (exit
 * HELD). When mkdir fails otherwise (permission, read-only, no space): its own error and who we are.
 */
function acquireScript(run: ServerRun, owner: LockOwner): string {
  const { root, lock: dir, lockOwner, lockHeartbeat } = run.layout;
  const whoami = raw(`printf 'user=%s\\n' "$(id -un 2>/dev/null)"`);
  return (
    sh`mkdir -p -- ${root} && if mkdir -- ${dir} 2>/dev/null; then ` +
    sh`{ printf '%s\n' ${JSON.stringify(owner)} > ${lockOwner} && : > ${lockHeartbeat}; } || { rm -rf -- ${dir}; exit ${RECORD_FAILED}; }; ` +
    // The releases as seen under the lock: the release step chooses the new id from them, prune what to remove.
    listingScript(run.layout) +
    'exit 0; fi; ' +
    // mkdir -p has said why the root could not be made (on stderr).
    sh`[ -d ${root} ] || { ${whoami}; exit ${ROOT_FAILED}; }; ` +
    sh`if [ -d ${dir} ]; then ${raw(describeScript(run))}; exit ${HELD}; fi; ` +
    // Not there, yet not made: mkdir again for its own words (Permission denied, Read-only, No space).
    sh`if err=$(mkdir -- ${dir} 2>&1); then rm -rf -- ${dir}; exit ${TAKEOVER_CHANGED}; fi; ` +
    sh`printf '%s\n' "$err" >&2; ${whoami}; printf 'owner=%s\n' "$(stat -c %U -- ${root} 2>/dev/null || stat -f %Su -- ${root} 2>/dev/null)"; exit ${MKDIR_FAILED}`
  );
}

/**
 * Takes over the lock whose record has `token`: mkdir .takeover-<token> inside it (exactly one
 * racer succeeds), check the record is still that one, then write ours in its place (atomic rename).
 * Prints the release the dead holder was building.
 */
function takeoverScript(run: ServerRun, token: string, owner: LockOwner): string {
  const { lock: dir, lockOwner, lockHeartbeat, lockRelease } = run.layout;
  const claim = run.layout.lockTakeover(token);
  return (
    sh`mkdir -- ${claim} 2>/dev/null || exit ${TAKEOVER_RACED}; ` +
    sh`${raw(ownsScript(run, token))} :; else rm -rf -- ${claim}; exit ${TAKEOVER_CHANGED}; fi; ` +
    sh`printf 'release=%s\n' "$(cat -- ${lockRelease} 2>/dev/null)"; rm -f -- ${lockRelease}; ` +
    sh`printf '%s\n' ${JSON.stringify(owner)} > ${`${lockOwner}.new`} && mv -f -- ${`${lockOwner}.new`} ${lockOwner} && : > ${lockHeartbeat} || { rm -rf -- ${dir}; exit ${RECORD_FAILED}; }`
  );
}

/**
 * `if <the lock's record has this token>; then` — with the shell's own `case`, not grep: the
 * commands a lock needs are few (mkdir, cat, rm, mv, printf), so it works on a minimal server.
 */
function ownsScript(run: ServerRun, token: string): string {
  return sh`if case "$(cat -- ${run.layout.lockOwner} 2>/dev/null)" in *${raw(quote(`"token":"${token}"`))}*) true ;; *) false ;; esac; then`;
}

/** The lock is ours: its heartbeat starts, and the lease goes on the run (the lifecycle stops the heartbeat at the end). */
function hold(run: ServerRun, owner: LockOwner): void {
  const heartbeat: Heartbeat = { timer: setInterval(() => beat(run, heartbeat), HEARTBEAT_MS) };
  heartbeat.timer.unref(); // the heartbeat never keeps the process alive
  run.lock = {
    token: owner.token as string,
    async stopHeartbeat() {
      clearInterval(heartbeat.timer);
      await heartbeat.beat;
    },
  };
  run.undo.push('lock', `free the lock ${run.layout.lock}`, () => releaseLock(run));
}

/** One heartbeat, over whatever connection the run has now (a reconnect replaces it); never two at once. */
function beat(run: ServerRun, heartbeat: Heartbeat): void {
  if (heartbeat.beat) return;
  heartbeat.beat = run.target
    .writeFile(run.layout.lockHeartbeat, Buffer.from(`${new Date().toISOString()}\n`))
    .then(
      () => undefined,
      (error: Error) => run.log.debug(`[${run.server.name}] lock heartbeat failed: ${error.message}`),
    )
    .finally(() => (heartbeat.beat = undefined));
}

/** A dead holder's release: removed unless it is complete (its marker written, so it may be live). */
async function removeIncompleteRelease(run: ServerRun, id: string | null): Promise<string | null> {
  if (!isReleaseId(id)) return null;
  const { layout } = run;
  // The dead holder's last command (a tar still unpacking, say) may outlive its client by a moment
  // and write into the release again: remove, wait, and remove again while it keeps reappearing.
  const dir = layout.release(id);
  const leftovers = [layout.checkoutIndex(id), layout.stagedAssets(id)]; // never part of a live release
  const result = await run.target.exec(
    sh`rm -rf -- ${leftovers}; if [ -d ${dir} ] && [ ! -e ${layout.marker(id)} ]; then for i in 1 2 3 4 5; do rm -rf -- ${dir} ${leftovers} || exit 1; sleep 1; [ -e ${dir} ] || break; done; echo removed; fi`,
    { step: 'lock', output: 'none' },
  );
  if (!result.stdout.includes('removed')) return null;
  run.log.info(`[${run.server.name}] removed the incomplete release ${id} the previous lock holder left`);
  return id;
}

async function dryRunLock(run: ServerRun): Promise<void> {
  // A dry run changes nothing, so it reads the lock instead of taking it (by the local clock: no command runs).
  if (!(await run.target.lstat(run.layout.lock))) {
    await run.target.exec(acquireScript(run, newOwner()), { step: 'lock' }); // printed, not run
    return;
  }
  const text = (await run.target.readFile(run.layout.lockOwner).catch(() => Buffer.from(''))).toString();
  const heartbeat = await run.target.stat(run.layout.lockHeartbeat).catch(() => null);
  const found = parseHeld(`${heartbeat ? `age=${Math.round((Date.now() - heartbeat.mtimeMs) / 1000)}\n` : ''}${text}`);
  const verdict = judgeHolder(found.owner, found.heartbeatAge);
  if (verdict.holder === 'alive' || !found.owner?.token) throw lockHeld(run, found, verdict);
  run.log.info(`[dry run] [${run.server.name}] would take over the stale lock of ${describeOwner(found.owner)}: ${verdict.why}`);
}

/** Why the lock could not be taken when it was not held: mkdir's own first line, where, and who we are. */
function lockFailure(run: ServerRun, code: number | null, stdout: string, stderr: string): AttacheError {
  const { root, lock: dir } = run.layout;
  const first = stderr.split('\n').find((l) => l.trim()) ?? '';
  const user = lineValue(stdout, 'user') ?? 'the deploy user';
  const owner = lineValue(stdout, 'owner');
  if (code === ROOT_FAILED) {
    return new AttacheError(`could not create the root directory ${root}: ${first}`, {
      server: run.server.name,
      step: 'lock',
      remotePath: root,
      hint: `This deploy connects as ${user}. Create ${root} as a user who can, owned by ${user} (mkdir -p ${root} && chown ${user} ${root}), or fix "root".`,
    });
  }
  if (code === MKDIR_FAILED || code === RECORD_FAILED) {
    return new AttacheError(`could not create the lock ${dir}: ${first}`, {
      server: run.server.name,
      step: 'lock',
      remotePath: dir,
      hint: `${owner ? `${root} is owned by ${owner}; ` : ''}this deploy connects as ${user}. Give ${user} write access to ${root}${owner && owner !== user ? ` (chown ${user} ${root})` : ''}, or check the disk (read-only, full).`,
    });
  }
  return new RemoteCommandError({
    server: run.server.name,
    step: 'lock',
    command: 'take the deploy lock',
    exitCode: code,
    output: stderr.trim(),
  });
}
