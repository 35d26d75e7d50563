import { randomBytes } from 'node:crypto';
import path from 'node:path/posix';

/**
 * A fresh name beside `file` in the same directory (`.name.attache-<random>`), for a write or a
 * link that is then renamed over `file`: rename(2) is atomic only within one file system.
 */
export function temporaryBeside(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.attache-${randomBytes(6).toString('hex')}`);
}
