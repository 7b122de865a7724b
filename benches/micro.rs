//! Microbenchmarks for the hot paths: frame headers, unmasking, UTF-8 validation, HTTP
//! head parsing, the handshake, the whole WebSocket read path, and the strict JSON reader
//! (JSON payloads, `pushwire.v1` commands).
//!
//! A tiny hand-written harness (no dev-dependency, stable Rust), run by `cargo bench`:
//!
//! ```text
//! cargo bench                      # every case, >= 0.5 s of timed runs each
//! cargo bench -- unmask            # only cases whose name contains "unmask"
//! cargo bench -- --quick           # every case briefly (CI smoke test, a few seconds)
//! cargo bench -- --quick utf8 http # filters combine with --quick; any filter may match
//! PUSHWIRE_BENCH_QUICK=1 cargo bench   # the same as --quick
//! ```
//!
//! `cargo bench -- ARGS` hands ARGS to every bench target, including the libtest harness
//! of the library's unit tests, which rejects `--quick`; then use
//! `cargo bench --bench micro -- --quick` or the environment variable.
//!
//! Each case is warmed up, then timed in several samples of a fixed batch of iterations
//! sized so that all samples together take at least 0.5 s (0.05 s with `--quick`). The
//! table reports the median sample as time per operation and as throughput (GB/s =
//! 10^9 bytes/s, or operations/s), the spread of the samples (median absolute deviation
//! as a percentage of the median), and for some cases the throughput relative to a
//! baseline measured just before (`2.00x naive` = twice the naive loop's throughput).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use pushwire::Message;
use pushwire::Status;
use pushwire::config::{HeadLimits, WsLimits};
use pushwire::http::request::HeadParser;
use pushwire::hub::json::{MAX_PAYLOAD_DEPTH, validate};
use pushwire::hub::mux::{Command, CommandLimits};
use pushwire::ws::connection::{WsConnection, WsEvent};
use pushwire::ws::frame::{self, FrameHeader, OpCode, Role};
use pushwire::ws::handshake::{accept_key, validate_upgrade, write_accept_response};
use pushwire::ws::mask::{apply_mask, apply_mask_naive};
use pushwire::ws::utf8::Utf8Validator;

// ===== harness =====

/// How long and how often to measure.
struct Settings {
    /// Untimed running before the measurement; also estimates the time per iteration.
    warmup: Duration,
    /// Number of timed samples; the median is reported.
    samples: u32,
    /// Total timed duration aimed at (all samples together).
    measure: Duration,
}

/// What one iteration of a case processes, for the throughput column.
#[derive(Clone, Copy)]
enum Work {
    /// `n` operations of the named kind (the time column is per operation).
    Ops(u64, &'static str),
    /// `n` bytes (one buffer or message); throughput in GB/s.
    Bytes(u64),
}

/// The outcome of one case: nanoseconds per iteration (median) and spread.
struct Measured {
    ns_per_iter: f64,
    mad_pct: f64,
}

struct Bench {
    settings: Settings,
    filters: Vec<String>,
    /// Median ns per iteration of every case run so far, for the ratio column.
    results: HashMap<String, f64>,
    /// Section title to print before the next row, if any case of it runs.
    pending_title: Option<String>,
    ran: usize,
}

impl Bench {
    fn from_args() -> Bench {
        // `--quick` reaches every bench target of `cargo bench`, and the libtest
        // harness of the lib and bin targets rejects it; the variable does not.
        let mut quick = std::env::var_os("PUSHWIRE_BENCH_QUICK").is_some_and(|v| v != "0");
        let mut filters = Vec::new();
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                "--quick" => quick = true,
                "-h" | "--help" => {
                    println!("usage: cargo bench --bench micro -- [--quick] [FILTER...]");
                    println!("  FILTER   run only cases whose name contains one of these");
                    println!("  --quick  measure each case briefly (CI smoke test);");
                    println!("           PUSHWIRE_BENCH_QUICK=1 does the same");
                    std::process::exit(0);
                }
                // `cargo bench` passes `--bench`; ignore it and any other libtest flag.
                flag if flag.starts_with('-') => {}
                filter => filters.push(filter.to_owned()),
            }
        }
        let settings = if quick {
            Settings {
                warmup: Duration::from_millis(20),
                samples: 5,
                measure: Duration::from_millis(50),
            }
        } else {
            Settings {
                warmup: Duration::from_millis(150),
                samples: 11,
                measure: Duration::from_millis(550),
            }
        };
        Bench {
            settings,
            filters,
            results: HashMap::new(),
            pending_title: None,
            ran: 0,
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }

