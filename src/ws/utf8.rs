//! Incremental UTF-8 validation for text messages (RFC 6455 §5.6, §8.1).
//!
//! A text message MUST be valid UTF-8 as a whole, but "a particular text frame
//! might include a partial UTF-8 sequence" (§5.6): a multi-byte character may be
//! split across fragments, and a server reading from TCP sees even a single frame
//! in arbitrary pieces. Validating piece by piece means carrying the unfinished
//! start of a character from one piece to the next.
//!
//! Validating incrementally, rather than once the message is complete, also lets
//! the server fail the connection (§8.1) as soon as an impossible byte arrives,
//! instead of buffering the rest of a message that can never become valid.

use std::fmt;

/// Incremental UTF-8 validator for text messages that arrive in pieces (fragments, or TCP segments of one frame).
/// Carries at most 3 bytes of an unfinished code point between calls. Fails as soon as a byte arrives that
/// cannot continue valid UTF-8 — not at the end of the frame or message (Autobahn cases 6.4.x test this).
///
/// The decoding itself is delegated to [`std::str::from_utf8`], whose error tells
/// apart "invalid" (`error_len() == Some(_)`: some byte can never be part of valid
/// UTF-8 at that position) from "valid so far, but cut off at the end"
/// (`error_len() == None`). Only the second case is carried over to the next call.
///
/// After [`feed`](Self::feed) returns an error the carried state is unspecified;
/// the connection is failed anyway, and [`reset`](Self::reset) makes it reusable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    /// The first bytes of a code point whose remaining bytes have not arrived yet.
    /// Only `carried[..carried_len]` is meaningful. A UTF-8 sequence is at most
    /// 4 bytes long, so at most 3 can be waiting for the rest.
    carried: [u8; 3],
    /// How many bytes of `carried` are in use (0..=3).
    carried_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator {
            carried: [0; 3],
            carried_len: 0,
        }
    }

    /// Validates the next piece of the message.
    ///
    /// Returns an error as soon as `chunk` contains a byte that cannot continue
    /// valid UTF-8 given everything fed before. A code point left unfinished at the
    /// end of `chunk` is not an error yet: its bytes are carried to the next call.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        let rest = if self.carried_len == 0 {
            chunk
        } else {
            self.complete_carried(chunk)?
        };

        // The common case — nothing carried — is this single call over the whole chunk.
        match std::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            // Valid up to a sequence cut off by the end of the chunk: carry it.
            Err(e) if e.error_len().is_none() => {
                self.carry(&rest[e.valid_up_to()..]);
                Ok(())
            }
            // A byte that can never be valid here. RFC 6455 §8.1: fail the connection.
            Err(_) => Err(Utf8Error),
        }
    }

    /// The message ended: Err if a code point is unfinished. Resets the validator either way.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let at_boundary = self.is_at_boundary();
        self.reset();
        // RFC 6455 §5.6: "the whole message MUST contain valid UTF-8", so a message
        // may not end in the middle of a character.
        if at_boundary { Ok(()) } else { Err(Utf8Error) }
    }

    /// True when no unfinished code point is carried.
    pub fn is_at_boundary(&self) -> bool {
        self.carried_len == 0
    }

    /// Forgets any carried bytes, ready for a new message.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Feeds the first bytes of `chunk` to the carried code point, and returns the
    /// part of `chunk` after it.
    ///
    /// Only as many bytes as the code point still needs are taken, so the rest of
    /// the chunk can be validated in one `from_utf8` call. If the chunk is too short
    /// to finish the code point, all of it is carried and the returned rest is empty.
    fn complete_carried<'a>(&mut self, chunk: &'a [u8]) -> Result<&'a [u8], Utf8Error> {
        let carried = usize::from(self.carried_len);
        let needed = sequence_len(self.carried[0]).saturating_sub(carried);
        let (taken, rest) = chunk.split_at(needed.min(chunk.len()));

        let mut scratch = [0u8; 4];
        let len = carried + taken.len();
        scratch[..carried].copy_from_slice(&self.carried[..carried]);
        scratch[carried..len].copy_from_slice(taken);

        match std::str::from_utf8(&scratch[..len]) {
            // The code point is complete and valid.
            Ok(_) => {
                self.carried_len = 0;
                Ok(rest)
            }
            // Still valid, still unfinished: the chunk ran out first (`rest` is empty).
            Err(e) if e.error_len().is_none() => {
                self.carry(&scratch[..len]);
                Ok(rest)
            }
            // One of the new bytes cannot continue the carried sequence.
            Err(_) => Err(Utf8Error),
        }
    }

    /// Stores the unfinished sequence at the end of a piece. `std::str::from_utf8`
    /// only reports a cut-off sequence when it is shorter than 4 bytes, so it fits.
    fn carry(&mut self, unfinished: &[u8]) {
        let len = unfinished.len().min(self.carried.len());
        self.carried[..len].copy_from_slice(&unfinished[..len]);
        // `len` is at most 3, so the narrowing cannot lose information.
        self.carried_len = len as u8;
    }
}

