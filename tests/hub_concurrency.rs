//! The hub under concurrent load: publishers over POST and WebSocket at once, subscribers
//! over WebSocket and long-polling at once. Every subscriber must see every message
//! exactly once, in id order, with ids contiguous from 1. Then three channels over every
//! transport: publishers over POST, a one-channel WebSocket and `pushwire.v1`;
//! subscribers over one-channel and multiplexed WebSockets, one-channel and
//! multi-channel Server-Sent Events, one-channel and multi-channel long-polls — each
//! sees every message of its channels once, in id order, and nothing else.
//!
//! A loopback test on purpose: publishers and subscribers on their own threads over real
//! sockets, racing the server's loop, is what it tests. Every wait is bounded.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pushwire::hub::{HubConfig, HubServer};
use serde_json::Value;
use support::*;
use tungstenite::Message as WsMessage;

/// Messages per publisher.
const K: usize = 50;
const POST_PUBLISHERS: usize = 2;
const WS_PUBLISHERS: usize = 2;
const TOTAL: usize = K * (POST_PUBLISHERS + WS_PUBLISHERS);
/// The whole test finishes within this, or fails.
const LIMIT: Duration = Duration::from_secs(30);
const CHANNEL: &str = "/channels/load";

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(bytes)))
}

/// One frame as (id, data); `None` for the subscription's first frame,
/// `{"epoch":"E","next":C}`.
fn frame(message: WsMessage) -> Option<(u64, String)> {
    let text = message.into_text().expect("text frame");
    let value = json(text.as_bytes());
    if value.get("epoch").is_some() {
        assert!(
            value.get("reset").is_none(),
            "a fresh subscription: {value}"
        );
        return None;
    }
    assert!(
        value.get("missed").is_none(),
        "nothing may be missed: {value}"
    );
    Some((
        value["id"].as_u64().expect("id"),
        value["data"].as_str().expect("data").to_string(),
    ))
}

/// Reads frames until `TOTAL` messages arrived (or the deadline passed).
fn ws_collect(ws: &mut WsClient, deadline: Instant) -> Vec<(u64, String)> {
    let mut got = Vec::with_capacity(TOTAL);
    while got.len() < TOTAL {
        assert!(
            Instant::now() < deadline,
            "WebSocket subscriber has {} of {TOTAL} messages at the deadline",
            got.len()
        );
        match frame(ws_read_data(ws)) {
            Some(message) => got.push(message),
            None => assert!(got.is_empty(), "the epoch frame comes first"),
        }
    }
    got
}

