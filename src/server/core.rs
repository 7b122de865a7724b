//! The server without its sockets: every connection's protocol state, its buffers, its
//! timers, and the calls into the [`Handler`].
//!
//! The core never reads a socket or the clock. A driver — the mio loop in
//! [`driver`](super::driver), or the in-memory one in [`crate::pair`] — tells it what
//! happened (bytes were read into a connection's buffer, bytes were written, the peer
//! sent its FIN, time passed) and asks it what to do (is there output, is a FIN due,
//! does the connection want input, when is the next deadline). Everything in between —
//! which protocol a connection speaks, handing an upgraded connection from its
//! [`Session`] to its [`WsConnection`], backpressure, closing, shutdown — is decided here,
//! once, for every driver.

use std::collections::HashMap;
use std::io::{ErrorKind, IoSlice};
// An address is a value, not a socket: `core::net` has the types and no IO.
use core::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::access::AccessBook;
use super::conn::{Conn, Flags, Protocol};
use super::context::Context;
use super::handle::{Command, Commands};
use super::handler::{Handler, Upgrade};
use super::ids::{ConnId, RequestId};
use super::input::ReadPool;
use super::outbound::{DisconnectReason, OutboundState};
use super::output::{BufferPool, MAX_IOVECS, OutputBuffer, SHARE_MIN};
use super::slab::Slab;
use super::stats::{ConnectionCounts, Stats};
use super::timers::Timers;
use super::transport::Transport;
use crate::config::{Config, ConfigError, WsLimits};
use crate::error::{ConnectError, SendError};
use crate::http::StatusCode;
use crate::log::{Level, Log};
use crate::session::{
    CHUNK_HEAD_MAX, Event, ExchangeError, OwnAnswer, Phase, Session, SessionConfig,
};
use crate::trace::{self, Direction, WireTrace};
use crate::ws::compression::{CodecPools, CompressionStats, SharedFrame, SharedMessage};
use crate::ws::connection::{CloseEvent, WsConnection, WsEvent};
use crate::ws::frame::FrameHeader;

/// Output at least this large is written as soon as it is queued, not batched to the end
/// of the turn: batching pays off for many small frames, not for bulk data.
const FLUSH_EARLY: usize = 64 * 1024;
/// Reads per connection per turn before others get a go (fairness under a flood).
const READS_PER_TURN: usize = 16;
/// Input one connection may have processed in one go before the rest waits for the next
/// turn (one read buffer's worth): a client that pipelines a thousand costly requests
/// (or WebSocket messages) gets them handled a slice at a time, between everyone else's,
/// instead of holding the loop until they are all done.
const PROCESS_BUDGET: usize = 256 * 1024;

/// The loop's state that handlers act on through [`Context`].
#[derive(Debug)]
pub(crate) struct Core {
    conns: Slab<Conn>,
    timers: Timers,
    config: Config,
    session_config: Arc<SessionConfig>,
    ws_limits: WsLimits,
    /// The time of this turn of the loop, as the driver last said.
    now: Instant,
    /// The calendar time of this turn, for what is dated outside the process (the
    /// expiry of access tokens): read with `now`, never used to measure intervals.
    wall: SystemTime,
    /// Connections to flush and reschedule at the end of the turn.
    dirty: Vec<ConnId>,
    /// Connections to look at again without waiting for a readiness event: their read
    /// budget ran out, backpressure lifted, or their next request is already buffered.
    ready: Vec<ConnId>,
    /// Connections removed since the driver last asked: their sockets are to be closed.
    closed: Vec<ConnId>,
    /// Outbound connections whose connect the driver is to begin at the end of the turn:
    /// the core has no sockets, so [`Context::connect`] only records them.
    connects: Vec<(ConnId, SocketAddr)>,
    /// `on_disconnected` owed for outbound connections the handler closed (told in the
    /// same turn, never from inside the handler's own call).
    disconnects: Vec<(ConnId, DisconnectReason)>,
    /// Connections in the table that are outbound (connecting or open): they do not count
    /// against `max_connections`, and graceful shutdown does not wait for them.
    outbound: usize,
    out_pool: BufferPool,
    read_pool: ReadPool,
    /// Compression scratch, lent to one connection's message at a time.
    codec_pools: CodecPools,
    /// Set when graceful shutdown begins: the instant it must be over.
    shutdown_deadline: Option<Instant>,
    /// When the handler asked to be woken ([`Context::wake_at`]).
    handler_wake: Option<Instant>,
    /// Whether the first turn of the shutdown (goodbyes to everyone) has run.
    shutdown_started: bool,
    /// Per-connection wire traces, when `Config::trace` is on.
    traces: Option<HashMap<ConnId, [WireTrace; 2]>>,
    /// What the server has counted (see [`Stats`]).
    stats: Stats,
    /// The access log's records, when `Config::access_log` is on.
    access: Option<AccessBook>,
    /// An empty list kept for swapping with the others.
    spare_ids: Vec<ConnId>,
}

/// Puts `id` on the list to process again next turn, unless it is on it already. Takes
/// the flags alone, like [`mark_dirty`]. Every connection is on it at most once: a
/// pipelining client whose answers each asked for another look would otherwise be
/// listed once per answer, and processed — a fresh budget each time — as many times in
/// the next turn, holding the loop longer turn after turn.
fn mark_ready(ready: &mut Vec<ConnId>, flags: &mut Flags, id: ConnId) {
    if !flags.ready {
        flags.ready = true;
        ready.push(id);
    }
}

/// Puts `id` on the end-of-turn list (flush output, reschedule timer). Takes the flags
/// alone, so a caller may hold the connection's protocol state meanwhile.
fn mark_dirty(dirty: &mut Vec<ConnId>, flags: &mut Flags, id: ConnId) {
    if !flags.dirty {
        flags.dirty = true;
        dirty.push(id);
    }
}

/// `SendError::Full` (with `on_drained` owed) while a connection's unsent output is at
/// the high-water mark: the backpressure check every send shares. Takes the output and
/// the flags alone, so a caller may hold the protocol state meanwhile.
fn refuse_if_full(
    output: &OutputBuffer,
    flags: &mut Flags,
    high_water: usize,
) -> Result<(), SendError> {
    if output.pending() >= high_water {
        flags.send_refused = true;
        return Err(SendError::Full);
    }
    Ok(())
}

/// Queues `message` after `output` for `ws` ([`WsConnection::send_shared`]): a large
/// payload by reference, a small one copied (a segment costs more than a short copy), or
/// the connection's own encoding of it when it cannot share.
fn queue_shared_message(
    ws: &mut WsConnection,
    output: &mut OutputBuffer,
    message: &mut SharedMessage,
    out_pool: &mut BufferPool,
    codec_pools: &mut CodecPools,
) -> Result<(), SendError> {
    let mut head = [0u8; FrameHeader::MAX_LEN];
    match ws.send_shared(message, &mut head, codec_pools)? {
        SharedFrame::Shared { head_len, payload } if payload.len() >= SHARE_MIN => {
            output.queue_shared(&head[..head_len], payload);
        }
        SharedFrame::Shared { head_len, payload } => {
            let out = output.writer_with_room(out_pool, head_len + payload.len());
            out.extend_from_slice(&head[..head_len]);
            out.extend_from_slice(&payload);
        }
        SharedFrame::Own => {
            // Compressed, its size is not known beforehand (see `ws_sendable`).
            let room = if ws.compresses(message.len()) {
                0
            } else {
                FrameHeader::MAX_LEN + message.len()
            };
            let out = output.writer_with_room(out_pool, room);
            ws.send_pooled(&message.as_message(), out, codec_pools)?;
        }
    }
    Ok(())
}

