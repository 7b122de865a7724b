//! The frame header (RFC 6455 §5.2): parsing what the peer sent, encoding what we send.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! A header is 2 bytes, plus 2 or 8 for an extended length, plus 4 for a masking
//! key: between 2 and 14 bytes. The parser is incremental: it answers
//! [`Status::Partial`] until the whole header is in the buffer, but reports a
//! violation as soon as the bytes that prove it have arrived.

use crate::status::Status;
use crate::ws::error::ProtocolError;
use crate::ws::mask::apply_mask;

/// Which end of the connection we are. A server expects masked frames from its peer (§5.1), a client expects unmasked ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We accepted the connection; the peer is a client and masks everything it sends.
    Server,
    /// We opened the connection; the peer is a server and masks nothing.
    Client,
}

impl Role {
    /// Whether frames arriving at this end must be masked (RFC 6455 §5.1).
    pub fn expects_masked_input(self) -> bool {
        match self {
            Role::Server => true,
            Role::Client => false,
        }
    }
}

/// What a frame carries (RFC 6455 §5.2). The reserved opcodes 0x3-0x7 and 0xB-0xF
/// have no variant: receiving one fails the connection, so they never get this far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// 0x0: the next fragment of the message in progress (§5.4).
    Continuation,
    /// 0x1: the first (or only) frame of a UTF-8 text message (§5.6).
    Text,
    /// 0x2: the first (or only) frame of a binary message (§5.6).
    Binary,
    /// 0x8: the closing handshake (§5.5.1).
    Close,
    /// 0x9: a request for a Pong (§5.5.2).
    Ping,
    /// 0xA: the answer to a Ping, or a unidirectional heartbeat (§5.5.3).
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for a reserved one (§5.2).
    pub fn from_u8(v: u8) -> Option<OpCode> {
        match v {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }

    /// The 4-bit value on the wire.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Control frames are those whose opcode has its most significant bit set (§5.5).
    /// They may interrupt a fragmented message, but must themselves be short and unfragmented.
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }

    /// A lowercase name for logs and error messages.
    pub fn name(self) -> &'static str {
        match self {
            OpCode::Continuation => "continuation",
            OpCode::Text => "text",
            OpCode::Binary => "binary",
            OpCode::Close => "close",
            OpCode::Ping => "ping",
            OpCode::Pong => "pong",
        }
    }
}

/// A parsed (or to-be-encoded) frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The final fragment of a message (§5.2); always set on control frames (§5.5).
    pub fin: bool,
    /// The three RSV bits as a 3-bit value: RSV1 = 0b100, RSV2 = 0b010, RSV3 = 0b001.
    /// In a parsed header, 0 — or [`RSV1`] on the first frame of a compressed message
    /// when permessage-deflate was negotiated ([`FrameHeader::parse_compressed`]).
    pub rsv: u8,
    /// What the payload is.
    pub opcode: OpCode,
    /// The masking key, present exactly when the MASK bit is set (§5.2, §5.3).
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes, not counting the header itself.
    pub payload_len: u64,
}

/// RSV1 as a value of [`FrameHeader::rsv`]: with permessage-deflate it is the
/// "Per-Message Compressed" bit (RFC 7692 §6).
pub const RSV1: u8 = 0b100;

/// The 7-bit length value announcing a 16-bit extended length (§5.2).
const LEN_16: u8 = 126;
/// The 7-bit length value announcing a 64-bit extended length (§5.2).
const LEN_64: u8 = 127;
/// The largest payload of a control frame (§5.5).
const MAX_CONTROL_PAYLOAD: u8 = 125;

impl FrameHeader {
    /// The longest possible header: 2 + 8 (64-bit length) + 4 (masking key).
    pub const MAX_LEN: usize = 14;

