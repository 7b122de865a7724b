#!/usr/bin/env node
// Real-browser test of the pushwire demo page (src/hub/demo.html, served at GET /).
//
//   node scripts/browser-test.mjs http://127.0.0.1:PORT
//
// The page runs on pushwire.js (GET /pushwire.js), its transport forced by the page's
// select. Three pages in separate browser contexts join the same fresh channel: "alice"
// over WebSocket (desktop viewport), "bob" over long-polling (phone viewport) and "carol"
// over Server-Sent Events (tablet viewport). Each sends one message, and the test also
// publishes one raw-text message with a plain HTTP POST. Every page must show all four
// messages (right sender, right transport tag, same ids on every page, no duplicates)
// within WAIT_MS, with no console errors. Then, if RESTART_SCRIPT is set, the server is
// restarted (a fresh in-memory hub: ids begin again, under a new epoch) while the pages
// stay open, three more messages are published at once, and every page must show all
// three — told by the reset that the stream restarted, not dropping the new #1-#3 as
// "already seen" — and a notice saying so. Screenshots go to
// ${ARTIFACTS:-/tmp/pushwire-artifacts}/browser-{alice,bob,carol}.png.
// playwright-core comes from scripts/browser/ (see scripts/browser-test.sh).
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';

const require = createRequire(new URL('./browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const BASE = (process.argv[2] || '').replace(/\/+$/, '');
const WAIT_MS = Number(process.env.WAIT_MS || 15000);
const ARTIFACTS = process.env.ARTIFACTS || '/tmp/pushwire-artifacts';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const RESTART_SCRIPT = process.env.RESTART_SCRIPT || '';
// While the server is down the browser reports its failed connections on the console;
// those are expected then, and only then.
let restarting = false;
const EXPECTED_WHILE_DOWN = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection to|Failed to load resource|Failed to fetch/;

if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(BASE)) {
  console.error('usage: node scripts/browser-test.mjs http://127.0.0.1:PORT  (loopback only)');
  process.exit(2);
}

const channel = 'ci-' + randomBytes(6).toString('hex');
const tag = randomBytes(3).toString('hex');
const users = [
  { name: 'alice', transport: 'websocket', text: `hello from alice ${tag}`, viewport: { width: 1024, height: 720 } },
  { name: 'bob', transport: 'longpoll', text: `hi alice, bob here ${tag} <b>&amp;</b>`, viewport: { width: 390, height: 844 } },
  { name: 'carol', transport: 'sse', text: `carol on server-sent events ${tag}`, viewport: { width: 768, height: 900 } },
];
const rawText = `plain text via curl ${tag}`;

let browser;
const failures = [];
const log = (...a) => console.log('[browser-test]', ...a);

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
  });
  log(`chromium ${browser.version()}, server ${BASE}, channel ${channel}`);

  for (const u of users) {
    u.context = await browser.newContext({ viewport: u.viewport });
    u.context.setDefaultTimeout(WAIT_MS);
    u.page = await u.context.newPage();
    u.errors = [];
    u.page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (restarting && EXPECTED_WHILE_DOWN.test(m.text())) return;
      u.errors.push(`console: ${m.text()}`);
    });
    u.page.on('pageerror', (e) => u.errors.push(`pageerror: ${e.message}`));
    const res = await u.page.goto(BASE + '/', { waitUntil: 'load' });
    if (!res || res.status() !== 200) throw new Error(`GET / answered ${res && res.status()}`);
    const ctype = res.headers()['content-type'] || '';
    if (!ctype.startsWith('text/html')) throw new Error(`GET / content-type is "${ctype}", want text/html`);
    if (await u.page.getByTestId('join').count() !== 1) {
      throw new Error(`GET / is not the demo page (no [data-testid="join"]); title: "${await u.page.title()}"`);
    }
    await u.page.getByTestId('name').fill(u.name);
    await u.page.getByTestId('channel').fill(channel);
    await u.page.getByTestId('transport').selectOption(u.transport);
    await u.page.getByTestId('join').click();
    await u.page.waitForSelector('[data-testid="status"][data-state="connected"]', { timeout: WAIT_MS })
      .catch(async () => {
        throw new Error(`${u.name}: not connected within ${WAIT_MS} ms; status: "${await statusText(u)}"`);
      });
    log(`${u.name} joined via ${u.transport}: "${await statusText(u)}"`);
  }

  // Chromium offers permessage-deflate on every WebSocket; `pushwire serve` accepts it,
  // memory-light (RFC 7692: no context takeover either way). A message sent over such a
  // socket comes back through the hub.
  const negotiated = await users[0].page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    const opened = await new Promise((resolve) => {
      ws.onopen = () => resolve(true);
      ws.onerror = () => resolve(false);
    });
    if (!opened) return { error: 'did not open' };
    const text = 'compressed? '.repeat(20);
    const back = new Promise((resolve) => { ws.onmessage = (e) => resolve(String(e.data)); });
    ws.send(text);
    const echoed = await Promise.race([back, new Promise((r) => setTimeout(() => r(null), 5000))]);
    ws.close();
    return { extensions: ws.extensions, echoed: echoed !== null && echoed.includes(text.trim()) };
  }, BASE.replace(/^http/, 'ws') + `/channels/${channel}-deflate`);
  const wantExt = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
  if (negotiated.extensions !== wantExt) failures.push(`WebSocket extensions "${negotiated.extensions}", want "${wantExt}" (${JSON.stringify(negotiated)})`);
  else if (!negotiated.echoed) failures.push(`a message over a compressed WebSocket did not come back: ${JSON.stringify(negotiated)}`);
  else log(`permessage-deflate negotiated: ${negotiated.extensions}`);

  // Each user sends one message through the page (alice over the WebSocket, bob and carol
  // by POST).
  for (const u of users) {
    await u.page.getByTestId('message-input').fill(u.text);
    await u.page.getByTestId('send').click();
  }
  // A raw (non-JSON) message from outside the browser, as curl would publish it.
  const post = await fetch(`${BASE}/channels/${channel}`, { method: 'POST', body: rawText });
  if (post.status !== 201) failures.push(`POST /channels/${channel} answered ${post.status}, want 201`);
  else {
    const body = await post.json().catch(() => null);
    if (!body || typeof body.id !== 'number') failures.push(`POST answer ${JSON.stringify(body)} has no numeric "id"`);
  }

  const expected = [
    { from: 'alice', text: users[0].text },
    { from: 'bob', text: users[1].text },
    { from: 'carol', text: users[2].text },
    { from: '?', text: rawText },
  ];
  for (const u of users) {
    try {
      await u.page.waitForFunction((want) => {
        const items = [...document.querySelectorAll('[data-testid="message"]')];
        return want.every((w) => items.some((li) =>
          li.dataset.from === w.from && li.querySelector('[data-testid="message-text"]')?.textContent === w.text));
      }, expected, { timeout: WAIT_MS, polling: 100 });
    } catch {
      failures.push(`${u.name} (${u.transport}): not all messages shown within ${WAIT_MS} ms; shown: ${JSON.stringify(await shown(u))}`);
    }
  }

  // Exact checks on what each page shows.
  const idsBy = {};
  for (const u of users) {
    const items = await shown(u);
    const ids = items.map((i) => i.id);
    if (new Set(ids).size !== ids.length) failures.push(`${u.name}: duplicate ids ${JSON.stringify(ids)}`);
    if (ids.some((id, k) => k > 0 && !(id > ids[k - 1]))) failures.push(`${u.name}: ids not increasing ${JSON.stringify(ids)}`);
    for (const w of expected) {
      const hit = items.find((i) => i.from === w.from && i.text === w.text);
      if (!hit) continue; // already reported above
      if (hit.transport !== u.transport) failures.push(`${u.name}: message from ${w.from} tagged "${hit.transport}", want "${u.transport}"`);
      if (!hit.label) failures.push(`${u.name}: message from ${w.from} shows no transport label`);
      (idsBy[w.text] ||= []).push(hit.id);
    }
    if (items.length !== expected.length) failures.push(`${u.name}: shows ${items.length} messages, want ${expected.length}: ${JSON.stringify(items)}`);
    if (await u.page.locator('#log b').count() !== 0) failures.push(`${u.name}: message text was rendered as HTML`);
    log(`${u.name} shows: ${items.map((i) => `#${i.id} ${i.from} [${i.label}${i.latency ? ' ' + i.latency : ''}]`).join(', ')}`);
  }
  for (const [text, ids] of Object.entries(idsBy)) {
    if (ids.length === users.length && new Set(ids).size !== 1) failures.push(`pages disagree on the id of "${text}": ${ids}`);
  }

  if (RESTART_SCRIPT) await acrossARestart();
}

