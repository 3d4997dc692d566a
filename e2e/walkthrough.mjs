// walkthrough.mjs drives the design document's Testing walk-through against a
// running Herald with an independent client, the npm ws package:
//
//	node walkthrough.mjs 'ws://HOST:PORT/ws?token=JWT&userId=USER'
//
// It connects and expects `connected` for USER, sends a ping and expects a
// pong, subscribes to `notifications` and expects `subscribed`, then checks
// that a wrong token is closed with 4002 and a missing one with 4001. It prints
// one JSON line, {"ok":…,"checks":[{"name":…,"ok":…,"detail":…}]}, and exits 1
// when any check failed (2 on bad usage).
import WebSocket from 'ws';

const STEP_TIMEOUT_MS = 5000;

// Session is one WebSocket connection whose messages and close are awaited in order.
class Session {
  constructor(url) {
    this.queue = [];
    this.waiters = [];
    this.closed = null; // {code, reason} once closed
    this.opened = new Promise((resolve, reject) => {
      this.ws = new WebSocket(url);
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    this.ws.on('message', (data, isBinary) => {
      let msg;
      try {
        msg = JSON.parse(isBinary ? '' : data.toString('utf8'));
      } catch {
        msg = { unparsable: data.toString('utf8') };
      }
      this.queue.push(msg);
      this.wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.wake();
    });
    this.ws.on('error', () => {}); // reported through open or close
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  // until resolves when check() returns a value other than undefined, and
  // rejects after STEP_TIMEOUT_MS with what.
  until(check, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), STEP_TIMEOUT_MS);
      const poll = () => {
        let v;
        try {
          v = check();
        } catch (err) {
          clearTimeout(timer);
          reject(err);
          return;
        }
        if (v !== undefined) {
          clearTimeout(timer);
          resolve(v);
        } else {
          this.waiters.push(poll);
        }
      };
      poll();
    });
  }

  // next resolves with the next message, failing if the connection closes first.
  next(what) {
    return this.until(() => {
      if (this.queue.length > 0) return this.queue.shift();
      if (this.closed) throw new Error(`closed ${this.closed.code} "${this.closed.reason}" while waiting for ${what}`);
      return undefined;
    }, what);
  }

  // closeCode resolves with the close frame's code and reason.
  closeCode() {
    return this.until(() => this.closed ?? undefined, 'the close');
  }

  send(obj) {
    this.ws.send(JSON.stringify(obj));
  }

  close() {
    this.ws.close(1000);
  }
}

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function expectMessage(msg, fields) {
  for (const [k, want] of Object.entries(fields)) {
    const got = msg[k];
    const ok = want instanceof RegExp ? typeof got === 'string' && want.test(got) : got === want;
    if (!ok) throw new Error(`${k} = ${JSON.stringify(got)} in ${JSON.stringify(msg)}, want ${want}`);
  }
  return JSON.stringify(msg);
}

async function main() {
  if (process.argv.length !== 3) {
    console.error("usage: node walkthrough.mjs 'ws://HOST:PORT/ws?token=JWT&userId=USER'");
    process.exit(2);
  }
  const url = new URL(process.argv[2]);
  const userId = url.searchParams.get('userId');
  if (!url.searchParams.get('token') || !userId) {
    console.error('walkthrough: the URL needs token and userId');
    process.exit(2);
  }

  const checks = [];
  const check = async (name, fn) => {
    try {
      checks.push({ name, ok: true, detail: await fn() });
    } catch (err) {
      checks.push({ name, ok: false, detail: err.message });
    }
  };

  const s = new Session(url.href);
  await check('connected', async () => {
    await s.opened;
    return expectMessage(await s.next('connected'), { type: 'connected', userId, timestamp: ISO_MS });
  });
  await check('ping', async () => {
    s.send({ type: 'ping' });
    return expectMessage(await s.next('pong'), { type: 'pong', timestamp: ISO_MS });
  });
  await check('subscribe', async () => {
    s.send({ type: 'subscribe', channel: 'notifications' });
    return expectMessage(await s.next('subscribed'), { type: 'subscribed', channel: 'notifications', timestamp: ISO_MS });
  });
  s.close();

  const bad = new URL(url.href);
  bad.searchParams.set('token', 'not-a-valid-token');
  await check('bad token closes 4002', async () => {
    const b = new Session(bad.href);
    await b.opened;
    const c = await b.closeCode();
    if (c.code !== 4002) throw new Error(`close ${c.code} "${c.reason}", want 4002`);
    return `${c.code} ${c.reason}`;
  });

  const none = new URL(url.href);
  none.searchParams.delete('token');
  await check('missing token closes 4001', async () => {
    const m = new Session(none.href);
    await m.opened;
    const c = await m.closeCode();
    if (c.code !== 4001) throw new Error(`close ${c.code} "${c.reason}", want 4001`);
    return `${c.code} ${c.reason}`;
  });

  await s.closeCode().catch(() => {});
  const ok = checks.every((c) => c.ok);
  console.log(JSON.stringify({ ok, checks }));
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.log(JSON.stringify({ ok: false, checks: [{ name: 'walkthrough', ok: false, detail: err.message }] }));
  process.exit(1);
});
