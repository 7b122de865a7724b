//! Shared helpers for the loopback integration tests: a server on a background thread, a
//! recording handler, a tungstenite client, and a raw TCP client that speaks frames by hand.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pushwire::http::Request;
use pushwire::ws::handshake::UpgradeRequest;
use pushwire::{
    CloseEvent, Config, ConnId, Context, Handle, Handler, Message, SendError, Server, Upgrade,
};

/// Upper bound for anything a test waits for. Generous: the tests run on loaded machines.
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
/// no keepalive pings unless a test asks, and a short shutdown.
pub fn config() -> Config {
    let mut c = Config::default();
    c.ping_interval = None;
    c.shutdown_timeout = Duration::from_secs(2);
    c
}

// ===== server =====

/// A pushwire server on 127.0.0.1:0, running `handler` on a background thread.
/// Dropping it shuts the server down and joins the thread (bounded).
pub struct TestServer {
    pub addr: SocketAddr,
    pub handle: Handle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl TestServer {
    pub fn start<H: Handler + Send + 'static>(config: Config, mut handler: H) -> TestServer {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("pushwire-test-server".into())
            .spawn(move || {
                let mut server = Server::bind("127.0.0.1:0".parse().unwrap(), config)?;
                tx.send((server.local_addr(), server.handle()))
                    .expect("test thread gone");
                server.run(&mut handler)
            })
            .expect("spawn server thread");
        match rx.recv_timeout(TIMEOUT) {
            Ok((addr, handle)) => TestServer {
                addr,
                handle,
                thread: Some(thread),
            },
            Err(_) => {
                let result = thread.join();
                panic!("server did not start: {result:?}");
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Waits (at most `limit`) for `run` to return by itself; returns how long that took
    /// and asserts `run` returned `Ok`. `None` if it is still running.
    pub fn wait_stopped(&mut self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        let thread = self.thread.as_ref()?;
        while !thread.is_finished() {
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let elapsed = start.elapsed();
        let result = self
            .thread
            .take()
            .unwrap()
            .join()
            .expect("server thread panicked");
        result.expect("Server::run returned an error");
        Some(elapsed)
    }

    /// Asks for graceful shutdown and waits for `run` to return; returns how long it took.
    pub fn stop(&mut self) -> Duration {
        if self.thread.is_none() {
            return Duration::ZERO;
        }
        let _ = self.handle.shutdown();
        self.wait_stopped(TIMEOUT)
            .expect("server did not stop within the time limit")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_none() {
            return;
        }
        let _ = self.handle.shutdown();
        let stopped = self.wait_stopped(TIMEOUT);
        if stopped.is_none() && !std::thread::panicking() {
            panic!("server thread did not stop within {TIMEOUT:?} of shutdown");
        }
    }
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

/// What a [`Recording`] handler saw.
#[derive(Debug, Clone)]
pub enum Event {
    Open(ConnId),
    Message(ConnId, Message<'static>),
    Close(ConnId, CloseEvent<'static>),
    Undelivered(ConnId, Message<'static>, SendError),
    Request(ConnId, String),
}

impl Event {
    pub fn conn(&self) -> ConnId {
        match self {
            Event::Open(c)
            | Event::Message(c, _)
            | Event::Close(c, _)
            | Event::Undelivered(c, _, _)
            | Event::Request(c, _) => *c,
        }
    }
}

/// Wraps a handler: reports every callback to an [`Events`] receiver, then forwards it.
pub struct Recording<H> {
    inner: H,
    tx: Sender<Event>,
}

pub fn recording<H: Handler>(inner: H) -> (Recording<H>, Events) {
    let (tx, rx) = mpsc::channel();
    (
        Recording { inner, tx },
        Events {
            rx,
            log: Vec::new(),
            unconsumed: Vec::new(),
        },
    )
}

impl<H: Handler> Handler for Recording<H> {
    fn on_upgrade(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        request: &UpgradeRequest<'_>,
    ) -> Upgrade {
        self.inner.on_upgrade(ctx, conn, request)
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, conn: ConnId, request: Request) {
        let _ = self
            .tx
            .send(Event::Request(conn, request.target().to_string()));
        self.inner.on_request(ctx, conn, request);
    }

    fn on_open(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        let _ = self.tx.send(Event::Open(conn));
        self.inner.on_open(ctx, conn);
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        let _ = self
            .tx
            .send(Event::Message(conn, message.clone().into_owned()));
        self.inner.on_message(ctx, conn, message);
    }

    fn on_close(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: &CloseEvent<'_>) {
        let _ = self.tx.send(Event::Close(conn, event.clone().into_owned()));
        self.inner.on_close(ctx, conn, event);
    }

    fn on_undelivered(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        message: Message<'static>,
        error: SendError,
    ) {
        let _ = self
            .tx
            .send(Event::Undelivered(conn, message.clone(), error));
        self.inner.on_undelivered(ctx, conn, message, error);
    }
}

/// The receiving end of a [`Recording`] handler.
pub struct Events {
    rx: Receiver<Event>,
    /// Every event received so far, in order.
    log: Vec<Event>,
    /// Events received but not yet returned by `wait_for`.
    unconsumed: Vec<Event>,
}

impl Events {
    /// Waits (at most [`TIMEOUT`]) for the first not-yet-consumed event matching `pick`.
    pub fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        if let Some(i) = self.unconsumed.iter().position(|e| pick(e).is_some()) {
            let event = self.unconsumed.remove(i);
            return pick(&event).unwrap();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(event) => {
                    self.log.push(event.clone());
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                    self.unconsumed.push(event);
                }
                Err(e) => panic!(
                    "no {what} event within {TIMEOUT:?} ({e:?}); events so far: {:?}",
                    self.log
                ),
            }
        }
    }

    /// Asserts no event matching `pick` arrives within `period`.
    pub fn assert_none_within(
        &mut self,
        what: &str,
        period: Duration,
        mut pick: impl FnMut(&Event) -> bool,
    ) {
        if let Some(e) = self.unconsumed.iter().find(|e| pick(e)) {
            panic!("unexpected {what} event: {e:?}");
        }
        let deadline = Instant::now() + period;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(event) => {
                    self.log.push(event.clone());
                    assert!(!pick(&event), "unexpected {what} event: {event:?}");
                    self.unconsumed.push(event);
                }
                Err(_) => return,
            }
        }
    }

    pub fn open(&mut self) -> ConnId {
        self.wait_for("on_open", |e| match e {
            Event::Open(c) => Some(*c),
            _ => None,
        })
    }

    pub fn message(&mut self, conn: ConnId) -> Message<'static> {
        self.wait_for("on_message", |e| match e {
            Event::Message(c, m) if *c == conn => Some(m.clone()),
            _ => None,
        })
    }

    pub fn close(&mut self, conn: ConnId) -> CloseEvent<'static> {
        self.wait_for("on_close", |e| match e {
            Event::Close(c, ev) if *c == conn => Some(ev.clone()),
            _ => None,
        })
    }

    pub fn undelivered(&mut self) -> (ConnId, Message<'static>, SendError) {
        self.wait_for("on_undelivered", |e| match e {
            Event::Undelivered(c, m, err) => Some((*c, m.clone(), *err)),
            _ => None,
        })
    }

    /// Call after the server has stopped (its handler, and so the sender, is dropped):
    /// collects the remaining events and checks the callback contract for every
    /// connection: at most one `on_open`, exactly one `on_close` for it, and nothing
    /// after `on_close`. Returns the whole log.
    pub fn finish(mut self) -> Vec<Event> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(event) => self.log.push(event),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("handler still alive: stop the server first")
                }
            }
        }
        #[derive(Default)]
        struct Seen {
            opens: usize,
            closes: usize,
        }
        let mut seen: HashMap<ConnId, Seen> = HashMap::new();
        for event in &self.log {
            let s = seen.entry(event.conn()).or_default();
            match event {
                Event::Open(c) => {
                    assert_eq!(s.opens, 0, "on_open twice for {c:?}: {:?}", self.log);
                    s.opens += 1;
                }
                Event::Close(c, _) => {
                    assert_eq!(s.opens, 1, "on_close without on_open for {c:?}");
                    assert_eq!(s.closes, 0, "on_close twice for {c:?}: {:?}", self.log);
                    s.closes += 1;
                }
                Event::Message(c, _) => {
                    assert!(
                        s.opens == 1 && s.closes == 0,
                        "on_message outside open..close for {c:?}: {:?}",
                        self.log
                    );
                }
                Event::Undelivered(..) | Event::Request(..) => {}
            }
        }
        for (conn, s) in &seen {
            assert_eq!(
                s.opens, s.closes,
                "{conn:?}: {} on_open, {} on_close",
                s.opens, s.closes
            );
        }
        self.log
    }
}

