//! The blocking [`Client`] offering permessage-deflate (RFC 7692) to a real pushwire
//! server over loopback: what it agrees to, messages of every size round-tripped
//! through an echo, and the client's own wire trace showing the frames really were
//! compressed (RSV1, RFC 7692 §6) and shorter than their messages, both ways.

mod support;

use std::sync::{Arc, Mutex};

use pushwire::client::{Client, ClientCompression, ClientOptions};
use pushwire::log::Log;
use pushwire::ws::compression::Compression;
use pushwire::ws::permessage_deflate::{ClientWindowOffer, StreamParams, WindowBits};
use pushwire::{CloseCode, Message};
use support::*;

/// A server echoing every message, with `compression`.
fn echo_server(compression: Compression) -> TestServer {
    let mut c = config();
    c.permessage_deflate = compression;
    TestServer::start(c, Echo)
}

/// The client's trace lines, collected.
#[derive(Clone, Default)]
struct Trace(Arc<Mutex<Vec<String>>>);

impl Trace {
    /// The frames traced since the last call, each as (sent by the client, RSV bits,
    /// opcode, payload length on the wire).
    fn take_frames(&self) -> Vec<(bool, String, u8, usize)> {
        let lines = std::mem::take(&mut *self.0.lock().unwrap());
        lines
            .iter()
            .filter_map(|line| {
                let (_, frame) = line.split_once("] frame ")?;
                let sent = line.contains(" ->] ");
                let field = |name: &str| {
                    frame
                        .split(' ')
                        .find_map(|f| f.strip_prefix(name))
                        .unwrap_or_else(|| panic!("{name} in {line}"))
                };
                let rsv = field("RSV=").to_string();
                let opcode = u8::from_str_radix(field("opcode=0x"), 16).unwrap();
                let len = field("len=").parse().unwrap();
                Some((sent, rsv, opcode, len))
            })
            .collect()
    }
}

/// A client of `server` offering `compression`, tracing into the returned [`Trace`].
fn connect(server: &TestServer, compression: Option<ClientCompression>) -> (Client, Trace) {
    let trace = Trace::default();
    let lines = trace.clone();
    let options = ClientOptions {
        compression,
        trace: true,
        log: Log::custom(move |_, line| lines.0.lock().unwrap().push(line.to_string())),
        ..ClientOptions::default()
    };
    let client = Client::connect_with(&server.url("/"), options).expect("connects");
    (client, trace)
}

fn stream(window: u8, context_takeover: bool) -> StreamParams {
    StreamParams {
        window_bits: WindowBits::new(window).unwrap(),
        context_takeover,
    }
}

/// Text that compresses well but is not one short repeat: words drawn from a small
/// vocabulary by a counter.
fn compressible_text(len: usize) -> String {
    const WORDS: [&str; 8] = [
        "push ", "wire ", "frame ", "deflate ", "window ", "message ", "server ", "client ",
    ];
    let mut text = String::with_capacity(len + 8);
    let mut i = 0usize;
    while text.len() < len {
        text.push_str(WORDS[(i * 7 + i / 13) % WORDS.len()]);
        i += 1;
    }
    text.truncate(len);
    text
}

/// Random bytes: DEFLATE cannot shrink them.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::fill(&mut bytes[..]);
    bytes
}

/// Sends `message` and checks its echo comes back intact.
fn round_trip(client: &mut Client, message: &Message<'_>) {
    client.send(message).expect("sends");
    let echo = client.recv().expect("echo");
    assert!(echo == *message, "{} byte echo differs", message.len());
}

/// Text, compressible binary and random binary messages of `len` bytes.
fn messages_of(len: usize) -> Vec<Message<'static>> {
    vec![
        Message::text(compressible_text(len)),
        Message::binary(compressible_text(len).into_bytes()),
        Message::binary(random_bytes(len)),
    ]
}

/// Asserts the traced frames of one compressible message's round trip, sent and
/// echoed: both compressed (RSV1) and shorter than `len` on the wire.
fn assert_compressed_both_ways(frames: &[(bool, String, u8, usize)], len: usize) {
    for sent in [true, false] {
        let (_, rsv, _, wire_len) = frames
            .iter()
            .find(|f| f.0 == sent && f.2 != 0x8)
            .unwrap_or_else(|| panic!("a data frame {}", if sent { "sent" } else { "received" }));
        assert_eq!(rsv, "100", "sent {sent}: RSV1 marks a compressed message");
        assert!(
            *wire_len < len / 4,
            "sent {sent}: {wire_len} bytes for {len}"
        );
    }
}

const SIZES: [usize; 4] = [0, 5, 1024, 100 * 1024];

