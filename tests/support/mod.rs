//! Shared helpers for the integration tests.
//!
//! - this file: constants, the one [`Recording`] handler, and the wire: client frames
//!   built by hand, server frames and HTTP responses parsed from bytes;
//! - [`memory`]: clients of an in-memory [`ServerPair`](pushwire::pair::ServerPair), for
//!   protocol behaviour on a virtual clock;
//! - [`hub`]: the hub in memory, and publishing to it;
//! - [`event_source`]: a browser's `EventSource` of an in-memory server;
//! - [`net`]: a real server on a thread, raw TCP and tungstenite clients, for what only
//!   the mio driver does;
//! - [`redis`]: a real `redis-server` child process, and a blocking client independent of
//!   the library's RESP code.

#![allow(dead_code)]

pub mod event_source;
pub mod hub;
pub mod memory;
pub mod net;
pub mod redis;

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use pushwire::http::Request;
use pushwire::message::MessagePart;
use pushwire::ws::handshake::UpgradeRequest;
use pushwire::{
    CloseEvent, Config, ConnId, Context, Handler, Message, RequestId, SendError, Upgrade,
};

#[allow(unused_imports)]
pub use event_source::*;
#[allow(unused_imports)]
pub use hub::*;
#[allow(unused_imports)]
pub use memory::*;
#[allow(unused_imports)]
pub use net::*;
#[allow(unused_imports)]
pub use redis::*;

/// Upper bound for anything a loopback test waits for. Generous: the tests run on loaded
/// machines.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The key of RFC 6455 §1.3 and its accept value.
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A fixed masking key for hand-built client frames.
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// The library defaults, minus things that would make tests slow or timing-dependent:
/// no keepalive pings unless a test asks, a short shutdown, and no log lines.
pub fn config() -> Config {
    let mut c = Config::default();
    c.ping_interval = None;
    c.shutdown_timeout = Duration::from_secs(2);
    c.log = pushwire::log::Log::silent();
    c
}

/// A binary payload of `len` bytes whose content does not repeat with a short period,
/// so a chunk delivered out of place or twice shows up as a mismatch.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

// ===== handlers =====

/// Echoes every message back to its sender.
pub struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
        let _ = ctx.send(conn, &msg);
    }
}

/// Does nothing beyond the defaults (accepts upgrades, answers HTTP with 404).
pub struct Quiet;

impl Handler for Quiet {}

/// Echoes by value (`Context::send_message`): large owned payloads are queued without a
/// copy, as their own buffers behind the write buffer; small ones are copied. A short
/// text is sent after each message, so order across the two paths is checked too.
pub struct MovingEcho;

impl Handler for MovingEcho {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
        let len = msg.len();
        ctx.send_message(conn, msg).unwrap();
        ctx.send_text(conn, &format!("after {len}")).unwrap();
    }
}

/// What a [`Recording`] handler saw. Each is recorded *after* the wrapped handler's
/// callback returned, so whatever that callback did (answering, parking, sending) has
/// happened.
#[derive(Debug, Clone)]
pub enum Event {
    Upgrade(ConnId, String),
    Open(ConnId),
    Message(ConnId, Message<'static>),
    Part(ConnId, bool, Vec<u8>, bool, bool),
    Close(ConnId, CloseEvent<'static>),
    Request {
        id: RequestId,
        method: String,
        target: String,
        body: Vec<u8>,
    },
    ParkTimeout(RequestId),
    Abandoned(RequestId),
    Drained(ConnId),
    Notify(u64),
    Undelivered(ConnId, Message<'static>, SendError),
}

impl Event {
    /// The connection the event concerns (`None` for `Notify`).
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            Event::Upgrade(c, _)
            | Event::Open(c)
            | Event::Message(c, _)
            | Event::Part(c, ..)
            | Event::Close(c, _)
            | Event::Drained(c)
            | Event::Undelivered(c, _, _) => Some(*c),
            Event::Request { id, .. } | Event::ParkTimeout(id) | Event::Abandoned(id) => {
                Some(id.conn())
            }
            Event::Notify(_) => None,
        }
    }
}

/// Wraps a handler: forwards every callback to it, then records it in an [`Events`] log.
/// The same handler serves the in-memory and the loopback tests.
pub struct Recording<H> {
    inner: H,
    log: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    events: Mutex<Vec<Event>>,
    arrived: Condvar,
}

pub fn recording<H: Handler>(inner: H) -> (Recording<H>, Events) {
    let log = Arc::new(Shared::default());
    (
        Recording {
            inner,
            log: log.clone(),
        },
        Events {
            log,
            taken: Vec::new(),
        },
    )
}

impl<H> Recording<H> {
    fn record(&self, event: Event) {
        self.log.events.lock().unwrap().push(event);
        self.log.arrived.notify_all();
    }

