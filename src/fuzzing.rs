//! The bodies of the fuzz targets in `fuzz/`, kept in the library so that a plain
//! `cargo test` on stable Rust replays every committed seed through exactly the code the
//! fuzzer runs (`tests/fuzz_seeds.rs`).
//!
//! Each function takes the fuzzer's raw bytes, decodes whatever structure it needs with
//! a hand-rolled reader (no `arbitrary`, so the decoding is the same everywhere), and
//! **panics when an invariant is violated**. The invariant of each target is stated in
//! its documentation and at the top of its wrapper in `fuzz/fuzz_targets/`.
//!
//! Where a target needs more than the byte stream itself (chunk boundaries, time steps,
//! application commands, limits), the input starts with a small control header:
//!
//! ```text
//! ws_connection, server_pipeline:  [config: u8] [n_ops: u8] [op: u8; n_ops] [stream ...]
//! frame_header:                    [config: u8] [header bytes ...]
//! mask:                            [key: 4 bytes] [offset: u8] [payload ...]
//! http_head, utf8, close_payload:  the bytes themselves (splits are derived from them)
//! ws_client_connection:            as ws_connection (the stream is what a server sends)
//! body_decoder:                    [mode: u8] [limit: u8] [mode-specific bytes ...]
//! pair_roundtrip:                  [config: u8] ([kind: u8] [len: u8] [fragment: u8] [bytes])*
//! hub_ops:                         [history: u8] ([op: u8] [argument bytes]?)*
//! ```
//!
//! An op byte drives one step of the driver: its low nibble picks the size of the next
//! chunk of the stream (see [`CHUNK_SIZES`]), its high nibble an action taken before
//! that chunk is fed (advance the clock, an application `send`/`ping`/`close`, a
//! spurious timeout, or EOF). The ops are used in a cycle until the stream is consumed;
//! with no ops the whole stream arrives at once.
//!
//! Not part of the public API: hidden from the documentation and free to change.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{HeadLimits, WsLimits};
use crate::error::SendError;
use crate::http::body::{self, BodyDecoder, BodyError, BodyFraming};
use crate::http::request::{HeadParser, HttpError, RequestHead, Version};
use crate::http::response::Response;
use crate::hub::channel::{Hub, PollOutcome, Replay};
use crate::hub::json;
use crate::message::Message;
use crate::pair::{OwnedEvent, Pair};
use crate::status::Status;
use crate::ws::close::{self, CloseCode};
use crate::ws::connection::{CloseKind, WsConnection, WsEvent};
use crate::ws::error::ProtocolError;
use crate::ws::frame::{self, FrameHeader, OpCode, Role};
use crate::ws::handshake;
use crate::ws::mask::{apply_mask, apply_mask_naive};
use crate::ws::utf8::Utf8Validator;

// ===== helpers: a byte reader, a tiny PRNG, split schedules =====

/// Reads structure off the front of the fuzzer's bytes; past the end every read is 0.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Up to `n` bytes (fewer if the input ends).
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// splitmix64: deterministic, tiny, good enough to spread split points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `1..=max` (max >= 1), biased towards small values.
    fn small(&mut self, max: usize) -> usize {
        let r = self.next();
        let cap = match r % 4 {
            0 => 4,
            1 => 16,
            2 => 64,
            _ => max,
        }
        .min(max)
        .max(1);
        1 + ((r >> 8) as usize % cap)
    }
}

/// FNV-1a, to derive split schedules from the data itself.
fn fnv1a(data: &[u8], salt: u64) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64 ^ salt;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    h
}

/// Chunk boundaries (exclusive ends, increasing, the last = `len`) for `len` bytes.
fn random_splits(len: usize, seed: u64) -> Vec<usize> {
    let mut rng = Rng(seed);
    let mut ends = Vec::new();
    let mut at = 0;
    while at < len {
        at += rng.small(len - at);
        ends.push(at);
    }
    ends
}

/// The sizes an op's low nibble selects. `usize::MAX` is "the rest of the stream".
pub const CHUNK_SIZES: [usize; 16] = [
    1,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    13,
    14,
    64,
    130,
    131,
    1000,
    usize::MAX,
];

// ===== target: http_head =====

/// Limits for a run of the head parser: the defaults, and small ones derived from `h`
/// so that every limit is reachable by short inputs.
fn head_limit_sets(h: u64) -> [HeadLimits; 2] {
    let max_head_bytes = 64 + (h % 256) as usize;
    let small = HeadLimits {
        max_head_bytes,
        max_headers: 1 + ((h >> 16) % 8) as usize,
        max_target_len: (1 + ((h >> 24) % 80) as usize).min(max_head_bytes),
    };
    [HeadLimits::default(), small]
}

/// **http_head** — the incremental request-head parser.
///
/// Invariants: no panic; the answer depends only on the bytes, never on how they were
/// split (one shot, byte by byte, and pseudo-random splits all agree, and after every
/// chunk the incremental answer equals a fresh parser's answer on that prefix); the
/// answer is decided at one exact byte (`Partial` for every shorter prefix, the same
/// answer for every longer one); a complete head respects the limits and the grammar
/// (tchar method, visible-ASCII target, token names, OWS-trimmed values without control
/// bytes, exactly one `Host` in HTTP/1.1) and survives `take_request`; an error maps to
/// a 4xx/5xx response; the handshake checks never panic on any head.
pub fn http_head(data: &[u8]) {
    let h = fnv1a(data, 0);
    for limits in head_limit_sets(h) {
        let whole = HeadParser::new().parse(data, &limits);

        // Byte by byte: find the byte at which the answer is decided.
        let mut parser = HeadParser::new();
        let mut decided = None;
        for end in 0..=data.len() {
            let answer = parser.parse(&data[..end], &limits);
            match (decided, answer) {
                (None, Ok(Status::Partial)) => {}
                (None, other) => decided = Some((end, other)),
                (Some((_, first)), other) => {
                    assert_eq!(other, first, "answer changed after it was decided")
                }
            }
        }
        match decided {
            None => assert_eq!(whole, Ok(Status::Partial), "one shot vs byte by byte"),
            Some((at, answer)) => {
                assert_eq!(whole, answer, "one shot vs byte by byte");
                assert!(at > 0);
                assert_eq!(
                    HeadParser::new().parse(&data[..at], &limits),
                    answer,
                    "fresh parse of the deciding prefix"
                );
                assert_eq!(
                    HeadParser::new().parse(&data[..at - 1], &limits),
                    Ok(Status::Partial),
                    "the answer must not be known one byte early"
                );
                if let Ok(Status::Complete(n)) = answer {
                    assert_eq!(n, at, "a head ends at the byte that completes it");
                }
                if answer == Err(HttpError::HeadTooLarge) {
                    assert_eq!(at, limits.max_head_bytes + 1);
                }
            }
        }

        // Pseudo-random splits, compared with a fresh parser at every boundary.
        for salt in 1..=2 {
            let mut parser = HeadParser::new();
            let mut last = Ok(Status::Partial);
            for end in random_splits(data.len(), h ^ salt) {
                last = parser.parse(&data[..end], &limits);
                assert_eq!(last, HeadParser::new().parse(&data[..end], &limits));
            }
            if !data.is_empty() {
                assert_eq!(last, whole, "split parse vs one shot");
            }
        }

        match whole {
            Ok(Status::Complete(n)) => check_complete_head(data, n, &limits),
            Ok(Status::Partial) => assert!(data.len() <= limits.max_head_bytes),
            Err(e) => check_error_response(&e),
        }
    }
}

/// Checks a complete head of length `n` at the start of `buf` (the parser's invariants,
/// the accessors, `take_request`, and that the handshake code takes it without panicking).
fn check_complete_head(buf: &[u8], n: usize, limits: &HeadLimits) {
    assert!(n <= buf.len() && n <= limits.max_head_bytes);
    assert_eq!(buf[n - 1], b'\n', "a head ends with its blank line");
    let mut parser = HeadParser::new();
    assert_eq!(parser.parse(buf, limits), Ok(Status::Complete(n)));
    let head = parser.head(buf).expect("complete head");
    check_head(&head, limits);

    // The owned request tells the same story.
    let request = parser
        .clone()
        .take_request(buf.to_vec())
        .expect("complete head");
    assert_eq!(request.as_bytes(), &buf[..n]);
    assert_eq!(request.method(), head.method());
    assert_eq!(request.target(), head.target());
    assert_eq!(request.version(), head.version());
    assert!(request.head().headers().eq(head.headers()));

    // The handshake checks accept or refuse any head; they never panic.
    let _ = handshake::is_upgrade_request(&head);
    for origins in [None, Some(&["http://example.com".to_string()][..])] {
        match handshake::validate_upgrade(&head, origins) {
            Ok(upgrade) => {
                assert_eq!(upgrade.key.len(), 24);
                assert_eq!(handshake::accept_key(upgrade.key.as_bytes()).len(), 28);
                let _ = upgrade.protocols().count();
            }
            Err(e) => {
                let mut out = Vec::new();
                e.response().encode(&mut out, false);
                check_http_response(&out, e.status().as_u16());
            }
        }
    }
}

/// The grammar and limits a parsed head must satisfy, checked independently of the
/// parser's tables.
fn check_head(head: &RequestHead<'_>, limits: &HeadLimits) {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let method = head.method().as_bytes();
    assert!(!method.is_empty() && method.iter().all(|&b| tchar(b)));
    let target = head.target().as_bytes();
    assert!(!target.is_empty() && target.len() <= limits.max_target_len);
    assert!(target.iter().all(|&b| (0x21..=0x7E).contains(&b)));
    match head.query() {
        Some(q) => assert_eq!(format!("{}?{q}", head.path()), head.target()),
        None => assert_eq!(head.path(), head.target()),
    }
    let mut count = 0;
    for (name, value) in head.headers() {
        count += 1;
        assert!(!name.is_empty() && name.bytes().all(tchar), "name {name:?}");
        // RFC 9110 §5.5: no control bytes but HTAB; OWS trimmed at both ends.
        assert!(
            value
                .iter()
                .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7F)),
            "value {value:?}"
        );
        let ows = |b: &u8| *b == b' ' || *b == b'\t';
        assert!(!value.first().is_some_and(ows) && !value.last().is_some_and(ows));
    }
    assert!(count <= limits.max_headers);
    if head.version() == Version::Http11 {
        assert_eq!(
            head.header_count("host"),
            1,
            "HTTP/1.1 needs exactly one Host"
        );
    } else {
        assert!(head.header_count("host") <= 1);
    }
    let _ = head.header_str("connection");
    let _ = head.has_token("connection", "upgrade");
    let _ = head.list("sec-websocket-protocol").count();
}

fn check_error_response(e: &HttpError) {
    let status = e.status().as_u16();
    assert!(matches!(status, 400 | 414 | 431 | 505), "{e:?} → {status}");
    let mut out = Vec::new();
    Response::from_http_error(e).encode(&mut out, false);
    check_http_response(&out, status);
}

