//! pushwire: real-time push over WebSocket (RFC 6455) on a single mio event loop.
//!
//! pushwire is a small server library (and a `pushwire` command on top of it). It accepts
//! TCP connections on one non-blocking [mio] loop, reads HTTP/1.1 request heads, upgrades
//! WebSocket requests (RFC 6455), and hands everything else to the application as plain
//! HTTP requests.
//!
//! # Embedding
//!
//! Implement [`Handler`] for the callbacks you need and run a [`Server`]. Other threads
//! talk to the loop through a [`Handle`].
//!
//! ```
//! use pushwire::{Config, ConnId, Context, Handler, Message, Server};
//!
//! /// Echoes every message back to its sender.
//! struct Echo;
//!
//! impl Handler for Echo {
//!     fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
//!         let _ = ctx.send(conn, &message);
//!     }
//! }
//!
//! let mut server = Server::bind("127.0.0.1:0".parse()?, Config::default())?;
//! let url = format!("ws://{}/", server.local_addr());
//! let handle = server.handle();
//!
//! // A client on another thread; when it is done it shuts the server down.
//! let client = std::thread::spawn(move || {
//!     let (mut ws, _) = tungstenite::connect(url).expect("handshake");
//!     ws.send("hello".into()).expect("send");
//!     let reply = ws.read().expect("echo");
//!     handle.shutdown().expect("server is running");
//!     reply
//! });
//!
//! server.run(&mut Echo)?; // returns once graceful shutdown completes
//! assert_eq!(client.join().unwrap().into_text()?, "hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Following the bytes
//!
//! The protocol code is *sans-IO*: it never touches a socket or reads the clock. Bytes go
//! in, events and bytes come out, time is an argument. Only [`server`] does IO.
//!
//! ```text
//!  socket ──read──▶ shared read buffer
//!                        │
//!            ┌───────────┴─ HTTP phase ────────────────────────────────┐
//!            │ http::request   incremental request-head parser (Partial │
//!            │                 until the blank line; limits → 4xx)      │
//!            │ ws::handshake   RFC 6455 §4.2 checks → 101 / 400 / 426   │
//!            └───────────┬──────────────────────────────────────────────┘
//!                        │ upgraded
//!            ┌───────────┴─ WebSocket phase ───────────────────────────┐
//!            │ ws::frame       frame header (§5.2): lengths, RSV, mask │
//!            │ ws::mask        unmask in place (§5.3)                  │
//!            │ ws::assemble    fragments → message (§5.4)              │
//!            │ ws::utf8        text validated as it arrives (§8.1)     │
//!            │ ws::close       close codes and payloads (§5.5.1, §7.4) │
//!            │ ws::connection  the state machine tying them together   │
//!            └───────────┬──────────────────────────────────────────────┘
//!                        │ events                    ▲ send / close
//!                        ▼                           │
//!                    Handler callbacks ──── Context ─┘
//!                                                    │ frames into the write buffer
//!  socket ◀──write── (one write per connection per turn of the loop)
//! ```
//!
//! Start with [`ws::connection`]; its module documentation walks through a frame's life.
//! Every limit is a field of [`Config`], with its default and reason.
//!
//! # Errors
//!
//! A peer that breaks the protocol gets the RFC's answer on the wire — an HTTP status
//! ([`http::HttpError::status`]) or a close code ([`ws::ProtocolError::close_code`]) —
//! and the application learns of it through [`Handler::on_close`]. Calls the application
//! makes return [`SendError`]: conditions to handle (`Gone`, `NotOpen`, `Full`) or a
//! [`UsageError`] for a mistaken argument.
//!
//! [mio]: https://docs.rs/mio
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]

pub mod client;
pub mod config;
pub mod error;
// The fuzz targets' bodies: for the seed replay in `cargo test` and for `cargo fuzz`
// (which builds every crate with `--cfg fuzzing`), never for embedders.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod hub;
pub mod log;
pub mod message;
pub mod pair;
pub mod server;
pub mod session;
pub mod status;
#[cfg(test)]
mod test_rng;
pub mod trace;
pub mod ws;

pub use config::Config;
pub use error::{SendError, UsageError};
pub use http::{Request, Response, StatusCode};
pub use message::Message;
pub use server::{
    ConnId, Context, Handle, HandleError, HandleErrorKind, Handler, RequestId, Server, Upgrade,
};
pub use status::Status;
pub use ws::connection::{CloseEvent, CloseKind};
pub use ws::handshake::UpgradeRequest;
pub use ws::{CloseCode, ProtocolError};

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
