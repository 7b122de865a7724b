//! LZ77 (RFC 1951 §4): the window of recent bytes, hash chains into it, and the parsers
//! that turn input into literals and matches — greedy for [`Level::Fast`], lazy
//! (zlib's "lazy evaluation of matches") for the others.
//!
//! Positions in the hash tables are *absolute*: a count of bytes since the tables were
//! made, offset so that 0 is always stale. A candidate is used only if it lies at most
//! the window size back, so entries left from an earlier message are rejected by
//! arithmetic rather than by clearing the tables: a message compressed without context
//! takeover starts its positions more than a window past the previous message's end,
//! which makes every old entry stale at once. Setting up a message therefore costs
//! nothing proportional to the tables.

use super::Level;
use super::bits::BitWriter;
use super::block::{Token, literal, matched, write_block};
use crate::deflate::tables::{MAX_MATCH, MAX_WINDOW, MIN_MATCH};

/// Input gathered before it is parsed (beyond the window's history): the largest part
/// of a message held at once.
pub(super) const MAX_PENDING: usize = 32 * 1024;

/// Bytes kept unparsed at the end of a non-final part, so that a match found before the
/// next part arrives is as long as it would have been with the whole input.
const LOOKAHEAD: usize = MAX_MATCH + 1;

/// Tokens per block: past this many a block is written (zlib's default buffer).
const BLOCK_TOKENS: usize = 16 * 1024;

/// The first absolute position: more than a window past 0, so zeroed entries are stale.
const FIRST_POSITION: u32 = MAX_WINDOW as u32 + 1;

/// When absolute positions pass this, the tables are rebased (every 2 GiB of input).
const REBASE_AT: u32 = 1 << 31;

/// How hard each level searches (the roles of zlib's configuration table).
#[derive(Clone, Copy)]
struct Effort {
    /// Candidates examined per position.
    chain: u32,
    /// Stop searching once a match this long is found.
    nice: usize,
    /// Lazy: a match this long is taken without looking one byte further; greedy: a
    /// match longer than this does not get its inner positions hashed.
    lazy: usize,
    /// Lazy: with a previous match this long, search a quarter of the chain.
    good: usize,
    greedy: bool,
    /// The largest hash table, in bits (a smaller one stays in cache, and finds less).
    max_hash_bits: u32,
}

impl Effort {
    fn of(level: Level) -> Effort {
        match level {
            Level::Fast => Effort {
                // Measured against miniz_oxide's level 1 on text: a 4 Ki-entry table
                // stays in the L1 cache, and a short chain that stops at 8 bytes still
                // finds about 10 % more than its single probe.
                chain: 3,
                nice: 8,
                lazy: 3,
                good: 4,
                greedy: true,
                max_hash_bits: 12,
            },
            Level::Default => Effort {
                chain: 128,
                nice: 128,
                lazy: 16,
                good: 8,
                greedy: false,
                max_hash_bits: 15,
            },
            Level::Best => Effort {
                chain: 4096,
                nice: 258,
                lazy: 258,
                good: 32,
                greedy: false,
                max_hash_bits: 15,
            },
        }
    }
}

/// The working memory of one compression: the window, the hash chains, the tokens of
/// the block being built. Kept by a compressor with context takeover; lent per message
/// (see [`super::CompressScratchPool`]) without.
pub(super) struct Scratch {
    /// History (up to a window's worth) and the input not yet parsed.
    window: Vec<u8>,
    /// The absolute position of `window[0]`.
    base: u32,
    /// Index in `window` of the next byte to parse.
    cursor: usize,
    /// Positions before this index are in the hash chains or deliberately skipped (see
    /// `parse`); those from here to `cursor` wait for the bytes that complete their
    /// hash (the last two of a message, until the next message comes).
    hashed: usize,
    /// Index in `window` of the first byte of the block being built.
    block_start: usize,
    /// Hash of 3 bytes → the latest absolute position with that hash.
    head: Vec<u32>,
    hash_shift: u32,
    /// Absolute position & `prev_mask` → distance back to the previous position with
    /// the same hash (0: none within reach).
    prev: Vec<u16>,
    prev_mask: u32,
    /// The farthest a match may reach: the negotiated window.
    max_distance: u32,
    /// The absolute position of the stream's first byte, which is never a match source:
    /// zlib's hash chains use position 0 for "none", and RFC 7692's worked example
    /// (§7.2.3.2) shows the result; keeping the quirk reproduces it byte for byte and
    /// costs at most one literal per stream.
    stream_start: u32,
    tokens: Vec<Token>,
}

