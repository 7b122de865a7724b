//! Fragments → messages (RFC 6455 §5.4), with text validated as the bytes arrive.
//!
//! A message is one data frame with FIN set, or a Text/Binary frame with FIN clear
//! followed by Continuation frames, the last with FIN set. Control frames may appear
//! between fragments (§5.4: "Control frames MAY be injected in the middle of a fragmented
//! message"), so they never pass through here.
//!
//! The [`Assembler`] is fed frame by frame: [`begin_frame`](Assembler::begin_frame) with
//! the header (where the continuation rules and the size limits are checked, before any
//! payload byte is stored), [`payload`](Assembler::payload) with each piece of unmasked
//! payload as it arrives, and [`end_frame`](Assembler::end_frame), which yields the
//! message when the final fragment ends. Text is checked by an incremental UTF-8
//! validator on every piece, so invalid text fails the connection (1007) at the first bad
//! byte, even in the middle of a frame that is still arriving.

use crate::config::WsLimits;
use crate::deflate::inflate::{InflateError, InflateScratchPool, Inflater};
use crate::ws::error::ProtocolError;
use crate::ws::frame::{FrameHeader, OpCode, RSV1};
use crate::ws::utf8::Utf8Validator;

/// What a compressed message's payload goes through on its way into the message
/// (permessage-deflate, RFC 7692 §7.2.2): the connection's decompressor, the scratch it
/// borrows, and the limit the *inflated* size is held to while inflating.
#[derive(Debug)]
pub struct Inflation<'a> {
    /// The connection's decompressor (its window, under context takeover).
    pub inflater: &'a mut Inflater,
    /// Where it borrows its tables.
    pub pool: &'a mut InflateScratchPool,
    /// `max_message_size`: counted on the inflated bytes.
    pub max_message_size: u64,
}

/// Kind of data message (the opcode of its first frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Opcode 0x1: the payload must be UTF-8 (§5.6).
    Text,
    /// Opcode 0x2: arbitrary bytes.
    Binary,
}

/// A message that [`Assembler::end_frame`] completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    /// A text message; validated UTF-8.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

/// The message being assembled, if any.
#[derive(Debug, Default)]
enum State {
    /// Between messages.
    #[default]
    Idle,
    /// Inside a message: its bytes so far and how many frames carried them.
    Receiving {
        kind: MessageKind,
        /// The bytes so far (always empty for a streamed message).
        data: Vec<u8>,
        /// Payload bytes received so far (what the size limit counts).
        len: u64,
        /// Streamed: each piece goes to the application as it arrives and is not kept.
        streamed: bool,
        /// For a streamed message: whether its first piece has been handed out yet.
        started: bool,
        /// Frames seen so far for this message, including the current one.
        fragments: u32,
        /// FIN of the frame currently being received.
        final_frame: bool,
        /// Its first frame had RSV1 (permessage-deflate): the payload is DEFLATE data,
        /// inflated into `data` as it arrives.
        compressed: bool,
        utf8: Utf8Validator,
    },
}

/// Assembles data frames into messages. Holds no allocation between messages.
#[derive(Debug, Default)]
pub struct Assembler {
    state: State,
}

/// A frame's payload is reserved in full when its header arrives (its length was already
/// checked against `max_frame_size`). The reservation is address space: the allocator maps
/// large blocks lazily, so memory is committed only as bytes actually arrive, and a peer
/// that announces 16 MiB and stalls costs what it sent, not what it promised. Reserving
/// once avoids growing — and copying — a large message several times.
fn reserve_for(header: &FrameHeader) -> usize {
    header.payload_len as usize
}

impl Assembler {
    /// A fresh assembler, between messages.
    pub fn new() -> Self {
        Self::default()
    }

    /// `true` while a fragmented (or still-arriving) message is incomplete.
    pub fn in_message(&self) -> bool {
        matches!(self.state, State::Receiving { .. })
    }

    /// The message in progress is streamed (see [`begin_streamed`](Self::begin_streamed)).
    pub fn is_streamed(&self) -> bool {
        matches!(self.state, State::Receiving { streamed: true, .. })
    }

    /// The kind of the message in progress.
    pub fn kind(&self) -> Option<MessageKind> {
        match self.state {
            State::Receiving { kind, .. } => Some(kind),
            State::Idle => None,
        }
    }

    /// `true` if the frame being received is the message's last (FIN).
    pub fn in_final_frame(&self) -> bool {
        matches!(
            self.state,
            State::Receiving {
                final_frame: true,
                ..
            }
        )
    }

