//! HTTP/1.1 on the event loop: keep-alive, pipelining, `Connection` handling for 1.0 and
//! 1.1, HEAD, request bodies (Content-Length, chunked, 100-continue) and the error
//! answers (400, 404, 405, 408, 413, 414, 431, 505), over real loopback sockets.

mod support;

use std::io::Write;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use pushwire::http::Request;
use pushwire::{Config, ConnId, Context, Handler, Response, StatusCode};
use support::*;

/// A tiny site:
///
/// - `GET|HEAD /healthz` → `ok`; other methods → 405 with `Allow: GET, HEAD`
/// - `POST /echo` → the request body; other methods → 405 with `Allow: POST`
/// - `GET|HEAD /page...` → `page {target}\n`
/// - anything else → 404
struct Site;

impl Handler for Site {
    fn on_request(&mut self, ctx: &mut Context<'_>, conn: ConnId, mut request: Request) {
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
            _ => Response::error(StatusCode::NOT_FOUND, "no such resource"),
        };
        ctx.respond(conn, response)
            .expect("respond to a waiting request");
    }
}

fn site() -> TestServer {
    TestServer::start(config(), Site)
}

fn site_with(configure: impl FnOnce(&mut Config)) -> TestServer {
    let mut c = config();
    configure(&mut c);
    TestServer::start(c, Site)
}

/// An error answer as the README promises it: the status, a body a person can read that
/// starts with the status code, `Connection: close`, and a `Content-Length` that is exactly
/// the body (the server closes right after it, so any byte past it would show up here).
fn assert_error_then_close(client: &mut RawClient, response: &HttpResponse, status: u16) {
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
    let rest = client.read_to_eof();
    assert!(
        rest.is_empty(),
        "bytes after the error response (wrong Content-Length or a second response): {:?}",
        String::from_utf8_lossy(&rest)
    );
}

fn assert_ok_body(response: &HttpResponse, body: &str) {
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(String::from_utf8_lossy(&response.body), body);
    assert_eq!(response.content_length(), Some(body.len()));
}

// ===== keep-alive, pipelining, Connection =====

#[test]
fn keep_alive_connection_serves_several_requests_in_turn() {
    let server = site();
    let mut client = RawClient::connect(server.addr);
    for i in 0..3 {
        let page = client.get(&format!("/page/{i}"));
        assert_ok_body(&page, &format!("page /page/{i}\n"));
        assert_eq!(
            page.header("Connection"),
            None,
            "HTTP/1.1 persists silently"
        );
        let echo = client.post("/echo", format!("body {i}").as_bytes());
        assert_ok_body(&echo, &format!("body {i}"));
        assert_ok_body(&client.get("/healthz"), "ok");
    }
    client.assert_silent_for(Duration::from_millis(200));
}

