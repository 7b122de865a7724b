//! Invariant: the permessage-deflate decoder (deflate::inflate): no panic; output within the
//! limit plus one match; the same output or error whole, in random pieces and byte by byte;
//! for one message with a 2^15 window, agreement with miniz_oxide's raw inflate (same output
//! for a complete stream, an error where it errors, a common prefix where cut short).
//! Input: [config][split seed][messages] (see src/fuzzing/inflate.rs).
#![no_main]

use miniz_oxide::inflate::{TINFLStatus, decompress_to_vec_with_limit};
use pushwire::fuzzing::{Reference, inflate_against};

fn miniz(stream: &[u8], limit: usize) -> Reference {
    match decompress_to_vec_with_limit(stream, limit) {
        Ok(out) => Reference::Complete(out),
        Err(e) => match e.status {
            TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
                Reference::Truncated(e.output)
            }
            TINFLStatus::HasMoreOutput => Reference::TooLarge,
            _ => Reference::Malformed,
        },
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| inflate_against(data, Some(&miniz)));