    /// For a streamed message: is the next piece handed out its first? (Marks it handed.)
    pub fn take_first_piece(&mut self) -> bool {
        match &mut self.state {
            State::Receiving { started, .. } => !std::mem::replace(started, true),
            State::Idle => false,
        }
    }

    /// Like [`begin_frame`](Self::begin_frame) for the first frame of a message, but the
    /// message is *streamed*: its pieces are validated and counted against the limits as
    /// they arrive, and handed to the application instead of being kept. Memory for a
    /// streamed message is constant, whatever its size.
    pub fn begin_streamed(
        &mut self,
        header: &FrameHeader,
        limits: &WsLimits,
    ) -> Result<(), ProtocolError> {
        self.begin_frame(header, limits)?;
        if let State::Receiving { data, streamed, .. } = &mut self.state {
            *data = Vec::new();
            *streamed = true;
        }
        Ok(())
    }

    /// Checks a data frame's header against the continuation rules and the limits, before
    /// any of its payload is stored.
    ///
    /// # Panics
    /// If `header` is a control frame: those never take part in assembly.
    pub fn begin_frame(
        &mut self,
        header: &FrameHeader,
        limits: &WsLimits,
    ) -> Result<(), ProtocolError> {
        assert!(
            !header.opcode.is_control(),
            "control frames are not assembled"
        );
        match (&mut self.state, header.opcode) {
            (State::Idle, OpCode::Continuation) => {
                // RFC 6455 §5.4: a continuation frame continues *something*; with no
                // message in progress there is nothing to continue.
                Err(ProtocolError::UnexpectedContinuation)
            }
            (State::Idle, opcode) => {
                let kind = if opcode == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                // A compressed message's limit applies to what it inflates to, checked
                // while inflating; its frames' lengths are held to max_frame_size.
                let compressed = header.rsv & RSV1 != 0;
                if !compressed {
                    check_message_size(header.payload_len, limits)?;
                }
                let reserve = reserve_for(header);
                self.state = State::Receiving {
                    kind,
                    data: Vec::with_capacity(reserve),
                    len: 0,
                    streamed: false,
                    started: false,
                    fragments: 1,
                    final_frame: header.fin,
                    compressed,
                    utf8: Utf8Validator::new(),
                };
                Ok(())
            }
            (State::Receiving { .. }, OpCode::Text | OpCode::Binary) => {
                // RFC 6455 §5.4: "the fragments of one message MUST NOT be interleaved
                // between the fragments of another message".
                Err(ProtocolError::ExpectedContinuation)
            }
            (
                State::Receiving {
                    data,
                    len,
                    streamed,
                    fragments,
                    final_frame,
                    compressed,
                    ..
                },
                _continuation,
            ) => {
                if *fragments >= limits.max_fragments {
                    return Err(ProtocolError::TooManyFragments {
                        max: limits.max_fragments,
                    });
                }
                if !*compressed {
                    check_message_size(*len + header.payload_len, limits)?;
                }
                *fragments += 1;
                *final_frame = header.fin;
                if !*streamed {
                    data.reserve(reserve_for(header));
                }
                Ok(())
            }
        }
    }

