//! Who follows channels, and what their deliveries look like on the wire.
//!
//! A connection follows channels in one of four ways — one channel or several, over a
//! WebSocket or a Server-Sent Events stream — and each way has its own shape for the same
//! three things: a message, a `missed` notice, and the answer to subscribing.
//!
//! | follower | message | missed |
//! |---|---|---|
//! | WebSocket on `/channels/{name}` | `{"id":N,"data":...}` | `{"missed":K}` |
//! | SSE on `/channels/{name}` | `id: E:N` + `data: {"id":N,...}` | `event: missed` |
//! | `/ws` (`pushwire.v1`) | `{"type":"message","channel":"a",...}` | `{"type":"missed",...}` |
//! | SSE on `/events` | `data: {"type":"message","channel":"a",...}` | `data: {"type":"missed",...}` |
//!
//! The hub keeps who waits on which channel ([`Hub`](crate::hub::Hub), keyed by the
//! connection); this module keeps, per connection, how to reach it and which channels it
//! follows, so that a publish is rendered once per shape and a closing connection lets go
//! of every channel it had.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::error::SendError;
use crate::hub::epoch::Epoch;
use crate::hub::{json, mux, sse};
use crate::server::{ConnId, Context, RequestId};
use crate::ws::compression::SharedMessage;

/// How one connection follows its channels.
#[derive(Debug)]
pub(super) enum Follower {
    /// A WebSocket upgraded on `/channels/{name}`.
    Socket {
        /// Its one channel.
        channel: String,
        /// Decided at the upgrade ([`access`](crate::hub::access)): may it publish over
        /// the socket?
        may_publish: bool,
    },
    /// `GET /channels/{name}` as Server-Sent Events.
    Stream {
        /// Its one channel.
        channel: String,
        /// The streamed request.
        request: RequestId,
    },
    /// A WebSocket on `/ws` speaking `pushwire.v1`: many channels, by command.
    Multiplexed(Box<Multiplexed>),
    /// `GET /events`: Server-Sent Events of several channels.
    MultiStream {
        /// Its channels, fixed by the query.
        channels: Box<[String]>,
        /// The streamed request.
        request: RequestId,
    },
}

/// A `pushwire.v1` connection's state.
#[derive(Debug, Default)]
pub(super) struct Multiplexed {
    /// The channels it is subscribed to, at most
    /// [`max_subscriptions`](crate::hub::HubConfig::max_subscriptions) (a short list:
    /// searched, not hashed).
    pub(super) channels: Vec<String>,
    /// The bearer token its upgrade carried: every later command is judged by it.
    pub(super) token: Option<String>,
    /// Answers (`subscribed`, `ack`, `error`, …) that found the write buffer full, sent
    /// first when it drains. While any wait, deliveries to the connection pause too, so
    /// that a channel's `subscribed` always comes before its messages.
    pub(super) answers: VecDeque<String>,
}

/// The most answers a `pushwire.v1` connection may leave unread in its queue: past it, a
/// client that keeps sending commands without reading what they answer is closed (1008)
/// rather than buffered without end.
pub(super) const MAX_QUEUED_ANSWERS: usize = 256;

impl Follower {
    /// The channels it follows.
    pub(super) fn channels(&self) -> &[String] {
        match self {
            Follower::Socket { channel, .. } | Follower::Stream { channel, .. } => {
                std::slice::from_ref(channel)
            }
            Follower::Multiplexed(m) => &m.channels,
            Follower::MultiStream { channels, .. } => channels,
        }
    }

    /// The streamed request, for the two Server-Sent Events followers.
    pub(super) fn stream(&self) -> Option<RequestId> {
        match self {
            Follower::Stream { request, .. } | Follower::MultiStream { request, .. } => {
                Some(*request)
            }
            Follower::Socket { .. } | Follower::Multiplexed(_) => None,
        }
    }

    /// Must deliveries wait (answers queued ahead of them)?
    pub(super) fn holds_back(&self) -> bool {
        matches!(self, Follower::Multiplexed(m) if !m.answers.is_empty())
    }

    fn shape(&self) -> Shape {
        match self {
            Follower::Socket { .. } => Shape::Plain,
            Follower::Stream { .. } => Shape::PlainEvents,
            Follower::Multiplexed(_) => Shape::Named,
            Follower::MultiStream { .. } => Shape::NamedEvents,
        }
    }

