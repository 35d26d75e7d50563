/**
 * The only place that quotes. Every path and value that goes into a shell command passes through
 * `quote` (or the `sh` template tag, which quotes every interpolated value), so no other module
 * builds shell syntax from data by hand.
 */

/**
 * POSIX single-quoting: safe for any string, including newlines, `$(…)`, backticks and quotes.
 * Quoting cannot stop a value that starts with `-` from being read as an option: callers put `--`
 * before operands, and config validation refuses such branch and release names.
 */
export function quote(value: string | number): string {
  const text = String(value);
  if (text.includes('\0')) throw new Error('a value containing a NUL byte cannot be put into a shell command');
  if (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Raw bytes (any, NUL included) as a quoted `printf` format that prints exactly them. Printable
 * ASCII goes as it is (text costs no more than its length), except the quote, `\` and `%`; every
 * other byte is an octal escape, padded to three digits only where a digit follows.
 */
export function printfBytes(bytes: Uint8Array): ShellFragment {
  let format = '';
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x27 && byte !== 0x5c && byte !== 0x25) {
      format += String.fromCharCode(byte);
      continue;
    }
    const next = bytes[i + 1];
    const digitFollows = next >= 0x30 && next <= 0x37; // `\0` then "7" would read as `\07`
    format += `\\${digitFollows ? byte.toString(8).padStart(3, '0') : byte.toString(8)}`;
  }
  return new ShellFragment(`'${format}'`);
}

/** A value that is already shell syntax (a command fragment built by `sh`), not data to quote. */
export class ShellFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type ShellValue = string | number | ShellFragment | ReadonlyArray<string | number | ShellFragment>;

/**
 * `sh\`mkdir -p ${dir}\`` quotes every interpolated value; arrays become space-separated quoted words;
 * ShellFragments are inserted as they are.
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): string {
  let out = strings[0];
  values.forEach((value, i) => {
    out += word(value) + strings[i + 1];
  });
  return out;
}

/** Marks text as shell syntax so that `sh` inserts it unquoted (e.g. a user's hook command). */
export function raw(text: string): ShellFragment {
  return new ShellFragment(text);
}

function word(value: ShellValue): string {
  if (value instanceof ShellFragment) return value.text;
  if (Array.isArray(value)) return value.map(word).join(' ');
  return quote(value as string | number);
}
