//! Invariant: The incremental HTTP request-head parser: no panic; the answer depends only on
//! the bytes, not on how they were split (one shot, byte by byte, random splits, and a
//! fresh parser at every chunk boundary agree); it is decided at one exact byte; a
//! complete head obeys the limits and the grammar and survives take_request; errors map
//! to well-formed 4xx/5xx responses; the handshake checks never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::http_head(data));
