//! The pub/sub hub (`HubServer`, the program behind `pushwire serve`), in memory on the
//! virtual clock: long-polls answered at once, parked and woken by publishes over POST
//! and WebSocket, timeouts (exactly at their deadline), `since` and `missed`, validation,
//! the fixed routes, JSON escaping end to end, and a slow WebSocket subscriber paused and
//! resumed. One test, at the end, runs the `pushwire serve` binary over loopback.

mod support;

use std::time::{Duration, Instant};

use pushwire::hub::{HubConfig, HubServer};
use pushwire::pair::{OwnedEvent, Peer, ServerPair};
use pushwire::{CloseCode, Config, Message};
use serde_json::Value;
use support::*;

type Pair = ServerPair<Recording<HubServer>>;

/// The hub's settings in these tests: `history` messages per channel, a 25 s default poll
/// timeout and a 60 s maximum.
fn hub_config(history: usize) -> HubConfig {
    let mut h = HubConfig::default();
    h.history = history;
    h.default_poll_timeout = Duration::from_secs(25);
    h.max_poll_timeout = Duration::from_secs(60);
    h
}

fn hub(history: usize) -> (Pair, Events) {
    hub_with(config(), hub_config(history))
}

fn hub_with(config: Config, h: HubConfig) -> (Pair, Events) {
    memory_server(config, HubServer::new(h))
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(bytes)))
}

/// `GET target` on a fresh connection.
fn get(pair: &mut Pair, target: &str) -> HttpResponse {
    Client::connect(pair).get(pair, target)
}

/// `POST target` with `body` on a fresh connection.
fn post(pair: &mut Pair, target: &str, body: &[u8]) -> HttpResponse {
    Client::connect(pair).post(pair, target, body)
}

/// A publisher's answer: asserts `201 {"id":N,"epoch":"E"}` and returns N.
fn published_id(response: &HttpResponse) -> u64 {
    assert_eq!(response.status, 201, "{response:?}");
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    let body = json(&response.body);
    let id = body["id"].as_u64().expect("{\"id\":N}");
    assert_epoch(&body);
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    id
}

/// `value["epoch"]` is an epoch: 11 URL-safe base64 characters. Returns it.
fn assert_epoch(value: &Value) -> String {
    let epoch = value["epoch"].as_str().expect("an epoch");
    assert_eq!(epoch.len(), 11, "{value}");
    assert!(
        epoch
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{value}"
    );
    epoch.to_string()
}

/// `POST /channels/{channel}` on a fresh connection: the new message's id.
fn publish(pair: &mut Pair, channel: &str, data: &str) -> u64 {
    published_id(&post(
        pair,
        &format!("/channels/{channel}"),
        data.as_bytes(),
    ))
}

/// A long-poll answer: the (id, data) pairs, `next`, and `missed` (0 when absent).
#[derive(Debug, PartialEq)]
struct Batch {
    messages: Vec<(u64, String)>,
    next: u64,
    missed: u64,
}

/// A long-poll answer of the stream the client is in (no reset).
fn batch(response: &HttpResponse) -> Batch {
    let body = json(&response.body);
    assert!(body.get("reset").is_none(), "{body}");
    any_batch(response)
}

/// A long-poll answer, reset or not.
fn any_batch(response: &HttpResponse) -> Batch {
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.content_length(), Some(response.body.len()));
    let body = json(&response.body);
    assert_epoch(&body);
    let messages = body["messages"]
        .as_array()
        .expect("messages array")
        .iter()
        .map(|m| {
            (
                m["id"].as_u64().expect("id"),
                m["data"].as_str().expect("data").to_string(),
            )
        })
        .collect();
    let missed = match body.get("missed") {
        None => 0,
        Some(k) => {
            let k = k.as_u64().expect("missed is a number");
            assert!(k > 0, "missed is only present when something was missed");
            k
        }
    };
    Batch {
        messages,
        next: body["next"].as_u64().expect("next"),
        missed,
    }
}

fn msgs(pairs: &[(u64, &str)]) -> Vec<(u64, String)> {
    pairs.iter().map(|&(i, s)| (i, s.to_string())).collect()
}

