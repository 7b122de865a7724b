#!/usr/bin/env node
// Real-browser test of pushwire.js (src/hub/pushwire.js, served at GET /pushwire.js):
// falling back from WebSocket to SSE to long-poll, exactly once across all of them and
// across a server restart, and 8 channels over long-poll on one held connection.
//
//   node scripts/browser-fallback.mjs PATH/TO/pushwire
//
// Starts `pushwire serve --data-dir <tmp>` on a free loopback port (stopped by PID with
// SIGKILL, and started again on the same port and directory, so ids and epochs continue).
// Three pages, each in its own browser context, load /pushwire.js with the default
// transports (websocket, sse, longpoll):
//
//   A  as it is                                   → must end on websocket
//   B  window.WebSocket replaced by a failing stub → must fall back to sse
//   C  WebSocket and EventSource both stubbed     → must fall back to longpoll
//
// (the stubs are installed by addInitScript, before any script of the page runs, and
// fail as a blocked network would: error, then close 1006). Each page publishes through
// its client (A over the WebSocket with an ack, B and C by POST); every page must get
// every message exactly once, in id order. A second channel is subscribed while
// connected (A: a subscribe command; B: the stream restarted; C: the poll restarted) and
// unsubscribed again (nothing more arrives on it). The server is killed and started
// again; three messages are published (by POST from outside) before the pages are back,
// and the pages reconnect by themselves (each back on its transport), resume from their
// cursors and go on: ids continue, no message lost or repeated, no reset. Then B's
// WebSocket is unblocked and B's periodic probe moves it to websocket, again without
// loss or repeat. Last, page D subscribes to 8 channels over long-poll (4, then 4 more
// while connected): a publish round-trip on each (POST answered, and the message back
// through the poll) must take under ROUND_TRIP_MS (1 s), which it cannot if each channel
// held one of the browser's 6 connections to the host.
//
// Screenshots: ${ARTIFACTS:-/tmp/pushwire-artifacts}/fallback-{A,B,C,D}.png.
// playwright-core comes from scripts/browser/ (see scripts/browser-test.sh).
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';

