//! Server-Sent Events of several channels on one stream: `GET /events?channel=a&…`,
//! through `HubServer` in memory, read as a browser's `EventSource` reads it — a first
//! event per channel, replays from each cursor, live messages naming their channel, no
//! `id:` (the client keeps the cursors), gaps, the bounds, and a reader that leaves or
//! stops reading.

mod support;

use pushwire::hub::sse::Event;
use pushwire::hub::{HubConfig, HubServer};
use serde_json::{Value, json};
use support::*;

/// Every event's data, as JSON; all are unnamed (`message`) events without ids.
fn data(events: &[Event]) -> Vec<Value> {
    for event in events {
        assert_eq!(event.event_type(), "message", "{event:?}");
        assert_eq!(event.last_event_id(), "", "{event:?}");
    }
    events.iter().map(|e| parse_json(e.data())).collect()
}

#[test]
fn one_stream_carries_several_channels_each_event_naming_its_channel() {
    let mut pair = hub();
    let epoch_a = publish_epoch(&mut pair, "a", "a1");
    publish_epoch(&mut pair, "a", "a2");
    let epoch_b = publish_epoch(&mut pair, "b", "b1");
    let mut source = Source::open(&mut pair, "/events?channel=a&since=1&channel=b", "");
    let first = data(&source.events(&mut pair));
    let head = source.head();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Type"), Some("text/event-stream"));
    assert_eq!(head.header("Cache-Control"), Some("no-store"));
    assert_eq!(head.header("X-Accel-Buffering"), Some("no"));
    assert_eq!(source.parser.reconnection_time(), Some(3000));
    assert_eq!(
        first,
        [
            json!({"type":"subscribed","channel":"a","epoch":epoch_a,"next":1}),
            json!({"type":"subscribed","channel":"b","epoch":epoch_b,"next":1}),
            json!({"type":"message","channel":"a","id":2,"data":"a2"}),
        ]
    );
    publish_epoch(&mut pair, "b", "b2\nsecond line");
    publish_epoch(&mut pair, "c", "not followed");
    publish_epoch(&mut pair, "a", "a3");
    let live = data(&source.events(&mut pair));
    assert_eq!(channel_messages(&live), [("b".into(), 2), ("a".into(), 3)]);
    assert_eq!(live[0]["data"], "b2\nsecond line");
}

#[test]
fn a_reconnect_with_the_cursors_in_the_query_misses_nothing_and_repeats_nothing() {
    let mut pair = hub();
    for i in 1..=3 {
        publish_epoch(&mut pair, "a", &format!("a{i}"));
        publish_epoch(&mut pair, "b", &format!("b{i}"));
    }
    let mut source = Source::open(&mut pair, "/events?channel=a&since=0&channel=b&since=0", "");
    let got = channel_messages(&data(&source.events(&mut pair)));
    assert_eq!(got.len(), 6);
    source.client.finish(&mut pair);
    publish_epoch(&mut pair, "a", "a4");
    publish_epoch(&mut pair, "b", "b4");
    // The client kept the last id of each channel, and asks from there.
    let mut again = Source::open(&mut pair, "/events?channel=b&since=3&channel=a&since=3", "");
    let got = channel_messages(&data(&again.events(&mut pair)));
    assert_eq!(got, [("b".into(), 4), ("a".into(), 4)]);
}

#[test]
fn a_reset_and_a_gap_are_announced_per_channel() {
    let mut other = hub();
    let old = publish_epoch(&mut other, "a", "x");
    let mut h = HubConfig::default();
    h.history = 2;
    let mut pair = hub_with(h);
    for i in 1..=5 {
        publish_epoch(&mut pair, "a", &i.to_string());
        publish_epoch(&mut pair, "b", &i.to_string());
    }
    let target = format!("/events?channel=a&since=9&epoch={old}&channel=b&since=1");
    let mut source = Source::open(&mut pair, &target, "");
    let frames = data(&source.events(&mut pair));
    assert_eq!(frames[0]["reset"], true);
    assert_eq!(frames[0]["channel"], "a");
    assert!(frames[1].get("reset").is_none());
    let missed: Vec<&Value> = frames.iter().filter(|f| f["type"] == "missed").collect();
    assert_eq!(
        missed,
        [
            &json!({"type":"missed","channel":"a","missed":3}),
            &json!({"type":"missed","channel":"b","missed":2})
        ]
    );
    assert_eq!(
        channel_messages(&frames),
        [
            ("a".into(), 4),
            ("a".into(), 5),
            ("b".into(), 4),
            ("b".into(), 5)
        ]
    );
}

#[test]
fn a_bad_query_is_400_too_many_channels_429_and_nothing_is_subscribed() {
    let mut h = HubConfig::default();
    h.max_subscriptions = 2;
    let mut pair = hub_with(h);
    for (target, status) in [
        ("/events", 400),
        ("/events?channel=a&channel=a", 400),
        ("/events?since=1&channel=a", 400),
        ("/events?channel=a&channel=b&channel=c", 429),
    ] {
        let response = Client::connect(&mut pair).get(&mut pair, target);
        assert_eq!(response.status, status, "{target}");
    }
    assert_eq!(pair.handler().inner().hub().stats().active_subscribers, 0);
}

#[test]
fn a_stream_whose_client_left_lets_go_of_every_channel() {
    let mut pair = hub();
    let mut source = Source::open(&mut pair, "/events?channel=a&channel=b&channel=c", "");
    source.events(&mut pair);
    assert_eq!(pair.handler().inner().hub().stats().active_subscribers, 3);
    source.client.finish(&mut pair);
    publish_epoch(&mut pair, "a", "after");
    assert_eq!(pair.handler().inner().hub().stats().active_subscribers, 0);
}

#[test]
fn a_reader_that_stops_reading_is_resumed_on_every_channel_without_loss_or_duplicate() {
    let mut c = config();
    c.write_buffer_high_water = 8 * 1024;
    let mut pair = memory_server(c, HubServer::new(HubConfig::default())).0;
    let mut source = Source::open(&mut pair, "/events?channel=a&channel=b", "");
    source.events(&mut pair);
    pair.set_read_limit(source.client.peer, Some(0));
    let text = "y".repeat(400);
    for _ in 0..80 {
        publish_epoch(&mut pair, "a", &text);
        publish_epoch(&mut pair, "b", &text);
    }
    assert_eq!(pair.handler().inner().hub().stats().paused_subscribers, 2);
    pair.set_read_limit(source.client.peer, None);
    let got = channel_messages(&data(&source.events(&mut pair)));
    for channel in ["a", "b"] {
        let ids: Vec<u64> = got
            .iter()
            .filter(|(c, _)| c == channel)
            .map(|(_, id)| *id)
            .collect();
        assert_eq!(ids, (1..=80).collect::<Vec<_>>(), "channel {channel}");
    }
}
