// e2e.mjs drives the demo page in Debian's Chromium (playwright-core, no
// downloaded browser) against a running herald in development mode:
//
//	node test/e2e.mjs --base http://127.0.0.1:PORT --api-key KEY --artifacts DIR
//
// It checks that two tabs share one socket, that a notification made through
// the API shows as a toast in both, that marking it read in one clears the
// badge in the other, that the indicator follows the server going down and
// coming back and the notifications created meanwhile appear, and that the
// other tab takes the socket over when the leading tab closes. It also
// checks the page's first impression: a neutral indicator before sign-in, a
// toast that leaves once its notification is read, toasts that leave the
// inbox uncovered at phone width, and action links that lead somewhere.
//
// The server is stopped and started by whoever runs the script (the Go test
// cmd/herald/browser_test.go): the script prints {"cmd":"stop"} or
// {"cmd":"start"} on a line of stdout and waits for a line "ok" on stdin. The
// last line of stdout is the result, {"ok":…,"checks":[{"name","ok","detail"}]};
// the exit code is 1 when a check failed. Screenshots go to the artifacts
// directory.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { apiClient, assert, check, control, launch, run, until } from './harness.mjs';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    'api-key': { type: 'string' },
    artifacts: { type: 'string', default: 'test-artifacts' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    user: { type: 'string', default: 'ada' },
  },
});
if (!args.base || !args['api-key']) {
  console.error('usage: node test/e2e.mjs --base URL --api-key KEY [--artifacts DIR] [--chromium PATH]');
  process.exit(2);
}
const base = args.base.replace(/\/$/, '');
const user = args.user;
const WAIT = 15000;
fs.mkdirSync(args.artifacts, { recursive: true });

// --- talking to the server and to the test that controls it ---

const api = apiClient(base, args['api-key']);

function notify(type, title, message, link) {
  return api('POST', '/api/notifications', { userId: user, type, title, message, ...(link ? { link } : {}) }, 201);
}

async function connections() {
  return (await api('GET', '/api/stats')).totalConnections;
}





let shot = 0;
async function screenshot(page, name) {
  shot++;
  await page.screenshot({ path: path.join(args.artifacts, `${String(shot).padStart(2, '0')}-${name}.png`) });
}

const connected = (page) => page.waitForSelector('#status[data-state="connected"]', { timeout: WAIT });
const badge = (page) => page.getAttribute('#badge', 'data-count');
const toast = (page, id) => page.waitForSelector(`.toast[data-id="${id}"]`, { timeout: WAIT });
const toastCount = (page, id) => page.locator(`.toast[data-id="${id}"]`).count();

async function waitBadge(page, n) {
  await page.waitForSelector(`#badge[data-count="${n}"]`, { state: 'attached', timeout: WAIT });
}

let context;
let profile;
const pageErrors = [];

