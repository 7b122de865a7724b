#!/usr/bin/env node
// Real-browser test of pushwire's Origin check and CORS, from a page of another origin.
//
//   node scripts/browser-cors.mjs PAGE_URL ALLOWED_URL REFUSING_URL
//
// PAGE_URL is any page on a second loopback origin (the script's page server);
// ALLOWED_URL is `pushwire serve --allow-origin <PAGE_URL's origin>`, REFUSING_URL a
// `pushwire serve` with the default policy (its own origin only). From that page, with the
// browser's own fetch and WebSocket:
//   - against ALLOWED: a simple POST and a preflighted one (JSON, so Chromium sends
//     OPTIONS first) are published and their answers readable; a long-poll reads them
//     back; a WebSocket subscription receives a message published meanwhile.
//   - against REFUSING: the same POSTs fail in the page (no CORS answer) and publish
//     nothing (checked from outside the browser); a WebSocket is refused (403) and never
//     opens.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';

const require = createRequire(new URL('./browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [PAGE, ALLOWED, REFUSING] = process.argv.slice(2).map((u) => (u || '').replace(/\/+$/, ''));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = Number(process.env.WAIT_MS || 15000);
const loopback = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/.*)?$/;
if (![PAGE, ALLOWED, REFUSING].every((u) => loopback.test(u))) {
  console.error('usage: node scripts/browser-cors.mjs PAGE_URL ALLOWED_URL REFUSING_URL  (loopback only)');
  process.exit(2);
}

const log = (...a) => console.log('[browser-cors]', ...a);
const failures = [];
const expect = (ok, what) => { if (!ok) failures.push(what); };
const channel = 'cors-' + randomBytes(6).toString('hex');

/// Runs in the page: what the browser lets the page do against `base`.
async function tryFromPage({ base, channel, waitMs }) {
  const out = {};
  const attempt = async (name, f) => {
    try { out[name] = await f(); } catch (e) { out[name] = { error: String(e) }; }
  };
  await attempt('simplePost', async () => {
    const r = await fetch(`${base}/channels/${channel}`, { method: 'POST', body: 'simple from the page' });
    return { status: r.status, body: await r.json() };
  });
  await attempt('preflightedPost', async () => {
    const r = await fetch(`${base}/channels/${channel}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"json":"from the page"}',
    });
    return { status: r.status, body: await r.json() };
  });
  await attempt('poll', async () => {
    const r = await fetch(`${base}/channels/${channel}?since=0&timeout=0`);
    return { status: r.status, body: r.status === 200 ? await r.json() : null };
  });
  await attempt('websocket', () => new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/channels/${channel}`, ['pushwire']);
    const timer = setTimeout(() => { ws.close(); resolve({ timeout: true }); }, waitMs);
    ws.onopen = async () => {
      // Published by the page once the subscription is open (the simple POST path).
      await fetch(`${base}/channels/${channel}`, { method: 'POST', body: 'to the socket' }).catch(() => {});
    };
    ws.onmessage = (m) => {
      const frame = JSON.parse(m.data);
      if (frame.data === 'to the socket') { clearTimeout(timer); ws.close(); resolve({ received: frame, protocol: ws.protocol }); }
    };
    ws.onerror = () => { clearTimeout(timer); resolve({ refused: true }); };
  }));
  return out;
}

/// What the channel holds, asked from outside the browser (no Origin).
async function retained(base) {
  const r = await fetch(`${base}/channels/${channel}?since=0&timeout=0`);
  if (r.status === 204) return [];
  return (await r.json()).messages.map((m) => m.data);
}

let browser;
async function main() {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
  });
  const page = await (await browser.newContext()).newPage();
  const res = await page.goto(PAGE, { waitUntil: 'load' });
  if (!res || res.status() !== 200) throw new Error(`page ${PAGE} answered ${res && res.status()}`);
  log(`chromium ${browser.version()}, page origin ${new URL(PAGE).origin}, channel ${channel}`);

  const allowed = await page.evaluate(tryFromPage, { base: ALLOWED, channel, waitMs: WAIT_MS });
  log('allowed server:', JSON.stringify(allowed));
  expect(allowed.simplePost?.status === 201 && typeof allowed.simplePost.body?.id === 'number',
    `allowed: simple POST not published and readable: ${JSON.stringify(allowed.simplePost)}`);
  expect(allowed.preflightedPost?.status === 201 && typeof allowed.preflightedPost.body?.id === 'number',
    `allowed: preflighted POST not published and readable: ${JSON.stringify(allowed.preflightedPost)}`);
  const polled = allowed.poll?.body?.messages?.map((m) => m.data) || [];
  // The preflighted POST is `Content-Type: application/json`: a JSON payload, delivered as
  // that value, not as a string.
  const jsonDelivered = polled.some((d) => d !== null && typeof d === 'object' && d.json === 'from the page');
  expect(allowed.poll?.status === 200 && polled.includes('simple from the page') && jsonDelivered,
    `allowed: the poll did not read both messages: ${JSON.stringify(allowed.poll)}`);
  expect(allowed.websocket?.received?.data === 'to the socket' && allowed.websocket.protocol === 'pushwire',
    `allowed: the WebSocket did not receive the message (with protocol pushwire): ${JSON.stringify(allowed.websocket)}`);

  const refused = await page.evaluate(tryFromPage, { base: REFUSING, channel, waitMs: WAIT_MS });
  log('refusing server:', JSON.stringify(refused));
  expect(refused.simplePost?.error, `refusing: the simple POST was readable: ${JSON.stringify(refused.simplePost)}`);
  expect(refused.preflightedPost?.error, `refusing: the preflighted POST was readable: ${JSON.stringify(refused.preflightedPost)}`);
  expect(refused.poll?.error, `refusing: the poll was readable: ${JSON.stringify(refused.poll)}`);
  expect(refused.websocket?.refused, `refusing: the WebSocket was not refused: ${JSON.stringify(refused.websocket)}`);
  const left = await retained(REFUSING);
  expect(left.length === 0, `refusing: the page published ${JSON.stringify(left)} (a 403 must publish nothing)`);
}

main()
  .catch((e) => failures.push(`error: ${e && e.stack || e}`))
  .finally(async () => {
    if (browser) await browser.close().catch(() => {});
    if (failures.length) {
      for (const f of failures) console.error('[browser-cors] FAIL:', f);
      process.exit(1);
    }
    log('ok: the allowed origin published, preflighted, polled and subscribed; the other was refused and published nothing');
  });
