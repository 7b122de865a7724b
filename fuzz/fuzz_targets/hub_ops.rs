//! Invariant: Hub<u32> with a 1..=8 history under random publish/poll/unpark/subscribe/
//! unsubscribe/pause/resume, against a model: no loss within retention, no duplicates,
//! increasing ids per waiter, exact missed counts, poll answers (parsed as JSON) with the
//! right ids, and every parked key answered by one publish or unparked, never both.
//! Input: [history][op...] (see src/fuzzing/hub.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushwire::fuzzing::hub_ops(data));
