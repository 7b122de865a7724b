//! `deflate_roundtrip`: the DEFLATE encoder (`deflate::compress`), whole messages or in
//! parts, at any level, window and takeover setting.
//!
//! Input: `[config: u8] [shape: u8] [data ...]`. `config`: bits 0–1 the level (0 and 3
//! `Fast`, 1 `Default`, 2 `Best`), bits 2–4 the window bits − 8, bit 5 context takeover,
//! bit 6 messages written in parts, bit 7 scratch from a pool. `shape`: bits 0–3 cap the
//! message lengths at 2^n bytes, bit 4 puts an empty message after every third. The data
//! is cut into messages (and parts) by a PRNG seeded from it.
//!
//! Invariant: every message inflates, through a strict decoder, to exactly its bytes; it
//! is whole blocks, none final, ending in the sync flush without its `00 00 ff ff`; no
//! match reaches farther back than 2^w (RFC 7692 §7.1.2.1), nor, without takeover, into
//! an earlier message; and a reference inflater (miniz_oxide: in `cargo test`, and
//! passed in by the fuzz target) agrees.

use super::{Reader, Rng, fnv1a};
use crate::deflate::compress::check::CheckingInflater;
use crate::deflate::compress::{CompressScratchPool, Compressor, Level, WindowBits};

/// A reference decoder: inflates each message (sent without its `00 00 ff ff`), keeping
/// the window from one to the next when the flag (context takeover) is set.
pub type ReferenceInflate = fn(&[Vec<u8>], bool) -> Result<Vec<Vec<u8>>, String>;

#[cfg(test)]
const REFERENCE: Option<ReferenceInflate> =
    Some(crate::deflate::compress::check::miniz_inflate_messages);
#[cfg(not(test))]
const REFERENCE: Option<ReferenceInflate> = None;

/// The target with the reference the build has (miniz_oxide under `cargo test`).
pub fn deflate_roundtrip(data: &[u8]) {
    deflate_roundtrip_against(data, REFERENCE);
}

/// The target, checked also against `reference` if given.
pub fn deflate_roundtrip_against(data: &[u8], reference: Option<ReferenceInflate>) {
    let mut r = Reader { data };
    let config = r.u8();
    let shape = r.u8();
    let input = r.rest();
    let level = match config & 3 {
        1 => Level::Default,
        2 => Level::Best,
        _ => Level::Fast,
    };
    let w = WindowBits::new(8 + ((config >> 2) & 7)).expect("8..=15");
    let keep_context = config & 0x20 != 0;
    let in_parts = config & 0x40 != 0;
    let pooled = config & 0x80 != 0;

    let mut rng = Rng(fnv1a(input, u64::from(config) << 8 | u64::from(shape)));
    let max_len = 1usize << (shape & 15);
    let mut messages: Vec<&[u8]> = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let (message, after) = rest.split_at(rng.small(max_len.min(rest.len())));
        messages.push(message);
        rest = after;
        if shape & 0x10 != 0 && messages.len() % 4 == 3 {
            messages.push(&[]);
        }
    }

    let mut c = Compressor::new(level, w, keep_context);
    let mut pool = CompressScratchPool::new();
    let mut compressed = Vec::with_capacity(messages.len());
    for message in &messages {
        let mut out = Vec::new();
        match (in_parts, pooled) {
            (false, false) => c.compress_message(message, &mut out),
            (false, true) => c.compress_message_pooled(&mut pool, message, &mut out),
            (true, _) => {
                let mut part_rest = *message;
                while !part_rest.is_empty() {
                    let (part, after) = part_rest.split_at(rng.small(part_rest.len()));
                    if pooled {
                        c.write_pooled(&mut pool, part, &mut out);
                    } else {
                        c.write(part, &mut out);
                    }
                    part_rest = after;
                }
                if pooled {
                    c.finish_message_pooled(&mut pool, &mut out);
                } else {
                    c.finish_message(&mut out);
                }
            }
        }
        if !keep_context {
            assert_eq!(
                c.heap_bytes(),
                0,
                "memory held between messages without takeover"
            );
        }
        compressed.push(out);
    }

    let mut checker = CheckingInflater::default();
    for (i, (message, bytes)) in messages.iter().zip(&compressed).enumerate() {
        if !keep_context {
            checker = CheckingInflater::default();
        }
        let inflated = checker
            .inflate_message(bytes)
            .unwrap_or_else(|e| panic!("message {i} does not inflate: {e}"));
        assert!(inflated == *message, "message {i} inflates to other bytes");
        assert!(
            checker.max_distance() <= w.size(),
            "a distance of {} in a window of {}",
            checker.max_distance(),
            w.size()
        );
    }
    if let Some(reference) = reference {
        let inflated = reference(&compressed, keep_context).expect("the reference inflates it");
        assert!(inflated.len() == messages.len());
        for (i, (message, data)) in messages.iter().zip(&inflated).enumerate() {
            assert!(
                data == message,
                "the reference inflates message {i} to other bytes"
            );
        }
    }
}
