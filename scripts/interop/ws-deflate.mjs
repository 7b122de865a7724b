#!/usr/bin/env node
// Node `ws` (perMessageDeflate on) against a pushwire echo server: the offer is accepted,
// and text and binary messages from 0 bytes to 1 MiB come back equal, compressed.
//
//   node scripts/interop/ws-deflate.mjs ws://127.0.0.1:PORT/
import { createRequire } from 'node:module';

const require = createRequire(new URL('./package.json', import.meta.url));
const WebSocket = require('ws');

const url = process.argv[2];
if (!/^ws:\/\/127\.0\.0\.1:\d+\//.test(url || '')) {
  console.error('usage: node scripts/interop/ws-deflate.mjs ws://127.0.0.1:PORT/  (loopback only)');
  process.exit(2);
}
const log = (...a) => console.log('[ws-deflate]', ...a);
const fail = (why) => { console.error('[ws-deflate] FAIL:', why); process.exit(1); };
setTimeout(() => fail('no answer within 30 s'), 30000).unref();

const sizes = [0, 1, 10, 100, 1000, 65536, 300000, 1 << 20];
const text = (n) => 'hello world, how is everyone? '.repeat(Math.ceil(n / 30) + 1).slice(0, n);
const binary = (n) => Buffer.from(Array.from({ length: n }, (_, k) => (k * 7 + (k >> 9)) % 251));
const ws = new WebSocket(url, { perMessageDeflate: true, maxPayload: 64 << 20 });
let i = 0;
let asBinary = false;

function next() {
  if (i >= sizes.length) {
    ws.close(1000, 'done');
    return;
  }
  const n = sizes[i];
  const sent = asBinary ? binary(n) : text(n);
  ws.once('message', (data, isBinary) => {
    const same = asBinary
      ? isBinary && Buffer.compare(data, sent) === 0
      : !isBinary && data.toString() === sent;
    if (!same) fail(`the ${asBinary ? 'binary' : 'text'} message of ${n} bytes came back changed`);
    if (asBinary) i += 1;
    asBinary = !asBinary;
    next();
  });
  ws.send(sent, { binary: asBinary, compress: true });
}

ws.on('open', () => {
  const agreed = Object.keys(ws._extensions || {});
  log(`agreed: ${agreed.join(', ') || '(nothing)'}`);
  if (!agreed.includes('permessage-deflate')) fail('permessage-deflate was not agreed');
  next();
});
ws.on('close', (code) => {
  if (code !== 1000) fail(`closed with ${code}`);
  log(`ok: ${sizes.length * 2} messages, 0 B to 1 MiB, text and binary, round-tripped`);
  process.exit(0);
});
ws.on('error', (e) => fail(e.message));
