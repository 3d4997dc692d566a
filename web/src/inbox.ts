// The client's view of the user's inbox: the notifications it knows, their
// read state, the exact unread count, the greatest seq seen (where a resume
// starts) and the ids already delivered to the application (de-duplication).

import type { InboxNotification, NotificationMessage } from './types.js';

/** MAX_ITEMS bounds the notifications kept in memory; the oldest go first. */
export const MAX_ITEMS = 500;

export class InboxState {
  private items = new Map<string, InboxNotification>();
  // Insertion-ordered, so the oldest ids are dropped first past the window.
  private delivered = new Set<string>();
  /** The newest unread count the server gave; undefined until one came. */
  unreadCount: number | undefined;
  /**
   * The version of unreadCount (0 when the server gave none). Counts carry
   * versions because two servers may publish them out of order; the greatest
   * version is the current count.
   */
  unreadVersion = 0;
  /** The greatest seq seen, by socket or REST; a reconnect resumes after it. */
  lastSeq = 0;

  constructor(private readonly dedupeWindow: number) {}

  /**
   * firstDelivery records that the notification with this id is being handed
   * to the application, and reports whether that is the first time.
   */
  firstDelivery(id: string): boolean {
    if (this.delivered.has(id)) return false;
    this.delivered.add(id);
    if (this.delivered.size > this.dedupeWindow) {
      const oldest = this.delivered.values().next().value;
      if (oldest !== undefined) this.delivered.delete(oldest);
    }
    return true;
  }

  /**
   * setUnread takes a count with its version and reports whether it is now
   * the count: one older than (or as old as) the count held is ignored, unless
   * force is set (a new connection's greeting replaces what came before). A
   * count without a version, from an older server, is taken as it comes.
   */
  setUnread(count: number, version: number | undefined, force = false): boolean {
    const v = typeof version === 'number' && Number.isSafeInteger(version) && version > 0 ? version : 0;
    if (!force && this.unreadCount !== undefined && v !== 0 && v <= this.unreadVersion) return false;
    this.unreadCount = count;
    this.unreadVersion = v;
    return true;
  }

  noteSeq(seq: number): void {
    if (Number.isSafeInteger(seq) && seq > this.lastSeq) this.lastSeq = seq;
  }

  /** upsert adds or replaces a notification; the server's copy is authoritative. */
  upsert(n: InboxNotification): void {
    this.items.set(n.id, n);
    this.noteSeq(n.seq);
    if (this.items.size > MAX_ITEMS) {
      let oldest: InboxNotification | undefined;
      for (const it of this.items.values()) if (!oldest || it.seq < oldest.seq) oldest = it;
      if (oldest) this.items.delete(oldest.id);
    }
  }

  /** markRead marks one notification read and reports whether it changed. */
  markRead(id: string, at: string): boolean {
    const n = this.items.get(id);
    if (!n || n.read) return false;
    this.items.set(id, { ...n, read: true, readAt: at });
    return true;
  }

  markAllRead(at: string): boolean {
    let changed = false;
    for (const [id, n] of this.items) {
      if (!n.read) {
        this.items.set(id, { ...n, read: true, readAt: at });
        changed = true;
      }
    }
    return changed;
  }

  remove(id: string): boolean {
    return this.items.delete(id);
  }

  get(id: string): InboxNotification | undefined {
    return this.items.get(id);
  }

  /** list returns the known notifications, newest first. */
  list(): InboxNotification[] {
    return [...this.items.values()].sort((a, b) => b.seq - a.seq);
  }
}

/**
 * asInboxNotification checks that v is a notification object as the server
 * sends it (id, seq, type, title) and returns it typed, or undefined.
 */
export function asInboxNotification(v: unknown): InboxNotification | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const n = v as Record<string, unknown>;
  if (typeof n.id !== 'string' || typeof n.seq !== 'number' || typeof n.type !== 'string' || typeof n.title !== 'string') {
    return undefined;
  }
  const out: InboxNotification = {
    ...(n as unknown as NotificationMessage),
    id: n.id,
    seq: n.seq,
    type: n.type,
    title: n.title,
    message: typeof n.message === 'string' ? n.message : '',
    timestamp: typeof n.timestamp === 'string' ? n.timestamp : typeof n.createdAt === 'string' ? n.createdAt : '',
    read: n.read === true,
  };
  return out;
}
