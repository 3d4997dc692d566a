// harness.mjs is what the browser scripts (e2e.mjs, sse-e2e.mjs) share: the
// server API, polling, the stdin/stdout protocol with the Go test that
// controls the server, named checks, and the final result line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import { chromium } from 'playwright-core';

/** api calls the server API at base with the API key and returns the decoded body. */
export function apiClient(base, apiKey) {
  return async function api(method, p, body, want = 200) {
    const res = await fetch(base + p, {
      method,
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status !== want) throw new Error(`${method} ${p} = ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
}

/** until polls fn until it returns a truthy value, failing after ms with what. */
export async function until(what, fn, ms = 15000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** control asks the controlling test to act on the server ({"cmd":cmd}) and waits for its "ok". */
export async function control(cmd) {
  process.stdout.write(JSON.stringify({ cmd }) + '\n');
  const { value, done } = await lines.next();
  if (done || value.trim() !== 'ok') throw new Error(`the controller answered ${JSON.stringify(value)} to ${cmd}`);
}

export const checks = [];

/** check runs fn as the check name, records its outcome and rethrows a failure. */
export async function check(name, fn) {
  const start = Date.now();
  try {
    await fn();
    checks.push({ name, ok: true });
    console.error(`ok   ${name} (${Date.now() - start} ms)`);
  } catch (err) {
    checks.push({ name, ok: false, detail: err.message });
    console.error(`FAIL ${name}: ${err.message}`);
    throw err;
  }
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/**
 * run runs main within an overall timeout, then closes what close returns
 * (the browser context), removes profile and prints the result line; the exit
 * code is 1 when a check failed.
 */
export async function run(main, close, profile) {
  // profile is a function: the directory is known only once main has launched.
  let ok = false;
  const finish = async () => {
    clearTimeout(timer);
    try {
      await close()?.close();
    } catch {
      // the browser is gone already
    }
    const dir = profile();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    process.stdout.write(JSON.stringify({ ok: ok && checks.every((c) => c.ok), checks }) + '\n');
    process.exit(ok ? 0 : 1);
  };
  const timer = setTimeout(() => {
    console.error('overall timeout');
    void finish();
  }, 170000);
  try {
    await main();
    ok = true;
  } catch {
    // recorded in checks
  }
  await finish();
}

/**
 * launch starts Debian's Chromium at chromiumPath, headless, in a fresh
 * profile, with background tabs not throttled (several tabs are live at once),
 * and returns the browser context and the profile directory.
 */
export async function launch(chromiumPath) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1000, height: 720 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
    ],
  });
  return { context, profile };
}
