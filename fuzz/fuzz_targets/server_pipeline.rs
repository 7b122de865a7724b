//! Invariant: a whole server connection, sans IO, through the real Session: requests are
//! answered, the upgrade is accepted with the first offered subprotocol, then the rest of
//! the stream goes to a WsConnection. Every answer the session writes on its own is one
//! well-formed response with Connection: close; every offered subprotocol can be written
//! into the 101, which carries the right Sec-WebSocket-Accept; after it, the invariants
//! of ws_connection. Input: [config][n_ops][ops...][stream] (see src/fuzzing/connection.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::server_pipeline(data));
