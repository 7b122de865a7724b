//! Invariant: auth::token::verify never panics; input longer than MAX_TOKEN_LEN is TooLong
//! and nothing else is; the input as claims JSON, signed correctly, verifies, is Expired or
//! is Malformed for a reason of the claims (never BadSignature), and under another secret
//! is BadSignature; a token that verifies re-mints to a token (no longer) that verifies to
//! equal claims; an expired token verifies one second before its expiry.
//! Input: the bytes themselves, as a token and as claims (see src/fuzzing/token.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::token(data));
