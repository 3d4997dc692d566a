// TabGroup lets the tabs of an origin share one socket: the tab holding a Web
// Lock leads and owns the socket; the others follow over a BroadcastChannel.
// When the leader's tab closes, the browser releases its lock and the next
// waiting tab is granted it, so a follower takes over without any timeout.

import type { BroadcastChannelConstructor, BroadcastChannelLike, LockManagerLike } from './types.js';

/** TabMessage is one message between the tabs of a group. */
export interface TabMessage {
  from: string;
  kind: 'hello' | 'snapshot' | 'state' | 'event' | 'server' | 'send' | 'start' | 'resign';
  [key: string]: unknown;
}

export interface TabHooks {
  /** a message from another tab of the group. */
  message(m: TabMessage): void;
  /** this tab was granted the lock: it leads until leave. */
  lead(): void;
}

export class TabGroup {
  /** id tells this tab's messages apart from the others'. */
  readonly id: string = randomId();
  private channel: BroadcastChannelLike | null = null;
  private abort: AbortController | null = null;
  private release: (() => void) | null = null;
  private left = false;

  constructor(
    private readonly name: string,
    private readonly locks: LockManagerLike,
    private readonly BC: BroadcastChannelConstructor,
    private readonly hooks: TabHooks,
  ) {}

  get isLeader(): boolean {
    return this.release !== null;
  }

  /** join opens the channel and queues for the lock. */
  join(): void {
    this.channel = new this.BC(this.name);
    this.channel.onmessage = (ev) => {
      const m = ev.data as TabMessage | null;
      if (!this.left && m && typeof m === 'object' && m.from !== this.id) this.hooks.message(m);
    };
    this.abort = new AbortController();
    this.locks
      .request(this.name, { signal: this.abort.signal }, () => {
        if (this.left) return Promise.resolve();
        // Held until leave resolves it, or until the tab goes away.
        return new Promise<void>((resolve) => {
          this.release = resolve;
          this.hooks.lead();
        });
      })
      .catch(() => {
        // AbortError: the tab left before it was granted the lock.
      });
  }

  post(kind: TabMessage['kind'], body: Record<string, unknown> = {}): void {
    this.channel?.postMessage({ ...body, from: this.id, kind });
  }

  /** leave gives up the lock (a follower takes over) and closes the channel. */
  leave(): void {
    this.left = true;
    this.abort?.abort();
    this.abort = null;
    const release = this.release;
    this.release = null;
    release?.();
    this.channel?.close();
    this.channel = null;
  }
}

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}
