//! Protocol errors: the ways a peer can break RFC 6455, and what each one costs; and
//! [`SendError`], the connection's answer when the application's send does not fit its
//! state.
//!
//! When a peer violates the protocol, RFC 6455 §7.1.7 tells the endpoint to
//! _Fail the WebSocket Connection_: send a Close frame carrying a status code
//! (if it still can) and drop the TCP connection. Every [`ProtocolError`]
//! therefore knows its status code ([`ProtocolError::close_code`]), so the
//! connection state machine never has to decide it case by case.

use std::fmt;

use crate::error::UsageError;
use crate::ws::close::CloseCode;
use crate::ws::utf8::Utf8Error;

/// Why a [`WsConnection`](crate::ws::connection::WsConnection) refused to send: its
/// state (closing, a message in parts under way) or a mistaken argument. The protocol
/// state machine knows nothing of sockets or buffers, so "connection gone" and "buffer
/// full" are not here: the server's [`SendError`](crate::SendError) adds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// A Close was sent or received: no more data frames (RFC 6455 §5.5.1).
    NotOpen,
    /// A message is being sent in parts and its last part has not been sent: frames of
    /// two messages must not interleave (RFC 6455 §5.4).
    Busy,
    /// The call itself was wrong.
    Usage(UsageError),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotOpen => f.write_str("the websocket is closing"),
            SendError::Busy => f.write_str("a message is being sent in parts"),
            SendError::Usage(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SendError {}

impl From<UsageError> for SendError {
    fn from(e: UsageError) -> Self {
        SendError::Usage(e)
    }
}

/// A violation of RFC 6455 by the peer. Every variant knows its wire consequence.
///
/// Only things the *peer* did wrong live here. Local failures (I/O errors, a full
/// output buffer) are not protocol errors and are reported elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension defining them was
    /// negotiated. The only extension is permessage-deflate, which defines RSV1 (see
    /// [`MisplacedCompressedBit`](Self::MisplacedCompressedBit)); any other set bit, or
    /// RSV1 without it, is an error.
    /// `rsv` is the three bits as one value: RSV1 = `0b100`, RSV2 = `0b010`, RSV3 = `0b001`.
    ReservedBits {
        /// The received RSV bits (never 0 in an error).
        rsv: u8,
    },
    /// RFC 6455 §5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved; receiving one
    /// MUST fail the connection.
    ReservedOpcode(u8),
    /// RFC 7692 §6.1: with permessage-deflate, RSV1 ("Per-Message Compressed") may be
    /// set only on the first frame of a data message; a receiver MUST fail the
    /// connection when it is set on a control frame or a continuation frame.
    MisplacedCompressedBit {
        /// The frame that carried it.
        opcode: crate::ws::frame::OpCode,
    },
    /// RFC 6455 §5.5: control frames (close, ping, pong) MUST NOT be fragmented,
    /// so a control frame with FIN = 0 is an error.
    FragmentedControlFrame,
    /// RFC 6455 §5.5: control frames MUST have a payload of 125 bytes or less.
    ///
    /// The value is the length as far as the header declared it when the error was
    /// found. [`FrameHeader::parse`](crate::ws::frame::FrameHeader::parse) fails as soon
    /// as the 7-bit length field says 126 or 127 (an extended length follows), so from
    /// the parser this holds that field's value rather than the extended length.
    ControlFrameTooLong(u64),
    /// RFC 6455 §5.2: in the 64-bit extended payload length, "the most significant
    /// bit MUST be 0".
    LengthTopBitSet,
    /// RFC 6455 §5.1: a client MUST mask every frame it sends; a server MUST close
    /// the connection on an unmasked frame.
    UnmaskedFrame,
    /// RFC 6455 §5.1: a server MUST NOT mask frames; a client MUST close the
    /// connection on a masked frame.
    MaskedFrame,
    /// A single frame announced a payload larger than we are configured to accept.
    /// Not an RFC violation as such, but RFC 6455 §7.4.1 defines 1009 for it.
    FrameTooLarge {
        /// The payload length the frame header announced.
        len: u64,
        /// The configured limit.
        max: u64,
    },
    /// A (possibly fragmented) message grew larger than we are configured to accept
    /// (RFC 6455 §7.4.1, status code 1009).
    MessageTooLarge {
        /// The message length reached (at least) when the limit was crossed.
        len: u64,
        /// The configured limit.
        max: u64,
    },
    /// A fragmented message used more frames than we are configured to accept.
    /// This bounds the per-message work an attacker can cause with tiny fragments
    /// (status code 1009, RFC 6455 §7.4.1).
    TooManyFragments {
        /// The configured limit on fragments per message.
        max: u32,
    },
    /// RFC 6455 §5.4: a continuation frame arrived while no fragmented message
    /// was in progress, so there is nothing for it to continue.
    UnexpectedContinuation,
    /// RFC 6455 §5.4: a new text or binary frame arrived while a fragmented message
    /// was still in progress; fragments of different messages MUST NOT interleave.
    ExpectedContinuation,
    /// RFC 6455 §8.1: a text message is not valid UTF-8 (status code 1007, §7.4.1).
    InvalidUtf8,
    /// A compressed message (permessage-deflate, RFC 7692) is not valid DEFLATE data, or
    /// reaches further back than the agreed window: its payload cannot be read, which
    /// RFC 6455 §7.4.1 answers with 1007 ("data within a message that was not
    /// consistent with the type of the message").
    BadCompressedData(crate::deflate::inflate::InflateError),
    /// RFC 6455 §5.5.1: a Close payload, if present, starts with a 2-byte status
    /// code, so a 1-byte payload is malformed.
    InvalidClosePayload,
    /// RFC 6455 §7.4: the Close frame carried a status code that may not appear on
    /// the wire (unassigned, reserved such as 1005/1006/1015, or out of range).
    InvalidCloseCode(u16),
    /// RFC 6455 §5.5.1: the Close reason MUST be UTF-8 (status code 1007, §7.4.1).
    InvalidCloseReason,
}

