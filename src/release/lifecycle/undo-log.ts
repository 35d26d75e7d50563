/**
 * What a deploy changed on one server, as actions that put it back: run newest first when the
 * deploy fails. Entries are typed by what they undo, so a step asks "is the lock mine?" or keeps a
 * failed release for a look by method, never by editing another step's entries.
 */
export type UndoKind =
  /** The deploy lock this deploy took. */
  | 'lock'
  /** The release directory this deploy created. */
  | 'release'
  /** Shared paths (storage, .env, …) this deploy created. */
  | 'shared'
  /** The live link this deploy swapped. */
  | 'live'
  /**
   * What exists only for the deploy's life (the fan-out's key lines, key pairs and tar): removed
   * when it ends, however it ends, so a commit keeps these entries with the lock's.
   */
  | 'temporary';

export interface UndoEntry {
  kind: UndoKind;
  /** What it undoes, for the log ("remove releases/2026…"). */
  what: string;
  action: () => Promise<void>;
}

export class UndoLog {
  private entries: UndoEntry[] = [];

  /** Adds an entry; the step that made it may `remove` it once there is nothing left to undo. */
  push(kind: UndoKind, what: string, action: () => Promise<void>): UndoEntry {
    const entry = { kind, what, action };
    this.entries.push(entry);
    return entry;
  }

  holds(kind: UndoKind): boolean {
    return this.entries.some((entry) => entry.kind === kind);
  }

  /** Forgets every entry but those of `kinds` (a committed deploy keeps only its lock to free, and what is temporary). */
  keepOnly(...kinds: UndoKind[]): void {
    this.entries = this.entries.filter((entry) => kinds.includes(entry.kind));
  }

  /** Forgets the entries of `kind`: what they would undo is now meant to stay (or is already undone). */
  drop(kind: UndoKind): void {
    this.entries = this.entries.filter((entry) => entry.kind !== kind);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The entry to undo next (the newest), for an undo that goes one entry at a time (undo.ts). */
  newest(): UndoEntry | undefined {
    return this.entries.at(-1);
  }

  /** The entries of `kind`, oldest first. */
  entriesOf(kind: UndoKind): UndoEntry[] {
    return this.entries.filter((entry) => entry.kind === kind);
  }

  /** Forgets one entry: it is undone (or cannot be, and was said so). */
  remove(entry: UndoEntry): void {
    this.entries = this.entries.filter((e) => e !== entry);
  }

  /** What is still to undo, newest first, for a message that says what was left. */
  pending(): string[] {
    return this.entries.map((entry) => entry.what).reverse();
  }
}
