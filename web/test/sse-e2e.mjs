// sse-e2e.mjs checks Herald's Server-Sent Events in Debian's Chromium
// (playwright-core, no downloaded browser):
//
//	node test/sse-e2e.mjs --base http://127.0.0.1:PORT --proxy http://127.0.0.1:PROXYPORT --api-key KEY --artifacts DIR
//
// - a plain EventSource (the browser's own, no client library) receives
//   notifications with their seq as event id;
// - when the server is killed (SIGKILL) mid-stream and started again, the
//   browser's own reconnect with Last-Event-ID loses nothing and duplicates
//   nothing;
// - the demo page, opened through a proxy that strips WebSocket upgrades
//   (--proxy), ends up on SSE by itself and still shows toasts and exact
//   unread counts.
//
// The server is killed and started by whoever runs the script
// (cmd/herald/browser_sse_test.go), as for e2e.mjs: {"cmd":"kill"} or
// {"cmd":"start"} on a line of stdout, answered "ok" on stdin. The last line of
// stdout is the result, {"ok":…,"checks":[{"name","ok","detail"}]}.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { apiClient, assert, check, control, launch, run, until } from './harness.mjs';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    proxy: { type: 'string' },
    'api-key': { type: 'string' },
    artifacts: { type: 'string', default: 'test-artifacts' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
if (!args.base || !args.proxy || !args['api-key']) {
  console.error('usage: node test/sse-e2e.mjs --base URL --proxy URL --api-key KEY [--artifacts DIR] [--chromium PATH]');
  process.exit(2);
}
const base = args.base.replace(/\/$/, '');
const proxy = args.proxy.replace(/\/$/, '');
const WAIT = 15000;
fs.mkdirSync(args.artifacts, { recursive: true });

const api = apiClient(base, args['api-key']);

const notify = (user, title) => api('POST', '/api/notifications', { userId: user, type: 'announcement', title, message: 'm' }, 201);





let context;
let profile;
const pageErrors = [];

async function main() {
  ({ context, profile } = await launch(args.chromium));

  // --- a plain EventSource ---
  const es = await context.newPage();
  es.on('pageerror', (err) => pageErrors.push(`EventSource page: ${err.message}`));
  await es.goto(base + '/');
  const user = 'es-user';
  const created = [];
  await check('a plain EventSource receives notifications', async () => {
    await es.evaluate(async (user) => {
      const res = await fetch('/demo/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ userId: user }) });
      const { token } = await res.json();
      const w = window;
      w.got = [];
      w.opens = 0;
      const src = new EventSource(`/sse?userId=${encodeURIComponent(user)}&token=${encodeURIComponent(token)}`);
      src.onopen = () => w.opens++;
      src.addEventListener('notification:new', (e) => {
        const m = JSON.parse(e.data);
        w.got.push({ id: m.notification.id, seq: m.notification.seq, lastEventId: e.lastEventId });
      });
      w.src = src;
    }, user);
    await until('the stream open', () => es.evaluate(() => window.opens === 1));
    for (let i = 0; i < 3; i++) created.push(await notify(user, `before ${i}`));
    await until('3 notifications', () => es.evaluate(() => window.got.length === 3));
    const got = await es.evaluate(() => window.got);
    for (let i = 0; i < 3; i++) {
      assert(got[i].id === created[i].id, `event ${i} is ${got[i].id}, want ${created[i].id}`);
      assert(got[i].lastEventId === String(created[i].seq), `event ${i} has id ${got[i].lastEventId}, want ${created[i].seq}`);
    }
  });

  await check('EventSource resumes across a SIGKILL restart: nothing lost, nothing twice', async () => {
    // Created right before the kill: streamed or not, they must arrive once.
    for (let i = 0; i < 5; i++) created.push(await notify(user, `racing the kill ${i}`));
    await control('kill');
    await control('start');
    for (let i = 0; i < 3; i++) created.push(await notify(user, `after ${i}`));
    await until(`${created.length} notifications`, () => es.evaluate((n) => window.got.length >= n, created.length), 45000);
    await new Promise((r) => setTimeout(r, 1000));
    const got = await es.evaluate(() => window.got);
    assert(got.length === created.length, `${got.length} notifications, want ${created.length} (a duplicate)`);
    for (let i = 0; i < created.length; i++) assert(got[i].id === created[i].id, `event ${i} is ${got[i].id}, want ${created[i].id} (lost or out of order)`);
    assert((await es.evaluate(() => window.opens)) >= 2, 'the EventSource did not reconnect');
    await es.evaluate(() => window.src.close());
  });

  // --- the demo behind a proxy that strips WebSocket upgrades ---
  await check('the demo behind a proxy that strips Upgrade ends on SSE with toasts and exact unread counts', async () => {
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`demo page: ${err.message}`));
    await page.goto(proxy + '/');
    await page.waitForSelector('#signin:not([hidden])', { timeout: WAIT });
    const demoUser = 'fallback-user';
    await page.fill('#user', demoUser);
    await page.click('#signin-form button[type="submit"]');
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 30000 });
    await page.waitForSelector('body[data-transport="sse"]', { state: 'attached', timeout: WAIT });
    assert((await page.textContent('#transport')).includes('Server-Sent Events'), 'the page does not say SSE');
    const ns = [await notify(demoUser, 'First over SSE'), await notify(demoUser, 'Second over SSE')];
    for (const n of ns) await page.waitForSelector(`.toast[data-id="${n.id}"]`, { timeout: WAIT });
    await page.waitForSelector('#badge[data-count="2"]', { state: 'attached', timeout: WAIT });
    for (const close of await page.$$('.toast-close')) await close.click();
    await page.click(`#inbox li[data-id="${ns[0].id}"] .mark-read`, { timeout: 5000 });
    await page.waitForSelector('#badge[data-count="1"]', { state: 'attached', timeout: WAIT });
    await page.screenshot({ path: path.join(args.artifacts, 'demo-over-sse.png') });
  });

  await check('no script errors on the pages', async () => {
    assert(pageErrors.length === 0, pageErrors.join('; '));
  });
}

await run(main, () => context, () => profile);
