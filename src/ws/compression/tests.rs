//! permessage-deflate on a connection: the two roles talking to each other through
//! byte buffers, and the RFC's bytes.

use std::time::Instant;

use super::*;
use crate::config::WsLimits;
use crate::deflate::compress::Level;
use crate::message::{Message, MessagePart};
use crate::status::Status;
use crate::ws::connection::{CloseKind, WsConnection, WsEvent};
use crate::ws::frame::{self, FrameHeader, OpCode, RSV1, Role};
use crate::ws::permessage_deflate::{self, DeflateConfig, DeflateOffer, WindowBits};

/// What a server with `config` and a browser-like client agree on, from each side.
fn agreements(config: &DeflateConfig) -> (Agreement, Agreement) {
    let offer = DeflateOffer::browser();
    let offered = permessage_deflate::client_offer(&offer);
    let server = permessage_deflate::negotiate([offered.as_bytes()], config)
        .expect("well-formed")
        .expect("accepted");
    let mut answer = Vec::new();
    server.write_response(&mut answer);
    let client = permessage_deflate::validate_response(&answer, &offer)
        .expect("a valid answer")
        .expect("agreed");
    (server, client)
}

fn pair_with(config: &DeflateConfig, options: CompressOptions) -> (WsConnection, WsConnection) {
    let now = Instant::now();
    let (s, c) = agreements(config);
    let server = WsConnection::server(WsLimits::default(), now).with_deflate(&s, options);
    let client = WsConnection::client(WsLimits::default(), now, [7; 32]).with_deflate(&c, options);
    (server, client)
}

/// Every event `to` produces from `bytes`, owned; replies it queues go to `replies`.
fn deliver(to: &mut WsConnection, bytes: &[u8], replies: &mut Vec<u8>) -> Vec<Delivered> {
    deliver_in(to, &[bytes], replies)
}

/// [`deliver`] with the bytes arriving in `reads`, what a read leaves unconsumed (a
/// partial header) kept for the next, as a driver does.
fn deliver_in(to: &mut WsConnection, reads: &[&[u8]], replies: &mut Vec<u8>) -> Vec<Delivered> {
    let mut pools = CodecPools::default();
    let mut pending = Vec::new();
    let mut events = Vec::new();
    for read in reads {
        pending.extend_from_slice(read);
        let mut pos = 0;
        loop {
            let (n, event) =
                to.handle_input_pooled(&mut pending[pos..], replies, Instant::now(), &mut pools);
            pos += n;
            match event {
                Some(WsEvent::Message(m)) => {
                    events.push(Delivered::Message(m.is_text(), m.as_bytes().to_vec()))
                }
                Some(WsEvent::Closed(close)) => {
                    events.push(Delivered::Closed(close.code.as_u16(), close.kind));
                    return events;
                }
                Some(_) => {}
                None => break,
            }
        }
        pending.drain(..pos);
    }
    events
}

#[derive(Debug, PartialEq)]
enum Delivered {
    Message(bool, Vec<u8>),
    Closed(u16, CloseKind),
}

