//! One WebSocket connection as a deterministic state machine: bytes and time in, events
//! and bytes out.
//!
//! [`WsConnection`] never touches a socket or reads the clock. Its methods come in the
//! four classes of a sans-IO protocol object:
//!
//! * **inputs**: [`handle_input`](WsConnection::handle_input) (bytes from the peer),
//!   [`handle_eof`](WsConnection::handle_eof) (the peer's TCP stream ended) and
//!   [`handle_timeout`](WsConnection::handle_timeout) (time passed);
//! * **commands**: [`send`](WsConnection::send), [`ping`](WsConnection::ping),
//!   [`close`](WsConnection::close);
//! * **outputs**: events returned by the input methods, bytes appended to the caller's
//!   `out` buffer, and [`poll_timeout`](WsConnection::poll_timeout), the next instant at
//!   which [`handle_timeout`](WsConnection::handle_timeout) must be called;
//! * **getters**: [`is_open`](WsConnection::is_open), [`is_closed`](WsConnection::is_closed).
//!
//! Reading a frame: the header is parsed ([`FrameHeader::parse`]), which enforces the
//! framing rules and the frame-size limit before any payload is looked at. A control
//! frame (≤ 131 bytes in all) is handled once it is complete. A data frame that is
//! complete in the input and is a whole message is unmasked in place and lent to the
//! caller without a copy; any other data frame is streamed, piece by piece as bytes
//! arrive, through the [`Assembler`], which validates text at once.
//!
//! Closing (RFC 6455 §7): either side may start the closing handshake. When the peer
//! starts it, we echo its status code and are done; when we start it, we wait (up to
//! `close_timeout`) for the peer's Close. When the peer breaks the protocol we *fail the
//! connection* (§7.1.7): send a Close with the error's code and stop reading. In every
//! case the connection ends closed ([`is_closed`](WsConnection::is_closed)), where the driver flushes what is queued
//! and closes TCP — the server closes TCP first (§7.1.1).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::WsLimits;
use crate::error::UsageError;
use crate::message::{Message, MessagePart};
use crate::status::Status;
use crate::ws::assemble::{Assembled, Assembler, Inflation, MessageKind};
use crate::ws::close::{self, CloseCode};
use crate::ws::compression::{
    CodecPools, CompressOptions, PerMessageDeflate, SharedFrame, SharedMessage,
};
use crate::ws::error::{ProtocolError, SendError};
use crate::ws::frame::{self, FrameHeader, OpCode, RSV1, Role};
use crate::ws::mask::apply_mask;
use crate::ws::permessage_deflate::Agreement;

/// Something the application should know about.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEvent<'i> {
    /// A complete data message.
    Message(Message<'i>),
    /// A piece of a large message, delivered as it arrives (only when
    /// [`WsLimits::stream_over`] is set; see [`MessagePart`]).
    Part(MessagePart<'i>),
    /// The peer pinged; the pong is already queued (RFC 6455 §5.5.2).
    Ping(&'i [u8]),
    /// The peer sent a pong (an answer to our ping, or unsolicited — §5.5.3 allows both).
    Pong(&'i [u8]),
    /// The connection is over; no event follows. Emitted exactly once.
    Closed(CloseEvent<'i>),
}

/// How and why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseEvent<'a> {
    /// The code that describes the end, following RFC 6455 §7.1.5: the code in the Close
    /// frame we received ([`CloseCode::NO_STATUS_RECEIVED`], 1005, if it had none), or
    /// [`CloseCode::ABNORMAL_CLOSURE`], 1006, when the connection ended without a Close
    /// from the peer. When we failed the connection, it is the code we sent.
    pub code: CloseCode,
    /// The reason text of the Close frame that `code` came from (may be empty).
    pub reason: Cow<'a, str>,
    /// Who ended it, and how.
    pub kind: CloseKind,
}

/// Who ended a connection, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// The peer started the closing handshake; we answered.
    Remote,
    /// We started the closing handshake (the application asked) and the peer answered.
    Local,
    /// We failed the connection because the peer broke the protocol (RFC 6455 §7.1.7).
    Failed(ProtocolError),
    /// No closing handshake completed: TCP ended, or a close or keepalive timeout ran out.
    Abnormal,
}

impl CloseEvent<'_> {
    fn abnormal() -> CloseEvent<'static> {
        CloseEvent {
            code: CloseCode::ABNORMAL_CLOSURE,
            reason: Cow::Borrowed(""),
            kind: CloseKind::Abnormal,
        }
    }

    /// A copy that owns its reason.
    pub fn into_owned(self) -> CloseEvent<'static> {
        CloseEvent {
            code: self.code,
            reason: Cow::Owned(self.reason.into_owned()),
            kind: self.kind,
        }
    }
}

/// The closing-handshake state (RFC 6455 §7). Each variant owns the data valid in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Both directions are open.
    Open,
    /// We sent a Close and wait for the peer's until `deadline` (§7.1.1). Messages keep
    /// arriving meanwhile — the peer may have sent them before it saw our Close — and are
    /// delivered: nothing the peer sent is lost. Only sending is over (§5.5.1).
    CloseSent { deadline: Instant },
    /// Finished. Nothing more is read or sent except what is already queued.
    Closed,
}

/// Where we are in the incoming byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadState {
    /// The next byte starts a frame header.
    Header,
    /// Inside the payload of a data frame being streamed into the assembler.
    Payload {
        mask: Option<[u8; 4]>,
        /// Payload bytes of this frame not yet received.
        remaining: u64,
        /// Payload bytes of this frame already received (the masking offset, §5.3).
        offset: u64,
    },
}

/// Keepalive: are we waiting for the peer to show it is alive?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keepalive {
    /// Nothing outstanding; a ping is due `ping_interval` after the last byte received.
    Idle,
    /// We pinged at this instant and have heard nothing since.
    AwaitingPong { since: Instant },
}

/// A WebSocket connection (either role) after a successful opening handshake.
#[derive(Debug)]
pub struct WsConnection {
    role: Role,
    state: State,
    read: ReadState,
    assembler: Assembler,
    keepalive: Keepalive,
    /// When the last byte arrived from the peer.
    last_rx: Instant,
    limits: WsLimits,
    /// Client role only: the source of masking keys (RFC 6455 §5.3: "derived from a
    /// strong source of entropy"). Seeded by the caller, so tests are deterministic.
    mask_keys: Option<Box<StdRng>>,
    /// We are sending a message in parts ([`send_part`](Self::send_part)) and have not sent
    /// its last part: no other data frame may go out until then (§5.4).
    sending_parts: bool,
    /// permessage-deflate, when the handshake agreed on it (RFC 7692).
    deflate: Option<Box<PerMessageDeflate>>,
}

/// What one parsing step found; ranges index the slice the step was given.
#[derive(Debug)]
enum Step {
    /// Nothing more can be done until more bytes arrive.
    NeedMore,
    /// Consumed this many bytes; no event yet.
    Progress(usize),
    /// Consumed this many bytes and produced an event.
    Event(usize, RawEvent),
}

/// An event whose borrowed parts are still ranges into the input.
#[derive(Debug)]
enum RawEvent {
    /// A whole single-frame text message, unmasked in place, not yet UTF-8 checked.
    Text(Range<usize>),
    Binary(Range<usize>),
    Assembled(Assembled),
    Part {
        is_text: bool,
        range: Range<usize>,
        first: bool,
        last: bool,
    },
    Ping(Range<usize>),
    Pong(Range<usize>),
    Closed {
        code: CloseCode,
        reason: Range<usize>,
        kind: CloseKind,
    },
    /// We failed the connection.
    Failed(CloseEvent<'static>),
}

impl WsConnection {
    /// A connection in the server role, open as of `now` (the 101 response was sent).
    pub fn server(limits: WsLimits, now: Instant) -> Self {
        WsConnection {
            role: Role::Server,
            state: State::Open,
            read: ReadState::Header,
            assembler: Assembler::new(),
            keepalive: Keepalive::Idle,
            last_rx: now,
            limits,
            mask_keys: None,
            sending_parts: false,
            deflate: None,
        }
    }

