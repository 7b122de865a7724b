//! A blocking WebSocket client over `std::net::TcpStream`, for examples, tests and
//! scripts (and `pushwire client`).
//!
//! It is the same protocol code as the server — [`WsConnection`] in the client role —
//! driven by plain blocking reads and writes instead of an event loop.
//!
//! ```no_run
//! let mut client = pushwire::client::Client::connect("ws://127.0.0.1:9001/")?;
//! client.send_text("hello")?;
//! let reply = client.recv()?;
//! assert_eq!(reply.as_text(), Some("hello"));
//! client.close(pushwire::CloseCode::NORMAL, "done")?;
//! # Ok::<(), pushwire::client::ClientError>(())
//! ```
//!
//! permessage-deflate (RFC 7692) is opt-in: set [`ClientOptions::compression`] and the
//! client offers it; if the server accepts, messages are compressed both ways and
//! [`Client::deflate`] says what was agreed.
//!
//! ```no_run
//! use pushwire::client::{Client, ClientCompression, ClientOptions};
//!
//! let options = ClientOptions {
//!     compression: Some(ClientCompression::memory_light()),
//!     ..ClientOptions::default()
//! };
//! let mut client = Client::connect_with("ws://127.0.0.1:9001/", options)?;
//! if let Some(agreement) = client.deflate() {
//!     println!("compressing, our window 2^{}", agreement.compressor.window_bits);
//! }
//! client.send_text(&"hello ".repeat(1000))?; // goes out compressed if agreed
//! # Ok::<(), pushwire::client::ClientError>(())
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::config::WsLimits;
use crate::deflate::compress::Level;
use crate::message::Message;
use crate::status::Status;
use crate::trace::{Direction, WireTrace};
use crate::ws::SendError;
use crate::ws::client_handshake::{ClientHandshake, ClientHandshakeError};
use crate::ws::close::CloseCode;
use crate::ws::compression::{CodecPools, CompressOptions};
use crate::ws::connection::{CloseEvent, WsConnection, WsEvent};
use crate::ws::permessage_deflate::{Agreement, ClientWindowOffer, DeflateOffer};

