//! Canonical Huffman codes (RFC 1951 §3.2.2) turned into lookup tables.
//!
//! A code is decoded by one table look-up on the next [`LITLEN_ROOT_BITS`] (or
//! [`DIST_ROOT_BITS`]) bits of the stream; codes longer than the root index reach a
//! second-level subtable through a link entry. DEFLATE sends a Huffman code starting with
//! its most significant bit into an LSB-first bit stream (§3.1.1), so the tables are
//! indexed by the bit-reversed code: the low bits of the bit buffer index them directly.
//!
//! Every entry is one `u32` saying what the code means and how many bits it takes:
//!
//! ```text
//!  bits 0..4   code length: bits to consume for this entry (for a link, the root bits)
//!  bits 4..8   extra bits that follow the code (lengths, distances), or a link's
//!              subtable index width
//!  bits 8..12  kind: literal, base + extra, end of block, link, invalid
//!  bits 16..32 value: the literal byte, the base length or distance, the code-length
//!              symbol, or a link's subtable offset
//! ```
//!
//! The builder is a `const fn`, so the fixed code of §3.2.6 is built at compile time
//! ([`FIXED_LITLEN`], [`FIXED_DIST`]): a block with fixed codes costs no table building.

use crate::deflate::tables::{
    DIST_BASE, DIST_EXTRA, END_OF_BLOCK, FIXED_DIST_BITS, LENGTH_BASE, LENGTH_EXTRA, MAX_CODE_BITS,
    MAX_CODE_LENGTH_BITS, MAX_DIST_SYMBOLS, MAX_LITLEN_SYMBOLS, fixed_litlen_length,
};

/// Root index width of the literal/length table: every literal of a typical text code
/// (≤ 10 bits) is one look-up.
pub(super) const LITLEN_ROOT_BITS: u32 = 10;
/// Root index width of the distance table.
pub(super) const DIST_ROOT_BITS: u32 = 8;
/// The code-length code has codes of at most 7 bits (RFC 1951 §3.2.7): one level.
pub(super) const CODE_LENGTH_ROOT_BITS: u32 = MAX_CODE_LENGTH_BITS as u32;

/// The largest literal/length table any valid code needs with a 10-bit root: the root
/// plus its subtables. The bound is the one of zlib's `enough` program for 288 symbols,
/// root 10, longest code 15 (1334), which covers our 286 symbols.
pub(super) const LITLEN_TABLE_LEN: usize = 1334;
/// The same for 32 distance symbols, root 8, longest code 15 (`enough 32 8 15` = 402).
pub(super) const DIST_TABLE_LEN: usize = 402;
/// The code-length code: 19 symbols, root 7, no subtables.
pub(super) const CODE_LENGTH_TABLE_LEN: usize = 1 << CODE_LENGTH_ROOT_BITS;

/// What an entry means (bits 8..12).
pub(super) const KIND_LITERAL: u32 = 0;
pub(super) const KIND_BASE: u32 = 1;
pub(super) const KIND_END_OF_BLOCK: u32 = 2;
pub(super) const KIND_LINK: u32 = 3;
pub(super) const KIND_INVALID: u32 = 4;

#[inline(always)]
pub(super) const fn code_len(entry: u32) -> u32 {
    entry & 0xF
}

#[inline(always)]
pub(super) const fn extra_bits(entry: u32) -> u32 {
    (entry >> 4) & 0xF
}

#[inline(always)]
pub(super) const fn kind(entry: u32) -> u32 {
    (entry >> 8) & 0xF
}

#[inline(always)]
pub(super) const fn value(entry: u32) -> u32 {
    entry >> 16
}

const fn pack(kind: u32, code_len: u32, extra: u32, value: u32) -> u32 {
    code_len | (extra << 4) | (kind << 8) | (value << 16)
}

/// The entry every slot starts as: a code that is not in the code. One bit is enough to
/// know (the only incomplete codes allowed have a single 1-bit code, or none).
const INVALID_ENTRY: u32 = pack(KIND_INVALID, 1, 0, 0);

