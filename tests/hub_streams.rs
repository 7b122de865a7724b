//! The hub's stream contract on every transport, in memory on the virtual clock: every
//! answer names its stream's epoch; a cursor from another stream (a restarted hub) or
//! ahead of this one gets an explicit reset and the new stream from its start, the same
//! way over long-poll, plain poll and WebSocket; the bounds (message size on both
//! transports, channel count, retained bytes, answer size, channel expiry) refuse or
//! page with the documented status or close code; and the small protocol rules (HEAD is
//! never held, 204 is `no-store`).

mod support;

use std::time::Duration;

use pushwire::hub::{HubConfig, HubServer};
use pushwire::pair::{OwnedEvent, Peer, ServerPair};
use pushwire::{CloseCode, Message};
use serde_json::Value;
use support::*;

type Pair = ServerPair<Recording<HubServer>>;

fn hub_with(h: HubConfig) -> Pair {
    let mut c = config();
    c.max_message_size = h.max_message as u64;
    c.max_frame_size = c.max_message_size;
    memory_server(c, HubServer::new(h)).0
}

/// The default hub config, changed by `f` (the struct is non-exhaustive).
fn configured(f: impl FnOnce(&mut HubConfig)) -> HubConfig {
    let mut h = HubConfig::default();
    f(&mut h);
    h
}

fn hub() -> Pair {
    hub_with(HubConfig::default())
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(bytes)))
}

fn get(pair: &mut Pair, target: &str) -> HttpResponse {
    Client::connect(pair).get(pair, target)
}

/// Publishes over POST; returns the 201 body.
fn publish(pair: &mut Pair, channel: &str, data: &str) -> Value {
    let response =
        Client::connect(pair).post(pair, &format!("/channels/{channel}"), data.as_bytes());
    assert_eq!(response.status, 201, "{response:?}");
    json(&response.body)
}

fn ids(body: &Value) -> Vec<u64> {
    body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect()
}

/// The texts a WebSocket received since the last call.
fn texts(pair: &mut Pair, peer: Peer) -> Vec<Value> {
    pair.ws_events(peer)
        .into_iter()
        .map(|event| match event {
            OwnedEvent::Message(Message::Text(text)) => json(text.as_bytes()),
            other => panic!("expected a text message, got {other:?}"),
        })
        .collect()
}

fn closed_with(pair: &mut Pair, peer: Peer) -> CloseCode {
    let events = pair.ws_events(peer);
    events
        .into_iter()
        .find_map(|event| match event {
            OwnedEvent::Closed(close) => Some(close.code),
            _ => None,
        })
        .expect("closed")
}

// ===== epochs and resets =====

