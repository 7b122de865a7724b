//! DEFLATE decompression (RFC 1951) for permessage-deflate (RFC 7692).
//!
//! A message compressed with permessage-deflate arrives as the payload of one or more
//! frames. The receiver appends `00 00 ff ff` — the length fields of the empty stored
//! block the sender's sync flush ended with and then removed — and inflates the result
//! (RFC 7692 §7.2.2). [`Inflater::inflate`] takes the payload in pieces of any size (a
//! frame, a TCP segment, a byte) and [`Inflater::finish_message`] appends the tail and
//! checks that the message ended on a block boundary; then the next message may begin.
//! However the input is split, the output and the verdict are the same.
//!
//! # Context takeover
//!
//! With context takeover the LZ77 window — the last 2^w bytes of the earlier messages —
//! is kept, and a message's back-references may reach into it. Without it every message
//! starts with an empty window (RFC 7692 §7.1.1). References are checked against what the
//! receiver has: this message's output plus the kept window, and never more than the
//! negotiated 2^w bytes (`*_max_window_bits`, RFC 7692 §7.1.2). A peer whose zlib was
//! asked for w = 8 compresses with a 512-byte window (zlib silently uses 9 for raw
//! deflate); a connection that negotiated 8 may want to inflate with
//! [`WindowBits`] 9 to accept such peers.
//!
//! # Final blocks
//!
//! A sender may end a message with a block whose BFINAL bit is set (RFC 7692 §7.2.3.4),
//! which ends the DEFLATE stream. What follows in that message is only the sender's
//! padding octet (`00`, which §7.2.3.4 says makes the payload decodable like any other)
//! and the appended tail; zlib stops at the end of the stream and so ignores both, and
//! zlib-based receivers (Node's `ws`, Bun, yawc) then reset the inflater so that the
//! next message starts a fresh DEFLATE stream. This decoder does the same: after a final
//! block it accepts at most one `00` octet of the message (more data is
//! [`InflateError::InputAfterEnd`]), skips the tail, and starts the next message with a
//! new stream. Under context takeover it keeps the window across such a message, as
//! §7.2.2 asks (a zlib receiver forgets it, which a peer that ended its stream cannot
//! tell from the outside: its own compressor has started afresh).
//!
//! # Limits
//!
//! Each call takes `limit`: how many more bytes the message may produce (its maximum
//! size minus what it already has). The check is made while inflating, after every
//! literal or match: a small input that would inflate to gigabytes stops with
//! [`InflateError::TooLarge`] after at most `limit` + 258 bytes of output, and the
//! output buffer is never grown past `limit` + 266 bytes (a longest match and a word)
//! beyond its length at the call.
//!
//! # Memory
//!
//! * [`Inflater`] itself is 80 bytes on 64-bit targets (a test holds it to that).
//! * Without context takeover it holds **no heap memory between messages**. The Huffman
//!   tables of a dynamic block ([`InflateScratch`], 7.8 KiB) are taken from an
//!   [`InflateScratchPool`] when a message's first dynamic block begins and given back
//!   by [`Inflater::finish_message`], so a busy server reuses a few of them instead of
//!   allocating per message. Fixed-code blocks (the usual choice for short messages) need
//!   none: their tables are built at compile time.
//! * With context takeover it keeps exactly the 2^w-byte window between messages,
//!   allocated at the first message end that has output.
//! * The output goes straight into the caller's `Vec<u8>`, and matches within the
//!   message are copied from there; no window is kept while a message is inflated.
//!
//! # Speed
//!
//! The decoder is table-driven: one look-up of 10 bits resolves most literal/length codes
//! (longer ones go through a second-level table), one of 8 bits most distance codes; a
//! 64-bit bit buffer is refilled 8 bytes at a time; matches are copied a word at a time.
//! `benches/inflate.rs` compares it with miniz_oxide on chat-sized JSON and on 1 MiB of
//! text.

mod decode;
mod error;
mod huffman;
#[cfg(test)]
mod tests;
mod window;

