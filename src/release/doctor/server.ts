import path from 'node:path/posix';
import type { ServerConfig } from '../../config/types';
import { toolLine } from '../../errors';
import { readSections } from '../../remote/command';
import { parseSpace, SPACE_LINES } from '../../remote/disk-space';
import { raw, sh } from '../../remote/quote';
import type { Target } from '../../remote/target';
import type { Layout } from '../model/layout';
import { describeOwner, STALE_AFTER_S } from '../model/lock-owner';
import { minorMismatch, satisfies } from '../model/php-version';
import { composerCommand, phpCommand } from '../model/tools';
import type { Check } from './checklist';

/** Room a release needs besides its own files: composer's cache, a checkout's index. */
const HEADROOM_KB = 50 * 1024;

export interface ServerFacts {
  /** The deploy user, as `id` says. */
  user: string;
  /** The real path of the live release (`live` resolved), when there is one. */
  liveRelease?: string;
}

/**
 * The server's part of the doctor, in one round trip and read-only: the root (there, writable,
 * or creatable), free space and inodes for a release the size of the last one, the lock, git (can
 * it reach the repository from there, with the forwarded agent; does it complain of ownership),
 * PHP and Composer against composer.lock's platform requirement.
 */
export async function checkServer(
  target: Target,
  server: ServerConfig,
  layout: Layout,
  phpWanted: { version: string; from: string } | undefined,
  branch: string,
): Promise<{ checks: Check[]; facts: ServerFacts }> {
  const where = server.name;
  // The root, or its nearest parent that exists (a first deploy creates the root).
  const existing = raw(sh`d=${layout.root}; while [ ! -e "$d" ]; do d=$(dirname -- "$d"); done; echo "$d"`);
  const [who, rootState, space, live, size, lock, git, mirror, php, composer] = await readSections(
    target,
    [
      'id -un',
      sh`if [ -d ${layout.root} ]; then echo exists; [ -w ${layout.root} ] && echo writable; else d=$(${existing}); echo "$d"; [ -w "$d" ] && echo creatable; fi; true`,
      // In a subshell: the sections after it run where the script started.
      sh`( cd -- "$(${existing})" && ${raw(SPACE_LINES.join('\n'))} ); true`,
      sh`[ -e ${layout.live} ] && readlink -f -- ${layout.live}; true`,
      sh`t=$(readlink -f -- ${layout.live} 2>/dev/null) && [ -d "$t" ] && du -sk -- "$t" 2>/dev/null | cut -f1; true`,
      sh`if [ -d ${layout.lock} ]; then echo held; cat -- ${layout.lockOwner} 2>/dev/null; echo; echo "age=$(( $(date +%s) - $(stat -c %Y -- ${layout.lockHeartbeat} 2>/dev/null || date +%s) ))"; fi; true`,
      sh`command -v git >/dev/null || { echo 'missing'; exit 0; }; GIT_TERMINAL_PROMPT=0 GIT_SSH_COMMAND='ssh -o BatchMode=yes' git ls-remote -- ${server.repository} ${`refs/heads/${branch}`} 2>&1; echo "status=$?"`,
      sh`[ -d ${layout.mirror} ] && git --git-dir=${layout.mirror} rev-parse --git-dir 2>&1; true`,
      sh`${phpCommand(server)} -r 'echo PHP_VERSION;' 2>&1; echo; echo "status=$?"`,
      sh`${composerCommand(server)} --version --no-ansi 2>&1 | head -n 1; true`,
    ],
    { step: 'doctor', output: 'none' },
  );
  const checks: Check[] = [];
  const add = (area: Check['area'], name: string, verdict: Check['verdict'], fact: string, fix?: string) =>
    checks.push({ where, area, name, verdict, fact, ...(fix && { fix }) });
  const user = (who ?? '').trim() || '(unknown)';

  // The root.
  const state = (rootState ?? '').trim().split('\n');
  if (state[0] === 'exists') {
    if (state.includes('writable')) add('server', 'root', 'ok', `${layout.root} exists and ${user} can write it`);
    else
      add(
        'server',
        'root',
        'fail',
        `${layout.root} exists, and ${user} cannot write it`,
        `chown ${user} ${layout.root} (as root), or deploy as its owner`,
      );
  } else {
    const parent = state[0] || '/';
    if (state.includes('creatable')) add('server', 'root', 'ok', `${layout.root} does not exist yet; ${user} can create it in ${parent}`);
    else
      add(
        'server',
        'root',
        'fail',
        `${layout.root} does not exist, and ${user} cannot create it: ${parent} is not writable for ${user}`,
        `as root: mkdir -p ${layout.root} && chown ${user} ${layout.root}`,
      );
  }

  // Free space and inodes for a release like the last one.
  const releaseKb = Number((size ?? '').trim()) || 0;
  const df = parseSpace(space ?? '');
  if (df) {
    const freeKb = df.bytesFree / 1024;
    const prune = `free space on ${layout.root}'s filesystem (gulp prune removes old releases)`;
    if (!releaseKb)
      // A first release's size is not known here: the upload's own check measures it.
      add('server', 'disk space', freeKb < HEADROOM_KB ? 'warn' : 'ok', `${mb(freeKb)} free; no release yet to measure one by`, prune);
    else {
      const fact = `${mb(freeKb)} free; a release like the live one takes ${mb(releaseKb)}`;
      if (freeKb < releaseKb) add('server', 'disk space', 'fail', fact, prune);
      else add('server', 'disk space', freeKb < (releaseKb + HEADROOM_KB) * 2 ? 'warn' : 'ok', fact, prune);
    }
  }
  const freeInodes = df?.inodesFree;
  if (freeInodes !== undefined) {
    if (freeInodes < 10_000)
      add(
        'server',
        'inodes',
        'warn', // a release's file count is not known here: the upload's own check counts what it needs
        `only ${freeInodes} free inodes on ${layout.root}'s filesystem`,
        "remove files (gulp prune), or grow the filesystem's inodes",
      );
    else add('server', 'inodes', 'ok', `${freeInodes} free inodes`);
  }

  // The lock.
  const lockLines = (lock ?? '').trim().split('\n');
  if (lockLines[0] === 'held') {
    const age = Number(/age=(\d+)/.exec(lock ?? '')?.[1] ?? 0);
    const owner = describeOwner(
      lockLines
        .slice(1)
        .filter((l) => !l.startsWith('age='))
        .join('\n'),
    );
    if (age > STALE_AFTER_S)
      add(
        'server',
        'lock',
        'warn',
        `held by ${owner}, no heartbeat for ${age} s (the next deploy takes it over)`,
        'gulp unlock frees it now',
      );
    else add('server', 'lock', 'warn', `held by ${owner}: a deploy is running`, 'wait for it; the next deploy is refused until it ends');
  } else add('server', 'lock', 'ok', 'free');

  // git: installed, reaching the repository, no ownership complaint. An artifact arrives built: no git there.
  const gitText = server.strategy === 'artifact' ? 'not needed' : (git ?? '').trim();
  if (gitText === 'not needed') {
    // nothing to check
  } else if (gitText === 'missing')
    add('server', 'git', 'fail', 'git is not installed on the server', 'install git there (apt-get install git)');
  else {
    const status = /status=(\d+)$/.exec(gitText)?.[1];
    const answer = gitText.replace(/\n?status=\d+$/, '');
    const forwarding = server.ssh.forwardAgent ? ' with the forwarded agent' : '';
    if (status === '0' && /\trefs\/heads\//.test(answer))
      add('server', 'repository', 'ok', `the server reaches ${server.repository}${forwarding}; ${branch} is at ${answer.slice(0, 10)}`);
    else if (status === '0')
      add(
        'server',
        'repository',
        'fail',
        `the branch ${branch} does not exist in ${server.repository}`,
        `push it (git push origin ${branch}), or set "branch"`,
      );
    else
      add(
        'server',
        'repository',
        'fail',
        `the server cannot reach ${server.repository}${forwarding}: ${toolLine(answer) ?? `git exited with ${status}`}`,
        /Host key verification failed/i.test(answer)
          ? "the server does not know the git host's key: on the server, ssh -T git@<host> once as the deploy user, or add the host to its ~/.ssh/known_hosts"
          : /Permission denied|publickey/i.test(answer)
            ? 'give the server a deploy key for the repository, or set "forwardAgent": true with your key in ssh-agent'
            : 'check the repository URL, and that the server can reach its host',
      );
  }
  if (/dubious ownership/i.test(mirror ?? ''))
    add(
      'server',
      'git ownership',
      'fail',
      `git refuses ${layout.mirror}: ${toolLine(mirror ?? '')}`,
      `as the deploy user: git config --global --add safe.directory ${layout.mirror}, or chown -R ${user} ${layout.mirror}`,
    );

  // PHP and Composer.
  const phpStatus = /status=(\d+)\s*$/.exec(php ?? '')?.[1];
  const version = (php ?? '').replace(/\n?status=\d+\s*$/, '').trim();
  if (phpStatus !== '0' || !/^\d+\.\d+/.test(version))
    add(
      'server',
      'php',
      server.strategy === 'artifact' ? 'warn' : 'fail', // an artifact's release may need no PHP there (no artisan step): its package step decides
      `${server.php.bin} does not run: ${version.split('\n')[0] || `exit ${phpStatus}`}`,
      'install PHP, or set "php": { "bin": … }',
    );
  else if (
    phpWanted &&
    (phpWanted.from === 'config.platform.php'
      ? minorMismatch(version, phpWanted.version) !== undefined
      : satisfies(version, phpWanted.version) === false)
  )
    add(
      'server',
      'php',
      server.strategy === 'artifact' ? 'warn' : 'fail', // an artifact's vendor/ is checked against the server's PHP by its package step
      `the server runs PHP ${version}; ${phpWanted.from === 'composer.lock' ? "composer.lock's platform requirement is" : 'config.platform.php in composer.json says'} php ${phpWanted.version}`,
      `upgrade PHP on the server, or set config.platform.php in composer.json to ${version.replace(/^(\d+\.\d+).*/, '$1')} and run composer update`,
    );
  else add('server', 'php', 'ok', `PHP ${version}${phpWanted ? ` (composer.lock: ${phpWanted.version})` : ''}`);
  const composerLine = (composer ?? '').trim();
  if (server.skip.includes('composer') || server.strategy === 'artifact') {
    // vendor/ arrives built: the server needs no Composer.
  } else if (server.composer.local) {
    add('server', 'composer', 'ok', 'root\'s own copy ("composer.local"): the deploy installs it');
  } else if (/Composer (version )?\d/i.test(composerLine))
    add('server', 'composer', 'ok', composerLine.replace(/\s+\d{4}-\d\d-\d\d.*$/, ''));
  else
    add(
      'server',
      'composer',
      'fail',
      `composer does not run: ${composerLine || 'no answer'}`,
      'install Composer, or set "composer": { "local": true } to have the deploy install its own copy',
    );

  const liveRelease = (live ?? '').trim() || undefined;
  return { checks, facts: { user, liveRelease: liveRelease && path.isAbsolute(liveRelease) ? liveRelease : undefined } };
}

function mb(kb: number): string {
  return kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(1)} GB` : `${Math.round(kb / 1024)} MB`;
}
