//! `pushwire load`: a load generator to point at a pushwire deployment (or any RFC 6455
//! echo server), on one thread and one [mio] event loop: one `Poll`, many non-blocking
//! connections.
//!
//! Three modes ([`Mode`]):
//!
//! - **echo** (`ws://`): `conns` WebSocket connections each keep `depth` messages of
//!   `size` bytes in flight. Every echoed byte is compared with what was sent, as it
//!   arrives (nothing is buffered, so 64 MiB messages cost no memory); each message
//!   carries its sequence number in its first bytes, so a reordered or repeated echo is a
//!   mismatch too. Latency runs from the moment a message is queued for sending to the
//!   moment its echo has been received in full.
//! - **longpoll** (`http://HOST:PORT/channels/NAME`): `conns` keep-alive clients each loop
//!   `GET ...?since=<next>&timeout=30`, while a built-in publisher POSTs `publish_rate`
//!   messages per second to the same channel on its own connection. Each message body is
//!   `{"t":T,"seq":S}` (padded to `size`), `T` being its publish time on the run's
//!   monotonic clock, which the receivers share: latency is receipt time minus `T`.
//!   Every poller must see every sequence number once, in order; a gap, a repeat, or a
//!   `"missed"` is an error.
//! - **fanout**: `conns` waiters on one channel — parked long-polls, WebSocket
//!   subscribers, or Server-Sent Events streams ([`Transport`]) — then ONE publish, and per
//!   waiter the time from the publish until its response (frame, event) has been received
//!   in full. Repeated `rounds` times, re-parking between rounds. A subscriber is ready at
//!   its 101 (WebSocket) or its `event: subscribed` (SSE); a parked long-poll gives no
//!   signal, so each round waits a settle time of 1 s after the last request was written.
//!
//! The channel should be one nobody else publishes to: messages are checked against the
//! ids and sequence numbers this run expects.
//!
//! # Bounded
//!
//! Connections are opened first, at most [`LoadConfig::connect_concurrency`] at a time
//! (20 s at most), then the run warms up and measures. Every run ends by a hard deadline:
//! `warmup + secs + 30 s` for echo and longpoll, `30 s + rounds × 15 s` for fanout.
//!
//! # Limits of one machine
//!
//! Each connection is a file descriptor: the soft `RLIMIT_NOFILE` must exceed `conns`
//! (`ulimit -n 20000` in the shell first). The standard library cannot raise it and
//! pushwire forbids unsafe code, so the run checks `/proc/self/limits` and says so up
//! front. For the same reasons a client socket cannot be bound to a chosen source address
//! before connecting (mio 1.x has no `TcpSocket`): all connections come from the address
//! the kernel picks, which allows about 28,000 connections to one server address and port
//! (`/proc/sys/net/ipv4/ip_local_port_range`).
//!
//! # Masking
//!
//! RFC 6455 §5.3 asks for a fresh, unpredictable masking key per frame, and that is what
//! we send: each frame's key comes from a ChaCha generator seeded by the operating
//! system. It costs one pass over the payload per message, which a real client pays too.
//!
//! [mio]: https://docs.rs/mio

use std::collections::BTreeMap;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use pushwire::client::WsUrl;
use pushwire::hub::channel_name;

mod engine;
mod error;
mod event_stream;
mod hist;
#[cfg(test)]
mod loopback_tests;
mod mux;
mod wire;

use error::{ConfigError, LoadError};
use hist::Histogram;

/// What the load generator does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// WebSocket echo load (`ws://` URL).
    Echo,
    /// Long-poll delivery of a steady stream of publishes (`http://` URL of a channel).
    LongPoll,
    /// One publish to many waiters, timed to the last delivery.
    Fanout,
}

impl Mode {
    /// `echo`, `longpoll`, `fanout`.
    fn name(self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::LongPoll => "longpoll",
            Mode::Fanout => "fanout",
        }
    }
}

/// How fan-out waiters wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Parked long-poll requests.
    LongPoll,
    /// WebSocket subscribers.
    Ws,
    /// Server-Sent Events subscribers: `GET` with `Accept: text/event-stream`.
    Sse,
    /// `pushwire.v1` subscribers: one WebSocket each at `/ws`, subscribed to the URL's
    /// channel by command.
    WsMux,
}

impl Transport {
    /// `longpoll`, `ws`, `sse`, `ws-mux`.
    fn name(self) -> &'static str {
        match self {
            Transport::LongPoll => "longpoll",
            Transport::Ws => "ws",
            Transport::Sse => "sse",
            Transport::WsMux => "ws-mux",
        }
    }
}

