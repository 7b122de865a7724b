//! The long-poll primitive, in memory on the virtual clock: `Context::park`, answers
//! from another callback (`respond_all`) and from another thread (`Handle::respond`), the
//! deadline (`on_park_timeout`, 204 by default, or park again), stale answers (`Gone`,
//! never delivered to a later request or a reused slot), pipelining behind a parked
//! request, clients that hang up while parked (`on_request_abandoned`), and shutdown.

mod support;

use std::sync::Arc;
use std::time::Duration;

use pushwire::http::{Body, Request};
use pushwire::pair::ServerPair;
use pushwire::{Context, Handler, RequestId, Response, SendError, StatusCode};
use support::*;

/// A handler with the trait's defaults, to call the default `on_park_timeout` from an
/// override.
struct Defaults;
impl Handler for Defaults {}

/// The README's `Waiters` (park on GET, answer on POST), with a few routes more:
///
/// - `GET|HEAD /poll?ms=N` parks the request for N ms;
/// - `GET /repark?ms=N` parks it, and at its deadline parks it once more for N ms;
/// - `GET /fast` is answered at once;
/// - `POST /publish` answers every waiting request with the POST's body (one
///   `respond_all`, one shared body), and the POST with how many it answered;
/// - `on_notify(i)` answers the `i`-th request it saw (from 0) from a callback, and
///   keeps what `respond` returned in `answers`;
/// - `on_park_timeout` parks a `/repark` request again once; otherwise it forgets the
///   request and leaves the answer to the trait's default (204).
#[derive(Default)]
struct Waiters {
    waiting: Vec<RequestId>,
    repark: Vec<(RequestId, Duration)>,
    seen: Vec<RequestId>,
    answers: Vec<(RequestId, Result<(), SendError>)>,
}

fn millis(request: &Request) -> Duration {
    let ms = request
        .query()
        .and_then(|q| q.strip_prefix("ms="))
        .and_then(|v| v.parse().ok())
        .expect("?ms=N");
    Duration::from_millis(ms)
}

impl Handler for Waiters {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        self.seen.push(id);
        match (request.method(), request.path()) {
            ("POST", "/publish") => {
                let body: Arc<[u8]> = request.body().into();
                let response = Response::new(StatusCode::OK)
                    .header("Content-Type", "text/plain")
                    .body(Body::Shared(body));
                let answered = ctx.respond_all(&std::mem::take(&mut self.waiting), &response);
                let _ = ctx.respond(
                    id,
                    Response::text(StatusCode::OK, format!("answered {answered}")),
                );
            }
            (_, "/poll" | "/repark") => {
                let wait = millis(&request);
                ctx.park(id, ctx.now() + wait).expect("park");
                self.waiting.push(id);
                if request.path() == "/repark" {
                    self.repark.push((id, wait));
                }
            }
            (_, "/fast") => {
                let _ = ctx.respond(id, Response::text(StatusCode::OK, "fast"));
            }
            _ => {
                let _ = ctx.respond(id, Response::error(StatusCode::NOT_FOUND, "no"));
            }
        }
    }

    fn on_park_timeout(&mut self, ctx: &mut Context<'_>, id: RequestId) {
        if let Some(i) = self.repark.iter().position(|(r, _)| *r == id) {
            let (_, wait) = self.repark.remove(i);
            ctx.park(id, ctx.now() + wait).expect("park again");
            return;
        }
        self.waiting.retain(|w| *w != id);
        Defaults.on_park_timeout(ctx, id);
    }

    fn on_request_abandoned(&mut self, _ctx: &mut Context<'_>, id: RequestId) {
        self.waiting.retain(|w| *w != id);
    }

    fn on_notify(&mut self, ctx: &mut Context<'_>, token: u64) {
        let id = self.seen[token as usize];
        let result = ctx.respond(id, Response::text(StatusCode::OK, "late answer"));
        self.answers.push((id, result));
    }
}

type Pair = ServerPair<Recording<Waiters>>;

fn server() -> (Pair, Events) {
    memory_server(config(), Waiters::default())
}

