//! Invariant: connections that negotiated permessage-deflate never panic on hostile
//! frames, keep messages within max_message_size, and deliver what a compressing peer
//! sent, exactly and in order, however the wire is split, both ways.
//! Input: [agreement: u8] [level: u8] [mode: u8] [bytes ...] (see src/fuzzing/compressed.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::ws_deflate(data));