/// The server restarts with no log: ids begin again, and a client that resumes with its
/// old cursor and epoch is told so on each transport, then gets every new message.
#[test]
fn after_a_restart_an_old_cursor_is_reset_and_sees_every_new_message_on_every_transport() {
    let mut before = hub();
    for data in ["a", "b", "c"] {
        publish(&mut before, "room", data);
    }
    let old_epoch = publish(&mut before, "room", "d")["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    drop(before);

    let mut after = hub();
    let first = publish(&mut after, "room", "new 1");
    let epoch = first["epoch"].as_str().unwrap().to_string();
    assert_ne!(epoch, old_epoch, "a new stream, a new epoch");
    assert_eq!(first["id"], 1, "ids begin again");
    publish(&mut after, "room", "new 2");
    let stale = format!("since=3&epoch={old_epoch}");

    // Plain poll and long-poll: a 200 at once with the reset and the new stream.
    for timeout in ["0", "30"] {
        let response = get(
            &mut after,
            &format!("/channels/room?{stale}&timeout={timeout}"),
        );
        assert_eq!(response.status, 200, "timeout={timeout}: {response:?}");
        let body = json(&response.body);
        assert_eq!(body["reset"], true);
        assert_eq!(body["epoch"], epoch.as_str());
        assert_eq!(ids(&body), [1, 2], "nothing skipped as 'already seen'");
        assert_eq!(body["next"], 2);
    }
    // WebSocket: the first frame says reset, the replay is the new stream.
    let ws = after
        .ws_connect(&format!("/channels/room?{stale}"))
        .expect("subscribed");
    let frames = texts(&mut after, ws);
    assert_eq!(frames[0]["reset"], true, "{frames:?}");
    assert_eq!(frames[0]["epoch"], epoch.as_str());
    assert_eq!(frames[0]["next"], 0);
    let replay: Vec<u64> = frames[1..]
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    assert_eq!(replay, [1, 2]);
    // Resuming with the new epoch is ordinary again.
    let response = get(
        &mut after,
        &format!("/channels/room?since=1&epoch={epoch}&timeout=0"),
    );
    let body = json(&response.body);
    assert!(body.get("reset").is_none());
    assert_eq!(ids(&body), [2]);
}

#[test]
fn a_cursor_ahead_of_the_stream_is_reset_alike_by_held_polls_plain_polls_and_websockets() {
    let mut pair = hub();
    publish(&mut pair, "a", "only");
    for target in [
        "/channels/a?since=9&timeout=0",
        "/channels/a?since=9&timeout=20",
    ] {
        let body = json(&get(&mut pair, target).body);
        assert_eq!(
            (body["reset"].clone(), ids(&body)),
            (Value::Bool(true), vec![1]),
            "{target}"
        );
    }
    let ws = pair.ws_connect("/channels/a?since=9").expect("subscribed");
    let frames = texts(&mut pair, ws);
    assert_eq!(frames[0]["reset"], true);
    assert_eq!(frames[1]["id"], 1);
}

#[test]
fn every_answer_names_the_same_epoch() {
    let mut pair = hub();
    let ws = pair.ws_connect("/channels/e?since=0").expect("subscribed");
    let epoch = publish(&mut pair, "e", "x")["epoch"].clone();
    let frames = texts(&mut pair, ws);
    assert_eq!(frames[0]["epoch"], epoch, "the subscription's first frame");
    assert_eq!(frames[0]["next"], 0);
    assert_eq!(frames[1]["id"], 1);
    // A subscriber that names no cursor gets only what comes next, as it always did.
    let live = pair.ws_connect("/channels/e").expect("subscribed");
    publish(&mut pair, "e", "z");
    let frames = texts(&mut pair, live);
    assert_eq!((frames.len(), frames[0]["id"].clone()), (1, Value::from(2)));
    let body = json(&get(&mut pair, "/channels/e?since=0&timeout=0").body);
    assert_eq!(body["epoch"], epoch);
    assert_eq!(publish(&mut pair, "e", "y")["epoch"], epoch);
}

#[test]
fn a_malformed_epoch_or_limit_is_400() {
    let mut pair = hub();
    for query in [
        "epoch=nope",
        "epoch=",
        "limit=0",
        "limit=x",
        "epoch=AAAAAAAAAAA",
    ] {
        let response = get(&mut pair, &format!("/channels/q?since=0&{query}&timeout=0"));
        assert_eq!(response.status, 400, "{query}: {response:?}");
    }
}

// ===== bounds =====

#[test]
fn a_message_over_the_limit_is_413_over_http_and_1009_over_websocket() {
    let h = configured(|h| {
        h.max_message = 1000;
        h.history_bytes = 64 << 10;
    });
    let mut pair = hub_with(h);
    let big = "x".repeat(1001);
    let response = Client::connect(&mut pair).post(&mut pair, "/channels/m", big.as_bytes());
    assert_eq!(response.status, 413, "{response:?}");
    let ws = pair.ws_connect("/channels/m").expect("subscribed");
    texts(&mut pair, ws);
    pair.ws_send(ws, &Message::text(big.as_str()));
    assert_eq!(closed_with(&mut pair, ws), CloseCode::MESSAGE_TOO_BIG);
    // The same size limit is the same: 1000 passes on both.
    publish(&mut pair, "m", &"x".repeat(1000));
    let response = get(&mut pair, "/channels/m?since=0&timeout=0");
    assert_eq!(ids(&json(&response.body)), [1], "nothing else was kept");
}

#[test]
fn the_hub_itself_refuses_a_websocket_message_over_its_limit_when_the_codec_allows_it() {
    // An embedder whose server config allows larger messages than its hub.
    let h = configured(|h| {
        h.max_message = 1000;
        h.history_bytes = 64 << 10;
    });
    let mut pair = memory_server(config(), HubServer::new(h)).0;
    let ws = pair.ws_connect("/channels/m").expect("subscribed");
    texts(&mut pair, ws);
    pair.ws_send(ws, &Message::text("y".repeat(5000)));
    assert_eq!(closed_with(&mut pair, ws), CloseCode::MESSAGE_TOO_BIG);
}

#[test]
fn channels_past_the_limit_are_refused_with_503_and_upgrades_too() {
    let mut pair = hub_with(configured(|h| {
        h.max_channels = 2;
    }));
    publish(&mut pair, "one", "x");
    publish(&mut pair, "two", "x");
    let response = Client::connect(&mut pair).post(&mut pair, "/channels/three", b"x");
    assert_eq!(response.status, 503, "{response:?}");
    assert!(
        response.body_text().contains("max channels"),
        "{response:?}"
    );
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        upgrade_request("/channels/three", &[]).as_bytes(),
    );
    assert_eq!(client.response(&mut pair).status, 503);
    // Existing channels work on.
    publish(&mut pair, "one", "y");
    let ws = pair
        .ws_connect("/channels/two?since=0")
        .expect("an existing channel");
    assert_eq!(
        texts(&mut pair, ws).len(),
        2,
        "its first frame and its message"
    );
}

