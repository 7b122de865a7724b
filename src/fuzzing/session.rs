//! Target `session`: one HTTP/1.1 [`Session`] driven by arbitrary bytes in arbitrary
//! chunks, time steps and application actions.
//!
//! Input: `[config: u8] [n_ops: u8] [op: u8; n_ops] [stream ...]`. An op's low nibble is
//! the size of the next chunk of the stream (see [`CHUNK_SIZES`]); its high nibble is the
//! application's action for the next request the session hands out (answer now, park
//! and answer late, answer twice, stream the answer, leave it for the end) or a time step
//! taken before the chunk.
//!
//! Invariants, checked on every run:
//! - answers leave in request order: the exchanges answered are 0, 1, 2, … with none
//!   skipped or answered twice, each answer is one well-formed response naming its
//!   exchange, and a second answer to the same exchange is refused as stale and writes
//!   nothing;
//! - nothing is ever written after the session closed, and a response the session writes
//!   on its own (an error, a 408) is followed by no other;
//! - without time steps, the events and every byte written are the same however the
//!   stream is cut (here: the ops' chunks versus the whole stream at once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::CHUNK_SIZES;
use super::driver::ops_and_stream;
use crate::config::HeadLimits;
use crate::http::origin::AllowedOrigins;
use crate::http::{Response, StatusCode};
use crate::session::{Event, ExchangeError, Session, SessionConfig};

/// What the application does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// `respond` at once.
    Now,
    /// `park`, and answer once more input has arrived (or at the end).
    Late,
    /// `respond`, then `respond` again (which must be refused as stale).
    Twice,
    /// A streamed answer: head, two chunks, end.
    Stream,
    /// Left alone until the end of the input.
    AtEnd,
}

fn answer_of(op: u8) -> Answer {
    match op >> 4 {
        0..=5 => Answer::Now,
        6 | 7 => Answer::Late,
        8 => Answer::Twice,
        9 | 10 => Answer::Stream,
        _ => Answer::AtEnd,
    }
}

/// A time step before the chunk, for ops whose high nibble asks for one (runs with time
/// only).
fn step_of(op: u8) -> Option<Duration> {
    match op >> 4 {
        11 => Some(Duration::from_millis(100)),
        12 => Some(Duration::from_secs(10)),
        13 => Some(Duration::from_secs(31)),
        _ => None,
    }
}

fn session_config(config: u8) -> SessionConfig {
    let mut c = SessionConfig::default();
    if config & 1 != 0 {
        c.head = HeadLimits {
            max_head_bytes: 256,
            max_headers: 8,
            max_target_len: 32,
        };
        c.max_body_bytes = 16;
    }
    // Without the bit, any origin (so seeds with an `Origin` reach the application);
    // with it, the server's own and one other.
    c.allowed_origins = if config & 2 != 0 {
        AllowedOrigins::List(vec!["http://example.com".to_string()])
    } else {
        AllowedOrigins::Any
    };
    c
}

/// One run's record: every event, and every byte written, in order.
#[derive(Debug, Default, PartialEq, Eq)]
struct Transcript {
    events: Vec<String>,
    out: Vec<u8>,
}

/// The application's side of one run, checking the invariants as it goes.
struct App {
    session: Session,
    now: Instant,
    out: Vec<u8>,
    events: Vec<String>,
    /// The next exchange an answer must be for.
    next_answer: u32,
    /// A parked request to answer once more input has arrived.
    late: Option<u32>,
    /// Requests left for the end, in order.
    at_end: Vec<u32>,
    /// The session wrote a response of its own: nothing may follow.
    refused: bool,
}

impl App {
    fn response(exchange: u32) -> Response {
        Response::text(StatusCode::OK, format!("answer {exchange}"))
            .header("X-Exchange", exchange.to_string())
    }