/// One subscriber frame `{"id":N,"data":"..."}` as `(id, data)`.
fn frame_message(text: &str) -> (u64, String) {
    let value = json(text.as_bytes());
    assert_eq!(value.as_object().unwrap().len(), 2, "{value}");
    (
        value["id"].as_u64().expect("id"),
        value["data"].as_str().expect("data").to_string(),
    )
}

/// The text messages `peer`'s WebSocket received since the last call (it must still be
/// open, and get nothing but text).
fn ws_texts(pair: &mut Pair, peer: Peer) -> Vec<String> {
    pair.ws_events(peer)
        .into_iter()
        .map(|event| match event {
            OwnedEvent::Message(Message::Text(text)) => text.into_owned(),
            other => panic!("expected a text message, got {other:?}"),
        })
        .collect()
}

/// Opens a WebSocket subscription at `target`; returns it with its first frame
/// (`{"epoch":"E","next":C}`, checked; `Null` for a target without `since`, which gets
/// none) and the replay that followed.
fn subscribe(pair: &mut Pair, target: &str) -> (Peer, Value, Vec<String>) {
    let ws = pair.ws_connect(target).expect("subscribed");
    let mut texts = ws_texts(pair, ws).into_iter().peekable();
    if !target.contains("since=") {
        let first = texts.peek().map(|t| json(t.as_bytes()));
        assert!(
            first.as_ref().is_none_or(|f| f.get("epoch").is_none()),
            "{first:?}"
        );
        return (ws, Value::Null, texts.collect());
    }
    let first = json(texts.next().expect("a first frame").as_bytes());
    assert_epoch(&first);
    assert!(first["next"].is_u64(), "{first}");
    (ws, first, texts.collect())
}

/// The frames `peer`'s WebSocket received since the last call, as `(id, data)`.
fn ws_messages(pair: &mut Pair, peer: Peer) -> Vec<(u64, String)> {
    ws_texts(pair, peer)
        .iter()
        .map(|t| frame_message(t))
        .collect()
}

/// Sends `GET target` on a fresh connection and leaves it waiting.
fn start_poll(pair: &mut Pair, target: &str) -> Client {
    let mut poller = Client::connect(pair);
    poller.send(
        pair,
        format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
    );
    poller
}

/// `poller`'s request is answered `204` exactly `after` from now: not 1 ms before.
fn assert_204_after(pair: &mut Pair, poller: &mut Client, after: Duration) {
    let just_before = after - Duration::from_millis(1);
    pair.advance(just_before);
    poller.nothing(pair);
    pair.advance(after - just_before);
    let response = poller.response(pair);
    assert_eq!(response.status, 204, "{response:?}");
    assert!(response.body.is_empty());
}

// ===== long-polling =====

#[test]
fn long_poll_with_history_is_answered_at_once() {
    let (mut pair, _events) = hub(16);
    assert_eq!(publish(&mut pair, "news", "first"), 1);
    assert_eq!(publish(&mut pair, "news", "second"), 2);
    // No time passes: the answer is there as soon as the request is.
    let response = get(&mut pair, "/channels/news?since=0&timeout=5");
    assert_eq!(
        batch(&response),
        Batch {
            messages: msgs(&[(1, "first"), (2, "second")]),
            next: 2,
            missed: 0
        }
    );
    let response = get(&mut pair, "/channels/news?since=1&timeout=5");
    assert_eq!(batch(&response).messages, msgs(&[(2, "second")]));
    assert_eq!(
        response.header("Cache-Control"),
        Some("no-store"),
        "{response:?}"
    );
}

#[test]
fn parked_long_poll_is_woken_by_a_post_publish() {
    let (mut pair, mut events) = hub(16);
    let mut poller = start_poll(&mut pair, "/channels/room?since=0&timeout=8");
    events.request("/channels/room?since=0");
    poller.nothing(&mut pair);

    assert_eq!(publish(&mut pair, "room", "wake up"), 1);
    assert_eq!(
        batch(&poller.response(&mut pair)),
        Batch {
            messages: msgs(&[(1, "wake up")]),
            next: 1,
            missed: 0
        }
    );
    poller.nothing(&mut pair);
    // Keep-alive: the next poll from `next` on the same connection.
    let response = poller.get(&mut pair, "/channels/room?since=1&timeout=0");
    assert_eq!(response.status, 204);
}

