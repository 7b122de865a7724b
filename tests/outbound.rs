//! Outbound connections: TCP connections the handler opens itself (`Context::connect`),
//! whose raw bytes it parses in place (`Handler::on_bytes`) and writes
//! (`Context::send_bytes`), on the server's own loop.
//!
//! Most tests run on the in-memory driver, where the test plays the far end (accepts,
//! refuses, feeds bytes, stops reading, closes, resets); the last few run the mio driver
//! against a `std` listener on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pushwire::http::Request;
use pushwire::pair::{Peer, ServerPair};
use pushwire::{
    Config, ConnId, ConnectError, Context, DisconnectReason, Handler, RequestId, Response,
    SendError, Server, StatusCode,
};

/// Bound on every wait of the loopback tests.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What the far end is asked to be; the pair never dials it.
fn redis_addr() -> SocketAddr {
    "127.0.0.1:6379".parse().unwrap()
}

/// What an outbound connection's handler saw.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Connected(ConnId),
    Line(ConnId, String),
    Drained(ConnId),
    Disconnected(ConnId, DisconnectReason),
}

/// A handler that reads newline-terminated lines: it consumes complete lines only, so an
/// unfinished one is offered again with what follows it.
#[derive(Debug, Default)]
struct Lines {
    seen: Vec<Seen>,
    /// Every slice `on_bytes` was offered.
    offered: Vec<Vec<u8>>,
    /// Consume one line per call instead of every complete line.
    one_per_call: bool,
    /// Requests waiting for a line from the outbound connection (a publish waiting for
    /// its Redis reply), answered in order with the line.
    waiting: Vec<RequestId>,
}

