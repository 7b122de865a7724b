//! The DEFLATE encoder against miniz_oxide: throughput (MB/s of input, 10^6 bytes/s) and
//! compressed size, for what a push server compresses.
//!
//! ```text
//! cargo bench --bench compress              # every case
//! cargo bench --bench compress -- chat      # only cases whose name contains "chat"
//! cargo bench --bench compress -- --quick   # briefly (a smoke test)
//! ```
//!
//! Cases, each ours and miniz_oxide's at the matching level (`Fast` vs 1, `Default` vs
//! 6, `Best` vs 9):
//!
//! - `chat`: 1,000 chat-sized JSON messages (50–500 bytes) compressed one by one without
//!   context takeover (every message on its own, as for a broadcast compressed once):
//!   ours through a [`CompressScratchPool`], miniz_oxide's compressor reset per message.
//! - `chat-takeover`: the same stream with context takeover (one compressor, a sync flush
//!   per message).
//! - `text`: 1 MiB of generated English-like text (deterministic, no download), one
//!   message.
//!
//! Each case is timed in 7 samples after a warm-up; the table shows the median.

use std::hint::black_box;
use std::time::{Duration, Instant};

use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, compress, create_comp_flags_from_zip_params,
};
use pushwire::deflate::compress::{CompressScratchPool, Compressor, Level, WindowBits};

// ===== data =====

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

/// A vocabulary of 3,000 made-up words from syllables.
fn vocabulary() -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "the", "an", "ing", "er", "on", "re", "in", "ed", "es", "ti", "at", "st", "en", "or", "ar",
        "al", "ou", "le", "se", "co", "me", "de", "ve", "ra", "ri", "ro", "li", "la", "ne", "ma",
        "pe", "ca", "ta", "to", "mo", "pro", "con", "ex", "ly", "ment",
    ];
    let mut rng = Rng(0x0c0ffee);
    (0..3000)
        .map(|_| {
            let n = 1 + rng.below(3) + rng.below(2);
            (0..n)
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                .collect()
        })
        .collect()
}

/// Words of the vocabulary drawn with a Zipf-like skew, with punctuation, capitals and
/// paragraphs: text statistics close to English prose.
fn text(words: &[String], len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut sentence_start = true;
    while out.len() < len {
        // Zipf-like: small indices far more often.
        let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        let word = &words[((words.len() as f64) * u * u * u) as usize];
        if sentence_start {
            let mut w = word.clone().into_bytes();
            w[0] = w[0].to_ascii_uppercase();
            out.extend_from_slice(&w);
            sentence_start = false;
        } else {
            out.extend_from_slice(word.as_bytes());
        }
        match rng.below(40) {
            0..=2 => {
                out.extend_from_slice(b". ");
                sentence_start = true;
            }
            3 => out.extend_from_slice(b", "),
            4 => {
                out.extend_from_slice(b".\n\n");
                sentence_start = true;
            }
            _ => out.push(b' '),
        }
    }
    out.truncate(len);
    out
}

/// A chat message as JSON, 50–500 bytes.
fn chat(i: usize, words: &[String], rng: &mut Rng) -> Vec<u8> {
    let body_len = 10 + rng.below(380);
    let body = String::from_utf8(text(words, body_len, rng)).expect("ascii");
    let mut m = format!(
        r#"{{"type":"msg","room":"lobby-{}","id":{},"from":"user{}","ts":{},"text":"{}"}}"#,
        rng.below(5),
        100_000 + i,
        rng.below(500),
        1_700_000_000_000u64 + i as u64 * 731,
        body.trim_end()
    );
    m.truncate(500);
    m.into_bytes()
}

// ===== the codecs =====

fn ours_one_by_one(level: Level, messages: &[Vec<u8>], pool: &mut CompressScratchPool) -> usize {
    let mut c = Compressor::new(level, WindowBits::MAX, false);
    let mut out = Vec::with_capacity(1024);
    let mut total = 0;
    for m in messages {
        out.clear();
        c.compress_message_pooled(pool, m, &mut out);
        total += out.len();
    }
    total
}

fn ours_takeover(level: Level, messages: &[Vec<u8>]) -> usize {
    let mut c = Compressor::new(level, WindowBits::MAX, true);
    let mut out = Vec::with_capacity(1024);
    let mut total = 0;
    for m in messages {
        out.clear();
        c.compress_message(m, &mut out);
        total += out.len();
    }
    total
}

fn miniz(level: u8) -> CompressorOxide {
    CompressorOxide::new(create_comp_flags_from_zip_params(level.into(), -15, 0))
}

/// Compresses `m` with a sync flush, as permessage-deflate does; returns the size
/// without the `00 00 ff ff` tail.
fn miniz_message(c: &mut CompressorOxide, m: &[u8], buf: &mut [u8]) -> usize {
    let (_, _, written) = compress(c, m, buf, TDEFLFlush::Sync);
    written - 4
}

