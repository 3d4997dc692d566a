// Test helpers: a real herald binary, built from this repository and run as a
// separate process on a free loopback port with its own SQLite file, and the
// ws package as the WebSocket implementation (Node 20 has no global one).

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WS from 'ws';

import type { WebSocketConstructor, WebSocketLike } from '../src/index.js';

export const SECRET = 'herald-web-test-secret-0123456789abcdef';
export const API_KEY = 'herald-web-test-api-key-0123456789abcdef'; // production wants 32 bytes or more

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

// built is the binary, or the error of the one build attempt, so a broken
// build fails every test with its message instead of being retried by each.
let built: { bin: string } | { err: Error } | undefined;

/** heraldBinary returns HERALD_BIN, or builds cmd/herald once per test file. */
export function heraldBinary(): string {
  if (process.env.HERALD_BIN) return process.env.HERALD_BIN;
  if (!built) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-web-bin-'));
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    const bin = path.join(dir, 'herald');
    try {
      execFileSync('go', ['build', '-o', bin, './cmd/herald'], { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'] });
      built = { bin };
    } catch (err) {
      built = { err: new Error(`building herald failed: ${(err as Error).message}`) };
    }
  }
  if ('err' in built) throw built.err;
  return built.bin;
}

/** freePort returns a loopback TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Herald is one running herald process; restart brings it back on the same port and database. */
export class Herald {
  proc: ChildProcess | null = null;
  log = '';
  readonly dir: string;

  private constructor(
    readonly port: number,
    readonly env: Record<string, string>,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-web-db-'));
  }

  static async start(env: Record<string, string> = {}): Promise<Herald> {
    for (let attempt = 1; ; attempt++) {
      const h = new Herald(await freePort(), env);
      try {
        await h.restart();
        return h;
      } catch (err) {
        await h.close();
        if (attempt === 3 || !h.log.includes('address already in use')) throw err;
      }
    }
  }

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://${this.addr}/ws`;
  }

  /** restart starts the process (again) and waits until it serves /healthz. */
  async restart(): Promise<void> {
    const env = {
      PATH: process.env.PATH ?? '',
      PORT: String(this.port),
      HERALD_HOST: '127.0.0.1',
      HERALD_ENV: 'production',
      JWT_SECRET: SECRET,
      HERALD_API_KEY: API_KEY,
      HERALD_DB_PATH: path.join(this.dir, 'herald.db'),
      HERALD_SHUTDOWN_TIMEOUT: '2s',
      ...this.env,
    };
    const p = spawn(heraldBinary(), [], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = p;
    p.stderr!.setEncoding('utf8');
    p.stderr!.on('data', (s: string) => (this.log += s));
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    const deadline = Date.now() + 20000;
    const listening = `msg="herald listening" addr=${this.addr}`;
    for (;;) {
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`herald exited before serving:\n${this.log}`);
      if (this.log.includes(listening)) {
        try {
          const res = await fetch(`http://${this.addr}/healthz`);
          if (res.status === 200) return;
        } catch {
          // not yet
        }
      }
      if (Date.now() > deadline) throw new Error(`herald did not serve on ${this.addr}:\n${this.log}`);
      await Promise.race([sleep(25), exited]);
    }
  }

  /** stop ends the process with sig (SIGTERM: graceful, 1001 to every socket) and waits for it. */
  async stop(sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(sig);
    await exited;
  }

  async close(): Promise<void> {
    await this.stop('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** api calls the server API with the API key and returns the decoded body, failing unless the status is want. */
  async api(method: string, p: string, body?: unknown, want = 200): Promise<any> {
    const res = await fetch(`http://${this.addr}${p}`, {
      method,
      headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status !== want) throw new Error(`${method} ${p} = ${res.status} ${text}, want ${want}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** notify creates a notification for user and returns it as the API answers. */
  notify(user: string, title: string, extra: Record<string, unknown> = {}): Promise<{ id: string; seq: number }> {
    return this.api('POST', '/api/notifications', { userId: user, type: 'test', title, message: `message of ${title}`, ...extra }, 201);
  }

  /** metric returns one sample of /metrics by its full name (with labels). */
  async metric(name: string): Promise<number | undefined> {
    const text = await (await fetch(`http://${this.addr}/metrics`, { headers: { Authorization: `Bearer ${API_KEY}` } })).text();
    for (const line of text.split('\n')) {
      const i = line.lastIndexOf(' ');
      if (i > 0 && line.slice(0, i) === name) return Number(line.slice(i + 1));
    }
    return undefined;
  }
}

/** sign returns an HS256 JWT for user that expires in ttlSec seconds, signed with secret. */
export function sign(user: string, ttlSec = 300, secret = SECRET): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ userId: user, sub: user, iat: now, exp: now + ttlSec, jti: randomBytes(8).toString('hex') });
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** Frame is one WebSocket message a recorded socket (numbered from 0) sent (out) or received (in). */
export interface Frame {
  socket: number;
  dir: 'in' | 'out';
  binary: boolean;
}

/** Recorder collects what recordingWebSocket's sockets do; every field is optional. */
export interface Recorder {
  /** the sockets, in the order they were opened */
  sockets?: WS[];
  /** every message of every socket, in order */
  frames?: Frame[];
  /** the handshake responses: headers, and the TCP socket the connection runs on */
  upgrades?: IncomingMessage[];
  /** options for the ws package, such as perMessageDeflate */
  options?: WS.ClientOptions;
}

/**
 * recordingWebSocket returns the ws package's WebSocket, recording the URL of
 * every socket it opens (and what rec asks for), so tests can check what went
 * on the wire. The subprotocols the client asks for are passed on.
 */
export function recordingWebSocket(urls: string[], rec: Recorder = {}): WebSocketConstructor {
  let count = 0;
  return class extends WS {
    readonly n = count++;

    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols ?? [], rec.options ?? {});
      urls.push(url);
      rec.sockets?.push(this);
      this.once('upgrade', (res: IncomingMessage) => rec.upgrades?.push(res));
      this.on('message', (_data: unknown, isBinary: boolean) => rec.frames?.push({ socket: this.n, dir: 'in', binary: isBinary }));
    }

    override send(data: any, ...rest: any[]): void {
      rec.frames?.push({ socket: this.n, dir: 'out', binary: typeof data !== 'string' });
      (super.send as (...a: any[]) => void)(data, ...rest);
    }
  } as unknown as WebSocketConstructor;
}

/** Plain ws, for tests that need no recording. */
export const NodeWebSocket = WS as unknown as WebSocketConstructor;
export type { WebSocketLike };

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** until polls cond every 10 ms until it returns true, and fails after timeoutMs with what. */
export async function until(what: string, cond: () => boolean, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
