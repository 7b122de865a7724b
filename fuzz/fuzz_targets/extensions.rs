//! Invariant: the Sec-WebSocket-Extensions grammar (RFC 6455 §9.1) never panics and agrees
//! with an independent automaton; negotiate fails exactly on a malformed list; a server's
//! permessage-deflate agreement is accepted, compatibly, by the client that made the offer;
//! validate_response on the same bytes accepts only one permessage-deflate element and keeps
//! what the client asked for.
//! Input: [config: u8] [header value ...] (see src/fuzzing/extensions.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::extensions(data));