/// The checks every WebSocket data send makes, in this order, with one look-up: `Gone`
/// for no such connection, `NotOpen` unless it is an open WebSocket, then `Full` at its
/// high-water mark (and `on_drained` is owed). Takes the table alone, so the caller
/// keeps the core's other fields (the dirty list, the pool) to finish the send.
fn open_websocket<'c>(
    conns: &'c mut Slab<Conn>,
    id: ConnId,
    config: &Config,
) -> Result<(&'c mut WsConnection, &'c mut OutputBuffer, &'c mut Flags), SendError> {
    let conn = conns.get_mut(id).ok_or(SendError::Gone)?;
    let Conn {
        protocol,
        output,
        flags,
        ..
    } = conn;
    let Protocol::WebSocket(ws) = protocol else {
        return Err(SendError::NotOpen);
    };
    if !ws.is_open() {
        return Err(SendError::NotOpen);
    }
    refuse_if_full(output, flags, config.write_buffer_high_water)?;
    Ok((ws, output, flags))
}

pub(crate) fn exchange_error(e: ExchangeError) -> SendError {
    match e {
        ExchangeError::Stale => SendError::Gone,
        ExchangeError::WrongState => SendError::NotOpen,
        ExchangeError::NotFinal => SendError::Usage(crate::error::UsageError::NotFinalStatus),
    }
}

impl Core {
    /// A core for `config`, validated here, as of `now`.
    pub(crate) fn new(config: Config, now: Instant) -> Result<Core, ConfigError> {
        config.validate()?;
        Ok(Core {
            conns: Slab::new(),
            timers: Timers::new(),
            session_config: Arc::new(config.session_config()),
            ws_limits: config.ws_limits(),
            now,
            wall: SystemTime::UNIX_EPOCH,
            dirty: Vec::new(),
            ready: Vec::new(),
            closed: Vec::new(),
            connects: Vec::new(),
            disconnects: Vec::new(),
            outbound: 0,
            out_pool: BufferPool::default(),
            read_pool: ReadPool::new(config.read_buffer_size),
            codec_pools: CodecPools::default(),
            shutdown_deadline: None,
            handler_wake: None,
            shutdown_started: false,
            traces: config.trace.then(HashMap::new),
            stats: Stats::default(),
            access: AccessBook::new(config.access_log),
            spare_ids: Vec::new(),
            config,
        })
    }

    // ===== getters =====

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn log(&self) -> &Log {
        &self.config.log
    }

    pub(crate) fn now(&self) -> Instant {
        self.now
    }

    pub(crate) fn wall(&self) -> SystemTime {
        self.wall
    }

    /// The driver's clock readings for this turn: the monotonic one that deadlines are
    /// measured on, and the calendar one.
    pub(crate) fn set_now(&mut self, now: Instant, wall: SystemTime) {
        self.now = now;
        self.wall = wall;
    }

