//! Who may use the hub: other sites' pages (`Origin`, CORS) and, with an authorizer,
//! access tokens — through `HubServer` in memory, so each refusal is shown to leave the
//! channels untouched.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use pushwire::Config;
use pushwire::auth::token::{Claims, Pattern, Secret, mint};
use pushwire::http::origin::AllowedOrigins;
use pushwire::hub::access::TokenAuthorizer;
use pushwire::hub::{HubConfig, HubServer};
use pushwire::pair::ServerPair;
use support::*;

type Pair = ServerPair<Recording<HubServer>>;

const HOST: &str = "hub.test:8080";

fn hub(allowed: AllowedOrigins) -> Pair {
    let mut c = config();
    c.allowed_origins = allowed;
    hub_with(c)
}

fn hub_with(c: Config) -> Pair {
    let mut h = HubConfig::default();
    h.max_poll_timeout = Duration::from_secs(60);
    memory_server(c, HubServer::new(h)).0
}

/// One request on a fresh connection, with `fields` (each ending in CRLF).
fn request(pair: &mut Pair, method: &str, target: &str, fields: &str, body: &str) -> HttpResponse {
    let mut client = Client::connect(pair);
    let raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: {HOST}\r\n{fields}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    client.send(pair, raw.as_bytes());
    client.response(pair)
}

fn origin(o: &str) -> String {
    format!("Origin: {o}\r\n")
}

/// How many messages channel `name` holds, asked without an `Origin`.
fn retained(pair: &mut Pair, name: &str) -> usize {
    retained_asking(pair, &format!("/channels/{name}?since=0&timeout=0"))
}

/// How many messages the poll `target` answers with (`204`: none).
fn retained_asking(pair: &mut Pair, target: &str) -> usize {
    let response = request(pair, "GET", target, "", "");
    match response.status {
        204 => 0,
        200 => {
            let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            body["messages"].as_array().unwrap().len()
        }
        other => panic!("poll answered {other}: {response:?}"),
    }
}

// ===== Origin =====

#[test]
fn another_sites_publish_is_403_whatever_its_content_type_and_publishes_nothing() {
    let mut pair = hub(AllowedOrigins::SameOrigin);
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let fields = format!(
            "{}Content-Type: {content_type}\r\n",
            origin("https://evil.example")
        );
        let response = request(&mut pair, "POST", "/channels/room", &fields, "forged");
        assert_eq!(response.status, 403, "{response:?}");
        assert_eq!(response.header("Access-Control-Allow-Origin"), None);
        assert!(String::from_utf8_lossy(&response.body).contains("origin not allowed"));
    }
    assert_eq!(retained(&mut pair, "room"), 0);
}

#[test]
fn another_sites_websocket_subscription_is_403() {
    let mut pair = hub(AllowedOrigins::SameOrigin);
    let mut client = Client::connect(&mut pair);
    let upgrade = upgrade_request("/channels/room", &["Origin: https://evil.example"]);
    client.send(&mut pair, upgrade.as_bytes());
    assert_eq!(client.response(&mut pair).status, 403);
}

#[test]
fn the_servers_own_pages_and_clients_without_origin_publish() {
    let mut pair = hub(AllowedOrigins::SameOrigin);
    let own = request(
        &mut pair,
        "POST",
        "/channels/room",
        &origin("http://hub.test:8080"),
        "a",
    );
    assert_eq!(own.status, 201, "{own:?}");
    assert_eq!(
        own.header("Access-Control-Allow-Origin"),
        None,
        "same origin needs no CORS"
    );
    let curl = request(&mut pair, "POST", "/channels/room", "", "b");
    assert_eq!(curl.status, 201);
    assert_eq!(retained(&mut pair, "room"), 2);
}

#[test]
fn another_sites_poll_is_answered_without_cors_fields_so_its_page_cannot_read_it() {
    let mut pair = hub(AllowedOrigins::SameOrigin);
    request(&mut pair, "POST", "/channels/room", "", "secret");
    let fields = origin("https://evil.example");
    let response = request(
        &mut pair,
        "GET",
        "/channels/room?since=0&timeout=0",
        &fields,
        "",
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Access-Control-Allow-Origin"), None);
}

// ===== CORS for allowed origins =====

#[test]
fn an_allowed_site_publishes_and_reads_with_its_origin_echoed() {
    let mut pair = hub(AllowedOrigins::List(vec!["https://app.example".into()]));
    let fields = origin("https://app.example");
    let published = request(&mut pair, "POST", "/channels/room", &fields, "hi");
    assert_eq!(published.status, 201);
    assert_eq!(
        published.header("Access-Control-Allow-Origin"),
        Some("https://app.example")
    );
    assert_eq!(published.header("Vary"), Some("Origin"));
    assert_eq!(
        published.header("Access-Control-Expose-Headers"),
        Some("WWW-Authenticate, Retry-After")
    );
    let polled = request(
        &mut pair,
        "GET",
        "/channels/room?since=0&timeout=0",
        &fields,
        "",
    );
    assert_eq!(polled.status, 200);
    assert_eq!(
        polled.header("Access-Control-Allow-Origin"),
        Some("https://app.example")
    );
    // A hub error is readable too: the page can show why.
    let bad = request(&mut pair, "GET", "/channels/room?since=x", &fields, "");
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.header("Access-Control-Allow-Origin"),
        Some("https://app.example")
    );
}