impl ProtocolError {
    /// The status code to put in the Close frame that fails the connection (§7.4.1).
    ///
    /// * 1002 (protocol error): the framing rules of §5 were broken.
    /// * 1007 (invalid payload data): text or a close reason was not UTF-8.
    /// * 1009 (message too big): one of our configured size limits was exceeded.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::ReservedBits { .. }
            | ProtocolError::ReservedOpcode(_)
            | ProtocolError::MisplacedCompressedBit { .. }
            | ProtocolError::FragmentedControlFrame
            | ProtocolError::ControlFrameTooLong(_)
            | ProtocolError::LengthTopBitSet
            | ProtocolError::UnmaskedFrame
            | ProtocolError::MaskedFrame
            | ProtocolError::UnexpectedContinuation
            | ProtocolError::ExpectedContinuation
            | ProtocolError::InvalidClosePayload
            | ProtocolError::InvalidCloseCode(_) => CloseCode::PROTOCOL_ERROR,
            ProtocolError::FrameTooLarge { .. }
            | ProtocolError::MessageTooLarge { .. }
            | ProtocolError::TooManyFragments { .. } => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::InvalidUtf8
            | ProtocolError::InvalidCloseReason
            | ProtocolError::BadCompressedData(_) => CloseCode::INVALID_PAYLOAD,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedBits { rsv } => write!(
                f,
                "reserved bits set (rsv = {rsv:#05b}) but no extension was negotiated"
            ),
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::MisplacedCompressedBit { opcode } => write!(
                f,
                "rsv1 (compressed) set on a {} frame: only a message's first frame may carry it",
                opcode.name()
            ),
            ProtocolError::FragmentedControlFrame => {
                f.write_str("fragmented control frame (fin = 0 on a control opcode)")
            }
            ProtocolError::ControlFrameTooLong(len) => write!(
                f,
                "control frame payload length {len} exceeds the 125-byte limit"
            ),
            ProtocolError::LengthTopBitSet => {
                f.write_str("64-bit payload length has its most significant bit set")
            }
            ProtocolError::UnmaskedFrame => f.write_str("unmasked frame from a client"),
            ProtocolError::MaskedFrame => f.write_str("masked frame from a server"),
            ProtocolError::FrameTooLarge { len, max } => write!(
                f,
                "frame payload of {len} bytes exceeds the limit of {max} bytes"
            ),
            ProtocolError::MessageTooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max} bytes")
            }
            ProtocolError::TooManyFragments { max } => {
                write!(f, "message has more than {max} fragments")
            }
            ProtocolError::UnexpectedContinuation => {
                f.write_str("continuation frame without a message in progress")
            }
            ProtocolError::ExpectedContinuation => {
                f.write_str("new data frame while a fragmented message is in progress")
            }
            ProtocolError::InvalidUtf8 => f.write_str("invalid utf-8 in a text message"),
            ProtocolError::BadCompressedData(e) => write!(f, "bad compressed data: {e}"),
            ProtocolError::InvalidClosePayload => {
                f.write_str("close payload of 1 byte (a status code needs 2)")
            }
            ProtocolError::InvalidCloseCode(code) => {
                write!(f, "close code {code} is not allowed on the wire")
            }
            ProtocolError::InvalidCloseReason => f.write_str("close reason is not valid utf-8"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Invalid UTF-8 in a text message is the protocol error of RFC 6455 §8.1,
/// so a validator's verdict can be propagated with `?`.
impl From<Utf8Error> for ProtocolError {
    fn from(_: Utf8Error) -> Self {
        ProtocolError::InvalidUtf8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of every variant, so the tests below cover them all.
    fn all_variants() -> Vec<ProtocolError> {
        vec![
            ProtocolError::ReservedBits { rsv: 0b101 },
            ProtocolError::ReservedOpcode(0x3),
            ProtocolError::FragmentedControlFrame,
            ProtocolError::ControlFrameTooLong(126),
            ProtocolError::LengthTopBitSet,
            ProtocolError::UnmaskedFrame,
            ProtocolError::MaskedFrame,
            ProtocolError::FrameTooLarge {
                len: 70000,
                max: 65536,
            },
            ProtocolError::MessageTooLarge {
                len: 2_000_000,
                max: 1_048_576,
            },
            ProtocolError::TooManyFragments { max: 1024 },
            ProtocolError::UnexpectedContinuation,
            ProtocolError::ExpectedContinuation,
            ProtocolError::InvalidUtf8,
            ProtocolError::InvalidClosePayload,
            ProtocolError::InvalidCloseCode(1005),
            ProtocolError::InvalidCloseReason,
        ]
    }

    #[test]
    fn framing_violations_close_with_protocol_error_1002() {
        for e in [
            ProtocolError::ReservedBits { rsv: 0b100 },
            ProtocolError::ReservedOpcode(0xB),
            ProtocolError::FragmentedControlFrame,
            ProtocolError::ControlFrameTooLong(127),
            ProtocolError::LengthTopBitSet,
            ProtocolError::UnmaskedFrame,
            ProtocolError::MaskedFrame,
            ProtocolError::UnexpectedContinuation,
            ProtocolError::ExpectedContinuation,
            ProtocolError::InvalidClosePayload,
            ProtocolError::InvalidCloseCode(999),
        ] {
            assert_eq!(e.close_code(), CloseCode::PROTOCOL_ERROR, "{e:?}");
        }
    }

    #[test]
    fn exceeded_limits_close_with_message_too_big_1009() {
        for e in [
            ProtocolError::FrameTooLarge { len: 2, max: 1 },
            ProtocolError::MessageTooLarge { len: 2, max: 1 },
            ProtocolError::TooManyFragments { max: 1 },
        ] {
            assert_eq!(e.close_code(), CloseCode::MESSAGE_TOO_BIG, "{e:?}");
        }
    }

    #[test]
    fn bad_utf8_closes_with_invalid_payload_1007() {
        assert_eq!(
            ProtocolError::InvalidUtf8.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert_eq!(
            ProtocolError::InvalidCloseReason.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
    }

    #[test]
    fn every_close_code_is_one_allowed_on_the_wire() {
        for e in all_variants() {
            assert!(e.close_code().is_valid_on_wire(), "{e:?}");
        }
    }

    #[test]
    fn display_is_lowercase_and_mentions_the_numbers() {
        for e in all_variants() {
            let s = e.to_string();
            assert!(!s.is_empty());
            assert_eq!(s, s.to_lowercase(), "{e:?} displays as {s:?}");
        }
        assert_eq!(
            ProtocolError::ReservedBits { rsv: 0b101 }.to_string(),
            "reserved bits set (rsv = 0b101) but no extension was negotiated"
        );
        assert_eq!(
            ProtocolError::ReservedOpcode(0xB).to_string(),
            "reserved opcode 0xb"
        );
        let too_large = ProtocolError::FrameTooLarge {
            len: 70000,
            max: 65536,
        }
        .to_string();
        assert!(too_large.contains("70000") && too_large.contains("65536"));
        assert!(
            ProtocolError::ControlFrameTooLong(126)
                .to_string()
                .contains("126")
        );
        assert!(
            ProtocolError::TooManyFragments { max: 1024 }
                .to_string()
                .contains("1024")
        );
        assert!(
            ProtocolError::InvalidCloseCode(1005)
                .to_string()
                .contains("1005")
        );
    }

    #[test]
    fn utf8_error_converts_to_invalid_utf8() {
        assert_eq!(ProtocolError::from(Utf8Error), ProtocolError::InvalidUtf8);
    }
}
