//! Invariant: log recovery over 1-4 segments of arbitrary bytes never panics; its reports
//! are consistent (damage exactly after the valid prefix, torn tails only in the last
//! segment) and their valid prefixes decode again; every channel's ids are consecutive up
//! to last_id, within the limits, each message a record of the segment it names; the
//! result equals a simple model of the fold and depends only on the valid records (cut
//! to them, or regrouped into other segments: the same channels). A log made by a
//! simulated writer (publishes of text and JSON, tombstones, new streams, rotations,
//! compactions) recovers to exactly the writer's state, each message's kind included;
//! torn anywhere in the head, it loses only the records after the cut. Input: [mode][limits]... (see src/fuzzing/storage.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::storage_recovery(data));
