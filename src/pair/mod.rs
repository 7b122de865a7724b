//! In-memory harnesses with a virtual clock: the protocol code without sockets, threads or
//! real time, so tests are deterministic and fast.
//!
//! - [`Pair`]: a client and a server [`WsConnection`](crate::ws::connection::WsConnection)
//!   wired together, to study the WebSocket protocol alone.
//! - [`ServerPair`]: a whole server — the same core the mio [`Server`](crate::Server)
//!   drives, with your [`Handler`](crate::Handler) — and its clients, each a pair of byte
//!   queues. Use it to test a handler: requests, keep-alive, long-polls on a virtual
//!   clock, upgrades, WebSocket clients, backpressure from a client that stops reading.

mod server;
mod ws;

pub use server::{Peer, ServerPair};
pub use ws::{OwnedEvent, Pair};
