// Types shared by the client's parts: the connection states, the notification
// shape the design document's applications read, errors, events and options.

import type { Encoding } from './codec.js';

/**
 * ConnectionState is what getConnectionState returns.
 *
 * - `connected`: a socket is open and authenticated.
 * - `connecting`: a socket is being opened and authenticated right now.
 * - `reconnecting`: the connection was lost (or an attempt failed) and the
 *   service waits for its backoff delay before the next attempt.
 * - `disconnected`: not connected and not trying: before connect, after
 *   disconnect, or once maxAttempts are spent.
 */
export type ConnectionState = 'connected' | 'disconnected' | 'connecting' | 'reconnecting';

/**
 * NotificationMessage is what the `message` event carries: the design
 * document's shape (type, title, message, link, data, timestamp) plus the
 * inbox fields Herald adds. id, seq and read are set for every notification
 * from the inbox; a custom push a backend sent through the server API in the
 * same shape has none of them.
 */
export interface NotificationMessage {
  type: string;
  title: string;
  message: string;
  link?: string;
  data?: Record<string, unknown>;
  timestamp: string;
  id?: string;
  seq?: number;
  read?: boolean;
  readAt?: string;
  userId?: string;
  createdAt?: string;
  /** true when the notification came in the replay after a reconnect. */
  replayed?: boolean;
}

/** InboxNotification is a notification from the user's inbox: id, seq and read are always set. */
export interface InboxNotification extends NotificationMessage {
  id: string;
  seq: number;
  read: boolean;
}

/** ServerMessage is any JSON object the server sent on the socket. */
export interface ServerMessage {
  type: string;
  [key: string]: unknown;
}

/** ErrorType is the design document's classification of connection errors. */
export type ErrorType = 'authentication_failed' | 'network_error';

/**
 * NotificationServiceError is what the `error` event carries and what connect
 * rejects with. `authentication_failed` means the token was refused (the
 * service fetches a fresh one and retries at once); `network_error` means the
 * server could not be reached or dropped the connection (the service backs off).
 */
export class NotificationServiceError extends Error {
  readonly type: ErrorType;
  /** The WebSocket close code, when the error is a close. */
  readonly code?: number;
  /** The close reason the server gave, when there was one. */
  readonly reason?: string;

  constructor(type: ErrorType, message: string, init: { code?: number; reason?: string; cause?: unknown } = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'NotificationServiceError';
    this.type = type;
    if (init.code !== undefined) this.code = init.code;
    if (init.reason !== undefined) this.reason = init.reason;
  }
}

/** ConnectedInfo is what the `connected` event carries: the server's connected message. */
export interface ConnectedInfo {
  userId: string;
  timestamp: string;
  unreadCount: number;
  /** What carries the connection: `websocket`, or `sse` when forced or fallen back to (Herald addition). */
  transport?: 'websocket' | 'sse';
}

/** DisconnectInfo is what the `disconnected` event carries. */
export interface DisconnectInfo {
  /** The close code (1006 when the connection dropped without one). */
  code: number;
  reason: string;
  /** true when the application asked for it with disconnect(). */
  requested: boolean;
}

/**
 * ServiceEvents maps each event name to the arguments its listeners receive.
 * The first five are the design document's; the others are Herald additions.
 */
export interface ServiceEvents {
  connected: [info: ConnectedInfo];
  disconnected: [info: DisconnectInfo];
  error: [error: NotificationServiceError];
  message: [notification: NotificationMessage];
  /** attempt counts from 1 after each loss of connection; delayMs is the wait before it. */
  reconnecting: [attempt: number, delayMs: number];
  /** every change of getConnectionState(). */
  state: [state: ConnectionState];
  /** the user's exact number of unread notifications, whenever it changes. */
  unread_count: [count: number];
  /** the notifications list changed (getNotifications() has the new one). */
  inbox: [notifications: InboxNotification[]];
  /** every message the server sent, as it came. */
  raw: [message: ServerMessage];
  /** this tab became (true) or stopped being (false) the one that holds the socket. */
  leader: [isLeader: boolean];
}

export type ServiceEventName = keyof ServiceEvents;

/** TokenResult is what getToken may return instead of a bare token. */
export interface TokenResult {
  token: string;
  /** When the token expires (ISO string, Date or epoch milliseconds). Read from a JWT's exp when absent. */
  expiresAt?: string | number | Date;
}

/**
 * GetToken returns a token for the current user. forceRefresh is true when the
 * server refused the last one, or when it is about to expire: a cache must
 * then be bypassed.
 */