pub use error::{CodeKind, InflateError};

pub use crate::deflate::WindowBits;

use crate::deflate::tables::{CODE_LENGTH_ORDER, END_OF_BLOCK};

use decode::{Bits, Input, Output, Reach, Stop};
use huffman::{
    Alphabet, CODE_LENGTH_ROOT_BITS, CODE_LENGTH_TABLE_LEN, CodeError, DIST_ROOT_BITS,
    DIST_TABLE_LEN, FIXED_DIST, FIXED_LITLEN, LITLEN_ROOT_BITS, LITLEN_TABLE_LEN,
};
use window::Window;

/// The tail RFC 7692 §7.2.2 appends to every message before inflating it.
const SYNC_FLUSH_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The Huffman tables of a dynamic block, lent to an [`Inflater`] for the length of a
/// message by an [`InflateScratchPool`].
pub struct InflateScratch {
    tables: Box<Tables>,
}

impl std::fmt::Debug for InflateScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InflateScratch").finish_non_exhaustive()
    }
}

impl InflateScratch {
    /// Its heap size in bytes.
    pub const BYTES: usize = std::mem::size_of::<Tables>();

    fn new() -> Self {
        InflateScratch {
            tables: Box::new(Tables {
                litlen: [0; LITLEN_TABLE_LEN],
                dist: [0; DIST_TABLE_LEN],
                code_length: [0; CODE_LENGTH_TABLE_LEN],
                lengths: [0; MAX_CODE_LENGTHS],
                code_length_lengths: [0; 19],
            }),
        }
    }
}

/// The most code lengths a dynamic block sends: HLIT + HDIST ≤ 286 + 30 (RFC 1951
/// §3.2.7, with the limits zlib enforces).
const MAX_CODE_LENGTHS: usize = 286 + 30;

/// A dynamic block's decoding tables and the code lengths they are built from.
struct Tables {
    litlen: [u32; LITLEN_TABLE_LEN],
    dist: [u32; DIST_TABLE_LEN],
    code_length: [u32; CODE_LENGTH_TABLE_LEN],
    lengths: [u8; MAX_CODE_LENGTHS],
    code_length_lengths: [u8; 19],
}

/// Spare [`InflateScratch`]es, so that inflating a message does not allocate: one pool
/// per server (or thread), passed to every call of every [`Inflater`].
#[derive(Debug)]
pub struct InflateScratchPool {
    spare: Vec<InflateScratch>,
    keep: usize,
}

impl InflateScratchPool {
    /// A pool that keeps at most `keep` spare scratches (each [`InflateScratch::BYTES`]);
    /// more given back are freed. `keep = 0` allocates per message that needs tables.
    pub fn new(keep: usize) -> Self {
        InflateScratchPool {
            spare: Vec::new(),
            keep,
        }
    }

    /// A spare scratch, or a new one.
    pub fn take(&mut self) -> InflateScratch {
        self.spare.pop().unwrap_or_else(InflateScratch::new)
    }

    /// Gives a scratch back, to keep if there is room.
    pub fn give(&mut self, scratch: InflateScratch) {
        if self.spare.len() < self.keep {
            self.spare.push(scratch);
        }
    }

    /// How many spare scratches it holds.
    pub fn len(&self) -> usize {
        self.spare.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.spare.is_empty()
    }
}

impl Default for InflateScratchPool {
    /// Keeps up to 16 spares (128 KiB): enough for the messages one event-loop turn
    /// inflates at once.
    fn default() -> Self {
        Self::new(16)
    }
}

/// A dynamic block's header (RFC 1951 §3.2.7): how many codes of each kind it declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DynamicCounts {
    /// HLIT + 257.
    litlen: u16,
    /// HDIST + 1.
    distance: u8,
    /// HCLEN + 4.
    code_lengths: u8,
}

/// Which codes a Huffman block uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codes {
    /// RFC 1951 §3.2.6, tables in [`FIXED_LITLEN`] and [`FIXED_DIST`].
    Fixed,
    /// RFC 1951 §3.2.7, tables in the lent [`InflateScratch`].
    Dynamic,
}

