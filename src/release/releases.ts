import { Layout } from './layout';
import { quote } from '../remote/quote';
import type { Target } from '../remote/target';

/** What a release's marker file says; a release without one is incomplete (a deploy that never finished). */
export interface ReleaseMarker {
  id: string;
  status: 'ready' | 'failed';
  commit?: string;
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
  const script =
    `cd -- ${quote(layout.releases)} 2>/dev/null || exit 0\n` +
    `for d in */; do d="\${d%/}"; [ -d "$d" ] || continue; printf '%s\\t' "$d"; ` +
    `tr -d '\\n' < "$d/"${quote(Layout.MARKER)} 2>/dev/null; printf '\\n'; done\n`;
  const [listing, live] = await Promise.all([
    target.exec('/bin/sh -s', { stdin: script, step: 'releases', readOnly: true }),
    target.readlink(layout.live),
  ]);
  const liveId = live ? layout.releaseIdOf(live) : undefined;
  const releases = listing.stdout
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

const RELEASE_ID = /^\d{14}(-[1-9]\d*)?$/;

/** Release ids sort by time, then by their -N suffix. */
export function compareIds(a: string, b: string): number {
  const [ta, sa = '0'] = a.split('-');
  const [tb, sb = '0'] = b.split('-');
  return ta === tb ? Number(sa) - Number(sb) : ta < tb ? -1 : 1;
}

export async function writeMarker(target: Target, layout: Layout, marker: ReleaseMarker): Promise<void> {
  await target.writeFile(layout.marker(marker.id), Buffer.from(JSON.stringify(marker) + '\n'), 0o644);
}

function parseMarker(json: string | undefined): ReleaseMarker | undefined {
  if (!json) return undefined;
  try {
    return JSON.parse(json) as ReleaseMarker;
  } catch {
    return undefined;
  }
}
