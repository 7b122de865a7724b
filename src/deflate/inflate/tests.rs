//! The decoder against RFC 7692's worked examples, miniz_oxide, and hand-built streams
//! for every rule of RFC 1951 it enforces.

use super::*;
use crate::deflate::tables::{DIST_BASE, DIST_EXTRA, LENGTH_BASE, LENGTH_EXTRA, MAX_MATCH};
use crate::test_rng::XorShift;

use miniz_oxide::DataFormat;
use miniz_oxide::deflate::core::{CompressionStrategy, CompressorOxide, TDEFLFlush, compress};

// ===== helpers =====

fn w(bits: u8) -> WindowBits {
    WindowBits::new(bits).expect("8..=15")
}

/// Inflates one message fed in `pieces`, then finishes it.
fn message(
    inf: &mut Inflater,
    pool: &mut InflateScratchPool,
    pieces: &[&[u8]],
    limit: usize,
) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    for piece in pieces {
        let left = limit - out.len();
        inf.inflate(piece, &mut out, left, pool)?;
    }
    let left = limit - out.len();
    inf.finish_message(&mut out, left, pool)?;
    Ok(out)
}

/// One message, whole, window 15, no takeover, no limit to speak of.
fn inflate(payload: &[u8]) -> Result<Vec<u8>, InflateError> {
    let mut inf = Inflater::new(WindowBits::MAX, false);
    message(
        &mut inf,
        &mut InflateScratchPool::new(1),
        &[payload],
        usize::MAX / 2,
    )
}

/// Messages in a row on one inflater.
fn inflate_messages(
    bits: WindowBits,
    keep_context: bool,
    payloads: &[&[u8]],
) -> Result<Vec<Vec<u8>>, InflateError> {
    let mut inf = Inflater::new(bits, keep_context);
    let mut pool = InflateScratchPool::new(1);
    payloads
        .iter()
        .map(|p| message(&mut inf, &mut pool, &[p], usize::MAX / 2))
        .collect()
}

/// A permessage-deflate sender on miniz_oxide: raw DEFLATE, each message sync-flushed
/// and its `00 00 ff ff` removed (RFC 7692 §7.2.1). One compressor across messages is
/// context takeover.
struct Sender {
    compressor: CompressorOxide,
}

impl Sender {
    fn new(level: u8, window_bits: u8) -> Self {
        Sender {
            compressor: CompressorOxide::with_params(
                DataFormat::Raw,
                level,
                CompressionStrategy::Default,
                window_bits,
            ),
        }
    }

    fn send(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; data.len() * 2 + 1024];
        let (_, consumed, written) =
            compress(&mut self.compressor, data, &mut out, TDEFLFlush::Sync);
        assert_eq!(consumed, data.len());
        out.truncate(written);
        assert!(
            out.ends_with(&SYNC_FLUSH_TAIL),
            "a sync flush ends with an empty stored block"
        );
        out.truncate(written - 4);
        out
    }
}

fn sync_compressed(data: &[u8], level: u8) -> Vec<u8> {
    Sender::new(level, 15).send(data)
}

/// Writes a DEFLATE bit stream by hand (RFC 1951 §3.1.1: LSB first, Huffman codes MSB
/// first).
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    count: u32,
}

impl BitWriter {
    fn bits(&mut self, value: u32, n: u32) -> &mut Self {
        self.acc |= u64::from(value) << self.count;
        self.count += n;
        while self.count >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.count -= 8;
        }
        self
    }

    fn code(&mut self, code: u32, len: u32) -> &mut Self {
        self.bits(code.reverse_bits() >> (32 - len), len)
    }

    /// Pads the last byte with zeros.
    fn finish(&mut self) -> Vec<u8> {
        if self.count > 0 {
            self.bits(0, 8 - self.count);
        }
        std::mem::take(&mut self.bytes)
    }

    // The fixed code (RFC 1951 §3.2.6).
    fn fixed_symbol(&mut self, symbol: u32) -> &mut Self {
        match symbol {
            0..=143 => self.code(0x30 + symbol, 8),
            144..=255 => self.code(0x190 + symbol - 144, 9),
            256..=279 => self.code(symbol - 256, 7),
            _ => self.code(0xC0 + symbol - 280, 8),
        }
    }

    fn fixed_literal(&mut self, byte: u8) -> &mut Self {
        self.fixed_symbol(u32::from(byte))
    }

    fn fixed_match(&mut self, len: usize, distance: usize) -> &mut Self {
        let (symbol, extra, value) = length_symbol(len);
        self.fixed_symbol(symbol).bits(value, extra);
        let (symbol, extra, value) = distance_symbol(distance);
        self.code(symbol, 5).bits(value, extra)
    }

    fn stored(&mut self, last: bool, data: &[u8]) -> &mut Self {
        self.bits(u32::from(last), 1).bits(0, 2);
        if self.count > 0 {
            self.bits(0, 8 - self.count);
        }
        let len = data.len() as u32;
        self.bits(len, 16).bits(!len & 0xFFFF, 16);
        for &b in data {
            self.bits(u32::from(b), 8);
        }
        self
    }
}

/// (symbol, extra bits, extra value) of a match length.
fn length_symbol(len: usize) -> (u32, u32, u32) {
    let i = (0..29)
        .rev()
        .find(|&i| usize::from(LENGTH_BASE[i]) <= len)
        .unwrap();
    let i = if len == 258 { 28 } else { i.min(27) };
    (
        257 + i as u32,
        u32::from(LENGTH_EXTRA[i]),
        (len - usize::from(LENGTH_BASE[i])) as u32,
    )
}

