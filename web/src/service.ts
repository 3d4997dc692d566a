// WebSocketNotificationService is the design document's client service: the
// application calls connect or connectWithRetry once, listens to events, and
// gets each notification once, across reconnects and across tabs.

import { DEFAULT_BACKOFF } from './backoff.js';
import { Connector, type ConnectorHooks, type Mode } from './connector.js';
import { sseSocket } from './sse.js';
import { Emitter, type Listener } from './emitter.js';
import { InboxState, asInboxNotification } from './inbox.js';
import { TabGroup, type TabMessage } from './tabs.js';
import { fetchToken } from './token.js';
import {
  NotificationServiceError,
  type BroadcastChannelConstructor,
  type ConnectedInfo,
  type ConnectionState,
  type InboxNotification,
  type LockManagerLike,
  type NotificationMessage,
  type ServerMessage,
  type ServiceEventName,
  type ServiceEvents,
  type ServiceOptions,
  type WebSocketConstructor,
} from './types.js';

// Message types of the protocol; any other type with a title is a custom
// push in the notification shape and is delivered as a message.
const PROTOCOL_TYPES = new Set([
  'connected', 'authenticated', 'pong', 'subscribed', 'unsubscribed', 'error', 'resumed',
  'notification:new', 'notification:read', 'notification:deleted', 'notification:unread_count',
]);

type Role = 'idle' | 'solo' | 'leader' | 'follower';

interface Waiter {
  resolve(): void;
  reject(err: NotificationServiceError): void;
}

/** ListOptions selects the page loadNotifications fetches. */
export interface ListOptions {
  /** 1 to 100; default 50. */
  limit?: number;
  unreadOnly?: boolean;
}

export class WebSocketNotificationService {
  private options: ServiceOptions;
  private readonly events = new Emitter<ServiceEvents>();
  private inbox: InboxState;
  private state: ConnectionState = 'disconnected';
  private role: Role = 'idle';
  private mode: Mode = 'retry';
  private connector: Connector | null = null;
  private tabs: TabGroup | null = null;
  private waiters: Waiter[] = [];
  private info: ConnectedInfo | null = null;
  private detachNetwork: (() => void) | null = null;

  constructor(options: ServiceOptions = {}) {
    checkOptions(options);
    this.options = { ...options };
    this.inbox = new InboxState(options.dedupeWindow ?? 5000);
  }

  /**
   * configure changes options; the singleton needs it to learn getToken. It
   * applies from the next connect; call it before connecting.
   */
  configure(options: ServiceOptions): void {
    checkOptions(options);
    this.options = { ...this.options, ...options };
  }

  on<K extends ServiceEventName>(event: K, fn: Listener<ServiceEvents[K]>): void {
    this.events.on(event, fn);
  }

  off<K extends ServiceEventName>(event: K, fn: Listener<ServiceEvents[K]>): void {
    this.events.off(event, fn);
  }

  /**
   * connect opens the connection (or joins the tab that has it) and resolves
   * once it is authenticated. A refused token is retried once at once with a
   * fresh one; any other failure rejects, and a later loss is not repaired.
   */
  connect(): Promise<void> {
    return this.begin('once');
  }

  /**
   * connectWithRetry connects and keeps the connection: every loss is
   * followed by reconnection attempts with exponential backoff, without limit
   * unless maxAttempts is set. It resolves on the first success and rejects
   * only when maxAttempts are spent first.
   */
  connectWithRetry(): Promise<void> {
    return this.begin('retry');
  }

  /**
   * disconnect closes the connection and stops reconnecting. In a tab that
   * leads a group another tab takes the socket over; the others keep theirs.
   */
  disconnect(): void {
    if (this.role === 'idle') return;
    const wasConnected = this.state === 'connected';
    const role = this.role;
    this.role = 'idle';
    this.detachNetwork?.();
    this.detachNetwork = null;
    const c = this.connector;
    this.connector = null; // its hooks see it is no longer current and stay quiet
    c?.stop();
    if (role === 'leader') this.tabs?.post('resign');
    this.tabs?.leave();
    this.tabs = null;
    if (role === 'leader') this.events.emit('leader', false);
    this.setState('disconnected');
    if (wasConnected) this.events.emit('disconnected', { code: 1000, reason: 'Client disconnect', requested: true });
    this.settle(new NotificationServiceError('network_error', 'Disconnected by the application'));
  }

