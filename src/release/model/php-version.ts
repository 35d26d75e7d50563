/**
 * PHP versions against what composer resolved for: the same minor version as config.platform.php,
 * or within the lock's `platform` constraint (the common forms: ^, ~, >=, >, <=, <, =, *, 8.1.*,
 * `||`, and space- or comma-separated ranges). Pure, so it is unit-tested.
 */

/** Why `version` is not `wanted`'s minor version, or undefined when it is. */
export function minorMismatch(version: string, wanted: string): string | undefined {
  const [a, b] = [parts(version), parts(wanted)];
  return a[0] === b[0] && a[1] === b[1] ? undefined : `${a[0]}.${a[1]} is not ${b[0]}.${b[1]}`;
}

/** True when `version` satisfies the constraint; undefined when the constraint has a form not understood here. */
export function satisfies(version: string, constraint: string): boolean | undefined {
  const v = parts(version);
  const alternatives = constraint.split(/\s*\|\|?\s*/).map((alternative) => {
    const terms = alternative
      .trim()
      .split(/\s*,\s*|\s+/)
      .filter(Boolean)
      .map((term) => term1(v, term));
    return terms.includes(false) ? false : terms.includes(undefined) ? undefined : true;
  });
  if (alternatives.includes(true)) return true;
  return alternatives.includes(undefined) ? undefined : false;
}

function term1(v: number[], term: string): boolean | undefined {
  if (term === '*') return true;
  const match = /^(\^|~|>=|<=|>|<|==?|!=)?v?(\d+(?:\.(?:\d+|\*))*)$/.exec(term);
  if (!match) return undefined;
  const [, op = '=', text] = match;
  const given = text.split('.');
  const w = parts(text.replace(/\.\*/g, ''));
  const cmp = compare(v, w);
  switch (op) {
    case '^':
      return cmp >= 0 && v[0] === w[0] && (w[0] !== 0 || v[1] === w[1]);
    case '~':
      // ~8.1 is >=8.1 <9; ~8.1.2 is >=8.1.2 <8.2
      return cmp >= 0 && (given.length <= 2 ? v[0] === w[0] : v[0] === w[0] && v[1] === w[1]);
    case '>=':
      return cmp >= 0;
    case '>':
      return cmp > 0;
    case '<=':
      return cmp <= 0;
    case '<':
      return cmp < 0;
    case '!=':
      return cmp !== 0;
    default: {
      // 8.1 or 8.1.* means any 8.1.x; 8.1.3 means exactly that
      const fixed = given.filter((p) => p !== '*').length;
      return v.slice(0, fixed).every((n, i) => n === w[i]);
    }
  }
}

function parts(version: string): number[] {
  const p = version
    .split(/[.-]/)
    .slice(0, 3)
    .map((n) => Number.parseInt(n, 10) || 0);
  while (p.length < 3) p.push(0);
  return p;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}
