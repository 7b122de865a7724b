//! `GET /metrics` of the hub (`HubServer`): a known workload on the in-memory server,
//! then a scrape parsed by a Prometheus text-format parser (`prometheus-parse`), every
//! value checked exactly; and a real server on loopback, whose loop-turn histogram only
//! the mio driver fills.

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};

use prometheus_parse::{Scrape, Value};
use pushwire::hub::channel::retained_cost;
use pushwire::hub::{HubConfig, HubServer};
use pushwire::pair::{Peer, ServerPair};
use support::*;

type Pair = ServerPair<HubServer>;

/// A client on the in-memory server that counts every byte it sends and receives: what
/// the server must have read and written.
struct Wire {
    peer: Peer,
    buf: Vec<u8>,
}

/// Bytes all clients sent and received.
#[derive(Default)]
struct Bytes {
    sent: u64,
    received: u64,
}

impl Wire {
    fn connect(pair: &mut Pair) -> Wire {
        Wire {
            peer: pair.connect(),
            buf: Vec::new(),
        }
    }

    fn send(&mut self, pair: &mut Pair, bytes: &[u8], total: &mut Bytes) {
        total.sent += bytes.len() as u64;
        pair.send(self.peer, bytes);
    }

    fn fill(&mut self, pair: &mut Pair, total: &mut Bytes) {
        let received = pair.received(self.peer);
        total.received += received.len() as u64;
        self.buf.extend(received);
    }

    fn response(&mut self, pair: &mut Pair, total: &mut Bytes) -> HttpResponse {
        self.fill(pair, total);
        let (response, len) = parse_response(&self.buf, false)
            .unwrap_or_else(|| panic!("no response: {:?}", String::from_utf8_lossy(&self.buf)));
        self.buf.drain(..len);
        response
    }

    fn get(&mut self, pair: &mut Pair, target: &str, total: &mut Bytes) -> HttpResponse {
        let request = format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n");
        self.send(pair, request.as_bytes(), total);
        self.response(pair, total)
    }

    fn post(&mut self, pair: &mut Pair, target: &str, body: &str, total: &mut Bytes) -> u16 {
        let request = format!(
            "POST {target} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.send(pair, request.as_bytes(), total);
        self.response(pair, total).status
    }

    fn frames(&mut self, pair: &mut Pair, total: &mut Bytes) -> Vec<Frame> {
        self.fill(pair, total);
        let mut frames = Vec::new();
        while let Some((frame, len)) = parse_frame(&self.buf) {
            self.buf.drain(..len);
            frames.push(frame);
        }
        frames
    }

    fn upgrade(pair: &mut Pair, path: &str, total: &mut Bytes) -> Wire {
        let mut ws = Wire::connect(pair);
        ws.send(pair, upgrade_request(path, &[]).as_bytes(), total);
        ws.fill(pair, total);
        let (response, len) = parse_response_head(&ws.buf).expect("a 101");
        assert_eq!(response.status, 101);
        ws.buf.drain(..len);
        ws
    }
}

/// The scrape's samples, by metric name and label set.
struct Samples(Scrape);

impl Samples {
    /// Parses `text`, refusing anything the parser would skip: every sample line must
    /// become a sample, every metric must have its `# HELP`.
    fn parse(text: &str) -> Samples {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape = Scrape::parse(lines).expect("a valid exposition");
        let sample_lines = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count();
        let parsed: usize = scrape
            .samples
            .iter()
            .map(|s| match &s.value {
                Value::Histogram(buckets) => buckets.len(),
                _ => 1,
            })
            .sum();
        assert_eq!(parsed, sample_lines, "every sample line parsed:\n{text}");
        for sample in &scrape.samples {
            let family = ["_sum", "_count"]
                .iter()
                .find_map(|suffix| sample.metric.strip_suffix(suffix))
                .filter(|f| scrape.docs.contains_key(*f))
                .unwrap_or(&sample.metric);
            assert!(
                scrape.docs.contains_key(family),
                "{} has no HELP",
                sample.metric
            );
        }
        Samples(scrape)
    }

    /// The one sample of `metric` with exactly `labels`.
    fn get(&self, metric: &str, labels: &[(&str, &str)]) -> &Value {
        let wanted: HashMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let found: Vec<&Value> = self
            .0
            .samples
            .iter()
            .filter(|s| s.metric == metric && *s.labels == wanted)
            .map(|s| &s.value)
            .collect();
        assert_eq!(found.len(), 1, "{metric} {labels:?}: {found:?}");
        found[0]
    }

