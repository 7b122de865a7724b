//! Invariant: The client-role WsConnection fed arbitrary server bytes in arbitrary chunks with
//! time steps and commands: the ws_connection invariants in the client role, plus every
//! byte the client writes is a valid MASKED client frame (at most one Close, nothing
//! after it), unmasked server frames give the events an independent reading gives, and a
//! masked server frame fails the connection with 1002.
//! Input: [config][n_ops][ops...][stream] (see src/fuzzing/connection.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::ws_client_connection(data));