/// A load run's settings. [`LoadConfig::new`] gives the command's defaults.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoadConfig {
    /// `ws://HOST:PORT/PATH` (echo, fan-out over WebSocket) or
    /// `http://HOST:PORT/channels/NAME` (longpoll, fan-out over long-polling).
    pub(crate) url: String,
    /// What to do. Default echo.
    pub(crate) mode: Mode,
    /// Connections (echo), pollers (longpoll) or waiters (fanout). Default 10.
    pub(crate) conns: usize,
    /// Echo message size in bytes; for longpoll and fanout, published bodies are padded
    /// to at least this. Default 20.
    pub(crate) size: usize,
    /// Echo messages in flight per connection. Default 1.
    pub(crate) depth: usize,
    /// Measured time (echo, longpoll). Default 10 s.
    pub(crate) secs: Duration,
    /// Load before measuring starts (echo, longpoll). Default 1 s.
    pub(crate) warmup: Duration,
    /// Echo text messages (valid UTF-8) instead of binary ones.
    pub(crate) text: bool,
    /// Publishes per second (longpoll). Default 100.
    pub(crate) publish_rate: f64,
    /// Publishes timed (fanout). Default 5.
    pub(crate) rounds: u32,
    /// How fan-out waiters wait; `None`: by the URL's scheme (`ws://` → WebSocket).
    pub(crate) transport: Option<Transport>,
    /// Most connections opening (TCP connect plus handshake or first request) at once.
    /// Default 256.
    pub(crate) connect_concurrency: usize,
    /// More nodes serving the URL's channels (the Redis engine): the clients and waiters
    /// are spread over the URL's node and these, round robin; the publisher stays on the
    /// URL's node. Empty by default.
    pub(crate) nodes: Vec<SocketAddr>,
    /// Print a progress line on stderr once a second.
    pub(crate) progress: bool,
}

impl LoadConfig {
    /// The defaults of `pushwire load`, for `url`, without progress output.
    pub(crate) fn new(url: impl Into<String>) -> Self {
        LoadConfig {
            url: url.into(),
            mode: Mode::Echo,
            conns: 10,
            size: 20,
            depth: 1,
            secs: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            text: false,
            publish_rate: 100.0,
            rounds: 5,
            transport: None,
            connect_concurrency: 256,
            nodes: Vec::new(),
            progress: false,
        }
    }

    /// The fan-out transport: as given, or by the URL's scheme.
    pub(crate) fn fanout_transport(&self) -> Transport {
        self.transport.unwrap_or(if has_scheme(&self.url, "ws://") {
            Transport::Ws
        } else {
            Transport::LongPoll
        })
    }
}

/// One fan-out round.
#[derive(Debug, Clone, PartialEq)]
struct Round {
    /// Waiters that received the message.
    received: u64,
    /// Waiters there were when it was published.
    waiters: u64,
    /// Latencies from the publish to each receipt, in nanoseconds.
    latency: Histogram,
    /// Waiters that had not received it after 10 s, or received something else.
    errors: u64,
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq)]
struct Report {
    /// The mode run.
    mode: Mode,
    /// The fan-out transport (fanout only).
    transport: Option<Transport>,
    /// Connections asked for.
    conns: usize,
    /// Connections that opened.
    connected: usize,
    /// How long opening them took: from the first connect until the last one was open
    /// (its 101, its `event: subscribed`, or its first long-poll written) or given up.
    connect_time: Duration,
    /// Message size (see [`LoadConfig::size`]).
    size: usize,
    /// Depth (echo).
    depth: usize,
    /// Messages measured: echoes received in the window (echo), deliveries of messages
    /// published in the window (longpoll), deliveries over all rounds (fanout).
    msgs: u64,
    /// Payload bytes of those messages (echoed payloads; HTTP bodies or frame payloads).
    bytes: u64,
    /// The time the rates are over: the measurement window (echo, longpoll), or the sum
    /// of each round's time from publish to last receipt (fanout).
    elapsed: Duration,
    /// Latencies in nanoseconds.
    latency: Histogram,
    /// Messages published (longpoll and fanout).
    published: u64,
    /// Failures: connections that failed, protocol errors, missed or repeated messages,
    /// messages not answered in time.
    errors: u64,
    /// Messages whose content (type, length, any byte, order) was not what was sent.
    mismatches: u64,
    /// Distinct error descriptions and how often each happened.
    error_kinds: Vec<(String, u64)>,
    /// Fan-out rounds.
    rounds: Vec<Round>,
}

