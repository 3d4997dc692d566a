// The client over Server-Sent Events against a real herald: forced with
// transport 'sse', and reached by itself (transport 'auto') when the
// WebSocket cannot be established; the same API, events and states.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { WebSocketNotificationService, type NotificationMessage, type ServiceOptions } from '../src/index.js';
import { Herald, NodeWebSocket, sign, until } from './herald.js';

const services: WebSocketNotificationService[] = [];
function newService(opts: ServiceOptions): WebSocketNotificationService {
  const s = new WebSocketNotificationService({ WebSocket: NodeWebSocket, networkEvents: null, shareAcrossTabs: false, ...opts });
  services.push(s);
  return s;
}
after(() => {
  for (const s of services) s.disconnect();
});

describe('over Server-Sent Events', () => {
  test("transport 'sse': notifications once, mark read, exact counts, resume after a SIGKILL", async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    const s = newService({ url: h.wsUrl, transport: 'sse', getToken: () => sign('alice'), initialDelayMs: 50, maxDelayMs: 200 });
    const got: NotificationMessage[] = [];
    const states: string[] = [];
    s.on('message', (n) => got.push(n));
    s.on('state', (st) => states.push(st));
    await s.connectWithRetry();
    assert.equal(s.getTransport(), 'sse');
    assert.deepEqual(states, ['connecting', 'connected']);

    const a = await h.notify('alice', 'one');
    await until('the first notification', () => got.length === 1);
    assert.equal(got[0]!.id, a.id);
    await until('unread 1', () => s.getUnreadCount() === 1);
    await s.markRead(a.id);
    await until('unread 0', () => s.getUnreadCount() === 0);
    assert.equal(s.send({ type: 'ping' }), true);

    await h.stop('SIGKILL');
    await until('reconnecting', () => s.getConnectionState() !== 'connected');
    await h.restart();
    const b = await h.notify('alice', 'two');
    await until('the notification after the restart', () => got.length === 2, 20000);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(got.map((n) => n.id), [a.id, b.id], 'each once, in order');
    await until('unread 1 again', () => s.getUnreadCount() === 1);
    assert.equal(s.getTransport(), 'sse');
  });

  test("transport 'auto' falls back to SSE when the WebSocket handshake is refused", async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    // A path that answers a plain 404 to the upgrade: what a browser sees
    // behind a proxy that will not pass WebSockets.
    const s = newService({
      url: `ws://${h.addr}/no-websocket-here`,
      sseUrl: `http://${h.addr}/sse`,
      apiUrl: `http://${h.addr}`,
      getToken: () => sign('bob'),
      initialDelayMs: 50,
      maxDelayMs: 200,
    });
    const got: NotificationMessage[] = [];
    s.on('message', (n) => got.push(n));
    await s.connectWithRetry();
    assert.equal(s.getTransport(), 'sse');
    const n = await h.notify('bob', 'over the fallback');
    await until('the notification', () => got.length === 1);
    assert.equal(got[0]!.id, n.id);
    await until('unread 1', () => s.getUnreadCount() === 1);
  });
});
