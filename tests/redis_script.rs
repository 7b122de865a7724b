//! The publish and read scripts (`src/redis/publish.lua`, `src/redis/read.lua`,
//! docs/redis-design.md) against a real `redis-server`, driven by the test support's
//! blocking client — not the library's RESP code, so that the two are checked against each
//! other rather than against themselves.
//!
//! What it proves: ids 1, 2, 3 … per channel, whatever the number of publishers; the epoch
//! is chosen once per stream, and a Redis that lost its data begins a new one; the log
//! keeps the newest messages within the count and byte limits, under entry ids `0-N`; the
//! read script answers a stream's epoch, last id and newest entries after a cursor, begins
//! a stream nobody published to (its epoch is then the one publishes keep) and lets it
//! expire while it stays empty; the pub/sub message is `<epoch><kind><id> <data>`,
//! binary-safe; `NOSCRIPT` after `SCRIPT FLUSH`; bad arguments are refused before anything
//! is written.
//!
//! Each test starts its own server (skipped, with a printed line, where `redis-server` is
//! not installed; a failure under `CI=true`).

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::thread;

use sha1::{Digest, Sha1};
use support::*;

const SCRIPT: &str = include_str!("../src/redis/publish.lua");
const READ_SCRIPT: &str = include_str!("../src/redis/read.lua");

/// Two valid candidate epochs (11 URL-safe base64 characters).
const EPOCH_A: &str = "mG3b0hJ0xq8";
const EPOCH_B: &str = "Zp1_-kQ9dT0";

/// The key prefix, as `pushwire serve --redis` uses by default.
const PREFIX: &str = "pushwire:";

fn meta_key(channel: &str) -> String {
    format!("{PREFIX}{{{channel}}}:meta")
}

fn log_key(channel: &str) -> String {
    format!("{PREFIX}{{{channel}}}:log")
}

fn pubsub_channel(channel: &str) -> String {
    format!("{PREFIX}{{{channel}}}")
}

