//! HTTP/1.1 on the server, in memory on a virtual clock: keep-alive and pipelining
//! (responses strictly in request order), `Connection` for 1.0 and 1.1, HEAD, request
//! bodies (Content-Length, chunked, 100-continue), the refusals that stop request
//! smuggling, the limits (413, 414, 431, 505, 400), the request and idle deadlines (408 or
//! a quiet close), `max_connections`, half-closed clients, the request target and `Host`,
//! streamed responses, and the answers the server refuses (late ones, 1xx).

mod support;

use std::sync::Arc;
use std::time::Duration;

use pushwire::http::Request;
use pushwire::pair::ServerPair;
use pushwire::{
    Config, ConnId, Context, Handler, RequestId, Response, SendError, StatusCode, UsageError,
};
use support::*;

/// A tiny site:
///
/// - `GET|HEAD /healthz` → `ok`; other methods → 405 with `Allow: GET, HEAD`
/// - `POST /echo` → the request body; other methods → 405 with `Allow: POST`
/// - `GET|HEAD /page...` → `page {target}\n`
/// - `GET /host` → the authority the request names (its `Host`, or an absolute-form
///   target's)
/// - `GET /bye` → `bye`, with `Connection: close` (the server's side ends the connection)
/// - anything else → 404
struct Site;

impl Handler for Site {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, mut request: Request) {
        let method = request.method().to_string();
        let path = request.path().to_string();
        let readable = matches!(method.as_str(), "GET" | "HEAD");
        let response = match path.as_str() {
            "/healthz" if readable => Response::text(StatusCode::OK, "ok"),
            "/healthz" => Response::error(StatusCode::METHOD_NOT_ALLOWED, "use GET")
                .header("Allow", "GET, HEAD"),
            "/echo" if method == "POST" => Response::text(StatusCode::OK, request.take_body()),
            "/echo" => {
                Response::error(StatusCode::METHOD_NOT_ALLOWED, "use POST").header("Allow", "POST")
            }
            p if p.starts_with("/page") && readable => {
                Response::text(StatusCode::OK, format!("page {}\n", request.target()))
            }
            "/host" if readable => Response::text(
                StatusCode::OK,
                request.authority().unwrap_or("(none)").to_string(),
            ),
            "/bye" if readable => {
                Response::text(StatusCode::OK, "bye").header("Connection", "close")
            }
            _ => Response::error(StatusCode::NOT_FOUND, "no such resource"),
        };
        ctx.respond(id, response)
            .expect("respond to a waiting request");
    }
}

type Pair<H> = ServerPair<Recording<H>>;

fn site() -> (Pair<Site>, Events) {
    memory_server(config(), Site)
}

fn site_with(configure: impl FnOnce(&mut Config)) -> (Pair<Site>, Events) {
    let mut c = config();
    configure(&mut c);
    memory_server(c, Site)
}

/// Deadlines told apart: a request must arrive within 5 s of its first byte, a connection
/// may sit 3 s without one.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const IDLE_TIMEOUT: Duration = Duration::from_secs(3);
const MS: Duration = Duration::from_millis(1);

fn timed_site() -> (Pair<Site>, Events) {
    site_with(|c| {
        c.request_timeout = REQUEST_TIMEOUT;
        c.idle_timeout = IDLE_TIMEOUT;
    })
}

/// Connects, sends `bytes`, and reads the response.
fn exchange<H: Handler>(pair: &mut ServerPair<H>, bytes: &[u8]) -> (Client, HttpResponse) {
    let mut client = Client::connect(pair);
    client.send(pair, bytes);
    let response = client.response(pair);
    (client, response)
}

/// An error answer as the README promises it: the status, a body a person can read that
/// starts with the status code, `Connection: close`, and a `Content-Length` that is exactly
/// the body (any byte past it would show up here) — and then the server closes.
fn assert_error_then_close<H: Handler>(
    pair: &mut ServerPair<H>,
    client: &mut Client,
    response: &HttpResponse,
    status: u16,
) {
    assert_eq!(response.status, status, "{response:?}");
    let body = std::str::from_utf8(&response.body).expect("error body is UTF-8");
    assert!(
        body.starts_with(&status.to_string()),
        "error body should start with the status: {body:?}"
    );
    assert!(
        body.trim().len() > 4,
        "error body should explain itself: {body:?}"
    );
    assert_eq!(response.content_length(), Some(response.body.len()));
    assert_eq!(response.header_count("Content-Length"), 1, "{response:?}");
    assert!(
        response
            .header("Content-Type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{response:?}"
    );
    assert_eq!(response.header("Connection"), Some("close"), "{response:?}");
    client.nothing(pair);
    assert!(
        client.server_finished(pair),
        "the server closes after an error"
    );
}

fn assert_ok_body(response: &HttpResponse, body: &str) {
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(String::from_utf8_lossy(&response.body), body);
    assert_eq!(response.content_length(), Some(body.len()));
}

/// The requests the handler saw, in order: their ids and targets.
fn requests(events: &Events) -> Vec<(RequestId, String)> {
    events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            Event::Request { id, target, .. } => Some((id, target)),
            _ => None,
        })
        .collect()
}

fn assert_no_request(events: &Events) {
    events.assert_none("request reaching the handler", |e| {
        matches!(e, Event::Request { .. })
    });
}

/// A response with a chunked body at the start of `raw`: its head, the decoded body, and
/// whatever followed the last chunk.
fn split_chunked(raw: &[u8]) -> (HttpResponse, Vec<u8>, Vec<u8>) {
    let (head, mut pos) = parse_response_head(raw).expect("a complete response head");
    let mut body = Vec::new();
    loop {
        let line = raw[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("no chunk size line in {:?}", String::from_utf8_lossy(raw)));
        let size = std::str::from_utf8(&raw[pos..pos + line]).unwrap();
        let size = usize::from_str_radix(size, 16).expect("a hexadecimal chunk size");
        pos += line + 2;
        if size == 0 {
            assert_eq!(&raw[pos..pos + 2], b"\r\n", "no trailers, then the end");
            return (head, body, raw[pos + 2..].to_vec());
        }
        body.extend_from_slice(&raw[pos..pos + size]);
        assert_eq!(
            &raw[pos + size..pos + size + 2],
            b"\r\n",
            "chunk ends in CRLF"
        );
        pos += size + 2;
    }
}

// ===== keep-alive, pipelining, Connection =====

