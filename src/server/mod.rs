//! The mio driver: the only part of pushwire that touches sockets or reads the clock.
//!
//! One thread, one `mio::Poll`, edge-triggered. Each turn of the loop:
//!
//! 1. sleeps in `poll` until a socket is ready, a [`Handle`] rings the waker, or the
//!    earliest timer is due;
//! 2. accepts new connections until `WouldBlock`;
//! 3. reads each ready connection until `WouldBlock` (within a fairness budget) into the
//!    one shared read buffer, and feeds the bytes to its protocol state machine, whose
//!    events become [`Handler`] callbacks;
//! 4. runs commands from other threads and due timers;
//! 5. flushes every connection that has output — all frames queued during the turn leave
//!    in one `write` — and reschedules its timer.
//!
//! Backpressure: a connection whose unsent output is at or above the high-water mark is
//! not read (so a peer that sends but never reads cannot make us queue replies without
//! bound), and sends to it fail with [`SendError::Full`](crate::SendError::Full).

mod conn;
mod context;
mod handle;
mod handler;
mod slab;
mod timers;

pub use context::Context;
pub use handle::{Handle, HandleError, HandleErrorKind};
pub use handler::{Handler, Upgrade};
pub use slab::ConnId;

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use conn::{Conn, Phase};
use context::{BufferPool, Core};
use handle::{Command, Commands};
use slab::Slab;
use timers::Timers;

use crate::config::Config;
use crate::http::body::{self, BodyDecoder, BodyFraming};
use crate::http::{HeadParser, HttpError, Request, Response, StatusCode, Version};
use crate::status::Status;
use crate::ws::connection::{CloseEvent, WsConnection, WsEvent};
use crate::ws::handshake;

/// The listening socket's token.
const LISTENER: Token = Token(0);
/// The cross-thread waker's token.
const WAKER: Token = Token(1);
/// Connection tokens are their slab index plus this.
const FIRST_CONN_TOKEN: usize = 2;
/// Reads per connection per turn before others get a go (fairness under a flood).
const READS_PER_TURN: usize = 16;
/// Output at least this large is written as soon as it is queued, not batched to the end
/// of the turn: batching pays off for many small frames, not for bulk data.
const FLUSH_EARLY: usize = 64 * 1024;

/// A WebSocket and HTTP server on one mio event loop.
///
/// ```no_run
/// use pushwire::{Config, Context, ConnId, Handler, Message, Server};
///
/// struct Echo;
/// impl Handler for Echo {
///     fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
///         let _ = ctx.send(conn, &msg);
///     }
/// }
///
/// let mut server = Server::bind("127.0.0.1:9001".parse().unwrap(), Config::default())?;
/// server.run(&mut Echo)?; // until a Handle (server.handle()) asks for shutdown
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Server {
    poll: Poll,
    events: Events,
    listener: Option<TcpListener>,
    local_addr: SocketAddr,
    /// The one read buffer shared by every connection.
    read_buf: Vec<u8>,
    commands: Commands,
    handle: Handle,
    core: Core,
    /// Reused list of this turn's readiness events: (token, readable, read closed, writable).
    ready_events: Vec<(Token, bool, bool, bool)>,
    /// Whether a short read may be taken as "drained" for the connection being read (see
    /// `read_into_buf`).
    short_read_drains: bool,
    /// An empty list kept for swapping with `Core::ready` and `Core::dirty`.
    spare_ids: Vec<ConnId>,
    stopped: bool,
}

impl Server {
    /// Binds `addr` and prepares the loop. `config` is validated here.
    pub fn bind(addr: SocketAddr, config: Config) -> io::Result<Server> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let (handle, commands) = handle::channel(waker, config.command_queue_capacity);
        let registry = poll.registry().try_clone()?;
        let trace = config.trace;
        let mut server = Server {
            poll,
            events: Events::with_capacity(1024),
            listener: Some(listener),
            local_addr,
            read_buf: vec![0; config.read_buffer_size],
            commands,
            handle,
            core: Core {
                conns: Slab::new(),
                timers: Timers::new(),
                config,
                registry,
                now: Instant::now(),
                dirty: Vec::new(),
                ready: Vec::new(),
                pool: BufferPool::default(),
                shutdown_deadline: None,
                traces: None,
            },
            ready_events: Vec::new(),
            short_read_drains: false,
            spare_ids: Vec::new(),
            stopped: false,
        };
        if trace {
            server.core.traces = Some(Default::default());
        }
        Ok(server)
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle for other threads.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Number of connections (in any phase).
    pub fn connection_count(&self) -> usize {
        self.core.conns.len()
    }