    /// A counter's or a gauge's value.
    fn value(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        match self.get(metric, labels) {
            Value::Counter(v) => {
                assert!(metric.ends_with("_total"), "{metric} is a counter");
                *v
            }
            Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{metric}: {other:?}"),
        }
    }

    /// Every sample of `metric`, as (labels, value).
    fn all(&self, metric: &str) -> Vec<(HashMap<String, String>, f64)> {
        let mut all: Vec<(HashMap<String, String>, f64)> = self
            .0
            .samples
            .iter()
            .filter(|s| s.metric == metric)
            .map(|s| match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => ((*s.labels).clone(), v),
                _ => panic!("{metric} is not a scalar"),
            })
            .collect();
        // In label order (a map's own order is arbitrary).
        let key = |labels: &HashMap<String, String>| {
            labels
                .iter()
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        };
        all.sort_by_key(|(labels, _)| key(labels));
        all
    }
}

#[test]
fn metrics_after_a_known_workload_hold_exact_values() {
    let mut hub = HubConfig::default();
    hub.history = 2;
    hub.max_message = 8;
    let mut pair = ServerPair::new(config(), HubServer::new(hub)).expect("valid config");
    let bytes = &mut Bytes::default();

    // A WebSocket subscriber, then four publishes (one too large, refused); history 2
    // evicts the oldest twice.
    let mut subscriber = Wire::upgrade(&mut pair, "/channels/news", bytes);
    let mut publisher = Wire::connect(&mut pair);
    for data in ["a", "b", "c"] {
        assert_eq!(
            publisher.post(&mut pair, "/channels/news", data, bytes),
            201
        );
    }
    assert_eq!(
        publisher.post(&mut pair, "/channels/news", "much too long", bytes),
        413
    );
    // A poll from the start: messages 2 and 3, and 1 missed.
    let mut poller = Wire::connect(&mut pair);
    let answer = poller.get(&mut pair, "/channels/news?since=0&timeout=0", bytes);
    assert_eq!(answer.status, 200);
    assert!(answer.body_text().contains(r#""missed":1"#), "{answer:?}");
    // A long-poll parked, then answered by the fourth message; another left parked.
    let mut waiter = Wire::connect(&mut pair);
    let request = "GET /channels/news?since=3&timeout=30 HTTP/1.1\r\nHost: test\r\n\r\n";
    waiter.send(&mut pair, request.as_bytes(), bytes);
    assert_eq!(publisher.post(&mut pair, "/channels/news", "d", bytes), 201);
    assert_eq!(waiter.response(&mut pair, bytes).status, 200);
    let mut parked = Wire::connect(&mut pair);
    let request = "GET /channels/news?since=4&timeout=30 HTTP/1.1\r\nHost: test\r\n\r\n";
    parked.send(&mut pair, request.as_bytes(), bytes);
    // A 404.
    let mut lost = Wire::connect(&mut pair);
    assert_eq!(lost.get(&mut pair, "/nope", bytes).status, 404);
    // A subscriber that breaks the protocol (RSV1 set): failed with 1002.
    let mut broken = Wire::upgrade(&mut pair, "/channels/news", bytes);
    broken.send(
        &mut pair,
        &frame_with(true, 0b100, OP_TEXT, b"x", Some(MASK)),
        bytes,
    );
    let closes = broken.frames(&mut pair, bytes);
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].close_code().map(|(code, _)| code), Some(1002));
    pair.finish(broken.peer);
    assert!(pair.is_closed(broken.peer));
    // The first subscriber got all four messages.
    assert_eq!(subscriber.frames(&mut pair, bytes).len(), 4);

    // The scrape.
    let mut scraper = Wire::connect(&mut pair);
    let before_scrape = (bytes.sent, bytes.received);
    let scrape_request = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";
    let response = scraper.get(&mut pair, "/metrics", bytes);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    let m = Samples::parse(&response.body_text());

    // Connections: the scraper's request is with the application while it renders.
    let connections = |state: &str, transport: &str| {
        m.value(
            "pushwire_connections",
            &[("transport", transport), ("state", state)],
        )
    };
    assert_eq!(
        connections("idle", "http"),
        4.0,
        "publisher, poller, waiter, lost"
    );
    assert_eq!(connections("reading", "http"), 0.0);
    assert_eq!(connections("waiting", "http"), 1.0, "the scraper");
    assert_eq!(connections("parked", "http"), 1.0);
    assert_eq!(connections("streaming", "http"), 0.0);
    assert_eq!(connections("open", "websocket"), 1.0);
    assert_eq!(connections("closing", "websocket"), 0.0);
    assert_eq!(connections("closing", "tcp"), 0.0);
    assert_eq!(m.value("pushwire_connections_accepted_total", &[]), 8.0);
    for reason in ["full", "shutting_down", "out_of_descriptors"] {
        let refused = m.value("pushwire_connections_refused_total", &[("reason", reason)]);
        assert_eq!(refused, 0.0, "{reason}");
    }
    // Every byte the clients sent was read (the scrape's request too); every byte they
    // received was written, and the scrape's own answer is not yet.
    assert_eq!(
        m.value("pushwire_received_bytes_total", &[]),
        (before_scrape.0 + scrape_request.len() as u64) as f64
    );
    assert_eq!(
        m.value("pushwire_sent_bytes_total", &[]),
        before_scrape.1 as f64
    );

    let responses: Vec<(String, f64)> = m
        .all("pushwire_http_responses_total")
        .into_iter()
        .map(|(labels, v)| (labels["code"].clone(), v))
        .collect();
    let expected: Vec<(String, f64)> = [
        ("101", 2.0),
        ("200", 2.0),
        ("201", 4.0),
        ("404", 1.0),
        ("413", 1.0),
    ]
    .iter()
    .map(|(c, v)| (c.to_string(), *v))
    .collect();
    assert_eq!(responses, expected);
    assert_eq!(m.value("pushwire_http_requests_unanswered_total", &[]), 0.0);
    let closes = m.all("pushwire_websocket_closes_total");
    assert_eq!(closes.len(), 1, "{closes:?}");
    assert_eq!(
        m.value(
            "pushwire_websocket_closes_total",
            &[("code", "1002"), ("kind", "failed")]
        ),
        1.0
    );

    // The in-memory driver has no time passing within a turn: no turns recorded.
    match m.get("pushwire_loop_turn_seconds", &[]) {
        Value::Histogram(buckets) => {
            assert_eq!(buckets.len(), 15, "14 bounds and +Inf");
            assert!(buckets.iter().all(|b| b.count == 0.0));
        }
        other => panic!("not a histogram: {other:?}"),
    }
    assert_eq!(m.value("pushwire_loop_turn_seconds_count", &[]), 0.0);

    // The hub.
    assert_eq!(m.value("pushwire_channels", &[]), 1.0);
    let frame_cost = |id: u64, data: &str| {
        retained_cost(format!(r#"{{"id":{id},"data":"{data}"}}"#).len()) as f64
    };
    assert_eq!(
        m.value("pushwire_retained_bytes", &[]),
        frame_cost(3, "c") + frame_cost(4, "d")
    );
    assert_eq!(m.value("pushwire_messages_published_total", &[]), 4.0);
    let delivered = |transport| {
        m.value(
            "pushwire_messages_delivered_total",
            &[("transport", transport)],
        )
    };
    assert_eq!(delivered("websocket"), 4.0, "four frames to the subscriber");
    assert_eq!(
        delivered("longpoll"),
        3.0,
        "two in the poll, one to the waiter"
    );
    let dropped = |reason| m.value("pushwire_messages_dropped_total", &[("reason", reason)]);
    assert_eq!(dropped("evicted"), 2.0);
    assert_eq!(dropped("expired"), 0.0);
    assert_eq!(dropped("refused"), 1.0);
    assert_eq!(m.value("pushwire_messages_missed_total", &[]), 1.0);
    assert_eq!(m.value("pushwire_longpolls_parked", &[]), 1.0);
    assert_eq!(m.value("pushwire_subscribers", &[("state", "active")]), 1.0);
    assert_eq!(m.value("pushwire_subscribers", &[("state", "paused")]), 0.0);

    // The next scrape counts the first one's answer.
    let again = Samples::parse(&scraper.get(&mut pair, "/metrics", bytes).body_text());
    assert_eq!(
        again.value("pushwire_http_responses_total", &[("code", "200")]),
        3.0
    );
}

#[test]
fn head_metrics_has_the_get_fields_and_other_methods_get_405() {
    let mut pair = ServerPair::new(config(), HubServer::new(HubConfig::default())).unwrap();
    let mut client = Client::connect(&mut pair);
    client.send(&mut pair, b"HEAD /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
    let head = client.head_response(&mut pair);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(head.content_length().unwrap() > 0);
    client.nothing(&mut pair);
    let refused = client.post(&mut pair, "/metrics", b"x");
    assert_eq!(refused.status, 405);
    assert_eq!(refused.header("Allow"), Some("GET, HEAD"));
}

#[test]
fn a_real_server_records_the_time_of_its_turns() {
    let server = TestServer::start(config(), HubServer::new(HubConfig::default()));
    for _ in 0..3 {
        assert_eq!(http_get(server.addr, "/healthz").status, 200);
    }
    // Read the scrape by hand: the whole answer, to the end of the connection.
    let mut stream = tcp(server.addr);
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    Patient(stream).read_to_end(&mut raw).unwrap();
    let (response, _) = parse_response(&raw, false).expect("a whole response");
    assert_eq!(response.status, 200);
    let m = Samples::parse(&response.body_text());

    let Value::Histogram(buckets) = m.get("pushwire_loop_turn_seconds", &[]) else {
        panic!("not a histogram");
    };
    let count = m.value("pushwire_loop_turn_seconds_count", &[]);
    let sum = m.value("pushwire_loop_turn_seconds_sum", &[]);
    // Each connection took turns (accept, read, answer); a turn takes more than nothing.
    assert!(count >= 4.0, "{count} turns");
    assert!(sum > 0.0 && sum < count * 1.0, "{sum} s in {count} turns");
    let counts: Vec<f64> = buckets.iter().map(|b| b.count).collect();
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "cumulative: {counts:?}"
    );
    let last = buckets.last().unwrap();
    assert!(last.less_than.is_infinite());
    assert_eq!(last.count, count, "+Inf holds every turn");
    assert!(m.value("pushwire_connections_accepted_total", &[]) >= 4.0);
    assert_eq!(
        m.value("pushwire_http_responses_total", &[("code", "200")]),
        3.0
    );
}

#[test]
fn abandoned_requests_and_every_kind_of_websocket_end_are_counted() {
    let mut pair = ServerPair::new(config(), HubServer::new(HubConfig::default())).unwrap();
    let bytes = &mut Bytes::default();
    // A long-poll whose client leaves first.
    let mut quitter = Wire::connect(&mut pair);
    let request = "GET /channels/a?timeout=30 HTTP/1.1\r\nHost: test\r\n\r\n";
    quitter.send(&mut pair, request.as_bytes(), bytes);
    pair.finish(quitter.peer);
    // A subscriber that closes properly, one that just drops TCP, and one the server
    // closes (a binary message: 1003).
    let mut polite = Wire::upgrade(&mut pair, "/channels/a", bytes);
    polite.send(&mut pair, &close_frame(&close_payload(1000, b"bye")), bytes);
    pair.finish(polite.peer);
    let rude = Wire::upgrade(&mut pair, "/channels/a", bytes);
    pair.finish(rude.peer);
    let mut binary = Wire::upgrade(&mut pair, "/channels/a", bytes);
    binary.send(&mut pair, &client_frame(true, OP_BINARY, b"\x01"), bytes);
    let close = binary.frames(&mut pair, bytes);
    assert_eq!(close[0].close_code().map(|(code, _)| code), Some(1003));
    // The client answers the server's Close.
    binary.send(&mut pair, &close_frame(&close_payload(1003, b"")), bytes);
    pair.finish(binary.peer);

    let m = Samples::parse(
        &Client::connect(&mut pair)
            .get(&mut pair, "/metrics")
            .body_text(),
    );
    assert_eq!(m.value("pushwire_http_requests_unanswered_total", &[]), 1.0);
    let closes: Vec<(String, String, f64)> = m
        .all("pushwire_websocket_closes_total")
        .into_iter()
        .map(|(l, v)| (l["code"].clone(), l["kind"].clone(), v))
        .collect();
    let expected: Vec<(String, String, f64)> = [
        ("1000", "remote", 1.0),
        ("1003", "local", 1.0),
        ("1006", "abnormal", 1.0),
    ]
    .iter()
    .map(|(c, k, v)| (c.to_string(), k.to_string(), *v))
    .collect();
    assert_eq!(closes, expected);
    assert_eq!(m.value("pushwire_subscribers", &[("state", "active")]), 0.0);
    assert_eq!(m.value("pushwire_longpolls_parked", &[]), 0.0);
}