  isConnected(): boolean {
    return this.state === 'connected';
  }

  /** getTransport returns what carries this tab's connection, websocket or sse; null when not connected (Herald addition). */
  getTransport(): 'websocket' | 'sse' | null {
    return this.state === 'connected' ? (this.info?.transport ?? 'websocket') : null;
  }

  getConnectionState(): ConnectionState {
    return this.state;
  }

  /** isLeader reports whether this tab holds the shared socket (always true when not sharing). */
  isLeader(): boolean {
    return this.role === 'leader' || this.role === 'solo';
  }

  /**
   * send writes msg to the server as JSON, through the leading tab when this
   * one follows. It returns false when there is no connection to send on.
   */
  send(msg: { type: string; [key: string]: unknown }): boolean {
    if (this.role === 'follower') {
      if (this.state !== 'connected' || !this.tabs) return false;
      this.tabs.post('send', { msg });
      return true;
    }
    return this.connector?.send(msg) ?? false;
  }

  /** getUnreadCount returns the user's exact number of unread notifications, as the server last said. */
  getUnreadCount(): number {
    return this.inbox.unreadCount ?? 0;
  }

  /** getNotifications returns the notifications known to this tab, newest first. */
  getNotifications(): InboxNotification[] {
    return this.inbox.list();
  }

  /**
   * markRead marks a notification read. Over the socket the server then tells
   * every tab and device of the user; without one it uses the REST API and
   * tells the other tabs itself.
   */
  async markRead(id: string): Promise<void> {
    if (this.send({ type: 'mark_read', notificationId: id })) return;
    await this.rest('POST', `/api/notifications/${encodeURIComponent(id)}/read`);
    this.shareLocal({ type: 'notification:read', notificationId: id, timestamp: new Date().toISOString() });
    await this.refreshUnreadCount();
  }

  /** markAllRead marks every notification of the user read (REST; the server tells the sockets). */
  async markAllRead(): Promise<void> {
    await this.rest('POST', '/api/notifications/read-all');
    if (this.state !== 'connected') {
      this.shareLocal({ type: 'notification:read', all: true, timestamp: new Date().toISOString() });
      await this.refreshUnreadCount();
    }
  }

