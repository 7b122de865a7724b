//! Client and server connections talking in memory (`pushwire::pair::Pair`), with a
//! virtual clock: deterministic protocol tests without sockets.

use std::time::Duration;

use pushwire::config::WsLimits;
use pushwire::pair::{OwnedEvent, Pair};
use pushwire::{CloseCode, CloseKind, Message};

fn pair() -> Pair {
    Pair::connect(WsLimits::default(), [42; 32])
}

fn messages(events: Vec<OwnedEvent>) -> Vec<Message<'static>> {
    events
        .into_iter()
        .filter_map(|e| match e {
            OwnedEvent::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn every_message_size_class_arrives_intact_both_ways() {
    // 7-bit, 16-bit and 64-bit length encodings and their boundaries (RFC 6455 §5.2).
    for len in [0, 1, 125, 126, 127, 65535, 65536, 1 << 20] {
        let mut p = pair();
        let data = payload(len);
        p.client_send(&Message::binary(&data[..]));
        p.server_send(&Message::binary(&data[..]));
        let text = "é".repeat(len / 2);
        p.client_send(&Message::text(&text[..]));
        p.drive();
        let at_server = messages(p.take_server_events());
        let at_client = messages(p.take_client_events());
        assert_eq!(
            at_server,
            vec![Message::binary(data.clone()), Message::text(text)],
            "len {len}"
        );
        assert_eq!(at_client, vec![Message::binary(data)], "len {len}");
    }
}

#[test]
fn fragmented_messages_are_reassembled_both_ways() {
    let mut p = pair();
    let text = "fragmented ✓ message with a multi-byte character split across frames";
    p.client_send_fragmented(&Message::text(text), 7);
    p.server_send_fragmented(&Message::binary(&payload(1000)[..]), 64);
    p.drive();
    assert_eq!(messages(p.take_server_events()), vec![Message::text(text)]);
    assert_eq!(
        messages(p.take_client_events()),
        vec![Message::binary(payload(1000))]
    );
}

#[test]
fn pings_between_fragments_are_answered_and_the_message_survives() {
    use pushwire::ws::frame::{OpCode, write_frame};
    let mut p = pair();
    // RFC 6455 §5.4: control frames MAY be injected in the middle of a fragmented message.
    let key = Some([1, 2, 3, 4]);
    let mut wire = Vec::new();
    write_frame(&mut wire, false, OpCode::Text, b"a message ", key);
    write_frame(&mut wire, true, OpCode::Ping, b"hello?", key);
    write_frame(&mut wire, false, OpCode::Continuation, b"in three ", key);
    write_frame(&mut wire, true, OpCode::Pong, b"unsolicited", key);
    write_frame(&mut wire, true, OpCode::Continuation, b"parts", key);
    p.client_raw(&wire);
    p.drive();
    assert_eq!(
        p.take_server_events(),
        vec![
            OwnedEvent::Ping(b"hello?".to_vec()),
            OwnedEvent::Pong(b"unsolicited".to_vec()),
            OwnedEvent::Message(Message::text("a message in three parts")),
        ]
    );
    assert_eq!(
        p.take_client_events(),
        vec![OwnedEvent::Pong(b"hello?".to_vec())]
    );
}

#[test]
fn client_initiated_close_completes_on_both_sides() {
    let mut p = pair();
    p.client_close(CloseCode::NORMAL, "bye");
    p.drive();
    let server = p.take_server_events();
    let client = p.take_client_events();
    let OwnedEvent::Closed(s) = &server[0] else {
        panic!("{server:?}")
    };
    let OwnedEvent::Closed(c) = &client[0] else {
        panic!("{client:?}")
    };
    assert_eq!(
        (s.code, s.reason.as_ref(), s.kind),
        (CloseCode::NORMAL, "bye", CloseKind::Remote)
    );
    assert_eq!((c.code, c.kind), (CloseCode::NORMAL, CloseKind::Local));
    assert!(p.client.is_closed() && p.server.is_closed());
}

#[test]
fn server_initiated_close_completes_on_both_sides() {
    let mut p = pair();
    p.server_close(CloseCode::GOING_AWAY, "restarting");
    p.drive();
    let OwnedEvent::Closed(c) = &p.take_client_events()[0] else {
        panic!()
    };
    let OwnedEvent::Closed(s) = &p.take_server_events()[0] else {
        panic!()
    };
    assert_eq!(
        (c.code, c.reason.as_ref(), c.kind),
        (CloseCode::GOING_AWAY, "restarting", CloseKind::Remote)
    );
    assert_eq!((s.code, s.kind), (CloseCode::GOING_AWAY, CloseKind::Local));
}

#[test]
fn simultaneous_closes_both_complete() {
    let mut p = pair();
    p.client_close(CloseCode::NORMAL, "");
    p.server_close(CloseCode::GOING_AWAY, "");
    p.drive();
    let OwnedEvent::Closed(c) = &p.take_client_events()[0] else {
        panic!()
    };
    let OwnedEvent::Closed(s) = &p.take_server_events()[0] else {
        panic!()
    };
    // Each side reports the code it received (RFC 6455 §7.1.5).
    assert_eq!(c.code, CloseCode::GOING_AWAY);
    assert_eq!(s.code, CloseCode::NORMAL);
}

#[test]
fn unanswered_close_times_out_on_the_virtual_clock() {
    let mut p = pair();
    p.server_close(CloseCode::NORMAL, "");
    // The client never gets the bytes (nothing is delivered); time passes.
    p.advance(WsLimits::default().close_timeout - Duration::from_millis(1));
    assert!(p.take_server_events().is_empty());
    p.advance(Duration::from_millis(1));
    let OwnedEvent::Closed(s) = &p.take_server_events()[0] else {
        panic!()
    };
    assert_eq!(
        (s.code, s.kind),
        (CloseCode::ABNORMAL_CLOSURE, CloseKind::Abnormal)
    );
}

#[test]
fn keepalive_ping_is_answered_by_the_client_and_keeps_the_connection() {
    let limits = WsLimits::default();
    let mut p = Pair::connect(limits, [1; 32]);
    let interval = limits.ping_interval.unwrap();
    for _ in 0..5 {
        p.advance(interval);
        p.drive(); // server's ping reaches the client, whose pong comes back
        assert!(p.server.is_open());
    }
    // A client that vanishes is noticed.
    p.advance(interval);
    p.advance(limits.pong_timeout);
    let events = p.take_server_events();
    assert!(
        matches!(events.last(), Some(OwnedEvent::Closed(c)) if c.kind == CloseKind::Abnormal),
        "{events:?}"
    );
}

/// A conversation with every kind of frame, run with the wire cut by `cuts`.
fn conversation(
    cuts: impl FnMut() -> usize,
) -> (Vec<OwnedEvent>, Vec<OwnedEvent>, Vec<u8>, Vec<u8>) {
    let mut p = pair();
    p.client_send(&Message::text("hello"));
    p.client_send_fragmented(&Message::text("naïve café ☕ fragments"), 3);
    p.client_ping(b"p1");
    p.client_send(&Message::binary(&payload(70_000)[..]));
    p.server_send(&Message::text("from server"));
    p.server_send_fragmented(&Message::binary(&payload(300)[..]), 100);
    p.client_send(&Message::text(""));
    p.client_close(CloseCode::new(4000).unwrap(), "done");
    p.drive_with_cuts(cuts);
    (
        p.take_server_events(),
        p.take_client_events(),
        p.client_bytes().to_vec(),
        p.server_bytes().to_vec(),
    )
}

#[test]
fn events_and_bytes_do_not_depend_on_how_the_stream_is_cut() {
    let whole = conversation(|| usize::MAX);
    assert_eq!(whole.0.len(), 6, "{:?}", whole.0);
    let bytewise = conversation(|| 1);
    assert_eq!(bytewise, whole, "one byte at a time");
    for seed in 1..20u64 {
        let mut state = seed;
        let random = conversation(move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 200) as usize + 1
        });
        assert_eq!(random, whole, "random cuts, seed {seed}");
    }
}