    /// This connection speaks permessage-deflate as `agreement` says (RFC 7692): RSV1
    /// marks compressed messages both ways, and ours are compressed as `options` say.
    pub fn with_deflate(mut self, agreement: &Agreement, options: CompressOptions) -> Self {
        self.deflate = Some(Box::new(PerMessageDeflate::new(agreement, options)));
        self
    }

    /// The permessage-deflate state, for tests that look at what it holds.
    #[cfg(test)]
    pub(crate) fn deflate_state(&self) -> Option<&PerMessageDeflate> {
        self.deflate.as_deref()
    }

    /// Gives the compression scratch this connection holds back to `pools` (it is over,
    /// or being dropped); nothing else changes.
    pub fn release_codecs(&mut self, pools: &mut CodecPools) {
        if let Some(deflate) = &mut self.deflate {
            deflate.release(pools);
        }
    }

    /// A connection in the client role, open as of `now` (the server's 101 was
    /// validated). Every frame it sends is masked with a fresh key drawn from a
    /// generator seeded with `mask_seed`; pass 32 bytes from the operating system's
    /// random source (as [`Client`](crate::client::Client) does), or a fixed seed in tests.
    pub fn client(limits: WsLimits, now: Instant, mask_seed: [u8; 32]) -> Self {
        WsConnection {
            role: Role::Client,
            mask_keys: Some(Box::new(StdRng::from_seed(mask_seed))),
            ..WsConnection::server(limits, now)
        }
    }

    /// Which end of the connection this is.
    pub fn role(&self) -> Role {
        self.role
    }

    // ===== getters =====

    /// `true` while messages may be sent (no Close sent or received yet).
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// `true` once the connection is over; the driver closes TCP after flushing `out`.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    // ===== inputs =====

    /// Feeds bytes received from the peer. Returns how many bytes were consumed and at
    /// most one event. Call again with the unconsumed rest until it returns no event;
    /// the bytes it leaves unconsumed are an incomplete frame header or control frame
    /// (at most 131 bytes) and must be offered again, with more bytes appended, next time.
    ///
    /// `input` is unmasked in place. Replies the protocol requires (pong, Close) are
    /// appended to `out`.
    pub fn handle_input<'i>(
        &mut self,
        input: &'i mut [u8],
        out: &mut Vec<u8>,
        now: Instant,
    ) -> (usize, Option<WsEvent<'i>>) {
        self.handle_input_pooled(input, out, now, &mut CodecPools::default())
    }