/// `bytes` is exactly one HTTP/1.1 response with this status, a well-formed head and a
/// body of the length its `Content-Length` announces.
fn check_http_response(bytes: &[u8], status: u16) {
    let text = std::str::from_utf8(bytes).expect("responses are ASCII");
    let (head, body) = text.split_once("\r\n\r\n").expect("a blank line");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    assert!(
        status_line.starts_with(&format!("HTTP/1.1 {status} ")),
        "{status_line:?}"
    );
    let mut content_length = None;
    for line in lines {
        let (name, value) = line.split_once(": ").expect("name: value");
        assert!(!name.is_empty() && !value.contains(['\r', '\n']));
        if name.eq_ignore_ascii_case("content-length") {
            assert!(content_length.is_none(), "one Content-Length");
            content_length = Some(value.parse::<usize>().expect("a number"));
        }
    }
    if status == 101 {
        assert_eq!(body, "");
        assert!(content_length.is_none());
    } else {
        assert_eq!(content_length, Some(body.len()), "Content-Length vs body");
    }
}

// ===== target: frame_header =====

/// What the RFC says about a frame header, written out independently of
/// [`FrameHeader::parse`] (RFC 6455 §5.2, §5.5, and the crate's documented check order).
fn reference_frame_header(
    buf: &[u8],
    role: Role,
    max: u64,
) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    let rsv = (b0 >> 4) & 7;
    if rsv != 0 {
        return Err(ProtocolError::ReservedBits { rsv });
    }
    let opcode = match b0 & 0xF {
        0 => OpCode::Continuation,
        1 => OpCode::Text,
        2 => OpCode::Binary,
        8 => OpCode::Close,
        9 => OpCode::Ping,
        10 => OpCode::Pong,
        other => return Err(ProtocolError::ReservedOpcode(other)),
    };
    let control = b0 & 0x8 != 0;
    let fin = b0 & 0x80 != 0;
    let Some(&b1) = buf.get(1) else {
        return Ok(None);
    };
    let masked = b1 & 0x80 != 0;
    if role == Role::Server && !masked {
        return Err(ProtocolError::UnmaskedFrame);
    }
    if role == Role::Client && masked {
        return Err(ProtocolError::MaskedFrame);
    }
    let len7 = b1 & 0x7F;
    if control && !fin {
        return Err(ProtocolError::FragmentedControlFrame);
    }
    if control && len7 > 125 {
        return Err(ProtocolError::ControlFrameTooLong(u64::from(len7)));
    }
    let (len, mut at) = match len7 {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            ((u64::from(buf[2]) << 8) | u64::from(buf[3]), 4)
        }
        127 => {
            if buf.len() > 2 && buf[2] >= 0x80 {
                return Err(ProtocolError::LengthTopBitSet);
            }
            if buf.len() < 10 {
                return Ok(None);
            }
            let len = buf[2..10]
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            (len, 10)
        }
        short => (u64::from(short), 2),
    };
    if len > max {
        return Err(ProtocolError::FrameTooLarge { len, max });
    }
    let mask = if masked {
        if buf.len() < at + 4 {
            return Ok(None);
        }
        let key = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        at += 4;
        Some(key)
    } else {
        None
    };
    let header = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        payload_len: len,
    };
    Ok(Some((header, at)))
}

/// **frame_header** — the frame header parser and encoder.
///
/// Input: `[config][bytes]`; bit 0 of config picks the role, bits 1–3 `max_frame_size`.
///
/// Invariants: no panic; `FrameHeader::parse` agrees exactly (same header, length or
/// error) with an independent transcription of RFC 6455 §5.2 on every prefix of the
/// input; the answer is `Partial` until one deciding byte and constant after it; a
/// parsed header is 2–14 bytes, obeys the limits, and re-encodes (`encode`,
/// `write_frame`) to bytes that parse back to the same header and payload.
pub fn frame_header(data: &[u8]) {
    let mut r = Reader { data };
    let config = r.u8();
    let buf = r.rest();
    let role = if config & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    const MAXES: [u64; 8] = [0, 125, 126, 65_535, 65_536, 16 << 20, 1 << 62, u64::MAX];
    let max = MAXES[usize::from((config >> 1) & 7)];

    let mut decided: Option<Result<(FrameHeader, usize), ProtocolError>> = None;
    for end in 0..=buf.len().min(FrameHeader::MAX_LEN + 2) {
        let prefix = &buf[..end];
        let got = FrameHeader::parse(prefix, role, max);
        let expected = reference_frame_header(prefix, role, max);
        let got = match got {
            Ok(Status::Complete(v)) => Ok(Some(v)),
            Ok(Status::Partial) => Ok(None),
            Err(e) => Err(e),
        };
        assert_eq!(got, expected, "parse vs reference on {prefix:02x?}");
        match (&decided, got) {
            (None, Ok(None)) => {}
            (None, Ok(Some(v))) => decided = Some(Ok(v)),
            (None, Err(e)) => decided = Some(Err(e)),
            (Some(first), Ok(Some(v))) => assert_eq!(first, &Ok(v), "answer changed"),
            (Some(first), Err(e)) => assert_eq!(first, &Err(e), "answer changed"),
            (Some(_), Ok(None)) => panic!("Partial after the answer was decided"),
        }
        let _ = got.map_err(|e| (e.close_code(), e.to_string()));
    }

    let Some(Ok((header, len))) = decided else {
        return;
    };
    assert!((2..=FrameHeader::MAX_LEN).contains(&len));
    assert_eq!(header.rsv, 0);
    assert_eq!(header.mask.is_some(), role == Role::Server);
    assert!(header.payload_len <= max && header.payload_len >> 63 == 0);
    if header.opcode.is_control() {
        assert!(header.fin && header.payload_len <= 125);
    }
    // encode → parse is the identity, and uses the minimal length encoding.
    let mut encoded = Vec::new();
    header.encode(&mut encoded);
    assert_eq!(encoded.len(), header.encoded_len());
    assert_eq!(
        FrameHeader::parse(&encoded, role, max),
        Ok(Status::Complete((header, encoded.len())))
    );
    assert!(
        encoded.len() <= len,
        "our encoding is never longer than the peer's"
    );

    // write_frame with a real payload round-trips (payload taken from the input).
    let payload = &buf[len..];
    let payload = &payload[..payload.len().min(header.payload_len.min(300) as usize)];
    if header.opcode.is_control() && payload.len() > 125 {
        return;
    }
    let mut frame = Vec::new();
    frame::write_frame(&mut frame, header.fin, header.opcode, payload, header.mask);
    let Ok(Status::Complete((back, at))) = FrameHeader::parse(&frame, role, u64::MAX) else {
        panic!("write_frame output does not parse: {frame:02x?}");
    };
    assert_eq!(
        (back.fin, back.opcode, back.mask),
        (header.fin, header.opcode, header.mask)
    );
    assert_eq!(back.payload_len, payload.len() as u64);
    let mut body = frame[at..].to_vec();
    if let Some(key) = back.mask {
        apply_mask_naive(&mut body, key, 0);
    }
    assert_eq!(body, payload);
}

// ===== target: utf8 =====

/// The index of the first byte at which `data` stops being a prefix of valid UTF-8, by
/// `std::str::from_utf8` alone.
fn first_bad_byte(data: &[u8]) -> Option<usize> {
    let e = std::str::from_utf8(data).err()?;
    e.error_len()?;
    let start = e.valid_up_to();
    (start..data.len())
        .find(|&i| std::str::from_utf8(&data[start..=i]).is_err_and(|e| e.error_len().is_some()))
}

/// Feeds `data` in the chunks ending at `ends`, checking each answer. `boundary[i]`
/// says whether `data[..i]` is valid UTF-8.
fn feed_utf8(data: &[u8], ends: &[usize], bad: Option<usize>, boundary: &[bool]) {
    let mut v = Utf8Validator::new();
    let mut start = 0;
    for &end in ends {
        let result = v.feed(&data[start..end]);
        match bad {
            Some(b) if b < end => {
                assert!(
                    result.is_err(),
                    "bad byte {b} in chunk {start}..{end} accepted"
                );
                return;
            }
            _ => assert!(result.is_ok(), "chunk {start}..{end} rejected: {data:02x?}"),
        }
        // Between calls, the validator is at a boundary exactly when the prefix is valid.
        assert_eq!(v.is_at_boundary(), boundary[end], "boundary after {end}");
        start = end;
    }
    assert!(bad.is_none());
    assert_eq!(v.finish().is_ok(), std::str::from_utf8(data).is_ok());
    assert!(v.is_at_boundary(), "finish resets");
}

/// **utf8** — the incremental UTF-8 validator against `std::str::from_utf8`.
///
/// Invariants: however `data` is split (one shot, byte by byte, pseudo-random splits),
/// `feed` fails exactly in the chunk holding the first byte that cannot continue valid
/// UTF-8, never before; `is_at_boundary` after each chunk says whether the prefix so far
/// is valid; `finish` accepts exactly when `from_utf8(data)` does.
pub fn utf8(data: &[u8]) {
    let bad = first_bad_byte(data);
    // `data[..i]` is valid exactly when `i` is a char boundary within the valid prefix.
    let valid_up_to = std::str::from_utf8(data).map_or_else(|e| e.valid_up_to(), |s| s.len());
    let valid = std::str::from_utf8(&data[..valid_up_to]).expect("valid prefix");
    let boundary: Vec<bool> = (0..=data.len())
        .map(|i| i <= valid_up_to && valid.is_char_boundary(i))
        .collect();
    if data.len() <= 64 {
        for (i, &b) in boundary.iter().enumerate() {
            assert_eq!(b, std::str::from_utf8(&data[..i]).is_ok(), "oracle at {i}");
        }
    }
    feed_utf8(data, &[data.len()], bad, &boundary);
    let bytewise: Vec<usize> = (1..=data.len()).collect();
    feed_utf8(data, &bytewise, bad, &boundary);
    let h = fnv1a(data, 7);
    for salt in 0..4 {
        feed_utf8(data, &random_splits(data.len(), h ^ salt), bad, &boundary);
    }
    // Empty chunks anywhere are harmless.
    let mut v = Utf8Validator::new();
    let mut ok = true;
    for piece in data.chunks(3) {
        ok = ok && v.feed(&[]).is_ok() && v.feed(piece).is_ok();
    }
    assert_eq!(ok, bad.is_none());
}

// ===== target: mask =====