/// A script's SHA-1, as `SCRIPT LOAD` must answer it.
fn sha1_hex(script: &str) -> String {
    Sha1::digest(script.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The publish script's SHA-1.
fn script_sha() -> String {
    sha1_hex(SCRIPT)
}

/// `SCRIPT LOAD`, checked against the SHA-1 computed here.
fn load(client: &mut RedisClient) -> String {
    let sha = client.call(["SCRIPT", "LOAD", SCRIPT]).text().to_string();
    assert_eq!(sha, script_sha(), "SCRIPT LOAD answers the script's SHA-1");
    sha
}

/// One call of the script: its arguments, with the hub's default limits.
#[derive(Clone)]
struct Publish {
    channel: String,
    data: Vec<u8>,
    kind: &'static str,
    max_count: String,
    max_bytes: String,
    candidate: String,
}

impl Publish {
    fn text(channel: &str, data: impl AsRef<[u8]>) -> Publish {
        Publish {
            channel: channel.to_string(),
            data: data.as_ref().to_vec(),
            kind: "t",
            max_count: "1024".into(),
            max_bytes: (1024 * 1024).to_string(),
            candidate: EPOCH_A.into(),
        }
    }

    fn json(channel: &str, data: impl AsRef<[u8]>) -> Publish {
        Publish {
            kind: "j",
            ..Publish::text(channel, data)
        }
    }

    fn limits(mut self, max_count: u64, max_bytes: u64) -> Publish {
        self.max_count = max_count.to_string();
        self.max_bytes = max_bytes.to_string();
        self
    }

    fn candidate(mut self, epoch: &str) -> Publish {
        self.candidate = epoch.into();
        self
    }

    /// `EVALSHA sha 2 meta log data kind max_count max_bytes candidate channel`.
    fn command(&self, sha: &str) -> Vec<Vec<u8>> {
        let mut args: Vec<Vec<u8>> = ["EVALSHA", sha, "2"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        args.push(meta_key(&self.channel).into_bytes());
        args.push(log_key(&self.channel).into_bytes());
        args.push(self.data.clone());
        args.push(self.kind.as_bytes().to_vec());
        args.push(self.max_count.clone().into_bytes());
        args.push(self.max_bytes.clone().into_bytes());
        args.push(self.candidate.clone().into_bytes());
        args.push(pubsub_channel(&self.channel).into_bytes());
        args
    }

    /// Runs it; the raw reply.
    fn run(&self, client: &mut RedisClient, sha: &str) -> Reply {
        client.call(self.command(sha))
    }

    /// Runs it and reads the answer `{id, epoch}`.
    fn send(&self, client: &mut RedisClient, sha: &str) -> (i64, String) {
        let reply = self.run(client, sha);
        match reply.array() {
            [id, epoch] => (id.integer(), epoch.text().to_string()),
            _ => panic!("expected {{id, epoch}}, got {reply}"),
        }
    }
}

/// One entry of `XRANGE` on the log: its id and its fields `k` and `d`.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    id: String,
    kind: String,
    data: Vec<u8>,
}

fn entries(reply: &Reply) -> Vec<Entry> {
    reply
        .array()
        .iter()
        .map(|entry| match entry.array() {
            [id, fields] => match fields.array() {
                [k, kind, d, data] => {
                    assert_eq!((k.text(), d.text()), ("k", "d"), "field names: {entry}");
                    Entry {
                        id: id.text().to_string(),
                        kind: kind.text().to_string(),
                        data: data.bulk().to_vec(),
                    }
                }
                _ => panic!("expected fields k and d: {entry}"),
            },
            _ => panic!("expected [id, fields]: {entry}"),
        })
        .collect()
}

/// The whole log of `channel`, oldest first.
fn log(client: &mut RedisClient, channel: &str) -> Vec<Entry> {
    entries(&client.call(["XRANGE", &log_key(channel), "-", "+"]))
}

/// The ids of the whole log, as message ids.
fn log_ids(client: &mut RedisClient, channel: &str) -> Vec<u64> {
    log(client, channel)
        .iter()
        .map(|entry| {
            entry
                .id
                .strip_prefix("0-")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("entry id {} is not 0-N", entry.id))
        })
        .collect()
}

/// `HGET meta field` as text (`None` when missing).
fn meta(client: &mut RedisClient, channel: &str, field: &str) -> Option<String> {
    match client.call(["HGET", &meta_key(channel), field]) {
        Reply::Nil => None,
        reply => Some(reply.text().to_string()),
    }
}

/// A second connection, subscribed to `channel`'s pub/sub channel.
fn subscriber(redis: &RedisServer, channel: &str) -> RedisClient {
    let mut client = redis.client();
    let name = pubsub_channel(channel);
    let confirmation = client.call(["SUBSCRIBE", name.as_str()]);
    match confirmation.array() {
        [kind, subscribed, count] => {
            assert_eq!(kind.text(), "subscribe");
            assert_eq!(subscribed.text(), name);
            assert_eq!(count.integer(), 1);
        }
        _ => panic!("expected a subscribe confirmation, got {confirmation}"),
    }
    client
}

/// The next message a [`subscriber`] receives: its payload.
fn next_message(client: &mut RedisClient, channel: &str) -> Vec<u8> {
    let reply = client.read_reply().expect("a pub/sub message");
    match reply.array() {
        [kind, from, payload] => {
            assert_eq!(kind.text(), "message");
            assert_eq!(from.text(), pubsub_channel(channel));
            payload.bulk().to_vec()
        }
        _ => panic!("expected a pub/sub message, got {reply}"),
    }
}

// ===== loading and ids =====

#[test]
fn script_load_answers_the_scripts_sha1_and_evalsha_runs_it() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    assert_eq!(
        Publish::text("lobby", "hello").send(&mut client, &sha),
        (1, EPOCH_A.to_string())
    );
    // Loading it again is harmless and gives the same SHA-1.
    assert_eq!(load(&mut client), sha);
}