impl Scratch {
    pub(super) fn new() -> Scratch {
        Scratch {
            window: Vec::new(),
            base: FIRST_POSITION,
            cursor: 0,
            hashed: 0,
            block_start: 0,
            head: Vec::new(),
            hash_shift: 32,
            prev: Vec::new(),
            prev_mask: 0,
            max_distance: 0,
            stream_start: 0,
            tokens: Vec::new(),
        }
    }

    /// Heap bytes held (capacities, not lengths).
    pub(super) fn heap_bytes(&self) -> usize {
        self.window.capacity()
            + self.head.capacity() * 4
            + self.prev.capacity() * 2
            + self.tokens.capacity() * 4
    }

    /// Starts a new stream: no history. `window` is the negotiated 2^w; `size_hint` the
    /// message's length if it is known to be the whole stream (no context takeover,
    /// one-shot), so the tables can be sized to it.
    pub(super) fn start(&mut self, level: Level, window: usize, size_hint: Option<usize>) {
        // Every position of the previous stream becomes more than a window back.
        let end = self.base as u64 + self.window.len() as u64 + MAX_WINDOW as u64 + 1;
        self.window.clear();
        self.tokens.clear();
        self.cursor = 0;
        self.hashed = 0;
        self.block_start = 0;
        if end >= u64::from(REBASE_AT) {
            // Nothing to keep: every entry is stale; zero them once per 2 GiB.
            self.head.fill(0);
            self.base = FIRST_POSITION;
        } else {
            self.base = end as u32;
        }

        let reach = size_hint.map_or(window, |n| n.next_power_of_two().clamp(256, window));
        // A hash table with about two heads per position it will hold.
        let max_bits = Effort::of(level).max_hash_bits;
        let hash_bits = (reach.trailing_zeros() + 1).clamp(9, max_bits);
        if self.head.len() < 1 << hash_bits {
            self.head.resize(1 << hash_bits, 0);
        }
        self.hash_shift = 32 - hash_bits;
        if self.prev.len() < reach {
            self.prev.resize(reach, 0);
        }
        // The tables may be larger than needed (lent after a larger message): a mask
        // over the whole of `prev` keeps every position in reach apart.
        self.prev_mask = self.prev.len() as u32 - 1;
        self.max_distance = window as u32;
        self.stream_start = self.base;
    }

    /// The bytes of the message not yet parsed.
    pub(super) fn pending(&self) -> usize {
        self.window.len() - self.cursor
    }

    /// Appends input. When the window is full (a window of history and
    /// [`MAX_PENDING`] + [`LOOKAHEAD`] bytes more), parses what is pending but the last
    /// [`LOOKAHEAD`] bytes, writes the block, and slides the history down to a window:
    /// at most one such move per 32 KiB of input, none per message.
    pub(super) fn write(
        &mut self,
        level: Level,
        mut input: &[u8],
        bits: &mut BitWriter,
        out: &mut Vec<u8>,
    ) {
        let capacity = self.max_distance as usize + MAX_PENDING + LOOKAHEAD;
        while !input.is_empty() {
            if self.window.len() >= capacity {
                if self.pending() > LOOKAHEAD {
                    let upto = self.window.len() - LOOKAHEAD;
                    self.parse(level, upto, bits, out);
                    self.end_block(bits, out);
                }
                self.slide();
            }
            let room = capacity - self.window.len();
            let (now, later) = input.split_at(room.min(input.len()));
            self.window.extend_from_slice(now);
            input = later;
        }
    }

    /// Parses everything pending and writes the last block of the message. The history
    /// stays where it is (the next message may need it, and sliding per message would
    /// move a window's worth of bytes for every small message).
    pub(super) fn finish(&mut self, level: Level, bits: &mut BitWriter, out: &mut Vec<u8>) {
        self.parse(level, self.window.len(), bits, out);
        self.end_block(bits, out);
    }

    /// Writes the tokens gathered since the block started.
    fn end_block(&mut self, bits: &mut BitWriter, out: &mut Vec<u8>) {
        write_block(
            &self.tokens,
            &self.window[self.block_start..self.cursor],
            bits,
            out,
        );
        self.tokens.clear();
        self.block_start = self.cursor;
    }

    /// Drops the bytes before the window's reach (whole blocks only: called after
    /// `end_block`, when no tokens are pending).
    fn slide(&mut self) {
        let drop = self.cursor.saturating_sub(self.max_distance as usize);
        if drop == 0 {
            return;
        }
        self.window.drain(..drop);
        self.base += drop as u32;
        self.cursor -= drop;
        self.hashed = self.hashed.saturating_sub(drop);
        self.block_start -= drop;
        if self.base >= REBASE_AT {
            self.rebase();
        }
    }

