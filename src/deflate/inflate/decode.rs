//! The data of a Huffman-coded block (RFC 1951 §3.2.5): literals, and length/distance
//! pairs copied from earlier output — and the bit buffer and output cursor under them.
//!
//! Two loops share the tables and copies. The fast loop runs while at least 8 input
//! bytes and room for a whole match are left: it refills the 64-bit bit buffer a word at
//! a time, after which any one symbol (at most 15 + 5 + 15 + 13 = 48 bits) is there, so
//! it never checks for bits. The careful loop decodes one symbol at a time near the end
//! of the input, and only consumes a symbol once all of its bits have arrived: when the
//! input runs out in the middle of one, nothing is consumed and the next call starts the
//! symbol again with more bits. That is what makes the result independent of how the
//! input is split.

use crate::deflate::tables::MAX_MATCH;

use super::InflateError;
use super::huffman::{
    DIST_ROOT_BITS, KIND_BASE, KIND_END_OF_BLOCK, KIND_LINK, KIND_LITERAL, LITLEN_ROOT_BITS,
    code_len, extra_bits, kind, value,
};
use super::window::Window;

/// Room kept past the write position: one longest match, plus the up to 7 bytes a
/// word-at-a-time copy writes past its end (overwritten later, or cut off at the end).
pub(super) const ROOM: usize = MAX_MATCH + 8;

#[inline(always)]
const fn low_bits(n: u32) -> u64 {
    (1u64 << n) - 1
}

/// The bits read from the input and not used yet, least significant first (RFC 1951
/// §3.1.1 packs data elements starting with the least significant bit of each byte).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Bits {
    /// The bits; above `count` they are zero.
    pub(super) buf: u64,
    /// How many of them are valid (at most 63).
    pub(super) count: u32,
}

impl Bits {
    /// Takes whole bytes from the input while they fit: afterwards at least 56 bits are
    /// held, or the input is used up.
    #[inline]
    pub(super) fn fill(&mut self, input: &mut Input<'_>) {
        while self.count < 56 {
            let Some(&byte) = input.data.get(input.pos) else {
                break;
            };
            self.buf |= u64::from(byte) << self.count;
            self.count += 8;
            input.pos += 1;
        }
    }

    /// The next `n` bits (n <= 32), if held.
    #[inline]
    pub(super) fn take(&mut self, n: u32) -> Option<u32> {
        if self.count < n {
            return None;
        }
        let v = (self.buf & low_bits(n)) as u32;
        self.consume(n);
        Some(v)
    }

    #[inline(always)]
    pub(super) fn consume(&mut self, n: u32) {
        self.buf >>= n;
        self.count -= n;
    }

    /// Drops the bits left in a partly used byte (RFC 1951 §3.2.4: a stored block's
    /// length starts on a byte boundary).
    pub(super) fn align(&mut self) {
        self.consume(self.count % 8);
    }
}

/// The caller's input for this call, and how much of it the bit buffer has taken.
pub(super) struct Input<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
}

/// The caller's output buffer while a call runs. The buffer is kept longer than the
/// output (`buf[pos..]` is room, zeroed or stale) so that the decoder writes by index and
/// copies matches a word at a time; [`Output::finish`] cuts it back to the output.
pub(super) struct Output<'a> {
    pub(super) buf: &'a mut Vec<u8>,
    /// Where the next byte goes.
    pub(super) pos: usize,
    /// Where this message's output starts: back-references within the message are read
    /// from `buf[message_start..pos]`.
    pub(super) message_start: usize,
    /// `pos` at the start of the call.
    call_start: usize,
    /// `pos` may not pass this: the call's limit.
    pub(super) limit_end: usize,
    /// The limit as the caller gave it, for the error.
    limit: usize,
    /// How much to grow the buffer by at least (an estimate of this call's output).
    grow_hint: usize,
}

impl<'a> Output<'a> {
    /// `produced` bytes of the current message are already at the end of `buf`.
    pub(super) fn new(
        buf: &'a mut Vec<u8>,
        produced: usize,
        limit: usize,
        input_len: usize,
    ) -> Self {
        let pos = buf.len();
        Output {
            message_start: pos.saturating_sub(produced),
            call_start: pos,
            limit_end: pos.saturating_add(limit),
            limit,
            grow_hint: input_len.saturating_mul(4),
            pos,
            buf,
        }
    }

