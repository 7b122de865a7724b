//! The opening handshake and plain HTTP, over raw TCP: what the server answers to good and
//! bad requests, byte for byte where it matters.

mod support;

use std::time::{Duration, Instant};

use pushwire::http::{Request, Response, StatusCode};
use pushwire::ws::handshake::UpgradeRequest;
use pushwire::{Config, ConnId, Context, Handler, Upgrade};
use support::*;

/// Sends `request` on a fresh connection and reads the whole response.
fn exchange(server: &TestServer, request: &str) -> (RawClient, HttpResponse) {
    let mut client = RawClient::connect(server.addr);
    client.send(request.as_bytes());
    let response = client.read_response();
    (client, response)
}

/// The contract of every error response: `Connection: close`, a `Content-Length` that
/// matches the body, and the server closing the connection after it.
fn assert_error_response(mut client: RawClient, response: &HttpResponse, status: u16) {
    assert_eq!(response.status, status, "{response:?}");
    assert_eq!(
        response.header("Connection").map(str::to_ascii_lowercase),
        Some("close".to_string()),
        "{response:?}"
    );
    assert_eq!(response.header_count("Content-Length"), 1, "{response:?}");
    assert_eq!(
        response.content_length(),
        Some(response.body.len()),
        "{response:?}"
    );
    assert!(
        !response.body.is_empty(),
        "error page should say what went wrong"
    );
    client.expect_eof();
}

fn expect_refusal(config: Config, request: &str, status: u16) -> HttpResponse {
    let (handler, events) = recording(Echo);
    let mut server = TestServer::start(config, handler);
    let (client, response) = exchange(&server, request);
    assert_error_response(client, &response, status);
    server.stop();
    let log = events.finish();
    assert!(
        !log.iter().any(|e| matches!(e, Event::Open(_))),
        "a refused handshake must not open a WebSocket: {log:?}"
    );
    response
}

#[test]
fn valid_handshake_gets_101_with_the_rfc_accept_value() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::connect(server.addr);
    client.send(upgrade_request("/chat", &[]).as_bytes());
    let response = client.read_response_head();
    assert_eq!(response.status, 101, "{response:?}");
    assert_eq!(response.header("Sec-WebSocket-Accept"), Some(SAMPLE_ACCEPT));
    assert!(
        response
            .header("Upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    );
    assert!(
        response
            .header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("upgrade"))
    );
    assert_eq!(response.header("Sec-WebSocket-Protocol"), None);
    assert_eq!(
        response.header("Content-Length"),
        None,
        "101 has no content"
    );
    events.open();
    // It is a WebSocket now.
    client.send(&client_frame(true, OP_TEXT, b"framed"));
    let echoed = client.read_frame();
    assert_eq!(echoed.payload, b"framed");
}

#[test]
fn tungstenite_handshake_succeeds_and_handler_sees_path() {
    struct PathCheck;
    impl Handler for PathCheck {
        fn on_upgrade(
            &mut self,
            _ctx: &mut Context<'_>,
            _conn: ConnId,
            request: &UpgradeRequest<'_>,
        ) -> Upgrade {
            if request.head().path() == "/live" && request.head().query() == Some("room=7") {
                Upgrade::accept()
            } else {
                Upgrade::Reject(Response::error(StatusCode::NOT_FOUND, "no such socket"))
            }
        }
    }
    let server = TestServer::start(config(), PathCheck);
    ws_connect(server.addr, "/live?room=7");
    let url = server.url("/elsewhere");
    let refused = tungstenite::client::client(url, tcp(server.addr));
    match refused {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            assert_eq!(response.status(), 404);
        }
        other => panic!("expected a 404 refusal, got {:?}", other.map(|(_, r)| r)),
    }
}

#[test]
fn bytes_after_the_handshake_in_the_same_write_are_read_as_frames() {
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::connect(server.addr);
    let mut bytes = upgrade_request("/", &[]).into_bytes();
    bytes.extend(client_frame(true, OP_TEXT, b"eager"));
    client.send(&bytes);
    assert_eq!(client.read_response_head().status, 101);
    assert_eq!(client.read_frame().payload, b"eager");
}

#[test]
fn connection_header_with_several_tokens_is_accepted() {
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let request = upgrade_request("/", &[]).replace(
        "Connection: Upgrade\r\n",
        "Connection: keep-alive, Upgrade\r\n",
    );
    let (_client, response) = exchange(&server, &request);
    assert_eq!(response.status, 101, "{response:?}");
}

#[test]
fn upgrade_and_connection_tokens_are_case_insensitive() {
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let request = upgrade_request("/", &[])
        .replace("Upgrade: websocket", "upgrade: WebSocket")
        .replace("Connection: Upgrade", "connection: upgrade");
    let (_client, response) = exchange(&server, &request);
    assert_eq!(response.status, 101, "{response:?}");
}

