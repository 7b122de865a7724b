//! Invariant: Incremental UTF-8 validation, differential against std::str::from_utf8: however the
//! bytes are split, feed fails exactly in the chunk holding the first impossible byte,
//! is_at_boundary tracks prefix validity, and finish accepts exactly valid UTF-8.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::utf8(data));