    /// Bytes of this message so far, which back-references may reach.
    #[inline(always)]
    pub(super) fn in_message(&self) -> usize {
        self.pos - self.message_start
    }

    #[inline]
    pub(super) fn check_limit(&self) -> Result<(), InflateError> {
        if self.pos > self.limit_end {
            Err(self.too_large())
        } else {
            Ok(())
        }
    }

    pub(super) fn too_large(&self) -> InflateError {
        InflateError::TooLarge { limit: self.limit }
    }

    /// Makes `buf`'s capacity at least `needed`, growing it in large steps but never
    /// past the limit plus [`ROOM`]: an inflation bomb gets no more memory than its
    /// limit. Callers ask for at most that.
    #[inline]
    pub(super) fn reserve(&mut self, needed: usize) {
        if self.buf.capacity() >= needed {
            return;
        }
        let cap = self.limit_end.saturating_add(ROOM);
        let step = (self.pos - self.call_start).max(self.grow_hint).max(ROOM);
        let target = self.pos.saturating_add(step).min(cap).max(needed);
        self.buf.reserve_exact(target - self.buf.len());
    }

    /// Makes `buf` at least `needed` long (the room past `pos` zeroed), within its
    /// capacity as [`reserve`](Self::reserve) grows it; the zeroing goes a chunk at a
    /// time, so that it is still in the cache when the output overwrites it.
    #[inline]
    pub(super) fn ensure(&mut self, needed: usize) {
        if self.buf.len() >= needed {
            return;
        }
        self.reserve(needed);
        const ZEROED_CHUNK: usize = 16 * 1024;
        let len = needed
            .max(self.buf.len() + ZEROED_CHUNK)
            .min(self.buf.capacity())
            .max(needed);
        self.buf.resize(len, 0);
    }

    /// Appends `bytes` at `pos` (a stored block's data: no room needed, no zeroing).
    pub(super) fn append(&mut self, bytes: &[u8]) {
        self.reserve(self.pos + bytes.len());
        self.buf.truncate(self.pos);
        self.buf.extend_from_slice(bytes);
        self.pos += bytes.len();
    }

    /// Cuts the buffer back to the output; returns how many bytes this call wrote.
    pub(super) fn finish(self) -> usize {
        self.buf.truncate(self.pos);
        self.pos - self.call_start
    }
}

/// How far back references may reach from the start of this message.
#[derive(Clone, Copy)]
pub(super) struct Reach<'a> {
    /// History kept from earlier messages (empty without context takeover).
    pub(super) window: &'a Window,
    /// 2^w, the negotiated window (RFC 7692 §7.1.2).
    pub(super) max_distance: usize,
}

/// How a block's data stopped.
pub(super) enum Stop {
    /// The end-of-block code (256) was decoded.
    EndOfBlock,
    /// The input ran out; all of it is in the bit buffer.
    NeedInput,
}

/// Decodes a Huffman-coded block's data until its end-of-block code, or until the input
/// runs out.
pub(super) fn decode_block(
    litlen: &[u32],
    dist: &[u32],
    bits: &mut Bits,
    input: &mut Input<'_>,
    out: &mut Output<'_>,
    reach: Reach<'_>,
) -> Result<Stop, InflateError> {
    loop {
        out.check_limit()?;
        // `pos <= limit_end`, so this is within what `ensure` may give.
        out.ensure(out.pos + ROOM);
        if input.data.len() - input.pos >= 8 {
            if fast_loop(litlen, dist, bits, input, out, reach)? {
                return Ok(Stop::EndOfBlock);
            }
            continue;
        }
        bits.fill(input);
        match careful_symbol(litlen, dist, bits, out, reach)? {
            Some(Stop::EndOfBlock) => return Ok(Stop::EndOfBlock),
            Some(Stop::NeedInput) => return Ok(Stop::NeedInput),
            None => {}
        }
    }
}

