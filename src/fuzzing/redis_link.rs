//! `redis_link`: the two Redis connections of [`crate::redis`] — [`Link`] (pipelined
//! commands, replies paired with tags) and [`Subscriber`] (subscriber mode's pushes) — fed
//! what a server (or something posing as one) sends, in arbitrary pieces.

use crate::redis::stream::{parse_history, parse_message, parse_published};
use crate::redis::{Link, LinkError, RedisUrl, Reply, ReplyLimits, Subscriber, SubscriberEvent};

use super::{Reader, fnv1a, random_splits};

/// **redis_link** — a [`Link`] or a [`Subscriber`] reading a byte stream.
///
/// Input: `[mode: u8] [commands: u8] [stream ...]`. Mode bit 0: a subscriber (else a
/// link); bits 1–2: the URL has a password, a database, both or neither (so 0–2 opening
/// replies are awaited); bit 3: small limits derived from the input. `commands`: how many
/// commands the link has queued (tags 0, 1, 2 …).
///
/// Invariants: no panic; the stream fed whole, byte by byte and in pseudo-random pieces
/// (the unconsumed rest kept and the next piece appended, as the server's driver does)
/// gives the same replies or events, in the same order, and the same error; a call never
/// consumes more than it was given; after an error every later call returns it and hands
/// out nothing; a link hands out tags in order, never more than were queued (one reply
/// more is [`LinkError::Unexpected`]), and gives back exactly the unanswered ones when
/// disconnected; no reply or event holds a string, array or nesting past the limits; a
/// published message that reads ([`parse_message`]) writes back to its payload byte for
/// byte; a history or publish answer that reads has ids in order and within its last.
pub fn redis_link(data: &[u8]) {
    let mut input = Reader { data };
    let mode = input.u8();
    let commands = usize::from(input.u8());
    let stream = input.rest();
    let url = match (mode >> 1) & 3 {
        0 => "redis://127.0.0.1",
        1 => "redis://:secret@127.0.0.1",
        2 => "redis://127.0.0.1/3",
        _ => "redis://app:secret@127.0.0.1/3",
    };
    let url = RedisUrl::parse(url).expect("a valid URL");
    let h = fnv1a(data, 0x4c49_4e4b);
    let limits = if mode & 8 == 0 {
        ReplyLimits::default()
    } else {
        ReplyLimits {
            max_bulk_len: (h % 40) as usize,
            max_array_len: ((h >> 8) % 9) as usize,
            max_depth: ((h >> 16) % 5) as usize,
            max_elements: ((h >> 24) % 30) as usize,
            max_reply_bytes: 1 + ((h >> 32) % 300) as usize,
        }
    };
    let subscriber = mode & 1 == 1;
    let feed = |splits: &[usize]| {
        if subscriber {
            feed_subscriber(&url, limits, stream, splits)
        } else {
            feed_link(&url, limits, commands, stream, splits)
        }
    };
    let whole = feed(&[]);
    let bytewise: Vec<usize> = (1..=stream.len()).collect();
    assert_eq!(whole, feed(&bytewise), "whole vs byte by byte");
    for salt in 1..=2 {
        let pieces = random_splits(stream.len(), h ^ salt);
        assert_eq!(whole, feed(&pieces), "whole vs random pieces");
    }
}

/// What a connection read: what it handed out, in order, and how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    items: Vec<String>,
    error: Option<LinkError>,
}

