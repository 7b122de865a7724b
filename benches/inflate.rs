//! The DEFLATE decoder (`pushwire::deflate::inflate`) against miniz_oxide's, on what
//! permessage-deflate receives:
//!
//! * `chat json`: 2,000 JSON messages of 50–500 bytes, each compressed on its own
//!   (no context takeover) with a sync flush and its `00 00 ff ff` removed (RFC 7692
//!   §7.2.1), inflated one after another;
//! * `text 1 MiB` / `json 1 MiB`: one message of generated English-like text or JSON;
//! * `random 256 KiB`: incompressible data (stored blocks, mostly).
//!
//! Inputs are generated deterministically and compressed with miniz_oxide at level 6.
//! Both decoders reuse their state and output buffer between iterations; miniz_oxide is
//! given a non-wrapping output buffer big enough for the whole message (its fastest
//! mode). Throughput is of decompressed bytes (MB/s = 10^6 bytes/s); the ratio column is
//! ours over miniz_oxide's.
//!
//! ```text
//! cargo bench --bench inflate            # >= 0.5 s of timed runs per case
//! cargo bench --bench inflate -- --quick # briefly (CI smoke test)
//! cargo bench --bench inflate -- chat    # only cases whose name contains "chat"
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use miniz_oxide::DataFormat;
use miniz_oxide::deflate::core::{CompressionStrategy, CompressorOxide, TDEFLFlush, compress};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};
use pushwire::deflate::inflate::{InflateScratchPool, Inflater, WindowBits};

// ===== inputs =====

/// xorshift64: deterministic inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// English-like text: words drawn with a skewed frequency, sentences, punctuation.
fn english(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "of",
        "and",
        "to",
        "a",
        "in",
        "is",
        "that",
        "it",
        "was",
        "for",
        "on",
        "are",
        "with",
        "as",
        "his",
        "they",
        "be",
        "at",
        "one",
        "have",
        "this",
        "from",
        "or",
        "had",
        "by",
        "word",
        "but",
        "what",
        "some",
        "we",
        "can",
        "out",
        "other",
        "were",
        "all",
        "there",
        "when",
        "up",
        "use",
        "your",
        "how",
        "said",
        "an",
        "each",
        "she",
        "which",
        "server",
        "message",
        "connection",
        "window",
        "compression",
        "receiver",
        "frame",
        "between",
        "through",
        "without",
        "another",
        "because",
        "number",
        "people",
    ];
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(len + 32);
    let mut sentence = 0;
    while out.len() < len {
        // Skewed: low indices far more often.
        let i = rng.below(WORDS.len()).min(rng.below(WORDS.len()));
        let word = WORDS[i];
        if sentence == 0 {
            let mut w = word.as_bytes().to_vec();
            w[0] = w[0].to_ascii_uppercase();
            out.extend_from_slice(&w);
        } else {
            out.extend_from_slice(word.as_bytes());
        }
        sentence += 1;
        if sentence > 6 && rng.below(8) == 0 {
            out.extend_from_slice(if rng.below(5) == 0 { b".\n" } else { b". " });
            sentence = 0;
        } else if rng.below(12) == 0 {
            out.extend_from_slice(b", ");
        } else {
            out.push(b' ');
        }
    }
    out.truncate(len);
    out
}

/// One chat message as JSON, 50–500 bytes.
fn chat_json(rng: &mut Rng) -> Vec<u8> {
    let text_len = rng.below(400);
    let text = String::from_utf8(english(text_len, rng.next())).unwrap();
    let msg = format!(
        r#"{{"type":"message","room":"room-{}","id":{},"from":{{"id":{},"name":"user{}"}},"text":"{}","ts":{}}}"#,
        rng.below(50),
        rng.next() % 10_000_000,
        rng.below(100_000),
        rng.below(100_000),
        text,
        1_700_000_000_000u64 + rng.next() % 100_000_000
    );
    let mut bytes = msg.into_bytes();
    bytes.truncate(500);
    bytes
}

fn json_stream(len: usize) -> Vec<u8> {
    let mut rng = Rng(7);
    let mut out = Vec::with_capacity(len + 600);
    out.push(b'[');
    while out.len() < len {
        out.extend_from_slice(&chat_json(&mut rng));
        out.extend_from_slice(b",\n");
    }
    out.truncate(len);
    out
}