// The server restarts with a fresh in-memory hub while the pages stay open; messages
// published right after must all reach every page, whose cursors (ids 1-4 of the old
// stream) would otherwise make them skip the new ids 1-3.
async function acrossARestart() {
  restarting = true;
  log('restarting the server');
  execFileSync(RESTART_SCRIPT, { stdio: 'inherit' });
  const after = [1, 2, 3].map((n) => `after the restart ${n} ${tag}`);
  for (const text of after) {
    // Node's pooled keep-alive connection went down with the old server: one retry.
    const publish = () => fetch(`${BASE}/channels/${channel}`, { method: 'POST', body: text });
    const res = await publish().catch(() => publish());
    if (res.status !== 201) failures.push(`POST after the restart answered ${res.status}`);
  }
  for (const u of users) {
    try {
      await u.page.waitForFunction((want) => {
        const texts = [...document.querySelectorAll('[data-testid="message-text"]')].map((t) => t.textContent);
        return want.every((w) => texts.includes(w));
      }, after, { timeout: 4 * WAIT_MS, polling: 100 });
    } catch {
      failures.push(`${u.name} (${u.transport}): after the restart, not every new message was shown; shown: ${JSON.stringify(await shown(u))}`);
      continue;
    }
    const notices = await u.page.$$eval('[data-testid="notice"]', (ns) => ns.map((n) => n.textContent));
    if (!notices.some((n) => n.includes('restarted'))) failures.push(`${u.name}: no notice that the stream restarted: ${JSON.stringify(notices)}`);
    const items = (await shown(u)).filter((i) => after.includes(i.text));
    const ids = items.map((i) => i.id);
    if (JSON.stringify(ids) !== '[1,2,3]') failures.push(`${u.name}: the new stream's ids are ${JSON.stringify(ids)}, want [1,2,3]`);
    log(`${u.name} after the restart shows: ${items.map((i) => `#${i.id} [${i.label}]`).join(', ')}`);
  }
  restarting = false;
}

async function screenshot(u) {
  if (u.shot || !u.page || u.page.isClosed()) return;
  const path = join(ARTIFACTS, `browser-${u.name}.png`);
  try {
    await u.page.screenshot({ path, fullPage: true });
    u.shot = true;
    console.log(`artifact: ${path}`);
  } catch (e) {
    failures.push(`${u.name}: screenshot failed: ${e.message}`);
  }
}

async function statusText(u) {
  return u.page.getByTestId('status').textContent().catch(() => '?');
}

async function shown(u) {
  return u.page.$$eval('[data-testid="message"]', (lis) => lis.map((li) => ({
    id: Number(li.dataset.id),
    from: li.dataset.from,
    transport: li.dataset.transport,
    text: li.querySelector('[data-testid="message-text"]')?.textContent,
    label: li.querySelector('.tag')?.textContent,
    latency: li.querySelector('.latency')?.textContent,
  }))).catch((e) => [`(could not read: ${e.message})`]);
}

let code = 0;
try {
  await main();
} catch (e) {
  failures.push(`error: ${e && e.stack || e}`);
}
for (const u of users) await screenshot(u);
for (const u of users) for (const e of u.errors || []) failures.push(`${u.name}: ${e}`);
try {
  if (browser) await browser.close();
} catch { /* closing is best effort */ }
if (failures.length) {
  console.error(`[browser-test] FAILED (${failures.length}):`);
  for (const f of failures) console.error('  - ' + f);
  code = 1;
} else {
  const restarted = RESTART_SCRIPT ? ', and all 3 published after a server restart' : '';
  console.log(`[browser-test] ok: alice (websocket), bob (longpoll) and carol (sse) each saw all 4 messages${restarted}; no console errors`);
}
process.exit(code);
