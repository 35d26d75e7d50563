import type { RunningCommand } from '../remote/command';
import { PersistentShell, preload, type Preload, type ShellChannel } from './persistent-shell';

export interface ShellPoolOptions {
  /** Opens one more channel running the shell (started by `commandLine` when given: a preloaded one). */
  open(commandLine?: string): Promise<ShellChannel>;
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
 * and the next command opens another. If the server refuses a further channel (its MaxSessions)
 * while some shells live, the pool stays at the size it has and commands wait their turn.
 */
export class ShellPool {
  private readonly shells = new Set<PersistentShell>();
  private readonly idle: PersistentShell[] = [];
  private readonly waiting: Waiter[] = [];
  private opening = 0;
  private preloadTried = false;
  private size: number;
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
    while (this.shells.size + this.opening < Math.min(count, this.size) && !this.closed) this.openOne();
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
    while (this.waiting.length > this.opening && this.shells.size + this.opening < this.size && !this.closed) this.openOne();
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
      const shell = new PersistentShell(await this.options.open(first.commandLine), this.options.startTimeoutMs, first);
      this.shells.add(shell);
      return shell;
    } catch {
      return undefined;
    } finally {
      this.opening--;
    }
  }

  private openOne(): void {
    this.opening++;
    this.options.open().then(
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
        if (this.shells.size > 0) {
          // The server allows no more channels: make do with the shells there are.
          this.size = Math.max(1, this.shells.size);
          this.pump();
          return;
        }
        if (this.opening === 0) for (const waiter of this.waiting.splice(0)) waiter.reject(error);
      },
    );
  }
}