    /// Starts a table section; its title is printed only if one of its cases runs.
    fn section(&mut self, title: &str) {
        self.pending_title = Some(title.to_owned());
    }

    /// Runs `f` (one iteration) if `name` passes the filter, and prints a table row.
    /// `baselines` are `(label, case name)` pairs: the row shows this case's throughput
    /// relative to each baseline that was measured.
    fn run(&mut self, name: &str, work: Work, baselines: &[(&str, &str)], mut f: impl FnMut()) {
        if !self.wants(name) {
            return;
        }
        if let Some(title) = self.pending_title.take() {
            println!("\n{title}");
        }
        let m = measure(&self.settings, &mut f);
        let per_iter = m.ns_per_iter;
        self.results.insert(name.to_owned(), per_iter);
        self.ran += 1;

        let (time, throughput) = match work {
            Work::Ops(n, what) => {
                let per_op = per_iter / n as f64;
                (
                    format!("{}/{what}", fmt_ns(per_op)),
                    format!("{}{what}/s", fmt_si(1e9 / per_op)),
                )
            }
            Work::Bytes(n) => (
                format!("{}/buf", fmt_ns(per_iter)),
                format!("{:.2} GB/s", n as f64 / per_iter),
            ),
        };
        let ratios: Vec<String> = baselines
            .iter()
            .filter_map(|(label, base)| {
                let base_ns = self.results.get(*base)?;
                Some(format!("{:.2}x {label}", base_ns / per_iter))
            })
            .collect();
        println!(
            "  {name:<36} {time:>14} {throughput:>15} {:>7}  {}",
            format!("±{:.1}%", m.mad_pct),
            ratios.join(", ")
        );
    }
}

/// Warms up, sizes a batch, times `samples` batches; returns the median ns/iteration.
fn measure(s: &Settings, f: &mut impl FnMut()) -> Measured {
    // Warm-up, doubling the batch until the warm-up time is used; the last round gives
    // the estimate of the time per iteration.
    let start = Instant::now();
    let mut batch: u64 = 1;
    let mut est_ns;
    loop {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        est_ns = t.elapsed().as_nanos() as f64 / batch as f64;
        if start.elapsed() >= s.warmup {
            break;
        }
        batch = batch.saturating_mul(2);
    }
    let per_sample_ns = s.measure.as_nanos() as f64 / f64::from(s.samples);
    let iters = ((per_sample_ns / est_ns.max(0.1)).ceil() as u64).max(1);

    let mut times: Vec<f64> = (0..s.samples)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    let median = median_of(&mut times);
    let mut dev: Vec<f64> = times.iter().map(|t| (t - median).abs()).collect();
    let mad = median_of(&mut dev);
    Measured {
        ns_per_iter: median,
        mad_pct: 100.0 * mad / median,
    }
}

fn median_of(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.2} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn fmt_si(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2} G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.2} k", x / 1e3)
    } else {
        format!("{x:.2} ")
    }
}

// ===== data =====

/// Deterministic pseudo-random bytes (xorshift64).
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// Printable ASCII of `len` bytes.
fn ascii_text(len: usize) -> Vec<u8> {
    let line = b"The quick brown fox jumps over the lazy dog; 0123456789 {\"k\":[1,2,3]}\n";
    line.iter().copied().cycle().take(len).collect()
}

