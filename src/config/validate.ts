import type { Project } from './project';
import { AttacheError, type ErrorContext } from '../errors';
import { isObject, type MergedServer, type Problem, type Segment } from './merge';
import { reader } from './reader';
import { BRANCH_RULES, branchProblem } from './rules';
import { NESTED_KEYS, SERVER_CHECKS, SERVER_KEYS, SERVER_SCHEMA, type ServerKey } from './schema';
import { closest } from './suggest';
import type { ConfigWarning, ServerConfig } from './types';

/** Checks a branch name given outside the file (a --branch flag); returns it. */
export function validateBranch(name: string, context: ErrorContext = {}): string {
  const problem = typeof name === 'string' ? branchProblem(name) : 'it is not a string';
  if (problem) {
    throw new AttacheError(`${JSON.stringify(name)} is not a usable branch name: ${problem}`, { hint: BRANCH_RULES, ...context });
  }
  return name;
}

/**
 * A merged server to a ServerConfig with defaults, by the rows of SERVER_SCHEMA. Problems are pushed
 * onto `problems` rather than thrown, so that one error can list them all; the returned value is
 * only meaningful without them.
 */
export function validateServer(server: MergedServer, problems: Problem[], warnings: ConfigWarning[] = [], project?: Project): ServerConfig {
  const r = reader(server, problems, warnings, project);
  checkKeys(server.raw, [], SERVER_KEYS, r.report);
  for (const [key, known] of Object.entries(NESTED_KEYS)) if (isObject(server.raw[key])) checkKeys(server.raw[key], [key], known, r.report);

  const values: Record<string, unknown> = { name: server.name };
  for (const [key, row] of Object.entries<ServerKey>(SERVER_SCHEMA)) {
    row.check?.(r);
    const value = row.read?.(r, key);
    if (value !== undefined) values[key] = value;
  }
  const config = values as unknown as ServerConfig; // each row's read returns its field's type (ServerSchema)
  for (const check of SERVER_CHECKS) check(r, config);
  return config;
}

/**
 * An unknown key is refused, with the keys valid at that place: a key that does nothing is a
 * setting the user believes in that never happens (`"migrations": true` for `migrate`).
 */
export function checkKeys(
  value: Record<string, unknown>,
  keys: readonly Segment[],
  known: readonly string[],
  report: (keys: readonly Segment[], message: string) => void,
): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    report([...keys, key], `unknown key "${key}"${guess ? `: did you mean "${guess}"?` : '.'} Valid keys here: ${known.join(', ')}`);
  }
}
