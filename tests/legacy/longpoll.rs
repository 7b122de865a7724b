//! The long-poll primitive: `Context::park`, answers from other threads
//! (`Handle::respond`) and from callbacks (`Handle::notify` → `on_notify`), the deadline
//! (`on_park_timeout`), and clients that hang up while parked (`on_request_abandoned`).

mod support;

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use pushwire::http::{Body, Request};
use pushwire::{ConnId, Context, Handler, Response, StatusCode};
use support::*;

/// What the [`Parker`] saw, with when it saw it.
#[derive(Debug, Clone)]
enum Seen {
    Parked(ConnId),
    Timeout(ConnId),
    Abandoned(ConnId, Instant),
}

/// A handler with the trait's default `on_park_timeout`, to call from an override.
struct Defaults;
impl Handler for Defaults {}

/// - `GET /park?ms=N` parks the request for N ms (`on_park_timeout`: the default, 204).
/// - `GET /repark?ms=N` parks it, parks it again once at the deadline, then the default.
/// - `GET /fast` answers `fast` at once.
/// - `on_notify(token)` answers every parked request with one shared body.
struct Parker {
    tx: Sender<Seen>,
    parked: Vec<ConnId>,
    repark: Vec<(ConnId, Duration)>,
}

fn parker() -> (Parker, Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    (
        Parker {
            tx,
            parked: Vec::new(),
            repark: Vec::new(),
        },
        rx,
    )
}

fn millis(request: &Request) -> Duration {
    let ms = request
        .query()
        .and_then(|q| q.strip_prefix("ms="))
        .and_then(|v| v.parse().ok())
        .expect("?ms=N");
    Duration::from_millis(ms)
}

impl Handler for Parker {
    fn on_request(&mut self, ctx: &mut Context<'_>, conn: ConnId, request: Request) {
        match request.path() {
            "/park" | "/repark" => {
                let wait = millis(&request);
                ctx.park(conn, ctx.now() + wait).expect("park");
                self.parked.push(conn);
                if request.path() == "/repark" {
                    self.repark.push((conn, wait));
                }
                let _ = self.tx.send(Seen::Parked(conn));
            }
            "/fast" => {
                let _ = ctx.respond(conn, Response::text(StatusCode::OK, "fast"));
            }
            _ => {
                let _ = ctx.respond(conn, Response::error(StatusCode::NOT_FOUND, "no"));
            }
        }
    }

    fn on_park_timeout(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        let _ = self.tx.send(Seen::Timeout(conn));
        if let Some(i) = self.repark.iter().position(|(c, _)| *c == conn) {
            let (_, wait) = self.repark.remove(i);
            ctx.park(conn, ctx.now() + wait).expect("park again");
            return;
        }
        self.parked.retain(|c| *c != conn);
        Defaults.on_park_timeout(ctx, conn);
    }

    fn on_request_abandoned(&mut self, _ctx: &mut Context<'_>, conn: ConnId) {
        self.parked.retain(|c| *c != conn);
        let _ = self.tx.send(Seen::Abandoned(conn, Instant::now()));
    }

    fn on_notify(&mut self, ctx: &mut Context<'_>, token: u64) {
        let body: Arc<[u8]> = format!("published {token} to every waiting poller")
            .into_bytes()
            .into();
        for conn in std::mem::take(&mut self.parked) {
            let response = Response::new(StatusCode::OK)
                .header("Content-Type", "text/plain")
                .body(Body::Shared(body.clone()));
            ctx.respond(conn, response)
                .expect("answer a parked request");
        }
    }
}

fn next_seen(rx: &Receiver<Seen>, what: &str) -> Seen {
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|e| panic!("no {what} within {TIMEOUT:?}: {e:?}"))
}

fn wait_parked(rx: &Receiver<Seen>) -> ConnId {
    match next_seen(rx, "park") {
        Seen::Parked(conn) => conn,
        other => panic!("expected a park, got {other:?}"),
    }
}