    pub fn inner(&self) -> &H {
        &self.inner
    }
}

impl<H: Handler> Handler for Recording<H> {
    fn on_upgrade(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        request: &UpgradeRequest<'_>,
    ) -> Upgrade {
        let answer = self.inner.on_upgrade(ctx, conn, request);
        self.record(Event::Upgrade(conn, request.head().target().to_string()));
        answer
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        let method = request.method().to_string();
        let target = request.target().to_string();
        let body = request.body().to_vec();
        self.inner.on_request(ctx, id, request);
        self.record(Event::Request {
            id,
            method,
            target,
            body,
        });
    }

    fn on_park_timeout(&mut self, ctx: &mut Context<'_>, id: RequestId) {
        self.inner.on_park_timeout(ctx, id);
        self.record(Event::ParkTimeout(id));
    }

    fn on_request_abandoned(&mut self, ctx: &mut Context<'_>, id: RequestId) {
        self.inner.on_request_abandoned(ctx, id);
        self.record(Event::Abandoned(id));
    }

    fn on_open(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.inner.on_open(ctx, conn);
        self.record(Event::Open(conn));
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        let copy = message.clone().into_owned();
        self.inner.on_message(ctx, conn, message);
        self.record(Event::Message(conn, copy));
    }

    fn on_message_part(&mut self, ctx: &mut Context<'_>, conn: ConnId, part: MessagePart<'_>) {
        self.inner.on_message_part(ctx, conn, part);
        self.record(Event::Part(
            conn,
            part.is_text,
            part.data.to_vec(),
            part.first,
            part.last,
        ));
    }

    fn on_close(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: &CloseEvent<'_>) {
        self.inner.on_close(ctx, conn, event);
        self.record(Event::Close(conn, event.clone().into_owned()));
    }

    fn on_drained(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.inner.on_drained(ctx, conn);
        self.record(Event::Drained(conn));
    }

    fn on_notify(&mut self, ctx: &mut Context<'_>, token: u64) {
        self.inner.on_notify(ctx, token);
        self.record(Event::Notify(token));
    }

    fn on_wake(&mut self, ctx: &mut Context<'_>) {
        self.inner.on_wake(ctx);
    }

    fn on_undelivered(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        message: Message<'static>,
        error: SendError,
    ) {
        let copy = message.clone();
        self.inner.on_undelivered(ctx, conn, message, error);
        self.record(Event::Undelivered(conn, copy, error));
    }
}

/// The log of a [`Recording`] handler. Each event is handed out once, by the first
/// `take`/`wait_for` that matches it.
pub struct Events {
    log: Arc<Shared>,
    /// Indices of events already handed out.
    taken: Vec<usize>,
}

impl Events {
    /// The first matching event not yet handed out, if it has been recorded (the
    /// in-memory tests: everything has happened by the time the pair returns).
    pub fn take<T>(&mut self, mut pick: impl FnMut(&Event) -> Option<T>) -> Option<T> {
        let events = self.log.events.lock().unwrap();
        for (i, event) in events.iter().enumerate() {
            if self.taken.contains(&i) {
                continue;
            }
            if let Some(found) = pick(event) {
                self.taken.push(i);
                return Some(found);
            }
        }
        None
    }

    /// [`take`](Self::take), or fail the test naming `what`.
    pub fn expect<T>(&mut self, what: &str, pick: impl FnMut(&Event) -> Option<T>) -> T {
        match self.take(pick) {
            Some(found) => found,
            None => panic!("no {what} event; events: {:#?}", self.all()),
        }
    }

