//! The library's two Redis connections (`redis::Link`, `redis::Subscriber`, sans-IO)
//! against a real `redis-server`, driven here over a blocking socket: what they write is
//! what Redis takes, and what Redis answers is read as it should be — `AUTH` and `SELECT`
//! first, pipelined replies paired with their tags, an error reply handed out as one,
//! subscriber mode's confirmations, messages, pattern messages and `PING`.
//!
//! Skipped, with a printed line, where `redis-server` is not installed (a failure under
//! `CI=true`).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use pushwire::redis::{Link, RedisUrl, ReplyLimits, Subscriber, SubscriberEvent};
use support::*;

/// Writes what `output` holds, then reads until `feed` — which hands the bytes to the
/// machine — says it is done; it returns how many bytes it consumed, and whether done.
fn exchange(stream: &mut TcpStream, output: Vec<u8>, mut feed: impl FnMut(&[u8]) -> (usize, bool)) {
    stream.write_all(&output).expect("write to redis");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut input = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        assert!(Instant::now() < deadline, "redis did not answer in time");
        match stream.read(&mut chunk) {
            Ok(0) => panic!("redis closed the connection"),
            Ok(n) => input.extend_from_slice(&chunk[..n]),
            Err(_) => continue, // the read timeout: look again
        }
        let (used, done) = feed(&input);
        input.drain(..used);
        if done {
            return;
        }
    }
}

#[test]
fn a_link_authenticates_selects_and_pairs_pipelined_replies_with_their_tags() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut admin = redis.client();
    admin
        .call(["CONFIG", "SET", "requirepass", "pw"])
        .expect_ok();
    let url = RedisUrl::parse(&format!("redis://:pw@127.0.0.1:{}/5", redis.port())).unwrap();
    let mut link = Link::new(&url, ReplyLimits::default());
    link.command("set", "SET").arg("k").arg("v");
    link.command("get", "GET").arg("k");
    link.command("incr", "INCR").arg("n");
    link.command("missing", "GET").arg("nothing here");
    link.command("wrong", "NOSUCHCOMMAND");
    link.connected();
    let mut stream = TcpStream::connect(redis.addr()).unwrap();
    let mut got = Vec::new();
    exchange(&mut stream, link.take_output(), |input| {
        let used = link
            .handle_bytes(input, |tag, reply| got.push((tag, format!("{reply:?}"))))
            .expect("no link error");
        (used, link.in_flight() == 0)
    });
    assert!(link.is_ready());
    let tags: Vec<&str> = got.iter().map(|(t, _)| *t).collect();
    assert_eq!(tags, ["set", "get", "incr", "missing", "wrong"]);
    assert_eq!(got[0].1, r#"Simple("OK")"#);
    assert_eq!(got[1].1, r#"Bulk("v")"#);
    assert_eq!(got[2].1, "Integer(1)");
    assert_eq!(got[3].1, "Bulk(nil)");
    assert!(
        got[4].1.starts_with(r#"Error("ERR unknown command"#),
        "{}",
        got[4].1
    );
    // The writes went to database 5.
    admin.call(["AUTH", "pw"]).expect_ok();
    admin.call(["SELECT", "5"]).expect_ok();
    assert_eq!(admin.call(["GET", "k"]).text(), "v");
}

#[test]
fn a_link_with_the_wrong_password_fails_with_redis_own_words() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis
        .client()
        .call(["CONFIG", "SET", "requirepass", "right"])
        .expect_ok();
    let url = RedisUrl::parse(&format!("redis://:wrong@127.0.0.1:{}", redis.port())).unwrap();
    let mut link = Link::new(&url, ReplyLimits::default());
    link.command(1, "PING");
    link.connected();
    let mut stream = TcpStream::connect(redis.addr()).unwrap();
    let mut failed = None;
    exchange(&mut stream, link.take_output(), |input| {
        match link.handle_bytes(input, |_, _| {}) {
            Ok(n) => (n, false),
            Err(e) => {
                failed = Some(e.to_string());
                (input.len(), true)
            }
        }
    });
    let text = failed.unwrap();
    assert!(text.starts_with("redis refused AUTH: WRONGPASS"), "{text}");
    assert!(
        !text.contains("wrong"),
        "the password is not repeated: {text}"
    );
}

#[test]
fn a_subscriber_hears_confirmations_messages_pattern_messages_and_pong() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let url = RedisUrl::parse(&redis.url()).unwrap();
    let mut subscriber = Subscriber::new(&url, ReplyLimits::default());
    subscriber.subscribe(&[b"p{a}", b"p{b}"]);
    subscriber.psubscribe(&[b"q*"]);
    subscriber.connected();
    let mut stream = TcpStream::connect(redis.addr()).unwrap();
    let mut heard: Vec<String> = Vec::new();
    let feed = |subscriber: &mut Subscriber, input: &[u8], heard: &mut Vec<String>| {
        subscriber
            .handle_bytes(input, |event| {
                heard.push(match event {
                    SubscriberEvent::Subscribed { channel, count } => {
                        format!("subscribed {} {count}", String::from_utf8_lossy(channel))
                    }
                    SubscriberEvent::PatternSubscribed { pattern, count } => {
                        format!("psubscribed {} {count}", String::from_utf8_lossy(pattern))
                    }
                    SubscriberEvent::Message { channel, payload } => format!(
                        "message {} {}",
                        String::from_utf8_lossy(channel),
                        String::from_utf8_lossy(payload)
                    ),
                    SubscriberEvent::PatternMessage {
                        pattern,
                        channel,
                        payload,
                    } => format!(
                        "pmessage {} {} {}",
                        String::from_utf8_lossy(pattern),
                        String::from_utf8_lossy(channel),
                        String::from_utf8_lossy(payload)
                    ),
                    SubscriberEvent::Unsubscribed { channel, count } => format!(
                        "unsubscribed {:?} {count}",
                        channel.map(|c| String::from_utf8_lossy(c).into_owned())
                    ),
                    other => format!("{other:?}"),
                })
            })
            .expect("no subscriber error")
    };
    let output = subscriber.take_output();
    let mut sub = subscriber;
    exchange(&mut stream, output, |input| {
        let used = feed(&mut sub, input, &mut heard);
        (used, heard.len() == 3)
    });
    assert_eq!(
        heard,
        ["subscribed p{a} 1", "subscribed p{b} 2", "psubscribed q* 3"]
    );
    heard.clear();

    let mut publisher = redis.client();
    assert_eq!(
        publisher
            .call(["PUBLISH", "p{a}", "hello \x00 there"])
            .integer(),
        1
    );
    assert_eq!(publisher.call(["PUBLISH", "q1", "by pattern"]).integer(), 1);
    assert_eq!(publisher.call(["PUBLISH", "p{c}", "nobody"]).integer(), 0);
    sub.ping();
    sub.unsubscribe(&[b"p{a}"]);
    let output = sub.take_output();
    exchange(&mut stream, output, |input| {
        let used = feed(&mut sub, input, &mut heard);
        (used, heard.len() == 4)
    });
    assert_eq!(
        heard,
        [
            "message p{a} hello \x00 there",
            "pmessage q* q1 by pattern",
            "Pong",
            r#"unsubscribed Some("p{a}") 2"#,
        ]
    );
    assert!(sub.is_ready());
}
