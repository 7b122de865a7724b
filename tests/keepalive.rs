//! Pings and pongs, in memory: a client's ping is answered with its payload (also in the
//! middle of a fragmented message, without waiting for its end), an unsolicited pong is
//! ignored, and the server's keepalive on the virtual clock pings an idle client after
//! `ping_interval`, drops one that stays silent for `pong_timeout` more (1006), and keeps
//! one that answers.

mod support;

use std::time::Duration;

use pushwire::pair::OwnedEvent;
use pushwire::{CloseCode, CloseKind, Config, Message};
use support::*;

const INTERVAL: Duration = Duration::from_secs(20);
const PONG_TIMEOUT: Duration = Duration::from_secs(7);
const TICK: Duration = Duration::from_millis(1);

/// Keepalive on: a ping after [`INTERVAL`] of silence, [`PONG_TIMEOUT`] for the answer.
fn keepalive_config() -> Config {
    let mut config = config();
    config.ping_interval = Some(INTERVAL);
    config.pong_timeout = PONG_TIMEOUT;
    config
}

#[test]
fn client_ping_gets_a_pong_with_the_same_payload() {
    let (mut pair, _events) = memory_server(config(), Echo);
    let mut client = Client::upgrade(&mut pair, "/");
    for payload in [&b""[..], b"hello", &[0xA5; 125]] {
        client.send(&mut pair, &client_frame(true, OP_PING, payload));
        let pong = client.frame(&mut pair);
        assert_eq!(pong.opcode, OP_PONG, "{pong:?}");
        assert!(pong.fin);
        assert_eq!(pong.payload, payload);
        client.nothing(&mut pair);
    }
}

#[test]
fn unsolicited_pong_is_ignored_and_the_connection_stays_usable() {
    let (mut pair, mut events) = memory_server(config(), Echo);
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    client.send(&mut pair, &client_frame(true, OP_PONG, b"unasked"));
    client.nothing(&mut pair);
    client.send(&mut pair, &client_frame(true, OP_TEXT, b"still here"));
    let frame = client.frame(&mut pair);
    assert_eq!(
        (frame.opcode, frame.payload.as_slice()),
        (OP_TEXT, &b"still here"[..])
    );
    client.nothing(&mut pair);
    events.assert_none(
        "on_close",
        |e| matches!(e, Event::Close(c, _) if *c == conn),
    );
    assert!(!client.server_finished(&pair));
}

#[test]
fn ping_between_fragments_is_answered_and_the_message_still_arrives() {
    let (mut pair, mut events) = memory_server(config(), Echo);
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    client.send(&mut pair, &client_frame(false, OP_TEXT, b"Hel"));
    client.send(&mut pair, &client_frame(true, OP_PING, b"mid"));
    client.send(&mut pair, &client_frame(true, OP_CONT, b"lo"));
    let pong = client.frame(&mut pair);
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (OP_PONG, &b"mid"[..])
    );
    let echoed = client.frame(&mut pair);
    assert_eq!(
        (echoed.opcode, echoed.payload.as_slice()),
        (OP_TEXT, &b"Hello"[..])
    );
    assert_eq!(events.message(conn).as_text(), Some("Hello"));
}

#[test]
fn ping_is_answered_while_a_fragmented_message_is_incomplete() {
    let (mut pair, _events) = memory_server(config(), Echo);
    let mut client = Client::upgrade(&mut pair, "/");
    client.send(&mut pair, &client_frame(false, OP_BINARY, &[1, 2, 3]));
    client.send(&mut pair, &client_frame(true, OP_PING, b"now"));
    // The pong must not wait for the message to finish.
    let pong = client.frame(&mut pair);
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (OP_PONG, &b"now"[..])
    );
    client.nothing(&mut pair);
    client.send(&mut pair, &client_frame(true, OP_CONT, &[4]));
    let echoed = client.frame(&mut pair);
    assert_eq!(
        (echoed.opcode, echoed.payload.as_slice()),
        (OP_BINARY, &[1u8, 2, 3, 4][..])
    );
}

#[test]
fn idle_client_receives_a_keepalive_ping() {
    let (mut pair, _events) = memory_server(keepalive_config(), Echo);
    let mut client = Client::upgrade(&mut pair, "/");
    pair.advance(INTERVAL - TICK);
    client.nothing(&mut pair);
    pair.advance(TICK);
    let ping = client.frame(&mut pair);
    assert_eq!(ping.opcode, OP_PING, "{ping:?}");
    assert!(ping.fin);
    client.nothing(&mut pair);
}

#[test]
fn silent_client_is_dropped_after_pong_timeout_and_reported_as_1006() {
    let (mut pair, mut events) = memory_server(keepalive_config(), Echo);
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    pair.advance(INTERVAL);
    assert_eq!(client.frame(&mut pair).opcode, OP_PING);
    // Never answer.
    pair.advance(PONG_TIMEOUT - TICK);
    assert!(
        !client.is_closed(&pair),
        "dropped before ping_interval + pong_timeout"
    );
    events.assert_none("on_close", |e| matches!(e, Event::Close(..)));
    pair.advance(TICK);
    assert!(
        client.is_closed(&pair),
        "still connected after pong_timeout"
    );
    let event = events.close(conn);
    assert_eq!(event.code, CloseCode::ABNORMAL_CLOSURE);
    assert_eq!(event.kind, CloseKind::Abnormal);
    events.check_contract();
}

#[test]
fn client_that_answers_pings_stays_connected_over_many_intervals() {
    let (mut pair, mut events) = memory_server(keepalive_config(), Echo);
    // The built-in client answers every ping with a pong.
    let ws = pair.ws_connect("/").unwrap();
    let conn = events.open();
    // Ten intervals: far past ping_interval + pong_timeout, several times over.
    for round in 0..10 {
        // Past the previous ping's pong timeout: its pong counted, nothing happens.
        pair.advance(INTERVAL - TICK);
        assert!(pair.ws_events(ws).is_empty(), "round {round}");
        // An interval after the pong: the next ping.
        pair.advance(TICK);
        let seen = pair.ws_events(ws);
        assert!(
            matches!(seen.as_slice(), [OwnedEvent::Ping(_)]),
            "round {round}: expected one keepalive ping, got {seen:?}"
        );
    }
    events.assert_none(
        "on_close",
        |e| matches!(e, Event::Close(c, _) if *c == conn),
    );
    pair.ws_send(ws, &Message::text("alive"));
    let seen = pair.ws_events(ws);
    assert_eq!(seen, [OwnedEvent::Message(Message::text("alive"))]);
}
