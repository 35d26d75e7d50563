import { AttacheError } from '../../errors';
import { quote, sh } from '../../remote/quote';
import { releaseIdOf, type ServerRun, type Step } from '../lifecycle/context';

/** Laravel writes here at run time (packages.php, services.php); only when the release has it. */
const BOOTSTRAP_CACHE = 'bootstrap/cache';
const NO_TOOLS = 'attache:no-tools';
const NO_SETFACL = 'attache:no-setfacl';
const FAILED = 'attache:failed=';

/** One path's change: with webUser, an ACL command and the group command for a server without setfacl. */
interface Change {
  path: string;
  user: string;
  acl: string;
  group: string;
  /** Only when the path exists (bootstrap/cache, .env), or only with ACLs (root and releases/). */
  when?: 'exists' | 'acl';
}

/**
 * Makes the paths the web server writes (the shared storage: on the deploy that creates it, or every
 * deploy with webUser; bootstrap/cache and `"writable"` in the new release)
 * writable for it, and .env readable by it, on every deploy (new releases need it; re-applying to
 * the shared paths keeps what someone changed by hand from drifting). With `"webUser"`: ACLs with
 * setfacl (default entries too, so files created later inherit them), or, where setfacl is
 * missing, that user's group with setgid directories. Without it: the deploy user's group, so a
 * web server in that group can write (.env is created 0640 for the same reason).
 *
 * All of it is one script (one round trip): the server answers who the deploy user is and whether
 * setfacl is there as it goes, and a failure names its path.
 */
export const permissions: Step = {
  name: 'permissions',
  description: 'make storage, bootstrap/cache and "writable" writable for the web server ("webUser"), .env readable by it',
  async run(run, deploy) {
    const { layout, target, server } = run;
    const id = releaseIdOf(deploy);
    const web = server.webUser;
    const user = web ?? "the deploy user's group";
    // The shared storage only when this deploy created it, or with webUser (ACLs, added on purpose): a
    // failed redeploy must leave storage as it was, modes included.
    const createdStorage = run.undo.pending().includes(`remove ${layout.storage}, which this deploy created`);
    const writable = server.writable.map((p) => layout.inRelease(id, p));
    const changes: Change[] = [];
    if (createdStorage || web !== undefined) changes.push(writableChange(layout.storage, web));
    changes.push({ ...writableChange(layout.inRelease(id, BOOTSTRAP_CACHE), web), when: 'exists' });
    changes.push(...writable.map((p) => writableChange(p, web)));
    if (web !== undefined) {
      // The web server must reach the release (root and releases/ may be closed to others) and read .env.
      // Only the deploy user's own: a root or .env an administrator set up stays as they made it.
      const reach =
        own(layout.root, sh`-exec setfacl -m ${`u:${web}:x`} -- {} +`) +
        ' && ' +
        own(layout.releases, sh`-exec setfacl -m ${`u:${web}:x`} -- {} +`);
      changes.push({ path: layout.root, user: web, acl: reach, group: reach, when: 'acl' });
      changes.push({
        path: layout.env,
        user: web,
        acl: own(layout.env, sh`-exec setfacl -m ${`u:${web}:r`} -- {} +`),
        group: own(layout.env, sh`-exec chgrp -- "$(id -gn -- ${web})" {} + -exec chmod 0640 -- {} +`),
        when: 'exists',
      });
    }

    const lines = [
      `fail() { printf '${FAILED}%s\\n' "$1"; exit 1; }`,
      // Without webUser this is a courtesy: a machine without these tools (the demo's PATH) is left as it is.
      ...(web === undefined ? [`command -v id find chmod readlink >/dev/null 2>&1 || { echo ${NO_TOOLS}; exit 0; }`] : []),
      // Only what the deploy user owns: files the web server created (logs, caches) are already its own.
      `me=$(id -un 2>/dev/null); [ -n "$me" ] || me=root; printf 'attache:me=%s\\n' "$me"`,
      ...(web !== undefined ? [`if command -v setfacl >/dev/null 2>&1; then acl=1; else acl=; echo ${NO_SETFACL}; fi`] : []),
      ...writable.map((p) => sh`mkdir -p -- ${p} || fail ` + String(changes.findIndex((c) => c.path === p))),
      ...changes.map((change, i) => {
        const command = web === undefined ? change.group : `if [ -n "$acl" ]; then ${change.acl}; else ${change.group}; fi`;
        const guarded = `{ ${command}; } || fail ${i}`;
        if (change.when === 'exists') return sh`if [ -e ${change.path} ]; then ` + guarded + '; fi';
        if (change.when === 'acl') return `if [ -n "$acl" ]; then ${guarded}; fi`;
        return guarded;
      }),
    ];
    const result = await target.exec('/bin/sh -s', { stdin: lines.join('\n') + '\n', check: false, step: 'permissions' });
    if (result.stdout.includes(NO_TOOLS)) {
      run.log.debug(`[${server.name}] id, find, chmod or readlink is missing: storage and bootstrap/cache left as they are`);
      return;
    }
    const acl = web !== undefined && !result.stdout.includes(NO_SETFACL);
    if (web !== undefined && !acl)
      run.log.info(`[${server.name}] setfacl is not installed: sharing ${web}'s group instead (apt-get install acl for ACLs)`);
    if (result.code === 0) return;
    const failed = changes[Number(/attache:failed=(\d+)/.exec(result.stdout)?.[1] ?? -1)];
    const me = /^attache:me=(.*)$/m.exec(result.stdout)?.[1];
    throw permissionError(run, failed, acl, result.stderr, me, user);
  },
};

