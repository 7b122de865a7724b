//! The commands connection: requests pipelined, each reply handed back with what its
//! request was for.
//!
//! Redis answers the commands of one connection in the order they were sent, one reply
//! each (RESP2, without subscriptions: the [`Subscriber`](super::Subscriber) is the other
//! connection). So a [`Link`] needs no ids: it keeps a FIFO of *tags*, one per command
//! sent, and pairs each reply with the tag at the front. The caller chooses what a tag
//! is — the engine's say "the reply to this publish" or "the last reply of this history
//! read".
//!
//! Sans-IO: the caller moves [`output`](Link::output) to the socket and hands what it
//! reads to [`handle_bytes`](Link::handle_bytes); nothing here reads a clock or a socket.
//!
//! ```
//! use pushwire::redis::{Link, RedisUrl, Reply, ReplyLimits};
//!
//! let url = RedisUrl::parse("redis://127.0.0.1:6379")?;
//! let mut link = Link::new(&url, ReplyLimits::default());
//! link.connected();
//! link.command("greeting", "GET").arg("greeting");
//! link.command("counter", "INCR").arg("counter");
//! assert_eq!(link.in_flight(), 2);
//! let written = link.take_output(); // to the socket
//! assert!(written.starts_with(b"*2\r\n$3\r\nGET\r\n"));
//!
//! let mut replies = Vec::new();
//! let read = link.handle_bytes(b"$2\r\nhi\r\n:7\r\n", |tag, reply| {
//!     replies.push((tag, format!("{reply:?}")))
//! });
//! assert_eq!(read, Ok(12));
//! assert_eq!(replies[0].0, "greeting");
//! assert_eq!(replies[1].0, "counter");
//! # Ok::<(), pushwire::redis::UrlError>(())
//! ```

use std::collections::VecDeque;

use super::connection::{LinkError, Wire};
use super::resp::{Command, Reply, ReplyLimits};
use super::url::RedisUrl;

/// One commands connection's state (see the module docs). `T` is what each command's
/// reply is for.
#[derive(Debug)]
pub struct Link<T> {
    wire: Wire,
    /// One per command sent after the opening ones, in order.
    awaited: VecDeque<T>,
}

