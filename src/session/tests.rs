//! The session's rules, tested without sockets on a virtual clock.

use super::*;
use crate::http::StatusCode;
use crate::http::origin::AllowedOrigins;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A session with its client's byte stream and its output, on a virtual clock.
struct Harness {
    session: Session,
    /// Received and not yet consumed, as a connection's input buffer holds it.
    input: Vec<u8>,
    out: Vec<u8>,
    now: Instant,
    start: Instant,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(SessionConfig::default())
    }

    fn with(config: SessionConfig) -> Harness {
        let now = Instant::now();
        Harness {
            session: Session::new(Arc::new(config), now),
            input: Vec::new(),
            out: Vec::new(),
            now,
            start: now,
        }
    }

    /// Appends `bytes` to the input and feeds the session until it has no event.
    fn send(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.input.extend_from_slice(bytes);
        self.pump()
    }

    /// Feeds what is buffered until the session has no event.
    fn pump(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            let (used, event) = self
                .session
                .handle_input(&self.input, &mut self.out, self.now);
            self.input.drain(..used);
            match event {
                Some(event) => events.push(event),
                None => return events,
            }
        }
    }

    /// The one event `bytes` should produce: a request, with its exchange number.
    fn request(&mut self, bytes: &[u8]) -> (u32, Request) {
        let mut events = self.send(bytes);
        assert_eq!(events.len(), 1, "{events:?}");
        match events.pop() {
            Some(Event::Request { exchange, request }) => (exchange, request),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn respond(&mut self, exchange: u32, response: &Response) {
        self.session
            .respond(exchange, response, &mut self.out, self.now)
            .expect("the request is waiting");
    }

    fn advance(&mut self, by: Duration) -> Option<Event> {
        self.now += by;
        self.session.handle_timeout(self.now, &mut self.out)
    }

    /// The output so far, as text, and clears it.
    fn take_out(&mut self) -> String {
        String::from_utf8(std::mem::take(&mut self.out)).expect("responses are text")
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }
}

fn ok(body: &'static str) -> Response {
    Response::text(StatusCode::OK, body)
}

fn upgrade_request(extra: &str) -> String {
    format!(
        "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

fn status_of(response: &str) -> u16 {
    response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a response: {response:?}"))
}

// ===== requests and answers =====

#[test]
fn a_get_is_handed_out_and_its_answer_keeps_the_connection() {
    let mut h = Harness::new();
    let (exchange, request) = h.request(b"GET /a?b=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(
        (exchange, request.path(), request.query()),
        (0, "/a", Some("b=1"))
    );
    assert!(!h.session.is_idle());
    h.respond(exchange, &ok("hi"));
    assert_eq!(
        h.take_out(),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\nhi"
    );
    assert!(
        h.session.is_idle(),
        "keep-alive: ready for the next request"
    );
    let (next, _) = h.request(b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(next, 1, "every request on a connection has its own number");
}

#[test]
fn pipelined_requests_are_handed_out_one_at_a_time_and_answered_in_order() {
    let mut h = Harness::new();
    let events = h.send(
        b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    assert_eq!(events.len(), 1, "the next request waits for the answer");
    let mut seen = Vec::new();
    let mut events = events;
    for round in 0..3 {
        let Some(Event::Request { exchange, request }) = events.pop() else {
            panic!("round {round}: {events:?}");
        };
        seen.push(request.path().to_string());
        h.respond(exchange, &ok("x"));
        events = h.pump();
    }
    assert_eq!(seen, ["/1", "/2", "/3"]);
    assert_eq!(h.take_out().matches("HTTP/1.1 200 OK").count(), 3);
    assert!(h.input.is_empty());
}

#[test]
fn a_late_answer_to_an_answered_request_is_stale_and_never_reaches_the_next() {
    let mut h = Harness::new();
    let (first, _) = h.request(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
    h.respond(first, &ok("1"));
    let (second, _) = h.request(b"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
    h.take_out();
    let late = h.session.respond(first, &ok("late"), &mut h.out, h.now);
    assert_eq!(late, Err(ExchangeError::Stale));
    assert_eq!(h.session.park(first, h.now), Err(ExchangeError::Stale));
    assert!(h.out.is_empty(), "nothing was written for the stale answer");
    h.respond(second, &ok("2"));
    assert!(h.take_out().ends_with("\r\n\r\n2"));
}

#[test]
fn connection_close_from_either_side_closes_after_the_answer() {
    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    h.respond(ex, &ok("bye"));
    assert!(h.take_out().contains("\r\nConnection: close\r\n"));
    assert!(h.session.is_closed());

    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    h.respond(ex, &ok("bye").header("Connection", "close"));
    let out = h.take_out();
    assert_eq!(out.matches("Connection").count(), 1, "said once: {out}");
    assert!(h.session.is_closed());
}

#[test]
fn http10_closes_unless_it_asks_for_keep_alive_which_the_answer_then_confirms() {
    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET / HTTP/1.0\r\n\r\n");
    h.respond(ex, &ok("x"));
    assert!(h.take_out().contains("Connection: close\r\n"));
    assert!(h.session.is_closed());

    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    h.respond(ex, &ok("x"));
    assert!(h.take_out().contains("Connection: keep-alive\r\n"));
    assert!(h.session.is_idle());
}

#[test]
fn head_gets_the_get_fields_with_content_length_and_no_body() {
    let mut h = Harness::new();
    let (ex, request) = h.request(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(request.method(), "HEAD");
    h.respond(ex, &ok("hello"));
    let out = h.take_out();
    assert!(out.contains("Content-Length: 5\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n"), "no body: {out:?}");
}

#[test]
fn an_interim_status_is_not_an_answer() {
    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let interim = Response::new(StatusCode::CONTINUE);
    assert_eq!(
        h.session.respond(ex, &interim, &mut h.out, h.now),
        Err(ExchangeError::NotFinal)
    );
    h.respond(ex, &ok("x"));
}

#[test]
fn absolute_form_targets_are_accepted_and_route_by_their_path() {
    let mut h = Harness::new();
    let (_, request) =
        h.request(b"GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(request.path(), "/healthz");
}

#[test]
fn an_invalid_host_is_400_and_closes() {
    let mut h = Harness::new();
    assert!(h.send(b"GET / HTTP/1.1\r\nHost: a b, c\r\n\r\n").is_empty());
    let out = h.take_out();
    assert_eq!(status_of(&out), 400, "{out}");
    assert!(out.contains("Connection: close"));
    assert!(h.session.is_closed());
}

#[test]
fn malformed_heads_get_their_status_and_close() {
    let cases: &[(&[u8], u16)] = &[
        (b"GET / HTTP/1.1\r\n\r\n", 400),                          // no Host
        (b"G@T / HTTP/1.1\r\n", 400),                              // bad method
        (b"GET / HTTP/2.0\r\n", 505),                              // unsupported version
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400), // obs-fold
    ];
    for &(input, status) in cases {
        let mut h = Harness::new();
        assert!(h.send(input).is_empty());
        assert_eq!(
            status_of(&h.take_out()),
            status,
            "{:?}",
            input.escape_ascii().to_string()
        );
        assert!(h.session.is_closed());
        // Whatever follows is never read as a request.
        assert!(h.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").is_empty());
        assert!(h.out.is_empty());
    }
}

#[test]
fn limits_give_414_and_431() {
    let mut config = SessionConfig::default();
    config.head.max_target_len = 16;
    config.head.max_head_bytes = 256;
    config.head.max_headers = 2;
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (
            format!("GET /{} HTTP/1.1\r\n", "a".repeat(16)).into_bytes(),
            414,
        ),
        (
            format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(300)).into_bytes(),
            431,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n".to_vec(),
            431,
        ),
    ];
    for (input, status) in cases {
        let mut h = Harness::with(config.clone());
        h.send(&input);
        assert_eq!(status_of(&h.take_out()), status);
        assert!(h.session.is_closed());
    }
}

// ===== bodies =====

#[test]
fn a_content_length_body_split_anywhere_is_delivered_with_its_request() {
    let mut h = Harness::new();
    assert!(
        h.send(b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello")
            .is_empty()
    );
    let (_, request) = h.request(b" world");
    assert_eq!(request.body(), b"hello world");
}

#[test]
fn a_chunked_body_with_extensions_and_trailers_is_decoded() {
    let mut h = Harness::new();
    let (_, request) = h.request(
        b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
    );
    assert_eq!(request.body(), b"hello world");
}

#[test]
fn expect_100_continue_is_answered_before_the_body_and_only_for_an_acceptable_head() {
    let mut h = Harness::new();
    let head = b"POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    assert!(h.send(head).is_empty());
    assert_eq!(h.take_out(), "HTTP/1.1 100 Continue\r\n\r\n");
    let (_, request) = h.request(b"ok");
    assert_eq!(request.body(), b"ok");

    let mut h = Harness::with(SessionConfig {
        max_body_bytes: 1,
        ..SessionConfig::default()
    });
    h.send(head);
    let out = h.take_out();
    assert_eq!(
        status_of(&out),
        413,
        "refused before the client sends the body: {out}"
    );
    assert!(!out.contains("100 Continue"));
}

#[test]
fn framing_errors_are_answered_and_nothing_after_them_is_a_request() {
    let cases: &[(&[u8], u16)] = &[
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n", 413),
    ];
    for &(input, status) in cases {
        let mut h = Harness::new();
        let mut stream = input.to_vec();
        stream.extend_from_slice(b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n");
        assert!(
            h.send(&stream).is_empty(),
            "{:?}",
            input.escape_ascii().to_string()
        );
        assert_eq!(status_of(&h.take_out()), status);
        assert!(h.session.is_closed());
    }
}

#[test]
fn a_truncated_body_then_eof_is_no_request() {
    let mut h = Harness::new();
    assert!(
        h.send(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab")
            .is_empty()
    );
    assert!(h.session.handle_eof().is_none());
    assert!(h.session.is_closed());
}

// ===== upgrades =====

#[test]
fn a_valid_upgrade_is_handed_out_and_accepting_it_writes_the_101() {
    let mut h = Harness::new();
    let mut events =
        h.send(upgrade_request("Sec-WebSocket-Protocol: chat, superchat\r\n").as_bytes());
    let Some(Event::Upgrade { exchange, upgrade }) = events.pop() else {
        panic!("expected an upgrade");
    };
    assert_eq!(upgrade.request().head().path(), "/chat");
    assert_eq!(upgrade.request().key, KEY);
    h.session
        .accept_upgrade(exchange, &upgrade, Some("superchat"), &mut h.out)
        .unwrap();
    let out = h.take_out();
    assert!(
        out.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{out}"
    );
    assert!(out.contains(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n")));
    assert!(out.contains("Sec-WebSocket-Protocol: superchat\r\n"));
    assert!(h.session.is_upgraded());
    // The bytes after the handshake are not the session's.
    assert_eq!(h.session.handle_input(b"\x81\x85", &mut h.out, h.now).0, 0);
}

#[test]
fn a_subprotocol_the_client_did_not_offer_is_not_selected() {
    let mut h = Harness::new();
    let mut events = h.send(upgrade_request("Sec-WebSocket-Protocol: chat\r\n").as_bytes());
    let Some(Event::Upgrade { exchange, upgrade }) = events.pop() else {
        panic!()
    };
    h.session
        .accept_upgrade(exchange, &upgrade, Some("Chat"), &mut h.out)
        .unwrap();
    assert!(!h.take_out().contains("Sec-WebSocket-Protocol"));
}

#[test]
fn upgrade_with_zero_length_in_any_spelling_is_an_upgrade_and_with_a_body_is_400() {
    // RFC 9112 §6.3: `Content-Length: 0`, `00` and `000` all say "no body", exactly like
    // no Content-Length at all, so all four get the same answer.
    for extra in [
        "",
        "Content-Length: 0\r\n",
        "Content-Length: 00\r\n",
        "Content-Length: 000\r\n",
    ] {
        let mut h = Harness::new();
        let events = h.send(upgrade_request(extra).as_bytes());
        assert!(
            matches!(events.as_slice(), [Event::Upgrade { .. }]),
            "{extra:?}: {events:?} {}",
            h.take_out()
        );
    }
    for extra in ["Content-Length: 1\r\n", "Transfer-Encoding: chunked\r\n"] {
        let mut h = Harness::new();
        assert!(h.send(upgrade_request(extra).as_bytes()).is_empty());
        let out = h.take_out();
        assert_eq!(status_of(&out), 400, "{extra:?}: {out}");
        assert!(out.contains("has no body"));
    }
}

#[test]
fn bad_handshakes_get_their_status() {
    let cases: &[(&str, u16)] = &[
        (
            "POST /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            400,
        ),
        (
            "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n",
            400,
        ),
        (
            "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            426,
        ),
    ];
    for &(input, status) in cases {
        let mut h = Harness::new();
        assert!(h.send(input.as_bytes()).is_empty());
        let out = h.take_out();
        assert_eq!(status_of(&out), status, "{out}");
        if status == 426 {
            assert!(out.contains("Sec-WebSocket-Version: 13\r\n"));
        }
        assert!(h.session.is_closed());
    }
}

fn allowing(origins: &[&str]) -> SessionConfig {
    SessionConfig {
        allowed_origins: AllowedOrigins::List(origins.iter().map(|o| o.to_string()).collect()),
        ..SessionConfig::default()
    }
}

fn post_from(origin: &str) -> String {
    format!("POST /channels/a HTTP/1.1\r\nHost: h\r\n{origin}Content-Length: 2\r\n\r\nhi")
}

#[test]
fn an_upgrade_from_another_site_is_403_unless_allowed() {
    let mut h = Harness::new();
    assert!(
        h.send(upgrade_request("Origin: https://evil.example\r\n").as_bytes())
            .is_empty()
    );
    assert_eq!(status_of(&h.take_out()), 403);
    assert!(h.session.is_closed());
    let mut h = Harness::with(allowing(&["https://ok.example"]));
    assert!(
        h.send(upgrade_request("Origin: https://evil.example\r\n").as_bytes())
            .is_empty()
    );
    assert_eq!(status_of(&h.take_out()), 403);
    let mut h = Harness::with(allowing(&["https://ok.example"]));
    let events = h.send(upgrade_request("Origin: https://OK.example\r\n").as_bytes());
    assert!(matches!(events[..], [Event::Upgrade { .. }]), "{events:?}");
}

#[test]
fn the_servers_own_pages_and_programs_without_origin_may_upgrade_and_post() {
    for extra in ["Origin: http://h\r\n", "Origin: http://H:80\r\n", ""] {
        let mut h = Harness::new();
        let events = h.send(upgrade_request(extra).as_bytes());
        assert!(matches!(events[..], [Event::Upgrade { .. }]), "{extra}");
        let mut h = Harness::new();
        let (_, request) = h.request(post_from(extra).as_bytes());
        assert_eq!(request.body(), b"hi");
    }
}

#[test]
fn a_post_from_another_site_is_403_whatever_its_content_type_and_never_dispatched() {
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json",
    ] {
        let mut h = Harness::new();
        let request = format!(
            "POST /channels/a HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example\r\n\
             Content-Type: {content_type}\r\nContent-Length: 2\r\n\r\nhi"
        );
        assert!(h.send(request.as_bytes()).is_empty());
        let out = h.take_out();
        assert_eq!(status_of(&out), 403, "{out}");
        assert!(out.contains("origin not allowed"));
        assert!(!out.contains("Access-Control"), "{out}");
        assert!(h.session.is_closed());
    }
}

#[test]
fn a_get_from_another_site_is_answered_without_cors_fields() {
    let mut h = Harness::new();
    let (exchange, _) =
        h.request(b"GET /channels/a HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example\r\n\r\n");
    h.respond(exchange, &Response::text(StatusCode::OK, "x"));
    let out = h.take_out();
    assert_eq!(status_of(&out), 200);
    assert!(!out.contains("Access-Control"), "{out}");
}

#[test]
fn an_allowed_sites_answers_carry_its_origin_vary_and_the_exposed_fields() {
    let mut h = Harness::with(allowing(&["https://ok.example"]));
    let (exchange, _) = h.request(post_from("Origin: https://ok.example\r\n").as_bytes());
    h.respond(exchange, &Response::text(StatusCode::CREATED, "{}"));
    let out = h.take_out();
    assert_eq!(status_of(&out), 201);
    assert!(
        out.contains("\r\nAccess-Control-Allow-Origin: https://ok.example\r\n"),
        "{out}"
    );
    assert!(out.contains("\r\nVary: Origin\r\n"), "{out}");
    assert!(out.contains("\r\nAccess-Control-Expose-Headers: WWW-Authenticate, Retry-After\r\n"));
    // The next request on the connection, without Origin, gets none of it.
    let (exchange, _) = h.request(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    h.respond(exchange, &Response::text(StatusCode::OK, "x"));
    assert!(!h.take_out().contains("Access-Control"));
}

#[test]
fn a_shared_encoding_is_not_used_for_an_answer_that_needs_cors_fields() {
    let mut h = Harness::with(allowing(&["https://ok.example"]));
    let (exchange, _) =
        h.request(b"GET /channels/a HTTP/1.1\r\nHost: h\r\nOrigin: https://ok.example\r\n\r\n");
    let response = Response::text(StatusCode::OK, "news");
    let mut encoded = Vec::new();
    response.encode(&mut encoded, false);
    h.session
        .respond_encoded(exchange, &response, &encoded, &mut h.out, h.now)
        .unwrap();
    let out = h.take_out();
    assert!(
        out.contains("Access-Control-Allow-Origin: https://ok.example"),
        "{out}"
    );
    assert!(out.ends_with("\r\n\r\nnews"));
}

#[test]
fn a_preflight_from_an_allowed_site_is_answered_by_the_session_and_keeps_the_connection() {
    let mut h = Harness::with(allowing(&["https://ok.example"]));
    let preflight = "OPTIONS /channels/a HTTP/1.1\r\nHost: h\r\nOrigin: https://ok.example\r\n\
        Access-Control-Request-Method: POST\r\n\
        Access-Control-Request-Headers: authorization\r\n\r\n";
    assert!(h.send(preflight.as_bytes()).is_empty());
    let out = h.take_out();
    assert_eq!(
        out,
        "HTTP/1.1 204 No Content\r\n\
         Access-Control-Allow-Origin: https://ok.example\r\n\
         Access-Control-Allow-Methods: GET, HEAD, POST\r\n\
         Access-Control-Allow-Headers: Authorization, Content-Type, Last-Event-ID\r\n\
         Vary: Origin\r\n\
         Access-Control-Max-Age: 600\r\n\r\n"
    );
    assert!(h.session.is_idle());
    // The request it asked about follows on the same connection.
    let (_, request) = h.request(post_from("Origin: https://ok.example\r\n").as_bytes());
    assert_eq!(request.method(), "POST");
}

#[test]
fn a_preflight_from_another_site_is_403_and_a_plain_options_goes_to_the_application() {
    let mut h = Harness::new();
    let preflight = "OPTIONS /channels/a HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example\r\n\
        Access-Control-Request-Method: POST\r\n\r\n";
    assert!(h.send(preflight.as_bytes()).is_empty());
    let out = h.take_out();
    assert_eq!(status_of(&out), 403);
    assert!(!out.contains("Access-Control"), "{out}");
    assert!(h.session.is_idle(), "no body, so the connection stays");
    let (_, request) = h.request(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(request.method(), "OPTIONS");
}

#[test]
fn any_origin_allows_every_site_and_the_opaque_null() {
    let config = SessionConfig {
        allowed_origins: AllowedOrigins::Any,
        ..SessionConfig::default()
    };
    for origin in ["https://anyone.example", "null"] {
        let mut h = Harness::with(config.clone());
        let (exchange, _) = h.request(post_from(&format!("Origin: {origin}\r\n")).as_bytes());
        h.respond(exchange, &Response::text(StatusCode::CREATED, "{}"));
        let out = h.take_out();
        assert!(
            out.contains(&format!("Access-Control-Allow-Origin: {origin}\r\n")),
            "{out}"
        );
    }
}

#[test]
fn a_rejected_upgrade_gets_the_applications_response_and_closes() {
    let mut h = Harness::new();
    let mut events = h.send(upgrade_request("").as_bytes());
    let Some(Event::Upgrade { exchange, .. }) = events.pop() else {
        panic!()
    };
    let no = Response::text(StatusCode::FORBIDDEN, "no");
    assert_eq!(
        h.session.respond(exchange, &no, &mut h.out, h.now),
        Err(ExchangeError::WrongState)
    );
    h.session.reject_upgrade(exchange, &no, &mut h.out).unwrap();
    let out = h.take_out();
    assert_eq!(status_of(&out), 403);
    assert!(out.contains("Connection: close\r\n"));
    assert!(h.session.is_closed());
}

// ===== deadlines =====

#[test]
fn an_idle_connection_is_closed_quietly_at_the_idle_deadline() {
    let mut h = Harness::new();
    let idle = h.session.config().idle_timeout;
    assert_eq!(h.session.poll_timeout(), Some(h.now + idle));
    assert!(h.advance(idle - Duration::from_millis(1)).is_none());
    assert!(!h.session.is_closed());
    assert!(h.advance(Duration::from_millis(1)).is_none());
    assert!(h.session.is_closed());
    assert!(h.out.is_empty(), "nothing was asked: nothing is answered");
}

#[test]
fn a_trickled_head_gets_408_at_the_request_deadline_however_steady_the_bytes() {
    let mut h = Harness::new();
    let limit = h.session.config().request_timeout;
    let head = b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for &b in head {
        assert!(h.send(&[b]).is_empty());
        if h.advance(Duration::from_millis(300)).is_some() || h.session.is_closed() {
            break;
        }
    }
    assert!(h.session.is_closed());
    assert_eq!(status_of(&h.take_out()), 408);
    assert!(
        h.elapsed() >= limit && h.elapsed() < limit + Duration::from_secs(1),
        "{:?}",
        h.elapsed()
    );
}

#[test]
fn a_body_that_does_not_arrive_in_time_is_408() {
    let mut h = Harness::new();
    h.send(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
    let limit = h.session.config().request_timeout;
    assert!(h.advance(limit).is_none());
    let out = h.take_out();
    assert_eq!(status_of(&out), 408);
    assert!(out.contains("body"), "{out}");
}

#[test]
fn after_an_answer_the_idle_deadline_starts_again() {
    let mut h = Harness::new();
    let idle = h.session.config().idle_timeout;
    h.advance(idle / 2);
    let (ex, _) = h.request(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(
        h.session.poll_timeout(),
        None,
        "a request with the application has no deadline"
    );
    h.advance(idle * 3);
    h.respond(ex, &ok("x"));
    assert_eq!(h.session.poll_timeout(), Some(h.now + idle));
}

// ===== parking, abandonment, streams =====

#[test]
fn a_parked_request_is_due_at_its_instant_and_may_be_parked_again() {
    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET /poll HTTP/1.1\r\nHost: h\r\n\r\n");
    let until = h.now + Duration::from_secs(30);
    h.session.park(ex, until).unwrap();
    assert_eq!(h.session.poll_timeout(), Some(until));
    assert!(h.advance(Duration::from_secs(29)).is_none());
    let due = h.advance(Duration::from_secs(1));
    assert!(matches!(due, Some(Event::ParkTimeout { exchange }) if exchange == ex));
    assert_eq!(h.session.poll_timeout(), None);
    h.session.park(ex, h.now + Duration::from_secs(5)).unwrap();
    assert!(matches!(
        h.advance(Duration::from_secs(5)),
        Some(Event::ParkTimeout { .. })
    ));
    h.respond(ex, &Response::new(StatusCode::NO_CONTENT));
    assert_eq!(h.take_out(), "HTTP/1.1 204 No Content\r\n\r\n");
}

#[test]
fn eof_while_a_request_is_with_the_application_abandons_it() {
    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET /poll HTTP/1.1\r\nHost: h\r\n\r\n");
    h.session.park(ex, h.now + Duration::from_secs(30)).unwrap();
    assert!(
        matches!(h.session.handle_eof(), Some(Event::Abandoned { exchange }) if exchange == ex)
    );
    assert!(h.session.is_closed());
    assert_eq!(
        h.session.respond(ex, &ok("late"), &mut h.out, h.now),
        Err(ExchangeError::Stale)
    );
}

#[test]
fn eof_between_requests_abandons_nothing() {
    let mut h = Harness::new();
    assert!(h.session.handle_eof().is_none());
    assert!(h.session.is_closed());
}

#[test]
fn pipelined_bytes_are_wanted_up_to_one_head_while_a_request_waits() {
    let mut h = Harness::new();
    h.request(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let max = h.session.config().head.max_head_bytes;
    assert!(h.session.wants_input(max - 1));
    assert!(!h.session.wants_input(max));
}

#[test]
fn one_encoding_answers_a_plain_keep_alive_get_and_others_get_their_own() {
    let response = Response::text(StatusCode::OK, "shared");
    let mut encoded = Vec::new();
    response.encode(&mut encoded, false);
    for (request, expect_shared) in [
        (&b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"[..], true),
        (b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            false,
        ),
    ] {
        let mut h = Harness::new();
        let (ex, _) = h.request(request);
        h.session
            .respond_encoded(ex, &response, &encoded, &mut h.out, h.now)
            .unwrap();
        assert_eq!(h.out == encoded, expect_shared, "{}", h.take_out());
    }
}

#[test]
fn a_streamed_answer_is_chunked_for_http11_and_keeps_the_connection() {
    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET /events HTTP/1.1\r\nHost: h\r\n\r\n");
    let head = Response::new(StatusCode::OK).header("Content-Type", "text/event-stream");
    h.session
        .start_stream(ex, &head, &mut h.out, h.now)
        .unwrap();
    assert_eq!(
        h.session.respond(ex, &ok("x"), &mut h.out, h.now),
        Err(ExchangeError::WrongState)
    );
    h.session
        .stream_chunk(ex, b"data: 1\n\n", &mut h.out)
        .unwrap();
    h.session.stream_chunk(ex, b"", &mut h.out).unwrap();
    h.session.stream_chunk(ex, &[b'x'; 26], &mut h.out).unwrap();
    h.session.end_stream(ex, &mut h.out, h.now).unwrap();
    let out = h.take_out();
    assert_eq!(
        out,
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
             9\r\ndata: 1\n\n\r\n1a\r\n{}\r\n0\r\n\r\n",
            "x".repeat(26)
        )
    );
    assert!(h.session.is_idle());
    assert_eq!(
        h.session.stream_chunk(ex, b"after", &mut h.out),
        Err(ExchangeError::Stale)
    );
}

#[test]
fn a_streamed_answer_to_http10_ends_with_the_connection() {
    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET /events HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    h.session
        .start_stream(ex, &Response::new(StatusCode::OK), &mut h.out, h.now)
        .unwrap();
    h.session.stream_chunk(ex, b"raw", &mut h.out).unwrap();
    h.session.end_stream(ex, &mut h.out, h.now).unwrap();
    assert_eq!(
        h.take_out(),
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nraw"
    );
    assert!(h.session.is_closed());
}

#[test]
fn a_streamed_answer_to_head_is_the_head_alone() {
    let mut h = Harness::new();
    let (ex, _) = h.request(b"HEAD /events HTTP/1.1\r\nHost: h\r\n\r\n");
    h.session
        .start_stream(ex, &Response::new(StatusCode::OK), &mut h.out, h.now)
        .unwrap();
    assert_eq!(
        h.take_out(),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    assert!(h.session.is_idle());
    assert_eq!(
        h.session.stream_chunk(ex, b"x", &mut h.out),
        Err(ExchangeError::Stale)
    );
}

#[test]
fn eof_during_a_stream_abandons_it() {
    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET /events HTTP/1.1\r\nHost: h\r\n\r\n");
    h.session
        .start_stream(ex, &Response::new(StatusCode::OK), &mut h.out, h.now)
        .unwrap();
    assert!(matches!(
        h.session.handle_eof(),
        Some(Event::Abandoned { .. })
    ));
}

#[test]
fn going_away_closes_idle_connections_and_the_others_after_their_answer() {
    let mut h = Harness::new();
    h.session.close_after_exchange(&mut h.out, h.now);
    assert!(h.session.is_closed());

    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET /poll HTTP/1.1\r\nHost: h\r\n\r\n");
    h.session.park(ex, h.now + Duration::from_secs(30)).unwrap();
    h.session.close_after_exchange(&mut h.out, h.now);
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.now),
        "the parked request is due now"
    );
    assert!(matches!(
        h.advance(Duration::ZERO),
        Some(Event::ParkTimeout { .. })
    ));
    h.respond(ex, &Response::new(StatusCode::NO_CONTENT));
    assert!(h.take_out().contains("Connection: close"));
    assert!(h.session.is_closed());

    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET /events HTTP/1.1\r\nHost: h\r\n\r\n");
    h.session
        .start_stream(ex, &Response::new(StatusCode::OK), &mut h.out, h.now)
        .unwrap();
    h.take_out();
    h.session.close_after_exchange(&mut h.out, h.now);
    assert_eq!(h.take_out(), "0\r\n\r\n", "the stream is ended properly");
    assert!(h.session.is_closed());
}

// ===== however the bytes are cut =====

/// Everything a session did with `stream` delivered in pieces ending at `cuts`, answering
/// every request at once: the event summaries and the output.
fn run_cut(stream: &[u8], cuts: &[usize]) -> (Vec<String>, Vec<u8>) {
    let mut h = Harness::new();
    let mut log = Vec::new();
    let mut fed = 0;
    for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
        let cut = cut.clamp(fed, stream.len());
        let mut events = h.send(&stream[fed..cut]);
        fed = cut;
        while let Some(event) = events.pop() {
            match event {
                Event::Request { exchange, request } => {
                    log.push(format!(
                        "request {exchange} {} {} {:?}",
                        request.method(),
                        request.path(),
                        request.body()
                    ));
                    h.respond(exchange, &ok("answer"));
                }
                Event::Upgrade { exchange, upgrade } => {
                    log.push(format!("upgrade {exchange}"));
                    h.session
                        .accept_upgrade(exchange, &upgrade, None, &mut h.out)
                        .unwrap();
                }
                other => log.push(format!("{other:?}")),
            }
            events.extend(h.pump());
        }
    }
    log.push(format!(
        "closed={} upgraded={}",
        h.session.is_closed(),
        h.session.is_upgraded()
    ));
    (log, h.out)
}

#[test]
fn events_and_output_do_not_depend_on_how_the_stream_is_cut() {
    let streams: [&[u8]; 3] = [
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz\
          POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n\
          HEAD /d HTTP/1.1\r\nHost: h\r\n\r\nGET /e HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n\x81\x80abcd",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab\r\n",
    ];
    for stream in streams {
        let whole = run_cut(stream, &[]);
        let bytewise: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(run_cut(stream, &bytewise), whole, "byte at a time");
        let mut rng = crate::test_rng::XorShift(7);
        for _ in 0..20 {
            let mut cuts: Vec<usize> = (0..4).map(|_| rng.below(stream.len())).collect();
            cuts.sort_unstable();
            assert_eq!(run_cut(stream, &cuts), whole, "cuts {cuts:?}");
        }
    }
}

#[test]
fn session_state_stays_small() {
    // A connection between requests holds this (and its boxed parser); it is replaced by
    // the WebSocket state after an upgrade.
    assert!(
        std::mem::size_of::<Session>() <= 64,
        "Session is {} bytes",
        std::mem::size_of::<Session>()
    );
}

// ===== response framing the RFCs forbid =====

#[test]
fn a_streamed_answer_with_status_204_has_no_transfer_encoding() {
    // RFC 9112 §6.1: "A server MUST NOT send a Transfer-Encoding header field in any
    // response with a status code of 1xx (Informational) or 204 (No Content)."
    let mut h = Harness::new();
    let (ex, _) = h.request(b"GET /events HTTP/1.1\r\nHost: h\r\n\r\n");
    h.session
        .start_stream(
            ex,
            &Response::new(StatusCode::NO_CONTENT),
            &mut h.out,
            h.now,
        )
        .unwrap();
    assert_eq!(h.take_out(), "HTTP/1.1 204 No Content\r\n\r\n");
    assert!(h.session.is_idle());
}

#[test]
fn a_2xx_answer_to_connect_has_no_framing_fields() {
    // RFC 9112 §6.1: "A server MUST NOT send a Transfer-Encoding header field in any 2xx
    // (Successful) response to a CONNECT request"; RFC 9110 §8.6: the same for
    // Content-Length. The connection would be a tunnel after the head.
    let connect = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    let mut h = Harness::new();
    let (ex, request) = h.request(connect);
    assert_eq!(request.method(), "CONNECT");
    h.respond(ex, &Response::new(StatusCode::OK));
    let out = h.take_out();
    assert!(!out.contains("Content-Length"), "{out}");

    let mut h = Harness::new();
    let (ex, _) = h.request(connect);
    h.session
        .start_stream(ex, &Response::new(StatusCode::OK), &mut h.out, h.now)
        .unwrap();
    let out = h.take_out();
    assert!(!out.contains("Transfer-Encoding"), "{out}");
}