/// Round-trips [`messages_of`] every size in [`SIZES`], and checks each message and its
/// echo went out compressed (RSV1) exactly when at least `min_size` long, the same
/// threshold on both sides.
fn every_size_round_trips(client: &mut Client, trace: &Trace, min_size: usize) {
    trace.take_frames();
    for len in SIZES {
        for message in messages_of(len) {
            round_trip(client, &message);
            let frames = trace.take_frames();
            let rsv = if len >= min_size { "100" } else { "000" };
            assert_eq!(frames.len(), 2, "{len}: {frames:?}");
            assert!(frames.iter().all(|f| f.1 == rsv), "{len}: {frames:?}");
        }
    }
}

#[test]
fn a_full_server_agrees_to_the_browser_offer_with_context_takeover_both_ways() {
    let server = echo_server(Compression::full());
    let (client, _trace) = connect(&server, Some(ClientCompression::browser()));
    let agreement = client.deflate().expect("agreed");
    assert_eq!(agreement.compressor, stream(15, true));
    assert_eq!(agreement.decompressor, stream(15, true));
    // The memory-light offer asks for no context takeover both ways, and gets it.
    let (client, _trace) = connect(&server, Some(ClientCompression::memory_light()));
    let agreement = client.deflate().expect("agreed");
    assert_eq!(agreement.compressor, stream(15, false));
    assert_eq!(agreement.decompressor, stream(15, false));
    let response = agreement.response();
    assert!(response.server_no_context_takeover && response.client_no_context_takeover);
}

#[test]
fn a_memory_light_server_resets_both_ways_whatever_the_client_offers() {
    let server = echo_server(Compression::memory_light());
    for offer in [
        ClientCompression::browser(),
        ClientCompression::memory_light(),
    ] {
        let (client, _trace) = connect(&server, Some(offer));
        let agreement = client.deflate().expect("agreed");
        assert_eq!(agreement.compressor, stream(15, false), "{offer:?}");
        assert_eq!(agreement.decompressor, stream(15, false), "{offer:?}");
    }
}

#[test]
fn every_size_round_trips_compressed_through_a_full_server() {
    let server = echo_server(Compression::full());
    let (mut client, trace) = connect(&server, Some(ClientCompression::browser()));
    // Both sides compress every message (min_size 0), even an empty one.
    every_size_round_trips(&mut client, &trace, 0);
    // A compressible 100 KiB message is compressed on the wire, both ways.
    round_trip(&mut client, &Message::text(compressible_text(100 * 1024)));
    assert_compressed_both_ways(&trace.take_frames(), 100 * 1024);
    client.close(CloseCode::NORMAL, "done").expect("closes");
}

#[test]
fn every_size_round_trips_compressed_through_a_memory_light_server() {
    let server = echo_server(Compression::memory_light());
    let (mut client, trace) = connect(&server, Some(ClientCompression::memory_light()));
    // Both sides leave messages under 32 bytes alone.
    every_size_round_trips(&mut client, &trace, 32);
    round_trip(
        &mut client,
        &Message::binary(compressible_text(100 * 1024).into_bytes()),
    );
    assert_compressed_both_ways(&trace.take_frames(), 100 * 1024);
    // Under min_size (32 bytes) neither side compresses: RSV1 clear both ways.
    round_trip(&mut client, &Message::text("short"));
    let frames = trace.take_frames();
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(frames.iter().all(|f| f.1 == "000"), "{frames:?}");
    client.close(CloseCode::NORMAL, "done").expect("closes");
}

const MIB: usize = 1 << 20;

/// Round-trips one 1 MiB message through a server with `compression`, from a client
/// offering `offer`; the traced frames, sent and echoed. (One message per test: a
/// mebibyte compressed and inflated twice takes a few hundred milliseconds in debug.)
fn one_mebibyte(
    compression: Compression,
    offer: ClientCompression,
    message: Message<'static>,
) -> Vec<(bool, String, u8, usize)> {
    let server = echo_server(compression);
    let (mut client, trace) = connect(&server, Some(offer));
    trace.take_frames();
    round_trip(&mut client, &message);
    trace.take_frames()
}

/// Random bytes are compressed all the same (RSV1) and cost little more than stored
/// blocks would (RFC 1951 §3.2.4: 5 bytes per 64 KiB).
fn assert_barely_grown(frames: &[(bool, String, u8, usize)], len: usize) {
    assert_eq!(frames.len(), 2, "{frames:?}");
    for (sent, rsv, _, wire_len) in frames {
        assert_eq!(rsv, "100", "sent {sent}");
        assert!(
            *wire_len <= len + len / 256,
            "sent {sent}: {wire_len} for {len}"
        );
    }
}

