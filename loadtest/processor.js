'use strict';

// Functions for websocket-load-test.yml. Artillery's websocket engine opens
// the socket; these sign each virtual user's token and run the protocol's
// request/answer steps, ignoring whatever else the server pushes meanwhile
// (the connected greeting, unread counts), which the engine's own
// match-the-next-message steps cannot do reliably.

const crypto = require('node:crypto');

// signToken returns an HS256 connection token for userId, the one
// `herald token --user` prints: the userId and sub claims, iat, exp, jti.
function signToken(userId, secret, ttlSeconds) {
  const now = Math.floor(Date.now() / 1000);
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const unsigned = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({
    userId,
    sub: userId,
    iat: now,
    exp: now + ttlSeconds,
    jti: crypto.randomUUID()
  })}`;
  const sig = crypto.createHmac('sha256', secret).update(unsigned).digest('base64url');
  return `${unsigned}.${sig}`;
}

// connectWithToken is the scenario's connect function: it picks the virtual
// user's id (one of `users` ids when that variable is set, so several
// sockets share a user; otherwise a fresh one) and points the socket at
// /ws?token=…&userId=… on the target.
function connectWithToken(wsArgs, context, next) {
  const secret = process.env.JWT_SECRET;
  if (!secret) {
    return next(new Error('JWT_SECRET is not set: export the secret herald runs with'));
  }
  const users = Number(context.vars.users) || 0;
  const userId = users > 0 ? `load-${crypto.randomInt(users)}` : `load-${crypto.randomUUID()}`;
  const ttl = Number(context.vars.tokenTtl) || 3600;
  const url = new URL('/ws', wsArgs.target);
  url.searchParams.set('token', signToken(userId, secret, ttl));
  url.searchParams.set('userId', userId);
  context.vars.userId = userId;
  wsArgs.target = url.toString();
  return next();
}

// exchange sends message and resolves when a message of type answer comes
// back, recording the round trip as the histogram herald.<name>_ms and the
// counter herald.<name>. An error message, a close or the timeout rejects,
// which Artillery counts under errors.<message> and as a failed user.
function exchange(context, events, message, answer, name) {
  const ws = context.ws;
  const timeoutMs = (Number(context.vars.answerTimeout) || 10) * 1000;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const done = (err) => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      ws.off('close', onClose);
      if (err) {
        reject(err);
        return;
      }
      events.emit('counter', `herald.${name}`, 1);
      events.emit('histogram', `herald.${name}_ms`, Number(process.hrtime.bigint() - started) / 1e6);
      resolve();
    };
    const onMessage = (data) => {
      let m;
      try {
        m = JSON.parse(data.toString());
      } catch {
        return; // not JSON: not an answer to a JSON request
      }
      if (m.type === 'error') {
        done(new Error(`herald error ${m.code}: ${m.message}`));
      } else if (m.type === answer) {
        done();
      }
    };
    const onClose = (code, reason) => done(new Error(`closed ${code} ${reason}`));
    const timer = setTimeout(() => done(new Error(`no ${answer} within ${timeoutMs} ms`)), timeoutMs);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    if (ws.readyState !== ws.OPEN) {
      // The server is closing the socket (a refused token closes it right
      // after the upgrade): report its close code, which onClose will.
      if (ws.readyState === ws.CLOSED) {
        done(new Error(`closed before ${name}`));
      }
      return;
    }
    events.emit('counter', 'websocket.messages_sent', 1);
    ws.send(JSON.stringify(message), (err) => err && done(err));
  });
}

// subscribe joins the channel named by the variable `channel`.
async function subscribe(context, events) {
  await exchange(context, events, { type: 'subscribe', channel: context.vars.channel }, 'subscribed', 'subscribed');
}

// ping sends a protocol ping and waits for its pong.
async function ping(context, events) {
  await exchange(context, events, { type: 'ping' }, 'pong', 'pong');
}

module.exports = { connectWithToken, subscribe, ping, signToken };
