//! The loop's state that handlers may act on, and [`Context`], their view of it.

use std::borrow::Cow;
use std::time::Instant;

use mio::Registry;

use super::conn::{Conn, Phase};
use super::slab::{ConnId, Slab};
use super::timers::Timers;
use crate::config::Config;
use crate::error::SendError;
use crate::http::{HeadParser, Response};
use crate::message::{Message, MessagePart};
use crate::ws::close::CloseCode;
use crate::ws::connection::WsConnection;
use crate::ws::frame::{self, OpCode};

/// Owned payloads at least this large are queued without copying
/// ([`Context::send_message`]).
const MOVE_THRESHOLD: usize = 64 * 1024;

/// Output buffers kept for reuse, so a busy connection does not allocate per turn and an
/// idle one holds none.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    buffers: Vec<Vec<u8>>,
}

impl BufferPool {
    const MAX_BUFFERS: usize = 256;
    const MAX_KEPT_CAPACITY: usize = 64 * 1024;

    pub fn take(&mut self) -> Vec<u8> {
        self.buffers.pop().unwrap_or_default()
    }

    pub fn give(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > Self::MAX_KEPT_CAPACITY {
            return;
        }
        if self.buffers.len() < Self::MAX_BUFFERS {
            buf.clear();
            self.buffers.push(buf);
        }
    }
}

/// Everything about the loop except the socket poller and the shared read buffer.
#[derive(Debug)]
pub(crate) struct Core {
    pub conns: Slab<Conn>,
    pub timers: Timers,
    pub config: Config,
    pub registry: Registry,
    /// The time of this turn of the loop (read once per turn).
    pub now: Instant,
    /// Connections to flush and reschedule at the end of the turn.
    pub dirty: Vec<ConnId>,
    /// Connections to read again without waiting for a readiness event: their read budget
    /// ran out, backpressure lifted, or a pipelined request is waiting in `leftover`.
    pub ready: Vec<ConnId>,
    pub pool: BufferPool,
    /// Set when graceful shutdown begins: the instant it must be over.
    pub shutdown_deadline: Option<Instant>,
    /// Per-connection wire traces, when `Config::trace` is on.
    pub traces: Option<std::collections::HashMap<ConnId, ConnTrace>>,
}

/// Both directions of one connection's trace.
#[derive(Debug)]
pub(crate) struct ConnTrace {
    pub inbound: crate::trace::WireTrace,
    pub outbound: crate::trace::WireTrace,
}

impl Core {
    /// Traces bytes that just crossed the wire (no-op unless tracing is on).
    pub fn trace(&mut self, id: ConnId, direction: crate::trace::Direction, bytes: &[u8]) {
        let Some(traces) = &mut self.traces else {
            return;
        };
        let t = traces.entry(id).or_insert_with(|| ConnTrace {
            inbound: crate::trace::WireTrace::new(id.to_string(), crate::trace::Direction::In),
            outbound: crate::trace::WireTrace::new(id.to_string(), crate::trace::Direction::Out),
        });
        let mut lines = Vec::new();
        match direction {
            crate::trace::Direction::In => t.inbound.feed(bytes, &mut lines),
            crate::trace::Direction::Out => t.outbound.feed(bytes, &mut lines),
        }
        for line in lines {
            eprintln!("{line}");
        }
    }

    /// Prints a connection-level note in the trace.
    pub fn trace_note(&mut self, id: ConnId, note: &str) {
        if let Some(traces) = &mut self.traces {
            eprintln!("[{id}] {note}");
            if note.starts_with("removed") {
                traces.remove(&id);
            }
        }
    }
}

impl Core {
    /// Puts `id` on the end-of-turn list (flush output, reschedule timer).
    pub fn mark_dirty(&mut self, id: ConnId) {
        if let Some(conn) = self.conns.get_mut(id)
            && !conn.dirty
        {
            conn.dirty = true;
            self.dirty.push(id);
        }
    }

