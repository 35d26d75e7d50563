/**
 * The headers of a tar archive (POSIX ustar, with PAX extended headers where ustar cannot say it:
 * names over 100 bytes or not plain ASCII, sizes of 8 GiB and more). Pure functions over Buffers:
 * the archive stream (archive.ts) writes a header, the file's bytes, then `padding(size)`, and
 * `END` once. GNU tar and bsdtar both read it.
 */

export const BLOCK = 512;

/** Two zero blocks end an archive. */
export const END = Buffer.alloc(2 * BLOCK);

/** The largest size an ustar size field holds (11 octal digits). */
const MAX_USTAR_SIZE = 0o77777777777;

export interface TarEntry {
  /** Path inside the archive, forward slashes, relative. */
  name: string;
  /** Permission bits (0o7777). */
  mode: number;
  /** Modification time, in ms. */
  mtimeMs: number;
}

/** The header block(s) of a regular file of `size` bytes; its contents follow, then `padding(size)`. */
export function fileHeader(entry: TarEntry & { size: number }): Buffer {
  return header(entry, '0', entry.size, '');
}

/** The header block(s) of a symbolic link to `target` (no contents follow). */
export function symlinkHeader(entry: TarEntry & { target: string }): Buffer {
  return header(entry, '2', 0, entry.target);
}

/** Zero bytes that fill a file's last block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

function header(entry: TarEntry, type: '0' | '2', size: number, linkname: string): Buffer {
  const pax: Array<[string, string]> = [];
  if (!fitsUstar(entry.name)) pax.push(['path', entry.name]);
  if (linkname && !fitsUstar(linkname)) pax.push(['linkpath', linkname]);
  if (size > MAX_USTAR_SIZE) pax.push(['size', String(size)]);
  const block = ustar({
    name: fitsUstar(entry.name) ? entry.name : fallbackName(entry.name),
    mode: entry.mode & 0o7777,
    size: size > MAX_USTAR_SIZE ? 0 : size,
    mtime: Math.floor(entry.mtimeMs / 1000),
    type,
    linkname: linkname && !fitsUstar(linkname) ? fallbackName(linkname) : linkname,
  });
  if (!pax.length) return block;
  const records = Buffer.from(pax.map(([key, value]) => paxRecord(key, value)).join(''), 'utf8');
  const extended = ustar({
    name: fallbackName(`PaxHeader/${entry.name}`),
    mode: 0o644,
    size: records.length,
    mtime: 0,
    type: 'x',
    linkname: '',
  });
  return Buffer.concat([extended, records, padding(records.length), block]);
}

/** Plain ASCII (no control characters) in at most 100 bytes: the ustar name field holds it as is. */
function fitsUstar(name: string): boolean {
  return name.length <= 100 && /^[\x20-\x7e]*$/.test(name);
}

/** What a reader without PAX support sees: the name made ASCII and cut to the field. */
function fallbackName(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, '_').slice(0, 100);
}

/** "<length> <key>=<value>\n", where the length counts its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body, 'utf8');
  const digits = String(bodyLength).length;
  let length = bodyLength + digits;
  if (String(length).length > digits) length++; // adding the digits made one more (e.g. 98 + 2 → 100)
  return `${length}${body}`;
}

function ustar(fields: { name: string; mode: number; size: number; mtime: number; type: string; linkname: string }): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, 100, 'ascii');
  octal(block, 100, 8, fields.mode);
  octal(block, 108, 8, 0); // uid and gid 0, no names: the extracting user owns the files (tar --no-same-owner)
  octal(block, 116, 8, 0);
  octal(block, 124, 12, fields.size);
  octal(block, 136, 12, Math.max(0, fields.mtime));
  block.write(fields.type, 156, 1, 'ascii');
  block.write(fields.linkname, 157, 100, 'ascii');
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  // The checksum is the sum of the header's bytes with its own field read as eight spaces.
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return block;
}

/** A number in octal, zero-padded, NUL-terminated, filling `length` bytes at `offset`. */
function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'ascii');
}