    /// Runs the loop until graceful shutdown completes.
    pub fn run(&mut self, handler: &mut impl Handler) -> io::Result<()> {
        while self.poll(handler, None)? {}
        Ok(())
    }

    /// One turn of the loop, sleeping at most `timeout` (and never past the next timer).
    /// Returns `false` once the server has shut down.
    pub fn poll(
        &mut self,
        handler: &mut impl Handler,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        if self.stopped {
            return Ok(false);
        }
        let now = Instant::now();
        let mut wait = self.core.timers.timeout(now);
        if let Some(t) = timeout {
            wait = Some(wait.map_or(t, |w| w.min(t)));
        }
        if !self.core.ready.is_empty() {
            wait = Some(Duration::ZERO);
        }
        if let Some(deadline) = self.core.shutdown_deadline {
            let left = deadline.saturating_duration_since(now);
            wait = Some(wait.map_or(left, |w| w.min(left)));
        }
        match self.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        self.core.now = Instant::now();

        self.ready_events.clear();
        for event in self.events.iter() {
            // Errors and hang-ups surface as a read of 0 bytes or an error: treat them as
            // readable and let the read tell.
            let closed = event.is_read_closed() || event.is_error();
            let readable = event.is_readable() || closed;
            self.ready_events
                .push((event.token(), readable, closed, event.is_writable()));
        }
        let ready_events = std::mem::take(&mut self.ready_events);
        for &(token, readable, closed, writable) in &ready_events {
            match token {
                LISTENER => self.accept(),
                WAKER => {} // commands are drained below, every turn
                Token(t) => {
                    let Some(id) = self.core.conns.id_at((t - FIRST_CONN_TOKEN) as u32) else {
                        continue;
                    };
                    if writable {
                        self.write_ready(id, handler);
                    }
                    if readable {
                        // A FIN that came with the data raises no further edge: then read
                        // on until the end of the stream is seen.
                        self.short_read_drains = !closed;
                        self.read_ready(id, handler);
                    }
                }
            }
        }
        self.ready_events = ready_events;

        // Connections with more to read than one turn's budget, and ones whose
        // backpressure lifted or whose next pipelined request is already buffered.
        // (Lists are swapped with a spare rather than taken, so their capacity is reused
        // and a steady state allocates nothing.)
        let mut again = std::mem::take(&mut self.spare_ids);
        std::mem::swap(&mut again, &mut self.core.ready);
        // No readiness event vouches for these: read until `WouldBlock`.
        self.short_read_drains = false;
        for id in again.drain(..) {
            self.read_ready(id, handler);
        }
        self.spare_ids = again;

        self.run_commands(handler);
        self.run_timers(handler);
        self.drive_shutdown(handler);
        self.flush_dirty(handler);
        Ok(!self.stopped)
    }

    // ===== accepting =====

    fn accept(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        loop {
            let (socket, peer) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ECONNABORTED and friends concern one connection; EMFILE/ENFILE leave the
                // connection in the backlog until a descriptor frees up. Either way the
                // loop goes on.
                Err(_) => return,
            };
            if self.core.conns.len() >= self.core.config.max_connections {
                drop(socket); // over the limit: close at once rather than leave it queued
                continue;
            }
            // Small frames must not wait for Nagle's algorithm.
            let _ = socket.set_nodelay(true);
            let deadline = self.core.now + self.core.config.request_timeout;
            let core = &mut self.core;
            let id = core.conns.insert_with(|_| {
                Conn::new(
                    socket,
                    Phase::ReadingHead {
                        parser: Box::new(HeadParser::new()),
                        deadline,
                    },
                )
            });
            let token = Token(id.index() as usize + FIRST_CONN_TOKEN);
            let conn = core.conns.get_mut(id).expect("just inserted");
            // Both interests, once: edge-triggered readiness costs nothing while idle, and
            // the connection is never re-registered.
            if core
                .registry
                .register(
                    &mut conn.socket,
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_err()
            {
                core.conns.remove(id);
                continue;
            }
            core.mark_dirty(id);
            core.trace_note(id, &format!("accepted from {peer}"));
        }
    }

    // ===== reading =====

    fn read_ready(&mut self, id: ConnId, handler: &mut impl Handler) {
        for _ in 0..READS_PER_TURN {
            let Some(conn) = self.core.conns.get_mut(id) else {
                return;
            };
            if conn.read_paused {
                return;
            }
            let more = match conn.phase {
                Phase::ReadingHead { .. } => self.read_head(id, handler),
                Phase::ReadingBody { .. } => self.read_body(id, handler),
                Phase::AwaitingResponse { .. } => self.read_while_awaiting(id, handler),
                Phase::WebSocket(_) => self.read_websocket(id, handler),
                Phase::Closing { .. } => self.read_discard(id, handler),
            };
            if !more {
                return;
            }
        }
        // Budget spent with data possibly still waiting: edge-triggered readiness will not
        // fire again for it, so come back next turn.
        self.core.ready.push(id);
    }

