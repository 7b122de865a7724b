//! Invariant: pushwire.v1 commands (hub::mux): Command::parse never panics; what it accepts is
//! within the limits, JSON, a valid channel, and written back parses to the same command; what
//! it refuses is 413 exactly when too large, else 400, "malformed" exactly when not a JSON
//! object, and its error frame is JSON.
//! Input: [config][command text] (see src/fuzzing/json.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::mux_command(data));
