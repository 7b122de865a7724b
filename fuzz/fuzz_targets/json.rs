//! Invariant: the strict JSON reader (hub::json::strict): no panic; validate's verdict at depth
//! 127 is serde_json's (except numbers out of f64's range, valid JSON that serde_json refuses);
//! verdicts consistent across depth limits and one level down; a valid object's members all
//! read, each value valid alone, its strings unescaped as serde_json does.
//! Input: the bytes themselves (see src/fuzzing/json.rs).
#![no_main]

use pushwire::fuzzing::{JsonReference, json_against};

fn verdict(text: &[u8]) -> Option<bool> {
    match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(_) => Some(true),
        Err(e) if e.to_string().starts_with("number out of range") => None,
        Err(_) => Some(false),
    }
}

fn string(literal: &str) -> Option<String> {
    serde_json::from_str(literal).ok()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| json_against(
    data,
    Some(JsonReference { verdict, string })
));
