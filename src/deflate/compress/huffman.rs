//! Length-limited canonical Huffman codes (RFC 1951 §3.2.2): optimal code lengths from
//! symbol frequencies, capped at 15 bits (7 for the code-length code, §3.2.7), and the
//! codes themselves, bit-reversed so the bit writer can send them least significant
//! bit first.

/// A prefix code over `N` symbols: each symbol's length in bits (0 = unused) and its
/// code, already bit-reversed for [`super::bits::BitWriter::put`].
#[derive(Clone, Copy)]
pub(super) struct Code<const N: usize> {
    pub(super) lengths: [u8; N],
    pub(super) codes: [u16; N],
}

impl<const N: usize> Code<N> {
    /// The code for the given lengths (a valid prefix code's, as [`lengths_for`] makes
    /// and RFC 1951 §3.2.6 fixes).
    pub(super) const fn from_lengths(lengths: [u8; N]) -> Code<N> {
        // RFC 1951 §3.2.2: count the codes of each length, find the first code of each
        // length, then number the symbols of one length in symbol order.
        let mut count = [0u16; 16];
        let mut i = 0;
        while i < N {
            count[lengths[i] as usize] += 1;
            i += 1;
        }
        count[0] = 0;
        let mut next = [0u16; 16];
        let mut code = 0u16;
        let mut bits = 1;
        while bits < 16 {
            code = (code + count[bits - 1]) << 1;
            next[bits] = code;
            bits += 1;
        }
        let mut codes = [0u16; N];
        let mut symbol = 0;
        while symbol < N {
            let len = lengths[symbol] as usize;
            if len != 0 {
                codes[symbol] = next[len].reverse_bits() >> (16 - len);
                next[len] += 1;
            }
            symbol += 1;
        }
        Code { lengths, codes }
    }
}

/// Code lengths, at most `limit` bits, for symbols with the given frequencies: a Huffman
/// code (minimum redundancy) when it fits the limit, else one that is close to it.
///
/// Unused symbols get length 0. A single used symbol gets length 1 (a code needs a bit
/// to send); callers that need a complete code (see [`super::block`]) add a second.
pub(super) fn lengths_for<const N: usize>(freqs: &[u32; N], limit: u8) -> [u8; N] {
    let mut lengths = [0u8; N];
    // Used symbols sorted by frequency, ties by symbol: (frequency << 16) | symbol.
    let mut sorted = [0u64; N];
    let mut used = 0;
    for (symbol, &f) in freqs.iter().enumerate() {
        if f != 0 {
            sorted[used] = (u64::from(f) << 16) | symbol as u64;
            used += 1;
        }
    }
    let sorted = &mut sorted[..used];
    match used {
        0 => return lengths,
        1 => {
            lengths[(sorted[0] & 0xffff) as usize] = 1;
            return lengths;
        }
        _ => {}
    }
    sorted.sort_unstable();

    let mut weights = [0u32; N];
    for (w, &key) in weights.iter_mut().zip(sorted.iter()) {
        *w = (key >> 16) as u32;
    }
    let depths = &mut weights[..used];
    minimum_redundancy_depths(depths);

    // Codes per length; lengths over the limit are moved to it and the Kraft sum put
    // right (below).
    let mut per_length = [0u32; 32];
    for &d in depths.iter() {
        per_length[(d as usize).min(31)] += 1;
    }
    limit_lengths(&mut per_length, limit);

    // The longest codes go to the rarest symbols: `sorted` is rarest first.
    let mut next = 0;
    for len in (1..=limit).rev() {
        for _ in 0..per_length[len as usize] {
            lengths[(sorted[next] & 0xffff) as usize] = len;
            next += 1;
        }
    }
    lengths
}

/// Replaces the weights (sorted ascending, at least two) by the depths of their leaves
/// in a Huffman tree: the in-place method of Moffat and Katajainen ("In-place
/// calculation of minimum-redundancy codes", 1995), linear after the sort and with no
/// allocation.
fn minimum_redundancy_depths(a: &mut [u32]) {
    let n = a.len();
    debug_assert!(n >= 2);
    // Phase 1: build the tree left to right. Internal node `next` takes the two smallest
    // of the remaining leaves (from `leaf`) and internal nodes (from `root`); a consumed
    // internal node's slot is overwritten with its parent's index.
    a[0] += a[1];
    let mut root = 0;
    let mut leaf = 2;
    for next in 1..n - 1 {
        if leaf >= n || a[root] < a[leaf] {
            a[next] = a[root];
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] = a[leaf];
            leaf += 1;
        }
        if leaf >= n || (root < next && a[root] < a[leaf]) {
            a[next] += a[root];
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] += a[leaf];
            leaf += 1;
        }
    }
    // Phase 2: parent indices to internal-node depths, from the root (n - 2) down.
    a[n - 2] = 0;
    for next in (0..n - 2).rev() {
        a[next] = a[a[next] as usize] + 1;
    }
    // Phase 3: internal-node depths to leaf depths; the shallowest leaves go to the
    // heaviest weights (the end of the array).
    let mut available = 1u32;
    let mut depth = 0u32;
    let mut root = n as isize - 2;
    let mut next = n as isize - 1;
    while available > 0 {
        let mut used = 0;
        while root >= 0 && a[root as usize] == depth {
            used += 1;
            root -= 1;
        }
        while available > used {
            a[next as usize] = depth;
            next -= 1;
            available -= 1;
        }
        available = 2 * used;
        depth += 1;
    }
}