// ===== tungstenite client =====

pub type WsClient = tungstenite::WebSocket<TcpStream>;

/// A stream to the server with read and write timeouts, so no test can hang on it.
pub fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to test server");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// A tungstenite client connected to `path` (limits raised for the large-message tests).
pub fn ws_connect(addr: SocketAddr, path: &str) -> WsClient {
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let url = format!("ws://{addr}{path}");
    let (ws, response) = tungstenite::client::client_with_config(url, tcp(addr), Some(config))
        .expect("WebSocket handshake");
    assert_eq!(response.status(), 101);
    ws
}

/// Reads the next data message, answering pings on the way (tungstenite does that).
pub fn ws_read_data(ws: &mut WsClient) -> tungstenite::Message {
    loop {
        match ws.read().expect("read from server") {
            m @ (tungstenite::Message::Text(_) | tungstenite::Message::Binary(_)) => return m,
            tungstenite::Message::Close(c) => panic!("unexpected Close: {c:?}"),
            _ => continue,
        }
    }
}

// ===== raw client =====

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
}

/// A TCP client that writes bytes and reads HTTP responses and WebSocket frames by hand.
pub struct RawClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        RawClient {
            stream: tcp(addr),
            buf: Vec::new(),
        }
    }

    /// Connects and completes a WebSocket handshake for `/`.
    pub fn upgrade(addr: SocketAddr) -> RawClient {
        let mut client = RawClient::connect(addr);
        client.send(upgrade_request("/", &[]).as_bytes());
        let response = client.read_response();
        assert_eq!(response.status, 101, "handshake refused: {response:?}");
        client
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
    }

    /// Reads more bytes into the buffer; `Ok(0)` at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    fn take_exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    /// Reads a response head (up to the blank line) without its body.
    pub fn read_response_head(&mut self) -> HttpResponse {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.fill().expect("read response head");
            assert!(
                n > 0,
                "connection closed before a complete response head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        let head = self.take_exact(end).unwrap();
        let head = String::from_utf8(head).expect("ASCII response head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap().to_string();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        assert!(
            status_line.starts_with("HTTP/1.1 "),
            "status line {status_line:?}"
        );
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header line has a colon");
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        HttpResponse {
            status,
            status_line,
            headers,
            body: Vec::new(),
        }
    }

    /// Reads a whole response: the head, then `Content-Length` bytes of body.
    pub fn read_response(&mut self) -> HttpResponse {
        let mut response = self.read_response_head();
        if let Some(len) = response.content_length() {
            response.body = self.take_exact(len).expect("read response body");
        }
        response
    }

    /// Reads one frame; `Ok(None)` at a clean EOF before any byte of it.
    pub fn try_read_frame(&mut self) -> io::Result<Option<Frame>> {
        if self.buf.len() < 2 && self.fill_or_eof(2)? {
            return Ok(None);
        }
        let b0 = self.buf[0];
        let b1 = self.buf[1];
        let masked = b1 & 0x80 != 0;
        let short = (b1 & 0x7f) as usize;
        let ext = match short {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let header_len = 2 + ext + if masked { 4 } else { 0 };
        let header = self.take_exact(header_len)?;
        let len = match short {
            126 => u16::from_be_bytes([header[2], header[3]]) as u64,
            127 => u64::from_be_bytes(header[2..10].try_into().unwrap()),
            n => n as u64,
        };
        let mut payload = self.take_exact(len as usize)?;
        if masked {
            let key = &header[header_len - 4..];
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        Ok(Some(Frame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0b111,
            opcode: b0 & 0x0f,
            masked,
            payload,
        }))
    }

    /// Fills the buffer to at least `n` bytes; `true` if EOF came first with nothing
    /// buffered.
    fn fill_or_eof(&mut self, n: usize) -> io::Result<bool> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                if self.buf.is_empty() {
                    return Ok(true);
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(false)
    }

    /// Reads one frame, failing the test on EOF or error.
    pub fn read_frame(&mut self) -> Frame {
        match self.try_read_frame() {
            Ok(Some(frame)) => {
                assert!(!frame.masked, "server frames must not be masked");
                frame
            }
            Ok(None) => panic!("EOF where a frame was expected"),
            Err(e) => panic!("reading a frame: {e}"),
        }
    }

    /// Reads the next frame and asserts it is a Close; returns its (code, reason).
    pub fn read_close(&mut self) -> Option<(u16, String)> {
        let frame = self.read_frame();
        assert_eq!(frame.opcode, OP_CLOSE, "expected a Close, got {frame:?}");
        frame.close_code()
    }

    /// Asserts that the server closes the TCP connection with nothing more to say.
    pub fn expect_eof(&mut self) {
        assert!(
            self.buf.is_empty(),
            "unexpected bytes before EOF: {:?}",
            self.buf
        );
        let mut chunk = [0u8; 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {}
            Ok(n) => panic!("expected EOF, got {n} bytes: {:?}", &chunk[..n]),
            Err(e) => panic!("expected EOF, got error {e} (kind {:?})", e.kind()),
        }
    }

    /// Reads and discards until EOF; returns how many bytes were discarded.
    pub fn drain_to_eof(&mut self) -> usize {
        let mut total = std::mem::take(&mut self.buf).len();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) => panic!("expected EOF, got error {e} (kind {:?})", e.kind()),
            }
        }
    }
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

