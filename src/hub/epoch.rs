//! Stream epochs: which history a message id belongs to.
//!
//! Ids count 1, 2, 3, … within one *stream* of a channel. A stream begins when its
//! history begins — a new channel, a fresh in-memory hub after a restart, a log that was
//! wiped or a channel that expired — and a new stream starts counting at 1 again. Alone, an
//! id cannot tell a client which stream it came from: after a restart, `since=3` from the
//! old stream would skip the new stream's messages 1–3. So every stream also has an
//! *epoch*, a random token chosen when it begins, and every answer carries it. A client
//! resumes with both (`since=N&epoch=E`); when `E` is not the current epoch, the hub says
//! so explicitly (`"reset":true`) and answers from the new stream's start.
//!
//! An epoch is 64 random bits, written as 11 characters of the URL-safe base64 alphabet
//! (RFC 4648 §5, no padding), so it goes into a query string as it is. Two streams of one
//! channel share an epoch with probability 2^-64: a client can trust a match.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Length of an epoch's text form.
pub const EPOCH_LEN: usize = 11;

/// The epoch of a stream: 64 random bits, never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Epoch(u64);

impl Epoch {
    /// The epoch with these bits; `None` for 0, which no stream has (a record, a query or a
    /// test that holds 0 holds no epoch).
    pub fn from_bits(bits: u64) -> Option<Epoch> {
        (bits != 0).then_some(Epoch(bits))
    }

    /// The epoch's 64 bits (what the on-disk log stores).
    pub fn bits(self) -> u64 {
        self.0
    }

    /// A new random epoch from `rng`.
    pub fn random(rng: &mut impl rand::Rng) -> Epoch {
        loop {
            if let Some(epoch) = Epoch::from_bits(rng.next_u64()) {
                return epoch;
            }
        }
    }

    /// Reads the 11-character text form; `None` for anything else.
    ///
    /// ```
    /// use pushwire::hub::epoch::Epoch;
    /// let epoch = Epoch::from_bits(0x0123_4567_89ab_cdef).unwrap();
    /// assert_eq!(Epoch::parse(&epoch.to_string()), Some(epoch));
    /// assert_eq!(Epoch::parse("not-an-epoch"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Epoch> {
        if text.len() != EPOCH_LEN {
            return None;
        }
        let mut bytes = [0u8; 8];
        // 11 characters carry 66 bits; the decoder refuses a text whose last 2 bits are
        // not zero, so each epoch has exactly one spelling.
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(8) => Epoch::from_bits(u64::from_be_bytes(bytes)),
            _ => None,
        }
    }

    /// The text form, in a fixed-size buffer (no allocation).
    pub fn text(self) -> EpochText {
        let mut buf = [0u8; EPOCH_LEN];
        let written = URL_SAFE_NO_PAD
            .encode_slice(self.0.to_be_bytes(), &mut buf)
            .expect("8 bytes are 11 base64 characters");
        debug_assert_eq!(written, EPOCH_LEN);
        EpochText(buf)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

/// An epoch's 11 characters.
#[derive(Clone, Copy)]
pub struct EpochText([u8; EPOCH_LEN]);

impl EpochText {
    /// The characters, as a string.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("base64 is ASCII")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn an_epoch_reads_back_from_its_text() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let epoch = Epoch::random(&mut rng);
            let text = epoch.to_string();
            assert_eq!(text.len(), EPOCH_LEN);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{text}: query-safe characters only"
            );
            assert_eq!(Epoch::parse(&text), Some(epoch));
        }
        let max = Epoch::from_bits(u64::MAX).unwrap();
        assert_eq!(Epoch::parse(&max.to_string()), Some(max));
    }

    #[test]
    fn only_the_exact_text_of_a_nonzero_epoch_is_an_epoch() {
        assert_eq!(Epoch::from_bits(0), None);
        assert_eq!(Epoch::parse("AAAAAAAAAAA"), None, "zero is no epoch");
        assert_eq!(Epoch::parse(""), None);
        assert_eq!(Epoch::parse("AAAAAAAAAAQ="), None, "no padding");
        assert_eq!(Epoch::parse("AAAAAAAAAA"), None, "too short");
        assert_eq!(Epoch::parse("AAAAAAAAAAAA"), None, "too long");
        assert_eq!(Epoch::parse("AAAAAAAAAA+"), None, "standard alphabet");
        // The last character holds 4 bits of data and 2 that must be zero.
        assert!(Epoch::parse("AAAAAAAAAAE").is_some());
        assert_eq!(Epoch::parse("AAAAAAAAAAF"), None, "one epoch, one spelling");
    }
}