/// Where the decoder is in the stream. `last` is the block's BFINAL bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a block's 3 header bits (RFC 1951 §3.2.3).
    BlockHeader,
    /// A stored block's LEN and NLEN, after the header's byte is padded out (§3.2.4).
    StoredLengths { last: bool },
    /// A stored block's bytes, `remaining` still to come.
    Stored { last: bool, remaining: u16 },
    /// A dynamic block's HLIT, HDIST, HCLEN (§3.2.7).
    DynamicCounts { last: bool },
    /// The code-length code's lengths, `read` of them so far.
    CodeLengthCode {
        last: bool,
        counts: DynamicCounts,
        read: u8,
    },
    /// The literal/length and distance code lengths, `read` of them so far.
    CodeLengths {
        last: bool,
        counts: DynamicCounts,
        read: u16,
    },
    /// A Huffman block's data (§3.2.5).
    Data { last: bool, codes: Codes },
    /// After a final block: the stream is over (RFC 7692 §7.2.3.4); `padded` once the
    /// one padding octet allowed has been seen.
    StreamEnded { padded: bool },
    /// An error was returned; every later call returns it again.
    Failed(InflateError),
}

/// A streaming DEFLATE decoder for one direction of a permessage-deflate connection.
///
/// Feed each message's payload with [`inflate`](Self::inflate), in as many pieces as it
/// arrives, all appending to the same `out` (back-references within the message are read
/// from it, so leave what it wrote in place until the message ends); then call
/// [`finish_message`](Self::finish_message). After an error every call returns that
/// error; the connection fails anyway, and [`reset`](Self::reset) makes the inflater
/// reusable.
#[derive(Debug)]
pub struct Inflater {
    state: State,
    bits: Bits,
    /// Bytes of the current message written so far (at the end of `out`).
    produced: usize,
    window: Window,
    /// Lent from a pool while a message with a dynamic block is inflated.
    scratch: Option<InflateScratch>,
    window_bits: WindowBits,
    keep_context: bool,
}

impl Inflater {
    /// An inflater for a window of 2^`window_bits` bytes. `keep_context` is context
    /// takeover: whether the window carries over from one message to the next (RFC 7692
    /// §7.1.1: false when the peer's `*_no_context_takeover` was agreed).
    pub fn new(window_bits: WindowBits, keep_context: bool) -> Self {
        Inflater {
            state: State::BlockHeader,
            bits: Bits::default(),
            produced: 0,
            window: Window::default(),
            scratch: None,
            window_bits,
            keep_context,
        }
    }

    /// The window size this inflater enforces.
    pub fn window_bits(&self) -> WindowBits {
        self.window_bits
    }

    /// Whether the window is kept between messages.
    pub fn keeps_context(&self) -> bool {
        self.keep_context
    }

