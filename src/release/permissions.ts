import { AttacheError } from '../errors';
import { sh } from '../remote/quote';
import { releaseIdOf, type ServerRun, type Step } from './context';

/** Laravel writes here at run time (packages.php, services.php); only when the release has it. */
const BOOTSTRAP_CACHE = 'bootstrap/cache';

/**
 * Makes the paths the web server writes (the shared storage: on the deploy that creates it, or every
 * deploy with webUser; bootstrap/cache and `"writable"` in the new release)
 * writable for it, and .env readable by it, on every deploy (new releases need it; re-applying to
 * the shared paths keeps what someone changed by hand from drifting). With `"webUser"`: ACLs with
 * setfacl (default entries too, so files created later inherit them), or, where setfacl is
 * missing, that user's group with setgid directories. Without it: the deploy user's group, so a
 * web server in that group can write (.env is created 0640 for the same reason).
 */
export const permissions: Step = {
  name: 'permissions',
  description: 'make storage, bootstrap/cache and "writable" writable for the web server ("webUser"), .env readable by it',
  async run(run, deploy) {
    const { layout, target, server } = run;
    const id = releaseIdOf(deploy);
    // The shared storage only when this deploy created it, or with webUser (ACLs, added on purpose): a
    // failed redeploy must leave storage as it was, modes included.
    const createdStorage = run.undo.pending().includes(`remove ${layout.storage}, which this deploy created`);
    const paths = createdStorage || server.webUser !== undefined ? [layout.storage] : [];
    if (deploy.dryRun || (await target.lstat(layout.inRelease(id, BOOTSTRAP_CACHE)))) paths.push(layout.inRelease(id, BOOTSTRAP_CACHE));
    for (const p of server.writable) {
      await target.exec(sh`mkdir -p -- ${layout.inRelease(id, p)}`, { step: 'permissions' });
      paths.push(layout.inRelease(id, p));
    }
    const web = server.webUser;
    // Without webUser this is a courtesy: a machine without these tools (the demo's PATH) is left as it is.
    if (web === undefined && !deploy.dryRun) {
      const tools = await target.exec('command -v id find chmod readlink >/dev/null', { check: false, step: 'permissions', readOnly: true });
      if (tools.code !== 0) {
        run.log.debug(`[${server.name}] id, find, chmod or readlink is missing: storage and bootstrap/cache left as they are`);
        return;
      }
    }
    const acl = web !== undefined && (await hasSetfacl(run));
    // Only what the deploy user owns: files the web server created (logs, caches) are already its own.
    const me = (await target.exec('id -un', { step: 'permissions', readOnly: true })).stdout.trim() || 'root';
    const mine = (action: string) => sh`find "$t" -user ${me} ` + action;
    for (const p of paths) {
      // readlink -f: a writable path may be a shared link; its target is what must change.
      const real = sh`t=$(readlink -f -- ${p})`;
      const setgid = mine('-type d -exec chmod g+s -- {} +');
      let command: string;
      if (web === undefined) {
        command = [real, mine('! -type l -exec chmod g+rwX -- {} +'), setgid].join(' && ');
      } else if (acl) {
        const dirs = sh`-type d -exec setfacl -m ${`u:${web}:rwX,d:u:${web}:rwX,u:${me}:rwX,d:u:${me}:rwX`} -- {} +`;
        const files = sh`-type f -exec setfacl -m ${`u:${web}:rwX,u:${me}:rwX`} -- {} +`;
        command = [real, mine(dirs), mine(files)].join(' && ');
      } else {
        const group = sh`g=$(id -gn -- ${web})`;
        command = [real, group, mine('! -type l -exec chgrp -- "$g" {} +'), mine('! -type l -exec chmod g+rwX -- {} +'), setgid].join(' && ');
      }
      await apply(run, p, web ?? "the deploy user's group", command);
    }
    if (web === undefined) return;
    // The web server must reach the release (root and releases/ may be closed to others) and read .env.
    // Only the deploy user's own: a root or .env an administrator set up stays as they made it.
    const own = (p: string, action: string) => sh`find ${p} -maxdepth 0 -user ${me} ` + action;
    if (acl) await apply(run, layout.root, web, own(layout.root, sh`-exec setfacl -m ${`u:${web}:x`} -- {} +`) + ' && ' + own(layout.releases, sh`-exec setfacl -m ${`u:${web}:x`} -- {} +`));
    if (await target.stat(layout.env)) {
      const env = acl ? own(layout.env, sh`-exec setfacl -m ${`u:${web}:r`} -- {} +`) : own(layout.env, sh`-exec chgrp -- "$(id -gn -- ${web})" {} + -exec chmod 0640 -- {} +`);
      await apply(run, layout.env, web, env);
    }
  },
};

async function hasSetfacl(run: ServerRun): Promise<boolean> {
  const found = await run.target.exec('command -v setfacl', { check: false, step: 'permissions', readOnly: true });
  if (found.code !== 0) run.log.info(`[${run.server.name}] setfacl is not installed: sharing ${run.server.webUser}'s group instead (apt-get install acl for ACLs)`);
  return found.code === 0;
}

/** One path's change; a failure names the path, the user and the command to run by hand. */
async function apply(run: ServerRun, path: string, user: string, command: string): Promise<void> {
  try {
    await run.target.exec(command, { step: 'permissions' });
  } catch (error) {
    const tool = error instanceof AttacheError ? error.what.replace(/^command exited with code \d+: ?/, '') : String(error);
    throw new AttacheError(`could not make ${path} accessible to ${user}${tool ? `: ${tool}` : ''}`, {
      server: run.server.name,
      step: 'permissions',
      remotePath: path,
      hint: `Run it by hand as root on the server, then deploy again:\n  sudo sh -c ${sh`${command}`}` +
        (run.server.webUser && !command.includes('setfacl') ? `\nor install setfacl (apt-get install acl), or add the deploy user to ${run.server.webUser}'s group.` : ''),
    }, { cause: error });
  }
}
