//! Invariant: Request bodies (framing + BodyDecoder): no panic; the body never exceeds max_body;
//! the same verdict, body bytes and consumed count fed whole, byte by byte or in random
//! pieces; errors are decided at one byte and sticky; a valid chunked encoding built from
//! the input decodes to its payload and leaves what follows unconsumed; Content-Length
//! consumes exactly N bytes; framing agrees with an independent reading of RFC 9112 §6.3.
//! Input: [mode][limit][...] (see src/fuzzing/http.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::body_decoder(data));