/// Looks up the entry of the code at the bottom of `buf` (at least the longest code's
/// bits are there, or zeros in their place): the entry and the code's total length.
#[inline(always)]
fn lookup(table: &[u32], root_bits: u32, buf: u64) -> (u32, u32) {
    let entry = table[(buf & low_bits(root_bits)) as usize];
    if kind(entry) != KIND_LINK {
        return (entry, code_len(entry));
    }
    let sub = ((buf >> root_bits) & low_bits(extra_bits(entry))) as usize;
    let entry = table[value(entry) as usize + sub];
    (entry, root_bits + code_len(entry))
}

/// The fast loop; returns whether it stopped at the end of the block. It stops, with the
/// bit buffer cleaned of the bytes it peeked at, when fewer than 8 input bytes are left,
/// when the room in the buffer runs short, or when the output passes the limit.
#[inline(always)]
fn fast_loop(
    litlen: &[u32],
    dist: &[u32],
    bits: &mut Bits,
    input: &mut Input<'_>,
    out: &mut Output<'_>,
    reach: Reach<'_>,
) -> Result<bool, InflateError> {
    let data = input.data;
    let mut in_pos = input.pos;
    let mut bb = bits.buf;
    let mut bc = bits.count;
    let message_start = out.message_start;
    let fast_end = (out.buf.len() - ROOM).min(out.limit_end);
    let buf: &mut [u8] = out.buf;
    let mut pos = out.pos;
    let mut result = Ok(false);

    while in_pos + 8 <= data.len() && pos <= fast_end {
        // Refill to 56..=63 bits, a word at a time. The bits above the new count come
        // from bytes not consumed yet; they are exactly what a later refill ORs in.
        let mut word = [0u8; 8];
        word.copy_from_slice(&data[in_pos..in_pos + 8]);
        bb |= u64::from_le_bytes(word) << bc;
        in_pos += (63 - bc as usize) >> 3;
        bc |= 56;

        let (entry, n) = lookup(litlen, LITLEN_ROOT_BITS, bb);
        let k = kind(entry);
        if k == KIND_LITERAL {
            buf[pos] = value(entry) as u8;
            pos += 1;
            bb >>= n;
            bc -= n;
            // A second literal, if the next code is one: at least 41 bits are left.
            let (entry, n) = lookup(litlen, LITLEN_ROOT_BITS, bb);
            if kind(entry) == KIND_LITERAL {
                buf[pos] = value(entry) as u8;
                pos += 1;
                bb >>= n;
                bc -= n;
            }
            continue;
        }
        if k != KIND_BASE {
            if k == KIND_END_OF_BLOCK {
                bb >>= n;
                bc -= n;
                result = Ok(true);
            } else {
                result = Err(InflateError::InvalidLengthSymbol);
            }
            break;
        }
        // A length (RFC 1951 §3.2.5): base plus extra bits, then a distance code.
        let extra = extra_bits(entry);
        let len = value(entry) as usize + ((bb >> n) & low_bits(extra)) as usize;
        bb >>= n + extra;
        bc -= n + extra;
        let (entry, n) = lookup(dist, DIST_ROOT_BITS, bb);
        if kind(entry) != KIND_BASE {
            result = Err(InflateError::InvalidDistanceSymbol);
            break;
        }
        let extra = extra_bits(entry);
        let distance = value(entry) as usize + ((bb >> n) & low_bits(extra)) as usize;
        bb >>= n + extra;
        bc -= n + extra;
        if distance <= pos - message_start && distance <= reach.max_distance {
            copy_match(buf, pos, distance, len);
        } else if let Err(e) = copy_reference(buf, pos, message_start, distance, len, reach) {
            result = Err(e);
            break;
        }
        pos += len;
    }

    input.pos = in_pos;
    bits.buf = bb & low_bits(bc);
    bits.count = bc;
    out.pos = pos;
    result
}