    /// Reads once from the socket into the shared buffer after `prefix_len` bytes.
    ///
    /// A read that returns less than it was offered has emptied the socket's receive
    /// queue; with edge-triggered readiness, bytes that arrive later raise a new event, so
    /// the connection need not be read again until then — one `recv` → `EAGAIN` saved per
    /// wake-up. (Not when the event also reported the peer's FIN: that raises no new edge.)
    fn read_into_buf(&mut self, id: ConnId, prefix_len: usize) -> ReadOutcome {
        let conn = self.core.conns.get_mut(id).expect("caller checked");
        let offered = self.read_buf.len() - prefix_len;
        loop {
            match conn.socket.read(&mut self.read_buf[prefix_len..]) {
                Ok(0) => return ReadOutcome::Eof,
                Ok(n) => {
                    if self.core.traces.is_some() {
                        let bytes = &self.read_buf[prefix_len..prefix_len + n];
                        self.core.trace(id, crate::trace::Direction::In, bytes);
                    }
                    let drained = self.short_read_drains && n < offered;
                    return ReadOutcome::Data(n, drained);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::WouldBlock,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return ReadOutcome::Eof,
            }
        }
    }

    /// HTTP phase: accumulate the head in `leftover`, parse as it grows. Returns `true`
    /// if the caller should keep reading.
    fn read_head(&mut self, id: ConnId, handler: &mut impl Handler) -> bool {
        // Bytes already buffered (a pipelined request) are parsed before reading more.
        if self.parse_head(id, handler) {
            return true;
        }
        match self.read_into_buf(id, 0) {
            ReadOutcome::Data(n, drained) => {
                let conn = self.core.conns.get_mut(id).expect("caller checked");
                conn.leftover.extend_from_slice(&self.read_buf[..n]);
                // A new phase (an upgrade, say) may have buffered bytes to process.
                self.parse_head(id, handler) || !drained
            }
            ReadOutcome::WouldBlock => false,
            ReadOutcome::Eof => {
                self.peer_finished(id, handler);
                false
            }
        }
    }

    /// The peer's FIN arrived (or its socket failed). A parked request's client has hung
    /// up: drop it. Otherwise the peer may only have half-closed and still be reading, so
    /// deliver what is queued for it, then close.
    fn peer_finished(&mut self, id: ConnId, handler: &mut impl Handler) {
        let Some(conn) = self.core.conns.get_mut(id) else {
            return;
        };
        match &mut conn.phase {
            Phase::AwaitingResponse { .. } => {
                // The client hung up before its answer (a parked long-poll, typically).
                self.remove(id, handler);
                let ctx = &mut Context {
                    core: &mut self.core,
                };
                return handler.on_request_abandoned(ctx, id);
            }
            Phase::ReadingBody { .. } => return self.remove(id, handler),
            Phase::WebSocket(ws) => {
                // RFC 6455 §7.1.5: TCP closed without a Close frame → 1006.
                if let Some(close) = ws.handle_eof() {
                    handler.on_close(
                        &mut Context {
                            core: &mut self.core,
                        },
                        id,
                        &close,
                    );
                }
            }
            Phase::ReadingHead { .. } | Phase::Closing { .. } => {}
        }
        let Some(conn) = self.core.conns.get_mut(id) else {
            return;
        };
        conn.peer_eof = true;
        if conn.pending() == 0 {
            return self.remove(id, handler);
        }
        if !matches!(conn.phase, Phase::Closing { .. }) {
            self.core.begin_closing(id);
        }
        self.core.mark_dirty(id);
    }

    /// Parses the buffered head; on completion hands it on. Returns `true` if the phase
    /// changed (so the caller should look again).
    fn parse_head(&mut self, id: ConnId, handler: &mut impl Handler) -> bool {
        let limits = self.core.config.head_limits();
        let conn = self.core.conns.get_mut(id).expect("caller checked");
        let Phase::ReadingHead { parser, .. } = &mut conn.phase else {
            return false;
        };
        if conn.leftover.is_empty() {
            return false;
        }
        match parser.parse(&conn.leftover, &limits) {
            Ok(Status::Partial) => false,
            Ok(Status::Complete(len)) => {
                let rest = conn.leftover.split_off(len);
                let head_bytes = std::mem::replace(&mut conn.leftover, rest);
                let request = parser
                    .take_request(head_bytes)
                    .expect("parse returned Complete");
                self.on_head(id, request, handler);
                true
            }
            Err(e) => {
                self.reject_http(id, &e);
                true
            }
        }
    }

    /// Answers a malformed request and closes.
    fn reject_http(&mut self, id: ConnId, error: &HttpError) {
        self.respond_and_close(id, Response::from_http_error(error));
    }

    fn respond_and_close(&mut self, id: ConnId, response: Response) {
        let core = &mut self.core;
        let Some(conn) = core.conns.get_mut(id) else {
            return;
        };
        let response = if response.closes_connection() {
            response
        } else {
            response.header("Connection", "close")
        };
        let out = Core::out_buffer(&mut core.pool, conn);
        response.encode(out, false);
        conn.leftover = Vec::new();
        core.begin_closing(id);
    }

    /// A complete request head: upgrade to WebSocket, or hand it to the application.
    fn on_head(&mut self, id: ConnId, request: Request, handler: &mut impl Handler) {
        let head = request.head();
        if handshake::is_upgrade_request(&head) {
            let origins = self.core.config.allowed_origins.clone();
            let upgrade = match handshake::validate_upgrade(&head, origins.as_deref()) {
                Ok(upgrade) => upgrade,
                Err(e) => return self.respond_and_close(id, e.response()),
            };
            if has_body(&request) {
                // RFC 6455 §4.1: the opening handshake is a GET without a body; bytes after
                // the head belong to the WebSocket.
                return self.respond_and_close(
                    id,
                    Response::error(
                        StatusCode::BAD_REQUEST,
                        "a WebSocket upgrade request has no body",
                    ),
                );
            }
            let decision = handler.on_upgrade(
                &mut Context {
                    core: &mut self.core,
                },
                id,
                &upgrade,
            );
            match decision {
                Upgrade::Reject(response) => self.respond_and_close(id, response),
                Upgrade::Accept { protocol } => {
                    // Only a protocol the client offered (and so a token) may be echoed.
                    let protocol = protocol.filter(|p| upgrade.offers_protocol(p));
                    let core = &mut self.core;
                    let Some(conn) = core.conns.get_mut(id) else {
                        return;
                    };
                    let out = Core::out_buffer(&mut core.pool, conn);
                    handshake::write_accept_response(out, upgrade.key, protocol.as_deref());
                    conn.phase = Phase::WebSocket(Box::new(WsConnection::server(
                        core.config.ws_limits(),
                        core.now,
                    )));
                    core.mark_dirty(id);
                    handler.on_open(
                        &mut Context {
                            core: &mut self.core,
                        },
                        id,
                    );
                }
            }
            return;
        }

        // A plain HTTP request: does a body follow? (RFC 9112 §6.3)
        let framing = match body::framing(&head, self.core.config.max_body_bytes) {
            Ok(framing) => framing,
            Err(e) => {
                let response = Response::error(e.status(), &e.to_string());
                return self.respond_and_close(id, response);
            }
        };
        if matches!(framing, BodyFraming::None) {
            return self.dispatch_request(id, request, handler);
        }
        let expects_continue =
            head.version() == Version::Http11 && head.has_token("expect", "100-continue");
        let core = &mut self.core;
        let Some(conn) = core.conns.get_mut(id) else {
            return;
        };
        if expects_continue {
            // RFC 9110 §10.1.1: the client waits for this before sending the body.
            Core::out_buffer(&mut core.pool, conn)
                .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let deadline = match conn.phase {
            Phase::ReadingHead { deadline, .. } => deadline,
            _ => core.now + core.config.request_timeout,
        };
        conn.phase = Phase::ReadingBody {
            request: Box::new(request),
            decoder: BodyDecoder::new(framing, core.config.max_body_bytes),
            body: Vec::new(),
            deadline,
        };
        // Body bytes may have arrived with the head.
        let buffered = std::mem::take(&mut conn.leftover);
        core.mark_dirty(id);
        self.feed_body(id, &buffered, handler);
    }

    /// Feeds received bytes to the body decoder; hands the request on when complete.
    /// Bytes after the body (a pipelined request) go back to `leftover`.
    fn feed_body(&mut self, id: ConnId, input: &[u8], handler: &mut impl Handler) {
        let Some(conn) = self.core.conns.get_mut(id) else {
            return;
        };
        let Phase::ReadingBody { decoder, body, .. } = &mut conn.phase else {
            conn.leftover.extend_from_slice(input);
            return;
        };
        match decoder.decode(input, body) {
            Ok((_, Status::Partial)) => {}
            Ok((used, Status::Complete(()))) => {
                conn.leftover.extend_from_slice(&input[used..]);
                let placeholder = Phase::Closing {
                    deadline: self.core.now,
                };
                let Phase::ReadingBody {
                    mut request, body, ..
                } = std::mem::replace(&mut conn.phase, placeholder)
                else {
                    unreachable!("matched above");
                };
                request.set_body(body);
                self.dispatch_request(id, *request, handler);
            }
            Err(e) => {
                // Malformed or oversized framing: answer and close — the rest of the
                // stream cannot be trusted to start a request (no smuggling).
                let response = Response::error(e.status(), &e.to_string());
                self.respond_and_close(id, response);
            }
        }
    }

    /// Hands a complete request to the application.
    fn dispatch_request(&mut self, id: ConnId, request: Request, handler: &mut impl Handler) {
        let head = request.head();
        let (keep_alive, announce_keep_alive) = match head.version() {
            // RFC 9112 §9.3: HTTP/1.1 connections persist unless `Connection: close`.
            Version::Http11 => (!head.has_token("connection", "close"), false),
            // HTTP/1.0 connections close after the response unless the client asks for
            // keep-alive, and then the response must agree explicitly.
            Version::Http10 => {
                let asked = head.has_token("connection", "keep-alive");
                (asked, asked)
            }
        };
        let head_only = head.method() == "HEAD";
        let core = &mut self.core;
        if let Some(conn) = core.conns.get_mut(id) {
            conn.phase = Phase::AwaitingResponse {
                keep_alive,
                head_only,
                announce_keep_alive,
                parked_until: None,
            };
        }
        core.mark_dirty(id);
        handler.on_request(
            &mut Context {
                core: &mut self.core,
            },
            id,
            request,
        );
    }

    /// Body phase: decode straight from the shared read buffer.
    fn read_body(&mut self, id: ConnId, handler: &mut impl Handler) -> bool {
        match self.read_into_buf(id, 0) {
            ReadOutcome::Data(n, drained) => {
                let input = self.read_buf[..n].to_vec();
                self.feed_body(id, &input, handler);
                !drained
            }
            ReadOutcome::WouldBlock => false,
            ReadOutcome::Eof => {
                // The body can no longer complete.
                self.remove(id, handler);
                false
            }
        }
    }

    /// While the application prepares a response, pipelined bytes are buffered (up to the
    /// head limit) and a hang-up is noticed.
    fn read_while_awaiting(&mut self, id: ConnId, handler: &mut impl Handler) -> bool {
        let limit = self.core.config.max_head_bytes;
        let conn = self.core.conns.get_mut(id).expect("caller checked");
        if conn.leftover.len() >= limit {
            conn.read_paused = true;
            return false;
        }
        match self.read_into_buf(id, 0) {
            ReadOutcome::Data(n, drained) => {
                let conn = self.core.conns.get_mut(id).expect("caller checked");
                conn.leftover.extend_from_slice(&self.read_buf[..n]);
                !drained
            }
            ReadOutcome::WouldBlock => false,
            ReadOutcome::Eof => {
                self.peer_finished(id, handler);
                false
            }
        }
    }

    /// WebSocket phase: leftover + fresh bytes in the shared buffer, fed to the protocol.
    fn read_websocket(&mut self, id: ConnId, handler: &mut impl Handler) -> bool {
        let conn = self.core.conns.get_mut(id).expect("caller checked");
        let prefix = conn.leftover.len();
        if prefix > 0 {
            // Usually an incomplete frame header or control frame (a few bytes); after a
            // backpressure pause, the unprocessed rest of an earlier read.
            self.read_buf[..prefix].copy_from_slice(&conn.leftover);
            conn.leftover = Vec::new();
            if prefix > self.read_buf.len() / 2 {
                // Work through the backlog before reading more.
                self.feed_websocket(id, prefix, handler);
                return true;
            }
        }
        let (filled, more) = match self.read_into_buf(id, prefix) {
            ReadOutcome::Data(n, drained) => (prefix + n, !drained),
            ReadOutcome::WouldBlock => (prefix, false),
            ReadOutcome::Eof => {
                // Frames already read are handled first (a Close, say); then the FIN.
                self.feed_websocket(id, prefix, handler);
                self.peer_finished(id, handler);
                return false;
            }
        };
        self.feed_websocket(id, filled, handler);
        more
    }

    /// Feeds `read_buf[..filled]` to the connection's protocol state machine and
    /// dispatches its events; keeps what it does not consume.
    ///
    /// Backpressure works at message granularity: once the connection's unsent output
    /// reaches the high-water mark, no further message is delivered and reading pauses.
    /// The rest of the input waits in `leftover` until the peer has read enough. So a
    /// handler that answers each message with one send never meets `SendError::Full`.
    fn feed_websocket(&mut self, id: ConnId, filled: usize, handler: &mut impl Handler) {
        let high_water = self.core.config.write_buffer_high_water;
        let mut pos = 0;
        while pos < filled {
            let core = &mut self.core;
            let Some(conn) = core.conns.get_mut(id) else {
                return;
            };
            if conn.pending() >= high_water {
                conn.read_paused = true;
                break;
            }
            let Phase::WebSocket(ws) = &mut conn.phase else {
                return;
            };
            if conn.out.capacity() == 0 {
                conn.out = core.pool.take();
            }
            let (consumed, event) =
                ws.handle_input(&mut self.read_buf[pos..filled], &mut conn.out, core.now);
            pos += consumed;
            if !conn.out.is_empty() {
                core.mark_dirty(id);
            }
            let Some(event) = event else {
                break;
            };
            let ctx = &mut Context {
                core: &mut self.core,
            };
            match event {
                WsEvent::Message(message) => handler.on_message(ctx, id, message),
                WsEvent::Part(part) => handler.on_message_part(ctx, id, part),
                WsEvent::Ping(_) | WsEvent::Pong(_) => {}
                WsEvent::Closed(close) => {
                    handler.on_close(ctx, id, &close);
                    self.core.begin_closing(id);
                    return;
                }
            }
        }
        let Some(conn) = self.core.conns.get_mut(id) else {
            return;
        };
        if pos < filled {
            conn.leftover.extend_from_slice(&self.read_buf[pos..filled]);
        }
        if conn.pending() >= FLUSH_EARLY {
            // Large output leaves now rather than at the end of the turn: the peer can
            // start reading while we read on, and the buffer stays small.
            self.flush(id, handler);
        }
    }

    /// Closing phase: our FIN is out (or about to be); discard until the peer's FIN.
    fn read_discard(&mut self, id: ConnId, handler: &mut impl Handler) -> bool {
        let conn = self.core.conns.get_mut(id).expect("caller checked");
        if conn.peer_eof {
            return false; // waiting only for our output to drain
        }
        match self.read_into_buf(id, 0) {
            ReadOutcome::Data(_, drained) => !drained,
            ReadOutcome::WouldBlock => false,
            ReadOutcome::Eof => {
                self.peer_finished(id, handler);
                false
            }
        }
    }

    // ===== writing =====

    fn write_ready(&mut self, id: ConnId, handler: &mut impl Handler) {
        self.flush(id, handler);
    }

    /// Writes queued output, applies backpressure, half-closes a finished connection.
    fn flush(&mut self, id: ConnId, handler: &mut impl Handler) {
        let core = &mut self.core;
        let Some(conn) = core.conns.get_mut(id) else {
            return;
        };
        let traced = core.traces.is_some().then(|| conn.pending_copy());
        let before = conn.pending();
        let flushed = conn.flush();
        let written = before - conn.pending();
        if let Some(bytes) = traced {
            core.trace(id, crate::trace::Direction::Out, &bytes[..written]);
        }
        let Some(conn) = core.conns.get_mut(id) else {
            return;
        };
        if flushed.is_err() {
            self.remove(id, handler);
            return;
        }
        let pending = conn.pending();
        if pending == 0 && conn.out.capacity() > 0 {
            core.pool.give(std::mem::take(&mut conn.out));
        }
        let high_water = core.config.write_buffer_high_water;
        if !matches!(conn.phase, Phase::Closing { .. }) {
            if pending >= high_water {
                conn.read_paused = true;
            } else if conn.read_paused && pending <= high_water / 2 {
                // Below the low-water mark: read again. Bytes may have arrived meanwhile
                // without a new readiness edge, so look now rather than wait.
                conn.read_paused = false;
                core.ready.push(id);
            }
        }
        if conn.send_refused && pending <= high_water / 2 {
            conn.send_refused = false;
            handler.on_drained(
                &mut Context {
                    core: &mut self.core,
                },
                id,
            );
            let Some(conn) = self.core.conns.get_mut(id) else {
                return;
            };
            if conn.pending() > 0 {
                // What the handler sent goes out at the end of this turn.
                self.core.mark_dirty(id);
            }
        }
        let core = &mut self.core;
        let Some(conn) = core.conns.get_mut(id) else {
            return;
        };
        if pending == 0 && matches!(conn.phase, Phase::Closing { .. }) && conn.peer_eof {
            // Both directions are done.
            self.remove(id, handler);
            return;
        }
        if pending == 0 && matches!(conn.phase, Phase::Closing { .. }) && !conn.write_shut {
            // RFC 6455 §7.1.1: the server closes the TCP connection first. Sending our FIN
            // now (after the last byte) and closing once the peer's FIN arrives avoids a
            // reset that could discard our final bytes.
            conn.write_shut = true;
            if conn.socket.shutdown(std::net::Shutdown::Write).is_err() {
                self.remove(id, handler);
                return;
            }
            // The peer may already have closed: look for its FIN now.
            core.ready.push(id);
        }
    }

    fn flush_dirty(&mut self, handler: &mut impl Handler) {
        // Flushing can make more connections dirty (a removal calls on_close, which may
        // send), so loop until the list stays empty.
        while !self.core.dirty.is_empty() {
            let mut dirty = std::mem::take(&mut self.spare_ids);
            std::mem::swap(&mut dirty, &mut self.core.dirty);
            for id in dirty.drain(..) {
                if let Some(conn) = self.core.conns.get_mut(id) {
                    conn.dirty = false;
                } else {
                    continue;
                }
                self.flush(id, handler);
                self.reschedule(id);
            }
            self.spare_ids = dirty;
        }
    }

    // ===== timers =====

    /// Makes sure the timer heap will wake us for the connection's next deadline.
    fn reschedule(&mut self, id: ConnId) {
        let core = &mut self.core;
        let Some(conn) = core.conns.get_mut(id) else {
            return;
        };
        let Some(deadline) = conn.deadline() else {
            return;
        };
        // An entry already waiting at or before the deadline will wake us in time; when
        // it comes due, the deadline is looked up afresh (lazy deletion).
        if conn.timer_at.is_none_or(|at| deadline < at) {
            conn.timer_at = Some(deadline);
            core.timers.push(deadline, id);
        }
    }

    fn run_timers(&mut self, handler: &mut impl Handler) {
        let now = self.core.now;
        while let Some((at, id)) = self.core.timers.pop_due(now) {
            let core = &mut self.core;
            let Some(conn) = core.conns.get_mut(id) else {
                continue;
            };
            if conn.timer_at != Some(at) {
                continue; // superseded by an earlier entry that already ran
            }
            conn.timer_at = None;
            match &mut conn.phase {
                Phase::ReadingHead { deadline, .. } if now >= *deadline => {
                    if conn.leftover.is_empty() {
                        // An idle keep-alive connection (or one that never spoke): close quietly.
                        self.remove(id, handler);
                    } else {
                        // RFC 9110 §15.5.9: the head did not arrive in time (slowloris).
                        let response = Response::error(
                            StatusCode::REQUEST_TIMEOUT,
                            "the request head did not arrive in time",
                        );
                        self.respond_and_close(id, response);
                    }
                    continue;
                }
                Phase::ReadingBody { deadline, .. } if now >= *deadline => {
                    let response = Response::error(
                        StatusCode::REQUEST_TIMEOUT,
                        "the request body did not arrive in time",
                    );
                    self.respond_and_close(id, response);
                    continue;
                }
                Phase::AwaitingResponse { parked_until, .. }
                    if parked_until.is_some_and(|t| now >= t) =>
                {
                    *parked_until = None;
                    core.mark_dirty(id);
                    handler.on_park_timeout(
                        &mut Context {
                            core: &mut self.core,
                        },
                        id,
                    );
                    continue;
                }
                Phase::Closing { deadline } if now >= *deadline => {
                    self.remove(id, handler);
                    continue;
                }
                Phase::WebSocket(ws) => {
                    if conn.out.capacity() == 0 {
                        conn.out = core.pool.take();
                    }
                    if let Some(close) = ws.handle_timeout(now, &mut conn.out) {
                        // Timeouts mean the peer is unresponsive: drop TCP now.
                        self.remove_after_close(id, &close, handler);
                        continue;
                    }
                }
                _ => {}
            }
            core.mark_dirty(id);
        }
    }

    // ===== commands from other threads =====

    fn run_commands(&mut self, handler: &mut impl Handler) {
        let mut queued = Vec::new();
        self.commands.drain(|cmd| queued.push(cmd));
        for cmd in queued {
            let ctx = &mut Context {
                core: &mut self.core,
            };
            match cmd {
                Command::Send(id, message) => {
                    if let Err(e) = ctx.send(id, &message) {
                        handler.on_undelivered(ctx, id, message, e);
                    }
                }
                Command::Broadcast(message) => {
                    ctx.broadcast(&message);
                }
                Command::Close(id, code, reason) => {
                    // Arguments were checked by `Handle::close`; a connection that is gone
                    // or already closing needs nothing more.
                    let _ = ctx.close(id, code, &reason);
                }
                Command::Respond(id, response) => {
                    // A client that left meanwhile needs no answer.
                    let _ = ctx.respond(id, response);
                }
                Command::Notify(token) => handler.on_notify(ctx, token),
                Command::Shutdown => ctx.shutdown(),
            }
        }
    }

    // ===== shutdown and removal =====

    fn drive_shutdown(&mut self, handler: &mut impl Handler) {
        let Some(deadline) = self.core.shutdown_deadline else {
            return;
        };
        if let Some(mut listener) = self.listener.take() {
            // First turn of the shutdown: stop accepting, say goodbye to everyone.
            let _ = self.core.registry.deregister(&mut listener);
            drop(listener);
            for id in self.core.conns.ids() {
                match self.phase_kind(id) {
                    Some(PhaseKind::WebSocket) => {
                        let ctx = &mut Context {
                            core: &mut self.core,
                        };
                        let _ =
                            ctx.close(id, crate::ws::CloseCode::GOING_AWAY, "server shutting down");
                    }
                    // Nothing was asked yet: nothing to finish.
                    Some(PhaseKind::ReadingHead) => self.remove(id, handler),
                    // A parked request is due now: the handler answers it (204 by
                    // default) in the next turn, and the connection then closes.
                    Some(PhaseKind::AwaitingResponse) => {
                        let now = self.core.now;
                        if let Some(conn) = self.core.conns.get_mut(id)
                            && let Phase::AwaitingResponse { parked_until, .. } = &mut conn.phase
                            && parked_until.is_some()
                        {
                            *parked_until = Some(now);
                            self.core.mark_dirty(id);
                        }
                    }
                    // A closing connection finishes on its own.
                    _ => {}
                }
            }
        }
        // Connections that said everything (output flushed, FIN sent) need not linger for
        // the peer's FIN while the server is going away.
        for id in self.core.conns.ids() {
            if let Some(conn) = self.core.conns.get(id)
                && matches!(conn.phase, Phase::Closing { .. })
                && conn.write_shut
                && conn.pending() == 0
            {
                self.remove(id, handler);
            }
        }
        if self.core.conns.is_empty() || self.core.now >= deadline {
            for id in self.core.conns.ids() {
                self.remove(id, handler);
            }
            self.stopped = true;
        }
    }

    fn phase_kind(&self, id: ConnId) -> Option<PhaseKind> {
        self.core.conns.get(id).map(|c| match c.phase {
            Phase::ReadingHead { .. } => PhaseKind::ReadingHead,
            Phase::ReadingBody { .. } => PhaseKind::ReadingHead,
            Phase::AwaitingResponse { .. } => PhaseKind::AwaitingResponse,
            Phase::WebSocket(_) => PhaseKind::WebSocket,
            Phase::Closing { .. } => PhaseKind::Closing,
        })
    }

    /// Drops a connection now, telling the handler if its WebSocket was still open.
    fn remove(&mut self, id: ConnId, handler: &mut impl Handler) {
        let Some(mut conn) = self.core.conns.remove(id) else {
            return;
        };
        self.core.trace_note(id, "removed (TCP closed)");
        // Closing the socket (when `conn` drops) removes it from the poller: no
        // `deregister` system call needed.
        self.core.pool.give(std::mem::take(&mut conn.out));
        if let Phase::WebSocket(ws) = &mut conn.phase
            && let Some(close) = ws.handle_eof()
        {
            handler.on_close(
                &mut Context {
                    core: &mut self.core,
                },
                id,
                &close,
            );
        }
    }

    fn remove_after_close(
        &mut self,
        id: ConnId,
        close: &CloseEvent<'_>,
        handler: &mut impl Handler,
    ) {
        if let Some(mut conn) = self.core.conns.remove(id) {
            self.core.trace_note(id, "removed (TCP closed)");
            self.core.pool.give(std::mem::take(&mut conn.out));
        }
        handler.on_close(
            &mut Context {
                core: &mut self.core,
            },
            id,
            close,
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PhaseKind {
    ReadingHead,
    AwaitingResponse,
    WebSocket,
    Closing,
}

enum ReadOutcome {
    /// Bytes read, and whether the receive queue is known to be empty now.
    Data(usize, bool),
    WouldBlock,
    Eof,
}

/// Does the request announce a body (RFC 9112 §6.3)?
fn has_body(request: &Request) -> bool {
    let head = request.head();
    if head.header("transfer-encoding").is_some() {
        return true;
    }
    match head.header("content-length") {
        None => false,
        Some(v) => v != b"0",
    }
}
