//! In-memory harnesses with a virtual clock: the protocol code without sockets, threads or
//! real time, so tests are deterministic and fast.
//!
//! - [`Pair`]: a client and a server [`WsConnection`](crate::ws::connection::WsConnection)
//!   wired together, to study the WebSocket protocol alone.
//! - [`ServerPair`]: a whole server — the same core the mio [`Server`](crate::Server)
//!   drives, with your [`Handler`](crate::Handler) — and its clients, each a pair of byte
//!   queues. Use it to test a handler: requests, keep-alive, long-polls on a virtual
//!   clock, upgrades, WebSocket clients, backpressure from a client that stops reading.
//!
//! Either can compress: [`Pair::connect_with_deflate`] and
//! [`ServerPair::ws_connect_with_deflate`] have the client offer permessage-deflate
//! (RFC 7692) with a [`ClientCompression`](crate::client::ClientCompression), and the
//! server answer as its configuration says.

mod server;
mod ws;

pub use server::{Peer, ServerPair};
pub use ws::{OwnedEvent, Pair};
