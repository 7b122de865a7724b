//! `ws_deflate`: WebSocket connections that negotiated permessage-deflate (RFC 7692),
//! both roles, on hostile and on well-formed compressed traffic.

use std::time::Instant;

use crate::config::WsLimits;
use crate::deflate::compress::Level;
use crate::message::Message;
use crate::ws::compression::{CodecPools, CompressOptions, SharedFrame, SharedMessage};
use crate::ws::connection::{WsConnection, WsEvent};
use crate::ws::frame::FrameHeader;
use crate::ws::permessage_deflate::{self, DeflateConfig, DeflateOffer, WindowBits};

use super::{Reader, fnv1a, random_splits};

/// The agreements (server's, client's) for a config byte: bits 0–1 the two takeover
/// choices, bits 2–4 the server's window, bits 5–7 the client's.
fn agreements(config: u8) -> (permessage_deflate::Agreement, permessage_deflate::Agreement) {
    let window = |bits: u8| WindowBits::new(8 + (bits & 7)).expect("8..=15");
    let mut server_config = DeflateConfig::full();
    server_config.server_no_context_takeover = config & 1 != 0;
    server_config.request_client_no_context_takeover = config & 2 != 0;
    server_config.max_server_window_bits = window(config >> 2);
    server_config.client_window_bits = window(config >> 5);
    let offer = DeflateOffer::browser();
    let written = permessage_deflate::client_offer(&offer);
    let server = permessage_deflate::negotiate([written.as_bytes()], &server_config)
        .expect("our own offer is well-formed")
        .expect("and acceptable");
    let mut answer = Vec::new();
    server.write_response(&mut answer);
    let client = permessage_deflate::validate_response(&answer, &offer)
        .expect("our own answer is valid")
        .expect("and agrees");
    (server, client)
}

/// Everything `to` delivers from `bytes` read in the chunks ending at `ends`: the
/// messages (kind, bytes), then whether it closed and with which code.
fn deliver(
    to: &mut WsConnection,
    bytes: &[u8],
    ends: &[usize],
    pools: &mut CodecPools,
) -> (Vec<(bool, Vec<u8>)>, Option<u16>) {
    let limits = WsLimits::default();
    let mut messages = Vec::new();
    let mut pending = Vec::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &end in ends {
        pending.extend_from_slice(&bytes[start..end]);
        start = end;
        let mut pos = 0;
        loop {
            let (n, event) =
                to.handle_input_pooled(&mut pending[pos..], &mut out, Instant::now(), pools);
            pos += n;
            match event {
                Some(WsEvent::Message(m)) => {
                    assert!(m.len() as u64 <= limits.max_message_size);
                    messages.push((m.is_text(), m.as_bytes().to_vec()));
                }
                Some(WsEvent::Closed(close)) => return (messages, Some(close.code.as_u16())),
                Some(_) => {}
                None => break,
            }
        }
        pending.drain(..pos);
        // What is left unconsumed is a partial frame header or control frame.
        assert!(
            pending.len() <= 131,
            "{} bytes left unconsumed",
            pending.len()
        );
        // The connection's own replies are bounded by what it read.
        assert!(out.len() <= 2 * end + 256);
    }
    (messages, None)
}

