//! Invariant: A whole server connection, sans IO: request head -> handshake validation -> 101 (or
//! an error response) -> remaining bytes into a WsConnection. Invariants of http_head for
//! the head, of ws_connection after the upgrade, the 101 is well formed, and any
//! subprotocol the client offers can be written into it without a panic.
//! Input: [config][n_ops][ops...][stream] (see src/fuzzing/connection.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::server_pipeline(data));