#[test]
fn missing_websocket_key_is_refused_with_400() {
    let request =
        upgrade_request("/", &[]).replace(&format!("Sec-WebSocket-Key: {SAMPLE_KEY}\r\n"), "");
    expect_refusal(config(), &request, 400);
}

#[test]
fn malformed_websocket_keys_are_refused_with_400() {
    for key in [
        "short",
        "AAAAAAAAAAAAAAAAAAAAAAA=",     // 24 characters, 17 bytes
        "AAAAAAAAAAAAAAAAAAAAAA",       // 16 bytes, unpadded
        "dGhlIHNhbXBsZSBub25jZQ==AAAA", // too long
        "!!!!!!!!!!!!!!!!!!!!!!==",     // not base64
    ] {
        let request = upgrade_request("/", &[]).replace(SAMPLE_KEY, key);
        expect_refusal(config(), &request, 400);
    }
}

#[test]
fn duplicate_websocket_key_is_refused_with_400() {
    let request = upgrade_request("/", &[&format!("Sec-WebSocket-Key: {SAMPLE_KEY}")]);
    expect_refusal(config(), &request, 400);
}

#[test]
fn unsupported_version_is_refused_with_426_naming_version_13() {
    let request =
        upgrade_request("/", &[]).replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let response = expect_refusal(config(), &request, 426);
    assert_eq!(response.header("Sec-WebSocket-Version"), Some("13"));

    let request = upgrade_request("/", &[]).replace("Sec-WebSocket-Version: 13\r\n", "");
    let response = expect_refusal(config(), &request, 426);
    assert_eq!(response.header("Sec-WebSocket-Version"), Some("13"));
}

#[test]
fn post_upgrade_is_refused_with_400() {
    let request = upgrade_request("/", &[]).replacen("GET", "POST", 1);
    expect_refusal(config(), &request, 400);
}

#[test]
fn http_1_0_upgrade_is_refused_with_400() {
    let request = upgrade_request("/", &[]).replacen("HTTP/1.1", "HTTP/1.0", 1);
    expect_refusal(config(), &request, 400);
}

#[test]
fn upgrade_without_host_is_refused_with_400() {
    let request = upgrade_request("/", &[]).replace("Host: 127.0.0.1\r\n", "");
    expect_refusal(config(), &request, 400);
}

#[test]
fn upgrade_without_connection_upgrade_is_refused_with_400() {
    let request =
        upgrade_request("/", &[]).replace("Connection: Upgrade", "Connection: keep-alive");
    expect_refusal(config(), &request, 400);
}

#[test]
fn upgrade_with_a_body_is_refused_with_400() {
    let request = upgrade_request("/", &["Content-Length: 4"]) + "body";
    expect_refusal(config(), &request, 400);
}

#[test]
fn head_larger_than_max_head_bytes_is_refused_with_431() {
    let mut config = config();
    config.max_head_bytes = 1024;
    config.max_target_len = 512;
    let big = format!("X-Filler: {}", "f".repeat(2000));
    expect_refusal(config, &upgrade_request("/", &[&big]), 431);
}

#[test]
fn head_of_exactly_max_head_bytes_is_accepted() {
    let mut config = config();
    config.max_head_bytes = 1024;
    config.max_target_len = 512;
    let base = upgrade_request("/", &["X-Filler: "]).len();
    let filler = format!("X-Filler: {}", "f".repeat(1024 - base));
    let request = upgrade_request("/", &[&filler]);
    assert_eq!(request.len(), 1024);
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let (_client, response) = exchange(&server, &request);
    assert_eq!(response.status, 101, "{response:?}");
}

#[test]
fn too_many_headers_are_refused_with_431() {
    let mut config = config();
    config.max_headers = 10;
    let extra: Vec<String> = (0..10).map(|i| format!("X-Extra-{i}: {i}")).collect();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    expect_refusal(config, &upgrade_request("/", &extra), 431);
}

#[test]
fn target_longer_than_max_target_len_is_refused_with_414() {
    let mut config = config();
    config.max_target_len = 256;
    let path = format!("/{}", "a".repeat(300));
    expect_refusal(config, &upgrade_request(&path, &[]), 414);
}