impl Lines {
    fn lines(&self) -> Vec<String> {
        self.seen
            .iter()
            .filter_map(|s| match s {
                Seen::Line(_, line) => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    fn disconnects(&self) -> Vec<(ConnId, DisconnectReason)> {
        self.seen
            .iter()
            .filter_map(|s| match s {
                Seen::Disconnected(id, reason) => Some((*id, *reason)),
                _ => None,
            })
            .collect()
    }
}

impl Handler for Lines {
    fn on_request(&mut self, _ctx: &mut Context<'_>, request: RequestId, _head: Request) {
        self.waiting.push(request);
    }

    fn on_connected(&mut self, _ctx: &mut Context<'_>, conn: ConnId) {
        self.seen.push(Seen::Connected(conn));
    }

    fn on_bytes(&mut self, ctx: &mut Context<'_>, conn: ConnId, bytes: &[u8]) -> usize {
        self.offered.push(bytes.to_vec());
        let mut used = 0;
        while let Some(end) = bytes[used..].iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&bytes[used..used + end]).into_owned();
            used += end + 1;
            if !self.waiting.is_empty() {
                let request = self.waiting.remove(0);
                let _ = ctx.respond(request, Response::text(StatusCode::OK, line.clone()));
            }
            self.seen.push(Seen::Line(conn, line));
            if self.one_per_call {
                break;
            }
        }
        used
    }

    fn on_drained(&mut self, _ctx: &mut Context<'_>, conn: ConnId) {
        self.seen.push(Seen::Drained(conn));
    }

    fn on_disconnected(&mut self, _ctx: &mut Context<'_>, conn: ConnId, reason: DisconnectReason) {
        self.seen.push(Seen::Disconnected(conn, reason));
    }
}

fn pair_with(config: Config) -> ServerPair<Lines> {
    ServerPair::new(config, Lines::default()).unwrap()
}

/// A pair with one outbound connection, established: (pair, its id, the far end).
fn connected(config: Config) -> (ServerPair<Lines>, ConnId, Peer) {
    let mut pair = pair_with(config);
    let id = pair
        .with_context(|_, ctx| ctx.connect(redis_addr()))
        .unwrap();
    let [(far, _)] = pair.take_connects()[..] else {
        panic!("one connect expected");
    };
    pair.accept_connect(far);
    (pair, id, far)
}

// ===== in memory =====

#[test]
fn a_connect_completes_later_and_bytes_queued_meanwhile_leave_once_it_does() {
    let mut pair = pair_with(Config::default());
    let id = pair
        .with_context(|_, ctx| {
            let id = ctx.connect(redis_addr())?;
            assert!(!ctx.is_connected(id), "the connect has not been answered");
            ctx.send_bytes(id, b"AUTH secret\n").unwrap();
            Ok::<_, ConnectError>(id)
        })
        .unwrap();
    let connects = pair.take_connects();
    assert_eq!(connects.len(), 1);
    let (far, addr) = connects[0];
    assert_eq!(addr, redis_addr());
    assert!(pair.is_connecting(far));
    assert!(
        pair.received(far).is_empty(),
        "nothing moves while connecting"
    );
    assert_eq!(pair.connection_counts().outbound_connecting, 1);

    pair.accept_connect(far);
    assert_eq!(pair.handler().seen, [Seen::Connected(id)]);
    assert_eq!(pair.received(far), b"AUTH secret\n");
    assert!(pair.with_context(|_, ctx| ctx.is_connected(id)));
    assert_eq!(pair.connection_counts().outbound_open, 1);
}

#[test]
fn bytes_split_anywhere_reach_the_handler_in_order_and_what_it_leaves_is_offered_again() {
    let stream = b"+OK\n:42\n$5 hello\n";
    for split in 0..=stream.len() {
        let (mut pair, _, far) = connected(Config::default());
        pair.send(far, &stream[..split]);
        pair.send(far, &stream[split..]);
        assert_eq!(
            pair.handler().lines(),
            ["+OK", ":42", "$5 hello"],
            "split at {split}"
        );
        // Every offer begins with what the previous one left: the unconsumed rest stays
        // buffered in front of the new bytes.
        let offered = &pair.handler().offered;
        let mut rest: &[u8] = stream;
        for bytes in offered {
            assert!(rest.starts_with(bytes), "split at {split}: {offered:?}");
            let consumed = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            rest = &rest[consumed..];
        }
        assert!(rest.is_empty());
    }
}

#[test]
fn a_handler_taking_one_reply_per_call_is_called_again_at_once_for_the_rest() {
    let (mut pair, _, far) = connected(Config::default());
    pair.handler_mut().one_per_call = true;
    pair.send(far, b"a\nb\nc\nunfinished");
    assert_eq!(pair.handler().lines(), ["a", "b", "c"]);
    let offered = &pair.handler().offered;
    assert_eq!(
        offered.len(),
        4,
        "three lines, then the rest once: {offered:?}"
    );
    assert_eq!(offered[3], b"unfinished");
    pair.send(far, b"\n");
    assert_eq!(pair.handler().lines(), ["a", "b", "c", "unfinished"]);
}

#[test]
fn a_reply_larger_than_the_read_buffer_is_kept_whole_until_complete() {
    let mut config = Config::default();
    config.max_head_bytes = 1024;
    config.max_target_len = 1024;
    config.read_buffer_size = 1024;
    config.max_outbound_input = 8 * 1024;
    let (mut pair, _, far) = connected(config);
    let reply = "x".repeat(5000);
    pair.send(far, reply.as_bytes());
    assert!(pair.handler().lines().is_empty());
    pair.send(far, b"\n");
    assert_eq!(pair.handler().lines(), [reply]);
}

#[test]
fn unconsumed_input_at_max_outbound_input_closes_the_connection() {
    let mut config = Config::default();
    config.max_head_bytes = 1024;
    config.max_target_len = 1024;
    config.read_buffer_size = 1024;
    config.max_outbound_input = 4096;
    let (mut pair, id, far) = connected(config);
    pair.send(far, &[b'x'; 4095]);
    assert!(pair.handler().disconnects().is_empty(), "one byte short");
    pair.send(far, b"y");
    assert_eq!(
        pair.handler().disconnects(),
        [(id, DisconnectReason::InputLimit)]
    );
    assert!(pair.is_closed(far));
}

#[test]
fn a_far_end_that_never_reads_makes_sends_full_and_on_drained_follows_once_it_does() {
    let mut config = Config::default();
    config.write_buffer_high_water = 64 * 1024;
    let (mut pair, id, far) = connected(config);
    pair.set_read_limit(far, Some(0));
    let chunk = [b'c'; 4096];
    let mut queued = 0;
    let full = pair.with_context(|_, ctx| {
        for _ in 0..1000 {
            match ctx.send_bytes(id, &chunk) {
                Ok(()) => queued += chunk.len(),
                Err(e) => return Some(e),
            }
        }
        None
    });
    assert_eq!(full, Some(SendError::Full));
    assert_eq!(queued, 64 * 1024, "refused at the high-water mark");
    // Paused: what it sends meanwhile is not handed over (nor read).
    pair.send(far, b"reply\n");
    assert!(pair.handler().lines().is_empty());

    pair.set_read_limit(far, None);
    assert_eq!(pair.received(far).len(), queued);
    let seen = &pair.handler().seen;
    assert!(seen.contains(&Seen::Drained(id)), "{seen:?}");
    assert_eq!(pair.handler().lines(), ["reply"], "read again once drained");
}

#[test]
fn a_refused_connect_is_reported_once_and_its_id_is_gone() {
    let mut pair = pair_with(Config::default());
    let id = pair
        .with_context(|_, ctx| ctx.connect(redis_addr()))
        .unwrap();
    let (far, _) = pair.take_connects()[0];
    pair.refuse_connect(far);
    assert_eq!(
        pair.handler().seen,
        [Seen::Disconnected(
            id,
            DisconnectReason::ConnectFailed(std::io::ErrorKind::ConnectionRefused)
        )]
    );
    assert!(pair.is_closed(far));
    let sent = pair.with_context(|_, ctx| ctx.send_bytes(id, b"PING\n"));
    assert_eq!(sent, Err(SendError::Gone));
    // The slot is reused by the next connection, under another id.
    let next = pair
        .with_context(|_, ctx| ctx.connect(redis_addr()))
        .unwrap();
    assert_eq!(next.index(), id.index());
    assert_ne!(next, id);
}

#[test]
fn a_connect_unanswered_for_connect_timeout_is_given_up() {
    let mut pair = pair_with(Config::default());
    let id = pair
        .with_context(|_, ctx| ctx.connect(redis_addr()))
        .unwrap();
    let (far, _) = pair.take_connects()[0];
    let timeout = pair.core_config().connect_timeout;
    pair.advance(timeout - Duration::from_millis(1));
    assert!(pair.handler().disconnects().is_empty());
    pair.advance(Duration::from_millis(1));
    assert_eq!(
        pair.handler().disconnects(),
        [(id, DisconnectReason::TimedOut)]
    );
    assert!(pair.is_closed(far));
}

#[test]
fn the_far_end_closing_is_reported_after_its_last_bytes() {
    let (mut pair, id, far) = connected(Config::default());
    pair.send(far, b"last\n");
    pair.finish(far);
    assert_eq!(
        pair.handler().seen,
        [
            Seen::Connected(id),
            Seen::Line(id, "last".into()),
            Seen::Disconnected(id, DisconnectReason::PeerClosed),
        ]
    );
    assert!(pair.is_closed(far));
    assert_eq!(pair.connection_count(), 0);
}

#[test]
fn a_reset_is_reported_as_broken() {
    let (mut pair, id, far) = connected(Config::default());
    pair.reset(far);
    assert_eq!(
        pair.handler().disconnects(),
        [(
            id,
            DisconnectReason::Broken(std::io::ErrorKind::ConnectionReset)
        )]
    );
    assert!(pair.is_closed(far));
}

#[test]
fn closing_writes_what_is_queued_then_half_closes_and_reports_closed_once() {
    let (mut pair, id, far) = connected(Config::default());
    pair.with_context(|_, ctx| {
        ctx.send_bytes(id, b"QUIT\n").unwrap();
        ctx.close_outbound(id).unwrap();
        // Nothing more goes out, and a second close is refused.
        assert_eq!(ctx.send_bytes(id, b"PING\n"), Err(SendError::NotOpen));
        assert_eq!(ctx.close_outbound(id), Err(SendError::NotOpen));
    });
    assert_eq!(pair.received(far), b"QUIT\n");
    assert!(pair.server_finished(far), "our FIN after the last byte");
    assert_eq!(
        pair.handler().disconnects(),
        [(id, DisconnectReason::Closed)]
    );
    // What the far end says after our close is not handed over; its FIN ends it.
    pair.send(far, b"+OK\n");
    pair.finish(far);
    assert!(pair.handler().lines().is_empty());
    assert!(pair.is_closed(far));
    assert_eq!(pair.handler().disconnects().len(), 1, "reported once");
}

#[test]
fn closing_a_connect_under_way_drops_it_and_reports_closed() {
    let mut pair = pair_with(Config::default());
    let id = pair
        .with_context(|_, ctx| ctx.connect(redis_addr()))
        .unwrap();
    let (far, _) = pair.take_connects()[0];
    pair.with_context(|_, ctx| ctx.close_outbound(id)).unwrap();
    assert!(pair.is_closed(far));
    // An answer that comes too late changes nothing.
    pair.accept_connect(far);
    assert_eq!(
        pair.handler().seen,
        [Seen::Disconnected(id, DisconnectReason::Closed)]
    );
}

#[test]
fn outbound_connections_have_no_http_deadlines_and_take_no_clients_place() {
    let mut config = Config::default();
    config.max_connections = 1;
    let (mut pair, id, far) = connected(config);
    let idle = pair.core_config().idle_timeout + pair.core_config().request_timeout;
    pair.advance(idle * 3);
    assert!(!pair.is_closed(far));
    assert!(pair.with_context(|_, ctx| ctx.is_connected(id)));
    // One client fits beside it; the second is over `max_connections`.
    let client = pair.connect();
    assert!(!pair.is_closed(client));
    let refused = pair.connect();
    assert!(pair.is_closed(refused));
    assert_eq!(pair.stats().refused_full, 1);
}

#[test]
fn shutdown_keeps_outbound_connections_open_until_the_clients_are_answered() {
    let (mut pair, id, far) = connected(Config::default());
    // A request waiting for a reply from the outbound connection (a publish waiting
    // for Redis).
    let client = pair.connect();
    pair.send(client, b"POST /channels/a HTTP/1.1\r\nHost: h\r\n\r\n");
    pair.handle().shutdown().unwrap();
    pair.advance(Duration::ZERO);
    assert!(!pair.is_stopped(), "the request is still waiting");
    assert!(pair.with_context(|_, ctx| ctx.is_connected(id)));
    let refused = pair.with_context(|_, ctx| ctx.connect(redis_addr()));
    assert_eq!(refused, Err(ConnectError::ShuttingDown));

    pair.send(far, b"id 7\n");
    let answer = String::from_utf8(pair.received(client)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("id 7"), "{answer}");
    pair.finish(client);
    assert!(pair.is_stopped());
    assert_eq!(
        pair.handler().disconnects(),
        [(id, DisconnectReason::ShutDown)]
    );
    assert!(pair.is_closed(far));
}

// ===== on loopback, through the mio driver =====

/// Connects (on `notify`) to `target`, sends `greeting` once connected, and collects
/// what comes back until `until` has arrived; answers every HTTP request with `200 ok`.
struct Dialer {
    target: SocketAddr,
    greeting: Vec<u8>,
    until: Vec<u8>,
    received: Vec<u8>,
    conn: Option<ConnId>,
    connected: bool,
    disconnected: Option<DisconnectReason>,
    answered: usize,
}

impl Dialer {
    fn new(target: SocketAddr, greeting: &[u8], until: &[u8]) -> Dialer {
        Dialer {
            target,
            greeting: greeting.to_vec(),
            until: until.to_vec(),
            received: Vec::new(),
            conn: None,
            connected: false,
            disconnected: None,
            answered: 0,
        }
    }