/// Why a client operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `ws://host[:port][/path]`.
    BadUrl(String),
    /// The socket failed (including a read timeout).
    Io(io::Error),
    /// The server's handshake response was refused.
    Handshake(ClientHandshakeError),
    /// The connection is closed; the event says how.
    Closed(CloseEvent<'static>),
    /// The call was refused (not open, or a misuse such as an invalid close code).
    Send(SendError),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::BadUrl(why) => write!(f, "bad url: {why}"),
            ClientError::Io(e) => write!(f, "i/o error: {e}"),
            ClientError::Handshake(e) => write!(f, "handshake failed: {e}"),
            ClientError::Closed(c) => write!(f, "connection closed: {} {:?}", c.code, c.reason),
            ClientError::Send(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

impl From<SendError> for ClientError {
    fn from(e: SendError) -> Self {
        ClientError::Send(e)
    }
}

/// Something received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A data message.
    Message(Message<'static>),
    /// A piece of a large message, when [`ClientOptions::limits`] streams messages
    /// (`stream_over`); see [`MessagePart`](crate::message::MessagePart).
    Part {
        /// Text rather than binary.
        is_text: bool,
        /// This piece's bytes.
        data: Vec<u8>,
        /// The message's first piece.
        first: bool,
        /// The message's last piece.
        last: bool,
    },
    /// A ping from the server (already answered).
    Ping(Vec<u8>),
    /// A pong (an answer to our ping).
    Pong(Vec<u8>),
}

/// permessage-deflate from the client's side (RFC 7692): what the client offers, which
/// is negotiated, and how it compresses what it sends, which is not (§7.2.1 leaves each
/// sender free to compress a message or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCompression {
    /// The offer the request makes (§5, §7.1). The server's answer is checked against
    /// it; an answer it does not allow fails the handshake
    /// ([`ClientHandshakeError::BadDeflateResponse`]).
    pub offer: DeflateOffer,
    /// How our messages are compressed once the server agrees.
    pub options: CompressOptions,
}

impl ClientCompression {
    /// What browsers offer (`permessage-deflate; client_max_window_bits`,
    /// [`DeflateOffer::browser`]), and every message compressed at the default level:
    /// the server picks the windows and whether they are kept between messages, so it
    /// can accept with context takeover both ways for the best ratio, at 32 KiB of
    /// window kept per direction on each side.
    pub const fn browser() -> ClientCompression {
        ClientCompression {
            offer: DeflateOffer::browser(),
            options: CompressOptions {
                level: Level::Default,
                min_size: 0,
            },
        }
    }

    /// `permessage-deflate; server_no_context_takeover; client_no_context_takeover`: no
    /// window kept between messages in either direction (§7.1.1.1, §7.1.1.2), so an
    /// idle connection holds no compression state on either side; the fast level, and
    /// messages under 32 bytes left alone. A server that accepts must reset per message
    /// (a server that will not may only decline).
    pub const fn memory_light() -> ClientCompression {
        ClientCompression {
            offer: DeflateOffer {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: None,
                client_max_window_bits: ClientWindowOffer::NotOffered,
            },
            options: CompressOptions {
                level: Level::Fast,
                min_size: 32,
            },
        }
    }
}

impl Default for ClientCompression {
    /// [`ClientCompression::browser`].
    fn default() -> Self {
        ClientCompression::browser()
    }
}

/// Connection options.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Subprotocols to offer, in order of preference.
    pub protocols: Vec<String>,
    /// An `Origin` header to send (browsers always send one; other clients rarely do).
    pub origin: Option<String>,
    /// Limits for what the server sends. Keepalive pings are off by default for the client.
    pub limits: WsLimits,
    /// Connect and handshake timeout.
    pub connect_timeout: Duration,
    /// Write every HTTP head and frame crossing the wire to [`log`](Self::log) (see
    /// [`crate::trace`]).
    pub trace: bool,
    /// Where trace lines go. Default [`Log::stderr`](crate::log::Log::stderr).
    pub log: crate::log::Log,
    /// Offer permessage-deflate (RFC 7692) as this says. Default `None`: nothing is
    /// offered and every message goes out as it is. When the server declines (answers
    /// no extension) the connection runs uncompressed; see [`Client::deflate`].
    pub compression: Option<ClientCompression>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            protocols: Vec::new(),
            origin: None,
            limits: WsLimits {
                ping_interval: None,
                ..WsLimits::default()
            },
            connect_timeout: Duration::from_secs(10),
            trace: false,
            log: crate::log::Log::default(),
            compression: None,
        }
    }
}