    /// Moves absolute positions down so they never wrap; entries beyond reach become 0.
    /// The shift is a multiple of 2^16, so every position keeps its slot in `prev`.
    fn rebase(&mut self) {
        let shift = (self.base - FIRST_POSITION) & !0xffff;
        for entry in &mut self.head {
            *entry = entry.saturating_sub(shift);
        }
        self.stream_start = self.stream_start.saturating_sub(shift);
        self.base -= shift;
    }

    #[inline(always)]
    fn hash_at(&self, i: usize) -> usize {
        let w = &self.window;
        let v = u32::from(w[i]) | u32::from(w[i + 1]) << 8 | u32::from(w[i + 2]) << 16;
        (v.wrapping_mul(0x9E37_79B1) >> self.hash_shift) as usize
    }

    /// Puts the position at index `i` into its chain; returns the previous head (the
    /// first candidate for a match at `i`). Needs `i + 3 <= window.len()`.
    #[inline(always)]
    fn insert(&mut self, i: usize) -> u32 {
        let h = self.hash_at(i);
        let position = self.base + i as u32;
        let candidate = self.head[h];
        let back = position.wrapping_sub(candidate);
        self.prev[(position & self.prev_mask) as usize] = if back <= self.max_distance {
            back as u16
        } else {
            0
        };
        self.head[h] = position;
        candidate
    }

    /// Inserts the positions from `hashed` up to `until` (exclusive) whose 3 bytes are
    /// there.
    fn catch_up(&mut self, until: usize) {
        let end = until.min(self.window.len().saturating_sub(MIN_MATCH - 1));
        for i in self.hashed..end {
            self.insert(i);
        }
        self.hashed = self.hashed.max(end);
    }

    /// The longest match for the bytes at `i` among the chain from `candidate`, longer
    /// than `best` and at most `limit` bytes: `(length, distance)`.
    #[inline(always)]
    fn longest_match(
        &self,
        i: usize,
        mut candidate: u32,
        mut chain: u32,
        nice: usize,
        mut best: usize,
        limit: usize,
    ) -> (usize, usize) {
        let w = &self.window[..];
        let position = self.base + i as u32;
        let mut best_distance = 0;
        if best >= limit {
            return (best, 0);
        }
        loop {
            let distance = position.wrapping_sub(candidate);
            // RFC 7692 §7.1.2.1 via §3.2.5 of RFC 1951: never farther back than the
            // negotiated window.
            // The stream's first byte is the oldest candidate of any chain: stop there.
            if distance == 0 || distance > self.max_distance || candidate == self.stream_start {
                break;
            }
            let Some(c) = candidate.checked_sub(self.base).map(|c| c as usize) else {
                break;
            };
            if w[c + best] == w[i + best] && w[c] == w[i] {
                let length = common_prefix(w, c, i, limit);
                if length > best {
                    best = length;
                    best_distance = distance as usize;
                    if length >= nice || length >= limit {
                        break;
                    }
                }
            }
            chain -= 1;
            if chain == 0 {
                break;
            }
            let back = self.prev[(candidate & self.prev_mask) as usize];
            if back == 0 {
                break;
            }
            candidate = candidate.wrapping_sub(u32::from(back));
        }
        (best, best_distance)
    }

    /// Parses from `cursor` to `upto` (a match may run past it, within the window).
    fn parse(&mut self, level: Level, upto: usize, bits: &mut BitWriter, out: &mut Vec<u8>) {
        self.catch_up(self.cursor);
        let effort = Effort::of(level);
        if effort.greedy {
            self.parse_greedy(effort, upto, bits, out);
        } else {
            self.parse_lazy(effort, upto, bits, out);
        }
        // The parsers hash what they pass (greedy skips the inside of long matches, on
        // purpose); only the positions too near the end for 3 bytes are left.
        let hashable_end = self.window.len().saturating_sub(MIN_MATCH - 1);
        self.hashed = self.hashed.max(self.cursor.min(hashable_end));
    }

    /// Adds a token; writes the block if the token buffer is full.
    #[inline(always)]
    fn push(&mut self, token: Token, bits: &mut BitWriter, out: &mut Vec<u8>, next: usize) {
        self.tokens.push(token);
        if self.tokens.len() >= BLOCK_TOKENS {
            self.cursor = next;
            self.end_block(bits, out);
        }
    }