#[test]
fn parked_long_poll_is_woken_by_a_websocket_publish() {
    let (mut pair, mut events) = hub(16);
    let mut poller = start_poll(&mut pair, "/channels/room?since=0&timeout=8");
    events.request("/channels/room?since=0");
    let (ws, _, replay) = subscribe(&mut pair, "/channels/room");
    assert!(replay.is_empty());
    pair.ws_send(ws, &Message::text("from a socket"));
    assert_eq!(
        batch(&poller.response(&mut pair)).messages,
        msgs(&[(1, "from a socket")])
    );
    // The publishing socket is a subscriber too: it gets its own message as a frame.
    assert_eq!(ws_messages(&mut pair, ws), msgs(&[(1, "from a socket")]));
}

#[test]
fn long_poll_timeout_answers_204_at_the_deadline() {
    let (mut pair, _events) = hub(16);
    let mut poller = start_poll(&mut pair, "/channels/quiet?since=0&timeout=0.3");
    assert_204_after(&mut pair, &mut poller, Duration::from_millis(300));
}

#[test]
fn long_poll_without_timeout_uses_the_configured_default() {
    let (mut pair, _events) = hub(16);
    let mut poller = start_poll(&mut pair, "/channels/quiet?since=0");
    assert_204_after(&mut pair, &mut poller, Duration::from_secs(25));
}

#[test]
fn long_poll_timeout_above_the_maximum_is_clamped() {
    let mut h = hub_config(16);
    h.max_poll_timeout = Duration::from_secs(40);
    let (mut pair, _events) = hub_with(config(), h);
    let mut poller = start_poll(&mut pair, "/channels/quiet?since=0&timeout=3600");
    assert_204_after(&mut pair, &mut poller, Duration::from_secs(40));
}

#[test]
fn long_poll_without_since_gets_only_messages_published_after_it_arrived() {
    let (mut pair, mut events) = hub(16);
    publish(&mut pair, "feed", "before");
    let mut poller = start_poll(&mut pair, "/channels/feed?timeout=8");
    events.request("/channels/feed?timeout=8");
    poller.nothing(&mut pair);
    publish(&mut pair, "feed", "after");
    assert_eq!(
        batch(&poller.response(&mut pair)),
        Batch {
            messages: msgs(&[(2, "after")]),
            next: 2,
            missed: 0
        }
    );
    // And with nothing new, no old messages either: 204 at the timeout.
    let mut poller = start_poll(&mut pair, "/channels/feed?timeout=0.3");
    assert_204_after(&mut pair, &mut poller, Duration::from_millis(300));
}

#[test]
fn timeout_zero_is_plain_polling() {
    let (mut pair, _events) = hub(16);
    // No time passes in this test: every answer is immediate.
    let response = get(&mut pair, "/channels/plain?since=0&timeout=0");
    assert_eq!(response.status, 204, "{response:?}");
    publish(&mut pair, "plain", "there now");
    let response = get(&mut pair, "/channels/plain?since=0&timeout=0");
    assert_eq!(batch(&response).messages, msgs(&[(1, "there now")]));
    let response = get(&mut pair, "/channels/plain?since=1&timeout=0");
    assert_eq!(response.status, 204, "{response:?}");
    assert!(response.body.is_empty());
}

#[test]
fn long_poll_after_eviction_reports_missed() {
    let (mut pair, _events) = hub(4);
    for i in 1..=10 {
        assert_eq!(publish(&mut pair, "busy", &format!("m{i}")), i);
    }
    let response = get(&mut pair, "/channels/busy?since=0&timeout=0");
    assert_eq!(
        batch(&response),
        Batch {
            messages: msgs(&[(7, "m7"), (8, "m8"), (9, "m9"), (10, "m10")]),
            next: 10,
            missed: 6
        }
    );
    let response = get(&mut pair, "/channels/busy?since=5&timeout=0");
    assert_eq!(batch(&response).missed, 1);
    let response = get(&mut pair, "/channels/busy?since=6&timeout=0");
    assert_eq!(batch(&response).missed, 0);
    let response = get(&mut pair, "/channels/busy?since=10&timeout=0");
    assert_eq!(response.status, 204);
}

