//! The compressing client (RFC 7692) in memory: a [`Pair`] that negotiated
//! permessage-deflate in its handshake, and a [`ServerPair`] WebSocket client offering
//! it to the real server core. No sockets, no threads, a virtual clock.

mod support;

use pushwire::client::ClientCompression;
use pushwire::config::WsLimits;
use pushwire::pair::{OwnedEvent, Pair, ServerPair};
use pushwire::ws::compression::Compression;
use pushwire::ws::permessage_deflate::{StreamParams, WindowBits};
use pushwire::{Config, Message};
use support::{Echo, config, pattern};

fn stream(window: u8, context_takeover: bool) -> StreamParams {
    StreamParams {
        window_bits: WindowBits::new(window).unwrap(),
        context_takeover,
    }
}

/// Text that compresses well: a few words in a varying order.
fn words(len: usize) -> String {
    let mut text = String::with_capacity(len + 8);
    let mut i = 0usize;
    while text.len() < len {
        text.push_str(["alpha ", "beta ", "gamma ", "delta "][(i * 3 + i / 7) % 4]);
        i += 1;
    }
    text.truncate(len);
    text
}

fn messages(events: Vec<OwnedEvent>) -> Vec<Message<'static>> {
    events
        .into_iter()
        .map(|e| match e {
            OwnedEvent::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        })
        .collect()
}

/// RSV1 (RFC 7692 §6) on the first frame at `bytes`' start.
fn rsv1(bytes: &[u8]) -> bool {
    bytes[0] & 0x40 != 0
}

// ===== Pair =====

fn deflate_pair(server: &Compression, client: ClientCompression) -> Pair {
    Pair::connect_with_deflate(WsLimits::default(), [9; 32], server, client)
}

#[test]
fn a_deflate_pair_agrees_once_each_side_in_its_own_orientation() {
    let mut light = Compression::memory_light();
    light.negotiation.client_window_bits = WindowBits::new(10).unwrap();
    let p = deflate_pair(&light, ClientCompression::browser());
    let (client, server) = (p.client_deflate().unwrap(), p.server_deflate().unwrap());
    assert_eq!(client.compressor, stream(10, false));
    assert_eq!(client.decompressor, stream(15, false));
    assert_eq!(server.compressor, client.decompressor);
    assert_eq!(server.decompressor, client.compressor);
    assert_eq!(client.response(), server.response());
}

#[test]
fn a_deflate_pair_round_trips_every_size_compressed_both_ways() {
    for (server, client) in [
        (Compression::full(), ClientCompression::browser()),
        (
            Compression::memory_light(),
            ClientCompression::memory_light(),
        ),
    ] {
        for len in [0, 5, 1024, 100 * 1024] {
            let mut p = deflate_pair(&server, client);
            let text = Message::text(words(len));
            let binary = Message::binary(pattern(len));
            p.client_send(&text);
            p.server_send(&binary);
            p.drive();
            assert_eq!(messages(p.take_server_events()), [text], "{len}");
            assert_eq!(messages(p.take_client_events()), [binary], "{len}");
            // Each side compresses what reaches its min_size (0 full, 32 light).
            let compressed = len >= client.options.min_size;
            assert_eq!(rsv1(p.client_bytes()), compressed, "{len}");
            assert_eq!(rsv1(p.server_bytes()), len >= server.options.min_size);
            if len == 100 * 1024 {
                assert!(p.client_bytes().len() < len / 4);
            }
        }
    }
}

#[test]
fn a_deflate_pair_gives_the_same_messages_however_the_wire_is_cut() {
    let send_all = |p: &mut Pair| {
        for i in 0..4 {
            p.client_send(&Message::text(words(300 + i * 100)));
            p.server_send(&Message::binary(words(500 + i).into_bytes()));
        }
    };
    let mut whole = deflate_pair(&Compression::full(), ClientCompression::browser());
    send_all(&mut whole);
    whole.drive();
    let (at_server, at_client) = (whole.take_server_events(), whole.take_client_events());
    assert_eq!(at_server.len(), 4);
    for cut in [1, 2, 3, 7, 64] {
        let mut p = deflate_pair(&Compression::full(), ClientCompression::browser());
        send_all(&mut p);
        p.drive_with_cuts(|| cut);
        assert_eq!(p.take_server_events(), at_server, "cut {cut}");
        assert_eq!(p.take_client_events(), at_client, "cut {cut}");
    }
}

#[test]
fn a_deflate_pair_whose_server_declines_runs_uncompressed() {
    let mut p = deflate_pair(&Compression::off(), ClientCompression::browser());
    assert!(p.client_deflate().is_none() && p.server_deflate().is_none());
    let text = Message::text(words(1000));
    p.client_send(&text);
    p.drive();
    assert_eq!(messages(p.take_server_events()), [text]);
    assert!(!rsv1(p.client_bytes()));
}

// ===== ServerPair: the server core =====

fn deflate_server(compression: Compression) -> ServerPair<Echo> {
    let mut c: Config = config();
    c.permessage_deflate = compression;
    ServerPair::new(c, Echo).expect("valid config")
}

#[test]
fn a_compressing_client_is_echoed_through_the_server_core() {
    for (compression, offer, agreed) in [
        (
            Compression::full(),
            ClientCompression::browser(),
            (stream(15, true), stream(15, true)),
        ),
        (
            Compression::memory_light(),
            ClientCompression::memory_light(),
            (stream(15, false), stream(15, false)),
        ),
    ] {
        let mut pair = deflate_server(compression);
        let peer = pair.ws_connect_with_deflate("/", offer).expect("upgrades");
        let agreement = pair.ws_deflate(peer).expect("agreed");
        assert_eq!((agreement.compressor, agreement.decompressor), agreed);
        for len in [0, 5, 1024, 100 * 1024] {
            let text = Message::text(words(len));
            let binary = Message::binary(pattern(len));
            pair.ws_send(peer, &text);
            pair.ws_send(peer, &binary);
            assert_eq!(messages(pair.ws_events(peer)), [text, binary], "{len}");
        }
        // The server read a 100 KiB compressible message in far fewer bytes.
        let before = (pair.stats().bytes_read, pair.stats().bytes_written);
        let len = 100 * 1024;
        let text = Message::text(words(len));
        pair.ws_send(peer, &text);
        assert_eq!(messages(pair.ws_events(peer)), [text]);
        let read = pair.stats().bytes_read - before.0;
        let written = pair.stats().bytes_written - before.1;
        assert!(read < len as u64 / 4, "read {read}");
        assert!(written < len as u64 / 4, "written {written}");
    }
}

#[test]
fn a_deflate_offer_to_a_server_with_compression_off_gives_an_uncompressed_session() {
    let mut pair = deflate_server(Compression::off());
    let peer = pair
        .ws_connect_with_deflate("/", ClientCompression::browser())
        .expect("upgrades");
    assert_eq!(pair.ws_deflate(peer), None);
    let len = 10 * 1024;
    let text = Message::text(words(len));
    let before = pair.stats().bytes_read;
    pair.ws_send(peer, &text);
    assert_eq!(messages(pair.ws_events(peer)), [text]);
    // Sent as it is: the payload, a header and a mask key.
    assert_eq!(pair.stats().bytes_read - before, len as u64 + 4 + 4);
}

#[test]
fn a_plain_pair_client_offers_nothing() {
    let mut pair = deflate_server(Compression::full());
    let peer = pair.ws_connect("/").expect("upgrades");
    assert_eq!(pair.ws_deflate(peer), None);
}
