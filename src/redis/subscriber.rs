//! The subscriptions connection: `SUBSCRIBE` sent, published messages received.
//!
//! A connection in RESP2's subscriber mode answers no request one to one: after
//! `SUBSCRIBE a b` Redis sends a confirmation per channel, `[subscribe, a, 1]`,
//! `[subscribe, b, 2]`, and from then on, whenever anyone publishes to a channel, a
//! *push*: `[message, channel, payload]` (`[pmessage, pattern, channel, payload]` for a
//! pattern subscription). So a [`Subscriber`] keeps no FIFO, unlike the
//! [`Link`](super::Link): every reply is read on its own into a [`SubscriberEvent`].
//! Only the opening `AUTH` and `SELECT`, sent before subscriber mode begins, are answered
//! in order.
//!
//! Sans-IO, like the link: [`output`](Subscriber::output) goes to the socket, what is read
//! goes to [`handle_bytes`](Subscriber::handle_bytes).

use super::connection::{LinkError, Wire};
use super::resp::{Command, Reply, ReplyLimits};
use super::url::RedisUrl;

/// What the subscriptions connection heard; the byte slices borrow the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriberEvent<'a> {
    /// `SUBSCRIBE` took effect for `channel`; `count` channels and patterns are
    /// subscribed now.
    Subscribed {
        /// The channel.
        channel: &'a [u8],
        /// Subscriptions of this connection now.
        count: i64,
    },
    /// `UNSUBSCRIBE` took effect; `channel` is `None` when there was nothing to
    /// unsubscribe from.
    Unsubscribed {
        /// The channel.
        channel: Option<&'a [u8]>,
        /// Subscriptions left.
        count: i64,
    },
    /// `PSUBSCRIBE` took effect for `pattern`.
    PatternSubscribed {
        /// The pattern.
        pattern: &'a [u8],
        /// Subscriptions of this connection now.
        count: i64,
    },
    /// `PUNSUBSCRIBE` took effect.
    PatternUnsubscribed {
        /// The pattern, `None` when there was nothing to unsubscribe from.
        pattern: Option<&'a [u8]>,
        /// Subscriptions left.
        count: i64,
    },
    /// A message published to a subscribed channel.
    Message {
        /// The channel.
        channel: &'a [u8],
        /// What was published, byte for byte.
        payload: &'a [u8],
    },
    /// A message published to a channel that matches a subscribed pattern.
    PatternMessage {
        /// The pattern matched.
        pattern: &'a [u8],
        /// The channel published to.
        channel: &'a [u8],
        /// What was published.
        payload: &'a [u8],
    },
    /// The answer to [`Subscriber::ping`].
    Pong,
}

/// One subscriptions connection's state (see the module docs).
#[derive(Debug)]
pub struct Subscriber {
    wire: Wire,
}

impl Subscriber {
    /// A subscriber for `url`: its `AUTH` and `SELECT` are queued first. (`SELECT`
    /// matters even here: Redis pub/sub ignores the database, but a wrong number must be
    /// refused the same way on both connections.)
    pub fn new(url: &RedisUrl, limits: ReplyLimits) -> Self {
        Subscriber {
            wire: Wire::new(url, limits),
        }
    }

    /// The TCP connection is established.
    pub fn connected(&mut self) {
        self.wire.connected();
    }

    /// Connected, and the opening commands answered `+OK`.
    pub fn is_ready(&self) -> bool {
        self.wire.is_ready()
    }

    /// Why it failed, once it has.
    pub fn error(&self) -> Option<&LinkError> {
        self.wire.error()
    }

    /// Queues `SUBSCRIBE` of `channels` (nothing if there are none).
    pub fn subscribe(&mut self, channels: &[&[u8]]) {
        self.write("SUBSCRIBE", channels);
    }

    /// Queues `UNSUBSCRIBE` of `channels` (nothing if there are none: an `UNSUBSCRIBE`
    /// without arguments would drop every subscription).
    pub fn unsubscribe(&mut self, channels: &[&[u8]]) {
        self.write("UNSUBSCRIBE", channels);
    }