#[test]
fn websocket_subscriber_after_eviction_gets_a_missed_frame_first() {
    let (mut pair, _events) = hub(4);
    for i in 1..=10 {
        publish(&mut pair, "busy", &format!("m{i}"));
    }
    let (ws, first, replay) = subscribe(&mut pair, "/channels/busy?since=0");
    assert_eq!(first["next"], 0);
    assert_eq!(replay.len(), 5, "{replay:?}");
    assert_eq!(json(replay[0].as_bytes()), serde_json::json!({"missed": 6}));
    let retained: Vec<(u64, String)> = replay[1..].iter().map(|t| frame_message(t)).collect();
    assert_eq!(
        retained,
        msgs(&[(7, "m7"), (8, "m8"), (9, "m9"), (10, "m10")])
    );
    // Then live messages.
    publish(&mut pair, "busy", "m11");
    assert_eq!(ws_messages(&mut pair, ws), msgs(&[(11, "m11")]));
}

#[test]
fn websocket_subscriber_without_since_gets_only_new_messages() {
    let (mut pair, _events) = hub(16);
    publish(&mut pair, "live", "old");
    let (ws, first, replay) = subscribe(&mut pair, "/channels/live");
    assert_eq!(replay, Vec::<String>::new());
    assert_eq!(first, Value::Null, "no cursor asked for, none told");
    publish(&mut pair, "live", "new");
    assert_eq!(ws_messages(&mut pair, ws), msgs(&[(2, "new")]));
}

#[test]
fn parked_client_that_hangs_up_breaks_nothing() {
    let (mut pair, mut events) = hub(16);
    let mut poller = start_poll(&mut pair, "/channels/gone?since=0&timeout=8");
    let poll = events.request("/channels/gone");
    assert_eq!(pair.handler().inner().hub().parked_count("gone"), 1);
    poller.finish(&mut pair);
    events.expect("on_request_abandoned", |e| {
        matches!(e, Event::Abandoned(id) if *id == poll).then_some(())
    });
    assert_eq!(pair.handler().inner().hub().parked_count("gone"), 0);

    assert_eq!(publish(&mut pair, "gone", "one"), 1);
    assert_eq!(publish(&mut pair, "gone", "two"), 2);
    let response = get(&mut pair, "/channels/gone?since=0&timeout=5");
    assert_eq!(batch(&response).messages, msgs(&[(1, "one"), (2, "two")]));
    // A new parked poll is still woken.
    let mut poller = start_poll(&mut pair, "/channels/gone?since=2&timeout=8");
    events.request("/channels/gone?since=2");
    poller.nothing(&mut pair);
    publish(&mut pair, "gone", "three");
    assert_eq!(
        batch(&poller.response(&mut pair)).messages,
        msgs(&[(3, "three")])
    );
    assert_eq!(get(&mut pair, "/healthz").body, b"ok");
}

// ===== validation =====

/// A hub error answer: the status, a readable body starting with it, an exact
/// Content-Length.
fn assert_hub_error(response: &HttpResponse, status: u16) {
    assert_eq!(response.status, status, "{response:?}");
    let body = std::str::from_utf8(&response.body).expect("UTF-8 error body");
    assert!(body.starts_with(&status.to_string()), "{body:?}");
    assert!(body.trim().len() > 4, "{body:?}");
    assert_eq!(response.content_length(), Some(response.body.len()));
}

#[test]
fn channel_names_are_validated() {
    let (mut pair, _events) = hub(16);
    let longest = "n".repeat(128);
    let too_long = "n".repeat(129);
    for bad in [
        "",
        too_long.as_str(),
        "bad!char",
        "a/b",
        "sp%20ace",
        "caf\u{e9}",
    ] {
        let target = format!("/channels/{bad}");
        assert_hub_error(&post(&mut pair, &target, b"x"), 400);
        assert_hub_error(&get(&mut pair, &format!("{target}?timeout=0")), 400);
    }
    for good in [longest.as_str(), "A-z_0.9", ".", ".."] {
        assert_eq!(publish(&mut pair, good, "named"), 1, "{good}");
        let response = get(&mut pair, &format!("/channels/{good}?since=0&timeout=0"));
        assert_eq!(batch(&response).messages, msgs(&[(1, "named")]), "{good}");
    }
}