    /// Checks that what the session wrote since `before` is one response to `exchange`.
    fn check_answer(&self, before: usize, exchange: u32) {
        let written = &self.out[before..];
        let text = std::str::from_utf8(written).expect("responses are ASCII here");
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text:?}");
        assert!(
            text.contains(&format!("\r\nX-Exchange: {exchange}\r\n")),
            "answer to {exchange}: {text:?}"
        );
    }

    fn answer(&mut self, exchange: u32, how: Answer) {
        assert_eq!(exchange, self.next_answer, "answers leave in request order");
        let before = self.out.len();
        let (session, out, now) = (&mut self.session, &mut self.out, self.now);
        match how {
            Answer::Stream => {
                let head = Response::new(StatusCode::OK).header("X-Exchange", exchange.to_string());
                session
                    .start_stream(exchange, &head, out, now)
                    .expect("waiting");
                for chunk in [&b"one"[..], b"two"] {
                    // A HEAD request's stream is over at once: later chunks are stale.
                    match session.stream_chunk(exchange, chunk, out) {
                        Ok(()) | Err(ExchangeError::Stale) => {}
                        Err(e) => panic!("stream chunk: {e}"),
                    }
                }
                match session.end_stream(exchange, out, now) {
                    Ok(()) | Err(ExchangeError::Stale) => {}
                    Err(e) => panic!("end stream: {e}"),
                }
            }
            _ => {
                let response = Self::response(exchange);
                session
                    .respond(exchange, &response, out, now)
                    .expect("waiting");
                self.check_answer(before, exchange);
            }
        }
        self.next_answer += 1;
        if how == Answer::Twice {
            let again = self.out.len();
            let twice =
                self.session
                    .respond(exchange, &Self::response(exchange), &mut self.out, self.now);
            assert_eq!(twice, Err(ExchangeError::Stale), "a second answer is stale");
            assert_eq!(self.out.len(), again, "a stale answer writes nothing");
        }
    }

    /// Acts on one event of the session.
    fn on_event(&mut self, event: Event, how: Answer) {
        match event {
            Event::Request { exchange, request } => {
                self.events.push(format!(
                    "request {exchange} {} {}",
                    request.method(),
                    request.target()
                ));
                match how {
                    Answer::Late => {
                        self.session
                            .park(exchange, self.now + Duration::from_secs(30))
                            .expect("waiting");
                        self.late = Some(exchange);
                    }
                    Answer::AtEnd => self.at_end.push(exchange),
                    _ => self.answer(exchange, how),
                }
            }
            Event::Upgrade { exchange, upgrade } => {
                self.events.push(format!("upgrade {exchange}"));
                assert_eq!(exchange, self.next_answer, "an upgrade waits its turn too");
                let protocol = upgrade.request().protocols().next().map(str::to_string);
                self.session
                    .accept_upgrade(exchange, &upgrade, protocol.as_deref(), &mut self.out)
                    .expect("the upgrade is waiting");
                self.next_answer += 1;
            }
            Event::ParkTimeout { exchange } => {
                self.events.push(format!("park timeout {exchange}"));
                if self.late == Some(exchange) {
                    self.late = None;
                }
                self.answer(exchange, Answer::Now);
            }
            Event::Abandoned { exchange } => self.events.push(format!("abandoned {exchange}")),
        }
    }

    /// Runs one step of the session's own making and checks what it wrote.
    fn after_session_step(&mut self, before: usize, was_closed: bool) {
        let wrote = self.out.len() > before;
        if was_closed || self.refused {
            assert!(
                !wrote,
                "nothing is written after the session closed or refused"
            );
        }
        if wrote && self.session.is_closed() {
            // An error or a 408: one response, with Connection: close.
            let text = String::from_utf8_lossy(&self.out[before..]).into_owned();
            assert!(text.starts_with("HTTP/1.1 "), "{text:?}");
            assert!(text.contains("\r\nConnection: close\r\n"), "{text:?}");
            self.refused = true;
        }
    }
}

