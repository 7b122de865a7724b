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

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::config::WsLimits;
use crate::message::Message;
use crate::status::Status;
use crate::trace::{Direction, WireTrace};
use crate::ws::SendError;
use crate::ws::client_handshake::{ClientHandshake, ClientHandshakeError};
use crate::ws::close::CloseCode;
use crate::ws::connection::{CloseEvent, WsConnection, WsEvent};

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
        Ok(Client {
            stream,
            ws: WsConnection::client(options.limits, Instant::now(), seed),
            buf,
            filled: filled - head_len,
            out: Vec::new(),
            protocol: accepted.protocol,
            closed: None,
            trace,
        })
    }

    /// The subprotocol the server chose, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The underlying socket (e.g. to set a read timeout).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends a message.
    pub fn send(&mut self, message: &Message<'_>) -> Result<(), ClientError> {
        self.ws.send(message, &mut self.out)?;
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
            let (consumed, event) =
                self.ws
                    .handle_input(&mut self.buf[..self.filled], &mut self.out, Instant::now());
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
