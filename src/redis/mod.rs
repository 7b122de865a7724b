//! The Redis engine's wire pieces, sans-IO (issue 11).
//!
//! With the Redis engine, several pushwire nodes serve one set of channels: Redis holds
//! every channel's stream (its epoch, its ids, its retained history) and carries each
//! published message to every node. `docs/redis-design.md` is the plan; the engine itself,
//! which drives these pieces on the server's loop, is [`crate::hub::engine::redis`].
//! Bottom up:
//!
//! - [`resp`]: RESP2, the protocol Redis speaks. A client writes each command as an
//!   array of bulk strings ([`Command`]) and reads one reply per command, in order
//!   ([`ReplyParser`], incremental and zero-copy, within [`ReplyLimits`]).
//! - [`url`]: [`RedisUrl`], `redis://[[user]:password@]host[:port][/db]`: where to
//!   connect, what to send with `AUTH` and `SELECT`; [`resolve`], its one name lookup.
//! - [`link`]: [`Link`], the **commands** connection: requests pipelined, each reply
//!   handed back with the tag of the request it answers (Redis answers in order).
//! - [`subscriber`]: [`Subscriber`], the **subscriptions** connection, in subscriber
//!   mode: `SUBSCRIBE` sent, confirmations and published messages read as
//!   [`SubscriberEvent`]s.
//! - [`stream`]: a channel's stream as Redis keeps it — its keys, the publish and read
//!   scripts (`publish.lua`, `read.lua`), the commands that run them, the readings of
//!   their replies and of a published message.
//!
//! Both connections are outbound connections of the server's own loop, never a blocking
//! call. A reply over the parser's limits, one it cannot read, or one that nothing asked
//! for ends that connection ([`LinkError`]); the engine opens it again.

mod connection;
pub mod link;
mod resolve;
pub mod resp;
pub mod stream;
pub mod subscriber;
pub mod url;

pub use connection::LinkError;
pub use link::Link;
pub use resolve::resolve;

pub use resp::{
    Command, MAX_DEPTH_CEILING, Reply, ReplyLimit, ReplyLimits, ReplyParser, RespError,
};
pub use subscriber::{Subscriber, SubscriberEvent};
pub use url::{RedisUrl, UrlError};