/// **mask** — the word-at-a-time masking against the byte-at-a-time definition.
///
/// Input: `[key: 4][offset: 1][payload]`. Invariants: for every start alignment,
/// `apply_mask` equals `apply_mask_naive`; masking twice is the identity; masking in
/// pieces with running offsets equals masking at once.
pub fn mask(data: &[u8]) {
    let mut r = Reader { data };
    let key_bytes = r.take(4);
    let mut key = [0u8; 4];
    key[..key_bytes.len()].copy_from_slice(key_bytes);
    let offset = usize::from(r.u8());
    let payload = r.rest();

    let mut expected = payload.to_vec();
    apply_mask_naive(&mut expected, key, offset);
    for shift in 0..8 {
        // Place the payload at `shift` bytes into a fresh buffer to vary its alignment.
        let mut buf = vec![0xA5u8; shift];
        buf.extend_from_slice(payload);
        apply_mask(&mut buf[shift..], key, offset);
        assert_eq!(&buf[shift..], &expected[..], "shift {shift}");
        assert!(
            buf[..shift].iter().all(|&b| b == 0xA5),
            "wrote outside the slice"
        );
        apply_mask(&mut buf[shift..], key, offset);
        assert_eq!(&buf[shift..], payload, "masking twice is the identity");
    }
    // In pieces, as the connection unmasks a payload that arrives in parts.
    let mut pieces = payload.to_vec();
    let mut start = 0;
    for end in random_splits(payload.len(), fnv1a(payload, u64::from(offset as u8))) {
        apply_mask(&mut pieces[start..end], key, offset + start);
        start = end;
    }
    assert_eq!(pieces, expected);
    // Huge offsets only matter modulo 4.
    let mut huge = payload.to_vec();
    apply_mask(&mut huge, key, usize::MAX - 3 + (offset % 4));
    let mut naive = payload.to_vec();
    apply_mask_naive(&mut naive, key, (usize::MAX - 3 + (offset % 4)) % 4);
    assert_eq!(huge, naive);
}

// ===== target: close_payload =====

fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// **close_payload** — Close frame payloads (RFC 6455 §5.5.1, §7.4).
///
/// Invariants: `parse_close_payload` accepts exactly the empty payload and payloads of a
/// code valid on the wire followed by UTF-8, with the error the documentation names
/// otherwise; an accepted payload re-encodes to the same bytes; `truncate_reason` of
/// any text fits a Close frame and stays UTF-8.
pub fn close_payload(data: &[u8]) {
    let got = close::parse_close_payload(data);
    match data {
        [] => assert_eq!(got, Ok(None)),
        [_] => assert_eq!(got, Err(ProtocolError::InvalidClosePayload)),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !valid_close_code(code) {
                assert_eq!(got, Err(ProtocolError::InvalidCloseCode(code)));
            } else if let Ok(text) = std::str::from_utf8(reason) {
                assert_eq!(got, Ok(Some((CloseCode::from_u16_unchecked(code), text))));
                if text.len() <= close::MAX_REASON_LEN {
                    let mut out = Vec::new();
                    close::encode_close_payload(
                        CloseCode::from_u16_unchecked(code),
                        text,
                        &mut out,
                    );
                    assert_eq!(out, data);
                }
            } else {
                assert_eq!(got, Err(ProtocolError::InvalidCloseReason));
            }
        }
    }
    if let Err(e) = got {
        let _ = (e.close_code(), e.to_string());
    }
    let text = String::from_utf8_lossy(data);
    let cut = close::truncate_reason(&text);
    assert!(cut.len() <= close::MAX_REASON_LEN && text.starts_with(cut));
    assert!(text.len() <= close::MAX_REASON_LEN || cut.len() + 3 >= close::MAX_REASON_LEN);
}

// ===== the WebSocket connection driver shared by ws_connection and server_pipeline =====

/// Limit sets for the WebSocket connection, all of which pass `Config::validate`
/// (`max_frame_size <= max_message_size`, `max_fragments >= 1`).
fn ws_limits(selector: u8) -> WsLimits {
    let secs = Duration::from_secs;
    match selector & 3 {
        0 => WsLimits::default(),
        1 => WsLimits {
            max_frame_size: 16,
            max_message_size: 40,
            max_fragments: 3,
            stream_over: u64::MAX,
            ping_interval: Some(secs(1)),
            pong_timeout: secs(1),
            close_timeout: secs(1),
        },
        2 => WsLimits {
            max_frame_size: 200,
            max_message_size: 1000,
            max_fragments: 8,
            // Messages of 64 bytes or more arrive in pieces (when they span reads).
            stream_over: 64,
            ping_interval: None,
            pong_timeout: secs(30),
            close_timeout: secs(5),
        },
        _ => WsLimits {
            max_frame_size: 0,
            max_message_size: 125,
            max_fragments: 1,
            stream_over: u64::MAX,
            ping_interval: Some(Duration::ZERO),
            pong_timeout: Duration::ZERO,
            close_timeout: Duration::ZERO,
        },
    }
}

/// An event, owned, for comparing runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Closed(u16, String, CloseKind),
}

/// What the driver should do before feeding the next chunk.
#[derive(Debug, Clone, Copy)]
enum Action {
    Nothing,
    Advance(Duration),
    AdvanceToDeadline,
    SendText,
    SendBinary,
    Ping,
    Close,
    SpuriousTimeout,
    Eof,
}

fn decode_op(op: u8) -> (Action, usize) {
    let chunk = CHUNK_SIZES[usize::from(op & 0xF)];
    let ms = Duration::from_millis;
    let action = match op >> 4 {
        0 | 15 => Action::Nothing,
        1 => Action::Advance(ms(1)),
        2 => Action::Advance(ms(1000)),
        3 => Action::Advance(ms(5000)),
        4 => Action::Advance(ms(30_000)),
        5 => Action::Advance(ms(31_000)),
        6 => Action::AdvanceToDeadline,
        7 => Action::Advance(ms(3_600_000)),
        8 => Action::SendText,
        9 => Action::SendBinary,
        10 => Action::Ping,
        11 => Action::Close,
        12 | 14 => Action::SpuriousTimeout,
        _ => Action::Eof,
    };
    (action, chunk)
}

/// Drives one [`WsConnection`] the way the server does, checking every invariant of
/// the connection on the way. All output goes to `wire`.
struct Driver {
    conn: WsConnection,
    /// Which end `conn` is: the server writes unmasked frames, the client masked ones.
    role: Role,
    limits: WsLimits,
    now: Instant,
    /// Received bytes not yet consumed (re-offered with more appended).
    pending: Vec<u8>,
    /// Everything the connection wrote, in order.
    wire: Vec<u8>,
    events: Vec<Seen>,
    /// Bytes the connection consumed, and bytes it wrote while reading.
    consumed: usize,
    written_by_input: usize,
    /// Payloads of pings received while open: the pongs we must see, in order.
    expected_pongs: Vec<Vec<u8>>,
    /// Keepalive pings written by `handle_timeout`.
    keepalive_pings: usize,
    /// Pings and data frames written by the application, in order (opcode, payload).
    app_frames: Vec<(u8, Vec<u8>)>,
    /// The Close frame we expect on the wire: None = none; Some(None) = empty payload.
    expected_close: Option<Option<u16>>,
    /// The application sent one large message (at most once per run).
    sent_large: bool,
    /// A streamed message being received: is it text, and its pieces so far.
    streamed: Option<(bool, Vec<u8>)>,
}

impl Driver {
    /// Joins a piece of a streamed message; the whole message once its last piece came.
    fn join_part(&mut self, part: &crate::message::MessagePart<'_>) -> Option<Seen> {
        assert_eq!(
            part.first,
            self.streamed.is_none(),
            "`first` marks exactly the first piece"
        );
        let (is_text, joined) = self
            .streamed
            .get_or_insert_with(|| (part.is_text, Vec::new()));
        assert_eq!(*is_text, part.is_text, "a message's pieces share its kind");
        joined.extend_from_slice(part.data);
        assert!(
            joined.len() as u64 <= self.limits.max_message_size,
            "streamed message over the limit"
        );
        if !part.last {
            return None;
        }
        let (is_text, joined) = self.streamed.take().expect("just inserted");
        Some(if is_text {
            Seen::Text(String::from_utf8(joined).expect("a streamed text message is valid UTF-8"))
        } else {
            Seen::Binary(joined)
        })
    }

    fn new(limits: WsLimits, now: Instant) -> Self {
        Driver::with_role(limits, now, Role::Server, [0; 32])
    }

    /// A driver for either role; `seed` seeds the client's masking keys.
    fn with_role(limits: WsLimits, now: Instant, role: Role, seed: [u8; 32]) -> Self {
        let conn = match role {
            Role::Server => WsConnection::server(limits, now),
            Role::Client => WsConnection::client(limits, now, seed),
        };
        assert_eq!(conn.role(), role);
        Driver {
            conn,
            role,
            limits,
            now,
            pending: Vec::new(),
            wire: Vec::new(),
            events: Vec::new(),
            consumed: 0,
            written_by_input: 0,
            expected_pongs: Vec::new(),
            keepalive_pings: 0,
            app_frames: Vec::new(),
            expected_close: None,
            sent_large: false,
            streamed: None,
        }
    }

    fn closed(&self) -> bool {
        matches!(self.events.last(), Some(Seen::Closed(..)))
    }

    fn record_closed(&mut self, code: CloseCode, reason: &str, kind: CloseKind) {
        assert!(!self.closed(), "a second Closed event");
        assert!(self.conn.is_closed() && !self.conn.is_open());
        assert!(self.conn.poll_timeout().is_none(), "no timer once closed");
        match kind {
            CloseKind::Abnormal => assert_eq!(code, CloseCode::ABNORMAL_CLOSURE),
            CloseKind::Failed(e) => assert_eq!(code, e.close_code()),
            CloseKind::Remote | CloseKind::Local => {
                assert!(code.is_valid_on_wire() || code == CloseCode::NO_STATUS_RECEIVED);
            }
        }
        self.events
            .push(Seen::Closed(code.as_u16(), reason.to_string(), kind));
    }

