//! `GET /metrics`: the server's and the hub's counters in the Prometheus text
//! exposition format, version 0.0.4.
//!
//! The format, as Prometheus reads it: for each metric a `# HELP name text` line and a
//! `# TYPE name counter|gauge|histogram` line, then one sample per line,
//! `name{label="value",…} number`. Label values escape `\`, `"` and line feeds
//! (`\\`, `\"`, `\n`); help texts escape `\` and line feeds. A histogram is cumulative
//! `name_bucket{le="bound"}` samples ending with `le="+Inf"`, then `name_sum` and
//! `name_count`. Names say their unit (`_bytes`, `_seconds`), counters end in `_total`
//! (the Prometheus naming conventions); every name here starts with `pushwire_`.
//!
//! [`render`] is a pure function of a [`Snapshot`], so what a scrape shows is tested
//! without a server; [`HubServer`](super::HubServer) takes the snapshot when asked. Every
//! metric is listed, with its labels, in README.md ("Metrics").

use std::fmt::Write as _;
use std::time::Duration;

use super::core::HubStats;
use super::engine::RedisStats;
use crate::server::{ConnectionCounts, Stats};
use crate::ws::compression::CompressionStats;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What [`HubServer`](super::HubServer) counts besides its [`Hub`](super::Hub): the
/// messages it delivered and the publishes it refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryStats {
    /// Messages sent to WebSocket subscribers (one frame each: as published, or in a
    /// replay).
    pub websocket: u64,
    /// Messages sent to Server-Sent Events subscribers (one event each).
    pub sse: u64,
    /// Messages sent in answers to long-polls and polls (a `200` with N messages counts
    /// N; a `HEAD` answer has none).
    pub longpoll: u64,
    /// Publishes refused (too large, over a hub-wide bound, or not stored).
    pub refused: u64,
}

/// Everything one scrape shows.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// The server's counters.
    pub server: &'a Stats,
    /// Its connections now.
    pub connections: ConnectionCounts,
    /// What it compressed (permessage-deflate).
    pub compression: CompressionStats,
    /// The hub's counters and waiters.
    pub hub: HubStats,
    /// The hub server's deliveries and refusals.
    pub delivery: DeliveryStats,
    /// Channels now.
    pub channels: usize,
    /// Bytes the channels' histories retain (as counted against `max_retained_bytes`).
    pub retained_bytes: usize,
    /// With the Redis engine: its counters, and whether it is connected.
    pub redis: Option<(RedisStats, bool)>,
}