/// Long-polls from `since=0`, then from each answer's `next`, until `TOTAL` messages.
fn long_poll_collect(addr: SocketAddr, deadline: Instant) -> Vec<(u64, String)> {
    let mut client = RawClient::connect(addr);
    let mut since = 0;
    let mut got = Vec::with_capacity(TOTAL);
    while got.len() < TOTAL {
        assert!(
            Instant::now() < deadline,
            "long-poll subscriber has {} of {TOTAL} messages at the deadline",
            got.len()
        );
        client.send(
            format!("GET {CHANNEL}?since={since}&timeout=5 HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        let response = client.read_response();
        match response.status {
            204 => continue,
            200 => {}
            other => panic!("long-poll answered {other}: {response:?}"),
        }
        let body = json(&response.body);
        assert!(
            body.get("missed").is_none(),
            "nothing may be missed: {body}"
        );
        let batch: Vec<(u64, String)> = body["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| {
                (
                    m["id"].as_u64().unwrap(),
                    m["data"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(!batch.is_empty(), "200 with no messages: {body}");
        let next = body["next"].as_u64().expect("next");
        assert_eq!(next, batch.last().unwrap().0, "next is the last id: {body}");
        since = next;
        got.extend(batch);
    }
    got
}

fn payload(publisher: &str, i: usize) -> String {
    format!("{publisher}#{i:03}")
}

/// Checks one subscriber's view: ids 1..=TOTAL in order, each payload once, and each
/// publisher's messages in the order it sent them.
fn check(name: &str, got: &[(u64, String)], publishers: &[String]) {
    let ids: Vec<u64> = got.iter().map(|(id, _)| *id).collect();
    let expected_ids: Vec<u64> = (1..=TOTAL as u64).collect();
    assert_eq!(
        ids, expected_ids,
        "{name}: ids not contiguous from 1, in order"
    );
    let payloads: BTreeSet<&str> = got.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(payloads.len(), TOTAL, "{name}: duplicate payloads");
    let mut per_publisher: HashMap<&str, Vec<usize>> = HashMap::new();
    for (_, data) in got {
        let (publisher, i) = data.split_once('#').expect("publisher#i");
        per_publisher
            .entry(publisher)
            .or_default()
            .push(i.parse().unwrap());
    }
    for p in publishers {
        let seq = per_publisher
            .get(p.as_str())
            .unwrap_or_else(|| panic!("{name}: nothing from {p}"));
        assert_eq!(
            seq,
            &(0..K).collect::<Vec<_>>(),
            "{name}: {p}'s messages missing or out of its order"
        );
    }
}

/// A worker thread and the channel its result arrives on.
struct Worker {
    name: String,
    thread: JoinHandle<()>,
    rx: Receiver<Vec<(u64, String)>>,
}

fn spawn(name: &str, work: impl FnOnce() -> Vec<(u64, String)> + Send + 'static) -> Worker {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .unwrap();
    Worker {
        name: name.to_string(),
        thread,
        rx,
    }
}

impl Worker {
    /// The worker's result, re-raising its panic if it had one.
    fn result(self, deadline: Instant) -> Vec<(u64, String)> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(result) => {
                let _ = self.thread.join();
                result
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => match self.thread.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => panic!("{} ended without a result", self.name),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("{} did not finish within {LIMIT:?}", self.name)
            }
        }
    }
}

#[test]
fn concurrent_publishers_and_subscribers_over_both_transports_see_every_message_once_in_order() {
    let started = Instant::now();
    let deadline = started + LIMIT;
    let mut h = HubConfig::default();
    h.history = 1024; // more than TOTAL: long-pollers starting at since=0 miss nothing
    h.default_poll_timeout = Duration::from_millis(500);
    let server = TestServer::start(config(), HubServer::new(h));
    let addr = server.addr;

    // Subscribers first. A WebSocket is subscribed once its 101 has arrived.
    let mut workers = Vec::new();
    for (n, path) in [(0, CHANNEL.to_string()), (1, format!("{CHANNEL}?since=0"))] {
        let mut ws = ws_connect(addr, &path);
        workers.push(spawn(&format!("ws-subscriber-{n}"), move || {
            ws_collect(&mut ws, deadline)
        }));
    }
    for n in 0..2 {
        workers.push(spawn(&format!("long-poll-subscriber-{n}"), move || {
            long_poll_collect(addr, deadline)
        }));
    }

    // Publishers, released together.
    let barrier = Arc::new(Barrier::new(POST_PUBLISHERS + WS_PUBLISHERS));
    let mut publishers = Vec::new();
    let mut publisher_names = Vec::new();
    for p in 0..POST_PUBLISHERS {
        let name = format!("post{p}");
        publisher_names.push(name.clone());
        let barrier = barrier.clone();
        publishers.push(spawn(&name.clone(), move || {
            let mut client = RawClient::connect(addr);
            barrier.wait();
            let mut ids = Vec::new();
            for i in 0..K {
                let response = client.post(CHANNEL, payload(&name, i).as_bytes());
                assert_eq!(response.status, 201, "{response:?}");
                ids.push((json(&response.body)["id"].as_u64().unwrap(), name.clone()));
            }
            ids
        }));
    }
    for p in 0..WS_PUBLISHERS {
        let name = format!("ws{p}");
        publisher_names.push(name.clone());
        let barrier = barrier.clone();
        // Connected (and so subscribed) before anyone publishes: it reads everything back.
        let mut ws = ws_connect(addr, CHANNEL);
        publishers.push(spawn(&name.clone(), move || {
            barrier.wait();
            for i in 0..K {
                ws.send(WsMessage::text(payload(&name, i))).unwrap();
            }
            let got = ws_collect(&mut ws, deadline);
            let _ = ws.close(None);
            got
        }));
    }

    // POST publishers report the ids they were given; WebSocket publishers what they saw.
    let mut post_ids = Vec::new();
    for worker in publishers {
        let name = worker.name.clone();
        let result = worker.result(deadline);
        if name.starts_with("post") {
            let ids: Vec<u64> = result.iter().map(|(id, _)| *id).collect();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "{name}: ids increase: {ids:?}"
            );
            post_ids.extend(ids);
        } else {
            check(
                &format!("{name} (as subscriber)"),
                &result,
                &publisher_names,
            );
        }
    }
    post_ids.sort_unstable();
    post_ids.dedup();
    assert_eq!(post_ids.len(), POST_PUBLISHERS * K, "POST ids are unique");

    for worker in workers {
        let name = worker.name.clone();
        let got = worker.result(deadline);
        check(&name, &got, &publisher_names);
    }
    assert!(started.elapsed() < LIMIT, "took {:?}", started.elapsed());
}

// ===== every transport, three channels =====

/// The channels of the test below, and the messages each publisher sends to each.
const CHANNELS: [&str; 3] = ["c0", "c1", "c2"];
const PER_CHANNEL: usize = 30;

/// What a subscriber of several channels saw: per channel, `(id, data)` in arrival order.
type Seen = HashMap<String, Vec<(u64, String)>>;

/// Who publishes to which channel: `post` and `mux` to all three, `ws` (one channel per
/// socket) to `c1` only.
fn publishers_of(channel: &str) -> Vec<String> {
    let mut names = vec!["post".to_string(), "mux".to_string()];
    if channel == "c1" {
        names.push("ws".to_string());
    }
    names
}

fn expected(channel: &str) -> usize {
    PER_CHANNEL * publishers_of(channel).len()
}

/// Has `seen` got every message of `channels`?
fn complete(seen: &Seen, channels: &[&str]) -> bool {
    channels
        .iter()
        .all(|c| seen.get(*c).map_or(0, Vec::len) >= expected(c))
}

/// One subscriber's view of one channel: ids 1..=N in order, each payload once, each
/// publisher's messages in the order it sent them.
fn check_channel(name: &str, channel: &str, got: &[(u64, String)]) {
    let who = format!("{name} on {channel}");
    let ids: Vec<u64> = got.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        (1..=expected(channel) as u64).collect::<Vec<_>>(),
        "{who}: ids not contiguous from 1, in order"
    );
    let mut per_publisher: HashMap<&str, Vec<usize>> = HashMap::new();
    for (_, data) in got {
        let (rest, i) = data.split_once('#').expect("publisher@channel#i");
        let (publisher, on) = rest.split_once('@').expect("publisher@channel");
        assert_eq!(on, channel, "{who}: a message of another channel");
        per_publisher
            .entry(publisher)
            .or_default()
            .push(i.parse().unwrap());
    }
    for p in publishers_of(channel) {
        assert_eq!(
            per_publisher.get(p.as_str()),
            Some(&(0..PER_CHANNEL).collect::<Vec<_>>()),
            "{who}: {p}'s messages missing, repeated or out of its order"
        );
    }
}

/// Reads `pushwire.v1` frames into `seen` until `channels` are complete; acks (for a
/// publisher) are returned by their `ref`.
fn mux_collect(ws: &mut WsClient, channels: &[&str], deadline: Instant) -> (Seen, Vec<Value>) {
    let mut seen = Seen::new();
    let mut acks = Vec::new();
    while !complete(&seen, channels) {
        assert!(Instant::now() < deadline, "mux subscriber at the deadline");
        let frame = json(ws_read_data(ws).into_text().unwrap().as_bytes());
        match frame["type"].as_str().unwrap() {
            "message" => seen
                .entry(frame["channel"].as_str().unwrap().to_string())
                .or_default()
                .push((
                    frame["id"].as_u64().unwrap(),
                    frame["data"].as_str().unwrap().to_string(),
                )),
            "ack" => acks.push(frame),
            "subscribed" => assert!(frame.get("reset").is_none(), "{frame}"),
            other => panic!("unexpected {other}: {frame}"),
        }
    }
    (seen, acks)
}

/// Subscribes a `pushwire.v1` socket to `channels` and waits for every `subscribed`.
fn mux_subscribe(ws: &mut WsClient, channels: &[&str]) {
    for channel in channels {
        let command = format!(r#"{{"type":"subscribe","channel":"{channel}"}}"#);
        ws.send(WsMessage::text(command)).unwrap();
    }
    for _ in channels {
        let frame = json(ws_read_data(ws).into_text().unwrap().as_bytes());
        assert_eq!(frame["type"], "subscribed", "{frame}");
    }
}

/// Reads `reader` until `channels` are complete. `named`: the events are `pushwire.v1`
/// frames naming their channel (`/events`); else they are one channel's.
fn sse_collect(reader: &mut SseReader, channels: &[&str], named: bool, deadline: Instant) -> Seen {
    let mut seen = Seen::new();
    while !complete(&seen, channels) {
        assert!(Instant::now() < deadline, "SSE subscriber at the deadline");
        for event in reader.next_events() {
            let data = json(event.data().as_bytes());
            let channel = if named {
                match data["type"].as_str().unwrap() {
                    "message" => data["channel"].as_str().unwrap().to_string(),
                    "subscribed" => continue,
                    other => panic!("unexpected {other}: {data}"),
                }
            } else {
                match event.event_type() {
                    "message" => channels[0].to_string(),
                    "subscribed" => continue,
                    other => panic!("unexpected {other}: {data}"),
                }
            };
            seen.entry(channel).or_default().push((
                data["id"].as_u64().unwrap(),
                data["data"].as_str().unwrap().to_string(),
            ));
        }
    }
    seen
}

/// Long-polls `channels` (one channel: `/channels/{name}`; several: `/poll`) from
/// `since=0` until every message arrived.
fn poll_collect(addr: SocketAddr, channels: &[&str], deadline: Instant) -> Seen {
    let mut client = RawClient::connect(addr);
    let mut since: Vec<u64> = vec![0; channels.len()];
    let mut seen = Seen::new();
    while !complete(&seen, channels) {
        assert!(
            Instant::now() < deadline,
            "long-poll subscriber at the deadline"
        );
        let target = if let [channel] = channels {
            format!("/channels/{channel}?since={}&timeout=5", since[0])
        } else {
            let groups: Vec<String> = channels
                .iter()
                .zip(&since)
                .map(|(c, s)| format!("channel={c}&since={s}"))
                .collect();
            format!("/poll?{}&timeout=5", groups.join("&"))
        };
        client.send(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        let response = client.read_response();
        match response.status {
            204 => continue,
            200 => {}
            other => panic!("long-poll answered {other}: {response:?}"),
        }
        let body = json(&response.body);
        let answers: Vec<Value> = if channels.len() == 1 {
            vec![body]
        } else {
            body["channels"].as_array().unwrap().clone()
        };
        for (i, answer) in answers.iter().enumerate() {
            assert!(
                answer.get("missed").is_none(),
                "nothing may be missed: {answer}"
            );
            for m in answer["messages"].as_array().unwrap() {
                seen.entry(channels[i].to_string()).or_default().push((
                    m["id"].as_u64().unwrap(),
                    m["data"].as_str().unwrap().to_string(),
                ));
            }
            since[i] = answer["next"].as_u64().unwrap();
        }
    }
    seen
}

/// A worker whose result is a [`Seen`].
struct SeenWorker {
    name: String,
    channels: Vec<&'static str>,
    worker: Worker,
}

fn spawn_seen(
    name: &str,
    channels: &[&'static str],
    work: impl FnOnce() -> Seen + Send + 'static,
) -> SeenWorker {
    // A `Worker` carries `(u64, String)` pairs: flatten the map as (id, "channel|data").
    let worker = spawn(name, move || {
        let mut flat = Vec::new();
        for (channel, got) in work() {
            for (id, data) in got {
                flat.push((id, format!("{channel}|{data}")));
            }
        }
        flat
    });
    SeenWorker {
        name: name.to_string(),
        channels: channels.to_vec(),
        worker,
    }
}

impl SeenWorker {
    fn check(self, deadline: Instant) {
        let flat = self.worker.result(deadline);
        let mut seen = Seen::new();
        for (id, tagged) in flat {
            let (channel, data) = tagged.split_once('|').unwrap();
            seen.entry(channel.to_string())
                .or_default()
                .push((id, data.to_string()));
        }
        for channel in &self.channels {
            check_channel(
                &self.name,
                channel,
                seen.get(*channel).map_or(&[][..], Vec::as_slice),
            );
        }
        for channel in seen.keys() {
            assert!(
                self.channels.contains(&channel.as_str()),
                "{}: got {channel}, which it did not follow",
                self.name
            );
        }
    }
}

#[test]
fn three_channels_over_every_transport_reach_every_subscriber_once_in_order() {
    let started = Instant::now();
    let deadline = started + LIMIT;
    let mut h = HubConfig::default();
    h.default_poll_timeout = Duration::from_millis(500);
    let server = TestServer::start(config(), HubServer::new(h));
    let addr = server.addr;

    // Subscribers first, each subscribed before any publish: their reads start at the
    // stream's beginning (WebSocket and SSE subscribe at once; polls start at since=0).
    let mut subscribers = Vec::new();
    for channel in ["c0", "c2"] {
        let mut ws = ws_connect(addr, &format!("/channels/{channel}"));
        subscribers.push(spawn_seen(
            &format!("ws-{channel}"),
            &[channel],
            move || {
                let got = ws_collect_n(&mut ws, expected(channel), deadline);
                Seen::from([(channel.to_string(), got)])
            },
        ));
    }
    let mut mux = mux_connect(addr);
    mux_subscribe(&mut mux, &CHANNELS);
    subscribers.push(spawn_seen("mux-subscriber", &CHANNELS, move || {
        mux_collect(&mut mux, &CHANNELS, deadline).0
    }));
    let mut sse = SseReader::open(addr, "/channels/c1");
    subscribers.push(spawn_seen("sse-c1", &["c1"], move || {
        sse_collect(&mut sse, &["c1"], false, deadline)
    }));
    let mut events = SseReader::open(addr, "/events?channel=c0&channel=c1&channel=c2");
    subscribers.push(spawn_seen("sse-events", &CHANNELS, move || {
        sse_collect(&mut events, &CHANNELS, true, deadline)
    }));
    subscribers.push(spawn_seen("poll-c2", &["c2"], move || {
        poll_collect(addr, &["c2"], deadline)
    }));
    subscribers.push(spawn_seen("poll-multi", &CHANNELS, move || {
        poll_collect(addr, &CHANNELS, deadline)
    }));

    // Publishers, released together.
    let barrier = Arc::new(Barrier::new(3));
    let mut publishers = Vec::new();
    let b = barrier.clone();
    publishers.push(spawn("post", move || {
        let mut client = RawClient::connect(addr);
        b.wait();
        for i in 0..PER_CHANNEL {
            for channel in CHANNELS {
                let body = format!("post@{channel}#{i:03}");
                let response = client.post(&format!("/channels/{channel}"), body.as_bytes());
                assert_eq!(response.status, 201, "{response:?}");
            }
        }
        Vec::new()
    }));
    let b = barrier.clone();
    let mut ws = ws_connect(addr, "/channels/c1");
    publishers.push(spawn("ws", move || {
        b.wait();
        for i in 0..PER_CHANNEL {
            ws.send(WsMessage::text(format!("ws@c1#{i:03}"))).unwrap();
        }
        // It is subscribed to c1 too: it reads everything back before closing.
        let got = ws_collect_n(&mut ws, expected("c1"), deadline);
        check_channel("ws publisher (as subscriber)", "c1", &got);
        let _ = ws.close(None);
        Vec::new()
    }));
    let b = barrier.clone();
    let mut mux = mux_connect(addr);
    publishers.push(spawn("mux", move || {
        b.wait();
        let mut reference = 0;
        for i in 0..PER_CHANNEL {
            for channel in CHANNELS {
                let command = format!(
                    r#"{{"type":"publish","channel":"{channel}","data":"mux@{channel}#{i:03}","ref":{reference}}}"#
                );
                mux.send(WsMessage::text(command)).unwrap();
                reference += 1;
            }
        }
        // Every publish is acked, in the order sent, with increasing ids per channel.
        let mut acks = Vec::new();
        while acks.len() < reference {
            assert!(Instant::now() < deadline, "mux publisher's acks at the deadline");
            let frame = json(ws_read_data(&mut mux).into_text().unwrap().as_bytes());
            assert_eq!(frame["type"], "ack", "{frame}");
            acks.push(frame);
        }
        let mut last: HashMap<String, u64> = HashMap::new();
        for (i, ack) in acks.iter().enumerate() {
            assert_eq!(ack["ref"], i, "acks in the order of the commands");
            let id = ack["id"].as_u64().unwrap();
            let previous = last.insert(ack["channel"].as_str().unwrap().to_string(), id);
            assert!(previous.is_none_or(|p| p < id), "ids increase per channel");
        }
        let _ = mux.close(None);
        Vec::new()
    }));
    for publisher in publishers {
        publisher.result(deadline);
    }
    for subscriber in subscribers {
        subscriber.check(deadline);
    }
    assert!(started.elapsed() < LIMIT, "took {:?}", started.elapsed());
}

/// Reads `n` messages off a one-channel WebSocket.
fn ws_collect_n(ws: &mut WsClient, n: usize, deadline: Instant) -> Vec<(u64, String)> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "WebSocket subscriber at the deadline"
        );
        if let Some(message) = frame(ws_read_data(ws)) {
            got.push(message);
        }
    }
    got
}