impl Report {
    /// Messages per second.
    fn msgs_per_s(&self) -> f64 {
        per_second(self.msgs as f64, self.elapsed)
    }

    /// Megabytes (10^6 bytes) of payload per second.
    fn mb_per_s(&self) -> f64 {
        per_second(self.bytes as f64 / 1e6, self.elapsed)
    }

    /// No error and no mismatch (and something was measured): exit status 0.
    fn is_clean(&self) -> bool {
        self.errors == 0 && self.mismatches == 0 && self.msgs > 0
    }

    /// The machine-readable line:
    /// `LOAD mode=... conns=... size=... depth=... msgs=... msgs_per_s=... mb_per_s=...
    /// p50_us=... p99_us=... max_us=... errors=... mismatches=... connect_ms=...`, then for
    /// fan-out `transport=... rounds=...`.
    fn load_line(&self) -> String {
        let mut line = format!(
            "LOAD mode={} conns={} size={} depth={} msgs={} msgs_per_s={:.0} mb_per_s={:.3} \
             p50_us={} p99_us={} max_us={} errors={} mismatches={} connect_ms={}",
            self.mode.name(),
            self.conns,
            self.size,
            self.depth,
            self.msgs,
            self.msgs_per_s(),
            self.mb_per_s(),
            us(self.latency.percentile(50.0)),
            us(self.latency.percentile(99.0)),
            us(self.latency.max()),
            self.errors,
            self.mismatches,
            self.connect_time.as_millis(),
        );
        if let Some(t) = self.transport {
            line.push_str(&format!(
                " transport={} rounds={}",
                t.name(),
                self.rounds.len()
            ));
        }
        line
    }

    /// The human-readable block, then [`Report::load_line`].
    fn summary(&self) -> String {
        let mut s = String::new();
        let what = match (self.mode, self.transport) {
            (Mode::Fanout, Some(t)) => format!("fanout over {}", t.name()),
            (mode, _) => mode.name().to_string(),
        };
        s.push_str(&format!(
            "pushwire load: {what}, {} of {} connections opened in {}\n",
            self.connected,
            self.conns,
            fmt_ns(self.connect_time.as_nanos() as u64)
        ));
        match self.mode {
            Mode::Echo => s.push_str(&format!(
                "  {} messages of {} bytes, depth {}, in {:.2} s\n",
                self.msgs,
                self.size,
                self.depth,
                self.elapsed.as_secs_f64()
            )),
            Mode::LongPoll => s.push_str(&format!(
                "  {} published, {} deliveries in a {:.2} s window\n",
                self.published,
                self.msgs,
                self.elapsed.as_secs_f64()
            )),
            Mode::Fanout => {
                for (i, r) in self.rounds.iter().enumerate() {
                    s.push_str(&format!(
                        "  round {}: {}/{} received  min {}  p50 {}  p99 {}  max {}  errors {}\n",
                        i + 1,
                        r.received,
                        r.waiters,
                        fmt_ns(r.latency.min()),
                        fmt_ns(r.latency.percentile(50.0)),
                        fmt_ns(r.latency.percentile(99.0)),
                        fmt_ns(r.latency.max()),
                        r.errors
                    ));
                }
            }
        }
        s.push_str(&format!(
            "  throughput: {:.0} msgs/s, {:.3} MB/s\n",
            self.msgs_per_s(),
            self.mb_per_s()
        ));
        s.push_str(&format!(
            "  latency:    p50 {}  p99 {}  p99.9 {}  max {}  mean {}\n",
            fmt_ns(self.latency.percentile(50.0)),
            fmt_ns(self.latency.percentile(99.0)),
            fmt_ns(self.latency.percentile(99.9)),
            fmt_ns(self.latency.max()),
            fmt_ns(self.latency.mean() as u64),
        ));
        s.push_str(&format!(
            "  errors:     {}  mismatches: {}\n",
            self.errors, self.mismatches
        ));
        for (what, n) in &self.error_kinds {
            s.push_str(&format!("    {n} × {what}\n"));
        }
        s.push_str(&self.load_line());
        s.push('\n');
        s
    }
}

fn per_second(x: f64, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if secs > 0.0 { x / secs } else { 0.0 }
}

/// Nanoseconds to whole microseconds, rounded.
fn us(ns: u64) -> u64 {
    (ns + 500) / 1000
}

