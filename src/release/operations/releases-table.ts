import { compareIds, type ReleaseInfo } from '../model/release-list';

export function releasesTable(server: string, releases: ReleaseInfo[]): string {
  if (releases.length === 0) return `releases on ${server}: no releases yet (gulp deploy makes the first)`;
  const artifacts = releases.some((r) => r.marker?.artifact); // the artifact strategy's column, only where it is used
  const rows = releases.map((r) => [
    r.live ? '*' : '',
    r.id,
    r.status,
    r.marker?.deployedAt ?? '-',
    r.marker?.commit?.slice(0, 10) ?? '-',
    r.marker?.branch ?? '-',
    ...(artifacts ? [r.marker?.artifact ?? '-'] : []),
  ]);
  const dangling = releases.find((r) => r.status === 'missing');
  const broken = dangling
    ? `\n  live -> releases/${dangling.id}, which does not exist: the site is down. gulp rollback points live at the newest complete release before it.`
    : '';
  return `releases on ${server} (* = live):\n${table([['', 'release', 'status', 'deployed at', 'commit', 'branch', ...(artifacts ? ['artifact'] : [])], ...rows])}${broken}`;
}

/** Several servers side by side: which releases each has, which is live, and where they differ (≠). */
export function releasesAcrossServers(byServer: Map<string, ReleaseInfo[]>): string {
  const servers = [...byServer.keys()];
  const ids = [...new Set([...byServer.values()].flat().map((r) => r.id))].sort(compareIds);
  const cell = (server: string, id: string) => {
    const release = byServer.get(server)?.find((r) => r.id === id);
    return release ? (release.live ? `${release.status} *` : release.status) : '-';
  };
  const rows = ids.map((id) => {
    const cells = servers.map((server) => cell(server, id));
    return [new Set(cells).size > 1 ? '≠' : '', id, ...cells];
  });
  return `releases across ${servers.length} servers (* = live, ≠ = the servers differ):\n${table([['', 'release', ...servers], ...rows])}`;
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  return rows
    .map(
      (row) =>
        '  ' +
        row
          .map((cell, col) => (cell ?? '').padEnd(widths[col]))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}
