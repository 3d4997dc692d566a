// Unit tests of the client's pure parts: the backoff sequence, reading a
// JWT's expiry, the inbox's de-duplication, and that the committed demo
// build matches the sources.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { backoffDelay, DEFAULT_BACKOFF, jwtExpiry } from '../src/index.js';
import { InboxState, MAX_ITEMS, asInboxNotification } from '../src/inbox.js';
import { withSince } from '../src/connector.js';
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

test('the committed demo build matches the sources', () => {
  const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  execFileSync(process.execPath, [path.join(web, 'scripts', 'build.mjs'), '--check'], { cwd: web, stdio: 'pipe' });
});