  /**
   * loadNotifications fetches the newest page of the inbox over REST and
   * merges it into getNotifications(). It does not emit `message` for them:
   * they are history, not news.
   */
  async loadNotifications(opts: ListOptions = {}): Promise<InboxNotification[]> {
    const q = new URLSearchParams();
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.unreadOnly) q.set('unread', 'true');
    const body = (await this.rest('GET', `/api/notifications${q.toString() ? `?${q}` : ''}`)) as {
      notifications?: unknown[];
      unreadCount?: unknown;
      unreadVersion?: unknown;
    };
    for (const raw of body.notifications ?? []) {
      const n = asInboxNotification(raw);
      if (n) this.inbox.upsert(n);
    }
    // A REST answer may be older than a push that overtook it: its version
    // says so. Without one (an older server), over a socket the pushes win.
    if (typeof body.unreadCount === 'number' && (typeof body.unreadVersion === 'number' || this.state !== 'connected')) {
      this.setUnread(body.unreadCount, body.unreadVersion);
    }
    this.events.emit('inbox', this.inbox.list());
    return this.inbox.list();
  }

  // --- connection roles ---

  private begin(mode: Mode): Promise<void> {
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.mode = mode;
    if (this.state === 'connected') {
      this.settle(null);
      return p;
    }
    switch (this.role) {
      case 'idle':
        this.activate();
        break;
      case 'solo':
      case 'leader':
        this.connector?.start(mode);
        break;
      case 'follower':
        // The leader may have given up; ask it to start again.
        if (this.state === 'disconnected') this.tabs?.post('start', { mode });
        break;
    }
    return p;
  }

  private activate(): void {
    this.attachNetwork();
    const locks = this.options.locks !== undefined ? this.options.locks : defaultLocks();
    const BC = this.options.BroadcastChannel !== undefined ? this.options.BroadcastChannel : defaultBroadcastChannel();
    if (this.options.shareAcrossTabs !== false && locks && BC) {
      this.role = 'follower';
      this.setState('connecting');
      this.tabs = new TabGroup(`herald:${this.options.shareKey ?? this.url()}`, locks, BC, {
        message: (m) => this.onTab(m),
        lead: () => this.lead(),
      });
      this.tabs.join();
      this.tabs.post('hello');
      return;
    }
    this.role = 'solo';
    this.connector = this.newConnector();
    this.connector.start(this.mode);
  }

  // lead runs when this tab is granted the lock: it opens the socket.
  private lead(): void {
    if (this.role !== 'follower') return;
    this.role = 'leader';
    this.events.emit('leader', true);
    this.connector = this.newConnector();
    this.connector.start(this.mode);
  }

  private newConnector(): Connector {
    const o = this.options;
    const WS = o.WebSocket ?? defaultWebSocket();
    const getToken = o.getToken ?? (() => Promise.reject(new Error('no getToken configured: call configure({ getToken })')));
    let c: Connector;
    // Hooks of a replaced or stopped connector do nothing.
    const live = () => this.connector === c;
    const share = (kind: TabMessage['kind'], body: Record<string, unknown>) => {
      if (this.role === 'leader') this.tabs?.post(kind, body);
    };
    const hooks: ConnectorHooks = {
      state: (s) => {
        if (!live()) return;
        this.setState(s);
        share('state', { state: s });
      },
      connected: (info) => {
        if (!live()) return;
        this.info = info;
        this.events.emit('connected', info);
        share('event', { name: 'connected', info });
        this.settle(null);
      },
      disconnected: (info) => {
        if (!live()) return;
        this.events.emit('disconnected', info);
        share('event', { name: 'disconnected', info });
      },
      error: (err) => {
        if (!live()) return;
        this.events.emit('error', err);
        share('event', { name: 'error', error: plainError(err) });
      },
      reconnecting: (attempt, delayMs) => {
        if (!live()) return;
        this.events.emit('reconnecting', attempt, delayMs);
        share('event', { name: 'reconnecting', attempt, delayMs });
      },
      message: (m) => {
        if (!live()) return;
        this.handleServerMessage(m);
        share('server', { msg: m });
      },
      stopped: (err) => {
        if (!live()) return;
        share('event', { name: 'stopped', error: plainError(err) });
        this.settle(err);
      },
      lastSeq: () => this.inbox.lastSeq,
    };
    c = new Connector(
      {
        url: this.url(),
        getToken,
        WebSocket: WS,
        backoff: {
          initialDelayMs: o.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs,
          maxDelayMs: o.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs,
          jitter: o.jitter ?? DEFAULT_BACKOFF.jitter,
        },
        maxAttempts: o.maxAttempts ?? Infinity,
        connectTimeoutMs: o.connectTimeoutMs ?? 10000,
        refreshMarginMs: o.refreshMarginMs ?? 60000,
        probeTimeoutMs: o.probeTimeoutMs ?? 5000,
        encoding: o.encoding ?? 'json',
        transport: o.transport ?? 'auto',
        SseSocket: sseSocket(this.sseUrl(), o.fetch ?? ((input, init) => globalThis.fetch(input, init))),
      },
      hooks,
    );
    return c;
  }

  // onTab handles a message from another tab of the group.
  private onTab(m: TabMessage): void {
    const leading = this.role === 'leader';
    const following = this.role === 'follower';
    switch (m.kind) {
      case 'hello':
        if (leading) {
          this.tabs?.post('snapshot', {
            state: this.state,
            info: this.info,
            unreadCount: this.inbox.unreadCount,
            unreadVersion: this.inbox.unreadVersion,
            lastSeq: this.inbox.lastSeq,
          });
        }
        break;
      case 'snapshot':
        if (!following) break;
        if (typeof m.lastSeq === 'number') this.inbox.noteSeq(m.lastSeq);
        if (typeof m.unreadCount === 'number') this.setUnread(m.unreadCount, m.unreadVersion, true);
        this.followState(m.state as ConnectionState, m.info as ConnectedInfo | null);
        break;
      case 'state':
        if (following) this.followState(m.state as ConnectionState, null);
        break;
      case 'event':
        if (following) this.followEvent(m);
        break;
      case 'server':
        // From the leader's socket, or a tab's REST change: every tab applies it.
        if (m.msg && typeof m.msg === 'object') this.handleServerMessage(m.msg as ServerMessage);
        break;
      case 'send':
        if (leading && m.msg && typeof m.msg === 'object') this.connector?.send(m.msg);
        break;
      case 'start':
        if (leading && this.connector && !this.connector.isRunning) this.connector.start(m.mode === 'once' ? 'once' : 'retry');
        break;
      case 'resign':
        // A new leader (maybe this tab) is about to take over.
        if (following) this.followState('connecting', null);
        break;
    }
  }

  // followState mirrors the leader's state. Connected needs the connected
  // info, which comes with the snapshot or the connected event, not with the
  // state message that precedes that event.
  private followState(s: ConnectionState, info: ConnectedInfo | null): void {
    if (s !== 'connected') {
      this.setState(s);
      return;
    }
    if (!info) return;
    const was = this.state;
    this.info = info;
    this.setState('connected');
    if (was !== 'connected') {
      this.events.emit('connected', info);
      this.settle(null);
    }
  }

  private followEvent(m: TabMessage): void {
    switch (m.name) {
      case 'connected':
        this.followState('connected', m.info as ConnectedInfo);
        break;
      case 'disconnected':
        this.events.emit('disconnected', m.info as ServiceEvents['disconnected'][0]);
        break;
      case 'error':
        this.events.emit('error', fromPlain(m.error));
        break;
      case 'reconnecting':
        this.events.emit('reconnecting', Number(m.attempt), Number(m.delayMs));
        break;
      case 'stopped':
        this.settle(fromPlain(m.error));
        break;
    }
  }

  // --- messages and the inbox ---

  private handleServerMessage(msg: ServerMessage): void {
    switch (msg.type) {
      case 'connected':
        // A new connection's greeting: the count at its start, whatever came before.
        if (typeof msg.unreadCount === 'number') this.setUnread(msg.unreadCount, msg.unreadVersion, true);
        break;
      case 'notification:new': {
        const n = asInboxNotification(msg.notification);
        if (!n) break;
        if (msg.replayed === true) n.replayed = true;
        this.inbox.upsert(n);
        if (this.inbox.firstDelivery(n.id)) this.events.emit('message', n);
        this.events.emit('inbox', this.inbox.list());
        break;
      }
      case 'notification:read': {
        const at = typeof msg.timestamp === 'string' ? msg.timestamp : new Date().toISOString();
        const changed =
          msg.all === true
            ? this.inbox.markAllRead(at)
            : typeof msg.notificationId === 'string' && this.inbox.markRead(msg.notificationId, at);
        if (changed) this.events.emit('inbox', this.inbox.list());
        break;
      }
      case 'notification:deleted':
        if (typeof msg.notificationId === 'string' && this.inbox.remove(msg.notificationId)) {
          this.events.emit('inbox', this.inbox.list());
        }
        break;
      case 'notification:unread_count':
        // Counts from several servers may arrive out of order: only a newer version counts.
        if (typeof msg.count === 'number') this.setUnread(msg.count, msg.version);
        break;
      default:
        if (!PROTOCOL_TYPES.has(msg.type) && typeof msg.title === 'string') {
          const n = { ...msg, message: typeof msg.message === 'string' ? msg.message : '' } as unknown as NotificationMessage;
          if (typeof n.timestamp !== 'string') n.timestamp = new Date().toISOString();
          if (typeof n.id !== 'string' || this.inbox.firstDelivery(n.id)) this.events.emit('message', n);
        }
    }
    this.events.emit('raw', msg);
  }

  // shareLocal applies a change this tab made over REST, and tells the other tabs.
  private shareLocal(msg: ServerMessage): void {
    this.handleServerMessage(msg);
    this.tabs?.post('server', { msg });
  }

  private async refreshUnreadCount(): Promise<void> {
    const body = (await this.rest('GET', '/api/notifications/unread-count')) as { count?: unknown; version?: unknown };
    if (typeof body.count === 'number') {
      this.shareLocal({ type: 'notification:unread_count', count: body.count, version: body.version });
    }
  }

  // setUnread takes a count unless it is older than the one held (see
  // InboxState.setUnread) and tells the application when the number changed.
  private setUnread(n: number, version: unknown, force = false): void {
    const before = this.inbox.unreadCount;
    if (!this.inbox.setUnread(n, typeof version === 'number' ? version : undefined, force)) return;
    if (before !== n) this.events.emit('unread_count', n);
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    this.events.emit('state', s);
  }

  // settle resolves (err null) or rejects every pending connect promise.
  private settle(err: NotificationServiceError | null): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  // --- environment ---

  private url(): string {
    if (this.options.url) return this.options.url;
    const loc = (globalThis as { location?: Location }).location;
    if (!loc) throw new Error('herald: no url configured and no page location to derive it from');
    return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
  }

  private sseUrl(): string {
    if (this.options.sseUrl) return this.options.sseUrl;
    const u = new URL(this.url());
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    return u.origin + u.pathname.replace(/\/ws\/?$/, '') + '/sse';
  }

  private apiUrl(): string {
    if (this.options.apiUrl) return this.options.apiUrl.replace(/\/$/, '');
    const u = new URL(this.url());
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    return u.origin + u.pathname.replace(/\/ws\/?$/, '');
  }

  // rest calls the REST API with the user's token, once more with a fresh
  // token when the first is refused, and returns the decoded JSON body.
  private async rest(method: string, path: string): Promise<unknown> {
    const f = this.options.fetch ?? globalThis.fetch;
    const getToken = this.options.getToken;
    if (!getToken) throw new NotificationServiceError('authentication_failed', 'no getToken configured');
    for (const force of [false, true]) {
      const tok = await fetchToken(getToken, force);
      const res = await f(this.apiUrl() + path, { method, headers: { Authorization: `Bearer ${tok.token}` } });
      if (res.status === 401 && !force) continue;
      const text = await res.text();
      const body: unknown = text ? JSON.parse(text) : {};
      if (!res.ok) {
        const msg = (body as { error?: { message?: string } }).error?.message ?? `HTTP ${res.status}`;
        throw new NotificationServiceError(res.status === 401 ? 'authentication_failed' : 'network_error', msg);
      }
      return body;
    }
    throw new NotificationServiceError('authentication_failed', 'token refused');
  }

  // attachNetwork reconnects at once when the browser comes back online, and
  // checks a socket that may have died when it goes offline.
  private attachNetwork(): void {
    const target =
      this.options.networkEvents !== undefined
        ? this.options.networkEvents
        : typeof window !== 'undefined' && typeof window.addEventListener === 'function'
          ? window
          : null;
    if (!target) return;
    const online = () => {
      if (this.state === 'connected') this.connector?.probe();
      else this.connector?.nudge();
    };
    const offline = () => this.connector?.probe();
    target.addEventListener('online', online);
    target.addEventListener('offline', offline);
    this.detachNetwork = () => {
      target.removeEventListener('online', online);
      target.removeEventListener('offline', offline);
    };
  }
}