#[test]
fn a_parked_poll_of_an_allowed_site_is_answered_by_a_publish_with_its_cors_fields() {
    let mut pair = hub(AllowedOrigins::List(vec!["https://app.example".into()]));
    // Two parked polls, one from the allowed site and one from a program: one publish
    // answers both, each with the fields its own request needs.
    let mut page = Client::connect(&mut pair);
    let poll = format!(
        "GET /channels/room?timeout=30 HTTP/1.1\r\nHost: {HOST}\r\n{}\r\n",
        origin("https://app.example")
    );
    page.send(&mut pair, poll.as_bytes());
    let mut program = Client::connect(&mut pair);
    let poll = format!("GET /channels/room?timeout=30 HTTP/1.1\r\nHost: {HOST}\r\n\r\n");
    program.send(&mut pair, poll.as_bytes());
    assert!(page.try_response(&mut pair).is_none(), "parked");
    assert_eq!(
        request(&mut pair, "POST", "/channels/room", "", "news").status,
        201
    );
    let to_page = page.response(&mut pair);
    assert_eq!(to_page.status, 200);
    assert_eq!(
        to_page.header("Access-Control-Allow-Origin"),
        Some("https://app.example")
    );
    let to_program = program.response(&mut pair);
    assert_eq!(to_program.status, 200);
    assert_eq!(to_program.header("Access-Control-Allow-Origin"), None);
    assert_eq!(to_page.body, to_program.body);
}

#[test]
fn a_preflight_from_an_allowed_site_says_what_it_may_send() {
    let mut pair = hub(AllowedOrigins::List(vec!["https://app.example".into()]));
    let fields = format!(
        "{}Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\n",
        origin("https://app.example")
    );
    let response = request(&mut pair, "OPTIONS", "/channels/room", &fields, "");
    assert_eq!(response.status, 204, "{response:?}");
    assert_eq!(
        response.header("Access-Control-Allow-Origin"),
        Some("https://app.example")
    );
    assert_eq!(
        response.header("Access-Control-Allow-Methods"),
        Some("GET, HEAD, POST")
    );
    assert_eq!(
        response.header("Access-Control-Allow-Headers"),
        Some("Authorization, Content-Type, Last-Event-ID")
    );
    assert_eq!(response.header("Access-Control-Max-Age"), Some("600"));
    assert_eq!(response.header("Vary"), Some("Origin"));
    let fields = format!(
        "{}Access-Control-Request-Method: POST\r\n",
        origin("https://evil.example")
    );
    assert_eq!(
        request(&mut pair, "OPTIONS", "/channels/room", &fields, "").status,
        403
    );
}

#[test]
fn any_origin_lets_every_site_publish() {
    let mut pair = hub(AllowedOrigins::Any);
    let response = request(
        &mut pair,
        "POST",
        "/channels/room",
        &origin("https://anyone.example"),
        "x",
    );
    assert_eq!(response.status, 201);
    assert_eq!(
        response.header("Access-Control-Allow-Origin"),
        Some("https://anyone.example")
    );
    assert_eq!(retained(&mut pair, "room"), 1);
}

// ===== subprotocol =====

#[test]
fn a_subscriber_offering_the_pushwire_subprotocol_gets_it_selected() {
    let mut pair = hub(AllowedOrigins::SameOrigin);
    let mut client = Client::connect(&mut pair);
    let upgrade = upgrade_request(
        "/channels/room",
        &["Sec-WebSocket-Protocol: chat, pushwire"],
    );
    client.send(&mut pair, upgrade.as_bytes());
    let response = client.response(&mut pair);
    assert_eq!(response.status, 101);
    assert_eq!(response.header("Sec-WebSocket-Protocol"), Some("pushwire"));
    // Offering nothing gets nothing, as before.
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, upgrade_request("/channels/room", &[]).as_bytes());
    let response = client.response(&mut pair);
    assert_eq!(response.status, 101);
    assert_eq!(response.header("Sec-WebSocket-Protocol"), None);
}