/// Multilingual UTF-8 of at most `len` bytes (cut at a character boundary): 1-, 2-, 3-
/// and 4-byte sequences mixed, as in a chat log.
fn mixed_text(len: usize) -> Vec<u8> {
    const PHRASES: &[&str] = &[
        "Hello, world! ",
        "Grüße aus Köln, schöne Straße. ",
        "Привет, как дела? ",
        "Καλημέρα κόσμε. ",
        "你好，世界！今天天气很好。",
        "こんにちは、世界。",
        "مرحبا بالعالم. ",
        "שלום עולם. ",
        "नमस्ते दुनिया। ",
        "안녕하세요 세계 ",
        "emoji 🎉🚀👍🏽 ",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ",
    ];
    let mut s = String::with_capacity(len + 64);
    'fill: loop {
        for p in PHRASES {
            if s.len() + p.len() > len {
                // Top up with ASCII so the length is exactly `len`.
                while s.len() < len {
                    s.push('.');
                }
                break 'fill;
            }
            s.push_str(p);
        }
    }
    s.into_bytes()
}

/// What Chrome sends to open a WebSocket (about 500 bytes, 12 header fields).
const BROWSER_UPGRADE: &[u8] = b"GET /chat?room=lobby HTTP/1.1\r\n\
Host: example.com:8080\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: https://example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en-US;q=0.9,en;q=0.8\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n";

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

// ===== cases =====

fn frame_cases(b: &mut Bench) {
    b.section("frame header (time per header)");
    // (label, header, role that accepts it). Servers receive masked frames, clients
    // unmasked ones; the 2/4/10-byte forms are the three length encodings.
    let headers: [(&str, FrameHeader, Role); 5] = [
        ("2B", header(100, None), Role::Client),
        ("4B", header(1000, None), Role::Client),
        ("10B", header(100_000, None), Role::Client),
        ("6B-masked", header(20, Some(KEY)), Role::Server),
        ("14B-masked", header(100_000, Some(KEY)), Role::Server),
    ];
    for (label, h, role) in headers {
        let mut bytes = Vec::new();
        h.encode(&mut bytes);
        assert_eq!(
            label.split('B').next(),
            Some(bytes.len().to_string().as_str())
        );
        assert_eq!(
            FrameHeader::parse(&bytes, role, u64::MAX),
            Ok(Status::Complete((h, bytes.len())))
        );
        let name = format!("frame/parse/{label}");
        b.run(&name, Work::Ops(1, "op"), &[], || {
            let r = FrameHeader::parse(black_box(&bytes), black_box(role), black_box(1 << 24));
            black_box(r).ok();
        });
    }
    for (label, h, _) in headers {
        let mut out = Vec::with_capacity(64);
        let name = format!("frame/encode/{label}");
        b.run(&name, Work::Ops(1, "op"), &[], || {
            out.clear();
            black_box(&h).encode(&mut out);
            black_box(&mut out);
        });
    }
    // The server's send path for a small message: header + payload into the out buffer.
    let payload = random_bytes(20, 3);
    let mut out = Vec::with_capacity(64);
    b.run("frame/write/20B-unmasked", Work::Ops(1, "op"), &[], || {
        out.clear();
        frame::write_frame(&mut out, true, OpCode::Binary, black_box(&payload), None);
        black_box(&mut out);
    });
}

fn header(len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
    FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask,
        payload_len: len,
    }
}

