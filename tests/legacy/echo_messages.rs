//! Messages go in and come back byte-identical: sizes around every length encoding,
//! large messages, text, fragmentation.

mod support;

use pushwire::{ConnId, Context, Handler, Message};
use support::*;
use tungstenite::Message as WsMessage;

fn echo_server() -> (TestServer, Events) {
    let mut config = config();
    config.max_message_size = 32 << 20;
    config.max_frame_size = 32 << 20;
    let (handler, events) = recording(Echo);
    (TestServer::start(config, handler), events)
}

fn round_trip(ws: &mut WsClient, msg: WsMessage) {
    ws.send(msg.clone()).expect("send");
    let back = ws_read_data(ws);
    assert_eq!(back.is_text(), msg.is_text(), "message type changed");
    assert!(
        back.clone().into_data() == msg.clone().into_data(),
        "payload of {} bytes came back different ({} bytes)",
        msg.len(),
        back.len()
    );
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

#[test]
fn text_message_is_echoed() {
    let (server, _events) = echo_server();
    let mut ws = ws_connect(server.addr, "/");
    round_trip(&mut ws, WsMessage::text("hello, pushwire"));
}

#[test]
fn binary_message_is_echoed() {
    let (server, _events) = echo_server();
    let mut ws = ws_connect(server.addr, "/");
    round_trip(&mut ws, WsMessage::binary(vec![0u8, 1, 2, 255, 254, 0, 7]));
}

#[test]
fn empty_text_and_binary_messages_are_echoed() {
    let (server, _events) = echo_server();
    let mut ws = ws_connect(server.addr, "/");
    round_trip(&mut ws, WsMessage::text(""));
    round_trip(&mut ws, WsMessage::binary(Vec::new()));
}

#[test]
fn messages_at_every_length_encoding_boundary_are_echoed() {
    let (server, _events) = echo_server();
    let mut ws = ws_connect(server.addr, "/");
    for len in [1, 125, 126, 127, 65535, 65536, 65537] {
        round_trip(&mut ws, WsMessage::binary(pattern(len)));
        round_trip(&mut ws, WsMessage::text("x".repeat(len)));
    }
}

#[test]
fn sixteen_mib_binary_message_is_echoed_byte_identical() {
    let (server, _events) = echo_server();
    let mut ws = ws_connect(server.addr, "/");
    round_trip(&mut ws, WsMessage::binary(pattern(16 << 20)));
}

#[test]
fn sixteen_mib_text_message_is_echoed_byte_identical() {
    let (server, _events) = echo_server();
    let mut ws = ws_connect(server.addr, "/");
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
    round_trip(&mut ws, WsMessage::text(text));
}

#[test]
fn non_ascii_text_is_echoed_unchanged() {
    let (server, mut events) = echo_server();
    let mut ws = ws_connect(server.addr, "/");
    let text = "Grüße, Καλημέρα, こんにちは, 😀 \u{10FFFF} \u{0}";
    round_trip(&mut ws, WsMessage::text(text));
    let conn = events.open();
    assert_eq!(events.message(conn).as_text(), Some(text));
}

#[test]
fn many_messages_in_a_row_arrive_in_order() {
    let (server, _events) = echo_server();
    let mut ws = ws_connect(server.addr, "/");
    const N: usize = 1000;
    // Write them all before reading any: the server sees them back to back.
    for i in 0..N {
        ws.write(WsMessage::text(format!("message {i}"))).unwrap();
    }
    ws.flush().unwrap();
    for i in 0..N {
        match ws_read_data(&mut ws) {
            WsMessage::Text(t) => assert_eq!(t.as_str(), format!("message {i}")),
            other => panic!("expected text, got {other:?}"),
        }
    }
}

#[test]
fn fragmented_message_is_delivered_and_echoed_as_one_message() {
    let (server, mut events) = echo_server();
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    client.send(&client_frame(false, OP_TEXT, b"Hel"));
    client.send(&client_frame(false, OP_CONT, b""));
    client.send(&client_frame(false, OP_CONT, b"lo, "));
    client.send(&client_frame(true, OP_CONT, b"world"));
    let echoed = client.read_frame();
    assert_eq!(
        (echoed.fin, echoed.opcode, echoed.payload.as_slice()),
        (true, OP_TEXT, &b"Hello, world"[..])
    );
    assert_eq!(events.message(conn).as_text(), Some("Hello, world"));

    // Binary too, with the fragments in one write.
    let mut bytes = client_frame(false, OP_BINARY, &[1, 2]);
    bytes.extend(client_frame(true, OP_CONT, &[3]));
    client.send(&bytes);
    let echoed = client.read_frame();
    assert_eq!(
        (echoed.fin, echoed.opcode, echoed.payload.as_slice()),
        (true, OP_BINARY, &[1u8, 2, 3][..])
    );
}

#[test]
fn code_point_split_across_fragments_is_accepted() {
    let (server, mut events) = echo_server();
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    let text = "a😀b"; // 😀 is F0 9F 98 80
    let bytes = text.as_bytes();
    client.send(&client_frame(false, OP_TEXT, &bytes[..2])); // "a", F0
    client.send(&client_frame(false, OP_CONT, &bytes[2..4])); // 9F 98
    client.send(&client_frame(true, OP_CONT, &bytes[4..])); // 80 "b"
    let echoed = client.read_frame();
    assert_eq!(echoed.opcode, OP_TEXT);
    assert_eq!(echoed.payload, bytes);
    assert_eq!(events.message(conn).as_text(), Some(text));
}

#[test]
fn message_split_across_tcp_writes_is_reassembled() {
    let (server, _events) = echo_server();
    let mut client = RawClient::upgrade(server.addr);
    let payload = pattern(70_000);
    let frame = client_frame(true, OP_BINARY, &payload);
    for chunk in frame.chunks(9_999) {
        client.send(chunk);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let echoed = client.read_frame();
    assert_eq!(echoed.opcode, OP_BINARY);
    assert!(echoed.payload == payload, "payload differs");
}

#[test]
fn every_connection_gets_its_own_echoes() {
    let (server, _events) = echo_server();
    let mut a = ws_connect(server.addr, "/");
    let mut b = ws_connect(server.addr, "/");
    a.send(WsMessage::text("from a")).unwrap();
    b.send(WsMessage::text("from b")).unwrap();
    assert_eq!(ws_read_data(&mut b), WsMessage::text("from b"));
    assert_eq!(ws_read_data(&mut a), WsMessage::text("from a"));
}

#[test]
fn echo_server_callbacks_follow_open_message_close_order() {
    let (mut server, mut events) = echo_server();
    let mut ws = ws_connect(server.addr, "/");
    round_trip(&mut ws, WsMessage::text("one"));
    round_trip(&mut ws, WsMessage::text("two"));
    ws.close(None).unwrap();
    // Read until tungstenite reports the close handshake done.
    loop {
        match ws.read() {
            Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let conn = events.open();
    events.close(conn);
    server.stop();
    let log = events.finish();
    let kinds: Vec<&str> = log
        .iter()
        .map(|e| match e {
            Event::Open(_) => "open",
            Event::Message(_, m) if m.as_text() == Some("one") => "one",
            Event::Message(_, m) if m.as_text() == Some("two") => "two",
            Event::Close(..) => "close",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["open", "one", "two", "close"]);
}

/// Echoes by value (`Context::send_message`): large owned payloads are queued without a
/// copy, as their own buffers behind the write buffer; small ones are copied. A short
/// text is sent after each message, so order across the two paths is checked too.
struct MovingEcho;

impl Handler for MovingEcho {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
        let len = msg.len();
        ctx.send_message(conn, msg).unwrap();
        ctx.send_text(conn, &format!("after {len}")).unwrap();
    }
}

#[test]
fn large_messages_moved_without_copy_keep_their_order_with_small_ones() {
    let mut config = config();
    config.max_message_size = 32 << 20;
    config.max_frame_size = 32 << 20;
    config.write_buffer_high_water = 64 << 20;
    let server = TestServer::start(config, MovingEcho);
    let mut client = RawClient::upgrade(server.addr);
    let sizes = [100_000usize, 10, 16 << 20, 65_536, 70_000, 3];
    for &size in &sizes {
        // Fragmented, so the server assembles (and therefore owns) the payload.
        let payload = pattern(size);
        let (a, b) = payload.split_at(size / 2);
        let mut bytes = client_frame(false, OP_BINARY, a);
        bytes.extend(client_frame(true, OP_CONT, b));
        client.send(&bytes);
    }
    for &size in &sizes {
        let echoed = client.read_frame();
        assert_eq!((echoed.opcode, echoed.payload.len()), (OP_BINARY, size));
        assert!(
            echoed.payload == pattern(size),
            "payload of {size} bytes differs"
        );
        let note = client.read_frame();
        assert_eq!(note.payload, format!("after {size}").into_bytes());
    }
}

/// Echoes large messages piece by piece as they arrive (`on_message_part` → `send_part`),
/// counting the pieces it saw.
struct StreamingEcho(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Handler for StreamingEcho {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
        ctx.send_message(conn, msg).unwrap();
    }

    fn on_message_part(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        part: pushwire::message::MessagePart<'_>,
    ) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ctx.send_part(conn, &part).unwrap();
    }
}

#[test]
fn streamed_messages_are_echoed_piece_by_piece_and_arrive_whole() {
    let pieces = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut config = config();
    config.max_message_size = 32 << 20;
    config.max_frame_size = 32 << 20;
    config.stream_messages_over = Some(64 * 1024);
    let server = TestServer::start(config, StreamingEcho(pieces.clone()));
    let mut ws = ws_connect(server.addr, "/");
    let binary = pattern(4 << 20);
    let text: String = "ünïcödé ✓ 🎉 ".repeat(200_000);
    round_trip(&mut ws, WsMessage::binary(binary));
    round_trip(&mut ws, WsMessage::text(text));
    // Small messages in between still arrive whole.
    round_trip(&mut ws, WsMessage::text("small"));
    assert!(
        pieces.load(std::sync::atomic::Ordering::SeqCst) > 4,
        "the large messages were delivered in pieces"
    );
}