    /// Appends a piece of (already unmasked) payload of the current frame. For text, the
    /// piece is validated at once: invalid UTF-8 fails here, not at the end. A
    /// compressed message's piece is inflated first, through `inflation` (which must be
    /// given for one: the connection negotiated permessage-deflate, or RSV1 would have
    /// failed it), and what it inflates to is validated.
    pub fn payload(
        &mut self,
        piece: &[u8],
        inflation: Option<Inflation<'_>>,
    ) -> Result<(), ProtocolError> {
        match &mut self.state {
            State::Receiving {
                kind,
                data,
                len,
                utf8,
                compressed: true,
                ..
            } => {
                let inflation = required(inflation)?;
                inflation.run(*kind, data, len, utf8, |inflater, out, limit, pool| {
                    inflater.inflate(piece, out, limit, pool)
                })
            }
            State::Receiving {
                kind,
                data,
                len,
                streamed,
                utf8,
                ..
            } => {
                if *kind == MessageKind::Text {
                    // RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as
                    // UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8
                    // stream, that endpoint MUST _Fail the WebSocket Connection_."
                    utf8.feed(piece).map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                *len += piece.len() as u64;
                if !*streamed {
                    data.extend_from_slice(piece);
                }
                Ok(())
            }
            State::Idle => {
                debug_assert!(piece.is_empty(), "payload outside a frame");
                Ok(())
            }
        }
    }

    /// The current frame's payload is complete. Returns the message if that frame had FIN.
    /// A compressed message ends its DEFLATE data there (the `00 00 ff ff` tail of RFC 7692
    /// §7.2.2), through `inflation` as for [`payload`](Self::payload).
    pub fn end_frame(
        &mut self,
        inflation: Option<Inflation<'_>>,
    ) -> Result<Option<Assembled>, ProtocolError> {
        let done = matches!(
            self.state,
            State::Receiving {
                final_frame: true,
                ..
            }
        );
        if !done {
            return Ok(None);
        }
        if let State::Receiving {
            kind,
            data,
            len,
            utf8,
            compressed: true,
            ..
        } = &mut self.state
        {
            let inflation = required(inflation)?;
            inflation.run(*kind, data, len, utf8, |inflater, out, limit, pool| {
                inflater.finish_message(out, limit, pool)
            })?;
        }
        match std::mem::take(&mut self.state) {
            State::Receiving {
                kind: MessageKind::Text,
                data,
                mut utf8,
                ..
            } => {
                // A code point cut off by the end of the message is invalid.
                utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                // Validated piece by piece above; std checks once more to build the
                // String without `unsafe`, which this crate forbids.
                String::from_utf8(data)
                    .map(|s| Some(Assembled::Text(s)))
                    .map_err(|_| ProtocolError::InvalidUtf8)
            }
            State::Receiving { data, .. } => Ok(Some(Assembled::Binary(data))),
            State::Idle => Ok(None),
        }
    }

    /// Drops any partial message (the connection is failing or closing).
    pub fn clear(&mut self) {
        self.state = State::Idle;
    }
}

/// The decompressor a compressed message needs. It is always there: RSV1 fails a
/// connection that did not negotiate permessage-deflate before a message can begin.
fn required(inflation: Option<Inflation<'_>>) -> Result<Inflation<'_>, ProtocolError> {
    inflation.ok_or_else(|| {
        debug_assert!(false, "a compressed message without a decompressor");
        ProtocolError::ReservedBits { rsv: RSV1 }
    })
}

impl Inflation<'_> {
    /// One call to the decompressor (`step`: more payload, or the message's end), given
    /// how much more the message may inflate to; then what it appended to `data` taken:
    /// over the limit is 1009 like any message too big, any other failure malformed
    /// compressed data (1007), and otherwise the new bytes are counted and, for text,
    /// validated.
    fn run(
        self,
        kind: MessageKind,
        data: &mut Vec<u8>,
        len: &mut u64,
        utf8: &mut Utf8Validator,
        step: impl FnOnce(
            &mut Inflater,
            &mut Vec<u8>,
            usize,
            &mut InflateScratchPool,
        ) -> Result<(), InflateError>,
    ) -> Result<(), ProtocolError> {
        let before = data.len();
        let limit = self.max_message_size.saturating_sub(before as u64);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        match step(self.inflater, data, limit, self.pool) {
            Ok(()) => {}
            Err(InflateError::TooLarge { .. }) => {
                return Err(ProtocolError::MessageTooLarge {
                    len: data.len() as u64,
                    max: self.max_message_size,
                });
            }
            Err(e) => return Err(ProtocolError::BadCompressedData(e)),
        }
        if kind == MessageKind::Text {
            // RFC 6455 §8.1, on the inflated text (RFC 7692 §6: the extension transforms
            // the payload; UTF-8 is a property of the message it yields).
            utf8.feed(&data[before..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        *len = data.len() as u64;
        Ok(())
    }
}

fn check_message_size(len: u64, limits: &WsLimits) -> Result<(), ProtocolError> {
    if len > limits.max_message_size {
        return Err(ProtocolError::MessageTooLarge {
            len,
            max: limits.max_message_size,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fin: bool, opcode: OpCode, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask: None,
            payload_len: len,
        }
    }

    fn frame(
        a: &mut Assembler,
        fin: bool,
        op: OpCode,
        data: &[u8],
    ) -> Result<Option<Assembled>, ProtocolError> {
        a.begin_frame(&header(fin, op, data.len() as u64), &WsLimits::default())?;
        a.payload(data, None)?;
        a.end_frame(None)
    }

    #[test]
    fn single_frame_message_is_delivered_at_its_end() {
        let mut a = Assembler::new();
        assert_eq!(
            frame(&mut a, true, OpCode::Text, b"hello"),
            Ok(Some(Assembled::Text("hello".into())))
        );
        assert!(!a.in_message());
    }

    #[test]
    fn fragments_are_joined_in_order() {
        let mut a = Assembler::new();
        assert_eq!(frame(&mut a, false, OpCode::Binary, b"ab"), Ok(None));
        assert!(a.in_message());
        assert_eq!(frame(&mut a, false, OpCode::Continuation, b""), Ok(None));
        assert_eq!(
            frame(&mut a, true, OpCode::Continuation, b"cd"),
            Ok(Some(Assembled::Binary(b"abcd".to_vec())))
        );
    }

    #[test]
    fn continuation_without_a_message_is_a_protocol_error() {
        let mut a = Assembler::new();
        assert_eq!(
            frame(&mut a, true, OpCode::Continuation, b"x"),
            Err(ProtocolError::UnexpectedContinuation)
        );
    }

    #[test]
    fn new_message_inside_a_fragmented_one_is_a_protocol_error() {
        let mut a = Assembler::new();
        frame(&mut a, false, OpCode::Text, b"a").unwrap();
        assert_eq!(
            frame(&mut a, true, OpCode::Text, b"b"),
            Err(ProtocolError::ExpectedContinuation)
        );
    }

    #[test]
    fn code_point_split_across_fragments_is_valid() {
        let mut a = Assembler::new();
        let euro = "€".as_bytes(); // E2 82 AC
        frame(&mut a, false, OpCode::Text, &euro[..1]).unwrap();
        frame(&mut a, false, OpCode::Continuation, &euro[1..2]).unwrap();
        assert_eq!(
            frame(&mut a, true, OpCode::Continuation, &euro[2..]),
            Ok(Some(Assembled::Text("€".into())))
        );
    }

    #[test]
    fn invalid_text_fails_at_the_first_bad_piece_not_at_the_end() {
        let mut a = Assembler::new();
        a.begin_frame(&header(true, OpCode::Text, 10), &WsLimits::default())
            .unwrap();
        a.payload(b"ok", None).unwrap();
        assert_eq!(a.payload(&[0xC0], None), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn text_ending_inside_a_code_point_is_invalid() {
        let mut a = Assembler::new();
        assert_eq!(
            frame(&mut a, true, OpCode::Text, &[b'a', 0xE2, 0x82]),
            Err(ProtocolError::InvalidUtf8)
        );
    }

    #[test]
    fn binary_is_not_utf8_checked() {
        let mut a = Assembler::new();
        assert_eq!(
            frame(&mut a, true, OpCode::Binary, &[0xFF, 0xC0]),
            Ok(Some(Assembled::Binary(vec![0xFF, 0xC0])))
        );
    }

    #[test]
    fn message_size_is_checked_from_headers_before_payload() {
        let limits = WsLimits {
            max_message_size: 10,
            max_frame_size: 10,
            ..WsLimits::default()
        };
        let mut a = Assembler::new();
        a.begin_frame(&header(false, OpCode::Binary, 6), &limits)
            .unwrap();
        a.payload(&[0; 6], None).unwrap();
        a.end_frame(None).unwrap();
        assert_eq!(
            a.begin_frame(&header(true, OpCode::Continuation, 5), &limits),
            Err(ProtocolError::MessageTooLarge { len: 11, max: 10 })
        );
    }

    #[test]
    fn fragment_count_is_capped() {
        let limits = WsLimits {
            max_fragments: 3,
            ..WsLimits::default()
        };
        let mut a = Assembler::new();
        a.begin_frame(&header(false, OpCode::Binary, 0), &limits)
            .unwrap();
        a.end_frame(None).unwrap();
        for _ in 0..2 {
            a.begin_frame(&header(false, OpCode::Continuation, 0), &limits)
                .unwrap();
            a.end_frame(None).unwrap();
        }
        assert_eq!(
            a.begin_frame(&header(true, OpCode::Continuation, 0), &limits),
            Err(ProtocolError::TooManyFragments { max: 3 })
        );
    }

    #[test]
    fn idle_assembler_holds_no_allocation() {
        let mut a = Assembler::new();
        frame(&mut a, true, OpCode::Binary, &[1; 100]).unwrap();
        assert!(matches!(a.state, State::Idle));
    }
}
