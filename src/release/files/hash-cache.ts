import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { cacheDir } from './local-cache';

/**
 * Content hashes of local asset files, remembered between runs in node_modules/.cache (the usual
 * place for a tool's cache): a file whose size and modification time are unchanged is not read
 * again, the rule rsync uses by default.
 */
type Entry = { size: number; mtimeMs: number; sha256: string };

export class HashCache {
  private constructor(
    private readonly file: string,
    private readonly entries: Record<string, Entry>,
  ) {}

  static async open(projectDir: string): Promise<HashCache> {
    const file = path.join(cacheDir(projectDir), 'asset-hashes.json');
    const entries = await fs.readFile(file, 'utf8').then(
      (text) => JSON.parse(text) as Record<string, Entry>,
      () => ({}),
    );
    return new HashCache(file, entries);
  }

  /** The cached hash, if the file is as it was when hashed. */
  get(source: string, stat: Stats): string | undefined {
    const entry = this.entries[source];
    return entry && entry.size === stat.size && entry.mtimeMs === stat.mtimeMs ? entry.sha256 : undefined;
  }

  set(source: string, stat: Stats, sha256: string): void {
    this.entries[source] = { size: stat.size, mtimeMs: stat.mtimeMs, sha256 };
  }

  async hash(source: string, stat: Stats): Promise<string> {
    const known = this.get(source, stat);
    if (known) return known;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(source)) hash.update(chunk as Buffer);
    const sha256 = hash.digest('hex');
    this.set(source, stat, sha256);
    return sha256;
  }

  /** Best effort: a cache that cannot be written only costs time next run. */
  async save(): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true }).catch(() => undefined);
    await fs.writeFile(this.file, JSON.stringify(this.entries)).catch(() => undefined);
  }
}
