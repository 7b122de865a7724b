//! The WebSocket opening handshake (RFC 6455 §4.2), in memory: what the server answers to
//! good and bad upgrade requests, byte for byte where it matters — the accept value, the
//! refusals and their statuses, the body rule (RFC 9112 §6.3), subprotocols, the
//! handler's own refusal, origins — and that an open WebSocket has no HTTP deadline.

mod support;

use std::time::Duration;

use pushwire::http::origin::AllowedOrigins;
use pushwire::pair::ServerPair;
use pushwire::ws::client_handshake::ClientHandshakeError;
use pushwire::ws::handshake::UpgradeRequest;
use pushwire::{Config, ConnId, Context, Handler, Response, StatusCode, Upgrade};
use support::*;

/// Connects, sends `request`, and reads the response.
fn exchange<H: Handler>(pair: &mut ServerPair<H>, request: &str) -> (Client, HttpResponse) {
    let mut client = Client::connect(pair);
    client.send(pair, request.as_bytes());
    let response = client.response(pair);
    (client, response)
}

/// The contract of every error response: `Connection: close`, a `Content-Length` that
/// matches the body, a body that says what went wrong, and the server closing the
/// connection after it.
fn assert_error_response<H: Handler>(
    pair: &mut ServerPair<H>,
    client: &mut Client,
    response: &HttpResponse,
    status: u16,
) {
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
    client.nothing(pair);
    assert!(client.server_finished(pair), "the server closes");
}

/// Sends `request` to an echo server with `config`: it must be refused with `status`,
/// never reaching the handler — neither as an upgrade nor as a plain request.
fn expect_refusal(config: Config, request: &str, status: u16) -> HttpResponse {
    let (mut pair, events) = memory_server(config, Echo);
    let (mut client, response) = exchange(&mut pair, request);
    assert_error_response(&mut pair, &mut client, &response, status);
    events.assert_none("handler callback for a refused handshake", |e| {
        matches!(
            e,
            Event::Upgrade(..) | Event::Open(_) | Event::Request { .. }
        )
    });
    response
}

#[test]
fn valid_handshake_gets_101_with_the_rfc_accept_value() {
    let (mut pair, mut events) = memory_server(config(), Echo);
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, upgrade_request("/chat", &[]).as_bytes());
    let response = client.response(&mut pair);
    assert_eq!(
        response.status_line, "HTTP/1.1 101 Switching Protocols",
        "{response:?}"
    );
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
    let upgraded = events.expect("on_upgrade", |e| match e {
        Event::Upgrade(conn, target) => Some((*conn, target.clone())),
        _ => None,
    });
    assert_eq!(upgraded.1, "/chat");
    assert_eq!(events.open(), upgraded.0);
    // It is a WebSocket now.
    client.send(&mut pair, &client_frame(true, OP_TEXT, b"framed"));
    let echoed = client.frame(&mut pair);
    assert_eq!(
        (echoed.opcode, echoed.payload),
        (OP_TEXT, b"framed".to_vec())
    );
}

/// Accepts `/live?room=7` only; anything else gets 404.
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

#[test]
fn handler_sees_the_path_and_query_of_the_handshake() {
    let mut pair = ServerPair::new(config(), PathCheck).unwrap();
    // A real client's handshake: it checks the 101 and the accept value itself.
    assert!(pair.ws_connect("/live?room=7").is_ok());
    assert_eq!(
        pair.ws_connect("/elsewhere").unwrap_err(),
        ClientHandshakeError::NotSwitchingProtocols(404)
    );
    assert_eq!(
        pair.ws_connect("/live?room=8").unwrap_err(),
        ClientHandshakeError::NotSwitchingProtocols(404)
    );
}

#[test]
fn bytes_after_the_handshake_in_the_same_write_are_read_as_frames() {
    let (mut pair, _events) = memory_server(config(), Echo);
    let mut client = Client::connect(&mut pair);
    let mut bytes = upgrade_request("/", &[]).into_bytes();
    bytes.extend(client_frame(true, OP_TEXT, b"eager"));
    client.send(&mut pair, &bytes);
    assert_eq!(client.response(&mut pair).status, 101);
    assert_eq!(client.frame(&mut pair).payload, b"eager");
}

#[test]
fn connection_header_with_several_tokens_is_accepted() {
    for connection in [
        "Connection: keep-alive, Upgrade\r\n",
        "Connection: keep-alive\r\nConnection: Upgrade\r\n",
    ] {
        let (mut pair, _events) = memory_server(config(), Echo);
        let request = upgrade_request("/", &[]).replace("Connection: Upgrade\r\n", connection);
        let (_client, response) = exchange(&mut pair, &request);
        assert_eq!(response.status, 101, "{connection:?}: {response:?}");
    }
}

