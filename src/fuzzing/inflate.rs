//! **inflate** — the permessage-deflate decoder (`deflate::inflate`, RFC 1951 / RFC 7692).
//!
//! Input: `[config] [split seed] [messages]`. Config bits 0–2 pick the window bits
//! (8 + v), bit 3 context takeover, bits 4–7 the message size limit (one of `LIMITS`).
//! With bit 3 clear and bits 0–2 = 7 the messages are the rest of the input as one
//! message; otherwise they are `[len: u8] [len bytes]` records.
//!
//! Invariants: no panic; no call's output passes its limit by more than one match (258
//! bytes); every message's output or error is the same fed whole, in random pieces, and
//! (for short inputs) a byte at a time; and, for one message with a 2^15 window, the
//! decoder agrees with a reference raw-DEFLATE decoder (miniz_oxide, given by the
//! caller) on the stream without the RFC 7692 tail: the same output where the stream is
//! complete, an error where the reference finds one, and a prefix of the same output
//! where the stream is cut short. Intentional differences: after a final block the
//! reference ignores what follows, ours accepts one `00` octet (RFC 7692 §7.2.3.4) and
//! refuses more (`InflateError::InputAfterEnd`); and a literal/length code without an
//! end-of-block code is refused at once, as zlib does (`MissingEndOfBlock`), where
//! miniz_oxide goes on decoding a block that can never end.

use crate::deflate::inflate::{InflateError, InflateScratchPool, Inflater, WindowBits};

use super::{Reader, fnv1a, random_splits};

/// The message size limits config bits 4–7 select.
const LIMITS: [usize; 16] = [
    0,
    1,
    5,
    64,
    255,
    256,
    1000,
    4096,
    32_768,
    65_536,
    100_000,
    262_144,
    1 << 20,
    1 << 20,
    1 << 20,
    1 << 20,
];

/// What a reference decoder made of a raw DEFLATE stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A complete stream (ending in a final block), and its output.
    Complete(Vec<u8>),
    /// Valid so far but cut short, and the output so far.
    Truncated(Vec<u8>),
    /// Malformed.
    Malformed,
    /// It would produce more than the limit it was given.
    TooLarge,
}

/// A reference raw-DEFLATE decoder: the stream and an output limit.
pub type ReferenceDecoder<'a> = &'a dyn Fn(&[u8], usize) -> Reference;

/// The target as `cargo test` replays it: miniz_oxide as the reference.
pub fn inflate(data: &[u8]) {
    #[cfg(test)]
    inflate_against(data, Some(&miniz_reference));
    #[cfg(not(test))]
    inflate_against(data, None);
}

/// miniz_oxide's raw inflate as a [`ReferenceDecoder`].
#[cfg(test)]
fn miniz_reference(stream: &[u8], limit: usize) -> Reference {
    use miniz_oxide::inflate::{TINFLStatus, decompress_to_vec_with_limit};
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

/// One message's outcome: its output, or the error.
type Outcome = Result<Vec<u8>, InflateError>;

/// Inflates `messages`, each fed in the pieces `split` makes of it; stops at the first
/// error. Checks the limit on every call.
fn run(
    bits: WindowBits,
    keep: bool,
    limit: usize,
    messages: &[&[u8]],
    split: &mut dyn FnMut(&[u8]) -> Vec<usize>,
) -> Vec<Outcome> {
    let mut inf = Inflater::new(bits, keep);
    let mut pool = InflateScratchPool::new(1);
    let mut outcomes = Vec::new();
    for message in messages {
        let mut out = Vec::new();
        let mut at = 0;
        let mut result = Ok(());
        for end in split(message) {
            let left = limit - out.len();
            let before = out.len();
            result = inf.inflate(&message[at..end], &mut out, left, &mut pool);
            assert!(out.len() - before <= left + 258, "output passed the limit");
            at = end;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            let left = limit - out.len();
            let before = out.len();
            result = inf.finish_message(&mut out, left, &mut pool);
            assert!(out.len() - before <= left + 258, "output passed the limit");
        }
        let failed = result.is_err();
        outcomes.push(result.map(|()| out));
        if failed {
            break;
        }
    }
    outcomes
}

/// Errors compare by kind: `TooLarge`'s limit is the one of the call that passed it,
/// which depends on the split.
fn normalized(outcomes: Vec<Outcome>) -> Vec<Result<Vec<u8>, InflateError>> {
    outcomes
        .into_iter()
        .map(|o| {
            o.map_err(|e| match e {
                InflateError::TooLarge { .. } => InflateError::TooLarge { limit: 0 },
                other => other,
            })
        })
        .collect()
}

/// The target with an optional reference decoder (the fuzz target passes miniz_oxide).
pub fn inflate_against(data: &[u8], reference: Option<ReferenceDecoder<'_>>) {
    let mut r = Reader { data };
    let config = r.u8();
    let salt = u64::from(r.u8());
    let rest = r.rest();
    let bits = WindowBits::new(8 + (config & 7)).unwrap_or(WindowBits::MAX);
    let keep = config & 8 != 0;
    let limit = LIMITS[usize::from(config >> 4)];

    let single = !keep && config & 7 == 7;
    let mut messages = Vec::new();
    if single {
        messages.push(rest);
    } else {
        let mut r = Reader { data: rest };
        while !r.data.is_empty() {
            let len = usize::from(r.u8());
            messages.push(r.take(len));
        }
    }

    let whole = normalized(run(bits, keep, limit, &messages, &mut |m| vec![m.len()]));
    let seed = fnv1a(data, salt);
    let pieces = normalized(run(bits, keep, limit, &messages, &mut |m| {
        random_splits(m.len(), seed ^ m.len() as u64)
    }));
    assert_eq!(whole, pieces, "whole vs random pieces");
    if rest.len() <= 512 {
        let bytes = normalized(run(bits, keep, limit, &messages, &mut |m| {
            (1..=m.len()).collect()
        }));
        assert_eq!(whole, bytes, "whole vs a byte at a time");
    }

    if let (true, Some(reference)) = (single, reference) {
        differential(rest, limit, reference);
    }
}

/// One message, window 15, no tail: ours against the reference.
fn differential(stream: &[u8], limit: usize, reference: ReferenceDecoder<'_>) {
    let mut inf = Inflater::new(WindowBits::MAX, false);
    let mut out = Vec::new();
    let ours = inf.inflate(stream, &mut out, limit, &mut InflateScratchPool::new(1));
    let theirs = reference(stream, limit);
    match (ours, theirs) {
        (Err(InflateError::TooLarge { .. }), _) | (_, Reference::TooLarge) => {}
        (Ok(()), Reference::Complete(expected)) if inf.stream_ended() => {
            assert_eq!(out, expected, "complete stream: outputs differ");
        }
        (Ok(()), Reference::Truncated(theirs)) if !inf.stream_ended() => {
            let n = out.len().min(theirs.len());
            assert_eq!(out[..n], theirs[..n], "cut-short stream: outputs differ");
        }
        (Err(InflateError::InputAfterEnd), Reference::Complete(expected)) => {
            assert_eq!(out, expected, "stream with trailing bytes: outputs differ");
        }
        (Err(_), Reference::Malformed) => {}
        // Refused at once, as zlib does; miniz_oxide decodes such a block's data until
        // the input runs out (it can never end).
        (Err(InflateError::MissingEndOfBlock), Reference::Truncated(_)) => {}
        (ours, theirs) => panic!(
            "ours {ours:?} (ended: {}), reference {theirs:?}",
            inf.stream_ended()
        ),
    }
}