#[test]
fn ids_count_1_2_3_per_channel_and_channels_are_independent() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    let mut ids = Vec::new();
    for (channel, data) in [("a", "1"), ("a", "2"), ("b", "1"), ("a", "3"), ("b", "2")] {
        ids.push((
            channel,
            Publish::text(channel, data).send(&mut client, &sha).0,
        ));
    }
    assert_eq!(ids, [("a", 1), ("a", 2), ("b", 1), ("a", 3), ("b", 2)]);
    assert_eq!(meta(&mut client, "a", "last").as_deref(), Some("3"));
    assert_eq!(meta(&mut client, "b", "last").as_deref(), Some("2"));
    assert_eq!(log_ids(&mut client, "a"), [1, 2, 3]);
    assert_eq!(log_ids(&mut client, "b"), [1, 2]);
}

#[test]
fn four_threads_publishing_500_each_get_ids_1_to_2000_once_each_delivered_in_order() {
    const THREADS: usize = 4;
    const EACH: usize = 500;
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let sha = load(&mut redis.client());
    let mut watcher = subscriber(&redis, "race");
    let start = Arc::new(Barrier::new(THREADS));
    let publishers: Vec<_> = (0..THREADS)
        .map(|t| {
            let mut client = redis.client();
            let sha = sha.clone();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                (0..EACH)
                    .map(|i| {
                        let publish =
                            Publish::text("race", format!("{t}:{i}")).limits(10_000, 1 << 30);
                        publish.send(&mut client, &sha).0
                    })
                    .collect::<Vec<i64>>()
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    for publisher in publishers {
        let ids = publisher.join().expect("publisher thread");
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "one publisher's ids increase"
        );
        for id in ids {
            assert!(all.insert(id), "id {id} given twice");
        }
    }
    let expected: BTreeSet<i64> = (1..=(THREADS * EACH) as i64).collect();
    assert_eq!(all, expected, "ids 1..=2000, no gap");
    assert_eq!(log_ids(&mut redis.client(), "race").len(), THREADS * EACH);

    // Pub/sub delivered them in id order, each once.
    for id in 1..=THREADS * EACH {
        let payload = next_message(&mut watcher, "race");
        let prefix = format!("{EPOCH_A}t{id} ");
        assert!(
            payload.starts_with(prefix.as_bytes()),
            "message {id} in order: {:?}",
            payload.escape_ascii().to_string()
        );
    }
}

#[test]
fn ids_past_10_to_the_14_are_written_in_full_decimal() {
    // Lua 5.1's tostring writes 1e+15 for 10^15; entry ids and messages must not.
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    Publish::text("big", "first").send(&mut client, &sha);
    client
        .call(["HSET", &meta_key("big"), "last", "1000000000000000"])
        .integer();
    let mut watcher = subscriber(&redis, "big");
    let (id, _) = Publish::text("big", "next").send(&mut client, &sha);
    assert_eq!(id, 1_000_000_000_000_001);
    assert_eq!(
        next_message(&mut watcher, "big"),
        format!("{EPOCH_A}t1000000000000001 next").as_bytes()
    );
    assert_eq!(log_ids(&mut client, "big"), [1, 1_000_000_000_000_001]);
}

// ===== epochs =====

#[test]
fn the_first_candidate_becomes_the_epoch_and_later_candidates_are_ignored() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    let first = Publish::text("kept", "1").candidate(EPOCH_A);
    assert_eq!(first.send(&mut client, &sha), (1, EPOCH_A.to_string()));
    let other = Publish::text("kept", "2").candidate(EPOCH_B);
    assert_eq!(other.send(&mut client, &sha), (2, EPOCH_A.to_string()));
    assert_eq!(meta(&mut client, "kept", "epoch").as_deref(), Some(EPOCH_A));
    // Another channel begins its own stream with its own candidate.
    let elsewhere = Publish::text("other", "1").candidate(EPOCH_B);
    assert_eq!(elsewhere.send(&mut client, &sha), (1, EPOCH_B.to_string()));
}

