//! HMAC-SHA1 (RFC 2104) over the `sha1` crate, and a comparison that takes the same time
//! wherever two byte strings differ.
//!
//! HMAC turns a hash function into a keyed signature: only a holder of the key can
//! compute `HMAC(key, message)`, and seeing any number of signatures does not help to
//! forge one for a new message. SHA-1's practical collision attacks (found offline,
//! without any key) do not give HMAC-SHA1 forgeries: HMAC's strength rests on the keyed
//! hash, not on collisions being hard to find (RFC 2104 §6; RFC 6151 says the same of
//! HMAC-MD5), which is why it is still fine for signing tokens. The construction is short
//! enough to write out, and writing it out shows exactly what a minting backend must
//! compute (Python's `hmac.new(key, msg, hashlib.sha1)` is the same function).
//!
//! A signature is checked by recomputing it and comparing. A comparison that stops at the
//! first differing byte tells an attacker, through its timing, how many leading bytes of a
//! guess were right, and lets them find a valid signature byte by byte; so the comparison
//! here ([`constant_time_eq`]) looks at every byte whatever it finds.

use sha1::{Digest, Sha1};

/// SHA-1's block size `B`, in bytes (RFC 2104 §2).
const BLOCK_LEN: usize = 64;

/// SHA-1's output size `L`, in bytes (RFC 2104 §2): the length of an HMAC-SHA1 signature.
pub const HMAC_SHA1_LEN: usize = 20;

/// RFC 2104 §2: "ipad = the byte 0x36 repeated B times".
const IPAD: u8 = 0x36;
/// RFC 2104 §2: "opad = the byte 0x5C repeated B times".
const OPAD: u8 = 0x5c;

/// `HMAC-SHA1(key, message)`, RFC 2104 §2:
///
/// ```text
/// H(K XOR opad, H(K XOR ipad, text))
/// ```
///
/// where `K` is the key padded with zeros to the 64-byte block, after hashing it first if
/// it is longer than the block ("Applications that use keys longer than B bytes will first
/// hash the key using H and then use the resultant L byte string as the actual key to
/// HMAC", §2). Any key length is accepted here; how long a key *should* be (RFC 2104 §3)
/// is for the caller to require (see [`crate::auth::token::Secret`]).
///
/// ```
/// use pushwire::auth::hmac::hmac_sha1;
/// // RFC 2202 §3, test case 2.
/// let mac = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
/// assert_eq!(mac[..4], [0xef, 0xfc, 0xdf, 0x6a]);
/// ```
pub fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; HMAC_SHA1_LEN] {
    // RFC 2104 §2 step (1): the key, zero-padded to B bytes (hashed first if longer).
    let mut block = [0u8; BLOCK_LEN];
    if key.len() > BLOCK_LEN {
        block[..HMAC_SHA1_LEN].copy_from_slice(&Sha1::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }

    // Steps (2)–(4): H(K XOR ipad, text).
    let mut inner = Sha1::new();
    inner.update(block.map(|b| b ^ IPAD));
    inner.update(message);
    let inner = inner.finalize();

    // Steps (5)–(7): H(K XOR opad, inner).
    let mut outer = Sha1::new();
    outer.update(block.map(|b| b ^ OPAD));
    outer.update(inner);
    outer.finalize().into()
}

/// Are `a` and `b` equal? For equal lengths, the time taken does not depend on where, or
/// whether, they differ: every byte pair is looked at, and the differences are gathered
/// with OR before a single test at the end.
///
/// The lengths are compared first and may end the comparison early: a length is not a
/// secret (a signature's is fixed by the hash function; [`crate::auth::token::verify`]
/// compares two 20-byte values).
///
/// [`std::hint::black_box`] keeps the optimizer from turning the loop back into an early
/// exit (it is a best-effort hint, which is all safe Rust offers).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut difference = 0u8;
    for (x, y) in a.iter().zip(b) {
        difference = std::hint::black_box(difference | (x ^ y));
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 2202 §3, "Test Cases for HMAC-SHA-1": (key, data, digest).
    fn rfc2202_cases() -> Vec<(Vec<u8>, Vec<u8>, &'static str)> {
        vec![
            // test_case 1
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b617318655057264e28bc0b6fb378c8ef146be00",
            ),
            // test_case 2
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            ),
            // test_case 3
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
            ),
            // test_case 4: key = 0x0102...19 (25 bytes)
            (
                (1..=25).collect(),
                vec![0xcd; 50],
                "4c9007f4026250c6bc8414f9bf50c86c2d7235da",
            ),
            // test_case 5 (its digest-96 is the first 12 bytes of this)
            (
                vec![0x0c; 20],
                b"Test With Truncation".to_vec(),
                "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04",
            ),
            // test_case 6: an 80-byte key, longer than the block, is hashed first
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "aa4ae5e15272d00e95705637ce8a3b55ed402112",
            ),
            // test_case 7: the same key, and data longer than one block
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"
                    .to_vec(),
                "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
            ),
        ]
    }

    #[test]
    fn hmac_sha1_matches_every_rfc2202_test_case() {
        for (i, (key, data, digest)) in rfc2202_cases().into_iter().enumerate() {
            assert_eq!(hex(&hmac_sha1(&key, &data)), digest, "test_case {}", i + 1);
        }
    }

    #[test]
    fn rfc2202_case_5_truncated_to_96_bits() {
        let mac = hmac_sha1(&[0x0c; 20], b"Test With Truncation");
        assert_eq!(hex(&mac[..12]), "4c1a03424b55e07fe7f27be1");
    }

    #[test]
    fn a_key_of_exactly_one_block_is_used_as_is_and_one_byte_more_is_hashed() {
        // 64 bytes: padded with nothing, not hashed; 65 bytes: hashed to 20 first, so it
        // equals HMAC under the 20-byte hash used as the key.
        let key64 = [0x42u8; 64];
        let key65 = [0x42u8; 65];
        assert_ne!(hmac_sha1(&key64, b"m"), hmac_sha1(&key64[..20], b"m"));
        let hashed: [u8; 20] = Sha1::digest(key65).into();
        assert_eq!(hmac_sha1(&key65, b"m"), hmac_sha1(&hashed, b"m"));
        assert_ne!(hmac_sha1(&key64, b"m"), hmac_sha1(&key65, b"m"));
    }

    #[test]
    fn zero_padding_makes_trailing_zero_bytes_of_a_short_key_insignificant() {
        // A property of RFC 2104 §2 itself (K is padded with zeros), shown so nobody
        // mistakes it for a bug: the token layer requires long random secrets anyway.
        assert_eq!(hmac_sha1(b"key", b"m"), hmac_sha1(b"key\0\0", b"m"));
        assert_ne!(hmac_sha1(b"key", b"m"), hmac_sha1(b"kez", b"m"));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"xbc"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        // Every single-bit difference anywhere in a 20-byte value is caught.
        let mac = hmac_sha1(b"k", b"m");
        for i in 0..mac.len() {
            for bit in 0..8 {
                let mut other = mac;
                other[i] ^= 1 << bit;
                assert!(!constant_time_eq(&mac, &other), "byte {i} bit {bit}");
            }
        }
        assert!(constant_time_eq(&mac, &hmac_sha1(b"k", b"m")));
    }
}
