/**
 * Whether a Unix user may read, write or traverse a path, decided as the kernel decides it from
 * the path's mode, owner, group and POSIX ACL (acl(5), "access check algorithm"). The deploy user
 * cannot become the web user to try: the doctor reads the facts (`stat`, `getfacl -n`) and judges
 * them here. Pure, so it is unit-tested.
 */
export interface PathFacts {
  path: string;
  /** Permission bits, e.g. 0o750. */
  mode: number;
  uid: number;
  gid: number;
  /** `getfacl -n -c` lines (`user::rwx`, `user:33:r-x`, `mask::r-x`, …), when the path has an extended ACL. */
  acl?: string[];
}

export interface UserFacts {
  uid: number;
  /** Every group of the user, its primary group included. */
  gids: number[];
}

export type Access = 'r' | 'w' | 'x';

const BIT: Record<Access, number> = { r: 4, w: 2, x: 1 };

export function allows(facts: PathFacts, user: UserFacts, access: Access): boolean {
  if (user.uid === 0) return access !== 'x' || (facts.mode & 0o111) !== 0;
  const bit = BIT[access];
  const entries = parseAcl(facts.acl);
  if (facts.uid === user.uid) return ((facts.mode >> 6) & bit) !== 0;
  if (entries) {
    // With an ACL, the mode's group bits are the mask; named entries and the owning group are masked by it.
    const mask = entries.find((e) => e.tag === 'mask')?.perms ?? 7;
    const named = entries.find((e) => e.tag === 'user' && e.id === user.uid);
    if (named) return (named.perms & mask & bit) !== 0;
    const groups = entries.filter(
      (e) => e.tag === 'group' && (e.id === undefined ? user.gids.includes(facts.gid) : user.gids.includes(e.id)),
    );
    if (groups.length) return groups.some((e) => (e.perms & mask & bit) !== 0);
    return ((entries.find((e) => e.tag === 'other')?.perms ?? facts.mode) & bit) !== 0;
  }
  if (user.gids.includes(facts.gid)) return ((facts.mode >> 3) & bit) !== 0;
  return (facts.mode & bit) !== 0;
}

interface AclEntry {
  tag: 'user' | 'group' | 'mask' | 'other';
  /** Undefined for the owner's, the owning group's, the mask and other. */
  id?: number;
  perms: number;
}

/** The entries of an extended ACL, or undefined when it is only the mode (three entries). */
function parseAcl(lines: string[] | undefined): AclEntry[] | undefined {
  const entries = (lines ?? []).flatMap((line): AclEntry[] => {
    const match = /^(user|group|mask|other):(\d*):([r-])([w-])([x-])/.exec(line.trim());
    if (!match) return [];
    const [, tag, id, r, w, x] = match;
    const perms = (r === 'r' ? 4 : 0) | (w === 'w' ? 2 : 0) | (x === 'x' ? 1 : 0);
    return [{ tag: tag as AclEntry['tag'], ...(id !== '' && { id: Number(id) }), perms }];
  });
  return entries.some((e) => e.id !== undefined || e.tag === 'mask') ? entries : undefined;
}

/** The directories from `/` down to `dir` itself, each of which must be traversable to reach it. */
export function pathsDownTo(dir: string): string[] {
  const parts = dir.split('/').filter(Boolean);
  return ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
}
