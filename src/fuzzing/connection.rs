//! Whole connections, run by the [`driver`](super::driver): `ws_connection` (the server
//! role), `server_pipeline` (request head, handshake, then the connection, as the server
//! runs them) and `ws_client_connection` (the client role).

use std::time::Instant;

use crate::config::{HeadLimits, WsLimits};
use crate::http::request::HeadParser;
use crate::status::Status;
use crate::ws::connection::CloseKind;
use crate::ws::error::ProtocolError;
use crate::ws::frame::Role;
use crate::ws::handshake;

use super::driver::{
    Driver, Seen, decode_op, ops_and_stream, plain_run, plain_run_as, scheduled_run, ws_limits,
};
use super::http::{check_complete_head, check_error_response, check_http_response};
use super::seed_from;

// ===== target: ws_connection =====

/// **ws_connection** — the server-role connection fed arbitrary bytes in arbitrary
/// chunks with arbitrary time steps and application commands.
///
/// Input: `[config][n_ops][ops][stream]` (see the module documentation); config bits
/// 0–1 pick the limits.
///
/// Invariants: no panic; memory stays bounded by the limits (messages are at most
/// `max_message_size`, at most 130 bytes are left unconsumed without an event, the
/// connection's own replies are bounded by the bytes it read, timers never busy-loop);
/// unconsumed input is never modified; the output is a sequence of valid unmasked
/// server frames with at most one Close and nothing after it, whose pongs echo the
/// pings received while open, in order, and whose Close carries the code the events
/// announce; exactly one `Closed` event, with nothing after it; commands answer
/// `NotOpen` once a Close is sent or received; and without clock or commands, the
/// events and output are the same however the stream is split (one shot, byte by byte,
/// or in the ops' chunk sizes).
pub fn ws_connection(data: &[u8]) {
    let (config, ops, stream) = ops_and_stream(data);
    let limits = ws_limits(config);

    // Split independence, without the clock.
    let once = plain_run(limits, stream, std::iter::empty());
    let bytewise = plain_run(limits, stream, std::iter::repeat(1));
    assert_eq!(bytewise, once, "byte by byte vs one shot");
    if !ops.is_empty() {
        let chunks = ops.iter().cycle().map(|&op| decode_op(op).1);
        assert_eq!(
            plain_run(limits, stream, chunks),
            once,
            "chunked vs one shot"
        );
    }

    // Everything at once: the clock, commands, timers.
    let mut driver = Driver::new(limits, Instant::now());
    scheduled_run(&mut driver, ops, stream);
    driver.finish();
}

// ===== target: server_pipeline =====

/// **server_pipeline** — one whole server connection, sans IO: the request head is
/// parsed from the stream, checked as a WebSocket handshake, answered (101 or an HTTP
/// error, as the server does), and the bytes after the head go to a `WsConnection`.
///
/// Input: `[config][n_ops][ops][stream]`; config bits 0–1 pick the WebSocket limits,
/// bit 2 small head limits, bit 3 an `Origin` allow-list. The application accepts the
/// first subprotocol the client offers, as a handler may.
///
/// Invariants: those of [`http_head`](super::http_head) for the head, of [`ws_connection`] for the
/// WebSocket phase, plus: the server's answer is exactly one well-formed HTTP response
/// (101 with the right `Sec-WebSocket-Accept`, or the status of the error), every
/// subprotocol the client can offer can be written into the 101 (`write_accept_response`
/// does not panic), and after a 101 the wire continues with valid server frames only.
pub fn server_pipeline(data: &[u8]) {
    let (config, ops, stream) = ops_and_stream(data);
    let head_limits = if config & 4 == 0 {
        HeadLimits::default()
    } else {
        HeadLimits {
            max_head_bytes: 256,
            max_headers: 8,
            max_target_len: 32,
        }
    };
    let origins = (config & 8 != 0).then(|| vec!["http://example.com".to_string()]);

    // Phase 1: the head, in the ops' chunk sizes.
    let mut parser = HeadParser::new();
    let mut buf = Vec::new();
    let mut rest = stream;
    let mut step = 0;
    let head_len = loop {
        let chunk = if ops.is_empty() {
            usize::MAX
        } else {
            decode_op(ops[step % ops.len()]).1
        };
        step += 1;
        let n = chunk.min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        match parser.parse(&buf, &head_limits) {
            Ok(Status::Complete(len)) => break len,
            Ok(Status::Partial) if rest.is_empty() => return, // EOF before the head ended
            Ok(Status::Partial) => {}
            Err(e) => {
                check_error_response(&e);
                return;
            }
        }
    };
    check_complete_head(&buf, head_len, &head_limits);
    let head = parser.head(&buf).expect("complete");

    // Phase 2: the handshake, answered as `Server::on_head` does.
    if !handshake::is_upgrade_request(&head) {
        return; // plain HTTP: the application's business
    }
    let upgrade = match handshake::validate_upgrade(&head, origins.as_deref()) {
        Ok(upgrade) => upgrade,
        Err(_) => return, // the refusal response is checked by check_complete_head
    };
    let has_body = head.header("transfer-encoding").is_some()
        || head.header("content-length").is_some_and(|v| v != b"0");
    if has_body {
        return;
    }
    let protocol = upgrade.protocols().next();
    if let Some(p) = protocol {
        assert!(upgrade.offers_protocol(p));
        assert!(
            !p.is_empty() && p.bytes().all(crate::http::token::is_tchar),
            "the client offered subprotocol {p:?}, which offers_protocol accepts but \
             write_accept_response refuses with a panic"
        );
    }
    let mut response = Vec::new();
    handshake::write_accept_response(&mut response, upgrade.key, protocol);
    check_http_response(&response, 101);
    let accept = format!(
        "\r\nSec-WebSocket-Accept: {}\r\n",
        handshake::accept_key(upgrade.key.as_bytes())
    );
    assert!(String::from_utf8_lossy(&response).contains(&accept));

    // Phase 3: the bytes after the head, then the rest of the stream, to the connection.
    let mut ws_stream = buf[head_len..].to_vec();
    ws_stream.extend_from_slice(rest);
    let mut driver = Driver::new(ws_limits(config), Instant::now());
    let remaining_ops: Vec<u8> = if ops.is_empty() {
        Vec::new()
    } else {
        (0..ops.len())
            .map(|i| ops[(step + i) % ops.len()])
            .collect()
    };
    scheduled_run(&mut driver, &remaining_ops, &ws_stream);
    driver.finish();
}

