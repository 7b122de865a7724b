//! Invariant: The server-role WsConnection fed arbitrary bytes in arbitrary chunks with arbitrary
//! time steps and application commands: no panic; memory bounded by the limits (messages
//! <= max_message_size, <= 130 bytes left unconsumed, replies bounded by input, no timer
//! busy loop); its output is a sequence of valid unmasked server frames with at most one
//! Close and nothing after it; exactly one Closed event; split-independent events.
//! Input: [config][n_ops][ops...][stream] (see src/fuzzing/connection.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::ws_connection(data));