    /// Waits (at most [`TIMEOUT`]) for the first matching event not yet handed out (the
    /// loopback tests, where the server runs on its own thread).
    pub fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(found) = self.take(&mut pick) {
                return found;
            }
            let events = self.log.events.lock().unwrap();
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("no {what} event within {TIMEOUT:?}; events: {:#?}", *events);
            }
            let _unused = self.log.arrived.wait_timeout(events, left).unwrap();
        }
    }

    /// Asserts that no event matching `pick` has been recorded (in-memory tests).
    pub fn assert_none(&self, what: &str, mut pick: impl FnMut(&Event) -> bool) {
        let events = self.log.events.lock().unwrap();
        if let Some(e) = events.iter().find(|e| pick(e)) {
            panic!("unexpected {what} event: {e:?}");
        }
    }

    /// Every event recorded so far.
    pub fn all(&self) -> Vec<Event> {
        self.log.events.lock().unwrap().clone()
    }

    pub fn open(&mut self) -> ConnId {
        self.expect("on_open", |e| match e {
            Event::Open(c) => Some(*c),
            _ => None,
        })
    }

    pub fn message(&mut self, conn: ConnId) -> Message<'static> {
        self.expect("on_message", |e| match e {
            Event::Message(c, m) if *c == conn => Some(m.clone()),
            _ => None,
        })
    }

    pub fn close(&mut self, conn: ConnId) -> CloseEvent<'static> {
        self.expect("on_close", |e| match e {
            Event::Close(c, ev) if *c == conn => Some(ev.clone()),
            _ => None,
        })
    }

    /// Waits (loopback tests) for the next `on_open`.
    pub fn wait_open(&mut self) -> ConnId {
        self.wait_for("on_open", |e| match e {
            Event::Open(c) => Some(*c),
            _ => None,
        })
    }

    /// Waits (loopback tests) for `conn`'s `on_close`.
    pub fn wait_close(&mut self, conn: ConnId) -> CloseEvent<'static> {
        self.wait_for("on_close", |e| match e {
            Event::Close(c, ev) if *c == conn => Some(ev.clone()),
            _ => None,
        })
    }

    /// The first request whose target starts with `prefix`.
    pub fn request(&mut self, prefix: &str) -> RequestId {
        self.expect(&format!("request {prefix}"), |e| match e {
            Event::Request { id, target, .. } if target.starts_with(prefix) => Some(*id),
            _ => None,
        })
    }

    /// Checks the callback contract for every connection: at most one `on_open`,
    /// exactly one `on_close` for it, and nothing after `on_close`. Returns the log.
    pub fn check_contract(&self) -> Vec<Event> {
        let log = self.all();
        #[derive(Default)]
        struct Seen {
            opens: usize,
            closes: usize,
        }
        let mut seen: HashMap<ConnId, Seen> = HashMap::new();
        for event in &log {
            let Some(conn) = event.conn() else { continue };
            let s = seen.entry(conn).or_default();
            match event {
                Event::Open(_) => {
                    assert_eq!(s.opens, 0, "on_open twice for {conn:?}: {log:?}");
                    s.opens += 1;
                }
                Event::Close(_, _) => {
                    assert_eq!(s.opens, 1, "on_close without on_open for {conn:?}");
                    assert_eq!(s.closes, 0, "on_close twice for {conn:?}: {log:?}");
                    s.closes += 1;
                }
                Event::Message(..) | Event::Part(..) => assert!(
                    s.opens == 1 && s.closes == 0,
                    "a message outside open..close for {conn:?}: {log:?}"
                ),
                _ => {}
            }
        }
        for (conn, s) in &seen {
            assert!(
                s.closes <= s.opens,
                "{conn:?}: {} on_open, {} on_close",
                s.opens,
                s.closes
            );
        }
        log
    }
}

// ===== the wire: client frames =====

