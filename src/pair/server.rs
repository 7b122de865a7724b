//! [`ServerPair`]: the server's core and its clients, wired in memory, on a virtual clock.

// The peers' addresses are values, not sockets: `core::net` has the types and no IO.
use core::net::{Ipv4Addr, SocketAddr};
use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::ws::OwnedEvent;
use crate::client::ClientCompression;
use crate::config::{Config, ConfigError};
use crate::message::Message;
use crate::server::core::Core;
use crate::server::transport::Transport;
use crate::server::{
    Commands, ConnId, ConnectionCounts, Context, Handle, Handler, Stats, Wake, command_channel,
};
use crate::status::Status;
use crate::ws::client_handshake::{ClientHandshake, ClientHandshakeError};
use crate::ws::close::CloseCode;
use crate::ws::connection::WsConnection;
use crate::ws::permessage_deflate::Agreement;

/// Turns one [`ServerPair::run`] takes at most before it gives up on reaching quiet
/// (a handler that keeps sending to itself forever, say).
const MAX_TURNS: usize = 100_000;

/// One client of a [`ServerPair`] — or, for an outbound connection the server opened
/// ([`ServerPair::take_connects`]), the fake server at its other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer(usize);

/// A server and its clients in memory: the same core and turn the mio
/// [`Server`](crate::Server) runs, with the handler, driven through byte queues instead
/// of sockets and a clock that moves only when told.
///
/// Every call that changes something (a client sends, time passes) runs the server until
/// nothing more happens, so a test reads as a conversation:
///
/// ```
/// use pushwire::pair::ServerPair;
/// use pushwire::{Config, Handler};
///
/// struct NotFound;
/// impl Handler for NotFound {} // the default answers 404
///
/// let mut pair = ServerPair::new(Config::default(), NotFound).unwrap();
/// let client = pair.connect();
/// pair.send(client, b"GET /x HTTP/1.1\r\nHost: test\r\n\r\n");
/// let response = String::from_utf8(pair.received(client)).unwrap();
/// assert!(response.starts_with("HTTP/1.1 404 Not Found\r\n"));
///
/// // Keep-alive: the connection waits for the next request until the idle deadline.
/// pair.advance(pair.core_config().idle_timeout);
/// assert!(pair.is_closed(client));
/// ```
pub struct ServerPair<H: Handler> {
    core: Core,
    handler: H,
    commands: Commands,
    handle: Handle,
    wires: Wires,
    now: Instant,
    /// The calendar time at `wall_from` on the virtual clock: the wall clock moves with
    /// the virtual one.
    wall_at: SystemTime,
    wall_from: Instant,
    stopped: bool,
}

impl<H: Handler + std::fmt::Debug> std::fmt::Debug for ServerPair<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerPair")
            .field("handler", &self.handler)
            .field("connections", &self.core.len())
            .finish_non_exhaustive()
    }
}

/// The in-memory driver has nothing to wake: it runs when told.
struct NoWaker;

impl Wake for NoWaker {
    fn wake(&self) -> io::Result<()> {
        Ok(())
    }
}

/// Every client's byte queues, by peer; the server side of them is the [`Transport`].
#[derive(Debug, Default)]
struct Wires {
    peers: Vec<Wire>,
    by_conn: HashMap<ConnId, usize>,
    /// Bytes moved, events delivered: when a turn changes none of it, the pair is quiet.
    progress: u64,
    /// Outbound connects the server began and the test has not taken yet.
    connects: Vec<(Peer, SocketAddr)>,
}

/// One client's connection.
#[derive(Debug, Default)]
struct Wire {
    conn: Option<ConnId>,
    /// Written by the client, not yet read by the server.
    to_server: Vec<u8>,
    /// The client half-closed (its FIN follows `to_server`).
    client_fin: bool,
    /// The server has read the client's FIN.
    eof_read: bool,
    /// Written by the server, not yet taken by the client.
    to_client: Vec<u8>,
    /// How many more bytes the client's side takes (`None`: any number): a client that
    /// stops reading makes the server's writes block.
    read_limit: Option<usize>,
    /// The limit was raised: the server's writes may go on (a writability event).
    unblocked: bool,
    /// The server half-closed.
    server_fin: bool,
    /// The server closed the connection (or refused it).
    closed: bool,
    /// An outbound connect the test has not answered yet: nothing moves.
    connecting: bool,
    /// The peer's side failed (a reset): the server's reads and writes fail.
    reset: bool,
    /// The most bytes one of the server's writes moved (what its output buffer held).
    largest_write: usize,
    /// A WebSocket client speaking on this connection, if there is one.
    ws: Option<Box<WsClient>>,
}