/// A parsed `ws://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// Host as written (a name, an IPv4 address, or a bracketed IPv6 address).
    pub host: String,
    /// Port (default 80).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl WsUrl {
    /// Parses `ws://host[:port][/path][?query]` (RFC 6455 §3). `wss://` is refused:
    /// pushwire does not implement TLS.
    pub fn parse(url: &str) -> Result<WsUrl, ClientError> {
        let bad = |why: &str| ClientError::BadUrl(format!("{url:?}: {why}"));
        let rest = if let Some(rest) = url.strip_prefix("ws://") {
            rest
        } else if url.starts_with("wss://") {
            return Err(bad("wss:// needs TLS, which pushwire does not implement"));
        } else {
            return Err(bad("expected ws://host[:port]/path"));
        };
        // §3: "Fragment identifiers are meaningless in the context of WebSocket URIs".
        if rest.contains('#') {
            return Err(bad("a fragment (#...) is not allowed"));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let close = v6.find(']').ok_or_else(|| bad("unclosed ["))?;
            let host = format!("[{}]", &v6[..close]);
            match &v6[close + 1..] {
                "" => (host, 80),
                p => (
                    host,
                    p.strip_prefix(':')
                        .and_then(|p| p.parse().ok())
                        .ok_or_else(|| bad("bad port"))?,
                ),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad("bad port"))?),
                None => (authority.to_string(), 80),
            }
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("no host"));
        }
        if path.bytes().any(|b| !crate::http::token::is_target_byte(b)) {
            return Err(bad(
                "the path has spaces or non-ASCII bytes; percent-encode them",
            ));
        }
        Ok(WsUrl { host, port, path })
    }

    /// The `Host` header value (RFC 9110 §7.2: the port is omitted when it is the default).
    pub fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A blocking WebSocket client.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    ws: WsConnection,
    /// Received bytes not yet consumed (`buf[..filled]`).
    buf: Vec<u8>,
    filled: usize,
    out: Vec<u8>,
    protocol: Option<String>,
    /// permessage-deflate as agreed, from our side.
    deflate: Option<Agreement>,
    /// Scratch the compressor and decompressor borrow per message, kept so that a
    /// compressing client does not allocate it for every message.
    pools: CodecPools,
    closed: Option<CloseEvent<'static>>,
    /// Both directions' traces and where their lines go, when tracing.
    trace: Option<Box<Trace>>,
}

impl Client {
    /// Connects to `url` (`ws://host[:port]/path`) and completes the opening handshake.
    pub fn connect(url: &str) -> Result<Client, ClientError> {
        Self::connect_with(url, ClientOptions::default())
    }

    /// Connects with options.
    pub fn connect_with(url: &str, options: ClientOptions) -> Result<Client, ClientError> {
        let url = WsUrl::parse(url)?;
        let host = url.host.trim_start_matches('[').trim_end_matches(']');
        let addr = (host, url.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| ClientError::BadUrl(format!("{host}: no address")))?;
        let stream = TcpStream::connect_timeout(&addr, options.connect_timeout)?;
        stream.set_nodelay(true)?;
        Self::handshake(stream, &url, options)
    }

    fn handshake(
        mut stream: TcpStream,
        url: &WsUrl,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let mut nonce = [0u8; 16];
        rand::fill(&mut nonce[..]);
        let protocols: Vec<&str> = options.protocols.iter().map(String::as_str).collect();
        let mut hs = ClientHandshake::new(nonce, &protocols);
        if let Some(compression) = &options.compression {
            hs = hs.offer_deflate(compression.offer);
        }
        let mut request = Vec::new();
        hs.write_request(
            &mut request,
            &url.host_header(),
            &url.path,
            options.origin.as_deref(),
        );
        let mut trace = options.trace.then(|| {
            let label = url.host_header();
            Box::new(Trace {
                inbound: WireTrace::new(label.clone(), Direction::In),
                outbound: WireTrace::new(label, Direction::Out),
                log: options.log.clone(),
            })
        });
        trace_bytes(&mut trace, Direction::Out, &request);
        stream.set_read_timeout(Some(options.connect_timeout))?;
        stream.write_all(&request)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut filled = 0;
        let (head_len, accepted) = loop {
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = match stream.read(&mut buf[filled..]) {
                // A signal (or the process being stopped and continued) cut the wait
                // short: nothing was read, wait again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => result?,
            };
            if n == 0 {
                return Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            trace_bytes(&mut trace, Direction::In, &buf[filled..filled + n]);
            filled += n;
            match hs
                .handle_response(&buf[..filled])
                .map_err(ClientError::Handshake)?
            {
                Status::Complete(done) => break done,
                Status::Partial => {}
            }
        };
        stream.set_read_timeout(None)?;
        buf.copy_within(head_len..filled, 0);
        let mut seed = [0u8; 32];
        rand::fill(&mut seed[..]);
        let mut ws = WsConnection::client(options.limits, Instant::now(), seed);
        // The agreement is only ever `Some` when we offered, so compression is set.
        if let (Some(agreement), Some(compression)) = (&accepted.deflate, &options.compression) {
            ws = ws.with_deflate(agreement, compression.options);
        }
        Ok(Client {
            stream,
            ws,
            buf,
            filled: filled - head_len,
            out: Vec::new(),
            protocol: accepted.protocol,
            deflate: accepted.deflate,
            pools: CodecPools::default(),
            closed: None,
            trace,
        })
    }

    /// The subprotocol the server chose, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The permessage-deflate parameters in effect (RFC 7692 §7.1), from the client's
    /// side: `compressor` for what we send, `decompressor` for what the server sends.
    /// `None` when we did not offer it ([`ClientOptions::compression`]) or the server
    /// declined: the connection is uncompressed.
    pub fn deflate(&self) -> Option<&Agreement> {
        self.deflate.as_ref()
    }

    /// The underlying socket (e.g. to set a read timeout).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends a message: masked (RFC 6455 §5.3), and compressed with RSV1 set when
    /// permessage-deflate was agreed and the message is at least
    /// [`CompressOptions::min_size`] long (RFC 7692 §6).
    pub fn send(&mut self, message: &Message<'_>) -> Result<(), ClientError> {
        self.ws
            .send_pooled(message, &mut self.out, &mut self.pools)?;
        self.flush()
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.send(&Message::text(text))
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), ClientError> {
        self.send(&Message::binary(data))
    }

    /// Sends a ping (payload at most 125 bytes).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), ClientError> {
        self.ws.ping(payload, &mut self.out)?;
        self.flush()
    }

