#!/usr/bin/env node
// Real-browser test of Server-Sent Events: Chromium's own EventSource against
// `pushwire serve`, across a server restart.
//
//   node scripts/browser-sse.mjs PATH/TO/pushwire
//
// Starts `pushwire serve --data-dir <tmp> --sse-retry 0.5` on a free loopback port (it
// stops it by PID, and starts it again on the same port and directory, so ids and the
// epoch continue). A page of that origin opens `new EventSource('/channels/<c>?since=0')`;
// two messages are published, the server is stopped (its streams end) and started again,
// two more are published while the browser is reconnecting. The browser reconnects by
// itself (after `retry:`) with `Last-Event-ID`, and the page must have shown 1, 2, 3, 4 —
// each once, in order — with one `subscribed` event per connection and no reset.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';

const require = createRequire(new URL('./browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const BIN = process.argv[2];
if (!BIN) {
  console.error('usage: node scripts/browser-sse.mjs PATH/TO/pushwire');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.ARTIFACTS || '/tmp/pushwire-artifacts';
const WAIT_MS = Number(process.env.WAIT_MS || 15000);
const log = (...a) => console.log('[browser-sse]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  s.on('error', reject);
});

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(join(tmpdir(), 'pushwire-sse-'));
const channel = 'sse-' + randomBytes(6).toString('hex');
let server = null;

async function startServer() {
  server = spawn(BIN, ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir,
    '--sse-retry', '0.5', '--log', 'off'], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch { /* not listening yet */ }
    await sleep(100);
  }
  throw new Error('the server did not answer /healthz');
}

async function stopServer() {
  const child = server;
  server = null;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function publish(text) {
  const r = await fetch(`${base}/channels/${channel}`, { method: 'POST', body: text });
  if (r.status !== 201) throw new Error(`publish ${text}: ${r.status}`);
  return r.json();
}

const failures = [];
const expect = (ok, what) => { if (!ok) failures.push(what); };
let browser = null;
try {
  await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const page = await browser.newPage();
  await page.goto(`${base}/healthz`);
  await page.evaluate((channel) => {
    window.got = [];
    window.kinds = [];
    window.opens = 0;
    const source = new EventSource(`/channels/${channel}?since=0`);
    source.onopen = () => { window.opens += 1; };
    source.onmessage = (e) => {
      const m = JSON.parse(e.data);
      window.got.push({ id: m.id, data: m.data, lastEventId: e.lastEventId });
      document.body.textContent = window.got.map((g) => `#${g.id} ${g.data}`).join(' | ');
    };
    for (const kind of ['subscribed', 'reset', 'missed']) {
      source.addEventListener(kind, (e) => window.kinds.push({ kind, data: JSON.parse(e.data) }));
    }
  }, channel);
  const waitFor = async (what, test) => {
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline) {
      const state = await page.evaluate(() => ({ got: window.got, kinds: window.kinds, opens: window.opens }));
      if (test(state)) return state;
      await sleep(50);
    }
    const state = await page.evaluate(() => ({ got: window.got, kinds: window.kinds, opens: window.opens }));
    throw new Error(`timed out waiting for ${what}: ${JSON.stringify(state)}`);
  };

  await waitFor('the stream to open', (s) => s.opens >= 1 && s.kinds.length >= 1);
  const first = await publish('one');
  await publish('two');
  await waitFor('messages 1 and 2', (s) => s.got.length >= 2);

  // The server goes away (graceful: its streams end), and comes back on the same data.
  await stopServer();
  await startServer();
  await publish('three');
  await publish('four');
  const state = await waitFor('messages 3 and 4 after the reconnect', (s) => s.got.length >= 4);
  await sleep(300); // anything duplicated would arrive by now
  const final = await page.evaluate(() => ({ got: window.got, kinds: window.kinds, opens: window.opens }));
  await page.screenshot({ path: join(ARTIFACTS, 'browser-sse.png') });
  log(`artifact: ${join(ARTIFACTS, 'browser-sse.png')}`);

  const ids = final.got.map((g) => g.id);
  expect(JSON.stringify(ids) === '[1,2,3,4]', `ids ${JSON.stringify(ids)}, expected [1,2,3,4]`);
  expect(JSON.stringify(final.got.map((g) => g.data)) === '["one","two","three","four"]',
    `data ${JSON.stringify(final.got.map((g) => g.data))}`);
  expect(final.opens >= 2, `the EventSource opened ${final.opens} time(s), expected a reconnect`);
  expect(final.kinds.every((k) => k.kind === 'subscribed'),
    `events besides subscribed: ${JSON.stringify(final.kinds)}`);
  expect(final.kinds.length === final.opens, `${final.kinds.length} subscribed events for ${final.opens} opens`);
  const last = final.got[final.got.length - 1];
  expect(last && last.lastEventId === `${first.epoch}:4`,
    `lastEventId ${last && last.lastEventId}, expected ${first.epoch}:4 (the same stream)`);
  // The reconnect resumed where the first connection stopped.
  const second = final.kinds[1];
  expect(second && second.data.next === 2, `the reconnect stood at ${second && second.data.next}, expected 2`);
  log(`received ${JSON.stringify(ids)} over ${final.opens} connections (${state.got.length} by the first look)`);
} catch (e) {
  failures.push(String(e && e.stack || e));
} finally {
  if (browser) await browser.close();
  await stopServer();
  rmSync(dataDir, { recursive: true, force: true });
}

if (failures.length) {
  for (const f of failures) console.error('[browser-sse] FAIL:', f);
  process.exit(1);
}
log('ok: EventSource received every message once, in order, across a server restart');