/// `850ns`, `12.3µs`, `4.56ms`, `1.23s`.
fn fmt_ns(ns: u64) -> String {
    let x = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}µs", x / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2}ms", x / 1e6)
    } else {
        format!("{:.2}s", x / 1e9)
    }
}

/// Case-insensitive scheme test.
fn has_scheme(url: &str, scheme: &str) -> bool {
    url.get(..scheme.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
}

/// Where a run connects, from its URL.
#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    /// The `Host` header.
    host: String,
    /// Path and query, for the WebSocket handshake.
    path: String,
    /// Path without the query, for long-polls and publishes.
    channel_path: String,
}

impl Target {
    /// Parses `ws://` or `http://` URLs (the same grammar) and resolves the host.
    fn parse(url: &str) -> Result<Target, ConfigError> {
        let rest = if has_scheme(url, "ws://") {
            &url[5..]
        } else if has_scheme(url, "http://") {
            &url[7..]
        } else {
            return Err(ConfigError::Scheme { url: url.into() });
        };
        let parsed = WsUrl::parse(&format!("ws://{rest}")).map_err(|error| ConfigError::Url {
            url: url.into(),
            error,
        })?;
        let host = parsed.host.trim_start_matches('[').trim_end_matches(']');
        let addr = (host, parsed.port)
            .to_socket_addrs()
            .map_err(|error| ConfigError::Resolve {
                host: host.into(),
                error,
            })?
            .next()
            .ok_or_else(|| ConfigError::NoAddress { host: host.into() })?;
        let channel_path = parsed
            .path
            .split_once('?')
            .map_or(parsed.path.as_str(), |(p, _)| p)
            .to_string();
        Ok(Target {
            addr,
            host: parsed.host_header(),
            path: parsed.path,
            channel_path,
        })
    }
}

/// The soft limit on open files, from `/proc/self/limits` (Linux), if it can be read.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        Some(u64::MAX)
    } else {
        soft.parse().ok()
    }
}

/// Checks the settings against the mode: scheme, non-zero counts, durations.
fn check(config: &LoadConfig) -> Result<(), ConfigError> {
    let ws = has_scheme(&config.url, "ws://");
    let http = has_scheme(&config.url, "http://");
    let usable = match config.mode {
        Mode::Echo => ws,
        Mode::LongPoll => http,
        Mode::Fanout => ws || http,
    };
    if !usable {
        return Err(ConfigError::SchemeForMode {
            mode: config.mode,
            url: config.url.clone(),
        });
    }
    let counts = [
        ("conns", config.conns),
        ("depth", config.depth),
        ("connect_concurrency", config.connect_concurrency),
    ];
    if let Some((field, _)) = counts.into_iter().find(|&(_, n)| n == 0) {
        return Err(ConfigError::Zero(field));
    }
    if config.mode == Mode::Fanout && config.rounds == 0 {
        return Err(ConfigError::Zero("rounds"));
    }
    if config.mode == Mode::LongPoll && !(config.publish_rate > 0.0 && config.publish_rate <= 1e6) {
        return Err(ConfigError::PublishRate);
    }
    if config.mode != Mode::Fanout && (config.secs.is_zero() || config.secs > engine::MAX_SECS) {
        return Err(ConfigError::Secs);
    }
    if config.warmup > engine::MAX_SECS {
        return Err(ConfigError::Warmup);
    }
    Ok(())
}

