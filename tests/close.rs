//! Ending a WebSocket, in memory: the closing handshake from either side (the client's
//! Close echoed and reported as Remote, 1005 for an empty one; the server's from
//! `Context::close` or a `Handle` reported as Local, after the data sent before it), the
//! close timeout on the virtual clock, TCP ending without a Close (1006), and failing the
//! connection when the peer breaks the protocol: the right close code (1002 framing and
//! close payloads, 1007 invalid UTF-8, 1009 limits), nothing delivered after the
//! violation, and the server closing TCP.

mod support;

use std::time::Duration;

use pushwire::pair::{OwnedEvent, ServerPair};
use pushwire::{
    CloseCode, CloseEvent, CloseKind, Config, ConnId, Context, Handler, Message, ProtocolError,
};
use support::*;

/// Echoes, except that the text "close me" makes the server close with 4000 "bye".
struct CloseOnRequest;

impl Handler for CloseOnRequest {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
        if msg.as_text() == Some("close me") {
            ctx.close(conn, CloseCode::new(4000).unwrap(), "bye")
                .expect("close");
        } else {
            let _ = ctx.send(conn, &msg);
        }
    }
}

fn echo_server(config: Config) -> (ServerPair<Recording<Echo>>, Events) {
    memory_server(config, Echo)
}

/// After the server's last frame: it has half-closed (RFC 6455 §7.1.1, the server closes
/// TCP first), sends nothing more, and closes the connection once our FIN arrives.
fn expect_tcp_end<H: Handler>(client: &mut Client, pair: &mut ServerPair<H>) {
    client.nothing(pair);
    assert!(client.server_finished(pair), "the server half-closed");
    client.finish(pair);
    assert!(client.is_closed(pair), "the server closed after our FIN");
}

/// Opens a new connection, sends `bytes`, and checks that the server fails the
/// connection: a Close with `code`, then the end of TCP, and `on_close` with `code` and
/// `CloseKind::Failed`.
fn expect_failure<H: Handler>(
    pair: &mut ServerPair<H>,
    events: &mut Events,
    bytes: &[u8],
    code: u16,
) -> CloseEvent<'static> {
    let mut client = Client::upgrade(pair, "/");
    let conn = events.open();
    client.send(pair, bytes);
    let (got, _reason) = client
        .close_frame(pair)
        .expect("Close frame with a status code");
    assert_eq!(
        got,
        code,
        "close code for {:02x?}",
        &bytes[..bytes.len().min(32)]
    );
    expect_tcp_end(&mut client, pair);
    let event = events.close(conn);
    assert_eq!(event.code.as_u16(), code);
    assert!(
        matches!(event.kind, CloseKind::Failed(_)),
        "expected CloseKind::Failed, got {event:?}"
    );
    event
}

#[test]
fn client_close_is_echoed_reported_as_remote_then_tcp_closes() {
    let (mut pair, mut events) = echo_server(config());
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    client.send(&mut pair, &close_frame(&close_payload(1000, b"done")));
    let (code, _) = client.close_frame(&mut pair).expect("echoed status code");
    assert_eq!(code, 1000);
    expect_tcp_end(&mut client, &mut pair);
    let event = events.close(conn);
    assert_eq!(event.code, CloseCode::NORMAL);
    assert_eq!(event.reason, "done");
    assert_eq!(event.kind, CloseKind::Remote);
    events.check_contract();
}

#[test]
fn client_close_without_status_is_answered_and_reported_as_1005() {
    let (mut pair, mut events) = echo_server(config());
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    client.send(&mut pair, &close_frame(b""));
    let frame = client.frame(&mut pair);
    assert_eq!(frame.opcode, OP_CLOSE);
    assert!(frame.payload.is_empty(), "1005 must not be sent: {frame:?}");
    expect_tcp_end(&mut client, &mut pair);
    let event = events.close(conn);
    assert_eq!(event.code, CloseCode::NO_STATUS_RECEIVED);
    assert_eq!(event.kind, CloseKind::Remote);
}

