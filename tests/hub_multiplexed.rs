//! Many channels over one WebSocket: `/ws` with the subprotocol `pushwire.v1`, through
//! `HubServer` in memory — the upgrade, every command and its answer, deliveries that name
//! their channel (alongside the one-channel transports), errors that answer one command
//! and keep the connection, the per-connection bound, access per command, and a reader
//! that stops reading.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use pushwire::auth::token::{Claims, Pattern, Secret, mint};
use pushwire::hub::access::TokenAuthorizer;
use pushwire::hub::{HubConfig, HubServer};
use serde_json::{Value, json};
use support::*;

/// A `pushwire.v1` client.
struct Mux {
    client: Client,
}

impl Mux {
    fn connect(pair: &mut HubPair) -> Mux {
        Mux::connect_with(pair, &[])
    }

    fn connect_with(pair: &mut HubPair, extra: &[&str]) -> Mux {
        let mut client = Client::connect(pair);
        let mut fields = vec!["Sec-WebSocket-Protocol: pushwire.v1"];
        fields.extend_from_slice(extra);
        client.send(pair, upgrade_request("/ws", &fields).as_bytes());
        let response = client.response(pair);
        assert_eq!(response.status, 101, "{response:?}");
        assert_eq!(
            response.header("Sec-WebSocket-Protocol"),
            Some("pushwire.v1")
        );
        Mux { client }
    }

    fn send(&mut self, pair: &mut HubPair, command: &Value) {
        self.send_text(pair, &command.to_string());
    }

    fn send_text(&mut self, pair: &mut HubPair, text: &str) {
        self.client
            .send(pair, &client_frame(true, OP_TEXT, text.as_bytes()));
    }

    /// Every frame that arrived since the last call, as JSON.
    fn frames(&mut self, pair: &mut HubPair) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(frame) = self.client.try_frame(pair) {
            assert_eq!(frame.opcode, OP_TEXT, "{frame:?}");
            out.push(parse_json(std::str::from_utf8(&frame.payload).unwrap()));
        }
        out
    }

    /// Sends `command` and returns the frames it brought.
    fn ask(&mut self, pair: &mut HubPair, command: Value) -> Vec<Value> {
        self.send(pair, &command);
        self.frames(pair)
    }
}

#[test]
fn the_upgrade_must_offer_pushwire_v1_and_gets_it_selected() {
    let mut pair = hub();
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, upgrade_request("/ws", &[]).as_bytes());
    let refused = client.response(&mut pair);
    assert_eq!(refused.status, 400);
    assert!(refused.body_text().contains("pushwire.v1"), "{refused:?}");
    // Among other offers, it is the one selected.
    let mut client = Client::connect(&mut pair);
    let offer = "Sec-WebSocket-Protocol: chat, pushwire.v1, pushwire";
    client.send(&mut pair, upgrade_request("/ws", &[offer]).as_bytes());
    let accepted = client.response(&mut pair);
    assert_eq!(accepted.status, 101);
    assert_eq!(
        accepted.header("Sec-WebSocket-Protocol"),
        Some("pushwire.v1")
    );
    // Plain HTTP on /ws is told to upgrade.
    let plain = Client::connect(&mut pair).get(&mut pair, "/ws");
    assert_eq!(plain.status, 426);
    assert_eq!(plain.header("Upgrade"), Some("websocket"));
}

#[test]
fn one_socket_follows_several_channels_and_every_message_names_its_channel() {
    let mut pair = hub();
    let epoch_a = publish(&mut pair, "a", "a1")["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    publish(&mut pair, "b", "b1");
    let mut mux = Mux::connect(&mut pair);
    let answer = mux.ask(
        &mut pair,
        json!({"type":"subscribe","channel":"a","since":0}),
    );
    assert_eq!(
        answer[0],
        json!({"type":"subscribed","channel":"a","epoch":epoch_a,"next":0})
    );
    assert_eq!(
        answer[1],
        json!({"type":"message","channel":"a","id":1,"data":"a1"})
    );
    assert_eq!(answer.len(), 2);
    // Without a cursor: only what comes next.
    let answer = mux.ask(&mut pair, json!({"type":"subscribe","channel":"b"}));
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0]["type"], "subscribed");
    assert_eq!(answer[0]["next"], 1);

    publish(&mut pair, "b", "b2");
    publish(&mut pair, "a", "a2");
    publish(&mut pair, "c", "not followed");
    publish(&mut pair, "a", "a3");
    let frames = mux.frames(&mut pair);
    assert_eq!(
        channel_messages(&frames),
        [("b".into(), 2), ("a".into(), 2), ("a".into(), 3)]
    );
    assert_eq!(frames[0]["data"], "b2");
}