/// Caps the code lengths at `limit` given how many codes each length has: every code
/// longer than the limit becomes `limit` bits long, which overfills the code (Kraft sum
/// above 1); then, one at a time, a `limit`-bit code is removed and a shorter code is
/// split into two codes one bit longer, until the sum is exactly 1 again. Optimal codes
/// rarely need it (only for very skewed frequencies), and the result stays close.
fn limit_lengths(per_length: &mut [u32; 32], limit: u8) {
    let limit = limit as usize;
    let excess: u32 = per_length[limit + 1..].iter().sum();
    if excess == 0 {
        return;
    }
    per_length[limit] += excess;
    per_length[limit + 1..].fill(0);
    // The Kraft sum in units of 2^-limit; a complete code has exactly 2^limit.
    let mut total: u64 = (1..=limit)
        .map(|len| u64::from(per_length[len]) << (limit - len))
        .sum();
    while total > 1 << limit {
        per_length[limit] -= 1;
        for len in (1..limit).rev() {
            if per_length[len] != 0 {
                per_length[len] -= 1;
                per_length[len + 1] += 2;
                break;
            }
        }
        total -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kraft_sum_is_one<const N: usize>(lengths: &[u8; N]) -> bool {
        let sum: u64 = lengths
            .iter()
            .filter(|&&l| l != 0)
            .map(|&l| 1u64 << (15 - l))
            .sum();
        sum == 1 << 15
    }

    #[test]
    fn two_symbols_get_one_bit_each() {
        let mut freqs = [0u32; 8];
        freqs[2] = 5;
        freqs[6] = 1;
        let lengths = lengths_for(&freqs, 15);
        assert_eq!(lengths, [0, 0, 1, 0, 0, 0, 1, 0]);
    }

    #[test]
    fn a_single_symbol_gets_one_bit() {
        let mut freqs = [0u32; 30];
        freqs[7] = 9;
        let lengths = lengths_for(&freqs, 15);
        assert_eq!(lengths[7], 1);
        assert_eq!(lengths.iter().filter(|&&l| l != 0).count(), 1);
    }

    #[test]
    fn the_lengths_are_those_of_a_huffman_code() {
        // Textbook example: 45, 13, 12, 16, 9, 5 → 1, 3, 3, 3, 4, 4 (cost 224).
        let freqs = [45, 13, 12, 16, 9, 5];
        let lengths = lengths_for(&freqs, 15);
        assert_eq!(lengths, [1, 3, 3, 3, 4, 4]);
        assert!(kraft_sum_is_one(&lengths));
    }

    #[test]
    fn fibonacci_frequencies_are_limited_to_15_bits_and_stay_complete() {
        // Fibonacci counts make the deepest possible Huffman tree: depth n - 1.
        let mut freqs = [0u32; 286];
        let (mut a, mut b) = (1u32, 1u32);
        for f in freqs.iter_mut().take(30) {
            *f = a;
            (a, b) = (b, a + b);
        }
        let lengths = lengths_for(&freqs, 15);
        assert_eq!(lengths.iter().copied().max(), Some(15));
        assert!(kraft_sum_is_one(&lengths));
        // The most frequent symbols still get the shortest codes.
        assert!(lengths[29] <= lengths[0]);
        assert_eq!(lengths[29], 1);
    }

    #[test]
    fn the_code_length_code_is_limited_to_7_bits() {
        let mut freqs = [0u32; 19];
        let (mut a, mut b) = (1u32, 2u32);
        for f in &mut freqs {
            *f = a;
            (a, b) = (b, a + b);
        }
        let lengths = lengths_for(&freqs, 7);
        assert_eq!(lengths.iter().copied().max(), Some(7));
        let sum: u32 = lengths.iter().map(|&l| 1u32 << (7 - l)).sum();
        assert_eq!(sum, 1 << 7);
    }

    #[test]
    fn canonical_codes_follow_rfc_1951_section_3_2_2() {
        // The RFC's example: lengths (3, 3, 3, 3, 3, 2, 4, 4) give codes
        // 010 011 100 101 110 00 1110 1111 (shown here bit-reversed).
        let code = Code::from_lengths([3, 3, 3, 3, 3, 2, 4, 4]);
        let expected: [u16; 8] = [0b010, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111];
        for (symbol, (&got, &want)) in code.codes.iter().zip(&expected).enumerate() {
            let len = code.lengths[symbol];
            assert_eq!(got, want.reverse_bits() >> (16 - len), "symbol {symbol}");
        }
    }
}