    /// The bytes of a chunk arrive: feed them (with what was pending) until the
    /// connection wants more, as `Server::feed_websocket` does.
    fn feed(&mut self, chunk: &[u8]) {
        if self.closed() {
            // The server stops reading; the connection must ignore anything offered.
            let mut input = chunk.to_vec();
            let before = self.wire.len();
            let (n, event) = self.conn.handle_input(&mut input, &mut self.wire, self.now);
            assert!(event.is_none(), "an event after Closed");
            assert!(n <= chunk.len());
            assert_eq!(self.wire.len(), before, "bytes written after Closed");
            return;
        }
        self.pending.extend_from_slice(chunk);
        for _ in 0..=self.pending.len() {
            let was_open = self.conn.is_open();
            let mut input = std::mem::take(&mut self.pending);
            let snapshot = input.clone();
            let before = self.wire.len();
            let (n, event) = self.conn.handle_input(&mut input, &mut self.wire, self.now);
            // Pieces of a streamed message are joined, so that the events compared across
            // chunkings are whole messages whatever the cuts (`None` inside: a piece).
            let event = event.map(|event| match event {
                WsEvent::Part(p) => self.join_part(&p),
                WsEvent::Message(Message::Text(t)) => Some(Seen::Text(t.into_owned())),
                WsEvent::Message(Message::Binary(b)) => Some(Seen::Binary(b.into_owned())),
                WsEvent::Ping(p) => Some(Seen::Ping(p.to_vec())),
                WsEvent::Pong(p) => Some(Seen::Pong(p.to_vec())),
                WsEvent::Closed(c) => {
                    Some(Seen::Closed(c.code.as_u16(), c.reason.into_owned(), c.kind))
                }
            });
            assert!(n <= snapshot.len(), "consumed more than offered");
            assert_eq!(input[n..], snapshot[n..], "unconsumed bytes were modified");
            self.pending = input;
            self.written_by_input += self.wire.len() - before;
            self.consumed += n;
            let Some(seen) = event else {
                // Only an incomplete header or control frame may be left: ≤ 130 bytes.
                let left = self.pending.len() - n;
                assert!(left <= 130, "{left} bytes left unconsumed without an event");
                self.pending.drain(..n);
                return;
            };
            let Some(seen) = seen else {
                assert!(n > 0, "a message piece consumed no input");
                self.pending.drain(..n);
                continue;
            };
            match &seen {
                Seen::Text(_) | Seen::Binary(_) => {
                    let len = match &seen {
                        Seen::Text(t) => t.len(),
                        Seen::Binary(b) => b.len(),
                        _ => unreachable!(),
                    };
                    // Whether data that arrives after our Close is delivered or dropped
                    // is the connection's policy (§5.5.1 allows either); not checked.
                    assert!(
                        len as u64 <= self.limits.max_message_size,
                        "message of {len} bytes over max_message_size {}",
                        self.limits.max_message_size
                    );
                }
                Seen::Ping(p) => {
                    assert!(p.len() <= 125);
                    if was_open {
                        self.expected_pongs.push(p.clone());
                    }
                }
                Seen::Pong(p) => assert!(p.len() <= 125),
                Seen::Closed(code, reason, kind) => {
                    let code = CloseCode::from_u16_unchecked(*code);
                    if was_open {
                        self.expected_close = match kind {
                            CloseKind::Remote => Some(
                                (code != CloseCode::NO_STATUS_RECEIVED).then_some(code.as_u16()),
                            ),
                            CloseKind::Failed(e) => Some(Some(e.close_code().as_u16())),
                            other => panic!("{other:?} while open after input"),
                        };
                    } else {
                        assert!(
                            matches!(kind, CloseKind::Local | CloseKind::Failed(_)),
                            "{kind:?} while closing"
                        );
                    }
                    assert!(reason.len() <= close::MAX_REASON_LEN);
                    let (reason, kind) = (reason.clone(), *kind);
                    self.record_closed(code, &reason, kind);
                    assert_eq!(n, snapshot.len(), "Closed consumes all input");
                    self.pending.clear();
                    return;
                }
            }
            // Only Closed may consume nothing; anything else must make progress.
            assert!(n > 0, "{seen:?} consumed no input");
            self.events.push(seen);
            self.pending.drain(..n);
        }
        panic!("handle_input keeps returning events without consuming input");
    }

    /// Calls `handle_timeout` while a deadline is due, as the server's timer wheel does.
    fn run_timers(&mut self) {
        for round in 0.. {
            let Some(deadline) = self.conn.poll_timeout() else {
                return;
            };
            if deadline > self.now {
                return;
            }
            assert!(
                round < 3,
                "the timer stays due after handle_timeout: busy loop"
            );
            self.timeout();
        }
    }

    fn timeout(&mut self) {
        let was_closed = self.closed();
        let before = self.wire.len();
        let result = self.conn.handle_timeout(self.now, &mut self.wire);
        let written = &self.wire[before..];
        if !written.is_empty() {
            match self.role {
                Role::Server => {
                    assert_eq!(written, [0x89, 0x00], "a timeout writes only an empty ping")
                }
                Role::Client => assert!(
                    written.len() == 6 && written[..2] == [0x89, 0x80],
                    "a timeout writes only an empty masked ping: {written:02x?}"
                ),
            }
            self.keepalive_pings += 1;
        }
        if let Some(event) = result {
            assert!(!was_closed, "Closed after Closed (timeout)");
            assert!(written.is_empty());
            self.record_closed(event.code, &event.reason, event.kind);
            assert_eq!(event.kind, CloseKind::Abnormal);
        }
    }

    fn act(&mut self, action: Action, variant: u8) {
        match action {
            Action::Nothing => {}
            Action::Advance(d) => self.now += d,
            Action::AdvanceToDeadline => {
                if let Some(t) = self.conn.poll_timeout() {
                    self.now = self.now.max(t);
                }
            }
            Action::SpuriousTimeout => self.timeout(),
            Action::SendText | Action::SendBinary => {
                let len = match variant % 4 {
                    0 => 0,
                    1 => 5,
                    2 => 126,
                    _ if !self.sent_large => {
                        self.sent_large = true;
                        65_536
                    }
                    _ => 125,
                };
                let text = "é".repeat(len / 2) + &"x".repeat(len % 2);
                let message = if matches!(action, Action::SendText) {
                    Message::Text(Cow::Borrowed(&text))
                } else {
                    Message::Binary(Cow::Borrowed(text.as_bytes()))
                };
                let open = self.conn.is_open();
                let before = self.wire.len();
                let result = self.conn.send(&message, &mut self.wire);
                if open {
                    assert!(result.is_ok());
                    let opcode = if message.is_text() { 1 } else { 2 };
                    self.app_frames.push((opcode, message.as_bytes().to_vec()));
                } else {
                    assert_eq!(result, Err(SendError::NotOpen));
                    assert_eq!(self.wire.len(), before);
                }
            }
            Action::Ping => {
                let len = [0, 1, 125, 126][usize::from(variant % 4)];
                let payload = vec![b'p'; len];
                let open = self.conn.is_open();
                let before = self.wire.len();
                let result = self.conn.ping(&payload, &mut self.wire);
                match (len <= 125, open) {
                    (true, true) => {
                        assert!(result.is_ok());
                        self.app_frames.push((9, payload));
                    }
                    (true, false) => assert_eq!(result, Err(SendError::NotOpen)),
                    (false, _) => assert!(matches!(result, Err(SendError::Usage(_)))),
                }
                if result.is_err() {
                    assert_eq!(self.wire.len(), before);
                }
            }
            Action::Close => {
                let code = [1000, 1001, 4000, 1005][usize::from(variant % 4)];
                let reason = if variant & 4 == 0 { "bye" } else { "" };
                let open = self.conn.is_open();
                let before = self.wire.len();
                let result = self.conn.close(
                    CloseCode::from_u16_unchecked(code),
                    reason,
                    &mut self.wire,
                    self.now,
                );
                if code == 1005 {
                    assert!(matches!(result, Err(SendError::Usage(_))));
                } else if open {
                    assert!(result.is_ok());
                    assert!(!self.conn.is_open() && !self.conn.is_closed());
                    self.expected_close = Some(Some(code));
                } else {
                    assert_eq!(result, Err(SendError::NotOpen));
                }
                if result.is_err() {
                    assert_eq!(self.wire.len(), before);
                }
            }
            Action::Eof => self.eof(),
        }
    }

    fn eof(&mut self) {
        match self.conn.handle_eof() {
            Some(event) => {
                assert!(!self.closed(), "Closed after Closed (eof)");
                self.record_closed(event.code, &event.reason, event.kind);
            }
            None => assert!(self.closed(), "handle_eof gave no event before Closed"),
        }
    }

    /// End of run: every connection ends with exactly one Closed, and the wire is a
    /// valid sequence of server frames matching what happened.
    fn finish(mut self) -> (Vec<Seen>, Vec<u8>) {
        self.eof();
        assert_eq!(self.conn.handle_eof(), None);
        assert_eq!(self.conn.handle_timeout(self.now, &mut self.wire), None);
        let frames = parse_frames(&self.wire, self.role);
        // The protocol's own output is bounded by what the peer sent: a pong is shorter
        // than its ping, a Close reply shorter than the Close, plus one failure Close.
        // A client adds a 4-byte masking key to every reply: a pong to an empty 2-byte
        // ping is 6 bytes, so at most three times the input.
        let bound = match self.role {
            Role::Server => self.consumed + 2 + close::MAX_REASON_LEN + 2,
            Role::Client => 3 * self.consumed + 6 + close::MAX_REASON_LEN + 2,
        };
        assert!(
            self.written_by_input <= bound,
            "wrote {} bytes in reply to {} bytes",
            self.written_by_input,
            self.consumed
        );
        let mut pongs = Vec::new();
        let mut others = Vec::new();
        let mut close_frame = None;
        for (opcode, payload) in frames {
            match opcode {
                0xA => pongs.push(payload),
                0x8 => close_frame = Some(payload),
                op => others.push((op, payload.to_vec())),
            }
        }
        assert_eq!(
            pongs, self.expected_pongs,
            "pongs echo pings received while open"
        );
        // Keepalive pings look like empty application pings: count those apart.
        let empty_ping = |(op, p): &(u8, Vec<u8>)| *op == 9 && p.is_empty();
        let empty_on_wire = others.iter().filter(|f| empty_ping(f)).count();
        let empty_by_app = self.app_frames.iter().filter(|f| empty_ping(f)).count();
        assert_eq!(
            empty_on_wire,
            empty_by_app + self.keepalive_pings,
            "empty pings"
        );
        others.retain(|f| !empty_ping(f));
        let mut app = self.app_frames.clone();
        app.retain(|f| !empty_ping(f));
        assert_eq!(others, app, "application frames, in order");
        let close_code = close_frame.map(|p| match p[..] {
            [] => None,
            [hi, lo, ..] => Some(u16::from_be_bytes([hi, lo])),
            [_] => unreachable!("checked by parse_frames"),
        });
        assert_eq!(
            close_code, self.expected_close,
            "the Close frame on the wire"
        );
        (self.events, self.wire)
    }
}

