//! Blocks: the LZ77 tokens of one stretch of input written as whichever block of RFC 1951
//! §3.2.3 is smallest — stored (§3.2.4), fixed Huffman (§3.2.6) or dynamic Huffman
//! (§3.2.7). Each block's size is computed exactly for all three before one is written.

use super::bits::BitWriter;
use super::huffman::{Code, lengths_for};
use crate::deflate::tables::{
    CODE_LENGTH_ORDER, DIST_BASE, DIST_EXTRA, END_OF_BLOCK, FIXED_DIST_BITS, LENGTH_BASE,
    LENGTH_EXTRA, MAX_CODE_BITS, MAX_CODE_LENGTH_BITS, MAX_DIST_SYMBOLS, MAX_LITLEN_SYMBOLS,
    MIN_MATCH, fixed_litlen_length,
};

/// One LZ77 token packed in 32 bits: a literal byte (below 256), or a match with
/// `MATCH_FLAG`, its length − 3 in bits 16..24 and its distance − 1 in bits 0..15.
pub(super) type Token = u32;

const MATCH_FLAG: u32 = 1 << 31;

#[inline(always)]
pub(super) fn literal(byte: u8) -> Token {
    u32::from(byte)
}

/// `length` in 3..=258, `distance` in 1..=32768.
#[inline(always)]
pub(super) fn matched(length: usize, distance: usize) -> Token {
    debug_assert!((MIN_MATCH..=258).contains(&length) && (1..=32768).contains(&distance));
    MATCH_FLAG | (((length - MIN_MATCH) as u32) << 16) | (distance - 1) as u32
}

/// Length − 3 → index of its length symbol (257 + index) in `LENGTH_BASE`.
static LENGTH_SYMBOL: [u8; 256] = length_symbols();

const fn length_symbols() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut symbol = 0;
    while symbol < 29 {
        let first = LENGTH_BASE[symbol] as usize - MIN_MATCH;
        let count = if symbol == 28 {
            1
        } else {
            1 << LENGTH_EXTRA[symbol]
        };
        let mut i = 0;
        while i < count && first + i < 256 {
            table[first + i] = symbol as u8;
            i += 1;
        }
        symbol += 1;
    }
    // RFC 1951 §3.2.5: 258 is symbol 285 (index 28), not 284 with all extra bits set.
    table[255] = 28;
    table
}

/// Distance symbols: for distance − 1 below 256 by `DIST_SYMBOL_NEAR[d - 1]`, else by
/// `DIST_SYMBOL_FAR[(d - 1) >> 7]` (from symbol 16 on, every symbol's range is a whole
/// number of 128-distance steps).
static DIST_SYMBOL_NEAR: [u8; 256] = dist_symbols(0);
static DIST_SYMBOL_FAR: [u8; 256] = dist_symbols(7);

const fn dist_symbols(shift: u32) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut symbol = 0;
    while symbol < 30 {
        let first = (DIST_BASE[symbol] as usize - 1) >> shift;
        let last = (DIST_BASE[symbol] as usize - 1 + (1 << DIST_EXTRA[symbol]) - 1) >> shift;
        let mut i = first;
        while i <= last && i < 256 {
            table[i] = symbol as u8;
            i += 1;
        }
        symbol += 1;
    }
    table
}

#[inline(always)]
fn dist_symbol(distance_minus_one: u32) -> usize {
    if distance_minus_one < 256 {
        DIST_SYMBOL_NEAR[distance_minus_one as usize] as usize
    } else {
        DIST_SYMBOL_FAR[(distance_minus_one >> 7) as usize & 0xff] as usize
    }
}

/// RFC 1951 §3.2.6: the fixed codes (all 288 literal/length and 32 distance symbols
/// take part in the code).
static FIXED_LITLEN: Code<288> = Code::from_lengths(fixed_litlen_lengths());
static FIXED_DIST: Code<30> = Code::from_lengths([FIXED_DIST_BITS; 30]);

const fn fixed_litlen_lengths() -> [u8; 288] {
    let mut lengths = [0u8; 288];
    let mut symbol = 0;
    while symbol < 288 {
        lengths[symbol] = fixed_litlen_length(symbol);
        symbol += 1;
    }
    lengths
}

/// The largest LEN of a stored block (RFC 1951 §3.2.4: LEN is 16 bits).
const MAX_STORED: usize = 65_535;

/// How often each symbol occurs in a block, and the extra bits its matches add.
struct Histogram {
    litlen: [u32; 288],
    dist: [u32; MAX_DIST_SYMBOLS],
    /// Length and distance extra bits: the same in a fixed and a dynamic block.
    extra_bits: u64,
}