    /// The connection's output buffer, taken from the pool if it has none.
    pub fn out_buffer<'c>(pool: &mut BufferPool, conn: &'c mut Conn) -> &'c mut Vec<u8> {
        if conn.out.capacity() == 0 {
            conn.out = pool.take();
        }
        &mut conn.out
    }

    /// Begins closing the TCP connection once its output is flushed.
    pub fn begin_closing(&mut self, id: ConnId) {
        let deadline = self.now + self.config.close_timeout;
        if let Some(conn) = self.conns.get_mut(id) {
            conn.phase = Phase::Closing { deadline };
            conn.read_paused = false;
        }
        self.mark_dirty(id);
    }

    /// After a response: read the next request, or close.
    ///
    /// On a keep-alive connection the next exchange gets a new id: the old one goes stale,
    /// so a late answer meant for the request just answered (from another thread, say)
    /// fails with `Gone` instead of answering the next request.
    fn after_response(&mut self, id: ConnId, keep_alive: bool) {
        // Shutting down: no new requests on old connections either.
        if !keep_alive || self.shutdown_deadline.is_some() {
            self.begin_closing(id);
            return;
        }
        let deadline = self.now + self.config.request_timeout;
        let high_water = self.config.write_buffer_high_water;
        let Some(id) = self.conns.rekey(id) else {
            return;
        };
        if let Some(traces) = &mut self.traces
            && let Some(old) = traces.keys().find(|k| k.index() == id.index()).copied()
            && let Some(t) = traces.remove(&old)
        {
            traces.insert(id, t);
        }
        let conn = self.conns.get_mut(id).expect("just rekeyed");
        conn.phase = Phase::ReadingHead {
            parser: Box::new(HeadParser::new()),
            deadline,
        };
        // Entries under the old id in the dirty list and the timer heap are now stale.
        conn.dirty = false;
        conn.timer_at = None;
        // Reading may have stopped while the request waited (pipelined bytes filled
        // the buffer); only backpressure may keep it stopped now.
        let was_paused = conn.read_paused;
        conn.read_paused = conn.pending() >= high_water;
        // A pipelined request may already be waiting in `leftover`, or bytes may have
        // arrived while reading was paused: look now. Otherwise the socket was read to
        // the end while the request waited, and new bytes will raise a readiness event —
        // no need for a read that can only say `WouldBlock` (10,000 of them after one
        // long-poll fan-out).
        if !conn.leftover.is_empty() || was_paused {
            self.ready.push(id);
        }
        self.mark_dirty(id);
    }
}

/// What a [`Handler`](crate::Handler) can do from inside its callbacks: send, close,
/// respond, broadcast, shut down. Everything goes into the connections' output buffers,
/// which the loop flushes at the end of the turn — many sends, one `write` per
/// connection.
pub struct Context<'a> {
    pub(crate) core: &'a mut Core,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("connections", &self.core.conns.len())
            .finish()
    }
}