#[test]
fn http_2_request_line_is_refused_with_505() {
    expect_refusal(config(), "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
}

#[test]
fn garbage_request_line_is_refused_with_400() {
    expect_refusal(config(), "HELLO THERE\r\n\r\n", 400);
    expect_refusal(config(), "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    expect_refusal(config(), "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400);
}

/// Chooses the subprotocol named in `choice` (whether or not it was offered).
struct Choose(&'static str);

impl Handler for Choose {
    fn on_upgrade(
        &mut self,
        _ctx: &mut Context<'_>,
        _conn: ConnId,
        request: &UpgradeRequest<'_>,
    ) -> Upgrade {
        let offered: Vec<&str> = request.protocols().collect();
        assert_eq!(offered, ["superchat", "chat", "v2.json"]);
        Upgrade::Accept {
            protocol: Some(self.0.to_string()),
        }
    }
}

#[test]
fn subprotocol_chosen_from_the_offer_is_echoed() {
    let server = TestServer::start(config(), Choose("chat"));
    let request = upgrade_request(
        "/",
        &[
            "Sec-WebSocket-Protocol: superchat, chat",
            "Sec-WebSocket-Protocol: v2.json",
        ],
    );
    let (_client, response) = exchange(&server, &request);
    assert_eq!(response.status, 101);
    assert_eq!(response.header("Sec-WebSocket-Protocol"), Some("chat"));
    assert_eq!(response.header_count("Sec-WebSocket-Protocol"), 1);
}

#[test]
fn subprotocol_not_offered_is_not_sent() {
    let server = TestServer::start(config(), Choose("other"));
    let request = upgrade_request("/", &["Sec-WebSocket-Protocol: superchat, chat, v2.json"]);
    let (_client, response) = exchange(&server, &request);
    assert_eq!(response.status, 101);
    assert_eq!(response.header("Sec-WebSocket-Protocol"), None);
}

#[test]
fn subprotocol_matching_is_case_sensitive() {
    let server = TestServer::start(config(), Choose("CHAT"));
    let request = upgrade_request("/", &["Sec-WebSocket-Protocol: superchat, chat, v2.json"]);
    let (_client, response) = exchange(&server, &request);
    assert_eq!(response.status, 101);
    assert_eq!(response.header("Sec-WebSocket-Protocol"), None);
}

#[test]
fn handler_can_refuse_an_upgrade_with_its_own_response() {
    struct Refuse;
    impl Handler for Refuse {
        fn on_upgrade(
            &mut self,
            _ctx: &mut Context<'_>,
            _conn: ConnId,
            _request: &UpgradeRequest<'_>,
        ) -> Upgrade {
            Upgrade::Reject(Response::error(StatusCode::UNAUTHORIZED, "log in first"))
        }
    }
    let (handler, events) = recording(Refuse);
    let mut server = TestServer::start(config(), handler);
    let (client, response) = exchange(&server, &upgrade_request("/", &[]));
    assert!(String::from_utf8_lossy(&response.body).contains("log in first"));
    assert_error_response(client, &response, 401);
    server.stop();
    assert!(
        events.finish().is_empty(),
        "no on_open for a refused upgrade"
    );
}

fn origin_config() -> Config {
    let mut config = config();
    config.allowed_origins = Some(vec!["https://good.example".to_string()]);
    config
}

#[test]
fn allowed_origin_is_accepted() {
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(origin_config(), handler);
    for origin in ["https://good.example", "HTTPS://Good.Example"] {
        let request = upgrade_request("/", &[&format!("Origin: {origin}")]);
        let (_client, response) = exchange(&server, &request);
        assert_eq!(response.status, 101, "{origin}: {response:?}");
    }
}

#[test]
fn origin_not_on_the_allow_list_is_refused_with_403() {
    for origin in ["https://evil.example", "https://good.example.evil", "null"] {
        let request = upgrade_request("/", &[&format!("Origin: {origin}")]);
        expect_refusal(origin_config(), &request, 403);
    }
}

#[test]
fn request_without_origin_is_accepted_under_an_allow_list() {
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(origin_config(), handler);
    let (_client, response) = exchange(&server, &upgrade_request("/", &[]));
    assert_eq!(response.status, 101);
}

#[test]
fn stalled_partial_head_gets_408_and_is_disconnected_after_request_timeout() {
    let mut config = config();
    config.request_timeout = Duration::from_millis(300);
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut client = RawClient::connect(server.addr);
    let start = Instant::now();
    client.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: web");
    let response = client.read_response();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300),
        "408 after {elapsed:?}, before the timeout"
    );
    assert_error_response(client, &response, 408);
}

#[test]
fn trickled_head_does_not_extend_the_request_timeout() {
    let mut config = config();
    config.request_timeout = Duration::from_millis(300);
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut client = RawClient::connect(server.addr);
    let start = Instant::now();
    // One byte every 50 ms would take far longer than 300 ms to finish the head.
    let request = upgrade_request("/", &[]);
    for byte in request.as_bytes().iter().take(20) {
        client.send(&[*byte]);
        std::thread::sleep(Duration::from_millis(50));
    }
    let response = client.read_response();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_error_response(client, &response, 408);
}

