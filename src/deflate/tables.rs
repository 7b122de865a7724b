//! The fixed tables of the DEFLATE format (RFC 1951 §3.2.5–§3.2.7), shared by the
//! decoder ([`super::inflate`]) and the encoder ([`super::compress`]).

/// Literal/length symbols 0..=285 (RFC 1951 §3.2.5): 0–255 literal bytes, 256 end of
/// block, 257–285 lengths. 286 and 287 take part in the fixed code but never occur.
pub(crate) const END_OF_BLOCK: u16 = 256;

/// Literal/length symbols a dynamic block may declare (RFC 1951 §3.2.7: HLIT + 257 ≤ 286).
pub(crate) const MAX_LITLEN_SYMBOLS: usize = 286;

/// Distance symbols a dynamic block may declare (RFC 1951 §3.2.7: HDIST + 1 ≤ 32; only
/// 0–29 are valid in compressed data).
pub(crate) const MAX_DIST_SYMBOLS: usize = 30;

/// The longest code in any DEFLATE Huffman code (RFC 1951 §3.2.7).
pub(crate) const MAX_CODE_BITS: u8 = 15;

/// The longest code in the code-length code (3 bits per length, RFC 1951 §3.2.7).
pub(crate) const MAX_CODE_LENGTH_BITS: u8 = 7;

/// Shortest and longest match (RFC 1951 §3.2.5).
pub(crate) const MIN_MATCH: usize = 3;
pub(crate) const MAX_MATCH: usize = 258;

/// The largest window DEFLATE allows: distances reach back at most 32 KiB (RFC 1951
/// §3.2.5). permessage-deflate may negotiate a smaller one (RFC 7692 §7.1.2: 2^8..2^15).
pub(crate) const MAX_WINDOW: usize = 32 * 1024;

/// Length symbols 257..=285: the length of the first, and the extra bits that follow.
pub(crate) const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
pub(crate) const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];

/// Distance symbols 0..=29: the distance of the first, and the extra bits that follow.
pub(crate) const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
pub(crate) const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// The order in which a dynamic block sends the code lengths of the code-length code
/// (RFC 1951 §3.2.7).
pub(crate) const CODE_LENGTH_ORDER: [u8; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// The code length of each literal/length symbol in the fixed Huffman code (RFC 1951
/// §3.2.6): 0–143 → 8 bits, 144–255 → 9, 256–279 → 7, 280–287 → 8.
pub(crate) const fn fixed_litlen_length(symbol: usize) -> u8 {
    match symbol {
        0..=143 => 8,
        144..=255 => 9,
        256..=279 => 7,
        _ => 8,
    }
}

/// Every distance symbol of the fixed code is 5 bits (RFC 1951 §3.2.6); 30 and 31 exist
/// in the code but are invalid in data.
pub(crate) const FIXED_DIST_BITS: u8 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_table_covers_3_to_258_without_gaps() {
        let mut next = 3u32;
        for (base, extra) in LENGTH_BASE.iter().zip(LENGTH_EXTRA).take(28) {
            assert_eq!(u32::from(*base), next);
            next += 1 << extra;
        }
        // 284 with all extra bits set would be 258 (RFC 1951 §3.2.5 reserves it for 285).
        assert_eq!(next, 259);
        assert_eq!(LENGTH_BASE[28], 258);
    }

    #[test]
    fn distance_table_covers_1_to_32768_without_gaps() {
        let mut next = 1u32;
        for (base, extra) in DIST_BASE.iter().zip(DIST_EXTRA) {
            assert_eq!(u32::from(*base), next);
            next += 1 << extra;
        }
        assert_eq!(next, MAX_WINDOW as u32 + 1);
    }
}