impl Context<'_> {
    /// The time of the current turn of the event loop.
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// The server's configuration.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// Number of connections (in any phase).
    pub fn connection_count(&self) -> usize {
        self.core.conns.len()
    }

    /// `true` if `conn` is an open WebSocket that can be sent to.
    pub fn is_open(&self, conn: ConnId) -> bool {
        matches!(self.core.conns.get(conn).map(|c| &c.phase), Some(Phase::WebSocket(ws)) if ws.is_open())
    }

    /// Unsent bytes queued for `conn` (0 for an unknown id).
    pub fn pending_bytes(&self, conn: ConnId) -> usize {
        self.core.conns.get(conn).map_or(0, Conn::pending)
    }

    /// Queues a message to one WebSocket.
    ///
    /// Fails with [`SendError::Full`] while the connection's unsent output is at or
    /// above [`Config::write_buffer_high_water`]: the message is not queued and stays
    /// yours (backpressure; a peer that never reads cannot grow server memory).
    pub fn send(&mut self, conn: ConnId, message: &Message<'_>) -> Result<(), SendError> {
        self.send_with(conn, |ws, out| ws.send(message, out))
    }

    /// Queues a message to one WebSocket, taking it by value: a payload the message owns
    /// (one that was assembled from fragments or from several reads, or built by the
    /// application) of 64 KiB or more is queued *without copying* — the frame header goes
    /// into the write buffer and the payload follows it as its own buffer, sent with
    /// `writev`. Smaller or borrowed payloads are copied as by [`send`](Self::send). On
    /// error the message is dropped (call `send` to keep it).
    pub fn send_message(&mut self, conn: ConnId, message: Message<'_>) -> Result<(), SendError> {
        let (is_text, mut payload) = match message {
            Message::Text(Cow::Owned(text)) if text.len() >= MOVE_THRESHOLD => {
                (true, text.into_bytes())
            }
            Message::Binary(Cow::Owned(data)) if data.len() >= MOVE_THRESHOLD => (false, data),
            borrowed_or_small => return self.send(conn, &borrowed_or_small),
        };
        self.send_with(conn, |ws, out| ws.send_header(is_text, &mut payload, out))?;
        let core = &mut *self.core;
        let fresh = core.pool.take();
        let c = core.conns.get_mut(conn).expect("just sent to");
        c.queue_owned(payload, fresh);
        Ok(())
    }

    /// Queues one part of a message sent in pieces — typically forwarding the
    /// [`MessagePart`]s of a streamed message as they arrive (see
    /// [`WsConnection::send_part`](crate::ws::connection::WsConnection::send_part)). Until
    /// its last part, other messages to `conn` fail with [`SendError::Busy`].
    pub fn send_part(&mut self, conn: ConnId, part: &MessagePart<'_>) -> Result<(), SendError> {
        self.send_with(conn, |ws, out| ws.send_part(part, out))
    }

    /// The checks every data send shares — the connection exists, is an open WebSocket,
    /// and is below its write-buffer high-water mark (else `Full`, and `on_drained` is
    /// owed) — then `write` appends its frames to the connection's output.
    fn send_with(
        &mut self,
        conn: ConnId,
        write: impl FnOnce(&mut WsConnection, &mut Vec<u8>) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        let core = &mut *self.core;
        let c = core.conns.get_mut(conn).ok_or(SendError::Gone)?;
        let pending = c.pending();
        let Phase::WebSocket(ws) = &mut c.phase else {
            return Err(SendError::NotOpen);
        };
        if !ws.is_open() {
            return Err(SendError::NotOpen);
        }
        if pending >= core.config.write_buffer_high_water {
            c.send_refused = true;
            return Err(SendError::Full);
        }
        if c.out.capacity() == 0 {
            c.out = core.pool.take();
        }
        write(ws, &mut c.out)?;
        core.mark_dirty(conn);
        Ok(())
    }

    /// Queues a text message.
    pub fn send_text(&mut self, conn: ConnId, text: &str) -> Result<(), SendError> {
        self.send(conn, &Message::text(text))
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, conn: ConnId, data: &[u8]) -> Result<(), SendError> {
        self.send(conn, &Message::binary(data))
    }

    /// Queues a ping (payload at most 125 bytes).
    pub fn ping(&mut self, conn: ConnId, payload: &[u8]) -> Result<(), SendError> {
        let core = &mut *self.core;
        let c = core.conns.get_mut(conn).ok_or(SendError::Gone)?;
        let Phase::WebSocket(ws) = &mut c.phase else {
            return Err(SendError::NotOpen);
        };
        if c.out.capacity() == 0 {
            c.out = core.pool.take();
        }
        ws.ping(payload, &mut c.out)?;
        core.mark_dirty(conn);
        Ok(())
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123 bytes). The
    /// handler's `on_close` follows when the peer answers or `close_timeout` passes.
    pub fn close(&mut self, conn: ConnId, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let core = &mut *self.core;
        let now = core.now;
        let c = core.conns.get_mut(conn).ok_or(SendError::Gone)?;
        match &mut c.phase {
            Phase::WebSocket(ws) => {
                if c.out.capacity() == 0 {
                    c.out = core.pool.take();
                }
                ws.close(code, reason, &mut c.out, now)?;
                core.mark_dirty(conn);
                Ok(())
            }
            Phase::Closing { .. } => Err(SendError::NotOpen),
            // An HTTP connection has no closing handshake: just close it.
            Phase::ReadingHead { .. }
            | Phase::ReadingBody { .. }
            | Phase::AwaitingResponse { .. } => {
                core.begin_closing(conn);
                Ok(())
            }
        }
    }

    /// Sends `message` to every open WebSocket. The frame is encoded once and copied to
    /// each connection. Connections whose write buffer is full are skipped. Returns how
    /// many connections it was queued for.
    pub fn broadcast(&mut self, message: &Message<'_>) -> usize {
        let core = &mut *self.core;
        let opcode = if message.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        let mut encoded = core.pool.take();
        frame::write_frame(&mut encoded, true, opcode, message.as_bytes(), None);
        let high_water = core.config.write_buffer_high_water;
        let mut delivered = 0;
        for (id, c) in core.conns.iter_mut() {
            let Phase::WebSocket(ws) = &c.phase else {
                continue;
            };
            // Skipped: closing, full, or in the middle of a message sent in parts (a frame
            // of another message may not go in between, RFC 6455 §5.4).
            if !ws.is_open() || ws.is_sending_parts() || c.pending() >= high_water {
                continue;
            }
            if c.out.capacity() == 0 {
                c.out = core.pool.take();
            }
            c.out.extend_from_slice(&encoded);
            delivered += 1;
            if !c.dirty {
                c.dirty = true;
                core.dirty.push(id);
            }
        }
        core.pool.give(encoded);
        delivered
    }

    /// Answers the request the application received in
    /// [`Handler::on_request`](crate::Handler::on_request) on `conn`. The connection then
    /// reads the next request (keep-alive), or closes if the request or the response says
    /// `Connection: close`.
    pub fn respond(&mut self, conn: ConnId, response: Response) -> Result<(), SendError> {
        let core = &mut *self.core;
        let c = core.conns.get_mut(conn).ok_or(SendError::Gone)?;
        let Phase::AwaitingResponse {
            keep_alive,
            head_only,
            announce_keep_alive,
            ..
        } = c.phase
        else {
            return Err(SendError::NotOpen);
        };
        let keep_alive = keep_alive && !response.closes_connection();
        let response = if !keep_alive && !response.closes_connection() {
            // RFC 9112 §9.6: a server that is about to close says so.
            response.header("Connection", "close")
        } else if keep_alive && announce_keep_alive {
            response.header("Connection", "keep-alive")
        } else {
            response
        };
        if c.out.capacity() == 0 {
            c.out = core.pool.take();
        }
        response.encode(&mut c.out, head_only);
        core.after_response(conn, keep_alive);
        Ok(())
    }

    /// Answers many waiting requests with the same response, encoding it once: the
    /// encoded bytes are copied to every connection whose request was a keep-alive
    /// HTTP/1.1 request other than HEAD (the usual long-poll), and the others (HEAD,
    /// HTTP/1.0, `Connection: close`) get their own encoding. Connections that are gone
    /// or have no request waiting are skipped. Returns how many were answered.
    pub fn respond_all(&mut self, conns: &[ConnId], response: &Response) -> usize {
        let mut encoded = self.core.pool.take();
        let shareable = !response.closes_connection();
        if shareable {
            response.encode(&mut encoded, false);
        }
        let mut answered = 0;
        for &conn in conns {
            let core = &mut *self.core;
            let Some(c) = core.conns.get_mut(conn) else {
                continue;
            };
            let Phase::AwaitingResponse {
                keep_alive: true,
                head_only: false,
                announce_keep_alive: false,
                ..
            } = c.phase
            else {
                if self.respond(conn, response.clone()).is_ok() {
                    answered += 1;
                }
                continue;
            };
            if !shareable {
                if self.respond(conn, response.clone()).is_ok() {
                    answered += 1;
                }
                continue;
            }
            if c.out.capacity() == 0 {
                c.out = core.pool.take();
            }
            c.out.extend_from_slice(&encoded);
            core.after_response(conn, true);
            answered += 1;
        }
        self.core.pool.give(encoded);
        answered
    }

    /// Parks the request waiting on `conn` (a long-poll): it stays unanswered until the
    /// application calls [`respond`](Self::respond) — from any callback, or from another
    /// thread through [`Handle::respond`](crate::Handle::respond) — or until `until`, when
    /// [`Handler::on_park_timeout`](crate::Handler::on_park_timeout) is asked for the
    /// answer. If the client hangs up meanwhile,
    /// [`Handler::on_request_abandoned`](crate::Handler::on_request_abandoned) is called and
    /// later answers fail with `Gone`. A parked request holds no buffers.
    pub fn park(&mut self, conn: ConnId, until: Instant) -> Result<(), SendError> {
        let core = &mut *self.core;
        let c = core.conns.get_mut(conn).ok_or(SendError::Gone)?;
        let Phase::AwaitingResponse { parked_until, .. } = &mut c.phase else {
            return Err(SendError::NotOpen);
        };
        *parked_until = Some(until);
        core.mark_dirty(conn);
        Ok(())
    }

    /// Begins graceful shutdown: no new connections, every WebSocket is closed with 1001
    /// (going away), and the loop ends once all connections are gone or
    /// [`Config::shutdown_timeout`] passes.
    pub fn shutdown(&mut self) {
        if self.core.shutdown_deadline.is_none() {
            self.core.shutdown_deadline = Some(self.core.now + self.core.config.shutdown_timeout);
        }
    }
}