/// A message as a permessage-deflate sender sends it: sync flush, tail removed.
fn sync_compress(data: &[u8]) -> Vec<u8> {
    let mut c = CompressorOxide::with_params(DataFormat::Raw, 6, CompressionStrategy::Default, 15);
    let mut out = vec![0u8; data.len() + data.len() / 2 + 1024];
    let (_, consumed, written) = compress(&mut c, data, &mut out, TDEFLFlush::Sync);
    assert_eq!(consumed, data.len());
    assert!(out[..written].ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(written - 4);
    out
}

// ===== the two decoders =====

struct Ours {
    inflater: Inflater,
    pool: InflateScratchPool,
}

impl Ours {
    fn new() -> Self {
        Ours {
            inflater: Inflater::new(WindowBits::MAX, false),
            pool: InflateScratchPool::new(1),
        }
    }

    fn message(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        out.clear();
        self.inflater
            .inflate(payload, out, usize::MAX / 2, &mut self.pool)
            .expect("valid");
        self.inflater
            .finish_message(out, usize::MAX / 2, &mut self.pool)
            .expect("valid");
    }
}

struct Miniz {
    state: Box<DecompressorOxide>,
}

impl Miniz {
    /// `with_tail` is the payload with `00 00 ff ff` appended (RFC 7692 §7.2.2).
    fn message(&mut self, with_tail: &[u8], out: &mut [u8]) -> usize {
        self.state.init();
        let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
        let (status, consumed, written) = decompress(&mut self.state, with_tail, out, 0, flags);
        assert!(
            matches!(
                status,
                TINFLStatus::FailedCannotMakeProgress | TINFLStatus::Done
            ),
            "{status:?}"
        );
        assert_eq!(consumed, with_tail.len());
        written
    }
}

// ===== harness =====

fn median_ns(quick: bool, f: &mut dyn FnMut()) -> f64 {
    let (warmup, samples, measure) = if quick {
        (Duration::from_millis(20), 5, Duration::from_millis(60))
    } else {
        (Duration::from_millis(200), 11, Duration::from_millis(600))
    };
    let start = Instant::now();
    let mut batch = 1u64;
    let mut est;
    loop {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        est = t.elapsed().as_nanos() as f64 / batch as f64;
        if start.elapsed() >= warmup {
            break;
        }
        batch *= 2;
    }
    let iters =
        ((measure.as_nanos() as f64 / f64::from(samples) / est.max(1.0)).ceil() as u64).max(1);
    let mut times: Vec<f64> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// A case: messages (payloads), and the bytes they inflate to.
struct Case {
    name: &'static str,
    originals: Vec<Vec<u8>>,
}

fn main() {
    let mut quick = std::env::var_os("PUSHWIRE_BENCH_QUICK").is_some_and(|v| v != "0");
    let mut filters = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            flag if flag.starts_with('-') => {}
            filter => filters.push(filter.to_owned()),
        }
    }
    let mut rng = Rng(42);
    let cases = [
        Case {
            name: "chat json (2000 msgs)",
            originals: (0..2000).map(|_| chat_json(&mut rng)).collect(),
        },
        Case {
            name: "text 1 MiB",
            originals: vec![english(1 << 20, 3)],
        },
        Case {
            name: "json 1 MiB",
            originals: vec![json_stream(1 << 20)],
        },
        Case {
            name: "random 256 KiB",
            originals: vec![(0..1 << 18).map(|_| rng.next() as u8).collect()],
        },
    ];
    println!(
        "  {:<24} {:>9} {:>9} {:>12} {:>12} {:>7}",
        "case", "in", "out", "ours MB/s", "miniz MB/s", "ratio"
    );
    for case in &cases {
        if !filters.is_empty() && !filters.iter().any(|f| case.name.contains(f.as_str())) {
            continue;
        }
        let payloads: Vec<Vec<u8>> = case.originals.iter().map(|m| sync_compress(m)).collect();
        let with_tail: Vec<Vec<u8>> = payloads
            .iter()
            .map(|p| [p.as_slice(), &[0, 0, 0xff, 0xff]].concat())
            .collect();
        let total_in: usize = payloads.iter().map(Vec::len).sum();
        let total_out: usize = case.originals.iter().map(Vec::len).sum();
        let largest = case.originals.iter().map(Vec::len).max().unwrap_or(0);

        // Both must agree with the originals before they are timed.
        let mut ours = Ours::new();
        let mut out = Vec::with_capacity(largest);
        let mut miniz = Miniz {
            state: Box::default(),
        };
        let mut miniz_out = vec![0u8; largest + 1024];
        for ((payload, tailed), original) in payloads.iter().zip(&with_tail).zip(&case.originals) {
            ours.message(payload, &mut out);
            assert_eq!(&out, original, "ours on {}", case.name);
            let n = miniz.message(tailed, &mut miniz_out);
            assert_eq!(
                &miniz_out[..n],
                original.as_slice(),
                "miniz on {}",
                case.name
            );
        }

        let ours_ns = median_ns(quick, &mut || {
            for payload in &payloads {
                ours.message(black_box(payload), &mut out);
                black_box(&out);
            }
        });
        let miniz_ns = median_ns(quick, &mut || {
            for tailed in &with_tail {
                black_box(miniz.message(black_box(tailed), &mut miniz_out));
            }
        });
        let mbps = |ns: f64| total_out as f64 / ns * 1e3;
        println!(
            "  {:<24} {:>9} {:>9} {:>12.0} {:>12.0} {:>6.2}x",
            case.name,
            total_in,
            total_out,
            mbps(ours_ns),
            mbps(miniz_ns),
            miniz_ns / ours_ns
        );
    }
}