/// Feeds `stream` in the pieces `ends` gives (exclusive ends; empty: whole) to `read`,
/// which returns how much it consumed and what it handed out, as the driver does.
fn drive(
    stream: &[u8],
    ends: &[usize],
    mut read: impl FnMut(&[u8], &mut Vec<String>) -> Result<usize, LinkError>,
) -> Outcome {
    let whole = [stream.len()];
    let ends = if ends.is_empty() { &whole[..] } else { ends };
    let mut items = Vec::new();
    let mut buffered: Vec<u8> = Vec::new();
    let mut start = 0;
    let mut error = None;
    for &end in ends {
        buffered.extend_from_slice(&stream[start..end]);
        start = end;
        match read(&buffered, &mut items) {
            Ok(n) => {
                assert!(n <= buffered.len(), "consumed more than it was given");
                buffered.drain(..n);
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if let Some(e) = &error {
        // Failed for good: the same error, and nothing handed out.
        let before = items.len();
        assert_eq!(
            read(b"+OK\r\n", &mut items).as_ref().err(),
            Some(e),
            "failed for good"
        );
        assert_eq!(items.len(), before, "nothing handed out after the error");
    }
    Outcome { items, error }
}

fn feed_link(
    url: &RedisUrl,
    limits: ReplyLimits,
    commands: usize,
    stream: &[u8],
    ends: &[usize],
) -> Outcome {
    let mut link: Link<usize> = Link::new(url, limits);
    link.connected();
    for tag in 0..commands {
        link.command(tag, "PING");
    }
    let mut next_tag = 0;
    let outcome = drive(stream, ends, |input, items| {
        link.handle_bytes(input, |tag, reply| {
            assert_eq!(tag, next_tag, "tags in the order of their commands");
            next_tag += 1;
            check_limits(&reply, &limits, 1);
            check_readings(&reply);
            items.push(format!("{tag} {reply:?}"));
        })
    });
    assert!(next_tag <= commands, "no more replies than commands");
    if outcome.error.is_none() && next_tag == commands && !link.is_ready() {
        // Every opening reply came, or some did not: then no tag can have come either.
        assert_eq!(
            next_tag, 0,
            "a tag before the opening replies were all read"
        );
    }
    assert_eq!(
        link.disconnected(),
        (next_tag..commands).collect::<Vec<_>>(),
        "the unanswered tags, in order"
    );
    outcome
}

fn feed_subscriber(url: &RedisUrl, limits: ReplyLimits, stream: &[u8], ends: &[usize]) -> Outcome {
    let mut subscriber = Subscriber::new(url, limits);
    subscriber.connected();
    drive(stream, ends, |input, items| {
        subscriber.handle_bytes(input, |event| {
            let strings: Vec<&[u8]> = match &event {
                SubscriberEvent::Subscribed { channel, .. } => vec![channel],
                SubscriberEvent::Unsubscribed { channel, .. } => channel.iter().copied().collect(),
                SubscriberEvent::PatternSubscribed { pattern, .. } => vec![pattern],
                SubscriberEvent::PatternUnsubscribed { pattern, .. } => {
                    pattern.iter().copied().collect()
                }
                SubscriberEvent::Message { channel, payload } => vec![channel, payload],
                SubscriberEvent::PatternMessage {
                    pattern,
                    channel,
                    payload,
                } => vec![pattern, channel, payload],
                SubscriberEvent::Pong => Vec::new(),
            };
            for s in strings {
                assert!(s.len() <= limits.max_bulk_len, "a string past max_bulk_len");
            }
            if let SubscriberEvent::Message { payload, .. }
            | SubscriberEvent::PatternMessage { payload, .. } = &event
                && let Ok(message) = parse_message(payload)
            {
                let mut again = Vec::new();
                again.extend_from_slice(message.epoch.text().as_str().as_bytes());
                again.push(if message.data.is_json() { b'j' } else { b't' });
                again.extend_from_slice(message.id.to_string().as_bytes());
                again.push(b' ');
                again.extend_from_slice(message.data.as_str().as_bytes());
                assert_eq!(&again[..], *payload, "a message writes back to its payload");
            }
            items.push(format!("{event:?}"));
        })
    })
}

/// No string, array or nesting past `limits` (`depth`: this value's level, from 1).
fn check_limits(reply: &Reply<'_>, limits: &ReplyLimits, depth: usize) {
    match reply {
        Reply::Simple(text) | Reply::Error(text) | Reply::Bulk(Some(text)) => {
            assert!(
                text.len() <= limits.max_bulk_len,
                "a string past max_bulk_len"
            );
        }
        Reply::Array(Some(items)) => {
            assert!(
                items.len() <= limits.max_array_len,
                "an array past max_array_len"
            );
            assert!(depth <= limits.max_depth.max(1), "nested past max_depth");
            for item in items {
                check_limits(item, limits, depth + 1);
            }
        }
        Reply::Integer(_) | Reply::Bulk(None) | Reply::Array(None) => {}
    }
}

/// What reads as a history or a publish answer is consistent.
fn check_readings(reply: &Reply<'_>) {
    if let Ok(history) = parse_history(reply) {
        let mut before = 0;
        for (id, _) in &history.entries {
            assert!(*id > before, "entries oldest first, ids increasing");
            assert!(*id <= history.last, "no entry past the last id");
            before = *id;
        }
    }
    if let Ok(published) = parse_published(reply) {
        assert!(published.id > 0, "a published id is positive");
    }
}
