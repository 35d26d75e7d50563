/** Refusals one request takes before it fails: a server that keeps refusing below its limit (about 4 s of asking). */
const MAX_REFUSALS = 25;

/** A channel as far as counting goes: it says when it has closed. */
export interface Closing {
  once(event: 'close', listener: () => void): unknown;
}

/** The server would not open a session channel (its channel-open failure, e.g. MaxSessions reached). */
export class ChannelRefused extends Error {}

/** The server's limit leaves no session for commands beside the ones held for good (SFTP's): they need another connection. */
export class NoRoomForCommands extends Error {}

/** A wait for a session that is no longer wanted when its turn comes (a shell asked for a command that another shell took). */
export class NotWanted extends Error {}

export interface TakeOptions {
  /** Opened ahead of need: dropped, not queued, when the server's limit is reached. */
  ahead?: boolean;
  /** Asked again when a queued request's turn comes: false gives the turn to the next. */
  wanted?(): boolean;
}

interface Turn {
  go(): void;
  fail(error: Error): void;
  wanted?(): boolean;
}

/**
 * The session channels of one connection, against the server's MaxSessions (OpenSSH's default is
 * 10; hardened servers set 1 or 2). The limit is not announced: it is learned when the server
 * first refuses a channel while others are open, as the number it had granted (the server answers
 * in order, so those asked for before the refused one and not refused count). From then on a
 * request waits for a channel to close, and asks the owner to close an idle one (`reclaim`). A
 * refusal before any channel has opened is the server's refusal of sessions altogether: that fails.
 */
export class SessionSlots {
  /** The server's limit once learned. */
  limit = Number.POSITIVE_INFINITY;
  /** Channels open now, and those kept open for good (SFTP's). */
  private open = 0;
  private held = 0;
  /** Channels opened on this connection so far: once one has, the server does allow sessions. */
  private opened = 0;
  /** Requests sent and not yet answered, by the order they were sent in. */
  private readonly asked = new Set<number>();
  private sent = 0;
  private readonly queue: Turn[] = [];

  constructor(
    private readonly owner: {
      /** Closes an idle channel (a shell or the standby), if there is one, to let a waiting request in. */
      reclaim(): void;
      /** Told once, when the limit is learned. */
      learned(limit: number): void;
    },
  ) {}

  /**
   * Opens one session channel with `open` once the limit allows (counted until it closes). Rejects
   * with ChannelRefused when the server refuses sessions altogether, NoRoomForCommands when the
   * held channels use the whole limit, and NotWanted for a request opened ahead or no longer wanted.
   */
  async take<T extends Closing>(open: () => Promise<T>, options: TakeOptions = {}): Promise<T> {
    let refusals = 0;
    for (;;) {
      if (this.limit <= this.held) throw new NoRoomForCommands('no session left beside the held ones');
      if (this.open + this.asked.size >= this.limit) {
        if (options.ahead) throw new NotWanted('the server allows no more sessions');
        await this.turn(options.wanted);
        continue;
      }
      const number = this.sent++;
      this.asked.add(number);
      let channel: T;
      try {
        channel = await open();
      } catch (error) {
        this.asked.delete(number);
        const granted = this.open + [...this.asked].filter((n) => n < number).length;
        const known = this.limit !== Number.POSITIVE_INFINITY || this.opened > 0;
        if (!(error instanceof ChannelRefused) || (granted === 0 && !known) || refusals >= MAX_REFUSALS) {
          this.next();
          throw error;
        }
        if (this.limit === Number.POSITIVE_INFINITY && granted > 0) this.learn(granted);
        else {
          // sshd frees a session once its process has been reaped, a moment after the channel has
          // closed: a refusal below the known limit is that moment. Ask again shortly.
          await new Promise((resume) => setTimeout(resume, Math.min(10 * 2 ** refusals, 200)));
        }
        refusals++;
        if (options.ahead) throw new NotWanted('the server allows no more sessions');
        continue;
      }
      this.asked.delete(number);
      this.open++;
      this.opened++;
      channel.once('close', () => {
        this.open--;
        this.next();
      });
      return channel;
    }
  }

  /**
   * Counts a channel asked for elsewhere (SFTP's, by ssh2-sftp-client) and kept open for good, from
   * the moment it is asked for: a refusal answered after it then knows it was granted.
   */
  hold<T extends Closing>(opening: Promise<T>): void {
    const number = this.sent++;
    this.asked.add(number);
    opening.then(
      (channel) => {
        this.asked.delete(number);
        this.open++;
        this.held++;
        channel.once('close', () => {
          this.open--;
          this.held--;
          this.next();
        });
        this.next();
      },
      () => {
        this.asked.delete(number);
        this.next();
      },
    );
  }

  /** Wakes queued requests (a channel went idle: it may be reclaimed for them). */
  idle(): void {
    this.next();
  }

  /** Gives the next queued request its turn, or, when none can go yet, asks the owner for an idle channel. */
  private next(): void {
    // A request no longer wanted leaves the queue first: no idle channel is closed for it.
    for (const turn of this.queue.filter((t) => t.wanted && !t.wanted())) {
      this.queue.splice(this.queue.indexOf(turn), 1);
      turn.fail(new NotWanted('no longer wanted'));
    }
    if (!this.queue.length) return;
    if (this.limit <= this.held) {
      for (const turn of this.queue.splice(0)) turn.fail(new NoRoomForCommands('no session left beside the held ones'));
      return;
    }
    if (this.open + this.asked.size < this.limit) (this.queue.shift() as Turn).go();
    else this.owner.reclaim();
  }

  private turn(wanted?: () => boolean): Promise<void> {
    return new Promise<void>((go, fail) => {
      this.queue.push({ go, fail, wanted });
      this.next();
    });
  }

  /** Learned once, from the first refusal: a later one may come while sshd has not yet freed a closed channel's session. */
  private learn(granted: number): void {
    this.limit = granted;
    this.owner.learned(granted);
    this.next();
  }
}