#[test]
fn after_flushall_a_new_candidate_becomes_the_epoch_and_ids_restart_at_1() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    for data in ["1", "2", "3"] {
        Publish::text("lost", data).send(&mut client, &sha);
    }
    redis.flushall();
    // FLUSHALL keeps the script cache (SCRIPT FLUSH is its own command).
    let after = Publish::text("lost", "new").candidate(EPOCH_B);
    assert_eq!(after.send(&mut client, &sha), (1, EPOCH_B.to_string()));
    assert_eq!(log_ids(&mut client, "lost"), [1]);
    assert_eq!(meta(&mut client, "lost", "bytes").as_deref(), Some("3"));
}

#[test]
fn a_log_left_without_its_epoch_is_dropped_when_a_new_stream_begins() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    for data in ["old 1", "old 2", "old 3"] {
        Publish::text("half", data).send(&mut client, &sha);
    }
    // The meta hash is lost (evicted, deleted), the stream is not.
    assert_eq!(client.call(["DEL", &meta_key("half")]).integer(), 1);
    let after = Publish::text("half", "new").candidate(EPOCH_B);
    assert_eq!(after.send(&mut client, &sha), (1, EPOCH_B.to_string()));
    assert_eq!(
        log(&mut client, "half"),
        [Entry {
            id: "0-1".into(),
            kind: "t".into(),
            data: b"new".to_vec()
        }]
    );
}

// ===== trimming =====

#[test]
fn the_count_limit_trims_the_oldest_and_keeps_the_newest() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    for i in 1..=5 {
        Publish::text("few", format!("m{i}"))
            .limits(3, 1 << 20)
            .send(&mut client, &sha);
    }
    let kept = log(&mut client, "few");
    let data: Vec<&[u8]> = kept.iter().map(|e| e.data.as_slice()).collect();
    assert_eq!(data, [b"m3", b"m4", b"m5"]);
    assert_eq!(log_ids(&mut client, "few"), [3, 4, 5]);
    assert_eq!(meta(&mut client, "few", "bytes").as_deref(), Some("6"));
    assert_eq!(meta(&mut client, "few", "last").as_deref(), Some("5"));
}

#[test]
fn the_byte_limit_trims_the_oldest_and_keeps_the_newest() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    // 4 bytes each, 10 bytes kept: the newest two (8 bytes); a third would make 12.
    for i in 1..=5 {
        Publish::text("small", format!("abc{i}"))
            .limits(1024, 10)
            .send(&mut client, &sha);
    }
    assert_eq!(log_ids(&mut client, "small"), [4, 5]);
    assert_eq!(meta(&mut client, "small", "bytes").as_deref(), Some("8"));
    // A message over the limit by itself is kept, alone: the newest always is.
    Publish::text("small", "0123456789abcdef")
        .limits(1024, 10)
        .send(&mut client, &sha);
    assert_eq!(log_ids(&mut client, "small"), [6]);
    assert_eq!(meta(&mut client, "small", "bytes").as_deref(), Some("16"));
    // And the next one, small again, pushes it out.
    Publish::text("small", "abc7")
        .limits(1024, 10)
        .send(&mut client, &sha);
    assert_eq!(log_ids(&mut client, "small"), [7]);
    assert_eq!(meta(&mut client, "small", "bytes").as_deref(), Some("4"));
}

