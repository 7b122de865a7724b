//! The closing handshake from both sides, its timeout, and failing the connection on
//! protocol violations with the right close code.

mod support;

use std::time::{Duration, Instant};

use pushwire::ws::error::ProtocolError;
use pushwire::{CloseCode, CloseEvent, CloseKind, ConnId, Context, Handler, Message};
use support::*;
use tungstenite::Message as WsMessage;

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

/// Opens a raw connection, sends `bytes`, and checks that the server fails the connection:
/// a Close with `code`, then TCP closed, and `on_close` with `code` and `CloseKind::Failed`.
fn expect_failure(
    server: &TestServer,
    events: &mut Events,
    bytes: &[u8],
    code: u16,
) -> CloseEvent<'static> {
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    client.send(bytes);
    let (got, _reason) = client.read_close().expect("Close frame with a status code");
    assert_eq!(got, code, "close code for {bytes:02x?}");
    client.expect_eof();
    let event = events.close(conn);
    assert_eq!(event.code.as_u16(), code);
    assert!(
        matches!(event.kind, CloseKind::Failed(_)),
        "expected CloseKind::Failed, got {event:?}"
    );
    event
}

fn finish(mut server: TestServer, events: Events) {
    server.stop();
    events.finish();
}

#[test]
fn client_close_is_echoed_reported_as_remote_then_tcp_closes() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    client.send(&close_frame(&close_payload(1000, b"done")));
    let (code, _) = client.read_close().expect("echoed status code");
    assert_eq!(code, 1000);
    client.expect_eof();
    let event = events.close(conn);
    assert_eq!(event.code, CloseCode::NORMAL);
    assert_eq!(event.reason, "done");
    assert_eq!(event.kind, CloseKind::Remote);
    drop(client);
    finish(server, events);
}

#[test]
fn client_close_without_status_is_answered_and_reported_as_1005() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    client.send(&close_frame(b""));
    let frame = client.read_frame();
    assert_eq!(frame.opcode, OP_CLOSE);
    assert!(frame.payload.is_empty(), "1005 must not be sent: {frame:?}");
    client.expect_eof();
    let event = events.close(conn);
    assert_eq!(event.code, CloseCode::NO_STATUS_RECEIVED);
    assert_eq!(event.kind, CloseKind::Remote);
    drop(client);
    finish(server, events);
}

#[test]
fn tungstenite_client_close_completes_the_handshake() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut ws = ws_connect(server.addr, "/");
    let conn = events.open();
    ws.close(Some(tungstenite::protocol::CloseFrame {
        code: tungstenite::protocol::frame::coding::CloseCode::Away,
        reason: "leaving".into(),
    }))
    .unwrap();
    let reply = match ws.read() {
        Ok(WsMessage::Close(frame)) => frame,
        other => panic!("expected the Close reply, got {other:?}"),
    };
    assert_eq!(u16::from(reply.expect("status code").code), 1001);
    assert!(matches!(
        ws.read(),
        Err(tungstenite::Error::ConnectionClosed)
    ));
    let event = events.close(conn);
    assert_eq!(
        (event.code, event.reason.as_ref(), event.kind),
        (CloseCode::GOING_AWAY, "leaving", CloseKind::Remote)
    );
    drop(ws);
    finish(server, events);
}

#[test]
fn server_close_from_context_reaches_client_and_is_reported_as_local() {
    let (handler, mut events) = recording(CloseOnRequest);
    let server = TestServer::start(config(), handler);
    let mut ws = ws_connect(server.addr, "/");
    let conn = events.open();
    ws.send(WsMessage::text("close me")).unwrap();
    let frame = match ws.read() {
        Ok(WsMessage::Close(frame)) => frame.expect("status code"),
        other => panic!("expected the server's Close, got {other:?}"),
    };
    assert_eq!(u16::from(frame.code), 4000);
    assert_eq!(frame.reason.as_str(), "bye");
    // tungstenite has queued its reply; the next read sends it and sees the end.
    assert!(matches!(
        ws.read(),
        Err(tungstenite::Error::ConnectionClosed)
    ));
    let event = events.close(conn);
    assert_eq!(event.code.as_u16(), 4000);
    assert_eq!(event.kind, CloseKind::Local);
    drop(ws);
    finish(server, events);
}

#[test]
fn server_close_from_handle_reaches_client_and_is_reported_as_local() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    server
        .handle
        .close(conn, CloseCode::new(4001).unwrap(), "handle bye")
        .unwrap();
    assert_eq!(client.read_close(), Some((4001, "handle bye".to_string())));
    client.send(&close_frame(&close_payload(4001, b"")));
    client.expect_eof();
    let event = events.close(conn);
    assert_eq!(event.code.as_u16(), 4001);
    assert_eq!(event.kind, CloseKind::Local);
    drop(client);
    finish(server, events);
}

