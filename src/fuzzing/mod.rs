//! The bodies of the fuzz targets in `fuzz/`, kept in the library so that a plain
//! `cargo test` on stable Rust replays every committed seed through exactly the code the
//! fuzzer runs (see `seeds.rs`).
//!
//! Compiled only for the library's own tests and under `--cfg fuzzing`, which
//! `cargo fuzz` passes to every crate it builds: embedders never build this module. It
//! is not part of the public API: hidden from the documentation and free to change.
//!
//! Each function takes the fuzzer's raw bytes, decodes whatever structure it needs with
//! a hand-rolled reader (no `arbitrary`, so the decoding is the same everywhere), and
//! **panics when an invariant is violated**. The invariant of each target is stated in
//! its documentation and at the top of its wrapper in `fuzz/fuzz_targets/`.
//!
//! Where a target needs more than the byte stream itself (chunk boundaries, time steps,
//! application commands, limits), the input starts with a small control header:
//!
//! ```text
//! ws_connection, server_pipeline,  [config: u8] [n_ops: u8] [op: u8; n_ops] [stream ...]
//! session:
//! frame_header:                    [config: u8] [header bytes ...]
//! mask:                            [key: 4 bytes] [offset: u8] [payload ...]
//! http_head, utf8, close_payload:  the bytes themselves (splits are derived from them)
//! ws_client_connection:            as ws_connection (the stream is what a server sends)
//! body_decoder:                    [mode: u8] [limit: u8] [mode-specific bytes ...]
//! pair_roundtrip:                  [config: u8] ([kind: u8] [len: u8] [fragment: u8] [bytes])*
//! hub_ops:                         [history: u8] ([op: u8] [argument bytes]?)*
//! storage_recovery:                [mode: u8] [limits: u8] [mode-specific bytes ...]
//! token:                           the bytes themselves (as a token, and as claims to sign)
//! extensions:                      [config: u8] [Sec-WebSocket-Extensions value ...]
//! deflate_roundtrip:               [config: u8] [shape: u8] [data ...]
//! inflate:                         [config: u8] [split seed: u8] [messages ...]
//! ws_deflate:                      [agreement: u8] [level: u8] [mode: u8] [bytes ...]
//! sse:                             [mode: u8] ([limit: u8] when mode is odd) [bytes ...]
//! json:                            the bytes themselves (a JSON text)
//! mux_command:                     [config: u8] [command text ...]
//! resp_reply:                      [mode: u8] [a reply stream, or replies described ...]
//! redis_link:                      [mode: u8] [commands: u8] [what Redis sends ...]
//! ```
//!
//! An op byte drives one step of the driver: its low nibble picks the size of the next
//! chunk of the stream (see [`CHUNK_SIZES`]), its high nibble an action taken before
//! that chunk is fed (advance the clock, an application `send`/`ping`/`close`, a
//! spurious timeout, or EOF). The ops are used in a cycle until the stream is consumed;
//! with no ops the whole stream arrives at once.
//!
//! The targets by family, one file each: `http.rs` (`http_head`, `body_decoder`),
//! `ws.rs` (`frame_header`, `utf8`, `mask`, `close_payload`), `connection.rs`
//! (`ws_connection`, `server_pipeline`, `ws_client_connection`, all run by the op-driven
//! driver in `driver.rs`), `session.rs` (`session`: the HTTP/1.1 session with an
//! application's answers), `pair.rs` (`pair_roundtrip`), `hub.rs` (`hub_ops`),
//! `storage.rs` (`storage_recovery`, on the writer and fold models in
//! `storage::model`), `token.rs` (`token`: the access tokens of `auth::token`),
//! `extensions.rs` (`extensions`: the §9.1 extension grammar and permessage-deflate
//! negotiation), `compress.rs` (`deflate_roundtrip`: the DEFLATE encoder,
//! `deflate::compress`), `inflate.rs` (`inflate`: the decoder of
//! `deflate::inflate`), `compressed.rs` (`ws_deflate`: connections that negotiated
//! permessage-deflate), `sse.rs` (`sse`: the Server-Sent Events encoder and parser of
//! `hub::sse`), `json.rs` (`json`: the strict JSON reader against serde_json;
//! `mux_command`: the `pushwire.v1` commands), `resp.rs` (`resp_reply`: the RESP2
//! reply parser of `redis::resp` against a reference reading) and `redis_link.rs`
//! (`redis_link`: the two Redis connections, `redis::Link` and `redis::Subscriber`). This file holds what
//! they share: the input reader, a PRNG, split schedules, and [`TARGETS`].