fn miniz_one_by_one(
    level: u8,
    messages: &[Vec<u8>],
    c: &mut CompressorOxide,
    buf: &mut [u8],
) -> usize {
    let mut total = 0;
    for m in messages {
        c.reset();
        total += miniz_message(c, m, buf);
    }
    let _ = level;
    total
}

fn miniz_takeover(level: u8, messages: &[Vec<u8>], buf: &mut [u8]) -> usize {
    let mut c = miniz(level);
    messages.iter().map(|m| miniz_message(&mut c, m, buf)).sum()
}

// ===== harness =====

struct Bench {
    quick: bool,
    filters: Vec<String>,
}

impl Bench {
    fn from_args() -> Bench {
        let mut quick = std::env::var_os("PUSHWIRE_BENCH_QUICK").is_some_and(|v| v != "0");
        let mut filters = Vec::new();
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                "--quick" => quick = true,
                flag if flag.starts_with('-') => {}
                filter => filters.push(filter.to_owned()),
            }
        }
        Bench { quick, filters }
    }

    /// Times `f` (which compresses `input_bytes` and returns the compressed size) and
    /// prints a row; returns MB/s.
    fn run(&self, name: &str, input_bytes: usize, mut f: impl FnMut() -> usize) -> Option<f64> {
        if !self.filters.is_empty() && !self.filters.iter().any(|x| name.contains(x.as_str())) {
            return None;
        }
        let (warmup, samples, per_sample) = if self.quick {
            (Duration::from_millis(10), 3, Duration::from_millis(10))
        } else {
            (Duration::from_millis(100), 7, Duration::from_millis(100))
        };
        let start = Instant::now();
        let mut size = 0;
        let mut runs = 0u32;
        while start.elapsed() < warmup || runs == 0 {
            size = black_box(f());
            runs += 1;
        }
        let per_run = start.elapsed() / runs;
        let iters = (per_sample.as_nanos() / per_run.as_nanos().max(1)).max(1) as u32;
        let mut times: Vec<f64> = (0..samples)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(f());
                }
                t.elapsed().as_secs_f64() / f64::from(iters)
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let secs = times[times.len() / 2];
        let mbps = input_bytes as f64 / secs / 1e6;
        println!(
            "  {name:<28} {mbps:>9.1} MB/s {size:>10} B  ratio {:>6.3}",
            size as f64 / input_bytes as f64
        );
        Some(mbps)
    }
}

fn relative(ours: Option<f64>, theirs: Option<f64>) {
    if let (Some(a), Some(b)) = (ours, theirs) {
        println!("  {:<28} {:>9.2}x miniz_oxide's speed", "", a / b);
    }
}

fn main() {
    let b = Bench::from_args();
    let mut rng = Rng(0x5eed);
    let words = vocabulary();
    let messages: Vec<Vec<u8>> = (0..1000).map(|i| chat(i, &words, &mut rng)).collect();
    let chat_bytes: usize = messages.iter().map(Vec::len).sum();
    let big = text(&words, 1 << 20, &mut rng);
    let mut buf = vec![0u8; 2 << 20];
    let mut pool = CompressScratchPool::new();
    let pairs = [(Level::Fast, 1u8), (Level::Default, 6), (Level::Best, 9)];

    println!(
        "\nchat JSON, {} messages of 50-500 B ({chat_bytes} B), one by one, no context takeover",
        messages.len()
    );
    for (level, miniz_level) in pairs {
        let ours = b.run(&format!("chat {level:?}"), chat_bytes, || {
            ours_one_by_one(level, &messages, &mut pool)
        });
        let mut m = miniz(miniz_level);
        let theirs = b.run(&format!("chat miniz {miniz_level}"), chat_bytes, || {
            miniz_one_by_one(miniz_level, &messages, &mut m, &mut buf)
        });
        relative(ours, theirs);
    }

    println!("\nchat JSON, the same messages with context takeover (a sync flush each)");
    for (level, miniz_level) in pairs {
        let ours = b.run(&format!("chat-takeover {level:?}"), chat_bytes, || {
            ours_takeover(level, &messages)
        });
        let theirs = b.run(
            &format!("chat-takeover miniz {miniz_level}"),
            chat_bytes,
            || miniz_takeover(miniz_level, &messages, &mut buf),
        );
        relative(ours, theirs);
    }

    println!("\ntext, 1 MiB generated prose, one message");
    for (level, miniz_level) in pairs {
        let ours = b.run(&format!("text {level:?}"), big.len(), || {
            let mut out = Vec::with_capacity(big.len());
            Compressor::new(level, WindowBits::MAX, false).compress_message(&big, &mut out);
            out.len()
        });
        let theirs = b.run(&format!("text miniz {miniz_level}"), big.len(), || {
            let mut c = miniz(miniz_level);
            miniz_message(&mut c, &big, &mut buf)
        });
        relative(ours, theirs);
    }
}