/// Appends the exposition of `s` to `out`.
pub fn render(s: &Snapshot<'_>, out: &mut String) {
    let mut w = Writer { out };

    let c = &s.connections;
    w.family(
        "pushwire_connections",
        "gauge",
        "Connections now, by transport and state.",
    );
    for (transport, state, n) in [
        ("http", "idle", c.http_idle),
        ("http", "reading", c.http_reading),
        ("http", "waiting", c.http_waiting),
        ("http", "parked", c.http_parked),
        ("http", "streaming", c.http_streaming),
        ("websocket", "open", c.websocket_open),
        ("websocket", "closing", c.websocket_closing),
        ("tcp", "closing", c.closing),
    ] {
        w.sample(
            "pushwire_connections",
            &[("transport", transport), ("state", state)],
            n as u64,
        );
    }

    let server = s.server;
    w.counter(
        "pushwire_connections_accepted_total",
        "Connections accepted.",
        server.connections_accepted,
    );
    w.family(
        "pushwire_connections_refused_total",
        "counter",
        "Connections closed as soon as they were accepted, by reason.",
    );
    for (reason, n) in [
        ("full", server.refused_full),
        ("shutting_down", server.refused_shutting_down),
        ("out_of_descriptors", server.refused_no_descriptors),
    ] {
        w.sample(
            "pushwire_connections_refused_total",
            &[("reason", reason)],
            n,
        );
    }
    w.counter(
        "pushwire_received_bytes_total",
        "Bytes read from connections.",
        server.bytes_read,
    );
    w.counter(
        "pushwire_sent_bytes_total",
        "Bytes written to connections.",
        server.bytes_written,
    );

    let compression = &s.compression;
    w.counter(
        "pushwire_websocket_compressed_messages_total",
        "WebSocket messages compressed (permessage-deflate); a broadcast compressed once \
         for many subscribers counts once.",
        compression.messages,
    );
    w.family(
        "pushwire_websocket_compressed_bytes_total",
        "counter",
        "Bytes of the compressed WebSocket messages, before and after compression.",
    );
    for (stage, n) in [
        ("before", compression.bytes_in),
        ("after", compression.bytes_out),
    ] {
        w.sample(
            "pushwire_websocket_compressed_bytes_total",
            &[("stage", stage)],
            n,
        );
    }

    w.family(
        "pushwire_http_responses_total",
        "counter",
        "Final HTTP answers by status code (101: an accepted WebSocket upgrade).",
    );
    for (status, n) in server.responses_by_status() {
        let code = status.as_u16().to_string();
        w.sample("pushwire_http_responses_total", &[("code", &code)], n);
    }
    w.counter(
        "pushwire_http_requests_unanswered_total",
        "HTTP requests that ended without a complete answer (the client left first, or \
         the connection was closed).",
        server.requests_unanswered,
    );

    w.family(
        "pushwire_websocket_closes_total",
        "counter",
        "WebSocket sessions ended, by close code and by who ended them (failed: a \
         protocol error of the peer's).",
    );
    for (code, class, n) in server.closes().iter() {
        let code = code.as_u16().to_string();
        w.sample(
            "pushwire_websocket_closes_total",
            &[("code", &code), ("kind", class.as_str())],
            n,
        );
    }
    if server.closes().other() > 0 {
        w.sample(
            "pushwire_websocket_closes_total",
            &[("code", "other"), ("kind", "other")],
            server.closes().other(),
        );
    }

    let turns = server.turns();
    w.family(
        "pushwire_loop_turn_seconds",
        "histogram",
        "Time a turn of the event loop took, from waking up to sleeping again.",
    );
    for (bound, n) in turns.cumulative() {
        let le = seconds(bound);
        w.sample("pushwire_loop_turn_seconds_bucket", &[("le", &le)], n);
    }
    w.sample(
        "pushwire_loop_turn_seconds_bucket",
        &[("le", "+Inf")],
        turns.count(),
    );
    let _ = writeln!(
        w.out,
        "pushwire_loop_turn_seconds_sum {}",
        seconds(turns.sum())
    );
    let _ = writeln!(w.out, "pushwire_loop_turn_seconds_count {}", turns.count());

    let hub = &s.hub;
    w.gauge("pushwire_channels", "Channels now.", s.channels as u64);
    w.gauge(
        "pushwire_retained_bytes",
        "Bytes the channels' histories retain, as counted against --max-retained.",
        s.retained_bytes as u64,
    );
    w.counter(
        "pushwire_messages_published_total",
        "Messages published (committed to a channel's history).",
        hub.published,
    );
    w.family(
        "pushwire_messages_delivered_total",
        "counter",
        "Messages delivered to readers, by transport.",
    );
    for (transport, n) in [
        ("websocket", s.delivery.websocket),
        ("sse", s.delivery.sse),
        ("longpoll", s.delivery.longpoll),
    ] {
        w.sample(
            "pushwire_messages_delivered_total",
            &[("transport", transport)],
            n,
        );
    }
    w.family(
        "pushwire_messages_dropped_total",
        "counter",
        "Messages dropped, by reason: evicted from a full history, expired with their \
         channel, or refused when published.",
    );
    for (reason, n) in [
        ("evicted", hub.evicted),
        ("expired", hub.expired),
        ("refused", s.delivery.refused),
    ] {
        w.sample("pushwire_messages_dropped_total", &[("reason", reason)], n);
    }
    w.counter(
        "pushwire_messages_missed_total",
        "Messages readers asked for that were evicted before they could have them (the \
         sum of the missed counts they were told).",
        hub.missed,
    );
    w.gauge(
        "pushwire_longpolls_parked",
        "Long-poll requests waiting for a message now.",
        hub.parked as u64,
    );
    w.family(
        "pushwire_subscribers",
        "gauge",
        "WebSocket subscribers now (paused: their write buffer is full, publishes skip them).",
    );
    for (state, n) in [
        ("active", hub.active_subscribers),
        ("paused", hub.paused_subscribers),
    ] {
        w.sample("pushwire_subscribers", &[("state", state)], n as u64);
    }

    if let Some((redis, connected)) = s.redis {
        render_redis(&mut w, &redis, connected);
    }
}

