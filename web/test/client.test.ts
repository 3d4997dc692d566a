// The client against a real herald process: connect, receive, backoff while
// the server is down, resume after a restart with each notification delivered
// once, a refused token replaced at once, and in-band token refresh.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import {
  NotificationServiceError,
  WebSocketNotificationService,
  type NotificationMessage,
  type ServiceOptions,
} from '../src/index.js';
import { Herald, NodeWebSocket, recordingWebSocket, sign, until } from './herald.js';

// Every test's services are disconnected at its end, so no socket outlives it.
const services: WebSocketNotificationService[] = [];
function newService(opts: ServiceOptions): WebSocketNotificationService {
  const s = new WebSocketNotificationService({ WebSocket: NodeWebSocket, networkEvents: null, ...opts });
  services.push(s);
  return s;
}
after(() => {
  for (const s of services) s.disconnect();
});

// record collects what a service emits.
function record(s: WebSocketNotificationService) {
  const r = {
    messages: [] as NotificationMessage[],
    errors: [] as NotificationServiceError[],
    reconnecting: [] as Array<[number, number]>,
    reconnectingAt: [] as number[], // Date.now() of each reconnecting event
    states: [] as string[],
    connected: 0,
    disconnected: [] as number[],
    unread: [] as number[],
  };
  s.on('message', (n) => r.messages.push(n));
  s.on('error', (e) => r.errors.push(e));
  s.on('reconnecting', (a, d) => {
    r.reconnecting.push([a, d]);
    r.reconnectingAt.push(Date.now());
  });
  s.on('state', (st) => r.states.push(st));
  s.on('connected', () => r.connected++);
  s.on('disconnected', (i) => r.disconnected.push(i.code));
  s.on('unread_count', (n) => r.unread.push(n));
  return r;
}