const require = createRequire(new URL('./browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const BIN = process.argv[2];
if (!BIN) {
  console.error('usage: node scripts/browser-fallback.mjs PATH/TO/pushwire');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.ARTIFACTS || '/tmp/pushwire-artifacts';
const WAIT_MS = Number(process.env.WAIT_MS || 20000);
const ROUND_TRIP_MS = Number(process.env.ROUND_TRIP_MS || 1000);
const log = (...a) => console.log('[browser-fallback]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  s.on('error', reject);
});

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(join(tmpdir(), 'pushwire-fallback-'));
const tag = randomBytes(4).toString('hex');
const room = `fb-${tag}`;
const side = `fb-${tag}-side`;
let server = null;

async function startServer() {
  server = spawn(BIN, ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log', 'off'],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch { /* not listening yet */ }
    await sleep(100);
  }
  throw new Error('the server did not answer /healthz');
}

async function killServer() {
  const child = server;
  server = null;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

// Installed before the page's scripts: a WebSocket / EventSource that fails as a blocked
// network would. `window.allowWebSocket = true` lets real WebSockets through again.
function blockWebSocket() {
  const Real = window.WebSocket;
  class BlockedWebSocket extends EventTarget {
    constructor(url) {
      super();
      this.url = url;
      this.readyState = 0;
      this.protocol = '';
      this.extensions = '';
      setTimeout(() => {
        this.readyState = 3;
        if (this.onerror) this.onerror(new Event('error'));
        if (this.onclose) this.onclose({ code: 1006, reason: '', wasClean: false });
      }, 20);
    }
    send() { throw new DOMException('not open', 'InvalidStateError'); }
    close() {}
  }
  window.WebSocket = function WebSocket(url, protocols) {
    return window.allowWebSocket ? new Real(url, protocols) : new BlockedWebSocket(url);
  };
}
function blockEventSource() {
  window.EventSource = class BlockedEventSource extends EventTarget {
    constructor(url) {
      super();
      this.url = url;
      this.readyState = 0;
      setTimeout(() => {
        this.readyState = 2;
        if (this.onerror) this.onerror(new Event('error'));
      }, 20);
    }
    close() { this.readyState = 2; }
  };
}

// In the page: a Pushwire that records what it delivers and shows it (for the screenshot).
function setUp({ name, probeInterval }) {
  window.got = {};
  window.statuses = [];
  window.resets = [];
  window.missed = [];
  const pw = new Pushwire(location.origin, { minDelay: 200, maxDelay: 1500, probeInterval, maxProbeInterval: probeInterval });
  window.pw = pw;
  const render = () => {
    const lines = [`page ${name} — transport: ${pw.transport || '(none)'}`,
      `status: ${window.statuses.slice(-8).map((s) => `${s.transport}:${s.state}`).join(' → ')}`];
    for (const [channel, list] of Object.entries(window.got)) {
      lines.push(`#${channel}: ${list.map((m) => `${m.id}:${m.data.from}${m.data.n}@${m.transport}`).join(' ')}`);
    }
    document.body.style.font = '14px/1.5 monospace';
    document.body.style.whiteSpace = 'pre-wrap';
    document.body.textContent = lines.join('\n');
  };
  window.render = render;
  pw.on('status', (s) => { window.statuses.push({ ...s, at: Date.now() }); render(); });
  pw.on('reset', (r) => window.resets.push(r));
  pw.on('missed', (m) => window.missed.push(m));
  window.subs = {};
  window.join = (channel) => {
    window.got[channel] = window.got[channel] || [];
    window.subs[channel] = pw.subscribe(channel, (data, meta) => {
      // The objects published come back as JSON values, or as their JSON text from a hub
      // that keeps every payload as text; the test compares the values.
      let value = data;
      if (typeof data === 'string') {
        try { value = JSON.parse(data); } catch { value = data; }
      }
      window.got[channel].push({ id: meta.id, epoch: meta.epoch, transport: meta.transport, data: value, form: typeof data, at: Date.now() });
      render();
    });
  };
  render();
}

const failures = [];
const expect = (ok, what) => { if (!ok) failures.push(what); };
let browser = null;
const pages = {};

async function openPage(name, { ws = true, es = true, probeInterval = 1500 } = {}) {
  const context = await browser.newContext({ viewport: { width: 900, height: 420 } });
  if (!ws) await context.addInitScript(blockWebSocket);
  if (!es) await context.addInitScript(blockEventSource);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/healthz`);
  const script = await page.evaluate(async () => {
    const r = await fetch('/pushwire.js');
    return { status: r.status, type: r.headers.get('content-type') };
  });
  expect(script.status === 200 && /^text\/javascript/.test(script.type),
    `GET /pushwire.js: ${JSON.stringify(script)}`);
  await page.addScriptTag({ url: '/pushwire.js' });
  await page.evaluate(setUp, { name, probeInterval });
  pages[name] = { name, page, errors };
  return pages[name];
}

async function state(p) {
  return p.page.evaluate(() => ({
    transport: window.pw.transport, got: window.got, statuses: window.statuses,
    resets: window.resets, missed: window.missed,
  }));
}

async function waitFor(p, what, test, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let s;
  while (Date.now() < deadline) {
    s = await state(p);
    if (test(s)) return s;
    await sleep(50);
  }
  throw new Error(`page ${p.name}: timed out waiting for ${what}: transport ${s.transport}, ` +
    `statuses ${JSON.stringify(s.statuses.map((x) => `${x.transport}:${x.state}${x.reason ? ' (' + x.reason + ')' : ''}`))}, ` +
    `got ${JSON.stringify(Object.fromEntries(Object.entries(s.got).map(([c, l]) => [c, l.map((m) => m.id)])))}`);
}

const onTransport = (p, transport) => waitFor(p, `transport ${transport}`, (s) => s.transport === transport);

/** Publishes through page p's client; returns {id, epoch}. */
async function publishFrom(p, channel, data) {
  return p.page.evaluate(([c, d]) => window.pw.publish(c, d), [channel, data]);
}

/** Every page must have exactly `want` (a list of data objects) on `channel`, ids 1.. in order. */
async function checkExactlyOnce(channel, want, firstId, label) {
  for (const p of Object.values(pages).filter((q) => q.name !== 'D')) {
    let s;
    try {
      s = await waitFor(p, `${want.length} messages on #${channel} (${label})`,
        (x) => (x.got[channel] || []).length >= want.length);
    } catch (e) {
      failures.push(e.message);
      continue;
    }
    await sleep(300); // a duplicate would arrive by now
    s = await state(p);
    const list = s.got[channel];
    const ids = list.map((m) => m.id);
    const wantIds = want.map((_, k) => firstId + k);
    expect(JSON.stringify(ids) === JSON.stringify(wantIds),
      `page ${p.name} #${channel} (${label}): ids ${JSON.stringify(ids)}, want ${JSON.stringify(wantIds)}`);
    expect(JSON.stringify(list.map((m) => m.data)) === JSON.stringify(want),
      `page ${p.name} #${channel} (${label}): data ${JSON.stringify(list.map((m) => m.data))}, want ${JSON.stringify(want)}`);
    expect(new Set(list.map((m) => m.epoch)).size === 1, `page ${p.name}: several epochs ${JSON.stringify(list.map((m) => m.epoch))}`);
  }
}