#[test]
fn retained_bytes_past_the_limit_are_507_and_close_a_websocket_publisher_with_1013() {
    let h = configured(|h| {
        h.max_message = 1000;
        h.history_bytes = 8000;
        h.max_retained_bytes = 9000;
        h.history = 1;
    });
    h.validate().unwrap();
    let mut pair = hub_with(h);
    let text = "z".repeat(1000);
    let mut accepted = 0;
    let refused = loop {
        let channel = format!("c{accepted}");
        let response = Client::connect(&mut pair).post(
            &mut pair,
            &format!("/channels/{channel}"),
            text.as_bytes(),
        );
        if response.status != 201 {
            break response;
        }
        accepted += 1;
        assert!(accepted < 20, "the limit never applied");
    };
    assert_eq!(refused.status, 507, "{refused:?}");
    assert!(
        refused.body_text().contains("max retained bytes"),
        "{refused:?}"
    );
    assert_eq!(accepted, 8, "9000 bytes hold 8 messages of ~1 KiB");
    let retained = pair.handler().inner().hub().retained_bytes();
    assert!(retained <= 9000, "{retained}");
    let ws = pair.ws_connect("/channels/c0").expect("subscribed");
    texts(&mut pair, ws);
    pair.ws_send(ws, &Message::text(text.as_str()));
    // c0's history is full (one message): its next one evicts the old and fits. A new
    // channel's first message does not.
    let c0 = pair.handler().inner().hub().get("c0").unwrap().last_id();
    assert_eq!(c0, 2, "published over WebSocket");
    let fresh = pair.ws_connect("/channels/fresh").expect("subscribed");
    texts(&mut pair, fresh);
    pair.ws_send(fresh, &Message::text(text.as_str()));
    assert_eq!(closed_with(&mut pair, fresh), CloseCode::TRY_AGAIN_LATER);
}

#[test]
fn polls_page_through_a_long_history_by_limit() {
    let mut pair = hub();
    for i in 1..=250 {
        publish(&mut pair, "long", &format!("m{i}"));
    }
    let body = json(&get(&mut pair, "/channels/long?since=0&timeout=0").body);
    assert_eq!(ids(&body).len(), 100, "the default limit");
    assert_eq!(body["next"], 100);
    let body = json(&get(&mut pair, "/channels/long?since=100&limit=120&timeout=0").body);
    assert_eq!(
        (ids(&body).first().copied(), body["next"].clone()),
        (Some(101), Value::from(220))
    );
    let body = json(&get(&mut pair, "/channels/long?since=220&limit=99999&timeout=0").body);
    assert_eq!(ids(&body).len(), 30);
    assert_eq!(
        get(&mut pair, "/channels/long?since=250&timeout=0").status,
        204
    );
}

#[test]
fn a_poll_answer_is_bounded_in_bytes() {
    let h = configured(|h| {
        h.max_batch_bytes = 10_000;
    });
    let mut pair = hub_with(h);
    for _ in 0..10 {
        publish(&mut pair, "big", &"b".repeat(3000));
    }
    let response = get(&mut pair, "/channels/big?since=0&timeout=0");
    let body = json(&response.body);
    assert_eq!(
        ids(&body),
        [1, 2, 3],
        "three frames of ~3 KB fit in 10,000 bytes"
    );
    assert!(response.body.len() < 10_100, "{}", response.body.len());
}

