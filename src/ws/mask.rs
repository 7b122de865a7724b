//! Payload masking (RFC 6455 §5.3).
//!
//! Every frame a client sends is masked: payload byte `i` is XORed with byte
//! `i % 4` of a 4-byte key carried in the frame header. The same operation
//! masks and unmasks. Masking is not encryption — the key travels with the data —
//! it exists so that a malicious page cannot choose the bytes that appear on the
//! wire and thereby confuse intermediaries that misparse the stream as HTTP
//! (RFC 6455 §10.3).
//!
//! A server unmasks every byte it receives, so this is on the hot path. The fast
//! version XORs eight bytes at a time; [`apply_mask_naive`] is the definition,
//! kept as the oracle the fast version is tested against.

/// XORs `buf` with `key` in place (RFC 6455 §5.3). `offset` is the position of `buf[0]` within the frame
/// payload, so a payload that arrives in pieces can be unmasked piece by piece.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Rotate the key so that `key[0]` applies to `buf[0]`; from here on the
    // position inside the frame no longer matters, only the position inside `buf`.
    let key = rotate_key(key, offset);

    // Handle the bytes before the first 8-byte-aligned address one at a time, so the
    // main loop reads and writes aligned words. `align_offset` may (by its contract)
    // answer "impossible" with usize::MAX; clamping to the length then simply makes
    // the whole buffer the head, which is slower but still correct.
    let head_len = buf.as_ptr().align_offset(8).min(buf.len());
    let (head, body) = buf.split_at_mut(head_len);
    apply_mask_naive(head, key, 0);

    // The body starts `head_len` bytes into the key cycle.
    let key = rotate_key(key, head_len);
    // Eight bytes hold the 4-byte key twice; the same native byte order is used to
    // build the key word and to load the data, so byte k of each word meets key[k % 4].
    let key_word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = body.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let masked = u64::from_ne_bytes(word) ^ key_word;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }

    // Every chunk was a multiple of 4 bytes long, so the tail starts at key[0] again.
    apply_mask_naive(chunks.into_remainder(), key, 0);
}

/// The byte-at-a-time reference implementation, kept for tests and benchmarks.
///
/// This is RFC 6455 §5.3 word for word: `transformed-octet-i = original-octet-i
/// XOR masking-key-octet-(i MOD 4)`, where `i` counts from the start of the payload.
pub fn apply_mask_naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Reducing `offset` first keeps the sum from overflowing for any offset.
    let offset = offset % 4;
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

/// The key as seen from payload position `offset`: `rotate_key(k, n)[0] == k[n % 4]`.
fn rotate_key(mut key: [u8; 4], offset: usize) -> [u8; 4] {
    key.rotate_left(offset % 4);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

    fn lengths_to_test() -> impl Iterator<Item = usize> {
        (0..=100).chain([127, 1000, 4099, 65537])
    }

    #[test]
    fn rfc_example_masks_hello() {
        // RFC 6455 §5.7: "Hello" masked with key 37 fa 21 3d.
        let mut payload = *b"Hello";
        apply_mask(&mut payload, KEY, 0);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        apply_mask(&mut payload, KEY, 0);
        assert_eq!(&payload, b"Hello");
    }

    #[test]
    fn fast_path_equals_naive_for_every_length_and_offset() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for len in lengths_to_test() {
            let original = rng.bytes(len);
            for offset in 0..=7 {
                let mut fast = original.clone();
                let mut naive = original.clone();
                apply_mask(&mut fast, KEY, offset);
                apply_mask_naive(&mut naive, KEY, offset);
                assert_eq!(fast, naive, "len {len}, offset {offset}");
            }
        }
    }

    #[test]
    fn fast_path_equals_naive_at_every_buffer_alignment() {
        // Slicing into a larger buffer moves buf[0] across all 8 possible
        // alignments, so the unaligned head takes every length from 0 to 7.
        let mut rng = XorShift(42);
        let original = rng.bytes(300);
        for start in 0..8 {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 100, 291] {
                for offset in 0..4 {
                    let mut fast = original.clone();
                    let mut naive = original.clone();
                    apply_mask(&mut fast[start..start + len], KEY, offset);
                    apply_mask_naive(&mut naive[start..start + len], KEY, offset);
                    assert_eq!(fast, naive, "start {start}, len {len}, offset {offset}");
                }
            }
        }
    }

    #[test]
    fn masking_twice_restores_the_original() {
        let mut rng = XorShift(7);
        for len in lengths_to_test() {
            let original = rng.bytes(len);
            let key = [
                rng.next() as u8,
                rng.next() as u8,
                rng.next() as u8,
                rng.next() as u8,
            ];
            let mut buf = original.clone();
            apply_mask(&mut buf, key, 3);
            apply_mask(&mut buf, key, 3);
            assert_eq!(buf, original, "len {len}");
        }
    }

    #[test]
    fn masking_in_pieces_equals_masking_at_once() {
        let mut rng = XorShift(0xDEAD_BEEF);
        for len in lengths_to_test() {
            let original = rng.bytes(len);
            let mut whole = original.clone();
            apply_mask(&mut whole, KEY, 0);

            // Every split into two pieces (for the small lengths) ...
            if len <= 100 {
                for split in 0..=len {
                    let mut pieces = original.clone();
                    let (a, b) = pieces.split_at_mut(split);
                    apply_mask(a, KEY, 0);
                    apply_mask(b, KEY, split);
                    assert_eq!(pieces, whole, "len {len}, split {split}");
                }
            }

            // ... and random splits into many pieces.
            for _ in 0..20 {
                let mut pieces = original.clone();
                let mut start = 0;
                while start < len {
                    let end = (start + 1 + rng.below(40)).min(len);
                    apply_mask(&mut pieces[start..end], KEY, start);
                    start = end;
                }
                assert_eq!(pieces, whole, "len {len}");
            }
        }
    }

    #[test]
    fn offset_is_only_significant_modulo_four() {
        let original: Vec<u8> = (0..50).collect();
        for offset in 0..4 {
            let mut a = original.clone();
            let mut b = original.clone();
            apply_mask(&mut a, KEY, offset);
            apply_mask(&mut b, KEY, offset + 4 * 1_000_003);
            assert_eq!(a, b);
        }
        let mut huge = original.clone();
        apply_mask(&mut huge, KEY, usize::MAX);
        let mut naive = original;
        apply_mask_naive(&mut naive, KEY, usize::MAX % 4);
        assert_eq!(huge, naive);
    }
}