describe('against a real herald', () => {
  test('connects with first-message auth, receives a notification once, marks it read', async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    const urls: string[] = [];
    const calls: boolean[] = [];
    const s = newService({
      url: h.wsUrl,
      WebSocket: recordingWebSocket(urls),
      getToken: ({ forceRefresh }) => {
        calls.push(forceRefresh);
        return sign('alice');
      },
    });
    const r = record(s);
    assert.equal(s.getConnectionState(), 'disconnected');
    await s.connectWithRetry();
    assert.equal(s.isConnected(), true);
    assert.equal(s.getConnectionState(), 'connected');
    assert.deepEqual(r.states, ['connecting', 'connected']);
    assert.deepEqual(calls, [false]);
    assert.deepEqual(urls, [h.wsUrl], 'no token, user or since in the URL of a first connection');
    assert.equal(s.getUnreadCount(), 0);

    const created = await h.notify('alice', 'Trip Started', {
      type: 'trip_update',
      link: '/trips/123',
      data: { tripId: '123', status: 'STARTED' },
    });
    await until('the notification', () => r.messages.length === 1);
    const n = r.messages[0]!;
    assert.equal(n.id, created.id);
    assert.equal(n.seq, created.seq);
    assert.equal(n.type, 'trip_update');
    assert.equal(n.title, 'Trip Started');
    assert.equal(n.message, 'message of Trip Started');
    assert.equal(n.link, '/trips/123');
    assert.deepEqual(n.data, { tripId: '123', status: 'STARTED' });
    assert.equal(n.read, false);
    assert.ok(!Number.isNaN(Date.parse(n.timestamp)), `timestamp ${n.timestamp}`);
    await until('unread count 1', () => s.getUnreadCount() === 1);
    assert.equal(s.getNotifications().length, 1);

    // A custom push in the document's shape is a message too; other pushes are not.
    await h.api('POST', '/api/users/alice/messages', { type: 'payment_approved', title: 'Paid', message: 'Payment approved' });
    await h.api('POST', '/api/users/alice/messages', { type: 'presence', online: true });
    await until('the custom push', () => r.messages.length === 2);
    assert.equal(r.messages[1]!.type, 'payment_approved');
    assert.equal(r.messages[1]!.id, undefined);

    await s.markRead(created.id);
    await until('unread count 0', () => s.getUnreadCount() === 0);
    assert.equal(s.getNotifications()[0]!.read, true);
    assert.equal(s.send({ type: 'ping' }), true);

    s.disconnect();
    assert.equal(s.getConnectionState(), 'disconnected');
    assert.deepEqual(r.disconnected, [1000]);
    assert.equal(r.errors.length, 0, r.errors.map((e) => e.message).join());
    assert.equal(s.send({ type: 'ping' }), false);
  });

  test('loadNotifications reads the inbox over REST without emitting messages', async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    const a = await h.notify('bob', 'one');
    const b = await h.notify('bob', 'two');
    const s = newService({ url: h.wsUrl, getToken: () => sign('bob') });
    const r = record(s);
    const list = await s.loadNotifications({ limit: 10 });
    assert.deepEqual(
      list.map((n) => n.id),
      [b.id, a.id],
    );
    assert.equal(s.getUnreadCount(), 2);
    await s.connectWithRetry();
    await s.markRead(a.id);
    await until('unread count 1', () => s.getUnreadCount() === 1);
    assert.equal(r.messages.length, 0);
    // Offline, markRead falls back to REST and still updates the list and count.
    s.disconnect();
    await s.markRead(b.id);
    assert.equal(s.getUnreadCount(), 0);
    assert.ok(s.getNotifications().every((n) => n.read));
  });

  test('backs off 1x, 2x, 4x… up to the cap while the server is down, then reconnects', async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    const s = newService({ url: h.wsUrl, getToken: () => sign('carol'), initialDelayMs: 40, maxDelayMs: 320 });
    const r = record(s);
    await s.connectWithRetry();
    await h.stop('SIGTERM');
    await until('seven reconnection attempts', () => r.reconnecting.length >= 7);
    // From the first attempt's announcement, made when the client saw the
    // server go (which can be before stop() returns, as the process exits
    // after closing its sockets), to the seventh's.
    const elapsed = r.reconnectingAt[6]! - r.reconnectingAt[0]!;
    assert.deepEqual(r.reconnecting.slice(0, 7), [
      [1, 40],
      [2, 80],
      [3, 160],
      [4, 320],
      [5, 320],
      [6, 320],
      [7, 320],
    ]);
    // The attempts did wait: attempt 7 is announced after the six delays
    // before it (1,240 ms), less a few ms that Node's timers may fire early
    // by against Date.now(), as they count from the event loop's cached time.
    assert.ok(elapsed >= 40 + 80 + 160 + 320 * 3 - 20, `attempt 7 announced ${elapsed} ms after attempt 1`);
    assert.deepEqual(r.disconnected, [1001], 'the graceful shutdown closed with 1001');
    assert.ok(r.errors.length >= 6 && r.errors.every((e) => e.type === 'network_error'));
    assert.notEqual(s.getConnectionState(), 'connected');

    await h.restart();
    await until('reconnected', () => s.isConnected());
    assert.equal(r.connected, 2);
    // The attempt count starts again after a success.
    const before = r.reconnecting.length;
    await h.stop('SIGKILL');
    await until('a new attempt', () => r.reconnecting.length > before);
    assert.deepEqual(r.reconnecting[before], [1, 40]);
  });

  test('resumes after a restart: what was created meanwhile arrives once, in order', async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    const urls: string[] = [];
    const network = new EventTarget();
    // Long backoff: the client waits until the test says the network is back.
    const s = newService({
      url: h.wsUrl,
      WebSocket: recordingWebSocket(urls),
      getToken: () => sign('dave'),
      initialDelayMs: 60000,
      maxDelayMs: 60000,
      networkEvents: network,
    });
    const r = record(s);
    await s.connectWithRetry();
    const n1 = await h.notify('dave', 'n1');
    const n2 = await h.notify('dave', 'n2');
    await until('two live notifications', () => r.messages.length === 2);

    await h.stop('SIGKILL');
    await until('waiting to reconnect', () => s.getConnectionState() === 'reconnecting');
    assert.deepEqual(r.reconnecting, [[1, 60000]]);
    await h.restart();
    const missed = [await h.notify('dave', 'n3'), await h.notify('dave', 'n4'), await h.notify('dave', 'n5')];

    network.dispatchEvent(new Event('online')); // back online: reconnect now, not in a minute
    await until('the missed notifications', () => r.messages.length === 5);
    assert.equal(urls.length, 2);
    assert.equal(new URL(urls[1]!).searchParams.get('since'), String(n2.seq), 'resumed after the last seq seen');
    assert.ok(!urls[1]!.includes('token'), 'no token in the URL');
    const n6 = await h.notify('dave', 'n6');
    await until('the live one after the replay', () => r.messages.length === 6);

    assert.deepEqual(
      r.messages.map((m) => m.id),
      [n1.id, n2.id, ...missed.map((m) => m.id), n6.id],
    );
    assert.deepEqual(
      r.messages.map((m) => m.replayed === true),
      [false, false, true, true, true, false],
    );
    await until('exact unread count', () => s.getUnreadCount() === 6);
    // Nothing else trickles in.
    await h.notify('someone-else', 'not for dave');
    await h.api('GET', '/api/stats');
    assert.equal(r.messages.length, 6);
  });

  test('the unread count ends on the server count after concurrent creates and reads, with its version', async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    const s = newService({ url: h.wsUrl, getToken: () => sign('fay') });
    const r = record(s);
    await s.connectWithRetry();
    const created = await Promise.all(Array.from({ length: 24 }, (_, i) => h.notify('fay', `n${i}`)));
    await until('every notification', () => r.messages.length === 24);
    // Over the socket (mark_read) and over REST at once, as two tabs would.
    await Promise.all(
      created.filter((_, i) => i % 3 === 0).map((n, i) =>
        i % 2 === 0
          ? s.markRead(n.id)
          : fetch(`http://${h.addr}/api/notifications/${n.id}/read`, { method: 'POST', headers: { Authorization: `Bearer ${sign('fay')}` } }),
      ),
    );
    await until('the count after the reads', () => s.getUnreadCount() === 16);
    const server = (await fetch(`http://${h.addr}/api/notifications/unread-count`, {
      headers: { Authorization: `Bearer ${sign('fay')}` },
    }).then((res) => res.json())) as { count: number; version: number };
    assert.deepEqual(server.count, 16);
    assert.ok(server.version >= 32, `version ${server.version}: one per create and per read`);
    assert.equal(r.unread.at(-1), 16);
  });

  test('a refused token (4002) is replaced with getToken(forceRefresh) and retried at once', async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    const calls: boolean[] = [];
    const s = newService({
      url: h.wsUrl,
      // A backoff delay would stall this test: the retry must not wait.
      initialDelayMs: 60000,
      getToken: ({ forceRefresh }) => {
        calls.push(forceRefresh);
        return forceRefresh ? sign('erin') : sign('erin', 300, 'a-secret-the-server-does-not-know-0123456789');
      },
    });
    const r = record(s);
    await s.connectWithRetry();
    assert.deepEqual(calls, [false, true]);
    assert.deepEqual(r.reconnecting, [[1, 0]]);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.type, 'authentication_failed');
    assert.equal(r.errors[0]!.code, 4002);
    assert.equal(r.connected, 1);
    assert.equal(await h.metric('herald_ws_connects_total'), 1);
  });

  test('a token that keeps being refused backs off instead of spinning', async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    const s = newService({
      url: h.wsUrl,
      initialDelayMs: 30,
      maxDelayMs: 60,
      maxAttempts: 3,
      getToken: () => sign('frank', 300, 'a-secret-the-server-does-not-know-0123456789'),
    });
    const r = record(s);
    await assert.rejects(s.connectWithRetry(), (err: NotificationServiceError) => {
      assert.equal(err.type, 'authentication_failed');
      assert.match(err.message, /Gave up after 3/);
      return true;
    });
    assert.deepEqual(r.reconnecting, [
      [1, 0],
      [2, 30],
      [3, 60],
    ]);
    assert.equal(s.getConnectionState(), 'disconnected');
  });

  test('refreshes the token in-band before it expires: the socket stays open', async (t) => {
    // The server closes a socket with 4002 the moment its token expires.
    const h = await Herald.start({ WS_TOKEN_EXPIRY_GRACE: '0s', JWT_LEEWAY: '0s' });
    t.after(() => h.close());
    const calls: boolean[] = [];
    const s = newService({
      url: h.wsUrl,
      refreshMarginMs: 1500,
      getToken: ({ forceRefresh }) => {
        calls.push(forceRefresh);
        return sign('gina', 3);
      },
    });
    const r = record(s);
    await s.connectWithRetry();
    const authenticated: unknown[] = [];
    s.on('raw', (m) => {
      if (m.type === 'authenticated') authenticated.push(m);
    });
    // Past the first token's expiry, and the second's refresh.
    await until('two in-band refreshes', () => authenticated.length >= 2, 8000);
    const n = await h.notify('gina', 'still here');
    await until('the notification', () => r.messages.some((m) => m.id === n.id));
    assert.equal(r.connected, 1);
    assert.deepEqual(r.disconnected, []);
    assert.equal(r.errors.length, 0);
    assert.ok(calls.length >= 3 && calls.every((f) => f === false), `getToken calls ${calls}`);
    assert.equal(await h.metric('herald_ws_connects_total'), 1);
  });

  test('connect() without retry rejects with network_error when no server listens', async (t) => {
    const h = await Herald.start();
    await h.close();
    const s = newService({ url: h.wsUrl, getToken: () => sign('hal') });
    const r = record(s);
    await assert.rejects(s.connect(), (err: NotificationServiceError) => err.type === 'network_error');
    assert.equal(s.getConnectionState(), 'disconnected');
    assert.deepEqual(r.reconnecting, []);
    t.diagnostic(`states: ${r.states.join(' → ')}`);
  });

  test('getToken failures are authentication errors and are retried', async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    let n = 0;
    const s = newService({
      url: h.wsUrl,
      initialDelayMs: 20,
      getToken: () => {
        if (++n < 3) throw new Error('token service down');
        return sign('ivy');
      },
    });
    const r = record(s);
    await s.connectWithRetry();
    assert.equal(n, 3);
    assert.deepEqual(
      r.errors.map((e) => e.type),
      ['authentication_failed', 'authentication_failed'],
    );
    assert.deepEqual(r.reconnecting, [
      [1, 20],
      [2, 40],
    ]);
  });
});