    /// Sends the `{"missed":K}` notice in this follower's shape.
    pub(super) fn send_missed(
        &self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        channel: &str,
        missed: u64,
    ) -> Result<(), SendError> {
        match self.shape() {
            Shape::Plain => ctx.send_text(conn, &json::missed_frame(missed)),
            Shape::PlainEvents => {
                let mut event = Vec::with_capacity(40);
                write_named_event(&mut event, "missed", None, &json::missed_frame(missed));
                ctx.stream(self.request(), &event)
            }
            Shape::Named => ctx.send_text(conn, &mux::missed(channel, missed)),
            Shape::NamedEvents => ctx.stream(
                self.request(),
                &sse::data_event(&mux::missed(channel, missed)),
            ),
        }
    }

    /// Sends one retained message (a replay's) in this follower's shape.
    pub(super) fn send_retained(
        &self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        channel: &str,
        epoch: Epoch,
        id: u64,
        frame: &Arc<str>,
    ) -> Result<(), SendError> {
        match self.shape() {
            Shape::Plain => ctx.send_shared_text(conn, frame),
            Shape::PlainEvents => {
                ctx.stream_shared(self.request(), &sse::message_event(epoch, id, frame))
            }
            Shape::Named => ctx.send_text(conn, &mux::message(channel, frame)),
            Shape::NamedEvents => {
                let event = sse::data_event(&mux::message(channel, frame));
                ctx.stream_shared(self.request(), &event)
            }
        }
    }

    fn request(&self) -> RequestId {
        self.stream()
            .expect("only the Server-Sent Events shapes stream")
    }
}

/// The four wire shapes (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Plain,
    PlainEvents,
    Named,
    NamedEvents,
}

/// One publish in every shape a follower may need, each made the first time one does and
/// shared by all the rest: the frame as it is, its SSE event, its `pushwire.v1` frame
/// and that frame as an event. A publish to a channel followed only by plain WebSockets
/// builds nothing beyond the frame the hub already has.
pub(super) struct Rendered<'a> {
    channel: &'a str,
    epoch: Epoch,
    id: u64,
    frame: &'a Arc<str>,
    plain: SharedMessage,
    plain_event: Option<Arc<[u8]>>,
    named: Option<SharedMessage>,
    named_event: Option<Arc<[u8]>>,
}

impl<'a> Rendered<'a> {
    /// Message `id` of `channel`'s stream `epoch`, whose frame is `frame`.
    pub(super) fn new(channel: &'a str, epoch: Epoch, id: u64, frame: &'a Arc<str>) -> Self {
        Rendered {
            channel,
            epoch,
            id,
            frame,
            plain: SharedMessage::text(Arc::clone(frame)),
            plain_event: None,
            named: None,
            named_event: None,
        }
    }

    /// Sends the message to `conn`, in `follower`'s shape.
    pub(super) fn send(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        follower: &Follower,
    ) -> Result<(), SendError> {
        let (channel, frame) = (self.channel, self.frame);
        match follower.shape() {
            // Shared by every subscriber's output (not copied into each), and compressed
            // once for all that compress it alike (permessage-deflate).
            Shape::Plain => ctx.send_shared(conn, &mut self.plain),
            Shape::PlainEvents => {
                let (epoch, id) = (self.epoch, self.id);
                let event = self
                    .plain_event
                    .get_or_insert_with(|| sse::message_event(epoch, id, frame));
                ctx.stream_shared(follower.request(), event)
            }
            Shape::Named => {
                let named = self.named.get_or_insert_with(|| {
                    SharedMessage::text(Arc::from(mux::message(channel, frame)))
                });
                ctx.send_shared(conn, named)
            }
            Shape::NamedEvents => {
                let event = self
                    .named_event
                    .get_or_insert_with(|| sse::data_event(&mux::message(channel, frame)));
                ctx.stream_shared(follower.request(), event)
            }
        }
    }
}

/// A named event (`event: kind`) with an optional `id:`: the hub's kinds and ids hold
/// no line break, so writing cannot fail.
pub(super) fn write_named_event(out: &mut Vec<u8>, kind: &str, id: Option<&str>, data: &str) {
    let written = sse::write_event(out, Some(kind), id, data);
    debug_assert!(
        written.is_ok(),
        "the hub's event names and ids are one line"
    );
}