    /// [`handle_input`](Self::handle_input), with compressed messages inflated using
    /// scratch from `pools` (a server's, shared by its connections) rather than scratch
    /// of their own.
    pub fn handle_input_pooled<'i>(
        &mut self,
        input: &'i mut [u8],
        out: &mut Vec<u8>,
        now: Instant,
        pools: &mut CodecPools,
    ) -> (usize, Option<WsEvent<'i>>) {
        if !input.is_empty() {
            // Any byte from the peer proves it is alive (keepalive, §5.5.2 is only a means).
            self.last_rx = now;
            self.keepalive = Keepalive::Idle;
        }
        let mut pos = 0;
        let found = loop {
            match self.step(&mut input[pos..], out, pools) {
                Step::NeedMore => break None,
                Step::Progress(n) => pos += n,
                Step::Event(n, event) => {
                    let base = pos;
                    pos += n;
                    break Some((base, event));
                }
            }
        };
        let input: &'i [u8] = input;
        let Some((base, raw)) = found else {
            return (pos, None);
        };
        let at = |r: Range<usize>| &input[base + r.start..base + r.end];
        let event = match raw {
            RawEvent::Text(r) => match std::str::from_utf8(at(r)) {
                Ok(text) => WsEvent::Message(Message::Text(Cow::Borrowed(text))),
                // RFC 6455 §8.1: invalid UTF-8 in a text message fails the connection.
                Err(_) => WsEvent::Closed(self.fail(ProtocolError::InvalidUtf8, out)),
            },
            RawEvent::Binary(r) => WsEvent::Message(Message::Binary(Cow::Borrowed(at(r)))),
            RawEvent::Assembled(Assembled::Text(s)) => {
                WsEvent::Message(Message::Text(Cow::Owned(s)))
            }
            RawEvent::Assembled(Assembled::Binary(b)) => {
                WsEvent::Message(Message::Binary(Cow::Owned(b)))
            }
            RawEvent::Part {
                is_text,
                range,
                first,
                last,
            } => WsEvent::Part(MessagePart {
                is_text,
                data: at(range),
                first,
                last,
            }),
            RawEvent::Ping(r) => WsEvent::Ping(at(r)),
            RawEvent::Pong(r) => WsEvent::Pong(at(r)),
            RawEvent::Failed(event) => WsEvent::Closed(event),
            RawEvent::Closed { code, reason, kind } => {
                // The reason was validated as UTF-8 by `close::parse_close_payload`.
                let reason = std::str::from_utf8(at(reason)).unwrap_or_default();
                WsEvent::Closed(CloseEvent {
                    code,
                    reason: Cow::Borrowed(reason),
                    kind,
                })
            }
        };
        if self.state == State::Closed {
            // Nothing after the end of the conversation is looked at.
            pos = input.len();
        }
        (pos, Some(event))
    }

    /// The peer's TCP stream ended (read returned 0) or the socket failed. Returns the
    /// `Closed` event unless one was already emitted.
    pub fn handle_eof(&mut self) -> Option<CloseEvent<'static>> {
        if self.state == State::Closed {
            return None;
        }
        // RFC 6455 §7.1.5: closed without a Close frame → 1006.
        self.state = State::Closed;
        self.assembler.clear();
        Some(CloseEvent::abnormal())
    }

    /// Time has reached (or passed) [`poll_timeout`](Self::poll_timeout). May queue a
    /// keepalive ping in `out`, or end the connection (the returned `Closed` event).
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Option<CloseEvent<'static>> {
        match self.state {
            State::CloseSent { deadline } if now >= deadline => {
                // RFC 6455 §7.1.1: the peer did not answer our Close in time.
                self.state = State::Closed;
                self.assembler.clear();
                Some(CloseEvent::abnormal())
            }
            State::Open => {
                let interval = self.limits.ping_interval?;
                match self.keepalive {
                    Keepalive::AwaitingPong { since }
                        if now >= since + self.limits.pong_timeout =>
                    {
                        // The peer has been silent for ping_interval + pong_timeout: it is
                        // gone without a TCP reset (a dead NAT mapping, a pulled cable).
                        self.state = State::Closed;
                        self.assembler.clear();
                        Some(CloseEvent::abnormal())
                    }
                    Keepalive::Idle if now >= self.last_rx + interval => {
                        self.write_frame(out, OpCode::Ping, b"");
                        self.keepalive = Keepalive::AwaitingPong { since: now };
                        None
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    // ===== commands =====

    /// Queues a data message in `out` as a single frame (masked in the client role,
    /// never in the server role: RFC 6455 §5.1) — compressed, if permessage-deflate was
    /// agreed and the message is long enough.
    pub fn send(&mut self, message: &Message<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        self.send_pooled(message, out, &mut CodecPools::default())
    }

    /// [`send`](Self::send), compressing with scratch from `pools`.
    pub fn send_pooled(
        &mut self,
        message: &Message<'_>,
        out: &mut Vec<u8>,
        pools: &mut CodecPools,
    ) -> Result<(), SendError> {
        if self.state != State::Open {
            // RFC 6455 §5.5.1: after sending a Close, no more data frames.
            return Err(SendError::NotOpen);
        }
        if self.sending_parts {
            // RFC 6455 §5.4: the fragments of one message must not be interleaved.
            return Err(SendError::Busy);
        }
        let opcode = if message.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        let payload = message.as_bytes();
        match self.deflate.as_deref_mut() {
            Some(deflate) if payload.len() >= deflate.min_size => {
                // RFC 7692 §7.2.1: the whole message compressed, RSV1 on its frame.
                produced_frame(&mut self.mask_keys, out, true, RSV1, opcode, |out| {
                    let before = out.len();
                    deflate
                        .compressor
                        .compress_message_pooled(&mut pools.compress, payload, out);
                    pools.stats.count(payload.len(), out.len() - before);
                });
            }
            _ => self.write_frame(out, opcode, payload),
        }
        Ok(())
    }

    /// Would a message of `len` bytes go out compressed ([`send`](Self::send))? Then it
    /// cannot be sent by reference ([`send_header`](Self::send_header)).
    pub fn compresses(&self, len: usize) -> bool {
        self.deflate.as_ref().is_some_and(|d| len >= d.min_size)
    }

    /// Queues the header of a single-frame message whose payload the caller sends right
    /// after `out` itself, without copying it into `out` (large payloads). In the client
    /// role the payload is masked in place, which is why it is `&mut`.
    pub fn send_header(
        &mut self,
        is_text: bool,
        payload: &mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let mask = self
            .mask_keys
            .as_mut()
            .map(|rng| rng.next_u32().to_ne_bytes());
        let header = self.whole_message_header(is_text, payload.len(), mask)?;
        if let Some(key) = mask {
            apply_mask(payload, key, 0);
        }
        header.encode(out);
        Ok(())
    }

    /// The header of a single-frame message whose payload is shared with other
    /// connections (sent after it without copying): written into `head`, its length
    /// returned. Server role only: a client's payload is masked (RFC 6455 §5.3), so it
    /// can never be shared.
    /// How `message`, shared with other connections, goes to this one
    /// ([`shared`](crate::ws::compression::shared)): its header is written into `head`,
    /// and the payload to follow it is returned — the message itself, or its compressed
    /// form for this connection's level and window, made now if no connection asked for
    /// it before. [`SharedFrame::Own`] when this connection must encode the message
    /// itself: a client (every frame is masked with its own key, RFC 6455 §5.3), or a
    /// compressor with context takeover (its output depends on what this connection
    /// sent before, RFC 7692 §7.2.1).
    pub fn send_shared(
        &mut self,
        message: &mut SharedMessage,
        head: &mut [u8; FrameHeader::MAX_LEN],
        pools: &mut CodecPools,
    ) -> Result<SharedFrame, SendError> {
        // The checks of every send, before anything is compressed.
        self.whole_message_header(message.is_text(), message.len(), None)?;
        if self.mask_keys.is_some() {
            return Ok(SharedFrame::Own);
        }
        let compressed = match self.deflate.as_deref() {
            Some(deflate) if message.len() >= deflate.min_size => {
                let compressor = &deflate.compressor;
                if compressor.keeps_context() {
                    return Ok(SharedFrame::Own);
                }
                message
                    .compressed(compressor.level(), compressor.window_bits(), pools)
                    .cloned()
            }
            _ => None,
        };
        let (rsv, payload) = match compressed {
            // RFC 7692 §6: RSV1 on the message's (only) frame says it is compressed.
            Some(compressed) => (RSV1, compressed),
            None => (0, Arc::clone(message.payload())),
        };
        let mut header = self.whole_message_header(message.is_text(), payload.len(), None)?;
        header.rsv = rsv;
        Ok(SharedFrame::Shared {
            head_len: header.encode_into(head),
            payload,
        })
    }

    /// The header of a message sent as one frame whose payload is written apart from it:
    /// refused unless open, and between the parts of a message sent in pieces (§5.4).
    fn whole_message_header(
        &self,
        is_text: bool,
        payload_len: usize,
        mask: Option<[u8; 4]>,
    ) -> Result<FrameHeader, SendError> {
        if self.state != State::Open {
            return Err(SendError::NotOpen);
        }
        if self.sending_parts {
            return Err(SendError::Busy);
        }
        Ok(FrameHeader {
            fin: true,
            rsv: 0,
            opcode: if is_text {
                OpCode::Text
            } else {
                OpCode::Binary
            },
            mask,
            payload_len: payload_len as u64,
        })
    }

    /// Queues a data message split into frames of at most `fragment_size` payload bytes
    /// (RFC 6455 §5.4: the first frame carries the opcode, the rest are continuations, the
    /// last has FIN). An empty message is one empty frame. The frames go out uncompressed
    /// (RSV1 clear) even when permessage-deflate was agreed — RFC 7692 §6 leaves that
    /// choice to the sender, message by message; [`send_part`](Self::send_part)
    /// compresses.
    ///
    /// # Panics
    /// If `fragment_size` is 0.
    pub fn send_fragmented(
        &mut self,
        message: &Message<'_>,
        fragment_size: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        assert!(fragment_size > 0, "fragments must carry at least one byte");
        if self.state != State::Open {
            return Err(SendError::NotOpen);
        }
        if self.sending_parts {
            return Err(SendError::Busy);
        }
        let mut opcode = if message.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        let bytes = message.as_bytes();
        let mut chunks = bytes.chunks(fragment_size).peekable();
        if chunks.peek().is_none() {
            self.write_frame_fin(out, true, opcode, b"");
            return Ok(());
        }
        while let Some(chunk) = chunks.next() {
            let fin = chunks.peek().is_none();
            self.write_frame_fin(out, fin, opcode, chunk);
            opcode = OpCode::Continuation;
        }
        Ok(())
    }

    /// Queues one part of a message sent in pieces, e.g. forwarding the
    /// [`MessagePart`]s of a streamed message as they arrive: the first part's frame
    /// carries the opcode, later ones are continuations, the last has FIN (§5.4). Until
    /// the last part, other messages are refused with [`SendError::Busy`]; control frames
    /// may still interleave.
    pub fn send_part(
        &mut self,
        part: &MessagePart<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.send_part_pooled(part, out, &mut CodecPools::default())
    }

    /// [`send_part`](Self::send_part), compressing with scratch from `pools`. With
    /// permessage-deflate a message sent in parts is compressed as one stream (RFC 7692
    /// §7.2.1): each part's frame carries what the compressor has produced so far, RSV1
    /// on the first, and the last ends the stream with its sync flush.
    pub fn send_part_pooled(
        &mut self,
        part: &MessagePart<'_>,
        out: &mut Vec<u8>,
        pools: &mut CodecPools,
    ) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::NotOpen);
        }
        if part.first == self.sending_parts {
            return Err(if part.first {
                SendError::Busy
            } else {
                UsageError::PartOutOfOrder.into()
            });
        }
        let opcode = match (part.first, part.is_text) {
            (true, true) => OpCode::Text,
            (true, false) => OpCode::Binary,
            (false, _) => OpCode::Continuation,
        };
        match self.deflate.as_deref_mut() {
            Some(deflate) if part.first || deflate.compressing_parts => {
                deflate.compressing_parts = !part.last;
                let rsv = if part.first { RSV1 } else { 0 };
                produced_frame(&mut self.mask_keys, out, part.last, rsv, opcode, |out| {
                    let before = out.len();
                    let compressor = &mut deflate.compressor;
                    compressor.write_pooled(&mut pools.compress, part.data, out);
                    if part.last {
                        compressor.finish_message_pooled(&mut pools.compress, out);
                    }
                    let produced = out.len() - before;
                    pools.stats.count_part(part.data.len(), produced, part.last);
                });
            }
            _ => self.write_frame_fin(out, part.last, opcode, part.data),
        }
        self.sending_parts = !part.last;
        Ok(())
    }

    /// `true` between the first and the last [`send_part`](Self::send_part) of a message.
    pub fn is_sending_parts(&self) -> bool {
        self.sending_parts
    }

    /// Queues a ping (payload at most 125 bytes, RFC 6455 §5.5).
    pub fn ping(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), SendError> {
        if payload.len() > 125 {
            return Err(UsageError::ControlPayloadTooLong(payload.len()).into());
        }
        if self.state != State::Open {
            return Err(SendError::NotOpen);
        }
        self.write_frame(out, OpCode::Ping, payload);
        Ok(())
    }

    /// Starts the closing handshake: queues a Close with `code` and `reason`, and waits
    /// for the peer's Close until `now + close_timeout`.
    pub fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<(), SendError> {
        if !code.is_valid_on_wire() {
            return Err(UsageError::InvalidCloseCode(code).into());
        }
        if reason.len() > close::MAX_REASON_LEN {
            return Err(UsageError::CloseReasonTooLong(reason.len()).into());
        }
        if self.state != State::Open {
            return Err(SendError::NotOpen);
        }
        self.write_close(out, Some(code), reason);
        self.state = State::CloseSent {
            deadline: now + self.limits.close_timeout,
        };
        Ok(())
    }

    // ===== outputs =====

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Open => {
                let interval = self.limits.ping_interval?;
                Some(match self.keepalive {
                    Keepalive::Idle => self.last_rx + interval,
                    Keepalive::AwaitingPong { since } => since + self.limits.pong_timeout,
                })
            }
            State::CloseSent { deadline } => Some(deadline),
            State::Closed => None,
        }
    }

    // ===== internals =====

    /// One parsing step over `buf` (the unconsumed input).
    fn step(&mut self, buf: &mut [u8], out: &mut Vec<u8>, pools: &mut CodecPools) -> Step {
        if self.state == State::Closed {
            return Step::NeedMore;
        }
        match self.read {
            ReadState::Header => self.step_header(buf, out),
            ReadState::Payload {
                mask,
                remaining,
                offset,
            } => {
                if remaining > 0 && buf.is_empty() {
                    return Step::NeedMore;
                }
                let n = remaining.min(buf.len() as u64) as usize;
                let piece = &mut buf[..n];
                if let Some(key) = mask {
                    apply_mask(piece, key, offset as usize);
                }
                let inflation = inflation_of(&mut self.deflate, pools, &self.limits);
                if let Err(e) = self.assembler.payload(piece, inflation) {
                    return self.fail_step(e, out);
                }
                let streamed = self.assembler.is_streamed();
                let is_text = self.assembler.kind() == Some(MessageKind::Text);
                if remaining > n as u64 {
                    self.read = ReadState::Payload {
                        mask,
                        remaining: remaining - n as u64,
                        offset: offset + n as u64,
                    };
                    if streamed && n > 0 {
                        // A streamed message: hand this piece out now, keep nothing.
                        let first = self.assembler.take_first_piece();
                        let part = RawEvent::Part {
                            is_text,
                            range: 0..n,
                            first,
                            last: false,
                        };
                        return Step::Event(n, part);
                    }
                    return Step::Progress(n);
                }
                self.read = ReadState::Header;
                if streamed {
                    let last = self.assembler.in_final_frame();
                    let first = self.assembler.take_first_piece();
                    // The end of the message checks that text did not stop mid code point.
                    if let Err(e) = self.assembler.end_frame(None) {
                        return self.fail_step(e, out);
                    }
                    if n == 0 && !last && !first {
                        return Step::Progress(0);
                    }
                    let part = RawEvent::Part {
                        is_text,
                        range: 0..n,
                        first,
                        last,
                    };
                    return Step::Event(n, part);
                }
                let inflation = inflation_of(&mut self.deflate, pools, &self.limits);
                match self.assembler.end_frame(inflation) {
                    Ok(Some(message)) => Step::Event(n, RawEvent::Assembled(message)),
                    Ok(None) => Step::Progress(n),
                    Err(e) => self.fail_step(e, out),
                }
            }
        }
    }

    fn step_header(&mut self, buf: &mut [u8], out: &mut Vec<u8>) -> Step {
        // RFC 7692 §6: with permessage-deflate, RSV1 marks a compressed message.
        let parse = if self.deflate.is_some() {
            FrameHeader::parse_compressed
        } else {
            FrameHeader::parse
        };
        let (header, header_len) = match parse(buf, self.role, self.limits.max_frame_size) {
            Ok(Status::Complete(parsed)) => parsed,
            Ok(Status::Partial) => return Step::NeedMore,
            Err(e) => return self.fail_step(e, out),
        };
        let compressed = header.rsv & RSV1 != 0;
        // `parse` checked payload_len <= max_frame_size, which fits in memory.
        let len = header.payload_len as usize;

        if header.opcode.is_control() {
            // RFC 6455 §5.5: control frames are at most 125 bytes (checked by `parse`), so
            // wait for the whole frame rather than streaming it.
            let end = header_len + len;
            if buf.len() < end {
                return Step::NeedMore;
            }
            if let Some(key) = header.mask {
                apply_mask(&mut buf[header_len..end], key, 0);
            }
            return self.control(header.opcode, header_len..end, buf, out);
        }

        // Fast path: a complete, unfragmented message inside this buffer is unmasked in
        // place and lent to the application — no copy, no allocation. (A compressed one
        // is inflated into a buffer of its own, through the assembler.)
        let whole_message =
            header.fin && header.opcode != OpCode::Continuation && !self.assembler.in_message();
        if whole_message && !compressed && buf.len() >= header_len + len {
            let body = header_len..header_len + len;
            if let Some(key) = header.mask {
                apply_mask(&mut buf[body.clone()], key, 0);
            }
            let event = if header.opcode == OpCode::Text {
                RawEvent::Text(body)
            } else {
                RawEvent::Binary(body)
            };
            return Step::Event(header_len + len, event);
        }

        // Otherwise stream the payload through the assembler — into the message's buffer,
        // or, for a large message when streaming is on, straight to the application.
        // A compressed message is never streamed: what a piece inflates to is not
        // bounded by the piece, so it is assembled, under max_message_size.
        let stream = whole_message_start(&header, &self.assembler)
            && !compressed
            && header.payload_len >= self.limits.stream_over;
        let begun = if stream {
            self.assembler.begin_streamed(&header, &self.limits)
        } else {
            self.assembler.begin_frame(&header, &self.limits)
        };
        if let Err(e) = begun {
            return self.fail_step(e, out);
        }
        self.read = ReadState::Payload {
            mask: header.mask,
            remaining: header.payload_len,
            offset: 0,
        };
        Step::Progress(header_len)
    }

    /// Handles a complete control frame whose unmasked payload is `buf[payload]`.
    fn control(
        &mut self,
        opcode: OpCode,
        payload: Range<usize>,
        buf: &[u8],
        out: &mut Vec<u8>,
    ) -> Step {
        let consumed = payload.end;
        match opcode {
            OpCode::Ping => {
                // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a
                // Pong frame in response, unless it already received a Close frame" —
                // having *sent* one does not lift it (§5.5.1 forbids data frames after our
                // Close, not control frames). The Pong carries the same data.
                if matches!(self.state, State::Open | State::CloseSent { .. }) {
                    self.write_frame(out, OpCode::Pong, &buf[payload.clone()]);
                }
                Step::Event(consumed, RawEvent::Ping(payload))
            }
            OpCode::Pong => Step::Event(consumed, RawEvent::Pong(payload)),
            OpCode::Close => match close::parse_close_payload(&buf[payload.clone()]) {
                Err(e) => self.fail_step(e, out),
                Ok(parsed) => {
                    let (code, reason) = match parsed {
                        Some((code, reason)) => {
                            // The reason is the tail of the payload after the 2-byte code.
                            let start = payload.end - reason.len();
                            (code, start..payload.end)
                        }
                        None => (CloseCode::NO_STATUS_RECEIVED, payload.end..payload.end),
                    };
                    let kind = match self.state {
                        State::Open => {
                            // RFC 6455 §5.5.1: answer with a Close, echoing the status code.
                            let echoed = (code != CloseCode::NO_STATUS_RECEIVED).then_some(code);
                            self.write_close(out, echoed, "");
                            CloseKind::Remote
                        }
                        _ => CloseKind::Local,
                    };
                    self.finish();
                    Step::Event(consumed, RawEvent::Closed { code, reason, kind })
                }
            },
            _ => unreachable!("only control opcodes reach here"),
        }
    }

    /// Fails the connection (RFC 6455 §7.1.7) and reports it as the step's event; all
    /// remaining input is consumed unread.
    fn fail_step(&mut self, error: ProtocolError, out: &mut Vec<u8>) -> Step {
        Step::Event(0, RawEvent::Failed(self.fail(error, out)))
    }

    fn fail(&mut self, error: ProtocolError, out: &mut Vec<u8>) -> CloseEvent<'static> {
        let code = error.close_code();
        if self.state == State::Open {
            // "the endpoint SHOULD send a Close frame with an appropriate status code"
            let reason = error.to_string();
            self.write_close(out, Some(code), close::truncate_reason(&reason));
        }
        self.finish();
        CloseEvent {
            code,
            // The same words we sent the peer: what it did wrong.
            reason: Cow::Owned(error.to_string()),
            kind: CloseKind::Failed(error),
        }
    }

    /// Appends one final frame: masked with a fresh key in the client role (§5.3: "The
    /// masking key needs to be unpredictable"), unmasked in the server role (§5.1).
    fn write_frame(&mut self, out: &mut Vec<u8>, opcode: OpCode, payload: &[u8]) {
        self.write_frame_fin(out, true, opcode, payload);
    }

    fn write_frame_fin(&mut self, out: &mut Vec<u8>, fin: bool, opcode: OpCode, payload: &[u8]) {
        let mask = self
            .mask_keys
            .as_mut()
            .map(|rng| rng.next_u32().to_ne_bytes());
        frame::write_frame(out, fin, opcode, payload, mask);
    }

    /// Appends a Close frame (with no payload when `code` is `None`).
    fn write_close(&mut self, out: &mut Vec<u8>, code: Option<CloseCode>, reason: &str) {
        let mut payload = Vec::with_capacity(2 + reason.len());
        if let Some(code) = code {
            close::encode_close_payload(code, reason, &mut payload);
        }
        self.write_frame(out, OpCode::Close, &payload);
    }

    fn finish(&mut self) {
        self.state = State::Closed;
        self.read = ReadState::Header;
        self.assembler.clear();
    }
}

