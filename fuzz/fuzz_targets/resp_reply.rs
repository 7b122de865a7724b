//! Invariant: redis::resp's reply parser on a stream of pipelined replies: no panic; the
//! same replies, lengths and error whole, byte by byte and in random pieces, and the same
//! as a recursive reference reading; each reply and error decided at one byte; no reply
//! past the limits (string, array, depth, values, bytes), under the defaults and small
//! ones; replies re-encode canonically and parse back; encoded replies and a Command
//! parse to exactly themselves.
//! Input: [mode][bytes]: mode even, the stream; odd, replies described (see src/fuzzing/resp.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::resp_reply(data));
