//! The message log on disk: its format, and recovering the hub's state from it.
//!
//! This is the pure half of persistence: bytes and the rules for them. The IO layer
//! (which opens, appends to, truncates and deletes the files) is elsewhere; nothing here
//! touches a file or the clock.
//!
//! # The log
//!
//! The log is a directory of *segment* files, numbered in the order they were created.
//! Records are only ever appended, to the newest segment (the *head*); when it grows
//! large enough it is sealed and a new head begins. Nothing is rewritten in place, so a
//! crash can damage at most the end of the head: the write it interrupted.
//!
//! The log never needs to hold more than the hub's retained history. To reclaim space the
//! writer *checkpoints* ([`disk`]): it copies every message the hub still retains into a
//! new segment, syncs it, then deletes every older segment. A crash between the copy and
//! the deletion leaves a message in the log twice, and after later messages of its
//! channel; recovery expects both (and so it also reads a log compacted a segment at a
//! time, oldest first, which the fuzz target's simulated writer does).
//!
//! # A segment file
//!
//! All integers are little-endian.
//!
//! ```text
//! offset  size
//!      0     8  magic "pushwlog"
//!      8     4  format version, u32 = 1
//!     12     4  reserved, u32 = 0
//!     16        records, back to back, to the end of the file:
//!
//! record:
//!      0     4  len: u32         the length of the body
//!      4     4  crc: u32         CRC-32C (Castagnoli) of the 4 len bytes, then the body
//!      8   len  body
//!
//! body, by its first byte:
//!   1  Message   epoch: u64, id: u64, name_len: u8, name[name_len], data: the rest (UTF-8)
//!   2  Dropped   epoch: u64, name_len: u8, name[name_len]             (nothing after)
//!   3  Message   as 1, the data a JSON payload (one JSON text, RFC 8259, nested ≤ 64 deep)
//! ```
//!
//! - A record costs 8 bytes of framing; a message's body 18 bytes more than its name
//!   and data.
//! - A channel name is 1–255 bytes of `A-Z a-z 0-9 _ . -`. An epoch is a stream's
//!   nonzero random token (the hub's `Epoch`); ids count from 1 within
//!   a stream.
//! - The checksum covers the length so that a damaged length is caught like a damaged
//!   body, and a length over the reader's limit is refused before the body is read.
//! - A *Dropped* record is a tombstone: the channel's stream `epoch` ended (it expired,
//!   say), so recovery must not bring back its messages from older segments.
//!
//! - Kind 3 is a message published as JSON (`Content-Type: application/json`), which is
//!   delivered as its value rather than as a string; the log keeps which of the two a
//!   message was, so it is delivered alike after a restart. Logs without JSON payloads
//!   are unchanged, so the format version is still 1.
//!
//! Any other kind, a bad name, data that is not UTF-8 (or, for kind 3, not JSON), a body
//! shorter than its fields or a Dropped body longer than its name is a bad record, as is
//! a checksum mismatch.
//!
//! # The modules
//!
//! - [`crc32c`]: the checksum.
//! - [`record`]: the header and record codec (zero-copy decoding, incremental input).
//! - [`recovery`]: the segments, oldest first, folded into every channel's stream and
//!   retained history, with what to truncate or set aside; its documentation states
//!   the rules of the fold.
//! - [`disk`]: the IO half: the directory, its lock and state, recovery on open, and the
//!   writer thread (group commit, fsync policies, checkpoints).

pub mod crc32c;
pub mod disk;
// A simulated writer and a model of the fold, for the tests and the fuzz target.
#[cfg(any(test, fuzzing))]
pub(crate) mod model;
pub mod record;
pub mod recovery;
