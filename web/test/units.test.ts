// Unit tests of the client's pure parts: the backoff sequence, reading a
// JWT's expiry, the inbox's de-duplication, the codec, and that the committed
// demo build matches the sources.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { encode } from '@msgpack/msgpack';

import { backoffDelay, DEFAULT_BACKOFF, jwtExpiry, WebSocketNotificationService, type ServiceOptions } from '../src/index.js';
import { loadCodec } from '../src/codec.js';
import { InboxState, MAX_ITEMS, asInboxNotification } from '../src/inbox.js';
import { withSince } from '../src/connector.js';
import { EventStreamParser } from '../src/sse.js';
import { sign } from './herald.js';

test('backoff follows the design document: 1 s doubling to a 30 s cap', () => {
  const seq = [1, 2, 3, 4, 5, 6, 7, 100, 1e6].map((n) => backoffDelay(n));
  assert.deepEqual(seq, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  assert.equal(backoffDelay(0), 1000, 'attempts below 1 count as the first');
});

test('backoff jitter stays within its spread', () => {
  const opts = { ...DEFAULT_BACKOFF, jitter: 0.2 };
  assert.equal(backoffDelay(3, opts, () => 0), 3200);
  assert.equal(backoffDelay(3, opts, () => 0.5), 4000);
  assert.equal(backoffDelay(3, opts, () => 1), 4800);
  assert.equal(backoffDelay(10, opts, () => 1), 36000, 'the spread applies around the cap');
});

test('jwtExpiry reads exp and ignores what is not a JWT', () => {
  const before = Date.now();
  const exp = jwtExpiry(sign('u', 60));
  assert.ok(exp !== undefined && exp >= Math.floor(before / 1000) * 1000 + 59000 && exp <= before + 61000, `exp ${exp}`);
  assert.equal(jwtExpiry('opaque-api-token'), undefined);
  assert.equal(jwtExpiry('a.b.c'), undefined);
  const noExp = `x.${Buffer.from('{"sub":"u"}').toString('base64url')}.y`;
  assert.equal(jwtExpiry(noExp), undefined);
});

test('withSince adds since only after a seq was seen', () => {
  assert.equal(withSince('ws://h:1/ws', 0), 'ws://h:1/ws');
  assert.equal(withSince('ws://h:1/ws', 42), 'ws://h:1/ws?since=42');
  assert.equal(withSince('ws://h:1/ws?since=3', 42), 'ws://h:1/ws?since=42');
});

test('the inbox delivers each id once within its window', () => {
  const inbox = new InboxState(3);
  assert.equal(inbox.firstDelivery('a'), true);
  assert.equal(inbox.firstDelivery('a'), false);
  for (const id of ['b', 'c', 'd']) inbox.firstDelivery(id);
  assert.equal(inbox.firstDelivery('a'), true, 'the oldest id left the window');
  assert.equal(inbox.firstDelivery('d'), false);
});

test('the inbox keeps the newest notifications, read state and lastSeq', () => {
  const inbox = new InboxState(10);
  const mk = (seq: number) => asInboxNotification({ id: `n${seq}`, seq, type: 't', title: `T${seq}`, message: '', read: false, timestamp: 'x' })!;
  for (let i = 1; i <= MAX_ITEMS + 5; i++) inbox.upsert(mk(i));
  const list = inbox.list();
  assert.equal(list.length, MAX_ITEMS);
  assert.equal(list[0]!.seq, MAX_ITEMS + 5);
  assert.equal(list.at(-1)!.seq, 6);
  assert.equal(inbox.lastSeq, MAX_ITEMS + 5);
  assert.equal(inbox.markRead('n7', 't'), true);
  assert.equal(inbox.markRead('n7', 't'), false);
  assert.equal(inbox.markRead('n1', 't'), false, 'dropped');
  assert.equal(inbox.markAllRead('t'), true);
  assert.ok(inbox.list().every((n) => n.read));
  assert.equal(asInboxNotification({ id: 1, seq: 1, type: 't', title: 'x' }), undefined);
  assert.equal(asInboxNotification(null), undefined);
});

test('the inbox keeps the count of the newest version, whatever order counts come in', () => {
  const inbox = new InboxState(10);
  assert.equal(inbox.setUnread(5, 10, true), true); // the greeting
  assert.equal(inbox.setUnread(7, 12), true);
  assert.equal(inbox.setUnread(6, 11), false); // published earlier, arrived later
  assert.equal(inbox.setUnread(9, 12), false); // the same version again
  assert.deepEqual([inbox.unreadCount, inbox.unreadVersion], [7, 12]);
  assert.equal(inbox.setUnread(3, 13), true);
  assert.equal(inbox.setUnread(1, 2, true), true); // a new connection's greeting replaces it
  assert.deepEqual([inbox.unreadCount, inbox.unreadVersion], [1, 2]);
  assert.equal(inbox.setUnread(4, undefined), true); // an older server sends no version
  assert.deepEqual([inbox.unreadCount, inbox.unreadVersion], [4, 0]);
});

test('the json codec: text frames only, no subprotocol', async () => {
  const c = await loadCodec('json');
  assert.equal(c.protocols, undefined);
  assert.equal(c.binary('herald.msgpack'), false);
  assert.equal(c.encode({ type: 'ping' }, true), '{"type":"ping"}');
  assert.deepEqual(c.decode('{"type":"pong","n":1}'), { type: 'pong', n: 1 });
  for (const bad of ['nope', '[1]', '{"type":1}', 'null', '"x"', new ArrayBuffer(2)]) {
    assert.equal(c.decode(bad), undefined, `decoded ${String(bad)}`);
  }
});

test('the msgpack codec: binary frames when negotiated, JSON text read too, garbage dropped', async () => {
  const c = await loadCodec('msgpack');
  assert.deepEqual(c.protocols, ['herald.msgpack', 'herald.json']);
  assert.equal(c.binary('herald.msgpack'), true);
  assert.equal(c.binary('herald.json'), false, 'the server chose JSON');
  assert.equal(c.binary(''), false, 'the server chose nothing');
  assert.equal(c.binary(undefined), false);
  assert.equal(c.encode({ type: 'ping' }, false), '{"type":"ping"}');
  const msg = { type: 'notification:new', notification: { id: 'x', seq: 7, data: { f: 1.5, ok: true, none: null, list: [1, 'a'] } } };
  const frame = c.encode(msg, true);
  assert.ok(frame instanceof Uint8Array);
  assert.deepEqual(c.decode(frame.slice().buffer), msg, 'an ArrayBuffer, as binaryType arraybuffer gives');
  assert.deepEqual(c.decode(frame), msg, 'a view');
  assert.deepEqual(c.decode('{"type":"pong"}'), { type: 'pong' }, 'text on a MessagePack socket');
  const bad = [new Uint8Array([0xc1]), frame.slice(0, frame.length - 3), encode([1, 2]), encode({ type: 3 }), encode('x')];
  for (const b of bad) assert.equal(c.decode(b), undefined, `decoded ${Buffer.from(b).toString('hex')}`);
  // A key that would replace the object's prototype is refused by the library.
  const proto = new Uint8Array([0x82, 0xa4, ...Buffer.from('type'), 0xa1, 0x78, 0xa9, ...Buffer.from('__proto__'), 0x80]);
  assert.equal(c.decode(proto), undefined);
});

test('an unknown encoding is refused with a clear error', () => {
  const bad = { encoding: 'cbor' } as unknown as ServiceOptions;
  assert.throws(() => new WebSocketNotificationService(bad), /encoding must be 'json' or 'msgpack', not "cbor"/);
  const s = new WebSocketNotificationService();
  assert.throws(() => s.configure(bad), /encoding must be/);
  s.configure({ encoding: 'msgpack' });
});

test('the committed demo build matches the sources', () => {
  const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  execFileSync(process.execPath, [path.join(web, 'scripts', 'build.mjs'), '--check'], { cwd: web, stdio: 'pipe' });
});

test('the event-stream parser splits any chunking the same way', () => {
  const text = ': hb\r\nevent: connected\r\ndata: {"a":\r\ndata:1}\r\n\r\nid: 3\rdata: x\r\rdata:tail';
  const want = [
    ['connected', '{"a":\n1}'],
    ['message', 'x'],
  ];
  for (const size of [1, 2, 3, 7, text.length]) {
    const got: string[][] = [];
    const p = new EventStreamParser((e, d) => got.push([e, d]));
    for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size));
    assert.deepEqual(got, want, `chunks of ${size}`);
  }
});
