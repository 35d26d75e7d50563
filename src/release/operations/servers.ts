import type { AttacheConfig, ServerConfig } from '../../config/types';
import { resolveServer } from '../../ssh/resolve';

/**
 * Attaché's `servers:list`, with what a connection would use: name, host, port, user, root,
 * branch. Host, port and user are read through ~/.ssh/config as a deploy reads them; nothing connects.
 */
export function serversTable(config: AttacheConfig): string {
  const rows = Object.values(config.servers).map((s) => {
    const { host, port, user } = reach(s);
    return [s.name + (config.default === s.name ? ' (default)' : ''), host, port, user, s.root, s.branch];
  });
  const header = ['server', 'host', 'port', 'user', 'root', 'branch'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  const groups = Object.entries(config.groups).map(([name, members]) => `group ${name}: ${members.join(', ')}`);
  return [line(header), ...rows.map(line), ...groups].join('\n');
}

function reach(server: ServerConfig): { host: string; port: string; user: string } {
  if (server.host === 'local') return { host: 'local', port: '-', user: '-' };
  try {
    // Only listing: a `Match exec` command does not run for it.
    const resolved = resolveServer({
      ...server.ssh,
      name: server.name,
      host: server.host,
      port: server.port,
      user: server.user,
      matchExec: false,
    });
    const host = resolved.hostname === server.host ? server.host : `${server.host} (${resolved.hostname})`;
    return { host, port: String(resolved.port), user: resolved.user };
  } catch {
    // An ssh config that does not parse is reported by the tasks that connect; a listing shows what the file says.
    return { host: server.host, port: String(server.port ?? 22), user: server.user ?? '?' };
  }
}
