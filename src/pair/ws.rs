//! A client and a server WebSocket wired together in memory, with a virtual clock.
//!
//! No sockets, no threads, no real time: fully deterministic. The pair performs the real
//! opening handshake (the client's request read by a server [`Session`], the server's
//! 101 checked by the client), then shuttles frames between two [`WsConnection`]s. The
//! byte streams can be cut at any points, which is how tests show that the protocol code
//! gives the same events and the same bytes however the network splits them.
//!
//! ```
//! use pushwire::pair::Pair;
//! use pushwire::{CloseCode, Message};
//!
//! let mut pair = Pair::connect(Default::default(), [7; 32]);
//! pair.client_send(&Message::text("hi"));
//! pair.drive();
//! assert_eq!(pair.take_server_events().len(), 1);
//! pair.server_close(CloseCode::NORMAL, "bye");
//! pair.drive();
//! assert!(pair.client.is_closed() && pair.server.is_closed());
//! ```
//!
//! [`Pair::connect_with_deflate`] negotiates permessage-deflate (RFC 7692) in that
//! handshake, so both ends compress.

use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::client::ClientCompression;
use crate::config::WsLimits;
use crate::message::Message;
use crate::session::{Event, Session, SessionConfig};
use crate::status::Status;
use crate::ws::client_handshake::ClientHandshake;
use crate::ws::close::CloseCode;
use crate::ws::compression::Compression;
use crate::ws::connection::{CloseEvent, WsConnection, WsEvent};
use crate::ws::permessage_deflate::Agreement;

/// An event with its borrowed parts copied, so it can be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedEvent {
    /// A data message.
    Message(Message<'static>),
    /// A piece of a streamed message: (is_text, bytes, first, last).
    Part(bool, Vec<u8>, bool, bool),
    /// A ping arrived (and was answered).
    Ping(Vec<u8>),
    /// A pong arrived.
    Pong(Vec<u8>),
    /// The connection ended.
    Closed(CloseEvent<'static>),
}

impl From<WsEvent<'_>> for OwnedEvent {
    fn from(e: WsEvent<'_>) -> Self {
        match e {
            WsEvent::Message(m) => OwnedEvent::Message(m.into_owned()),
            WsEvent::Part(p) => OwnedEvent::Part(p.is_text, p.data.to_vec(), p.first, p.last),
            WsEvent::Ping(p) => OwnedEvent::Ping(p.to_vec()),
            WsEvent::Pong(p) => OwnedEvent::Pong(p.to_vec()),
            WsEvent::Closed(c) => OwnedEvent::Closed(c.into_owned()),
        }
    }
}

/// One direction of the in-memory wire.
#[derive(Debug, Default)]
struct Wire {
    /// Written by the sender, not yet delivered.
    in_flight: Vec<u8>,
    /// Delivered, not yet consumed by the receiver (an incomplete frame).
    pending: Vec<u8>,
    /// Every byte ever written, for comparisons.
    log: Vec<u8>,
}

/// A connected client and server.
#[derive(Debug)]
pub struct Pair {
    /// The client end.
    pub client: WsConnection,
    /// The server end.
    pub server: WsConnection,
    /// The virtual clock.
    pub now: Instant,
    to_server: Wire,
    to_client: Wire,
    server_events: Vec<OwnedEvent>,
    client_events: Vec<OwnedEvent>,
    /// permessage-deflate as each end agreed it, from its own side.
    client_deflate: Option<Agreement>,
    server_deflate: Option<Agreement>,
}

impl Pair {
    /// Performs the opening handshake in memory and returns the open pair. `seed` seeds
    /// the client's nonce and masking keys.
    ///
    /// # Panics
    /// If the handshake fails (it cannot, unless the handshake code is broken).
    pub fn connect(limits: WsLimits, seed: [u8; 32]) -> Pair {
        Self::handshake(limits, seed, &Compression::off(), None)
    }