#[test]
fn a_publish_is_acked_with_its_id_and_reaches_every_transport() {
    let mut pair = hub();
    let mut publisher = Mux::connect(&mut pair);
    let mut reader = Mux::connect(&mut pair);
    reader.ask(&mut pair, json!({"type":"subscribe","channel":"room"}));
    let mut socket = Client::upgrade(&mut pair, "/channels/room");
    let mut poll = Client::connect(&mut pair);
    poll.send(
        &mut pair,
        b"GET /channels/room?timeout=30 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let answer = publisher.ask(
        &mut pair,
        json!({"type":"publish","channel":"room","data":"hello","ref":7}),
    );
    assert_eq!(answer.len(), 1, "{answer:?}");
    let epoch = answer[0]["epoch"].as_str().unwrap().to_string();
    assert_eq!(
        answer[0],
        json!({"type":"ack","ref":7,"channel":"room","id":1,"epoch":epoch})
    );
    assert_eq!(
        reader.frames(&mut pair),
        [json!({"type":"message","channel":"room","id":1,"data":"hello"})]
    );
    let frame = socket.frame(&mut pair);
    assert_eq!(
        parse_json(std::str::from_utf8(&frame.payload).unwrap()),
        json!({"id":1,"data":"hello"})
    );
    let polled = poll.response(&mut pair);
    assert_eq!(
        parse_json(&polled.body_text())["messages"][0]["data"],
        "hello"
    );
    // A string ref is echoed as it was; no ref, no ref in the ack.
    let answer = publisher.ask(
        &mut pair,
        json!({"type":"publish","channel":"room","data":"two","ref":"m-2"}),
    );
    assert_eq!(answer[0]["ref"], "m-2");
    assert_eq!(answer[0]["id"], 2);
    let answer = publisher.ask(
        &mut pair,
        json!({"type":"publish","channel":"room","data":"3"}),
    );
    assert_eq!(answer[0]["type"], "ack");
    assert!(answer[0].get("ref").is_none(), "{answer:?}");
    // The publisher is not subscribed: it got acks only.
    assert!(publisher.frames(&mut pair).is_empty());
    // A subscribed publisher gets its ack before its own message.
    publisher.ask(&mut pair, json!({"type":"subscribe","channel":"room"}));
    let answer = publisher.ask(
        &mut pair,
        json!({"type":"publish","channel":"room","data":"4","ref":4}),
    );
    assert_eq!(answer[0]["type"], "ack");
    assert_eq!(answer[1]["type"], "message");
    assert_eq!(answer[1]["id"], 4);
}