/// Which alphabet a code encodes: it decides what each symbol's entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Alphabet {
    /// 0–255 literals, 256 end of block, 257–285 lengths; 286 and 287 (only in the fixed
    /// code) are invalid in data (RFC 1951 §3.2.5, §3.2.6).
    LitLen,
    /// 0–29 distances; 30 and 31 (only in the fixed code) are invalid in data.
    Distance,
    /// 0–18: code lengths 0–15 and the repeat codes 16, 17, 18 (RFC 1951 §3.2.7).
    CodeLength,
}

/// Why a set of code lengths is not a usable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CodeError {
    /// More codes than the code space holds (the Kraft sum exceeds 1).
    Oversubscribed,
    /// Code space left unused, beyond what RFC 1951 and zlib allow (see [`build`]).
    Incomplete,
}

const fn entry_for(alphabet: Alphabet, symbol: usize, len: u32) -> u32 {
    match alphabet {
        Alphabet::LitLen => {
            if symbol < END_OF_BLOCK as usize {
                pack(KIND_LITERAL, len, 0, symbol as u32)
            } else if symbol == END_OF_BLOCK as usize {
                pack(KIND_END_OF_BLOCK, len, 0, 0)
            } else if symbol < MAX_LITLEN_SYMBOLS {
                let i = symbol - 257;
                pack(
                    KIND_BASE,
                    len,
                    LENGTH_EXTRA[i] as u32,
                    LENGTH_BASE[i] as u32,
                )
            } else {
                pack(KIND_INVALID, len, 0, 0)
            }
        }
        Alphabet::Distance => {
            if symbol < MAX_DIST_SYMBOLS {
                pack(
                    KIND_BASE,
                    len,
                    DIST_EXTRA[symbol] as u32,
                    DIST_BASE[symbol] as u32,
                )
            } else {
                pack(KIND_INVALID, len, 0, 0)
            }
        }
        Alphabet::CodeLength => pack(KIND_LITERAL, len, 0, symbol as u32),
    }
}

/// `code`'s low `len` bits in reverse order.
const fn reverse(code: u32, len: u32) -> u32 {
    code.reverse_bits() >> (32 - len)
}