/// `pushwire load`: runs, then prints the summary on stdout. Exit status 0 for a clean
/// run ([`Report::is_clean`]), 1 for any error or mismatch, or if the run could not start.
pub(crate) fn run_and_print(config: &LoadConfig) -> ExitCode {
    match run(config) {
        Ok(report) => {
            print!("{}", report.summary());
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("pushwire load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the load described by `config` and reports what it measured. Progress goes to
/// stderr when [`LoadConfig::progress`] is set; nothing is printed otherwise.
fn run(config: &LoadConfig) -> Result<Report, LoadError> {
    check(config)?;
    let target = Target::parse(&config.url)?;
    if config.mode == Mode::Fanout
        && config.fanout_transport() == Transport::WsMux
        && channel_name(&target.channel_path).is_err()
    {
        return Err(ConfigError::MuxChannel {
            url: config.url.clone(),
        }
        .into());
    }
    // One descriptor per connection, the publisher, the poll instance, stdio and slack.
    let needed = config.conns as u64 + 16;
    if let Some(limit) = open_files_limit()
        && limit < needed
    {
        return Err(LoadError::FdLimit { needed, limit });
    }
    engine::run(config, target)
}

/// Counts errors by description, for the report.
#[derive(Debug, Default)]
struct ErrorLog {
    total: u64,
    kinds: BTreeMap<String, u64>,
}

impl ErrorLog {
    /// Counts `n` errors described by `what`.
    fn add(&mut self, what: impl fmt::Display, n: u64) {
        if n == 0 {
            return;
        }
        self.total += n;
        let kinds = self.kinds.len();
        let what = what.to_string();
        // A misbehaving server could produce endless distinct texts: keep 50.
        if kinds < 50 || self.kinds.contains_key(&what) {
            *self.kinds.entry(what).or_default() += n;
        } else {
            *self.kinds.entry("(other errors)".into()).or_default() += n;
        }
    }

    /// Records a mismatch's description without counting it as an error.
    fn note(&mut self, what: impl fmt::Display) {
        let what = what.to_string();
        if self.kinds.len() < 50 || self.kinds.contains_key(&what) {
            *self.kinds.entry(what).or_default() += 1;
        }
    }

    fn kinds(&self) -> Vec<(String, u64)> {
        self.kinds.iter().map(|(k, &v)| (k.clone(), v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("ws://127.0.0.1:9001/a/b?c=d").unwrap();
        assert_eq!(t.addr, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(
            (t.host.as_str(), t.path.as_str()),
            ("127.0.0.1:9001", "/a/b?c=d")
        );
        assert_eq!(t.channel_path, "/a/b");
        let t = Target::parse("HTTP://[::1]:8080/channels/x").unwrap();
        assert_eq!(t.addr, "[::1]:8080".parse().unwrap());
        assert_eq!(t.host, "[::1]:8080");
        assert!(matches!(
            Target::parse("https://x/"),
            Err(ConfigError::Scheme { .. })
        ));
        assert!(matches!(
            Target::parse("ws://127.0.0.1:99999/"),
            Err(ConfigError::Url { .. })
        ));
    }

    #[test]
    fn modes_need_their_schemes() {
        let mut c = LoadConfig::new("http://127.0.0.1:1/channels/x");
        assert!(matches!(
            check(&c),
            Err(ConfigError::SchemeForMode {
                mode: Mode::Echo,
                ..
            })
        ));
        c.mode = Mode::LongPoll;
        assert!(check(&c).is_ok());
        c.mode = Mode::Fanout;
        assert!(check(&c).is_ok());
        assert_eq!(c.fanout_transport(), Transport::LongPoll);
        c.url = "ws://127.0.0.1:1/channels/x".into();
        assert_eq!(c.fanout_transport(), Transport::Ws);
        c.transport = Some(Transport::LongPoll);
        assert_eq!(c.fanout_transport(), Transport::LongPoll);
        c.mode = Mode::LongPoll;
        assert!(check(&c).is_err());
        c.mode = Mode::Echo;
        c.conns = 0;
        assert!(matches!(check(&c), Err(ConfigError::Zero("conns"))));
    }

    #[test]
    fn report_lines() {
        let mut latency = Histogram::new();
        latency.record(40_000);
        latency.record(60_000);
        let report = Report {
            mode: Mode::Echo,
            transport: None,
            conns: 4,
            connected: 4,
            connect_time: Duration::from_millis(12),
            size: 20,
            depth: 2,
            msgs: 1000,
            bytes: 20_000,
            elapsed: Duration::from_millis(500),
            latency,
            published: 0,
            errors: 0,
            mismatches: 0,
            error_kinds: Vec::new(),
            rounds: Vec::new(),
        };
        assert!(report.is_clean());
        assert_eq!(
            report.load_line(),
            "LOAD mode=echo conns=4 size=20 depth=2 msgs=1000 msgs_per_s=2000 mb_per_s=0.040 \
             p50_us=40 p99_us=60 max_us=60 errors=0 mismatches=0 connect_ms=12"
        );
        assert!(
            report
                .summary()
                .ends_with(&format!("{}\n", report.load_line()))
        );
        assert_eq!(fmt_ns(999), "999ns");
        assert_eq!(fmt_ns(12_340), "12.3µs");
        assert_eq!(fmt_ns(4_560_000), "4.56ms");
    }

    #[test]
    fn error_log_counts_by_kind() {
        let mut log = ErrorLog::default();
        log.add("a", 2);
        log.add("b", 1);
        log.add("a", 1);
        log.add("c", 0);
        assert_eq!(log.total, 4);
        assert_eq!(log.kinds(), vec![("a".into(), 3), ("b".into(), 1)]);
    }
}