#[test]
fn server_close_from_context_reaches_client_and_is_reported_as_local() {
    let (mut pair, mut events) = memory_server(config(), CloseOnRequest);
    let ws = pair.ws_connect("/").unwrap();
    let conn = events.open();
    pair.ws_send(ws, &Message::text("close me"));
    // The built-in client answers the Close, which completes the handshake.
    let seen = pair.ws_events(ws);
    let [OwnedEvent::Closed(closed)] = seen.as_slice() else {
        panic!("expected the server's Close alone, got {seen:?}");
    };
    assert_eq!(
        (closed.code.as_u16(), closed.reason.as_ref(), closed.kind),
        (4000, "bye", CloseKind::Remote)
    );
    let event = events.close(conn);
    assert_eq!(event.code.as_u16(), 4000);
    assert_eq!(event.kind, CloseKind::Local);
    assert!(pair.server_finished(ws), "the server half-closed");
}

#[test]
fn server_close_from_handle_reaches_client_and_is_reported_as_local() {
    let (mut pair, mut events) = echo_server(config());
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    pair.handle()
        .close(conn, CloseCode::new(4001).unwrap(), "handle bye")
        .unwrap();
    pair.run();
    assert_eq!(
        client.close_frame(&mut pair),
        Some((4001, "handle bye".to_string()))
    );
    events.assert_none("on_close before the peer answered", |e| {
        matches!(e, Event::Close(..))
    });
    client.send(&mut pair, &close_frame(&close_payload(4001, b"")));
    expect_tcp_end(&mut client, &mut pair);
    let event = events.close(conn);
    assert_eq!(event.code.as_u16(), 4001);
    assert_eq!(event.kind, CloseKind::Local);
}

#[test]
fn data_sent_by_the_server_before_its_close_arrives_before_the_close() {
    let (mut pair, mut events) = echo_server(config());
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    let handle = pair.handle();
    handle.send(conn, "last words").unwrap();
    handle.close(conn, CloseCode::NORMAL, "done").unwrap();
    pair.run();
    let frame = client.frame(&mut pair);
    assert_eq!(
        (frame.opcode, frame.payload.as_slice()),
        (OP_TEXT, &b"last words"[..])
    );
    assert_eq!(
        client.close_frame(&mut pair),
        Some((1000, "done".to_string()))
    );
    client.send(&mut pair, &close_frame(&close_payload(1000, b"")));
    expect_tcp_end(&mut client, &mut pair);
    assert_eq!(events.close(conn).kind, CloseKind::Local);
}

#[test]
fn peer_that_never_answers_close_is_dropped_after_close_timeout_as_abnormal() {
    let mut config = config();
    config.close_timeout = Duration::from_secs(3);
    let (mut pair, mut events) = echo_server(config);
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    pair.handle().close(conn, CloseCode::NORMAL, "bye").unwrap();
    pair.run();
    assert_eq!(
        client.close_frame(&mut pair),
        Some((1000, "bye".to_string()))
    );
    // Never answer: the server must give up and close TCP by itself, at the deadline.
    pair.advance(Duration::from_secs(3) - Duration::from_millis(1));
    assert!(!client.is_closed(&pair), "closed before close_timeout");
    events.assert_none("on_close before close_timeout", |e| {
        matches!(e, Event::Close(..))
    });
    pair.advance(Duration::from_millis(1));
    assert!(client.is_closed(&pair), "still open at close_timeout");
    let event = events.close(conn);
    assert_eq!(event.code, CloseCode::ABNORMAL_CLOSURE);
    assert_eq!(event.kind, CloseKind::Abnormal);
    client.nothing(&mut pair);
}

#[test]
fn tcp_dropped_without_close_is_reported_as_1006_abnormal() {
    let (mut pair, mut events) = echo_server(config());
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    client.finish(&mut pair);
    let event = events.close(conn);
    assert_eq!(event.code, CloseCode::ABNORMAL_CLOSURE);
    assert_eq!(event.kind, CloseKind::Abnormal);
    assert!(client.is_closed(&pair));
    client.nothing(&mut pair);
}

#[test]
fn tcp_dropped_in_the_middle_of_a_frame_is_reported_as_1006_abnormal() {
    let (mut pair, mut events) = echo_server(config());
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    let frame = client_frame(true, OP_BINARY, &[7u8; 1000]);
    client.send(&mut pair, &frame[..500]);
    client.finish(&mut pair);
    let event = events.close(conn);
    assert_eq!(event.kind, CloseKind::Abnormal);
    assert_eq!(event.code, CloseCode::ABNORMAL_CLOSURE);
    assert!(client.is_closed(&pair));
    events.assert_none("on_message for half a frame", |e| {
        matches!(e, Event::Message(..))
    });
}