#[test]
fn keep_alive_connection_serves_several_requests_in_turn() {
    let (mut pair, events) = site();
    let mut client = Client::connect(&mut pair);
    for i in 0..3 {
        let page = client.get(&mut pair, &format!("/page/{i}"));
        assert_ok_body(&page, &format!("page /page/{i}\n"));
        assert_eq!(
            page.header("Connection"),
            None,
            "HTTP/1.1 persists silently"
        );
        let echo = client.post(&mut pair, "/echo", format!("body {i}").as_bytes());
        assert_ok_body(&echo, &format!("body {i}"));
        assert_ok_body(&client.get(&mut pair, "/healthz"), "ok");
    }
    client.nothing(&mut pair);
    assert!(!client.server_finished(&pair), "the connection stays open");
    // One connection, one `ConnId`; each request its own number on it.
    let ids: Vec<RequestId> = requests(&events).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 9);
    assert!(ids.iter().all(|id| id.conn() == ids[0].conn()), "{ids:?}");
    let numbers: Vec<u32> = ids.iter().map(|id| id.exchange()).collect();
    assert_eq!(numbers, (0..9).collect::<Vec<u32>>());
}

#[test]
fn pipelined_requests_in_one_write_are_answered_strictly_in_order() {
    let (mut pair, events) = site();
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\npipelined body\
          GET /page/3 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_ok_body(&client.response(&mut pair), "ok");
    assert_ok_body(&client.response(&mut pair), "pipelined body");
    assert_ok_body(&client.response(&mut pair), "page /page/3\n");
    client.nothing(&mut pair);
    assert!(!client.server_finished(&pair));
    let targets: Vec<String> = requests(&events).into_iter().map(|(_, t)| t).collect();
    assert_eq!(targets, ["/healthz", "/echo", "/page/3"]);
}

