// The demo page: signs in as a demo user (development mode), connects with the
// client's singleton, and shows the connection indicator, a toast per
// notification with its action, and the inbox with an exact unread badge.
// Every tab of the page shares the one socket the client opens.
import { websocketNotificationService as service, } from '../src/index.js';
const USER_KEY = 'herald-demo-user';
const TOAST_MS = 12000;
// MAX_TOASTS bounds the stack: a burst (a replay after a reconnect) must not
// bury the page; the inbox lists everything anyway.
const MAX_TOASTS = 4;
// ENCODING is JSON unless the address says ?encoding=msgpack: the page then
// speaks MessagePack, to try the compact encoding in a browser.
const ENCODING = new URLSearchParams(location.search).get('encoding') === 'msgpack' ? 'msgpack' : 'json';
// TRANSPORT is auto (WebSocket, falling back to Server-Sent Events) unless
// the address says ?transport=sse or ?transport=websocket.
const TRANSPORT_PARAM = new URLSearchParams(location.search).get('transport');
const TRANSPORT = TRANSPORT_PARAM === 'sse' || TRANSPORT_PARAM === 'websocket' ? TRANSPORT_PARAM : 'auto';
const $ = (id) => document.getElementById(id);
let session = null;
async function demoToken(user, forceRefresh) {
    if (!forceRefresh && session && session.expiresAt - Date.now() > 60_000)
        return session;
    const res = await fetch('/demo/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ userId: user }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok)
        throw new Error(body?.error?.message ?? `sign-in failed (${res.status})`);
    session = { token: body.token, expiresAt: Date.parse(body.expiresAt) };
    return session;
}
let retryAt = 0;
let retryTimer;
// light maps the client's state to the document's three colours: a socket
// opening is yellow; waiting to retry after a loss is red, with a countdown.
function light(state) {
    if (state === 'connected')
        return 'connected';
    if (state === 'connecting')
        return 'connecting';
    return 'disconnected';
}
function renderStatus(state) {
    const el = $('status');
    const l = light(state);
    el.dataset.state = l;
    el.querySelector('.status-label').textContent =
        l === 'connected' ? 'Connected' : l === 'connecting' ? 'Connecting…' : 'Disconnected';
    clearInterval(retryTimer);
    const detail = el.querySelector('.status-detail');
    detail.textContent = '';
    if (state === 'reconnecting' && retryAt > Date.now()) {
        const tick = () => {
            const s = Math.ceil((retryAt - Date.now()) / 1000);
            detail.textContent = s > 0 ? `· retrying in ${s} s` : '';
        };
        tick();
        retryTimer = setInterval(tick, 500);
    }
}
// --- toasts ---
// The design document's toast per notification type: an action for three
// types, a plain toast for the rest.
const ACTIONS = {
    trip_update: { label: 'View Trip', fallback: '/trips', variant: 'info' },
    payment_approved: { label: 'View Payment', fallback: '/payments', variant: 'success' },
    message_received: { label: 'View Message', fallback: '/chat', variant: 'info' },
};
function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls)
        e.className = cls;
    if (text !== undefined)
        e.textContent = text;
    return e;
}
// safeHref keeps links on http(s) or the page's own paths: a notification's
// link comes from a backend and must not run script.
function safeHref(link) {
    try {
        const u = new URL(link, location.href);
        return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    }
    catch {
        return null;
    }
}
function toast(n) {
    const action = ACTIONS[n.type];
    const t = el('div', `toast toast--${action?.variant ?? 'info'}`);
    t.setAttribute('role', 'status');
    if (n.id)
        t.dataset.id = n.id;
    t.dataset.type = n.type;
    // Replayed: it was created while this page was away and came with the resume.
    if (n.replayed)
        t.dataset.replayed = 'true';
    t.append(el('p', 'toast-title', n.title));
    if (n.message)
        t.append(el('p', 'toast-msg', n.message));
    if (action) {
        const href = safeHref(n.link || action.fallback);
        if (href) {
            const a = el('a', 'toast-action', action.label);
            a.href = href;
            t.append(a);
        }
    }
    const close = el('button', 'toast-close small', '×');
    close.type = 'button';
    close.setAttribute('aria-label', `Dismiss “${n.title}”`);
    close.addEventListener('click', () => t.remove());
    t.append(close);
    const stack = $('toasts');
    stack.append(t);
    while (stack.children.length > MAX_TOASTS)
        stack.firstElementChild.remove();
    // Keep a toast while the pointer or focus is on it.
    let timer = setTimeout(() => t.remove(), TOAST_MS);
    const hold = () => clearTimeout(timer);
    const release = () => (timer = setTimeout(() => t.remove(), TOAST_MS / 2));
    t.addEventListener('mouseenter', hold);
    t.addEventListener('focusin', hold);
    t.addEventListener('mouseleave', release);
    t.addEventListener('focusout', release);
}
// --- the inbox ---
function renderBadge(count) {
    const b = $('badge');
    b.dataset.count = String(count);
    b.textContent = String(count);
    b.hidden = count === 0;
    b.setAttribute('aria-label', `${count} unread`);
    document.title = count > 0 ? `(${count}) Herald demo` : 'Herald demo';
}
function renderInbox(list) {
    const ul = $('inbox');
    $('empty').hidden = list.length > 0;
    ul.replaceChildren(...list.map((n) => {
        const li = el('li', 'item');
        li.dataset.id = n.id;
        li.dataset.read = String(n.read);
        li.dataset.type = n.type;
        li.append(el('p', 'item-title', n.title));
        if (n.message)
            li.append(el('p', 'item-msg', n.message));
        const when = new Date(n.timestamp);
        const meta = el('span', 'item-meta', `${n.type} · ${isNaN(when.getTime()) ? '' : when.toLocaleTimeString()}${n.read ? ' · read' : ''}`);
        li.append(meta);
        const actions = el('div', 'item-actions');
        const href = n.link ? safeHref(n.link) : null;
        if (href) {
            const a = el('a', '', ACTIONS[n.type]?.label ?? 'Open');
            a.href = href;
            actions.append(a);
        }
        if (!n.read) {
            const btn = el('button', 'small mark-read', 'Mark read');
            btn.type = 'button';
            btn.setAttribute('aria-label', `Mark “${n.title}” read`);
            btn.addEventListener('click', () => {
                btn.disabled = true;
                service.markRead(n.id).catch((err) => {
                    btn.disabled = false;
                    console.error('mark read failed', err);
                });
            });
            actions.append(btn);
        }
        li.append(actions);
        return li;
    }));
}
// Links of the samples are fragments (#/trips/123): say where the app would go.
function showFollowed() {
    const p = $('followed');
    const target = location.hash.startsWith('#/') ? location.hash.slice(1) : '';
    p.hidden = !target;
    p.textContent = target ? `You followed a notification's link to ${target}; an application would show that page here.` : '';
}
// --- start ---
function start(user, devMode) {
    $('signin').hidden = true;
    $('app').hidden = false;
    $('who').textContent = user;
    $('sender').hidden = !devMode;
    service.configure({
        getToken: ({ forceRefresh }) => demoToken(user, forceRefresh),
        encoding: ENCODING,
        transport: TRANSPORT,
        // Tabs signed in as another user must not share this user's socket, nor
        // tabs that asked for another encoding.
        shareKey: ENCODING === 'json' ? `demo:${user}` : `demo:${user}:${ENCODING}`,
    });
    document.body.dataset.encoding = ENCODING;
    $('encoding').hidden = ENCODING !== 'msgpack';
    service.on('state', renderStatus);
    service.on('reconnecting', (attempt, delayMs) => {
        retryAt = Date.now() + delayMs;
        renderStatus(service.getConnectionState());
        console.info(`Reconnecting... Attempt ${attempt}`);
    });
    service.on('message', toast);
    service.on('unread_count', renderBadge);
    service.on('inbox', renderInbox);
    service.on('leader', (leads) => {
        $('role').textContent = leads ? '· this tab holds the connection' : '· sharing another tab’s connection';
        document.body.dataset.leader = String(leads);
    });
    service.on('connected', (info) => {
        // Which transport carries the connection: the WebSocket, or SSE after a fallback.
        const via = info.transport ?? 'websocket';
        document.body.dataset.transport = via;
        $('transport').textContent = via === 'sse' ? '· via Server-Sent Events' : '· via WebSocket';
        if (!service.isLeader()) {
            $('role').textContent = '· sharing another tab’s connection';
            document.body.dataset.leader = 'false';
        }
        // History (and read state changed elsewhere) after every (re)connect.
        service.loadNotifications({ limit: 50 }).catch((err) => console.error('loading the inbox failed', err));
    });
    service.on('error', (err) => console.warn(`notification service: ${err.type}: ${err.message}`));
    renderStatus(service.getConnectionState());
    service.connectWithRetry().catch((err) => console.error('gave up connecting', err));
    $('send').addEventListener('click', async () => {
        const btn = $('send');
        btn.disabled = true;
        try {
            const { token } = await demoToken(user, false);
            const res = await fetch('/demo/notify', {
                method: 'POST',
                headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
                body: JSON.stringify({ type: $('sample-type').value }),
            });
            if (!res.ok)
                console.error('sending a test notification failed', res.status, await res.text());
        }
        finally {
            btn.disabled = false;
        }
    });
    $('read-all').addEventListener('click', () => {
        service.markAllRead().catch((err) => console.error('mark all read failed', err));
    });
    $('signout').addEventListener('click', () => {
        localStorage.removeItem(USER_KEY);
        service.disconnect();
        location.reload();
    });
}
async function main() {
    let devMode = false;
    try {
        devMode = (await (await fetch('/demo/config')).json()).devMode === true;
    }
    catch {
        // an older server: no demo routes
    }
    // Signing in or out in one tab does the same in the others.
    window.addEventListener('storage', (ev) => {
        if (ev.key === USER_KEY)
            location.reload();
    });
    window.addEventListener('hashchange', showFollowed);
    showFollowed();
    const user = localStorage.getItem(USER_KEY);
    if (user && devMode) {
        start(user, devMode);
        return;
    }
    renderStatus('disconnected');
    if (!devMode) {
        $('production').hidden = false;
        return;
    }
    $('signin').hidden = false;
    $('signin-form').addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const id = $('user').value.trim();
        const errEl = $('signin-error');
        try {
            await demoToken(id, true);
        }
        catch (err) {
            errEl.textContent = err instanceof Error ? err.message : String(err);
            errEl.hidden = false;
            return;
        }
        errEl.hidden = true;
        localStorage.setItem(USER_KEY, id);
        start(id, devMode);
    });
}
void main();