impl Histogram {
    fn of(tokens: &[Token]) -> Histogram {
        let mut h = Histogram {
            litlen: [0; 288],
            dist: [0; MAX_DIST_SYMBOLS],
            extra_bits: 0,
        };
        for &t in tokens {
            if t & MATCH_FLAG == 0 {
                h.litlen[t as usize] += 1;
            } else {
                let len_index = LENGTH_SYMBOL[((t >> 16) & 0xff) as usize] as usize;
                let dist_index = dist_symbol(t & 0x7fff);
                h.litlen[257 + len_index] += 1;
                h.dist[dist_index] += 1;
                h.extra_bits +=
                    u64::from(LENGTH_EXTRA[len_index]) + u64::from(DIST_EXTRA[dist_index]);
            }
        }
        h.litlen[END_OF_BLOCK as usize] = 1;
        h
    }
}

/// A dynamic block's code lengths and its header, sized; the codes themselves are made
/// only if the block is written this way.
struct DynamicHeader {
    litlen: [u8; 288],
    dist: [u8; MAX_DIST_SYMBOLS],
    code_lengths: Code<19>,
    /// HLIT + 257 and HDIST + 1: how many lengths of each code are sent.
    litlen_count: usize,
    dist_count: usize,
    /// HCLEN + 4.
    code_length_count: usize,
    /// The run-length encoded code lengths (RFC 1951 §3.2.7): symbol 0..=18 in the low
    /// byte, the repeat count's extra bits above it; `runs[..run_count]`.
    runs: [u16; MAX_LITLEN_SYMBOLS + MAX_DIST_SYMBOLS],
    run_count: usize,
    /// The header's size in bits, after the 3 block header bits.
    bits: u64,
}

impl DynamicHeader {
    fn new(h: &Histogram) -> DynamicHeader {
        let mut litlen_lengths = [0u8; 288];
        litlen_lengths[..MAX_LITLEN_SYMBOLS].copy_from_slice(&lengths_for::<MAX_LITLEN_SYMBOLS>(
            h.litlen[..MAX_LITLEN_SYMBOLS].try_into().expect("286"),
            MAX_CODE_BITS,
        ));
        // A block may use no distance, or one: give the code two symbols anyway, so it
        // is complete. RFC 1951 §3.2.7 allows one unused distance code, but a complete
        // code is accepted by every decoder (zlib's `inflate` included).
        let mut dist_freqs = h.dist;
        let used = dist_freqs.iter().filter(|&&f| f != 0).count();
        if used < 2 {
            let spare = if dist_freqs[0] == 0 { 0 } else { 1 };
            dist_freqs[spare] = 1;
            if used == 0 {
                dist_freqs[1] = 1;
            }
        }
        let dist_lengths = lengths_for(&dist_freqs, MAX_CODE_BITS);

        let litlen_count = 257
            + litlen_lengths[257..MAX_LITLEN_SYMBOLS]
                .iter()
                .rposition(|&l| l != 0)
                .map_or(0, |i| i + 1);
        let dist_count = 1 + dist_lengths.iter().rposition(|&l| l != 0).unwrap_or(0);

        let mut all = [0u8; MAX_LITLEN_SYMBOLS + MAX_DIST_SYMBOLS];
        all[..litlen_count].copy_from_slice(&litlen_lengths[..litlen_count]);
        all[litlen_count..litlen_count + dist_count].copy_from_slice(&dist_lengths[..dist_count]);
        let mut runs = [0u16; MAX_LITLEN_SYMBOLS + MAX_DIST_SYMBOLS];
        let run_count = run_length_encode(&all[..litlen_count + dist_count], &mut runs);

        let mut code_length_freqs = [0u32; 19];
        for &r in &runs[..run_count] {
            code_length_freqs[(r & 0xff) as usize] += 1;
        }
        let code_lengths =
            Code::from_lengths(lengths_for(&code_length_freqs, MAX_CODE_LENGTH_BITS));
        let code_length_count = 4 + CODE_LENGTH_ORDER[4..]
            .iter()
            .rposition(|&s| code_lengths.lengths[s as usize] != 0)
            .map_or(0, |i| i + 1);

        let mut bits = 5 + 5 + 4 + 3 * code_length_count as u64;
        for &r in &runs[..run_count] {
            let symbol = (r & 0xff) as usize;
            bits += u64::from(code_lengths.lengths[symbol]) + u64::from(repeat_extra_bits(symbol));
        }
        DynamicHeader {
            litlen: litlen_lengths,
            dist: dist_lengths,
            code_lengths,
            litlen_count,
            dist_count,
            code_length_count,
            runs,
            run_count,
            bits,
        }
    }

    /// Bits of the header and of the data in these codes.
    fn total_bits(&self, h: &Histogram) -> u64 {
        self.bits + cost(&self.litlen, &h.litlen) + cost(&self.dist, &h.dist) + h.extra_bits
    }