fn poll_request(ms: u64) -> Vec<u8> {
    format!("GET /poll?ms={ms} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

/// `client` polls for `ms` ms; returns the parked request's id.
fn park(pair: &mut Pair, events: &mut Events, client: &mut Client, ms: u64) -> RequestId {
    client.send(pair, &poll_request(ms));
    events.request("/poll")
}

/// The `i`-th request the handler saw is answered from a callback (`on_notify`); returns
/// what `Context::respond` said.
fn answer_from_callback(pair: &mut Pair, i: u64) -> Result<(), SendError> {
    pair.handle().notify(i).unwrap();
    pair.run();
    let &(_, result) = pair.handler().inner().answers.last().expect("answered");
    result
}

/// Every `on_park_timeout` so far, in order.
fn park_timeouts(events: &Events) -> Vec<RequestId> {
    events
        .all()
        .iter()
        .filter_map(|e| match e {
            Event::ParkTimeout(id) => Some(*id),
            _ => None,
        })
        .collect()
}

#[test]
fn parked_request_is_answered_later_from_another_callback() {
    let (mut pair, mut events) = server();
    let mut poller = Client::connect(&mut pair);
    park(&mut pair, &mut events, &mut poller, 10_000);
    poller.nothing(&mut pair);

    let mut publisher = Client::connect(&mut pair);
    let published = publisher.post(&mut pair, "/publish", b"news");
    assert_eq!(published.body, b"answered 1");
    let response = poller.response(&mut pair);
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"news"[..])
    );
    assert_eq!(response.content_length(), Some(4));
    poller.nothing(&mut pair);
    // The connection goes on to its next request (keep-alive), and no timeout follows.
    assert_eq!(poller.get(&mut pair, "/fast").body, b"fast");
    pair.advance(Duration::from_secs(10));
    assert_eq!(park_timeouts(&events), []);
}

#[test]
fn parked_request_is_answered_later_through_a_handle() {
    let (mut pair, mut events) = server();
    let mut poller = Client::connect(&mut pair);
    let id = park(&mut pair, &mut events, &mut poller, 10_000);
    poller.nothing(&mut pair);

    pair.handle()
        .respond(id, Response::text(StatusCode::OK, "answered later"))
        .unwrap();
    pair.run();
    let response = poller.response(&mut pair);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"answered later");
    assert_eq!(response.content_length(), Some(14));
    poller.nothing(&mut pair);
    assert_eq!(poller.get(&mut pair, "/fast").body, b"fast");
    pair.advance(Duration::from_secs(10));
    assert_eq!(park_timeouts(&events), []);
}

#[test]
fn parked_request_reaching_its_deadline_gets_204_from_the_default_on_park_timeout() {
    let (mut pair, mut events) = server();
    let mut poller = Client::connect(&mut pair);
    let id = park(&mut pair, &mut events, &mut poller, 300);

    pair.advance(Duration::from_millis(299));
    poller.nothing(&mut pair);
    assert_eq!(park_timeouts(&events), []);

    pair.advance(Duration::from_millis(1));
    let response = poller.response(&mut pair);
    assert_eq!(response.status, 204, "{response:?}");
    assert!(response.body.is_empty());
    assert_eq!(response.content_length(), None, "204 has no Content-Length");
    assert_eq!(park_timeouts(&events), [id]);
    assert_eq!(poller.get(&mut pair, "/fast").body, b"fast");
}

#[test]
fn late_answer_to_a_request_that_timed_out_is_dropped() {
    let (mut pair, mut events) = server();
    let mut poller = Client::connect(&mut pair);
    let id = park(&mut pair, &mut events, &mut poller, 300);
    pair.advance(Duration::from_millis(300));
    assert_eq!(poller.response(&mut pair).status, 204);

    // The connection is idle now, between requests: nothing is waiting to be answered.
    pair.handle()
        .respond(id, Response::text(StatusCode::OK, "too late"))
        .unwrap();
    pair.run();
    poller.nothing(&mut pair);
    assert_eq!(answer_from_callback(&mut pair, 0), Err(SendError::Gone));
    poller.nothing(&mut pair);
    assert!(!poller.is_closed(&pair));
    assert_eq!(poller.get(&mut pair, "/fast").body, b"fast");
}