/// Forwards to `H`, except that the text message "stall" blocks the event loop for
/// 300 ms. Tests use it to make bytes (and a FIN) pile up so the server reads them in
/// one go.
pub struct Stalling<H>(pub H);

impl<H: Handler> Handler for Stalling<H> {
    fn on_upgrade(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        request: &UpgradeRequest<'_>,
    ) -> Upgrade {
        self.0.on_upgrade(ctx, conn, request)
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, conn: ConnId, request: Request) {
        self.0.on_request(ctx, conn, request);
    }

    fn on_open(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.0.on_open(ctx, conn);
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        if message.as_text() == Some("stall") {
            std::thread::sleep(Duration::from_millis(300));
        } else {
            self.0.on_message(ctx, conn, message);
        }
    }

    fn on_close(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: &CloseEvent<'_>) {
        self.0.on_close(ctx, conn, event);
    }
}

/// Makes a [`Stalling`] server's loop sleep for 300 ms starting about now.
pub fn stall_server(addr: SocketAddr) -> WsClient {
    let mut ws = ws_connect(addr, "/");
    ws.send(tungstenite::Message::text("stall")).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    ws
}

// ===== HTTP helpers and a forwarding tap (HTTP, long-poll and hub tests) =====

impl RawClient {
    /// Bytes read from the socket but not yet consumed by a `read_*` call.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Sends `GET target` (HTTP/1.1, keep-alive) and reads the whole response.
    pub fn get(&mut self, target: &str) -> HttpResponse {
        self.send(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes());
        self.read_response()
    }