#[test]
fn a_bad_command_is_answered_with_an_error_and_the_connection_stays_open() {
    let mut h = HubConfig::default();
    h.max_message = 16;
    let mut pair = hub_with(h);
    let mut mux = Mux::connect(&mut pair);
    mux.send_text(&mut pair, "{not json");
    let frames = mux.frames(&mut pair);
    assert_eq!(frames[0]["type"], "error");
    assert_eq!(frames[0]["status"], 400);
    let cases = [
        (json!({"type":"dance","ref":1}), 400),
        (
            json!({"type":"subscribe","channel":"bad name","ref":2}),
            400,
        ),
        (
            json!({"type":"subscribe","channel":"a","since":-1,"ref":3}),
            400,
        ),
        (
            json!({"type":"subscribe","channel":"a","epoch":"nope","ref":4}),
            400,
        ),
        (
            json!({"type":"publish","channel":"a","data":"x".repeat(17),"ref":5}),
            413,
        ),
    ];
    for (command, status) in cases {
        let reference = command["ref"].clone();
        let frames = mux.ask(&mut pair, command.clone());
        assert_eq!(frames.len(), 1, "{command}: {frames:?}");
        assert_eq!(frames[0]["type"], "error", "{command}");
        assert_eq!(frames[0]["status"], status, "{command}: {frames:?}");
        assert_eq!(frames[0]["ref"], reference, "{command}");
        assert!(frames[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // Binary frames are no commands.
    mux.client
        .send(&mut pair, &client_frame(true, OP_BINARY, b"{}"));
    assert_eq!(mux.frames(&mut pair)[0]["status"], 400);
    // Nothing was published, and the connection still works.
    let answer = mux.ask(
        &mut pair,
        json!({"type":"publish","channel":"a","data":"ok","ref":6}),
    );
    assert_eq!(answer[0]["type"], "ack");
    assert_eq!(answer[0]["id"], 1);
}

#[test]
fn unsubscribing_stops_the_channel_and_the_channel_can_be_taken_again_from_a_cursor() {
    let mut pair = hub();
    let mut mux = Mux::connect(&mut pair);
    mux.ask(&mut pair, json!({"type":"subscribe","channel":"a"}));
    publish(&mut pair, "a", "1");
    assert_eq!(channel_messages(&mux.frames(&mut pair)), [("a".into(), 1)]);
    let answer = mux.ask(&mut pair, json!({"type":"unsubscribe","channel":"a"}));
    assert_eq!(answer, [json!({"type":"unsubscribed","channel":"a"})]);
    publish(&mut pair, "a", "2");
    publish(&mut pair, "a", "3");
    assert!(mux.frames(&mut pair).is_empty());
    // Back from where it was: what it missed, then live.
    let answer = mux.ask(
        &mut pair,
        json!({"type":"subscribe","channel":"a","since":1}),
    );
    assert_eq!(
        channel_messages(&answer),
        [("a".into(), 2), ("a".into(), 3)]
    );
    // Subscribing again while subscribed starts over from the new cursor, once.
    let answer = mux.ask(
        &mut pair,
        json!({"type":"subscribe","channel":"a","since":2}),
    );
    assert_eq!(channel_messages(&answer), [("a".into(), 3)]);
    publish(&mut pair, "a", "4");
    assert_eq!(channel_messages(&mux.frames(&mut pair)), [("a".into(), 4)]);
    assert_eq!(pair.handler().inner().hub().subscriber_count("a"), 1);
}

#[test]
fn a_cursor_from_another_stream_gets_a_reset_and_evicted_messages_are_counted() {
    let mut other = hub();
    let old = publish(&mut other, "a", "x")["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let mut h = HubConfig::default();
    h.history = 2;
    let mut pair = hub_with(h);
    for i in 1..=4 {
        publish(&mut pair, "a", &i.to_string());
    }
    let mut mux = Mux::connect(&mut pair);
    let answer = mux.ask(
        &mut pair,
        json!({"type":"subscribe","channel":"a","since":9,"epoch":old}),
    );
    assert_eq!(answer[0]["type"], "subscribed");
    assert_eq!(answer[0]["reset"], true);
    assert_eq!(answer[0]["next"], 0);
    assert_eq!(answer[1], json!({"type":"missed","channel":"a","missed":2}));
    assert_eq!(
        channel_messages(&answer[2..]),
        [("a".into(), 3), ("a".into(), 4)]
    );
}

#[test]
fn a_connection_follows_at_most_max_subscriptions_channels() {
    let mut h = HubConfig::default();
    h.max_subscriptions = 3;
    let mut pair = hub_with(h);
    let mut mux = Mux::connect(&mut pair);
    for name in ["a", "b", "c"] {
        let answer = mux.ask(&mut pair, json!({"type":"subscribe","channel":name}));
        assert_eq!(answer[0]["type"], "subscribed");
    }
    let answer = mux.ask(&mut pair, json!({"type":"subscribe","channel":"d","ref":1}));
    assert_eq!(answer[0]["type"], "error");
    assert_eq!(answer[0]["status"], 429);
    assert_eq!(answer[0]["channel"], "d");
    // Again on one it has is no new subscription; after an unsubscribe there is room.
    let answer = mux.ask(&mut pair, json!({"type":"subscribe","channel":"a"}));
    assert_eq!(answer[0]["type"], "subscribed");
    mux.ask(&mut pair, json!({"type":"unsubscribe","channel":"b"}));
    let answer = mux.ask(&mut pair, json!({"type":"subscribe","channel":"d"}));
    assert_eq!(answer[0]["type"], "subscribed");
    assert_eq!(pair.handler().inner().hub().subscriber_count("d"), 1);
    assert_eq!(pair.handler().inner().hub().subscriber_count("b"), 0);
}

#[test]
fn closing_the_socket_lets_go_of_every_channel() {
    let mut pair = hub();
    let mut mux = Mux::connect(&mut pair);
    for name in ["a", "b", "c"] {
        mux.ask(&mut pair, json!({"type":"subscribe","channel":name}));
    }
    let stats = pair.handler().inner().hub().stats();
    assert_eq!(stats.active_subscribers, 3);
    mux.client.send(
        &mut pair,
        &client_frame(true, OP_CLOSE, &close_payload(1000, b"")),
    );
    let stats = pair.handler().inner().hub().stats();
    assert_eq!(stats.active_subscribers, 0);
    assert_eq!(pair.handler().inner().hub().channel_count(), 0);
}

#[test]
fn a_reader_that_stops_reading_is_paused_per_channel_and_resumed_without_loss_or_duplicate() {
    let mut c = config();
    c.write_buffer_high_water = 8 * 1024;
    let mut pair = memory_server(c, HubServer::new(HubConfig::default())).0;
    let mut mux = Mux::connect(&mut pair);
    mux.ask(&mut pair, json!({"type":"subscribe","channel":"a"}));
    mux.ask(&mut pair, json!({"type":"subscribe","channel":"b"}));
    pair.set_read_limit(mux.client.peer, Some(0));
    let text = "x".repeat(500);
    for _ in 0..100 {
        publish(&mut pair, "a", &text);
        publish(&mut pair, "b", &text);
    }
    let stats = pair.handler().inner().hub().stats();
    assert_eq!(
        stats.paused_subscribers, 2,
        "both channels wait for the reader"
    );
    // Commands keep being answered, after what is already queued.
    mux.send(
        &mut pair,
        &json!({"type":"publish","channel":"c","data":"z","ref":"late"}),
    );
    pair.set_read_limit(mux.client.peer, None);
    let frames = mux.frames(&mut pair);
    for channel in ["a", "b"] {
        let ids: Vec<u64> = channel_messages(&frames)
            .into_iter()
            .filter(|(c, _)| c == channel)
            .map(|(_, id)| id)
            .collect();
        // Everything is still retained (1,024 messages), so nothing is missed.
        assert_eq!(ids, (1..=100).collect::<Vec<_>>(), "channel {channel}");
    }
    assert!(frames.iter().all(|f| f["type"] != "missed"));
    let acks: Vec<&Value> = frames.iter().filter(|f| f["type"] == "ack").collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["ref"], "late");
    let stats = pair.handler().inner().hub().stats();
    assert_eq!((stats.active_subscribers, stats.paused_subscribers), (2, 0));
}

// ===== access =====

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_796_083_200;

fn guarded() -> HubPair {
    let secret = Secret::new(SECRET).unwrap();
    let server = HubServer::new(HubConfig::default()).with_authorizer(TokenAuthorizer::new(secret));
    let mut pair = memory_server(config(), server).0;
    pair.set_wall_time(UNIX_EPOCH + Duration::from_secs(NOW));
    pair
}

fn token(publish: &[&str], subscribe: &[&str]) -> String {
    let patterns = |list: &[&str]| list.iter().map(|p| Pattern::parse(p).unwrap()).collect();
    let claims = Claims {
        expires: NOW + 3600,
        publish: patterns(publish),
        subscribe: patterns(subscribe),
    };
    mint(&Secret::new(SECRET).unwrap(), &claims)
}

#[test]
fn each_command_is_judged_by_the_token_the_upgrade_carried() {
    let mut pair = guarded();
    let token = token(&["chat.*"], &["chat.*", "news"]);
    let offer = format!("Sec-WebSocket-Protocol: pushwire.v1, bearer.{token}");
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, upgrade_request("/ws", &[&offer]).as_bytes());
    let response = client.response(&mut pair);
    assert_eq!(response.status, 101);
    assert_eq!(
        response.header("Sec-WebSocket-Protocol"),
        Some("pushwire.v1")
    );
    let mut mux = Mux { client };
    for name in ["chat.1", "news"] {
        let answer = mux.ask(&mut pair, json!({"type":"subscribe","channel":name}));
        assert_eq!(answer[0]["type"], "subscribed", "{name}");
    }
    let answer = mux.ask(
        &mut pair,
        json!({"type":"subscribe","channel":"admin","ref":1}),
    );
    assert_eq!(
        (answer[0]["type"].clone(), answer[0]["status"].clone()),
        (json!("error"), json!(403))
    );
    let answer = mux.ask(
        &mut pair,
        json!({"type":"publish","channel":"news","data":"x","ref":2}),
    );
    assert_eq!(answer[0]["status"], 403);
    let answer = mux.ask(
        &mut pair,
        json!({"type":"publish","channel":"chat.1","data":"hi","ref":3}),
    );
    assert_eq!(answer[0]["type"], "ack");
    assert_eq!(channel_messages(&answer[1..]), [("chat.1".into(), 1)]);
    assert_eq!(
        pair.handler()
            .inner()
            .hub()
            .get("news")
            .map(|c| c.last_id()),
        Some(0)
    );

    // Without a token, every command is 401; the connection itself is allowed.
    let mut anonymous = Mux::connect(&mut pair);
    let answer = anonymous.ask(&mut pair, json!({"type":"subscribe","channel":"news"}));
    assert_eq!(answer[0]["status"], 401);
}
