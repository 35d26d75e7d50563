/**
 * What a deploy tells the bench about itself: the preset's own report (`--report=<file>`, the
 * DeployReport of src/release/lifecycle/report.ts), read after the `gulp deploy` process exits.
 * Bytes sent (uploaded) and reused (hard-linked from the live release) and each step's seconds
 * come from it, not from log lines.
 */
import { readFileSync } from 'node:fs';
import type { DeployReport } from '../src/release/lifecycle/report';

export type { DeployReport, ServerReport } from '../src/release/lifecycle/report';

/** The report file the process wrote. Throws if there is none, or if it is not a DeployReport. */
export function readReport(file: string): DeployReport {
  const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<DeployReport>;
  if (typeof value !== 'object' || value === null || !Array.isArray(value.servers))
    throw new Error(`${file} is not a DeployReport (no "servers" list)`);
  for (const s of value.servers) {
    if (!s || typeof s.server !== 'string' || !s.sent || !s.reused || typeof s.steps !== 'object')
      throw new Error(`${file}: a server entry lacks server/sent/reused/steps`);
  }
  return value as DeployReport;
}