// checkOptions refuses what JavaScript callers could pass that the types forbid.
function checkOptions(o: ServiceOptions): void {
  if (o.transport !== undefined && o.transport !== 'auto' && o.transport !== 'websocket' && o.transport !== 'sse') {
    throw new TypeError(`herald: transport must be 'auto', 'websocket' or 'sse', not ${JSON.stringify(o.transport)}`);
  }
  if (o.encoding !== undefined && o.encoding !== 'json' && o.encoding !== 'msgpack') {
    throw new TypeError(`herald: encoding must be 'json' or 'msgpack', not ${JSON.stringify(o.encoding)}`);
  }
}

function defaultWebSocket(): WebSocketConstructor {
  const WS = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!WS) throw new Error('herald: no WebSocket implementation: pass options.WebSocket (the ws package in Node)');
  return WS;
}

function defaultLocks(): LockManagerLike | null {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks ?? null;
}

function defaultBroadcastChannel(): BroadcastChannelConstructor | null {
  return (globalThis as { BroadcastChannel?: BroadcastChannelConstructor }).BroadcastChannel ?? null;
}

// Errors cross tabs as plain objects: a structured clone drops the class.
function plainError(e: NotificationServiceError): Record<string, unknown> {
  return { type: e.type, message: e.message, code: e.code, reason: e.reason };
}

function fromPlain(v: unknown): NotificationServiceError {
  const o = (v ?? {}) as { type?: string; message?: string; code?: number; reason?: string };
  return new NotificationServiceError(o.type === 'authentication_failed' ? 'authentication_failed' : 'network_error', o.message ?? 'error', {
    ...(typeof o.code === 'number' ? { code: o.code } : {}),
    ...(typeof o.reason === 'string' ? { reason: o.reason } : {}),
  });
}