/// The Redis engine's families: only with that engine.
fn render_redis(w: &mut Writer<'_>, redis: &RedisStats, connected: bool) {
    w.gauge(
        "pushwire_redis_connected",
        "1 while both connections to Redis are open and answering, else 0 (publishes get 503).",
        u64::from(connected),
    );
    w.family(
        "pushwire_redis_publishes_total",
        "counter",
        "Publishes sent to Redis, by outcome: stored (answered with its id), refused (Redis down, not answering, out of memory, or the connection lost before the answer).",
    );
    for (outcome, n) in [("stored", redis.published), ("refused", redis.refused)] {
        w.sample("pushwire_redis_publishes_total", &[("outcome", outcome)], n);
    }
    w.counter(
        "pushwire_redis_messages_received_total",
        "Messages that arrived over Redis pub/sub, for the channels this node mirrors.",
        redis.received,
    );
    w.counter(
        "pushwire_redis_history_reads_total",
        "Reads of a channel's stream from Redis: a mirror loaded, a gap or a new epoch caught up.",
        redis.history_reads,
    );
    w.counter(
        "pushwire_redis_reconnects_total",
        "Connections to Redis made after the first ones (either connection).",
        redis.reconnects,
    );
    w.gauge(
        "pushwire_redis_mirrors",
        "Channels this node mirrors (subscribed to in Redis, loaded or loading).",
        redis.mirrors,
    );
}

/// `d` in seconds, as few digits as it needs (`0.00005`, `1`, `2.5`).
fn seconds(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

/// Writes lines of the exposition.
struct Writer<'a> {
    out: &'a mut String,
}