#[test]
fn pipelined_requests_in_one_write_are_answered_strictly_in_order() {
    let server = site();
    let mut client = RawClient::connect(server.addr);
    client.send(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\npipelined body\
          GET /page/3 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_ok_body(&client.read_response(), "ok");
    assert_ok_body(&client.read_response(), "pipelined body");
    assert_ok_body(&client.read_response(), "page /page/3\n");
    client.assert_silent_for(Duration::from_millis(200));
}

#[test]
fn many_pipelined_requests_get_as_many_responses_in_order() {
    let server = site();
    let mut client = RawClient::connect(server.addr);
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
    client.send(&wire);
    for i in 0..40 {
        let expected = if i % 2 == 0 {
            format!("page /page/{i}\n")
        } else {
            format!("n{i}")
        };
        assert_ok_body(&client.read_response(), &expected);
    }
}

#[test]
fn connection_close_gets_its_response_then_the_server_closes() {
    let server = site();
    let mut client = RawClient::connect(server.addr);
    // The second request follows `Connection: close`: it must not be served.
    client.send(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n\
          GET /page/after HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let response = client.read_response();
    assert_ok_body(&response, "ok");
    assert_eq!(response.header("Connection"), Some("close"));
    let rest = client.read_to_eof();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
}

#[test]
fn http10_request_without_keep_alive_is_closed_after_the_response() {
    let server = site();
    let (mut client, response) = http_exchange(server.addr, b"GET /page/old HTTP/1.0\r\n\r\n");
    assert_ok_body(&response, "page /page/old\n");
    assert_eq!(response.header("Connection"), Some("close"));
    assert!(client.read_to_eof().is_empty());
}

#[test]
fn http10_keep_alive_is_announced_and_the_connection_stays_open() {
    let server = site();
    let mut client = RawClient::connect(server.addr);
    for i in 0..3 {
        client.send(format!("GET /page/{i} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").as_bytes());
        let response = client.read_response();
        assert_ok_body(&response, &format!("page /page/{i}\n"));
        assert_eq!(response.header("Connection"), Some("keep-alive"));
    }
    client.assert_silent_for(Duration::from_millis(200));
    // Without the token the next HTTP/1.0 request ends the connection.
    client.send(b"GET /healthz HTTP/1.0\r\n\r\n");
    assert_ok_body(&client.read_response(), "ok");
    assert!(client.read_to_eof().is_empty());
}

#[test]
fn head_gets_the_get_headers_with_content_length_but_no_body() {
    let server = site();
    let mut client = RawClient::connect(server.addr);
    // A GET right behind the HEAD: if a body followed the HEAD's head, the next response
    // would not start where expected.
    client.send(
        b"HEAD /page/head HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let head = client.read_response_head();
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some("page /page/head\n".len()));
    assert!(
        head.header("Content-Type")
            .is_some_and(|t| t.starts_with("text/plain"))
    );
    let next = client.read_response();
    assert!(next.status_line.starts_with("HTTP/1.1 200"));
    assert_ok_body(&next, "ok");
}

// ===== request bodies =====

#[test]
fn content_length_body_split_across_writes_reaches_the_handler() {
    let server = site();
    let mut client = RawClient::connect(server.addr);
    client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n");
    std::thread::sleep(Duration::from_millis(50));
    client.send(b"hello");
    std::thread::sleep(Duration::from_millis(50));
    client.send(b" world");
    assert_ok_body(&client.read_response(), "hello world");
    assert_ok_body(&client.get("/healthz"), "ok");
}

#[test]
fn identical_repeated_content_length_is_accepted() {
    let server = site();
    let (_client, response) = http_exchange(
        server.addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nfives",
    );
    assert_ok_body(&response, "fives");
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
    let server = site();
    let mut client = RawClient::connect(server.addr);
    client.send(CHUNKED_REQUEST);
    assert_ok_body(&client.read_response(), "hello, world");
    // The request pipelined after the trailers proves the body ended where it should.
    assert_ok_body(&client.read_response(), "ok");
}

#[test]
fn chunked_body_trickled_a_few_bytes_at_a_time_is_decoded() {
    let server = site();
    let mut client = RawClient::connect(server.addr);
    for piece in CHUNKED_REQUEST.chunks(7) {
        client.send(piece);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_ok_body(&client.read_response(), "hello, world");
    assert_ok_body(&client.read_response(), "ok");
}

#[test]
fn expect_100_continue_gets_100_before_the_body_is_sent() {
    let server = site();
    let mut client = RawClient::connect(server.addr);
    client.send(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n",
    );
    // The client sends nothing more until it sees the interim response.
    let interim = client.read_response();
    assert_eq!(interim.status_line, "HTTP/1.1 100 Continue");
    assert!(interim.body.is_empty());
    client.send(b"continued");
    assert_ok_body(&client.read_response(), "continued");
    assert_ok_body(&client.get("/healthz"), "ok");
}

#[test]
fn expect_100_continue_with_chunked_body_gets_100_too() {
    let server = site();
    let mut client = RawClient::connect(server.addr);
    client.send(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
          Expect: 100-continue\r\n\r\n",
    );
    assert_eq!(client.read_response().status, 100);
    client.send(b"3\r\nabc\r\n0\r\n\r\n");
    assert_ok_body(&client.read_response(), "abc");
}

#[test]
fn truncated_body_then_fin_closes_without_a_request() {
    let (handler, mut events) = recording(Site);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::connect(server.addr);
    client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345");
    client.stream.shutdown(Shutdown::Write).unwrap();
    let rest = client.read_to_eof();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    events.assert_none_within("request", Duration::from_millis(200), |e| {
        matches!(e, Event::Request(..))
    });
}

// ===== framing errors =====

#[test]
fn content_length_with_transfer_encoding_is_400_and_the_body_is_never_a_request() {
    let (handler, mut events) = recording(Site);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::connect(server.addr);
    // A server that let Content-Length win would serve /smuggled as a second request;
    // one that let Transfer-Encoding win would see it after the last chunk.
    let smuggled = "GET /page/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let body = format!("0\r\n\r\n{smuggled}");
    client.send(
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\
             Transfer-Encoding: chunked\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let response = client.read_response();
    assert_error_then_close(&mut client, &response, 400);
    events.assert_none_within(
        "request reaching the handler",
        Duration::from_millis(200),
        |e| matches!(e, Event::Request(..)),
    );
}

#[test]
fn bad_chunk_size_is_400_and_what_follows_is_not_served() {
    for size_line in ["zz", "-5", "0x5", " 5", "+5", "5 5", ""] {
        let (handler, mut events) = recording(Site);
        let server = TestServer::start(config(), handler);
        let mut client = RawClient::connect(server.addr);
        client.send(
            format!(
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                 {size_line}\r\nhello\r\n0\r\n\r\nGET /page/next HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            .as_bytes(),
        );
        let response = client.read_response();
        assert_error_then_close(&mut client, &response, 400);
        events.assert_none_within("request", Duration::from_millis(50), |e| {
            matches!(e, Event::Request(..))
        });
    }
}

#[test]
fn differing_content_lengths_are_400() {
    let server = site();
    for heads in [
        "Content-Length: 5, 6\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: -5\r\n",
        "Content-Length: 5x\r\n",
    ] {
        let (mut client, response) = http_exchange(
            server.addr,
            format!("POST /echo HTTP/1.1\r\nHost: x\r\n{heads}\r\nhello!").as_bytes(),
        );
        assert_error_then_close(&mut client, &response, 400);
    }
}

#[test]
fn content_length_over_the_limit_is_413_before_the_body_is_sent() {
    let server = site_with(|c| c.max_body_bytes = 1024);
    let mut client = RawClient::connect(server.addr);
    // Only the head: the answer must not wait for 100 kB that never come.
    client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    let started = Instant::now();
    let response = client.read_response();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_error_then_close(&mut client, &response, 413);
}

#[test]
fn body_at_the_limit_is_accepted() {
    let server = site_with(|c| c.max_body_bytes = 1024);
    let body = "b".repeat(1024);
    assert_ok_body(&http_post(server.addr, "/echo", body.as_bytes()), &body);
}

#[test]
fn chunked_body_over_the_limit_is_413() {
    let server = site_with(|c| c.max_body_bytes = 1024);
    let mut client = RawClient::connect(server.addr);
    // Two chunks that together cross the limit.
    let first = "a".repeat(1000);
    let second = "b".repeat(100);
    client.send(
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
            first.len(),
            second.len()
        )
        .as_bytes(),
    );
    let response = client.read_response();
    assert_error_then_close(&mut client, &response, 413);
}

#[test]
fn one_huge_chunk_is_413_from_its_size_line() {
    let server = site_with(|c| c.max_body_bytes = 1024);
    let mut client = RawClient::connect(server.addr);
    client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n");
    let response = client.read_response();
    assert_error_then_close(&mut client, &response, 413);
}

// ===== routing errors from the handler =====

#[test]
fn unknown_path_is_404_with_a_readable_body() {
    let server = site();
    let (mut client, response) =
        http_exchange(server.addr, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_error_then_close(&mut client, &response, 404);
}

#[test]
fn wrong_method_is_405_with_allow() {
    let server = site();
    let (mut client, response) =
        http_exchange(server.addr, b"DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(response.header("Allow"), Some("GET, HEAD"));
    assert_error_then_close(&mut client, &response, 405);
    let (mut client, response) =
        http_exchange(server.addr, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(response.header("Allow"), Some("POST"));
    assert_error_then_close(&mut client, &response, 405);
}

// ===== request timeout =====

const SHORT: Duration = Duration::from_millis(300);

fn assert_timely(elapsed: Duration) {
    assert!(
        elapsed >= Duration::from_millis(250),
        "408 came too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "408 came too late: {elapsed:?}"
    );
}

#[test]
fn head_not_complete_within_request_timeout_is_408() {
    let server = site_with(|c| c.request_timeout = SHORT);
    let started = Instant::now();
    let mut client = RawClient::connect(server.addr);
    client.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
    let response = client.read_response();
    assert_timely(started.elapsed());
    assert_error_then_close(&mut client, &response, 408);
}

#[test]
fn head_trickled_slower_than_request_timeout_is_408() {
    // Slowloris: every byte resets nothing, the deadline covers the whole head.
    let server = site_with(|c| c.request_timeout = SHORT);
    let started = Instant::now();
    let mut client = RawClient::connect(server.addr);
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut sent = 0;
    for &b in head.iter() {
        if client.stream.write_all(&[b]).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(30));
        if started.elapsed() > Duration::from_millis(600) {
            break;
        }
    }
    assert!(sent < head.len(), "the head must not be complete");
    let response = client.read_response();
    assert_timely(started.elapsed());
    assert_error_then_close(&mut client, &response, 408);
}

#[test]
fn body_not_complete_within_request_timeout_is_408() {
    let server = site_with(|c| c.request_timeout = SHORT);
    let started = Instant::now();
    let mut client = RawClient::connect(server.addr);
    client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345");
    let response = client.read_response();
    assert_timely(started.elapsed());
    assert_error_then_close(&mut client, &response, 408);
}

#[test]
fn connection_that_never_sends_is_closed_quietly_at_request_timeout() {
    let server = site_with(|c| c.request_timeout = SHORT);
    let started = Instant::now();
    let mut client = RawClient::connect(server.addr);
    assert!(client.read_to_eof().is_empty(), "no 408 for silence");
    assert_timely(started.elapsed());
}

#[test]
fn idle_keep_alive_connection_is_closed_quietly_after_request_timeout() {
    let server = site_with(|c| c.request_timeout = SHORT);
    let mut client = RawClient::connect(server.addr);
    assert_ok_body(&client.get("/healthz"), "ok");
    let answered = Instant::now();
    assert!(client.read_to_eof().is_empty());
    assert_timely(answered.elapsed());
}

// ===== head limits and version =====

#[test]
fn target_over_the_limit_is_414() {
    let server = site();
    let target = format!("/page/{}", "a".repeat(9000));
    let (mut client, response) = http_exchange(
        server.addr,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    );
    assert_error_then_close(&mut client, &response, 414);
}

#[test]
fn head_over_the_limit_is_431() {
    let server = site();
    let (mut client, response) = http_exchange(
        server.addr,
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "v".repeat(20 * 1024)
        )
        .as_bytes(),
    );
    assert_error_then_close(&mut client, &response, 431);
}

#[test]
fn too_many_header_fields_is_431() {
    let server = site();
    let mut request = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        request.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    request.push_str("\r\n");
    let (mut client, response) = http_exchange(server.addr, request.as_bytes());
    assert_error_then_close(&mut client, &response, 431);
}

#[test]
fn unsupported_http_version_is_505() {
    let server = site();
    for version in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9"] {
        let (mut client, response) = http_exchange(
            server.addr,
            format!("GET /healthz {version}\r\nHost: x\r\n\r\n").as_bytes(),
        );
        assert_error_then_close(&mut client, &response, 505);
    }
}

#[test]
fn malformed_request_line_is_400() {
    let server = site();
    let (mut client, response) =
        http_exchange(server.addr, b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_error_then_close(&mut client, &response, 400);
    let (mut client, response) = http_exchange(server.addr, b"GET /healthz HTTP/1.1\r\n\r\n");
    assert_error_then_close(&mut client, &response, 400);
}
