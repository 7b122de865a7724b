//! Pings from the client are answered; the server's keepalive pings idle peers and drops
//! silent ones.

mod support;

use std::time::{Duration, Instant};

use pushwire::{CloseCode, CloseKind};
use support::*;

#[test]
fn client_ping_gets_a_pong_with_the_same_payload() {
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::upgrade(server.addr);
    for payload in [&b""[..], b"hello", &[0xA5; 125]] {
        client.send(&client_frame(true, OP_PING, payload));
        let pong = client.read_frame();
        assert_eq!(pong.opcode, OP_PONG, "{pong:?}");
        assert!(pong.fin);
        assert_eq!(pong.payload, payload);
    }
}

#[test]
fn unsolicited_pong_is_ignored_and_the_connection_stays_usable() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    client.send(&client_frame(true, OP_PONG, b"unasked"));
    client.send(&client_frame(true, OP_TEXT, b"still here"));
    let frame = client.read_frame();
    assert_eq!(
        (frame.opcode, frame.payload.as_slice()),
        (OP_TEXT, &b"still here"[..])
    );
    events.assert_none_within(
        "on_close",
        Duration::from_millis(50),
        |e| matches!(e, Event::Close(c, _) if *c == conn),
    );
}

#[test]
fn ping_between_fragments_is_answered_and_the_message_still_arrives() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    client.send(&client_frame(false, OP_TEXT, b"Hel"));
    client.send(&client_frame(true, OP_PING, b"mid"));
    client.send(&client_frame(true, OP_CONT, b"lo"));
    let pong = client.read_frame();
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (OP_PONG, &b"mid"[..])
    );
    let echoed = client.read_frame();
    assert_eq!(
        (echoed.opcode, echoed.payload.as_slice()),
        (OP_TEXT, &b"Hello"[..])
    );
    assert_eq!(events.message(conn).as_text(), Some("Hello"));
}

#[test]
fn ping_is_answered_while_a_fragmented_message_is_incomplete() {
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::upgrade(server.addr);
    client.send(&client_frame(false, OP_BINARY, &[1, 2, 3]));
    client.send(&client_frame(true, OP_PING, b"now"));
    // The pong must not wait for the message to finish.
    let pong = client.read_frame();
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (OP_PONG, &b"now"[..])
    );
    client.send(&client_frame(true, OP_CONT, &[4]));
    let echoed = client.read_frame();
    assert_eq!(echoed.payload, [1, 2, 3, 4]);
}

#[test]
fn idle_client_receives_a_keepalive_ping() {
    let mut config = config();
    config.ping_interval = Some(Duration::from_millis(200));
    config.pong_timeout = Duration::from_secs(5);
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut client = RawClient::upgrade(server.addr);
    let start = Instant::now();
    let ping = client.read_frame();
    assert_eq!(ping.opcode, OP_PING, "{ping:?}");
    assert!(ping.fin);
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "pinged after {:?}, before the interval",
        start.elapsed()
    );
}

#[test]
fn silent_client_is_dropped_after_pong_timeout_and_reported_as_1006() {
    let mut config = config();
    config.ping_interval = Some(Duration::from_millis(200));
    config.pong_timeout = Duration::from_millis(300);
    let (handler, mut events) = recording(Echo);
    let mut server = TestServer::start(config, handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    let start = Instant::now();
    assert_eq!(client.read_frame().opcode, OP_PING);
    // Never answer.
    client.expect_eof();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(450),
        "dropped after {elapsed:?}, before ping_interval + pong_timeout"
    );
    let event = events.close(conn);
    assert_eq!(event.code, CloseCode::ABNORMAL_CLOSURE);
    assert_eq!(event.kind, CloseKind::Abnormal);
    drop(client);
    server.stop();
    events.finish();
}

#[test]
fn client_that_answers_pings_stays_connected_over_many_intervals() {
    let mut config = config();
    config.ping_interval = Some(Duration::from_millis(200));
    config.pong_timeout = Duration::from_millis(300);
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    let mut pings = 0;
    let start = Instant::now();
    // Two seconds is ten ping intervals, or four times interval + timeout.
    while start.elapsed() < Duration::from_secs(2) {
        let frame = client.read_frame();
        assert_eq!(frame.opcode, OP_PING, "{frame:?}");
        pings += 1;
        client.send(&client_frame(true, OP_PONG, &frame.payload));
    }
    assert!(pings >= 3, "only {pings} keepalive pings in 2 s");
    events.assert_none_within(
        "on_close",
        Duration::ZERO,
        |e| matches!(e, Event::Close(c, _) if *c == conn),
    );
    client.send(&client_frame(true, OP_TEXT, b"alive"));
    // A ping may come first.
    let frame = loop {
        let f = client.read_frame();
        if f.opcode != OP_PING {
            break f;
        }
        client.send(&client_frame(true, OP_PONG, &f.payload));
    };
    assert_eq!(
        (frame.opcode, frame.payload.as_slice()),
        (OP_TEXT, &b"alive"[..])
    );
}

#[test]
fn tungstenite_client_survives_keepalive_by_answering_automatically() {
    let mut config = config();
    config.ping_interval = Some(Duration::from_millis(100));
    config.pong_timeout = Duration::from_millis(300);
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut ws = ws_connect(server.addr, "/");
    let conn = events.open();
    let mut pings = 0;
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        match ws.read().expect("connection stays up") {
            tungstenite::Message::Ping(_) => {
                pings += 1;
                ws.flush().unwrap(); // sends the queued pong
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pings >= 3, "only {pings} pings in 1 s at a 100 ms interval");
    events.assert_none_within(
        "on_close",
        Duration::ZERO,
        |e| matches!(e, Event::Close(c, _) if *c == conn),
    );
}
