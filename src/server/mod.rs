//! The server: a sans-IO core that runs every connection's protocol and the handler, and
//! a thin mio driver that moves bytes for it.
//!
//! - [`core`](self) (`core.rs`): the connection table — each connection's protocol
//!   ([`Session`](crate::session::Session) until an upgrade, then
//!   [`WsConnection`](crate::ws::connection::WsConnection); or, for a connection the
//!   handler opened, raw bytes), its input and output buffers, its deadlines — and the
//!   calls into the [`Handler`]. No sockets, no clock.
//! - `driver.rs`: [`Server`], the mio loop: accept (surviving descriptor exhaustion),
//!   connect (non-blocking, the outcome told by the socket's first readiness event), read
//!   into the core's buffers, write what the core queued, send the FINs it asks for, sleep
//!   until its next deadline. The in-memory driver in [`crate::pair`] drives the same core
//!   without sockets, on a virtual clock, the test playing the far end of each connect.
//! - `outbound.rs`: connections the handler opens itself ([`Context::connect`]): their
//!   life and [`DisconnectReason`].
//! - [`Context`]: the handler's view of the core; [`Handle`]: other threads' way in.
//! - `input.rs`, `output.rs`: a connection's byte buffers and their pools; `conn.rs` its
//!   record; `slab.rs`, `ids.rs`: [`ConnId`] and [`RequestId`], which never reach a
//!   stranger; `timers.rs`: the deadline heap.
//! - [`Stats`] (`stats.rs`): what the core counts — plain integers of the loop's thread —
//!   and [`ConnectionCounts`]; `access.rs`: the access log's records and lines.
//!
//! Connections that are not HTTP clients (the Redis engine's, to its server) fit the same
//! shape: one more `Protocol` variant in the core (`Outbound`, whose bytes the core does
//! not parse: it lends them to [`Handler::on_bytes`], which says how much it consumed), a
//! connect instead of an accept in the driver (`Transport::connect`), and
//! the same turn, buffers, pools, generational ids and backpressure. They are not HTTP
//! clients in what only clients need: no request or idle deadline, no place among
//! `max_connections`, and graceful shutdown closes them last, after the clients are gone.
//!
//! Backpressure: a connection whose unsent output is at or above the high-water mark is
//! not read (so a peer that sends but never reads cannot make us queue replies without
//! bound), and sends to it fail with [`SendError::Full`](crate::SendError::Full) — an
//! outbound connection's as a client's.

mod access;
mod conn;
mod context;
pub(crate) mod core;
mod driver;
mod handle;
mod handler;
mod ids;
mod input;
mod outbound;
mod output;
mod slab;
mod stats;
mod timers;
pub(crate) mod transport;

pub use context::Context;
pub use driver::Server;
pub use handle::{Handle, HandleError, HandleErrorKind};
pub use handler::{Handler, Upgrade};
pub use ids::{ConnId, RequestId};
pub use outbound::DisconnectReason;
pub use stats::{CloseClass, CloseCounts, ConnectionCounts, Stats, TURN_BUCKETS, TurnHistogram};

pub(crate) use handle::{Commands, Wake, channel as command_channel};
