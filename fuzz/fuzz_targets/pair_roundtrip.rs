//! Invariant: Arbitrary messages (text, binary, large, fragmented) and pings sent client ->
//! server through an in-memory Pair and echoed back arrive equal and in order on both
//! ends, with a pong per ping and no close, and the events and wire bytes are the same
//! whatever the cut points. Input: [config][kind len fragment bytes]... (see src/fuzzing/pair.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::pair_roundtrip(data));