#[test]
fn bad_websocket_channel_name_is_refused_with_400() {
    let (mut pair, _events) = hub(16);
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        upgrade_request("/channels/bad!name", &[]).as_bytes(),
    );
    assert_hub_error(&client.response(&mut pair), 400);
    assert!(client.server_finished(&pair), "a refused upgrade closes");
}

#[test]
fn bad_since_or_timeout_is_400() {
    let (mut pair, _events) = hub(16);
    for query in [
        "since=-1",
        "since=abc",
        "since=",
        "since=1.5",
        "since=99999999999999999999999",
        "since=1&since=2",
        "timeout=abc",
        "timeout=-1",
        "timeout=.5",
        "timeout=1e3",
        "timeout=",
        "timeout=1&timeout=2",
    ] {
        let response = get(&mut pair, &format!("/channels/q?{query}"));
        assert_hub_error(&response, 400);
    }
    // Over WebSocket too (only `since` matters there).
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        upgrade_request("/channels/q?since=x", &[]).as_bytes(),
    );
    assert_hub_error(&client.response(&mut pair), 400);
    // Parameters that are not ours are ignored (cache busters).
    let response = get(&mut pair, "/channels/q?_=1700000000&since=0&timeout=0");
    assert_eq!(response.status, 204);
}

#[test]
fn invalid_utf8_post_body_is_400_and_publishes_nothing() {
    let (mut pair, _events) = hub(16);
    for body in [&b"\xff\xfe"[..], b"ok then \xc3", b"\xed\xa0\x80"] {
        assert_hub_error(&post(&mut pair, "/channels/t", body), 400);
    }
    let response = get(&mut pair, "/channels/t?since=0&timeout=0");
    assert_eq!(response.status, 204);
    assert_eq!(publish(&mut pair, "t", "valid"), 1);
}

