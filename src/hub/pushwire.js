/*
 * pushwire.js — the browser client of a pushwire hub, served by the hub at GET /pushwire.js.
 *
 * Plain ES2017, no dependencies, no build step: include it with
 *
 *     <script src="/pushwire.js"></script>
 *
 * and use the global `Pushwire`:
 *
 *     const pw = new Pushwire();                        // this page's origin; or new Pushwire("http://host:port", {...})
 *     const sub = pw.subscribe("room", (data, meta) => show(data, meta.id));
 *     await pw.publish("room", "hello");                // → {id, epoch}
 *     pw.on("status", ({ transport, state }) => {});    // connecting | open | fallback | closed
 *     sub.unsubscribe();
 *     pw.close();
 *
 * It is also the reference client of the hub's browser transports (docs/transports-design.md):
 *
 *   websocket  one WebSocket to /ws, subprotocol "pushwire.v1", every channel on it
 *              (subscribe / unsubscribe / publish commands; publishes acknowledged by `ref`);
 *   sse        one EventSource on /events?channel=a&since=..&epoch=..&channel=b..., whose
 *              events name their channel (restarted with the new set when it changes);
 *   longpoll   one request at a time to /poll?channel=a&since=..&epoch=..&channel=b...&timeout=S
 *              (so 8 channels hold one connection, not 8 of the browser's 6 per host).
 *
 * Exactly once, across reconnects and transport changes: the client, not the connection,
 * keeps each channel's cursor (the stream's epoch and the last id delivered) and gives it
 * to every new connection, whatever its transport. A message is handed to the page only
 * if it is from the cursor's stream and its id is past the cursor, so a replay after a
 * reconnect or the overlap of two transports never shows a message twice; the hub
 * replays everything after the cursor, so none is skipped. When the hub says the cursor
 * is from another stream (a `reset`: a restart without a data directory, an expired
 * channel), the cursor starts again at 0 in the new stream and the page is told
 * (`on("reset")`), then gets the new stream's retained history.
 *
 * Fallback: transports are tried in the order of `options.transports` (default
 * websocket, sse, longpoll). One that fails to open — or closes before it ever opened,
 * or does not open within `openTimeout` — is skipped for the next at once (status
 * "fallback"). When every one failed, the client waits (backoff with jitter) and starts
 * again from the first. A transport that was open and dropped is reconnected after a
 * backoff; if that reconnect fails to open, the ladder is walked down from there. While
 * on a fallback, the better transports are probed now and then (after `probeInterval`,
 * doubling up to `maxProbeInterval`, with jitter): a probe that opens takes over (the
 * fallback is closed, the cursors carry the reading on), one that fails leaves the
 * fallback alone.
 */