fn distance_symbol(distance: usize) -> (u32, u32, u32) {
    let i = (0..30)
        .rev()
        .find(|&i| usize::from(DIST_BASE[i]) <= distance)
        .unwrap();
    (
        i as u32,
        u32::from(DIST_EXTRA[i]),
        (distance - usize::from(DIST_BASE[i])) as u32,
    )
}

/// The canonical codes of RFC 1951 §3.2.2 for these lengths, written out as the RFC
/// gives the algorithm (independently of the decoder's builder).
fn canonical_codes(lengths: &[u8]) -> Vec<u32> {
    let mut bl_count = [0u32; 16];
    for &l in lengths {
        bl_count[usize::from(l)] += 1;
    }
    bl_count[0] = 0;
    let mut next_code = [0u32; 16];
    let mut code = 0;
    for bits in 1..16 {
        code = (code + bl_count[bits - 1]) << 1;
        next_code[bits] = code;
    }
    lengths
        .iter()
        .map(|&l| {
            if l == 0 {
                return 0;
            }
            let c = next_code[usize::from(l)];
            next_code[usize::from(l)] += 1;
            c
        })
        .collect()
}

/// What a hand-built block contains.
#[derive(Clone, Copy)]
enum Sym {
    Lit(u8),
    Match(usize, usize),
    End,
}

/// A complete code-length code: 0..=12 in 4 bits, 13..=18 in 5 (13/16 + 6/32 = 1).
const CL_LENGTHS: [u8; 19] = [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5];

/// Writes a dynamic block header: counts, the code-length code, then every length as
/// its own code-length symbol (no repeats).
fn dynamic_header(bw: &mut BitWriter, last: bool, litlen: &[u8], dist: &[u8]) {
    bw.bits(u32::from(last), 1).bits(2, 2);
    bw.bits(litlen.len() as u32 - 257, 5)
        .bits(dist.len() as u32 - 1, 5)
        .bits(19 - 4, 4);
    for &s in &CODE_LENGTH_ORDER {
        bw.bits(u32::from(CL_LENGTHS[usize::from(s)]), 3);
    }
    let cl_codes = canonical_codes(&CL_LENGTHS);
    for &l in litlen.iter().chain(dist) {
        bw.code(
            cl_codes[usize::from(l)],
            u32::from(CL_LENGTHS[usize::from(l)]),
        );
    }
}

/// A whole dynamic block with these code lengths and symbols.
fn dynamic_block(bw: &mut BitWriter, last: bool, litlen: &[u8], dist: &[u8], symbols: &[Sym]) {
    dynamic_header(bw, last, litlen, dist);
    let lit_codes = canonical_codes(litlen);
    let dist_codes = canonical_codes(dist);
    let lit = |bw: &mut BitWriter, s: u32| {
        bw.code(lit_codes[s as usize], u32::from(litlen[s as usize]));
    };
    for &sym in symbols {
        match sym {
            Sym::Lit(b) => lit(bw, u32::from(b)),
            Sym::End => lit(bw, 256),
            Sym::Match(len, distance) => {
                let (s, extra, v) = length_symbol(len);
                lit(bw, s);
                bw.bits(v, extra);
                let (s, extra, v) = distance_symbol(distance);
                bw.code(dist_codes[s as usize], u32::from(dist[s as usize]));
                bw.bits(v, extra);
            }
        }
    }
}

/// Ends a hand-built message the way RFC 7692 §7.2.1 has a sender end it: the header
/// bits of an empty stored block, then padding (its LEN/NLEN are the tail the receiver
/// appends).
fn sync_end(bw: &mut BitWriter) -> Vec<u8> {
    bw.bits(0, 3);
    bw.finish()
}

fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the ",
        "of ",
        "and ",
        "message ",
        "push ",
        "server ",
        "window ",
        "frame ",
        "a ",
        "compressed ",
        "deflate ",
        "client ",
        "to ",
        "in ",
        "is ",
        "connection. ",
        "data, ",
    ];
    let mut rng = XorShift(seed | 1);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
    }
    out.truncate(len);
    out
}

fn json(seed: u64) -> Vec<u8> {
    let mut rng = XorShift(seed | 1);
    format!(
        r#"{{"type":"message","channel":"room-{}","id":{},"user":{{"name":"user{}","online":true}},"text":"{}","ts":{}}}"#,
        rng.below(100),
        rng.below(1_000_000),
        rng.below(5000),
        String::from_utf8(text(20 + rng.below(300), seed)).unwrap(),
        1_700_000_000 + rng.below(1_000_000)
    )
    .into_bytes()
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = XorShift(seed | 1);
    rng.bytes(len)
}

/// Data of every kind the corpus tests use.
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let mut runs = Vec::new();
    for i in 0..200u32 {
        runs.extend(std::iter::repeat_n(
            (i % 7) as u8,
            (i as usize * 37) % 300 + 1,
        ));
    }
    vec![
        ("empty", Vec::new()),
        ("one byte", vec![b'x']),
        ("random", random_bytes(40_000, 1)),
        ("text", text(100_000, 2)),
        ("json", (0..50).flat_map(json).collect()),
        ("zeros", vec![0; 70_000]),
        ("runs", runs),
        ("short period", b"abcabcabd".repeat(3000)),
    ]
}

// ===== RFC 7692 §7.2.3, byte for byte =====

#[test]
fn rfc7692_hello_inflates() {
    // §7.2.3.1: "Hello" in one fixed-code block, sync-flushed, tail removed.
    assert_eq!(
        inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]).unwrap(),
        b"Hello"
    );
}

#[test]
fn rfc7692_second_hello_reuses_the_window_with_context_takeover() {
    // §7.2.3.2: the second "Hello" is one back-reference into the first message.
    let first: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let second: &[u8] = &[0xf2, 0x00, 0x11, 0x00, 0x00];
    let out = inflate_messages(WindowBits::MAX, true, &[first, second]).unwrap();
    assert_eq!(out, [b"Hello", b"Hello"]);
}