#[test]
fn lowered_limits_trim_a_long_log_in_one_publish_in_several_rounds() {
    // 250 entries, then limits that keep 10 by count and 25 bytes by size: more than
    // one batch (the script reads at most 100 of the oldest per round).
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    for i in 1..=250 {
        Publish::text("long", format!("{i:010}")).send(&mut client, &sha);
    }
    Publish::text("long", format!("{:010}", 251))
        .limits(10, 1 << 20)
        .send(&mut client, &sha);
    assert_eq!(
        log_ids(&mut client, "long"),
        (242..=251).collect::<Vec<_>>()
    );
    assert_eq!(meta(&mut client, "long", "bytes").as_deref(), Some("100"));
    Publish::text("long", format!("{:010}", 252))
        .limits(1024, 25)
        .send(&mut client, &sha);
    assert_eq!(log_ids(&mut client, "long"), [251, 252]);
    assert_eq!(meta(&mut client, "long", "bytes").as_deref(), Some("20"));
}

#[test]
fn a_bytes_figure_that_drifted_from_the_log_is_mended_when_one_entry_is_left() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    for data in ["aaaa", "bbbb", "cccc"] {
        Publish::text("drift", data).send(&mut client, &sha);
    }
    // The log deleted by hand under a kept meta: `bytes` says 12 for an empty log.
    client.call(["DEL", &log_key("drift")]).integer();
    Publish::text("drift", "dd")
        .limits(1024, 10)
        .send(&mut client, &sha);
    assert_eq!(log_ids(&mut client, "drift"), [4]);
    assert_eq!(meta(&mut client, "drift", "bytes").as_deref(), Some("2"));
    // From there on the figure is exact again.
    Publish::text("drift", "eee")
        .limits(1024, 10)
        .send(&mut client, &sha);
    assert_eq!(log_ids(&mut client, "drift"), [4, 5]);
    assert_eq!(meta(&mut client, "drift", "bytes").as_deref(), Some("5"));
}

// ===== the pub/sub message =====

#[test]
fn the_pubsub_message_is_epoch_kind_id_space_data_and_binary_safe() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    let mut watcher = subscriber(&redis, "wire");
    let binary = b"line 1\r\nline 2\0after a NUL \xff".to_vec();
    Publish::text("wire", &binary).send(&mut client, &sha);
    Publish::json("wire", br#"{"a": [1, 2]}"#).send(&mut client, &sha);
    Publish::text("wire", "").send(&mut client, &sha);

    let mut expected = format!("{EPOCH_A}t1 ").into_bytes();
    expected.extend_from_slice(&binary);
    assert_eq!(next_message(&mut watcher, "wire"), expected);
    assert_eq!(
        next_message(&mut watcher, "wire"),
        format!(r#"{EPOCH_A}j2 {{"a": [1, 2]}}"#).as_bytes()
    );
    assert_eq!(
        next_message(&mut watcher, "wire"),
        format!("{EPOCH_A}t3 ").as_bytes()
    );
    // The log holds the same bytes and kinds.
    let kept = log(&mut client, "wire");
    assert_eq!(kept[0].data, binary);
    let kinds: Vec<&str> = kept.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["t", "j", "t"]);
    assert_eq!(
        meta(&mut client, "wire", "bytes"),
        Some((binary.len() + 13).to_string())
    );
}

#[test]
fn a_subscriber_of_another_channel_receives_nothing() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    let mut watcher = subscriber(&redis, "quiet");
    Publish::text("noisy", "not for you").send(&mut client, &sha);
    Publish::text("quiet", "for you").send(&mut client, &sha);
    // The first message it gets is the one on its channel.
    assert_eq!(
        next_message(&mut watcher, "quiet"),
        format!("{EPOCH_A}t1 for you").as_bytes()
    );
}

// ===== reading history =====

// ===== the read script =====

/// `SCRIPT LOAD` of read.lua, checked against its SHA-1.
fn load_read(client: &mut RedisClient) -> String {
    let sha = client
        .call(["SCRIPT", "LOAD", READ_SCRIPT])
        .text()
        .to_string();
    assert_eq!(
        sha,
        sha1_hex(READ_SCRIPT),
        "SCRIPT LOAD answers read.lua's SHA-1"
    );
    sha
}