    /// Queues `PSUBSCRIBE` of `patterns`.
    pub fn psubscribe(&mut self, patterns: &[&[u8]]) {
        self.write("PSUBSCRIBE", patterns);
    }

    /// Queues `PUNSUBSCRIBE` of `patterns` (nothing if there are none).
    pub fn punsubscribe(&mut self, patterns: &[&[u8]]) {
        self.write("PUNSUBSCRIBE", patterns);
    }

    /// Queues a `PING`, answered with [`SubscriberEvent::Pong`]: the one other command
    /// subscriber mode takes, to learn that the connection still carries.
    pub fn ping(&mut self) {
        Command::new(self.wire.out(), "PING").finish();
    }

    fn write(&mut self, name: &str, args: &[&[u8]]) {
        if args.is_empty() {
            return;
        }
        let mut command = Command::new(self.wire.out(), name);
        for arg in args {
            command.arg(arg);
        }
        command.finish();
    }

    /// The bytes to write to the connection.
    pub fn output(&self) -> &[u8] {
        self.wire.output()
    }

    /// `n` bytes from the front of [`output`](Self::output) were written.
    pub fn output_sent(&mut self, n: usize) {
        self.wire.output_sent(n);
    }

    /// Takes all of [`output`](Self::output) at once.
    pub fn take_output(&mut self) -> Vec<u8> {
        self.wire.take_output()
    }

    /// Bytes queued and not written.
    pub fn queued_bytes(&self) -> usize {
        self.wire.output().len()
    }