    /// Whether the current message's DEFLATE stream has ended with a final block.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn stream_ended(&self) -> bool {
        matches!(self.state, State::StreamEnded { .. })
    }

    /// Heap memory held now: the kept window, and a scratch while one is lent.
    pub fn heap_bytes(&self) -> usize {
        self.window.heap_bytes() + self.scratch.as_ref().map_or(0, |_| InflateScratch::BYTES)
    }

    /// Inflates the next piece of the current message's payload, appending the output
    /// to `out`. `limit` is how many more bytes the message may produce; passing it is
    /// [`InflateError::TooLarge`]. `pool` lends the tables of dynamic blocks.
    ///
    /// Input that ends in the middle of a block is not an error: the rest is expected in
    /// the next call, or [`finish_message`](Self::finish_message) says it is missing.
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
        pool: &mut InflateScratchPool,
    ) -> Result<(), InflateError> {
        if let State::Failed(e) = self.state {
            return Err(e);
        }
        let mut output = Output::new(out, self.produced, limit, input.len());
        let mut input = Input {
            data: input,
            pos: 0,
        };
        let result = self.run(&mut input, &mut output, pool);
        self.produced += output.finish();
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    /// Ends the current message: inflates the `00 00 ff ff` tail of RFC 7692 §7.2.2 (with
    /// the same `out` and `limit` rules as [`inflate`](Self::inflate)), checks that the
    /// message ended on a block boundary, keeps the window if context takeover is on, and
    /// gives any lent scratch back to `pool`. The next call starts the next message.
    pub fn finish_message(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
        pool: &mut InflateScratchPool,
    ) -> Result<(), InflateError> {
        match self.state {
            State::Failed(e) => return Err(e),
            // The stream ended with a final block: the tail is no part of it (zlib stops
            // at the end of the stream too). See the module documentation.
            State::StreamEnded { .. } => {}
            _ => {
                self.inflate(&SYNC_FLUSH_TAIL, out, limit, pool)?;
                if self.state != State::BlockHeader || self.bits.count != 0 {
                    self.state = State::Failed(InflateError::UnterminatedMessage);
                    return Err(InflateError::UnterminatedMessage);
                }
            }
        }
        if self.keep_context {
            let message = &out[out.len().saturating_sub(self.produced)..];
            self.window.remember(message, self.window_bits.size());
        }
        self.produced = 0;
        self.state = State::BlockHeader;
        self.bits = Bits::default();
        if let Some(scratch) = self.scratch.take() {
            pool.give(scratch);
        }
        Ok(())
    }

    /// Forgets everything — the message under way, the kept window, an error — and
    /// gives any lent scratch back to `pool`: as new.
    pub fn reset(&mut self, pool: &mut InflateScratchPool) {
        if let Some(scratch) = self.scratch.take() {
            pool.give(scratch);
        }
        *self = Inflater::new(self.window_bits, self.keep_context);
    }

    /// Runs the state machine until the input is used up or an error.
    fn run(
        &mut self,
        input: &mut Input<'_>,
        out: &mut Output<'_>,
        pool: &mut InflateScratchPool,
    ) -> Result<(), InflateError> {
        let bits = &mut self.bits;
        loop {
            self.state = match self.state {
                State::BlockHeader => {
                    bits.fill(input);
                    let Some(header) = bits.take(3) else {
                        return Ok(());
                    };
                    let last = header & 1 == 1;
                    // RFC 1951 §3.2.3: BTYPE 00 stored, 01 fixed, 10 dynamic, 11 reserved.
                    match header >> 1 {
                        0 => {
                            bits.align();
                            State::StoredLengths { last }
                        }
                        1 => State::Data {
                            last,
                            codes: Codes::Fixed,
                        },
                        2 => State::DynamicCounts { last },
                        _ => return Err(InflateError::ReservedBlockType),
                    }
                }
                State::StoredLengths { last } => {
                    bits.fill(input);
                    if bits.count < 32 {
                        return Ok(());
                    }
                    let len = bits.take(16).unwrap_or(0) as u16;
                    let nlen = bits.take(16).unwrap_or(0) as u16;
                    // RFC 1951 §3.2.4: NLEN is the one's complement of LEN.
                    if nlen != !len {
                        return Err(InflateError::StoredLengthMismatch { len, nlen });
                    }
                    State::Stored {
                        last,
                        remaining: len,
                    }
                }
                State::Stored { last, remaining } => {
                    let remaining = copy_stored(remaining, bits, input, out)?;
                    if remaining > 0 {
                        self.state = State::Stored { last, remaining };
                        return Ok(());
                    }
                    block_done(last, bits)
                }
                State::DynamicCounts { last } => {
                    bits.fill(input);
                    if bits.count < 14 {
                        return Ok(());
                    }
                    let counts = DynamicCounts {
                        litlen: bits.take(5).unwrap_or(0) as u16 + 257,
                        distance: bits.take(5).unwrap_or(0) as u8 + 1,
                        code_lengths: bits.take(4).unwrap_or(0) as u8 + 4,
                    };
                    // RFC 1951 §3.2.7 allows HLIT up to 29 and HDIST up to 31, but the
                    // extra symbols can never be used; zlib rejects them, and so do we.
                    if counts.litlen > 286 || counts.distance > 30 {
                        return Err(InflateError::TooManyCodes {
                            litlen: counts.litlen,
                            distance: counts.distance,
                        });
                    }
                    let scratch = self.scratch.get_or_insert_with(|| pool.take());
                    scratch.tables.code_length_lengths = [0; 19];
                    State::CodeLengthCode {
                        last,
                        counts,
                        read: 0,
                    }
                }
                State::CodeLengthCode { last, counts, read } => {
                    let Some(scratch) = self.scratch.as_mut() else {
                        unreachable_state()?
                    };
                    let tables = &mut *scratch.tables;
                    let mut read = read;
                    while read < counts.code_lengths {
                        bits.fill(input);
                        let Some(len) = bits.take(3) else {
                            self.state = State::CodeLengthCode { last, counts, read };
                            return Ok(());
                        };
                        tables.code_length_lengths
                            [usize::from(CODE_LENGTH_ORDER[usize::from(read)])] = len as u8;
                        read += 1;
                    }
                    huffman::build(
                        &tables.code_length_lengths,
                        Alphabet::CodeLength,
                        CODE_LENGTH_ROOT_BITS,
                        &mut tables.code_length,
                    )
                    .map_err(|e| code_error(e, CodeKind::CodeLength))?;
                    State::CodeLengths {
                        last,
                        counts,
                        read: 0,
                    }
                }
                State::CodeLengths { last, counts, read } => {
                    let Some(scratch) = self.scratch.as_mut() else {
                        unreachable_state()?
                    };
                    let tables = &mut *scratch.tables;
                    let total = counts.litlen + u16::from(counts.distance);
                    if let Some(read) = read_code_lengths(tables, read, total, bits, input)? {
                        self.state = State::CodeLengths { last, counts, read };
                        return Ok(());
                    }
                    let litlen_count = usize::from(counts.litlen);
                    // RFC 1951 §3.2.5: without a code for 256 the block cannot end.
                    if tables.lengths[usize::from(END_OF_BLOCK)] == 0 {
                        return Err(InflateError::MissingEndOfBlock);
                    }
                    huffman::build(
                        &tables.lengths[..litlen_count],
                        Alphabet::LitLen,
                        LITLEN_ROOT_BITS,
                        &mut tables.litlen,
                    )
                    .map_err(|e| code_error(e, CodeKind::LitLen))?;
                    huffman::build(
                        &tables.lengths[litlen_count..usize::from(total)],
                        Alphabet::Distance,
                        DIST_ROOT_BITS,
                        &mut tables.dist,
                    )
                    .map_err(|e| code_error(e, CodeKind::Distance))?;
                    State::Data {
                        last,
                        codes: Codes::Dynamic,
                    }
                }
                State::Data { last, codes } => {
                    let (litlen, dist): (&[u32], &[u32]) = match codes {
                        Codes::Fixed => (&FIXED_LITLEN, &FIXED_DIST),
                        Codes::Dynamic => match &self.scratch {
                            Some(scratch) => (&scratch.tables.litlen, &scratch.tables.dist),
                            None => unreachable_state()?,
                        },
                    };
                    let reach = Reach {
                        window: &self.window,
                        max_distance: self.window_bits.size(),
                    };
                    match decode::decode_block(litlen, dist, bits, input, out, reach)? {
                        Stop::NeedInput => return Ok(()),
                        Stop::EndOfBlock => block_done(last, bits),
                    }
                }
                State::StreamEnded { mut padded } => {
                    // RFC 7692 §7.2.3.4: one `00` octet may follow a final block.
                    let mut after_end = |byte: u8| {
                        if byte == 0 && !padded {
                            padded = true;
                            Ok(())
                        } else {
                            Err(InflateError::InputAfterEnd)
                        }
                    };
                    while let Some(byte) = bits.take(8) {
                        after_end(byte as u8)?;
                    }
                    for &byte in &input.data[input.pos..] {
                        after_end(byte)?;
                    }
                    input.pos = input.data.len();
                    self.state = State::StreamEnded { padded };
                    return Ok(());
                }
                State::Failed(e) => return Err(e),
            };
        }
    }
}