#[test]
fn silent_connection_is_closed_after_request_timeout() {
    let mut config = config();
    config.request_timeout = Duration::from_millis(300);
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut client = RawClient::connect(server.addr);
    let start = Instant::now();
    client.expect_eof();
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn plain_get_reaches_on_request_and_default_answer_is_404() {
    let (handler, mut events) = recording(Quiet);
    let server = TestServer::start(config(), handler);
    let (client, response) = exchange(&server, "GET /page?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_error_response(client, &response, 404);
    let target = events.wait_for("on_request", |e| match e {
        Event::Request(_, t) => Some(t.clone()),
        _ => None,
    });
    assert_eq!(target, "/page?x=1");
}

/// Answers every request with `200` and `page <target>`.
struct Pages;

impl Handler for Pages {
    fn on_request(&mut self, ctx: &mut Context<'_>, conn: ConnId, request: Request) {
        let body = format!("page {}", request.target());
        ctx.respond(conn, Response::text(StatusCode::OK, body))
            .expect("respond");
    }
}

#[test]
fn keep_alive_connection_serves_several_requests() {
    let server = TestServer::start(config(), Pages);
    let mut client = RawClient::connect(server.addr);
    for path in ["/one", "/two", "/three"] {
        client.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        let response = client.read_response();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, format!("page {path}").as_bytes());
        assert_eq!(response.header("Connection"), None);
    }
    client.send(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.body, b"page /last");
    assert_eq!(
        response.header("Connection").map(str::to_ascii_lowercase),
        Some("close".to_string())
    );
    client.expect_eof();
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = TestServer::start(config(), Pages);
    let mut client = RawClient::connect(server.addr);
    client.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(client.read_response().body, b"page /a");
    assert_eq!(client.read_response().body, b"page /b");
}

#[test]
fn http_1_0_request_is_answered_and_closed() {
    let server = TestServer::start(config(), Pages);
    let mut client = RawClient::connect(server.addr);
    client.send(b"GET /old HTTP/1.0\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.body, b"page /old");
    client.expect_eof();
}

#[test]
fn head_request_gets_headers_without_body() {
    let server = TestServer::start(config(), Pages);
    let mut client = RawClient::connect(server.addr);
    client.send(b"HEAD /doc HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = client.read_response_head();
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some("page /doc".len()));
    // If a body had been sent, it would come before the next response's status line.
    client.send(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    let next = client.read_response();
    assert_eq!(next.status, 200);
    assert_eq!(next.body, b"page /next");
}

#[test]
fn request_with_a_body_over_the_limit_is_refused_with_413() {
    let mut config = config();
    config.max_body_bytes = 4;
    expect_refusal(
        config,
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        413,
    );
}

#[test]
fn websocket_is_not_subject_to_the_request_timeout() {
    let mut config = config();
    config.request_timeout = Duration::from_millis(200);
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut client = RawClient::upgrade(server.addr);
    std::thread::sleep(Duration::from_millis(600));
    client.send(&client_frame(true, OP_TEXT, b"still here"));
    assert_eq!(client.read_frame().payload, b"still here");
}

#[test]
fn idle_keep_alive_connection_is_closed_quietly_after_request_timeout() {
    let mut config = config();
    config.request_timeout = Duration::from_millis(300);
    let server = TestServer::start(config, Pages);
    let mut client = RawClient::connect(server.addr);
    client.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(client.read_response().status, 200);
    let start = Instant::now();
    // No 408 for a connection that has not started another request: just EOF.
    client.expect_eof();
    assert!(start.elapsed() >= Duration::from_millis(250));
}

#[test]
fn connections_beyond_max_connections_are_closed_at_once() {
    let mut config = config();
    config.max_connections = 2;
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut a = RawClient::upgrade(server.addr);
    let mut b = RawClient::upgrade(server.addr);
    events.open();
    events.open();
    let mut c = RawClient::connect(server.addr);
    c.expect_eof();
    // The two admitted ones still work.
    for client in [&mut a, &mut b] {
        client.send(&client_frame(true, OP_TEXT, b"ok"));
        assert_eq!(client.read_frame().payload, b"ok");
    }
    // A slot frees up when one leaves.
    drop(a);
    events.wait_for("on_close", |e| matches!(e, Event::Close(..)).then_some(()));
    let (_d, response) = exchange(&server, &upgrade_request("/", &[]));
    assert_eq!(response.status, 101);
}

#[test]
fn response_reaches_a_client_that_half_closed_after_its_request() {
    let server = TestServer::start(config(), Stalling(Pages));
    let mut client = RawClient::connect(server.addr);
    // While the loop is busy, the request and the FIN arrive together.
    let _stall = stall_server(server.addr);
    client.send(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    client.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"page /x");
}

#[test]
fn error_response_reaches_a_client_that_half_closed_after_its_request() {
    let server = TestServer::start(config(), Stalling(Quiet));
    let mut client = RawClient::connect(server.addr);
    let _stall = stall_server(server.addr);
    client.send(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n");
    client.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let response = client.read_response();
    assert_eq!(response.status, 505);
}