/// Builds the decoding table of the canonical code with these code lengths (RFC 1951
/// §3.2.2: shorter codes first, and within a length in symbol order). `lengths[s]` is
/// symbol `s`'s code length, 0 when unused, at most 15; at most 288 symbols.
///
/// A code must use its whole code space, with the exceptions zlib makes and RFC 1951
/// §3.2.7 describes ("one distance code of zero bits means that there are no distance
/// codes ... If only one distance code is used, it is encoded using one bit"): a
/// literal/length or distance code may consist of a single 1-bit code, and a distance
/// code may be empty (a block of literals only). The unused code space decodes as an
/// invalid symbol. The code-length code must be complete.
pub(super) const fn build(
    lengths: &[u8],
    alphabet: Alphabet,
    root_bits: u32,
    table: &mut [u32],
) -> Result<(), CodeError> {
    let max_bits = MAX_CODE_BITS as usize;
    let mut count = [0u16; MAX_CODE_BITS as usize + 1];
    let mut s = 0;
    while s < lengths.len() {
        count[lengths[s] as usize] += 1;
        s += 1;
    }
    count[0] = 0;

    // The Kraft sum, in units of the code space left at each length.
    let mut left: i32 = 1;
    let mut used = 0;
    let mut longest = 0;
    let mut len = 1;
    while len <= max_bits {
        left = (left << 1) - count[len] as i32;
        if left < 0 {
            return Err(CodeError::Oversubscribed);
        }
        if count[len] > 0 {
            longest = len;
        }
        used += count[len] as usize;
        len += 1;
    }
    if left > 0 {
        let allowed = match alphabet {
            Alphabet::CodeLength => false,
            Alphabet::LitLen => used == 1 && longest == 1,
            Alphabet::Distance => used == 0 || (used == 1 && longest == 1),
        };
        if !allowed {
            return Err(CodeError::Incomplete);
        }
    }

    let root_size = 1usize << root_bits;
    if left > 0 {
        // Only an incomplete code leaves root slots that no code fills.
        let mut i = 0;
        while i < root_size {
            table[i] = INVALID_ENTRY;
            i += 1;
        }
    }

    // The symbols in code order: by length, then by symbol.
    let mut next = [0u16; MAX_CODE_BITS as usize + 2];
    let mut len = 1;
    while len <= max_bits {
        next[len + 1] = next[len] + count[len];
        len += 1;
    }
    let mut sorted = [0u16; 288];
    let mut s = 0;
    while s < lengths.len() {
        let len = lengths[s] as usize;
        if len != 0 {
            sorted[next[len] as usize] = s as u16;
            next[len] += 1;
        }
        s += 1;
    }

    // Walk the codes in order; `code` is the current canonical code, MSB first.
    let mut remaining = count;
    let mut code: u32 = 0;
    let mut sub_prefix = u32::MAX;
    let mut sub_start = 0usize;
    let mut sub_bits = 0u32;
    let mut next_sub = root_size;
    let mut k = 0;
    while k < used {
        let symbol = sorted[k] as usize;
        let len = lengths[symbol] as u32;
        let reversed = reverse(code, len);
        if len <= root_bits {
            // Every root slot whose low `len` bits are this code.
            let entry = entry_for(alphabet, symbol, len);
            let mut slot = reversed as usize;
            while slot < root_size {
                table[slot] = entry;
                slot += 1 << len;
            }
        } else {
            let prefix = reversed & (root_size as u32 - 1);
            if prefix != sub_prefix {
                // A new subtable: as wide as the codes that share this root prefix need
                // (they follow one another in code order).
                let mut bits = len - root_bits;
                let mut space: i32 = 1 << bits;
                loop {
                    space -= remaining[(root_bits + bits) as usize] as i32;
                    if space <= 0 || (root_bits + bits) as usize >= longest {
                        break;
                    }
                    bits += 1;
                    space <<= 1;
                }
                if next_sub + (1 << bits) > table.len() {
                    // Cannot happen for a complete code (the table sizes are zlib's
                    // proven bounds); refuse rather than index out of bounds.
                    return Err(CodeError::Oversubscribed);
                }
                table[prefix as usize] = pack(KIND_LINK, root_bits, bits, next_sub as u32);
                sub_prefix = prefix;
                sub_start = next_sub;
                sub_bits = bits;
                next_sub += 1 << bits;
            }
            let sub_len = len - root_bits;
            let entry = entry_for(alphabet, symbol, sub_len);
            let mut slot = (reversed >> root_bits) as usize;
            while slot < 1 << sub_bits {
                table[sub_start + slot] = entry;
                slot += 1 << sub_len;
            }
        }
        remaining[len as usize] -= 1;
        code += 1;
        k += 1;
        if k < used {
            code <<= lengths[sorted[k] as usize] as u32 - len;
        }
    }
    Ok(())
}

/// The fixed literal/length code of RFC 1951 §3.2.6 (7 to 9 bits: no subtables).
pub(super) static FIXED_LITLEN: [u32; 1 << LITLEN_ROOT_BITS] = {
    let mut lengths = [0u8; 288];
    let mut s = 0;
    while s < 288 {
        lengths[s] = fixed_litlen_length(s);
        s += 1;
    }
    let mut table = [0u32; 1 << LITLEN_ROOT_BITS];
    match build(&lengths, Alphabet::LitLen, LITLEN_ROOT_BITS, &mut table) {
        Ok(()) => table,
        Err(_) => panic!("the fixed literal/length code is complete"),
    }
};

/// The fixed distance code of RFC 1951 §3.2.6: 32 codes of 5 bits, 30 and 31 invalid.
pub(super) static FIXED_DIST: [u32; 1 << DIST_ROOT_BITS] = {
    let lengths = [FIXED_DIST_BITS; 32];
    let mut table = [0u32; 1 << DIST_ROOT_BITS];
    match build(&lengths, Alphabet::Distance, DIST_ROOT_BITS, &mut table) {
        Ok(()) => table,
        Err(_) => panic!("the fixed distance code is complete"),
    }
};
