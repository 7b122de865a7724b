//! Invariant: hub::sse: no panic; what the encoder writes (events with a cursor, data
//! events, comments, retry) parses back, whole, in random pieces and byte by byte, to the
//! text with each line break as LF, the cursor and the retry, with every event_len exact and
//! write_event refusing exactly a multi-line type or id (or an id with NUL); a hostile stream
//! gives the same events, error and state in any pieces, within a bound of the limit, and
//! the events of an independent reading of WHATWG HTML §9.2.6, failing exactly where a line
//! or an event's data passes the limit.
//! Input: [mode][limit when mode is odd][bytes] (see src/fuzzing/sse.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::sse(data));
