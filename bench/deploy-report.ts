/**
 * What a deploy tells the bench about itself: the preset's structured report (`--report=<file>`, a
 * JSON DeployReport), read after the `gulp deploy` process exits. Bytes sent (uploaded) and reused
 * (hard-linked from the live release) and each step's seconds come from it, not from log lines.
 *
 * Until the preset writes the report, the same values are read back from the deploy summary it
 * prints (`fromSummary`); a deploy outcome says which source it used.
 */
import { existsSync, readFileSync } from 'node:fs';

export interface ServerReport {
  server: string;
  result: string;
  release?: string;
  commit?: string;
  /** Step name -> seconds. */
  steps: Record<string, number>;
  sent: { files: number; bytes: number };
  reused: { files: number; bytes: number };
  liveBefore: string | null;
  liveAfter: string | null;
  error?: string;
}

export interface DeployReport {
  task: string;
  result: 'deployed' | 'failed' | 'rolled back' | 'dry run' | string;
  releaseId?: string;
  seconds: number;
  servers: ServerReport[];
}

/** The report file the process wrote, or undefined if it wrote none. Throws if it is not a DeployReport. */
export function readReport(file: string): DeployReport | undefined {
  if (!existsSync(file)) return undefined;
  const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<DeployReport>;
  if (typeof value !== 'object' || value === null || !Array.isArray(value.servers))
    throw new Error(`${file} is not a DeployReport (no "servers" list)`);
  for (const s of value.servers) {
    if (!s || typeof s.server !== 'string' || !s.sent || !s.reused || typeof s.steps !== 'object')
      throw new Error(`${file}: a server entry lacks server/sent/reused/steps`);
  }
  return value as DeployReport;
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

/** "397 files, 31.7 MB" -> { files: 397, bytes: 33239859 } (the summary rounds to 0.1 of a unit). */
function parseFilesBytes(cell: string): { files: number; bytes: number } {
  const match = /^(\d+) files?, ([\d.]+) (B|KB|MB|GB)$/.exec(cell.trim());
  if (!match) throw new Error(`unexpected files/bytes cell in the deploy summary: "${cell}"`);
  return { files: Number(match[1]), bytes: Math.round(Number(match[2]) * UNITS[match[3]]) };
}

/**
 * Fallback: the printed deploy summary (src/release/summary.ts: "deploy summary (N s):" and a
 * table whose header cells are single words, every column padded to one width) as a report.
 */
export function fromSummary(text: string, task = 'deploy'): DeployReport {
  const [title, header, ...rows] = text.split('\n');
  const total = Number(/\(([\d.]+) s\)/.exec(title)?.[1] ?? NaN);
  const columns = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], start: m.index as number }));
  const names = columns.map((c) => c.name);
  const fixed = new Set(['server', 'result', 'release', 'commit', 'uploaded', 'sent', 'skipped', 'reused', 'live']);
  // The last "live" is the link column; an earlier "live" is the step.
  const linkColumn = names.lastIndexOf('live');
  const servers = rows
    .filter((row) => row.trim())
    .map((row): ServerReport => {
      const cells = columns.map((c, i) => row.slice(c.start, i + 1 < columns.length ? columns[i + 1].start : undefined).trim());
      const cell = (...candidates: string[]) => cells[names.findIndex((n) => candidates.includes(n))];
      const steps: Record<string, number> = {};
      columns.forEach((c, i) => {
        if (i === linkColumn || (fixed.has(c.name) && c.name !== 'live')) return;
        if (cells[i] !== '-') steps[c.name] = Number(cells[i].replace(/s$/, ''));
      });
      return {
        server: cell('server'),
        result: cell('result'),
        release: cell('release'),
        steps,
        sent: parseFilesBytes(cell('uploaded', 'sent')),
        reused: parseFilesBytes(cell('skipped', 'reused')),
        liveBefore: null,
        liveAfter: cells[linkColumn] ?? null,
      };
    });
  const result = servers.every((s) => s.result === 'deployed') ? 'deployed' : (servers[0]?.result ?? 'unknown');
  return { task, result, seconds: total, servers };
}
