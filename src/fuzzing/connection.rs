//! Whole connections, run by the [`driver`](super::driver): `ws_connection` (the server
//! role), `server_pipeline` (the real session, its upgrade, then the connection, as the
//! server runs them) and `ws_client_connection` (the client role).

use std::sync::Arc;
use std::time::Instant;

use crate::config::{HeadLimits, WsLimits};
use crate::http::origin::AllowedOrigins;
use crate::http::{Response, StatusCode};
use crate::session::{Event, Session, SessionConfig};
use crate::ws::connection::CloseKind;
use crate::ws::error::ProtocolError;
use crate::ws::frame::Role;
use crate::ws::handshake;

use super::driver::{
    Driver, Seen, decode_op, ops_and_stream, plain_run, plain_run_as, scheduled_run, ws_limits,
};
use super::http::check_http_response;
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

/// **server_pipeline** — one whole server connection, sans IO, through the code the
/// server runs: the stream goes to a [`Session`] in the ops' chunk sizes (plain requests
/// are answered, the first upgrade is accepted with the first subprotocol the client
/// offers, as a handler may), and after the `101` the rest of the stream goes to a
/// `WsConnection` under the op-driven driver.
///
/// Input: `[config][n_ops][ops][stream]`; config bits 0–1 pick the WebSocket limits,
/// bit 2 small head limits, bit 3 an `Origin` allow-list.
///
/// Invariants: the session's answers are well-formed responses (every error carries
/// `Connection: close`, and nothing follows it); every subprotocol a client can offer can
/// be written into the 101 (`write_accept_response` does not panic); the 101 carries the
/// `Sec-WebSocket-Accept` for the request's key; and after it, those of
/// [`ws_connection`] for the WebSocket phase.
pub fn server_pipeline(data: &[u8]) {
    let (config, ops, stream) = ops_and_stream(data);
    let mut session_config = SessionConfig::default();
    if config & 4 != 0 {
        session_config.head = HeadLimits {
            max_head_bytes: 256,
            max_headers: 8,
            max_target_len: 32,
        };
    }
    // Without the bit, any origin (so seeds with an `Origin` reach the application);
    // with it, the server's own and one other.
    session_config.allowed_origins = if config & 8 != 0 {
        AllowedOrigins::List(vec!["http://example.com".to_string()])
    } else {
        AllowedOrigins::Any
    };
    let now = Instant::now();
    let mut session = Session::new(Arc::new(session_config), now);

    // The HTTP phase, in the ops' chunk sizes.
    let mut input = Vec::new();
    let mut out = Vec::new();
    let mut rest = stream;
    let mut step = 0;
    while !session.is_upgraded() {
        if rest.is_empty() || session.is_closed() {
            return; // EOF, or an answer that closed the connection (checked on the way)
        }
        let chunk = if ops.is_empty() {
            usize::MAX
        } else {
            decode_op(ops[step % ops.len()]).1
        };
        step += 1;
        let n = chunk.min(rest.len());
        input.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            let before = out.len();
            let (used, event) = session.handle_input(&input, &mut out, now);
            input.drain(..used);
            if session.is_closed() && out.len() > before {
                check_refusal(&out[before..]);
            }
            match event {
                None => break,
                Some(Event::Request { exchange, .. }) => {
                    let ok = Response::text(StatusCode::OK, "ok");
                    session
                        .respond(exchange, &ok, &mut out, now)
                        .expect("waiting");
                }
                Some(Event::Upgrade { exchange, upgrade }) => {
                    let request = upgrade.request();
                    let protocol = request.protocols().next();
                    if let Some(p) = protocol {
                        assert!(request.offers_protocol(p));
                        assert!(
                            !p.is_empty() && p.bytes().all(crate::http::token::is_tchar),
                            "the client offered subprotocol {p:?}, which offers_protocol \
                             accepts but write_accept_response refuses with a panic"
                        );
                    }
                    let accept = format!(
                        "\r\nSec-WebSocket-Accept: {}\r\n",
                        handshake::accept_key(request.key.as_bytes())
                    );
                    let protocol = protocol.map(str::to_string);
                    let before = out.len();
                    session
                        .accept_upgrade(exchange, &upgrade, protocol.as_deref(), &mut out)
                        .expect("the upgrade is waiting");
                    check_http_response(&out[before..], 101);
                    assert!(String::from_utf8_lossy(&out[before..]).contains(&accept));
                    break;
                }
                Some(other) => panic!("no deadline passed, no EOF: {other:?}"),
            }
        }
    }

    // The WebSocket phase: what followed the head, then the rest of the stream.
    input.extend_from_slice(rest);
    let mut driver = Driver::new(ws_limits(config), now);
    let remaining_ops: Vec<u8> = if ops.is_empty() {
        Vec::new()
    } else {
        (0..ops.len())
            .map(|i| ops[(step + i) % ops.len()])
            .collect()
    };
    scheduled_run(&mut driver, &remaining_ops, &input);
    driver.finish();
}

/// A response the session wrote on its own before closing: one well-formed response
/// with `Connection: close`.
fn check_refusal(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let status: u16 = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {text:?}"));
    check_http_response(bytes, status);
    assert!(text.contains("\r\nConnection: close\r\n"), "{text:?}");
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
