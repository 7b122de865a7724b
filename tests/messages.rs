//! Data messages on a WebSocket, in memory: they come back byte-identical in every size
//! class (each length encoding and its boundaries, empty, 16 MiB), text stays text,
//! order is kept, fragments are reassembled, a message split across writes is put back
//! together, every connection gets its own echoes, the callbacks come in order, and
//! large messages either stream piece by piece (`stream_messages_over` with
//! `on_message_part`) or, for a handler that cannot take pieces, close the connection
//! with 1009.

mod support;

use pushwire::message::MessagePart;
use pushwire::pair::{OwnedEvent, Peer, ServerPair};
use pushwire::{CloseCode, CloseKind, Config, ConnId, Context, Handler, Message};
use support::*;

/// A server that takes messages up to 32 MiB (above the 16 MiB ones sent here).
fn large_config() -> Config {
    let mut config = config();
    config.max_message_size = 32 << 20;
    config.max_frame_size = 32 << 20;
    config
}

fn echo_server() -> (ServerPair<Recording<Echo>>, Events) {
    memory_server(large_config(), Echo)
}

/// The messages `peer`'s WebSocket received since the last look (pings and the like
/// left out).
fn ws_messages<H: Handler>(pair: &mut ServerPair<H>, peer: Peer) -> Vec<Message<'static>> {
    pair.ws_events(peer)
        .into_iter()
        .filter_map(|e| match e {
            OwnedEvent::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// Sends `message` from `peer`'s WebSocket and checks that exactly it comes back: same
/// type, same bytes. (No `assert_eq!` on the payload: a 16 MiB diff helps nobody.)
fn round_trip<H: Handler>(pair: &mut ServerPair<H>, peer: Peer, message: Message<'_>) {
    pair.ws_send(peer, &message);
    let back = ws_messages(pair, peer);
    assert_eq!(
        back.len(),
        1,
        "one echo for a {}-byte message",
        message.len()
    );
    assert_eq!(back[0].is_text(), message.is_text(), "message type changed");
    assert!(
        back[0].as_bytes() == message.as_bytes(),
        "payload of {} bytes came back different ({} bytes)",
        message.len(),
        back[0].len()
    );
}

/// How many `on_message` calls the log holds (counted, not printed: some are large).
fn message_count(events: &Events) -> usize {
    events
        .all()
        .iter()
        .filter(|e| matches!(e, Event::Message(..)))
        .count()
}

#[test]
fn text_message_is_echoed() {
    let (mut pair, _events) = echo_server();
    let ws = pair.ws_connect("/").unwrap();
    round_trip(&mut pair, ws, Message::text("hello, pushwire"));
}

#[test]
fn binary_message_is_echoed() {
    let (mut pair, _events) = echo_server();
    let ws = pair.ws_connect("/").unwrap();
    round_trip(
        &mut pair,
        ws,
        Message::binary(vec![0u8, 1, 2, 255, 254, 0, 7]),
    );
}

#[test]
fn empty_text_and_binary_messages_are_echoed() {
    let (mut pair, mut events) = echo_server();
    let ws = pair.ws_connect("/").unwrap();
    round_trip(&mut pair, ws, Message::text(""));
    round_trip(&mut pair, ws, Message::binary(Vec::new()));
    let conn = events.open();
    assert_eq!(events.message(conn), Message::text(""));
    assert_eq!(events.message(conn), Message::binary(Vec::new()));
}

#[test]
fn messages_at_every_length_encoding_boundary_are_echoed() {
    // 7-bit lengths end at 125, 16-bit at 65535, 64-bit beyond (RFC 6455 §5.2).
    let (mut pair, _events) = echo_server();
    let ws = pair.ws_connect("/").unwrap();
    for len in [1, 125, 126, 127, 65535, 65536, 65537] {
        round_trip(&mut pair, ws, Message::binary(pattern(len)));
        round_trip(&mut pair, ws, Message::text("x".repeat(len)));
    }
}

#[test]
fn sixteen_mib_binary_message_is_echoed_byte_identical() {
    let (mut pair, _events) = echo_server();
    let ws = pair.ws_connect("/").unwrap();
    round_trip(&mut pair, ws, Message::binary(pattern(16 << 20)));
}

#[test]
fn sixteen_mib_text_message_is_echoed_byte_identical() {
    let (mut pair, _events) = echo_server();
    let ws = pair.ws_connect("/").unwrap();
    // Exactly 16 MiB of UTF-8 with 1-, 2-, 3- and 4-byte sequences throughout.
    let size = 16 << 20;
    let unit = "pushwire é€😀 ";
    let mut text = unit.repeat(size / unit.len() + 1);
    let mut cut = size;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    while text.len() < size {
        text.push('x');
    }
    assert_eq!(text.len(), size);
    round_trip(&mut pair, ws, Message::text(text));
}

#[test]
fn non_ascii_text_is_echoed_unchanged() {
    let (mut pair, mut events) = echo_server();
    let ws = pair.ws_connect("/").unwrap();
    let text = "Grüße, Καλημέρα, こんにちは, 😀 \u{10FFFF} \u{0}";
    round_trip(&mut pair, ws, Message::text(text));
    let conn = events.open();
    assert_eq!(events.message(conn).as_text(), Some(text));
}

#[test]
fn many_messages_in_a_row_arrive_in_order() {
    let (mut pair, mut events) = echo_server();
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    const N: usize = 1000;
    // All in one write: the server sees them back to back.
    let bytes: Vec<u8> = (0..N)
        .flat_map(|i| client_frame(true, OP_TEXT, format!("message {i}").as_bytes()))
        .collect();
    client.send(&mut pair, &bytes);
    for i in 0..N {
        let frame = client.frame(&mut pair);
        assert_eq!(
            (frame.opcode, frame.payload),
            (OP_TEXT, format!("message {i}").into_bytes())
        );
        assert_eq!(
            events.message(conn).as_text(),
            Some(format!("message {i}").as_str())
        );
    }
    client.nothing(&mut pair);
}

#[test]
fn fragmented_message_is_delivered_and_echoed_as_one_message() {
    let (mut pair, mut events) = echo_server();
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    client.send(&mut pair, &client_frame(false, OP_TEXT, b"Hel"));
    client.send(&mut pair, &client_frame(false, OP_CONT, b""));
    client.send(&mut pair, &client_frame(false, OP_CONT, b"lo, "));
    // Nothing is delivered before the last fragment.
    client.nothing(&mut pair);
    events.assert_none("on_message", |e| matches!(e, Event::Message(..)));
    client.send(&mut pair, &client_frame(true, OP_CONT, b"world"));
    let echoed = client.frame(&mut pair);
    assert_eq!(
        (echoed.fin, echoed.opcode, echoed.payload.as_slice()),
        (true, OP_TEXT, &b"Hello, world"[..])
    );
    assert_eq!(events.message(conn).as_text(), Some("Hello, world"));

    // Binary too, with the fragments in one write.
    let mut bytes = client_frame(false, OP_BINARY, &[1, 2]);
    bytes.extend(client_frame(true, OP_CONT, &[3]));
    client.send(&mut pair, &bytes);
    let echoed = client.frame(&mut pair);
    assert_eq!(
        (echoed.fin, echoed.opcode, echoed.payload.as_slice()),
        (true, OP_BINARY, &[1u8, 2, 3][..])
    );
    assert_eq!(events.message(conn), Message::binary(vec![1u8, 2, 3]));
    client.nothing(&mut pair);
}

#[test]
fn fragmented_message_from_a_websocket_client_arrives_whole() {
    let (mut pair, mut events) = echo_server();
    let ws = pair.ws_connect("/").unwrap();
    let conn = events.open();
    let text = "fragmented ✓ message, split every 5 bytes — through code points too";
    pair.ws_send_fragmented(ws, &Message::text(text), 5);
    assert_eq!(events.message(conn).as_text(), Some(text));
    assert_eq!(ws_messages(&mut pair, ws), vec![Message::text(text)]);
}

#[test]
fn code_point_split_across_fragments_is_accepted() {
    let (mut pair, mut events) = echo_server();
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    let text = "a😀b"; // 😀 is F0 9F 98 80
    let bytes = text.as_bytes();
    client.send(&mut pair, &client_frame(false, OP_TEXT, &bytes[..2])); // "a", F0
    client.send(&mut pair, &client_frame(false, OP_CONT, &bytes[2..4])); // 9F 98
    client.send(&mut pair, &client_frame(true, OP_CONT, &bytes[4..])); // 80 "b"
    let echoed = client.frame(&mut pair);
    assert_eq!(echoed.opcode, OP_TEXT);
    assert_eq!(echoed.payload, bytes);
    assert_eq!(events.message(conn).as_text(), Some(text));
}

#[test]
fn message_split_across_writes_is_reassembled() {
    let (mut pair, mut events) = echo_server();
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    let payload = pattern(70_000);
    let frame = client_frame(true, OP_BINARY, &payload);
    let chunks: Vec<&[u8]> = frame.chunks(9_999).collect();
    let (last, first) = chunks.split_last().unwrap();
    for chunk in first {
        client.send(&mut pair, chunk);
        client.nothing(&mut pair);
    }
    events.assert_none("on_message", |e| matches!(e, Event::Message(..)));
    client.send(&mut pair, last);
    let echoed = client.frame(&mut pair);
    assert_eq!(echoed.opcode, OP_BINARY);
    assert!(echoed.payload == payload, "payload differs");
    assert!(events.message(conn).as_bytes() == payload);
}

#[test]
fn every_connection_gets_its_own_echoes() {
    let (mut pair, _events) = echo_server();
    let a = pair.ws_connect("/").unwrap();
    let b = pair.ws_connect("/").unwrap();
    pair.ws_send(a, &Message::text("from a"));
    pair.ws_send(b, &Message::text("from b"));
    assert_eq!(ws_messages(&mut pair, b), vec![Message::text("from b")]);
    assert_eq!(ws_messages(&mut pair, a), vec![Message::text("from a")]);
}

#[test]
fn echo_server_callbacks_follow_open_message_close_order() {
    let (mut pair, events) = echo_server();
    let ws = pair.ws_connect("/").unwrap();
    round_trip(&mut pair, ws, Message::text("one"));
    round_trip(&mut pair, ws, Message::text("two"));
    pair.ws_close(ws, CloseCode::NORMAL, "");
    let closed: Vec<_> = pair
        .ws_events(ws)
        .into_iter()
        .filter_map(|e| match e {
            OwnedEvent::Closed(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(closed.len(), 1, "the client's close handshake completed");
    assert_eq!(closed[0].kind, CloseKind::Local);
    let log = events.check_contract();
    let kinds: Vec<&str> = log
        .iter()
        .map(|e| match e {
            Event::Upgrade(..) => "upgrade",
            Event::Open(_) => "open",
            Event::Message(_, m) if m.as_text() == Some("one") => "one",
            Event::Message(_, m) if m.as_text() == Some("two") => "two",
            Event::Close(_, c) if c.kind == CloseKind::Remote => "close",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["upgrade", "open", "one", "two", "close"]);
}

#[test]
fn large_messages_moved_without_copy_keep_their_order_with_small_ones() {
    let mut config = large_config();
    config.write_buffer_high_water = 64 << 20;
    let (mut pair, _events) = memory_server(config, MovingEcho);
    let mut client = Client::upgrade(&mut pair, "/");
    let sizes = [100_000usize, 10, 16 << 20, 65_536, 70_000, 3];
    let mut bytes = Vec::new();
    for &size in &sizes {
        // Fragmented, so the server assembles (and therefore owns) the payload.
        let payload = pattern(size);
        let (a, b) = payload.split_at(size / 2);
        bytes.extend(client_frame(false, OP_BINARY, a));
        bytes.extend(client_frame(true, OP_CONT, b));
    }
    client.send(&mut pair, &bytes);
    for &size in &sizes {
        let echoed = client.frame(&mut pair);
        assert_eq!((echoed.opcode, echoed.payload.len()), (OP_BINARY, size));
        assert!(
            echoed.payload == pattern(size),
            "payload of {size} bytes differs"
        );
        let note = client.frame(&mut pair);
        assert_eq!(
            (note.opcode, note.payload),
            (OP_TEXT, format!("after {size}").into_bytes())
        );
    }
    client.nothing(&mut pair);
}

/// Echoes large messages piece by piece as they arrive (`on_message_part` →
/// `send_part`), small ones whole.
struct StreamingEcho;

impl Handler for StreamingEcho {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
        ctx.send_message(conn, msg).unwrap();
    }

    fn on_message_part(&mut self, ctx: &mut Context<'_>, conn: ConnId, part: MessagePart<'_>) {
        ctx.send_part(conn, &part).unwrap();
    }
}

/// The pieces of one streamed message taken off the log: they must start with the one
/// marked `first`, end with the one marked `last`, and none in between may be either.
/// Returns (is_text, the pieces' bytes put together, how many pieces).
fn take_streamed_message(events: &mut Events, conn: ConnId) -> (bool, Vec<u8>, usize) {
    let mut data = Vec::new();
    let mut count = 0;
    let mut text = None;
    loop {
        let (is_text, piece, first, last) = events.expect("on_message_part", |e| match e {
            Event::Part(c, is_text, piece, first, last) if *c == conn => {
                Some((*is_text, piece.clone(), *first, *last))
            }
            _ => None,
        });
        assert_eq!(
            first,
            count == 0,
            "piece {count} of the message: first = {first}"
        );
        assert_eq!(
            *text.get_or_insert(is_text),
            is_text,
            "type changed mid-message"
        );
        data.extend(piece);
        count += 1;
        if last {
            return (is_text, data, count);
        }
    }
}

#[test]
fn streamed_messages_are_echoed_piece_by_piece_and_arrive_whole() {
    let mut config = large_config();
    config.stream_messages_over = Some(64 * 1024);
    let (mut pair, mut events) = memory_server(config, StreamingEcho);
    let ws = pair.ws_connect("/").unwrap();
    let conn = events.open();
    let binary = pattern(4 << 20);
    let text: String = "ünïcödé ✓ 🎉 ".repeat(200_000);

    // Each is larger than one read (256 KiB), so it arrives over many.
    round_trip(&mut pair, ws, Message::binary(&binary[..]));
    let (is_text, data, pieces) = take_streamed_message(&mut events, conn);
    assert!(!is_text);
    assert!(data == binary, "the pieces make up the binary message");
    assert!(pieces > 4, "the binary message came in {pieces} pieces");

    round_trip(&mut pair, ws, Message::text(&text[..]));
    let (is_text, data, pieces) = take_streamed_message(&mut events, conn);
    assert!(is_text);
    assert!(
        data == text.as_bytes(),
        "the pieces make up the text message"
    );
    assert!(pieces > 4, "the text message came in {pieces} pieces");

    // Small messages in between still arrive whole.
    round_trip(&mut pair, ws, Message::text("small"));
    assert_eq!(events.message(conn).as_text(), Some("small"));
    assert_eq!(
        message_count(&events),
        1,
        "only the small message went to on_message"
    );
}

#[test]
fn streamed_echo_leaves_as_the_fragments_of_one_message() {
    let mut config = large_config();
    config.stream_messages_over = Some(64 * 1024);
    let (mut pair, mut events) = memory_server(config, StreamingEcho);
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    let payload = pattern(1 << 20);
    client.send(&mut pair, &client_frame(true, OP_BINARY, &payload));
    let (_, _, pieces) = take_streamed_message(&mut events, conn);
    // On the wire: a Binary frame without FIN, continuations, the last with FIN; one
    // frame per piece, together the message.
    let mut frames = vec![client.frame(&mut pair)];
    while !frames.last().unwrap().fin {
        frames.push(client.frame(&mut pair));
    }
    client.nothing(&mut pair);
    assert_eq!(frames.len(), pieces);
    assert!(frames.len() > 1, "the echo was not fragmented");
    assert_eq!(frames[0].opcode, OP_BINARY);
    assert!(frames[1..].iter().all(|f| f.opcode == OP_CONT));
    let echoed: Vec<u8> = frames.into_iter().flat_map(|f| f.payload).collect();
    assert!(echoed == payload, "the fragments make up the message");
}

#[test]
fn large_message_spanning_reads_closes_with_1009_when_the_handler_takes_no_parts() {
    // `Echo` has no `on_message_part`: the default refuses a streamed message.
    let mut config = config();
    config.stream_messages_over = Some(64 * 1024);
    let (mut pair, mut events) = memory_server(config, Echo);
    let mut client = Client::upgrade(&mut pair, "/");
    let conn = events.open();
    let payload = pattern(100 * 1024);
    let frame = client_frame(true, OP_BINARY, &payload);

    // Over the threshold but complete in one read: delivered whole, as usual.
    client.send(&mut pair, &frame);
    let echoed = client.frame(&mut pair);
    assert!(echoed.opcode == OP_BINARY && echoed.payload == payload);
    assert!(events.message(conn).as_bytes() == payload);

    // The same message in two writes spans two reads, so it would be streamed: the
    // handler cannot take pieces, and the connection is closed with 1009 rather than
    // the message silently dropped.
    let (a, b) = frame.split_at(frame.len() / 2);
    client.send(&mut pair, a);
    let (code, _reason) = client.close_frame(&mut pair).expect("a status code");
    assert_eq!(code, 1009);
    client.send(&mut pair, b);
    client.nothing(&mut pair);
    assert_eq!(
        message_count(&events),
        1,
        "the split message was not delivered"
    );
    // Our Close completes the handshake the server started.
    client.send(&mut pair, &close_frame(&close_payload(1009, b"")));
    let event = events.close(conn);
    assert_eq!(
        (event.code, event.kind),
        (CloseCode::MESSAGE_TOO_BIG, CloseKind::Local)
    );
    assert!(client.server_finished(&pair));
    events.check_contract();
}