#[test]
fn upgrade_and_connection_tokens_are_case_insensitive() {
    let (mut pair, _events) = memory_server(config(), Echo);
    let request = upgrade_request("/", &[])
        .replace("Upgrade: websocket", "upgrade: WebSocket")
        .replace("Connection: Upgrade", "connection: upgrade");
    let (_client, response) = exchange(&mut pair, &request);
    assert_eq!(response.status, 101, "{response:?}");
}

// ===== refusals =====

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
    // RFC 6455 §4.1: the handshake is a GET without a body; the bytes after its head are
    // the WebSocket's.
    for (framing, body) in [
        ("Content-Length: 4", "body"),
        ("Content-Length: 1", "x"),
        ("Transfer-Encoding: chunked", "0\r\n\r\n"),
    ] {
        let request = upgrade_request("/", &[framing]) + body;
        expect_refusal(config(), &request, 400);
    }
}

#[test]
fn upgrade_without_content_length_or_with_a_zero_length_in_any_spelling_gets_the_same_101() {
    // RFC 9112 §6.3: `Content-Length: 0`, `00` and `000` are the same length as no
    // Content-Length at all — no body — so all four get the same answer, and the bytes
    // after the head are frames.
    let mut answers = Vec::new();
    for extra in [
        &[][..],
        &["Content-Length: 0"],
        &["Content-Length: 00"],
        &["Content-Length: 000"],
    ] {
        let (mut pair, mut events) = memory_server(config(), Echo);
        let mut client = Client::connect(&mut pair);
        let mut bytes = upgrade_request("/", extra).into_bytes();
        bytes.extend(client_frame(true, OP_TEXT, b"after"));
        client.send(&mut pair, &bytes);
        let raw = pair.received(client.peer);
        let (response, len) = parse_response_head(&raw).expect("a response");
        assert_eq!(response.status, 101, "{extra:?}: {response:?}");
        events.open();
        let (echoed, _) = parse_frame(&raw[len..]).expect("the frame was echoed");
        assert_eq!(echoed.payload, b"after", "{extra:?}");
        answers.push(raw[..len].to_vec());
    }
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "the same answer, byte for byte"
    );
}

// ===== subprotocols =====

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
    let (mut pair, mut events) = memory_server(config(), Choose("chat"));
    // The offer in two fields, one of them a list.
    let request = upgrade_request(
        "/",
        &[
            "Sec-WebSocket-Protocol: superchat, chat",
            "Sec-WebSocket-Protocol: v2.json",
        ],
    );
    let (_client, response) = exchange(&mut pair, &request);
    assert_eq!(response.status, 101);
    assert_eq!(response.header("Sec-WebSocket-Protocol"), Some("chat"));
    assert_eq!(response.header_count("Sec-WebSocket-Protocol"), 1);
    events.open();
}

#[test]
fn subprotocol_not_offered_is_not_sent() {
    let (mut pair, _events) = memory_server(config(), Choose("other"));
    let request = upgrade_request("/", &["Sec-WebSocket-Protocol: superchat, chat, v2.json"]);
    let (_client, response) = exchange(&mut pair, &request);
    assert_eq!(response.status, 101);
    assert_eq!(response.header("Sec-WebSocket-Protocol"), None);
}

#[test]
fn subprotocol_matching_is_case_sensitive() {
    let (mut pair, _events) = memory_server(config(), Choose("CHAT"));
    let request = upgrade_request("/", &["Sec-WebSocket-Protocol: superchat, chat, v2.json"]);
    let (_client, response) = exchange(&mut pair, &request);
    assert_eq!(response.status, 101);
    assert_eq!(response.header("Sec-WebSocket-Protocol"), None);
}

// ===== the handler's refusal =====

/// Refuses every upgrade with 401.
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

#[test]
fn handler_can_refuse_an_upgrade_with_its_own_response() {
    let (mut pair, mut events) = memory_server(config(), Refuse);
    let mut bytes = upgrade_request("/", &[]).into_bytes();
    // A frame right behind the refused handshake is never read as one.
    bytes.extend(client_frame(true, OP_TEXT, b"too early"));
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, &bytes);
    let response = client.response(&mut pair);
    assert!(String::from_utf8_lossy(&response.body).contains("log in first"));
    assert_error_response(&mut pair, &mut client, &response, 401);
    events.expect("on_upgrade", |e| match e {
        Event::Upgrade(..) => Some(()),
        _ => None,
    });
    events.assert_none("a WebSocket for a refused upgrade", |e| {
        matches!(e, Event::Open(_) | Event::Message(..) | Event::Close(..))
    });
}

// ===== origins =====

fn origin_config() -> Config {
    let mut config = config();
    config.allowed_origins = AllowedOrigins::List(vec!["https://good.example".to_string()]);
    config
}

