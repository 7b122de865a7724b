//! Invariant: one HTTP/1.1 session driven by arbitrary bytes in arbitrary chunks, time
//! steps and application answers (now, parked and late, twice, streamed, at the end):
//! answers leave in request order, each exchange is answered once (a second answer is
//! refused as stale and writes nothing), nothing is written after the session closed,
//! and without time steps the events and bytes are the same however the stream is cut.
//! Input: [config][n_ops][ops...][stream] (see src/fuzzing/session.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::session(data));