    /// Sends `POST target` with `body` (Content-Length framing) and reads the response.
    pub fn post(&mut self, target: &str, body: &[u8]) -> HttpResponse {
        let mut request = format!(
            "POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.send(&request);
        self.read_response()
    }

    /// Asserts that for `period` the server sends nothing and does not close.
    pub fn assert_silent_for(&mut self, period: Duration) {
        assert!(
            self.buf.is_empty(),
            "unexpected buffered bytes: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.stream.set_read_timeout(Some(period)).unwrap();
        let mut chunk = [0u8; 4096];
        let result = self.stream.read(&mut chunk);
        self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        match result {
            Ok(0) => panic!("the server closed the connection within {period:?}"),
            Ok(n) => panic!(
                "unexpected bytes within {period:?}: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("expected silence, got error {e} (kind {:?})", e.kind()),
        }
    }

    /// Reads until EOF and returns every byte not yet consumed (buffered ones included).
    pub fn read_to_eof(&mut self) -> Vec<u8> {
        let mut all = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&chunk[..n]),
                Err(e) => panic!(
                    "expected EOF, got error {e} (kind {:?}) after {:?}",
                    e.kind(),
                    String::from_utf8_lossy(&all)
                ),
            }
        }
    }
}

/// Opens a connection, sends `raw`, and reads one response.
pub fn http_exchange(addr: SocketAddr, raw: &[u8]) -> (RawClient, HttpResponse) {
    let mut client = RawClient::connect(addr);
    client.send(raw);
    let response = client.read_response();
    (client, response)
}

/// `GET target` on a fresh connection.
pub fn http_get(addr: SocketAddr, target: &str) -> HttpResponse {
    RawClient::connect(addr).get(target)
}

/// `POST target` with `body` on a fresh connection.
pub fn http_post(addr: SocketAddr, target: &str, body: &[u8]) -> HttpResponse {
    RawClient::connect(addr).post(target, body)
}

/// What a [`Tap`] saw. Each is reported *after* the wrapped handler's callback returned,
/// so whatever that callback did (parking a request, subscribing) has happened.
#[derive(Debug, Clone)]
pub enum Tapped {
    Request {
        conn: ConnId,
        method: String,
        target: String,
    },
    ParkTimeout(ConnId),
    Abandoned(ConnId),
    Open(ConnId),
    Message(ConnId),
    Close(ConnId),
    Drained(ConnId),
    Notify(u64),
}