// ===== target: ws_client_connection =====

/// What a client connection must make of the leading frames of what a server sent:
/// the events of the leading frames simple enough to model here (final, unmasked data
/// and ping/pong frames within the limits, text valid UTF-8), and whether the first
/// frame after them is masked with valid RSV bits and opcode — which a client must fail
/// with 1002 (RFC 6455 §5.1: "A client MUST close a connection if it detects a masked
/// frame"), that check coming before every other check of the second byte.
fn client_stream_model(stream: &[u8], limits: &WsLimits) -> (Vec<Seen>, bool) {
    let mut events = Vec::new();
    let mut at = 0;
    loop {
        let rest = &stream[at..];
        let (Some(&b0), Some(&b1)) = (rest.first(), rest.get(1)) else {
            return (events, false);
        };
        let opcode = b0 & 0x0F;
        if b0 & 0x70 != 0 || !matches!(opcode, 0 | 1 | 2 | 8 | 9 | 10) {
            return (events, false);
        }
        if b1 & 0x80 != 0 {
            return (events, true);
        }
        if b0 & 0x80 == 0 || opcode == 0 || opcode == 8 {
            return (events, false); // fragments and Close: not modelled
        }
        if opcode >= 8 && b1 & 0x7F > 125 {
            return (events, false); // a control frame's 7-bit length is all it may use
        }
        let (len, header) = match b1 & 0x7F {
            126 if rest.len() >= 4 => (u64::from(u16::from_be_bytes([rest[2], rest[3]])), 4),
            127 if rest.len() >= 10 && rest[2] < 0x80 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[2..10]);
                (u64::from_be_bytes(b), 10)
            }
            126 | 127 => return (events, false),
            short => (u64::from(short), 2),
        };
        if len > limits.max_frame_size || (opcode >= 8 && len > 125) {
            return (events, false);
        }
        let end = header + len as usize;
        if rest.len() < end {
            return (events, false);
        }
        let payload = &rest[header..end];
        events.push(match opcode {
            1 => match std::str::from_utf8(payload) {
                Ok(text) => Seen::Text(text.to_string()),
                Err(_) => return (events, false),
            },
            2 => Seen::Binary(payload.to_vec()),
            9 => Seen::Ping(payload.to_vec()),
            _ => Seen::Pong(payload.to_vec()),
        });
        at += end;
    }
}

/// **ws_client_connection** — the client-role connection ([`WsConnection::client`]) fed
/// arbitrary bytes from a "server" in arbitrary chunks with arbitrary time steps and
/// application commands.
///
/// Input: `[config][n_ops][ops][stream]`, as for [`ws_connection`]; the masking-key seed
/// is derived from the input.
///
/// Invariants: those of [`ws_connection`] in the client role — no panic, bounded memory,
/// exactly one `Closed`, split-independent events and output — and: everything the
/// client writes (its messages and pings, pongs, keepalive pings, its Close) is a valid
/// MASKED client frame, with at most one Close and nothing after it; unmasked server
/// frames are taken as they are (the leading simple frames give exactly the events an
/// independent reading gives), and a masked server frame fails the connection with 1002
/// (`ProtocolError::MaskedFrame`).
///
/// [`WsConnection::client`]: crate::ws::connection::WsConnection::client
pub fn ws_client_connection(data: &[u8]) {
    let (config, ops, stream) = ops_and_stream(data);
    let limits = ws_limits(config);
    let seed = seed_from(data, 11);
    let run = |chunks: &mut dyn Iterator<Item = usize>| {
        plain_run_as(Role::Client, seed, limits, stream, chunks)
    };

    let once = run(&mut std::iter::empty());
    let bytewise = run(&mut std::iter::repeat(1));
    assert_eq!(bytewise, once, "byte by byte vs one shot");
    if !ops.is_empty() {
        let mut chunks = ops.iter().cycle().map(|&op| decode_op(op).1);
        assert_eq!(run(&mut chunks), once, "chunked vs one shot");
    }

    let (expected, masked) = client_stream_model(stream, &limits);
    let events = &once.0;
    assert!(
        events.starts_with(&expected),
        "events {events:?} do not start with {expected:?}"
    );
    if masked {
        match events.get(expected.len()) {
            Some(Seen::Closed(1002, _, CloseKind::Failed(ProtocolError::MaskedFrame))) => {}
            other => panic!("a masked server frame must fail with 1002, got {other:?}"),
        }
    }

    let mut driver = Driver::with_role(limits, Instant::now(), Role::Client, seed);
    scheduled_run(&mut driver, ops, stream);
    driver.finish();
}
