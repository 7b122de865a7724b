//! Who may use the hub: other sites' pages (`Origin`, CORS) and, with an authorizer,
//! access tokens — through `HubServer` in memory, so each refusal is shown to leave the
//! channels untouched.

mod support;

use std::time::Duration;

use pushwire::Config;
use pushwire::http::origin::AllowedOrigins;
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
    let response = request(
        pair,
        "GET",
        &format!("/channels/{name}?since=0&timeout=0"),
        "",
        "",
    );
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
