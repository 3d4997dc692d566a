// Herald's browser client: one WebSocket per origin, shared by every tab, that
// authenticates with its first message, refreshes its token in-band, resumes
// after the last seq it saw and hands each notification to the application
// once. The API is the design document's:
//
//   import { websocketNotificationService as svc } from '@heraldhq/client';
//   svc.configure({ getToken: async ({ forceRefresh }) => fetchMyToken(forceRefresh) });
//   svc.on('message', (n) => showToast(n));
//   await svc.connectWithRetry();

import { WebSocketNotificationService } from './service.js';

export { WebSocketNotificationService, type ListOptions } from './service.js';
export { MSGPACK_PROTOCOL, JSON_PROTOCOL, type Encoding } from './codec.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { SseSocket, sseSocket, EventStreamParser } from './sse.js';
export type { Transport } from './connector.js';
export { jwtExpiry } from './token.js';
export * from './types.js';

/**
 * websocketNotificationService is the ready singleton the design document's
 * applications import. It connects to /ws on the page's host; give it a
 * token source with configure({ getToken }) before connecting.
 */
export const websocketNotificationService = new WebSocketNotificationService();
