//! pushwire: real-time push over WebSocket (RFC 6455) on a single mio event loop.
//!
//! pushwire is a small server library (and a `pushwire` command on top of it). It accepts
//! TCP connections on one non-blocking [mio] loop, speaks HTTP/1.1 on them, upgrades
//! WebSocket requests (RFC 6455), and hands everything else to the application as plain
//! HTTP requests — to answer at once, to park (long-polling), or to stream.
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
//! in, events and bytes come out, time is an argument. The server's core
//! ([`server`]) owns every connection's state and calls the handler, but moves no byte
//! itself: a driver does that — the mio [`Server`], or the in-memory
//! [`pair::ServerPair`] that tests use — through the same core, so what the tests prove
//! is what the server does.
//!
//! ```text
//!  socket ──read──▶ the connection's input buffer (a pooled 256 KiB buffer while it is
//!                   read; unconsumed bytes stay in place, and only move, into a buffer
//!                   of their own size, when the connection goes quiet)
//!                        │
//!            ┌───────────┴─ HTTP/1.1: session::Session ─────────────────────────┐
//!            │ http::request   incremental request-head parser (Partial until the │
//!            │                 blank line; limits → 4xx); http::target its forms  │
//!            │ http::body      the one body-framing decision (RFC 9112 §6.3), and │
//!            │                 Content-Length / chunked decoding                  │
//!            │ ws::handshake   RFC 6455 §4.2 checks → Event::Upgrade / 400 / 426  │
//!            │ the rules       keep-alive, pipelining in order, HEAD, 100-continue,│
//!            │                 park, streamed answers, 408 and idle deadlines     │
//!            └───────────┬─────────────────────────────────────────────────────────┘
//!                        │ upgrade accepted: the same input buffer, now frames
//!            ┌───────────┴─ WebSocket: ws::connection::WsConnection ─────────────┐
//!            │ ws::frame       frame header (§5.2): lengths, RSV, mask           │
//!            │ ws::mask        unmask in place (§5.3)                            │
//!            │ ws::assemble    fragments → message (§5.4)                        │
//!            │ ws::utf8        text validated as it arrives (§8.1)               │
//!            │ ws::close       close codes and payloads (§5.5.1, §7.4)           │
//!            └───────────┬─────────────────────────────────────────────────────────┘
//!                        │ events (a message lent straight from the input buffer)
//!                        ▼                              ▲ send / respond / close
//!                    Handler callbacks ──── Context ────┘
//!                                                       │ into the connection's output
//!  socket ◀──write── at the end of the turn, all of a connection's queued output in
//!                    one write (or writev); 64 KiB or more leaves at once, mid-turn,
//!                    between two messages of the same read
//! ```
//!
//! Start with [`session`] for HTTP and [`ws::connection`] for WebSocket; their module
//! documentation walks through a request's and a frame's life. The pub/sub hub behind
//! `pushwire serve` is [`hub`]: one channel's stream in [`hub::channel`], why ids need
//! epochs in [`hub::epoch`], the channels and their waiters in [`hub::core`], and where a
//! message waits before it is shown in [`hub::engine`] — the durable log of [`storage`],
//! whose format and recovery are sans-IO too, and whose writer thread is
//! [`storage::disk`]. Who may publish and subscribe is [`auth`]'s: access tokens naming
//! channels, rights and an expiry, signed with HMAC-SHA1. The Redis engine (several
//! nodes, one set of channels; in progress) begins with [`redis`]: RESP2 commands and an
//! incremental reply parser, and the `redis://` URL. Every limit is a field of
//! [`Config`], with its default and reason. `docs/rfc6455.md` maps every requirement of
//! RFC 6455 that binds a server, and the RFC 9112 framing rules, to the code that
//! enforces it and the test that proves it.
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

pub mod auth;
mod calendar;
pub mod client;
pub mod config;
pub mod deflate;
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
pub mod redis;
pub mod server;
pub mod session;
pub mod status;
pub mod storage;
#[cfg(test)]
mod test_rng;
pub mod trace;
pub mod ws;

pub use config::Config;
pub use error::{ConnectError, SendError, UsageError};
pub use http::{Request, Response, StatusCode};
pub use message::Message;
pub use server::{
    ConnId, Context, DisconnectReason, Handle, HandleError, HandleErrorKind, Handler, RequestId,
    Server, Upgrade,
};
pub use status::Status;
pub use ws::connection::{CloseEvent, CloseKind};
pub use ws::handshake::UpgradeRequest;
pub use ws::{CloseCode, ProtocolError};

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