    fn write(&self, bits: &mut BitWriter, out: &mut Vec<u8>) {
        bits.put((self.litlen_count - 257) as u32, 5, out);
        bits.put((self.dist_count - 1) as u32, 5, out);
        bits.put((self.code_length_count - 4) as u32, 4, out);
        for &symbol in &CODE_LENGTH_ORDER[..self.code_length_count] {
            bits.put(
                u32::from(self.code_lengths.lengths[symbol as usize]),
                3,
                out,
            );
        }
        for &r in &self.runs[..self.run_count] {
            let symbol = (r & 0xff) as usize;
            bits.put(
                u32::from(self.code_lengths.codes[symbol]),
                u32::from(self.code_lengths.lengths[symbol]),
                out,
            );
            bits.put(u32::from(r >> 8), repeat_extra_bits(symbol), out);
        }
    }
}

/// RFC 1951 §3.2.7: 16 repeats the previous length 3–6 times (2 extra bits), 17 repeats
/// a zero 3–10 times (3 bits), 18 repeats a zero 11–138 times (7 bits).
fn repeat_extra_bits(symbol: usize) -> u32 {
    match symbol {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

/// The code lengths as code-length symbols (RFC 1951 §3.2.7), runs folded into 16, 17
/// and 18; returns how many. The runs may cross from the literal/length lengths into the
/// distance lengths. `runs` has room for one symbol per length, the most there can be.
fn run_length_encode(lengths: &[u8], runs: &mut [u16]) -> usize {
    let mut n = 0;
    let mut push = |r: u16| {
        runs[n] = r;
        n += 1;
    };
    let mut i = 0;
    while i < lengths.len() {
        let len = lengths[i];
        let run = lengths[i..].iter().take_while(|&&l| l == len).count();
        let mut left = run;
        if len == 0 {
            while left >= 11 {
                let n = left.min(138);
                push(18 | ((n - 11) as u16) << 8);
                left -= n;
            }
            if left >= 3 {
                push(17 | ((left - 3) as u16) << 8);
                left = 0;
            }
        } else {
            // The first length is sent as itself, repeats of it as 16.
            push(u16::from(len));
            left -= 1;
            while left >= 3 {
                let n = left.min(6);
                push(16 | ((n - 3) as u16) << 8);
                left -= n;
            }
        }
        for _ in 0..left {
            push(u16::from(len));
        }
        i += run;
    }
    n
}

/// The total bits that `freqs` cost in a code of these lengths.
fn cost<const N: usize>(lengths: &[u8; N], freqs: &[u32; N]) -> u64 {
    let mut total = 0u64;
    for (&f, &l) in freqs.iter().zip(lengths) {
        total += u64::from(f * u32::from(l));
    }
    total
}

/// Writes `tokens` (which encode `raw`, the block's input bytes) as the smallest of the
/// three block types, never as the last block (BFINAL = 0: a message ends in a sync
/// flush, RFC 7692 §7.2.1).
pub(super) fn write_block(tokens: &[Token], raw: &[u8], bits: &mut BitWriter, out: &mut Vec<u8>) {
    if raw.is_empty() {
        return;
    }
    let h = Histogram::of(tokens);
    let fixed_bits =
        cost(&FIXED_LITLEN.lengths, &h.litlen) + cost(&FIXED_DIST.lengths, &h.dist) + h.extra_bits;
    // Tiny blocks: a dynamic header alone is longer than such a block in fixed codes.
    let dynamic = (fixed_bits > 256).then(|| DynamicHeader::new(&h));
    let dynamic_bits = dynamic.as_ref().map_or(u64::MAX, |d| d.total_bits(&h));
    let stored_bits = stored_cost(raw.len(), bits.bits_past_byte());

    if stored_bits < 3 + fixed_bits.min(dynamic_bits) {
        write_stored(raw, bits, out);
    } else if let Some(d) = dynamic.filter(|_| dynamic_bits < fixed_bits) {
        // BFINAL = 0, BTYPE = 10.
        bits.put(0b100, 3, out);
        d.write(bits, out);
        let litlen = Code::from_lengths(d.litlen);
        let dist = Code::from_lengths(d.dist);
        write_tokens(tokens, &litlen, &dist, bits, out);
    } else {
        // BFINAL = 0, BTYPE = 01.
        bits.put(0b010, 3, out);
        write_tokens(tokens, &FIXED_LITLEN, &FIXED_DIST, bits, out);
    }
}

/// Bits of `len` bytes in stored blocks (of at most 65,535 bytes each) starting
/// `past_byte` bits after a byte boundary.
fn stored_cost(len: usize, past_byte: u32) -> u64 {
    let blocks = len.div_ceil(MAX_STORED).max(1) as u64;
    // The first header is padded from where we are; the next ones start aligned.
    let first_header = u64::from((past_byte + 3).div_ceil(8) * 8 - past_byte);
    first_header + (blocks - 1) * 8 + blocks * 32 + 8 * len as u64
}

/// RFC 1951 §3.2.4: BFINAL = 0, BTYPE = 00, pad to a byte, LEN, NLEN, the bytes.
pub(super) fn write_stored(raw: &[u8], bits: &mut BitWriter, out: &mut Vec<u8>) {
    let mut chunks = raw.chunks(MAX_STORED);
    // An empty stored block (the sync flush) still has its header.
    let first = chunks.next().unwrap_or(&[]);
    for chunk in std::iter::once(first).chain(chunks) {
        bits.put(0b000, 3, out);
        bits.align(out);
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

fn write_tokens(
    tokens: &[Token],
    litlen: &Code<288>,
    dist: &Code<MAX_DIST_SYMBOLS>,
    bits: &mut BitWriter,
    out: &mut Vec<u8>,
) {
    // At most 48 bits per token, whole bytes as they fill.
    out.reserve(tokens.len() * 6 + 8);
    for &t in tokens {
        if t & MATCH_FLAG == 0 {
            let s = t as usize;
            bits.put(
                u32::from(litlen.codes[s]),
                u32::from(litlen.lengths[s]),
                out,
            );
        } else {
            let length_minus_3 = (t >> 16) & 0xff;
            let len_index = LENGTH_SYMBOL[length_minus_3 as usize] as usize;
            let s = 257 + len_index;
            bits.put(
                u32::from(litlen.codes[s]),
                u32::from(litlen.lengths[s]),
                out,
            );
            let extra = u32::from(LENGTH_EXTRA[len_index]);
            if extra != 0 {
                let value = length_minus_3 + 3 - u32::from(LENGTH_BASE[len_index]);
                bits.put(value, extra, out);
            }
            let d = t & 0x7fff;
            let dist_index = dist_symbol(d);
            bits.put(
                u32::from(dist.codes[dist_index]),
                u32::from(dist.lengths[dist_index]),
                out,
            );
            let extra = u32::from(DIST_EXTRA[dist_index]);
            if extra != 0 {
                bits.put(d + 1 - u32::from(DIST_BASE[dist_index]), extra, out);
            }
        }
    }
    let eob = END_OF_BLOCK as usize;
    bits.put(
        u32::from(litlen.codes[eob]),
        u32::from(litlen.lengths[eob]),
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_maps_to_the_symbol_whose_range_holds_it() {
        for length in 3..=258usize {
            let i = LENGTH_SYMBOL[length - 3] as usize;
            let base = LENGTH_BASE[i] as usize;
            assert!(
                length >= base && length - base < 1 << LENGTH_EXTRA[i],
                "{length}"
            );
        }
        assert_eq!(LENGTH_SYMBOL[255], 28);
        assert_eq!(LENGTH_SYMBOL[254], 27);
    }

    #[test]
    fn every_distance_maps_to_the_symbol_whose_range_holds_it() {
        for distance in 1..=32768u32 {
            let i = dist_symbol(distance - 1);
            let base = u32::from(DIST_BASE[i]);
            assert!(
                distance >= base && distance - base < 1 << DIST_EXTRA[i],
                "{distance}"
            );
        }
    }

    #[test]
    fn runs_of_lengths_fold_into_repeat_symbols() {
        let mut lengths = vec![8u8; 8];
        lengths.extend([0; 150]);
        lengths.extend([5, 0, 0]);
        let mut runs = [0u16; 161];
        let n = run_length_encode(&lengths, &mut runs);
        let symbols: Vec<u16> = runs[..n].iter().map(|r| r & 0xff).collect();
        // 8, then 16 for 6 repeats and the 1 left as itself; 18 for 138 zeros and 18
        // for the 12 left; then 5, 0, 0 (a run of 2 is sent as it is).
        assert_eq!(symbols, [8, 16, 8, 18, 18, 5, 0, 0]);
        assert_eq!(runs[1] >> 8, 3); // 6 repeats
        assert_eq!(runs[3] >> 8, 127); // 138 zeros
        assert_eq!(runs[4] >> 8, 1); // 12 zeros
    }

    #[test]
    fn stored_cost_counts_the_padding_and_every_header() {
        // Aligned: 3 bits + 5 padding + LEN/NLEN + the bytes.
        assert_eq!(stored_cost(10, 0), 8 + 32 + 80);
        // 6 bits past a byte: the header crosses into the next byte.
        assert_eq!(stored_cost(10, 6), 10 + 32 + 80);
        assert_eq!(stored_cost(70_000, 0), 2 * 8 + 2 * 32 + 8 * 70_000);
    }
}
