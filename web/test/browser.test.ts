// The demo page in Debian's Chromium with ?encoding=msgpack: the committed
// build loads the vendored MessagePack library through its rewritten imports,
// the socket negotiates herald.msgpack, and a notification arrives and is
// marked read over binary frames. (The JSON page is covered by test/e2e.mjs,
// run by go test ./cmd/herald -run TestBrowserDemo.) Skipped without chromium,
// unless HERALD_TEST_REQUIRE_SERVICES=1.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

import { Herald, sign } from './herald.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const missing = !fs.existsSync(CHROMIUM);
if (missing && process.env.HERALD_TEST_REQUIRE_SERVICES === '1') {
  throw new Error(`${CHROMIUM} is required (apt-get install chromium)`);
}
const WAIT = 10000;

describe('the demo page in Chromium', { skip: missing ? `no ${CHROMIUM}` : false }, () => {
  let browser: Browser;
  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  });
  after(() => browser?.close());

  test('?encoding=msgpack: binary frames both ways after the auth, toast, mark read', async (t) => {
    const h = await Herald.start({ HERALD_DEMO: 'true' }); // the demo sign-in, with the test's secrets
    t.after(() => h.close());
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'warning' || m.type() === 'error') problems.push(m.text());
    });
    const frames = { in: [] as string[], out: [] as string[] };
    page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => frames.in.push(typeof f.payload === 'string' ? 'text' : 'binary'));
      ws.on('framesent', (f) => frames.out.push(typeof f.payload === 'string' ? 'text' : 'binary'));
    });

    await page.goto(`http://${h.addr}/?encoding=msgpack`);
    await page.fill('#user', 'mia');
    await page.click('#signin-form button[type="submit"]');
    await page.waitForSelector('#status[data-state="connected"]', { timeout: WAIT });
    assert.equal(await page.isVisible('#encoding'), true, 'the page does not say it uses MessagePack');

    const n = await h.notify('mia', 'Paid in binary', { type: 'payment_approved', link: '/#/payments/7', data: { amount: 12.5 } });
    const toast = await page.waitForSelector(`.toast[data-id="${n.id}"]`, { timeout: WAIT });
    assert.match((await toast.textContent()) ?? '', /Paid in binary/);
    await page.waitForSelector('#badge[data-count="1"]', { state: 'attached', timeout: WAIT });
    for (const close of await page.$$('.toast-close')) await close.click();
    await page.click(`#inbox li[data-id="${n.id}"] .mark-read`, { timeout: WAIT });
    await page.waitForSelector('#badge[data-count="0"]', { state: 'attached', timeout: WAIT });
    await page.waitForSelector(`#inbox li[data-id="${n.id}"][data-read="true"]`, { timeout: WAIT });

    // The auth is JSON text; everything after it went binary, both ways.
    assert.equal(frames.out[0], 'text', `sent ${frames.out}`);
    assert.ok(frames.out.length >= 2 && frames.out.slice(1).every((f) => f === 'binary'), `sent ${frames.out}`);
    assert.ok(frames.in.length >= 3 && frames.in.every((f) => f === 'binary'), `received ${frames.in}`);
    assert.deepEqual(problems, []);
  });

  // Chromium compresses every message once permessage-deflate is negotiated,
  // the first one (the auth) included; Herald inflates that first message
  // like any other.
  test('permessage-deflate: Chromium authenticates with its first message', async (t) => {
    const h = await Herald.start({ WS_PERMESSAGE_DEFLATE: 'true' });
    t.after(() => h.close());
    const page = await browser.newPage();
    await page.goto(`http://${h.addr}/healthz`);
    const got = await page.evaluate(
      ([url, token]) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(url!);
          ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
          ws.onmessage = (e) => resolve(`${ws.extensions} ${JSON.parse(String(e.data)).type}`);
          ws.onclose = (e) => resolve(`${ws.extensions} closed ${e.code} ${e.reason}`);
        }),
      [h.wsUrl, sign('nia')],
    );
    assert.match(got, /^permessage-deflate.* connected$/);
  });
});
