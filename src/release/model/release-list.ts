import { RELEASE_ID } from '../../config';
import { Layout } from './layout';
import { quote, sh } from '../../remote/quote';
import type { Target } from '../../remote/target';

/** What a release's marker file says; a release without one is incomplete (a deploy that never finished). */
export interface ReleaseMarker {
  id: string;
  status: 'ready' | 'failed';
  commit?: string;
  /** The local commit the release's assets were built from (the same as commit, unless --any-commit said otherwise). */
  assetsCommit?: string;
  /** The artifact strategy's tree id (the same tree on every server it was deployed to). */
  artifact?: string;
  branch?: string;
  deployedAt?: string;
  by?: string;
  reason?: string;
}

export interface ReleaseInfo {
  id: string;
  /** `missing`: live points to this release, but its directory does not exist (deleted by hand). */
  status: 'ready' | 'failed' | 'incomplete' | 'missing';
  marker?: ReleaseMarker;
  live: boolean;
}

/**
 * Every release directory with its marker, oldest first, in one command; and a dangling live
 * link's release as `missing`. The script is fed to /bin/sh on stdin: the deploy user's login
 * shell (zsh, fish, csh) only runs `/bin/sh -s`, so its globbing and syntax never matter. It only
 * reads, so a dry run runs it too.
 */
export async function listReleases(target: Target, layout: Layout): Promise<ReleaseInfo[]> {
  const listing = await target.exec('/bin/sh -s', { stdin: listingScript(layout), step: 'releases', readOnly: true });
  return parseListing(listing.stdout, layout);
}

/**
 * The listing as shell lines (the lock's script prints it too, taken under the lock): a line per
 * release directory (`<id>\t<marker>`), then `live=<where live points>`.
 */
export function listingScript(layout: Layout): string {
  return (
    `if cd -- ${quote(layout.releases)} 2>/dev/null; then for d in */; do d="\${d%/}"; [ -d "$d" ] || continue; printf '%s\t' "$d"; ` +
    `tr -d '\n' < "$d/"${quote(Layout.MARKER)} 2>/dev/null; printf '\n'; done; fi
` +
    `printf 'live=%s\n' "$(readlink -- ${quote(layout.live)} 2>/dev/null)"
`
  );
}

/** The releases a listing (listingScript's output) names, oldest first. */
export function parseListing(stdout: string, layout: Layout): ReleaseInfo[] {
  const live = /^live=(.*)$/m.exec(stdout)?.[1] || null;
  const liveId = live ? layout.releaseIdOf(live) : undefined;
  const releases = stdout
    .split('\n')
    .filter((line) => RELEASE_ID.test(line.split('\t')[0])) // never anything but a release: prune deletes what this lists
    .map((line) => {
      const [id, json] = line.split('\t');
      const marker = parseMarker(json);
      return { id, marker, status: marker?.status ?? 'incomplete', live: id === liveId } as ReleaseInfo;
    });
  if (liveId && RELEASE_ID.test(liveId) && !releases.some((r) => r.live)) releases.push({ id: liveId, status: 'missing', live: true });
  return releases.sort((a, b) => compareIds(a.id, b.id));
}

/** Release ids sort by time, then by their -N suffix. */
export function compareIds(a: string, b: string): number {
  const [ta, sa = '0'] = a.split('-');
  const [tb, sb = '0'] = b.split('-');
  return ta === tb ? Number(sa) - Number(sb) : ta < tb ? -1 : 1;
}

/** One command (SFTP would take four round trips: open, write, chmod, close); `printf` and `umask` are builtins (no argument limit, no PATH). */
export async function writeMarker(target: Target, layout: Layout, marker: ReleaseMarker, step: string): Promise<void> {
  const file = layout.marker(marker.id);
  await target.exec(sh`umask 022 && printf '%s\\n' ${JSON.stringify(marker)} > ${file}`, { step });
}

function parseMarker(json: string | undefined): ReleaseMarker | undefined {
  if (!json) return undefined;
  try {
    return JSON.parse(json) as ReleaseMarker;
  } catch {
    return undefined;
  }
}

/**
 * Where a fleet's servers are, when they are not all on one release (a rollout stopped by a kill,
 * a deploy to some of them): "web1 on 20261207…; web2, web3 on 20261206…". Undefined when they agree.
 */
export function fleetSplit(lives: ReadonlyArray<readonly [server: string, release: string | null]>): string | undefined {
  const byRelease = new Map<string, string[]>();
  for (const [server, release] of lives)
    byRelease.set(release ?? '(no live release)', [...(byRelease.get(release ?? '(no live release)') ?? []), server]);
  if (byRelease.size < 2) return undefined;
  return [...byRelease].map(([release, servers]) => `${servers.join(', ')} on ${release}`).join('; ');
}
