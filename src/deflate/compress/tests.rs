//! The encoder against RFC 7692's worked examples, miniz_oxide's inflate (the reference
//! decoder) and [`CheckingInflater`] (which proves the window bound).

use super::check::{CheckingInflater, miniz_inflate_messages};
use super::*;
use crate::test_rng::XorShift;

const LEVELS: [Level; 3] = [Level::Fast, Level::Default, Level::Best];

fn every_window() -> impl Iterator<Item = WindowBits> {
    (8..=15).map(|w| WindowBits::new(w).expect("8..=15"))
}

fn compress_all(c: &mut Compressor, messages: &[&[u8]]) -> Vec<Vec<u8>> {
    messages
        .iter()
        .map(|m| {
            let mut out = Vec::new();
            c.compress_message(m, &mut out);
            out
        })
        .collect()
}

/// Compresses `messages` on one compressor and checks them against both decoders: the
/// same data, whole blocks ending in the sync flush, and no distance beyond 2^w.
fn assert_round_trip(level: Level, w: WindowBits, keep_context: bool, messages: &[&[u8]]) {
    let mut c = Compressor::new(level, w, keep_context);
    let compressed = compress_all(&mut c, messages);
    assert_inflates_to(w, keep_context, &compressed, messages);
}

fn assert_inflates_to(
    w: WindowBits,
    keep_context: bool,
    compressed: &[Vec<u8>],
    messages: &[&[u8]],
) {
    let what = format!("w = {}, takeover = {keep_context}", w.get());
    let reference = miniz_inflate_messages(compressed, keep_context).expect(&what);
    let mut checker = CheckingInflater::default();
    for (i, (message, bytes)) in messages.iter().zip(compressed).enumerate() {
        assert!(
            reference[i] == *message,
            "miniz_oxide disagrees on message {i}, {what}"
        );
        if !keep_context {
            checker = CheckingInflater::default();
        }
        let data = checker
            .inflate_message(bytes)
            .unwrap_or_else(|e| panic!("{e}, {what}"));
        assert!(data == *message, "message {i} differs, {what}");
        assert!(
            checker.max_distance() <= w.size(),
            "distance {} beyond the window, {what}",
            checker.max_distance()
        );
    }
}

// ===== corpus =====

fn text(len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "server",
        "message",
        "window",
        "deflate",
        "push",
        "channel",
        "subscriber",
        "hello",
        "world",
        "of",
        "and",
    ];
    let mut rng = XorShift(7);
    let mut s = Vec::with_capacity(len + 16);
    while s.len() < len {
        s.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
        s.push(if rng.below(12) == 0 { b'\n' } else { b' ' });
    }
    s.truncate(len);
    s
}

fn chat_json(i: usize) -> Vec<u8> {
    format!(
        r#"{{"type":"message","channel":"room-{}","id":{},"user":"user{}","text":"{}","ts":{}}}"#,
        i % 7,
        1000 + i,
        i % 13,
        String::from_utf8(text(20 + (i * 37) % 300)).expect("ascii"),
        1_700_000_000 + i * 3
    )
    .into_bytes()
}

/// Bytes repeating with exactly this period: every match candidate is `period` back.
fn periodic(period: usize, len: usize) -> Vec<u8> {
    let unit = XorShift(period as u64).bytes(period);
    unit.iter().copied().cycle().take(len).collect()
}

fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let mut long_runs = Vec::new();
    for i in 0..40 {
        long_runs.extend(std::iter::repeat_n(b"ab\x00z"[i % 4], 1 + (i * 97) % 700));
    }
    vec![
        ("empty", Vec::new()),
        ("one byte", vec![b'x']),
        ("two bytes", b"xy".to_vec()),
        ("random", XorShift(1).bytes(5000)),
        ("text", text(12_000)),
        ("json", (0..40).flat_map(chat_json).collect()),
        // More than the 32 KiB gathered before parsing: the window slides.
        ("zeros", vec![0; 40_000]),
        ("long runs", long_runs),
    ]
}