#[test]
fn malformed_close_payloads_fail_the_connection_with_1002() {
    let (mut pair, mut events) = echo_server(config());
    // A 1-byte payload: half a status code.
    let event = expect_failure(&mut pair, &mut events, &close_frame(&[0x03]), 1002);
    assert_eq!(
        event.kind,
        CloseKind::Failed(ProtocolError::InvalidClosePayload)
    );
    // Codes that may not be sent (RFC 6455 §7.4).
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let event = expect_failure(
            &mut pair,
            &mut events,
            &close_frame(&close_payload(code, b"")),
            1002,
        );
        assert_eq!(
            event.kind,
            CloseKind::Failed(ProtocolError::InvalidCloseCode(code)),
            "code {code}"
        );
    }
    events.check_contract();
}

#[test]
fn every_close_code_allowed_on_the_wire_is_accepted_and_echoed() {
    let (mut pair, mut events) = echo_server(config());
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ] {
        let mut client = Client::upgrade(&mut pair, "/");
        let conn = events.open();
        client.send(&mut pair, &close_frame(&close_payload(code, b"ok")));
        assert_eq!(client.close_frame(&mut pair).map(|(c, _)| c), Some(code));
        expect_tcp_end(&mut client, &mut pair);
        let event = events.close(conn);
        assert_eq!(
            (event.code.as_u16(), event.reason.as_ref(), event.kind),
            (code, "ok", CloseKind::Remote)
        );
    }
}

#[test]
fn close_reason_that_is_not_utf8_fails_the_connection_with_1007() {
    let (mut pair, mut events) = echo_server(config());
    let event = expect_failure(
        &mut pair,
        &mut events,
        &close_frame(&close_payload(1000, &[b'o', b'k', 0xff, 0xfe])),
        1007,
    );
    assert_eq!(
        event.kind,
        CloseKind::Failed(ProtocolError::InvalidCloseReason)
    );
}

#[test]
fn framing_violations_fail_the_connection_with_1002() {
    let (mut pair, mut events) = echo_server(config());
    let cases: Vec<(&str, Vec<u8>, ProtocolError)> = vec![
        (
            "unmasked client frame",
            frame_with(true, 0, OP_TEXT, b"hi", None),
            ProtocolError::UnmaskedFrame,
        ),
        (
            "RSV1 set",
            frame_with(true, 0b100, OP_TEXT, b"hi", Some(MASK)),
            ProtocolError::ReservedBits { rsv: 0b100 },
        ),
        (
            "RSV3 set",
            frame_with(true, 0b001, OP_BINARY, b"hi", Some(MASK)),
            ProtocolError::ReservedBits { rsv: 0b001 },
        ),
        (
            "reserved data opcode 0x3",
            client_frame(true, 0x3, b"hi"),
            ProtocolError::ReservedOpcode(0x3),
        ),
        (
            "reserved control opcode 0xB",
            client_frame(true, 0xB, b""),
            ProtocolError::ReservedOpcode(0xB),
        ),
        (
            "fragmented ping",
            client_frame(false, OP_PING, b"x"),
            ProtocolError::FragmentedControlFrame,
        ),
        (
            "126-byte ping",
            client_frame(true, OP_PING, &[b'p'; 126]),
            ProtocolError::ControlFrameTooLong(126),
        ),
        (
            "continuation without a message",
            client_frame(true, OP_CONT, b"orphan"),
            ProtocolError::UnexpectedContinuation,
        ),
        (
            "new message inside a fragmented one",
            [
                client_frame(false, OP_TEXT, b"first"),
                client_frame(true, OP_TEXT, b"second"),
            ]
            .concat(),
            ProtocolError::ExpectedContinuation,
        ),
    ];
    for (what, bytes, error) in cases {
        let event = expect_failure(&mut pair, &mut events, &bytes, 1002);
        assert_eq!(event.kind, CloseKind::Failed(error), "{what}");
    }
    events.assert_none("on_message", |e| matches!(e, Event::Message(..)));
}

#[test]
fn length_with_top_bit_set_fails_the_connection_with_1002() {
    let (mut pair, mut events) = echo_server(config());
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 63 | 5).to_be_bytes());
    header.extend_from_slice(&MASK);
    let event = expect_failure(&mut pair, &mut events, &header, 1002);
    assert_eq!(
        event.kind,
        CloseKind::Failed(ProtocolError::LengthTopBitSet)
    );
}