#[test]
fn a_reference_into_an_earlier_message_without_context_takeover_is_an_error() {
    let first: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let second: &[u8] = &[0xf2, 0x00, 0x11, 0x00, 0x00];
    assert_eq!(
        inflate_messages(WindowBits::MAX, false, &[first, second]),
        // The message is 'H' and then "ello" from 5 bytes back.
        Err(InflateError::DistanceTooFar {
            distance: 5,
            available: 1
        })
    );
}

#[test]
fn rfc7692_stored_block_inflates() {
    // §7.2.3.3: "Hello" in a stored block.
    let payload = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(inflate(&payload).unwrap(), b"Hello");
    // The example's frame payload as printed ends after the data; the sender's empty
    // stored block header then sits in a byte of its own.
    assert_eq!(
        inflate(&payload[..10]),
        Err(InflateError::UnterminatedMessage)
    );
}

#[test]
fn rfc7692_two_fragments_inflate_as_one_message() {
    // §7.2.3.1: the same "Hello" split over two frames.
    let mut inf = Inflater::new(WindowBits::MAX, false);
    let out = message(
        &mut inf,
        &mut InflateScratchPool::new(1),
        &[&[0xf2, 0x48, 0xcd], &[0xc9, 0xc9, 0x07, 0x00]],
        100,
    );
    assert_eq!(out.unwrap(), b"Hello");
}

#[test]
fn rfc7692_final_block_ends_the_stream_and_the_next_message_starts_a_new_one() {
    // §7.2.3.4: BFINAL = 1, then one octet with an empty stored block's header bits.
    let bfinal: &[u8] = &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    let hello: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    for keep in [false, true] {
        let out = inflate_messages(WindowBits::MAX, keep, &[bfinal, hello, bfinal]).unwrap();
        assert_eq!(out, [b"Hello"; 3]);
    }
    // Without the padding octet (zlib's Z_FINISH output, sent as is) it is the same.
    assert_eq!(inflate(&bfinal[..7]).unwrap(), b"Hello");
    // Under context takeover the window is kept across the final block.
    let again: &[u8] = &[0xf2, 0x00, 0x11, 0x00, 0x00];
    let out = inflate_messages(WindowBits::MAX, true, &[bfinal, again]).unwrap();
    assert_eq!(out, [b"Hello", b"Hello"]);
}