    /// [`connect`](Self::connect), with the client offering permessage-deflate as
    /// `client` says and the server answering as `server` says (RFC 7692 §5): when they
    /// agree, both connections compress (RSV1 on the first frame of a compressed
    /// message, §6) with the agreed parameters, each from its own side
    /// ([`client_deflate`](Self::client_deflate), [`server_deflate`](Self::server_deflate)).
    /// When the server declines (compression off), both run uncompressed.
    ///
    /// # Panics
    /// If the handshake fails (our server's answer to our client's offer is always one
    /// the client accepts, unless the negotiation code is broken).
    pub fn connect_with_deflate(
        limits: WsLimits,
        seed: [u8; 32],
        server: &Compression,
        client: ClientCompression,
    ) -> Pair {
        Self::handshake(limits, seed, server, Some(client))
    }

    fn handshake(
        limits: WsLimits,
        seed: [u8; 32],
        server: &Compression,
        client: Option<ClientCompression>,
    ) -> Pair {
        let now = Instant::now();
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&seed[..16]);
        let mut hs = ClientHandshake::new(nonce, &[]);
        if let Some(client) = &client {
            hs = hs.offer_deflate(client.offer);
        }
        let mut request = Vec::new();
        hs.write_request(&mut request, "pair.test", "/", None);

        // The server's side of the handshake is a real session's.
        let config = SessionConfig {
            deflate: server.negotiation.clone(),
            ..SessionConfig::default()
        };
        let mut session = Session::new(Arc::new(config), now);
        let mut response = Vec::new();
        let (used, event) = session.handle_input(&request, &mut response, now);
        assert_eq!(used, request.len(), "the session reads the whole request");
        let Some(Event::Upgrade { exchange, upgrade }) = event else {
            panic!("the session sees an upgrade: {event:?}");
        };
        let server_deflate = session
            .accept_upgrade(exchange, &upgrade, None, &mut response)
            .expect("the upgrade is waiting");
        let accepted = hs
            .handle_response(&response)
            .expect("client accepts the 101");
        let Status::Complete((_, accepted)) = accepted else {
            panic!("the 101 is complete");
        };
        let client_deflate = accepted.deflate;