export type GetToken = (opts: { forceRefresh: boolean }) => Promise<string | TokenResult> | string | TokenResult;

/** WebSocketLike is the part of the browser's WebSocket the service uses. */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the server accepted ('' for none); read with the msgpack encoding. */
  readonly protocol?: string;
  /** Set to 'arraybuffer' with the msgpack encoding, so binary frames arrive as ArrayBuffer. */
  binaryType?: string;
  onopen: ((ev: any) => any) | null;
  onmessage: ((ev: { data: any }) => any) | null;
  onclose: ((ev: { code: number; reason: string; wasClean?: boolean }) => any) | null;
  onerror: ((ev: any) => any) | null;
  /** A string goes as a text frame, bytes (the msgpack encoding) as a binary frame. */
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/**
 * WebSocketConstructor builds a WebSocketLike: the browser's WebSocket, or the
 * ws package's in Node. protocols is passed only with the msgpack encoding.
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** LockManagerLike is the part of navigator.locks (Web Locks) the service uses. */
export interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal }, callback: (lock: unknown) => Promise<unknown>): Promise<unknown>;
}

/** BroadcastChannelLike is the part of BroadcastChannel the service uses. */
export interface BroadcastChannelLike {
  onmessage: ((ev: { data: any }) => any) | null;
  postMessage(message: unknown): void;
  close(): void;
}

export type BroadcastChannelConstructor = new (name: string) => BroadcastChannelLike;

/** ServiceOptions configures a WebSocketNotificationService. Every field is optional. */
export interface ServiceOptions {
  /** WebSocket URL of Herald's /ws endpoint. Default: /ws on the page's own host (ws: or wss:). */
  url?: string;
  /** Base URL of the REST API. Default: url's origin over http(s). */
  apiUrl?: string;
  /** Token source, used for first-message authentication, in-band refresh and REST calls. */
  getToken?: GetToken;
  /** Reconnection attempts after a loss before giving up. Default: unlimited. */
  maxAttempts?: number;
  /** First backoff delay. Default 1000 ms; each further attempt doubles it. */
  initialDelayMs?: number;
  /** Cap of the backoff delay. Default 30000 ms. */
  maxDelayMs?: number;
  /** Random spread of each delay, 0 to 1 (0.2: ±20%). Default 0: exactly the document's sequence. */
  jitter?: number;
  /** Time a socket has to open and authenticate. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** Refresh the token in-band this long before it expires (at most half its life). Default 60000 ms. */
  refreshMarginMs?: number;
  /** Time a liveness probe (after the browser comes back online) waits for an answer. Default 5000 ms. */
  probeTimeoutMs?: number;
  /** Share one socket among the tabs of the origin (Web Locks + BroadcastChannel). Default true where both exist. */
  shareAcrossTabs?: boolean;
  /** Name of the tab group; tabs with the same key share a socket. Default: the url. Include the user when tabs may sign in as different users. */
  shareKey?: string;
  /** How many delivered notification ids are remembered for de-duplication. Default 5000. */
  dedupeWindow?: number;
  /**
   * How messages travel on the socket. `json` (the default): JSON text frames,
   * as in the design document. `msgpack`: the socket asks for the
   * herald.msgpack subprotocol and messages go both ways as MessagePack binary
   * frames, smaller for large payloads; the events carry the same objects.
   * When the server does not accept it the socket stays on JSON. Applies from
   * the next connection.
   */
  encoding?: Encoding;
  /**
   * What carries the connection. `auto` (the default) tries the WebSocket and
   * falls back to Server-Sent Events (GET /sse with fetch, actions POSTed)
   * after two attempts in a row end before the greeting without a close code,
   * as when a proxy refuses the upgrade; it stays on SSE until disconnect.
   * `websocket` and `sse` force one. The API, events and states are the same.
   */
  transport?: 'auto' | 'websocket' | 'sse';
  /** URL of Herald's /sse endpoint. Default: url with ws(s): made http(s): and /ws made /sse. */
  sseUrl?: string;
  /** WebSocket implementation. Default: the global WebSocket (in Node 20, pass the ws package's). */
  WebSocket?: WebSocketConstructor;
  /** fetch implementation for the REST helpers. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Source of the online/offline events. Default: window, when there is one. */
  networkEvents?: EventTarget | null;
  /** Web Locks implementation. Default: navigator.locks. */
  locks?: LockManagerLike | null;
  /** BroadcastChannel implementation. Default: the global one. */
  BroadcastChannel?: BroadcastChannelConstructor | null;
}