/** The deploy user's files under `p` (a shared link followed: its target is what must change). */
function mine(action: string): string {
  return `find "$t" -user "$me" ` + action;
}

function own(p: string, action: string): string {
  return sh`find ${p} -maxdepth 0 -user "$me" ` + action;
}

function writableChange(p: string, web: string | undefined): Change {
  const real = sh`t=$(readlink -f -- ${p})`;
  const setgid = mine('-type d -exec chmod g+s -- {} +');
  if (web === undefined)
    return {
      path: p,
      user: "the deploy user's group",
      acl: '',
      group: [real, mine('! -type l -exec chmod g+rwX -- {} +'), setgid].join(' && '),
    };
  const dirs = sh`-type d -exec setfacl -m ${`u:${web}:rwX,d:u:${web}:rwX`},u:"$me":rwX,d:u:"$me":rwX -- {} +`;
  const files = sh`-type f -exec setfacl -m ${`u:${web}:rwX`},u:"$me":rwX -- {} +`;
  const group = sh`g=$(id -gn -- ${web})`;
  return {
    path: p,
    user: web,
    acl: [real, mine(dirs), mine(files)].join(' && '),
    group: [real, group, mine('! -type l -exec chgrp -- "$g" {} +'), mine('! -type l -exec chmod g+rwX -- {} +'), setgid].join(' && '),
  };
}

/** A path's failure: the path, the user, the tool's own first line and the command to run by hand. */
function permissionError(
  run: ServerRun,
  change: Change | undefined,
  acl: boolean,
  stderr: string,
  me: string | undefined,
  user: string,
): AttacheError {
  const tool =
    stderr
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? '';
  const path = change?.path ?? run.layout.root;
  const command = change ? (acl || !run.server.webUser ? change.acl || change.group : change.group) : '';
  return new AttacheError(`could not make ${path} accessible to ${change?.user ?? user}${tool ? `: ${tool}` : ''}`, {
    server: run.server.name,
    step: 'permissions',
    remotePath: path,
    hint:
      (command
        ? `Run it by hand as root on the server, then deploy again:\n  sudo sh -c ${quote(`me=${quote(me ?? 'root')}; ${command}`)}`
        : 'Run the deploy again with --verbose to see the whole output.') +
      (run.server.webUser && !acl
        ? `\nor install setfacl (apt-get install acl), or add the deploy user to ${run.server.webUser}'s group.`
        : ''),
  });
}