/** One round: each of A, B, C publishes `count` messages, interleaved. */
async function round(label, count, sent) {
  for (let n = 0; n < count; n++) {
    for (const name of ['A', 'B', 'C']) {
      const data = { from: name, n: sent.length, label };
      const ack = await publishFrom(pages[name], room, data);
      expect(ack && ack.id === sent.length + 1, `publish ${JSON.stringify(data)} from ${name}: ${JSON.stringify(ack)}, want id ${sent.length + 1}`);
      sent.push(data);
    }
  }
}

async function screenshot(p) {
  const path = join(ARTIFACTS, `fallback-${p.name}.png`);
  try {
    await p.page.evaluate(() => window.render());
    await p.page.screenshot({ path });
    log(`artifact: ${path}`);
  } catch (e) {
    failures.push(`page ${p.name}: screenshot failed: ${e.message}`);
  }
}

try {
  mkdirSync(ARTIFACTS, { recursive: true });
  await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  log(`chromium ${browser.version()}, server ${base}, channel ${room}`);

  await openPage('A');
  await openPage('B', { ws: false });
  await openPage('C', { ws: false, es: false });
  for (const p of Object.values(pages)) await p.page.evaluate((c) => window.join(c), room);
  const A = await onTransport(pages.A, 'websocket');
  const B = await onTransport(pages.B, 'sse');
  const C = await onTransport(pages.C, 'longpoll');
  expect(A.statuses.every((s) => s.state !== 'fallback'), `A fell back: ${JSON.stringify(A.statuses)}`);
  expect(B.statuses.some((s) => s.state === 'fallback' && s.transport === 'websocket' && s.next === 'sse'),
    `B did not report websocket → sse: ${JSON.stringify(B.statuses)}`);
  expect(C.statuses.some((s) => s.state === 'fallback' && s.transport === 'sse' && s.next === 'longpoll'),
    `C did not report sse → longpoll: ${JSON.stringify(C.statuses)}`);
  log('A on websocket, B fell back to sse, C to longpoll');

  // 1. Everyone talks; everyone hears everything once, in order.
  const sent = [];
  await round('before', 3, sent);
  await checkExactlyOnce(room, sent, 1, 'before the restart');
  const forms = new Set((await state(pages.A)).got[room].map((m) => m.form));
  log(`before the restart: ${sent.length} messages, each page got ids 1..${sent.length} once (data arrived as ${[...forms].join(', ')})`);

  // 2. A channel added and removed while connected, on each transport.
  for (const p of Object.values(pages)) await p.page.evaluate((c) => window.join(c), side);
  await sleep(300);
  const sideSent = [{ from: 'A', n: 0, label: 'side' }, { from: 'C', n: 1, label: 'side' }];
  await publishFrom(pages.A, side, sideSent[0]);
  await publishFrom(pages.C, side, sideSent[1]);
  await checkExactlyOnce(side, sideSent, 1, 'subscribed while connected');
  for (const p of Object.values(pages)) await p.page.evaluate((c) => window.subs[c].unsubscribe(), side);
  await sleep(300);
  await publishFrom(pages.B, side, { from: 'B', n: 2, label: 'after unsubscribe' });
  await round('while unsubscribed elsewhere', 1, sent);
  await checkExactlyOnce(room, sent, 1, 'after the side channel');
  for (const p of Object.values(pages)) {
    const s = await state(p);
    expect(s.got[side].length === 2, `page ${p.name}: ${s.got[side].length} messages on #${side} after unsubscribing, want 2`);
  }
  log('a channel subscribed and unsubscribed while connected on each transport');

  // 3. The server is killed and started again on the same data; the pages come back.
  const opensBefore = {};
  for (const p of Object.values(pages)) opensBefore[p.name] = (await state(p)).statuses.filter((s) => s.state === 'open').length;
  await killServer();
  await sleep(500);
  await startServer();
  // Published before the pages are back: they get these by resuming from their cursors.
  for (let n = 0; n < 3; n++) {
    const data = { from: 'N', n: sent.length, label: 'while reconnecting' };
    const r = await fetch(`${base}/channels/${room}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data),
    });
    expect(r.status === 201, `POST while the pages reconnect: ${r.status}`);
    sent.push(data);
  }
  for (const [name, transport] of [['A', 'websocket'], ['B', 'sse'], ['C', 'longpoll']]) {
    await waitFor(pages[name], `a reconnect on ${transport}`, (s) => s.transport === transport
      && s.statuses.filter((x) => x.state === 'open').length > opensBefore[name]);
  }
  log('after the restart: A on websocket, B on sse, C on longpoll again');
  await round('after', 2, sent);
  await checkExactlyOnce(room, sent, 1, 'after the restart');
  for (const p of Object.values(pages)) {
    const s = await state(p);
    expect(s.resets.length === 0, `page ${p.name}: reset across a restart with a data directory: ${JSON.stringify(s.resets)}`);
    expect(s.missed.length === 0, `page ${p.name}: missed ${JSON.stringify(s.missed)}`);
  }
  log(`after the restart: ${sent.length} messages, each page got ids 1..${sent.length} once`);

  // 4. B's WebSocket works again: its probe moves it to websocket, losing nothing.
  await pages.B.page.evaluate(() => { window.allowWebSocket = true; });
  await onTransport(pages.B, 'websocket');
  await round('after the probe', 1, sent);
  await checkExactlyOnce(room, sent, 1, 'after B moved to websocket');
  const bLast = (await state(pages.B)).got[room].slice(-3).map((m) => m.transport);
  expect(bLast.every((t) => t === 'websocket'), `B's last messages came by ${bLast}, want websocket`);
  log('B probed websocket, moved to it, and missed nothing');

  for (const p of Object.values(pages)) await screenshot(p);

  // 5. Eight channels over long-poll: one held request for all, so publishing is prompt.
  const D = await openPage('D', { ws: false, es: false, probeInterval: 600000 });
  const eight = Array.from({ length: 8 }, (_, k) => `fb-${tag}-eight-${k}`);
  await D.page.evaluate((cs) => cs.slice(0, 4).forEach((c) => window.join(c)), eight);
  await onTransport(D, 'longpoll');
  await D.page.evaluate((cs) => cs.slice(4).forEach((c) => window.join(c)), eight);
  await sleep(500); // the poll is re-sent with all 8, and held
  const trips = await D.page.evaluate(async (cs) => {
    const out = [];
    for (const c of cs) {
      const before = window.got[c].length;
      const t0 = performance.now();
      const ack = await window.pw.publish(c, { from: 'D', n: 0 });
      const acked = performance.now() - t0;
      while (window.got[c].length === before && performance.now() - t0 < 10000) {
        await new Promise((r) => setTimeout(r, 5));
      }
      out.push({ channel: c, id: ack.id, acked: Math.round(acked), delivered: Math.round(performance.now() - t0), got: window.got[c].length });
    }
    return out;
  }, eight);
  for (const t of trips) {
    expect(t.got === 1 && t.id === 1, `page D #${t.channel}: ${JSON.stringify(t)}`);
    expect(t.delivered < ROUND_TRIP_MS, `page D #${t.channel}: publish round-trip ${t.delivered} ms, want under ${ROUND_TRIP_MS} ms`);
  }
  const polls = await D.page.evaluate(() => performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/poll?')).map((e) => new URL(e.name).searchParams.getAll('channel').length));
  expect(polls.length > 0 && Math.max(...polls) === 8, `page D's polls named ${JSON.stringify(polls)} channels, want one of 8`);
  log(`8 channels over long-poll: round-trips (POST acked / message back) ${trips.map((t) => `${t.acked}/${t.delivered}`).join(', ')} ms`);
  await screenshot(D);
} catch (e) {
  failures.push(String(e && e.stack || e));
  for (const p of Object.values(pages)) await screenshot(p);
} finally {
  for (const p of Object.values(pages)) for (const e of p.errors) failures.push(`page ${p.name}: pageerror: ${e}`);
  if (browser) await browser.close().catch(() => {});
  await killServer();
  rmSync(dataDir, { recursive: true, force: true });
}

if (failures.length) {
  for (const f of failures) console.error('[browser-fallback] FAIL:', f);
  process.exit(1);
}
log('ok: websocket, sse and longpoll pages exchanged every message once, in order, across a restart and a probe; 8 channels over one long-poll');