/// What follows a block: the next header, or the end of the stream after a final block
/// (whose last byte's unused bits are padding, RFC 1951 §3.1.1).
fn block_done(last: bool, bits: &mut Bits) -> State {
    if last {
        bits.align();
        State::StreamEnded { padded: false }
    } else {
        State::BlockHeader
    }
}

/// A state that needs the lent tables found none: impossible, as the tables are taken
/// when a dynamic block's header is read and kept until the message ends. Reported as
/// an incomplete message rather than a panic.
#[cold]
fn unreachable_state<T>() -> Result<T, InflateError> {
    Err(InflateError::UnterminatedMessage)
}

fn code_error(e: CodeError, code: CodeKind) -> InflateError {
    match e {
        CodeError::Oversubscribed => InflateError::OversubscribedCode(code),
        CodeError::Incomplete => InflateError::IncompleteCode(code),
    }
}

/// Copies a stored block's bytes (RFC 1951 §3.2.4): first those already in the bit
/// buffer (whole bytes, as the block starts on a byte boundary), then straight from the
/// input. Returns how many are still to come.
fn copy_stored(
    mut remaining: u16,
    bits: &mut Bits,
    input: &mut Input<'_>,
    out: &mut Output<'_>,
) -> Result<u16, InflateError> {
    let buffered = (bits.count / 8).min(u32::from(remaining)) as usize;
    let direct = (usize::from(remaining) - buffered).min(input.data.len() - input.pos);
    let n = buffered + direct;
    if n == 0 {
        return Ok(remaining);
    }
    if out.pos + n > out.limit_end {
        // These bytes would pass the limit: write none of them.
        return Err(out.too_large());
    }
    let mut held = [0u8; 8];
    for byte in &mut held[..buffered] {
        *byte = bits.take(8).unwrap_or(0) as u8;
    }
    out.append(&held[..buffered]);
    out.append(&input.data[input.pos..input.pos + direct]);
    input.pos += direct;
    remaining -= n as u16;
    Ok(remaining)
}