(function (global) {
  "use strict";

  /** Every transport, best first: the default order. */
  const TRANSPORTS = ["websocket", "sse", "longpoll"];

  /** The multiplexed WebSocket's subprotocol (docs/transports-design.md §2). */
  const SUBPROTOCOL = "pushwire.v1";

  /** Channel names, as the hub validates them: 1-128 of [A-Za-z0-9_.-]. */
  const CHANNEL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

  const DEFAULTS = {
    transports: TRANSPORTS,
    /** An access token (README "Access tokens"), or null. */
    token: null,
    /** Seconds a long-poll may be held by the hub (its cap is --max-poll-timeout). */
    pollTimeout: 25,
    /** Milliseconds a transport may take to open before it counts as failed. */
    openTimeout: 10000,
    /** Milliseconds a WebSocket publish waits for its `ack`. */
    ackTimeout: 10000,
    /** Reconnect backoff: the first delay and the cap, in milliseconds. */
    minDelay: 500,
    maxDelay: 10000,
    /** When on a fallback, the first probe of a better transport and the cap (ms). */
    probeInterval: 30000,
    maxProbeInterval: 300000,
  };

  /** What a publish or a subscription was refused with: the hub's status and reason. */
  class PushwireError extends Error {
    constructor(message, details) {
      super(message);
      this.name = "PushwireError";
      /** The HTTP status the hub answered (or its `error` frame's), or 0 if none. */
      this.status = (details && details.status) || 0;
      /** The channel it concerns, when known. */
      this.channel = (details && details.channel) || null;
      /**
       * True when the outcome is unknown: the WebSocket closed after the publish was sent
       * and before its ack, so it may or may not have been published. It is not sent
       * again by itself: a publish is not idempotent.
       */
      this.unknownOutcome = Boolean(details && details.unknownOutcome);
    }
  }

  /** `ms` spread by ±25 % so that many clients dropped together do not come back together. */
  function jitter(ms) {
    return Math.round(ms * (0.75 + Math.random() * 0.5));
  }

  /** The `?channel=a&since=5&epoch=E&channel=b` groups of /events and /poll (§1b, §3). */
  function channelQuery(channels) {
    const query = new URLSearchParams();
    for (const ch of channels) {
      query.append("channel", ch.name);
      if (ch.last !== null) query.append("since", String(ch.last));
      if (ch.epoch !== null) query.append("epoch", ch.epoch);
    }
    return query;
  }

  class Pushwire {
    /**
     * @param {string} [baseUrl] the hub, e.g. "http://127.0.0.1:8080"; default this page's origin
     * @param {object} [options] see DEFAULTS: transports, token, pollTimeout, openTimeout,
     *   ackTimeout, minDelay, maxDelay, probeInterval, maxProbeInterval
     */
    constructor(baseUrl, options) {
      this.base = new URL(baseUrl || global.location.origin);
      this.options = Object.assign({}, DEFAULTS, options || {});
      const unknown = this.options.transports.filter((t) => !TRANSPORTS.includes(t));
      if (unknown.length || this.options.transports.length === 0) {
        throw new TypeError(`transports must be some of ${TRANSPORTS.join(", ")}; got ${this.options.transports}`);
      }
      /** name → {name, epoch, last, listeners}: the cursors, kept across connections. */
      this.channels = new Map();
      this.listeners = new Map();
      /** The transport connecting or live (one object per connection), and its rung. */
      this.current = null;
      this.rung = 0;
      /** A better transport being tried while a fallback is live. */
      this.probe = null;
      this.probeDelay = this.options.probeInterval;
      this.attempt = 0;
      this.timers = { retry: null, probe: null };
      this.closed = false;
      this.started = false;
    }

    /** The live transport's name ("websocket" | "sse" | "longpoll"), or null when none is open. */
    get transport() {
      return this.current && this.current.isOpen ? this.current.name : null;
    }

    /**
     * Listens for `event`; returns a function that stops listening. Events:
     *   "status"  {transport, state, reason?, next?, retryIn?}: state is "connecting"
     *             (trying `transport`), "open", "fallback" (`transport` failed to open;
     *             trying `next`), or "closed" (dropped or all failed; the next attempt in
     *             `retryIn` ms — null after close()).
     *   "reset"   {channel, epoch, previous}: the channel's stream restarted; its retained
     *             history follows from id 1 (ids begin again).
     *   "missed"  {channel, missed}: that many messages were evicted before they reached us.
     *   "error"   a PushwireError the hub sent about a channel (a refused subscribe, say).
     */
    on(event, fn) {
      if (!this.listeners.has(event)) this.listeners.set(event, new Set());
      this.listeners.get(event).add(fn);
      return () => this.off(event, fn);
    }

    off(event, fn) {
      const set = this.listeners.get(event);
      if (set) set.delete(fn);
    }

    /**
     * Calls `onMessage(data, meta)` for every message on `channel`, in id order, once each.
     * `data` is the text published, or the JSON value of a JSON publish; `meta` is
     * {channel, id, epoch, transport}. Options: `since` (default 0: the retained history
     * first; null: only messages published from now on) and `epoch`, e.g. a cursor the
     * page saved from an earlier meta, to resume where it stopped. A second subscription
     * to a channel already subscribed shares its cursor and gets what comes next.
     * Returns a handle with unsubscribe().
     */
    subscribe(channel, onMessage, options) {
      if (!CHANNEL_NAME.test(channel)) throw new TypeError(`bad channel name ${JSON.stringify(channel)}`);
      if (typeof onMessage !== "function") throw new TypeError("onMessage must be a function");
      if (this.closed) throw new Error("this Pushwire is closed");
      let ch = this.channels.get(channel);
      const added = !ch;
      if (added) {
        const since = options && "since" in options ? options.since : 0;
        const epoch = options && typeof options.epoch === "string" ? options.epoch : null;
        ch = { name: channel, last: since === null ? null : Number(since), epoch, listeners: new Set() };
        this.channels.set(channel, ch);
      }
      const listener = { onMessage };
      ch.listeners.add(listener);
      if (added) this.channelsChanged({ added: ch });
      return {
        channel,
        unsubscribe: () => {
          if (!ch.listeners.delete(listener) || ch.listeners.size > 0) return;
          if (this.channels.get(channel) !== ch) return;
          this.channels.delete(channel);
          this.channelsChanged({ removed: ch });
        },
      };
    }

    /**
     * Publishes `data` to `channel`: a string as text, anything else as JSON. Over the
     * live WebSocket when there is one (a `publish` command, answered by its `ack`), by
     * `POST /channels/{name}` otherwise. Resolves to {id, epoch}; rejects with a
     * PushwireError (its `status` the hub's answer, `unknownOutcome` if the WebSocket
     * closed before the ack).
     */
    publish(channel, data) {
      if (!CHANNEL_NAME.test(channel)) return Promise.reject(new TypeError(`bad channel name ${JSON.stringify(channel)}`));
      if (data === undefined) return Promise.reject(new TypeError("nothing to publish (data is undefined)"));
      const live = this.current;
      if (live && live.isOpen && typeof live.publish === "function") return live.publish(channel, data);
      return this.publishByPost(channel, data);
    }

    /** Stops everything: the connection, the timers; pending WebSocket publishes are rejected. */
    close() {
      if (this.closed) return;
      this.closed = true;
      const name = this.current ? this.current.name : this.options.transports[0];
      this.stopAll();
      this.emit("status", { transport: name, state: "closed", retryIn: null });
    }

    // ===== connecting, falling back, probing =====

    /** A channel was added or removed: start on the first, else tell the transport. */
    channelsChanged(change) {
      if (this.closed) return;
      if (!this.started) {
        // On the next turn, so that a page subscribing to several channels at once
        // opens one connection with all of them.
        this.started = true;
        Promise.resolve().then(() => { if (!this.closed) this.connect(0); });
        return;
      }
      if (this.current) this.current.channelsChanged(change);
    }

    connect(rung) {
      clearTimeout(this.timers.retry);
      this.rung = rung;
      if (this.channels.size === 0) {
        // Nothing to read: stay idle until the next subscribe (publishes go by POST).
        this.current = null;
        this.started = false;
        return;
      }
      const t = this.makeTransport(this.options.transports[rung]);
      this.current = t;
      this.emit("status", { transport: t.name, state: "connecting", attempt: this.attempt });
      this.startTransport(t);
    }

    /** Starts `t`, which fails if it is not open within openTimeout. */
    startTransport(t) {
      t.openTimer = setTimeout(() => this.failed(t, "did not open in time"), this.options.openTimeout);
      t.start();
    }

    makeTransport(name) {
      if (name === "websocket") return new WebSocketTransport(this);
      if (name === "sse") return new SseTransport(this);
      return new LongPollTransport(this);
    }

    /** Called by a transport when it is open (a probe that opens takes over). */
    opened(t) {
      if (this.closed) return t.stop();
      clearTimeout(t.openTimer);
      if (t === this.probe) {
        const old = this.current;
        this.probe = null;
        this.current = t;
        this.rung = this.options.transports.indexOf(t.name);
        this.probeDelay = this.options.probeInterval;
        if (old) old.stop(new PushwireError(`switched from ${old.name} to ${t.name}`, { unknownOutcome: true }));
      } else if (t !== this.current) {
        return t.stop();
      }
      t.isOpen = true;
      this.attempt = 0;
      this.emit("status", { transport: t.name, state: "open" });
      this.scheduleProbe();
    }

    /** Called by a transport that failed (to open, or later): fall back, or reconnect. */
    failed(t, reason) {
      if (t.done) return;
      const wasOpen = t.isOpen;
      clearTimeout(t.openTimer);
      t.stop(new PushwireError(`${t.name} closed before the publish was acknowledged (${reason})`, { unknownOutcome: true }));
      if (this.closed) return;
      if (t === this.probe) {
        // That one is still not usable: the next better one, or stay and look again later.
        this.probe = null;
        if (t.probeRung + 1 < this.rung) {
          this.startProbe(t.probeRung + 1);
        } else {
          this.probeDelay = Math.min(this.probeDelay * 2, this.options.maxProbeInterval);
          this.scheduleProbe();
        }
        return;
      }
      if (t !== this.current) return;
      clearTimeout(this.timers.probe);
      if (this.probe) {
        // Start the ladder again rather than race a half-open probe against it.
        this.probe.stop();
        this.probe = null;
      }
      this.current = null;
      const ladder = this.options.transports;
      if (!wasOpen && this.rung + 1 < ladder.length) {
        const next = ladder[this.rung + 1];
        this.emit("status", { transport: t.name, state: "fallback", next, reason });
        this.connect(this.rung + 1);
        return;
      }
      // Dropped after it was open: the same transport again. All failed: from the top.
      const rung = wasOpen ? this.rung : 0;
      const retryIn = jitter(Math.min(this.options.maxDelay, this.options.minDelay * 2 ** this.attempt));
      this.attempt += 1;
      this.emit("status", { transport: t.name, state: "closed", reason, retryIn });
      this.timers.retry = setTimeout(() => this.connect(rung), retryIn);
    }

    /**
     * While on a fallback, try the better transports again after probeDelay: the best
     * first, then each next better one at once if it fails, up to the live one.
     */
    scheduleProbe() {
      clearTimeout(this.timers.probe);
      if (this.rung === 0 || this.closed) return;
      this.timers.probe = setTimeout(() => this.startProbe(0), jitter(this.probeDelay));
    }

    startProbe(rung) {
      if (this.closed || this.probe || !this.current || !this.current.isOpen || rung >= this.rung) return;
      const t = this.makeTransport(this.options.transports[rung]);
      t.probeRung = rung;
      this.probe = t;
      this.startTransport(t);
    }

    stopAll() {
      for (const key of Object.keys(this.timers)) clearTimeout(this.timers[key]);
      const why = new PushwireError("the client was closed", { unknownOutcome: true });
      for (const t of [this.current, this.probe]) {
        if (!t) continue;
        clearTimeout(t.openTimer);
        t.stop(why);
      }
      this.current = null;
      this.probe = null;
    }

    // ===== what the transports deliver (pushwire.v1 meanings) =====

    /**
     * A transport reads `channel` in stream `epoch` (a `subscribed` frame or event, or a
     * long-poll answer's channel entry); `next` is where the hub says the reader stands.
     */
    stream(t, channel, epoch, reset, next) {
      if (t !== this.current || typeof epoch !== "string") return;
      t.epochs.set(channel, epoch);
      const ch = this.channels.get(channel);
      if (!ch) return;
      if (reset || (ch.epoch !== null && ch.epoch !== epoch)) {
        const previous = ch.epoch;
        const hadRead = ch.last !== null && ch.last > 0;
        ch.epoch = epoch;
        ch.last = 0;
        // Forgetting nothing is no news: a reader still at 0 lost no place.
        if (hadRead) this.emit("reset", { channel, epoch, previous });
        return;
      }
      ch.epoch = epoch;
      if (ch.last === null && typeof next === "number") ch.last = next;
    }

    /** A message from transport `t`: handed to the page if it is past the cursor. */
    message(t, channel, id, data) {
      if (t !== this.current || typeof id !== "number") return;
      const ch = this.channels.get(channel);
      const epoch = t.epochs.get(channel);
      if (!ch || epoch === undefined || epoch !== ch.epoch) return; // not (yet) the cursor's stream
      if (ch.last !== null && id <= ch.last) return; // seen already: a replay or an overlap
      ch.last = id;
      const meta = { channel, id, epoch, transport: t.name };
      for (const listener of Array.from(ch.listeners)) {
        try {
          listener.onMessage(data, meta);
        } catch (e) {
          setTimeout(() => { throw e; }); // the page's bug, reported without stopping delivery
        }
      }
    }

    /**
     * A long-poll answer says the channel stands at `next` (all its messages handled).
     * Every /poll answer lists every channel, so a "from now on" subscription (`since:
     * null`) has its cursor from the first one. A channel whose stream has not begun is
     * listed without an epoch, at 0: reading from 0 then misses nothing.
     */
    advance(t, channel, next) {
      if (t !== this.current || typeof next !== "number") return;
      const ch = this.channels.get(channel);
      if (!ch) return;
      const epoch = t.epochs.get(channel);
      const unbegun = epoch === undefined && ch.epoch === null;
      if (!unbegun && epoch !== ch.epoch) return;
      if (ch.last === null || next > ch.last) ch.last = next;
    }

    missed(t, channel, count) {
      if (t !== this.current || !this.channels.has(channel)) return;
      this.emit("missed", { channel, missed: count });
    }

    refused(t, frame) {
      if (t !== this.current) return;
      this.emit("error", new PushwireError(frame.error || "refused", { status: frame.status, channel: frame.channel }));
    }

    // ===== plumbing =====

    emit(event, value) {
      const set = this.listeners.get(event);
      if (!set) return;
      for (const fn of Array.from(set)) {
        try {
          fn(value);
        } catch (e) {
          setTimeout(() => { throw e; });
        }
      }
    }

    url(path, query) {
      const u = new URL(path, this.base);
      if (query) u.search = query.toString();
      return u;
    }

    /** Headers for fetch: the token as `Authorization: Bearer` (one way only: two is 400). */
    headers(extra) {
      const h = Object.assign({}, extra || {});
      if (this.options.token) h.Authorization = "Bearer " + this.options.token;
      return h;
    }

    async publishByPost(channel, data) {
      const text = typeof data === "string";
      const res = await fetch(this.url("/channels/" + encodeURIComponent(channel)), {
        method: "POST",
        headers: this.headers({ "Content-Type": text ? "text/plain; charset=utf-8" : "application/json" }),
        body: text ? data : JSON.stringify(data),
        cache: "no-store",
      });
      if (res.status !== 201) {
        const why = (await res.text().catch(() => "")).trim();
        throw new PushwireError(`publish to ${channel}: ${res.status} ${why}`, { status: res.status, channel });
      }
      const body = await res.json();
      return { id: body.id, epoch: body.epoch };
    }
  }

  // ===== the transports: one object per connection =====
  //
  // Each has: name, isOpen, done, epochs (channel → the stream it reads it in), start(),
  // channelsChanged({added|removed}), stop(why); it calls client.opened(this) once open
  // and client.failed(this, reason) when it cannot go on.

  /** One WebSocket to /ws (pushwire.v1): every channel on it, publishes acknowledged by ref. */
  class WebSocketTransport {
    constructor(client) {
      this.client = client;
      this.name = "websocket";
      this.isOpen = false;
      this.done = false;
      this.epochs = new Map();
      this.ws = null;
      this.nextRef = 1;
      this.pending = new Map(); // ref → {resolve, reject, timer}
    }

    start() {
      const c = this.client;
      const url = c.url("/ws");
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      // The token rides as a subprotocol entry: a browser's WebSocket cannot set headers.
      const protocols = c.options.token ? [SUBPROTOCOL, "bearer." + c.options.token] : [SUBPROTOCOL];
      let ws;
      try {
        if (typeof global.WebSocket !== "function") throw new Error("no WebSocket in this browser");
        ws = new global.WebSocket(url.href, protocols);
      } catch (e) {
        // Blocked (a policy, a stub): fail on the next turn, as a refused connection would.
        setTimeout(() => c.failed(this, "WebSocket unavailable: " + e.message));
        return;
      }
      this.ws = ws;
      ws.onopen = () => {
        if (ws.protocol !== SUBPROTOCOL) return c.failed(this, `the server chose subprotocol "${ws.protocol}"`);
        c.opened(this);
        if (this.done) return;
        for (const ch of c.channels.values()) this.sendSubscribe(ch);
      };
      ws.onmessage = (ev) => this.onFrame(ev.data);
      // A close event follows an error, with the code; a stub (or a broken browser) might
      // not send one, so the error alone ends the connection a moment later.
      ws.onerror = () => setTimeout(() => c.failed(this, "WebSocket error"), 1000);
      ws.onclose = (ev) => c.failed(this, `WebSocket closed (${ev.code}${ev.reason ? " " + ev.reason : ""})`);
    }

    onFrame(text) {
      const c = this.client;
      let f;
      try {
        f = JSON.parse(text);
      } catch (_) {
        return c.failed(this, "a frame that is not JSON");
      }
      switch (f.type) {
        case "subscribed": return c.stream(this, f.channel, f.epoch, f.reset === true, f.next);
        case "message": return c.message(this, f.channel, f.id, f.data);
        case "missed": return c.missed(this, f.channel, f.missed);
        case "ack": return this.settle(f.ref, (p) => p.resolve({ id: f.id, epoch: f.epoch }));
        case "error":
          if (f.ref !== undefined && this.pending.has(f.ref)) {
            return this.settle(f.ref, (p) => p.reject(new PushwireError(f.error, { status: f.status, channel: f.channel })));
          }
          return c.refused(this, f);
        default: return undefined; // "unsubscribed", and types a newer hub may add
      }
    }

    sendSubscribe(ch) {
      const cmd = { type: "subscribe", channel: ch.name };
      if (ch.last !== null) cmd.since = ch.last;
      if (ch.epoch !== null) cmd.epoch = ch.epoch;
      this.ws.send(JSON.stringify(cmd));
    }

    channelsChanged(change) {
      if (!this.isOpen || this.done) return; // the subscribes go out when it opens
      if (change.added) this.sendSubscribe(change.added);
      if (change.removed) {
        this.epochs.delete(change.removed.name);
        this.ws.send(JSON.stringify({ type: "unsubscribe", channel: change.removed.name }));
      }
    }

    publish(channel, data) {
      return new Promise((resolve, reject) => {
        const ref = this.nextRef++;
        const timer = setTimeout(() => this.settle(ref, (p) => p.reject(new PushwireError(
          `no ack for the publish to ${channel} within ${this.client.options.ackTimeout} ms`,
          { channel, unknownOutcome: true }))), this.client.options.ackTimeout);
        this.pending.set(ref, { resolve, reject, timer });
        this.ws.send(JSON.stringify({ type: "publish", channel, data, ref }));
      });
    }

    settle(ref, how) {
      const p = this.pending.get(ref);
      if (!p) return;
      this.pending.delete(ref);
      clearTimeout(p.timer);
      how(p);
    }

    stop(why) {
      if (this.done) return;
      this.done = true;
      this.isOpen = false;
      for (const ref of Array.from(this.pending.keys())) this.settle(ref, (p) => p.reject(why));
      if (this.ws) {
        const ws = this.ws;
        ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
        try { ws.close(1000); } catch (_) { /* a stub, or already closing */ }
      }
    }
  }

  /** One EventSource on /events for every channel; a new one when the set changes. */
  class SseTransport {
    constructor(client) {
      this.client = client;
      this.name = "sse";
      this.isOpen = false;
      this.done = false;
      this.epochs = new Map();
      this.source = null;
    }

    start() {
      const c = this.client;
      if (typeof global.EventSource !== "function") {
        setTimeout(() => c.failed(this, "no EventSource in this browser"));
        return;
      }
      this.restart();
    }

    /** (Re)opens the stream with every channel's cursor; none subscribed: no stream. */
    restart() {
      const c = this.client;
      this.closeSource();
      this.epochs.clear();
      if (c.channels.size === 0) return;
      const query = channelQuery(c.channels.values());
      if (c.options.token) query.append("token", c.options.token); // EventSource cannot set headers
      let source;
      try {
        source = new global.EventSource(c.url("/events", query).href);
      } catch (e) {
        setTimeout(() => c.failed(this, "EventSource unavailable: " + e.message));
        return;
      }
      this.source = source;
      source.onopen = () => { if (!this.isOpen) c.opened(this); };
      // The browser would reconnect by itself, but with the cursors of the first request
      // (multi-channel message events carry no id): we reconnect with ours instead.
      source.onerror = () => c.failed(this, source.readyState === 2 ? "refused" : "stream ended");
      const onEvent = (ev) => this.onEvent(ev.data);
      for (const kind of ["message", "subscribed", "reset", "missed", "unsubscribed", "error"]) {
        source.addEventListener(kind, (ev) => { if (typeof ev.data === "string") onEvent(ev); });
      }
    }

    onEvent(text) {
      const c = this.client;
      let f;
      try {
        f = JSON.parse(text);
      } catch (_) {
        return c.failed(this, "an event that is not JSON");
      }
      switch (f.type) {
        case "subscribed": return c.stream(this, f.channel, f.epoch, f.reset === true, f.next);
        case "reset": return c.stream(this, f.channel, f.epoch, true, f.next);
        case "message": return c.message(this, f.channel, f.id, f.data);
        case "missed": return c.missed(this, f.channel, f.missed);
        case "error": return c.refused(this, f);
        default: return undefined;
      }
    }

    channelsChanged() {
      if (this.done) return;
      // Coalesce a burst of subscribes (a page subscribing to 8 rooms) into one request.
      if (this.pendingRestart) return;
      this.pendingRestart = true;
      Promise.resolve().then(() => {
        this.pendingRestart = false;
        if (!this.done) this.restart();
      });
    }

    closeSource() {
      if (!this.source) return;
      this.source.onopen = this.source.onerror = null;
      this.source.close();
      this.source = null;
    }

    stop() {
      this.done = true;
      this.isOpen = false;
      this.closeSource();
    }
  }

  /** One long-poll at a time on /poll for every channel; the set changing restarts it. */
  class LongPollTransport {
    constructor(client) {
      this.client = client;
      this.name = "longpoll";
      this.isOpen = false;
      this.done = false;
      this.epochs = new Map();
      this.abort = null;
      this.wake = null;
    }

    start() {
      this.loop();
    }

    async loop() {
      const c = this.client;
      let first = true; // answered at once (timeout=0): tells us soon that we are connected
      while (!this.done) {
        if (c.channels.size === 0) {
          await new Promise((resolve) => { this.wake = resolve; });
          continue;
        }
        const timeout = first ? 0 : c.options.pollTimeout;
        const query = channelQuery(c.channels.values());
        query.append("timeout", String(timeout));
        const ctl = new AbortController();
        this.abort = ctl;
        // If the hub (or a proxy) never answers, give up a while after it should have.
        const guard = setTimeout(() => ctl.abort(), (timeout + 10) * 1000);
        let res, body = null;
        try {
          res = await fetch(c.url("/poll", query), { headers: c.headers(), signal: ctl.signal, cache: "no-store" });
          if (res.status === 200) body = await res.json();
        } catch (e) {
          clearTimeout(guard);
          if (this.done) return;
          if (ctl.restarting) continue; // the channel set changed: ask again, with it
          return c.failed(this, ctl.signal.aborted ? "the poll was not answered in time" : "request failed");
        } finally {
          clearTimeout(guard);
        }
        if (this.done) return;
        if (ctl.restarting) continue;
        if (res.status !== 200 && res.status !== 204) {
          const why = (await res.text().catch(() => "")).trim();
          return c.failed(this, `HTTP ${res.status} ${why}`);
        }
        if (first) {
          first = false;
          c.opened(this);
          if (this.done) return;
        }
        if (body && Array.isArray(body.channels)) this.deliver(body.channels);
      }
    }

    /** One answer: per channel, its stream, what was missed, the messages, where it stands. */
    deliver(entries) {
      const c = this.client;
      for (const e of entries) {
        if (!c.channels.has(e.channel)) continue; // unsubscribed while the poll was out
        c.stream(this, e.channel, e.epoch, e.reset === true, undefined);
        if (typeof e.missed === "number" && e.missed > 0) c.missed(this, e.channel, e.missed);
        for (const m of e.messages || []) c.message(this, e.channel, m.id, m.data);
        c.advance(this, e.channel, e.next);
      }
    }

    channelsChanged() {
      if (this.done) return;
      if (this.wake) {
        const wake = this.wake;
        this.wake = null;
        wake();
        return;
      }
      if (this.pendingRestart || !this.abort) return;
      this.pendingRestart = true;
      Promise.resolve().then(() => {
        this.pendingRestart = false;
        if (this.done || !this.abort) return;
        this.abort.restarting = true;
        this.abort.abort();
      });
    }

    stop() {
      this.done = true;
      this.isOpen = false;
      if (this.abort) this.abort.abort();
      if (this.wake) this.wake();
    }
  }

  Pushwire.Error = PushwireError;
  Pushwire.TRANSPORTS = TRANSPORTS.slice();
  global.Pushwire = Pushwire;
})(typeof window !== "undefined" ? window : globalThis);