#[test]
fn invalid_utf8_text_fails_the_connection_with_1007() {
    let (mut pair, mut events) = echo_server(config());
    for payload in [
        &b"\xff"[..],        // never valid
        b"abc\xc0\xafdef",   // overlong encoding of '/'
        b"\xed\xa0\x80",     // a UTF-16 surrogate
        b"\xf4\x90\x80\x80", // above U+10FFFF
        b"end\xe2\x82",      // ends inside a code point
    ] {
        let event = expect_failure(
            &mut pair,
            &mut events,
            &client_frame(true, OP_TEXT, payload),
            1007,
        );
        assert_eq!(event.kind, CloseKind::Failed(ProtocolError::InvalidUtf8));
    }
    // A fragmented message ending in the middle of a code point.
    let bytes = [
        client_frame(false, OP_TEXT, b"ok\xe2"),
        client_frame(true, OP_CONT, b"\x82"),
    ]
    .concat();
    let event = expect_failure(&mut pair, &mut events, &bytes, 1007);
    assert_eq!(event.kind, CloseKind::Failed(ProtocolError::InvalidUtf8));
    events.assert_none("on_message", |e| matches!(e, Event::Message(..)));
}

#[test]
fn invalid_utf8_in_an_unfinished_fragment_fails_without_waiting_for_the_end() {
    let (mut pair, mut events) = echo_server(config());
    // The message never finishes: the close can only come from checking as it arrives.
    let event = expect_failure(
        &mut pair,
        &mut events,
        &client_frame(false, OP_TEXT, b"fine so far \xff"),
        1007,
    );
    assert_eq!(event.kind, CloseKind::Failed(ProtocolError::InvalidUtf8));
}

#[test]
fn invalid_utf8_deep_in_a_large_text_frame_fails_before_the_frame_completes() {
    // A frame this large arrives over many reads and is streamed into its message
    // buffer; validation must still happen as the bytes arrive, not at the end.
    let mut config = config();
    config.max_message_size = 8 << 20;
    config.max_frame_size = 8 << 20;
    let (mut pair, mut events) = echo_server(config);
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    let bad_at = 700 * 1024;
    let mut payload = vec![b'a'; 4 << 20];
    payload[bad_at] = 0xFF;
    let frame = client_frame(true, OP_TEXT, &payload);
    // The header, then everything up to and including the bad byte; the other ~3.3 MiB
    // never arrive.
    let header_len = frame.len() - payload.len();
    client.send(&mut pair, &frame[..header_len + bad_at + 1]);
    assert_eq!(client.close_frame(&mut pair).map(|(c, _)| c), Some(1007));
    expect_tcp_end(&mut client, &mut pair);
    let event = events.close(conn);
    assert_eq!(event.kind, CloseKind::Failed(ProtocolError::InvalidUtf8));
}

#[test]
fn frame_above_max_frame_size_is_refused_from_its_header_with_1009() {
    let mut config = config();
    config.max_frame_size = 1 << 20;
    config.max_message_size = 1 << 20;
    let (mut pair, mut events) = echo_server(config);
    // Only the headers are sent: the server must decide without seeing any payload.
    let event = expect_failure(
        &mut pair,
        &mut events,
        &frame_header(true, 0, OP_BINARY, 1 << 40, Some(MASK)),
        1009,
    );
    assert_eq!(
        event.kind,
        CloseKind::Failed(ProtocolError::FrameTooLarge {
            len: 1 << 40,
            max: 1 << 20
        })
    );
    let event = expect_failure(
        &mut pair,
        &mut events,
        &frame_header(true, 0, OP_TEXT, (1 << 20) + 1, Some(MASK)),
        1009,
    );
    assert_eq!(
        event.kind,
        CloseKind::Failed(ProtocolError::FrameTooLarge {
            len: (1 << 20) + 1,
            max: 1 << 20
        })
    );
}

#[test]
fn frame_of_exactly_max_frame_size_is_accepted() {
    let mut config = config();
    config.max_frame_size = 64 * 1024;
    config.max_message_size = 64 * 1024;
    let (mut pair, mut events) = echo_server(config);
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    let payload = vec![0x5a; 64 * 1024];
    client.send(&mut pair, &client_frame(true, OP_BINARY, &payload));
    let echoed = client.frame(&mut pair);
    assert_eq!(echoed.opcode, OP_BINARY);
    assert!(echoed.payload == payload);
    assert!(events.message(conn).as_bytes() == payload);
    assert!(!client.server_finished(&pair));
}