#[test]
fn on_park_timeout_may_park_the_request_again() {
    let (mut pair, mut events) = server();
    let mut poller = Client::connect(&mut pair);
    poller.send(
        &mut pair,
        b"GET /repark?ms=300 HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    let id = events.request("/repark");

    pair.advance(Duration::from_millis(300));
    poller.nothing(&mut pair);
    assert_eq!(park_timeouts(&events), [id]);

    pair.advance(Duration::from_millis(299));
    poller.nothing(&mut pair);
    pair.advance(Duration::from_millis(1));
    assert_eq!(poller.response(&mut pair).status, 204);
    assert_eq!(park_timeouts(&events), [id, id]);
}

#[test]
fn request_pipelined_behind_a_parked_one_waits_its_turn() {
    let (mut pair, mut events) = server();
    let mut client = Client::connect(&mut pair);
    let mut wire = poll_request(300);
    wire.extend_from_slice(b"GET /fast HTTP/1.1\r\nHost: test\r\n\r\n");
    client.send(&mut pair, &wire);
    let parked = events.request("/poll");
    // The second request is not even read until the first is answered.
    events.assert_none(
        "request /fast",
        |e| matches!(e, Event::Request { target, .. } if target == "/fast"),
    );
    client.nothing(&mut pair);

    pair.advance(Duration::from_millis(300));
    assert_eq!(client.response(&mut pair).status, 204);
    assert_eq!(client.response(&mut pair).body, b"fast");
    let fast = events.request("/fast");
    assert_eq!(fast.conn(), parked.conn());
    assert_eq!(fast.exchange(), parked.exchange() + 1);
}

#[test]
fn client_hanging_up_while_parked_is_reported_at_once_and_its_id_reaches_no_one_else() {
    let (mut pair, mut events) = server();
    let mut poller = Client::connect(&mut pair);
    let gone = park(&mut pair, &mut events, &mut poller, 800);

    // The FIN alone, no time passing, is enough.
    poller.finish(&mut pair);
    events.expect("on_request_abandoned", |e| {
        matches!(e, Event::Abandoned(id) if *id == gone).then_some(())
    });
    assert!(poller.is_closed(&pair));
    assert_eq!(pair.connection_count(), 0);
    assert_eq!(pair.handler().inner().waiting, []);
    // An abandoned request does not time out.
    pair.advance(Duration::from_millis(800));
    assert_eq!(park_timeouts(&events), []);

    // A new connection in the same slot, parked the same way.
    let mut next = Client::connect(&mut pair);
    let fresh = park(&mut pair, &mut events, &mut next, 10_000);
    assert_eq!(
        fresh.conn().index(),
        gone.conn().index(),
        "the slot is reused"
    );
    assert_ne!(fresh.conn(), gone.conn());
    pair.handle()
        .respond(gone, Response::text(StatusCode::OK, "stale answer"))
        .unwrap();
    pair.run();
    next.nothing(&mut pair);
    assert_eq!(answer_from_callback(&mut pair, 0), Err(SendError::Gone));
    next.nothing(&mut pair);

    pair.handle()
        .respond(fresh, Response::text(StatusCode::OK, "fresh answer"))
        .unwrap();
    pair.run();
    assert_eq!(next.response(&mut pair).body, b"fresh answer");
    next.nothing(&mut pair);
}

/// How a poller of the 50 asks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Poller {
    /// HTTP/1.1 GET, keep-alive: the usual long-poll.
    Plain,
    /// HTTP/1.0 asking for keep-alive: the answer must say `Connection: keep-alive`.
    Http10KeepAlive,
    /// HEAD: the head of the answer, without its body.
    Head,
    /// HTTP/1.1 with `Connection: close`: the answer says so, then the server closes.
    Close,
}

impl Poller {
    fn request(self) -> &'static [u8] {
        match self {
            Poller::Plain => b"GET /poll?ms=10000 HTTP/1.1\r\nHost: test\r\n\r\n",
            Poller::Http10KeepAlive => {
                b"GET /poll?ms=10000 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
            }
            Poller::Head => b"HEAD /poll?ms=10000 HTTP/1.1\r\nHost: test\r\n\r\n",
            Poller::Close => {
                b"GET /poll?ms=10000 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
            }
        }
    }
}