#[test]
fn rfc7692_two_blocks_in_one_message_inflate() {
    // §7.2.3.5: "He" sync-flushed, then "llo".
    let payload = [
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(inflate(&payload).unwrap(), b"Hello");
}

#[test]
fn an_empty_message_is_one_empty_stored_block_header() {
    // What a sync flush of no data leaves once the tail is removed.
    assert_eq!(inflate(&[0x00]).unwrap(), b"");
    assert_eq!(sync_compressed(b"", 6), [0x00]);
}

// ===== agreement with miniz_oxide =====

#[test]
fn agrees_with_miniz_oxide_on_the_corpus_at_every_level() {
    for (name, data) in corpus() {
        for level in [0, 1, 6, 9] {
            let payload = sync_compressed(&data, level);
            assert_eq!(inflate(&payload).unwrap(), data, "{name} at level {level}");
            // A complete stream ending in a final block (what compress_to_vec makes).
            let whole = miniz_oxide::deflate::compress_to_vec(&data, level);
            assert_eq!(
                inflate(&whole).unwrap(),
                data,
                "{name} at level {level}, bfinal"
            );
        }
    }
}

#[test]
fn a_miniz_sender_agrees_at_every_window_size_its_distances_fit() {
    // miniz_oxide does not hold its distances to a window below 15 bits (at 12 bits
    // with context takeover it sends 4679), so it sends with 15 here: independent
    // messages shorter than 2^w then fit any window; with context takeover only 15 does.
    // The hand-built tests below reach each window's exact edge.
    for bits in 9..=15u8 {
        for keep in [false, true] {
            if keep && bits < 15 {
                continue;
            }
            let mut sender = Sender::new(6, 15);
            let mut inf = Inflater::new(w(bits), keep);
            let mut pool = InflateScratchPool::new(1);
            for i in 0..40 {
                let data = json(i);
                assert!(data.len() <= 1 << bits);
                if !keep {
                    sender = Sender::new(6, 15);
                }
                let payload = sender.send(&data);
                let out = message(&mut inf, &mut pool, &[&payload], 1 << 20).unwrap();
                assert_eq!(
                    out, data,
                    "window bits {bits}, takeover {keep}, message {i}"
                );
            }
        }
    }
}

#[test]
fn context_takeover_messages_reach_back_into_earlier_ones() {
    let mut sender = Sender::new(9, 15);
    let data: Vec<Vec<u8>> = (0..30).map(json).collect();
    let payloads: Vec<Vec<u8>> = data.iter().map(|d| sender.send(d)).collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    assert_eq!(
        inflate_messages(WindowBits::MAX, true, &refs).unwrap(),
        data
    );
    // The later messages need the earlier ones: alone they fail.
    let later = inflate(&payloads[29]);
    assert!(
        matches!(later, Err(InflateError::DistanceTooFar { .. })),
        "{later:?}"
    );
}

// ===== split invariance =====

#[test]
fn every_split_point_of_small_messages_gives_the_same_output() {
    let samples = [
        sync_compressed(&json(7), 6),
        sync_compressed(&json(8), 1),
        sync_compressed(&text(400, 3), 9),
        sync_compressed(&random_bytes(200, 4), 6),
        sync_compressed(&json(9), 0),
        miniz_oxide::deflate::compress_to_vec(&json(10), 6),
    ];
    let mut pool = InflateScratchPool::new(1);
    for payload in &samples {
        let expected = inflate(payload).unwrap();
        for a in 0..=payload.len() {
            let mut inf = Inflater::new(WindowBits::MAX, false);
            let (x, y) = payload.split_at(a);
            assert_eq!(
                message(&mut inf, &mut pool, &[x, y], 1 << 20).unwrap(),
                expected
            );
        }
        // Three pieces, every pair of split points on the first 40 bytes.
        for a in 0..40.min(payload.len()) {
            for b in a..40.min(payload.len()) {
                let mut inf = Inflater::new(WindowBits::MAX, false);
                let pieces = [&payload[..a], &payload[a..b], &payload[b..]];
                assert_eq!(
                    message(&mut inf, &mut pool, &pieces, 1 << 20).unwrap(),
                    expected
                );
            }
        }
    }
}

#[test]
fn a_byte_at_a_time_gives_the_same_output() {
    let mut pool = InflateScratchPool::new(1);
    for (name, data) in corpus() {
        let data = &data[..data.len().min(20_000)];
        let payload = sync_compressed(data, 6);
        let mut inf = Inflater::new(WindowBits::MAX, false);
        let pieces: Vec<&[u8]> = payload.chunks(1).collect();
        assert_eq!(
            message(&mut inf, &mut pool, &pieces, 1 << 20).unwrap(),
            data,
            "{name}"
        );
    }
}

#[test]
fn random_splits_of_large_messages_give_the_same_output() {
    let mut rng = XorShift(99);
    let mut pool = InflateScratchPool::new(1);
    for (name, data) in corpus() {
        for level in [1, 6] {
            let payload = sync_compressed(&data, level);
            for _ in 0..4 {
                let mut pieces = Vec::new();
                let mut at = 0;
                while at < payload.len() {
                    let n = (1 + rng.below(2000)).min(payload.len() - at);
                    pieces.push(&payload[at..at + n]);
                    at += n;
                }
                let mut inf = Inflater::new(WindowBits::MAX, false);
                let out = message(&mut inf, &mut pool, &pieces, 1 << 24).unwrap();
                assert_eq!(out, data, "{name} at level {level}");
            }
        }
    }
}

// ===== window sizes =====

/// A message of `prefix` stored bytes, then a fixed block with one match of `distance`.
fn reach_back(prefix: &[u8], distance: usize) -> Vec<u8> {
    let mut bw = BitWriter::default();
    bw.stored(false, prefix);
    bw.bits(0, 1)
        .bits(1, 2)
        .fixed_match(3, distance)
        .fixed_symbol(256);
    sync_end(&mut bw)
}

#[test]
fn a_distance_of_exactly_the_window_is_accepted_and_one_more_is_an_error() {
    for bits in 8..=15u8 {
        let size = 1usize << bits;
        let prefix = random_bytes(size + 10, u64::from(bits));
        let ok = reach_back(&prefix, size);
        let mut inf = Inflater::new(w(bits), false);
        let out = message(&mut inf, &mut InflateScratchPool::new(1), &[&ok], 1 << 20).unwrap();
        let start = prefix.len() - size;
        assert_eq!(
            &out[prefix.len()..],
            &prefix[start..start + 3],
            "window bits {bits}"
        );

        if bits == 15 {
            break; // DEFLATE cannot say 32769
        }
        let too_far = reach_back(&prefix, size + 1);
        let mut inf = Inflater::new(w(bits), false);
        let result = message(
            &mut inf,
            &mut InflateScratchPool::new(1),
            &[&too_far],
            1 << 20,
        );
        assert_eq!(
            result,
            Err(InflateError::DistanceTooFar {
                distance: size as u16 + 1,
                available: size
            }),
            "window bits {bits}"
        );
    }
}

#[test]
fn a_distance_beyond_the_window_is_an_error_even_with_context_takeover() {
    for bits in 8..=15u8 {
        let size = 1usize << bits;
        let first = random_bytes(size, 5);
        let mut bw = BitWriter::default();
        bw.stored(false, &first);
        let first_payload = sync_end(&mut bw);

        let edge = reach_back(&[], size);
        let out = inflate_messages(w(bits), true, &[&first_payload, &edge]).unwrap();
        assert_eq!(out[1], first[..3]);

        // A match that starts in the window and runs into this message.
        let mut bw = BitWriter::default();
        bw.bits(0, 1)
            .bits(1, 2)
            .fixed_literal(b'!')
            .fixed_match(20, 10);
        bw.fixed_symbol(256);
        let straddle = sync_end(&mut bw);
        let out = inflate_messages(w(bits), true, &[&first_payload, &straddle]).unwrap();
        let mut expected = vec![b'!'];
        let mut history = first.clone();
        history.push(b'!');
        for _ in 0..20 {
            let b = history[history.len() - 10];
            history.push(b);
            expected.push(b);
        }
        assert_eq!(out[1], expected, "window bits {bits}");

        if bits == 15 {
            break; // DEFLATE cannot say 32769
        }
        let too_far = reach_back(&[], size + 1);
        let result = inflate_messages(w(bits), true, &[&first_payload, &too_far]);
        assert_eq!(
            result,
            Err(InflateError::DistanceTooFar {
                distance: size as u16 + 1,
                available: size
            })
        );
    }
}

#[test]
fn the_kept_window_holds_the_last_bytes_of_many_short_messages() {
    // Forty 100-byte messages through a 256-byte ring, then references to each of
    // the last 256 bytes.
    let bits = w(8);
    let mut inf = Inflater::new(bits, true);
    let mut pool = InflateScratchPool::new(1);
    let mut history = Vec::new();
    for i in 0..40 {
        let data = random_bytes(100, 1000 + i);
        let mut bw = BitWriter::default();
        bw.stored(false, &data);
        message(&mut inf, &mut pool, &[&sync_end(&mut bw)], 1000).unwrap();
        history.extend_from_slice(&data);
    }
    for distance in [1, 2, 100, 101, 255, 256] {
        let mut probe = inf_clone_window(&inf);
        let payload = reach_back(&[], distance);
        let out = message(&mut probe, &mut pool, &[&payload], 1000).unwrap();
        let at = history.len() - distance;
        let mut expected = history[at..(at + 3).min(history.len())].to_vec();
        while expected.len() < 3 {
            expected.push(expected[expected.len() - distance]);
        }
        assert_eq!(out, expected, "distance {distance}");
    }
}

/// An inflater with the same kept window (for probing one window several times).
fn inf_clone_window(inf: &Inflater) -> Inflater {
    let mut copy = Inflater::new(inf.window_bits, inf.keep_context);
    copy.window = Window::default();
    if let Some(ring) = &inf.window_ring_for_tests() {
        copy.window.remember(ring, inf.window_bits.size());
    }
    copy
}

impl Inflater {
    /// The kept window's bytes in order.
    fn window_ring_for_tests(&self) -> Option<Vec<u8>> {
        let len = self.window.len();
        if len == 0 {
            return None;
        }
        let mut out = vec![0; len];
        self.window.copy_out(len, len, &mut out);
        Some(out)
    }
}

// ===== hand-built dynamic blocks =====

/// Lengths for a literal/length code of the given (symbol, length) pairs.
fn lengths(n: usize, codes: &[(usize, u8)]) -> Vec<u8> {
    let mut l = vec![0; n];
    for &(s, len) in codes {
        l[s] = len;
    }
    l
}

#[test]
fn codes_of_fifteen_bits_decode_through_the_subtables() {
    // A complete code with lengths 1, 2, ..., 14, 15, 15.
    let symbols = [
        b'e' as usize,
        b't' as usize,
        b'a' as usize,
        b'o' as usize,
        b'i' as usize,
        b'n' as usize,
        b's' as usize,
        b'h' as usize,
        b'r' as usize,
        b'd' as usize,
        b'l' as usize,
        257,
        b'u' as usize,
        b'c' as usize,
        b'm' as usize,
        256,
    ];
    let code: Vec<(usize, u8)> = symbols
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, (i as u8 + 1).min(15)))
        .collect();
    let litlen = lengths(286, &code);
    let dist = lengths(30, &[(0, 1), (1, 1)]);
    let mut data = Vec::new();
    let mut syms = Vec::new();
    let mut rng = XorShift(3);
    for _ in 0..3000 {
        let s = symbols[rng.below(symbols.len())];
        match s {
            256 => {}
            257 if !data.is_empty() => {
                syms.push(Sym::Match(3, 1));
                let b = *data.last().unwrap();
                data.extend([b; 3]);
            }
            257 => {}
            _ => {
                syms.push(Sym::Lit(s as u8));
                data.push(s as u8);
            }
        }
    }
    syms.push(Sym::End);
    let mut bw = BitWriter::default();
    dynamic_block(&mut bw, false, &litlen, &dist, &syms);
    let payload = sync_end(&mut bw);
    assert_eq!(inflate(&payload).unwrap(), data);
    let mut inf = Inflater::new(WindowBits::MAX, false);
    let pieces: Vec<&[u8]> = payload.chunks(1).collect();
    assert_eq!(
        message(&mut inf, &mut InflateScratchPool::new(1), &pieces, 1 << 20).unwrap(),
        data
    );
}