// ===== access tokens =====

const SECRET: &[u8] = b"a test secret of enough bytes";
/// The virtual wall clock of these tests: 2026-12-01T00:00:00Z.
const NOW: u64 = 1_796_083_200;

fn secret() -> Secret {
    Secret::new(SECRET).unwrap()
}

fn guarded() -> Pair {
    let mut h = HubConfig::default();
    h.max_poll_timeout = Duration::from_secs(60);
    let server = HubServer::new(h).with_authorizer(TokenAuthorizer::new(secret()));
    let mut pair = memory_server(config(), server).0;
    pair.set_wall_time(UNIX_EPOCH + Duration::from_secs(NOW));
    pair
}

/// A token valid for an hour with these patterns.
fn token(publish: &[&str], subscribe: &[&str]) -> String {
    token_until(NOW + 3600, publish, subscribe)
}

fn token_until(expires: u64, publish: &[&str], subscribe: &[&str]) -> String {
    let patterns = |list: &[&str]| list.iter().map(|p| Pattern::parse(p).unwrap()).collect();
    let claims = Claims {
        expires,
        publish: patterns(publish),
        subscribe: patterns(subscribe),
    };
    mint(&secret(), &claims)
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

fn body_text(response: &HttpResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// `retained`, for a guarded hub: asks with a token that may read everything.
fn retained_guarded(pair: &mut Pair, name: &str) -> usize {
    let target = format!(
        "/channels/{name}?since=0&timeout=0&token={}",
        token(&[], &["*"])
    );
    retained_asking(pair, &target)
}

#[test]
fn without_a_token_publish_poll_and_subscribe_are_401_with_a_bearer_challenge() {
    let mut pair = guarded();
    for (method, target) in [
        ("POST", "/channels/room"),
        ("GET", "/channels/room?timeout=0"),
    ] {
        let response = request(&mut pair, method, target, "", "x");
        assert_eq!(response.status, 401, "{method}: {response:?}");
        assert_eq!(
            response.header("WWW-Authenticate"),
            Some("Bearer realm=\"pushwire\", error=\"invalid_token\"")
        );
        assert!(
            body_text(&response).contains("a token is required"),
            "{response:?}"
        );
        assert_eq!(response.header("Connection"), None, "the connection stays");
    }
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, upgrade_request("/channels/room", &[]).as_bytes());
    assert_eq!(client.response(&mut pair).status, 401);
    assert_eq!(retained_guarded(&mut pair, "room"), 0);
}

#[test]
fn a_token_with_the_right_publishes_and_reads_from_the_header_or_the_query() {
    let mut pair = guarded();
    let t = token(&["room"], &["room"]);
    let response = request(
        &mut pair,
        "POST",
        "/channels/room",
        &bearer(&t),
        "by header",
    );
    assert_eq!(response.status, 201, "{response:?}");
    let target = format!("/channels/room?token={t}");
    assert_eq!(
        request(&mut pair, "POST", &target, "", "by query").status,
        201
    );
    let target = format!("/channels/room?since=0&timeout=0&token={t}");
    let polled = request(&mut pair, "GET", &target, "", "");
    assert_eq!(polled.status, 200);
    assert!(body_text(&polled).contains("by query"));
}

#[test]
fn a_valid_token_without_the_right_is_403_and_publishes_nothing() {
    let mut pair = guarded();
    let cases = [
        (
            "POST",
            token(&[], &["room"]),
            "a subscriber's token cannot publish",
        ),
        (
            "POST",
            token(&["lobby", "room.*"], &[]),
            "another channel, a prefix that does not match",
        ),
        (
            "GET",
            token(&["room"], &[]),
            "a publisher's token cannot read",
        ),
    ];
    for (method, t, why) in cases {
        let target = if method == "GET" {
            "/channels/room?timeout=0"
        } else {
            "/channels/room"
        };
        let response = request(&mut pair, method, target, &bearer(&t), "x");
        assert_eq!(response.status, 403, "{why}: {response:?}");
        assert_eq!(
            response.header("WWW-Authenticate"),
            Some("Bearer realm=\"pushwire\", error=\"insufficient_scope\"")
        );
        assert!(
            body_text(&response).contains("does not allow"),
            "{why}: {response:?}"
        );
    }
    assert_eq!(retained_guarded(&mut pair, "room"), 0);
    // A prefix pattern and the star do match.
    let t = token(&["ro*"], &[]);
    assert_eq!(
        request(&mut pair, "POST", "/channels/room", &bearer(&t), "x").status,
        201
    );
}

#[test]
fn every_broken_token_is_401_with_a_reason_and_publishes_nothing() {
    let mut pair = guarded();
    let good = token(&["room"], &["room"]);
    let (claims, signature) = good.split_once('.').unwrap();
    let flipped = |s: &str| {
        let mut b = s.as_bytes().to_vec();
        b[2] = if b[2] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    let other_secret = {
        let claims = Claims {
            expires: NOW + 3600,
            publish: vec![Pattern::parse("room").unwrap()],
            subscribe: vec![],
        };
        mint(
            &Secret::new(&b"another secret, also long"[..]).unwrap(),
            &claims,
        )
    };
    let cases = [
        ("expired", token_until(NOW, &["room"], &[]), "expired"),
        (
            "bad signature",
            format!("{claims}.{}", flipped(signature)),
            "signature",
        ),
        (
            "altered claims",
            format!("{}.{signature}", flipped(claims)),
            "",
        ),
        ("another secret", other_secret, "signature"),
        ("truncated", good[..good.len() - 5].to_string(), ""),
        ("no dot", claims.to_string(), ""),
        ("not base64", format!("{claims}.!!!!"), ""),
        ("huge", "A".repeat(5000), ""),
        ("empty", String::new(), ""),
    ];
    for (what, t, says) in cases {
        let response = request(&mut pair, "POST", "/channels/room", &bearer(&t), "x");
        assert_eq!(response.status, 401, "{what}: {response:?}");
        let text = body_text(&response);
        assert!(
            text.starts_with("401 Unauthorized\nbad token: "),
            "{what}: {text}"
        );
        assert!(text.contains(says), "{what}: {text}");
        assert!(
            t.len() < 8 || !text.contains(&t),
            "{what}: the body repeats the token"
        );
    }
    assert_eq!(retained_guarded(&mut pair, "room"), 0);
}

#[test]
fn a_token_expires_on_the_wall_clock() {
    let mut pair = guarded();
    let t = token_until(NOW + 60, &["room"], &[]);
    assert_eq!(
        request(&mut pair, "POST", "/channels/room", &bearer(&t), "x").status,
        201
    );
    pair.advance(Duration::from_secs(60));
    let response = request(&mut pair, "POST", "/channels/room", &bearer(&t), "y");
    assert_eq!(response.status, 401, "{response:?}");
    assert!(body_text(&response).contains("expired"));
}

#[test]
fn two_tokens_in_one_request_are_400() {
    let mut pair = guarded();
    let t = token(&["room"], &[]);
    let target = format!("/channels/room?token={t}");
    let response = request(&mut pair, "POST", &target, &bearer(&t), "x");
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(retained_guarded(&mut pair, "room"), 0);
}

#[test]
fn a_websocket_offers_its_token_as_a_bearer_subprotocol_and_gets_pushwire_selected() {
    let mut pair = guarded();
    let t = token(&[], &["room"]);
    let mut subscriber = Client::connect(&mut pair);
    let protocols = format!("Sec-WebSocket-Protocol: pushwire, bearer.{t}");
    subscriber.send(
        &mut pair,
        upgrade_request("/channels/room", &[&protocols]).as_bytes(),
    );
    let response = subscriber.response(&mut pair);
    assert_eq!(response.status, 101, "{response:?}");
    assert_eq!(response.header("Sec-WebSocket-Protocol"), Some("pushwire"));
    let publisher = token(&["room"], &[]);
    assert_eq!(
        request(
            &mut pair,
            "POST",
            "/channels/room",
            &bearer(&publisher),
            "hi"
        )
        .status,
        201
    );
    let frame = subscriber.frame(&mut pair);
    assert!(
        String::from_utf8_lossy(&frame.payload).contains("\"hi\""),
        "{frame:?}"
    );
    // Its token only lets it listen: a message it sends ends the connection with 1008
    // and is not published.
    subscriber.send(&mut pair, &client_frame(true, 1, b"not allowed"));
    assert_eq!(
        subscriber.close_frame(&mut pair).map(|(code, _)| code),
        Some(1008)
    );
    assert_eq!(retained_guarded(&mut pair, "room"), 1);
}

#[test]
fn a_websocket_with_a_token_for_another_channel_is_refused_with_403() {
    let mut pair = guarded();
    let t = token(&[], &["lobby"]);
    let mut client = Client::connect(&mut pair);
    let protocols = format!("Sec-WebSocket-Protocol: pushwire, bearer.{t}");
    client.send(
        &mut pair,
        upgrade_request("/channels/room", &[&protocols]).as_bytes(),
    );
    assert_eq!(client.response(&mut pair).status, 403);
}