impl<T> Link<T> {
    /// A link for `url`: its `AUTH` and `SELECT` are queued first. Replies are read within
    /// `limits`.
    pub fn new(url: &RedisUrl, limits: ReplyLimits) -> Self {
        Link {
            wire: Wire::new(url, limits),
            awaited: VecDeque::new(),
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

    /// Why the link failed, once it has: it reads nothing more.
    pub fn error(&self) -> Option<&LinkError> {
        self.wire.error()
    }

    /// Begins a command whose reply is for `tag`; add its arguments to the [`Command`].
    pub fn command(&mut self, tag: T, name: &str) -> Command<'_> {
        self.awaited.push_back(tag);
        Command::new(self.wire.out(), name)
    }

    /// Queues `commands`, already encoded, and one tag for each command in them, in order.
    /// The caller promises that the counts agree: replies would be paired with the wrong
    /// tags otherwise.
    pub fn request(&mut self, tags: impl IntoIterator<Item = T>, commands: &[u8]) {
        self.awaited.extend(tags);
        self.wire.out().extend_from_slice(commands);
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

    /// Bytes queued and not written: what the caller watches to refuse new work while
    /// Redis is not reading.
    pub fn queued_bytes(&self) -> usize {
        self.wire.output().len()
    }

    /// Commands sent (or queued) whose replies have not come.
    pub fn in_flight(&self) -> usize {
        self.awaited.len()
    }

    /// Reads every complete reply in `input`, handing each to `on_reply` with its tag,
    /// and returns how many bytes it consumed: the rest is the beginning of a reply, to
    /// be passed again with what follows it. An error ends the link (every later call
    /// returns it): a malformed or oversized reply, a refused opening command, or a reply
    /// that nothing awaits.
    pub fn handle_bytes(
        &mut self,
        input: &[u8],
        mut on_reply: impl FnMut(T, Reply<'_>),
    ) -> Result<usize, LinkError> {
        let awaited = &mut self.awaited;
        self.wire.read(input, |reply| {
            let tag = awaited
                .pop_front()
                .ok_or(LinkError::Unexpected("a reply no command asked for"))?;
            on_reply(tag, reply);
            Ok(())
        })
    }

    /// The connection ended: the tags whose replies will never come, oldest first.
    pub fn disconnected(self) -> Vec<T> {
        self.awaited.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> RedisUrl {
        RedisUrl::parse(text).unwrap()
    }

    fn collect(
        link: &mut Link<u32>,
        input: &[u8],
    ) -> (Result<usize, LinkError>, Vec<(u32, String)>) {
        let mut got = Vec::new();
        let read = link.handle_bytes(input, |tag, reply| got.push((tag, format!("{reply:?}"))));
        (read, got)
    }

    #[test]
    fn opening_commands_go_first_and_their_replies_are_not_handed_out() {
        let mut link = Link::new(&url("redis://app:pw@127.0.0.1/3"), ReplyLimits::default());
        link.command(1, "PING").finish();
        assert_eq!(
            link.output(),
            b"*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$2\r\npw\r\n\
              *2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n"
        );
        link.connected();
        assert!(!link.is_ready(), "AUTH and SELECT not answered yet");
        let (read, got) = collect(&mut link, b"+OK\r\n+OK\r\n+PONG\r\n");
        assert_eq!(read, Ok(17));
        assert_eq!(got, vec![(1, "Simple(\"PONG\")".to_string())]);
        assert!(link.is_ready());
    }

    #[test]
    fn a_password_alone_authenticates_the_default_user_and_db_0_needs_no_select() {
        let link: Link<u32> = Link::new(&url("redis://:pw@h"), ReplyLimits::default());
        assert_eq!(link.output(), b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n");
        let link: Link<u32> = Link::new(&url("redis://h"), ReplyLimits::default());
        assert!(link.output().is_empty());
    }

    #[test]
    fn a_refused_auth_ends_the_link_and_says_so() {
        let mut link = Link::new(&url("redis://:wrong@h"), ReplyLimits::default());
        link.connected();
        link.command(1, "PING").finish();
        let (read, got) = collect(&mut link, b"-WRONGPASS invalid password\r\n+PONG\r\n");
        let e = read.unwrap_err();
        assert_eq!(
            e.to_string(),
            "redis refused AUTH: WRONGPASS invalid password"
        );
        assert!(got.is_empty());
        assert_eq!(link.error(), Some(&e));
        assert_eq!(
            collect(&mut link, b"+PONG\r\n").0,
            Err(e),
            "failed for good"
        );
    }

    #[test]
    fn replies_pair_with_tags_in_order_however_the_bytes_are_split() {
        let input: &[u8] = b"$5\r\nhello\r\n:42\r\n*2\r\n$1\r\na\r\n$-1\r\n-ERR no\r\n";
        for split in 0..=input.len() {
            let mut link = Link::new(&url("redis://h"), ReplyLimits::default());
            link.connected();
            for tag in 1..=4 {
                link.command(tag, "X").finish();
            }
            let mut got = Vec::new();
            let mut buffered = input[..split].to_vec();
            let n = link
                .handle_bytes(&buffered, |t, r| got.push((t, format!("{r:?}"))))
                .unwrap();
            buffered.drain(..n);
            buffered.extend_from_slice(&input[split..]);
            let n = link
                .handle_bytes(&buffered, |t, r| got.push((t, format!("{r:?}"))))
                .unwrap();
            assert_eq!(n, buffered.len(), "split at {split}");
            let tags: Vec<u32> = got.iter().map(|(t, _)| *t).collect();
            assert_eq!(tags, [1, 2, 3, 4], "split at {split}");
            assert_eq!(got[3].1, "Error(\"ERR no\")");
            assert_eq!(link.in_flight(), 0);
        }
    }

    #[test]
    fn a_reply_nothing_asked_for_ends_the_link() {
        let mut link: Link<u32> = Link::new(&url("redis://h"), ReplyLimits::default());
        link.connected();
        let (read, _) = collect(&mut link, b"+OK\r\n");
        assert_eq!(
            read,
            Err(LinkError::Unexpected("a reply no command asked for"))
        );
    }

    #[test]
    fn a_reply_over_the_limits_ends_the_link() {
        let limits = ReplyLimits {
            max_bulk_len: 4,
            ..ReplyLimits::default()
        };
        let mut link = Link::new(&url("redis://h"), limits);
        link.connected();
        link.command(1, "GET").arg("k");
        let (read, got) = collect(&mut link, b"$5\r\n");
        assert!(matches!(read, Err(LinkError::Resp(_))), "{read:?}");
        assert!(got.is_empty());
    }

    #[test]
    fn the_tags_of_unanswered_commands_come_back_on_disconnect() {
        let mut link = Link::new(&url("redis://h"), ReplyLimits::default());
        link.connected();
        for tag in 1..=3 {
            link.command(tag, "PING").finish();
        }
        let (read, _) = collect(&mut link, b"+PONG\r\n");
        assert_eq!(read, Ok(7));
        assert_eq!(link.disconnected(), vec![2, 3]);
    }

    #[test]
    fn output_is_written_in_pieces_and_new_commands_follow_the_unsent_rest() {
        let mut link = Link::new(&url("redis://h"), ReplyLimits::default());
        link.command(1, "PING").finish();
        assert_eq!(link.queued_bytes(), 14);
        link.output_sent(4);
        assert_eq!(link.output(), b"$4\r\nPING\r\n");
        link.request([2], b"*1\r\n$4\r\nQUIT\r\n");
        assert_eq!(link.output(), b"$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n");
        assert_eq!(link.take_output().len(), 24);
        assert_eq!(link.queued_bytes(), 0);
        assert_eq!(link.in_flight(), 2);
    }
}
