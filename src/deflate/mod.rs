//! DEFLATE (RFC 1951), both ways, for permessage-deflate (RFC 7692).
//!
//! Written here rather than taken from a crate: the runtime dependencies are mio, sha1,
//! base64 and rand, and permessage-deflate needs what general-purpose codecs rarely give —
//! every window size from 2^8 to 2^15, a decoder that stops at a byte budget before
//! allocating past it, and a sync flush per message.
//!
//! Both directions are sans-IO and streaming: bytes in, bytes out into the caller's
//! buffer, state kept between calls.

pub mod compress;
pub mod inflate;
mod tables;

/// The base-2 logarithm of an LZ77 window: 8..=15 (RFC 7692 §7.1.2.1,
/// `server_max_window_bits` / `client_max_window_bits`). A compressor uses no distance
/// above `2^bits`; the decompressor at the other end keeps that much of what it decoded.
///
/// 8 is honoured exactly: zlib raises a raw-deflate window of 8 to 9, our codec keeps to
/// 256 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WindowBits(u8);

impl WindowBits {
    /// The smallest window permessage-deflate allows, 256 bytes.
    pub const MIN: WindowBits = WindowBits(8);
    /// The largest, and DEFLATE's own limit: 32 KiB (RFC 1951 §3.2.5).
    pub const MAX: WindowBits = WindowBits(15);

    /// `Some` for 8..=15, the values RFC 7692 §7.1.2 allows.
    pub const fn new(bits: u8) -> Option<WindowBits> {
        if bits >= Self::MIN.0 && bits <= Self::MAX.0 {
            Some(WindowBits(bits))
        } else {
            None
        }
    }

    /// The number of bits.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The window in bytes, 2^bits: the farthest a back-reference may reach.
    pub const fn size(self) -> usize {
        1 << self.0
    }
}

impl std::fmt::Display for WindowBits {
    /// The decimal exponent, as `*_max_window_bits` writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Default for WindowBits {
    /// 15, what both sides use when no `*_max_window_bits` was negotiated.
    fn default() -> Self {
        Self::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::WindowBits;

    #[test]
    fn window_bits_are_8_to_15_and_name_a_power_of_two() {
        assert_eq!(WindowBits::new(7), None);
        assert_eq!(WindowBits::new(16), None);
        assert_eq!(WindowBits::new(8).map(WindowBits::size), Some(256));
        assert_eq!(WindowBits::default(), WindowBits::MAX);
        assert_eq!(WindowBits::MAX.size(), 32 * 1024);
    }
}