#[test]
fn healthz_is_200_ok() {
    let (mut pair, _events) = hub(16);
    let response = get(&mut pair, "/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"ok");
    assert_eq!(response.header("Content-Length"), Some("2"));
}

#[test]
fn root_serves_the_demo_page() {
    let (mut pair, _events) = hub(16);
    let response = get(&mut pair, "/");
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("Content-Type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    let page = String::from_utf8(response.body).expect("UTF-8 page");
    assert!(page.to_ascii_lowercase().contains("<html"), "{page:.200}");
}

#[test]
fn pushwire_js_is_served_as_javascript_revalidated_each_time() {
    let (mut pair, _events) = hub(16);
    let response = get(&mut pair, "/pushwire.js");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(response.header("Cache-Control"), Some("no-cache"));
    let script = String::from_utf8(response.body).expect("UTF-8 script");
    assert!(script.starts_with("/*\n * pushwire.js"), "{script:.200}");
    assert!(
        script.contains("global.Pushwire = Pushwire;"),
        "the global is defined"
    );
    assert_eq!(script, pushwire::hub::server::CLIENT_SCRIPT);
    let response = post(&mut pair, "/pushwire.js", b"");
    assert_hub_error(&response, 405);
    assert_eq!(response.header("Allow"), Some("GET, HEAD"));
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let (mut pair, _events) = hub(16);
    assert_hub_error(&get(&mut pair, "/nowhere"), 404);
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"DELETE /channels/x HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    let response = client.response(&mut pair);
    assert_hub_error(&response, 405);
    assert_eq!(response.header("Allow"), Some("GET, HEAD, POST"));
    let response = post(&mut pair, "/healthz", b"");
    assert_hub_error(&response, 405);
    assert_eq!(response.header("Allow"), Some("GET, HEAD"));
}

#[test]
fn hub_errors_keep_the_connection_and_say_so_nowhere_as_close() {
    // A well-formed request the hub refuses (400, 404, 405, 413 from the hub) leaves
    // the connection usable, as README.md says: the next request on it is answered.
    let mut h = hub_config(16);
    h.max_message = 4;
    let mut c = config();
    c.max_body_bytes = 1024; // the HTTP layer takes it; the hub refuses it
    let (mut pair, _events) = hub_with(c, h);
    let mut client = Client::connect(&mut pair);
    for (request, status) in [
        (
            &b"GET /channels/q?since=x HTTP/1.1\r\nHost: t\r\n\r\n"[..],
            400,
        ),
        (b"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n", 404),
        (b"DELETE /channels/q HTTP/1.1\r\nHost: t\r\n\r\n", 405),
        (
            b"POST /channels/q HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
            413,
        ),
    ] {
        client.send(&mut pair, request);
        let response = client.response(&mut pair);
        assert_hub_error(&response, status);
        assert_eq!(response.header("Connection"), None, "{response:?}");
    }
    assert_eq!(client.get(&mut pair, "/healthz").body, b"ok");
    assert!(!client.server_finished(&pair));
}

#[test]
fn websocket_binary_message_is_closed_with_1003() {
    let (mut pair, _events) = hub(16);
    let (ws, _, _) = subscribe(&mut pair, "/channels/bin");
    pair.ws_send(ws, &Message::binary(&[0u8, 1, 2, 3][..]));
    let closes: Vec<CloseCode> = pair
        .ws_events(ws)
        .into_iter()
        .map(|event| match event {
            OwnedEvent::Closed(close) => close.code,
            other => panic!("expected the close, got {other:?}"),
        })
        .collect();
    assert_eq!(closes, [CloseCode::UNSUPPORTED_DATA]);
    // Nothing was published.
    let response = get(&mut pair, "/channels/bin?since=0&timeout=0");
    assert_eq!(response.status, 204);
}

// ===== JSON escaping =====

const TRICKY: &str = "quote \" backslash \\ slash / newline \n return \r tab \t \
                      ctrl \u{1} nul \u{0} esc \u{1b} del \u{7f} \
                      é 日本 🎉 ls \u{2028} ps \u{2029} end";

#[test]
fn message_text_survives_json_escaping_end_to_end() {
    let (mut pair, _events) = hub(16);
    assert_eq!(publish(&mut pair, "json", TRICKY), 1);
    let (publisher, _, _) = subscribe(&mut pair, "/channels/json");
    pair.ws_send(publisher, &Message::text(TRICKY));
    assert_eq!(ws_messages(&mut pair, publisher), [(2, TRICKY.to_string())]);

    // Long-poll: the raw body is JSON with the hard characters escaped, and parses back
    // to the original text.
    let response = get(&mut pair, "/channels/json?since=0&timeout=0");
    let raw = std::str::from_utf8(&response.body).expect("UTF-8 JSON");
    assert!(
        !raw.contains('\u{2028}') && !raw.contains('\u{2029}'),
        "{raw}"
    );
    assert!(
        !raw.chars().any(|c| c < ' '),
        "JSON forbids raw U+0000..U+001F: {raw:?}"
    );
    assert!(
        raw.contains("é 日本 🎉"),
        "non-ASCII is written as is: {raw}"
    );
    assert_eq!(
        batch(&response).messages,
        vec![(1, TRICKY.to_string()), (2, TRICKY.to_string())]
    );

    // WebSocket replay.
    let (_, _, replay) = subscribe(&mut pair, "/channels/json?since=0");
    for text in &replay {
        assert!(!text.chars().any(|c| c < ' '), "{text:?}");
    }
    let replayed: Vec<(u64, String)> = replay.iter().map(|t| frame_message(t)).collect();
    assert_eq!(
        replayed,
        vec![(1, TRICKY.to_string()), (2, TRICKY.to_string())]
    );
}

// ===== backpressure =====

#[test]
fn slow_websocket_subscriber_is_paused_then_resumed_with_a_missed_count() {
    const N: u64 = 40;
    let mut c = config();
    c.write_buffer_high_water = 64 * 1024;
    c.max_body_bytes = 128 * 1024;
    let (mut pair, mut events) = hub_with(c, hub_config(8));
    // Subscribed, but not reading while the publishes pile up (40 × 60 KB: far more than
    // the 64 KiB high-water mark).
    let (ws, _, _) = subscribe(&mut pair, "/channels/slow");
    pair.set_read_limit(ws, Some(0));
    let filler = "x".repeat(60_000);
    let mut poster = Client::connect(&mut pair);
    for i in 1..=N {
        let response = poster.post(
            &mut pair,
            "/channels/slow",
            format!("{i}:{filler}").as_bytes(),
        );
        assert_eq!(published_id(&response), i, "publishing never waits");
    }
    events.assert_none("on_drained", |e| matches!(e, Event::Drained(_)));

    // Now read: frames in id order; a gap is always announced by {"missed":K} for exactly
    // the ids skipped; the last message arrives.
    pair.set_read_limit(ws, None);
    let mut last = 0;
    let mut announced: Option<u64> = None;
    let mut missed_total = 0;
    for text in ws_texts(&mut pair, ws) {
        let value = json(text.as_bytes());
        if let Some(k) = value.get("missed") {
            assert!(announced.is_none(), "two missed frames in a row");
            announced = Some(k.as_u64().unwrap());
            continue;
        }
        let id = value["id"].as_u64().unwrap();
        assert!(id > last, "ids go up: {id} after {last}");
        assert_eq!(
            id - last - 1,
            announced.take().unwrap_or(0),
            "a gap from {last} to {id} must be announced exactly"
        );
        missed_total += id - last - 1;
        assert_eq!(value["data"].as_str().unwrap(), format!("{id}:{filler}"));
        last = id;
    }
    assert_eq!(last, N, "the last message arrives");
    assert!(announced.is_none(), "a missed count with nothing after it");
    assert!(
        missed_total > 0,
        "the subscriber was never paused: the test did not exercise backpressure"
    );
    events.expect("on_drained", |e| {
        matches!(e, Event::Drained(_)).then_some(())
    });
    // Caught up: live again.
    publish(&mut pair, "slow", "live");
    assert_eq!(ws_messages(&mut pair, ws), [(N + 1, "live".to_string())]);
}

// ===== the binary =====

/// A `204` that came after at least `low` and before `high` (wall clock: a real process).
fn assert_204_between(response: &HttpResponse, elapsed: Duration, low: Duration, high: Duration) {
    assert_eq!(response.status, 204, "{response:?}");
    assert!(response.body.is_empty());
    assert!(elapsed >= low, "204 too early: {elapsed:?} < {low:?}");
    assert!(elapsed < high, "204 too late: {elapsed:?} >= {high:?}");
}

#[test]
fn pushwire_serve_binary_runs_the_hub_with_its_options() {
    let serve = spawn_serve(&[
        "--history",
        "2",
        "--poll-timeout",
        "0.3",
        "--max-poll-timeout",
        "1",
        "--max-body",
        "16",
    ]);
    let addr = serve.addr;
    for i in 1..=3 {
        let response = http_post(addr, "/channels/bin", format!("m{i}").as_bytes());
        assert_eq!(published_id(&response), i);
    }
    let response = http_get(addr, "/channels/bin?since=0&timeout=0");
    assert_eq!(
        batch(&response),
        Batch {
            messages: msgs(&[(2, "m2"), (3, "m3")]),
            next: 3,
            missed: 1
        }
    );
    let (mut client, response) = http_exchange(
        addr,
        b"POST /channels/bin HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n",
    );
    assert_hub_error(&response, 413);
    assert!(client.read_to_eof().is_empty());
    let started = Instant::now();
    let response = http_get(addr, "/channels/bin?since=3");
    assert_204_between(
        &response,
        started.elapsed(),
        Duration::from_millis(250),
        Duration::from_secs(5),
    );
    let started = Instant::now();
    let response = http_get(addr, "/channels/bin?since=3&timeout=60");
    assert_204_between(
        &response,
        started.elapsed(),
        Duration::from_millis(900),
        Duration::from_secs(6),
    );
    assert_eq!(http_get(addr, "/healthz").body, b"ok");
}