/// The client end of a WebSocket over a [`Wire`].
#[derive(Debug)]
struct WsClient {
    /// Until the server's `101` is validated.
    handshake: Option<ClientHandshake>,
    /// `None` until the handshake succeeds.
    ws: Option<WsConnection>,
    seed: [u8; 32],
    /// Received and not yet consumed (an incomplete frame).
    pending: Vec<u8>,
    events: Vec<OwnedEvent>,
    refused: Option<ClientHandshakeError>,
    protocol: Option<String>,
    /// What the client offers of permessage-deflate and how it compresses, if anything.
    compression: Option<ClientCompression>,
    /// permessage-deflate as agreed, from the client's side.
    deflate: Option<Agreement>,
}

impl Transport for Wires {
    fn read(&mut self, id: ConnId, buf: &mut [u8]) -> io::Result<usize> {
        let wire = self.wire(id)?;
        if wire.reset {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        if wire.to_server.is_empty() {
            if wire.client_fin {
                wire.eof_read = true;
                return Ok(0);
            }
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = wire.to_server.len().min(buf.len());
        buf[..n].copy_from_slice(&wire.to_server[..n]);
        wire.to_server.drain(..n);
        self.progress += n as u64;
        Ok(n)
    }

    fn write(&mut self, id: ConnId, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let wire = self.wire(id)?;
        if wire.reset {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        if wire.server_fin {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let room = wire.read_limit.unwrap_or(usize::MAX).min(total);
        if room == 0 && total > 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut left = room;
        for buf in bufs {
            let take = buf.len().min(left);
            wire.to_client.extend_from_slice(&buf[..take]);
            left -= take;
        }
        if let Some(limit) = &mut wire.read_limit {
            *limit -= room;
        }
        wire.largest_write = wire.largest_write.max(room);
        self.progress += room as u64;
        Ok(room)
    }

    fn shutdown_write(&mut self, id: ConnId) -> io::Result<()> {
        self.wire(id)?.server_fin = true;
        self.progress += 1;
        Ok(())
    }

    fn connect(&mut self, id: ConnId, addr: SocketAddr) -> io::Result<()> {
        let index = self.peers.len();
        self.peers.push(Wire {
            conn: Some(id),
            connecting: true,
            ..Wire::default()
        });
        self.by_conn.insert(id, index);
        self.connects.push((Peer(index), addr));
        self.progress += 1;
        Ok(())
    }

    fn close(&mut self, id: ConnId) {
        if let Some(index) = self.by_conn.remove(&id) {
            let wire = &mut self.peers[index];
            wire.closed = true;
            wire.conn = None;
            self.progress += 1;
        }
    }

    fn interest(&mut self, _id: ConnId, _read: bool, _write: bool) {
        // Every turn looks at every connection: nothing to register.
    }
}

impl Wires {
    fn wire(&mut self, id: ConnId) -> io::Result<&mut Wire> {
        let index = *self.by_conn.get(&id).ok_or(io::ErrorKind::NotConnected)?;
        Ok(&mut self.peers[index])
    }
}

impl<H: Handler> ServerPair<H> {
    /// A server with `config` (validated here) and `handler`, on a virtual clock that
    /// starts now and moves only with [`advance`](Self::advance).
    pub fn new(config: Config, handler: H) -> Result<ServerPair<H>, ConfigError> {
        let now = Instant::now();
        let capacity = config.command_queue_capacity;
        let core = Core::new(config, now)?;
        let (handle, commands) = command_channel(Arc::new(NoWaker), capacity);
        Ok(ServerPair {
            core,
            handler,
            commands,
            handle,
            wires: Wires::default(),
            now,
            wall_at: SystemTime::now(),
            wall_from: now,
            stopped: false,
        })
    }

    /// Sets the calendar time that [`Context::wall_time`](crate::Context::wall_time)
    /// reports now; it moves on with [`advance`](Self::advance). Starts at the real
    /// time of [`new`](Self::new).
    pub fn set_wall_time(&mut self, at: SystemTime) {
        self.wall_at = at;
        self.wall_from = self.now;
    }

    /// The handler, to look at what it recorded.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, to change it between steps.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// A [`Handle`], as another thread would use it; its commands run at the next step.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The server's configuration.
    pub fn core_config(&self) -> &Config {
        self.core.config()
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Connections the server has, in any phase.
    pub fn connection_count(&self) -> usize {
        self.core.len()
    }

    /// `true` once graceful shutdown has completed.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// What the server has counted (see [`Stats`]). No time passes within a turn on the
    /// virtual clock, so no turn durations are recorded.
    pub fn stats(&self) -> &Stats {
        self.core.stats()
    }

    /// The connections now, by transport and state.
    pub fn connection_counts(&self) -> ConnectionCounts {
        self.core.connection_counts()
    }

    // ===== clients =====

    /// A new client connects (accepted at once, or refused and closed if the server is
    /// full or shutting down), from [`peer_addr`](Self::peer_addr).
    pub fn connect(&mut self) -> Peer {
        let index = self.wires.peers.len();
        let conn = self.core.open(Self::peer_addr(Peer(index)));
        self.wires.peers.push(Wire {
            conn,
            closed: conn.is_none(),
            ..Wire::default()
        });
        if let Some(id) = conn {
            self.wires.by_conn.insert(id, index);
        }
        self.run();
        Peer(index)
    }

    /// The address the server sees `peer` connect from: `127.0.0.1`, port 1024 plus the
    /// peer's number (the first client is `127.0.0.1:1024`), wrapping past 65535.
    pub fn peer_addr(peer: Peer) -> SocketAddr {
        let port = 1024 + (peer.0 % (65536 - 1024)) as u16;
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    /// The server's id for `peer`'s connection, while it has one.
    pub fn conn_id(&self, peer: Peer) -> Option<ConnId> {
        self.wires.peers[peer.0].conn
    }

    /// `peer` writes `bytes`; the server runs until quiet.
    pub fn send(&mut self, peer: Peer, bytes: &[u8]) {
        let wire = &mut self.wires.peers[peer.0];
        if !wire.client_fin {
            wire.to_server.extend_from_slice(bytes);
        }
        self.run();
    }

    /// `peer` half-closes (sends its FIN); the server runs until quiet.
    pub fn finish(&mut self, peer: Peer) {
        self.wires.peers[peer.0].client_fin = true;
        self.run();
    }

    /// Takes what the server has sent `peer` so far (raw clients; a WebSocket client's
    /// bytes go to its [`ws_events`](Self::ws_events)).
    pub fn received(&mut self, peer: Peer) -> Vec<u8> {
        std::mem::take(&mut self.wires.peers[peer.0].to_client)
    }

    /// `peer` takes at most `limit` more bytes (`None`: no limit); the server's writes
    /// to it block once it has taken them — a client that stops reading.
    pub fn set_read_limit(&mut self, peer: Peer, limit: Option<usize>) {
        let wire = &mut self.wires.peers[peer.0];
        wire.read_limit = limit;
        wire.unblocked = true;
        self.run();
    }

    /// `peer`'s side of the connection fails, as a reset does: the server's next read or
    /// write on it fails (`ConnectionReset`); the server runs until quiet.
    pub fn reset(&mut self, peer: Peer) {
        self.wires.peers[peer.0].reset = true;
        self.run();
    }

    /// Has the server half-closed `peer`'s connection (its FIN)?
    pub fn server_finished(&self, peer: Peer) -> bool {
        let wire = &self.wires.peers[peer.0];
        wire.server_fin || wire.closed
    }

    /// Has the server closed `peer`'s connection (or refused it)?
    pub fn is_closed(&self, peer: Peer) -> bool {
        self.wires.peers[peer.0].closed
    }

    // ===== outbound connections =====

    /// The outbound connects the server began ([`Context::connect`]) since the last
    /// call, oldest first: each is a [`Peer`] — the fake server at the other end, with the
    /// address it was asked for — whose connect waits for an answer:
    /// [`accept_connect`](Self::accept_connect) or [`refuse_connect`](Self::refuse_connect)
    /// (or time, [`Config::connect_timeout`](crate::Config::connect_timeout)). Once
    /// accepted it is like any client: [`send`](Self::send) what the server should
    /// receive, [`received`](Self::received) what it wrote, [`finish`](Self::finish),
    /// [`reset`](Self::reset), [`set_read_limit`](Self::set_read_limit).
    pub fn take_connects(&mut self) -> Vec<(Peer, SocketAddr)> {
        std::mem::take(&mut self.wires.connects)
    }

    /// `peer` accepts the server's connect: it is established
    /// ([`Handler::on_connected`]); the server runs until quiet.
    pub fn accept_connect(&mut self, peer: Peer) {
        let wire = &mut self.wires.peers[peer.0];
        if let (true, Some(id)) = (std::mem::take(&mut wire.connecting), wire.conn) {
            self.core.connected(id, &mut self.handler);
        }
        self.run();
    }

    /// `peer` refuses the server's connect (nothing listens there:
    /// `ConnectionRefused`); the server runs until quiet.
    pub fn refuse_connect(&mut self, peer: Peer) {
        let wire = &mut self.wires.peers[peer.0];
        if let (true, Some(id)) = (std::mem::take(&mut wire.connecting), wire.conn) {
            self.core
                .connect_failed(id, io::ErrorKind::ConnectionRefused, &mut self.handler);
        }
        self.run();
    }

    /// Is `peer`'s connect (an outbound connection's) still waiting for an answer?
    pub fn is_connecting(&self, peer: Peer) -> bool {
        let wire = &self.wires.peers[peer.0];
        wire.connecting && !wire.closed
    }

    /// Runs `act` with the handler and a [`Context`], as a callback of the loop would
    /// (to connect, send or close from a test), then the server until quiet.
    pub fn with_context<R>(&mut self, act: impl FnOnce(&mut H, &mut Context<'_>) -> R) -> R {
        let result = act(
            &mut self.handler,
            &mut Context {
                core: &mut self.core,
            },
        );
        self.run();
        result
    }

    // ===== WebSocket clients =====

    /// A new client opens a WebSocket on `path` (RFC 6455 handshake, no subprotocol, no
    /// origin). Fails with the handshake's error if the server refused.
    pub fn ws_connect(&mut self, path: &str) -> Result<Peer, ClientHandshakeError> {
        self.ws_connect_with(path, &[], None)
    }

    /// [`ws_connect`](Self::ws_connect), offering `protocols` and sending `origin`.
    pub fn ws_connect_with(
        &mut self,
        path: &str,
        protocols: &[&str],
        origin: Option<&str>,
    ) -> Result<Peer, ClientHandshakeError> {
        self.ws_open(path, protocols, origin, None)
    }

    /// [`ws_connect`](Self::ws_connect), offering permessage-deflate as `compression`
    /// says (RFC 7692 §5). When the server's
    /// [`Config::permessage_deflate`](crate::Config::permessage_deflate) accepts, the
    /// client compresses what it sends (RSV1, masked) and inflates what it receives;
    /// [`ws_deflate`](Self::ws_deflate) shows the agreement. An answer the client must
    /// refuse is the handshake's error
    /// ([`ClientHandshakeError::BadDeflateResponse`]).
    pub fn ws_connect_with_deflate(
        &mut self,
        path: &str,
        compression: ClientCompression,
    ) -> Result<Peer, ClientHandshakeError> {
        self.ws_open(path, &[], None, Some(compression))
    }

    fn ws_open(
        &mut self,
        path: &str,
        protocols: &[&str],
        origin: Option<&str>,
        compression: Option<ClientCompression>,
    ) -> Result<Peer, ClientHandshakeError> {
        let peer = self.connect();
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = (peer.0 as u8).wrapping_mul(31).wrapping_add(i as u8);
        }
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&seed[..16]);
        let mut handshake = ClientHandshake::new(nonce, protocols);
        if let Some(compression) = &compression {
            handshake = handshake.offer_deflate(compression.offer);
        }
        let mut request = Vec::new();
        handshake.write_request(&mut request, "pair.test", path, origin);
        self.wires.peers[peer.0].ws = Some(Box::new(WsClient {
            handshake: Some(handshake),
            ws: None,
            seed,
            pending: Vec::new(),
            events: Vec::new(),
            refused: None,
            protocol: None,
            compression,
            deflate: None,
        }));
        self.send(peer, &request);
        let client = self.wires.peers[peer.0].ws.as_mut().expect("set above");
        match client.refused.take() {
            Some(e) => Err(e),
            None if client.ws.is_some() => Ok(peer),
            None => Err(ClientHandshakeError::HeadTooLarge),
        }
    }

    /// The subprotocol the server selected for `peer`'s WebSocket.
    pub fn ws_protocol(&self, peer: Peer) -> Option<&str> {
        self.wires.peers[peer.0].ws.as_ref()?.protocol.as_deref()
    }

    /// permessage-deflate as `peer`'s WebSocket agreed it, from the client's side
    /// (`compressor`: client to server); `None` when not offered or declined.
    pub fn ws_deflate(&self, peer: Peer) -> Option<&Agreement> {
        self.wires.peers[peer.0].ws.as_ref()?.deflate.as_ref()
    }

    /// `peer`'s WebSocket sends `message`; the server runs until quiet.
    pub fn ws_send(&mut self, peer: Peer, message: &Message<'_>) {
        self.with_ws(peer, |ws, out| {
            let _ = ws.send(message, out);
        });
    }

    /// `peer`'s WebSocket sends `message` in fragments of `size` payload bytes.
    pub fn ws_send_fragmented(&mut self, peer: Peer, message: &Message<'_>, size: usize) {
        self.with_ws(peer, |ws, out| {
            let _ = ws.send_fragmented(message, size, out);
        });
    }

    /// `peer`'s WebSocket pings.
    pub fn ws_ping(&mut self, peer: Peer, payload: &[u8]) {
        self.with_ws(peer, |ws, out| {
            let _ = ws.ping(payload, out);
        });
    }

    /// `peer`'s WebSocket starts the closing handshake.
    pub fn ws_close(&mut self, peer: Peer, code: CloseCode, reason: &str) {
        let now = self.now;
        self.with_ws(peer, |ws, out| {
            let _ = ws.close(code, reason, out, now);
        });
    }

    /// What `peer`'s WebSocket received since the last call: messages, pings and pongs,
    /// and its end ([`OwnedEvent::Closed`]).
    pub fn ws_events(&mut self, peer: Peer) -> Vec<OwnedEvent> {
        match &mut self.wires.peers[peer.0].ws {
            Some(client) => std::mem::take(&mut client.events),
            None => Vec::new(),
        }
    }

    fn with_ws(&mut self, peer: Peer, act: impl FnOnce(&mut WsConnection, &mut Vec<u8>)) {
        let wire = &mut self.wires.peers[peer.0];
        if let Some(ws) = wire.ws.as_mut().and_then(|c| c.ws.as_mut())
            && !wire.client_fin
        {
            act(ws, &mut wire.to_server);
        }
        self.run();
    }

    // ===== time =====

    /// The virtual clock moves on by `by`; the server runs its due deadlines (and the
    /// WebSocket clients theirs) and then until quiet.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        for wire in &mut self.wires.peers {
            if let Some(ws) = wire.ws.as_mut().and_then(|c| c.ws.as_mut())
                && ws.poll_timeout().is_some_and(|t| t <= now)
                && let Some(closed) = ws.handle_timeout(now, &mut wire.to_server)
            {
                wire.ws
                    .as_mut()
                    .expect("checked")
                    .events
                    .push(OwnedEvent::Closed(closed));
            }
        }
        self.run();
    }

    // ===== the loop =====

    /// Runs the server until nothing more happens: every readable connection is read,
    /// the turn runs, WebSocket clients take their bytes, and again — at most
    /// 100,000 times (then it panics: a handler that never lets the server settle).
    pub fn run(&mut self) {
        for _ in 0..MAX_TURNS {
            let before = self.wires.progress;
            let wall = self.wall_at + (self.now - self.wall_from);
            self.core.set_now(self.now, wall);
            for index in 0..self.wires.peers.len() {
                let wire = &mut self.wires.peers[index];
                let Some(id) = wire.conn.filter(|_| !wire.connecting) else {
                    continue;
                };
                if std::mem::take(&mut wire.unblocked) {
                    self.core.write_to(id, &mut self.wires, &mut self.handler);
                }
                let wire = &self.wires.peers[index];
                let readable =
                    !wire.to_server.is_empty() || (wire.client_fin && !wire.eof_read) || wire.reset;
                if readable {
                    self.core
                        .read_from(id, &mut self.wires, &mut self.handler, true);
                }
            }
            if !self.stopped {
                self.stopped = self
                    .core
                    .turn(&mut self.wires, &mut self.handler, &self.commands);
            }
            self.pump_clients();
            // Quiet: nothing moved, nothing is ready, and no deadline is due (shutting
            // down makes parked requests due at once, for the next turn).
            let due = !self.stopped && self.core.poll_timeout().is_some_and(|t| t <= self.now);
            if self.wires.progress == before && !self.core.has_ready() && !due {
                return;
            }
        }
        panic!("the server did not settle within {MAX_TURNS} turns");
    }

    /// Hands each WebSocket client the bytes the server sent it.
    fn pump_clients(&mut self) {
        let now = self.now;
        let mut delivered = 0;
        for wire in &mut self.wires.peers {
            let Some(client) = wire.ws.as_mut() else {
                continue;
            };
            if wire.to_client.is_empty() {
                continue;
            }
            client.pending.append(&mut wire.to_client);
            if let Some(handshake) = &mut client.handshake {
                match handshake.handle_response(&client.pending) {
                    Ok(Status::Partial) => continue,
                    Ok(Status::Complete((len, accepted))) => {
                        client.pending.drain(..len);
                        client.protocol = accepted.protocol;
                        client.handshake = None;
                        let mut ws = WsConnection::client(Default::default(), now, client.seed);
                        if let (Some(agreement), Some(compression)) =
                            (&accepted.deflate, &client.compression)
                        {
                            ws = ws.with_deflate(agreement, compression.options);
                        }
                        client.deflate = accepted.deflate;
                        client.ws = Some(ws);
                    }
                    Err(e) => {
                        client.refused = Some(e);
                        client.handshake = None;
                        client.pending.clear();
                        continue;
                    }
                }
            }
            let Some(ws) = &mut client.ws else {
                client.pending.clear();
                continue;
            };
            let mut pos = 0;
            loop {
                let (used, event) =
                    ws.handle_input(&mut client.pending[pos..], &mut wire.to_server, now);
                pos += used;
                match event {
                    Some(event) => {
                        client.events.push(event.into());
                        delivered += 1;
                    }
                    None => break,
                }
            }
            client.pending.drain(..pos);
        }
        self.wires.progress += delivered;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Request, Response, StatusCode};
    use crate::server::{Context, RequestId};

    /// Answers every request at once.
    struct NoContent;

    impl Handler for NoContent {
        fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, _request: Request) {
            let _ = ctx.respond(id, Response::new(StatusCode::NO_CONTENT));
        }
    }

    /// Echoes every WebSocket message.
    struct Echo;

    impl Handler for Echo {
        fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
            let _ = ctx.send_message(conn, message);
        }
    }

    #[test]
    fn large_messages_read_together_leave_one_by_one() {
        let mut pair = ServerPair::new(Config::default(), Echo).unwrap();
        let peer = pair.ws_connect("/").unwrap();
        // Four masked 64 KiB binary frames (RFC 6455 §5.2: 127 and a 64-bit length; a
        // zero mask key leaves the payload as it is), arriving in one read.
        let payload = vec![7u8; 64 * 1024];
        let mut frame = vec![0x82, 0x80 | 127];
        frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        frame.extend_from_slice(&[0; 4]);
        frame.extend_from_slice(&payload);
        let burst = frame.repeat(4);
        let id = pair.wires.peers[peer.0].conn.expect("connected");
        pair.wires.peers[peer.0].to_server.extend_from_slice(&burst);
        pair.core
            .read_from(id, &mut pair.wires, &mut pair.handler, true);
        // Each echo was written as soon as it was queued, before the next message was
        // handled: the output buffer held one frame at a time, never all four.
        let wire = &pair.wires.peers[peer.0];
        let echo_len = 2 + 8 + payload.len();
        assert_eq!(wire.largest_write, echo_len);
        pair.run();
        let echoes = pair.ws_events(peer);
        assert_eq!(echoes.len(), 4, "{echoes:?}");
    }

    #[test]
    fn a_pipelining_client_is_on_the_ready_list_once_however_often_it_is_read() {
        let mut pair = ServerPair::new(Config::default(), NoContent).unwrap();
        let peer = pair.connect();
        // More pipelined requests than one read buffer holds, and far more than one pass
        // may take (each costs at least 1 KiB of the 256 KiB budget): every pass stops
        // with input left, and the socket stays readable.
        let burst = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n".repeat(12_000);
        pair.wires.peers[peer.0]
            .to_server
            .extend_from_slice(burst.as_bytes());
        let id = pair.wires.peers[peer.0].conn.expect("connected");
        for turn in 0..4 {
            // A readiness event for a connection that is on the ready list already (as
            // the driver sees one when more bytes arrive) must not list it twice: each
            // entry is a pass with a fresh budget next turn, and the list would grow by
            // one every turn.
            pair.core
                .read_from(id, &mut pair.wires, &mut pair.handler, true);
            assert_eq!(pair.core.ready_len(), 1, "turn {turn}");
            pair.core
                .turn(&mut pair.wires, &mut pair.handler, &pair.commands);
        }
        pair.run();
        let answers = String::from_utf8(pair.received(peer)).unwrap();
        assert_eq!(answers.matches("HTTP/1.1 204").count(), 12_000);
    }
}
