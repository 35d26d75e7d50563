import { quote, raw, sh } from '../../remote/quote';
import type { Layout } from './layout';
import type { LockOwner } from './lock-owner';
import { listingScript } from './release-list';

/**
 * The deploy lock's shell scripts, as pure functions of the layout (the lock step runs them; their
 * exit codes and printed lines are what it reads). They use only mkdir, cat, rm, mv, printf, stat
 * and date, so a lock works on a minimal server.
 */
/** Exit codes and markers of the scripts. */
export const HELD = 75;
export const ROOT_FAILED = 71;
export const MKDIR_FAILED = 72;
export const RECORD_FAILED = 73;
export const TAKEOVER_RACED = 76;
export const TAKEOVER_CHANGED = 77;
export const NOT_MINE = 'attache:not-mine';

/** The heartbeat's age in seconds by the server's clock (GNU stat, else BSD), and the lock's record. */
function describeScript(layout: Layout): string {
  const { lockHeartbeat, lockRelease, lockOwner } = layout;
  return (
    sh`if hb=$(stat -c %Y -- ${lockHeartbeat} 2>/dev/null || stat -f %m -- ${lockHeartbeat} 2>/dev/null); then printf 'age=%s\n' "$(( $(date +%s) - hb ))"; fi; ` +
    sh`printf 'release=%s\n' "$(cat -- ${lockRelease} 2>/dev/null)"; cat -- ${lockOwner} 2>/dev/null`
  );
}

/**
 * mkdir the lock and write its record and first heartbeat. When it exists: what it holds (exit
 * HELD). When mkdir fails otherwise (permission, read-only, no space): its own error and who we are.
 */
export function acquireScript(layout: Layout, owner: LockOwner): string {
  const { root, lock: dir, lockOwner, lockHeartbeat } = layout;
  const whoami = raw(`printf 'user=%s\\n' "$(id -un 2>/dev/null)"`);
  return (
    sh`mkdir -p -- ${root} && if mkdir -- ${dir} 2>/dev/null; then ` +
    sh`{ printf '%s\n' ${JSON.stringify(owner)} > ${lockOwner} && : > ${lockHeartbeat}; } || { rm -rf -- ${dir}; exit ${RECORD_FAILED}; }; ` +
    // The releases as seen under the lock: the release step chooses the new id from them, prune what to remove.
    listingScript(layout) +
    'exit 0; fi; ' +
    // mkdir -p has said why the root could not be made (on stderr).
    sh`[ -d ${root} ] || { ${whoami}; exit ${ROOT_FAILED}; }; ` +
    sh`if [ -d ${dir} ]; then ${raw(describeScript(layout))}; exit ${HELD}; fi; ` +
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
export function takeoverScript(layout: Layout, token: string, owner: LockOwner): string {
  const { lock: dir, lockOwner, lockHeartbeat, lockRelease } = layout;
  const claim = layout.lockTakeover(token);
  return (
    sh`mkdir -- ${claim} 2>/dev/null || exit ${TAKEOVER_RACED}; ` +
    sh`${raw(ownsScript(layout, token))} :; else rm -rf -- ${claim}; exit ${TAKEOVER_CHANGED}; fi; ` +
    sh`printf 'release=%s\n' "$(cat -- ${lockRelease} 2>/dev/null)"; rm -f -- ${lockRelease}; ` +
    sh`printf '%s\n' ${JSON.stringify(owner)} > ${`${lockOwner}.new`} && mv -f -- ${`${lockOwner}.new`} ${lockOwner} && : > ${lockHeartbeat} || { rm -rf -- ${dir}; exit ${RECORD_FAILED}; }`
  );
}

/**
 * `if <the lock's record has this token>; then` — with the shell's own `case`, not grep: the
 * commands a lock needs are few (mkdir, cat, rm, mv, printf), so it works on a minimal server.
 */
export function ownsScript(layout: Layout, token: string): string {
  return sh`if case "$(cat -- ${layout.lockOwner} 2>/dev/null)" in *${raw(quote(`"token":"${token}"`))}*) true ;; *) false ;; esac; then`;
}