#[test]
fn a_single_one_bit_distance_code_is_accepted() {
    // RFC 1951 §3.2.7: "If only one distance code is used, it is encoded using one bit".
    let litlen = lengths(286, &[(b'a' as usize, 1), (256, 2), (257, 2)]);
    let dist = lengths(1, &[(0, 1)]);
    let mut bw = BitWriter::default();
    dynamic_block(
        &mut bw,
        false,
        &litlen,
        &dist,
        &[Sym::Lit(b'a'), Sym::Match(3, 1), Sym::End],
    );
    assert_eq!(inflate(&sync_end(&mut bw)).unwrap(), b"aaaa");
}

#[test]
fn the_unused_half_of_a_single_distance_code_is_an_invalid_distance() {
    let litlen = lengths(286, &[(b'a' as usize, 1), (256, 2), (257, 2)]);
    let dist = lengths(1, &[(0, 1)]);
    let mut bw = BitWriter::default();
    dynamic_header(&mut bw, false, &litlen, &dist);
    let codes = canonical_codes(&litlen);
    bw.code(codes[b'a' as usize], 1)
        .code(codes[257], 2)
        .bits(1, 1);
    assert_eq!(
        inflate(&sync_end(&mut bw)),
        Err(InflateError::InvalidDistanceSymbol)
    );
}

#[test]
fn no_distance_codes_at_all_is_accepted_for_a_block_of_literals() {
    // RFC 1951 §3.2.7: "one distance code of zero bits means that there are no distance
    // codes used at all (the data is all literals)".
    let litlen = lengths(257, &[(b'x' as usize, 1), (256, 1)]);
    let dist = lengths(1, &[]);
    let mut bw = BitWriter::default();
    dynamic_block(
        &mut bw,
        false,
        &litlen,
        &dist,
        &[Sym::Lit(b'x'), Sym::Lit(b'x'), Sym::End],
    );
    assert_eq!(inflate(&sync_end(&mut bw)).unwrap(), b"xx");
}