/// What the read script answered: `(epoch, last, ids newest first, data newest first)`.
type Read = (String, i64, Vec<u64>, Vec<Vec<u8>>);

/// One read, or the error text.
fn read(
    client: &mut RedisClient,
    sha: &str,
    channel: &str,
    after: &str,
    count: &str,
    candidate: &str,
    ttl_ms: &str,
) -> Result<Read, String> {
    let reply = client.call([
        "EVALSHA",
        sha,
        "2",
        &meta_key(channel),
        &log_key(channel),
        after,
        count,
        candidate,
        ttl_ms,
    ]);
    if let Reply::Error(text) = &reply {
        return Err(text.clone());
    }
    match reply.array() {
        [epoch, last, found] => {
            let found = entries(found);
            Ok((
                epoch.text().to_string(),
                last.integer(),
                found.iter().map(|e| e.id[2..].parse().unwrap()).collect(),
                found.into_iter().map(|e| e.data).collect(),
            ))
        }
        _ => panic!("expected {{epoch, last, entries}}, got {reply}"),
    }
}

#[test]
fn a_read_gives_the_newest_entries_after_a_cursor_newest_first_with_the_last_id() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let (sha, read_sha) = (load(&mut client), load_read(&mut client));
    for i in 1..=7 {
        Publish::text("hist", format!("m{i}"))
            .limits(5, 1 << 20)
            .send(&mut client, &sha);
    }
    // Retained: 3..=7.
    let at = |client: &mut RedisClient, after: u64, count: u64| {
        read(
            client,
            &read_sha,
            "hist",
            &after.to_string(),
            &count.to_string(),
            EPOCH_B,
            "60000",
        )
        .unwrap()
    };
    let (epoch, last, ids, data) = at(&mut client, 4, 100);
    assert_eq!(
        (epoch.as_str(), last),
        (EPOCH_A, 7),
        "the stream's, not the candidate"
    );
    assert_eq!(ids, [7, 6, 5], "after cursor 4, newest first");
    assert_eq!(data[0], b"m7");
    assert_eq!(at(&mut client, 0, 2).2, [7, 6], "COUNT keeps the newest");
    assert_eq!(
        at(&mut client, 0, 100).2,
        [7, 6, 5, 4, 3],
        "from the oldest retained"
    );
    assert!(
        at(&mut client, 7, 100).2.is_empty(),
        "nothing after the last"
    );
    assert_eq!(
        client.call(["PTTL", &meta_key("hist")]),
        Reply::Integer(-1),
        "a stream with messages never expires"
    );
}

#[test]
fn a_read_begins_a_stream_nobody_published_to_and_its_epoch_is_the_one_publishes_keep() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let (sha, read_sha) = (load(&mut client), load_read(&mut client));
    let first = read(&mut client, &read_sha, "quiet", "0", "10", EPOCH_B, "60000").unwrap();
    assert_eq!(first, (EPOCH_B.to_string(), 0, vec![], vec![]));
    // Another node's read, with another candidate, finds the stream begun.
    let again = read(&mut client, &read_sha, "quiet", "0", "10", EPOCH_A, "60000").unwrap();
    assert_eq!(again.0, EPOCH_B);
    // Begun by a read, it expires unless a publish comes: each read starts the time again.
    let pttl = client.call(["PTTL", &meta_key("quiet")]).integer();
    assert!(0 < pttl && pttl <= 60_000, "PTTL {pttl}");
    // The first publish keeps the read's epoch (not its own candidate), takes id 1, and
    // keeps the stream for good.
    let published = Publish::text("quiet", "hi")
        .candidate(EPOCH_A)
        .send(&mut client, &sha);
    assert_eq!(published, (1, EPOCH_B.to_string()));
    assert_eq!(
        client.call(["PTTL", &meta_key("quiet")]),
        Reply::Integer(-1)
    );
}