// ===== RFC 7692 §7.2.3 =====

#[test]
fn hello_compresses_to_the_rfc_7692_bytes_at_every_level_and_window() {
    for level in LEVELS {
        for w in every_window() {
            for keep_context in [false, true] {
                let mut out = Vec::new();
                Compressor::new(level, w, keep_context).compress_message(b"Hello", &mut out);
                assert_eq!(
                    out,
                    [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
                    "{level:?} {w:?}"
                );
            }
        }
    }
}

#[test]
fn a_second_hello_with_context_takeover_is_a_match_into_the_first() {
    for level in LEVELS {
        for w in every_window() {
            let mut c = Compressor::new(level, w, true);
            let out = compress_all(&mut c, &[b"Hello", b"Hello"]);
            assert_eq!(out[1], [0xf2, 0x00, 0x11, 0x00, 0x00], "{level:?} {w:?}");
        }
    }
}

#[test]
fn without_context_takeover_every_message_stands_alone() {
    let mut c = Compressor::new(Level::Default, WindowBits::MAX, false);
    let out = compress_all(&mut c, &[b"Hello", b"Hello"]);
    assert_eq!(out[0], out[1]);
}

#[test]
fn an_empty_message_is_the_single_byte_00() {
    // RFC 7692 §7.2.3.6: an empty stored block, its LEN and NLEN removed.
    for keep_context in [false, true] {
        let mut c = Compressor::new(Level::Fast, WindowBits::MAX, keep_context);
        let out = compress_all(&mut c, &[b"", b"abc", b""]);
        assert_eq!(out[0], [0x00]);
        assert_eq!(out[2], [0x00]);
        let mut streamed = Vec::new();
        c.finish_message(&mut streamed);
        assert_eq!(streamed, [0x00]);
    }
}

// ===== round trips =====

#[test]
fn the_corpus_round_trips_at_every_level_and_window_without_takeover() {
    let corpus = corpus();
    for level in LEVELS {
        for w in every_window() {
            for (name, data) in &corpus {
                let mut out = Vec::new();
                Compressor::new(level, w, false).compress_message(data, &mut out);
                // The sync flush's tail, then an empty final block (fixed codes: BFINAL
                // = 1, BTYPE = 01, end of block) so the raw stream is complete.
                let mut whole = out.clone();
                whole.extend_from_slice(&[0, 0, 0xff, 0xff, 0x03, 0x00]);
                let back = miniz_oxide::inflate::decompress_to_vec(&whole);
                assert!(back.is_ok_and(|b| b == *data), "{name}, {level:?}, {w:?}");
                let mut checker = CheckingInflater::default();
                let back = checker
                    .inflate_message(&out)
                    .expect("whole blocks, sync flush");
                assert!(back == *data, "{name}, {level:?}, {w:?}");
                assert!(
                    checker.max_distance() <= w.size(),
                    "{name}, {level:?}, {w:?}"
                );
            }
        }
    }
}

#[test]
fn the_corpus_round_trips_as_one_stream_with_takeover_at_every_level_and_window() {
    let corpus = corpus();
    let messages: Vec<&[u8]> = corpus.iter().map(|(_, d)| &d[..]).collect();
    for level in LEVELS {
        for w in every_window() {
            assert_round_trip(level, w, true, &messages);
        }
    }
}

#[test]
fn chat_messages_one_by_one_round_trip_with_and_without_takeover() {
    let chats: Vec<Vec<u8>> = (0..60).map(chat_json).collect();
    let messages: Vec<&[u8]> = chats.iter().map(|m| &m[..]).collect();
    for level in LEVELS {
        for w in [
            WindowBits::MIN,
            WindowBits::new(11).expect("11"),
            WindowBits::MAX,
        ] {
            for keep_context in [false, true] {
                assert_round_trip(level, w, keep_context, &messages);
            }
        }
    }
}

#[test]
fn a_quarter_mebibyte_of_text_round_trips_at_every_level() {
    mebibytes_round_trip(256 * 1024, &[WindowBits::new(12).expect("12")]);
}

/// Slow in debug builds (about a second per case): `cargo test --release -- --ignored`.
#[test]
#[ignore]
fn a_mebibyte_of_text_round_trips_at_every_level_and_window() {
    mebibytes_round_trip(1 << 20, &every_window().collect::<Vec<_>>());
}

fn mebibytes_round_trip(len: usize, windows: &[WindowBits]) {
    let data = text(len);
    for level in LEVELS {
        for &w in windows {
            let mut out = Vec::new();
            Compressor::new(level, w, false).compress_message(&data, &mut out);
            let back = miniz_inflate_messages(std::slice::from_ref(&out), false).expect("inflates");
            assert!(back[0] == data, "{level:?} {w:?}");
            assert!(out.len() < data.len() / 2, "{level:?} {w:?}: {}", out.len());
        }
    }
}

#[test]
fn data_of_period_two_to_the_w_reaches_exactly_the_window_and_one_more_does_not() {
    for level in LEVELS {
        for w in every_window() {
            let size = w.size();
            // Period 2^w: every repeat is exactly as far back as allowed.
            let exact = periodic(size, 3 * size + 100);
            let mut c = Compressor::new(level, w, false);
            let out = compress_all(&mut c, &[&exact]);
            let mut checker = CheckingInflater::default();
            assert_eq!(checker.inflate_message(&out[0]).expect("valid"), exact);
            assert_eq!(checker.max_distance(), size, "{level:?} {w:?}");
            // (Fast hashes no position inside a long match, so with a small window
            // some repeats after a long match go unseen.)
            let used = out[0].len() < exact.len() * 3 / 4;
            assert!(used, "{level:?} {w:?}: {} bytes", out[0].len());

            // Period 2^w + 1: each repeat is one byte too far. The check proves no match
            // reaches past 2^w; random units give no other matches worth taking, so only
            // the literals' Huffman codes can save a little.
            let beyond = periodic(size + 1, 2 * size + 100);
            let out = compress_all(&mut Compressor::new(level, w, false), &[&beyond]);
            assert_inflates_to(w, false, &out, &[&beyond]);
            let unmatched = out[0].len() > beyond.len() * 9 / 10;
            assert!(unmatched, "{level:?} {w:?}: matched past the window");
        }
    }
}

#[test]
fn matches_into_earlier_messages_stay_within_the_window() {
    // A message, then the same again after filler of exactly the window's size minus
    // a little and plus a little.
    for level in LEVELS {
        for w in every_window() {
            let size = w.size();
            let unit = XorShift(3).bytes(size / 4);
            let near = XorShift(4).bytes(size - size / 4);
            let far = XorShift(5).bytes(size - size / 4 + 1);
            let messages: [&[u8]; 5] = [&unit, &near, &unit, &far, &unit];
            assert_round_trip(level, w, true, &messages);
        }
    }
}

#[test]
fn messages_written_in_parts_inflate_to_the_same_data() {
    parts_round_trip(false);
}

#[test]
fn messages_written_in_parts_inflate_to_the_same_data_with_takeover() {
    parts_round_trip(true);
}

fn parts_round_trip(keep_context: bool) {
    // Past 32 KiB + 259 (a slide), with text, noise and a run.
    let data: Vec<u8> = [
        text(20_000),
        XorShift(9).bytes(2000),
        vec![7; 6_000],
        text(9_000),
    ]
    .concat();
    let configs = [
        (Level::Fast, WindowBits::MIN),
        (Level::Default, WindowBits::MAX),
        (Level::Best, WindowBits::new(11).expect("11")),
    ];
    for (level, w) in configs {
        for part in [1, 7, 1000, 33_000] {
            let mut c = Compressor::new(level, w, keep_context);
            let compressed: Vec<Vec<u8>> = (0..2)
                .map(|_| {
                    let mut out = Vec::new();
                    // One-byte parts for the first 2,000 bytes only (slow in debug).
                    let (first, rest) = data.split_at(if part == 1 { 2000 } else { data.len() });
                    for piece in first.chunks(part) {
                        c.write(piece, &mut out);
                    }
                    c.write(rest, &mut out);
                    c.finish_message(&mut out);
                    out
                })
                .collect();
            assert_inflates_to(w, keep_context, &compressed, &[&data, &data]);
        }
    }
}

#[test]
fn a_long_message_streams_out_before_it_ends() {
    let mut c = Compressor::new(Level::Fast, WindowBits::MAX, false);
    let mut out = Vec::new();
    let data = text(200_000);
    for piece in data.chunks(10_000) {
        c.write(piece, &mut out);
    }
    assert!(
        out.len() > 20_000,
        "blocks are written as input arrives: {}",
        out.len()
    );
    c.finish_message(&mut out);
    assert_inflates_to(WindowBits::MAX, false, &[out], &[&data]);
}

// ===== block choice =====

#[test]
fn incompressible_input_is_stored() {
    let data = XorShift(11).bytes(100_000);
    for level in LEVELS {
        let mut out = Vec::new();
        Compressor::new(level, WindowBits::MAX, false).compress_message(&data, &mut out);
        // BFINAL = 0, BTYPE = 00 in the first 3 bits.
        assert_eq!(out[0] & 0b111, 0b000, "{level:?}");
        // A stored block per 16 Ki tokens at most (5 bytes each) and the sync flush.
        assert!(
            out.len() <= data.len() + 5 * 7 + 1,
            "{level:?}: {}",
            out.len()
        );
        assert_round_trip(level, WindowBits::MAX, false, &[&data]);
    }
}

#[test]
fn text_of_some_size_gets_a_dynamic_block() {
    let data = text(5000);
    let mut out = Vec::new();
    Compressor::new(Level::Default, WindowBits::MAX, false).compress_message(&data, &mut out);
    assert_eq!(out[0] & 0b111, 0b100);
    assert!(out.len() < data.len() / 2);
}

#[test]
fn zeros_compress_to_almost_nothing() {
    let data = vec![0u8; 1 << 20];
    let mut out = Vec::new();
    Compressor::new(Level::Fast, WindowBits::MIN, false).compress_message(&data, &mut out);
    // 258 bytes per match: about 4,000 matches of a few bits each, and a dynamic
    // header per 32 KiB block.
    assert!(out.len() < 3000, "{}", out.len());
}

// ===== memory =====

#[test]
fn a_compressor_is_a_few_words() {
    assert!(size_of::<Compressor>() <= 32, "{}", size_of::<Compressor>());
}

#[test]
fn without_takeover_no_memory_is_held_between_messages() {
    let mut c = Compressor::new(Level::Default, WindowBits::MAX, false);
    let mut out = Vec::new();
    c.compress_message(&text(100_000), &mut out);
    assert_eq!(c.heap_bytes(), 0);
    c.write(b"a message in parts", &mut out);
    assert!(c.heap_bytes() > 0, "held while the message is under way");
    c.finish_message(&mut out);
    assert_eq!(c.heap_bytes(), 0);
}

#[test]
fn the_pool_lends_one_scratch_over_and_over() {
    let mut pool = CompressScratchPool::new();
    let mut a = Compressor::new(Level::Default, WindowBits::MAX, false);
    let mut b = Compressor::new(Level::Fast, WindowBits::MIN, false);
    let mut outs = Vec::new();
    for i in 0..50 {
        let mut out = Vec::new();
        let c = if i % 2 == 0 { &mut a } else { &mut b };
        c.compress_message_pooled(&mut pool, &chat_json(i), &mut out);
        assert_eq!(c.heap_bytes(), 0);
        assert_eq!(pool.spares(), 1);
        outs.push(out);
    }
    for (i, out) in outs.iter().enumerate() {
        let back = miniz_inflate_messages(std::slice::from_ref(out), false).expect("inflates");
        assert_eq!(back[0], chat_json(i));
    }
}

#[test]
fn a_small_message_without_takeover_uses_tables_sized_to_it() {
    let mut c = Compressor::new(Level::Default, WindowBits::MAX, false);
    let mut pool = CompressScratchPool::new();
    let message = chat_json(3);
    assert!(message.len() < 400);
    c.compress_message_pooled(&mut pool, &message, &mut Vec::new());
    assert!(pool.heap_bytes() < 8 * 1024, "{} bytes", pool.heap_bytes());
}

#[test]
fn with_takeover_the_context_is_kept_until_recycled() {
    let mut pool = CompressScratchPool::new();
    let mut c = Compressor::new(Level::Default, WindowBits::new(10).expect("10"), true);
    let mut out = Vec::new();
    c.compress_message_pooled(&mut pool, &text(100_000), &mut out);
    let held = c.heap_bytes();
    assert!(held > 0 && pool.spares() == 0);
    // w = 10: history 1 KiB + pending 32 KiB, heads 8 KiB, chains 2 KiB, tokens 64 KiB.
    assert!(held < 110 * 1024, "{held}");
    c.recycle(&mut pool);
    assert_eq!((c.heap_bytes(), pool.spares()), (0, 1));
}

#[test]
fn positions_rebase_before_they_wrap() {
    // Bring the absolute positions just below the rebase point, then stream on with the
    // context kept: matches across the rebase must stay right.
    let w = WindowBits::new(12).expect("12");
    let mut c = Compressor::new(Level::Default, w, true);
    let chats: Vec<Vec<u8>> = (0..400).map(chat_json).collect();
    let mut compressed = vec![Vec::new()];
    c.compress_message(&chats[0], &mut compressed[0]);
    c.scratch
        .as_mut()
        .expect("kept")
        .jump_positions_near_rebase();
    for chat in &chats[1..] {
        let mut out = Vec::new();
        c.compress_message(chat, &mut out);
        compressed.push(out);
    }
    let messages: Vec<&[u8]> = chats.iter().map(|m| &m[..]).collect();
    assert_inflates_to(w, true, &compressed, &messages);
}

#[test]
fn the_default_level_is_close_to_miniz_level_6_and_fast_to_level_1() {
    let data = [text(200_000), (0..300).flat_map(chat_json).collect()].concat();
    for (level, miniz_level, slack) in [(Level::Fast, 1, 1.05), (Level::Default, 6, 1.03)] {
        let mut ours = Vec::new();
        Compressor::new(level, WindowBits::MAX, false).compress_message(&data, &mut ours);
        let theirs = miniz_oxide::deflate::compress_to_vec(&data, miniz_level);
        assert!(
            (ours.len() as f64) < theirs.len() as f64 * slack,
            "{level:?}: {} vs miniz {miniz_level}: {}",
            ours.len(),
            theirs.len()
        );
    }
}

#[test]
fn with_takeover_the_memory_per_window_is_as_documented() {
    // The module docs' bound: window ≤ 2^w + 32 KiB + 259, heads 4 · 2^min(w + 1, 15),
    // chains 2 · 2^w, tokens ≤ 64 KiB; plus the scratch struct and the Vec doubling of
    // the window and token buffers (at most twice what they hold).
    for level in LEVELS {
        for w in every_window() {
            let size = w.size();
            let mut c = Compressor::new(level, w, true);
            c.compress_message(&chat_json(1), &mut Vec::new());
            let small = c.heap_bytes();
            c.compress_message(&text(70_000), &mut Vec::new());
            let large = c.heap_bytes();
            let heads = 4 << (w.get() as u32 + 1).min(15);
            let bound = 2 * (size + 32 * 1024 + 259) + heads + 2 * size + 2 * 64 * 1024 + 512;
            assert!(large <= bound, "{level:?} {w:?}: {large} > {bound}");
            if std::env::var_os("PRINT_MEMORY").is_some() {
                println!(
                    "{level:?} w={}: {small} B after a chat message, {large} B after 70 KB",
                    w.get()
                );
            }
        }
    }
}
