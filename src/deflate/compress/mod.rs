//! DEFLATE compression (RFC 1951) for permessage-deflate (RFC 7692).
//!
//! A [`Compressor`] turns each outgoing message into DEFLATE blocks, ends it with a sync
//! flush (an empty stored block, whose `00 00 ff ff` is then removed: RFC 7692 §7.2.1),
//! and, with context takeover, keeps its window so the next message can refer back into
//! this one. Every match reaches at most 2^w bytes back, for the negotiated
//! `server_max_window_bits` w = 8..=15 ([`WindowBits`]), exactly; zlib itself cannot
//! produce w = 8 streams.
//!
//! ```
//! use pushwire::deflate::compress::{Compressor, Level, WindowBits};
//!
//! let mut c = Compressor::new(Level::Default, WindowBits::MAX, true);
//! let mut out = Vec::new();
//! c.compress_message(b"Hello", &mut out);
//! assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]); // RFC 7692 §7.2.3.1
//! out.clear();
//! c.compress_message(b"Hello", &mut out);
//! assert_eq!(out, [0xf2, 0x00, 0x11, 0x00, 0x00]); // §7.2.3.2: "Hello" 5 bytes back
//! ```
//!
//! # How
//!
//! LZ77 over hash chains bounded by the window (`lz77`): greedy with short chains for
//! [`Level::Fast`], lazy matching with longer ones for [`Level::Default`] and
//! [`Level::Best`]. Each block (up to 16 Ki tokens, or where the input pauses) is sized
//! as stored, fixed-Huffman and dynamic-Huffman, and written in the smallest (`block`),
//! with length-limited Huffman codes (`huffman`). A short message thus becomes one fixed
//! block, as in RFC 7692's examples, and incompressible data is stored.
//!
//! Setting up a message costs nothing proportional to the tables: hash entries hold
//! absolute positions, and a message without context takeover starts its positions more
//! than a window past the previous one's, which makes every old entry stale at once (no
//! clearing); without takeover the tables are also sized to the message.
//!
//! # Memory
//!
//! The [`Compressor`] itself is a few words (`size_of` is bounded by a test). Its
//! working memory, the *scratch*, is on the heap:
//!
//! | part | bytes |
//! |---|---|
//! | window: history and pending input | ≤ 2^w + 32 KiB + 259 (grows with the message) |
//! | hash heads (`u32`) | 4 · 2^min(w+1, 15) (`Fast`: at most 16 KiB) |
//! | hash chains (`u16` per window position) | 2 · 2^w |
//! | tokens of the block being built (`u32`) | ≤ 64 KiB (grows with the message) |
//!
//! The window and token buffers grow with the messages (as `Vec`s do), so a compressor
//! that has only seen small messages holds little. Measured with context takeover (the
//! test `with_takeover_the_memory_per_window_is_as_documented` bounds them):
//!
//! | w | `Fast`, chat messages | `Fast`, after 70 KB | `Default`, chat | `Default`, after 70 KB |
//! |---|---|---|---|---|
//! | 8 | 3.3 KiB | 99 KiB | 3.3 KiB | 67 KiB |
//! | 12 | 25 KiB | 92 KiB | 41 KiB | 92 KiB |
//! | 15 | 81 KiB | 208 KiB | 193 KiB | 288 KiB |
//!
//! [`Compressor::heap_bytes`] tells the exact figure.
//!
//! - **With context takeover** the compressor keeps its scratch from the first message
//!   until it is dropped (or [`Compressor::recycle`]d into a pool): the window is the
//!   context.
//! - **Without it** the compressor holds **no heap memory between messages**. The
//!   scratch lives for one message: taken from a [`CompressScratchPool`] and given back
//!   at its end with the `*_pooled` methods (a busy server allocates nothing per
//!   message; an idle connection holds nothing), or allocated and freed by the plain
//!   methods. For a one-shot message the tables are sized to it: a 200-byte message
//!   needs about 3 KiB.

mod bits;
mod block;
mod huffman;
mod lz77;

#[cfg(any(test, fuzzing))]
pub(crate) mod check;
#[cfg(test)]
mod tests;

use std::fmt;