#[test]
fn many_pipelined_requests_get_as_many_responses_in_order() {
    let (mut pair, _events) = site();
    let mut client = Client::connect(&mut pair);
    let mut wire = Vec::new();
    for i in 0..40 {
        if i % 2 == 0 {
            wire.extend_from_slice(format!("GET /page/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        } else {
            let body = format!("n{i}");
            wire.extend_from_slice(
                format!(
                    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    }
    client.send(&mut pair, &wire);
    for i in 0..40 {
        let expected = if i % 2 == 0 {
            format!("page /page/{i}\n")
        } else {
            format!("n{i}")
        };
        assert_ok_body(&client.response(&mut pair), &expected);
    }
    client.nothing(&mut pair);
}

#[test]
fn connection_close_from_the_client_gets_its_response_then_the_server_closes() {
    let (mut pair, events) = site();
    let mut client = Client::connect(&mut pair);
    // The second request follows `Connection: close`: it must not be served.
    client.send(
        &mut pair,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n\
          GET /page/after HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let response = client.response(&mut pair);
    assert_ok_body(&response, "ok");
    assert_eq!(response.header("Connection"), Some("close"));
    client.nothing(&mut pair);
    assert!(client.server_finished(&pair));
    let targets: Vec<String> = requests(&events).into_iter().map(|(_, t)| t).collect();
    assert_eq!(targets, ["/healthz"]);
}

#[test]
fn connection_close_from_the_handler_ends_the_connection_after_its_response() {
    let (mut pair, events) = site();
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"GET /bye HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /page/after HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let response = client.response(&mut pair);
    assert_ok_body(&response, "bye");
    assert_eq!(response.header("Connection"), Some("close"));
    assert_eq!(response.header_count("Connection"), 1, "said once");
    client.nothing(&mut pair);
    assert!(client.server_finished(&pair));
    let targets: Vec<String> = requests(&events).into_iter().map(|(_, t)| t).collect();
    assert_eq!(targets, ["/bye"]);
}

#[test]
fn http10_request_without_keep_alive_is_closed_after_the_response() {
    let (mut pair, _events) = site();
    let (mut client, response) = exchange(&mut pair, b"GET /page/old HTTP/1.0\r\n\r\n");
    assert_ok_body(&response, "page /page/old\n");
    assert_eq!(response.header("Connection"), Some("close"));
    client.nothing(&mut pair);
    assert!(client.server_finished(&pair));
}

#[test]
fn http10_keep_alive_is_announced_and_the_connection_stays_open() {
    let (mut pair, _events) = site();
    let mut client = Client::connect(&mut pair);
    for i in 0..3 {
        client.send(
            &mut pair,
            format!("GET /page/{i} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").as_bytes(),
        );
        let response = client.response(&mut pair);
        assert_ok_body(&response, &format!("page /page/{i}\n"));
        assert_eq!(response.header("Connection"), Some("keep-alive"));
    }
    client.nothing(&mut pair);
    assert!(!client.server_finished(&pair));
    // Without the token the next HTTP/1.0 request ends the connection.
    client.send(&mut pair, b"GET /healthz HTTP/1.0\r\n\r\n");
    assert_ok_body(&client.response(&mut pair), "ok");
    client.nothing(&mut pair);
    assert!(client.server_finished(&pair));
}

#[test]
fn head_gets_the_get_headers_with_content_length_but_no_body() {
    let (mut pair, _events) = site();
    let mut client = Client::connect(&mut pair);
    // A GET right behind the HEAD: if a body followed the HEAD's head, the next response
    // would not start where expected.
    client.send(
        &mut pair,
        b"HEAD /page/head HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let head = client.head_response(&mut pair);
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some("page /page/head\n".len()));
    assert!(
        head.header("Content-Type")
            .is_some_and(|t| t.starts_with("text/plain"))
    );
    let next = client.response(&mut pair);
    assert!(next.status_line.starts_with("HTTP/1.1 200"), "{next:?}");
    assert_ok_body(&next, "ok");
    client.nothing(&mut pair);
}

// ===== request bodies =====

#[test]
fn content_length_body_split_anywhere_reaches_the_handler_whole() {
    let wire = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world";
    for cut in 1..wire.len() {
        let (mut pair, events) = site();
        let mut client = Client::connect(&mut pair);
        client.send(&mut pair, &wire[..cut]);
        client.nothing(&mut pair);
        assert_no_request(&events);
        client.send(&mut pair, &wire[cut..]);
        assert_ok_body(&client.response(&mut pair), "hello world");
        assert_ok_body(&client.get(&mut pair, "/healthz"), "ok");
    }
    // And a byte at a time.
    let (mut pair, _events) = site();
    let mut client = Client::connect(&mut pair);
    for b in wire {
        client.send(&mut pair, &[*b]);
    }
    assert_ok_body(&client.response(&mut pair), "hello world");
}

#[test]
fn identical_repeated_content_length_is_accepted() {
    for lengths in [
        "Content-Length: 5, 5\r\n",
        "Content-Length: 5\r\nContent-Length: 5\r\n",
    ] {
        let (mut pair, _events) = site();
        let (_client, response) = exchange(
            &mut pair,
            format!("POST /echo HTTP/1.1\r\nHost: x\r\n{lengths}\r\nfives").as_bytes(),
        );
        assert_ok_body(&response, "fives");
    }
}

const CHUNKED_REQUEST: &[u8] =
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
    5;ext=1\r\nhello\r\n\
    2 ; name=\"quoted; value\"\r\n, \r\n\
    5;flag;k=v\r\nworld\r\n\
    0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n\
    GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn chunked_body_with_extensions_and_trailers_is_decoded() {
    let (mut pair, _events) = site();
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, CHUNKED_REQUEST);
    assert_ok_body(&client.response(&mut pair), "hello, world");
    // The request pipelined after the trailers proves the body ended where it should.
    assert_ok_body(&client.response(&mut pair), "ok");
    client.nothing(&mut pair);
}

#[test]
fn chunked_body_trickled_a_few_bytes_at_a_time_is_decoded() {
    for piece in [7, 1] {
        let (mut pair, _events) = site();
        let mut client = Client::connect(&mut pair);
        for bytes in CHUNKED_REQUEST.chunks(piece) {
            client.send(&mut pair, bytes);
        }
        assert_ok_body(&client.response(&mut pair), "hello, world");
        assert_ok_body(&client.response(&mut pair), "ok");
        client.nothing(&mut pair);
    }
}

#[test]
fn expect_100_continue_gets_100_before_the_body_is_sent() {
    let (mut pair, events) = site();
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n",
    );
    // The client sends nothing more until it sees the interim response.
    let interim = client.response(&mut pair);
    assert_eq!(interim.status_line, "HTTP/1.1 100 Continue");
    assert!(interim.headers.is_empty() && interim.body.is_empty());
    client.nothing(&mut pair);
    assert_no_request(&events);
    client.send(&mut pair, b"continued");
    assert_ok_body(&client.response(&mut pair), "continued");
    assert_ok_body(&client.get(&mut pair, "/healthz"), "ok");
}

#[test]
fn expect_100_continue_with_chunked_body_gets_100_too() {
    let (mut pair, _events) = site();
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
          Expect: 100-continue\r\n\r\n",
    );
    assert_eq!(client.response(&mut pair).status, 100);
    client.nothing(&mut pair);
    client.send(&mut pair, b"3\r\nabc\r\n0\r\n\r\n");
    assert_ok_body(&client.response(&mut pair), "abc");
}

#[test]
fn truncated_body_then_fin_closes_without_a_request() {
    let (mut pair, events) = site();
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345",
    );
    client.finish(&mut pair);
    client.nothing(&mut pair);
    assert!(client.is_closed(&pair));
    // Not later either: no 408 for a request that can no longer complete.
    pair.advance(REQUEST_TIMEOUT * 3);
    client.nothing(&mut pair);
    assert_no_request(&events);
}

// ===== framing errors: no smuggling =====

#[test]
fn content_length_with_transfer_encoding_is_400_and_the_body_is_never_a_request() {
    let (mut pair, events) = site();
    let mut client = Client::connect(&mut pair);
    // A server that let Content-Length win would serve /smuggled as a second request;
    // one that let Transfer-Encoding win would see it after the last chunk.
    let smuggled = "GET /page/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let body = format!("0\r\n\r\n{smuggled}");
    client.send(
        &mut pair,
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\
             Transfer-Encoding: chunked\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let response = client.response(&mut pair);
    assert_error_then_close(&mut pair, &mut client, &response, 400);
    assert_no_request(&events);
}

#[test]
fn bad_chunk_size_is_400_and_what_follows_is_not_served() {
    for size_line in ["zz", "-5", "0x5", " 5", "+5", "5 5", ""] {
        let (mut pair, events) = site();
        let mut client = Client::connect(&mut pair);
        client.send(
            &mut pair,
            format!(
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                 {size_line}\r\nhello\r\n0\r\n\r\nGET /page/next HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            .as_bytes(),
        );
        let response = client.response(&mut pair);
        assert_error_then_close(&mut pair, &mut client, &response, 400);
        assert_no_request(&events);
    }
}

#[test]
fn differing_content_lengths_are_400() {
    let (mut pair, events) = site();
    for heads in [
        "Content-Length: 5, 6\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: -5\r\n",
        "Content-Length: 5x\r\n",
    ] {
        let (mut client, response) = exchange(
            &mut pair,
            format!("POST /echo HTTP/1.1\r\nHost: x\r\n{heads}\r\nhello!").as_bytes(),
        );
        assert_error_then_close(&mut pair, &mut client, &response, 400);
    }
    assert_no_request(&events);
}

// ===== body limits =====

#[test]
fn content_length_over_the_limit_is_413_before_the_body_is_sent() {
    for expect in ["", "Expect: 100-continue\r\n"] {
        let (mut pair, events) = site_with(|c| c.max_body_bytes = 1024);
        let mut client = Client::connect(&mut pair);
        // Only the head: the answer does not wait for 100 kB that never come (and a client
        // that asked to be told first is not told to send them).
        client.send(
            &mut pair,
            format!("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n{expect}\r\n")
                .as_bytes(),
        );
        let response = client.response(&mut pair);
        assert_error_then_close(&mut pair, &mut client, &response, 413);
        assert_no_request(&events);
    }
}

#[test]
fn body_at_the_limit_is_accepted_and_one_byte_more_is_413() {
    let (mut pair, _events) = site_with(|c| c.max_body_bytes = 1024);
    let body = "b".repeat(1024);
    let mut client = Client::connect(&mut pair);
    assert_ok_body(&client.post(&mut pair, "/echo", body.as_bytes()), &body);
    let response = client.post(&mut pair, "/echo", "b".repeat(1025).as_bytes());
    assert_error_then_close(&mut pair, &mut client, &response, 413);
}

#[test]
fn chunked_body_over_the_limit_is_413() {
    let (mut pair, events) = site_with(|c| c.max_body_bytes = 1024);
    let mut client = Client::connect(&mut pair);
    // Two chunks that together cross the limit.
    let first = "a".repeat(1000);
    let second = "b".repeat(100);
    client.send(
        &mut pair,
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
            first.len(),
            second.len()
        )
        .as_bytes(),
    );
    let response = client.response(&mut pair);
    assert_error_then_close(&mut pair, &mut client, &response, 413);
    assert_no_request(&events);
}

#[test]
fn one_huge_chunk_is_413_from_its_size_line() {
    let (mut pair, _events) = site_with(|c| c.max_body_bytes = 1024);
    let mut client = Client::connect(&mut pair);
    // The size line alone: none of the chunk has been sent.
    client.send(
        &mut pair,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n",
    );
    let response = client.response(&mut pair);
    assert_error_then_close(&mut pair, &mut client, &response, 413);
}

// ===== routing =====

#[test]
fn unknown_path_is_404_with_a_readable_body() {
    let (mut pair, _events) = site();
    let (mut client, response) = exchange(&mut pair, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_error_then_close(&mut pair, &mut client, &response, 404);
}

#[test]
fn default_handler_answers_404_and_sees_the_whole_target() {
    let (mut pair, events) = memory_server(config(), Quiet);
    let (mut client, response) = exchange(&mut pair, b"GET /page?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_error_then_close(&mut pair, &mut client, &response, 404);
    let targets: Vec<String> = requests(&events).into_iter().map(|(_, t)| t).collect();
    assert_eq!(targets, ["/page?x=1"]);
}

#[test]
fn wrong_method_is_405_with_allow() {
    let (mut pair, _events) = site();
    let (mut client, response) =
        exchange(&mut pair, b"DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(response.header("Allow"), Some("GET, HEAD"));
    assert_error_then_close(&mut pair, &mut client, &response, 405);
    let (mut client, response) = exchange(&mut pair, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(response.header("Allow"), Some("POST"));
    assert_error_then_close(&mut pair, &mut client, &response, 405);
}

#[test]
fn absolute_form_target_is_routed_by_its_path() {
    // RFC 9112 §3.2.2: a server MUST accept the absolute-form, and its authority takes
    // the place of `Host`.
    let (mut pair, _events) = site();
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    assert_ok_body(&client.response(&mut pair), "ok");
    client.send(
        &mut pair,
        b"GET http://example.com:8080/host HTTP/1.1\r\nHost: other.example\r\n\r\n",
    );
    assert_ok_body(&client.response(&mut pair), "example.com:8080");
    client.send(
        &mut pair,
        b"GET http://example.com/page/a?b=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    );
    assert_ok_body(
        &client.response(&mut pair),
        "page http://example.com/page/a?b=1\n",
    );
}

#[test]
fn invalid_host_is_400_and_closes() {
    // RFC 9112 §3.2: a Host "with an invalid field value" gets 400.
    for host in [
        "a b, c",
        "example.com/evil",
        "user@example.com",
        "example.com:80a",
    ] {
        let (mut pair, events) = site();
        let (mut client, response) = exchange(
            &mut pair,
            format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .as_bytes(),
        );
        assert_error_then_close(&mut pair, &mut client, &response, 400);
        assert_no_request(&events);
    }
}

#[test]
fn valid_but_unusual_host_is_accepted() {
    let (mut pair, _events) = site();
    let mut client = Client::connect(&mut pair);
    for host in ["[::1]:9001", "example.com:", "[::1]", "127.0.0.1:1", ""] {
        client.send(
            &mut pair,
            format!("GET /host HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
        );
        assert_ok_body(&client.response(&mut pair), host);
    }
    assert!(!client.server_finished(&pair));
}

// ===== deadlines, on the virtual clock =====

#[test]
fn head_not_complete_within_request_timeout_is_408() {
    let (mut pair, events) = timed_site();
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
    // Past the idle deadline: a request has begun, so only the request deadline counts.
    pair.advance(REQUEST_TIMEOUT - MS);
    client.nothing(&mut pair);
    assert!(!client.server_finished(&pair));
    pair.advance(MS);
    let response = client.response(&mut pair);
    assert_error_then_close(&mut pair, &mut client, &response, 408);
    assert_no_request(&events);
}

#[test]
fn head_trickled_byte_by_byte_gets_408_at_request_timeout_after_its_first_byte() {
    // Slowloris: every byte resets nothing, the deadline covers the whole head.
    let (mut pair, _events) = timed_site();
    let mut client = Client::connect(&mut pair);
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: {}\r\n\r\n",
        "a".repeat(100)
    );
    let head = head.as_bytes();
    // Silence before the first byte does not count against the request.
    pair.advance(IDLE_TIMEOUT - MS);
    let step = Duration::from_millis(100);
    let mut sent = 0;
    let mut since_first = Duration::ZERO;
    while since_first + step < REQUEST_TIMEOUT {
        client.send(&mut pair, &head[sent..=sent]);
        sent += 1;
        pair.advance(step);
        since_first += step;
        client.nothing(&mut pair);
        assert!(!client.server_finished(&pair), "closed at {since_first:?}");
    }
    client.send(&mut pair, &head[sent..=sent]);
    sent += 1;
    assert!(sent < head.len(), "the head must not be complete");
    pair.advance(REQUEST_TIMEOUT - since_first - MS);
    client.nothing(&mut pair);
    pair.advance(MS);
    let response = client.response(&mut pair);
    assert_error_then_close(&mut pair, &mut client, &response, 408);
}

#[test]
fn body_not_complete_within_request_timeout_is_408() {
    let (mut pair, events) = timed_site();
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345",
    );
    // More of the body, still not all of it: the deadline stays where the head put it.
    pair.advance(REQUEST_TIMEOUT - Duration::from_secs(1));
    client.send(&mut pair, b"678");
    pair.advance(Duration::from_secs(1) - MS);
    client.nothing(&mut pair);
    assert!(!client.server_finished(&pair));
    pair.advance(MS);
    let response = client.response(&mut pair);
    assert_error_then_close(&mut pair, &mut client, &response, 408);
    assert_no_request(&events);
}

#[test]
fn connection_that_never_sends_is_closed_quietly_at_idle_timeout() {
    let (mut pair, _events) = timed_site();
    let mut client = Client::connect(&mut pair);
    pair.advance(IDLE_TIMEOUT - MS);
    assert!(!client.server_finished(&pair));
    pair.advance(MS);
    assert!(client.is_closed(&pair));
    client.nothing(&mut pair); // no 408 for silence
}

#[test]
fn idle_keep_alive_connection_is_closed_quietly_at_idle_timeout_after_its_response() {
    let (mut pair, _events) = timed_site();
    let mut client = Client::connect(&mut pair);
    pair.advance(IDLE_TIMEOUT - Duration::from_secs(1));
    assert_ok_body(&client.get(&mut pair, "/healthz"), "ok");
    // Past the deadline the connection had before its request: the answer started it
    // again.
    pair.advance(IDLE_TIMEOUT - MS);
    client.nothing(&mut pair);
    assert!(!client.server_finished(&pair));
    pair.advance(MS);
    assert!(client.is_closed(&pair));
    client.nothing(&mut pair);
}

// ===== head limits and version =====

#[test]
fn target_over_the_limit_is_414() {
    let (mut pair, events) = site();
    let target = format!("/page/{}", "a".repeat(9000));
    let (mut client, response) = exchange(
        &mut pair,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    );
    assert_error_then_close(&mut pair, &mut client, &response, 414);
    assert_no_request(&events);
    // And a configured limit, for a WebSocket handshake as for any request.
    let (mut pair, events) = site_with(|c| c.max_target_len = 256);
    let (mut client, response) = exchange(
        &mut pair,
        upgrade_request(&format!("/{}", "a".repeat(300)), &[]).as_bytes(),
    );
    assert_error_then_close(&mut pair, &mut client, &response, 414);
    events.assert_none("upgrade", |e| matches!(e, Event::Upgrade(..)));
}

#[test]
fn head_of_exactly_max_head_bytes_is_served_and_one_byte_more_is_431() {
    // A plain request and a WebSocket handshake: the limit is the same for both.
    type Build = fn(&str) -> String;
    let builders: [(Build, u16); 2] = [
        (
            |filler| format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n"),
            200,
        ),
        (
            |filler| upgrade_request("/", &[&format!("X-Filler: {filler}")]),
            101,
        ),
    ];
    for (build, accepted) in builders {
        let base = build("").len();
        for (size, status) in [(1024, accepted), (1025, 431)] {
            let (mut pair, events) = site_with(|c| {
                c.max_head_bytes = 1024;
                c.max_target_len = 512;
            });
            let request = build(&"f".repeat(size - base));
            assert_eq!(request.len(), size);
            let (mut client, response) = exchange(&mut pair, request.as_bytes());
            if status == 431 {
                assert_error_then_close(&mut pair, &mut client, &response, 431);
                events.assert_none("request or upgrade", |e| {
                    matches!(e, Event::Request { .. } | Event::Upgrade(..))
                });
            } else {
                assert_eq!(response.status, status, "{size} bytes: {response:?}");
            }
        }
    }
    // The default limit (16 KiB) holds too.
    let (mut pair, _events) = site();
    let (mut client, response) = exchange(
        &mut pair,
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "v".repeat(20 * 1024)
        )
        .as_bytes(),
    );
    assert_error_then_close(&mut pair, &mut client, &response, 431);
}

#[test]
fn more_header_fields_than_max_headers_is_431() {
    let (mut pair, events) = site_with(|c| c.max_headers = 10);
    let with_fields = |n: usize| {
        let mut request = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
        for i in 1..n {
            request.push_str(&format!("X-H{i}: {i}\r\n"));
        }
        request + "\r\n"
    };
    let (_client, response) = exchange(&mut pair, with_fields(10).as_bytes());
    assert_ok_body(&response, "ok");
    let (mut client, response) = exchange(&mut pair, with_fields(11).as_bytes());
    assert_error_then_close(&mut pair, &mut client, &response, 431);
    assert_eq!(requests(&events).len(), 1);
    // The default limit (100) holds too.
    let (mut pair, _events) = site();
    let mut request = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        request.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    request.push_str("\r\n");
    let (mut client, response) = exchange(&mut pair, request.as_bytes());
    assert_error_then_close(&mut pair, &mut client, &response, 431);
}

#[test]
fn unsupported_http_version_is_505() {
    let (mut pair, events) = site();
    for version in ["HTTP/2.0", "HTTP/3.1", "HTTP/0.9"] {
        let (mut client, response) = exchange(
            &mut pair,
            format!("GET /healthz {version}\r\nHost: x\r\n\r\n").as_bytes(),
        );
        assert_error_then_close(&mut pair, &mut client, &response, 505);
    }
    assert_no_request(&events);
}

#[test]
fn malformed_request_is_400() {
    let (mut pair, events) = site();
    for request in [
        "GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", // two spaces
        "GET /healthz HTTP/1.1\r\n\r\n",             // HTTP/1.1 without Host
        "HELLO THERE\r\n\r\n",                       // not a request line
        "GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n", // space in a field name
    ] {
        let (mut client, response) = exchange(&mut pair, request.as_bytes());
        assert_error_then_close(&mut pair, &mut client, &response, 400);
    }
    assert_no_request(&events);
}

// ===== connections =====

#[test]
fn connections_beyond_max_connections_are_closed_at_once() {
    let mut c = config();
    c.max_connections = 2;
    let (mut pair, mut events) = memory_server(c, Echo);
    let mut a = Client::upgrade(&mut pair, "/");
    let mut b = Client::upgrade(&mut pair, "/");
    let a_id = events.open();
    events.open();
    let refused = Client::connect(&mut pair);
    assert!(refused.is_closed(&pair), "a third connection is refused");
    assert_eq!(pair.connection_count(), 2);
    // The two admitted ones still work.
    for client in [&mut a, &mut b] {
        client.send(&mut pair, &client_frame(true, OP_TEXT, b"ok"));
        assert_eq!(client.frame(&mut pair).payload, b"ok");
    }
    // A slot frees up when one leaves.
    a.finish(&mut pair);
    events.close(a_id);
    assert_eq!(pair.connection_count(), 1);
    let mut d = Client::upgrade(&mut pair, "/");
    d.send(&mut pair, &client_frame(true, OP_TEXT, b"in"));
    assert_eq!(d.frame(&mut pair).payload, b"in");
}

#[test]
fn response_reaches_a_client_that_half_closed_after_its_request() {
    let (mut pair, _events) = site();
    let mut client = Client::connect(&mut pair);
    // The client is not reading yet: the answer is still queued when the FIN arrives.
    pair.set_read_limit(client.peer, Some(0));
    client.send(&mut pair, b"GET /page/x HTTP/1.1\r\nHost: x\r\n\r\n");
    client.finish(&mut pair);
    assert!(!client.is_closed(&pair), "the answer is still owed");
    pair.set_read_limit(client.peer, None);
    assert_ok_body(&client.response(&mut pair), "page /page/x\n");
    client.nothing(&mut pair);
    assert!(client.is_closed(&pair));
}

#[test]
fn error_response_reaches_a_client_that_half_closed_after_its_request() {
    let (mut pair, _events) = memory_server(config(), Quiet);
    let mut client = Client::connect(&mut pair);
    pair.set_read_limit(client.peer, Some(0));
    client.send(&mut pair, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n");
    client.finish(&mut pair);
    assert!(!client.is_closed(&pair), "the answer is still owed");
    pair.set_read_limit(client.peer, None);
    let response = client.response(&mut pair);
    assert_error_then_close(&mut pair, &mut client, &response, 505);
    assert!(client.is_closed(&pair));
}

// ===== answers the server refuses =====

/// Answers every request with `answer to {target}`; before answering the second, tries
/// to answer (and park) the first again, and keeps what that returned.
#[derive(Default)]
struct Late {
    first: Option<RequestId>,
    late: Vec<Result<(), SendError>>,
}

impl Handler for Late {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        match self.first {
            None => self.first = Some(id),
            Some(first) => {
                let late = Response::text(StatusCode::OK, "late answer");
                self.late.push(ctx.respond(first, late));
                let until = ctx.now() + Duration::from_secs(1);
                self.late.push(ctx.park(first, until));
            }
        }
        let answer = Response::text(StatusCode::OK, format!("answer to {}", request.target()));
        ctx.respond(id, answer).expect("the request is waiting");
    }
}

#[test]
fn late_answer_to_an_answered_request_is_gone_and_never_reaches_the_next() {
    let (mut pair, events) = memory_server(config(), Late::default());
    let mut client = Client::connect(&mut pair);
    assert_ok_body(&client.get(&mut pair, "/1"), "answer to /1");
    assert_ok_body(&client.get(&mut pair, "/2"), "answer to /2");
    client.nothing(&mut pair);
    assert_eq!(
        pair.handler().inner().late,
        [Err(SendError::Gone), Err(SendError::Gone)]
    );
    let ids: Vec<RequestId> = requests(&events).into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids[0].conn(),
        ids[1].conn(),
        "the same keep-alive connection"
    );
    assert_ne!(ids[0], ids[1]);
}

/// Parks every request for a minute: the answers come through a `Handle`.
struct Park;

impl Handler for Park {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, _request: Request) {
        let until = ctx.now() + Duration::from_secs(60);
        ctx.park(id, until).expect("the request is waiting");
    }
}

#[test]
fn late_answer_through_a_handle_never_reaches_the_next_request() {
    let (mut pair, mut events) = memory_server(config(), Park);
    let handle = pair.handle();
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
    let first = events.request("/1");
    handle
        .respond(first, Response::text(StatusCode::OK, "one"))
        .unwrap();
    pair.run();
    assert_ok_body(&client.response(&mut pair), "one");
    client.send(&mut pair, b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    let second = events.request("/2");
    assert_eq!(first.conn(), second.conn());
    handle
        .respond(first, Response::text(StatusCode::OK, "late"))
        .unwrap();
    pair.run();
    client.nothing(&mut pair);
    handle
        .respond(second, Response::text(StatusCode::OK, "two"))
        .unwrap();
    pair.run();
    assert_ok_body(&client.response(&mut pair), "two");
    client.nothing(&mut pair);
}

/// Tries to answer with interim statuses, keeps what that returned, then answers `final`.
#[derive(Default)]
struct Interim {
    refused: Vec<Result<(), SendError>>,
}

impl Handler for Interim {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, _request: Request) {
        for status in [StatusCode::CONTINUE, StatusCode::SWITCHING_PROTOCOLS] {
            self.refused.push(ctx.respond(id, Response::new(status)));
            self.refused
                .push(ctx.start_stream(id, &Response::new(status)));
        }
        ctx.respond(id, Response::text(StatusCode::OK, "final"))
            .expect("the request is still waiting");
    }
}

#[test]
fn answer_with_a_1xx_status_is_refused_and_the_request_still_waits() {
    let (mut pair, _events) = memory_server(config(), Interim::default());
    let mut client = Client::connect(&mut pair);
    let response = client.get(&mut pair, "/");
    // The first bytes on the wire are the final answer's.
    assert_eq!(response.status_line, "HTTP/1.1 200 OK");
    assert_ok_body(&response, "final");
    client.nothing(&mut pair);
    let not_final = Err(SendError::Usage(UsageError::NotFinalStatus));
    assert_eq!(pair.handler().inner().refused, [not_final; 4]);
}

// ===== streamed responses =====

/// One piece of a streamed body.
fn piece(i: usize) -> Vec<u8> {
    format!("piece {i:03} {}\n", "-".repeat(100)).into_bytes()
}

/// Streams its answers:
///
/// - `/events?n=K` → K [`piece`]s, then the end of the stream; when `stream` says `Full`,
///   it waits for `on_drained` and goes on;
/// - `/forever` → piece 0, and the stream stays open;
/// - anything else → `plain`, not streamed.
#[derive(Default)]
struct Streamer {
    /// Streams under way: the request, the next piece, how many pieces in all (`None`:
    /// no end).
    active: Vec<(RequestId, usize, Option<usize>)>,
    /// What `stream` and `end_stream` refused, in order.
    refused: Vec<SendError>,
    /// What `stream` answered for a request once it was abandoned.
    after_abandon: Vec<Result<(), SendError>>,
}

impl Streamer {
    /// Streams what is due on `conn` until it is done or the connection is full.
    fn pump(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        let Some(at) = self.active.iter().position(|(id, ..)| id.conn() == conn) else {
            return;
        };
        let (id, mut next, total) = self.active[at];
        loop {
            if total.is_some_and(|total| next == total) {
                if let Err(e) = ctx.end_stream(id) {
                    self.refused.push(e);
                }
                self.active.remove(at);
                return;
            }
            match ctx.stream(id, &piece(next)) {
                Ok(()) => next += 1,
                Err(e) => {
                    self.refused.push(e);
                    if e == SendError::Full {
                        self.active[at].1 = next; // on_drained goes on from here
                    } else {
                        self.active.remove(at);
                    }
                    return;
                }
            }
            if total.is_none() {
                self.active[at].1 = next;
                return; // one piece, and the stream stays open
            }
        }
    }
}

impl Handler for Streamer {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        let total = match request.path() {
            "/events" => Some(
                request
                    .query()
                    .and_then(|q| q.strip_prefix("n="))
                    .and_then(|n| n.parse().ok())
                    .expect("/events?n=K"),
            ),
            "/forever" => None,
            _ => {
                let plain = Response::text(StatusCode::OK, "plain");
                ctx.respond(id, plain).expect("the request is waiting");
                return;
            }
        };
        let head = Response::new(StatusCode::OK).header("Content-Type", "text/event-stream");
        ctx.start_stream(id, &head).expect("the request is waiting");
        self.active.push((id, 0, total));
        self.pump(ctx, id.conn());
    }

    fn on_drained(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.pump(ctx, conn);
    }

    fn on_request_abandoned(&mut self, ctx: &mut Context<'_>, id: RequestId) {
        self.active.retain(|(active, ..)| *active != id);
        self.after_abandon.push(ctx.stream(id, b"anyone there?"));
    }
}

fn pieces(n: usize) -> Vec<u8> {
    (0..n).flat_map(piece).collect()
}

#[test]
fn streamed_response_to_http11_is_chunked_and_keeps_the_connection() {
    let (mut pair, _events) = memory_server(config(), Streamer::default());
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, b"GET /events?n=3 HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body, rest) = split_chunked(client.text(&mut pair).as_bytes());
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(head.header("Content-Type"), Some("text/event-stream"));
    assert_eq!(head.header("Content-Length"), None);
    assert_eq!(head.header("Connection"), None, "the connection is kept");
    assert_eq!(body, pieces(3));
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(pair.handler().inner().refused.is_empty());
    assert_ok_body(&client.get(&mut pair, "/next"), "plain");
}

#[test]
fn streamed_response_to_http10_ends_when_the_connection_closes() {
    for asked in ["", "Connection: keep-alive\r\n"] {
        let (mut pair, _events) = memory_server(config(), Streamer::default());
        let mut client = Client::connect(&mut pair);
        client.send(
            &mut pair,
            format!("GET /events?n=3 HTTP/1.0\r\n{asked}\r\n").as_bytes(),
        );
        let raw = client.text(&mut pair).into_bytes();
        let (head, len) = parse_response_head(&raw).expect("a response head");
        // No framing an HTTP/1.0 client knows but the end of the connection (RFC 9112
        // §6.3 item 8), so it closes even if the client asked to keep it.
        assert_eq!(head.header("Connection"), Some("close"), "{asked:?}");
        assert_eq!(head.header("Transfer-Encoding"), None);
        assert_eq!(head.header("Content-Length"), None);
        assert_eq!(&raw[len..], pieces(3));
        assert!(client.server_finished(&pair), "{asked:?}");
    }
}

#[test]
fn streamed_response_to_head_is_the_head_alone() {
    let (mut pair, _events) = memory_server(config(), Streamer::default());
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"HEAD /events?n=3 HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let head = client.head_response(&mut pair);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("Transfer-Encoding"),
        Some("chunked"),
        "as for GET"
    );
    // Right behind the head: the next answer, no chunk in between.
    assert_ok_body(&client.response(&mut pair), "plain");
    client.nothing(&mut pair);
    // The exchange ended with the head: the handler's pieces had nowhere to go.
    assert_eq!(pair.handler().inner().refused, [SendError::Gone]);
}

#[test]
fn stream_is_full_while_the_client_is_not_reading_and_drained_follows_when_it_reads() {
    let mut c = config();
    c.write_buffer_high_water = 1024;
    let (mut pair, mut events) = memory_server(c, Streamer::default());
    let mut client = Client::connect(&mut pair);
    pair.set_read_limit(client.peer, Some(0)); // the client stops reading
    client.send(&mut pair, b"GET /events?n=30 HTTP/1.1\r\nHost: x\r\n\r\n");
    let id = events.request("/events");
    client.nothing(&mut pair);
    assert_eq!(pair.handler().inner().refused, [SendError::Full]);
    let (_, sent_so_far, _) = pair.handler().inner().active[0];
    assert!(sent_so_far < 30, "the stream waits for the client");
    events.assert_none("on_drained", |e| matches!(e, Event::Drained(_)));
    // The client reads again: `on_drained`, the stream goes on and ends.
    pair.set_read_limit(client.peer, None);
    assert_eq!(
        events.expect("on_drained", |e| match e {
            Event::Drained(conn) => Some(*conn),
            _ => None,
        }),
        id.conn()
    );
    let (head, body, rest) = split_chunked(client.text(&mut pair).as_bytes());
    assert_eq!(head.status, 200);
    assert_eq!(body, pieces(30), "every piece, in order, once");
    assert!(rest.is_empty());
    assert!(pair.handler().inner().active.is_empty(), "the stream ended");
    assert!(
        pair.handler()
            .inner()
            .refused
            .iter()
            .all(|e| *e == SendError::Full)
    );
    assert_ok_body(&client.get(&mut pair, "/next"), "plain");
}

#[test]
fn client_that_leaves_mid_stream_abandons_the_request() {
    let (mut pair, mut events) = memory_server(config(), Streamer::default());
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
    let id = events.request("/forever");
    let raw = client.text(&mut pair).into_bytes();
    let (_, len) = parse_response_head(&raw).expect("the head has left");
    assert!(
        raw[len..].starts_with(b"6f\r\npiece 000"),
        "the first piece has left"
    );
    events.assert_none("abandoned", |e| matches!(e, Event::Abandoned(_)));
    client.finish(&mut pair);
    let abandoned = events.expect("on_request_abandoned", |e| match e {
        Event::Abandoned(id) => Some(*id),
        _ => None,
    });
    assert_eq!(abandoned, id);
    assert_eq!(pair.handler().inner().after_abandon, [Err(SendError::Gone)]);
    assert!(client.is_closed(&pair));
    client.nothing(&mut pair);
}

// ===== more of RFC 9112's framing rules =====

#[test]
fn bare_cr_in_a_request_head_is_400_and_nothing_after_it_is_served() {
    // RFC 9112 §2.2: "A recipient of such a bare CR MUST consider that element to be
    // invalid or replace each bare CR with SP"; we refuse.
    for head in [
        "GET /healthz HTTP/1.1\rHost: x\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rX-B: b\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\r\n",
    ] {
        let (mut pair, events) = site();
        let request = format!("{head}GET /page/next HTTP/1.1\r\nHost: x\r\n\r\n");
        let (mut client, response) = exchange(&mut pair, request.as_bytes());
        assert_error_then_close(&mut pair, &mut client, &response, 400);
        assert_no_request(&events);
    }
}

#[test]
fn request_line_of_8000_octets_is_served_with_the_default_limits() {
    // RFC 9112 §3: "It is RECOMMENDED that all HTTP senders and recipients support, at a
    // minimum, request-line lengths of 8000 octets."
    let (mut pair, _events) = site();
    let prefix = "GET /page/";
    let suffix = " HTTP/1.1";
    let target_tail = "a".repeat(8000 - prefix.len() - suffix.len());
    let line = format!("{prefix}{target_tail}{suffix}");
    assert_eq!(line.len(), 8000);
    let (_client, response) = exchange(&mut pair, format!("{line}\r\nHost: x\r\n\r\n").as_bytes());
    assert_ok_body(&response, &format!("page /page/{target_tail}\n"));
}

#[test]
fn transfer_encoding_without_chunked_last_is_400_and_closes() {
    // RFC 9112 §6.3 item 4: "If a Transfer-Encoding header field is present in a request
    // and the chunked transfer coding is not the final encoding, ... the server MUST
    // respond with the 400 (Bad Request) status code and then close the connection."
    for coding in ["gzip", "chunked, gzip", "chunked, chunked"] {
        let (mut pair, events) = site();
        let (mut client, response) = exchange(
            &mut pair,
            format!(
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {coding}\r\n\r\n\
                 5\r\nhello\r\n0\r\n\r\nGET /page/next HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            .as_bytes(),
        );
        assert_error_then_close(&mut pair, &mut client, &response, 400);
        assert_no_request(&events);
    }
}

#[test]
fn transfer_encoding_in_http10_is_400_and_closes() {
    // RFC 9112 §6.1: "A server or client that receives an HTTP/1.0 message containing a
    // Transfer-Encoding header field MUST treat the message as if the framing is faulty,
    // even if a Content-Length is present, and close the connection after processing the
    // message."
    for extra in ["", "Content-Length: 10\r\n"] {
        let (mut pair, events) = site();
        let (mut client, response) = exchange(
            &mut pair,
            format!(
                "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n{extra}\r\n\
                 5\r\nhello\r\n0\r\n\r\n"
            )
            .as_bytes(),
        );
        assert_error_then_close(&mut pair, &mut client, &response, 400);
        assert_no_request(&events);
    }
}

#[test]
fn expect_100_continue_in_http10_is_ignored() {
    // RFC 9110 §10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0
    // request MUST ignore that expectation."
    let (mut pair, events) = site();
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"POST /echo HTTP/1.0\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    );
    client.nothing(&mut pair);
    assert_no_request(&events);
    client.send(&mut pair, b"body");
    let response = client.response(&mut pair);
    assert_ok_body(&response, "body");
    client.nothing(&mut pair);
}

#[test]
fn http_1_2_request_is_served_as_http_1_1() {
    // RFC 9110 §2.5: "A recipient that receives a message with a major version number that
    // it implements and a minor version number higher than what it implements SHOULD
    // process the message as if it were in the highest minor version within that major
    // version to which the recipient is conformant."
    let (mut pair, _events) = site();
    let (client, response) = exchange(&mut pair, b"GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n");
    assert_ok_body(&response, "ok");
    assert!(!client.server_finished(&pair), "persists like HTTP/1.1");
}

#[test]
fn duplicate_host_is_400_and_closes() {
    // RFC 9112 §3.2: 400 for "any request message that contains more than one Host header
    // field line" — for HTTP/1.0 too, and whatever the values.
    for request in [
        "GET /host HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n",
        "GET /host HTTP/1.1\r\nHost: a.example\r\nhost: b.example\r\n\r\n",
        "GET /host HTTP/1.0\r\nHost: a.example\r\nHOST: b.example\r\n\r\n",
    ] {
        let (mut pair, events) = site();
        let (mut client, response) = exchange(&mut pair, request.as_bytes());
        assert_error_then_close(&mut pair, &mut client, &response, 400);
        assert_no_request(&events);
    }
}

#[test]
fn whitespace_before_a_colon_is_400_and_closes() {
    // RFC 9112 §5.1: "A server MUST reject, with a response status code of 400 (Bad
    // Request), any received request message that contains whitespace between a header
    // field name and colon." The classic smuggling vector: a server that took this
    // `Transfer-Encoding` would read a chunked body; one that ignored the field, no body
    // and then a second request. Either way a request would reach the handler.
    for separator in [" :", "\t:"] {
        let (mut pair, events) = site();
        let request = format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding{separator} chunked\r\n\r\n\
             0\r\n\r\nGET /page/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let (mut client, response) = exchange(&mut pair, request.as_bytes());
        assert_error_then_close(&mut pair, &mut client, &response, 400);
        assert_no_request(&events);
    }
}

/// Streams the same shared bytes to every `GET /shared` (as a hub streams one event to
/// every subscriber): a large piece, a small one, the large one again, then ends.
struct SharedStreamer {
    big: Arc<[u8]>,
    small: Arc<[u8]>,
}

impl Handler for SharedStreamer {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, _request: Request) {
        let head = Response::new(StatusCode::OK).header("Content-Type", "text/event-stream");
        ctx.start_stream(id, &head).expect("the request is waiting");
        for piece in [&self.big, &self.small, &self.big] {
            ctx.stream_shared(id, piece).expect("room");
        }
        ctx.end_stream(id).expect("streaming");
    }
}

fn letters(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

fn shared_streamer() -> SharedStreamer {
    SharedStreamer {
        big: Arc::from(letters(5000)),
        small: Arc::from(&b"data: small\n\n"[..]),
    }
}

#[test]
fn shared_stream_pieces_arrive_in_order_chunked_for_http11_and_plain_for_http10() {
    let expected: Vec<u8> = [letters(5000), b"data: small\n\n".to_vec(), letters(5000)].concat();
    let (mut pair, _events) = memory_server(config(), shared_streamer());
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, b"GET /shared HTTP/1.1\r\nHost: x\r\n\r\n");
    let raw = client.text(&mut pair).into_bytes();
    let (head, body, rest) = split_chunked(&raw);
    assert_eq!(head.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(body, expected);
    assert!(rest.is_empty());

    let (mut pair, _events) = memory_server(config(), shared_streamer());
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, b"GET /shared HTTP/1.0\r\n\r\n");
    let raw = client.text(&mut pair).into_bytes();
    let (head, len) = parse_response_head(&raw).expect("a response head");
    assert_eq!(head.header("Transfer-Encoding"), None);
    assert_eq!(&raw[len..], expected);
    assert!(client.server_finished(&pair));
}