/// Appends one frame whose payload `produce` writes straight into `out` — compressed
/// data, whose length is known only once it is written — and then its header in front
/// of it: room for the longest header is left, and the payload moved up to close what the
/// real header did not use (a copy of compressed bytes, cheaper than compressing into a
/// buffer of its own and copying all of it). Masked with a fresh key in the client role.
fn produced_frame(
    mask_keys: &mut Option<Box<StdRng>>,
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    produce: impl FnOnce(&mut Vec<u8>),
) {
    let mask = mask_keys.as_mut().map(|rng| rng.next_u32().to_ne_bytes());
    let room = if mask.is_some() {
        FrameHeader::MAX_LEN
    } else {
        FrameHeader::MAX_LEN - 4
    };
    let start = out.len();
    out.resize(start + room, 0);
    produce(out);
    let payload_len = out.len() - start - room;
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: payload_len as u64,
    };
    let mut head = [0u8; FrameHeader::MAX_LEN];
    let head_len = header.encode_into(&mut head);
    out.copy_within(start + room.., start + head_len);
    out.truncate(start + head_len + payload_len);
    out[start..start + head_len].copy_from_slice(&head[..head_len]);
    if let Some(key) = mask {
        // RFC 6455 §5.3: the (compressed) payload is what is masked.
        apply_mask(&mut out[start + head_len..], key, 0);
    }
}