/// The length of the UTF-8 sequence that `lead` starts (RFC 3629 §3): the number
/// of leading one bits, for the lead bytes that can start an unfinished sequence.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        // 0xF0..=0xF4 in practice: only a valid prefix of a sequence is ever carried.
        _ => 4,
    }
}

/// A text message (or close reason) is not valid UTF-8 (RFC 6455 §8.1).
///
/// It carries no detail: whatever the invalid byte, the consequence is the same —
/// fail the connection with status code 1007.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error;

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid utf-8")
    }
}

impl std::error::Error for Utf8Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    /// Valid text: every sequence length, the boundaries of every range, and
    /// the noncharacters (which are valid UTF-8).
    fn valid_inputs() -> Vec<Vec<u8>> {
        [
            "",
            "a",
            "Hello-µ@ßöäüàá-UTF-8!!",
            "κόσμε",
            "€ 😀 𝄞",
            "\u{0}\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}",
            "\u{D7FF}\u{E000}\u{FFFD}",
            "\u{FFFE}\u{FFFF}\u{1FFFE}\u{10FFFE}",
            "日本語のテキストとEnglish text mixed 😀😀😀",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }

    /// Invalid byte sequences in the style of Autobahn 6.x (Markus Kuhn's UTF-8 stress test).
    fn invalid_sequences() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = vec![
            // Autobahn 6.3.1: "κόσμε" with a surrogate inside.
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited".to_vec(),
            // Autobahn 6.4.x: beyond U+10FFFF after valid text.
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited".to_vec(),
            // Lone and runs of continuation bytes.
            vec![0x80],
            vec![0xBF],
            vec![0x80, 0xBF],
            vec![0x80, 0xBF, 0x80, 0xBF, 0x80],
            // Lonely start bytes followed by a space.
            vec![0xC2, 0x20],
            vec![0xDF, 0x20],
            vec![0xE0, 0x20],
            vec![0xEF, 0x20],
            vec![0xF0, 0x20],
            vec![0xF4, 0x20],
            // Sequences cut off at the end of the message.
            vec![0xC2],
            vec![0xDF],
            vec![0xE0, 0xA0],
            vec![0xEF, 0xBF],
            vec![0xF0, 0x90, 0x80],
            vec![0xF4, 0x8F, 0xBF],
            // A cut-off sequence followed by another start.
            vec![0xE0, 0xA0, 0xC2, 0xA0],
            vec![0xF0, 0x90, 0x80, 0xF0, 0x90, 0x80, 0x80],
            // Overlong encodings.
            vec![0xC0, 0xAF],
            vec![0xC1, 0xBF],
            vec![0xE0, 0x80, 0xAF],
            vec![0xE0, 0x9F, 0xBF],
            vec![0xF0, 0x80, 0x80, 0xAF],
            vec![0xF0, 0x8F, 0xBF, 0xBF],
            vec![0xF8, 0x80, 0x80, 0x80, 0xAF],
            vec![0xFC, 0x80, 0x80, 0x80, 0x80, 0xAF],
            vec![0xC0, 0x80],
            // UTF-16 surrogates, single and paired.
            vec![0xED, 0xA0, 0x80],
            vec![0xED, 0xAD, 0xBF],
            vec![0xED, 0xAE, 0x80],
            vec![0xED, 0xAF, 0xBF],
            vec![0xED, 0xB0, 0x80],
            vec![0xED, 0xBE, 0x80],
            vec![0xED, 0xBF, 0xBF],
            vec![0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80],
            vec![0xED, 0xAF, 0xBF, 0xED, 0xBF, 0xBF],
            // Beyond U+10FFFF.
            vec![0xF4, 0x90, 0x80, 0x80],
            vec![0xF4, 0xBF, 0xBF, 0xBF],
            vec![0xF5, 0x80, 0x80, 0x80],
            vec![0xF7, 0xBF, 0xBF, 0xBF],
            // Bytes that never appear in UTF-8.
            vec![0xFE],
            vec![0xFF],
            vec![0xFE, 0xFE, 0xFF, 0xFF],
            // A 4-byte start where a continuation is due.
            vec![0xE2, 0x82, 0xF0, 0x9F, 0x98, 0x80],
        ];
        // Every single byte that can never be valid anywhere.
        v.extend((0x80..=0xC1).chain(0xF5..=0xFF).map(|b| vec![b]));
        v
    }

    /// Every input above, bare and embedded between valid text, so that each
    /// failure happens at a different position and after a carried code point.
    fn all_inputs() -> Vec<Vec<u8>> {
        let mut inputs = valid_inputs();
        for bad in invalid_sequences() {
            inputs.push(bad.clone());
            inputs.push([b"ab\xe2\x82\xac".as_slice(), &bad, b"cd\xc3\xa9"].concat());
            inputs.push(["😀".as_bytes(), &bad].concat());
        }
        inputs
    }

    /// What happened when a message was fed in pieces.
    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        /// The index of the first piece whose `feed` failed, if any.
        failed_piece: Option<usize>,
        /// Whether `finish` succeeded (only asked when no feed failed).
        finished: bool,
    }

    fn feed_pieces(pieces: &[&[u8]]) -> Outcome {
        let mut v = Utf8Validator::new();
        for (i, piece) in pieces.iter().enumerate() {
            if v.feed(piece).is_err() {
                return Outcome {
                    failed_piece: Some(i),
                    finished: false,
                };
            }
        }
        Outcome {
            failed_piece: None,
            finished: v.finish().is_ok(),
        }
    }

    /// Splits `whole` at the (sorted) cut positions.
    fn split_at_cuts<'a>(whole: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut pieces = Vec::new();
        let mut start = 0;
        for &cut in cuts {
            pieces.push(&whole[start..cut]);
            start = cut;
        }
        pieces.push(&whole[start..]);
        pieces
    }

    /// The index of the byte whose arrival proves `whole` invalid, according to std:
    /// `None` if `whole` is valid or only cut off at the end (then only `finish` fails).
    fn detection_index(whole: &[u8]) -> Option<usize> {
        let e = std::str::from_utf8(whole).err()?;
        let len = e.error_len()?;
        let at = e.valid_up_to();
        match whole[at] {
            // Never valid as a lead byte: the byte itself is the proof.
            0x80..=0xC1 | 0xF5..=0xFF => Some(at),
            // A plausible lead byte: the byte after its `len` accepted bytes is the proof.
            _ => Some(at + len),
        }
    }

    /// Checks the outcome of feeding `whole` split at `cuts` against std.
    fn check_split(whole: &[u8], cuts: &[usize]) {
        let pieces = split_at_cuts(whole, cuts);
        let outcome = feed_pieces(&pieces);

        // (1) The verdict equals std's verdict on the whole message.
        let valid = std::str::from_utf8(whole).is_ok();
        assert_eq!(
            outcome.failed_piece.is_none() && outcome.finished,
            valid,
            "verdict for {whole:02x?} split at {cuts:?}"
        );

        // (2) The first failing feed is the one that delivers the proving byte.
        let expected = detection_index(whole).map(|d| {
            let mut start = 0;
            pieces
                .iter()
                .position(|p| {
                    let contains = (start..start + p.len()).contains(&d);
                    start += p.len();
                    contains
                })
                .expect("detection index lies inside the message")
        });
        assert_eq!(
            outcome.failed_piece, expected,
            "failing piece for {whole:02x?} split at {cuts:?}"
        );
    }

    #[test]
    fn verdict_and_failure_point_match_std_for_every_two_way_split() {
        for whole in all_inputs() {
            for i in 0..=whole.len() {
                check_split(&whole, &[i]);
            }
        }
    }

    #[test]
    fn verdict_and_failure_point_match_std_for_every_three_way_split() {
        for whole in all_inputs() {
            for i in 0..=whole.len() {
                for j in i..=whole.len() {
                    check_split(&whole, &[i, j]);
                }
            }
        }
    }

    #[test]
    fn verdict_and_failure_point_match_std_byte_at_a_time() {
        for whole in all_inputs() {
            let cuts: Vec<usize> = (1..whole.len()).collect();
            check_split(&whole, &cuts);
        }
    }

    #[test]
    fn verdict_and_failure_point_match_std_for_random_splits() {
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        for whole in all_inputs() {
            for _ in 0..50 {
                let mut cuts: Vec<usize> = (0..rng.below(8))
                    .map(|_| rng.below(whole.len() + 1))
                    .collect();
                cuts.sort_unstable();
                check_split(&whole, &cuts);
            }
        }
    }

    #[test]
    fn verdict_and_failure_point_match_std_for_random_bytes() {
        // Random strings over bytes chosen to sit on every boundary of the UTF-8
        // grammar, so that most of them are invalid in interesting ways.
        const ALPHABET: [u8; 22] = [
            0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
            0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF,
        ];
        let mut rng = XorShift(0xC0FF_EE00_1234_5678);
        let mut valid_seen = 0;
        for _ in 0..20_000 {
            let len = rng.below(10);
            let whole: Vec<u8> = (0..len)
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect();
            valid_seen += usize::from(std::str::from_utf8(&whole).is_ok());
            for i in 0..=whole.len() {
                check_split(&whole, &[i]);
            }
            let mut cuts: Vec<usize> = (0..rng.below(5)).map(|_| rng.below(len + 1)).collect();
            cuts.sort_unstable();
            check_split(&whole, &cuts);
        }
        assert!(
            valid_seen > 100,
            "the generator should produce some valid text too"
        );
    }

    #[test]
    fn code_point_split_across_pieces_is_valid() {
        for ch in ['é', '€', '😀', '\u{10FFFF}'] {
            let mut buf = [0u8; 4];
            let bytes = ch.encode_utf8(&mut buf).as_bytes();
            for cut in 1..bytes.len() {
                let mut v = Utf8Validator::new();
                assert_eq!(v.feed(&bytes[..cut]), Ok(()));
                assert!(
                    !v.is_at_boundary(),
                    "{ch} cut at {cut} leaves bytes carried"
                );
                assert_eq!(v.feed(&bytes[cut..]), Ok(()));
                assert!(v.is_at_boundary());
                assert_eq!(v.finish(), Ok(()));
            }
        }
    }

    #[test]
    fn four_byte_code_point_fed_one_byte_at_a_time_is_valid() {
        let mut v = Utf8Validator::new();
        for &b in "😀".as_bytes() {
            assert_eq!(v.feed(&[b]), Ok(()));
        }
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn empty_pieces_change_nothing() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[]), Ok(()));
        assert_eq!(v.feed(&[0xF0, 0x9F]), Ok(()));
        assert_eq!(v.feed(&[]), Ok(()));
        assert_eq!(v.feed(&[0x98, 0x80]), Ok(()));
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn invalid_continuation_fails_the_feed_that_delivers_it() {
        // Autobahn 6.4.1 in spirit: F4 90 can never start valid UTF-8 (> U+10FFFF),
        // so the failure must come with the 0x90, not at the end of the message.
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed("κόσμε".as_bytes()), Ok(()));
        assert_eq!(v.feed(&[0xF4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(Utf8Error));
    }

    #[test]
    fn finish_rejects_a_message_ending_mid_code_point_and_resets() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[b'a', 0xE2, 0x82]), Ok(()));
        assert!(!v.is_at_boundary());
        assert_eq!(v.finish(), Err(Utf8Error));
        assert!(v.is_at_boundary());
        // The next message starts fresh.
        assert_eq!(v.feed(b"next"), Ok(()));
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn reset_forgets_carried_bytes() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xE2]), Ok(()));
        v.reset();
        assert_eq!(v, Utf8Validator::new());
        assert_eq!(v.feed(b"x"), Ok(()));
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn validator_is_small() {
        assert!(std::mem::size_of::<Utf8Validator>() <= 4);
    }

    #[test]
    fn error_displays_lowercase() {
        assert_eq!(Utf8Error.to_string(), "invalid utf-8");
    }
}