    /// Reads every complete reply in `input` into events for `on_event`, and returns how
    /// many bytes it consumed (the rest begins a reply). An error ends the subscriber: a
    /// reply the parser refuses, a refused opening command or subscription, or a reply
    /// that is not one of subscriber mode's.
    pub fn handle_bytes(
        &mut self,
        input: &[u8],
        mut on_event: impl FnMut(SubscriberEvent<'_>),
    ) -> Result<usize, LinkError> {
        self.wire.read(input, |reply| {
            on_event(read_event(&reply)?);
            Ok(())
        })
    }

    /// The connection ended: every subscription ended with it.
    pub fn disconnected(self) {}
}

/// One reply of subscriber mode, read.
fn read_event<'a>(reply: &Reply<'a>) -> Result<SubscriberEvent<'a>, LinkError> {
    const SHAPE: LinkError = LinkError::Unexpected("not a subscriber-mode reply");
    if let Reply::Error(text) = reply {
        return Err(LinkError::Refused {
            command: "a subscription",
            message: String::from_utf8_lossy(text).into_owned(),
        });
    }
    let items = reply.as_array().ok_or(SHAPE)?;
    let kind = items.first().and_then(Reply::as_bulk).ok_or(SHAPE)?;
    let bulk = |i: usize| items.get(i).and_then(Reply::as_bulk).ok_or(SHAPE);
    let count = |i: usize| items.get(i).and_then(Reply::as_integer).ok_or(SHAPE);
    // A nil channel: an UNSUBSCRIBE when nothing was subscribed.
    let maybe = |i: usize| match items.get(i) {
        Some(Reply::Bulk(b)) => Ok(*b),
        _ => Err(SHAPE),
    };
    let event = match (kind, items.len()) {
        (b"message", 3) => SubscriberEvent::Message {
            channel: bulk(1)?,
            payload: bulk(2)?,
        },
        (b"pmessage", 4) => SubscriberEvent::PatternMessage {
            pattern: bulk(1)?,
            channel: bulk(2)?,
            payload: bulk(3)?,
        },
        (b"subscribe", 3) => SubscriberEvent::Subscribed {
            channel: bulk(1)?,
            count: count(2)?,
        },
        (b"unsubscribe", 3) => SubscriberEvent::Unsubscribed {
            channel: maybe(1)?,
            count: count(2)?,
        },
        (b"psubscribe", 3) => SubscriberEvent::PatternSubscribed {
            pattern: bulk(1)?,
            count: count(2)?,
        },
        (b"punsubscribe", 3) => SubscriberEvent::PatternUnsubscribed {
            pattern: maybe(1)?,
            count: count(2)?,
        },
        (b"pong", 2) => SubscriberEvent::Pong,
        _ => return Err(SHAPE),
    };
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriber() -> Subscriber {
        let mut s = Subscriber::new(
            &RedisUrl::parse("redis://h").unwrap(),
            ReplyLimits::default(),
        );
        s.connected();
        s
    }

    fn events(s: &mut Subscriber, input: &[u8]) -> (Result<usize, LinkError>, Vec<String>) {
        let mut got = Vec::new();
        let read = s.handle_bytes(input, |e| got.push(format!("{e:?}")));
        (read, got)
    }

    #[test]
    fn subscribe_writes_one_command_for_all_channels_and_none_for_no_channel() {
        let mut s = subscriber();
        s.subscribe(&[b"a", b"bc"]);
        s.unsubscribe(&[]);
        s.punsubscribe(&[]);
        assert_eq!(
            s.take_output(),
            b"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$2\r\nbc\r\n"
        );
    }

    #[test]
    fn every_kind_of_push_is_read_into_its_event() {
        let input: &[u8] = b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n\
            *3\r\n$7\r\nmessage\r\n$1\r\na\r\n$3\r\nhi!\r\n\
            *3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:2\r\n\
            *4\r\n$8\r\npmessage\r\n$2\r\np*\r\n$2\r\npq\r\n$0\r\n\r\n\
            *3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:1\r\n\
            *3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n\
            *3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n\
            *2\r\n$4\r\npong\r\n$0\r\n\r\n";
        let mut s = subscriber();
        let (read, got) = events(&mut s, input);
        assert_eq!(read, Ok(input.len()));
        assert_eq!(
            got,
            [
                r#"Subscribed { channel: [97], count: 1 }"#,
                r#"Message { channel: [97], payload: [104, 105, 33] }"#,
                r#"PatternSubscribed { pattern: [112, 42], count: 2 }"#,
                r#"PatternMessage { pattern: [112, 42], channel: [112, 113], payload: [] }"#,
                r#"PatternUnsubscribed { pattern: Some([112, 42]), count: 1 }"#,
                r#"Unsubscribed { channel: Some([97]), count: 0 }"#,
                r#"Unsubscribed { channel: None, count: 0 }"#,
                "Pong",
            ]
        );
    }

    #[test]
    fn a_message_split_anywhere_is_read_once() {
        let input: &[u8] = b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n";
        for split in 0..input.len() {
            let mut s = subscriber();
            let (read, got) = events(&mut s, &input[..split]);
            assert_eq!(read, Ok(0), "split at {split}");
            assert!(got.is_empty());
            let (read, got) = events(&mut s, input);
            assert_eq!(read, Ok(input.len()));
            assert_eq!(got.len(), 1, "split at {split}");
        }
    }

    #[test]
    fn opening_replies_come_before_subscriber_mode() {
        let url = RedisUrl::parse("redis://:pw@h/1").unwrap();
        let mut s = Subscriber::new(&url, ReplyLimits::default());
        s.subscribe(&[b"a"]);
        s.connected();
        assert!(!s.is_ready());
        let (read, got) = events(
            &mut s,
            b"+OK\r\n+OK\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
        );
        assert!(read.is_ok());
        assert_eq!(got.len(), 1);
        assert!(s.is_ready());
    }

    #[test]
    fn a_refused_subscription_or_a_foreign_reply_ends_the_subscriber() {
        let mut s = subscriber();
        let (read, _) = events(&mut s, b"-NOPERM no permissions\r\n");
        assert_eq!(
            read.unwrap_err().to_string(),
            "redis refused a subscription: NOPERM no permissions"
        );
        for foreign in [
            &b"+OK\r\n"[..],
            b":1\r\n",
            b"*2\r\n$7\r\nmessage\r\n$1\r\na\r\n",
            b"*0\r\n",
        ] {
            let mut s = subscriber();
            let (read, _) = events(&mut s, foreign);
            assert_eq!(
                read,
                Err(LinkError::Unexpected("not a subscriber-mode reply"))
            );
            assert!(s.error().is_some());
        }
    }
}