    fn done(&self) -> bool {
        self.disconnected.is_some() || self.received.ends_with(&self.until)
    }
}

impl Handler for Dialer {
    fn on_request(&mut self, ctx: &mut Context<'_>, request: RequestId, _head: Request) {
        self.answered += 1;
        let _ = ctx.respond(request, Response::text(StatusCode::OK, "ok"));
    }

    fn on_notify(&mut self, ctx: &mut Context<'_>, _token: u64) {
        self.conn = Some(ctx.connect(self.target).expect("not shutting down"));
    }

    fn on_connected(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.connected = true;
        ctx.send_bytes(conn, &self.greeting).unwrap();
    }

    fn on_bytes(&mut self, _ctx: &mut Context<'_>, _conn: ConnId, bytes: &[u8]) -> usize {
        self.received.extend_from_slice(bytes);
        bytes.len()
    }

    fn on_disconnected(&mut self, _ctx: &mut Context<'_>, _conn: ConnId, reason: DisconnectReason) {
        self.disconnected = Some(reason);
    }
}

/// Runs `server` (bounded by [`TIMEOUT`]) until `done` says so.
fn run_until(server: &mut Server, handler: &mut Dialer, done: impl Fn(&Dialer) -> bool) {
    let start = Instant::now();
    while !done(handler) {
        assert!(start.elapsed() < TIMEOUT, "timed out");
        server
            .poll(handler, Some(Duration::from_millis(50)))
            .unwrap();
    }
}

fn bind() -> Server {
    Server::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap()
}

#[test]
fn connects_on_loopback_and_exchanges_bytes_with_an_echo_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let echo = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut buf = [0u8; 4096];
        // Echo until the server closes its side.
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => stream.write_all(&buf[..n]).unwrap(),
            }
        }
    });
    let mut server = bind();
    let mut dialer = Dialer::new(target, b"PING hello\r\n", b"PING hello\r\n");
    server.handle().notify(0).unwrap();
    run_until(&mut server, &mut dialer, Dialer::done);
    assert!(dialer.connected);
    assert_eq!(dialer.received, b"PING hello\r\n");
    assert_eq!(dialer.disconnected, None);

    assert!(dialer.conn.is_some());
    // Shutting down closes it last, which ends the echo thread (it reads our FIN).
    server.handle().shutdown().unwrap();
    run_until(&mut server, &mut dialer, |d| d.disconnected.is_some());
    assert_eq!(dialer.disconnected, Some(DisconnectReason::ShutDown));
    assert!(!server.poll(&mut dialer, Some(Duration::ZERO)).unwrap());
    echo.join().unwrap();
}

