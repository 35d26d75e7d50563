import { AttacheError } from '../errors';

/**
 * Strict JSON with useful errors. JSON.parse gives the values; this scanner runs first because
 * V8's messages sometimes carry no position ("Unexpected token '}', ... is not valid JSON") and
 * because JSON.parse silently keeps the last of two equal keys, which would hide a server
 * defined twice.
 */

export interface DuplicateKey {
  /** Key path of the repeated key, e.g. `servers.production`. */
  key: string;
  line: number;
  column: number;
  firstLine: number;
  firstColumn: number;
}

export interface ParsedJson {
  value: unknown;
  duplicates: DuplicateKey[];
  /** Where each key path's (last) key is written, for errors that point into the file. */
  positions: Map<string, { line: number; column: number }>;
}

const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
const VALUE_EXPECTED = 'a value (a "string", a number, an {object}, an [array], true, false or null)';

export function parseJson(text: string, file: string): ParsedJson {
  const duplicates: DuplicateKey[] = [];
  const positions = new Map<string, { line: number; column: number }>();
  let pos = 0;

  const fail = (expected: string, at = pos): never => {
    const { line, column } = lineColumn(text, at);
    const found = at >= text.length ? 'the end of the file' : describeAt(text, at);
    const lineText = text.split('\n')[line - 1]?.replace(/\r$/, '') ?? '';
    throw new AttacheError(
      `invalid JSON at line ${line}, column ${column}: expected ${expected}, found ${found}\n    ${lineText}\n    ${' '.repeat(column - 1)}^`,
      { file, line, column, hint: hintFor(text, at) },
    );
  };
  const skip = () => {
    WHITESPACE.lastIndex = pos;
    WHITESPACE.exec(text);
    pos = WHITESPACE.lastIndex;
  };
  const match = (re: RegExp): string | undefined => {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return undefined;
    pos = re.lastIndex;
    return m[0];
  };
  const string = (expected: string): string => {
    if (text[pos] !== '"') return fail(expected);
    const token = match(STRING);
    if (token === undefined) return failInString(text, pos, fail);
    return JSON.parse(token) as string;
  };

  const value = (path: string): void => {
    skip();
    const c = text[pos];
    if (c === '{') return object(path);
    if (c === '[') return array(path);
    if (c === '"') return void string(VALUE_EXPECTED);
    if (match(NUMBER) !== undefined) return;
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, pos)) {
        pos += literal.length;
        return;
      }
    }
    fail(VALUE_EXPECTED);
  };

  const object = (path: string): void => {
    pos++;
    const seen = new Map<string, number>();
    skip();
    if (text[pos] === '}') {
      pos++;
      return;
    }
    for (;;) {
      skip();
      const keyAt = pos;
      const key = string(
        seen.size ? 'a property name in double quotes (JSON allows no comma before "}")' : 'a property name in double quotes or "}"',
      );
      const keyPath = path ? `${path}.${key}` : key;
      positions.set(keyPath, lineColumn(text, keyAt));
      const first = seen.get(key);
      if (first !== undefined) {
        const a = lineColumn(text, keyAt);
        const b = lineColumn(text, first);
        duplicates.push({ key: keyPath, line: a.line, column: a.column, firstLine: b.line, firstColumn: b.column });
      } else {
        seen.set(key, keyAt);
      }
      skip();
      if (text[pos] !== ':') fail(`":" after the property name "${key}"`);
      pos++;
      value(keyPath);
      skip();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === '}') {
        pos++;
        return;
      }
      fail('"," or "}" after a property value');
    }
  };

  const array = (path: string): void => {
    pos++;
    skip();
    if (text[pos] === ']') {
      pos++;
      return;
    }
    for (let i = 0; ; i++) {
      value(`${path}[${i}]`);
      skip();
      if (text[pos] === ',') {
        pos++;
        skip();
        if (text[pos] === ']') fail(`${VALUE_EXPECTED} (JSON allows no comma before "]")`);
        continue;
      }
      if (text[pos] === ']') {
        pos++;
        return;
      }
      fail('"," or "]" after an array element');
    }
  };

  value('');
  skip();
  if (pos < text.length) fail('the end of the file after the top-level value');
  return { value: JSON.parse(text), duplicates, positions };
}

/** 1-based line and column of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

function describeAt(text: string, at: number): string {
  const c = text[at];
  if (c === '\n' || c === '\r') return 'a line break';
  if (c === '\t') return 'a tab';
  if (c < ' ') return `control character U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  return JSON.stringify(text.slice(at, at + 12).split(/[\r\n]/)[0]);
}

/** A string token failed: find what inside it is wrong. */
function failInString(text: string, start: number, fail: (expected: string, at?: number) => never): never {
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"') break;
    if (c < ' ')
      return fail('the closing quote of the string (a line break or control character inside a string must be escaped, e.g. \\n)', i);
    if (c === '\\') {
      if (!/^(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/.test(text.slice(i + 1, i + 6)))
        return fail('a valid escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)', i);
      i++;
    }
  }
  return fail('the closing quote of the string', text.length);
}

function hintFor(text: string, at: number): string {
  const rest = text.slice(at);
  if (rest.startsWith('//') || rest.startsWith('/*')) return 'JSON does not allow comments: remove them.';
  if (rest.startsWith("'")) return 'JSON strings and property names use double quotes.';
  if (at >= text.length) return 'The file ends early: is it truncated, or is a closing bracket or brace missing?';
  return 'Fix the JSON at that position (a missing comma or quote is the usual cause).';
}
