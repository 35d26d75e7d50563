import type { RunningCommand } from '../remote/command';
import { PersistentShell, preload, type Preload, type ShellChannel } from './persistent-shell';
import { NotWanted } from './session-slots';

/** How a shell's channel is asked for (session-slots.ts TakeOptions): ahead of need, or while a command still wants it. */
export interface OpenOptions {
  ahead?: boolean;
  wanted?(): boolean;
}

export interface ShellPoolOptions {
  /**
   * Opens one more channel running the shell (started by `commandLine` when given: a preloaded one).
   * Where the server limits sessions it may wait for one, and rejects with NotWanted when `how` says so.
   */
  open(commandLine: string | undefined, how: OpenOptions): Promise<ShellChannel>;
  /** Told when a shell goes idle: a request waiting for a session may then have its channel. */
  idle?(): void;
  /** Most shells at once. */
  size: number;
  /** How long a new shell may take to answer its first line. */
  startTimeoutMs: number;
  /** Told each command's time, in ms from its line written to its exit status read: a round trip and a little. */
  answered?(ms: number): void;
}

interface Waiter {
  resolve(shell: PersistentShell): void;
  reject(error: unknown): void;
}

/**
 * The persistent shells of one session: a command takes an idle shell, else a new one (opened on
 * demand, at most `size`), else waits in order for one to come free. A shell that ended is dropped
 * and the next command opens another. Where the server limits sessions (session-slots.ts), a new
 * shell waits for a channel, and an idle one may be closed for another channel's sake (closeIdle).
 */
export class ShellPool {
  private readonly shells = new Set<PersistentShell>();
  private readonly idle: PersistentShell[] = [];
  private readonly waiting: Waiter[] = [];
  private opening = 0;
  private preloadTried = false;
  private readonly size: number;
  private closed = false;

  constructor(private readonly options: ShellPoolOptions) {
    this.size = options.size;
  }

  /**
   * Runs one command on a shell of its own and hands its streams to `finish` (finishCommand). The
   * session's first command, given before any shell's channel is open, starts a shell of its own
   * that carries it in its command line (preload()): its answer comes a round trip sooner than
   * from a shell still opening.
   */
  async run<T>(command: string, stdin: string | Buffer | undefined, finish: (running: RunningCommand) => Promise<T>): Promise<T> {
    const first = this.firstCommand() ? preload(command, stdin) : undefined;
    const shell = (first && (await this.openPreloaded(first))) || (await this.acquire());
    const preloaded = first !== undefined && shell.preloaded === first;
    const started = performance.now();
    let running: RunningCommand;
    try {
      running = shell.run(command, stdin, preloaded ? first.commandNonce : undefined);
    } catch (error) {
      this.release(shell);
      throw error;
    }
    try {
      return await finish(running);
    } finally {
      await running.exited.catch(() => undefined);
      // A preloaded command's time holds its channel's opening too: not a round trip to learn from.
      if (!preloaded) this.options.answered?.(performance.now() - started);
      this.release(shell);
    }
  }

  /**
   * Starts `count` shells now, before any command asks: their channels open while the caller does
   * other work (the connection's SFTP channel opens beside them), so the first commands find them
   * ready. A warm shell that fails to start is dropped quietly; a command then tries again and reports why.
   */
  warm(count = 1): void {
    while (this.shells.size + this.opening < Math.min(count, this.size) && !this.closed) this.openOne({ ahead: true });
  }

  /** Closes one idle shell, for a channel the server would not otherwise allow; false when none is idle. */
  closeIdle(): boolean {
    const shell = this.idle.shift();
    if (!shell) return false;
    this.shells.delete(shell);
    shell.close();
    return true;
  }

  /** Shells alive now. */
  get count(): number {
    return this.shells.size;
  }

  close(): void {
    this.closed = true;
    for (const shell of this.shells) shell.close();
    this.shells.clear();
    this.idle.length = 0;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('the session was closed'));
  }

  private acquire(): Promise<PersistentShell> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.pump();
    });
  }

  private release(shell: PersistentShell): void {
    if (shell.alive && !this.closed) this.idle.push(shell);
    else this.shells.delete(shell);
    this.pump();
    if (this.idle.length) this.options.idle?.();
  }

  /** Gives idle shells to waiting commands, then opens shells for the rest while the size allows. */
  private pump(): void {
    while (this.waiting.length && this.idle.length) {
      const shell = this.idle.pop() as PersistentShell;
      if (!shell.alive) {
        this.shells.delete(shell);
        continue;
      }
      (this.waiting.shift() as Waiter).resolve(shell);
    }
    while (this.waiting.length > this.opening && this.shells.size + this.opening < this.size && !this.closed)
      this.openOne({ wanted: () => this.waiting.length > 0 });
  }

  /** True once: for the first command, when no shell's channel is open yet and the size allows one more. */
  private firstCommand(): boolean {
    if (this.preloadTried || this.shells.size > 0 || this.shells.size + this.opening >= this.size || this.closed) return false;
    this.preloadTried = true;
    return true;
  }

  /** A new shell started with `first` in its command line; undefined if the channel could not be opened (the pool's shells take the command). */
  private async openPreloaded(first: Preload): Promise<PersistentShell | undefined> {
    this.opening++;
    try {
      const shell = new PersistentShell(await this.options.open(first.commandLine, {}), this.options.startTimeoutMs, first);
      this.shells.add(shell);
      return shell;
    } catch {
      return undefined;
    } finally {
      this.opening--;
    }
  }

  private openOne(how: OpenOptions): void {
    this.opening++;
    this.options.open(undefined, how).then(
      (channel) => {
        this.opening--;
        const shell = new PersistentShell(channel, this.options.startTimeoutMs);
        this.shells.add(shell);
        // The first command goes out with the shell's ready line; a shell that fails to start fails it.
        this.idle.push(shell);
        this.pump();
      },
      (error) => {
        this.opening--;
        // Not needed after all (opened ahead, or the command took a shell that came free).
        if (error instanceof NotWanted) return this.pump();
        // The shells there are will take the waiting commands as they come free.
        if (this.shells.size > 0) return;
        if (this.opening === 0) for (const waiter of this.waiting.splice(0)) waiter.reject(error);
      },
    );
  }
}
