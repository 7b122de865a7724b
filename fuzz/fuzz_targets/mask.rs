//! Invariant: Masking: apply_mask equals the byte-at-a-time apply_mask_naive at every alignment
//! and offset, masking twice is the identity, masking in pieces equals masking at once.
//! Input: [key: 4][offset: 1][payload].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::mask(data));