#[test]
fn a_connect_to_a_closed_port_is_refused() {
    let target = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }; // closed again: nothing listens there now
    let mut server = bind();
    let mut dialer = Dialer::new(target, b"", b"never");
    server.handle().notify(0).unwrap();
    run_until(&mut server, &mut dialer, |d| d.disconnected.is_some());
    assert!(!dialer.connected);
    assert_eq!(
        dialer.disconnected,
        Some(DisconnectReason::ConnectFailed(
            std::io::ErrorKind::ConnectionRefused
        ))
    );
}

#[test]
fn http_clients_are_answered_while_an_outbound_connection_streams() {
    // The far end streams 4 MiB, then waits for the HTTP clients to have been answered
    // before it sends its last line: the loop serves them in between.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let (answered_tx, answered_rx) = mpsc::channel::<()>();
    let far = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let chunk = vec![b'.'; 64 * 1024];
        for _ in 0..64 {
            stream.write_all(&chunk).unwrap();
        }
        answered_rx.recv_timeout(TIMEOUT).expect("clients answered");
        stream.write_all(b"END\n").unwrap();
    });
    let mut server = bind();
    let http = server.local_addr();
    let clients = std::thread::spawn(move || {
        for _ in 0..5 {
            let mut stream = TcpStream::connect(http).unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        }
        answered_tx.send(()).unwrap();
    });
    let mut dialer = Dialer::new(target, b"", b"END\n");
    server.handle().notify(0).unwrap();
    run_until(&mut server, &mut dialer, Dialer::done);
    clients.join().unwrap();
    far.join().unwrap();
    assert_eq!(dialer.answered, 5);
    assert_eq!(dialer.received.len(), 64 * 64 * 1024 + 4);
}
