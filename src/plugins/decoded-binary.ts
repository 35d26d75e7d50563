import { isUtf8 } from 'node:buffer';
import type Vinyl from 'vinyl';

/** U+FFFD, the replacement character, as UTF-8: what a decoder writes for every byte it cannot read. */
const REPLACEMENT = Buffer.from([0xef, 0xbf, 0xbd]);

/**
 * Whether gulp 5's `src` (without `encoding: false`) decoded this binary file as UTF-8 text. That
 * decoding replaces every invalid sequence (1 to 3 bytes) with U+FFFD (3 bytes) and re-encodes, so
 * a damaged file is larger than it is on disk, is valid UTF-8 and contains U+FFFD. All three are
 * required: a genuine UTF-8 text file arrives with exactly its size on disk (3 bytes fewer when a
 * BOM was stripped), and a file another plugin rewrote (minified, compressed) is not valid UTF-8
 * unless it is text.
 */
export function decodedAsText(file: Vinyl): file is Vinyl & { contents: Buffer; stat: { size: number } } {
  if (!file.isBuffer() || typeof file.stat?.size !== 'number') return false;
  const contents = file.contents;
  return contents.length > file.stat.size && contents.includes(REPLACEMENT) && isUtf8(contents);
}