#[test]
fn data_sent_by_the_server_before_its_close_arrives_before_the_close() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    server.handle.send(conn, "last words").unwrap();
    server
        .handle
        .close(conn, CloseCode::NORMAL, "done")
        .unwrap();
    let frame = client.read_frame();
    assert_eq!(
        (frame.opcode, frame.payload.as_slice()),
        (OP_TEXT, &b"last words"[..])
    );
    assert_eq!(client.read_close(), Some((1000, "done".to_string())));
    client.send(&close_frame(&close_payload(1000, b"")));
    client.expect_eof();
    events.close(conn);
    drop(client);
    finish(server, events);
}

#[test]
fn peer_that_never_answers_close_is_dropped_after_close_timeout_as_abnormal() {
    let mut config = config();
    config.close_timeout = Duration::from_millis(300);
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    let start = Instant::now();
    server.handle.close(conn, CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(client.read_close(), Some((1000, "bye".to_string())));
    // Never answer: the server must give up and close TCP by itself.
    client.expect_eof();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300),
        "TCP closed after {elapsed:?}, before close_timeout"
    );
    let event = events.close(conn);
    assert_eq!(event.code, CloseCode::ABNORMAL_CLOSURE);
    assert_eq!(event.kind, CloseKind::Abnormal);
    drop(client);
    finish(server, events);
}

#[test]
fn tcp_dropped_without_close_is_reported_as_1006_abnormal() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let client = RawClient::upgrade(server.addr);
    let conn = events.open();
    drop(client);
    let event = events.close(conn);
    assert_eq!(event.code, CloseCode::ABNORMAL_CLOSURE);
    assert_eq!(event.kind, CloseKind::Abnormal);
    finish(server, events);
}

#[test]
fn tcp_dropped_in_the_middle_of_a_frame_is_reported_as_1006_abnormal() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    let frame = client_frame(true, OP_BINARY, &[7u8; 1000]);
    client.send(&frame[..500]);
    drop(client);
    let event = events.close(conn);
    assert_eq!(event.kind, CloseKind::Abnormal);
    assert_eq!(event.code, CloseCode::ABNORMAL_CLOSURE);
    finish(server, events);
}

#[test]
fn malformed_close_payloads_fail_the_connection_with_1002() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let event = expect_failure(&server, &mut events, &close_frame(&[0x03]), 1002);
    assert_eq!(
        event.kind,
        CloseKind::Failed(ProtocolError::InvalidClosePayload)
    );
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let event = expect_failure(
            &server,
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
    finish(server, events);
}

#[test]
fn every_close_code_allowed_on_the_wire_is_accepted_and_echoed() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ] {
        let mut client = RawClient::upgrade(server.addr);
        let conn = events.open();
        client.send(&close_frame(&close_payload(code, b"ok")));
        assert_eq!(client.read_close().map(|(c, _)| c), Some(code));
        client.expect_eof();
        let event = events.close(conn);
        assert_eq!((event.code.as_u16(), event.kind), (code, CloseKind::Remote));
    }
    finish(server, events);
}

#[test]
fn close_reason_that_is_not_utf8_fails_the_connection_with_1007() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let event = expect_failure(
        &server,
        &mut events,
        &close_frame(&close_payload(1000, &[b'o', b'k', 0xff, 0xfe])),
        1007,
    );
    assert_eq!(
        event.kind,
        CloseKind::Failed(ProtocolError::InvalidCloseReason)
    );
    finish(server, events);
}

#[test]
fn framing_violations_fail_the_connection_with_1002() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
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
        let event = expect_failure(&server, &mut events, &bytes, 1002);
        assert_eq!(event.kind, CloseKind::Failed(error), "{what}");
    }
    finish(server, events);
}

#[test]
fn length_with_top_bit_set_fails_the_connection_with_1002() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 63 | 5).to_be_bytes());
    header.extend_from_slice(&MASK);
    let event = expect_failure(&server, &mut events, &header, 1002);
    assert_eq!(
        event.kind,
        CloseKind::Failed(ProtocolError::LengthTopBitSet)
    );
    finish(server, events);
}

#[test]
fn invalid_utf8_text_fails_the_connection_with_1007() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    for payload in [
        &b"\xff"[..],
        b"abc\xc0\xafdef",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"end\xe2\x82",
    ] {
        let event = expect_failure(
            &server,
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
    expect_failure(&server, &mut events, &bytes, 1007);
    finish(server, events);
}

#[test]
fn invalid_utf8_in_an_unfinished_fragment_fails_without_waiting_for_the_end() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    // The message never finishes: the close can only come from checking as it arrives.
    expect_failure(
        &server,
        &mut events,
        &client_frame(false, OP_TEXT, b"fine so far \xff"),
        1007,
    );
    finish(server, events);
}

#[test]
fn frame_above_max_frame_size_is_refused_from_its_header_with_1009() {
    let mut config = config();
    config.max_frame_size = 1 << 20;
    config.max_message_size = 1 << 20;
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    // Only the headers are sent: the server must decide without seeing any payload.
    let event = expect_failure(
        &server,
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
        &server,
        &mut events,
        &frame_header(true, 0, OP_TEXT, (1 << 20) + 1, Some(MASK)),
        1009,
    );
    assert!(matches!(
        event.kind,
        CloseKind::Failed(ProtocolError::FrameTooLarge { .. })
    ));
    finish(server, events);
}