#[test]
fn a_match_in_a_block_without_distance_codes_is_an_invalid_distance() {
    let litlen = lengths(258, &[(b'x' as usize, 1), (256, 2), (257, 2)]);
    let dist = lengths(1, &[]);
    let mut bw = BitWriter::default();
    dynamic_header(&mut bw, false, &litlen, &dist);
    let codes = canonical_codes(&litlen);
    bw.code(codes[b'x' as usize], 1)
        .code(codes[257], 2)
        .bits(0, 1);
    assert_eq!(
        inflate(&sync_end(&mut bw)),
        Err(InflateError::InvalidDistanceSymbol)
    );
}

#[test]
fn a_literal_length_code_of_only_end_of_block_is_accepted() {
    // zlib accepts an incomplete code made of a single 1-bit code; so do we.
    let litlen = lengths(257, &[(256, 1)]);
    let mut bw = BitWriter::default();
    dynamic_block(&mut bw, false, &litlen, &[0], &[Sym::End]);
    assert_eq!(inflate(&sync_end(&mut bw)).unwrap(), b"");
}

#[test]
fn an_incomplete_literal_length_code_is_an_error() {
    let litlen = lengths(257, &[(b'a' as usize, 1), (256, 2)]);
    let mut bw = BitWriter::default();
    dynamic_header(&mut bw, false, &litlen, &[1]);
    assert_eq!(
        inflate(&sync_end(&mut bw)),
        Err(InflateError::IncompleteCode(CodeKind::LitLen))
    );
}

#[test]
fn an_oversubscribed_literal_length_code_is_an_error() {
    let litlen = lengths(257, &[(b'a' as usize, 1), (b'b' as usize, 1), (256, 1)]);
    let mut bw = BitWriter::default();
    dynamic_header(&mut bw, false, &litlen, &[1]);
    assert_eq!(
        inflate(&sync_end(&mut bw)),
        Err(InflateError::OversubscribedCode(CodeKind::LitLen))
    );
}

#[test]
fn an_incomplete_or_oversubscribed_distance_code_is_an_error() {
    let litlen = lengths(257, &[(b'a' as usize, 1), (256, 1)]);
    for (dist, expected) in [
        (vec![2], InflateError::IncompleteCode(CodeKind::Distance)),
        (vec![1, 2], InflateError::IncompleteCode(CodeKind::Distance)),
        (
            vec![1, 1, 1],
            InflateError::OversubscribedCode(CodeKind::Distance),
        ),
    ] {
        let mut bw = BitWriter::default();
        dynamic_header(&mut bw, false, &litlen, &dist);
        assert_eq!(inflate(&sync_end(&mut bw)), Err(expected), "{dist:?}");
    }
}

#[test]
fn a_code_without_end_of_block_is_an_error() {
    let litlen = lengths(257, &[(b'a' as usize, 1), (b'b' as usize, 1)]);
    let mut bw = BitWriter::default();
    dynamic_header(&mut bw, false, &litlen, &[1]);
    assert_eq!(
        inflate(&sync_end(&mut bw)),
        Err(InflateError::MissingEndOfBlock)
    );
}

/// A dynamic block header up to the code-length code, with these code-length lengths.
fn header_with_code_length_code(cl_lengths: &[u8; 19]) -> BitWriter {
    let mut bw = BitWriter::default();
    bw.bits(0, 1).bits(2, 2).bits(0, 5).bits(0, 5).bits(15, 4);
    for &s in &CODE_LENGTH_ORDER {
        bw.bits(u32::from(cl_lengths[usize::from(s)]), 3);
    }
    bw
}

#[test]
fn a_bad_code_length_code_is_an_error() {
    let mut over = CL_LENGTHS;
    over[18] = 4;
    let mut incomplete = CL_LENGTHS;
    incomplete[18] = 0;
    for (cl, expected) in [
        (over, InflateError::OversubscribedCode(CodeKind::CodeLength)),
        (
            incomplete,
            InflateError::IncompleteCode(CodeKind::CodeLength),
        ),
        ([0; 19], InflateError::IncompleteCode(CodeKind::CodeLength)),
    ] {
        let mut bw = header_with_code_length_code(&cl);
        assert_eq!(inflate(&sync_end(&mut bw)), Err(expected));
    }
}

#[test]
fn a_repeat_of_the_previous_length_first_is_an_error() {
    let mut bw = header_with_code_length_code(&CL_LENGTHS);
    let cl = canonical_codes(&CL_LENGTHS);
    bw.code(cl[16], 5).bits(0, 2);
    assert_eq!(
        inflate(&sync_end(&mut bw)),
        Err(InflateError::RepeatWithoutPrevious)
    );
}

#[test]
fn a_repeat_past_the_declared_lengths_is_an_error() {
    // 257 + 1 lengths declared; 18 repeats 138 zeros twice, then 17 ten more: 286.
    let mut bw = header_with_code_length_code(&CL_LENGTHS);
    let cl = canonical_codes(&CL_LENGTHS);
    bw.code(cl[18], 5).bits(127, 7).code(cl[18], 5).bits(127, 7);
    assert_eq!(
        inflate(&sync_end(&mut bw)),
        Err(InflateError::RepeatPastEnd)
    );
}