#[test]
fn allowed_origin_is_accepted() {
    let (mut pair, _events) = memory_server(origin_config(), Echo);
    for origin in ["https://good.example", "HTTPS://Good.Example"] {
        let request = upgrade_request("/", &[&format!("Origin: {origin}")]);
        let (_client, response) = exchange(&mut pair, &request);
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
    let (mut pair, _events) = memory_server(origin_config(), Echo);
    let (_client, response) = exchange(&mut pair, &upgrade_request("/", &[]));
    assert_eq!(response.status, 101);
}

// ===== deadlines =====

#[test]
fn websocket_is_not_subject_to_the_request_or_idle_deadline_once_open() {
    let mut c = config();
    c.request_timeout = Duration::from_secs(2);
    c.idle_timeout = Duration::from_secs(1);
    let (mut pair, _events) = memory_server(c, Echo);
    // The handshake is a request: not complete in time, it gets 408.
    let mut slow = Client::connect(&mut pair);
    slow.send(
        &mut pair,
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: web",
    );
    let mut open = Client::upgrade(&mut pair, "/");
    pair.advance(Duration::from_secs(2));
    let response = slow.response(&mut pair);
    assert_error_response(&mut pair, &mut slow, &response, 408);
    // The open WebSocket, silent as long, is not touched, and not later either.
    pair.advance(Duration::from_secs(600));
    open.nothing(&mut pair);
    assert!(!open.server_finished(&pair));
    open.send(&mut pair, &client_frame(true, OP_TEXT, b"still here"));
    assert_eq!(open.frame(&mut pair).payload, b"still here");
}

// ===== the resource name, extensions, bytes that are not text =====

#[test]
fn absolute_form_handshake_target_is_routed_by_its_resource_name() {
    // RFC 6455 §4.2.1 item 1: the Request-URI is a /resource name/ "(or an absolute
    // HTTP/HTTPS URI containing the /resource name/)"; RFC 9112 §3.2.2.
    let (mut pair, mut events) = memory_server(config(), PathCheck);
    let request = upgrade_request("http://127.0.0.1/live?room=7", &[]);
    let (mut client, response) = exchange(&mut pair, &request);
    assert_eq!(response.status, 101, "{response:?}");
    assert_eq!(response.header("Sec-WebSocket-Accept"), Some(SAMPLE_ACCEPT));
    events.open();
    // And a resource the handler does not serve is refused the same way as in origin-form.
    let request = upgrade_request("http://127.0.0.1/live?room=8", &[]);
    let (mut refused, response) = exchange(&mut pair, &request);
    assert_error_response(&mut pair, &mut refused, &response, 404);
    client.nothing(&mut pair);
}

#[test]
fn offered_extensions_are_never_accepted_so_rsv1_still_fails_the_connection() {
    // RFC 6455 §4.2.2 /extensions/ and §9: "A server MUST NOT respond with any extension
    // not requested by the client"; this server accepts none of those requested, so the
    // RSV bits stay reserved (§5.2, §5.8).
    let (mut pair, mut events) = memory_server(config(), Echo);
    let request = upgrade_request(
        "/",
        &[
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            "Sec-WebSocket-Extensions: x-webkit-deflate-frame",
        ],
    );
    let (mut client, response) = exchange(&mut pair, &request);
    assert_eq!(response.status, 101, "{response:?}");
    assert_eq!(response.header_count("Sec-WebSocket-Extensions"), 0);
    let conn = events.open();
    // A "compressed" frame (RSV1, as permessage-deflate would set it) is a protocol error.
    client.send(
        &mut pair,
        &frame_with(true, 0b100, OP_TEXT, b"deflated?", Some(MASK)),
    );
    assert_eq!(client.close_frame(&mut pair).map(|(c, _)| c), Some(1002));
    assert_eq!(events.close(conn).code.as_u16(), 1002);
}

#[test]
fn websocket_key_that_is_not_ascii_is_refused_with_400() {
    // RFC 6455 §8.1 applies "during the opening handshake": a key that is not even text
    // is refused, never decoded. (24 bytes, like a valid key, but 0xC3 0xA9 is "é".)
    let request = upgrade_request("/", &[]).replace(SAMPLE_KEY, "dGhlIHNhbXBsZSBub25jZ\u{e9}=");
    assert!(!request.is_ascii());
    expect_refusal(config(), &request, 400);
}

#[test]
fn malformed_extension_offer_fails_the_handshake() {
    // RFC 6455 §9.1: "If a value is received by either the client or the server during
    // negotiation that does not conform to the ABNF below, the recipient of such
    // malformed data MUST immediately _Fail the WebSocket Connection_."
    for offer in [
        "Sec-WebSocket-Extensions: ;",
        "Sec-WebSocket-Extensions: deflate; =1",
        "Sec-WebSocket-Extensions: a b",
    ] {
        expect_refusal(config(), &upgrade_request("/", &[offer]), 400);
    }
}
