//! Output shared between connections, and the handler's own timer, in memory on the
//! virtual clock: a text frame sent by reference (`Context::send_shared_text`) arrives
//! whole and exact on every connection and obeys backpressure like any send; a response
//! body of shared pieces (`Body::Pieces`) arrives as if it were one buffer, with no body
//! for `HEAD`; `Context::wake_at` calls `on_wake` once, at its instant, earliest first.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pushwire::http::Body;
use pushwire::server::{ConnId, Context, Handler, RequestId};
use pushwire::{Request, Response, SendError, StatusCode};
use support::*;

/// Sends one shared text to every open connection when asked over HTTP (`GET /send`),
/// answers `GET /pieces` with a body of shared pieces, and records wake-ups.
#[derive(Default)]
struct Sharer {
    open: Vec<ConnId>,
    payload: Option<Arc<str>>,
    results: Vec<Result<(), SendError>>,
    wakes: Vec<Instant>,
    wake_plan: Vec<Duration>,
}

impl Handler for Sharer {
    fn on_open(&mut self, _ctx: &mut Context<'_>, conn: ConnId) {
        self.open.push(conn);
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        match request.path() {
            "/send" => {
                let payload = Arc::clone(self.payload.as_ref().expect("a payload"));
                for &conn in &self.open {
                    let result = ctx.send_shared_text(conn, &payload);
                    self.results.push(result);
                }
                let _ = ctx.respond(id, Response::text(StatusCode::OK, "sent"));
            }
            "/pieces" => {
                let big: Arc<[u8]> = Arc::from(vec![b'x'; 5000]);
                let pieces = vec![
                    Arc::from(&b"<"[..]),
                    Arc::clone(&big),
                    Arc::from(&b"|"[..]),
                    big,
                    Arc::from(&b">"[..]),
                ];
                let response = Response::new(StatusCode::OK).body(Body::Pieces(pieces));
                let _ = ctx.respond(id, response);
            }
            "/wake" => {
                let now = ctx.now();
                for after in self.wake_plan.clone() {
                    ctx.wake_at(now + after);
                }
                let _ = ctx.respond(id, Response::new(StatusCode::NO_CONTENT));
            }
            _ => {
                let _ = ctx.respond(id, Response::new(StatusCode::NOT_FOUND));
            }
        }
    }

    fn on_wake(&mut self, ctx: &mut Context<'_>) {
        self.wakes.push(ctx.now());
    }
}

fn sharer(payload: &str) -> Sharer {
    Sharer {
        payload: Some(Arc::from(payload)),
        ..Sharer::default()
    }
}

#[test]
fn a_shared_text_arrives_whole_on_every_connection_and_exists_once() {
    let text = "y".repeat(70_000); // a 64-bit-length header, well past the copy threshold
    let (mut pair, _events) = memory_server(config(), sharer(&text));
    let mut sockets: Vec<Client> = (0..3).map(|_| Client::upgrade(&mut pair, "/")).collect();
    let mut trigger = Client::connect(&mut pair);
    assert_eq!(trigger.get(&mut pair, "/send").status, 200);
    let payload = Arc::clone(pair.handler().inner().payload.as_ref().unwrap());
    assert_eq!(pair.handler().inner().results, [Ok(()), Ok(()), Ok(())]);
    for socket in &mut sockets {
        let frame = socket.frame(&mut pair);
        assert!(frame.fin);
        assert_eq!(frame.opcode, 0x1);
        assert_eq!(frame.payload, text.as_bytes());
    }
    assert_eq!(
        Arc::strong_count(&payload),
        2,
        "written everywhere: only ours is left"
    );
}

#[test]
fn a_short_shared_text_is_sent_like_any_other() {
    let (mut pair, _events) = memory_server(config(), sharer("tiny"));
    let mut socket = Client::upgrade(&mut pair, "/");
    Client::connect(&mut pair).get(&mut pair, "/send");
    assert_eq!(socket.frame(&mut pair).payload, b"tiny");
}

#[test]
fn shared_sends_obey_the_high_water_mark() {
    let mut c = config();
    c.write_buffer_high_water = 100_000;
    let (mut pair, _events) = memory_server(c, sharer(&"z".repeat(60_000)));
    let socket = Client::upgrade(&mut pair, "/");
    pair.set_read_limit(socket.peer, Some(0));
    let mut trigger = Client::connect(&mut pair);
    for _ in 0..3 {
        trigger.get(&mut pair, "/send");
    }
    // 60 KB queued, 120 KB queued (past 100 KB), then refused.
    assert_eq!(
        pair.handler().inner().results,
        [Ok(()), Ok(()), Err(SendError::Full)]
    );
}

#[test]
fn a_body_of_shared_pieces_arrives_as_one_with_its_length_and_none_for_head() {
    let (mut pair, _events) = memory_server(config(), Sharer::default());
    let mut client = Client::connect(&mut pair);
    let response = client.get(&mut pair, "/pieces");
    let mut expected = b"<".to_vec();
    expected.extend(std::iter::repeat_n(b'x', 5000));
    expected.push(b'|');
    expected.extend(std::iter::repeat_n(b'x', 5000));
    expected.push(b'>');
    assert_eq!(response.content_length(), Some(expected.len()));
    assert_eq!(response.body, expected);
    // Keep-alive: the next exchange on the same connection is intact.
    client.send(&mut pair, b"HEAD /pieces HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = client.head_response(&mut pair);
    assert_eq!(head.content_length(), Some(expected.len()));
    assert!(head.body.is_empty());
    assert_eq!(client.get(&mut pair, "/nowhere").status, 404);
}

#[test]
fn wake_at_calls_on_wake_once_at_the_earliest_instant_asked() {
    let plan = vec![Duration::from_secs(5), Duration::from_secs(2)];
    let handler = Sharer {
        wake_plan: plan,
        ..Sharer::default()
    };
    let (mut pair, _events) = memory_server(config(), handler);
    let start = pair.now();
    Client::connect(&mut pair).get(&mut pair, "/wake");
    pair.advance(Duration::from_millis(1999));
    assert!(
        pair.handler().inner().wakes.is_empty(),
        "not before its time"
    );
    pair.advance(Duration::from_millis(1));
    assert_eq!(
        pair.handler().inner().wakes,
        [start + Duration::from_secs(2)]
    );
    pair.advance(Duration::from_secs(10));
    assert_eq!(
        pair.handler().inner().wakes.len(),
        1,
        "once: re-armed only on request"
    );
}