    /// Connections in any phase.
    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }

    /// Unsent bytes of `id` (0 for an unknown id).
    pub(crate) fn pending(&self, id: ConnId) -> usize {
        self.conns.get(id).map_or(0, |c| c.output.pending())
    }

    /// `true` once graceful shutdown has begun: accept nothing more.
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown_deadline.is_some()
    }

    /// What the server has counted.
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// What the server has compressed (permessage-deflate).
    pub(crate) fn compression_stats(&self) -> CompressionStats {
        self.codec_pools.stats()
    }

    /// The connections now, by transport and state: a walk over the table.
    pub(crate) fn connection_counts(&self) -> ConnectionCounts {
        let mut counts = ConnectionCounts::default();
        for conn in self.conns.values() {
            let count = match &conn.protocol {
                Protocol::Http(session) => match session.phase() {
                    Phase::Idle => &mut counts.http_idle,
                    Phase::Reading => &mut counts.http_reading,
                    Phase::Waiting => &mut counts.http_waiting,
                    Phase::Parked => &mut counts.http_parked,
                    Phase::Streaming => &mut counts.http_streaming,
                    // Finished with HTTP; made `Closing` (or a WebSocket) within the call
                    // that finished it.
                    _ => &mut counts.closing,
                },
                Protocol::WebSocket(ws) if ws.is_open() => &mut counts.websocket_open,
                Protocol::WebSocket(_) => &mut counts.websocket_closing,
                Protocol::Closing { .. } => &mut counts.closing,
                Protocol::Outbound(OutboundState::Connecting { .. }) => {
                    &mut counts.outbound_connecting
                }
                Protocol::Outbound(OutboundState::Open) => &mut counts.outbound_open,
            };
            *count += 1;
        }
        counts
    }

    /// The driver measured a turn of the loop: from waking up to going back to sleep.
    pub(crate) fn record_turn(&mut self, took: Duration) {
        self.stats.record_turn(took);
    }

    /// The driver refused a connection for lack of file descriptors.
    pub(crate) fn refused_no_descriptors(&mut self) {
        self.stats.refused_no_descriptors += 1;
    }

    // ===== connections coming and going =====

    /// A new connection from `peer`, just accepted. `None` if the server is full or
    /// shutting down: the driver then closes it at once rather than leave it waiting.
    pub(crate) fn open(&mut self, peer: SocketAddr) -> Option<ConnId> {
        if self.is_shutting_down() {
            self.stats.refused_shutting_down += 1;
            return None;
        }
        // Outbound connections are the handler's own: they take no client's place.
        if self.conns.len() - self.outbound >= self.config.max_connections {
            self.stats.refused_full += 1;
            return None;
        }
        let session = Session::new(self.session_config.clone(), self.now);
        let id = self.conns.insert_with(|_| Conn::new(session));
        let conn = self.conns.get_mut(id).expect("just inserted");
        mark_dirty(&mut self.dirty, &mut conn.flags, id);
        self.stats.connections_accepted += 1;
        if let Some(book) = &mut self.access {
            book.opened(id, peer, self.now);
        }
        Some(id)
    }

    /// Ids removed since the last call: close their sockets.
    fn take_closed(&mut self, into: &mut Vec<ConnId>) {
        std::mem::swap(into, &mut self.closed);
    }

    /// Drops a connection now, telling the handler what it loses: an open WebSocket's
    /// `on_close` (1006), an unanswered request's `on_request_abandoned`, an outbound
    /// connection's `on_disconnected` with `reason` (which only they hear).
    pub(crate) fn remove(
        &mut self,
        id: ConnId,
        reason: DisconnectReason,
        handler: &mut impl Handler,
    ) {
        let Some(mut conn) = self.detach(id) else {
            return;
        };
        match &mut conn.protocol {
            Protocol::WebSocket(ws) => {
                if let Some(close) = ws.handle_eof() {
                    self.ws_ended(id, &close);
                    handler.on_close(&mut Context { core: self }, id, &close);
                }
            }
            Protocol::Http(session) => {
                if let Some(Event::Abandoned { exchange }) = session.handle_eof() {
                    self.stats.requests_unanswered += 1;
                    let request = RequestId::new(id, exchange);
                    handler.on_request_abandoned(&mut Context { core: self }, request);
                }
            }
            Protocol::Closing { .. } => {}
            Protocol::Outbound(_) => {
                handler.on_disconnected(&mut Context { core: self }, id, reason);
            }
        }
    }

    /// The socket failed (a write error, a reset): nothing more can be sent or received.
    fn broken(&mut self, id: ConnId, error: ErrorKind, handler: &mut impl Handler) {
        self.remove(id, DisconnectReason::Broken(error), handler);
    }

    // ===== outbound connections =====

    /// A new outbound connection to `addr` (see [`Context::connect`]): in the table at
    /// once, connected by the driver at the end of the turn.
    pub(crate) fn connect(&mut self, addr: SocketAddr) -> Result<ConnId, ConnectError> {
        if self.is_shutting_down() {
            return Err(ConnectError::ShuttingDown);
        }
        let deadline = self.now + self.config.connect_timeout;
        let connecting = Protocol::Outbound(OutboundState::Connecting { deadline });
        let id = self.conns.insert_with(|_| Conn::with(connecting));
        self.outbound += 1;
        let conn = self.conns.get_mut(id).expect("just inserted");
        // At the end of the turn, its connect deadline goes into the timer heap.
        mark_dirty(&mut self.dirty, &mut conn.flags, id);
        self.connects.push((id, addr));
        Ok(id)
    }

    /// The driver established `id`'s connection: bytes queued meanwhile leave, and the
    /// handler hears `on_connected`.
    pub(crate) fn connected(&mut self, id: ConnId, handler: &mut impl Handler) {
        let Some(conn) = self.conns.get_mut(id).filter(|c| c.is_connecting()) else {
            return;
        };
        conn.protocol = Protocol::Outbound(OutboundState::Open);
        mark_dirty(&mut self.dirty, &mut conn.flags, id);
        // Read once whatever the readiness event said: the peer may speak first, and
        // bytes that came with the connect raise no edge of their own.
        mark_ready(&mut self.ready, &mut conn.flags, id);
        self.trace_note(id, "connected");
        handler.on_connected(&mut Context { core: self }, id);
    }

    /// The driver's connect of `id` failed with `error`.
    pub(crate) fn connect_failed(
        &mut self,
        id: ConnId,
        error: ErrorKind,
        handler: &mut impl Handler,
    ) {
        if self.conns.get(id).is_some_and(Conn::is_connecting) {
            self.remove(id, DisconnectReason::ConnectFailed(error), handler);
        }
    }

    /// Queues `bytes` for outbound connection `id` (see [`Context::send_bytes`]).
    pub(crate) fn send_bytes(&mut self, id: ConnId, bytes: &[u8]) -> Result<(), SendError> {
        let high_water = self.config.write_buffer_high_water;
        let conn = self.conns.get_mut(id).ok_or(SendError::Gone)?;
        if !conn.is_outbound() {
            return Err(SendError::NotOpen);
        }
        refuse_if_full(&conn.output, &mut conn.flags, high_water)?;
        if !bytes.is_empty() {
            mark_dirty(&mut self.dirty, &mut conn.flags, id);
            conn.output
                .writer_with_room(&mut self.out_pool, bytes.len())
                .extend_from_slice(bytes);
        }
        Ok(())
    }

    /// Closes outbound connection `id` (see [`Context::close_outbound`]): an open one
    /// flushes what is queued and half-closes, as every connection does; a connecting
    /// one is dropped. `on_disconnected` follows in this turn.
    pub(crate) fn close_outbound(&mut self, id: ConnId) -> Result<(), SendError> {
        let conn = self.conns.get(id).ok_or(SendError::Gone)?;
        if !conn.is_outbound() {
            return Err(SendError::NotOpen);
        }
        if conn.is_connecting() {
            self.detach(id);
        } else {
            self.begin_closing(id);
        }
        self.disconnects.push((id, DisconnectReason::Closed));
        Ok(())
    }

    /// Is `id` an established outbound connection?
    pub(crate) fn is_connected(&self, id: ConnId) -> bool {
        matches!(
            self.conns.get(id).map(|c| &c.protocol),
            Some(Protocol::Outbound(OutboundState::Open))
        )
    }

    /// The most an outbound connection keeps unconsumed: never less than a read buffer.
    fn outbound_input_limit(&self) -> usize {
        self.config
            .max_outbound_input
            .max(self.config.read_buffer_size)
    }

    /// Hands the connects the handler asked for to the transport; a connect that fails at
    /// once is reported at once. Returns `false` if there were none.
    fn start_connects(
        &mut self,
        transport: &mut impl Transport,
        handler: &mut impl Handler,
    ) -> bool {
        if self.connects.is_empty() {
            return false;
        }
        for (id, addr) in std::mem::take(&mut self.connects) {
            // Closed by the handler before its connect began: nothing to do.
            if !self.conns.get(id).is_some_and(Conn::is_connecting) {
                continue;
            }
            self.trace_note(id, "connecting");
            if let Err(e) = transport.connect(id, addr) {
                self.connect_failed(id, e.kind(), handler);
            }
        }
        true
    }

    /// Tells the handler of the outbound connections it closed. Returns `false` if there
    /// were none.
    fn report_disconnects(&mut self, handler: &mut impl Handler) -> bool {
        if self.disconnects.is_empty() {
            return false;
        }
        for (id, reason) in std::mem::take(&mut self.disconnects) {
            handler.on_disconnected(&mut Context { core: self }, id, reason);
        }
        true
    }

    // ===== input =====

    /// Does `id` want input now? When it does not, it is not read until it does, and is
    /// looked at again then ([`Flags::read_stopped`](super::conn::Flags)).
    fn wants_read(&mut self, id: ConnId) -> bool {
        let Some(conn) = self.conns.get_mut(id) else {
            return false;
        };
        let wants = !conn.flags.paused
            && !conn.flags.peer_eof
            && match &conn.protocol {
                Protocol::Http(session) => session.wants_input(conn.input.len()),
                Protocol::WebSocket(_)
                | Protocol::Closing { .. }
                | Protocol::Outbound(OutboundState::Open) => true,
                Protocol::Outbound(OutboundState::Connecting { .. }) => false,
            };
        conn.flags.read_stopped = !wants;
        wants
    }

    /// Room to read `id`'s next bytes into (see [`InputBuffer::space`](super::input)).
    fn read_space(&mut self, id: ConnId) -> &mut [u8] {
        let limit = self.outbound_input_limit();
        match self.conns.get_mut(id) {
            // Its handler may wait, consuming nothing, for a reply larger than a buffer.
            Some(conn) if conn.is_outbound() => conn.input.space_up_to(&mut self.read_pool, limit),
            Some(conn) => conn.input.space(&mut self.read_pool),
            None => &mut [],
        }
    }

    /// `n` bytes were read into [`read_space`](Self::read_space). Returns `true` if the
    /// connection's output has grown large enough to be written now, mid-turn.
    fn received(
        &mut self,
        id: ConnId,
        n: usize,
        handler: &mut impl Handler,
        budget: &mut usize,
    ) -> Received {
        let Some(conn) = self.conns.get_mut(id) else {
            return Received::default();
        };
        conn.input.filled(n);
        self.stats.bytes_read += n as u64;
        if let Some(traces) = &mut self.traces {
            let input = conn.input.unconsumed();
            trace_bytes(
                traces,
                &self.config.log,
                self.wall,
                id,
                Direction::In,
                &input[input.len() - n..],
            );
        }
        self.process_read(id, handler, budget, true)
    }

    /// Processes `id`'s input as read: [`process_within`](Self::process_within), then
    /// whether its output is to be written now.
    fn process_read(
        &mut self,
        id: ConnId,
        handler: &mut impl Handler,
        budget: &mut usize,
        stop_to_flush: bool,
    ) -> Received {
        let stop = self.process_within(id, handler, budget, stop_to_flush);
        Received {
            flush: self.pending(id) >= FLUSH_EARLY,
            yielded: stop == Stop::Budget,
            more: stop == Stop::Flush,
        }
    }

    /// The driver stops reading `id` for now: its read buffer may go back to the pool.
    fn rest(&mut self, id: ConnId) {
        if let Some(conn) = self.conns.get_mut(id) {
            conn.input.rest(&mut self.read_pool, conn.flags.paused);
        }
    }

    /// The peer's FIN arrived (or its socket failed for reading). Frames and requests
    /// already read have been handled. A request the application has not answered is
    /// abandoned; otherwise the peer may only have half-closed and still be reading, so
    /// what is queued for it is delivered before the connection closes.
    fn received_eof(&mut self, id: ConnId, handler: &mut impl Handler) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        conn.flags.peer_eof = true;
        match &mut conn.protocol {
            Protocol::Http(session) => {
                if let Some(event) = session.handle_eof() {
                    // The client hung up before its answer (a parked long-poll,
                    // typically): it is gone, and so is the request.
                    self.remove_quietly(id);
                    self.http_event(id, event, handler);
                    return;
                }
            }
            Protocol::WebSocket(ws) => {
                // RFC 6455 §7.1.5: TCP closed without a Close frame → 1006.
                if let Some(close) = ws.handle_eof() {
                    self.ws_ended(id, &close);
                    handler.on_close(&mut Context { core: self }, id, &close);
                }
            }
            Protocol::Closing { .. } => {}
            // The peer is done with us: whatever we queued has no one to answer it.
            Protocol::Outbound(_) => {
                return self.remove(id, DisconnectReason::PeerClosed, handler);
            }
        }
        self.finish_if_done(id);
    }

    /// Feeds `id`'s unconsumed input to its protocol and acts on what comes out, until
    /// the protocol needs more input, an answer, or the peer to read (backpressure).
    /// Returns `true` if it stopped at [`PROCESS_BUDGET`] with input left: the connection
    /// is then on the ready list for the next turn, and is not read more this turn.
    pub(crate) fn process(&mut self, id: ConnId, handler: &mut impl Handler) -> bool {
        let mut budget = PROCESS_BUDGET;
        self.process_within(id, handler, &mut budget, false) == Stop::Budget
    }

    /// [`process`](Self::process), taking what it consumes from `budget` (shared by the
    /// reads of one turn). With `stop_to_flush`, a WebSocket's processing also stops
    /// between two messages once [`FLUSH_EARLY`] bytes of output are queued
    /// ([`Stop::Flush`]): the caller writes them and comes back for the rest.
    fn process_within(
        &mut self,
        id: ConnId,
        handler: &mut impl Handler,
        budget: &mut usize,
        stop_to_flush: bool,
    ) -> Stop {
        let Some(conn) = self.conns.get_mut(id) else {
            return Stop::Done;
        };
        let mut stop = Stop::Done;
        // The input leaves the table while the handler runs, so that a message can lend
        // the handler its bytes where they were read, while the handler changes the table
        // through its `Context`. Moving a `Vec` is three words, not a copy.
        let mut input = std::mem::take(&mut conn.input);
        while let Some(conn) = self.conns.get_mut(id) {
            match &mut conn.protocol {
                Protocol::Closing { .. } => {
                    input.clear(); // nothing after the end is looked at
                    break;
                }
                Protocol::WebSocket(_) => {
                    stop = self.feed_websocket(id, &mut input, handler, budget, stop_to_flush);
                    break;
                }
                Protocol::Outbound(_) => {
                    stop = self.feed_outbound(id, &mut input, handler, budget);
                    break;
                }
                Protocol::Http(_) if *budget == 0 && !input.is_empty() => {
                    stop = Stop::Budget;
                    break;
                }
                Protocol::Http(session) => {
                    let out = conn.output.writer(&mut self.out_pool);
                    let before = out.len();
                    let (used, event) = {
                        let mut note = own_answers(
                            &mut self.stats,
                            &mut self.access,
                            &self.config.log,
                            id,
                            (self.now, self.wall),
                        );
                        session.handle_input_noting(input.unconsumed(), out, self.now, &mut note)
                    };
                    let wrote = out.len() != before;
                    input.consume(used);
                    // A request costs at least 1 KiB of the budget: 256 tiny pipelined
                    // requests per pass, not 4,000.
                    let cost = if event.is_some() {
                        used.max(1024)
                    } else {
                        used
                    };
                    *budget = budget.saturating_sub(cost);
                    if wrote {
                        mark_dirty(&mut self.dirty, &mut conn.flags, id);
                    }
                    match event {
                        Some(event) => self.http_event(id, event, handler),
                        None => {
                            self.finish_if_done(id);
                            break;
                        }
                    }
                }
            }
        }
        match self.conns.get_mut(id) {
            Some(conn) => conn.input = input,
            None => {
                input.release(&mut self.read_pool);
                return Stop::Done;
            }
        }
        let limit = self.outbound_input_limit();
        if let Some(conn) = self.conns.get(id)
            && conn.is_outbound()
            && stop == Stop::Done
            && !conn.flags.paused
            && conn.input.len() >= limit
        {
            // The handler saw all of it and took none: what it waits for cannot fit.
            self.remove(id, DisconnectReason::InputLimit, handler);
            return Stop::Done;
        }
        if stop == Stop::Budget {
            self.mark_ready(id);
        }
        stop
    }

    /// Acts on what a session asks of the application.
    fn http_event(&mut self, id: ConnId, event: Event, handler: &mut impl Handler) {
        match event {
            Event::Request { exchange, request } => {
                if self.access.is_some() {
                    let pending = self.pending(id);
                    if let Some(book) = &mut self.access {
                        book.request(id, &request.head(), self.now, pending);
                    }
                }
                let ctx = &mut Context { core: self };
                handler.on_request(ctx, RequestId::new(id, exchange), request);
            }
            Event::ParkTimeout { exchange } => {
                let ctx = &mut Context { core: self };
                handler.on_park_timeout(ctx, RequestId::new(id, exchange));
            }
            Event::Abandoned { exchange } => {
                self.stats.requests_unanswered += 1;
                let ctx = &mut Context { core: self };
                handler.on_request_abandoned(ctx, RequestId::new(id, exchange));
            }
            Event::Upgrade { exchange, upgrade } => {
                if self.access.is_some() {
                    let pending = self.pending(id);
                    if let Some(book) = &mut self.access {
                        book.request(id, &upgrade.request().head(), self.now, pending);
                    }
                }
                let decision =
                    handler.on_upgrade(&mut Context { core: self }, id, &upgrade.request());
                let Some(conn) = self.conns.get_mut(id) else {
                    return;
                };
                let Protocol::Http(session) = &mut conn.protocol else {
                    return; // the handler closed the connection meanwhile
                };
                let out = conn.output.writer(&mut self.out_pool);
                match decision {
                    Upgrade::Reject(response) => {
                        let _ = session.reject_upgrade(exchange, &response, out);
                        self.answer_complete(id, Some(response.status()));
                        self.begin_closing(id);
                    }
                    Upgrade::Accept { protocol } => {
                        let accepted =
                            session.accept_upgrade(exchange, &upgrade, protocol.as_deref(), out);
                        debug_assert!(accepted.is_ok(), "the upgrade was waiting");
                        let agreement = accepted.ok().flatten();
                        self.stats.count_response(StatusCode::SWITCHING_PROTOCOLS);
                        if let Some(book) = &mut self.access {
                            book.upgraded(id);
                        }
                        // The hand-over: from here on the bytes are frames.
                        let mut ws = WsConnection::server(self.ws_limits, self.now);
                        if let Some(agreement) = &agreement {
                            let options = self.config.permessage_deflate.options;
                            ws = ws.with_deflate(agreement, options);
                        }
                        conn.protocol = Protocol::WebSocket(Box::new(ws));
                        mark_dirty(&mut self.dirty, &mut conn.flags, id);
                        self.trace_note(id, "upgraded to WebSocket");
                        handler.on_open(&mut Context { core: self }, id);
                    }
                }
            }
        }
    }

    /// Feeds a WebSocket's input to its protocol and dispatches the events.
    ///
    /// Backpressure works at message granularity: once the connection's unsent output
    /// reaches the high-water mark, no further message is delivered and the connection is
    /// not read. The rest of the input waits until the peer has read enough. So a handler
    /// that answers each message with one send never meets `SendError::Full`.
    /// Says why it stopped with input left, if it did (see [`Stop`]).
    fn feed_websocket(
        &mut self,
        id: ConnId,
        input: &mut super::input::InputBuffer,
        handler: &mut impl Handler,
        budget: &mut usize,
        stop_to_flush: bool,
    ) -> Stop {
        let high_water = self.config.write_buffer_high_water;
        let data = input.unconsumed_mut();
        let filled = data.len();
        let mut pos = 0;
        let mut stop = Stop::Done;
        while pos < filled {
            if pos >= *budget {
                stop = Stop::Budget;
                break;
            }
            let Some(conn) = self.conns.get_mut(id) else {
                return Stop::Done;
            };
            let pending = conn.output.pending();
            if stop_to_flush && pos > 0 && pending >= FLUSH_EARLY {
                // Bulk output leaves between messages, not after the whole read: the
                // buffer holds one large frame, not four, and never grows.
                stop = Stop::Flush;
                break;
            }
            if pending >= high_water {
                conn.flags.paused = true;
                break;
            }
            let Protocol::WebSocket(ws) = &mut conn.protocol else {
                break;
            };
            let out = conn.output.writer(&mut self.out_pool);
            let before = out.len();
            let (consumed, event) =
                ws.handle_input_pooled(&mut data[pos..], out, self.now, &mut self.codec_pools);
            let wrote = out.len() != before;
            pos += consumed;
            if wrote {
                mark_dirty(&mut self.dirty, &mut conn.flags, id);
            }
            let Some(event) = event else {
                break;
            };
            let ctx = &mut Context { core: self };
            match event {
                WsEvent::Message(message) => handler.on_message(ctx, id, message),
                WsEvent::Part(part) => handler.on_message_part(ctx, id, part),
                WsEvent::Ping(_) | WsEvent::Pong(_) => {}
                WsEvent::Closed(close) => {
                    ctx.core.ws_ended(id, &close);
                    handler.on_close(ctx, id, &close);
                    self.begin_closing(id);
                    pos = filled;
                }
            }
        }
        if let Some(book) = &mut self.access {
            book.read_frames(id, pos);
        }
        input.consume(pos);
        *budget = budget.saturating_sub(pos);
        stop
    }

    /// Lends an outbound connection's input to [`Handler::on_bytes`] until the handler
    /// consumes nothing more (it waits for more bytes) or all of it. The same
    /// backpressure as a WebSocket's: once the connection's unsent output reaches the
    /// high-water mark, nothing more is handed over and it is not read (its peer is not
    /// reading what we send) until it has drained to half.
    fn feed_outbound(
        &mut self,
        id: ConnId,
        input: &mut super::input::InputBuffer,
        handler: &mut impl Handler,
        budget: &mut usize,
    ) -> Stop {
        let high_water = self.config.write_buffer_high_water;
        while !input.is_empty() {
            let Some(conn) = self.conns.get_mut(id) else {
                return Stop::Done;
            };
            if !matches!(conn.protocol, Protocol::Outbound(OutboundState::Open)) {
                input.clear(); // closed by the handler: nothing after that is looked at
                break;
            }
            if *budget == 0 {
                return Stop::Budget;
            }
            if conn.output.pending() >= high_water {
                conn.flags.paused = true;
                break;
            }
            let bytes = input.unconsumed();
            let offered = bytes.len();
            let used = handler
                .on_bytes(&mut Context { core: self }, id, bytes)
                .min(offered);
            input.consume(used);
            *budget = budget.saturating_sub(used);
            if used == 0 {
                break;
            }
        }
        Stop::Done
    }

    // ===== output =====

    /// `n` bytes of `id`'s output were written: backpressure may lift, a refused sender
    /// may hear `on_drained`, a finished connection may be over.
    fn sent(&mut self, id: ConnId, n: usize, handler: &mut impl Handler) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        if let Some(traces) = &mut self.traces {
            let wall = self.wall;
            conn.output.peek(n, |bytes| {
                trace_bytes(traces, &self.config.log, wall, id, Direction::Out, bytes);
            });
        }
        conn.output.consume(n, &mut self.out_pool);
        self.stats.bytes_written += n as u64;
        if let Some(book) = &mut self.access {
            book.wrote(id, n);
        }
        let pending = conn.output.pending();
        let high_water = self.config.write_buffer_high_water;
        if !conn.is_closing() {
            if pending >= high_water {
                conn.flags.paused = true;
            } else if conn.flags.paused && pending <= high_water / 2 {
                // Below the low-water mark: read again. Bytes may have arrived meanwhile
                // without a new readiness edge, so look now rather than wait.
                conn.flags.paused = false;
                mark_ready(&mut self.ready, &mut conn.flags, id);
            }
        }
        if conn.flags.send_refused && pending <= high_water / 2 {
            conn.flags.send_refused = false;
            handler.on_drained(&mut Context { core: self }, id);
        }
        self.finish_if_done(id);
    }

    /// Should the driver half-close `id` now? When it is closing and everything queued
    /// has been written.
    fn fin_due(&self, id: ConnId) -> bool {
        self.conns
            .get(id)
            .is_some_and(|c| c.is_closing() && !c.flags.write_shut && c.output.pending() == 0)
    }

    /// The driver sent our FIN (RFC 6455 §7.1.1: the server closes first). Now wait for
    /// the peer's, which may already be buffered.
    fn fin_sent(&mut self, id: ConnId) {
        if let Some(conn) = self.conns.get_mut(id) {
            conn.flags.write_shut = true;
            if !conn.flags.peer_eof {
                mark_ready(&mut self.ready, &mut conn.flags, id);
            }
        }
        self.finish_if_done(id);
    }

    // ===== moving bytes (through the driver's transport) =====

    /// `id` is readable: reads it until the transport has nothing more (or the fairness
    /// budget is spent), handing every read to its protocol.
    ///
    /// A read that returns less than it was offered has emptied the socket's receive
    /// queue; with edge-triggered readiness, bytes that arrive later raise a new event,
    /// so the connection need not be read again until then — one `recv` → `EAGAIN` saved
    /// per wake-up (`short_read_drains`; not when the event also reported the peer's FIN,
    /// which raises no new edge, nor when no event vouches for the connection at all).
    pub(crate) fn read_from(
        &mut self,
        id: ConnId,
        transport: &mut impl Transport,
        handler: &mut impl Handler,
        short_read_drains: bool,
    ) {
        let mut budget_spent = true;
        let mut budget = PROCESS_BUDGET;
        for _ in 0..READS_PER_TURN {
            if !self.wants_read(id) {
                budget_spent = false;
                break;
            }
            let space = self.read_space(id);
            if space.is_empty() {
                budget_spent = false;
                break;
            }
            let offered = space.len();
            match transport.read(id, space) {
                Ok(0) => {
                    self.received_eof(id, handler);
                    budget_spent = false;
                    break;
                }
                Ok(n) => {
                    let mut received = self.received(id, n, handler, &mut budget);
                    while received.flush {
                        // Large output leaves now: the peer can start reading while we
                        // read on, and the buffer stays small.
                        self.write_to(id, transport, handler);
                        if !received.more {
                            break;
                        }
                        // Processing stopped between two messages for that write; go on
                        // with the rest of this read. If the peer did not take it all,
                        // the rest is processed without further stops (backpressure
                        // decides, as for any output).
                        let written = self.pending(id) < FLUSH_EARLY;
                        received = self.process_read(id, handler, &mut budget, written);
                    }
                    if received.yielded {
                        // Its input waits for the next turn (it is on the ready list),
                        // in the buffer it is in.
                        self.update_interest(id, transport);
                        return;
                    }
                    if short_read_drains && n < offered {
                        budget_spent = false;
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    budget_spent = false;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // A reset: nothing more will come, and nothing can be sent.
                    return self.broken(id, e.kind(), handler);
                }
            }
        }
        if budget_spent {
            // Data may still be waiting: edge-triggered readiness will not fire again for
            // it, so come back next turn.
            self.mark_ready(id);
        }
        self.rest(id);
        self.update_interest(id, transport);
    }

    /// `id` is writable (or has output): writes until everything is sent or the
    /// transport would block, then sends the FIN if it is due.
    pub(crate) fn write_to(
        &mut self,
        id: ConnId,
        transport: &mut impl Transport,
        handler: &mut impl Handler,
    ) {
        let flags_before = match self.conns.get(id) {
            // Its bytes wait until the connection is established.
            Some(conn) if conn.is_connecting() => return,
            Some(conn) => (conn.flags.paused, conn.flags.write_blocked),
            None => return,
        };
        loop {
            let Some(conn) = self.conns.get_mut(id) else {
                return;
            };
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let count = conn.output.slices(&mut slices);
            if count == 0 {
                conn.flags.write_blocked = false;
                break;
            }
            match transport.write(id, &slices[..count]) {
                Ok(0) => return self.broken(id, ErrorKind::WriteZero, handler),
                Ok(n) => self.sent(id, n, handler),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    conn.flags.write_blocked = true;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return self.broken(id, e.kind(), handler),
            }
        }
        if self.fin_due(id) {
            // RFC 6455 §7.1.1: the server closes the TCP connection first. Sending our
            // FIN now (after the last byte) and closing once the peer's FIN arrives
            // avoids a reset that could discard our final bytes.
            match transport.shutdown_write(id) {
                Ok(()) => self.fin_sent(id),
                Err(e) => return self.broken(id, e.kind(), handler),
            }
        }
        // Writing changes what the connection wants only through backpressure (paused)
        // or a blocked write: the common case needs no look at the interest.
        let flags_after = self
            .conns
            .get(id)
            .map(|conn| (conn.flags.paused, conn.flags.write_blocked));
        if flags_after.is_some_and(|after| after != flags_before) {
            self.update_interest(id, transport);
        }
    }

    /// Tells the transport what `id` wants now (the mio driver re-registers only when
    /// that differs from what the socket is registered for).
    fn update_interest(&mut self, id: ConnId, transport: &mut impl Transport) {
        let read = self.wants_read(id);
        if let Some(conn) = self.conns.get(id) {
            transport.interest(id, read, conn.flags.write_blocked);
        }
    }

    /// The rest of a turn of the loop, after the readiness events: connections with more
    /// to read (or already-buffered input), commands from other threads, due deadlines,
    /// the shutdown, then every connection's output, and the sockets of removed
    /// connections closed. Returns `true` once the server has shut down.
    pub(crate) fn turn(
        &mut self,
        transport: &mut impl Transport,
        handler: &mut impl Handler,
        commands: &Commands,
    ) -> bool {
        // No readiness event vouches for these: read until `WouldBlock`. (Lists are
        // swapped with a spare rather than taken, so their capacity is reused and a
        // steady state allocates nothing.)
        let mut ids = std::mem::take(&mut self.spare_ids);
        self.take_ready(&mut ids);
        for id in ids.drain(..) {
            if !self.process(id, handler) {
                self.read_from(id, transport, handler, false);
            }
        }
        commands.drain(|command| self.run_command(command, handler));
        self.handle_timeouts(handler);
        let stopped = self.drive_shutdown(handler);
        // Writing can mark more connections (a removal calls on_close, which may send),
        // and any callback may connect or close an outbound connection: loop until
        // nothing is left to do.
        loop {
            let connected = self.start_connects(transport, handler);
            let reported = self.report_disconnects(handler);
            let dirty = self.take_dirty(&mut ids);
            for id in ids.drain(..) {
                self.write_to(id, transport, handler);
                self.end_turn(id);
            }
            if !(connected || reported || dirty) {
                break;
            }
        }
        self.take_closed(&mut ids);
        for id in ids.drain(..) {
            transport.close(id);
        }
        self.spare_ids = ids;
        if let Some(book) = &mut self.access {
            book.flush(&self.config.log);
        }
        stopped
    }

    // ===== the turn =====

    /// Connections to look at again this turn without a readiness event, taken off the
    /// list (each is on it once).
    fn take_ready(&mut self, into: &mut Vec<ConnId>) {
        std::mem::swap(into, &mut self.ready);
        for &id in into.iter() {
            if let Some(conn) = self.conns.get_mut(id) {
                conn.flags.ready = false;
            }
        }
    }

    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// How many entries the ready list holds (for the test that each connection is on it
    /// once).
    #[cfg(test)]
    pub(crate) fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// Reading `id` stopped with its read budget spent: look again next turn.
    fn mark_ready(&mut self, id: ConnId) {
        if let Some(conn) = self.conns.get_mut(id) {
            mark_ready(&mut self.ready, &mut conn.flags, id);
        }
    }

    /// Connections changed this turn (output to write, deadlines to reschedule), taken
    /// off the list: the driver flushes each, then calls [`end_turn`](Self::end_turn).
    fn take_dirty(&mut self, into: &mut Vec<ConnId>) -> bool {
        std::mem::swap(into, &mut self.dirty);
        for &id in into.iter() {
            if let Some(conn) = self.conns.get_mut(id) {
                conn.flags.dirty = false;
            }
        }
        !into.is_empty()
    }

    /// The end of `id`'s turn: the timer heap is made to wake us for its next deadline,
    /// and an output buffer it took but did not need goes back to the pool (an idle
    /// connection holds none).
    fn end_turn(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        if conn.output.holds_buffer() && conn.output.pending() == 0 {
            conn.output.release(&mut self.out_pool);
        }
        let Some(deadline) = conn.deadline() else {
            return;
        };
        // An entry already waiting at or before the deadline will wake us in time; when
        // it comes due, the deadline is looked up afresh (lazy deletion).
        if conn.timer_at.is_none_or(|at| deadline < at) {
            conn.timer_at = Some(deadline);
            self.timers.push(deadline, id);
        }
    }

    /// The earliest instant the driver must call [`handle_timeouts`](Self::handle_timeouts).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.timers.next(),
            self.shutdown_deadline,
            self.handler_wake,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Asks for [`Handler::on_wake`] at `at`, or earlier if an earlier wake-up is already
    /// set (see [`Context::wake_at`]).
    pub(crate) fn wake_at(&mut self, at: Instant) {
        if self.handler_wake.is_none_or(|set| at < set) {
            self.handler_wake = Some(at);
        }
    }

    /// Runs every deadline that is due: the handler's own wake-up first, then the
    /// connections'.
    fn handle_timeouts(&mut self, handler: &mut impl Handler) {
        let now = self.now;
        if self.handler_wake.is_some_and(|at| at <= now) {
            self.handler_wake = None;
            handler.on_wake(&mut Context { core: self });
        }
        while let Some((at, id)) = self.timers.pop_due(now) {
            let Some(conn) = self.conns.get_mut(id) else {
                continue;
            };
            if conn.timer_at != Some(at) {
                continue; // superseded by an earlier entry that already ran
            }
            conn.timer_at = None;
            mark_dirty(&mut self.dirty, &mut conn.flags, id);
            let out = conn.output.writer(&mut self.out_pool);
            match &mut conn.protocol {
                Protocol::Http(session) => {
                    let event = {
                        let mut note = own_answers(
                            &mut self.stats,
                            &mut self.access,
                            &self.config.log,
                            id,
                            (now, self.wall),
                        );
                        session.handle_timeout_noting(now, out, &mut note)
                    };
                    if let Some(event) = event {
                        self.http_event(id, event, handler);
                    }
                    self.finish_if_done(id);
                }
                Protocol::WebSocket(ws) => {
                    if let Some(close) = ws.handle_timeout(now, out) {
                        // Timeouts mean the peer is unresponsive: drop TCP now.
                        self.ws_ended(id, &close);
                        self.remove(id, DisconnectReason::TimedOut, handler);
                        handler.on_close(&mut Context { core: self }, id, &close);
                    }
                }
                Protocol::Closing { deadline } if now >= *deadline => {
                    self.remove(id, DisconnectReason::TimedOut, handler)
                }
                Protocol::Closing { .. } => {}
                Protocol::Outbound(OutboundState::Connecting { deadline }) if now >= *deadline => {
                    self.remove(id, DisconnectReason::TimedOut, handler)
                }
                Protocol::Outbound(_) => {}
            }
        }
    }

    /// A command from another thread (through a [`Handle`](super::Handle)).
    fn run_command(&mut self, command: Command, handler: &mut impl Handler) {
        let ctx = &mut Context { core: self };
        match command {
            Command::Send(id, message) => {
                if let Err(e) = ctx.send(id, &message) {
                    handler.on_undelivered(ctx, id, message, e);
                }
            }
            Command::Broadcast(message) => {
                ctx.broadcast(&message);
            }
            Command::Close(id, code, reason) => {
                // Arguments were checked by `Handle::close`; a connection that is gone or
                // already closing needs nothing more.
                let _ = ctx.close(id, code, &reason);
            }
            Command::Respond(request, response) => {
                // A client that left meanwhile needs no answer.
                let _ = ctx.respond(request, response);
            }
            Command::Notify(token) => handler.on_notify(ctx, token),
            Command::Shutdown => ctx.shutdown(),
        }
    }

    // ===== closing and shutdown =====

    /// Begins closing `id`: flush what is queued, half-close, discard until the peer's
    /// FIN or `close_timeout`.
    pub(crate) fn begin_closing(&mut self, id: ConnId) {
        let deadline = self.now + self.config.close_timeout;
        if let Some(conn) = self.conns.get_mut(id) {
            if let Protocol::Http(session) = &conn.protocol
                && matches!(
                    session.phase(),
                    Phase::Waiting | Phase::Parked | Phase::Streaming
                )
            {
                // The application closed the connection of a request it had not
                // (completely) answered.
                self.stats.requests_unanswered += 1;
            }
            if conn.is_outbound() {
                self.outbound -= 1;
            }
            conn.protocol = Protocol::Closing { deadline };
            conn.flags.paused = false;
            conn.input.clear();
            mark_dirty(&mut self.dirty, &mut conn.flags, id);
        }
    }

    /// After a connection's protocol may have finished talking (a session closed, a
    /// WebSocket ended, the peer left): with nothing left to send it goes now if the peer
    /// is gone or the connection never began closing (an idle connection at its
    /// deadline); otherwise it begins closing, so that what is queued is flushed first.
    /// A closing connection whose both directions are done is removed.
    pub(crate) fn finish_if_done(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        let finished = match &conn.protocol {
            Protocol::Http(session) => session.is_closed(),
            Protocol::WebSocket(ws) => ws.is_closed(),
            Protocol::Closing { .. } => true,
            Protocol::Outbound(_) => false,
        };
        if !finished {
            return;
        }
        if conn.output.pending() == 0 && (conn.flags.peer_eof || !conn.is_closing()) {
            self.remove_quietly(id);
        } else if !conn.is_closing() {
            self.begin_closing(id);
        }
    }

    /// Removes a connection that owes the handler nothing (its WebSocket and its requests
    /// are already reported, or it never had any, like one whose socket could not be
    /// registered).
    pub(crate) fn remove_quietly(&mut self, id: ConnId) {
        self.detach(id);
    }

    /// Takes `id` out of the table: its socket is to be closed, its buffers go back to
    /// their pools. What the handler is owed is the caller's business.
    fn detach(&mut self, id: ConnId) -> Option<Conn> {
        let mut conn = self.conns.remove(id)?;
        if conn.is_outbound() {
            self.outbound -= 1;
        }
        self.closed.push(id);
        if let Some(book) = &mut self.access {
            let pending = conn.output.pending();
            book.closed(id, pending, self.now, self.wall, &self.config.log);
        }
        self.trace_note(id, "removed (TCP closed)");
        conn.output.release(&mut self.out_pool);
        conn.input.release(&mut self.read_pool);
        if let Protocol::WebSocket(ws) = &mut conn.protocol {
            ws.release_codecs(&mut self.codec_pools);
        }
        Some(conn)
    }

    /// Begins graceful shutdown (once).
    pub(crate) fn begin_shutdown(&mut self) {
        if self.shutdown_deadline.is_none() {
            self.shutdown_deadline = Some(self.now + self.config.shutdown_timeout);
        }
    }

    /// Moves graceful shutdown on; returns `true` once it is over. The first call says
    /// goodbye to everyone: WebSockets get Close 1001, connections between requests close,
    /// parked requests are due now (the handler answers them, 204 by default) and their
    /// connections close after the answer. Outbound connections stay as they are — an
    /// answer may be waiting for a reply on one — until every client is gone (or the
    /// deadline passes), and are closed last (`on_disconnected`, `ShutDown`).
    fn drive_shutdown(&mut self, handler: &mut impl Handler) -> bool {
        let Some(deadline) = self.shutdown_deadline else {
            return false;
        };
        if !self.shutdown_started {
            self.shutdown_started = true;
            for id in self.conns.ids() {
                let Some(conn) = self.conns.get_mut(id).filter(|c| !c.is_outbound()) else {
                    continue;
                };
                mark_dirty(&mut self.dirty, &mut conn.flags, id);
                let out = conn.output.writer(&mut self.out_pool);
                match &mut conn.protocol {
                    Protocol::WebSocket(ws) => {
                        let _ = ws.close(
                            crate::ws::CloseCode::GOING_AWAY,
                            "server shutting down",
                            out,
                            self.now,
                        );
                    }
                    Protocol::Http(session) => {
                        let streaming = session.phase() == Phase::Streaming;
                        session.close_after_exchange(out, self.now);
                        if streaming && session.phase() != Phase::Streaming {
                            self.answer_complete(id, None); // the stream was ended here
                        }
                        self.finish_if_done(id);
                    }
                    Protocol::Closing { .. } | Protocol::Outbound(_) => {}
                }
            }
        }
        // Connections that said everything (output flushed, FIN sent) need not linger for
        // the peer's FIN while the server is going away.
        for id in self.conns.ids() {
            if let Some(conn) = self.conns.get(id)
                && conn.is_closing()
                && conn.flags.write_shut
                && conn.output.pending() == 0
            {
                self.remove(id, DisconnectReason::ShutDown, handler);
            }
        }
        if self.conns.len() == self.outbound || self.now >= deadline {
            for id in self.conns.ids() {
                self.remove(id, DisconnectReason::ShutDown, handler);
            }
            return true;
        }
        false
    }

    // ===== for Context =====

    pub(crate) fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.get(id)
    }

    /// `id`'s connection with its output buffer ready to append to, and the high-water
    /// mark check done: the common start of every send.
    pub(crate) fn sendable(
        &mut self,
        id: ConnId,
        check_full: bool,
    ) -> Result<(&mut Protocol, &mut Vec<u8>), SendError> {
        let high_water = self.config.write_buffer_high_water;
        let conn = self.conns.get_mut(id).ok_or(SendError::Gone)?;
        if check_full {
            refuse_if_full(&conn.output, &mut conn.flags, high_water)?;
        }
        mark_dirty(&mut self.dirty, &mut conn.flags, id);
        let out = conn.output.writer(&mut self.out_pool);
        Ok((&mut conn.protocol, out))
    }

    /// `id`'s WebSocket and its output buffer, for a data send, after the checks of
    /// [`open_websocket`]. `room` is how many bytes the send will append (0 if unknown):
    /// a large frame gets a buffer of its size at once
    /// ([`OutputBuffer::writer_with_room`]) — unless it is compressed, when its size is
    /// not known beforehand and the buffer grows as it needs (a 1 MiB message that
    /// compresses to 10 KB should not hold 1 MiB of buffer).
    pub(crate) fn ws_sendable(
        &mut self,
        id: ConnId,
        room: usize,
    ) -> Result<(&mut WsConnection, &mut Vec<u8>, &mut CodecPools), SendError> {
        let (ws, output, flags) = open_websocket(&mut self.conns, id, &self.config)?;
        let room = if ws.compresses(room) { 0 } else { room };
        mark_dirty(&mut self.dirty, flags, id);
        let out = output.writer_with_room(&mut self.out_pool, room);
        Ok((ws, out, &mut self.codec_pools))
    }

    /// Would a message of `len` bytes to `id` go out compressed (permessage-deflate)?
    pub(crate) fn ws_compresses(&self, id: ConnId, len: usize) -> bool {
        match self.conns.get(id).map(|conn| &conn.protocol) {
            Some(Protocol::WebSocket(ws)) => ws.compresses(len),
            _ => false,
        }
    }

    /// Queues a message shared with other connections to `id`'s WebSocket (see
    /// [`Context::send_shared`]): the checks of every data send, then the header inline
    /// and the payload — the message or its compressed form, made once for every
    /// connection with the same parameters — by reference when it is large.
    pub(crate) fn ws_send_shared(
        &mut self,
        id: ConnId,
        message: &mut SharedMessage,
    ) -> Result<(), SendError> {
        let (ws, output, flags) = open_websocket(&mut self.conns, id, &self.config)?;
        let frame = queue_shared_message(
            ws,
            output,
            message,
            &mut self.out_pool,
            &mut self.codec_pools,
        );
        if frame.is_ok() {
            mark_dirty(&mut self.dirty, flags, id);
        }
        frame
    }

    /// The request `id` is streaming the answer of, if any.
    pub(crate) fn streamed_request(&self, id: ConnId) -> Option<RequestId> {
        match &self.conns.get(id)?.protocol {
            Protocol::Http(session) => Some(RequestId::new(id, session.streaming_exchange()?)),
            _ => None,
        }
    }

    /// Appends `data` to the streamed answer of `request` by reference (see
    /// [`Context::stream_shared`]): the chunk header inline, the bytes shared, the
    /// chunk's CRLF after them.
    pub(crate) fn http_stream_shared(
        &mut self,
        request: RequestId,
        data: &Arc<[u8]>,
    ) -> Result<(), SendError> {
        let high_water = self.config.write_buffer_high_water;
        let id = request.conn();
        let conn = self.conns.get_mut(id).ok_or(SendError::Gone)?;
        refuse_if_full(&conn.output, &mut conn.flags, high_water)?;
        let Protocol::Http(session) = &mut conn.protocol else {
            return Err(SendError::Gone);
        };
        let mut head = [0u8; CHUNK_HEAD_MAX];
        let framing = session
            .stream_chunk_head(request.exchange(), data.len(), &mut head)
            .map_err(exchange_error)?;
        mark_dirty(&mut self.dirty, &mut conn.flags, id);
        conn.output
            .queue_shared(&head[..framing.len], Arc::clone(data));
        if !framing.trailer.is_empty() {
            conn.output
                .writer(&mut self.out_pool)
                .extend_from_slice(framing.trailer);
        }
        Ok(())
    }

    /// Appends a body made of shared pieces after what `id` has queued: pieces under
    /// [`SHARE_MIN`] are copied (a segment costs more than a short copy), the rest shared.
    pub(crate) fn append_pieces(&mut self, id: ConnId, pieces: &[Arc<[u8]>]) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        mark_dirty(&mut self.dirty, &mut conn.flags, id);
        for piece in pieces {
            if piece.len() < SHARE_MIN {
                conn.output
                    .writer(&mut self.out_pool)
                    .extend_from_slice(piece);
            } else {
                conn.output.queue_shared(&[], Arc::clone(piece));
            }
        }
    }

    /// Queues `payload` whole after `id`'s output (see [`Context::send_message`]).
    pub(crate) fn queue_owned(&mut self, id: ConnId, payload: Vec<u8>) {
        if let Some(conn) = self.conns.get_mut(id) {
            conn.output.queue_owned(payload, &mut self.out_pool);
        }
    }

    /// Queues `message` to every WebSocket that can take it now (see
    /// [`Context::broadcast`]); returns how many.
    pub(crate) fn broadcast(&mut self, message: &mut SharedMessage) -> usize {
        let high_water = self.config.write_buffer_high_water;
        let mut delivered = 0;
        for (id, conn) in self.conns.iter_mut() {
            let Protocol::WebSocket(ws) = &mut conn.protocol else {
                continue;
            };
            // Skipped: closing, full, or in the middle of a message sent in parts (a frame
            // of another message may not go in between, RFC 6455 §5.4).
            if !ws.is_open() || ws.is_sending_parts() || conn.output.pending() >= high_water {
                continue;
            }
            let queued = queue_shared_message(
                ws,
                &mut conn.output,
                message,
                &mut self.out_pool,
                &mut self.codec_pools,
            );
            if queued.is_ok() {
                delivered += 1;
                mark_dirty(&mut self.dirty, &mut conn.flags, id);
            }
        }
        delivered
    }

    pub(crate) fn out_pool(&mut self) -> &mut BufferPool {
        &mut self.out_pool
    }

    /// After an answer to a request on `id`: a closed session begins closing; a kept one
    /// reads its next request, at once if it is already buffered or reading had stopped.
    pub(crate) fn answered(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        mark_dirty(&mut self.dirty, &mut conn.flags, id);
        if !conn.input.is_empty() || conn.flags.read_stopped {
            // No read that can only say `WouldBlock` otherwise (10,000 of them after one
            // long-poll fan-out): the socket was read to the end while the request waited.
            mark_ready(&mut self.ready, &mut conn.flags, id);
        }
        self.finish_if_done(id);
    }

    // ===== counting and the access log =====

    /// The answer to `id`'s request is complete; `status` is its status unless it was
    /// counted when its head went out ([`answer_started`](Self::answer_started)).
    pub(crate) fn answer_complete(&mut self, id: ConnId, status: Option<StatusCode>) {
        if let Some(status) = status {
            self.stats.count_response(status);
        }
        if self.access.is_some() {
            let pending = self.pending(id);
            if let Some(book) = &mut self.access {
                book.answered(id, status, pending, self.now, self.wall, &self.config.log);
            }
        }
    }

    /// The streamed answer to `id`'s request began with `status`.
    pub(crate) fn answer_started(&mut self, id: ConnId, status: StatusCode) {
        self.stats.count_response(status);
        if let Some(book) = &mut self.access {
            book.status_sent(id, status);
        }
    }

    /// `id`'s WebSocket session ended as `close` says (just before the handler hears it).
    fn ws_ended(&mut self, id: ConnId, close: &CloseEvent<'_>) {
        self.stats.count_close(close.code, close.kind);
        if let Some(book) = &mut self.access {
            book.ws_closed(id, close.code);
        }
    }

    // ===== trace =====

    /// Prints a connection-level note in the trace (no-op unless tracing is on).
    pub(crate) fn trace_note(&mut self, id: ConnId, note: &str) {
        if let Some(traces) = &mut self.traces {
            let line = trace::note(self.wall, &id.to_string(), note);
            self.config.log.write(Level::Trace, &line);
            if note.starts_with("removed") {
                traces.remove(&id);
            }
        }
    }
}

