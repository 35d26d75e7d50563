import path from 'node:path/posix';
import { readSections } from '../../remote/command';
import { quote, sh } from '../../remote/quote';
import type { Target } from '../../remote/target';
import type { Layout } from '../model/layout';
import { type Access, allows, type PathFacts, pathsDownTo, type UserFacts } from './access';
import type { Check } from './checklist';

/** The directories under storage/ that Laravel writes at run time. */
const STORAGE_DIRS = ['', 'logs', 'framework', 'framework/cache', 'framework/sessions', 'framework/views'];

/**
 * Can the web server's user reach what it serves: traverse every directory from `/` down to the live
 * release's `public/` (a 0700 parent anywhere hides everything below it), read `.env`, write
 * `storage/`? Read from modes, owners and ACLs (access.ts): the deploy user cannot become it.
 */
export async function checkWebUser(
  target: Target,
  where: string,
  layout: Layout,
  web: { name: string; said: string; assumed: boolean },
  liveRelease: string | undefined,
): Promise<Check[]> {
  const { name, said, assumed } = web;
  const webUser = assumed ? undefined : name;
  // A user only assumed (no webUser, no answer from PHP) may not be the web server's: a warning, not a failure.
  const failing: Check['verdict'] = assumed ? 'warn' : 'fail';
  const publicDir = liveRelease ? path.join(liveRelease, 'public') : layout.root;
  const storage = STORAGE_DIRS.map((dir) => path.join(layout.storage, dir));
  const paths = [...new Set([...pathsDownTo(publicDir), layout.env, ...storage])];
  const [ids, stats] = await readSections(
    target,
    [
      sh`id -u ${name} 2>/dev/null && id -G ${name}`,
      `for p in ${paths.map(quote).join(' ')}; do [ -e "$p" ] || continue; ` +
        `printf '@@%s\\n' "$p"; stat -L -c '%a %u %g' -- "$p"; getfacl -n -c -- "$p" 2>/dev/null; done; true`,
    ],
    { step: 'doctor', output: 'none' },
  );
  const [uid, gids] = (ids ?? '').trim().split('\n');
  if (!uid) {
    if (!assumed)
      return [
        check(
          where,
          'web user',
          'fail',
          `the user ${said} does not exist on ${where}`,
          'set "webUser" to the user php-fpm and nginx run as (ps -o user= -C php-fpm8.2)',
        ),
      ];
    return [check(where, 'web user', 'ok', 'no "webUser" set, and there is no www-data here: not checked')];
  }
  const user: UserFacts = { uid: Number(uid), gids: (gids ?? '').trim().split(/\s+/).map(Number) };
  const facts = parseStats(stats ?? '');
  const checks: Check[] = [];

  const blocked = pathsDownTo(publicDir).find((dir) => facts.has(dir) && !allows(facts.get(dir)!, user, 'x'));
  if (blocked) {
    const f = facts.get(blocked)!;
    checks.push(
      check(
        where,
        'web user reaches public/',
        failing,
        `${said} cannot traverse ${blocked} (mode ${f.mode.toString(8)}, owner ${f.uid}, group ${f.gid})`,
        `chmod o+x ${blocked}, or setfacl -m u:${name}:x ${blocked}`,
      ),
    );
  } else checks.push(check(where, 'web user reaches public/', 'ok', `${said} can traverse / … ${publicDir}`));

  const env = facts.get(layout.env);
  if (env && !blocked) {
    if (allows(env, user, 'r')) checks.push(check(where, 'web user reads .env', 'ok', `${said} can read ${layout.env}`));
    else
      checks.push(
        check(
          where,
          'web user reads .env',
          failing,
          `${said} cannot read ${layout.env} (mode ${env.mode.toString(8)})`,
          webUser
            ? 'deploy again: the permissions step grants it'
            : `set "webUser": "${name}" (the deploy grants it), or setfacl -m u:${name}:r ${layout.env}`,
        ),
      );
  }
  const unwritable = storage.filter((dir) => facts.has(dir) && !(['w', 'x'] as Access[]).every((a) => allows(facts.get(dir)!, user, a)));
  if (unwritable.length)
    checks.push(
      check(
        where,
        'web user writes storage/',
        failing,
        `${said} cannot write ${unwritable[0]}${unwritable.length > 1 ? ` (and ${unwritable.length - 1} directories under it)` : ''}`,
        webUser ? 'deploy again: the permissions step grants it' : `set "webUser": "${name}" (the deploy grants it with ACLs)`,
      ),
    );
  else if (facts.has(layout.storage)) checks.push(check(where, 'web user writes storage/', 'ok', `${said} can write ${layout.storage}`));
  return checks;
}

function parseStats(text: string): Map<string, PathFacts> {
  const facts = new Map<string, PathFacts>();
  for (const block of text.split('@@').slice(1)) {
    const [p, stat = '', ...acl] = block.split('\n');
    const [mode, uid, gid] = stat.trim().split(/\s+/);
    facts.set(p, { path: p, mode: Number.parseInt(mode, 8), uid: Number(uid), gid: Number(gid), acl: acl.filter(Boolean) });
  }
  return facts;
}

function check(where: string, name: string, verdict: Check['verdict'], fact: string, fix?: string): Check {
  return { where, area: 'server', name, verdict, fact, ...(fix && { fix }) };
}