/// Parses everything one end wrote as WebSocket frames, independently of the crate's
/// parser, and panics unless it is a sequence of complete, unfragmented frames of that
/// role (unmasked from a server, masked from a client, RFC 6455 §5.1) with valid
/// opcodes, minimal lengths, UTF-8 text, control payloads of at most 125 bytes, at most
/// one Close (with a valid payload), and nothing after it. Returns (opcode, unmasked
/// payload) for each frame.
fn parse_frames(wire: &[u8], role: Role) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut at = 0;
    let mut closed = false;
    while at < wire.len() {
        assert!(!closed, "bytes after the Close frame: {:02x?}", &wire[at..]);
        let rest = &wire[at..];
        assert!(rest.len() >= 2, "a truncated frame header");
        let (b0, b1) = (rest[0], rest[1]);
        assert_eq!(b0 & 0x80, 0x80, "frames are never fragmented here");
        assert_eq!(b0 & 0x70, 0, "RSV bits set");
        let opcode = b0 & 0x0F;
        assert!(matches!(opcode, 1 | 2 | 8 | 9 | 10), "opcode {opcode}");
        let masked = b1 & 0x80 != 0;
        match role {
            Role::Server => assert!(!masked, "a server frame is masked"),
            Role::Client => assert!(masked, "a client frame is not masked (RFC 6455 §5.3)"),
        }
        let (len, header): (u64, usize) = match b1 & 0x7F {
            126 => {
                assert!(rest.len() >= 4, "truncated length");
                let len = u64::from(u16::from_be_bytes([rest[2], rest[3]]));
                assert!(len >= 126, "non-minimal 16-bit length");
                (len, 4)
            }
            127 => {
                assert!(rest.len() >= 10, "truncated length");
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[2..10]);
                let len = u64::from_be_bytes(b);
                assert!(len > 0xFFFF && len >> 63 == 0, "bad 64-bit length {len}");
                (len, 10)
            }
            short => (u64::from(short), 2),
        };
        let (header, key) = if masked {
            assert!(rest.len() >= header + 4, "truncated masking key");
            let k = [
                rest[header],
                rest[header + 1],
                rest[header + 2],
                rest[header + 3],
            ];
            (header + 4, Some(k))
        } else {
            (header, None)
        };
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| header.checked_add(len))
            .filter(|&end| end <= rest.len())
            .expect("a truncated payload");
        let mut owned = rest[header..end].to_vec();
        if let Some(key) = key {
            for (i, b) in owned.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        let payload = &owned[..];
        match opcode {
            1 => assert!(std::str::from_utf8(payload).is_ok(), "text is not UTF-8"),
            8..=10 => assert!(payload.len() <= 125, "control payload over 125"),
            _ => {}
        }
        if opcode == 8 {
            closed = true;
            match payload {
                [] => {}
                [_] => panic!("a one-byte Close payload"),
                [hi, lo, reason @ ..] => {
                    let code = u16::from_be_bytes([*hi, *lo]);
                    assert!(valid_close_code(code), "Close code {code} on the wire");
                    assert!(
                        std::str::from_utf8(reason).is_ok(),
                        "Close reason not UTF-8"
                    );
                }
            }
        }
        frames.push((opcode, owned));
        at += end;
    }
    frames
}

/// Splits the control header `[config][n_ops][ops...]` off `data`.
fn ops_and_stream(data: &[u8]) -> (u8, &[u8], &[u8]) {
    let mut r = Reader { data };
    let config = r.u8();
    let n_ops = usize::from(r.u8());
    let ops = r.take(n_ops);
    (config, ops, r.rest())
}

/// Feeds `stream` in the chunk sizes of `ops` (ignoring their actions), no clock.
fn plain_run(
    limits: WsLimits,
    stream: &[u8],
    chunks: impl Iterator<Item = usize>,
) -> (Vec<Seen>, Vec<u8>) {
    plain_run_as(Role::Server, [0; 32], limits, stream, chunks)
}

/// [`plain_run`] for either role.
fn plain_run_as(
    role: Role,
    seed: [u8; 32],
    limits: WsLimits,
    stream: &[u8],
    chunks: impl Iterator<Item = usize>,
) -> (Vec<Seen>, Vec<u8>) {
    let mut driver = Driver::with_role(limits, Instant::now(), role, seed);
    let mut rest = stream;
    let mut chunks = chunks;
    while !rest.is_empty() {
        let n = chunks.next().unwrap_or(usize::MAX).min(rest.len());
        driver.feed(&rest[..n]);
        rest = &rest[n..];
    }
    driver.finish()
}

/// Runs the full schedule: actions, clock, timers, chunks.
fn scheduled_run(driver: &mut Driver, ops: &[u8], stream: &[u8]) {
    let mut rest = stream;
    let mut step = 0usize;
    // Bound the work: with many 1-byte chunks the ops cycle; cap the number of steps.
    while !rest.is_empty() || (step < ops.len()) {
        if ops.is_empty() {
            driver.feed(rest);
            break;
        }
        let op = ops[step % ops.len()];
        let (action, chunk) = decode_op(op);
        let variant = (step / ops.len()) as u8 ^ op;
        step += 1;
        driver.act(action, variant);
        driver.run_timers();
        if matches!(action, Action::Eof) {
            // After EOF nothing more arrives.
            break;
        }
        let n = chunk.min(rest.len());
        driver.feed(&rest[..n]);
        rest = &rest[n..];
        driver.run_timers();
    }
}

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
/// Invariants: those of [`http_head`] for the head, of [`ws_connection`] for the
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

// ===== target: body_decoder =====

/// The body-size limits a run picks from (`usize::MAX` is "no limit").
const BODY_LIMITS: [usize; 8] = [0, 1, 5, 16, 100, 1000, 64 * 1024, usize::MAX];

/// What feeding a body decoder produced: the verdict (`Ok(Some(consumed))` complete,
/// `Ok(None)` still partial with everything consumed, `Err` refused) and the content.
type BodyRun = (Result<Option<usize>, BodyError>, Vec<u8>);

/// Feeds `input` to a fresh decoder in pieces ending at `ends` (increasing, the last =
/// `input.len()`), the way a connection does: the decoder keeps its place, so each call
/// gets only new bytes. Checks the per-call contract on the way.
fn feed_body(framing: BodyFraming, max_body: usize, input: &[u8], ends: &[usize]) -> BodyRun {
    let mut decoder = BodyDecoder::new(framing, max_body);
    let mut body = Vec::new();
    let mut start = 0;
    let mut verdict = Ok(None);
    // A decoder with nothing to decode (no body, or Content-Length 0) is complete at once.
    if ends.is_empty() {
        verdict = match decoder.decode(&[], &mut body) {
            Ok((0, Status::Complete(()))) => Ok(Some(0)),
            Ok((0, Status::Partial)) => Ok(None),
            Ok(other) => panic!("consumed bytes of an empty input: {other:?}"),
            Err(e) => Err(e),
        };
    }
    for &end in ends {
        let piece = &input[start..end];
        let before = body.len();
        match decoder.decode(piece, &mut body) {
            Ok((n, Status::Partial)) => {
                assert_eq!(n, piece.len(), "a partial body consumes all its input");
                assert!(!decoder.is_done());
            }
            Ok((n, Status::Complete(()))) => {
                assert!(n <= piece.len());
                assert!(decoder.is_done());
                verdict = Ok(Some(start + n));
                // After Complete: nothing more is consumed, the answer stays.
                let mut again = body.clone();
                assert_eq!(
                    decoder.decode(&input[start + n..], &mut again),
                    Ok((0, Status::Complete(())))
                );
                assert_eq!(again, body);
                break;
            }
            Err(e) => {
                assert!(!decoder.is_done());
                // Errors are sticky, and take no more content.
                let mut again = body.clone();
                assert_eq!(decoder.decode(b"0\r\n\r\n", &mut again), Err(e));
                assert_eq!(decoder.decode(&[], &mut again), Err(e));
                assert_eq!(again, body);
                verdict = Err(e);
                break;
            }
        }
        assert!(body.len() >= before);
        assert!(
            body.len() as u64 <= max_body as u64,
            "body of {} bytes over max_body {max_body}",
            body.len()
        );
        // Empty pieces change nothing.
        let len = body.len();
        if !decoder.is_done() {
            assert_eq!(decoder.decode(&[], &mut body), Ok((0, Status::Partial)));
        }
        assert_eq!(body.len(), len);
        start = end;
    }
    assert!(body.len() as u64 <= max_body as u64);
    (verdict, body)
}

/// The same input, one shot, byte by byte and in pseudo-random pieces: the same verdict,
/// content and consumed count. An error is decided at one byte: the prefix before it is
/// partial, the prefix through it is the same error. Returns the one-shot result.
fn check_body_splits(framing: BodyFraming, max_body: usize, input: &[u8], seed: u64) -> BodyRun {
    let once_ends: Vec<usize> = if input.is_empty() {
        Vec::new()
    } else {
        vec![input.len()]
    };
    let once = feed_body(framing, max_body, input, &once_ends);
    let bytewise: Vec<usize> = (1..=input.len()).collect();
    assert_eq!(
        feed_body(framing, max_body, input, &bytewise),
        once,
        "byte by byte vs one shot"
    );
    for salt in 0..2 {
        let ends = random_splits(input.len(), seed ^ salt);
        assert_eq!(
            feed_body(framing, max_body, input, &ends),
            once,
            "pieces {ends:?} vs one shot"
        );
    }
    // Where an error is decided: find the byte by feeding byte by byte.
    if once.0.is_err() && !input.is_empty() {
        let mut decoder = BodyDecoder::new(framing, max_body);
        let mut body = Vec::new();
        let mut at = None;
        for (i, b) in input.iter().enumerate() {
            if decoder.decode(std::slice::from_ref(b), &mut body).is_err() {
                at = Some(i);
                break;
            }
        }
        if let Some(at) = at {
            let before = feed_body(framing, max_body, &input[..at], &[at]);
            if at > 0 {
                assert_eq!(before.0, Ok(None), "error known before byte {at}");
            }
            let through = feed_body(framing, max_body, &input[..=at], &[at + 1]);
            assert_eq!(through.0, once.0, "error at byte {at}");
        } else {
            // The limit refused the body before any byte (Content-Length over max_body).
            assert_eq!(once.0, Err(BodyError::TooLarge));
        }
    }
    once
}

/// Splits header values on commas and trims OWS, dropping empty elements (RFC 9110
/// §5.6.1), independently of `RequestHead::list`.
fn header_elements<'a>(head: &RequestHead<'a>, name: &str) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    for (n, value) in head.headers() {
        if !n.eq_ignore_ascii_case(name) {
            continue;
        }
        for element in value.split(|&b| b == b',') {
            let ows = |b: &u8| *b == b' ' || *b == b'\t';
            let start = element
                .iter()
                .position(|b| !ows(b))
                .unwrap_or(element.len());
            let end = element
                .iter()
                .rposition(|b| !ows(b))
                .map_or(start, |i| i + 1);
            if start < end {
                out.push(&element[start..end]);
            }
        }
    }
    out
}

/// RFC 9112 §6.3 as the crate documents it for [`framing`], written out apart.
fn reference_framing(head: &RequestHead<'_>, max_body: usize) -> Result<BodyFraming, BodyError> {
    let count = |name: &str| {
        head.headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    };
    if count("transfer-encoding") > 0 {
        if head.version() == Version::Http10 {
            return Err(BodyError::TransferEncodingInHttp10);
        }
        if count("content-length") > 0 {
            return Err(BodyError::ConflictingFraming);
        }
        let codings = header_elements(head, "transfer-encoding");
        let chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
        let n_chunked = codings.iter().filter(|c| chunked(c)).count();
        return match codings.last() {
            Some(last) if chunked(last) && n_chunked == 1 && codings.len() == 1 => {
                Ok(BodyFraming::Chunked)
            }
            Some(last) if chunked(last) && n_chunked == 1 => {
                Err(BodyError::UnsupportedTransferCoding)
            }
            _ => Err(BodyError::ChunkedNotFinal),
        };
    }
    if count("content-length") > 0 {
        let mut value: Option<u64> = None;
        for element in header_elements(head, "content-length") {
            if !element.iter().all(u8::is_ascii_digit) {
                return Err(BodyError::BadContentLength);
            }
            let n = std::str::from_utf8(element)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(BodyError::BadContentLength)?;
            if value.is_some_and(|v| v != n) {
                return Err(BodyError::BadContentLength);
            }
            value = Some(n);
        }
        let n = value.ok_or(BodyError::BadContentLength)?;
        if n > max_body as u64 {
            return Err(BodyError::TooLarge);
        }
        return Ok(BodyFraming::ContentLength(n));
    }
    Ok(BodyFraming::None)
}