impl Writer<'_> {
    /// The `# HELP` and `# TYPE` lines of a metric.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = write!(self.out, "# HELP {name} ");
        for c in help.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        let _ = writeln!(self.out, "\n# TYPE {name} {kind}");
    }

    /// A metric of one sample without labels.
    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, "counter", help);
        self.sample(name, &[], value);
    }

    fn gauge(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value);
    }

    /// One sample line.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"");
                for c in value.chars() {
                    match c {
                        '\\' => self.out.push_str("\\\\"),
                        '"' => self.out.push_str("\\\""),
                        '\n' => self.out.push_str("\\n"),
                        c => self.out.push(c),
                    }
                }
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::StatusCode;
    use crate::ws::ProtocolError;
    use crate::ws::close::CloseCode;
    use crate::ws::connection::CloseKind;

    fn snapshot(server: &Stats) -> Snapshot<'_> {
        Snapshot {
            server,
            connections: ConnectionCounts {
                http_idle: 2,
                http_parked: 3,
                websocket_open: 1,
                ..ConnectionCounts::default()
            },
            compression: CompressionStats {
                messages: 3,
                bytes_in: 3000,
                bytes_out: 900,
            },
            hub: HubStats {
                published: 7,
                evicted: 2,
                missed: 1,
                parked: 3,
                active_subscribers: 1,
                ..HubStats::default()
            },
            delivery: DeliveryStats {
                websocket: 7,
                sse: 2,
                longpoll: 4,
                refused: 1,
            },
            channels: 2,
            retained_bytes: 512,
            redis: None,
        }
    }

    fn rendered(server: &Stats) -> String {
        let mut out = String::new();
        render(&snapshot(server), &mut out);
        out
    }

    #[test]
    fn a_snapshot_renders_as_the_text_exposition_format() {
        let mut server = Stats::default();
        server.connections_accepted = 9;
        server.refused_full = 1;
        server.bytes_read = 1000;
        server.bytes_written = 2000;
        server.requests_unanswered = 1;
        server.count_response(StatusCode::OK);
        server.count_response(StatusCode::OK);
        server.count_response(StatusCode::NOT_FOUND);
        server.count_close(
            CloseCode::PROTOCOL_ERROR,
            CloseKind::Failed(ProtocolError::ReservedBits { rsv: 0b100 }),
        );
        server.record_turn(Duration::from_micros(40));
        server.record_turn(Duration::from_millis(3));
        assert_eq!(rendered(&server), include_str!("metrics_golden.txt"));
    }

    #[test]
    fn the_redis_engine_adds_its_families_and_only_with_that_engine() {
        let server = Stats::default();
        let plain = rendered(&server);
        assert!(!plain.contains("pushwire_redis_"));
        let mut with_redis = snapshot(&server);
        with_redis.redis = Some((
            RedisStats {
                published: 5,
                refused: 2,
                received: 9,
                history_reads: 3,
                reconnects: 1,
                mirrors: 4,
            },
            true,
        ));
        let mut out = String::new();
        render(&with_redis, &mut out);
        for line in [
            "pushwire_redis_connected 1\n",
            "pushwire_redis_publishes_total{outcome=\"stored\"} 5\n",
            "pushwire_redis_publishes_total{outcome=\"refused\"} 2\n",
            "pushwire_redis_messages_received_total 9\n",
            "pushwire_redis_history_reads_total 3\n",
            "pushwire_redis_reconnects_total 1\n",
            "pushwire_redis_mirrors 4\n",
        ] {
            assert!(out.contains(line), "{line:?} in:\n{out}");
        }
        assert!(
            out.starts_with(&plain),
            "the families come after every other"
        );
    }

    #[test]
    fn every_sample_follows_its_help_and_type_and_counters_end_in_total() {
        let out = rendered(&Stats::default());
        let mut typed: Vec<(String, String)> = Vec::new();
        let mut helped: Vec<String> = Vec::new();
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.push(rest.split(' ').next().unwrap().to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert_eq!(helped.last().map(String::as_str), Some(name), "{line}");
                if kind == "counter" {
                    assert!(name.ends_with("_total"), "{name}");
                }
                typed.push((name.to_string(), kind.to_string()));
            } else {
                let name = line.split(['{', ' ']).next().unwrap();
                assert!(name.starts_with("pushwire_"), "{line}");
                let (family, kind) = typed.last().expect("a TYPE line first");
                let of_family = name == family
                    || (kind == "histogram"
                        && ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|suffix| name == format!("{family}{suffix}")));
                assert!(of_family, "{name} under {family}");
                let value = line.rsplit(' ').next().unwrap();
                assert!(value.parse::<f64>().is_ok(), "{line}");
            }
        }
        let mut names: Vec<&String> = typed.iter().map(|(n, _)| n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), typed.len(), "each metric once");
    }

    #[test]
    fn label_values_and_help_texts_are_escaped() {
        let mut out = String::new();
        let mut w = Writer { out: &mut out };
        w.family("pushwire_x", "gauge", "a \\ b\nc");
        w.sample("pushwire_x", &[("a", "q\"\\\n"), ("b", "")], 3);
        assert_eq!(
            out,
            "# HELP pushwire_x a \\\\ b\\nc\n# TYPE pushwire_x gauge\n\
             pushwire_x{a=\"q\\\"\\\\\\n\",b=\"\"} 3\n"
        );
    }
}