/// The frames in `bytes` as (rsv, opcode, fin, unmasked payload).
fn frames(mut bytes: &[u8], sent_by: Role) -> Vec<(u8, OpCode, bool, Vec<u8>)> {
    let receiver = match sent_by {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let mut found = Vec::new();
    while !bytes.is_empty() {
        let Ok(Status::Complete((h, n))) = FrameHeader::parse_compressed(bytes, receiver, u64::MAX)
        else {
            panic!("not a frame: {bytes:02x?}");
        };
        let end = n + h.payload_len as usize;
        let mut payload = bytes[n..end].to_vec();
        if let Some(key) = h.mask {
            crate::ws::mask::apply_mask(&mut payload, key, 0);
        }
        found.push((h.rsv, h.opcode, h.fin, payload));
        bytes = &bytes[end..];
    }
    found
}

fn text(s: &str) -> Delivered {
    Delivered::Message(true, s.as_bytes().to_vec())
}

/// Chat-like text: repetitive enough to compress.
fn chat(i: usize) -> String {
    format!(
        r#"{{"id":{i},"user":"alice","text":"hello hello, how is everyone doing today? #{i}"}}"#
    )
}

#[test]
fn the_rfc_7692_hello_is_read_as_hello() {
    // RFC 7692 §7.2.3.1: "Hello" compressed is f2 48 cd c9 c9 07 00, sent with RSV1.
    let (mut server, _) = pair_with(&DeflateConfig::full(), CompressOptions::default());
    let mut frame = Vec::new();
    frame::write_frame(
        &mut frame,
        true,
        OpCode::Text,
        &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        Some([1, 2, 3, 4]),
    );
    frame[0] |= RSV1 << 4;
    assert_eq!(
        deliver(&mut server, &frame, &mut Vec::new()),
        [text("Hello")]
    );
}

#[test]
fn we_send_the_rfc_7692_hello_bytes_and_with_takeover_the_shorter_second_one() {
    // RFC 7692 §7.2.3.1 and §7.2.3.2: the same message twice under context takeover.
    let (mut server, _) = pair_with(&DeflateConfig::full(), CompressOptions::default());
    let mut out = Vec::new();
    server.send(&Message::text("Hello"), &mut out).unwrap();
    server.send(&Message::text("Hello"), &mut out).unwrap();
    let sent = frames(&out, Role::Server);
    assert_eq!(
        sent,
        [
            (
                RSV1,
                OpCode::Text,
                true,
                vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
            ),
            (RSV1, OpCode::Text, true, vec![0xf2, 0x00, 0x11, 0x00, 0x00]),
        ]
    );
}

#[test]
fn messages_round_trip_both_ways_with_and_without_context_takeover() {
    for config in [DeflateConfig::full(), DeflateConfig::memory_light()] {
        for level in [Level::Fast, Level::Default, Level::Best] {
            let options = CompressOptions { level, min_size: 0 };
            let (mut server, mut client) = pair_with(&config, options);
            let big = chat(0).repeat(3000); // 200 KiB: several dynamic blocks
            let messages: Vec<String> = (0..40).map(chat).chain([String::new(), big]).collect();
            for m in &messages {
                let mut wire = Vec::new();
                client.send(&Message::text(m), &mut wire).unwrap();
                let sent = frames(&wire, Role::Client);
                assert_eq!(sent[0].0, RSV1, "the client compressed it");
                assert_eq!(deliver(&mut server, &wire, &mut Vec::new()), [text(m)]);

                let mut wire = Vec::new();
                server
                    .send(&Message::binary(m.as_bytes()), &mut wire)
                    .unwrap();
                assert_eq!(
                    deliver(&mut client, &wire, &mut Vec::new()),
                    [Delivered::Message(false, m.as_bytes().to_vec())]
                );
            }
        }
    }
}

#[test]
fn a_compressed_message_split_into_frames_and_reads_is_assembled_whatever_the_split() {
    let (_, mut client) = pair_with(&DeflateConfig::full(), CompressOptions::default());
    let message = chat(1).repeat(50);
    // One compressed message sent in parts: RSV1 on the first frame only (RFC 7692 §6.1).
    let mut wire = Vec::new();
    let bytes = message.as_bytes();
    let pieces: Vec<&[u8]> = bytes.chunks(700).collect();
    for (i, piece) in pieces.iter().enumerate() {
        let part = MessagePart {
            is_text: true,
            data: piece,
            first: i == 0,
            last: i + 1 == pieces.len(),
        };
        client.send_part(&part, &mut wire).unwrap();
    }
    let sent = frames(&wire, Role::Client);
    assert!(sent.len() > 1);
    assert_eq!(sent[0].0, RSV1);
    assert!(
        sent[1..]
            .iter()
            .all(|f| f.0 == 0 && f.1 == OpCode::Continuation)
    );
    for cut in [1, 2, 7, 50, wire.len() / 2, wire.len() - 1] {
        let (mut server, _) = pair_with(&DeflateConfig::full(), CompressOptions::default());
        let reads = [&wire[..cut], &wire[cut..]];
        let events = deliver_in(&mut server, &reads, &mut Vec::new());
        assert_eq!(events, [text(&message)], "cut at {cut}");
    }
    let (mut server, _) = pair_with(&DeflateConfig::full(), CompressOptions::default());
    let bytewise: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(
        deliver_in(&mut server, &bytewise, &mut Vec::new()),
        [text(&message)]
    );
}

#[test]
fn an_uncompressed_message_on_a_compressing_connection_is_read_as_it_is() {
    // RSV1 clear: the message is not compressed (RFC 7692 §6: per message).
    let (mut server, _) = pair_with(&DeflateConfig::full(), CompressOptions::default());
    let mut frame = Vec::new();
    frame::write_frame(&mut frame, true, OpCode::Text, b"plain", Some([9, 8, 7, 6]));
    assert_eq!(
        deliver(&mut server, &frame, &mut Vec::new()),
        [text("plain")]
    );
}

#[test]
fn messages_under_the_minimum_size_go_out_uncompressed() {
    let options = CompressOptions {
        level: Level::Fast,
        min_size: 32,
    };
    let (mut server, mut client) = pair_with(&DeflateConfig::memory_light(), options);
    let mut wire = Vec::new();
    server.send(&Message::text("short"), &mut wire).unwrap();
    server.send(&Message::text(chat(2)), &mut wire).unwrap();
    let sent = frames(&wire, Role::Server);
    assert_eq!((sent[0].0, sent[0].3.as_slice()), (0, b"short".as_slice()));
    assert_eq!(sent[1].0, RSV1);
    assert_eq!(
        deliver(&mut client, &wire, &mut Vec::new()),
        [text("short"), text(&chat(2))]
    );
}

#[test]
fn a_small_frame_that_inflates_past_the_message_limit_closes_1009_before_growing_past_it() {
    let now = Instant::now();
    let (s, c) = agreements(&DeflateConfig::full());
    let limits = WsLimits {
        max_message_size: 64 * 1024,
        ..WsLimits::default()
    };
    let mut server = WsConnection::server(limits, now).with_deflate(&s, CompressOptions::default());
    // 16 MiB of zeros compresses to about 16 KiB.
    let mut sender = WsConnection::client(WsLimits::default(), now, [1; 32])
        .with_deflate(&c, CompressOptions::default());
    let mut wire = Vec::new();
    sender
        .send(&Message::binary(vec![0; 16 << 20]), &mut wire)
        .unwrap();
    assert!(wire.len() < 64 * 1024, "{} bytes on the wire", wire.len());
    let events = deliver(&mut server, &wire, &mut Vec::new());
    let [Delivered::Closed(1009, CloseKind::Failed(error))] = events.as_slice() else {
        panic!("{events:?}");
    };
    let crate::ws::error::ProtocolError::MessageTooLarge { len, max } = *error else {
        panic!("{error:?}");
    };
    // Stopped within a match (258 bytes) of the limit, not after inflating it all.
    assert_eq!(max, 64 * 1024);
    assert!(len <= max + 258, "{len}");
}

#[test]
fn data_that_is_not_deflate_fails_the_connection_with_1007() {
    let (mut server, _) = pair_with(&DeflateConfig::full(), CompressOptions::default());
    let mut frame = Vec::new();
    // Block type 3 is reserved (RFC 1951 §3.2.3).
    frame::write_frame(
        &mut frame,
        true,
        OpCode::Binary,
        &[0x07, 0x00],
        Some([0; 4]),
    );
    frame[0] |= RSV1 << 4;
    let mut replies = Vec::new();
    let events = deliver(&mut server, &frame, &mut replies);
    assert!(
        matches!(
            events.as_slice(),
            [Delivered::Closed(1007, CloseKind::Failed(_))]
        ),
        "{events:?}"
    );
    let reply = frames(&replies, Role::Server);
    assert_eq!(reply[0].1, OpCode::Close);
    assert_eq!(&reply[0].3[..2], &1007u16.to_be_bytes());
}

#[test]
fn rsv1_on_a_connection_without_permessage_deflate_still_fails_it_with_1002() {
    let mut server = WsConnection::server(WsLimits::default(), Instant::now());
    let mut frame = Vec::new();
    frame::write_frame(&mut frame, true, OpCode::Text, &[0xf2, 0x48], Some([0; 4]));
    frame[0] |= RSV1 << 4;
    let events = deliver(&mut server, &frame, &mut Vec::new());
    assert!(
        matches!(events.as_slice(), [Delivered::Closed(1002, _)]),
        "{events:?}"
    );
}

#[test]
fn without_context_takeover_nothing_is_held_between_messages() {
    let (mut server, mut client) =
        pair_with(&DeflateConfig::memory_light(), CompressOptions::default());
    let mut pools = CodecPools::default();
    for i in 0..20 {
        let mut wire = Vec::new();
        client
            .send(&Message::text(chat(i).repeat(20)), &mut wire)
            .unwrap();
        let mut buf = wire.clone();
        let (_, event) =
            server.handle_input_pooled(&mut buf, &mut Vec::new(), Instant::now(), &mut pools);
        assert!(matches!(event, Some(WsEvent::Message(_))));
        let mut out = Vec::new();
        server
            .send_pooled(&Message::text(chat(i).repeat(20)), &mut out, &mut pools)
            .unwrap();
    }
    let deflate = server.deflate_state().expect("negotiated");
    assert_eq!(deflate.inflater.heap_bytes(), 0);
    assert_eq!(deflate.compressor.heap_bytes(), 0);
}

#[test]
fn a_peer_asked_for_a_256_byte_window_may_reach_512_back_as_zlib_does() {
    // The client offers client_max_window_bits and we ask for 8; a zlib-based client
    // compresses with 9 all the same.
    let offer = DeflateOffer {
        client_max_window_bits: permessage_deflate::ClientWindowOffer::Supported,
        ..DeflateOffer::browser()
    };
    let mut config = DeflateConfig::full();
    config.client_window_bits = WindowBits::MIN;
    let offered = permessage_deflate::client_offer(&offer);
    let agreement = permessage_deflate::negotiate([offered.as_bytes()], &config)
        .unwrap()
        .unwrap();
    assert_eq!(agreement.decompressor.window_bits, WindowBits::MIN);
    let mut server = WsConnection::server(WsLimits::default(), Instant::now())
        .with_deflate(&agreement, CompressOptions::default());

    // 300 distinct bytes, then the same again: the second half is a match 300 back.
    let half: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
    let message = [half.as_slice(), half.as_slice()].concat();
    let nine = WindowBits::new(9).unwrap();
    let mut compressed = Vec::new();
    crate::deflate::compress::Compressor::new(Level::Default, nine, false)
        .compress_message(&message, &mut compressed);
    let mut frame = Vec::new();
    frame::write_frame(
        &mut frame,
        true,
        OpCode::Binary,
        &compressed,
        Some([5, 6, 7, 8]),
    );
    frame[0] |= RSV1 << 4;
    assert_eq!(
        deliver(&mut server, &frame, &mut Vec::new()),
        [Delivered::Message(false, message)]
    );
}

#[test]
fn what_a_connection_pays_for_compression_is_its_boxed_state() {
    // The README's figure for an idle connection that agreed on permessage-deflate
    // without context takeover: this box, with no window and no tables in it.
    let size = std::mem::size_of::<PerMessageDeflate>();
    assert!(size <= 128, "PerMessageDeflate is {size} bytes");
    let (server, _) = pair_with(&DeflateConfig::memory_light(), CompressOptions::default());
    let state = server.deflate_state().expect("negotiated");
    assert_eq!(
        state.inflater.heap_bytes() + state.compressor.heap_bytes(),
        0
    );
}

/// `message` sent with [`WsConnection::send_shared`] as a driver does it: the header,
/// then the payload it returns (or the connection's own encoding).
fn send_shared(
    conn: &mut WsConnection,
    message: &mut SharedMessage,
    pools: &mut CodecPools,
) -> (Vec<u8>, Option<std::sync::Arc<[u8]>>) {
    let mut head = [0u8; FrameHeader::MAX_LEN];
    let mut wire = Vec::new();
    match conn.send_shared(message, &mut head, pools).expect("open") {
        SharedFrame::Shared { head_len, payload } => {
            wire.extend_from_slice(&head[..head_len]);
            wire.extend_from_slice(&payload);
            (wire, Some(payload))
        }
        SharedFrame::Own => {
            conn.send_pooled(&message.as_message(), &mut wire, pools)
                .expect("open");
            (wire, None)
        }
    }
}

#[test]
fn a_broadcast_is_compressed_once_for_every_connection_without_context_takeover() {
    let mut pools = CodecPools::default();
    let options = Compression::memory_light().options;
    let mut message = SharedMessage::text(chat(1).repeat(4).into());
    let mut first: Option<std::sync::Arc<[u8]>> = None;
    for _ in 0..50 {
        let (mut server, mut client) = pair_with(&DeflateConfig::memory_light(), options);
        let (wire, payload) = send_shared(&mut server, &mut message, &mut pools);
        let payload = payload.expect("shared, not encoded by the connection");
        // The very same bytes for every subscriber, not an equal copy.
        let first = first.get_or_insert_with(|| payload.clone());
        assert!(std::sync::Arc::ptr_eq(first, &payload));
        assert_eq!(frames(&wire, Role::Server)[0].0, RSV1);
        assert_eq!(
            deliver(&mut client, &wire, &mut Vec::new()),
            [text(&chat(1).repeat(4))]
        );
    }
    assert_eq!(message.compressions(), 1);
    assert_eq!(pools.stats().messages, 1);
    assert!(first.unwrap().len() < chat(1).len() * 4 / 2);
}

#[test]
fn a_connection_with_context_takeover_compresses_a_shared_message_itself() {
    // Its compressed messages may refer back into what it sent before, which no other
    // connection has: the shared form would be read against the wrong window.
    let mut pools = CodecPools::default();
    let (mut server, mut client) = pair_with(&DeflateConfig::full(), CompressOptions::default());
    let mut message = SharedMessage::text(chat(2).into());
    for _ in 0..3 {
        let (wire, payload) = send_shared(&mut server, &mut message, &mut pools);
        assert!(payload.is_none());
        assert_eq!(frames(&wire, Role::Server)[0].0, RSV1);
        assert_eq!(
            deliver(&mut client, &wire, &mut Vec::new()),
            [text(&chat(2))]
        );
    }
    assert_eq!(message.compressions(), 0);
    assert_eq!(pools.stats().messages, 3);
}

#[test]
fn a_shared_message_goes_out_plain_where_compression_is_off_or_too_small() {
    let mut pools = CodecPools::default();
    let mut message = SharedMessage::text(chat(3).into());
    let mut plain = WsConnection::server(WsLimits::default(), Instant::now());
    let (wire, payload) = send_shared(&mut plain, &mut message, &mut pools);
    assert!(std::sync::Arc::ptr_eq(&payload.unwrap(), message.payload()));
    assert_eq!(frames(&wire, Role::Server)[0].0, 0);

    let options = CompressOptions {
        level: Level::Fast,
        min_size: 1000,
    };
    let (mut server, _) = pair_with(&DeflateConfig::memory_light(), options);
    let (wire, _) = send_shared(&mut server, &mut message, &mut pools);
    assert_eq!(frames(&wire, Role::Server)[0].0, 0, "under min_size");
    assert_eq!(message.compressions(), 0);
}

#[test]
fn a_client_masks_a_shared_message_with_its_own_key() {
    let mut pools = CodecPools::default();
    let (mut server, mut client) =
        pair_with(&DeflateConfig::memory_light(), CompressOptions::default());
    let mut message = SharedMessage::binary(chat(4).into_bytes().into());
    let (wire, payload) = send_shared(&mut client, &mut message, &mut pools);
    assert!(payload.is_none());
    assert_eq!(
        deliver(&mut server, &wire, &mut Vec::new()),
        [Delivered::Message(false, chat(4).into_bytes())]
    );
}

#[test]
fn a_shared_message_is_refused_between_the_parts_of_another() {
    let mut pools = CodecPools::default();
    let (mut server, _) = pair_with(&DeflateConfig::memory_light(), CompressOptions::default());
    let part = MessagePart {
        is_text: true,
        first: true,
        last: false,
        data: b"half",
    };
    server.send_part(&part, &mut Vec::new()).unwrap();
    let mut message = SharedMessage::text(chat(5).into());
    let mut head = [0u8; FrameHeader::MAX_LEN];
    assert_eq!(
        server.send_shared(&mut message, &mut head, &mut pools),
        Err(crate::ws::SendError::Busy)
    );
    assert_eq!(
        message.compressions(),
        0,
        "nothing compressed for a refused send"
    );
}
