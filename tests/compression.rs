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