mod compress;
mod compressed;
mod connection;
mod driver;
mod extensions;
mod http;
mod hub;
mod inflate;
mod json;
mod pair;
mod redis_link;
mod resp;
#[cfg(test)]
mod seeds;
mod session;
mod sse;
mod storage;
mod token;
mod ws;

pub use compress::{ReferenceInflate, deflate_roundtrip, deflate_roundtrip_against};
pub use compressed::ws_deflate;
pub use connection::{server_pipeline, ws_client_connection, ws_connection};
pub use extensions::extensions;
pub use http::{body_decoder, http_head};
pub use hub::hub_ops;
pub use inflate::{Reference, ReferenceDecoder, inflate, inflate_against};
pub use json::{JsonReference, REFERENCE_DEPTH, json, json_against, mux_command};
pub use pair::pair_roundtrip;
pub use redis_link::redis_link;
pub use resp::resp_reply;
pub use session::session;
pub use sse::sse;
pub use storage::storage_recovery;
pub use token::token;
pub use ws::{close_payload, frame_header, mask, utf8};

// ===== helpers: a byte reader, a tiny PRNG, split schedules =====

/// Reads structure off the front of the fuzzer's bytes; past the end every read is 0.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Up to `n` bytes (fewer if the input ends).
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// splitmix64: deterministic, tiny, good enough to spread split points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `1..=max` (max >= 1), biased towards small values.
    fn small(&mut self, max: usize) -> usize {
        let r = self.next();
        let cap = match r % 4 {
            0 => 4,
            1 => 16,
            2 => 64,
            _ => max,
        }
        .min(max)
        .max(1);
        1 + ((r >> 8) as usize % cap)
    }
}

/// FNV-1a, to derive split schedules from the data itself.
fn fnv1a(data: &[u8], salt: u64) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64 ^ salt;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    h
}

/// Chunk boundaries (exclusive ends, increasing, the last = `len`) for `len` bytes.
fn random_splits(len: usize, seed: u64) -> Vec<usize> {
    let mut rng = Rng(seed);
    let mut ends = Vec::new();
    let mut at = 0;
    while at < len {
        at += rng.small(len - at);
        ends.push(at);
    }
    ends
}

/// The sizes an op's low nibble selects. `usize::MAX` is "the rest of the stream".
pub const CHUNK_SIZES: [usize; 16] = [
    1,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    13,
    14,
    64,
    130,
    131,
    1000,
    usize::MAX,
];

/// 32 bytes for a client's masking-key generator, derived from the input.
fn seed_from(data: &[u8], salt: u64) -> [u8; 32] {
    let mut rng = Rng(fnv1a(data, salt));
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next().to_le_bytes());
    }
    seed
}

/// A target's body: takes the fuzzer's bytes, panics on a violated invariant.
pub type Target = fn(&[u8]);

/// Every target by name, as the fuzz targets and seed directories are named.
pub const TARGETS: &[(&str, Target)] = &[
    ("http_head", http_head),
    ("frame_header", frame_header),
    ("utf8", utf8),
    ("mask", mask),
    ("close_payload", close_payload),
    ("ws_connection", ws_connection),
    ("server_pipeline", server_pipeline),
    ("body_decoder", body_decoder),
    ("ws_client_connection", ws_client_connection),
    ("pair_roundtrip", pair_roundtrip),
    ("hub_ops", hub_ops),
    ("session", session),
    ("storage_recovery", storage_recovery),
    ("token", token),
    ("extensions", extensions),
    ("deflate_roundtrip", deflate_roundtrip),
    ("inflate", inflate),
    ("ws_deflate", ws_deflate),
    ("sse", sse),
    ("json", json),
    ("mux_command", mux_command),
    ("resp_reply", resp_reply),
    ("redis_link", redis_link),
];
