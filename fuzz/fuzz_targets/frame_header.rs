//! Invariant: The frame header parser and encoder: no panic; FrameHeader::parse agrees with an
//! independent transcription of RFC 6455 §5.2 on every prefix; Partial until one
//! deciding byte, constant after; parsed headers obey the limits and round-trip through
//! encode and write_frame. Input: [config: role, max_frame_size][bytes].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::frame_header(data));