/// What taking newly read bytes led to.
#[derive(Debug, Default, Clone, Copy)]
struct Received {
    /// The output has grown large enough to be written now, mid-turn.
    flush: bool,
    /// Processing stopped at its budget: read no more this turn.
    yielded: bool,
    /// Processing stopped to let `flush` happen: input is left to process after it.
    more: bool,
}

/// Why processing a connection's input stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// It needs more input, an answer, or the peer to read (or it is gone).
    Done,
    /// It used its [`PROCESS_BUDGET`] with input left: the rest waits for the next turn.
    Budget,
    /// It queued [`FLUSH_EARLY`] bytes of output with input left: write, then go on.
    Flush,
}

/// What a session's own answers on `id` are told to: the counters and, when it is on,
/// the access log. Takes the core's fields alone, so the caller may hold the session.
fn own_answers<'a>(
    stats: &'a mut Stats,
    access: &'a mut Option<AccessBook>,
    log: &'a Log,
    id: ConnId,
    (now, wall): (Instant, SystemTime),
) -> impl FnMut(OwnAnswer<'_>) + 'a {
    move |answer: OwnAnswer<'_>| {
        stats.count_response(answer.status);
        if let Some(book) = access {
            book.own_answer(id, &answer, now, wall, log);
        }
    }
}

/// Traces bytes that just crossed the wire (at `wall`).
fn trace_bytes(
    traces: &mut HashMap<ConnId, [WireTrace; 2]>,
    log: &Log,
    wall: SystemTime,
    id: ConnId,
    direction: Direction,
    bytes: &[u8],
) {
    let [inbound, outbound] = traces.entry(id).or_insert_with(|| {
        [
            WireTrace::new(id.to_string(), Direction::In),
            WireTrace::new(id.to_string(), Direction::Out),
        ]
    });
    let mut lines = Vec::new();
    match direction {
        Direction::In => inbound.feed(bytes, wall, &mut lines),
        Direction::Out => outbound.feed(bytes, wall, &mut lines),
    }
    for line in lines {
        log.write(Level::Trace, &line);
    }
}