use bits::BitWriter;
use lz77::Scratch;

/// How hard the compressor looks for matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    /// Greedy matching with short hash chains: about as fast as zlib's level 1.
    Fast,
    /// Lazy matching with chains of 128: about zlib's level 6.
    #[default]
    Default,
    /// Lazy matching with chains of 4096: about zlib's level 9.
    Best,
}

pub use crate::deflate::WindowBits;

/// A permessage-deflate compressor for one direction of one connection (or for one
/// broadcast, compressed once for many subscribers, without context takeover).
///
/// Sans-IO: bytes in, compressed bytes appended to the caller's `Vec`. A message is
/// compressed whole with [`compress_message`](Self::compress_message), or in parts with
/// [`write`](Self::write) … [`finish_message`](Self::finish_message) (the bytes may
/// differ from the one-shot form; they inflate to the same message). Either way the
/// output of one message is complete only once the message is finished: it ends with
/// the sync flush, its `00 00 ff ff` removed (RFC 7692 §7.2.1).
pub struct Compressor {
    level: Level,
    window_bits: WindowBits,
    keep_context: bool,
    /// The working memory. `Some` while a message is being written, and always once used
    /// when the context is kept; `None` between messages otherwise.
    scratch: Option<Box<Scratch>>,
    /// The bits of a message's last byte written so far (empty between messages).
    bits: BitWriter,
}

impl Compressor {
    /// A compressor at `level` whose matches reach at most `window_bits` back.
    /// `keep_context`: context takeover (RFC 7692 §7.2.1), the window carried from one
    /// message to the next; off for `server_no_context_takeover` (§7.1.1.1).
    pub fn new(level: Level, window_bits: WindowBits, keep_context: bool) -> Compressor {
        Compressor {
            level,
            window_bits,
            keep_context,
            scratch: None,
            bits: BitWriter::default(),
        }
    }

    /// Compresses one whole message, appending it to `out` without its sync flush's
    /// last 4 bytes. Allocates its scratch if it holds none (see [the module
    /// docs](self#memory)); without context takeover frees it afterwards.
    pub fn compress_message(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.compress_message_pooled(&mut CompressScratchPool::with_limit(0), input, out);
    }

    /// Compresses the next part of a message, appending whatever compressed bytes are
    /// ready (often none: input is gathered up to 32 KiB before it is parsed).
    pub fn write(&mut self, part: &[u8], out: &mut Vec<u8>) {
        self.write_pooled(&mut CompressScratchPool::with_limit(0), part, out);
    }

    /// Ends the message written with [`write`](Self::write) (an empty message if none
    /// was): appends the rest of it and the sync flush without its last 4 bytes.
    pub fn finish_message(&mut self, out: &mut Vec<u8>) {
        self.finish_message_pooled(&mut CompressScratchPool::with_limit(0), out);
    }

    /// [`compress_message`](Self::compress_message), with scratch from `pool` (given back
    /// at the end when the context is not kept).
    pub fn compress_message_pooled(
        &mut self,
        pool: &mut CompressScratchPool,
        input: &[u8],
        out: &mut Vec<u8>,
    ) {
        self.write_part(pool, input, Some(input.len()), out);
        self.finish_message_pooled(pool, out);
    }

    /// [`write`](Self::write), with scratch from `pool`.
    pub fn write_pooled(&mut self, pool: &mut CompressScratchPool, part: &[u8], out: &mut Vec<u8>) {
        self.write_part(pool, part, None, out);
    }

    /// [`finish_message`](Self::finish_message), giving the scratch back to `pool` when
    /// the context is not kept.
    pub fn finish_message_pooled(&mut self, pool: &mut CompressScratchPool, out: &mut Vec<u8>) {
        if let Some(scratch) = self.scratch.as_mut() {
            scratch.finish(self.level, &mut self.bits, out);
        }
        // RFC 7692 §7.2.1: a sync flush ends the message — an empty stored block
        // (RFC 1951 §3.2.4) — and its LEN and NLEN, 00 00 ff ff, are left off.
        self.bits.put(0b000, 3, out);
        self.bits.align(out);
        if !self.keep_context
            && let Some(scratch) = self.scratch.take()
        {
            pool.give(scratch);
        }
    }

