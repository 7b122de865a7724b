//! [`InflateError`]: every way a compressed message can be refused.

use std::fmt;

/// Which Huffman code of a dynamic block (RFC 1951 §3.2.7) a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// The code-length code, which compresses the other two codes' lengths.
    CodeLength,
    /// The literal/length code.
    LitLen,
    /// The distance code.
    Distance,
}

impl fmt::Display for CodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodeKind::CodeLength => "code-length",
            CodeKind::LitLen => "literal/length",
            CodeKind::Distance => "distance",
        })
    }
}

/// A compressed message that cannot be inflated, or would inflate past its limit.
///
/// Every variant but [`TooLarge`](Self::TooLarge) is a malformed DEFLATE stream; RFC 7692
/// §8 has the receiver fail the connection for them (close code 1007).
/// [`TooLarge`](Self::TooLarge) is the message size limit (close code 1009). This type
/// knows nothing of close codes: the connection maps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InflateError {
    /// The output passed the limit the caller gave.
    TooLarge {
        /// The limit of the call that passed it: how many more bytes the message could
        /// have produced.
        limit: usize,
    },
    /// RFC 1951 §3.2.3: block type 3 is reserved.
    ReservedBlockType,
    /// RFC 1951 §3.2.4: a stored block's NLEN is not the one's complement of its LEN.
    StoredLengthMismatch {
        /// LEN as sent.
        len: u16,
        /// NLEN as sent.
        nlen: u16,
    },
    /// RFC 1951 §3.2.7: more than 286 literal/length codes (HLIT > 29) or more than 30
    /// distance codes (HDIST > 29). Symbols 286, 287, 30 and 31 never occur in data,
    /// and zlib refuses such headers outright; so do we.
    TooManyCodes {
        /// Literal/length codes declared (HLIT + 257).
        litlen: u16,
        /// Distance codes declared (HDIST + 1).
        distance: u8,
    },
    /// A Huffman code's lengths claim more codes than the code space holds.
    OversubscribedCode(CodeKind),
    /// A Huffman code leaves code space unused, beyond RFC 1951's allowance of a single
    /// one-bit code (and, for distances, no code at all).
    IncompleteCode(CodeKind),
    /// RFC 1951 §3.2.7: code-length symbol 16 ("copy the previous code length") came
    /// first, with no previous length to copy.
    RepeatWithoutPrevious,
    /// RFC 1951 §3.2.7: a repeated code length runs past HLIT + HDIST lengths.
    RepeatPastEnd,
    /// RFC 1951 §3.2.5: the literal/length code has no code for end of block (256), so
    /// the block could never end.
    MissingEndOfBlock,
    /// A literal/length code that stands for no symbol usable in data: 286 or 287 of
    /// the fixed code (RFC 1951 §3.2.6), or unused space of an incomplete code.
    InvalidLengthSymbol,
    /// A distance code that stands for no symbol usable in data: 30 or 31 of the fixed
    /// code (RFC 1951 §3.2.6), or a block with no (or one) distance code using another.
    InvalidDistanceSymbol,
    /// RFC 1951 §3.2.5 / RFC 7692 §7.1.2: a back-reference reaches before the data the
    /// receiver has — this message's output plus the window kept from earlier messages
    /// — or beyond the negotiated window of 2^w bytes.
    DistanceTooFar {
        /// The distance the stream asked for.
        distance: u16,
        /// How far back a reference could reach at that point.
        available: usize,
    },
    /// Compressed bytes after a final block (BFINAL = 1) beyond the single padding octet
    /// RFC 7692 §7.2.3.4 describes: the DEFLATE stream ended and there is more.
    InputAfterEnd,
    /// RFC 7692 §7.2.2: the message, with `00 00 ff ff` appended, did not end on a
    /// block boundary (it ends inside a block, or inside a block's header).
    UnterminatedMessage,
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InflateError::TooLarge { limit } => write!(
                f,
                "compressed message inflates past the limit of {limit} more bytes"
            ),
            InflateError::ReservedBlockType => f.write_str("deflate block of reserved type 3"),
            InflateError::StoredLengthMismatch { len, nlen } => write!(
                f,
                "stored block length {len:#06x} with a complement of {nlen:#06x} that does not match"
            ),
            InflateError::TooManyCodes { litlen, distance } => write!(
                f,
                "dynamic block declares {litlen} literal/length and {distance} distance codes (at most 286 and 30)"
            ),
            InflateError::OversubscribedCode(code) => write!(f, "over-subscribed {code} code"),
            InflateError::IncompleteCode(code) => write!(f, "incomplete {code} code"),
            InflateError::RepeatWithoutPrevious => {
                f.write_str("code length repeat (16) with no previous length")
            }
            InflateError::RepeatPastEnd => {
                f.write_str("code length repeat runs past the declared codes")
            }
            InflateError::MissingEndOfBlock => {
                f.write_str("literal/length code has no end-of-block code")
            }
            InflateError::InvalidLengthSymbol => f.write_str("invalid literal/length code"),
            InflateError::InvalidDistanceSymbol => f.write_str("invalid distance code"),
            InflateError::DistanceTooFar {
                distance,
                available,
            } => write!(
                f,
                "distance {distance} reaches beyond the {available} bytes available"
            ),
            InflateError::InputAfterEnd => {
                f.write_str("compressed data after the final deflate block")
            }
            InflateError::UnterminatedMessage => {
                f.write_str("compressed message does not end on a deflate block boundary")
            }
        }
    }
}

impl std::error::Error for InflateError {}