/// What a compressed message's payload passes through (when the connection has
/// permessage-deflate; the assembler asks for it only for compressed messages).
fn inflation_of<'a>(
    deflate: &'a mut Option<Box<PerMessageDeflate>>,
    pools: &'a mut CodecPools,
    limits: &WsLimits,
) -> Option<Inflation<'a>> {
    deflate.as_mut().map(|deflate| Inflation {
        inflater: &mut deflate.inflater,
        pool: &mut pools.inflate,
        max_message_size: limits.max_message_size,
    })
}

/// Does this data frame start a new message?
fn whole_message_start(header: &FrameHeader, assembler: &Assembler) -> bool {
    header.opcode != OpCode::Continuation && !assembler.in_message()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// A frame as a client sends it: masked.
    fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        frame::write_frame(&mut out, fin, opcode, payload, Some(KEY));
        out
    }

    fn close_payload(code: u16, reason: &str) -> Vec<u8> {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason.as_bytes());
        p
    }

    /// Parses server frames from `out` into (opcode, payload) pairs.
    fn server_frames(mut out: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
        let mut frames = Vec::new();
        while !out.is_empty() {
            let Ok(Status::Complete((h, n))) = FrameHeader::parse(out, Role::Client, u64::MAX)
            else {
                panic!("server output is not a valid unmasked frame: {out:?}");
            };
            let end = n + h.payload_len as usize;
            frames.push((h.opcode, out[n..end].to_vec()));
            out = &out[end..];
        }
        frames
    }

    /// Feeds `input` (in one piece) and collects owned events.
    fn feed_all(
        ws: &mut WsConnection,
        input: &[u8],
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Vec<WsEvent<'static>> {
        let mut buf = input.to_vec();
        let mut events = Vec::new();
        let mut pos = 0;
        loop {
            let (n, ev) = ws.handle_input(&mut buf[pos..], out, now);
            pos += n;
            match ev {
                Some(ev) => events.push(own(ev)),
                None => break,
            }
        }
        assert_eq!(pos, buf.len(), "complete frames are consumed entirely");
        events
    }

    fn own(ev: WsEvent<'_>) -> WsEvent<'static> {
        match ev {
            WsEvent::Message(m) => WsEvent::Message(m.into_owned()),
            WsEvent::Part(p) => WsEvent::Part(MessagePart {
                data: Vec::leak(p.data.to_vec()),
                ..p
            }),
            WsEvent::Ping(p) => WsEvent::Ping(Vec::leak(p.to_vec())),
            WsEvent::Pong(p) => WsEvent::Pong(Vec::leak(p.to_vec())),
            WsEvent::Closed(c) => WsEvent::Closed(c.into_owned()),
        }
    }

    fn server(now: Instant) -> WsConnection {
        WsConnection::server(WsLimits::default(), now)
    }

    #[test]
    fn whole_message_in_one_read_is_lent_without_copy() {
        let now = Instant::now();
        let mut ws = server(now);
        let mut input = client_frame(true, OpCode::Text, b"hello");
        let mut out = Vec::new();
        let (n, ev) = ws.handle_input(&mut input, &mut out, now);
        assert_eq!(n, 11);
        match ev {
            Some(WsEvent::Message(Message::Text(Cow::Borrowed("hello")))) => {}
            other => panic!("expected a borrowed text message, got {other:?}"),
        }
        assert!(out.is_empty());
    }

    #[test]
    fn message_split_across_reads_is_assembled() {
        let now = Instant::now();
        let mut ws = server(now);
        let input = client_frame(true, OpCode::Binary, &[7; 1000]);
        let mut out = Vec::new();
        let mut pending = Vec::new();
        let mut events = Vec::new();
        for chunk in input.chunks(97) {
            pending.extend_from_slice(chunk);
            let mut pos = 0;
            loop {
                let (n, ev) = ws.handle_input(&mut pending[pos..], &mut out, now);
                pos += n;
                match ev {
                    Some(ev) => events.push(own(ev)),
                    None => break,
                }
            }
            pending.drain(..pos);
            assert!(
                pending.len() <= FrameHeader::MAX_LEN,
                "only a partial header is kept"
            );
        }
        assert_eq!(
            events,
            vec![WsEvent::Message(Message::Binary(Cow::Owned(vec![7; 1000])))]
        );
    }

    #[test]
    fn same_events_whatever_the_split() {
        let now = Instant::now();
        let mut input = client_frame(false, OpCode::Text, "héllo ".as_bytes());
        input.extend(client_frame(true, OpCode::Ping, b"p"));
        input.extend(client_frame(true, OpCode::Continuation, "wörld".as_bytes()));
        input.extend(client_frame(true, OpCode::Binary, &[1, 2, 3]));
        input.extend(client_frame(
            true,
            OpCode::Close,
            &close_payload(1000, "bye"),
        ));
        let mut whole_out = Vec::new();
        let whole = feed_all(&mut server(now), &input, &mut whole_out, now);
        assert_eq!(whole.len(), 4);
        for split in 1..input.len() {
            let mut ws = server(now);
            let mut out = Vec::new();
            let mut events = Vec::new();
            let mut pending = input[..split].to_vec();
            for rest in [&input[split..], &[][..]] {
                let mut pos = 0;
                loop {
                    let (n, ev) = ws.handle_input(&mut pending[pos..], &mut out, now);
                    pos += n;
                    match ev {
                        Some(ev) => events.push(own(ev)),
                        None => break,
                    }
                }
                pending.drain(..pos);
                pending.extend_from_slice(rest);
            }
            assert_eq!(events, whole, "split at {split}");
            assert_eq!(out, whole_out, "split at {split}");
        }
    }

    #[test]
    fn ping_is_answered_with_a_pong_carrying_its_payload() {
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        let events = feed_all(
            &mut ws,
            &client_frame(true, OpCode::Ping, b"are you there"),
            &mut out,
            now,
        );
        assert_eq!(events, vec![WsEvent::Ping(b"are you there")]);
        assert_eq!(
            server_frames(&out),
            vec![(OpCode::Pong, b"are you there".to_vec())]
        );
    }

    #[test]
    fn peer_close_is_echoed_and_reported_once() {
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        let mut input = client_frame(true, OpCode::Close, &close_payload(4001, "done"));
        input.extend(client_frame(true, OpCode::Text, b"after close"));
        let events = feed_all(&mut ws, &input, &mut out, now);
        assert_eq!(
            events,
            vec![WsEvent::Closed(CloseEvent {
                code: CloseCode::new(4001).unwrap(),
                reason: Cow::Borrowed("done"),
                kind: CloseKind::Remote,
            })]
        );
        assert_eq!(
            server_frames(&out),
            vec![(OpCode::Close, 4001u16.to_be_bytes().to_vec())]
        );
        assert!(ws.is_closed());
        assert_eq!(ws.handle_eof(), None, "no second Closed event");
        assert_eq!(
            ws.send(&Message::text("x"), &mut out),
            Err(SendError::NotOpen)
        );
    }

    #[test]
    fn empty_close_is_answered_with_empty_close_and_reported_as_1005() {
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        let events = feed_all(
            &mut ws,
            &client_frame(true, OpCode::Close, b""),
            &mut out,
            now,
        );
        let WsEvent::Closed(close) = &events[0] else {
            panic!()
        };
        assert_eq!(close.code, CloseCode::NO_STATUS_RECEIVED);
        assert_eq!(server_frames(&out), vec![(OpCode::Close, vec![])]);
    }

    #[test]
    fn our_close_waits_for_the_peer_and_still_delivers_what_it_sent_meanwhile() {
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        ws.close(CloseCode::NORMAL, "bye", &mut out, now).unwrap();
        assert_eq!(
            server_frames(&out),
            vec![(OpCode::Close, close_payload(1000, "bye"))]
        );
        assert_eq!(
            ws.poll_timeout(),
            Some(now + WsLimits::default().close_timeout)
        );
        out.clear();
        let mut input = client_frame(true, OpCode::Text, b"late data");
        input.extend(client_frame(true, OpCode::Close, &close_payload(1000, "")));
        let events = feed_all(&mut ws, &input, &mut out, now);
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0],
            WsEvent::Message(Message::Text(Cow::Owned("late data".into())))
        );
        let WsEvent::Closed(close) = &events[1] else {
            panic!()
        };
        assert_eq!(close.kind, CloseKind::Local);
        assert!(out.is_empty(), "no second Close is sent");
    }

    #[test]
    fn unanswered_close_times_out_as_abnormal() {
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        ws.close(CloseCode::GOING_AWAY, "", &mut out, now).unwrap();
        let deadline = ws.poll_timeout().unwrap();
        assert_eq!(
            ws.handle_timeout(deadline - Duration::from_millis(1), &mut out),
            None
        );
        let close = ws.handle_timeout(deadline, &mut out).unwrap();
        assert_eq!(close.code, CloseCode::ABNORMAL_CLOSURE);
        assert_eq!(close.kind, CloseKind::Abnormal);
        assert!(ws.is_closed());
    }

    #[test]
    fn keepalive_pings_when_idle_and_gives_up_after_pong_timeout() {
        let now = Instant::now();
        let limits = WsLimits::default();
        let interval = limits.ping_interval.unwrap();
        let mut ws = server(now);
        let mut out = Vec::new();
        assert_eq!(ws.poll_timeout(), Some(now + interval));
        // Traffic pushes the ping back.
        let later = now + interval / 2;
        feed_all(
            &mut ws,
            &client_frame(true, OpCode::Text, b"hi"),
            &mut out,
            later,
        );
        assert_eq!(ws.poll_timeout(), Some(later + interval));
        let ping_at = later + interval;
        assert_eq!(ws.handle_timeout(ping_at, &mut out), None);
        assert_eq!(server_frames(&out), vec![(OpCode::Ping, vec![])]);
        let give_up = ws.poll_timeout().unwrap();
        assert_eq!(give_up, ping_at + limits.pong_timeout);
        let close = ws.handle_timeout(give_up, &mut out).unwrap();
        assert_eq!(close.kind, CloseKind::Abnormal);
    }

    #[test]
    fn keepalive_is_satisfied_by_any_traffic() {
        let now = Instant::now();
        let interval = WsLimits::default().ping_interval.unwrap();
        let mut ws = server(now);
        let mut out = Vec::new();
        ws.handle_timeout(now + interval, &mut out);
        let pong_at = now + interval + Duration::from_secs(1);
        feed_all(
            &mut ws,
            &client_frame(true, OpCode::Pong, b""),
            &mut out,
            pong_at,
        );
        assert_eq!(ws.poll_timeout(), Some(pong_at + interval));
        assert!(ws.is_open());
    }

    #[test]
    fn invalid_utf8_fails_before_the_frame_has_fully_arrived() {
        let now = Instant::now();
        let mut ws = server(now);
        let mut payload = b"valid start ".to_vec();
        payload.push(0xFF);
        payload.extend_from_slice(&[b'x'; 100]);
        let frame = client_frame(true, OpCode::Text, &payload);
        // Only the header and the first 20 payload bytes have arrived.
        let mut first = frame[..8 + 20].to_vec();
        let mut out = Vec::new();
        let (_, ev) = ws.handle_input(&mut first, &mut out, now);
        let Some(WsEvent::Closed(close)) = ev else {
            panic!("expected the connection to fail at the bad byte, got {ev:?}");
        };
        assert_eq!(close.code, CloseCode::INVALID_PAYLOAD);
        assert_eq!(close.kind, CloseKind::Failed(ProtocolError::InvalidUtf8));
        let frames = server_frames(&out);
        assert_eq!(frames[0].0, OpCode::Close);
        assert_eq!(frames[0].1[..2], 1007u16.to_be_bytes());
    }

    #[test]
    fn unmasked_client_frame_fails_with_1002() {
        let now = Instant::now();
        let mut ws = server(now);
        let mut input = Vec::new();
        frame::write_frame(&mut input, true, OpCode::Text, b"hi", None);
        let mut out = Vec::new();
        let events = feed_all(&mut ws, &input, &mut out, now);
        let WsEvent::Closed(close) = &events[0] else {
            panic!()
        };
        assert_eq!(close.kind, CloseKind::Failed(ProtocolError::UnmaskedFrame));
        assert_eq!(server_frames(&out)[0].1[..2], 1002u16.to_be_bytes());
    }

    #[test]
    fn oversized_frame_fails_from_its_header_alone() {
        let now = Instant::now();
        let limits = WsLimits {
            max_frame_size: 1024,
            max_message_size: 1024,
            ..WsLimits::default()
        };
        let mut ws = WsConnection::server(limits, now);
        // A header announcing 1 MiB; no payload follows.
        let mut header = Vec::new();
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: Some(KEY),
            payload_len: 1 << 20,
        }
        .encode(&mut header);
        let mut out = Vec::new();
        let events = feed_all(&mut ws, &header, &mut out, now);
        let WsEvent::Closed(close) = &events[0] else {
            panic!()
        };
        assert_eq!(close.code, CloseCode::MESSAGE_TOO_BIG);
    }

    #[test]
    fn invalid_close_code_from_peer_fails_with_1002() {
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        let events = feed_all(
            &mut ws,
            &client_frame(true, OpCode::Close, &close_payload(1005, "")),
            &mut out,
            now,
        );
        let WsEvent::Closed(close) = &events[0] else {
            panic!()
        };
        assert_eq!(
            close.kind,
            CloseKind::Failed(ProtocolError::InvalidCloseCode(1005))
        );
        assert_eq!(server_frames(&out)[0].1[..2], 1002u16.to_be_bytes());
    }

    #[test]
    fn lost_tcp_is_reported_as_1006_once() {
        let now = Instant::now();
        let mut ws = server(now);
        let close = ws.handle_eof().unwrap();
        assert_eq!(close.code, CloseCode::ABNORMAL_CLOSURE);
        assert_eq!(ws.handle_eof(), None);
    }

    #[test]
    fn close_rejects_codes_that_may_not_be_sent() {
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        // An application can only pass the reporting constants; the other codes cannot be
        // made outside the crate, but the check refuses them too.
        let reporting = [
            CloseCode::NO_STATUS_RECEIVED,
            CloseCode::ABNORMAL_CLOSURE,
            CloseCode::TLS_HANDSHAKE,
        ];
        let unmakeable = [0, 999, 2000, 5000].map(CloseCode::from_u16_unchecked);
        for code in reporting.into_iter().chain(unmakeable) {
            assert_eq!(
                ws.close(code, "", &mut out, now),
                Err(SendError::Usage(UsageError::InvalidCloseCode(code)))
            );
        }
        assert_eq!(
            ws.close(CloseCode::NORMAL, &"x".repeat(124), &mut out, now),
            Err(SendError::Usage(UsageError::CloseReasonTooLong(124)))
        );
        assert!(out.is_empty() && ws.is_open());
    }

    fn streaming(now: Instant, over: u64) -> WsConnection {
        WsConnection::server(
            WsLimits {
                stream_over: over,
                ..WsLimits::default()
            },
            now,
        )
    }

    /// Feeds `input` in chunks of `size`, collecting events.
    fn feed_chunks(
        ws: &mut WsConnection,
        input: &[u8],
        size: usize,
        now: Instant,
    ) -> (Vec<WsEvent<'static>>, Vec<u8>) {
        let mut out = Vec::new();
        let mut events = Vec::new();
        let mut pending = Vec::new();
        for chunk in input.chunks(size) {
            pending.extend_from_slice(chunk);
            let mut pos = 0;
            loop {
                let (n, ev) = ws.handle_input(&mut pending[pos..], &mut out, now);
                pos += n;
                match ev {
                    Some(ev) => events.push(own(ev)),
                    None => break,
                }
            }
            pending.drain(..pos);
        }
        (events, out)
    }

    #[test]
    fn large_message_spanning_reads_is_streamed_in_order_and_not_kept() {
        let now = Instant::now();
        let mut ws = streaming(now, 1000);
        let payload: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let mut input = client_frame(false, OpCode::Binary, &payload[..3000]);
        input.extend(client_frame(true, OpCode::Ping, b"mid"));
        input.extend(client_frame(true, OpCode::Continuation, &payload[3000..]));
        let (events, out) = feed_chunks(&mut ws, &input, 700, now);
        let mut joined = Vec::new();
        let mut parts = 0;
        for (i, ev) in events.iter().enumerate() {
            match ev {
                WsEvent::Part(p) => {
                    assert!(!p.is_text);
                    assert_eq!(p.first, parts == 0);
                    assert_eq!(p.last, i == events.len() - 1);
                    joined.extend_from_slice(p.data);
                    parts += 1;
                }
                WsEvent::Ping(b"mid") => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(parts > 2, "delivered in pieces, not whole");
        assert_eq!(joined, payload);
        assert_eq!(server_frames(&out), vec![(OpCode::Pong, b"mid".to_vec())]);
        assert!(
            !ws.assembler.in_message(),
            "nothing kept after the last piece"
        );
    }

    #[test]
    fn small_or_whole_messages_are_not_streamed() {
        let now = Instant::now();
        let mut ws = streaming(now, 1000);
        let input = client_frame(true, OpCode::Text, &[b'x'; 5000]);
        let (events, _) = feed_chunks(&mut ws, &input, input.len(), now);
        assert!(matches!(&events[..], [WsEvent::Message(Message::Text(t))] if t.len() == 5000));
        let input = client_frame(true, OpCode::Text, &[b'y'; 900]);
        let (events, _) = feed_chunks(&mut ws, &input, 100, now);
        assert!(matches!(&events[..], [WsEvent::Message(Message::Text(t))] if t.len() == 900));
    }

    #[test]
    fn invalid_utf8_in_a_streamed_text_fails_at_the_bad_byte() {
        let now = Instant::now();
        let mut ws = streaming(now, 100);
        let mut payload = "é".repeat(500).into_bytes();
        payload[601] = 0xFF;
        let input = client_frame(true, OpCode::Text, &payload);
        let (events, out) = feed_chunks(&mut ws, &input, 300, now);
        let Some(WsEvent::Closed(close)) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!(close.kind, CloseKind::Failed(ProtocolError::InvalidUtf8));
        assert!(
            events
                .iter()
                .all(|e| !matches!(e, WsEvent::Part(p) if p.last))
        );
        assert_eq!(server_frames(&out)[0].1[..2], 1007u16.to_be_bytes());
    }

    #[test]
    fn parts_are_sent_as_one_fragmented_message_and_block_other_messages() {
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        let part = |data: &'static [u8], first, last| MessagePart {
            is_text: true,
            data,
            first,
            last,
        };
        assert_eq!(
            ws.send_part(&part(b"x", false, false), &mut out),
            Err(SendError::Usage(UsageError::PartOutOfOrder))
        );
        ws.send_part(&part(b"he", true, false), &mut out).unwrap();
        assert_eq!(
            ws.send(&Message::text("other"), &mut out),
            Err(SendError::Busy)
        );
        assert_eq!(
            ws.send_part(&part(b"!", true, true), &mut out),
            Err(SendError::Busy)
        );
        ws.ping(b"p", &mut out).unwrap(); // control frames may interleave
        ws.send_part(&part(b"ll", false, false), &mut out).unwrap();
        ws.send_part(&part(b"o", false, true), &mut out).unwrap();
        ws.send(&Message::text("next"), &mut out).unwrap();
        let mut frames = Vec::new();
        let mut rest = &out[..];
        while !rest.is_empty() {
            let Ok(Status::Complete((h, n))) = FrameHeader::parse(rest, Role::Client, u64::MAX)
            else {
                panic!()
            };
            let end = n + h.payload_len as usize;
            frames.push((h.fin, h.opcode, rest[n..end].to_vec()));
            rest = &rest[end..];
        }
        assert_eq!(
            frames,
            vec![
                (false, OpCode::Text, b"he".to_vec()),
                (true, OpCode::Ping, b"p".to_vec()),
                (false, OpCode::Continuation, b"ll".to_vec()),
                (true, OpCode::Continuation, b"o".to_vec()),
                (true, OpCode::Text, b"next".to_vec()),
            ]
        );
    }

    /// Every frame in `out` as (FIN, RSV bits, MASK bit, opcode), read from the raw bytes.
    fn raw_frame_bits(mut out: &[u8]) -> Vec<(bool, u8, bool, u8)> {
        let mut frames = Vec::new();
        while !out.is_empty() {
            frames.push((
                out[0] & 0x80 != 0,
                (out[0] >> 4) & 0b111,
                out[1] & 0x80 != 0,
                out[0] & 0x0F,
            ));
            // Clear the RSV and MASK bits just recorded, so that the parser measures a frame
            // that has them (and skip its masking key by hand).
            let masked = out[1] & 0x80 != 0;
            let mut header = out[..out.len().min(FrameHeader::MAX_LEN)].to_vec();
            header[0] &= 0x8F;
            header[1] &= 0x7F;
            let Ok(Status::Complete((h, n))) = FrameHeader::parse(&header, Role::Client, u64::MAX)
            else {
                panic!("not a frame: {out:02x?}");
            };
            let key = if masked { 4 } else { 0 };
            out = &out[n + key + h.payload_len as usize..];
        }
        frames
    }

    #[test]
    fn every_frame_the_server_role_sends_is_unmasked_with_rsv_clear() {
        // RFC 6455 §5.1: "A server MUST NOT mask any frames that it sends to the client";
        // §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated"; and its control
        // frames are never fragmented (§5.4).
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        ws.send(&Message::text("text"), &mut out).unwrap();
        ws.send(&Message::binary(vec![1u8; 300]), &mut out).unwrap();
        ws.send_fragmented(&Message::text("fragmented"), 3, &mut out)
            .unwrap();
        let part = |data: &'static [u8], first, last| MessagePart {
            is_text: false,
            data,
            first,
            last,
        };
        ws.send_part(&part(b"a", true, false), &mut out).unwrap();
        ws.send_part(&part(b"b", false, true), &mut out).unwrap();
        let mut large = vec![7u8; 70_000];
        ws.send_header(false, &mut large, &mut out).unwrap();
        out.extend_from_slice(&large);
        ws.ping(b"p", &mut out).unwrap();
        feed_all(
            &mut ws,
            &client_frame(true, OpCode::Ping, b"q"),
            &mut out,
            now,
        );
        // A Close that fails the connection, after a frame with RSV1 set.
        let mut bad = client_frame(true, OpCode::Text, b"x");
        bad[0] |= 0x40;
        feed_all(&mut ws, &bad, &mut out, now);
        let frames = raw_frame_bits(&out);
        assert_eq!(frames.len(), 12, "{frames:?}");
        for (i, &(fin, rsv, masked, opcode)) in frames.iter().enumerate() {
            assert!(!masked, "frame {i} is masked: {frames:?}");
            assert_eq!(rsv, 0, "frame {i} has RSV bits: {frames:?}");
            // §5.4: "Control frames themselves MUST NOT be fragmented."
            assert!(fin || opcode & 0x8 == 0, "control frame {i} without FIN");
        }
        assert_eq!(frames.last().map(|f| f.3), Some(OpCode::Close.as_u8()));
    }

    #[test]
    fn no_data_frame_goes_out_after_our_close() {
        // RFC 6455 §5.5.1: "The application MUST NOT send any more data frames after
        // sending a Close frame."
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        ws.close(CloseCode::NORMAL, "bye", &mut out, now).unwrap();
        let close = out.clone();
        let part = MessagePart {
            is_text: true,
            data: b"part",
            first: true,
            last: true,
        };
        assert_eq!(
            ws.send(&Message::text("late"), &mut out),
            Err(SendError::NotOpen)
        );
        assert_eq!(
            ws.send_fragmented(&Message::binary(vec![1u8; 10]), 4, &mut out),
            Err(SendError::NotOpen)
        );
        assert_eq!(ws.send_part(&part, &mut out), Err(SendError::NotOpen));
        assert_eq!(
            ws.send_header(true, &mut b"late".to_vec(), &mut out),
            Err(SendError::NotOpen)
        );
        assert_eq!(out, close, "only our Close went out");
        assert!(!ws.is_open() && !ws.is_closed());
    }

    #[test]
    fn a_ping_over_125_bytes_is_refused_and_nothing_is_sent() {
        // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or
        // less".
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        assert_eq!(
            ws.ping(&[b'p'; 126], &mut out),
            Err(SendError::Usage(UsageError::ControlPayloadTooLong(126)))
        );
        assert!(out.is_empty());
        ws.ping(&[b'p'; 125], &mut out).unwrap();
        assert_eq!(server_frames(&out), vec![(OpCode::Ping, vec![b'p'; 125])]);
    }

    #[test]
    fn ping_after_our_close_is_still_answered_with_a_pong() {
        // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong
        // frame in response, unless it already received a Close frame." Having *sent* a
        // Close does not lift it (§5.5.1 forbids only data frames after our Close).
        let now = Instant::now();
        let mut ws = server(now);
        let mut out = Vec::new();
        ws.close(CloseCode::NORMAL, "bye", &mut out, now).unwrap();
        out.clear();
        let events = feed_all(
            &mut ws,
            &client_frame(true, OpCode::Ping, b"still there?"),
            &mut out,
            now,
        );
        assert_eq!(events, vec![WsEvent::Ping(b"still there?")]);
        assert_eq!(
            server_frames(&out),
            vec![(OpCode::Pong, b"still there?".to_vec())]
        );
    }
}
