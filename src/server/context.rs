//! [`Context`]: what a [`Handler`](crate::Handler) can do from inside its callbacks.

use core::net::SocketAddr;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::conn::Protocol;
use super::core::{Core, exchange_error};
use super::ids::{ConnId, RequestId};
use super::output::SHARE_MIN;
use super::stats::{ConnectionCounts, Stats};
use crate::config::Config;
use crate::error::{ConnectError, SendError};
use crate::http::{Body, Response};
use crate::message::{Message, MessagePart};
use crate::ws::close::CloseCode;
use crate::ws::compression::{CodecPools, CompressionStats, SharedMessage};
use crate::ws::connection::WsConnection;
use crate::ws::frame::FrameHeader;

/// Owned payloads at least this large are queued without copying
/// ([`Context::send_message`]).
const MOVE_THRESHOLD: usize = 64 * 1024;

/// What a [`Handler`](crate::Handler) can do from inside its callbacks: send, close,
/// respond, park, stream, broadcast, shut down. Everything goes into the connections'
/// output buffers, which the loop flushes at the end of the turn — many sends, one
/// `write` per connection (large output leaves at once).
pub struct Context<'a> {
    pub(crate) core: &'a mut Core,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("connections", &self.core.len())
            .finish()
    }
}

impl Context<'_> {
    /// The time of the current turn of the event loop.
    pub fn now(&self) -> Instant {
        self.core.now()
    }

    /// The calendar time of the current turn (`SystemTime::now()` as the loop read it
    /// with [`now`](Self::now); under a [`ServerPair`](crate::pair::ServerPair), the
    /// virtual clock's). For what is dated outside the process, like a token's expiry;
    /// measure intervals with `now`.
    pub fn wall_time(&self) -> SystemTime {
        self.core.wall()
    }

    /// Asks the loop to call [`Handler::on_wake`](crate::Handler::on_wake) once `at` has
    /// come: the handler's own timer, for work of its own that is due later (expiring
    /// idle state, heartbeats). There is one such wake-up; asking again keeps the earlier
    /// of the two instants, and after it fires none is set until the handler asks again.
    /// A handler with several deadlines keeps them itself and asks for the earliest.
    pub fn wake_at(&mut self, at: Instant) {
        self.core.wake_at(at);
    }

    /// The server's configuration.
    pub fn config(&self) -> &Config {
        self.core.config()
    }

    /// Number of connections (in any phase).
    pub fn connection_count(&self) -> usize {
        self.core.len()
    }

    /// What the server has counted since it started: connections accepted and
    /// refused, bytes, answers by status, WebSocket closes, the loop's turn times (see
    /// [`Stats`]). Plain counters of the loop's thread, free to read.
    pub fn stats(&self) -> &Stats {
        self.core.stats()
    }

    /// The connections now, by transport and state. Counted when called, by a walk over
    /// every connection: for a scrape, not for every message.
    pub fn connection_counts(&self) -> ConnectionCounts {
        self.core.connection_counts()
    }

    /// `true` if `conn` is an open WebSocket that can be sent to.
    pub fn is_open(&self, conn: ConnId) -> bool {
        matches!(
            self.core.conn(conn).map(|c| &c.protocol),
            Some(Protocol::WebSocket(ws)) if ws.is_open()
        )
    }

    /// Unsent bytes queued for `conn` (0 for an unknown id).
    pub fn pending_bytes(&self, conn: ConnId) -> usize {
        self.core.pending(conn)
    }

    // ===== WebSocket =====

    /// Queues a message to one WebSocket.
    ///
    /// Fails with [`SendError::Full`] while the connection's unsent output is at or
    /// above [`Config::write_buffer_high_water`]: the message is not queued and stays
    /// yours (backpressure; a peer that never reads cannot grow server memory), and
    /// [`Handler::on_drained`](crate::Handler::on_drained) follows once it has read.
    pub fn send(&mut self, conn: ConnId, message: &Message<'_>) -> Result<(), SendError> {
        let room = FrameHeader::MAX_LEN + message.len();
        self.send_with(conn, room, |ws, out, pools| {
            ws.send_pooled(message, out, pools)
        })
    }

    /// Queues a message to one WebSocket, taking it by value: a payload the message owns
    /// (one that was assembled from fragments or from several reads, or built by the
    /// application) of 64 KiB or more is queued *without copying* — the frame header goes
    /// into the write buffer and the payload follows it as its own buffer, sent with
    /// `writev`. Smaller or borrowed payloads are copied as by [`send`](Self::send). On
    /// error the message is dropped (call `send` to keep it).
    pub fn send_message(&mut self, conn: ConnId, message: Message<'_>) -> Result<(), SendError> {
        // Only a large owned payload is worth a look at the connection: compressed, it
        // is copied anyway (into its compressed form).
        let movable = |len: usize| len >= MOVE_THRESHOLD && !self.core.ws_compresses(conn, len);
        let (is_text, mut payload) = match message {
            Message::Text(Cow::Owned(text)) if movable(text.len()) => (true, text.into_bytes()),
            Message::Binary(Cow::Owned(data)) if movable(data.len()) => (false, data),
            borrowed_small_or_compressed => return self.send(conn, &borrowed_small_or_compressed),
        };
        let room = FrameHeader::MAX_LEN;
        self.send_with(conn, room, |ws, out, _| {
            ws.send_header(is_text, &mut payload, out)
        })?;
        self.core.queue_owned(conn, payload);
        Ok(())
    }

    /// Queues a message shared with other connections — one message fanned out to many
    /// subscribers. Pass the same [`SharedMessage`] to each: from 1 KiB up its payload
    /// is queued by reference, not copied, so a payload sent to a thousand connections
    /// exists once (it is freed when the last of them has written it); and on
    /// connections that compress (permessage-deflate without context takeover, as
    /// [`Compression::memory_light`](crate::ws::compression::Compression::memory_light)
    /// agrees) it is compressed once for all of them that agreed the same window, the
    /// first time one of them needs it. A connection with context takeover compresses
    /// it itself. Errors as [`send`](Self::send).
    pub fn send_shared(
        &mut self,
        conn: ConnId,
        message: &mut SharedMessage,
    ) -> Result<(), SendError> {
        self.core.ws_send_shared(conn, message)
    }

    /// [`send_shared`](Self::send_shared) for one text message alone: the payload is
    /// shared, but a compressed form is made for this connection only. Keep a
    /// [`SharedMessage`] for a fan-out.
    pub fn send_shared_text(&mut self, conn: ConnId, text: &Arc<str>) -> Result<(), SendError> {
        self.send_shared(conn, &mut SharedMessage::text(Arc::clone(text)))
    }

    /// [`send_shared_text`](Self::send_shared_text) for a binary message.
    pub fn send_shared_binary(&mut self, conn: ConnId, data: &Arc<[u8]>) -> Result<(), SendError> {
        self.send_shared(conn, &mut SharedMessage::binary(Arc::clone(data)))
    }

    /// Queues one part of a message sent in pieces — typically forwarding the
    /// [`MessagePart`]s of a streamed message as they arrive (see
    /// [`WsConnection::send_part`]). Until its last part, other messages to `conn` fail
    /// with [`SendError::Busy`].
    pub fn send_part(&mut self, conn: ConnId, part: &MessagePart<'_>) -> Result<(), SendError> {
        let room = FrameHeader::MAX_LEN + part.data.len();
        self.send_with(conn, room, |ws, out, pools| {
            ws.send_part_pooled(part, out, pools)
        })
    }

    /// The checks every data send shares — the connection exists, is an open WebSocket,
    /// and is below its write-buffer high-water mark (else `Full`, and `on_drained` is
    /// owed) — then `write` appends its frames (`room` bytes, about) to the connection's
    /// output.
    fn send_with(
        &mut self,
        conn: ConnId,
        room: usize,
        write: impl FnOnce(
            &mut WsConnection,
            &mut Vec<u8>,
            &mut CodecPools,
        ) -> Result<(), crate::ws::SendError>,
    ) -> Result<(), SendError> {
        let (ws, out, pools) = self.core.ws_sendable(conn, room)?;
        write(ws, out, pools).map_err(SendError::from)
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
        let (protocol, out) = self.core.sendable(conn, false)?;
        let Protocol::WebSocket(ws) = protocol else {
            return Err(SendError::NotOpen);
        };
        ws.ping(payload, out).map_err(SendError::from)
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123 bytes). The
    /// handler's `on_close` follows when the peer answers or `close_timeout` passes. An
    /// HTTP connection has no closing handshake: it closes once its output is flushed.
    /// An outbound connection closes as with [`close_outbound`](Self::close_outbound)
    /// (code and reason are a WebSocket's: not sent).
    pub fn close(&mut self, conn: ConnId, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let now = self.core.now();
        let (protocol, out) = self.core.sendable(conn, false)?;
        match protocol {
            Protocol::WebSocket(ws) => ws.close(code, reason, out, now).map_err(SendError::from),
            Protocol::Closing { .. } => Err(SendError::NotOpen),
            Protocol::Http(_) => {
                self.core.begin_closing(conn);
                Ok(())
            }
            Protocol::Outbound(_) => self.core.close_outbound(conn),
        }
    }

    /// Sends `message` to every open WebSocket, encoded once: the same frame is copied
    /// (or, from 1 KiB up, shared) into each connection's output, and compressed once
    /// for all the connections that compress with the same parameters (see
    /// [`send_shared`](Self::send_shared)). Connections whose write buffer is full, or
    /// that are in the middle of a message sent in parts, are skipped. Returns how many
    /// connections it was queued for.
    pub fn broadcast(&mut self, message: &Message<'_>) -> usize {
        self.core
            .broadcast(&mut SharedMessage::from_message(message))
    }

    /// What the server has compressed so far (permessage-deflate): messages, bytes
    /// before and after. A broadcast compressed once counts once.
    pub fn compression_stats(&self) -> CompressionStats {
        self.core.compression_stats()
    }

    // ===== HTTP =====

    /// Answers `request` (received in [`Handler::on_request`](crate::Handler::on_request)).
    /// The connection then reads its next request (keep-alive), or closes if the request
    /// or the response says `Connection: close`. Fails with [`SendError::Gone`] if the
    /// request was answered already, or its client left.
    pub fn respond(&mut self, request: RequestId, response: Response) -> Result<(), SendError> {
        let now = self.core.now();
        let (protocol, out) = self.core.sendable(request.conn(), false)?;
        let Protocol::Http(session) = protocol else {
            return Err(SendError::Gone);
        };
        if let Body::Pieces(pieces) = response.get_body() {
            // The head now, then the pieces by reference, in order.
            let body_follows = session
                .respond_head(request.exchange(), &response, out, now)
                .map_err(exchange_error)?;
            if body_follows {
                self.core.append_pieces(request.conn(), pieces);
            }
        } else {
            session
                .respond(request.exchange(), &response, out, now)
                .map_err(exchange_error)?;
        }
        self.core
            .answer_complete(request.conn(), Some(response.status()));
        self.core.answered(request.conn());
        Ok(())
    }

    /// Answers many waiting requests with the same response, encoding it once: the
    /// encoded bytes are copied to every request that was a keep-alive HTTP/1.1 GET (the
    /// usual long-poll), and the others (HEAD, HTTP/1.0, `Connection: close`) get their
    /// own encoding. Requests that are gone or answered are skipped. Returns how many
    /// were answered.
    pub fn respond_all(&mut self, requests: &[RequestId], response: &Response) -> usize {
        let now = self.core.now();
        let mut encoded = self.core.out_pool().take();
        response.encode(&mut encoded, false);
        let mut answered = 0;
        for &request in requests {
            let Ok((Protocol::Http(session), out)) = self.core.sendable(request.conn(), false)
            else {
                continue;
            };
            if session
                .respond_encoded(request.exchange(), response, &encoded, out, now)
                .is_ok()
            {
                self.core
                    .answer_complete(request.conn(), Some(response.status()));
                self.core.answered(request.conn());
                answered += 1;
            }
        }
        self.core.out_pool().give(encoded);
        answered
    }

    /// Parks `request` (a long-poll): it stays unanswered until the application calls
    /// [`respond`](Self::respond) — from any callback, or from another thread through
    /// [`Handle::respond`](crate::Handle::respond) — or until `until`, when
    /// [`Handler::on_park_timeout`](crate::Handler::on_park_timeout) is asked for the
    /// answer. If the client hangs up meanwhile,
    /// [`Handler::on_request_abandoned`](crate::Handler::on_request_abandoned) is called and
    /// later answers fail with `Gone`. A parked request holds no buffers.
    pub fn park(&mut self, request: RequestId, until: Instant) -> Result<(), SendError> {
        let (protocol, _) = self.core.sendable(request.conn(), false)?;
        let Protocol::Http(session) = protocol else {
            return Err(SendError::Gone);
        };
        session
            .park(request.exchange(), until)
            .map_err(exchange_error)
    }

    /// Starts a streamed answer to `request`: `head`'s status and fields now (its body is
    /// not sent), then any number of [`stream`](Self::stream) calls, then
    /// [`end_stream`](Self::end_stream). HTTP/1.1 gets a chunked body; HTTP/1.0 a body
    /// that ends when the connection closes. A client that leaves meanwhile is reported
    /// by [`Handler::on_request_abandoned`](crate::Handler::on_request_abandoned).
    pub fn start_stream(&mut self, request: RequestId, head: &Response) -> Result<(), SendError> {
        let now = self.core.now();
        let (protocol, out) = self.core.sendable(request.conn(), false)?;
        let Protocol::Http(session) = protocol else {
            return Err(SendError::Gone);
        };
        session
            .start_stream(request.exchange(), head, out, now)
            .map_err(exchange_error)?;
        // A HEAD request, or a status without content, got the head alone: answered.
        let streaming = session.phase() == crate::session::Phase::Streaming;
        if streaming {
            self.core.answer_started(request.conn(), head.status());
        } else {
            self.core
                .answer_complete(request.conn(), Some(head.status()));
        }
        self.core.answered(request.conn());
        Ok(())
    }

    /// Appends `data` to the streamed answer of `request`. Fails with
    /// [`SendError::Full`] while the connection's unsent output is at its high-water mark
    /// (nothing is queued; [`Handler::on_drained`](crate::Handler::on_drained) follows
    /// once the client has read).
    pub fn stream(&mut self, request: RequestId, data: &[u8]) -> Result<(), SendError> {
        let (protocol, out) = self.core.sendable(request.conn(), true)?;
        let Protocol::Http(session) = protocol else {
            return Err(SendError::Gone);
        };
        session
            .stream_chunk(request.exchange(), data, out)
            .map_err(exchange_error)
    }

    /// [`stream`](Self::stream) for bytes shared among many streamed answers (one
    /// Server-Sent Event for every subscriber): from 1 KiB up they are queued by
    /// reference, not copied — only the chunk's framing is written per connection.
    /// Errors as `stream`.
    pub fn stream_shared(&mut self, request: RequestId, data: &Arc<[u8]>) -> Result<(), SendError> {
        if data.len() < SHARE_MIN || data.is_empty() {
            return self.stream(request, data);
        }
        self.core.http_stream_shared(request, data)
    }

    /// The request whose answer `conn` is streaming now ([`start_stream`](Self::start_stream)
    /// until it ends), if any: lets a handler that keeps its subscribers by connection
    /// tell a streamed one from a WebSocket without a table of its own.
    pub fn streamed_request(&self, conn: ConnId) -> Option<RequestId> {
        self.core.streamed_request(conn)
    }

    /// Ends the streamed answer of `request`; the connection then reads its next request,
    /// or closes (HTTP/1.0).
    pub fn end_stream(&mut self, request: RequestId) -> Result<(), SendError> {
        let now = self.core.now();
        let (protocol, out) = self.core.sendable(request.conn(), false)?;
        let Protocol::Http(session) = protocol else {
            return Err(SendError::Gone);
        };
        session
            .end_stream(request.exchange(), out, now)
            .map_err(exchange_error)?;
        self.core.answer_complete(request.conn(), None);
        self.core.answered(request.conn());
        Ok(())
    }

    // ===== outbound connections =====

    /// Opens a TCP connection to `addr` from the server's loop, without waiting: the
    /// connect is issued at the end of this turn, and its outcome arrives later as
    /// [`Handler::on_connected`](crate::Handler::on_connected) or
    /// [`Handler::on_disconnected`](crate::Handler::on_disconnected)
    /// ([`ConnectFailed`](crate::DisconnectReason::ConnectFailed),
    /// [`TimedOut`](crate::DisconnectReason::TimedOut) after
    /// [`Config::connect_timeout`]). Bytes may be queued with
    /// [`send_bytes`](Self::send_bytes) at once; they leave once it is established. What
    /// the peer sends reaches [`Handler::on_bytes`](crate::Handler::on_bytes).
    ///
    /// The connection has its own [`ConnId`] (never another's), the server's buffers and
    /// write high-water mark, but no HTTP rules: no request or idle deadline, not counted
    /// against [`Config::max_connections`], and left open by graceful shutdown until the
    /// clients are gone, then closed. Fails only while shutting down.
    pub fn connect(&mut self, addr: SocketAddr) -> Result<ConnId, ConnectError> {
        self.core.connect(addr)
    }

    /// Queues `bytes` to the outbound connection `conn`, to be written as they are —
    /// at the end of the turn with everything else queued, or once it is established if
    /// it is still connecting. Fails with [`SendError::Full`] while its unsent output is
    /// at or above [`Config::write_buffer_high_water`] (nothing is queued;
    /// [`Handler::on_drained`](crate::Handler::on_drained) follows once the peer has
    /// read), `NotOpen` if `conn` is not an outbound connection (or is closing), `Gone`
    /// if it has ended.
    pub fn send_bytes(&mut self, conn: ConnId, bytes: &[u8]) -> Result<(), SendError> {
        self.core.send_bytes(conn, bytes)
    }

    /// Closes the outbound connection `conn`: what is queued is still written, then our
    /// FIN (a connection still connecting is dropped at once). Nothing more is read from
    /// it or handed to the handler. [`Handler::on_disconnected`](crate::Handler::on_disconnected)
    /// follows, with [`Closed`](crate::DisconnectReason::Closed), later in this turn
    /// (never from inside this call). Fails with `NotOpen` if `conn` is not an open or
    /// connecting outbound connection, `Gone` if it has ended.
    pub fn close_outbound(&mut self, conn: ConnId) -> Result<(), SendError> {
        self.core.close_outbound(conn)
    }

    /// `true` if `conn` is an established outbound connection (not connecting, not
    /// closing).
    pub fn is_connected(&self, conn: ConnId) -> bool {
        self.core.is_connected(conn)
    }

    /// Begins graceful shutdown: no new connections, every WebSocket is closed with 1001
    /// (going away), parked requests are answered at once (by
    /// [`Handler::on_park_timeout`](crate::Handler::on_park_timeout)), and the loop ends
    /// once all connections are gone or [`Config::shutdown_timeout`] passes.
    pub fn shutdown(&mut self) {
        self.core.begin_shutdown();
    }
}