#[test]
fn one_publish_answers_50_parked_pollers_each_once_with_the_same_body() {
    const N: usize = 50;
    let (mut pair, mut events) = server();
    let kinds: Vec<Poller> = (0..N)
        .map(|i| match i {
            10 => Poller::Http10KeepAlive,
            20 => Poller::Head,
            30 => Poller::Close,
            _ => Poller::Plain,
        })
        .collect();
    let mut clients: Vec<Client> = Vec::new();
    let mut ids = Vec::new();
    for kind in &kinds {
        let mut client = Client::connect(&mut pair);
        client.send(&mut pair, kind.request());
        ids.push(events.request("/poll"));
        clients.push(client);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "every request has its own id");

    let body = b"published 42 to every waiting poller";
    let mut publisher = Client::connect(&mut pair);
    assert_eq!(
        publisher.post(&mut pair, "/publish", body).body,
        format!("answered {N}").as_bytes()
    );
    for (client, &kind) in clients.iter_mut().zip(&kinds) {
        let response = if kind == Poller::Head {
            client.head_response(&mut pair)
        } else {
            client.response(&mut pair)
        };
        assert_eq!(response.status, 200, "{kind:?}: {response:?}");
        assert_eq!(response.content_length(), Some(body.len()), "{kind:?}");
        assert_eq!(response.header("Content-Type"), Some("text/plain"));
        let expected_body: &[u8] = if kind == Poller::Head { b"" } else { body };
        assert_eq!(response.body, expected_body, "{kind:?}");
        let connection = match kind {
            Poller::Plain | Poller::Head => None,
            Poller::Http10KeepAlive => Some("keep-alive"),
            Poller::Close => Some("close"),
        };
        assert_eq!(response.header("Connection"), connection, "{kind:?}");
        // Exactly one answer (and no body after a HEAD's head).
        client.nothing(&mut pair);
        match kind {
            Poller::Close => assert!(client.server_finished(&pair), "{kind:?}"),
            Poller::Http10KeepAlive => {
                client.send(
                    &mut pair,
                    b"GET /fast HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                );
                assert_eq!(client.response(&mut pair).body, b"fast");
            }
            Poller::Plain | Poller::Head => {
                assert_eq!(client.get(&mut pair, "/fast").body, b"fast", "{kind:?}");
            }
        }
    }
    pair.advance(Duration::from_secs(10));
    assert_eq!(park_timeouts(&events), []);
}

#[test]
fn late_answer_is_not_delivered_to_the_next_request_on_the_same_connection() {
    let (mut pair, mut events) = server();
    let mut client = Client::connect(&mut pair);
    let first = park(&mut pair, &mut events, &mut client, 300);
    // An application thread decides to answer the first poll (say, a publish came in) at
    // about the moment it times out; the client has meanwhile polled again.
    pair.advance(Duration::from_millis(300));
    assert_eq!(client.response(&mut pair).status, 204);
    assert_eq!(park_timeouts(&events), [first]);
    let second = park(&mut pair, &mut events, &mut client, 10_000);
    assert_eq!(second.conn(), first.conn(), "one connection, one ConnId");
    assert_ne!(second, first, "each exchange has its own id");

    pair.handle()
        .respond(first, Response::text(StatusCode::OK, "meant for the first"))
        .unwrap();
    pair.run();
    client.nothing(&mut pair);
    assert_eq!(answer_from_callback(&mut pair, 0), Err(SendError::Gone));
    client.nothing(&mut pair);

    // The second request is still waiting, and its own id answers it.
    pair.handle()
        .respond(second, Response::text(StatusCode::OK, "for the second"))
        .unwrap();
    pair.run();
    let response = client.response(&mut pair);
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"for the second"[..])
    );
}

#[test]
fn shutdown_answers_parked_requests_at_once_and_closes_their_connections() {
    let mut config = config();
    config.shutdown_timeout = Duration::from_secs(8);
    let (mut pair, mut events) = memory_server(config, Waiters::default());
    let mut reader = Client::connect(&mut pair);
    let read_id = park(&mut pair, &mut events, &mut reader, 60_000);
    // A second poller that is not reading: its answer cannot leave yet.
    let mut stalled = Client::connect(&mut pair);
    let stalled_id = park(&mut pair, &mut events, &mut stalled, 60_000);
    pair.set_read_limit(stalled.peer, Some(0));

    pair.handle().shutdown().unwrap();
    pair.run();
    // No time passed: the parked polls were answered by on_park_timeout (204) rather than
    // held until the shutdown deadline, and their connections close rather than stay.
    assert_eq!(park_timeouts(&events), [read_id, stalled_id]);
    let response = reader.response(&mut pair);
    assert_eq!(response.status, 204);
    assert_eq!(response.header("Connection"), Some("close"));
    reader.nothing(&mut pair);
    assert!(reader.is_closed(&pair));
    assert!(!pair.is_stopped(), "one answer has not left yet");
    assert_eq!(pair.connection_count(), 1);

    pair.set_read_limit(stalled.peer, None);
    assert_eq!(stalled.response(&mut pair).status, 204);
    assert!(stalled.is_closed(&pair));
    assert_eq!(pair.connection_count(), 0);
    assert!(pair.is_stopped(), "stopped once every connection is gone");
}

#[test]
fn shutdown_answers_parked_requests_within_the_step_that_runs_it() {
    let (mut pair, mut events) = server();
    let mut poller = Client::connect(&mut pair);
    let id = park(&mut pair, &mut events, &mut poller, 60_000);
    pair.handle().shutdown().unwrap();
    pair.run();
    assert_eq!(park_timeouts(&events), [id]);
    assert_eq!(poller.response(&mut pair).status, 204);
    assert!(pair.is_stopped());
}
