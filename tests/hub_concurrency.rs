//! The hub under concurrent load: publishers over POST and WebSocket at once, subscribers
//! over WebSocket and long-polling at once. Every subscriber must see every message
//! exactly once, in id order, with ids contiguous from 1.
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
