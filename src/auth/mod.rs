//! Access control: who may publish to and subscribe to which channels.
//!
//! Without it (the default) the hub lets anyone who can reach it publish and subscribe.
//! With a secret (`pushwire serve --secret-file FILE`), every publish and subscribe must
//! carry a token: claims naming the channels (exactly or by prefix), the rights (publish,
//! subscribe) and an expiry, signed with HMAC-SHA1 under the secret. The application's
//! backend, which knows its users, mints the tokens — in a few lines of any language, or
//! with `pushwire token` — and hands them to its clients, which present them as
//! `Authorization: Bearer <token>`, as `?token=<token>` (browsers' `EventSource` and
//! `WebSocket` cannot set headers), or as a WebSocket subprotocol entry `bearer.<token>`.
//! The hub never calls the backend: the signature is the proof.
//!
//! A token that is missing, malformed, forged or expired is `401 Unauthorized`; a valid
//! one that does not grant the right on that channel is `403 Forbidden`.
//!
//! - [`hmac`]: HMAC-SHA1 (RFC 2104) and a constant-time comparison.
//! - [`token`]: the token format, [`token::verify`] and [`token::mint`]. Sans-IO like the
//!   rest of the library: the time is an argument, and nothing here reads a clock, a file
//!   or a socket.

pub mod hmac;
pub mod token;