#[test]
fn an_empty_stream_begun_by_a_read_expires_and_the_next_one_has_a_new_epoch() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let read_sha = load_read(&mut client);
    read(&mut client, &read_sha, "brief", "0", "10", EPOCH_A, "1").unwrap();
    // Redis expires a key when it is looked at after its time: 1 ms is soon gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while client.call(["EXISTS", &meta_key("brief")]) != Reply::Integer(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the empty stream never expired"
        );
        thread::sleep(std::time::Duration::from_millis(5));
    }
    let after = read(&mut client, &read_sha, "brief", "0", "10", EPOCH_B, "60000").unwrap();
    assert_eq!(
        after.0, EPOCH_B,
        "a new stream: readers of the old one get the reset"
    );
}

#[test]
fn bad_read_arguments_are_refused_before_anything_is_written() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let read_sha = load_read(&mut client);
    for (what, after, count, candidate, ttl) in [
        ("after -1", "-1", "10", EPOCH_A, "1000"),
        ("after 1.5", "1.5", "10", EPOCH_A, "1000"),
        ("count 0", "0", "0", EPOCH_A, "1000"),
        ("a short candidate", "0", "10", "short", "1000"),
        ("ttl 0", "0", "10", EPOCH_A, "0"),
        ("ttl not a number", "0", "10", EPOCH_A, "soon"),
    ] {
        let e = read(
            &mut client,
            &read_sha,
            "strict",
            after,
            count,
            candidate,
            ttl,
        )
        .unwrap_err();
        assert!(e.starts_with("ERR pushwire read:"), "{what}: {e}");
        assert_eq!(
            client.call(["EXISTS", &meta_key("strict")]),
            Reply::Integer(0),
            "{what}: nothing written"
        );
    }
}

// ===== errors =====

#[test]
fn evalsha_answers_noscript_after_script_flush_and_works_once_loaded_again() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    assert_eq!(Publish::text("again", "1").send(&mut client, &sha).0, 1);
    client.call(["SCRIPT", "FLUSH"]).expect_ok();
    let refused = Publish::text("again", "2").run(&mut client, &sha);
    assert!(
        refused.error().starts_with("NOSCRIPT"),
        "NOSCRIPT, got {refused}"
    );
    assert_eq!(meta(&mut client, "again", "last").as_deref(), Some("1"));
    assert_eq!(load(&mut client), sha);
    assert_eq!(Publish::text("again", "2").send(&mut client, &sha).0, 2);
}

#[test]
fn bad_arguments_are_refused_before_anything_is_written() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    let sha = load(&mut client);
    let good = Publish::text("strict", "x");
    let mut bad_kind = good.clone();
    bad_kind.kind = "x";
    let bad = [
        ("kind", bad_kind),
        ("max_count 0", good.clone().limits(0, 10)),
        ("max_bytes -1", {
            let mut p = good.clone();
            p.max_bytes = "-1".into();
            p
        }),
        ("max_count not a number", {
            let mut p = good.clone();
            p.max_count = "many".into();
            p
        }),
        ("max_count 1.5", {
            let mut p = good.clone();
            p.max_count = "1.5".into();
            p
        }),
        ("a short candidate", good.clone().candidate("short")),
        (
            "a candidate with a '/'",
            good.clone().candidate("mG3b0hJ0xq/"),
        ),
    ];
    for (what, publish) in bad {
        let reply = publish.run(&mut client, &sha);
        assert!(
            reply.error().starts_with("ERR pushwire publish:"),
            "{what}: {reply}"
        );
        assert_eq!(
            client.call(["EXISTS", &meta_key("strict"), &log_key("strict")]),
            Reply::Integer(0),
            "{what}: nothing written"
        );
    }
    assert_eq!(good.send(&mut client, &sha), (1, EPOCH_A.to_string()));
}