async function main() {
  ({ context, profile } = await launch(args.chromium));
  const open = async (name) => {
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
    await page.goto(base + '/');
    return page;
  };

  let a, b;
  await check('sign in', async () => {
    a = await open('tab A');
    await a.waitForSelector('#signin:not([hidden])', { timeout: WAIT });
    await screenshot(a, 'sign-in');
    // Nothing was lost before sign-in: no red "Disconnected".
    const state = await a.getAttribute('#status', 'data-state');
    const colour = await a.$eval('#status', (el) => getComputedStyle(el).backgroundColor);
    assert(state === 'signed-out' && colour !== 'rgb(239, 68, 68)', `before sign-in the indicator is ${state} in ${colour}`);
    await a.fill('#user', user);
    await a.click('#signin-form button[type="submit"]');
    await connected(a);
    assert((await a.textContent('#who')) === user, 'the page does not show the user');
  });

  await check('two tabs share one socket', async () => {
    b = await open('tab B');
    await connected(b);
    await until('one leader', async () => {
      const roles = [await a.getAttribute('body', 'data-leader'), await b.getAttribute('body', 'data-leader')];
      return roles.sort().join() === 'false,true';
    });
    await until('one connection on the server', async () => (await connections()) === 1);
    await new Promise((r) => setTimeout(r, 500));
    assert((await connections()) === 1, 'a second connection appeared');
  });

  let trip;
  await check('a notification made through the API is a toast in both tabs', async () => {
    trip = await notify('trip_update', 'Trip Started', 'Your driver has started the trip', '/#/trips/123');
    for (const page of [a, b]) {
      const t = await toast(page, trip.id);
      assert((await t.textContent()).includes('Trip Started'), 'the toast lacks its title');
      const action = await t.$('.toast-action');
      assert(action && (await action.textContent()) === 'View Trip', 'the trip toast has no View Trip action');
      assert((await action.getAttribute('href')).endsWith('/#/trips/123'), 'the action does not link to the trip');
      await waitBadge(page, 1);
    }
    await screenshot(a, 'toast-tab-a');
    await screenshot(b, 'toast-tab-b');
  });

  const others = {};
  await check('each type has its action', async () => {
    others.payment = await notify('payment_approved', 'Payment Approved', 'Your payment was approved', '/#/payments/9');
    others.message = await notify('message_received', 'New Message', 'Sam: on my way', '/#/chat/4');
    others.plain = await notify('announcement', 'Maintenance tonight', 'No action needed');
    const want = { payment: 'View Payment', message: 'View Message', plain: null };
    for (const page of [a, b]) {
      for (const [k, label] of Object.entries(want)) {
        const t = await toast(page, others[k].id);
        const action = await t.$('.toast-action');
        assert(label === null ? action === null : action && (await action.textContent()) === label, `${k}: want action ${label}`);
      }
      await waitBadge(page, 4);
      assert((await page.locator('#inbox li').count()) === 4, 'the inbox does not list 4 notifications');
    }
    await screenshot(b, 'all-types');
  });

  await check('marking read in one tab clears it, and its toast, in the other', async () => {
    // Dismiss tab B's toasts first, as a person would: they cover the list's
    // buttons. Tab A keeps its own.
    await b.bringToFront();
    for (const close of await b.$$('.toast-close')) await close.click();
    assert((await b.locator('.toast').count()) === 0, 'a dismissed toast stayed');
    await b.click(`#inbox li[data-id="${trip.id}"] .mark-read`, { timeout: 5000 });
    await waitBadge(a, 3);
    await a.waitForSelector(`#inbox li[data-id="${trip.id}"][data-read="true"]`, { timeout: WAIT });
    await a.waitForSelector(`.toast[data-id="${trip.id}"]`, { state: 'detached', timeout: WAIT });
    await waitBadge(b, 3);
    // A background tab gets no animation frames, which clicks wait for.
    await a.bringToFront();
    await a.click('#read-all');
    await waitBadge(b, 0);
    await waitBadge(a, 0);
    assert(await b.isHidden('#badge'), 'a zero badge is shown');
    assert((await b.locator('#inbox li[data-read="false"]').count()) === 0, 'tab B still lists unread notifications');
    await until('no toast of a read notification in tab A', async () => (await a.locator('.toast').count()) === 0);
    await screenshot(b, 'read-in-other-tab');
  });

  await check('toasts do not cover the inbox at phone width', async () => {
    const phone = await context.newPage();
    phone.on('pageerror', (err) => pageErrors.push(`phone: ${err.message}`));
    await phone.setViewportSize({ width: 375, height: 740 });
    await phone.goto(base + '/');
    await connected(phone);
    const sent = [];
    for (const title of ['On a phone 1', 'On a phone 2', 'On a phone 3']) {
      sent.push(await notify('trip_update', title, 'A toast on a narrow screen', '/#/trips/7'));
    }
    await toast(phone, sent[2].id);
    await phone.waitForSelector(`#inbox li[data-id="${sent[2].id}"]`, { timeout: WAIT });
    const overlap = await phone.evaluate(() => {
      const boxes = (sel) => Array.from(document.querySelectorAll(sel))
        .filter((e) => e.offsetParent !== null).map((e) => e.getBoundingClientRect());
      const hit = (p, q) => p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom;
      const toasts = boxes('.toast');
      const items = boxes('#inbox li, .inbox-head');
      return { toasts: toasts.length, hits: toasts.filter((t) => items.some((i) => hit(t, i))).length };
    });
    await screenshot(phone, 'phone-width');
    assert(overlap.toasts > 0, 'no toast shown at phone width');
    assert(overlap.hits === 0, `${overlap.hits} toasts cover the inbox at phone width`);
    await phone.close();
  });

  await check('action links lead to the page, not a 404', async () => {
    await a.bringToFront();
    // The README's curl links to /trips/123; a trip without a link falls
    // back to the trips list. Neither page exists in the demo.
    const withPath = await notify('trip_update', 'Trip with a path', 'As the README sends it', '/trips/123');
    const bare = await notify('trip_update', 'Trip without a link', 'No link given');
    for (const n of [withPath, bare]) {
      const t = await toast(a, n.id);
      const href = await (await t.$('.toast-action')).getAttribute('href');
      const status = await a.evaluate(async (u) => (await fetch(u)).status, href);
      assert(status === 200 && href.includes('/#/trips'), `${n.title}: the action links to ${href} (${status})`);
    }
    await (await a.$(`.toast[data-id="${withPath.id}"] .toast-action`)).click();
    await a.waitForSelector('#followed:not([hidden]):has-text("/trips/123")', { timeout: WAIT });
    await a.click('#read-all');
    await waitBadge(a, 0);
    await waitBadge(b, 0);
  });

  await check('the test notification button', async () => {
    await a.bringToFront();
    await a.selectOption('#sample-type', 'message_received');
    await a.click('#send');
    for (const page of [a, b]) {
      await page.waitForSelector('.toast[data-type="message_received"] >> text=Are you on your way', { timeout: WAIT });
      await waitBadge(page, 1);
    }
  });

  await check('the indicator turns to disconnected when the server stops', async () => {
    await control('stop');
    for (const page of [a, b]) {
      await page.waitForSelector('#status[data-state="disconnected"]', { timeout: WAIT });
      const label = await page.textContent('#status .status-label');
      assert(label === 'Disconnected', `label ${label}`);
      const colour = await page.$eval('#status', (el) => getComputedStyle(el).backgroundColor);
      assert(colour === 'rgb(239, 68, 68)', `disconnected colour ${colour}, want red-500`);
    }
    await screenshot(a, 'server-down');
  });

  let missed;
  await check('after a restart the indicator turns back and what was missed appears', async () => {
    // The browser is offline while the server comes back and the two are
    // created, so they can only come with the resume; back online, the
    // client reconnects at once instead of waiting out its backoff.
    await context.setOffline(true);
    await control('start');
    missed = [
      await notify('message_received', 'While you were away', 'First one', '/#/chat/1'),
      await notify('announcement', 'Also while away', 'Second one'),
    ];
    await new Promise((r) => setTimeout(r, 1500));
    for (const page of [a, b]) {
      assert((await page.getAttribute('#status', 'data-state')) !== 'connected', 'connected while offline');
    }
    await context.setOffline(false);
    for (const page of [a, b]) {
      await page.waitForSelector('#status[data-state="connected"]', { timeout: 45000 });
      const colour = await page.$eval('#status', (el) => getComputedStyle(el).backgroundColor);
      assert(colour === 'rgb(34, 197, 94)', `connected colour ${colour}, want green-500`);
      for (const n of missed) {
        await toast(page, n.id);
        await page.waitForSelector(`#inbox li[data-id="${n.id}"]`, { timeout: WAIT });
      }
      await waitBadge(page, 3);
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const page of [a, b]) {
      for (const n of missed) {
        assert((await toastCount(page, n.id)) === 1, `notification ${n.id} shown twice`);
        const replayed = await page.getAttribute(`.toast[data-id="${n.id}"]`, 'data-replayed');
        assert(replayed === 'true', `notification ${n.id} did not come with the resume`);
      }
    }
    assert((await connections()) === 1, 'more than one connection after the restart');
    await screenshot(a, 'reconnected');
  });

  await check('the other tab takes the socket over when the leading tab closes', async () => {
    const leader = (await a.getAttribute('body', 'data-leader')) === 'true' ? a : b;
    const follower = leader === a ? b : a;
    await leader.close();
    await follower.waitForSelector('body[data-leader="true"]', { timeout: WAIT });
    await connected(follower);
    await until('one connection on the server', async () => (await connections()) === 1);
    const n = await notify('trip_update', 'Driver arriving', 'Your driver is 2 minutes away', '/#/trips/123');
    await toast(follower, n.id);
    await waitBadge(follower, 4);
    await screenshot(follower, 'after-failover');
  });

  await check('no script errors on the page', async () => {
    assert(pageErrors.length === 0, pageErrors.join('; '));
  });
}

await run(main, () => context, () => profile);
