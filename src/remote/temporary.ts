import { randomBytes } from 'node:crypto';
import path from 'node:path/posix';

/** NAME_MAX of Linux file systems (ext4, xfs, tmpfs, btrfs): bytes in one path component. */
const NAME_MAX = 255;

/**
 * A fresh name beside `file` in the same directory (`.name.attache-<random>`), for a write or a
 * link that is then renamed over `file`: rename(2) is atomic only within one file system. A long
 * name is cut (on a character boundary) so that the temporary name itself stays within NAME_MAX;
 * the random part keeps it unique.
 */
export function temporaryBeside(file: string): string {
  const suffix = `.attache-${randomBytes(6).toString('hex')}`;
  const room = NAME_MAX - 1 - suffix.length; // the leading dot
  return path.join(path.dirname(file), `.${truncateBytes(path.basename(file), room)}${suffix}`);
}

/** The longest prefix of `text` of at most `max` UTF-8 bytes, never splitting a character. */
export function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > max) break;
    out += char;
    bytes += size;
  }
  return out;
}
