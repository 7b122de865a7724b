//! The Redis engine's wire pieces, sans-IO: RESP2 and the `redis://` URL (issue 11).
//!
//! With the Redis engine, several pushwire nodes serve one set of channels: Redis holds
//! every channel's stream (its epoch, its ids, its retained history) and carries each
//! published message to every node. `docs/redis-design.md` is the plan: the keys, the
//! publish script, and how a node mirrors the streams its clients follow. This module
//! holds what the plan's connections are built from, and no connection yet:
//!
//! - [`resp`]: RESP2, the protocol Redis speaks. A client writes each command as an
//!   array of bulk strings ([`Command`]) and reads one reply per command, in order
//!   ([`ReplyParser`], incremental and zero-copy, within [`ReplyLimits`]).
//! - [`url`]: [`RedisUrl`], `redis://[[user]:password@]host[:port][/db]`: where to
//!   connect, what to send with `AUTH` and `SELECT`.
//!
//! A node will hold two connections to Redis, both outbound connections of the server's
//! own loop, never a blocking call: one for **commands** (`EVALSHA` of the publish
//! script, `XRANGE` for history), pipelined, each reply matched to its request by order;
//! and one in **subscriber mode** (`SUBSCRIBE`), whose replies are the published messages
//! as `[message, channel, data]` arrays. A reply over the parser's limits, or one it
//! cannot read, closes that connection, which is then opened again.

pub mod resp;
pub mod url;

pub use resp::{
    Command, MAX_DEPTH_CEILING, Reply, ReplyLimit, ReplyLimits, ReplyParser, RespError,
};
pub use url::{RedisUrl, UrlError};
