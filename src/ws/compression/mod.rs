//! permessage-deflate on an open connection (RFC 7692 §6–§7.2): one compressor for the
//! messages we send, one decompressor for the messages we receive, and the scratch
//! memory they borrow.
//!
//! What was agreed in the handshake ([`Agreement`], from
//! [`permessage_deflate`](super::permessage_deflate)) fixes each direction's window and
//! whether it is kept between messages; how hard we compress and which messages we
//! leave alone is our own choice ([`CompressOptions`]), never negotiated.
//!
//! The bits on the wire (RFC 7692 §6): RSV1 set on the first frame of a message says it
//! is compressed ([`FrameHeader::parse_compressed`](super::frame::FrameHeader::parse_compressed)
//! checks where it may appear). A message is compressed as a whole — DEFLATE, a sync
//! flush, and its `00 00 ff ff` tail removed (§7.2.1) — then framed; the receiver
//! reassembles the frames' payloads, appends the tail and inflates (§7.2.2). A message
//! with RSV1 clear is sent as it is, on the same connection: short messages go out
//! uncompressed ([`CompressOptions::min_size`]).
//!
//! A message sent to many connections is compressed once for all of them that agreed
//! the same parameters without context takeover ([`SharedMessage`], in [`shared`]).

use crate::deflate::WindowBits;
use crate::deflate::compress::{CompressScratchPool, Compressor, Level};
use crate::deflate::inflate::{InflateScratchPool, Inflater};
use crate::ws::permessage_deflate::{Agreement, DeflateConfig};

pub mod shared;

pub use shared::{SharedFrame, SharedMessage};

/// What an endpoint does about permessage-deflate: which offers it accepts (what is
/// negotiated) and how it compresses what it sends (what is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compression {
    /// What the handshake accepts.
    pub negotiation: DeflateConfig,
    /// How our messages are compressed once it is agreed.
    pub options: CompressOptions,
}

impl Compression {
    /// Never negotiated: offers go unanswered.
    pub fn off() -> Compression {
        Compression {
            negotiation: DeflateConfig::disabled(),
            options: CompressOptions::default(),
        }
    }

    /// Whatever a client offers, with 32 KiB windows and context takeover where it
    /// allows them ([`DeflateConfig::full`]), and every message compressed at the
    /// default level: the best ratio, at up to a few hundred KiB per connection (the
    /// windows and hash chains kept between messages; see README.md). For conformance
    /// tests and for few chatty connections.
    pub fn full() -> Compression {
        Compression {
            negotiation: DeflateConfig::full(),
            options: CompressOptions::default(),
        }
    }

    /// No window kept between messages in either direction
    /// ([`DeflateConfig::memory_light`]), the fast level, and messages under 32 bytes
    /// left alone: nothing is held by an idle connection, and a message published to
    /// many subscribers compresses the same for all of them. For a hub.
    pub fn memory_light() -> Compression {
        Compression {
            negotiation: DeflateConfig::memory_light(),
            options: CompressOptions {
                level: Level::Fast,
                min_size: 32,
            },
        }
    }
}

/// The scratch memory compressors and decompressors borrow for one message at a time:
/// Huffman tables, hash chains. A server keeps one set for all its connections (they
/// run on one thread), so a connection without context takeover holds nothing between
/// messages and a busy one does not allocate per message. Every message compressed with
/// them is counted too ([`CompressionStats`]).
#[derive(Default)]
pub struct CodecPools {
    pub(crate) inflate: InflateScratchPool,
    pub(crate) compress: CompressScratchPool,
    pub(crate) stats: CompressionStats,
}

impl CodecPools {
    /// What was compressed with these pools so far.
    pub fn stats(&self) -> CompressionStats {
        self.stats
    }
}

impl std::fmt::Debug for CodecPools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodecPools")
            .field("inflate_spares", &self.inflate.len())
            .field("compress_spares", &self.compress.spares())
            .field("stats", &self.stats)
            .finish()
    }
}

/// The messages an endpoint compressed (permessage-deflate), and their sizes before and
/// after: `bytes_out / bytes_in` is the compression ratio on the wire. A message shared
/// by a broadcast ([`SharedMessage`]) counts once, however many connections it went to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompressionStats {
    /// Messages compressed.
    pub messages: u64,
    /// Their bytes before compression.
    pub bytes_in: u64,
    /// Their bytes after (without the 4 bytes of each sync flush's tail, which are not
    /// sent; RFC 7692 §7.2.1).
    pub bytes_out: u64,
}

impl CompressionStats {
    /// One whole message compressed.
    pub(crate) fn count(&mut self, bytes_in: usize, bytes_out: usize) {
        self.count_part(bytes_in, bytes_out, true);
    }

    /// One part of a message compressed as it is sent; `last` ends the message.
    pub(crate) fn count_part(&mut self, bytes_in: usize, bytes_out: usize, last: bool) {
        self.messages += u64::from(last);
        self.bytes_in += bytes_in as u64;
        self.bytes_out += bytes_out as u64;
    }
}

/// How this endpoint compresses what it sends: not part of the agreement, so each side
/// chooses alone (RFC 7692 §7.2.1 leaves the sender free to compress or not, message by
/// message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressOptions {
    /// Speed against ratio.
    pub level: Level,
    /// Messages shorter than this go out uncompressed (RSV1 clear): below a few dozen
    /// bytes DEFLATE's own overhead eats the gain, and the CPU is wasted.
    pub min_size: usize,
}

impl Default for CompressOptions {
    fn default() -> Self {
        CompressOptions {
            level: Level::Default,
            min_size: 0,
        }
    }
}

/// The smallest window zlib's raw deflate uses, whatever it is asked for.
const ZLIB_SMALLEST_WINDOW: WindowBits = match WindowBits::new(9) {
    Some(bits) => bits,
    None => WindowBits::MAX,
};

/// One connection's permessage-deflate state, boxed behind the connection so that a
/// connection that did not negotiate it pays one pointer.
#[derive(Debug)]
pub(crate) struct PerMessageDeflate {
    /// The peer's messages, in.
    pub(crate) inflater: Inflater,
    /// Our messages, out.
    pub(crate) compressor: Compressor,
    /// See [`CompressOptions::min_size`].
    pub(crate) min_size: usize,
    /// A message being sent in parts is compressed (its first frame had RSV1).
    pub(crate) compressing_parts: bool,
}

impl PerMessageDeflate {
    pub(crate) fn new(agreement: &Agreement, options: CompressOptions) -> Self {
        let inbound = agreement.decompressor;
        let outbound = agreement.compressor;
        // zlib cannot compress with a window of 2^8: asked for 8, it uses 9 and says
        // nothing (RFC 7692 §7.1.2.2 peers built on it do). Reading up to 512 bytes back
        // costs 256 bytes more and refuses no such peer; our own compressor keeps to 8.
        let read_window = inbound.window_bits.max(ZLIB_SMALLEST_WINDOW);
        PerMessageDeflate {
            inflater: Inflater::new(read_window, inbound.context_takeover),
            compressor: Compressor::new(
                options.level,
                outbound.window_bits,
                outbound.context_takeover,
            ),
            min_size: options.min_size,
            compressing_parts: false,
        }
    }

    /// Gives everything borrowed back (the connection is over).
    pub(crate) fn release(&mut self, pools: &mut CodecPools) {
        self.inflater.reset(&mut pools.inflate);
        self.compressor.recycle(&mut pools.compress);
    }
}

#[cfg(test)]
mod tests;