/// **ws_deflate** — connections with permessage-deflate agreed.
///
/// Input: `[agreement: u8] [level: u8] [mode: u8] [bytes ...]`. Mode bit 0: the bytes are
/// hostile frames fed to a compressing server (no panic; messages within
/// `max_message_size`; a failure closes the connection once). Otherwise they are
/// messages (a length byte, then that many bytes, repeated) that a compressing client
/// sends — whole, or in parts when mode bit 1 is set — and the server must deliver
/// exactly, in order, however the wire is split; and the server's compressed echoes of
/// them must reach the client intact (with mode bit 2, every other echo sent as a
/// shared broadcast message).
pub fn ws_deflate(data: &[u8]) {
    let mut r = Reader { data };
    let (server_agreement, client_agreement) = agreements(r.u8());
    let level = match r.u8() % 3 {
        0 => Level::Fast,
        1 => Level::Default,
        _ => Level::Best,
    };
    let mode = r.u8();
    let rest = r.rest();
    let options = CompressOptions { level, min_size: 0 };
    let now = Instant::now();
    let mut server =
        WsConnection::server(WsLimits::default(), now).with_deflate(&server_agreement, options);
    let mut pools = CodecPools::default();

    if mode & 1 != 0 {
        // Hostile bytes, one shot and split: the same verdict.
        let whole = deliver(&mut server, rest, &[rest.len()], &mut pools);
        let mut again =
            WsConnection::server(WsLimits::default(), now).with_deflate(&server_agreement, options);
        let ends = random_splits(rest.len(), fnv1a(rest, 1));
        assert_eq!(deliver(&mut again, rest, &ends, &mut pools), whole);
        return;
    }

    let mut messages = Vec::new();
    let mut r = Reader { data: rest };
    while messages.len() < 16 {
        let len = usize::from(r.u8());
        let bytes = r.take(len);
        if bytes.is_empty() && len > 0 {
            break;
        }
        // Grow some messages so they span several DEFLATE blocks.
        let bytes = if len % 7 == 3 {
            bytes.repeat(64)
        } else {
            bytes.to_vec()
        };
        messages.push(bytes);
    }
    let mut client = WsConnection::client(WsLimits::default(), now, [3; 32])
        .with_deflate(&client_agreement, options);
    let mut wire = Vec::new();
    for bytes in &messages {
        if mode & 2 != 0 && bytes.len() > 1 {
            let (a, b) = bytes.split_at(bytes.len() / 2);
            for (data, first, last) in [(a, true, false), (b, false, true)] {
                let part = crate::message::MessagePart {
                    is_text: false,
                    data,
                    first,
                    last,
                };
                client
                    .send_part_pooled(&part, &mut wire, &mut pools)
                    .expect("open");
            }
        } else {
            client
                .send_pooled(&Message::binary(bytes.as_slice()), &mut wire, &mut pools)
                .expect("open");
        }
    }
    let ends = random_splits(wire.len(), fnv1a(&wire, 2));
    let (delivered, closed) = deliver(&mut server, &wire, &ends, &mut pools);
    assert_eq!(
        closed, None,
        "a well-formed compressed stream closed the connection"
    );
    let expected: Vec<(bool, Vec<u8>)> = messages.iter().map(|m| (false, m.clone())).collect();
    assert!(delivered == expected, "messages changed on the way");

    // And back: the server's compressed echoes, to the client — with mode bit 2 every
    // other one as a broadcast would send it (a shared message, compressed once for
    // connections without context takeover), between messages of the connection's own.
    let mut echoes = Vec::new();
    for (i, (_, bytes)) in delivered.iter().enumerate() {
        if mode & 4 != 0 && i % 2 == 0 {
            let mut shared = SharedMessage::binary(bytes.as_slice().into());
            let mut head = [0u8; FrameHeader::MAX_LEN];
            match server
                .send_shared(&mut shared, &mut head, &mut pools)
                .expect("open")
            {
                SharedFrame::Shared { head_len, payload } => {
                    echoes.extend_from_slice(&head[..head_len]);
                    echoes.extend_from_slice(&payload);
                }
                SharedFrame::Own => server
                    .send_pooled(&shared.as_message(), &mut echoes, &mut pools)
                    .expect("open"),
            }
        } else {
            server
                .send_pooled(&Message::binary(bytes.as_slice()), &mut echoes, &mut pools)
                .expect("open");
        }
    }
    let (back, closed) = deliver(&mut client, &echoes, &[echoes.len()], &mut pools);
    assert_eq!(closed, None);
    assert!(back == expected, "echoes changed on the way");
}