#[test]
fn a_compressible_mebibyte_round_trips_compressed_through_a_full_server() {
    let text = Message::text(compressible_text(MIB));
    let frames = one_mebibyte(Compression::full(), ClientCompression::browser(), text);
    assert_compressed_both_ways(&frames, MIB);
}

#[test]
fn a_compressible_mebibyte_round_trips_compressed_through_a_memory_light_server() {
    let binary = Message::binary(compressible_text(MIB).into_bytes());
    let frames = one_mebibyte(
        Compression::memory_light(),
        ClientCompression::memory_light(),
        binary,
    );
    assert_compressed_both_ways(&frames, MIB);
}

#[test]
fn a_random_mebibyte_round_trips_intact_through_a_full_server() {
    let random = Message::binary(random_bytes(MIB));
    let frames = one_mebibyte(Compression::full(), ClientCompression::browser(), random);
    assert_barely_grown(&frames, MIB);
}

#[test]
fn a_random_mebibyte_round_trips_intact_through_a_memory_light_server() {
    let random = Message::binary(random_bytes(MIB));
    let frames = one_mebibyte(
        Compression::memory_light(),
        ClientCompression::memory_light(),
        random,
    );
    assert_barely_grown(&frames, MIB);
}

#[test]
fn context_takeover_makes_a_repeated_message_shorter_both_ways() {
    let server = echo_server(Compression::full());
    let (mut client, trace) = connect(&server, Some(ClientCompression::browser()));
    let message = Message::binary(random_bytes(2000));
    round_trip(&mut client, &message);
    let first = trace.take_frames();
    round_trip(&mut client, &message);
    let second = trace.take_frames();
    for sent in [true, false] {
        let len = |frames: &[(bool, String, u8, usize)]| {
            frames.iter().find(|f| f.0 == sent).expect("a frame").3
        };
        // RFC 7692 §7.2.3.2: the second message is a match into the first.
        assert!(len(&first) > 2000, "sent {sent}: {first:?}");
        assert!(len(&second) < 64, "sent {sent}: {second:?}");
    }
}

#[test]
fn the_window_the_server_sets_for_the_client_is_the_one_the_client_compresses_with() {
    let mut compression = Compression::full();
    compression.negotiation.client_window_bits = WindowBits::new(9).unwrap();
    let server = echo_server(compression);
    let offer = ClientCompression::browser();
    assert_eq!(
        offer.offer.client_max_window_bits,
        ClientWindowOffer::Supported
    );
    let (mut client, trace) = connect(&server, Some(offer));
    let agreement = client.deflate().expect("agreed");
    assert_eq!(agreement.compressor, stream(9, true));
    assert_eq!(agreement.decompressor, stream(15, true));
    // A 2000-byte block repeated: a 32 KiB window would reach back 2000 bytes, which
    // the server, reading with 2^9, would refuse (RFC 7692 §7.1.2.2). It echoes.
    let block = random_bytes(2000);
    let message = Message::binary(block.repeat(8));
    round_trip(&mut client, &message);
    let frames = trace.take_frames();
    let sent = frames.iter().find(|f| f.0).expect("sent");
    let echoed = frames.iter().find(|f| !f.0).expect("echoed");
    assert_eq!(sent.1, "100");
    // Our frame could not use the repeats; the server's (32 KiB window) did.
    assert!(sent.3 > 6 * 2000, "{sent:?}");
    assert!(echoed.3 < 3 * 2000, "{echoed:?}");
}

#[test]
fn a_server_with_compression_off_gives_a_working_uncompressed_session() {
    let server = echo_server(Compression::off());
    let (mut client, trace) = connect(&server, Some(ClientCompression::browser()));
    assert_eq!(client.deflate(), None);
    trace.take_frames();
    for len in SIZES {
        for message in messages_of(len) {
            round_trip(&mut client, &message);
        }
    }
    let frames = trace.take_frames();
    assert_eq!(frames.len(), 2 * 3 * SIZES.len(), "{frames:?}");
    assert!(frames.iter().all(|f| f.1 == "000"), "{frames:?}");
    client.close(CloseCode::NORMAL, "done").expect("closes");
}

#[test]
fn a_client_without_an_offer_sends_no_extension_header() {
    let server = echo_server(Compression::full());
    let (mut client, trace) = connect(&server, None);
    assert_eq!(client.deflate(), None);
    let request: Vec<String> = trace.0.lock().unwrap().clone();
    assert!(
        !request
            .iter()
            .any(|l| l.contains("Sec-WebSocket-Extensions")),
        "{request:?}"
    );
    round_trip(&mut client, &Message::text(compressible_text(1024)));
    assert!(trace.take_frames().iter().all(|f| f.1 == "000"));
}