    /// Receives the next data message (answering pings and skipping pongs on the way).
    pub fn recv(&mut self) -> Result<Message<'static>, ClientError> {
        loop {
            if let ClientEvent::Message(m) = self.recv_event()? {
                return Ok(m);
            }
        }
    }

    /// Receives the next message, ping or pong. When the connection closes, returns
    /// `Err(ClientError::Closed(event))` (this and every later call).
    pub fn recv_event(&mut self) -> Result<ClientEvent, ClientError> {
        loop {
            if let Some(closed) = &self.closed {
                return Err(ClientError::Closed(closed.clone()));
            }
            let (consumed, event) = self.ws.handle_input_pooled(
                &mut self.buf[..self.filled],
                &mut self.out,
                Instant::now(),
                &mut self.pools,
            );
            let event = event.map(|e| match e {
                WsEvent::Message(m) => Ok(ClientEvent::Message(m.into_owned())),
                WsEvent::Part(p) => Ok(ClientEvent::Part {
                    is_text: p.is_text,
                    data: p.data.to_vec(),
                    first: p.first,
                    last: p.last,
                }),
                WsEvent::Ping(p) => Ok(ClientEvent::Ping(p.to_vec())),
                WsEvent::Pong(p) => Ok(ClientEvent::Pong(p.to_vec())),
                WsEvent::Closed(c) => Err(c.into_owned()),
            });
            self.buf.copy_within(consumed..self.filled, 0);
            self.filled -= consumed;
            self.flush()?;
            match event {
                Some(Ok(event)) => return Ok(event),
                Some(Err(closed)) => {
                    self.finish(closed.clone());
                    return Err(ClientError::Closed(closed));
                }
                None => {}
            }
            if self.filled == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let n = match self.stream.read(&mut self.buf[self.filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                let closed = self.ws.handle_eof().unwrap_or_else(|| CloseEvent {
                    code: CloseCode::ABNORMAL_CLOSURE,
                    reason: "".into(),
                    kind: crate::ws::connection::CloseKind::Abnormal,
                });
                self.finish(closed.clone());
                return Err(ClientError::Closed(closed));
            }
            trace_bytes(
                &mut self.trace,
                Direction::In,
                &self.buf[self.filled..self.filled + n],
            );
            self.filled += n;
        }
    }

    /// Starts the closing handshake without waiting: keep calling
    /// [`recv_event`](Self::recv_event) to receive what the server sent before it saw our
    /// Close, until it returns `Err(ClientError::Closed(..))`.
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), ClientError> {
        self.ws.close(code, reason, &mut self.out, Instant::now())?;
        self.flush()
    }

    /// When the closing handshake we started times out (see
    /// [`ClientOptions::limits`]), `None` while no Close of ours is pending.
    pub fn close_deadline(&self) -> Option<Instant> {
        self.ws.poll_timeout().filter(|_| !self.ws.is_open())
    }

    /// Starts the closing handshake and waits (up to the limits' close timeout) for the
    /// server's Close and its TCP close. Messages that arrive meanwhile are dropped.
    pub fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
    ) -> Result<CloseEvent<'static>, ClientError> {
        if let Some(closed) = &self.closed {
            return Ok(closed.clone());
        }
        self.ws.close(code, reason, &mut self.out, Instant::now())?;
        self.flush()?;
        let deadline = self.ws.poll_timeout().unwrap_or_else(Instant::now);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let closed = self.ws.handle_timeout(Instant::now(), &mut self.out);
                let closed =
                    closed.unwrap_or_else(|| self.ws.handle_eof().expect("not closed yet"));
                self.finish(closed.clone());
                return Ok(closed);
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.recv_event() {
                Ok(_) => {}
                Err(ClientError::Closed(closed)) => return Ok(closed),
                Err(ClientError::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn finish(&mut self, closed: CloseEvent<'static>) {
        // RFC 6455 §7.1.1: the client waits for the server to close TCP first; by now it
        // has (EOF) or will shortly. Reading to EOF briefly avoids a reset.
        let _ = self.flush();
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(500)));
        let mut scratch = [0u8; 1024];
        while matches!(self.stream.read(&mut scratch), Ok(n) if n > 0) {}
        let _ = self.stream.shutdown(Shutdown::Both);
        self.closed = Some(closed);
    }

    fn flush(&mut self) -> Result<(), ClientError> {
        if !self.out.is_empty() {
            trace_bytes(&mut self.trace, Direction::Out, &self.out);
            self.stream.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }
}

