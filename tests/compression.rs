//! permessage-deflate (RFC 7692) through the server, in memory: what the `101` answers
//! to an offer under each configuration, and compressed messages in and out.

mod support;

use pushwire::Config;
use pushwire::pair::ServerPair;
use pushwire::ws::compression::Compression;
use support::*;

const CHROMIUM_OFFER: &str = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";

fn with(compression: Compression) -> Config {
    let mut c = config();
    c.permessage_deflate = compression;
    c
}

/// Connects and sends an upgrade request with Chromium's offer; the response.
fn offer<H: pushwire::Handler>(pair: &mut ServerPair<H>) -> (Client, HttpResponse) {
    let mut client = Client::connect(pair);
    client.send(pair, upgrade_request("/", &[CHROMIUM_OFFER]).as_bytes());
    let response = client.response(pair);
    (client, response)
}

/// RFC 7692 §7.2.3.1: "Hello", compressed.
const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

#[test]
fn an_offer_is_not_answered_by_default() {
    let (mut pair, _events) = memory_server(config(), Echo);
    let (_client, response) = offer(&mut pair);
    assert_eq!(response.status, 101);
    assert_eq!(response.header("Sec-WebSocket-Extensions"), None);
}

#[test]
fn the_full_configuration_accepts_a_browser_offer_as_made() {
    let (mut pair, _events) = memory_server(with(Compression::full()), Echo);
    let (_client, response) = offer(&mut pair);
    assert_eq!(response.status, 101);
    assert_eq!(
        response.header("Sec-WebSocket-Extensions"),
        Some("permessage-deflate")
    );
}

#[test]
fn the_memory_light_configuration_answers_no_context_takeover_both_ways() {
    let (mut pair, _events) = memory_server(with(Compression::memory_light()), Echo);
    let (_client, response) = offer(&mut pair);
    assert_eq!(response.status, 101);
    assert_eq!(
        response.header("Sec-WebSocket-Extensions"),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
}

#[test]
fn a_compressed_hello_is_echoed_compressed_and_a_plain_one_plain() {
    let (mut pair, _events) = memory_server(with(Compression::full()), Echo);
    let (mut client, response) = offer(&mut pair);
    assert_eq!(response.status, 101);

    // RSV1 (0x40 in the first byte) marks the compressed message (RFC 7692 §6).
    client.send(&mut pair, &frame_with(true, 0b100, 0x1, &HELLO, Some(MASK)));
    let echo = client.frame(&mut pair);
    assert_eq!(
        (echo.rsv, echo.opcode, echo.payload.as_slice()),
        (0b100, 0x1, HELLO.as_slice())
    );

    // Sent uncompressed, read as it is; our echo is compressed (the server's choice).
    client.send(&mut pair, &client_frame(true, 0x1, b"Hello"));
    let echo = client.frame(&mut pair);
    assert_eq!(echo.rsv, 0b100);
    // With context takeover the second "Hello" is a match into the first (§7.2.3.2).
    assert_eq!(echo.payload, [0xf2, 0x00, 0x11, 0x00, 0x00]);
}

#[test]
fn rsv1_on_a_continuation_frame_fails_the_connection_with_1002() {
    let (mut pair, _events) = memory_server(with(Compression::full()), Echo);
    let (mut client, response) = offer(&mut pair);
    assert_eq!(response.status, 101);
    client.send(
        &mut pair,
        &frame_with(false, 0b100, 0x1, &HELLO[..3], Some(MASK)),
    );
    client.send(
        &mut pair,
        &frame_with(true, 0b100, 0x0, &HELLO[3..], Some(MASK)),
    );
    assert_eq!(
        client.close_frame(&mut pair).map(|(code, _)| code),
        Some(1002)
    );
}

/// A frame's payload as the peer reads it: inflated if RSV1 says it is compressed
/// (RFC 7692 §7.2.2: the sync flush's tail appended first), by the reference decoder.
fn payload_text(frame: &Frame) -> String {
    let bytes = if frame.rsv & 0b100 != 0 {
        let mut stream = frame.payload.clone();
        stream.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        // An empty final block (RFC 1951 §3.2.6), for a decoder that wants the stream
        // to end rather than pause at the sync flush.
        stream.extend_from_slice(&[0x03, 0x00]);
        miniz_oxide::inflate::decompress_to_vec(&stream).expect("valid DEFLATE")
    } else {
        frame.payload.clone()
    };
    String::from_utf8(bytes).expect("text")
}

/// A WebSocket subscriber of the hub's channel `room` that offered `offer` and had
/// permessage-deflate accepted.
fn subscribe_compressing<H: pushwire::Handler>(pair: &mut ServerPair<H>, offer: &str) -> Client {
    let mut client = Client::connect(pair);
    client.send(pair, upgrade_request("/channels/room", &[offer]).as_bytes());
    let response = client.response(pair);
    assert_eq!(response.status, 101);
    assert!(
        response
            .header("Sec-WebSocket-Extensions")
            .is_some_and(|e| e.starts_with("permessage-deflate")),
        "{response:?}"
    );
    client
}

#[test]
fn a_hub_message_is_compressed_once_for_every_subscriber_and_sent_as_the_same_bytes() {
    use pushwire::hub::{HubConfig, HubServer};
    let (mut pair, _events) = memory_server(
        with(Compression::memory_light()),
        HubServer::new(HubConfig::default()),
    );
    let mut subscribers: Vec<Client> = (0..20)
        .map(|_| subscribe_compressing(&mut pair, CHROMIUM_OFFER))
        .collect();
    let hello = "hello everyone, hello again: a chat message long enough to compress. ";
    let body = hello.repeat(20); // 1.4 KB: shared by reference, not copied
    let mut publisher = Client::connect(&mut pair);
    assert_eq!(
        publisher
            .post(&mut pair, "/channels/room", body.as_bytes())
            .status,
        201
    );

    let mut frames = Vec::new();
    for subscriber in &mut subscribers {
        let message = subscriber.frame(&mut pair);
        assert_eq!(message.rsv, 0b100, "compressed (RSV1)");
        assert!(payload_text(&message).contains(&body));
        assert!(message.payload.len() < body.len() / 4);
        frames.push(message.payload);
    }
    assert!(
        frames.iter().all(|f| *f == frames[0]),
        "the same bytes each"
    );

    // One compression for twenty subscribers, as /metrics counts it.
    let metrics = publisher.get(&mut pair, "/metrics").body_text();
    let counter = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    };
    assert_eq!(counter("pushwire_websocket_compressed_messages_total "), 1);
    assert_eq!(
        counter("pushwire_websocket_compressed_bytes_total{stage=\"after\"} "),
        frames[0].len() as u64
    );
}

