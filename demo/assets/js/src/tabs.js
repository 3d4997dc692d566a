// TabGroup lets the tabs of an origin share one socket: the tab holding a Web
// Lock leads and owns the socket; the others follow over a BroadcastChannel.
// When the leader's tab closes, the browser releases its lock and the next
// waiting tab is granted it, so a follower takes over without any timeout.
export class TabGroup {
    name;
    locks;
    BC;
    hooks;
    /** id tells this tab's messages apart from the others'. */
    id = randomId();
    channel = null;
    abort = null;
    release = null;
    left = false;
    constructor(name, locks, BC, hooks) {
        this.name = name;
        this.locks = locks;
        this.BC = BC;
        this.hooks = hooks;
    }
    get isLeader() {
        return this.release !== null;
    }
    /** join opens the channel and queues for the lock. */
    join() {
        this.channel = new this.BC(this.name);
        this.channel.onmessage = (ev) => {
            const m = ev.data;
            if (!this.left && m && typeof m === 'object' && m.from !== this.id)
                this.hooks.message(m);
        };
        this.abort = new AbortController();
        this.locks
            .request(this.name, { signal: this.abort.signal }, () => {
            if (this.left)
                return Promise.resolve();
            // Held until leave resolves it, or until the tab goes away.
            return new Promise((resolve) => {
                this.release = resolve;
                this.hooks.lead();
            });
        })
            .catch(() => {
            // AbortError: the tab left before it was granted the lock.
        });
    }
    post(kind, body = {}) {
        this.channel?.postMessage({ ...body, from: this.id, kind });
    }
    /** leave gives up the lock (a follower takes over) and closes the channel. */
    leave() {
        this.left = true;
        this.abort?.abort();
        this.abort = null;
        const release = this.release;
        this.release = null;
        release?.();
        this.channel?.close();
        this.channel = null;
    }
}
function randomId() {
    const c = globalThis.crypto;
    if (c?.randomUUID)
        return c.randomUUID();
    return Math.random().toString(36).slice(2) + Date.now().toString(36);
}
