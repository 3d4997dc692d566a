// SseSocket carries Herald's protocol over Server-Sent Events for browsers
// and networks where a WebSocket cannot be established: it reads GET /sse
// with fetch (so that the token travels in the Authorization header, not the
// URL) and POSTs what the client sends to /sse/{stream}/messages. It looks
// like a WebSocket to the Connector: the same open, message and close
// events, with the close codes of docs/protocol.md, so that the service's
// API, events and state machine are the same on both transports.
const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;
// closeCodes maps the error codes of a refusal before the stream to the
// close codes a WebSocket would have been closed with.
const closeCodes = {
    missing_credentials: 4001,
    invalid_token: 4002,
    user_mismatch: 4003,
    forbidden: 4004,
    rate_limited: 1013,
    unavailable: 1013,
    too_many_connections: 1013,
};
/** sseSocket returns a WebSocket-like constructor that opens streams on sseUrl. */
export function sseSocket(sseUrl, f) {
    return class extends SseSocket {
        constructor(url) {
            super(url, sseUrl, f);
        }
    };
}
export class SseSocket {
    sseUrl;
    f;
    readyState = CONNECTING;
    protocol = '';
    binaryType = 'blob';
    onopen = null;
    onmessage = null;
    onclose = null;
    onerror = null;
    abort = new AbortController();
    since;
    started = false;
    bearer = '';
    post = '';
    posts = Promise.resolve();
    constructor(url, sseUrl, f) {
        this.sseUrl = sseUrl;
        this.f = f;
        this.since = new URL(url).searchParams.get('since');
        // The stream opens with the token, which the Connector sends as its
        // first message once the socket is open.
        setTimeout(() => {
            if (this.readyState !== CONNECTING)
                return;
            this.readyState = OPEN;
            this.onopen?.({});
        }, 0);
    }
    send(data) {
        if (this.readyState !== OPEN)
            throw new Error('SseSocket is not open');
        if (typeof data !== 'string')
            throw new TypeError('SseSocket carries JSON text only');
        let msg;
        try {
            msg = JSON.parse(data);
        }
        catch {
            return;
        }
        if (msg.type === 'auth' && typeof msg.token === 'string') {
            this.bearer = msg.token;
            if (!this.started) {
                this.started = true;
                void this.stream();
                return;
            }
        }
        if (!this.started)
            return; // nothing can be POSTed before the stream
        // POSTs go one after another, in the order the client sent them.
        this.posts = this.posts.then(() => this.postMessage(data, this.bearer));
    }
    close(code = 1000, reason = '') {
        this.finish(code, reason);
    }
    finish(code, reason) {
        if (this.readyState === CLOSED)
            return;
        this.readyState = CLOSED;
        this.abort.abort();
        this.onclose?.({ code, reason, wasClean: code !== 1006 });
    }
    async stream() {
        const u = new URL(this.sseUrl);
        if (this.since !== null)
            u.searchParams.set('since', this.since);
        let res;
        try {
            res = await this.f(u.toString(), {
                headers: { Authorization: `Bearer ${this.bearer}`, Accept: 'text/event-stream' },
                cache: 'no-store',
                signal: this.abort.signal,
            });
        }
        catch {
            this.finish(1006, '');
            return;
        }
        if (!res.ok || !res.body) {
            let code = res.status === 401 ? 4002 : res.status === 403 ? 4004 : res.status === 429 || res.status === 503 ? 1013 : 1006;
            let reason = '';
            try {
                const body = (await res.json());
                code = closeCodes[body.error?.code ?? ''] ?? code;
                reason = body.error?.message ?? '';
            }
            catch {
                // not JSON: the status decides
            }
            this.finish(code, reason);
            return;
        }
        const parser = new EventStreamParser((event, data) => this.event(event, data));
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        try {
            for (;;) {
                const { value, done } = await reader.read();
                if (done || this.readyState === CLOSED)
                    break;
                parser.push(value);
            }
        }
        catch {
            // aborted, or the connection dropped
        }
        this.finish(1006, '');
    }
    event(event, data) {
        if (this.readyState !== OPEN)
            return;
        if (event === 'close') {
            let code = 4000;
            let reason = '';
            try {
                const c = JSON.parse(data);
                if (typeof c.code === 'number')
                    code = c.code;
                if (typeof c.reason === 'string')
                    reason = c.reason;
            }
            catch {
                // a close without a body: a server error
            }
            this.finish(code, reason);
            return;
        }
        if (!this.post) {
            try {
                const m = JSON.parse(data);
                if (m.type === 'connected' && typeof m.stream === 'string') {
                    const u = new URL(this.sseUrl);
                    u.search = '';
                    u.pathname = `${u.pathname.replace(/\/$/, '')}/${encodeURIComponent(m.stream)}/messages`;
                    this.post = u.toString();
                }
            }
            catch {
                // not JSON: the Connector ignores it too
            }
        }
        this.onmessage?.({ data });
    }
    async postMessage(body, bearer) {
        if (!this.post || this.readyState !== OPEN)
            return;
        try {
            const res = await this.f(this.post, {
                method: 'POST',
                headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' },
                body,
            });
            if (res.status === 202 || this.readyState !== OPEN)
                return;
            // A refused POST is told as the error message a socket would have sent.
            const e = (await res.json().catch(() => ({})));
            this.onmessage?.({ data: JSON.stringify({ type: 'error', code: e.error?.code ?? 'internal', message: e.error?.message ?? `HTTP ${res.status}` }) });
        }
        catch {
            // the stream reports a lost connection
        }
    }
}
/**
 * EventStreamParser splits text/event-stream text, given in chunks, into
 * events (HTML Living Standard, 9.2.6): lines end with CRLF, LF or CR,
 * comments are heartbeats, and an event is dispatched at a blank line when it
 * has data.
 */
export class EventStreamParser {
    dispatch;
    buf = '';
    skipLF = false;
    event = '';
    data = [];
    constructor(dispatch) {
        this.dispatch = dispatch;
    }
    push(chunk) {
        let text = this.buf + chunk;
        if (this.skipLF && text.startsWith('\n'))
            text = text.slice(1);
        this.skipLF = false;
        let start = 0;
        for (let i = 0; i < text.length; i++) {
            const ch = text.charCodeAt(i);
            if (ch !== 10 && ch !== 13)
                continue;
            this.line(text.slice(start, i));
            if (ch === 13) {
                if (i + 1 === text.length)
                    this.skipLF = true;
                else if (text.charCodeAt(i + 1) === 10)
                    i++;
            }
            start = i + 1;
        }
        this.buf = text.slice(start);
    }
    line(line) {
        if (line === '') {
            if (this.data.length > 0)
                this.dispatch(this.event || 'message', this.data.join('\n'));
            this.event = '';
            this.data = [];
            return;
        }
        if (line.startsWith(':'))
            return;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? '' : line.slice(i + 1);
        if (value.startsWith(' '))
            value = value.slice(1);
        if (field === 'event')
            this.event = value;
        else if (field === 'data')
            this.data.push(value);
    }
}
