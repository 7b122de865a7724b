//! Invariant: redis::Link and redis::Subscriber on what a Redis server (or an impostor)
//! sends: no panic; the same replies/events and error whole, byte by byte and in random
//! pieces; never more consumed than given; failed for good after an error; a link's tags
//! in order, never more than queued, the unanswered ones returned on disconnect; nothing
//! past the limits; published messages and history answers that read are consistent.
//! Input: [mode][commands][stream] (see src/fuzzing/redis_link.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::redis_link(data));