    /// Parses one frame header at the start of `buf` as received by an endpoint in `role`.
    /// Returns Complete((header, header_len)) or Partial (nothing consumed; need more bytes).
    ///
    /// Every check fails as soon as the bytes that prove the violation are present,
    /// even if the rest of the header has not arrived, so a broken peer is dropped
    /// without waiting on it:
    ///
    /// * byte 0: RSV bits ([`ProtocolError::ReservedBits`]), then a reserved opcode
    ///   ([`ProtocolError::ReservedOpcode`]);
    /// * byte 1: the MASK bit against `role` ([`ProtocolError::UnmaskedFrame`],
    ///   [`ProtocolError::MaskedFrame`]), then for control frames FIN = 0
    ///   ([`ProtocolError::FragmentedControlFrame`]) and a 7-bit length over 125
    ///   ([`ProtocolError::ControlFrameTooLong`]);
    /// * extended length: the top bit of a 64-bit length
    ///   ([`ProtocolError::LengthTopBitSet`], decided by its first byte), then a
    ///   payload longer than `max_frame_size` ([`ProtocolError::FrameTooLarge`]),
    ///   decided before the masking key arrives.
    ///
    /// A control frame whose 7-bit length is 126 or 127 is rejected at byte 1 without
    /// reading the extended length: either the real length exceeds 125 (§5.5), or it
    /// is at most 125 and encoded non-minimally — a control frame has no legitimate
    /// use for an extended length.
    ///
    /// Non-minimal length encodings of data frames (say, 5 encoded as `126, 0, 5`) are
    /// accepted. §5.2 says "the minimal number of bytes MUST be used to encode the
    /// length", but that is a rule for the sender: the length is unambiguous either
    /// way, the RFC names no receiver action for it (unlike the RSV bits, opcodes and
    /// masking, where it says to fail the connection), and rejecting it would protect
    /// nothing. Our own frames always use the minimal encoding ([`Self::encode`]).
    pub fn parse(
        buf: &[u8],
        role: Role,
        max_frame_size: u64,
    ) -> Result<Status<(FrameHeader, usize)>, ProtocolError> {
        Self::parse_with(buf, role, max_frame_size, false)
    }

    /// [`parse`](Self::parse) on a connection that negotiated permessage-deflate: RSV1
    /// marks the first frame of a compressed message and is allowed there — and only
    /// there: RFC 7692 §6.1 forbids it on control frames and on continuation frames
    /// ("non-first fragments"), and a receiver MUST fail the connection
    /// ([`ProtocolError::MisplacedCompressedBit`], 1002). RSV2 and RSV3 stay errors.
    pub fn parse_compressed(
        buf: &[u8],
        role: Role,
        max_frame_size: u64,
    ) -> Result<Status<(FrameHeader, usize)>, ProtocolError> {
        Self::parse_with(buf, role, max_frame_size, true)
    }