#[test]
fn a_repeat_may_run_from_the_literal_lengths_into_the_distance_lengths() {
    // RFC 1951 §3.2.7: the two sets of lengths are one sequence. 258 literal/length
    // and 4 distance lengths: 'a', 'b', 256, 257 and all four distances 2 bits long,
    // the last five written as one "repeat the previous length 5 times".
    let mut bw = BitWriter::default();
    bw.bits(0, 1).bits(2, 2).bits(1, 5).bits(3, 5).bits(15, 4);
    for &s in &CODE_LENGTH_ORDER {
        bw.bits(u32::from(CL_LENGTHS[usize::from(s)]), 3);
    }
    let cl = canonical_codes(&CL_LENGTHS);
    let sym = |bw: &mut BitWriter, s: usize| {
        bw.code(cl[s], u32::from(CL_LENGTHS[s]));
    };
    sym(&mut bw, 18);
    bw.bits(97 - 11, 7);
    sym(&mut bw, 2);
    sym(&mut bw, 2);
    sym(&mut bw, 18);
    bw.bits(138 - 11, 7);
    sym(&mut bw, 18);
    bw.bits(19 - 11, 7);
    sym(&mut bw, 2);
    sym(&mut bw, 16);
    bw.bits(5 - 3, 2);
    // Data: 'a' = 00, 'b' = 01, 256 = 10, 257 = 11; distance 0 = 00.
    bw.code(0b00, 2)
        .code(0b01, 2)
        .code(0b11, 2)
        .code(0b00, 2)
        .code(0b10, 2);
    assert_eq!(inflate(&sync_end(&mut bw)).unwrap(), b"abbbb");
}

#[test]
fn more_than_286_literal_or_30_distance_codes_is_an_error() {
    for (hlit, hdist) in [(30, 0), (31, 0), (0, 30), (0, 31)] {
        let mut bw = BitWriter::default();
        bw.bits(0, 1)
            .bits(2, 2)
            .bits(hlit, 5)
            .bits(hdist, 5)
            .bits(0, 4);
        assert_eq!(
            inflate(&sync_end(&mut bw)),
            Err(InflateError::TooManyCodes {
                litlen: 257 + hlit as u16,
                distance: 1 + hdist as u8
            })
        );
    }
}

// ===== other malformed streams =====

#[test]
fn the_reserved_block_type_is_an_error() {
    let mut bw = BitWriter::default();
    bw.bits(0, 1).bits(3, 2);
    assert_eq!(inflate(&bw.finish()), Err(InflateError::ReservedBlockType));
}

#[test]
fn a_stored_length_without_its_complement_is_an_error() {
    let payload = [0x00, 0x05, 0x00, 0xfa, 0xfe, 1, 2, 3, 4, 5, 0];
    assert_eq!(
        inflate(&payload),
        Err(InflateError::StoredLengthMismatch {
            len: 5,
            nlen: 0xfefa
        })
    );
}

#[test]
fn fixed_length_symbols_286_and_287_are_errors() {
    for symbol in [286, 287] {
        let mut bw = BitWriter::default();
        bw.bits(0, 1)
            .bits(1, 2)
            .fixed_literal(b'a')
            .fixed_symbol(symbol)
            .bits(0, 5);
        assert_eq!(
            inflate(&sync_end(&mut bw)),
            Err(InflateError::InvalidLengthSymbol)
        );
    }
}

#[test]
fn fixed_distance_symbols_30_and_31_are_errors() {
    for symbol in [30, 31] {
        let mut bw = BitWriter::default();
        bw.bits(0, 1)
            .bits(1, 2)
            .fixed_literal(b'a')
            .fixed_symbol(257)
            .code(symbol, 5);
        assert_eq!(
            inflate(&sync_end(&mut bw)),
            Err(InflateError::InvalidDistanceSymbol)
        );
    }
}

#[test]
fn a_distance_before_the_first_byte_is_an_error() {
    let mut bw = BitWriter::default();
    bw.bits(0, 1)
        .bits(1, 2)
        .fixed_literal(b'a')
        .fixed_match(3, 2)
        .fixed_symbol(256);
    assert_eq!(
        inflate(&sync_end(&mut bw)),
        Err(InflateError::DistanceTooFar {
            distance: 2,
            available: 1
        })
    );
}

#[test]
fn data_after_a_final_block_is_an_error() {
    let hello = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    for extra in [&[0x00, 0x00][..], &[0x01], &[0x00, 0x05]] {
        let mut payload = hello.to_vec();
        payload.extend_from_slice(extra);
        assert_eq!(
            inflate(&payload),
            Err(InflateError::InputAfterEnd),
            "{extra:?}"
        );
    }
    // A second complete stream in the same message, too.
    let mut twice = hello.to_vec();
    twice.extend_from_slice(&hello);
    assert_eq!(inflate(&twice), Err(InflateError::InputAfterEnd));
}

#[test]
fn a_message_cut_short_is_unterminated() {
    let payload = sync_compressed(&json(1), 6);
    for cut in 0..payload.len() {
        let result = inflate(&payload[..cut]);
        assert!(result.is_err(), "cut at {cut}: {result:?}");
    }
    assert_eq!(
        inflate(&payload[..payload.len() - 1]),
        Err(InflateError::UnterminatedMessage)
    );
}

#[test]
fn an_error_is_returned_again_until_reset() {
    let mut inf = Inflater::new(WindowBits::MAX, true);
    let mut pool = InflateScratchPool::new(1);
    let mut out = Vec::new();
    let bad = [0x07];
    assert_eq!(
        inf.inflate(&bad, &mut out, 100, &mut pool),
        Err(InflateError::ReservedBlockType)
    );
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(
        inf.inflate(&hello, &mut out, 100, &mut pool),
        Err(InflateError::ReservedBlockType)
    );
    assert_eq!(
        inf.finish_message(&mut out, 100, &mut pool),
        Err(InflateError::ReservedBlockType)
    );
    inf.reset(&mut pool);
    assert_eq!(
        message(&mut inf, &mut pool, &[&hello], 100).unwrap(),
        b"Hello"
    );
}

// ===== the output limit =====