fn unmask_cases(b: &mut Bench) {
    b.section("unmask (time per buffer)");
    // (label, length, bytes past an 8-aligned address, offset within the frame).
    let cases: [(&str, usize, usize, usize); 5] = [
        ("20B", 20, 0, 0),
        ("1KiB", 1 << 10, 0, 0),
        ("64KiB", 64 << 10, 0, 0),
        ("1MiB", 1 << 20, 0, 0),
        ("64KiB-unaligned", 64 << 10, 3, 1),
    ];
    for (label, len, misalign, offset) in cases {
        // Place the slice `misalign` bytes past an 8-aligned address.
        let mut storage = vec![0u8; len + 16];
        let start = storage.as_ptr().align_offset(8) + misalign;
        let data = &mut storage[start..start + len];
        data.copy_from_slice(&random_bytes(len, 1));
        let src = random_bytes(len, 2);

        // The oracle: fast and naive agree (applied twice, both restore the data).
        let before = data.to_vec();
        apply_mask(data, KEY, offset);
        apply_mask_naive(data, KEY, offset);
        assert_eq!(data, &before[..]);

        let memcpy = format!("unmask/memcpy/{label}");
        let naive = format!("unmask/naive/{label}");
        let fast = format!("unmask/fast/{label}");
        let work = Work::Bytes(len as u64);
        b.run(&memcpy, work, &[], || {
            black_box(&mut *data).copy_from_slice(black_box(&src));
        });
        b.run(&naive, work, &[], || {
            apply_mask_naive(black_box(&mut *data), black_box(KEY), black_box(offset));
        });
        b.run(
            &fast,
            work,
            &[("naive", &naive), ("memcpy", &memcpy)],
            || apply_mask(black_box(&mut *data), black_box(KEY), black_box(offset)),
        );
    }
}

fn utf8_cases(b: &mut Bench) {
    b.section("UTF-8 validation (time per message)");
    let inputs = [
        ("ascii-1KiB", ascii_text(1 << 10)),
        ("ascii-64KiB", ascii_text(64 << 10)),
        ("mixed-64KiB", mixed_text(64 << 10)),
    ];
    for (label, text) in &inputs {
        assert!(std::str::from_utf8(text).is_ok());
        let work = Work::Bytes(text.len() as u64);
        let std_name = format!("utf8/std/{label}");
        b.run(&std_name, work, &[], || {
            black_box(std::str::from_utf8(black_box(text)).is_ok());
        });
        let mut v = Utf8Validator::new();
        b.run(
            &format!("utf8/validator/{label}"),
            work,
            &[("std", &std_name)],
            || {
                let ok = v.feed(black_box(text)).is_ok() & v.finish().is_ok();
                black_box(ok);
            },
        );
    }
    // The same 64 KiB messages arriving in 1 KiB pieces: pieces of the mixed text end
    // inside characters, which exercises the carry between calls.
    for (label, text) in &inputs[1..] {
        let mut v = Utf8Validator::new();
        for piece in text.chunks(1024) {
            v.feed(piece).unwrap();
        }
        v.finish().unwrap();
        let std_name = format!("utf8/std/{label}");
        b.run(
            &format!("utf8/validator/{label}-in-1KiB"),
            Work::Bytes(text.len() as u64),
            &[("std whole", &std_name)],
            || {
                let mut ok = true;
                for piece in black_box(text).chunks(1024) {
                    ok &= v.feed(piece).is_ok();
                }
                ok &= v.finish().is_ok();
                black_box(ok);
            },
        );
    }
}