fn assert_nothing_seen(rx: &Receiver<Seen>, period: Duration) {
    if let Ok(seen) = rx.recv_timeout(period) {
        panic!("unexpected callback: {seen:?}");
    }
}

fn park_request(ms: u64) -> Vec<u8> {
    format!("GET /park?ms={ms} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

#[test]
fn parked_request_is_answered_later_from_another_thread() {
    let (handler, rx) = parker();
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::connect(server.addr);
    client.send(&park_request(10_000));
    let conn = wait_parked(&rx);
    client.assert_silent_for(Duration::from_millis(200));

    let handle = server.handle.clone();
    std::thread::spawn(move || {
        handle
            .respond(conn, Response::text(StatusCode::OK, "answered later"))
            .unwrap();
    })
    .join()
    .unwrap();
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"answered later");
    assert_eq!(response.content_length(), Some(14));
    // The connection goes on to its next request (keep-alive), and no timeout follows.
    assert_eq!(client.get("/fast").body, b"fast");
    assert_nothing_seen(&rx, Duration::from_millis(100));
}

#[test]
fn parked_request_reaching_its_deadline_gets_204_from_the_default_on_park_timeout() {
    let (handler, rx) = parker();
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::connect(server.addr);
    let started = Instant::now();
    client.send(&park_request(300));
    let conn = wait_parked(&rx);
    let response = client.read_response();
    let elapsed = started.elapsed();
    assert_eq!(response.status, 204, "{response:?}");
    assert!(response.body.is_empty());
    assert_eq!(response.content_length(), None, "204 has no Content-Length");
    assert!(
        elapsed >= Duration::from_millis(250),
        "204 too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "204 too late: {elapsed:?}"
    );
    match next_seen(&rx, "on_park_timeout") {
        Seen::Timeout(c) => assert_eq!(c, conn),
        other => panic!("expected on_park_timeout, got {other:?}"),
    }
    assert_eq!(client.get("/fast").body, b"fast");
}

#[test]
fn late_answer_to_a_request_that_timed_out_is_dropped() {
    let (handler, rx) = parker();
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::connect(server.addr);
    client.send(&park_request(300));
    let conn = wait_parked(&rx);
    assert_eq!(client.read_response().status, 204);
    // The connection is idle now, between requests: nothing is waiting to be answered.
    server
        .handle
        .respond(conn, Response::text(StatusCode::OK, "too late"))
        .unwrap();
    client.assert_silent_for(Duration::from_millis(300));
    assert_eq!(client.get("/fast").body, b"fast");
}

#[test]
fn on_park_timeout_may_park_the_request_again() {
    let (handler, rx) = parker();
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::connect(server.addr);
    let started = Instant::now();
    client.send(b"GET /repark?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n");
    let conn = wait_parked(&rx);
    let response = client.read_response();
    let elapsed = started.elapsed();
    assert_eq!(response.status, 204);
    assert!(elapsed >= Duration::from_millis(550), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
    for _ in 0..2 {
        match next_seen(&rx, "on_park_timeout") {
            Seen::Timeout(c) => assert_eq!(c, conn),
            other => panic!("expected on_park_timeout, got {other:?}"),
        }
    }
}

#[test]
fn request_pipelined_behind_a_parked_one_waits_its_turn() {
    let (handler, rx) = parker();
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::connect(server.addr);
    let mut wire = park_request(300);
    wire.extend_from_slice(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    client.send(&wire);
    wait_parked(&rx);
    assert_eq!(client.read_response().status, 204);
    assert_eq!(client.read_response().body, b"fast");
}

#[test]
fn client_hanging_up_while_parked_is_reported_promptly_and_its_id_reaches_no_one_else() {
    let (handler, rx) = parker();
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::connect(server.addr);
    // A deadline shortly after the hang-up: an abandoned request must not time out.
    client.send(&park_request(800));
    let gone = wait_parked(&rx);
    let hung_up = Instant::now();
    drop(client);
    match next_seen(&rx, "on_request_abandoned") {
        Seen::Abandoned(conn, at) => {
            assert_eq!(conn, gone);
            let delay = at.duration_since(hung_up);
            assert!(
                delay < Duration::from_secs(2),
                "on_request_abandoned came {delay:?} after the hang-up"
            );
        }
        other => panic!("expected on_request_abandoned, got {other:?}"),
    }
    assert_nothing_seen(&rx, Duration::from_millis(1000));

    // A new connection, probably in the same slot, parked the same way.
    let mut next = RawClient::connect(server.addr);
    next.send(&park_request(10_000));
    let fresh = wait_parked(&rx);
    assert_ne!(fresh, gone);
    server
        .handle
        .respond(gone, Response::text(StatusCode::OK, "stale answer"))
        .unwrap();
    next.assert_silent_for(Duration::from_millis(300));
    server
        .handle
        .respond(fresh, Response::text(StatusCode::OK, "fresh answer"))
        .unwrap();
    let response = next.read_response();
    assert_eq!(response.body, b"fresh answer");
    next.assert_silent_for(Duration::from_millis(200));
}

#[test]
fn publish_to_50_parked_pollers_answers_every_one_with_the_same_body() {
    const N: usize = 50;
    let (handler, rx) = parker();
    let server = TestServer::start(config(), handler);
    let mut clients: Vec<RawClient> = (0..N).map(|_| RawClient::connect(server.addr)).collect();
    for client in &mut clients {
        client.send(&park_request(10_000));
    }
    let mut parked: Vec<ConnId> = (0..N).map(|_| wait_parked(&rx)).collect();
    parked.sort_by_key(|c| (c.index(), c.generation()));
    parked.dedup();
    assert_eq!(parked.len(), N);

    server.handle.notify(42).unwrap();
    let expected = b"published 42 to every waiting poller";
    for client in &mut clients {
        let response = client.read_response();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, expected);
        assert_eq!(response.content_length(), Some(expected.len()));
        // Answered once: the connection then waits for its next request.
        assert_eq!(client.get("/fast").body, b"fast");
    }
    assert_nothing_seen(&rx, Duration::from_millis(100));
}

#[test]
fn late_answer_is_not_delivered_to_the_next_request_on_the_same_connection() {
    let (handler, rx) = parker();
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::connect(server.addr);
    client.send(&park_request(300));
    let conn = wait_parked(&rx);
    // An application thread decides to answer the first poll (say, a publish came in) at
    // about the moment it times out; the client has meanwhile polled again.
    assert_eq!(client.read_response().status, 204);
    assert!(matches!(next_seen(&rx, "on_park_timeout"), Seen::Timeout(c) if c == conn));
    client.send(&park_request(10_000));
    let second = wait_parked(&rx);
    assert_ne!(
        second, conn,
        "each exchange on a keep-alive connection has its own id"
    );
    assert_eq!(second.index(), conn.index(), "same connection, same slot");
    server
        .handle
        .respond(conn, Response::text(StatusCode::OK, "meant for the first"))
        .unwrap();
    client.assert_silent_for(Duration::from_millis(300));
    // The second request is still waiting, and its own id answers it.
    server
        .handle
        .respond(second, Response::text(StatusCode::OK, "for the second"))
        .unwrap();
    let response = client.read_response();
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"for the second"[..])
    );
}

#[test]
fn shutdown_answers_parked_requests_at_once_and_closes_their_connections() {
    let mut config = config();
    config.shutdown_timeout = Duration::from_secs(8);
    let (handler, rx) = parker();
    let mut server = TestServer::start(config, handler);
    let mut client = RawClient::connect(server.addr);
    client.send(&park_request(60_000));
    wait_parked(&rx);
    let started = Instant::now();
    server.handle.shutdown().unwrap();
    // The parked poll is answered by on_park_timeout (204) rather than held until the
    // shutdown deadline, and its connection is closed rather than kept alive.
    let response = client.read_response();
    assert_eq!(response.status, 204);
    client.read_to_eof();
    assert!(
        server.wait_stopped(Duration::from_secs(5)).is_some(),
        "server stops promptly"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
