// The compact encodings against a real herald: the JSON test's conversation
// (connect, a notification once, resume after a restart, mark read) with
// MessagePack binary frames, the same message objects as JSON, the fallback to
// JSON when the server does not accept MessagePack, and permessage-deflate
// with a large notification.

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import type WS from 'ws';

import { WebSocketNotificationService, type NotificationMessage, type ServiceOptions } from '../src/index.js';
import { Herald, NodeWebSocket, recordingWebSocket, sign, until, type Frame } from './herald.js';

const services: WebSocketNotificationService[] = [];
function newService(opts: ServiceOptions): WebSocketNotificationService {
  const s = new WebSocketNotificationService({ WebSocket: NodeWebSocket, networkEvents: null, ...opts });
  services.push(s);
  return s;
}
after(() => {
  for (const s of services) s.disconnect();
});

function messages(s: WebSocketNotificationService): NotificationMessage[] {
  const out: NotificationMessage[] = [];
  s.on('message', (n) => out.push(n));
  return out;
}

// A payload with every JSON type: MessagePack must give back the same values.
const DATA = { tripId: '123', status: 'STARTED', fare: 12.5, seats: 3, big: 9007199254740991, neg: -42, paid: true, tip: null, stops: ['a', 'b'], nested: { é: 'ü ✓' } };

