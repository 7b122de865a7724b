//! The WebSocket building blocks, one target each: `frame_header` (RFC 6455 §5.2),
//! `utf8` (§8.1), `mask` (§5.3) and `close_payload` (§5.5.1, §7.4).

use crate::status::Status;
use crate::ws::close::{self, CloseCode};
use crate::ws::error::ProtocolError;
use crate::ws::frame::{self, FrameHeader, OpCode, Role};
use crate::ws::mask::{apply_mask, apply_mask_naive};
use crate::ws::utf8::Utf8Validator;

use super::{Reader, fnv1a, random_splits};

// ===== target: frame_header =====

/// What the RFC says about a frame header, written out independently of
/// [`FrameHeader::parse`] (RFC 6455 §5.2, §5.5, and the crate's documented check order)
/// and, with `compression`, [`FrameHeader::parse_compressed`] (RFC 7692 §6).
fn reference_frame_header(
    buf: &[u8],
    role: Role,
    max: u64,
    compression: bool,
) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    let rsv = (b0 >> 4) & 7;
    let rsv1_allowed = compression && rsv == 0b100;
    if rsv != 0 && !rsv1_allowed {
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
    if rsv != 0 && (control || opcode == OpCode::Continuation) {
        return Err(ProtocolError::MisplacedCompressedBit { opcode });
    }
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
        rsv,
        opcode,
        mask,
        payload_len: len,
    };
    Ok(Some((header, at)))
}

/// **frame_header** — the frame header parser and encoder.
///
/// Input: `[config][bytes]`; bit 0 of config picks the role, bits 1–3 `max_frame_size`,
/// bit 4 whether permessage-deflate was negotiated (`parse_compressed`).
///
/// Invariants: no panic; `FrameHeader::parse` (or `parse_compressed`) agrees exactly
/// (same header, length or error) with an independent transcription of RFC 6455 §5.2
/// (and RFC 7692 §6) on every prefix of the input; the answer is `Partial` until one deciding byte and constant after it; a
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
    let compression = config & 0x10 != 0;
    let parse = if compression {
        FrameHeader::parse_compressed
    } else {
        FrameHeader::parse
    };

    let mut decided: Option<Result<(FrameHeader, usize), ProtocolError>> = None;
    for end in 0..=buf.len().min(FrameHeader::MAX_LEN + 2) {
        let prefix = &buf[..end];
        let got = parse(prefix, role, max);
        let expected = reference_frame_header(prefix, role, max, compression);
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
    if header.rsv != 0 {
        // Only RSV1, only when negotiated, only on a message's first frame.
        assert!(compression && header.rsv == frame::RSV1);
        assert!(!header.opcode.is_control() && header.opcode != OpCode::Continuation);
    }
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
        parse(&encoded, role, max),
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

pub(super) fn valid_close_code(code: u16) -> bool {
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