    fn parse_with(
        buf: &[u8],
        role: Role,
        max_frame_size: u64,
        compression: bool,
    ) -> Result<Status<(FrameHeader, usize)>, ProtocolError> {
        // Byte 0: FIN, RSV1-3, opcode.
        let Some(&b0) = buf.first() else {
            return Ok(Status::Partial);
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0b111;
        let raw_opcode = b0 & 0x0F;
        // RFC 6455 §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that
        // defines meanings for non-zero values". The only one we negotiate is
        // permessage-deflate, which gives RSV1 a meaning (RFC 7692 §6).
        let allowed = if compression { RSV1 } else { 0 };
        if rsv & !allowed != 0 {
            return Err(ProtocolError::ReservedBits { rsv });
        }
        // RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint
        // MUST _Fail the WebSocket Connection_."
        let opcode =
            OpCode::from_u8(raw_opcode).ok_or(ProtocolError::ReservedOpcode(raw_opcode))?;
        if rsv != 0 && (opcode.is_control() || opcode == OpCode::Continuation) {
            return Err(ProtocolError::MisplacedCompressedBit { opcode });
        }

        // Byte 1: MASK, 7-bit payload length.
        let Some(&b1) = buf.get(1) else {
            return Ok(Status::Partial);
        };
        let masked = b1 & 0x80 != 0;
        // RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame
        // that is not masked" and "A client MUST close a connection if it detects a
        // masked frame."
        match (role.expects_masked_input(), masked) {
            (true, false) => return Err(ProtocolError::UnmaskedFrame),
            (false, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        let len7 = b1 & 0x7F;
        if opcode.is_control() {
            // RFC 6455 §5.5: control frames "MUST NOT be fragmented".
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            // RFC 6455 §5.5: control frames "MUST have a payload length of 125 bytes or less".
            if len7 > MAX_CONTROL_PAYLOAD {
                return Err(ProtocolError::ControlFrameTooLong(u64::from(len7)));
            }
        }

        // Extended payload length, if announced (§5.2), in network byte order.
        let (payload_len, mut header_len) = match len7 {
            LEN_16 => {
                let Some(bytes) = array_at::<2>(buf, 2) else {
                    return Ok(Status::Partial);
                };
                (u64::from(u16::from_be_bytes(bytes)), 4)
            }
            LEN_64 => {
                // RFC 6455 §5.2: "the most significant bit MUST be 0". It is the top
                // bit of the first length byte, so it can be judged before the rest.
                if let Some(&first) = buf.get(2)
                    && first & 0x80 != 0
                {
                    return Err(ProtocolError::LengthTopBitSet);
                }
                let Some(bytes) = array_at::<8>(buf, 2) else {
                    return Ok(Status::Partial);
                };
                (u64::from_be_bytes(bytes), 10)
            }
            short => (u64::from(short), 2),
        };
        // Our limit, not the RFC's: refuse before buffering any of the payload
        // (1009, message too big, §7.4.1).
        if payload_len > max_frame_size {
            return Err(ProtocolError::FrameTooLarge {
                len: payload_len,
                max: max_frame_size,
            });
        }

        // Masking key, present exactly when the MASK bit is set (§5.2).
        let mask = if masked {
            let Some(key) = array_at::<4>(buf, header_len) else {
                return Ok(Status::Partial);
            };
            header_len += 4;
            Some(key)
        } else {
            None
        };

        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len,
        };
        Ok(Status::Complete((header, header_len)))
    }

    /// Number of bytes `encode` writes (2..=14), always the minimal length encoding (§5.2).
    pub fn encoded_len(&self) -> usize {
        let extended = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        let mask = if self.mask.is_some() { 4 } else { 0 };
        2 + extended + mask
    }

    /// Appends the header bytes to `out`.
    ///
    /// Uses the minimal length encoding, as §5.2 requires of the sender. The caller
    /// keeps `rsv` within 3 bits and `payload_len` below 2^63 (§5.2); a payload that
    /// long could not exist in memory anyway.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut buf = [0u8; FrameHeader::MAX_LEN];
        let len = self.encode_into(&mut buf);
        out.extend_from_slice(&buf[..len]);
    }

    /// Writes the header bytes into `buf` and returns how many ([`encoded_len`]): the
    /// same bytes as [`encode`](Self::encode), without a `Vec`.
    ///
    /// [`encoded_len`]: Self::encoded_len
    pub fn encode_into(&self, buf: &mut [u8; FrameHeader::MAX_LEN]) -> usize {
        debug_assert!(self.rsv <= 0b111, "rsv is a 3-bit value");
        debug_assert!(self.payload_len >> 63 == 0, "payload length top bit set");

        let fin = if self.fin { 0x80 } else { 0 };
        buf[0] = fin | (self.rsv & 0b111) << 4 | self.opcode.as_u8();

        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
        let mut at = match self.payload_len {
            // The range pattern guarantees the narrowing casts below are lossless.
            len @ 0..=125 => {
                buf[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                buf[1] = mask_bit | LEN_16;
                buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                buf[1] = mask_bit | LEN_64;
                buf[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };

        if let Some(key) = self.mask {
            buf[at..at + 4].copy_from_slice(&key);
            at += 4;
        }
        at
    }
}

/// The `N` bytes of `buf` starting at `at`, or `None` if they have not all arrived.
fn array_at<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..)?.first_chunk::<N>().copied()
}

/// Appends a complete frame (header + payload) to `out`, reserving once. With `mask: Some(key)` the payload
/// is written masked (client role); servers pass None (§5.1: a server MUST NOT mask).
///
/// No RSV bits are set (we negotiate no extensions). The caller is responsible for
/// the rules about what it sends: control frames need `fin` and at most 125 bytes (§5.5).
pub fn write_frame(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    debug_assert!(
        !opcode.is_control() || (fin && payload.len() <= usize::from(MAX_CONTROL_PAYLOAD)),
        "control frames must be final and at most 125 bytes (RFC 6455 §5.5)"
    );
    let header = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    out.reserve(header.encoded_len() + payload.len());
    header.encode(out);
    let payload_start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        // RFC 6455 §5.3: masking starts at the first payload byte, with key byte 0.
        apply_mask(&mut out[payload_start..], key, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;
    use crate::ws::close::CloseCode;

    const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];
    const NO_LIMIT: u64 = u64::MAX;

    fn parse_server(buf: &[u8]) -> Result<Status<(FrameHeader, usize)>, ProtocolError> {
        FrameHeader::parse(buf, Role::Server, NO_LIMIT)
    }

    fn header(opcode: OpCode, payload_len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len,
        }
    }

    fn encoded(h: &FrameHeader) -> Vec<u8> {
        let mut out = Vec::new();
        h.encode(&mut out);
        out
    }

    /// Asserts that `buf` fails with `expected` and that the error closes with `code`.
    fn assert_rejected(buf: &[u8], role: Role, expected: ProtocolError, code: u16) {
        assert_eq!(
            FrameHeader::parse(buf, role, NO_LIMIT),
            Err(expected),
            "{buf:02x?}"
        );
        assert_eq!(expected.close_code().as_u16(), code);
    }

    const BOUNDARY_LENGTHS: [u64; 8] = [
        0,
        1,
        125,
        126,
        65535,
        65536,
        u32::MAX as u64 + 1,
        (1 << 63) - 1,
    ];

    #[test]
    fn every_length_encoding_boundary_round_trips() {
        for len in BOUNDARY_LENGTHS {
            for (mask, role) in [(Some(KEY), Role::Server), (None, Role::Client)] {
                for fin in [true, false] {
                    let h = FrameHeader {
                        fin,
                        ..header(OpCode::Binary, len, mask)
                    };
                    let bytes = encoded(&h);
                    assert_eq!(bytes.len(), h.encoded_len(), "len {len}");
                    assert_eq!(
                        FrameHeader::parse(&bytes, role, NO_LIMIT),
                        Ok(Status::Complete((h, bytes.len()))),
                        "len {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn encoding_uses_the_minimal_length_form() {
        let cases = [
            (0, 2),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (u64::from(u32::MAX) + 1, 10),
        ];
        for (len, header_len) in cases {
            let unmasked = header(OpCode::Text, len, None);
            assert_eq!(unmasked.encoded_len(), header_len, "len {len}");
            assert_eq!(encoded(&unmasked).len(), header_len);
            assert_eq!(
                header(OpCode::Text, len, Some(KEY)).encoded_len(),
                header_len + 4
            );
        }
        assert_eq!(
            encoded(&header(OpCode::Text, 126, None)),
            [0x81, 126, 0, 126]
        );
        assert_eq!(
            encoded(&header(OpCode::Binary, 65536, None)),
            [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
    }

    #[test]
    fn rfc_examples_parse() {
        // RFC 6455 §5.7: a single-frame unmasked text message "Hello", as a client receives it.
        let unmasked = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert_eq!(
            FrameHeader::parse(&unmasked, Role::Client, NO_LIMIT),
            Ok(Status::Complete((header(OpCode::Text, 5, None), 2)))
        );
        // The same message masked, as a server receives it.
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(
            parse_server(&masked),
            Ok(Status::Complete((header(OpCode::Text, 5, Some(KEY)), 6)))
        );
        // A fragmented unmasked text message: "Hel" then "lo".
        let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
        let (h, _) = FrameHeader::parse(&first, Role::Client, NO_LIMIT)
            .unwrap()
            .complete()
            .unwrap();
        assert!(!h.fin);
        assert_eq!(h.opcode, OpCode::Text);
        let second = [0x80, 0x02, 0x6c, 0x6f];
        let (h, _) = FrameHeader::parse(&second, Role::Client, NO_LIMIT)
            .unwrap()
            .complete()
            .unwrap();
        assert!(h.fin);
        assert_eq!(h.opcode, OpCode::Continuation);
    }

    #[test]
    fn every_strict_prefix_of_a_valid_header_is_partial() {
        for len in BOUNDARY_LENGTHS {
            for (mask, role) in [(Some(KEY), Role::Server), (None, Role::Client)] {
                let bytes = encoded(&header(OpCode::Binary, len, mask));
                for cut in 0..bytes.len() {
                    assert_eq!(
                        FrameHeader::parse(&bytes[..cut], role, NO_LIMIT),
                        Ok(Status::Partial),
                        "len {len}, cut {cut}"
                    );
                }
            }
        }
    }

    #[test]
    fn bytes_after_the_header_are_not_consumed() {
        let mut bytes = encoded(&header(OpCode::Text, 3, Some(KEY)));
        bytes.extend_from_slice(b"abc\x81\x80");
        assert_eq!(
            parse_server(&bytes),
            Ok(Status::Complete((header(OpCode::Text, 3, Some(KEY)), 6)))
        );
    }

    #[test]
    fn every_rsv_bit_is_rejected_from_the_first_byte() {
        for rsv in 1..=0b111u8 {
            let b0 = 0x80 | rsv << 4 | OpCode::Text.as_u8();
            assert_rejected(
                &[b0],
                Role::Server,
                ProtocolError::ReservedBits { rsv },
                1002,
            );
            assert_rejected(
                &[b0, 0x80],
                Role::Server,
                ProtocolError::ReservedBits { rsv },
                1002,
            );
        }
        // RSV1 alone is 0b100: without permessage-deflate negotiated, it is an error too.
        assert_rejected(
            &[0xC1],
            Role::Server,
            ProtocolError::ReservedBits { rsv: 0b100 },
            1002,
        );
    }

    #[test]
    fn with_compression_rsv1_is_allowed_on_the_first_frame_of_a_message_only() {
        // RFC 7692 §6: RSV1 marks a compressed message, on its first frame.
        for (opcode, fin) in [(OpCode::Text, true), (OpCode::Binary, false)] {
            let b0 = u8::from(fin) << 7 | RSV1 << 4 | opcode.as_u8();
            let frame = [b0, 0x80 | 1, 1, 2, 3, 4, 0];
            let Ok(Status::Complete((header, 6))) =
                FrameHeader::parse_compressed(&frame, Role::Server, 125)
            else {
                panic!("{opcode:?} with RSV1 refused");
            };
            assert_eq!((header.rsv, header.opcode, header.fin), (RSV1, opcode, fin));
        }
        // RFC 7692 §6.1: never on a continuation or control frame — known from byte 0.
        for opcode in [
            OpCode::Continuation,
            OpCode::Ping,
            OpCode::Pong,
            OpCode::Close,
        ] {
            let b0 = 0x80 | RSV1 << 4 | opcode.as_u8();
            let got = FrameHeader::parse_compressed(&[b0], Role::Server, 125);
            assert_eq!(got, Err(ProtocolError::MisplacedCompressedBit { opcode }));
            assert_eq!(got.unwrap_err().close_code().as_u16(), 1002);
        }
        // RSV2 and RSV3 mean nothing to permessage-deflate.
        for rsv in [0b010, 0b001, 0b110, 0b111] {
            let b0 = 0x80 | rsv << 4 | OpCode::Text.as_u8();
            assert_eq!(
                FrameHeader::parse_compressed(&[b0], Role::Server, 125),
                Err(ProtocolError::ReservedBits { rsv })
            );
        }
    }

    #[test]
    fn every_reserved_opcode_is_rejected_from_the_first_byte() {
        for op in (0x3..=0x7).chain(0xB..=0xF) {
            assert_eq!(OpCode::from_u8(op), None);
            assert_rejected(
                &[0x80 | op],
                Role::Server,
                ProtocolError::ReservedOpcode(op),
                1002,
            );
            assert_rejected(&[op], Role::Client, ProtocolError::ReservedOpcode(op), 1002);
        }
    }

    #[test]
    fn server_rejects_unmasked_frames() {
        assert_rejected(
            &[0x81, 0x05],
            Role::Server,
            ProtocolError::UnmaskedFrame,
            1002,
        );
    }

    #[test]
    fn client_rejects_masked_frames() {
        assert_rejected(
            &[0x81, 0x85],
            Role::Client,
            ProtocolError::MaskedFrame,
            1002,
        );
    }

    #[test]
    fn fragmented_control_frames_are_rejected() {
        for op in [OpCode::Close, OpCode::Ping, OpCode::Pong] {
            assert_rejected(
                &[op.as_u8(), 0x80],
                Role::Server,
                ProtocolError::FragmentedControlFrame,
                1002,
            );
        }
    }

    #[test]
    fn control_frames_longer_than_125_bytes_are_rejected_at_the_length_byte() {
        for op in [OpCode::Close, OpCode::Ping, OpCode::Pong] {
            let b0 = 0x80 | op.as_u8();
            // 125 is the largest allowed control payload.
            assert!(
                parse_server(&[b0, 0x80 | 125, 1, 2, 3, 4])
                    .unwrap()
                    .is_complete()
            );
            // 126 and 127 announce an extended length; rejected before it arrives.
            assert_rejected(
                &[b0, 0x80 | 126],
                Role::Server,
                ProtocolError::ControlFrameTooLong(126),
                1002,
            );
            assert_rejected(
                &[b0, 0x80 | 127],
                Role::Server,
                ProtocolError::ControlFrameTooLong(127),
                1002,
            );
            // Even a non-minimal encoding of a short length is refused.
            assert_rejected(
                &[b0, 0x80 | 126, 0, 5],
                Role::Server,
                ProtocolError::ControlFrameTooLong(126),
                1002,
            );
        }
    }

    #[test]
    fn length_with_top_bit_set_is_rejected_from_its_first_byte() {
        let mut bytes = vec![0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&KEY);
        for cut in 3..=bytes.len() {
            assert_rejected(
                &bytes[..cut],
                Role::Server,
                ProtocolError::LengthTopBitSet,
                1002,
            );
        }
        // u64::MAX has the top bit set too.
        let max = [0x82, 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_rejected(&max, Role::Client, ProtocolError::LengthTopBitSet, 1002);
    }

    #[test]
    fn frame_too_large_is_reported_from_the_header_alone() {
        // A masked 16-bit length of 1001, with neither masking key nor payload present.
        let bytes = [0x82, 0x80 | 126, 0x03, 0xE9];
        let err = FrameHeader::parse(&bytes, Role::Server, 1000);
        assert_eq!(
            err,
            Err(ProtocolError::FrameTooLarge {
                len: 1001,
                max: 1000
            })
        );
        assert_eq!(err.unwrap_err().close_code(), CloseCode::MESSAGE_TOO_BIG);
        // Exactly at the limit is fine.
        let at_limit = [0x82, 0x80 | 126, 0x03, 0xE8];
        assert_eq!(
            FrameHeader::parse(&at_limit, Role::Server, 1000),
            Ok(Status::Partial)
        );
        // 7-bit and 64-bit lengths are checked too.
        assert_eq!(
            FrameHeader::parse(&[0x81, 0x80 | 11], Role::Server, 10),
            Err(ProtocolError::FrameTooLarge { len: 11, max: 10 })
        );
        let huge = [0x82, 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(
            FrameHeader::parse(&huge, Role::Client, 1 << 20),
            Err(ProtocolError::FrameTooLarge {
                len: i64::MAX as u64,
                max: 1 << 20
            })
        );
    }

    #[test]
    fn non_minimal_length_encodings_are_accepted() {
        // 5 in the 16-bit form, and 5 and 200 in the 64-bit form.
        let cases: [(&[u8], u64, usize); 3] = [
            (&[0x82, 126, 0, 5], 5, 4),
            (&[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5], 5, 10),
            (&[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 200], 200, 10),
        ];
        for (bytes, len, header_len) in cases {
            assert_eq!(
                FrameHeader::parse(bytes, Role::Client, NO_LIMIT),
                Ok(Status::Complete((
                    header(OpCode::Binary, len, None),
                    header_len
                )))
            );
        }
    }

    #[test]
    fn errors_are_found_in_byte_order() {
        // RSV bits and a reserved opcode: byte 0 is judged RSV first.
        assert_eq!(
            parse_server(&[0xF3]),
            Err(ProtocolError::ReservedBits { rsv: 0b111 })
        );
        // Unmasked and fragmented control frame: the mask bit is judged first.
        assert_eq!(
            parse_server(&[0x09, 0x00]),
            Err(ProtocolError::UnmaskedFrame)
        );
        // Fragmented and too long: fragmentation is judged first.
        assert_eq!(
            parse_server(&[0x09, 0xFE]),
            Err(ProtocolError::FragmentedControlFrame)
        );
    }

    #[test]
    fn opcodes_round_trip_and_classify() {
        let all = [
            (OpCode::Continuation, 0x0, false, "continuation"),
            (OpCode::Text, 0x1, false, "text"),
            (OpCode::Binary, 0x2, false, "binary"),
            (OpCode::Close, 0x8, true, "close"),
            (OpCode::Ping, 0x9, true, "ping"),
            (OpCode::Pong, 0xA, true, "pong"),
        ];
        for (op, value, control, name) in all {
            assert_eq!(op.as_u8(), value);
            assert_eq!(OpCode::from_u8(value), Some(op));
            assert_eq!(op.is_control(), control);
            assert_eq!(op.name(), name);
        }
        assert_eq!(OpCode::from_u8(0x10), None);
    }

    #[test]
    fn only_the_server_expects_masked_input() {
        assert!(Role::Server.expects_masked_input());
        assert!(!Role::Client.expects_masked_input());
    }

    #[test]
    fn masked_write_frame_parses_and_unmasks_to_the_payload() {
        for len in [0usize, 1, 5, 125, 126, 1000, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut out = vec![0xEE]; // bytes already in the buffer stay untouched
            write_frame(&mut out, true, OpCode::Binary, &payload, Some(KEY));
            assert_eq!(out[0], 0xEE);
            let wire = &mut out[1..];
            let (h, header_len) = parse_server(wire).unwrap().complete().unwrap();
            assert_eq!(h, header(OpCode::Binary, len as u64, Some(KEY)));
            assert_eq!(wire.len(), header_len + len);
            let body = &mut wire[header_len..];
            if len >= 4 {
                assert_ne!(body, &payload[..], "payload must go out masked");
            }
            apply_mask(body, KEY, 0);
            assert_eq!(body, &payload[..]);
        }
    }

    #[test]
    fn unmasked_write_frame_carries_the_payload_verbatim() {
        let mut out = Vec::new();
        write_frame(&mut out, true, OpCode::Text, b"Hello", None);
        // RFC 6455 §5.7: a single-frame unmasked text message.
        assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        let mut out = Vec::new();
        write_frame(&mut out, false, OpCode::Continuation, b"", None);
        assert_eq!(out, [0x00, 0x00]);
    }

    #[test]
    fn encode_writes_rsv_bits_in_place() {
        let h = FrameHeader {
            rsv: 0b101,
            ..header(OpCode::Text, 0, None)
        };
        assert_eq!(encoded(&h), [0b1101_0001, 0]);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_complete_headers_are_consistent() {
        let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
        for _ in 0..100_000 {
            let len = (rng.next() % 16) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            for role in [Role::Server, Role::Client] {
                let Ok(Status::Complete((h, header_len))) =
                    FrameHeader::parse(&bytes, role, 1 << 20)
                else {
                    continue;
                };
                assert!((2..=FrameHeader::MAX_LEN).contains(&header_len));
                assert!(header_len <= bytes.len());
                assert_eq!(h.rsv, 0);
                assert_eq!(h.mask.is_some(), role.expects_masked_input());
                assert!(h.payload_len <= 1 << 20);
                if h.opcode.is_control() {
                    assert!(h.fin && h.payload_len <= 125);
                }
                // Re-encoding yields the same header, at most as long (minimal encoding).
                let again = encoded(&h);
                assert!(again.len() <= header_len);
                assert_eq!(
                    FrameHeader::parse(&again, role, 1 << 20),
                    Ok(Status::Complete((h, again.len())))
                );
            }
        }
    }
}