#[test]
fn message_above_max_message_size_across_fragments_fails_with_1009() {
    let mut config = config();
    config.max_frame_size = 64 * 1024;
    config.max_message_size = 64 * 1024;
    let (mut pair, mut events) = echo_server(config);
    let bytes = [
        client_frame(false, OP_BINARY, &[1u8; 40 * 1024]),
        // Only the header of the second fragment: the sum is refused from it.
        frame_header(true, 0, OP_CONT, 40 * 1024, Some(MASK)),
    ]
    .concat();
    let event = expect_failure(&mut pair, &mut events, &bytes, 1009);
    assert!(
        matches!(
            event.kind,
            CloseKind::Failed(ProtocolError::MessageTooLarge { max: 65536, .. })
        ),
        "{event:?}"
    );
    events.assert_none("on_message", |e| matches!(e, Event::Message(..)));
}

#[test]
fn more_fragments_than_max_fragments_fail_with_1009_and_the_limit_itself_is_accepted() {
    let mut config = config();
    config.max_fragments = 4;
    let (mut pair, mut events) = echo_server(config);

    // Exactly four fragments: fine.
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    let bytes = [
        client_frame(false, OP_TEXT, b"a"),
        client_frame(false, OP_CONT, b"b"),
        client_frame(false, OP_CONT, b"c"),
        client_frame(true, OP_CONT, b"d"),
    ]
    .concat();
    client.send(&mut pair, &bytes);
    let echoed = client.frame(&mut pair);
    assert_eq!(echoed.payload, b"abcd");
    assert_eq!(events.message(conn).as_text(), Some("abcd"));
    assert!(!client.server_finished(&pair));

    // Five: refused.
    let bytes = [
        client_frame(false, OP_TEXT, b"a"),
        client_frame(false, OP_CONT, b"b"),
        client_frame(false, OP_CONT, b"c"),
        client_frame(false, OP_CONT, b"d"),
        client_frame(false, OP_CONT, b"e"),
    ]
    .concat();
    let event = expect_failure(&mut pair, &mut events, &bytes, 1009);
    assert_eq!(
        event.kind,
        CloseKind::Failed(ProtocolError::TooManyFragments { max: 4 })
    );
}

#[test]
fn messages_after_a_protocol_violation_are_not_delivered() {
    let (mut pair, mut events) = echo_server(config());
    let bytes = [
        client_frame(true, OP_TEXT, b"before"),
        frame_with(true, 0, OP_TEXT, b"unmasked", None),
        client_frame(true, OP_TEXT, b"after"),
    ]
    .concat();
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    client.send(&mut pair, &bytes);
    let echoed = client.frame(&mut pair);
    assert_eq!(echoed.payload, b"before");
    assert_eq!(client.close_frame(&mut pair).map(|(c, _)| c), Some(1002));
    expect_tcp_end(&mut client, &mut pair);
    events.close(conn);
    let texts: Vec<_> = events
        .check_contract()
        .iter()
        .filter_map(|e| match e {
            Event::Message(_, m) => m.as_text().map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["before"]);
}

#[test]
fn close_reply_reaches_a_client_that_half_closed_after_sending_close() {
    let (mut pair, mut events) = echo_server(config());
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    // The client stops reading, sends a message and its Close, and half-closes: the
    // server reads our FIN while its answers are still unsent.
    pair.set_read_limit(client.peer, Some(0));
    let bytes = [
        client_frame(true, OP_TEXT, b"last"),
        close_frame(&close_payload(1000, b"")),
    ]
    .concat();
    client.send(&mut pair, &bytes);
    client.finish(&mut pair);
    assert_eq!(events.close(conn).kind, CloseKind::Remote);
    assert!(
        !client.is_closed(&pair),
        "the connection was closed with its answers unsent"
    );
    // The client reads again: everything is there, then the end.
    pair.set_read_limit(client.peer, None);
    let echoed = client.frame(&mut pair);
    assert_eq!(echoed.payload, b"last");
    assert_eq!(client.close_frame(&mut pair).map(|(c, _)| c), Some(1000));
    client.nothing(&mut pair);
    assert!(client.is_closed(&pair));
}