/// Reads code lengths (RFC 1951 §3.2.7) into `tables.lengths` from index `read` to
/// `total`. `Some(read)` when the input ran out first, `None` when all are read.
fn read_code_lengths(
    tables: &mut Tables,
    mut read: u16,
    total: u16,
    bits: &mut Bits,
    input: &mut Input<'_>,
) -> Result<Option<u16>, InflateError> {
    while read < total {
        bits.fill(input);
        let entry = tables.code_length[(bits.buf & ((1 << CODE_LENGTH_ROOT_BITS) - 1)) as usize];
        let n = huffman::code_len(entry);
        if n > bits.count {
            return Ok(Some(read));
        }
        let symbol = huffman::value(entry);
        let i = usize::from(read);
        if symbol < 16 {
            tables.lengths[i] = symbol as u8;
            bits.consume(n);
            read += 1;
            continue;
        }
        // 16: copy the previous length 3–6 times; 17: 3–10 zeros; 18: 11–138 zeros.
        let (extra, base) = match symbol {
            16 => (2, 3),
            17 => (3, 3),
            _ => (7, 11),
        };
        // Refused as soon as the code is read, before its extra bits (as zlib does).
        if symbol == 16 && read == 0 {
            return Err(InflateError::RepeatWithoutPrevious);
        }
        if n + extra > bits.count {
            return Ok(Some(read));
        }
        let repeat = base + ((bits.buf >> n) & ((1 << extra) - 1)) as u16;
        if read + repeat > total {
            return Err(InflateError::RepeatPastEnd);
        }
        let fill = if symbol == 16 {
            tables.lengths[i - 1]
        } else {
            0
        };
        tables.lengths[i..i + usize::from(repeat)].fill(fill);
        bits.consume(n + extra);
        read += repeat;
    }
    Ok(None)
}
