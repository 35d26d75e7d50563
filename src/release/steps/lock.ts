import { isReleaseId } from '../../config';
import { AttacheError, RemoteCommandError } from '../../errors';
import { sweepScript } from '../../remote/fanout';
import { raw, sh } from '../../remote/quote';
import type { ServerRun, Step } from '../lifecycle/context';
import {
  describeHolder,
  judgeHolder,
  lineValue,
  newOwner,
  parseHeld,
  STALE_AFTER_S,
  type HeldLock,
  type LockOwner,
  type Verdict,
} from '../model/lock-owner';
import {
  acquireScript,
  HELD,
  MKDIR_FAILED,
  NOT_MINE,
  ownsScript,
  RECORD_FAILED,
  ROOT_FAILED,
  TAKEOVER_CHANGED,
  TAKEOVER_RACED,
  takeoverScript,
} from '../model/lock-scripts';
import { parseListing } from '../model/release-list';

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

/** Attempts at taking a lock that vanishes or changes under us (its holder unlocking meanwhile). */
const ATTEMPTS = 3;

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
      const result = await run.target.exec(acquireScript(run.layout, owner), { check: false, step: 'lock', output: 'none' });
      if (result.code === 0) {
        run.releasesSeen = parseListing(result.stdout, run.layout);
        return hold(run, owner);
      }
      if (result.code === TAKEOVER_CHANGED && attempt < ATTEMPTS) continue; // the lock vanished while we looked: again
      if (result.code !== HELD) throw lockFailure(run, result.code, result.stdout, result.stderr);
      const found = parseHeld(result.stdout);
      const verdict = judgeHolder(found.owner, found.heartbeatAge);
      if (verdict.holder === 'alive' || !found.owner?.token) throw lockHeld(run, found, verdict);
      const taken = await run.target.exec(takeoverScript(run.layout, found.owner.token, owner), {
        check: false,
        step: 'lock',
        output: 'none',
      });
      if (taken.code === 0) {
        run.log.warn(`[${run.server.name}] took over the stale lock of ${describeHolder(found.owner)}: ${verdict.why}`);
        hold(run, owner);
        await removeIncompleteRelease(run, lineValue(taken.stdout, 'release'));
        await removeFanOutLeftovers(run);
        return;
      }
      if (taken.code === TAKEOVER_RACED) {
        throw new AttacheError(`another deploy is taking over the stale lock of ${describeHolder(found.owner)} at this moment`, {
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
    sh`${raw(ownsScript(run.layout, lease.token))} rm -rf -- ${dir}; elif [ -e ${dir} ]; then echo ${NOT_MINE}; fi`,
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
  await removeFanOutLeftovers(run);
  return { owner: owner.join('\n').trim() || null, removed };
}

/** What a fan-out of the dead holder's left (files/fanout.ts): its directories under the root, and its key lines. */
async function removeFanOutLeftovers(run: ServerRun): Promise<void> {
  await run.target.exec('sh -e -s', { stdin: `${sweepScript(run.layout.fanout(''))}\n`, step: 'lock', output: 'none' });
}

/** Who holds the lock, from its owner file: the error a refused deploy shows. */
export function lockHeld(run: ServerRun, found: HeldLock, verdict?: Verdict): AttacheError {
  const who = found.owner ? describeHolder(found.owner) : 'an unknown deploy (no owner recorded)';
  return new AttacheError(`another deploy holds the lock: ${who}${verdict && found.owner ? ` (${verdict.why})` : ''}`, {
    server: run.server.name,
    step: 'lock',
    remotePath: run.layout.lock,
    hint:
      `Wait for it to finish. A lock whose holder is gone (no heartbeat for ${STALE_AFTER_S} s, or its process on this host ended) is taken over by the next deploy. ` +
      `If no deploy is running (it was killed), free the lock with: gulp unlock --server=${run.server.name}`,
  });
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
    await run.target.exec(acquireScript(run.layout, newOwner()), { step: 'lock' }); // printed, not run
    return;
  }
  const text = (await run.target.readFile(run.layout.lockOwner).catch(() => Buffer.from(''))).toString();
  const heartbeat = await run.target.stat(run.layout.lockHeartbeat).catch(() => null);
  const found = parseHeld(`${heartbeat ? `age=${Math.round((Date.now() - heartbeat.mtimeMs) / 1000)}\n` : ''}${text}`);
  const verdict = judgeHolder(found.owner, found.heartbeatAge);
  if (verdict.holder === 'alive' || !found.owner?.token) throw lockHeld(run, found, verdict);
  run.log.info(`[dry run] [${run.server.name}] would take over the stale lock of ${describeHolder(found.owner)}: ${verdict.why}`);
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