describe('encodings against a real herald', () => {
  test('msgpack: the JSON conversation in binary frames, with the same message objects', async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    const urls: string[] = [];
    const sockets: WS[] = [];
    const frames: Frame[] = [];
    const network = new EventTarget();
    const s = newService({
      url: h.wsUrl,
      encoding: 'msgpack',
      WebSocket: recordingWebSocket(urls, { sockets, frames }),
      getToken: () => sign('alice'),
      // Reconnect when the test says the network is back, not on a timer.
      initialDelayMs: 60000,
      maxDelayMs: 60000,
      networkEvents: network,
    });
    // The same user on JSON, to compare what the application receives.
    const j = newService({ url: h.wsUrl, getToken: () => sign('alice') });
    const got = messages(s);
    const want = messages(j);
    await Promise.all([s.connectWithRetry(), j.connectWithRetry()]);
    assert.equal(sockets[0]!.protocol, 'herald.msgpack');
    assert.equal(sockets[0]!.binaryType, 'arraybuffer');

    const n1 = await h.notify('alice', 'Trip Started', { type: 'trip_update', link: '/trips/123', data: DATA });
    await h.api('POST', '/api/users/alice/messages', {
      type: 'payment_approved',
      title: 'Paid',
      message: 'Payment approved',
      timestamp: '2026-01-01T10:00:00Z',
      data: DATA,
    });
    await until('both on both', () => got.length === 2 && want.length === 2);
    assert.deepEqual(got, want, 'MessagePack and JSON give the application the same objects');
    j.disconnect();
    assert.equal(got[0]!.id, n1.id);
    assert.equal(got[0]!.seq, n1.seq);
    assert.deepEqual(got[0]!.data, DATA);
    await until('unread count 1', () => s.getUnreadCount() === 1);

    // Resume: what is created while the server is down arrives once, in order.
    await h.stop('SIGKILL');
    await until('waiting to reconnect', () => s.getConnectionState() === 'reconnecting');
    await h.restart();
    const missed = [await h.notify('alice', 'n2'), await h.notify('alice', 'n3')];
    network.dispatchEvent(new Event('online'));
    await until('the missed notifications', () => got.length === 4);
    assert.equal(sockets.length, 2);
    assert.equal(sockets[1]!.protocol, 'herald.msgpack');
    assert.equal(new URL(urls[1]!).searchParams.get('since'), String(n1.seq));
    assert.deepEqual(
      got.map((m) => [m.id, m.replayed === true]),
      [[n1.id, false], [undefined, false], ...missed.map((m) => [m.id, true])],
    );
    await until('unread count 3', () => s.getUnreadCount() === 3);

    // mark_read goes up as MessagePack; the server's answer comes back the same way.
    await s.markRead(n1.id);
    await until('unread count 2', () => s.getUnreadCount() === 2);
    assert.equal(s.getNotifications().find((n) => n.id === n1.id)?.read, true);
    const listed = await s.loadNotifications({ limit: 10 }); // over REST
    assert.equal(listed.find((n) => n.id === n1.id)?.read, true, 'the server stored the read');

    // On the MessagePack sockets everything was binary both ways, but for the
    // first message, the auth, which is JSON text on every socket.
    const firstOut = new Set<number>();
    const text = frames.filter((f) => {
      const first = f.dir === 'out' && !firstOut.has(f.socket);
      if (first) firstOut.add(f.socket);
      return f.binary === first;
    });
    assert.deepEqual(text, [], 'frames in the wrong encoding');
    assert.equal(firstOut.size, 2);
    assert.ok(frames.some((f) => f.dir === 'out' && f.binary), 'mark_read went as MessagePack');
    assert.ok(frames.filter((f) => f.dir === 'in').length >= 8);
  });

  test('msgpack: the in-band token refresh goes as MessagePack and keeps the socket', async (t) => {
    // The server closes a socket with 4002 the moment its token expires.
    const h = await Herald.start({ WS_TOKEN_EXPIRY_GRACE: '0s', JWT_LEEWAY: '0s' });
    t.after(() => h.close());
    const frames: Frame[] = [];
    const s = newService({
      url: h.wsUrl,
      encoding: 'msgpack',
      WebSocket: recordingWebSocket([], { frames }),
      refreshMarginMs: 1500,
      getToken: () => sign('gina', 3),
    });
    const got = messages(s);
    const authenticated: unknown[] = [];
    s.on('raw', (m) => {
      if (m.type === 'authenticated') authenticated.push(m);
    });
    let disconnects = 0;
    s.on('disconnected', () => disconnects++);
    await s.connectWithRetry();
    // Past the first token's expiry, and the second's refresh.
    await until('two in-band refreshes', () => authenticated.length >= 2, 8000);
    const n = await h.notify('gina', 'still here');
    await until('the notification', () => got.some((m) => m.id === n.id));
    assert.equal(disconnects, 0);
    assert.equal(await h.metric('herald_ws_connects_total'), 1);
    assert.ok(frames.filter((f) => f.dir === 'out' && f.binary).length >= 2, 'the refreshes went as MessagePack');
  });

  test('msgpack falls back to JSON when the server accepts only herald.json', async (t) => {
    const h = await Herald.start();
    t.after(() => h.close());
    // A proxy in front of herald that lets only herald.json through, as a
    // server that offers no MessagePack would answer.
    const proxy = await subprotocolProxy(h.port, 'herald.json');
    t.after(() => proxy.close());
    const urls: string[] = [];
    const sockets: WS[] = [];
    const frames: Frame[] = [];
    const s = newService({
      url: `ws://127.0.0.1:${proxy.port}/ws`,
      apiUrl: `http://${h.addr}`,
      encoding: 'msgpack',
      WebSocket: recordingWebSocket(urls, { sockets, frames }),
      getToken: () => sign('bob'),
    });
    const got = messages(s);
    await s.connectWithRetry();
    assert.equal(sockets[0]!.protocol, 'herald.json');
    const n = await h.notify('bob', 'over JSON', { data: DATA });
    await until('the notification', () => got.length === 1);
    assert.deepEqual(got[0]!.data, DATA);
    await s.markRead(n.id);
    await until('unread count 0', () => s.getUnreadCount() === 0);
    assert.ok(frames.length >= 4);
    assert.deepEqual(
      frames.filter((f) => f.binary),
      [],
      'a binary frame on a JSON socket',
    );
  });

  for (const encoding of ['json', 'msgpack'] as const) {
    test(`permessage-deflate with ${encoding}: negotiated, a large notification arrives intact and compressed`, async (t) => {
      const h = await Herald.start({ WS_PERMESSAGE_DEFLATE: 'true' });
      t.after(() => h.close());
      const upgrades: IncomingMessage[] = [];
      // The ws package compresses the messages it sends from 1 KiB on.
      const WebSocket = recordingWebSocket([], { upgrades, options: { perMessageDeflate: { threshold: 1024 } } });
      const s = newService({ url: h.wsUrl, encoding, WebSocket, getToken: () => sign('carol') });
      const got = messages(s);
      const raw: string[] = [];
      s.on('raw', (m) => raw.push(m.type));
      await s.connectWithRetry();
      const res = upgrades[0]!;
      const ext = res.headers['sec-websocket-extensions'] ?? '';
      assert.match(ext, /^permessage-deflate\b/);
      assert.match(ext, /server_no_context_takeover/);
      assert.match(ext, /client_no_context_takeover/);
      assert.equal(res.headers['sec-websocket-protocol'], encoding === 'msgpack' ? 'herald.msgpack' : undefined);

      // A notification near the size limits: 4 KiB of message and 14 KiB of data.
      const stops = Array.from({ length: 220 }, (_, i) => ({ stop: i, name: `Stop number ${i}`, eta: `2026-01-01T10:${String(i % 60).padStart(2, '0')}:00Z` }));
      const data = { route: 'R7', stops };
      const message = 'Your driver is on the way. '.repeat(150);
      const size = JSON.stringify({ message, data }).length;
      assert.ok(size > 15000, `payload of ${size} bytes`);
      const tcp = res.socket;
      const before = tcp.bytesRead;
      const n = await h.notify('carol', 'Big one', { message, data });
      await until('the large notification', () => got.length === 1);
      const read = tcp.bytesRead - before;
      assert.equal(got[0]!.id, n.id);
      assert.equal(got[0]!.message, message);
      assert.deepEqual(got[0]!.data, data);
      t.diagnostic(`${encoding}: a ${size}-byte notification took ${read} bytes on the wire`);
      assert.ok(read < size / 3, `${read} bytes read for a ${size}-byte notification: not compressed`);

      // A large client message goes compressed, and the server inflates it.
      const pongs = raw.filter((m) => m === 'pong').length;
      assert.equal(s.send({ type: 'ping', note: 'padding '.repeat(500) }), true);
      await until('the pong', () => raw.filter((m) => m === 'pong').length === pongs + 1);
      await s.markRead(n.id);
      await until('unread count 0', () => s.getUnreadCount() === 0);
      assert.equal(s.isConnected(), true);
    });
  }

  // Chromium compresses every message once permessage-deflate is negotiated,
  // the first one (the auth) included; Herald inflates that first message
  // like any other.
  test('permessage-deflate: a client that compresses its first message authenticates', async (t) => {
    const h = await Herald.start({ WS_PERMESSAGE_DEFLATE: 'true' });
    t.after(() => h.close());
    const WebSocket = recordingWebSocket([], { options: { perMessageDeflate: { threshold: 0 } } });
    const s = newService({ url: h.wsUrl, WebSocket, getToken: () => sign('dora') });
    await s.connect();
    assert.equal(s.isConnected(), true);
  });
});

// subprotocolProxy listens on a free port and forwards every connection to
// herald on port, replacing the Sec-WebSocket-Protocol header of the upgrade
// request with protocol.
async function subprotocolProxy(port: number, protocol: string): Promise<{ port: number; close(): void }> {
  const conns = new Set<net.Socket>();
  const srv = net.createServer((client) => {
    conns.add(client);
    let head = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      head = Buffer.concat([head, b]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const req = head
        .subarray(0, end)
        .toString('latin1')
        .replace(/^sec-websocket-protocol:.*$/im, `Sec-WebSocket-Protocol: ${protocol}`);
      const up = net.connect(port, '127.0.0.1', () => {
        up.write(Buffer.concat([Buffer.from(req, 'latin1'), head.subarray(end)]));
        client.pipe(up);
        up.pipe(client);
      });
      conns.add(up);
      up.on('error', () => client.destroy());
      up.on('close', () => client.destroy());
      client.on('close', () => up.destroy());
    };
    client.on('data', onData);
    client.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close() {
      srv.close();
      for (const c of conns) c.destroy();
    },
  };
}