/// A client's wire trace: both directions, and the log their lines go to.
#[derive(Debug)]
struct Trace {
    inbound: WireTrace,
    outbound: WireTrace,
    log: crate::log::Log,
}

/// Writes the trace lines for `bytes`, when tracing.
fn trace_bytes(trace: &mut Option<Box<Trace>>, direction: Direction, bytes: &[u8]) {
    let Some(t) = trace else {
        return;
    };
    let mut lines = Vec::new();
    let now = std::time::SystemTime::now();
    match direction {
        Direction::In => t.inbound.feed(bytes, now, &mut lines),
        Direction::Out => t.outbound.feed(bytes, now, &mut lines),
    }
    for line in lines {
        t.log.write(crate::log::Level::Trace, &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_host_port_and_path() {
        let u = WsUrl::parse("ws://example.com/chat?room=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("example.com", 80, "/chat?room=1")
        );
        assert_eq!(u.host_header(), "example.com");
        let u = WsUrl::parse("ws://127.0.0.1:9001").unwrap();
        assert_eq!((u.port, u.path.as_str()), (9001, "/"));
        assert_eq!(u.host_header(), "127.0.0.1:9001");
        let u = WsUrl::parse("ws://[::1]:9001/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("[::1]", 9001));
        let u = WsUrl::parse("ws://h?q").unwrap();
        assert_eq!(u.path, "/?q");
    }

    #[test]
    fn unusable_urls_are_refused_with_a_reason() {
        for url in [
            "http://x/",
            "wss://x/",
            "ws://",
            "ws://x:99999/",
            "ws://x/#frag",
            "ws://x/a b",
        ] {
            assert!(
                matches!(WsUrl::parse(url), Err(ClientError::BadUrl(_))),
                "{url}"
            );
        }
    }
}