/// Builds one client frame by hand: FIN, RSV bits (as `0b100` = RSV1 ...), opcode, the
/// payload masked with `mask` (or unmasked with `None`).
pub fn frame_with(
    fin: bool,
    rsv: u8,
    opcode: u8,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> Vec<u8> {
    let mut out = frame_header(fin, rsv, opcode, payload.len() as u64, mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        for (i, b) in out[start..].iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    out
}

/// A masked client frame.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_with(fin, 0, opcode, payload, Some(MASK))
}

/// Only the header of a frame announcing `len` payload bytes.
pub fn frame_header(fin: bool, rsv: u8, opcode: u8, len: u64, mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | ((rsv & 0b111) << 4) | (opcode & 0x0f)];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= u64::from(u16::MAX) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    out
}

/// A masked Close frame with this raw payload.
pub fn close_frame(payload: &[u8]) -> Vec<u8> {
    client_frame(true, OP_CLOSE, payload)
}

/// A Close payload: code (big-endian) and reason bytes.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// A correct upgrade request for `path` with the RFC 6455 sample key, plus extra header
/// lines (each without CRLF).
pub fn upgrade_request(path: &str, extra: &[&str]) -> String {
    let mut req = format!(
        "GET {path} HTTP/1.1\r\n\
         Host: 127.0.0.1\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: {SAMPLE_KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n"
    );
    for line in extra {
        req.push_str(line);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req
}

// ===== the wire: what the server sends =====

/// A frame as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl Frame {
    /// (code, reason) of a Close frame; `None` for an empty Close payload.
    pub fn close_code(&self) -> Option<(u16, String)> {
        assert_eq!(self.opcode, OP_CLOSE, "not a Close frame: {self:?}");
        if self.payload.is_empty() {
            return None;
        }
        assert!(self.payload.len() >= 2, "1-byte Close payload from server");
        let code = u16::from_be_bytes([self.payload[0], self.payload[1]]);
        let reason = String::from_utf8(self.payload[2..].to_vec()).expect("UTF-8 close reason");
        Some((code, reason))
    }
}

/// The first frame in `buf`, and its length in bytes; `None` if incomplete.
pub fn parse_frame(buf: &[u8]) -> Option<(Frame, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let (b0, b1) = (buf[0], buf[1]);
    let masked = b1 & 0x80 != 0;
    let short = (b1 & 0x7f) as usize;
    let ext = match short {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let header_len = 2 + ext + if masked { 4 } else { 0 };
    if buf.len() < header_len {
        return None;
    }
    let len = match short {
        126 => u16::from_be_bytes([buf[2], buf[3]]) as usize,
        127 => u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
        n => n,
    };
    if buf.len() < header_len + len {
        return None;
    }
    let mut payload = buf[header_len..header_len + len].to_vec();
    if masked {
        let key = &buf[header_len - 4..header_len];
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    let frame = Frame {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0b111,
        opcode: b0 & 0x0f,
        masked,
        payload,
    };
    Some((frame, header_len + len))
}

/// An HTTP response as read off the wire.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    pub fn content_length(&self) -> Option<usize> {
        self.header("Content-Length")
            .map(|v| v.trim().parse().expect("numeric Content-Length"))
    }

    pub fn body_text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
}

/// The response head at the start of `buf` (without its body), and its length; `None`
/// if incomplete.
pub fn parse_response_head(buf: &[u8]) -> Option<(HttpResponse, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).expect("ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap().to_string();
    assert!(
        status_line.starts_with("HTTP/1.1 "),
        "status line {status_line:?}"
    );
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header line has a colon");
            (n.to_string(), v.trim().to_string())
        })
        .collect();
    let response = HttpResponse {
        status,
        status_line,
        headers,
        body: Vec::new(),
    };
    Some((response, end))
}

/// The response at the start of `buf` — its head, then `Content-Length` bytes of body
/// (none for an answer to HEAD) — and its length; `None` if incomplete.
pub fn parse_response(buf: &[u8], to_head: bool) -> Option<(HttpResponse, usize)> {
    let (mut response, head_len) = parse_response_head(buf)?;
    let len = if to_head {
        0
    } else {
        response.content_length().unwrap_or(0)
    };
    if buf.len() < head_len + len {
        return None;
    }
    response.body = buf[head_len..head_len + len].to_vec();
    Some((response, head_len + len))
}