#[test]
fn frame_of_exactly_max_frame_size_is_accepted() {
    let mut config = config();
    config.max_frame_size = 64 * 1024;
    config.max_message_size = 64 * 1024;
    let (handler, _events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut client = RawClient::upgrade(server.addr);
    let payload = vec![0x5a; 64 * 1024];
    client.send(&client_frame(true, OP_BINARY, &payload));
    let echoed = client.read_frame();
    assert_eq!(echoed.opcode, OP_BINARY);
    assert!(echoed.payload == payload);
}

#[test]
fn message_above_max_message_size_across_fragments_fails_with_1009() {
    let mut config = config();
    config.max_frame_size = 64 * 1024;
    config.max_message_size = 64 * 1024;
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let bytes = [
        client_frame(false, OP_BINARY, &[1u8; 40 * 1024]),
        // Only the header of the second fragment: the sum is refused from it.
        frame_header(true, 0, OP_CONT, 40 * 1024, Some(MASK)),
    ]
    .concat();
    let event = expect_failure(&server, &mut events, &bytes, 1009);
    assert!(
        matches!(
            event.kind,
            CloseKind::Failed(ProtocolError::MessageTooLarge { max: 65536, .. })
        ),
        "{event:?}"
    );
    finish(server, events);
}

#[test]
fn more_fragments_than_max_fragments_fail_with_1009_and_the_limit_itself_is_accepted() {
    let mut config = config();
    config.max_fragments = 4;
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);

    // Exactly four fragments: fine.
    let mut client = RawClient::upgrade(server.addr);
    let bytes = [
        client_frame(false, OP_TEXT, b"a"),
        client_frame(false, OP_CONT, b"b"),
        client_frame(false, OP_CONT, b"c"),
        client_frame(true, OP_CONT, b"d"),
    ]
    .concat();
    client.send(&bytes);
    let echoed = client.read_frame();
    assert_eq!(echoed.payload, b"abcd");
    drop(client);
    let conn = events.open();
    events.close(conn);

    // Five: refused.
    let bytes = [
        client_frame(false, OP_TEXT, b"a"),
        client_frame(false, OP_CONT, b"b"),
        client_frame(false, OP_CONT, b"c"),
        client_frame(false, OP_CONT, b"d"),
        client_frame(false, OP_CONT, b"e"),
    ]
    .concat();
    let event = expect_failure(&server, &mut events, &bytes, 1009);
    assert_eq!(
        event.kind,
        CloseKind::Failed(ProtocolError::TooManyFragments { max: 4 })
    );
    finish(server, events);
}

#[test]
fn messages_after_a_protocol_violation_are_not_delivered() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let bytes = [
        client_frame(true, OP_TEXT, b"before"),
        frame_with(true, 0, OP_TEXT, b"unmasked", None),
        client_frame(true, OP_TEXT, b"after"),
    ]
    .concat();
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    client.send(&bytes);
    let echoed = client.read_frame();
    assert_eq!(echoed.payload, b"before");
    assert_eq!(client.read_close().map(|(c, _)| c), Some(1002));
    client.expect_eof();
    events.close(conn);
    drop(client);
    let mut server = server;
    server.stop();
    let log = events.finish();
    let texts: Vec<_> = log
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
    let (handler, mut events) = recording(Stalling(Echo));
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    // While the loop is busy, the frames and the FIN arrive together.
    let _stall = stall_server(server.addr);
    let bytes = [
        client_frame(true, OP_TEXT, b"last"),
        close_frame(&close_payload(1000, b"")),
    ]
    .concat();
    client.send(&bytes);
    client.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let echoed = client.read_frame();
    assert_eq!(echoed.payload, b"last");
    assert_eq!(client.read_close().map(|(c, _)| c), Some(1000));
    client.expect_eof();
    assert_eq!(events.close(conn).kind, CloseKind::Remote);
}

#[test]
fn invalid_utf8_deep_in_a_large_text_frame_fails_before_the_frame_completes() {
    // A frame this large arrives over many reads and is streamed into its message
    // buffer; validation must still happen as the bytes arrive, not at the end.
    let mut config = config();
    config.max_message_size = 8 << 20;
    config.max_frame_size = 8 << 20;
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    let bad_at = 700 * 1024;
    let mut payload = vec![b'a'; 4 << 20];
    payload[bad_at] = 0xFF;
    let mut frame = Vec::new();
    pushwire::ws::frame::write_frame(
        &mut frame,
        true,
        pushwire::ws::frame::OpCode::Text,
        &payload,
        Some([9, 8, 7, 6]),
    );
    // The header, then everything up to and including the bad byte; the other ~3.3 MiB
    // never arrive.
    let header_len = frame.len() - payload.len();
    client.send(&frame[..header_len + bad_at + 1]);
    let close = client.read_frame();
    assert_eq!(close.opcode, OP_CLOSE);
    assert_eq!(close.payload[..2], 1007u16.to_be_bytes());
    let event = events.close(conn);
    assert_eq!(event.kind, CloseKind::Failed(ProtocolError::InvalidUtf8));
}