#[test]
fn an_inflation_bomb_stops_at_the_limit_without_allocating_past_it() {
    let bomb = sync_compressed(&vec![0u8; 8 << 20], 9);
    assert!(bomb.len() < 10_000, "{}", bomb.len());
    for limit in [0, 1, 1000, 64 << 10] {
        let mut inf = Inflater::new(WindowBits::MAX, false);
        let mut out = Vec::new();
        let result = inf.inflate(&bomb, &mut out, limit, &mut InflateScratchPool::new(1));
        assert_eq!(result, Err(InflateError::TooLarge { limit }));
        assert!(out.len() <= limit + MAX_MATCH, "{} for {limit}", out.len());
        assert!(
            out.capacity() <= limit + decode::ROOM,
            "{} for {limit}",
            out.capacity()
        );
    }
}

#[test]
fn output_of_exactly_the_limit_is_accepted() {
    let data = text(50_000, 5);
    for level in [0, 6] {
        let payload = sync_compressed(&data, level);
        let mut inf = Inflater::new(WindowBits::MAX, false);
        let mut pool = InflateScratchPool::new(1);
        assert_eq!(
            message(&mut inf, &mut pool, &[&payload], data.len()).unwrap(),
            data
        );
        let mut inf = Inflater::new(WindowBits::MAX, false);
        assert_eq!(
            message(&mut inf, &mut pool, &[&payload], data.len() - 1),
            Err(InflateError::TooLarge {
                limit: data.len() - 1
            })
        );
    }
}

#[test]
fn the_limit_counts_the_whole_message_across_calls() {
    let data = text(10_000, 6);
    for level in [0, 6] {
        let payload = sync_compressed(&data, level);
        let mut inf = Inflater::new(WindowBits::MAX, false);
        let pieces: Vec<&[u8]> = payload.chunks(100).collect();
        let result = message(&mut inf, &mut InflateScratchPool::new(1), &pieces, 9_999);
        assert!(
            matches!(result, Err(InflateError::TooLarge { .. })),
            "{result:?}"
        );
    }
}

// ===== memory =====

#[test]
fn an_inflater_is_small() {
    assert!(
        std::mem::size_of::<Inflater>() <= 80,
        "{}",
        std::mem::size_of::<Inflater>()
    );
    const { assert!(InflateScratch::BYTES < 8 * 1024) };
}

#[test]
fn without_context_takeover_no_heap_is_held_between_messages() {
    let mut inf = Inflater::new(WindowBits::MAX, false);
    let mut pool = InflateScratchPool::new(2);
    assert_eq!(inf.heap_bytes(), 0);
    let dynamic = sync_compressed(&text(5000, 1), 9);
    let mut out = Vec::new();
    inf.inflate(&dynamic, &mut out, 1 << 20, &mut pool).unwrap();
    assert_eq!(
        inf.heap_bytes(),
        InflateScratch::BYTES,
        "tables lent during the message"
    );
    inf.finish_message(&mut out, 1 << 20, &mut pool).unwrap();
    assert_eq!(inf.heap_bytes(), 0);
    assert_eq!(pool.len(), 1, "the tables went back to the pool");
    // The next message reuses them.
    message(&mut inf, &mut pool, &[&dynamic], 1 << 20).unwrap();
    assert_eq!(pool.len(), 1);
}

#[test]
fn with_context_takeover_exactly_the_window_is_held_between_messages() {
    for bits in 8..=15u8 {
        let mut inf = Inflater::new(w(bits), true);
        let mut pool = InflateScratchPool::new(1);
        message(&mut inf, &mut pool, &[&[0x00]], 10).unwrap();
        assert_eq!(inf.heap_bytes(), 0, "no window before any output");
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        message(&mut inf, &mut pool, &[&hello], 10).unwrap();
        assert_eq!(inf.heap_bytes(), 1 << bits);
    }
}

#[test]
fn fixed_blocks_need_no_scratch() {
    let mut inf = Inflater::new(WindowBits::MAX, false);
    let mut pool = InflateScratchPool::new(1);
    let mut out = Vec::new();
    inf.inflate(
        &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        &mut out,
        10,
        &mut pool,
    )
    .unwrap();
    assert_eq!(inf.heap_bytes(), 0);
}

// ===== the rest of the API =====

#[test]
fn window_bits_are_8_to_15() {
    assert_eq!(WindowBits::new(7), None);
    assert_eq!(WindowBits::new(16), None);
    assert_eq!(WindowBits::new(8), Some(WindowBits::MIN));
    assert_eq!(WindowBits::default().size(), 32 * 1024);
    assert_eq!(w(10).get(), 10);
}

#[test]
fn every_error_displays_in_lowercase() {
    let all = [
        InflateError::TooLarge { limit: 7 },
        InflateError::ReservedBlockType,
        InflateError::StoredLengthMismatch { len: 1, nlen: 2 },
        InflateError::TooManyCodes {
            litlen: 287,
            distance: 1,
        },
        InflateError::OversubscribedCode(CodeKind::LitLen),
        InflateError::IncompleteCode(CodeKind::Distance),
        InflateError::RepeatWithoutPrevious,
        InflateError::RepeatPastEnd,
        InflateError::MissingEndOfBlock,
        InflateError::InvalidLengthSymbol,
        InflateError::InvalidDistanceSymbol,
        InflateError::DistanceTooFar {
            distance: 9,
            available: 3,
        },
        InflateError::InputAfterEnd,
        InflateError::UnterminatedMessage,
    ];
    for e in all {
        let s = e.to_string();
        assert!(!s.is_empty());
        assert_eq!(s, s.to_lowercase(), "{e:?}");
    }
    assert!(
        InflateError::TooLarge { limit: 7 }
            .to_string()
            .contains('7')
    );
}