/// Decodes one symbol if all of its bits are held; `None` to go on, `Some(NeedInput)`
/// (nothing consumed) if they are not.
fn careful_symbol(
    litlen: &[u32],
    dist: &[u32],
    bits: &mut Bits,
    out: &mut Output<'_>,
    reach: Reach<'_>,
) -> Result<Option<Stop>, InflateError> {
    let (entry, n) = lookup(litlen, LITLEN_ROOT_BITS, bits.buf);
    // Bits not held yet read as zeros; a code is only taken once all of its are held
    // (a link's length includes the root bits).
    if n > bits.count {
        return Ok(Some(Stop::NeedInput));
    }
    match kind(entry) {
        KIND_LITERAL => {
            out.buf[out.pos] = value(entry) as u8;
            out.pos += 1;
            bits.consume(n);
            Ok(None)
        }
        KIND_END_OF_BLOCK => {
            bits.consume(n);
            Ok(Some(Stop::EndOfBlock))
        }
        KIND_BASE => {
            let extra = extra_bits(entry);
            let mut used = n + extra;
            if used > bits.count {
                return Ok(Some(Stop::NeedInput));
            }
            let len = value(entry) as usize + ((bits.buf >> n) & low_bits(extra)) as usize;
            let rest = bits.buf >> used;
            let (entry, n) = lookup(dist, DIST_ROOT_BITS, rest);
            if kind(entry) != KIND_BASE {
                // An invalid code is invalid once its bits are there.
                return if used + n > bits.count {
                    Ok(Some(Stop::NeedInput))
                } else {
                    Err(InflateError::InvalidDistanceSymbol)
                };
            }
            let extra = extra_bits(entry);
            if used + n + extra > bits.count {
                return Ok(Some(Stop::NeedInput));
            }
            let distance = value(entry) as usize + ((rest >> n) & low_bits(extra)) as usize;
            used += n + extra;
            bits.consume(used);
            let pos = out.pos;
            if distance <= out.in_message() && distance <= reach.max_distance {
                copy_match(out.buf, pos, distance, len);
            } else {
                copy_reference(out.buf, pos, out.message_start, distance, len, reach)?;
            }
            out.pos += len;
            Ok(None)
        }
        _ => Err(InflateError::InvalidLengthSymbol),
    }
}

/// A reference the fast check did not pass: it reaches into the kept window, or too far.
#[cold]
fn copy_reference(
    buf: &mut [u8],
    pos: usize,
    message_start: usize,
    distance: usize,
    len: usize,
    reach: Reach<'_>,
) -> Result<(), InflateError> {
    let in_message = pos - message_start;
    let available = (in_message + reach.window.len()).min(reach.max_distance);
    if distance > available {
        return Err(InflateError::DistanceTooFar {
            distance: distance as u16,
            available,
        });
    }
    // The part before this message's first byte comes from the window; the rest (if the
    // match runs into this message) is an ordinary copy at the same distance.
    let back = distance - in_message;
    let from_window = len.min(back);
    reach
        .window
        .copy_out(back, from_window, &mut buf[pos..pos + from_window]);
    if len > from_window {
        copy_match(buf, pos + from_window, distance, len - from_window);
    }
    Ok(())
}

/// Copies `len` bytes from `distance` bytes back to `pos` (RFC 1951 §3.2.3: the copy may
/// overlap its own output, repeating the last `distance` bytes). `buf` has at least 8
/// bytes of room past `pos + len`.
#[inline(always)]
pub(super) fn copy_match(buf: &mut [u8], pos: usize, distance: usize, len: usize) {
    let src = pos - distance;
    if distance >= 8 {
        // A word at a time: each word's source ends at or before its destination.
        let mut from = src;
        let mut to = pos;
        let end = pos + len;
        loop {
            let mut word = [0u8; 8];
            word.copy_from_slice(&buf[from..from + 8]);
            buf[to..to + 8].copy_from_slice(&word);
            from += 8;
            to += 8;
            if to >= end {
                break;
            }
        }
    } else if distance == 1 {
        let byte = buf[src];
        buf[pos..pos + len].fill(byte);
    } else {
        // The pattern doubles with every copy: copying from `src` the bytes written so
        // far plus the original `distance` never overlaps the destination.
        let mut done = 0;
        while done < len {
            let n = (distance + done).min(len - done);
            buf.copy_within(src..src + n, pos + done);
            done += n;
        }
    }
}
