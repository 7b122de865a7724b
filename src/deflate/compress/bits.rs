//! The bit writer: DEFLATE packs its fields starting at the least significant bit of each
//! byte (RFC 1951 §3.1.1), Huffman codes with their first bit there too.

/// Bits not yet written out as whole bytes, kept between calls so that a message written
/// in parts stays one bit stream.
///
/// Holds at most 7 bits between calls ([`BitWriter::put`] spills whole bytes as it
/// goes), so it fits in the [`super::Compressor`] itself.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct BitWriter {
    /// Pending bits, the oldest in the lowest position.
    acc: u64,
    /// How many bits of `acc` are pending (< 32 after every `put`).
    len: u32,
}

impl BitWriter {
    /// Appends the low `n` bits of `bits` (n ≤ 32; the bits above `n` must be 0).
    #[inline(always)]
    pub(super) fn put(&mut self, bits: u32, n: u32, out: &mut Vec<u8>) {
        debug_assert!(n <= 32 && (n == 32 || bits >> n == 0));
        self.acc |= u64::from(bits) << self.len;
        self.len += n;
        if self.len >= 32 {
            out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.len -= 32;
        }
    }

    /// Bits written since the last byte boundary (0..=7 after the whole bytes go out).
    pub(super) fn bits_past_byte(&self) -> u32 {
        self.len % 8
    }

    /// Pads with 0 bits to a byte boundary and writes out everything pending: stored
    /// blocks start their LEN field on a byte boundary (RFC 1951 §3.2.4).
    pub(super) fn align(&mut self, out: &mut Vec<u8>) {
        let bytes = self.len.div_ceil(8) as usize;
        out.extend_from_slice(&self.acc.to_le_bytes()[..bytes]);
        self.acc = 0;
        self.len = 0;
    }

    /// True when nothing is pending (between messages, always).
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_packed_from_the_least_significant_bit() {
        let mut w = BitWriter::default();
        let mut out = Vec::new();
        w.put(0b1, 1, &mut out);
        w.put(0b01, 2, &mut out);
        w.put(0x1f, 5, &mut out);
        w.put(0xabc, 12, &mut out);
        w.align(&mut out);
        assert_eq!(out, [0b1111_1011, 0xbc, 0x0a]);
    }

    #[test]
    fn whole_words_spill_and_at_most_a_byte_stays_pending() {
        let mut w = BitWriter::default();
        let mut out = Vec::new();
        for _ in 0..10 {
            w.put(0x7fff, 15, &mut out);
        }
        assert!(w.len < 32);
        w.align(&mut out);
        assert_eq!(out.len(), 150usize.div_ceil(8));
        assert!(w.is_empty());
    }
}