    /// Gives the scratch (the context, if kept) to `pool`: for a connection that closes.
    /// Compressing again afterwards starts from an empty window. A message half written
    /// is abandoned.
    pub fn recycle(&mut self, pool: &mut CompressScratchPool) {
        if let Some(scratch) = self.scratch.take() {
            pool.give(scratch);
        }
        self.bits = BitWriter::default();
    }

    /// The heap memory this compressor holds now, in bytes: 0 between messages without
    /// context takeover.
    pub fn heap_bytes(&self) -> usize {
        self.scratch
            .as_ref()
            .map_or(0, |s| s.heap_bytes() + size_of::<Scratch>())
    }

    /// The level it was made with.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The window it was made with.
    pub fn window_bits(&self) -> WindowBits {
        self.window_bits
    }

    /// Whether it keeps its window from one message to the next (context takeover):
    /// without it, a message's compressed form depends on the message alone.
    pub fn keeps_context(&self) -> bool {
        self.keep_context
    }

    /// Feeds `part` to the scratch of the message under way, taking one (and starting a
    /// stream in it) when the compressor holds none. `size_hint`: the whole message's
    /// length, if known (the tables of a stream that ends with it are sized to it).
    fn write_part(
        &mut self,
        pool: &mut CompressScratchPool,
        part: &[u8],
        size_hint: Option<usize>,
        out: &mut Vec<u8>,
    ) {
        if part.is_empty() {
            return;
        }
        let hint = if self.keep_context { None } else { size_hint };
        let window = self.window_bits.size();
        let bits = &self.bits;
        let scratch = self.scratch.get_or_insert_with(|| {
            debug_assert!(bits.is_empty(), "a stream starts on a byte boundary");
            let mut scratch = pool.take();
            scratch.start(self.level, window, hint);
            scratch
        });
        scratch.write(self.level, part, &mut self.bits, out);
    }
}

impl fmt::Debug for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compressor")
            .field("level", &self.level)
            .field("window_bits", &self.window_bits)
            .field("keep_context", &self.keep_context)
            .field("heap_bytes", &self.heap_bytes())
            .finish()
    }
}

/// Spare compressor scratch, lent for one message at a time to compressors without
/// context takeover (the `*_pooled` methods of [`Compressor`]): one pool per event loop
/// thread, so compressing a message allocates nothing once the pool has warmed up, and
/// a connection between messages holds nothing.
///
/// A scratch taken is as large as the largest message it has served (see [the module
/// docs](self#memory)); at most [`limit`](Self::with_limit) spares are kept, the rest
/// are freed.
#[derive(Default)]
pub struct CompressScratchPool {
    // Boxed: a scratch moves between a compressor and the pool as one pointer.
    #[allow(clippy::vec_box)]
    spares: Vec<Box<Scratch>>,
    limit: usize,
}

impl CompressScratchPool {
    /// A pool keeping up to 4 spares (a thread compresses one message at a time; a few
    /// cover messages written in parts on several connections at once).
    pub fn new() -> CompressScratchPool {
        CompressScratchPool::with_limit(4)
    }

    /// A pool keeping up to `limit` spares.
    pub fn with_limit(limit: usize) -> CompressScratchPool {
        CompressScratchPool {
            spares: Vec::new(),
            limit,
        }
    }

    /// How many spares it holds.
    pub fn spares(&self) -> usize {
        self.spares.len()
    }

    /// The heap memory of its spares, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.spares
            .iter()
            .map(|s| s.heap_bytes() + size_of::<Scratch>())
            .sum()
    }

    fn take(&mut self) -> Box<Scratch> {
        self.spares
            .pop()
            .unwrap_or_else(|| Box::new(Scratch::new()))
    }

    fn give(&mut self, scratch: Box<Scratch>) {
        if self.spares.len() < self.limit {
            self.spares.push(scratch);
        }
    }
}

impl fmt::Debug for CompressScratchPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompressScratchPool")
            .field("spares", &self.spares.len())
            .field("limit", &self.limit)
            .field("heap_bytes", &self.heap_bytes())
            .finish()
    }
}