/// Checks that follow from the framing alone: a `Content-Length` body is exactly its
/// first N bytes, and no body consumes nothing.
fn check_framed_body(framing: BodyFraming, max_body: usize, input: &[u8], run: &BodyRun) {
    match framing {
        BodyFraming::None | BodyFraming::ContentLength(0) => {
            assert_eq!(run, &(Ok(Some(0)), Vec::new()), "no body consumes nothing")
        }
        BodyFraming::ContentLength(n) if n > max_body as u64 => {
            assert_eq!(run, &(Err(BodyError::TooLarge), Vec::new()))
        }
        BodyFraming::ContentLength(n) => {
            if (input.len() as u64) < n {
                assert_eq!(
                    run,
                    &(Ok(None), input.to_vec()),
                    "short Content-Length body"
                );
            } else {
                let n = n as usize;
                assert_eq!(
                    run,
                    &(Ok(Some(n)), input[..n].to_vec()),
                    "a Content-Length body is exactly its N bytes"
                );
            }
        }
        BodyFraming::Chunked => {}
    }
}

/// A random token of 1..=6 tchars.
fn random_token(rng: &mut Rng) -> String {
    const TCHARS: &[u8] =
        b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let n = 1 + (rng.next() % 6) as usize;
    (0..n)
        .map(|_| TCHARS[(rng.next() % TCHARS.len() as u64) as usize] as char)
        .collect()
}

/// A random valid chunk extension list (RFC 9112 §7.1.1), possibly empty.
fn random_chunk_ext(rng: &mut Rng, out: &mut Vec<u8>) {
    let bws = |rng: &mut Rng, out: &mut Vec<u8>| {
        for _ in 0..(rng.next() % 4).saturating_sub(2) {
            out.push(if rng.next().is_multiple_of(2) {
                b' '
            } else {
                b'\t'
            });
        }
    };
    for _ in 0..(rng.next() % 5).saturating_sub(2) {
        bws(rng, out);
        out.push(b';');
        bws(rng, out);
        out.extend_from_slice(random_token(rng).as_bytes());
        match rng.next() % 3 {
            0 => {}
            1 => {
                bws(rng, out);
                out.push(b'=');
                bws(rng, out);
                out.extend_from_slice(random_token(rng).as_bytes());
            }
            _ => {
                bws(rng, out);
                out.push(b'=');
                bws(rng, out);
                out.push(b'"');
                for _ in 0..rng.next() % 8 {
                    match rng.next() % 6 {
                        0 => out.extend_from_slice(b"\\\""),
                        1 => out.extend_from_slice(b"\\\\"),
                        2 => out.push(b'\t'),
                        3 => out.push(0x80 | (rng.next() as u8)),
                        4 => out.extend_from_slice(b"\\a"),
                        _ => {
                            // qdtext, or a quoted-pair for `"` and `\`.
                            let b = 0x21 + (rng.next() % 94) as u8;
                            if b == b'"' || b == b'\\' {
                                out.push(b'\\');
                            }
                            out.push(b);
                        }
                    }
                }
                out.push(b'"');
            }
        }
    }
    bws(rng, out);
}

