//! The hub over Server-Sent Events, in memory on the virtual clock, read as a browser's
//! `EventSource` reads it (the WHATWG parser in `pushwire::hub::sse`): the head, the
//! first event, one event per message whose `id:` resumes exactly (`Last-Event-ID`
//! after a disconnect at every message boundary), resets and gaps as named events, the
//! keepalive comment, HTTP/1.0, and a reader that stops reading.

mod support;

use std::time::Duration;

use pushwire::hub::sse::{Event, EventStreamParser};
use pushwire::hub::{HubConfig, HubServer};
use pushwire::pair::ServerPair;
use serde_json::Value;
use support::*;

type Pair = ServerPair<Recording<HubServer>>;

fn hub_with(h: HubConfig) -> Pair {
    memory_server(config(), HubServer::new(h)).0
}

fn hub() -> Pair {
    hub_with(HubConfig::default())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

fn publish(pair: &mut Pair, channel: &str, data: &str) -> Value {
    let response =
        Client::connect(pair).post(pair, &format!("/channels/{channel}"), data.as_bytes());
    assert_eq!(response.status, 201, "{response:?}");
    serde_json::from_slice(&response.body).unwrap()
}

/// The ids of message events (their JSON data's `id`).
fn message_ids(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.event_type() == "message")
        .map(|e| json(e.data())["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn an_event_source_gets_the_head_a_first_event_and_one_event_per_message() {
    let mut pair = hub();
    let epoch = publish(&mut pair, "news", "before")["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let mut source = Source::open(&mut pair, "/channels/news", "");
    let first = source.events(&mut pair);
    let head = source.head();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Type"), Some("text/event-stream"));
    assert_eq!(head.header("Cache-Control"), Some("no-store"));
    assert_eq!(head.header("X-Accel-Buffering"), Some("no"));
    assert_eq!(head.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(source.parser.reconnection_time(), Some(3000));
    // Without a cursor: where it stands, then only what comes next.
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].event_type(), "subscribed");
    assert_eq!(first[0].last_event_id(), format!("{epoch}:1"));
    assert_eq!(json(first[0].data())["next"], 1);

    publish(&mut pair, "news", "line one\nline two");
    publish(&mut pair, "news", "third");
    let events = source.events(&mut pair);
    assert_eq!(message_ids(&events), [2, 3]);
    assert_eq!(events[0].last_event_id(), format!("{epoch}:2"));
    assert_eq!(json(events[0].data())["data"], "line one\nline two");
    assert_eq!(json(events[1].data())["data"], "third");
}

#[test]
fn last_event_id_resumes_exactly_after_a_disconnect_at_every_message_boundary() {
    let mut pair = hub();
    let mut epoch = String::new();
    for i in 1..=6 {
        epoch = publish(&mut pair, "room", &format!("m{i}"))["epoch"]
            .as_str()
            .unwrap()
            .to_string();
    }
    let mut last_id = 6;
    for seen in 0..=6u64 {
        // A browser that got events up to `seen` and lost the connection reconnects
        // with the last id it saw.
        let header = format!("Last-Event-ID: {epoch}:{seen}\r\n");
        let mut source = Source::open(&mut pair, "/channels/room", &header);
        let events = source.events(&mut pair);
        assert_eq!(events[0].event_type(), "subscribed", "at {seen}");
        let expected: Vec<u64> = (seen + 1..=last_id).collect();
        assert_eq!(message_ids(&events), expected, "resumed after {seen}");
        // And it goes on live.
        publish(&mut pair, "room", "live");
        let live = source.events(&mut pair);
        last_id += 1;
        assert_eq!(message_ids(&live), [last_id]);
        source.client.finish(&mut pair);
        // Resuming from where this one stopped gets nothing twice.
        let last = live[0].last_event_id().to_string();
        let mut again = Source::open(
            &mut pair,
            "/channels/room",
            &format!("Last-Event-ID: {last}\r\n"),
        );
        assert!(message_ids(&again.events(&mut pair)).is_empty());
        again.client.finish(&mut pair);
        epoch = last.split(':').next().unwrap().to_string();
    }
}

#[test]
fn a_cursor_from_another_stream_is_reset_with_a_named_event_and_the_history_from_its_start() {
    // A reader of another hub's stream (as after a restart of an in-memory hub).
    let mut before = hub();
    let old = publish(&mut before, "room", "old")["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let mut pair = hub();
    publish(&mut pair, "room", "a");
    publish(&mut pair, "room", "b");
    let header = format!("Last-Event-ID: {old}:40\r\n");
    let mut source = Source::open(&mut pair, "/channels/room", &header);
    let events = source.events(&mut pair);
    assert_eq!(events[0].event_type(), "reset");
    let reset = json(events[0].data());
    assert_eq!(reset["reset"], true);
    assert_eq!(reset["next"], 0);
    let epoch = reset["epoch"].as_str().unwrap();
    assert_eq!(events[0].last_event_id(), format!("{epoch}:0"));
    assert_eq!(message_ids(&events), [1, 2]);
}

#[test]
fn a_last_event_id_that_is_not_ours_starts_afresh_and_the_query_cursor_works_too() {
    let mut pair = hub();
    publish(&mut pair, "room", "a");
    publish(&mut pair, "room", "b");
    let mut source = Source::open(&mut pair, "/channels/room", "Last-Event-ID: 17\r\n");
    let events = source.events(&mut pair);
    assert_eq!(events[0].event_type(), "subscribed");
    assert!(message_ids(&events).is_empty());

    let mut source = Source::open(&mut pair, "/channels/room?since=1", "");
    assert_eq!(message_ids(&source.events(&mut pair)), [2]);
}

#[test]
fn messages_evicted_before_a_reader_got_them_are_announced_as_missed() {
    let mut h = HubConfig::default();
    h.history = 2;
    let mut pair = hub_with(h);
    let mut epoch = String::new();
    for i in 1..=5 {
        epoch = publish(&mut pair, "room", &format!("m{i}"))["epoch"]
            .as_str()
            .unwrap()
            .to_string();
    }
    let header = format!("Last-Event-ID: {epoch}:1\r\n");
    let mut source = Source::open(&mut pair, "/channels/room", &header);
    let events = source.events(&mut pair);
    let kinds: Vec<&str> = events.iter().map(Event::event_type).collect();
    assert_eq!(kinds, ["subscribed", "missed", "message", "message"]);
    assert_eq!(json(events[1].data())["missed"], 2);
    assert_eq!(message_ids(&events), [4, 5]);
}

#[test]
fn a_quiet_stream_gets_a_keepalive_comment_within_the_heartbeat() {
    let mut pair = hub();
    let mut source = Source::open(&mut pair, "/channels/quiet", "");
    source.events(&mut pair);
    assert_eq!(source.comments, 0);
    // A second at a time, as a real clock goes: it is commented every 15 s
    // (`--sse-heartbeat`), never quiet for longer.
    let mut quiet_for = 0;
    for _ in 0..60 {
        pair.advance(Duration::from_secs(1));
        let before = source.comments;
        assert!(source.events(&mut pair).is_empty());
        quiet_for = if source.comments > before {
            0
        } else {
            quiet_for + 1
        };
        assert!(quiet_for <= 15, "quiet for {quiet_for} s");
    }
    assert_eq!(source.comments, 4, "one comment per 15 s");
    // The comment goes out on its tick whatever else is sent (13 bytes), and the events
    // around it arrive whole.
    for _ in 0..12 {
        pair.advance(Duration::from_secs(5));
        publish(&mut pair, "quiet", "news");
    }
    assert_eq!(message_ids(&source.events(&mut pair)).len(), 12);
    assert_eq!(source.comments, 8);
}

#[test]
fn http10_gets_a_stream_that_ends_with_the_connection() {
    let mut pair = hub();
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"GET /channels/old HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n",
    );
    publish(&mut pair, "old", "hello");
    let raw = client.text(&mut pair).into_bytes();
    let (head, len) = parse_response_head(&raw).unwrap();
    assert_eq!(head.header("Transfer-Encoding"), None);
    let mut parser = EventStreamParser::new(1 << 20);
    let mut events = Vec::new();
    parser.push(&raw[len..], &mut events).unwrap();
    assert_eq!(message_ids(&events), [1]);
}

#[test]
fn head_gets_the_stream_head_and_no_stream() {
    let mut pair = hub();
    let mut client = Client::connect(&mut pair);
    client.send(
        &mut pair,
        b"HEAD /channels/x HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n",
    );
    let head = client.head_response(&mut pair);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Type"), Some("text/event-stream"));
    publish(&mut pair, "x", "not for HEAD");
    client.nothing(&mut pair);
}

#[test]
fn a_reader_that_stops_reading_is_paused_and_resumed_without_loss_or_duplicate() {
    let mut c = config();
    c.write_buffer_high_water = 8 * 1024;
    let mut pair = memory_server(c, HubServer::new(HubConfig::default())).0;
    let mut source = Source::open(&mut pair, "/channels/flood", "");
    source.events(&mut pair);
    pair.set_read_limit(source.client.peer, Some(0));
    let text = "x".repeat(500);
    for _ in 0..200 {
        publish(&mut pair, "flood", &text);
    }
    pair.set_read_limit(source.client.peer, None);
    let events = source.events(&mut pair);
    let ids = message_ids(&events);
    let missed: u64 = events
        .iter()
        .filter(|e| e.event_type() == "missed")
        .map(|e| json(e.data())["missed"].as_u64().unwrap())
        .sum();
    // Every id once, in order; whatever the history no longer had is counted.
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(ids.len() as u64 + missed, 200);
    assert_eq!(ids.last(), Some(&200));
}

#[test]
fn a_stream_whose_client_left_is_let_go() {
    let mut pair = hub();
    let mut source = Source::open(&mut pair, "/channels/gone", "");
    source.events(&mut pair);
    source.client.finish(&mut pair);
    publish(&mut pair, "gone", "anyone?");
    let metrics = Client::connect(&mut pair)
        .get(&mut pair, "/metrics")
        .body_text();
    assert!(
        metrics.contains("pushwire_messages_delivered_total{transport=\"sse\"} 0\n"),
        "{metrics}"
    );
}
