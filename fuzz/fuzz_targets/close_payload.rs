//! Invariant: Close payloads: parse_close_payload accepts exactly empty payloads and a wire-valid
//! code followed by UTF-8 (with the documented error otherwise), accepted payloads
//! re-encode identically, and truncate_reason always fits a Close frame.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::close_payload(data));