fn http_cases(b: &mut Bench) {
    b.section("HTTP head + handshake (time per request)");
    let limits = HeadLimits::default();
    let mut parser = HeadParser::new();
    for (label, req) in [("upgrade-browser", BROWSER_UPGRADE), ("healthz", HEALTHZ)] {
        parser.reset();
        assert_eq!(
            parser.parse(req, &limits),
            Ok(Status::Complete(req.len())),
            "{label}"
        );
        b.run(
            &format!("http/parse/{label}-{}B", req.len()),
            Work::Ops(1, "req"),
            &[],
            || {
                parser.reset();
                black_box(parser.parse(black_box(req), &limits)).ok();
            },
        );
    }

    // Everything the server computes to accept a parsed upgrade request.
    parser.reset();
    parser.parse(BROWSER_UPGRADE, &limits).unwrap();
    let head = parser.head(BROWSER_UPGRADE).unwrap();
    let upgrade = validate_upgrade(&head).unwrap();
    assert_eq!(
        accept_key(upgrade.key.as_bytes()),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    b.run(
        "http/handshake/validate+accept_key",
        Work::Ops(1, "op"),
        &[],
        || {
            let up = validate_upgrade(black_box(&head)).unwrap();
            black_box(accept_key(up.key.as_bytes()));
        },
    );

    b.run("http/handshake/accept_key", Work::Ops(1, "op"), &[], || {
        black_box(accept_key(black_box(upgrade.key.as_bytes())));
    });

    // The whole upgrade: parse, validate, write the 101 response.
    let mut parser = HeadParser::new();
    let mut out = Vec::with_capacity(256);
    b.run(
        "http/handshake/parse+validate+101",
        Work::Ops(1, "op"),
        &[],
        || {
            parser.reset();
            let req = black_box(BROWSER_UPGRADE);
            parser.parse(req, &limits).unwrap();
            let head = parser.head(req).unwrap();
            let up = validate_upgrade(&head).unwrap();
            out.clear();
            write_accept_response(&mut out, up.key, None, None);
            black_box(&mut out);
        },
    );
}

fn ws_cases(b: &mut Bench) {
    b.section("WebSocket read path: WsConnection::handle_input");
    let now = Instant::now();

    // 1000 masked 20-byte binary frames in one buffer, as a busy client's read delivers.
    // Unmasking happens in place, so each run flips the payloads between masked and
    // clear; binary payloads are not validated, so every run does the same work.
    const N: usize = 1000;
    let payload = random_bytes(20, 4);
    let mut input = Vec::new();
    for i in 0..N {
        let key = [i as u8, 0x5a, 0xc3, (i >> 8) as u8];
        frame::write_frame(&mut input, true, OpCode::Binary, &payload, Some(key));
    }
    let mut conn = WsConnection::server(WsLimits::default(), now);
    let mut out = Vec::new();
    assert_eq!(read_all(&mut conn, &mut input, &mut out, now), (N, N * 20));
    b.run(
        "ws/read/1000x20B-binary",
        Work::Ops(N as u64, "msg"),
        &[],
        || {
            black_box(read_all(&mut conn, black_box(&mut input), &mut out, now));
        },
    );

    // One masked 64 KiB binary frame: header parse, unmask in place, lend the payload.
    let payload = random_bytes(64 << 10, 5);
    let mut input = Vec::new();
    frame::write_frame(&mut input, true, OpCode::Binary, &payload, Some(KEY));
    let mut conn = WsConnection::server(WsLimits::default(), now);
    assert_eq!(
        read_all(&mut conn, &mut input, &mut out, now),
        (1, payload.len())
    );
    b.run(
        "ws/read/1x64KiB-binary",
        Work::Bytes(payload.len() as u64),
        &[("fast unmask", "unmask/fast/64KiB")],
        || {
            black_box(read_all(&mut conn, black_box(&mut input), &mut out, now));
        },
    );
    assert!(out.is_empty(), "no reply expected: {out:?}");
}

/// Feeds all of `input`; returns (messages, payload bytes) received. Panics on any other
/// event, so a broken setup cannot be timed by mistake.
fn read_all(
    conn: &mut WsConnection,
    input: &mut [u8],
    out: &mut Vec<u8>,
    now: Instant,
) -> (usize, usize) {
    let mut pos = 0;
    let (mut messages, mut bytes) = (0, 0);
    while pos < input.len() {
        let (n, event) = conn.handle_input(&mut input[pos..], out, now);
        match event {
            Some(WsEvent::Message(Message::Binary(data))) => {
                messages += 1;
                bytes += data.len();
            }
            None => break,
            Some(other) => panic!("unexpected event {other:?}"),
        }
        pos += n;
    }
    (messages, bytes)
}

// ===== JSON =====

/// JSON payloads of about `len` bytes: an array of chat-message objects (strings of
/// `text`'s kind, numbers, literals), the shape a JSON publish usually has.
fn json_document(len: usize, text: fn(usize) -> Vec<u8>) -> Vec<u8> {
    let body = String::from_utf8(text(80))
        .expect("UTF-8")
        .replace(['"', '\\', '\n'], " ");
    let mut out = String::from("[");
    let mut i = 0u64;
    while out.len() < len {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"id":{i},"user":"user-{i}","at":1700000000.{i},"text":"{body}","tags":["a","b"],"read":false,"reply":null}}"#
        ));
        i += 1;
    }
    out.push(']');
    out.into_bytes()
}