/// A valid chunked encoding of `payload` with random chunk sizes, size spellings (case,
/// leading zeros), extensions and trailers; returns it without anything after it.
fn encode_chunked(payload: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut wire = Vec::new();
    let size_line = |rng: &mut Rng, size: usize, wire: &mut Vec<u8>| {
        let zeros = if rng.next().is_multiple_of(4) {
            rng.next() % 4
        } else {
            0
        };
        for _ in 0..zeros {
            wire.push(b'0');
        }
        let hex = if rng.next().is_multiple_of(2) {
            format!("{size:x}")
        } else {
            format!("{size:X}")
        };
        wire.extend_from_slice(hex.as_bytes());
        random_chunk_ext(rng, wire);
        wire.extend_from_slice(b"\r\n");
    };
    let mut rest = payload;
    while !rest.is_empty() {
        let n = rng.small(rest.len());
        size_line(rng, n, &mut wire);
        wire.extend_from_slice(&rest[..n]);
        wire.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    size_line(rng, 0, &mut wire);
    for _ in 0..(rng.next() % 5).saturating_sub(2) {
        wire.extend_from_slice(random_token(rng).as_bytes());
        wire.push(b':');
        for _ in 0..rng.next() % 10 {
            // field-value bytes: HTAB, SP, VCHAR, obs-text.
            let b = match rng.next() % 4 {
                0 => b' ',
                1 => b'\t',
                2 => 0x80 | rng.next() as u8,
                _ => 0x21 + (rng.next() % 94) as u8,
            };
            wire.push(b);
        }
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"\r\n");
    wire
}

/// **body_decoder** — request-body framing ([`framing`]) and incremental decoding
/// ([`BodyDecoder`]) of `Content-Length` and chunked bodies.
///
/// Input: `[mode][limit][...]`. Mode 0: the rest is a chunked body; 1: the rest is a
/// payload, encoded here as a valid chunked body (chunk sizes, size spellings,
/// extensions and trailers drawn from 8 seed bytes) followed by the mode-0 bytes as
/// what comes after it; 2: the rest is a request head and what follows it, framed by
/// [`framing`]; 3: a `Content-Length` of `u16` and the body bytes. `limit` picks
/// `max_body` from [`BODY_LIMITS`].
///
/// Invariants: no panic; the body never grows past `max_body`; the verdict, the content
/// and the bytes consumed (counted over the whole input) are the same fed whole, byte by
/// byte, or in pseudo-random pieces; an error is decided at one byte and is sticky;
/// `Complete` consumes nothing more; a valid chunked encoding decodes to its payload
/// (or `TooLarge` exactly when the payload exceeds `max_body`) and consumes nothing
/// after its terminator; a `Content-Length` body is exactly its first N bytes;
/// [`framing`] agrees with an independent reading of RFC 9112 §6.3.
pub fn body_decoder(data: &[u8]) {
    let mut r = Reader { data };
    let mode = r.u8();
    let max_body = BODY_LIMITS[usize::from(r.u8() & 7)];
    let seed = fnv1a(data, 3);
    match mode % 4 {
        0 => {
            let input = r.rest();
            let _ = check_body_splits(BodyFraming::Chunked, max_body, input, seed);
        }
        1 => {
            let mut seed_bytes = [0u8; 8];
            let taken = r.take(8);
            seed_bytes[..taken.len()].copy_from_slice(taken);
            let len = usize::from(r.u8()) * if mode & 0x80 != 0 { 64 } else { 1 };
            let payload: Vec<u8> = {
                let bytes = r.take(len);
                // Long payloads repeat the input's bytes: the fuzzer need not supply them.
                (0..len)
                    .map(|i| {
                        bytes
                            .get(i % bytes.len().max(1))
                            .copied()
                            .unwrap_or(i as u8)
                    })
                    .collect()
            };
            let after = r.rest();
            let mut rng = Rng(u64::from_le_bytes(seed_bytes));
            let mut wire = encode_chunked(&payload, &mut rng);
            let encoded_len = wire.len();
            wire.extend_from_slice(after);
            let run = check_body_splits(BodyFraming::Chunked, max_body, &wire, seed);
            if payload.len() > max_body {
                assert_eq!(run.0, Err(BodyError::TooLarge), "payload over max_body");
                assert!(payload.starts_with(&run.1));
            } else {
                assert_eq!(
                    run,
                    (Ok(Some(encoded_len)), payload),
                    "a valid chunked body: {:?}",
                    wire.escape_ascii().to_string()
                );
            }
        }
        2 => {
            let input = r.rest();
            let mut parser = HeadParser::new();
            let Ok(Status::Complete(n)) = parser.parse(input, &HeadLimits::default()) else {
                return;
            };
            let head = parser.head(input).expect("complete head");
            let framing = body::framing(&head, max_body);
            assert_eq!(framing, reference_framing(&head, max_body), "framing");
            match framing {
                Ok(framing) => {
                    let body = &input[n..];
                    let run = check_body_splits(framing, max_body, body, seed);
                    check_framed_body(framing, max_body, body, &run);
                }
                Err(e) => {
                    let status = e.status().as_u16();
                    assert!(matches!(status, 400 | 413 | 501), "{e:?}: {status}");
                    assert!(!e.to_string().is_empty());
                }
            }
        }
        _ => {
            let hi = r.u8();
            let lo = r.u8();
            let framing = BodyFraming::ContentLength(u64::from(u16::from_be_bytes([hi, lo])));
            let input = r.rest();
            let run = check_body_splits(framing, max_body, input, seed);
            check_framed_body(framing, max_body, input, &run);
        }
    }
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

/// 32 bytes for a client's masking-key generator, derived from the input.
fn seed_from(data: &[u8], salt: u64) -> [u8; 32] {
    let mut rng = Rng(fnv1a(data, salt));
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next().to_le_bytes());
    }
    seed
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

// ===== target: pair_roundtrip =====

/// One thing the client does in a [`pair_roundtrip`] run.
#[derive(Debug, Clone)]
enum PairOp {
    /// Send this message, in fragments of this size (`None`: one frame).
    Send(Message<'static>, Option<usize>),
    /// Ping with this payload (at most 125 bytes).
    Ping(Vec<u8>),
}

/// Decodes the client's operations: `[kind][len][fragment][bytes ...]` each. `kind % 8`:
/// 0–2 text, 3–5 binary, 6 ping, 7 one large message (text if bit 6, fragmented if bit 7)
/// if `allow_large` (they are slow: only inputs that ask for one pay for it).
fn pair_ops(r: &mut Reader<'_>, allow_large: bool) -> Vec<PairOp> {
    let mut ops = Vec::new();
    let mut large = !allow_large;
    while !r.data.is_empty() && ops.len() < 64 {
        let kind = r.u8();
        let len = usize::from(r.u8());
        let frag = usize::from(r.u8());
        let op = match kind % 8 {
            0..=5 => {
                let bytes = r.take(len);
                let fragment = (frag != 0).then_some(frag);
                if kind % 8 < 3 {
                    let text = String::from_utf8_lossy(bytes).into_owned();
                    PairOp::Send(Message::Text(Cow::Owned(text)), fragment)
                } else {
                    PairOp::Send(Message::Binary(Cow::Owned(bytes.to_vec())), fragment)
                }
            }
            6 => PairOp::Ping(r.take(len.min(125)).to_vec()),
            // A large message (≥ 64 KiB, so a 64-bit length), at most one per run; its
            // bytes repeat a pattern from the input rather than coming from it.
            _ if !large => {
                large = true;
                let size = 65_536 + len * 32 + frag;
                let pattern = r.take(8).to_vec();
                let bytes: Vec<u8> = (0..size)
                    .map(|i| {
                        pattern
                            .get(i % pattern.len().max(1))
                            .copied()
                            .unwrap_or(i as u8)
                            ^ (i >> 8) as u8
                    })
                    .collect();
                let fragment = (kind & 0x80 != 0).then_some(1 + frag * 257);
                if kind & 0x40 != 0 {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    PairOp::Send(Message::Text(Cow::Owned(text)), fragment)
                } else {
                    PairOp::Send(Message::Binary(Cow::Owned(bytes)), fragment)
                }
            }
            _ => continue,
        };
        ops.push(op);
    }
    ops
}

/// A fragment size of at least `size` that splits a `len`-byte message into at most
/// the default `max_fragments` (4096) frames, which the receiver accepts.
fn fragment_size(len: usize, size: usize) -> usize {
    let max = WsLimits::default().max_fragments as usize;
    size.max(len.div_ceil(max)).max(1)
}

/// The outcome of one [`pair_roundtrip`] run: what each end saw and every byte sent.
type PairRun = (Vec<OwnedEvent>, Vec<OwnedEvent>, Vec<u8>, Vec<u8>);

/// One run: the client performs `ops` (all before delivering anything, or each followed
/// by a delivery, per `batch`), the server echoes every message it receives (fragmented
/// if `echo_fragment` says so), and the byte streams are cut by `cuts`.
fn pair_run(
    seed: [u8; 32],
    ops: &[PairOp],
    batch: bool,
    echo_fragment: Option<usize>,
    cuts: &mut dyn FnMut() -> usize,
) -> PairRun {
    let mut pair = Pair::connect(WsLimits::default(), seed);
    let mut server_seen = Vec::new();
    let mut client_seen = Vec::new();
    let mut round = |pair: &mut Pair| {
        // Deliver, let the server echo what arrived, deliver the echoes.
        loop {
            pair.drive_with_cuts(&mut *cuts);
            let events = pair.take_server_events();
            client_seen.extend(pair.take_client_events());
            if events.is_empty() {
                break;
            }
            for event in &events {
                if let OwnedEvent::Message(m) = event {
                    match echo_fragment {
                        Some(size) => pair.server_send_fragmented(m, fragment_size(m.len(), size)),
                        None => pair.server_send(m),
                    }
                }
            }
            server_seen.extend(events);
        }
    };
    for op in ops {
        match op {
            PairOp::Send(m, None) => pair.client_send(m),
            PairOp::Send(m, Some(size)) => {
                pair.client_send_fragmented(m, fragment_size(m.len(), *size))
            }
            PairOp::Ping(p) => pair.client_ping(p),
        }
        if !batch {
            round(&mut pair);
        }
    }
    round(&mut pair);
    assert!(
        pair.client.is_open() && pair.server.is_open(),
        "both ends open"
    );
    let (client_bytes, server_bytes) = (pair.client_bytes().to_vec(), pair.server_bytes().to_vec());
    (server_seen, client_seen, client_bytes, server_bytes)
}

/// **pair_roundtrip** — arbitrary messages through a client and a server wired together
/// in memory ([`Pair`]), the server echoing each one, with the byte streams cut anywhere.
///
/// Input: `[config][ops...]`, each op `[kind][len][fragment][bytes]`: text (the bytes
/// made UTF-8 by `from_utf8_lossy`), binary, a ping, or one large (≥ 64 KiB) text or
/// binary (see `pair_ops`); `fragment` non-zero sends it in fragments of that size.
/// Config bit 0 delivers after every op instead of once at the end, bits 1–3 pick a
/// fragment size for the server's echo, bit 4 allows the large message. The masking
/// seed and the cut points are derived from the input.
///
/// Invariants: the server receives exactly the messages sent, in order, and a `Ping` for
/// each ping; the client receives exactly the same messages back, in order, and a `Pong`
/// with each ping's payload, in order; nobody closes; and whatever the cuts (pseudo-
/// random, one byte at a time for small runs, none), the events and the bytes on both
/// wires are the same.
pub fn pair_roundtrip(data: &[u8]) {
    let mut r = Reader { data };
    let config = r.u8();
    let ops = pair_ops(&mut r, config & 0x10 != 0);
    let batch = config & 1 == 0;
    let echo_fragment = match (config >> 1) & 7 {
        0..=2 => None,
        n => Some([1, 2, 3, 125, 4096][usize::from(n - 3)]),
    };
    let seed = seed_from(data, 21);

    let whole = pair_run(seed, &ops, batch, echo_fragment, &mut || usize::MAX);
    let (server_seen, client_seen, _, _) = &whole;

    let sent: Vec<OwnedEvent> = ops
        .iter()
        .map(|op| match op {
            PairOp::Send(m, _) => OwnedEvent::Message(m.clone()),
            PairOp::Ping(p) => OwnedEvent::Ping(p.clone()),
        })
        .collect();
    assert_eq!(
        server_seen, &sent,
        "the server receives what the client sent"
    );
    let messages: Vec<&OwnedEvent> = sent
        .iter()
        .filter(|e| matches!(e, OwnedEvent::Message(_)))
        .collect();
    let echoed: Vec<&OwnedEvent> = client_seen
        .iter()
        .filter(|e| matches!(e, OwnedEvent::Message(_)))
        .collect();
    assert_eq!(
        echoed, messages,
        "the client receives every message back, in order"
    );
    let pings: Vec<&Vec<u8>> = ops
        .iter()
        .filter_map(|op| match op {
            PairOp::Ping(p) => Some(p),
            PairOp::Send(..) => None,
        })
        .collect();
    let pongs: Vec<&Vec<u8>> = client_seen
        .iter()
        .filter_map(|e| match e {
            OwnedEvent::Pong(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(pongs, pings, "a pong for each ping, in order");
    assert_eq!(
        client_seen.len(),
        echoed.len() + pongs.len(),
        "nothing else reaches the client: {client_seen:?}"
    );

    // The same whatever the cuts.
    let total: usize = ops
        .iter()
        .map(|op| match op {
            PairOp::Send(m, _) => m.len() + 14,
            PairOp::Ping(p) => p.len() + 6,
        })
        .sum();
    let mut rng = Rng(fnv1a(data, 22));
    let random = pair_run(seed, &ops, batch, echo_fragment, &mut || {
        rng.small(total.max(1))
    });
    assert_eq!(random, whole, "random cuts vs none");
    if total <= 4096 {
        let bytewise = pair_run(seed, &ops, batch, echo_fragment, &mut || 1);
        assert_eq!(bytewise, whole, "one byte at a time vs none");
    }
}

// ===== target: hub_ops =====

/// A poll answer, read back by the hub's JSON reader (which shares no code with its
/// writer): (messages, next, missed).
fn json_batch(text: &str) -> (Vec<(u64, String)>, u64, u64) {
    let batch = json::parse_batch(text.as_bytes()).expect("a poll answer reads back");
    (batch.messages, batch.next, batch.missed)
}

/// The model of one channel: every message ever published, and who waits.
#[derive(Debug, Default)]
struct ChannelModel {
    /// All published messages; the id of `log[i]` is `i + 1`.
    log: Vec<String>,
    parked: std::collections::BTreeSet<u32>,
}

impl ChannelModel {
    fn last(&self) -> u64 {
        self.log.len() as u64
    }

    /// The oldest retained id (1 when nothing was evicted).
    fn first_retained(&self, history: usize) -> u64 {
        (self.last() + 1).saturating_sub(history as u64).max(1)
    }

    /// What a reader at `cursor` is owed: the retained messages after it, and how many
    /// after it were evicted.
    fn after(&self, cursor: u64, history: usize) -> (Vec<(u64, String)>, u64) {
        let cursor = cursor.min(self.last());
        let first = self.first_retained(history);
        let missed = first.saturating_sub(cursor + 1);
        let from = (cursor + 1).max(first);
        let messages = (from..=self.last())
            .map(|id| (id, self.log[id as usize - 1].clone()))
            .collect();
        (messages, missed)
    }
}

/// A subscriber in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubState {
    Active,
    Paused,
}

/// A subscriber's view: its state and the last id it received in this subscription.
#[derive(Debug, Clone, Copy)]
struct SubModel {
    channel: usize,
    state: SubState,
    last_received: u64,
}

/// The channels a run uses.
const HUB_CHANNELS: [&str; 2] = ["a", "b.c"];
/// How many subscriber keys a run uses (keys 1000..).
const HUB_SUBSCRIBERS: usize = 4;

/// Checks a replay (on subscribing or resuming) against what the model owes the
/// subscriber, and moves its cursor.
fn check_replay(replay: &Replay, owed: &(Vec<(u64, String)>, u64), sub: &mut SubModel) {
    let frames: Vec<(u64, String)> = replay
        .frames
        .iter()
        .map(|f| json::parse_message(f.as_bytes()).expect("a replayed frame reads back"))
        .collect();
    assert_eq!(&frames, &owed.0, "replayed messages");
    assert_eq!(replay.missed, owed.1, "replay missed");
    match replay.missed_frame() {
        None => assert_eq!(replay.missed, 0),
        Some(f) => assert_eq!(json::parse_missed(f.as_bytes()), Ok(replay.missed)),
    }
    for (id, _) in &frames {
        assert!(*id > sub.last_received, "ids increase per subscriber");
        sub.last_received = *id;
    }
}

/// **hub_ops** — a [`Hub<u32>`] with a history of 1–8 messages under a random sequence
/// of publishes, long-polls (any `since`, parked or not), unparks, subscribes (any
/// `since`), unsubscribes, pauses (including the "send failed" pause at `id - 1` during
/// a publish) and resumes, on two channels, against a model that keeps every message.
///
/// Input: `[history][op ...]`; each op is a byte whose low 3 bits pick the operation
/// and whose high bits its channel and variant, sometimes followed by argument bytes.
///
/// Invariants: ids are 1, 2, 3 … per channel; a poll answers exactly the retained
/// messages after `since` (JSON parsed independently: ids, data, `next`, `missed`),
/// parks exactly when there are none and it has a key; every parked key is answered by
/// exactly one later publish (in `Fanout::polls`, with a body carrying just that message)
/// or unparked (`unpark` → `true`) — never both, never twice; subscribers get every id
/// in increasing order, each once, with `missed` exactly the number of ids after their
/// cursor evicted before delivery; publishes list exactly the active subscribers; the
/// hub forgets exactly the channels with no history and no waiters.
pub fn hub_ops(data: &[u8]) {
    let mut r = Reader { data };
    let history = 1 + usize::from(r.u8() % 8);
    let mut hub: Hub<u32> = Hub::new(history);
    let mut channels: Vec<ChannelModel> = HUB_CHANNELS.iter().map(|_| Default::default()).collect();
    let mut subs: Vec<Option<SubModel>> = vec![None; HUB_SUBSCRIBERS];
    // Every key ever parked: (channel, key); and how each ended.
    let mut parked_keys: Vec<(usize, u32)> = Vec::new();
    let mut answered: HashMap<u32, usize> = HashMap::new();
    let mut unparked: HashMap<u32, usize> = HashMap::new();
    let mut next_key = 1u32;
    let sub_key = |i: usize| 1000 + i as u32;

    let mut steps = 0;
    while !r.data.is_empty() && steps < 400 {
        steps += 1;
        let op = r.u8();
        let c = usize::from(op >> 7);
        let name = HUB_CHANNELS[c];
        let variant = (op >> 3) & 0xF;
        match op & 7 {
            0 | 1 => {
                // publish; bits of `variant` say which subscribers fail to take it.
                let len = usize::from(r.u8() % 24);
                let text = String::from_utf8_lossy(r.take(len)).into_owned();
                let fanout = hub.publish(name, Arc::from(text.as_str()));
                let model = &mut channels[c];
                model.log.push(text.clone());
                let id = model.last();
                assert_eq!(fanout.id, id, "ids are consecutive per channel");
                assert_eq!(
                    json::parse_message(fanout.frame.as_bytes()),
                    Ok((id, text.clone()))
                );
                assert_eq!(
                    json::parse_published(fanout.published_body().as_bytes()),
                    Ok(id)
                );
                // Parked polls: exactly the model's, each answered once, with this message.
                let mut polls = fanout.polls.clone();
                polls.sort_unstable();
                let expected: Vec<u32> = std::mem::take(&mut model.parked).into_iter().collect();
                assert_eq!(polls, expected, "publish answers exactly the parked polls");
                for key in &polls {
                    *answered.entry(*key).or_default() += 1;
                }
                match &fanout.poll_body {
                    None => assert!(polls.is_empty()),
                    Some(body) => {
                        assert!(!polls.is_empty());
                        let text_body = std::str::from_utf8(body).expect("UTF-8 body");
                        assert_eq!(json_batch(text_body), (vec![(id, text.clone())], id, 0));
                    }
                }
                assert_eq!(hub.parked_count(name), 0);
                // Subscribers: exactly the active ones get the frame.
                let mut listed: Vec<u32> = hub.subscribers(name).copied().collect();
                listed.sort_unstable();
                let active: Vec<u32> = (0..HUB_SUBSCRIBERS)
                    .filter(|&i| {
                        subs[i].is_some_and(|s| s.channel == c && s.state == SubState::Active)
                    })
                    .map(sub_key)
                    .collect();
                assert_eq!(listed, active, "publish goes to the active subscribers");
                for (i, sub) in subs.iter_mut().enumerate() {
                    let Some(sub) = sub.as_mut() else {
                        continue;
                    };
                    if sub.channel != c || sub.state != SubState::Active {
                        continue;
                    }
                    assert_eq!(
                        sub.last_received,
                        id - 1,
                        "active subscribers are caught up"
                    );
                    if variant & (1 << i) != 0 {
                        // The send failed: pause at the id before this one.
                        assert!(hub.pause(name, &sub_key(i), id - 1));
                        sub.state = SubState::Paused;
                    } else {
                        assert_eq!(id, sub.last_received + 1, "no gap, no repeat");
                        sub.last_received = id;
                    }
                }
            }
            2 => {
                // poll(since, park?)
                let model = &channels[c];
                let last = model.last();
                let since = match variant & 7 {
                    0 => None,
                    1 => Some(0),
                    2 => Some(last),
                    3 => Some(last + 1),
                    4 => Some(u64::MAX),
                    5 => Some(last.saturating_sub(u64::from(r.u8() % 12))),
                    _ => Some(u64::from(r.u8())),
                };
                let park = (variant & 8 != 0).then(|| {
                    next_key += 1;
                    next_key
                });
                let outcome = hub.poll(name, since, park);
                let owed = since.map(|s| model.after(s, history));
                match owed {
                    Some((messages, missed)) if !messages.is_empty() => {
                        let PollOutcome::Ready(body) = &outcome else {
                            panic!("poll since {since:?}: {outcome:?}, owed {messages:?}")
                        };
                        assert_eq!(json_batch(body), (messages, last, missed), "poll answer");
                    }
                    _ => match park {
                        Some(key) => {
                            assert_eq!(outcome, PollOutcome::Parked);
                            channels[c].parked.insert(key);
                            parked_keys.push((c, key));
                        }
                        None => assert_eq!(outcome, PollOutcome::Empty),
                    },
                }
            }
            3 => {
                // unpark a key ever parked (maybe answered, maybe on the other channel).
                if parked_keys.is_empty() {
                    continue;
                }
                let (kc, key) = parked_keys[usize::from(r.u8()) % parked_keys.len()];
                let on = if variant & 1 == 0 { kc } else { 1 - kc };
                let expected = channels[on].parked.remove(&key);
                assert_eq!(hub.unpark(HUB_CHANNELS[on], &key), expected, "unpark {key}");
                if expected {
                    *unparked.entry(key).or_default() += 1;
                }
            }
            4 => {
                // subscribe(since)
                let i = usize::from(variant) % HUB_SUBSCRIBERS;
                let last = channels[c].last();
                let since = match variant >> 2 {
                    0 => None,
                    1 => Some(0),
                    2 => Some(last + u64::from(r.u8() % 3)),
                    _ => Some(last.saturating_sub(u64::from(r.u8() % 12))),
                };
                // Subscribing on another channel first leaves the old one (as a driver
                // does: one subscription per connection).
                if let Some(old) = subs[i].filter(|s| s.channel != c) {
                    assert!(hub.unsubscribe(HUB_CHANNELS[old.channel], &sub_key(i)));
                }
                let replay = hub.subscribe(name, sub_key(i), since);
                let cursor = since.map_or(last, |s| s.min(last));
                let owed = channels[c].after(cursor, history);
                let mut sub = SubModel {
                    channel: c,
                    state: SubState::Active,
                    last_received: cursor,
                };
                check_replay(&replay, &owed, &mut sub);
                assert_eq!(sub.last_received, last, "caught up after the replay");
                subs[i] = Some(sub);
            }
            5 => {
                let i = usize::from(variant) % HUB_SUBSCRIBERS;
                let expected = subs[i].is_some_and(|s| s.channel == c);
                assert_eq!(hub.unsubscribe(name, &sub_key(i)), expected, "unsubscribe");
                if expected {
                    subs[i] = None;
                }
            }
            6 => {
                // pause at the last id received (u64::MAX also means "caught up").
                let i = usize::from(variant) % HUB_SUBSCRIBERS;
                let expected =
                    subs[i].is_some_and(|s| s.channel == c && s.state == SubState::Active);
                let delivered = match subs[i] {
                    Some(s) if variant & 4 != 0 && s.last_received == channels[c].last() => {
                        u64::MAX
                    }
                    Some(s) => s.last_received,
                    None => 0,
                };
                assert_eq!(hub.pause(name, &sub_key(i), delivered), expected, "pause");
                if expected {
                    subs[i].as_mut().expect("subscribed").state = SubState::Paused;
                }
            }
            _ => {
                let i = usize::from(variant) % HUB_SUBSCRIBERS;
                let paused = subs[i].filter(|s| s.channel == c && s.state == SubState::Paused);
                let replay = hub.resume(name, &sub_key(i));
                match (paused, replay) {
                    (None, None) => {}
                    (Some(mut sub), Some(replay)) => {
                        let owed = channels[c].after(sub.last_received, history);
                        check_replay(&replay, &owed, &mut sub);
                        sub.last_received = channels[c].last();
                        sub.state = SubState::Active;
                        subs[i] = Some(sub);
                    }
                    (expected, got) => panic!("resume: expected {expected:?}, got {got:?}"),
                }
            }
        }

        // After every step: the hub's view of each channel matches the model.
        let mut live = 0;
        for (c, model) in channels.iter().enumerate() {
            let name = HUB_CHANNELS[c];
            let subscribed = subs.iter().flatten().filter(|s| s.channel == c).count();
            assert_eq!(hub.subscriber_count(name), subscribed, "subscriber count");
            assert_eq!(hub.parked_count(name), model.parked.len(), "parked count");
            for &(kc, key) in &parked_keys {
                assert_eq!(
                    hub.is_parked(name, &key),
                    kc == c && model.parked.contains(&key)
                );
            }
            let exists = model.last() > 0 || !model.parked.is_empty() || subscribed > 0;
            live += usize::from(exists);
            match hub.get(name) {
                Some(channel) => {
                    assert!(exists, "channel {name} should have been forgotten");
                    assert_eq!(channel.last_id(), model.last());
                    assert_eq!(channel.capacity(), history);
                    let retained = model.last() + 1 - model.first_retained(history);
                    assert_eq!(channel.len() as u64, retained, "retained messages");
                    if model.last() > 0 {
                        assert_eq!(
                            channel.first_retained_id(),
                            Some(model.first_retained(history))
                        );
                        assert_eq!(channel.latest().map(|m| m.id()), Some(model.last()));
                    }
                }
                None => assert!(!exists, "channel {name} lost"),
            }
        }
        assert_eq!(hub.channel_count(), live, "channel count");
    }

    // The end: every key still parked is taken back exactly once; every key ever parked
    // was answered by a publish or unparked, exactly one of the two, exactly once.
    for &(c, key) in &parked_keys {
        let expected = channels[c].parked.remove(&key);
        assert_eq!(hub.unpark(HUB_CHANNELS[c], &key), expected);
        if expected {
            *unparked.entry(key).or_default() += 1;
        }
        let a = answered.get(&key).copied().unwrap_or(0);
        let u = unparked.get(&key).copied().unwrap_or(0);
        assert_eq!(
            (a + u, a.min(u)),
            (1, 0),
            "key {key}: answered {a}, unparked {u}"
        );
    }
}

/// A target's body: takes the fuzzer's bytes, panics on a violated invariant.
pub type Target = fn(&[u8]);

/// Every target by name, as the fuzz targets and seed directories are named.
pub const TARGETS: &[(&str, Target)] = &[
    ("http_head", http_head),
    ("frame_header", frame_header),
    ("utf8", utf8),
    ("mask", mask),
    ("close_payload", close_payload),
    ("ws_connection", ws_connection),
    ("server_pipeline", server_pipeline),
    ("body_decoder", body_decoder),
    ("ws_client_connection", ws_client_connection),
    ("pair_roundtrip", pair_roundtrip),
    ("hub_ops", hub_ops),
];