#[test]
fn an_idle_channel_expires_after_its_ttl_and_returns_with_a_new_epoch() {
    let mut pair = hub_with(configured(|h| {
        h.channel_ttl = Duration::from_secs(60);
    }));
    let epoch = publish(&mut pair, "brief", "x")["epoch"].clone();
    pair.advance(Duration::from_secs(59));
    assert_eq!(pair.handler().inner().hub().channel_count(), 1);
    pair.advance(Duration::from_secs(1));
    assert_eq!(
        pair.handler().inner().hub().channel_count(),
        0,
        "dropped at its TTL"
    );
    assert_eq!(pair.handler().inner().hub().retained_bytes(), 0);
    let response = get(
        &mut pair,
        &format!(
            "/channels/brief?since=1&epoch={}&timeout=0",
            epoch.as_str().unwrap()
        ),
    );
    assert_eq!(
        json(&response.body)["reset"],
        true,
        "the old cursor is told"
    );
    let again = publish(&mut pair, "brief", "y");
    assert_eq!(again["id"], 1);
    assert_ne!(again["epoch"], epoch);
}

#[test]
fn a_channel_with_a_subscriber_never_expires() {
    let mut pair = hub_with(configured(|h| {
        h.channel_ttl = Duration::from_secs(60);
    }));
    publish(&mut pair, "kept", "x");
    let ws = pair.ws_connect("/channels/kept").expect("subscribed");
    pair.advance(Duration::from_secs(600));
    assert_eq!(pair.handler().inner().hub().channel_count(), 1);
    pair.ws_close(ws, CloseCode::NORMAL, "");
    pair.advance(Duration::from_secs(59));
    assert_eq!(
        pair.handler().inner().hub().channel_count(),
        1,
        "ages from when it left"
    );
    pair.advance(Duration::from_secs(1));
    assert_eq!(pair.handler().inner().hub().channel_count(), 0);
}

// ===== protocol details =====

#[test]
fn head_on_a_channel_is_answered_at_once_and_never_held() {
    let mut pair = hub();
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"HEAD /channels/h?timeout=30 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let response = client.head_response(&mut pair);
    assert_eq!(response.status, 204, "{response:?}");
    publish(&mut pair, "h", "x");
    client.send(
        &mut pair,
        b"HEAD /channels/h?since=0&timeout=30 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let response = client.head_response(&mut pair);
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty());
    assert!(response.content_length().unwrap() > 0, "the GET's length");
    assert_eq!(pair.handler().inner().hub().parked_count("h"), 0);
}

#[test]
fn no_content_answers_are_not_stored_by_caches() {
    let mut pair = hub();
    let response = get(&mut pair, "/channels/n?timeout=0");
    assert_eq!(response.status, 204);
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    let mut poller = Client::connect(&mut pair);
    poller.send(
        &mut pair,
        b"GET /channels/n?timeout=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    pair.advance(Duration::from_secs(1));
    let response = poller.response(&mut pair);
    assert_eq!(response.status, 204);
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
}

#[test]
fn a_large_message_fanned_out_is_shared_not_copied_per_subscriber() {
    let mut pair = hub();
    let subscribers: Vec<Peer> = (0..30)
        .map(|_| pair.ws_connect("/channels/fan").expect("subscribed"))
        .collect();
    for &ws in &subscribers {
        texts(&mut pair, ws);
        pair.set_read_limit(ws, Some(0));
    }
    publish(&mut pair, "fan", &"\u{1}".repeat(60_000)); // 360 KB escaped
    let hub = pair.handler().inner().hub();
    let frame = hub.get("fan").unwrap().latest().unwrap().frame().clone();
    // One retained copy, referenced by each subscriber's unsent output.
    assert_eq!(std::sync::Arc::strong_count(&frame), 2 + subscribers.len());
    for &ws in &subscribers {
        pair.set_read_limit(ws, None);
        let got = texts(&mut pair, ws);
        assert_eq!(got[0]["id"], 1);
    }
}