#[test]
fn a_broadcast_to_subscribers_with_different_windows_is_compressed_once_per_window() {
    use pushwire::hub::{HubConfig, HubServer};
    let (mut pair, _events) = memory_server(
        with(Compression::memory_light()),
        HubServer::new(HubConfig::default()),
    );
    let offers = [
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9",
        CHROMIUM_OFFER,
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9",
        CHROMIUM_OFFER,
    ];
    let mut subscribers: Vec<Client> = offers
        .iter()
        .map(|offer| subscribe_compressing(&mut pair, offer))
        .collect();
    // Repetitions 600 bytes apart: a window of 2^9 cannot reach them, 2^15 can.
    let line: String = (0..600)
        .map(|i| (b'a' + (i * 7 % 26) as u8) as char)
        .collect();
    let body = line.repeat(3);
    let mut publisher = Client::connect(&mut pair);
    assert_eq!(
        publisher
            .post(&mut pair, "/channels/room", body.as_bytes())
            .status,
        201
    );
    let frames: Vec<Frame> = subscribers.iter_mut().map(|s| s.frame(&mut pair)).collect();
    for frame in &frames {
        assert!(payload_text(frame).contains(&body));
    }
    assert_eq!(frames[0].payload, frames[2].payload);
    assert_eq!(frames[1].payload, frames[3].payload);
    assert!(frames[1].payload.len() < frames[0].payload.len());
    let metrics = publisher.get(&mut pair, "/metrics").body_text();
    assert!(
        metrics.contains("pushwire_websocket_compressed_messages_total 2\n"),
        "{metrics}"
    );
}

/// Broadcasts every message it receives, and notes what the server had compressed
/// after each broadcast.
#[derive(Default)]
struct Broadcaster {
    compressed_after: Vec<u64>,
}

impl pushwire::Handler for Broadcaster {
    fn on_message(
        &mut self,
        ctx: &mut pushwire::Context<'_>,
        _conn: pushwire::ConnId,
        message: pushwire::Message<'_>,
    ) {
        ctx.broadcast(&message);
        self.compressed_after.push(ctx.compression_stats().messages);
    }
}

#[test]
fn context_broadcast_compresses_once_and_leaves_plain_connections_plain() {
    let (mut pair, _events) =
        memory_server(with(Compression::memory_light()), Broadcaster::default());
    let mut compressing: Vec<Client> = (0..5).map(|_| offer(&mut pair).0).collect();
    let mut plain = Client::upgrade(&mut pair, "/");
    let text = "a broadcast to everyone, compressed once for all of them ".repeat(3);
    plain.send(&mut pair, &client_frame(true, 0x1, text.as_bytes()));

    let shared: Vec<Frame> = compressing.iter_mut().map(|c| c.frame(&mut pair)).collect();
    for frame in &shared {
        assert_eq!(frame.rsv, 0b100);
        assert_eq!(frame.payload, shared[0].payload);
        assert_eq!(payload_text(frame), text);
    }
    let own = plain.frame(&mut pair);
    assert_eq!((own.rsv, own.payload.as_slice()), (0, text.as_bytes()));
    assert_eq!(pair.handler().inner().compressed_after, [1]);
}
