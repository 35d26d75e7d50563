/** Who holds a deploy lock, as the lock step records it in root/.attache-lock/owner. */
export interface LockOwner {
  by: string;
  host: string;
  pid: number;
  since: string;
}

/**
 * The owner file's JSON as people read it: `deploy@build-box (pid 4242) since 2026-11-26T20:30:00.000Z,
 * 12 min ago`. A file that is not an owner record is shown as it is (shortened), an empty one as unknown.
 */
export function describeOwner(ownerJson: string, now = Date.now()): string {
  const text = ownerJson.trim();
  let owner: Partial<LockOwner> | null = null;
  try {
    owner = JSON.parse(text) as Partial<LockOwner>;
  } catch {}
  if (owner && typeof owner === 'object' && typeof owner.by === 'string' && typeof owner.host === 'string') {
    const since = typeof owner.since === 'string' && !Number.isNaN(Date.parse(owner.since)) ? owner.since : undefined;
    const ago = since === undefined ? '' : `, ${Math.max(0, Math.round((now - Date.parse(since)) / 60000))} min ago`;
    return `${owner.by}@${owner.host}${owner.pid === undefined ? '' : ` (pid ${owner.pid})`}${since === undefined ? '' : ` since ${since}${ago}`}`;
  }
  if (text === '') return 'an unknown deploy (no owner recorded)';
  return `an unknown deploy (owner file: ${JSON.stringify(text.length > 80 ? text.slice(0, 80) + '…' : text)})`;
}
