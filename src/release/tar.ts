/**
 * A minimal tar writer (POSIX ustar, with a PAX header for names that do not fit), enough for
 * regular files sent into a release and read by `tar -x -f -` on the server (GNU or BSD tar).
 * Owner and group are 0: the server's tar runs with --no-same-owner, so files belong to the deploy user.
 */

export interface TarFile {
  /** Path inside the archive, POSIX, relative. */
  name: string;
  mode: number;
  contents: Buffer;
  /** Seconds since the epoch. */
  mtime: number;
}

const BLOCK = 512;

/** The archive of these files, whole, with its two end blocks. */
export function tarOf(files: readonly TarFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const file of files) {
    parts.push(...headersOf(file.name, file.mode, file.contents.length, file.mtime));
    parts.push(file.contents, padding(file.contents.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** The bytes an entry of `size` bytes named `name` takes in the archive (for batching). */
export function tarSize(name: string, size: number): number {
  return headersOf(name, 0, size, 0).reduce((n, b) => n + b.length, 0) + size + padding(size).length;
}

function headersOf(name: string, mode: number, size: number, mtime: number): Buffer[] {
  const split = splitName(name);
  if (split) return [header({ name: split.name, prefix: split.prefix, mode, size, mtime, type: '0' })];
  // Too long (or not ASCII) for ustar's fields: a PAX record carries the real path.
  const record = paxRecord('path', name);
  const pax = header({ name: 'PaxHeader', prefix: '', mode: 0o644, size: record.length, mtime, type: 'x' });
  const shortName = Buffer.from(name).subarray(-99).toString('latin1').replace(/[^\x20-\x7e]/g, '_');
  return [pax, record, padding(record.length), header({ name: shortName, prefix: '', mode, size, mtime, type: '0' })];
}

/** ustar's name (100 bytes) and prefix (155 bytes), split at a slash; undefined when it cannot fit. */
function splitName(name: string): { name: string; prefix: string } | undefined {
  if (!/^[\x20-\x7e]+$/.test(name)) return undefined;
  if (name.length <= 100) return { name, prefix: '' };
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0) return { name: rest, prefix };
  }
  return undefined;
}

/** `<length> key=value\n`, where the length counts its own digits. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let digits = 1;
  while (String(bodyLength + digits).length !== digits) digits++;
  return Buffer.from(`${bodyLength + digits}${body}`);
}

function header(h: { name: string; prefix: string; mode: number; size: number; mtime: number; type: string }): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(h.name, 0, 100, 'latin1');
  octal(block, 100, 8, h.mode & 0o7777);
  octal(block, 108, 8, 0);
  octal(block, 116, 8, 0);
  octal(block, 124, 12, h.size);
  octal(block, 136, 12, Math.floor(h.mtime));
  block.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  block.write(h.type, 156, 1, 'latin1');
  block.write('ustar\0', 257, 6, 'latin1');
  block.write('00', 263, 2, 'latin1');
  block.write(h.prefix, 345, 155, 'latin1');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return block;
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'latin1');
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}