        let mut client_ws = WsConnection::client(limits, now, seed);
        if let (Some(agreement), Some(client)) = (&client_deflate, &client) {
            client_ws = client_ws.with_deflate(agreement, client.options);
        }
        let mut server_ws = WsConnection::server(limits, now);
        if let Some(agreement) = &server_deflate {
            server_ws = server_ws.with_deflate(agreement, server.options);
        }
        Pair {
            client: client_ws,
            server: server_ws,
            now,
            to_server: Wire::default(),
            to_client: Wire::default(),
            server_events: Vec::new(),
            client_events: Vec::new(),
            client_deflate,
            server_deflate,
        }
    }

    /// permessage-deflate as the client agreed it (its compressor: client to server),
    /// or `None` when it was not offered or was declined.
    pub fn client_deflate(&self) -> Option<&Agreement> {
        self.client_deflate.as_ref()
    }

    /// permessage-deflate as the server agreed it (its compressor: server to client).
    pub fn server_deflate(&self) -> Option<&Agreement> {
        self.server_deflate.as_ref()
    }

    // ===== commands =====

    /// The client sends a message.
    pub fn client_send(&mut self, message: &Message<'_>) {
        let _ = self.client.send(message, &mut self.to_server.in_flight);
    }

    /// The server sends a message.
    pub fn server_send(&mut self, message: &Message<'_>) {
        let _ = self.server.send(message, &mut self.to_client.in_flight);
    }

    /// The client sends a message in fragments of `size` bytes.
    pub fn client_send_fragmented(&mut self, message: &Message<'_>, size: usize) {
        let _ = self
            .client
            .send_fragmented(message, size, &mut self.to_server.in_flight);
    }

    /// The server sends a message in fragments of `size` bytes.
    pub fn server_send_fragmented(&mut self, message: &Message<'_>, size: usize) {
        let _ = self
            .server
            .send_fragmented(message, size, &mut self.to_client.in_flight);
    }

    /// Puts raw bytes on the client-to-server wire, as if the client had written them
    /// (to build interleavings or violations the client role would never produce).
    pub fn client_raw(&mut self, bytes: &[u8]) {
        self.to_server.in_flight.extend_from_slice(bytes);
    }

    /// The client pings.
    pub fn client_ping(&mut self, payload: &[u8]) {
        let _ = self.client.ping(payload, &mut self.to_server.in_flight);
    }

    /// The server pings.
    pub fn server_ping(&mut self, payload: &[u8]) {
        let _ = self.server.ping(payload, &mut self.to_client.in_flight);
    }

    /// The client starts the closing handshake.
    pub fn client_close(&mut self, code: CloseCode, reason: &str) {
        let _ = self
            .client
            .close(code, reason, &mut self.to_server.in_flight, self.now);
    }

    /// The server starts the closing handshake.
    pub fn server_close(&mut self, code: CloseCode, reason: &str) {
        let _ = self
            .server
            .close(code, reason, &mut self.to_client.in_flight, self.now);
    }

    // ===== the wire =====

    /// Delivers at most `limit` in-flight bytes to the server. Returns how many.
    pub fn deliver_to_server(&mut self, limit: usize) -> usize {
        deliver(
            &mut self.to_server,
            &mut self.server,
            &mut self.to_client.in_flight,
            &mut self.server_events,
            self.now,
            limit,
        )
    }

    /// Delivers at most `limit` in-flight bytes to the client. Returns how many.
    pub fn deliver_to_client(&mut self, limit: usize) -> usize {
        deliver(
            &mut self.to_client,
            &mut self.client,
            &mut self.to_server.in_flight,
            &mut self.client_events,
            self.now,
            limit,
        )
    }

    /// Delivers everything, both ways, until nothing is in flight.
    pub fn drive(&mut self) {
        self.drive_with_cuts(|| usize::MAX);
    }

    /// Like [`drive`](Self::drive), but each delivery carries at most `next_cut()` bytes:
    /// the byte streams are cut wherever the function says.
    pub fn drive_with_cuts(&mut self, mut next_cut: impl FnMut() -> usize) {
        loop {
            let a = self.deliver_to_server(next_cut().max(1));
            let b = self.deliver_to_client(next_cut().max(1));
            if a == 0 && b == 0 {
                return;
            }
        }
    }

    /// Moves the virtual clock and lets both ends act on their timers.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        for (ws, out, events) in [
            (
                &mut self.server,
                &mut self.to_client.in_flight,
                &mut self.server_events,
            ),
            (
                &mut self.client,
                &mut self.to_server.in_flight,
                &mut self.client_events,
            ),
        ] {
            if ws.poll_timeout().is_some_and(|t| t <= self.now)
                && let Some(closed) = ws.handle_timeout(self.now, out)
            {
                events.push(OwnedEvent::Closed(closed));
            }
        }
    }

    /// The server's TCP stream ends (the client vanished).
    pub fn client_vanishes(&mut self) {
        self.to_server.in_flight.clear();
        if let Some(closed) = self.server.handle_eof() {
            self.server_events.push(OwnedEvent::Closed(closed));
        }
    }

    // ===== outputs =====

    /// Events the server produced since the last call.
    pub fn take_server_events(&mut self) -> Vec<OwnedEvent> {
        std::mem::take(&mut self.server_events)
    }

    /// Events the client produced since the last call.
    pub fn take_client_events(&mut self) -> Vec<OwnedEvent> {
        std::mem::take(&mut self.client_events)
    }

    /// Every byte the client has sent so far.
    pub fn client_bytes(&self) -> &[u8] {
        &self.to_server.log
    }

    /// Every byte the server has sent so far.
    pub fn server_bytes(&self) -> &[u8] {
        &self.to_client.log
    }
}

/// Moves up to `limit` bytes along `wire` into `receiver`, collecting its events; its
/// replies go to `reply`.
fn deliver(
    wire: &mut Wire,
    receiver: &mut WsConnection,
    reply: &mut Vec<u8>,
    events: &mut Vec<OwnedEvent>,
    now: Instant,
    limit: usize,
) -> usize {
    let n = wire.in_flight.len().min(limit);
    if n == 0 {
        return 0;
    }
    wire.log.extend_from_slice(&wire.in_flight[..n]);
    wire.pending.extend(wire.in_flight.drain(..n));
    let mut pos = 0;
    loop {
        let (used, event) = receiver.handle_input(&mut wire.pending[pos..], reply, now);
        pos += used;
        match event {
            Some(e) => events.push(e.into()),
            None => break,
        }
    }
    wire.pending.drain(..pos);
    n
}