fn json_cases(b: &mut Bench) {
    b.section("strict JSON (hub::json::validate), vs serde_json::Value and std's UTF-8 check");
    let numbers: Vec<u8> = {
        let items: Vec<String> = (0..8000u64)
            .map(|i| format!("{}.{}e-{}", i * 7919, i % 97, i % 9))
            .collect();
        format!("[{}]", items.join(",")).into_bytes()
    };
    let inputs = [
        ("ascii-1KiB", json_document(1 << 10, ascii_text)),
        ("ascii-64KiB", json_document(64 << 10, ascii_text)),
        ("mixed-64KiB", json_document(64 << 10, mixed_text)),
        ("numbers-64KiB", numbers),
    ];
    for (label, doc) in &inputs {
        assert!(validate(doc, MAX_PAYLOAD_DEPTH).is_ok(), "{label}");
        assert!(serde_json::from_slice::<serde_json::Value>(doc).is_ok());
        let work = Work::Bytes(doc.len() as u64);
        let serde_name = format!("json/serde_json-value/{label}");
        let utf8_name = format!("json/std-utf8/{label}");
        b.run(&serde_name, work, &[], || {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(doc)).is_ok());
        });
        b.run(&utf8_name, work, &[], || {
            black_box(std::str::from_utf8(black_box(doc)).is_ok());
        });
        b.run(
            &format!("json/validate/{label}"),
            work,
            &[("serde_json", &serde_name), ("utf8", &utf8_name)],
            || {
                black_box(validate(black_box(doc), MAX_PAYLOAD_DEPTH).is_ok());
            },
        );
    }
    let limits = CommandLimits::new(1 << 20, 64 << 10);
    let publish = br#"{"type":"publish","channel":"room-42","data":"hello everyone, the meeting moved to 3pm","ref":1234}"#;
    let json_publish = br#"{"type":"publish","channel":"room-42","data":{"text":"hello","at":1700000000,"tags":["a","b"]},"ref":"c-1234"}"#;
    let subscribe =
        br#"{"type":"subscribe","channel":"room-42","since":1234,"epoch":"ASNFZ4mrze8"}"#;
    for (label, text) in [
        ("publish-text", &publish[..]),
        ("publish-json", &json_publish[..]),
        ("subscribe", &subscribe[..]),
    ] {
        assert!(Command::parse(text, &limits).is_ok());
        b.run(
            &format!("mux/parse/{label}"),
            Work::Ops(1, "cmd"),
            &[],
            || {
                black_box(Command::parse(black_box(text), &limits).is_ok());
            },
        );
    }
}

fn main() {
    let mut b = Bench::from_args();
    println!(
        "pushwire microbenchmarks ({} samples, >= {:?} timed per case; median, ±MAD)",
        b.settings.samples, b.settings.measure
    );
    frame_cases(&mut b);
    unmask_cases(&mut b);
    utf8_cases(&mut b);
    http_cases(&mut b);
    ws_cases(&mut b);
    json_cases(&mut b);
    if b.ran == 0 {
        eprintln!("no case matches {:?}", b.filters);
        std::process::exit(1);
    }
}
