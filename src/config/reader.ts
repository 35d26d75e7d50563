import { ATTACHE_PROJECT, type Project } from './project';
import { describe, isObject, type MergedServer, type Problem, type Segment } from './merge';
import { checkTags, type TagSite } from './tag-syntax';
import type { ConfigWarning } from './types';

/** What is wrong with a string value beyond being empty, or undefined: see rules.ts. */
export type Rule = (s: string) => string | undefined;

/**
 * One server's merged keys, read with checks. A mistake is pushed onto `problems` (at the key path
 * the value came from: the server, `common` or the overrides) rather than thrown, so that one error
 * lists them all; what a read returns is only meaningful when there are none.
 */
export type Reader = ReturnType<typeof reader>;

export function reader(server: MergedServer, problems: Problem[], warnings: ConfigWarning[], project: Project = ATTACHE_PROJECT) {
  const { raw } = server;
  const report = (keys: readonly Segment[], message: string) => void problems.push({ key: server.where(keys), message });
  const warn = (keys: readonly Segment[], message: string) => void warnings.push({ key: server.where(keys), message });
  const expected = (keys: readonly Segment[], what: string, value: unknown) => report(keys, `expected ${what}, got ${describe(value)}`);
  const get = (keys: readonly Segment[]): unknown =>
    keys.reduce<unknown>((value, key) => (value as Record<Segment, unknown> | undefined)?.[key], raw);

  /** A string: present, non-empty, and free of NUL (and, where `rule` says so, of more). */
  const text = (keys: readonly Segment[], what: string, rule?: Rule): string | undefined => {
    const value = get(keys);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') return void expected(keys, what, value);
    const problem = value.includes('\0') ? 'it contains a NUL byte' : rule?.(value);
    if (problem) return void report(keys, `expected ${what}, got ${describe(value)}: ${problem}`);
    return value;
  };
  const required = (keys: readonly Segment[], what: string, rule?: Rule): string => {
    if (get(keys) === undefined) expected(keys, what, undefined);
    return text(keys, what, rule) ?? '';
  };
  const bool = (keys: readonly Segment[], fallback: boolean): boolean => {
    const value = get(keys);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') return (expected(keys, 'true or false', value), fallback);
    return value;
  };
  const number = (keys: readonly Segment[], what: string, ok: (n: number) => boolean, digits = false): number | undefined => {
    const given = get(keys);
    if (given === undefined) return undefined;
    // Attaché casts the port to a number, so "2222" is a port there too: `digits` accepts a string of digits.
    const value = digits && typeof given === 'string' && /^\d+$/.test(given) ? Number(given) : given;
    if (typeof value !== 'number' || !ok(value)) return void expected(keys, what, given);
    return value;
  };
  const object = (keys: readonly Segment[]): Record<string, unknown> => {
    const value = get(keys);
    if (value === undefined) return {};
    if (!isObject(value)) return (expected(keys, 'an object', value), {});
    return value;
  };
  /** An array of non-empty strings; with `single`, one string stands for an array of it. */
  const strings = (keys: readonly Segment[], what: string, single = false): string[] | undefined => {
    const value = get(keys);
    if (value === undefined) return undefined;
    if (single && typeof value === 'string') return [text(keys, 'a non-empty command') ?? ''];
    if (!Array.isArray(value)) return void expected(keys, what, value);
    return value.map((_, i) => text([...keys, i], 'a non-empty string') ?? '');
  };
  /** Every tag mistake is found here, when the file is loaded, never when a hook is about to run. */
  const tags = (keys: readonly Segment[], line: string, site: TagSite) => {
    for (const problem of checkTags(line, site)) report(keys, problem);
  };

  return { server, raw, project, report, warn, expected, get, text, required, bool, number, object, strings, tags };
}