    /// Greedy: take the longest match at each position, if any (RFC 1951 §4 allows any
    /// parse; this one is the fastest).
    fn parse_greedy(
        &mut self,
        effort: Effort,
        upto: usize,
        bits: &mut BitWriter,
        out: &mut Vec<u8>,
    ) {
        let len = self.window.len();
        let mut i = self.cursor;
        while i < upto {
            let limit = (len - i).min(MAX_MATCH);
            if limit < MIN_MATCH {
                let byte = self.window[i];
                self.push(literal(byte), bits, out, i + 1);
                i += 1;
                continue;
            }
            let candidate = self.insert(i);
            let (length, distance) = self.longest_match(
                i,
                candidate,
                effort.chain,
                effort.nice,
                MIN_MATCH - 1,
                limit,
            );
            if length >= MIN_MATCH && !(length == MIN_MATCH && distance > 4096) {
                let end = i + length;
                if length <= effort.lazy {
                    let hashable = end.min(len - (MIN_MATCH - 1));
                    for j in i + 1..hashable {
                        self.insert(j);
                    }
                }
                self.push(matched(length, distance), bits, out, end);
                i = end;
            } else {
                let byte = self.window[i];
                self.push(literal(byte), bits, out, i + 1);
                i += 1;
            }
        }
        self.cursor = i;
    }

    /// Lazy: a match found at one position is held while the next position is tried; if
    /// that finds a longer one, the first byte goes out as a literal instead.
    fn parse_lazy(&mut self, effort: Effort, upto: usize, bits: &mut BitWriter, out: &mut Vec<u8>) {
        let len = self.window.len();
        let mut i = self.cursor;
        // The match found at i - 1, if any, still waiting for i's (length 0: none).
        let mut held: (usize, usize) = (0, 0);
        let mut have_held = false;
        while i < upto {
            let limit = (len - i).min(MAX_MATCH);
            let mut found = (0, 0);
            if limit >= MIN_MATCH {
                let candidate = self.insert(i);
                if held.0 < effort.lazy {
                    let chain = if held.0 >= effort.good {
                        (effort.chain >> 2).max(1)
                    } else {
                        effort.chain
                    };
                    let best = held.0.max(MIN_MATCH - 1);
                    found = self.longest_match(i, candidate, chain, effort.nice, best, limit);
                    if found.1 == 0 || (found.0 == MIN_MATCH && found.1 > 4096) {
                        found = (0, 0);
                    }
                }
            }
            if have_held && held.0 >= MIN_MATCH && found.0 <= held.0 {
                // The held match (from i - 1) wins; hash the positions it covers.
                let end = i - 1 + held.0;
                let hashable = end.min(len - (MIN_MATCH - 1));
                for j in i + 1..hashable {
                    self.insert(j);
                }
                self.push(matched(held.0, held.1), bits, out, end);
                i = end;
                have_held = false;
                held = (0, 0);
            } else {
                if have_held {
                    let byte = self.window[i - 1];
                    self.push(literal(byte), bits, out, i);
                }
                held = found;
                have_held = true;
                i += 1;
            }
        }
        if have_held {
            // The part ends: settle the held position without looking further.
            if held.0 >= MIN_MATCH {
                let end = i - 1 + held.0;
                let hashable = end.min(len - (MIN_MATCH - 1));
                for j in i..hashable {
                    self.insert(j);
                }
                self.push(matched(held.0, held.1), bits, out, end);
                i = end;
            } else {
                let byte = self.window[i - 1];
                self.push(literal(byte), bits, out, i);
            }
        }
        self.cursor = i;
    }
}

/// How many bytes from `a` and `b` agree (`a < b`, at most `limit`, `b + limit` within
/// `w`), 8 at a time.
#[inline(always)]
fn common_prefix(w: &[u8], a: usize, b: usize, limit: usize) -> usize {
    let mut n = 0;
    while n + 8 <= limit {
        let x = u64::from_le_bytes(w[a + n..a + n + 8].try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(w[b + n..b + n + 8].try_into().expect("8 bytes"));
        let diff = x ^ y;
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < limit && w[a + n] == w[b + n] {
        n += 1;
    }
    n
}

#[cfg(test)]
impl Scratch {
    /// Moves every absolute position (and table entry) up to just below the rebase point,
    /// as 2 GiB of input would.
    pub(super) fn jump_positions_near_rebase(&mut self) {
        let shift = (REBASE_AT - (1 << 16) - self.base) & !0xffff;
        for entry in &mut self.head {
            if *entry != 0 {
                *entry += shift;
            }
        }
        self.base += shift;
        self.stream_start += shift;
    }
}
