//! CRC-32C (Castagnoli), the checksum of every record in the log.
//!
//! Why this CRC: its polynomial detects every error of up to 5 bits in records of the
//! sizes a log holds (far beyond the 64 KiB messages here), every odd number of flipped
//! bits and every burst of up to 32 bits — and it is the one storage formats already
//! use (iSCSI, ext4, Btrfs, LevelDB), so its check values are published and well known.
//!
//! The parameters (RFC 3720 §B.4): reflected polynomial `0x82F63B78`, initial value
//! `0xFFFFFFFF`, final XOR `0xFFFFFFFF`, bits processed least significant first.
//!
//! Speed: recovery checksums every byte of the log, so this runs *slicing-by-8*
//! (Kounavis and Berry, 2005): eight tables, built by `const fn` at compile time, fold
//! eight input bytes into the CRC with eight independent lookups per step instead of one
//! dependent lookup per byte. No `unsafe`, no CPU-specific instructions; the tests hold
//! it to the bit-at-a-time definition.

/// The reflected Castagnoli polynomial.
const POLY: u32 = 0x82F6_3B78;

/// `TABLES[0][b]` is the CRC register after shifting byte `b` through it (the classic
/// byte-at-a-time table); `TABLES[k][b]` is that value shifted through `k` more zero
/// bytes, which is what lets eight bytes be folded in at once.
const TABLES: [[u32; 256]; 8] = build_tables();

const fn build_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][byte] = crc;
        byte += 1;
    }
    let mut byte = 0;
    while byte < 256 {
        let mut k = 1;
        while k < 8 {
            let previous = tables[k - 1][byte];
            tables[k][byte] = (previous >> 8) ^ tables[0][(previous & 0xFF) as usize];
            k += 1;
        }
        byte += 1;
    }
    tables
}

/// The CRC-32C of `bytes`.
///
/// ```
/// use pushwire::storage::crc32c::crc32c;
/// assert_eq!(crc32c(b"123456789"), 0xE306_9283);
/// ```
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = Crc32c::new();
    crc.update(bytes);
    crc.finish()
}

/// A CRC-32C computed over bytes that arrive in pieces: `update` with each piece in
/// order, then `finish`. The result is the same however the bytes were cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crc32c {
    /// The register, before the final XOR.
    state: u32,
}

impl Crc32c {
    /// The CRC of no bytes yet.
    pub fn new() -> Self {
        Crc32c { state: !0 }
    }

    /// Folds `bytes` in.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut crc = self.state;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            // Reflected CRC: the low register byte meets the first input byte, so the
            // register is XORed into the first four bytes read little-endian. Each byte
            // then has 7, 6, … 0 bytes still to travel through the register: the table
            // of that distance gives its contribution, and the eight are independent.
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_le_bytes(word) ^ u64::from(crc);
            crc = TABLES[7][(w & 0xFF) as usize]
                ^ TABLES[6][((w >> 8) & 0xFF) as usize]
                ^ TABLES[5][((w >> 16) & 0xFF) as usize]
                ^ TABLES[4][((w >> 24) & 0xFF) as usize]
                ^ TABLES[3][((w >> 32) & 0xFF) as usize]
                ^ TABLES[2][((w >> 40) & 0xFF) as usize]
                ^ TABLES[1][((w >> 48) & 0xFF) as usize]
                ^ TABLES[0][(w >> 56) as usize];
        }
        for &byte in chunks.remainder() {
            crc = (crc >> 8) ^ TABLES[0][((crc ^ u32::from(byte)) & 0xFF) as usize];
        }
        self.state = crc;
    }

    /// The CRC of every byte folded in so far (the state is kept: more may follow).
    pub fn finish(&self) -> u32 {
        !self.state
    }
}

impl Default for Crc32c {
    fn default() -> Self {
        Crc32c::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    /// The definition, one bit at a time, sharing nothing with the tables.
    fn bitwise(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (POLY & mask);
            }
        }
        !crc
    }

    /// Byte at a time through the first table: the classic table-driven CRC.
    fn bytewise(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc = (crc >> 8) ^ TABLES[0][((crc ^ u32::from(byte)) & 0xFF) as usize];
        }
        !crc
    }

    #[test]
    fn check_value_of_123456789_is_e3069283() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(bitwise(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn the_crc_of_nothing_is_zero() {
        assert_eq!(crc32c(b""), 0);
        assert_eq!(Crc32c::default().finish(), 0);
    }

    #[test]
    fn rfc_3720_b4_vectors() {
        let ascending: Vec<u8> = (0..=31).collect();
        let descending: Vec<u8> = (0..=31).rev().collect();
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA, "32 bytes of zeroes");
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43, "32 bytes of ones");
        assert_eq!(crc32c(&ascending), 0x46DD_794E, "32 incrementing bytes");
        assert_eq!(crc32c(&descending), 0x113F_DB5C, "32 decrementing bytes");
    }

    #[test]
    fn rfc_3720_b4_iscsi_read_command_pdu() {
        // The fifth vector of RFC 3720 §B.4: an iSCSI SCSI Read (10) command PDU.
        let pdu: [u8; 48] = [
            0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14,
            0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(crc32c(&pdu), 0xD9963A56);
    }

    #[test]
    fn the_first_table_is_the_bitwise_crc_of_each_byte() {
        for byte in 0..=255u8 {
            // One byte through a register of 0 (init and xorout cancel for the table).
            let mut crc = u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
            assert_eq!(TABLES[0][usize::from(byte)], crc, "byte {byte:#04x}");
        }
    }

    #[test]
    fn incremental_over_every_split_point_equals_one_shot() {
        let data = XorShift(0x5EED).bytes(100);
        let whole = crc32c(&data);
        for split in 0..=data.len() {
            let mut crc = Crc32c::new();
            crc.update(&data[..split]);
            crc.update(&data[split..]);
            assert_eq!(crc.finish(), whole, "split at {split}");
        }
        // And a byte at a time, with finish() read along the way (it keeps the state).
        let mut crc = Crc32c::new();
        for (i, byte) in data.iter().enumerate() {
            crc.update(std::slice::from_ref(byte));
            assert_eq!(crc.finish(), crc32c(&data[..=i]));
        }
    }

    #[test]
    fn slicing_by_8_equals_bytewise_and_bitwise_at_many_lengths_and_alignments() {
        let mut rng = XorShift(0xC0FF_EE00_D15E_A5E5);
        let buffer = rng.bytes(5000);
        for _ in 0..2000 {
            let start = rng.below(16);
            let len = match rng.below(3) {
                0 => rng.below(20),
                1 => rng.below(200),
                _ => rng.below(buffer.len() - start),
            };
            let bytes = &buffer[start..start + len];
            let expected = bytewise(bytes);
            assert_eq!(crc32c(bytes), expected, "start {start}, len {len}");
            if len < 300 {
                assert_eq!(bitwise(bytes), expected, "start {start}, len {len}");
            }
        }
    }
}
