// Connector owns one WebSocket at a time to Herald: it authenticates with the
// first message, resumes after the last seq, refreshes the token in-band before
// it expires, and after a loss reconnects with exponential backoff (at once,
// with a fresh token, when the token was refused). Only the tab that leads a
// tab group, or a service that does not share, runs one.
import { backoffDelay } from './backoff.js';
import { Codec, loadCodec } from './codec.js';
import { fetchToken, toMillis } from './token.js';
import { NotificationServiceError, } from './types.js';
// EARLY_FAILURES is how many attempts in a row that end before the greeting
// without a close code (1006) make an auto Connector fall back to SSE: what a
// proxy that refuses WebSocket upgrades looks like to a browser.
const EARLY_FAILURES = 2;
const OPEN = 1;
const AUTH_CLOSES = new Set([4001, 4002, 4003]);
// The error codes that answer a refused in-band refresh.
const AUTH_ERRORS = new Set(['invalid_token', 'user_mismatch', 'missing_credentials']);
export class Connector {
    opts;
    hooks;
    mode = 'retry';
    running = false;
    ws = null;
    // gen changes whenever the current socket is replaced or abandoned; callbacks
    // of an older socket compare it and do nothing.
    gen = 0;
    open_ = false;
    // codec and binary encode what goes on the current socket: MessagePack
    // when it negotiated herald.msgpack, JSON otherwise.
    codec = new Codec(null);
    binary = false;
    sse = false; // connections use SseSocket (forced, or fallen back)
    early = 0; // WebSocket attempts in a row that ended with 1006 before the greeting
    attempt = 0; // reconnection attempts since the last success
    failures = 0; // the backoff exponent
    authRetried = false; // the immediate retry after a refused token is spent
    nextForce = false; // the pending attempt asks for a fresh token
    token = null;
    pendingAuth = null;
    timers = {
        retry: undefined,
        connect: undefined,
        refresh: undefined,
        probe: undefined,
    };
    state = 'disconnected';
    constructor(opts, hooks) {
        this.opts = opts;
        this.hooks = hooks;
    }
    /** isRunning reports whether the Connector is connected or trying to be. */
    get isRunning() {
        return this.running;
    }
    /** start begins connecting, unless it already is; mode applies to later losses. */
    start(mode) {
        this.mode = mode;
        if (this.running)
            return;
        this.running = true;
        this.attempt = 0;
        this.failures = 0;
        this.authRetried = false;
        this.sse = this.opts.transport === 'sse';
        this.early = 0;
        void this.open(false);
    }
    /** stop closes the socket and cancels every timer; the hooks see the disconnect. */
    stop() {
        if (!this.running)
            return;
        this.running = false;
        const wasOpen = this.open_;
        this.abandon(1000, 'Client disconnect');
        this.clear('retry');
        this.setState('disconnected');
        if (wasOpen)
            this.hooks.disconnected({ code: 1000, reason: 'Client disconnect', requested: true });
    }
    /** send writes msg in the socket's encoding on the open socket and reports whether it could. */
    send(msg) {
        const ws = this.ws;
        if (!this.open_ || !ws || ws.readyState !== OPEN)
            return false;
        ws.send(this.codec.encode(msg, this.binary));
        return true;
    }
    /**
     * nudge makes a pending reconnection happen now, as when the browser comes
     * back online: there is no point waiting out the backoff.
     */
    nudge() {
        if (!this.running || this.timers.retry === undefined)
            return;
        this.clear('retry');
        void this.open(this.nextForce);
    }
    /**
     * probe checks that an open socket still carries traffic: it pings and, if
     * nothing comes back within probeTimeoutMs, treats the socket as lost. The
     * browser's offline event, or a sleep, can leave a dead socket open for minutes.
     */
    probe() {
        if (!this.open_ || this.timers.probe !== undefined)
            return;
        const gen = this.gen;
        if (!this.send({ type: 'ping' }))
            return;
        this.timers.probe = setTimeout(() => {
            this.timers.probe = undefined;
            this.lost(gen, 1006, 'No answer to a liveness probe', true);
        }, this.opts.probeTimeoutMs);
    }
    /** transport is what carries the connection now: websocket or sse. */
    get transport() {
        return this.sse ? 'sse' : 'websocket';
    }
    setState(s) {
        if (this.state === s)
            return;
        this.state = s;
        this.hooks.state(s);
    }
    clear(name) {
        const t = this.timers[name];
        if (t !== undefined)
            clearTimeout(t);
        this.timers[name] = undefined;
    }
    // abandon detaches and closes the current socket without reporting anything.
    abandon(code, reason) {
        this.gen++;
        this.clear('connect');
        this.clear('refresh');
        this.clear('probe');
        this.pendingAuth = null;
        this.open_ = false;
        const ws = this.ws;
        this.ws = null;
        if (!ws)
            return;
        // No-ops rather than null: the ws package throws an error event that has no listener.
        ws.onopen = ws.onmessage = ws.onerror = ws.onclose = noop;
        try {
            ws.close(code, reason);
        }
        catch {
            // already closed or never opened: nothing to do
        }
    }
    async open(forceRefresh) {
        const gen = ++this.gen;
        this.setState('connecting');
        let tok;
        try {
            tok = await fetchToken(this.opts.getToken, forceRefresh);
        }
        catch (err) {
            if (gen !== this.gen || !this.running)
                return;
            const e = new NotificationServiceError('authentication_failed', 'Could not get a token', { cause: err });
            this.hooks.error(e);
            this.retry(e, false);
            return;
        }
        if (gen !== this.gen || !this.running)
            return;
        // Server-Sent Events carry JSON only.
        const codec = await loadCodec(this.sse ? 'json' : this.opts.encoding);
        if (gen !== this.gen || !this.running)
            return;
        let ws;
        try {
            const url = withSince(this.opts.url, this.hooks.lastSeq());
            const protocols = codec.protocols;
            const WS = this.sse ? this.opts.SseSocket : this.opts.WebSocket;
            ws = protocols ? new WS(url, protocols) : new WS(url);
            if (protocols)
                ws.binaryType = 'arraybuffer';
        }
        catch (err) {
            const e = new NotificationServiceError('network_error', 'Could not open a WebSocket', { cause: err });
            this.hooks.error(e);
            this.retry(e, false);
            return;
        }
        this.ws = ws;
        this.codec = codec;
        this.binary = false;
        let opened = false;
        this.timers.connect = setTimeout(() => {
            this.timers.connect = undefined;
            this.lost(gen, 1006, 'Timed out connecting', false);
        }, this.opts.connectTimeoutMs);
        // The token goes in the first message, never in the URL, where proxies
        // and browser histories would keep it.
        ws.onopen = () => {
            if (gen !== this.gen)
                return;
            // The server may have declined MessagePack: then both sides speak JSON.
            this.binary = codec.binary(ws.protocol);
            try {
                // The first message is JSON text whatever the encoding: Herald reads
                // it before the connection's encoding applies, and JSON text is valid
                // on every socket. What follows uses the socket's encoding.
                ws.send(codec.encode({ type: 'auth', token: tok.token }, false));
            }
            catch {
                // the close event that follows reports it
            }
        };
        ws.onmessage = (ev) => {
            if (gen !== this.gen)
                return;
            const msg = codec.decode(ev.data);
            if (!msg)
                return;
            this.clear('probe');
            if (!opened) {
                if (msg.type !== 'connected')
                    return;
                opened = true;
                this.connected(msg, tok);
                return;
            }
            this.checkAuthAnswer(msg);
            this.hooks.message(msg);
        };
        ws.onerror = () => {
            // A close event always follows; it carries the code.
        };
        ws.onclose = (ev) => this.lost(gen, ev.code, ev.reason ?? '', opened);
    }
    connected(msg, tok) {
        this.clear('connect');
        this.open_ = true;
        this.early = 0;
        this.attempt = 0;
        this.failures = 0;
        this.authRetried = false;
        this.token = tok;
        this.scheduleRefresh();
        this.setState('connected');
        this.hooks.message(msg);
        this.hooks.connected({
            userId: typeof msg.userId === 'string' ? msg.userId : '',
            timestamp: typeof msg.timestamp === 'string' ? msg.timestamp : new Date().toISOString(),
            unreadCount: typeof msg.unreadCount === 'number' ? msg.unreadCount : 0,
            transport: this.transport,
        });
    }
    // lost handles the end of socket gen: report it and decide what comes next.
    lost(gen, code, reason, wasOpen) {
        if (gen !== this.gen || !this.running)
            return;
        this.abandon(1000, '');
        if (wasOpen)
            this.hooks.disconnected({ code, reason, requested: false });
        if (!wasOpen && code === 1006 && this.opts.transport === 'auto' && !this.sse && ++this.early >= EARLY_FAILURES) {
            this.sse = true;
            this.failures = 0;
        }
        const auth = AUTH_CLOSES.has(code);
        const err = auth
            ? new NotificationServiceError('authentication_failed', reason || 'The server refused the token', { code, reason })
            : new NotificationServiceError('network_error', reason || (wasOpen ? 'Connection lost' : 'Could not connect'), { code, reason });
        // A server going away (1001) or closing normally is no error; the rest are.
        if (!(wasOpen && (code === 1000 || code === 1001)))
            this.hooks.error(err);
        this.retry(err, auth);
    }
    // retry schedules the next attempt, or stops when the mode or the attempt
    // budget says so. A refused token is retried at once with a fresh one, once
    // in a row; after that refusals back off like network errors.
    retry(err, auth) {
        if (!this.running)
            return;
        const immediate = auth && !this.authRetried;
        if (this.mode === 'once' && !immediate) {
            this.finish(err);
            return;
        }
        this.attempt++;
        if (this.attempt > this.opts.maxAttempts) {
            this.finish(new NotificationServiceError(err.type, `Gave up after ${this.opts.maxAttempts} reconnection attempts: ${err.message}`, {
                ...(err.code !== undefined ? { code: err.code } : {}),
                ...(err.reason !== undefined ? { reason: err.reason } : {}),
                cause: err,
            }));
            return;
        }
        let delay = 0;
        if (immediate) {
            this.authRetried = true;
        }
        else {
            this.failures++;
            delay = backoffDelay(this.failures, this.opts.backoff);
        }
        this.nextForce = auth;
        this.setState('reconnecting');
        this.hooks.reconnecting(this.attempt, delay);
        if (!this.running)
            return; // a listener disconnected
        this.timers.retry = setTimeout(() => {
            this.timers.retry = undefined;
            void this.open(this.nextForce);
        }, delay);
    }
    finish(err) {
        this.running = false;
        this.abandon(1000, '');
        this.clear('retry');
        this.setState('disconnected');
        this.hooks.stopped(err);
    }
    // scheduleRefresh arms the in-band refresh refreshMarginMs before the token
    // expires, or at half its remaining life when that is sooner.
    scheduleRefresh() {
        this.clear('refresh');
        const exp = this.token?.expiresAt;
        if (exp === undefined)
            return;
        const left = exp - Date.now();
        const delay = Math.max(0, left - Math.min(this.opts.refreshMarginMs, left / 2));
        this.timers.refresh = setTimeout(() => {
            this.timers.refresh = undefined;
            void this.refresh(false);
        }, delay);
    }
    async refresh(force) {
        const gen = this.gen;
        let tok;
        try {
            tok = await fetchToken(this.opts.getToken, force);
            // A cache may hand back the token that is about to expire.
            if (!force && tok.token === this.token?.token) {
                force = true;
                tok = await fetchToken(this.opts.getToken, true);
            }
        }
        catch (err) {
            if (gen !== this.gen)
                return;
            // The server closes with 4002 at expiry; the reconnection gets a token then.
            this.hooks.error(new NotificationServiceError('authentication_failed', 'Could not refresh the token', { cause: err }));
            return;
        }
        if (gen !== this.gen || !this.open_)
            return;
        this.pendingAuth = { token: tok, forced: force };
        if (!this.send({ type: 'auth', token: tok.token }))
            this.pendingAuth = null;
    }
    // checkAuthAnswer completes an in-band refresh when msg answers it.
    checkAuthAnswer(msg) {
        const p = this.pendingAuth;
        if (!p)
            return;
        if (msg.type === 'authenticated') {
            this.pendingAuth = null;
            const exp = typeof msg.expiresAt === 'string' ? toMillis(msg.expiresAt) : undefined;
            this.token = { token: p.token.token, expiresAt: exp ?? p.token.expiresAt };
            this.scheduleRefresh();
        }
        else if (msg.type === 'error' && typeof msg.code === 'string' && AUTH_ERRORS.has(msg.code)) {
            this.pendingAuth = null;
            if (!p.forced) {
                void this.refresh(true);
            }
            else {
                this.hooks.error(new NotificationServiceError('authentication_failed', 'The server refused the refreshed token'));
            }
        }
    }
}
/** withSince adds ?since=seq to url when seq is positive. */
export function withSince(url, seq) {
    if (!(seq > 0))
        return url;
    const u = new URL(url);
    u.searchParams.set('since', String(seq));
    return u.toString();
}
function noop() { }
