//! `token`: the access-token verifier ([`crate::auth::token`]), on arbitrary bytes as a
//! token and as claims to sign.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::hmac::hmac_sha1;
use crate::auth::token::{
    Claims, MAX_TOKEN_LEN, MalformedToken, Pattern, Secret, TokenError, TokenPart, mint, verify,
};

/// The secret every input is checked against. The committed seeds' tokens are signed
/// with it (`fuzz/seeds/token/`).
const FUZZ_SECRET: &[u8] = b"pushwire fuzz target secret, 32B";
/// Another secret: nothing signed with [`FUZZ_SECRET`] verifies under it.
const OTHER_SECRET: &[u8] = b"some other secret of 32 bytes!!!";
/// The time inputs are checked at (2023-11-14); the seeds' valid tokens expire in 2033.
const FUZZ_NOW: u64 = 1_700_000_000;

/// **token** — `verify` on hostile input.
///
/// Input: the bytes themselves, used twice: (a) as a token (lossy UTF-8, so every byte
/// string is tried), and (b) as the JSON text of claims, signed correctly under the fixed
/// secret, which reaches the claims reader with anything the fuzzer invents.
///
/// Invariants: `verify` never panics; a text longer than `MAX_TOKEN_LEN` is `TooLong`, and
/// nothing else is; (b) is never `BadSignature` — it is `Ok`, `Expired`, or `Malformed`
/// for a reason of the claims (`NotUtf8` exactly when the bytes are not UTF-8), and under
/// another secret it is `BadSignature`; whenever a token verifies, it expires after now,
/// re-minting its claims gives a token no longer than it that verifies to equal claims,
/// each pattern prints and parses back to itself, and under another secret it is
/// `BadSignature`; an expired token verifies one second before its expiry.
pub fn token(data: &[u8]) {
    let secret = Secret::new(FUZZ_SECRET).expect("a long enough secret");
    let other = Secret::new(OTHER_SECRET).expect("a long enough secret");

    // (a) The bytes as a token.
    let text = String::from_utf8_lossy(data);
    let result = verify(&secret, &text, FUZZ_NOW);
    assert_eq!(
        matches!(result, Err(TokenError::TooLong)),
        text.len() > MAX_TOKEN_LEN,
        "TooLong exactly above the limit ({} bytes): {result:?}",
        text.len()
    );
    check_outcome(&secret, &other, &text, &result);

    // (b) The bytes as claims, signed.
    let claims_text = URL_SAFE_NO_PAD.encode(data);
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha1(FUZZ_SECRET, claims_text.as_bytes()));
    let signed = format!("{claims_text}.{signature}");
    let result = verify(&secret, &signed, FUZZ_NOW);
    if signed.len() > MAX_TOKEN_LEN {
        assert_eq!(result, Err(TokenError::TooLong));
        return;
    }
    let utf8 = std::str::from_utf8(data).is_ok();
    match &result {
        Ok(_) | Err(TokenError::Expired { .. }) => assert!(utf8, "{result:?}"),
        Err(TokenError::Malformed(MalformedToken::NotUtf8)) => assert!(!utf8),
        Err(TokenError::Malformed(why)) => {
            assert!(utf8, "{why:?}");
            assert!(
                !matches!(
                    why,
                    MalformedToken::NoDot
                        | MalformedToken::TooManyDots
                        | MalformedToken::BadSignatureLength { .. }
                        | MalformedToken::Padded(_)
                        | MalformedToken::BadBase64(_)
                ),
                "a well-formed token of signed claims: {why:?}"
            );
        }
        Err(e) => panic!("signed claims refused with {e:?}"),
    }
    assert_eq!(
        verify(&other, &signed, FUZZ_NOW),
        Err(TokenError::BadSignature),
        "the signature is checked before the claims are read"
    );
    check_outcome(&secret, &other, &signed, &result);
}

/// What holds for any token `token` whose verification gave `result`.
fn check_outcome(
    secret: &Secret,
    other: &Secret,
    token: &str,
    result: &Result<Claims, TokenError>,
) {
    match result {
        Ok(claims) => {
            assert!(claims.expires > FUZZ_NOW, "{claims:?}");
            let again = mint(secret, claims);
            assert!(
                again.len() <= token.len(),
                "a re-minted token is longer: {} > {}",
                again.len(),
                token.len()
            );
            assert_eq!(verify(secret, &again, FUZZ_NOW).as_ref(), Ok(claims));
            assert_eq!(
                verify(other, token, FUZZ_NOW),
                Err(TokenError::BadSignature)
            );
            for pattern in claims.publish.iter().chain(&claims.subscribe) {
                let written = pattern.to_string();
                assert_eq!(Pattern::parse(&written).as_ref(), Some(pattern));
            }
        }
        Err(TokenError::Expired { expires, now }) => {
            assert_eq!(*now, FUZZ_NOW);
            assert!(expires <= now);
            if *expires > 0 {
                let earlier = verify(secret, token, expires - 1);
                assert!(
                    matches!(&earlier, Ok(c) if c.expires == *expires),
                    "{earlier:?}"
                );
            }
        }
        Err(TokenError::Malformed(MalformedToken::Padded(TokenPart::Signature))) => {
            assert!(token.split_once('.').is_some_and(|(_, s)| s.contains('=')));
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed seeds named `valid_*` are tokens that verify (signed with
    /// [`FUZZ_SECRET`], expiring after [`FUZZ_NOW`]), and `expired_*` ones that have
    /// expired, so the fuzzer starts from inputs that reach every check.
    #[test]
    fn the_valid_and_expired_seeds_are_signed_with_the_fuzz_secret() {
        let secret = Secret::new(FUZZ_SECRET).unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/token");
        let (mut valid, mut expired) = (0, 0);
        for entry in std::fs::read_dir(dir).expect("fuzz/seeds/token exists") {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = || std::fs::read_to_string(&path).unwrap();
            if name.starts_with("valid_") {
                assert!(verify(&secret, &text(), FUZZ_NOW).is_ok(), "{name}");
                valid += 1;
            } else if name.starts_with("expired_") {
                assert!(
                    matches!(
                        verify(&secret, &text(), FUZZ_NOW),
                        Err(TokenError::Expired { .. })
                    ),
                    "{name}"
                );
                expired += 1;
            }
        }
        assert!(
            valid >= 2 && expired >= 1,
            "{valid} valid, {expired} expired seeds"
        );
    }
}