/// Wraps a handler and forwards *every* callback to it (unlike [`Recording`], which
/// leaves the long-poll callbacks at their defaults), reporting each to a [`TapEvents`].
pub struct Tap<H> {
    inner: H,
    tx: Sender<Tapped>,
}

pub fn tap<H: Handler>(inner: H) -> (Tap<H>, TapEvents) {
    let (tx, rx) = mpsc::channel();
    (
        Tap { inner, tx },
        TapEvents {
            rx,
            log: Vec::new(),
            unconsumed: Vec::new(),
        },
    )
}

impl<H: Handler> Handler for Tap<H> {
    fn on_upgrade(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        request: &UpgradeRequest<'_>,
    ) -> Upgrade {
        self.inner.on_upgrade(ctx, conn, request)
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, conn: ConnId, request: Request) {
        let method = request.method().to_string();
        let target = request.target().to_string();
        self.inner.on_request(ctx, conn, request);
        let _ = self.tx.send(Tapped::Request {
            conn,
            method,
            target,
        });
    }

    fn on_park_timeout(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.inner.on_park_timeout(ctx, conn);
        let _ = self.tx.send(Tapped::ParkTimeout(conn));
    }

    fn on_request_abandoned(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.inner.on_request_abandoned(ctx, conn);
        let _ = self.tx.send(Tapped::Abandoned(conn));
    }

    fn on_open(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.inner.on_open(ctx, conn);
        let _ = self.tx.send(Tapped::Open(conn));
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        self.inner.on_message(ctx, conn, message);
        let _ = self.tx.send(Tapped::Message(conn));
    }

    fn on_close(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: &CloseEvent<'_>) {
        self.inner.on_close(ctx, conn, event);
        let _ = self.tx.send(Tapped::Close(conn));
    }

    fn on_drained(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.inner.on_drained(ctx, conn);
        let _ = self.tx.send(Tapped::Drained(conn));
    }

    fn on_notify(&mut self, ctx: &mut Context<'_>, token: u64) {
        self.inner.on_notify(ctx, token);
        let _ = self.tx.send(Tapped::Notify(token));
    }

    fn on_undelivered(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        message: Message<'static>,
        error: SendError,
    ) {
        self.inner.on_undelivered(ctx, conn, message, error);
    }
}

/// The receiving end of a [`Tap`].
pub struct TapEvents {
    rx: Receiver<Tapped>,
    log: Vec<Tapped>,
    unconsumed: Vec<Tapped>,
}

impl TapEvents {
    /// Waits (at most [`TIMEOUT`]) for the first not-yet-consumed event matching `pick`.
    pub fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(&Tapped) -> Option<T>) -> T {
        if let Some(i) = self.unconsumed.iter().position(|e| pick(e).is_some()) {
            let event = self.unconsumed.remove(i);
            return pick(&event).unwrap();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(event) => {
                    self.log.push(event.clone());
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                    self.unconsumed.push(event);
                }
                Err(e) => panic!(
                    "no {what} within {TIMEOUT:?} ({e:?}); events so far: {:?}",
                    self.log
                ),
            }
        }
    }

    /// Waits until the handler has processed a request whose target starts with
    /// `target_prefix`; returns its connection.
    pub fn request(&mut self, target_prefix: &str) -> ConnId {
        self.wait_for(&format!("request {target_prefix}"), |e| match e {
            Tapped::Request { conn, target, .. } if target.starts_with(target_prefix) => {
                Some(*conn)
            }
            _ => None,
        })
    }

    /// Waits for `on_request_abandoned` on `conn`.
    pub fn abandoned(&mut self, conn: ConnId) {
        self.wait_for("on_request_abandoned", |e| match e {
            Tapped::Abandoned(c) if *c == conn => Some(()),
            _ => None,
        })
    }

    /// Waits for `on_open`; returns the connection.
    pub fn open(&mut self) -> ConnId {
        self.wait_for("on_open", |e| match e {
            Tapped::Open(c) => Some(*c),
            _ => None,
        })
    }

    /// Asserts no event matching `pick` arrives within `period` (nor is already waiting).
    pub fn assert_none_within(
        &mut self,
        what: &str,
        period: Duration,
        mut pick: impl FnMut(&Tapped) -> bool,
    ) {
        if let Some(e) = self.unconsumed.iter().find(|e| pick(e)) {
            panic!("unexpected {what}: {e:?}");
        }
        let deadline = Instant::now() + period;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(event) => {
                    self.log.push(event.clone());
                    assert!(!pick(&event), "unexpected {what}: {event:?}");
                    self.unconsumed.push(event);
                }
                Err(_) => return,
            }
        }
    }
}