/// Feeds what is buffered until the session has no event, acting on each.
fn pump(app: &mut App, input: &mut Vec<u8>, ops: &[u8], events_seen: &mut usize) {
    loop {
        if app.session.is_upgraded() {
            input.clear(); // the rest is the WebSocket's (the ws targets fuzz it)
            return;
        }
        let (before, was_closed) = (app.out.len(), app.session.is_closed());
        let (used, event) = app.session.handle_input(input, &mut app.out, app.now);
        assert!(used <= input.len());
        input.drain(..used);
        app.after_session_step(before, was_closed);
        let Some(event) = event else { return };
        // Actions are taken per event (not per chunk), so every cutting acts alike.
        let how = ops
            .get(*events_seen % ops.len().max(1))
            .map_or(Answer::Now, |&op| answer_of(op));
        *events_seen += 1;
        app.on_event(event, how);
    }
}

/// Runs the whole input, cutting the stream at the ops' chunk sizes (or, with `whole`,
/// at once), taking time steps only with `timed`.
fn run(config: u8, ops: &[u8], stream: &[u8], whole: bool, timed: bool) -> Transcript {
    let now = Instant::now();
    let mut app = App {
        session: Session::new(Arc::new(session_config(config)), now),
        now,
        out: Vec::new(),
        events: Vec::new(),
        next_answer: 0,
        late: None,
        at_end: Vec::new(),
        refused: false,
    };
    let mut input: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut step = 0;
    let mut events_seen = 0;
    while fed < stream.len() {
        let op = ops.get(step % ops.len().max(1)).copied().unwrap_or(0x0F);
        step += 1;
        if timed && let Some(dt) = step_of(op) {
            app.now += dt;
            let (before, was_closed) = (app.out.len(), app.session.is_closed());
            let event = app.session.handle_timeout(app.now, &mut app.out);
            app.after_session_step(before, was_closed);
            if let Some(event) = event {
                app.on_event(event, Answer::Now);
            }
        }
        let chunk = if whole {
            usize::MAX
        } else {
            CHUNK_SIZES[usize::from(op & 0xF)]
        };
        let n = chunk.min(stream.len() - fed);
        input.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        pump(&mut app, &mut input, ops, &mut events_seen);
        // A parked request is answered once more input has arrived; the session can
        // then read the request pipelined behind it.
        if fed < stream.len()
            && let Some(late) = app.late.take()
        {
            app.answer(late, Answer::Now);
            pump(&mut app, &mut input, ops, &mut events_seen);
        }
    }
    // The end: answer what is left, in order, each letting a pipelined request through.
    while !app.session.is_closed() {
        let waiting = match app.late.take() {
            Some(late) => late,
            None if !app.at_end.is_empty() => app.at_end.remove(0),
            None => break,
        };
        app.answer(waiting, Answer::Now);
        pump(&mut app, &mut input, ops, &mut events_seen);
    }
    let was_closed = app.session.is_closed();
    let before = app.out.len();
    if let Some(Event::Abandoned { exchange }) = app.session.handle_eof() {
        app.events.push(format!("abandoned {exchange}"));
    }
    assert!(!was_closed || app.out.len() == before);
    Transcript {
        events: app.events,
        out: app.out,
    }
}

/// See the [module docs](self).
pub fn session(data: &[u8]) {
    let (config, ops, stream) = ops_and_stream(data);
    // Invariants with time steps and the ops' cuts.
    run(config, ops, stream, false, true);
    // Split invariance, without time.
    let cut = run(config, ops, stream, false, false);
    let whole = run(config, ops, stream, true, false);
    assert_eq!(
        cut, whole,
        "the same events and bytes however the stream is cut"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness does what it says: a pipelined stream gets every request handed out
    /// and answered, in order, however it is cut.
    #[test]
    fn pipelined_requests_are_all_answered_in_order_by_the_harness() {
        let stream = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\n\
                       GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
        for ops in [&[][..], &[0x00], &[0x61, 0x9F, 0xE2]] {
            let t = run(0, ops, stream, false, false);
            assert_eq!(
                t.events,
                ["request 0 GET /a", "request 1 HEAD /b", "request 2 GET /c"],
                "ops {ops:?}"
            );
            let out = String::from_utf8(t.out).unwrap();
            let order: Vec<usize> = ["X-Exchange: 0", "X-Exchange: 1", "X-Exchange: 2"]
                .iter()
                .map(|h| out.find(h).expect(h))
                .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{out}");
        }
    }
}
