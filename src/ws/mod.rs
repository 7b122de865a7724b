//! The WebSocket protocol (RFC 6455), sans-IO.
//!
//! Follow the bytes in this order:
//! [`handshake`] (HTTP Upgrade → `101`), [`frame`] (the 2–14 byte header of §5.2),
//! [`mask`] (§5.3), [`utf8`] (incremental validation for text, §8.1),
//! [`assemble`] (fragments → messages, §5.4), [`close`] (§5.5.1, §7.4),
//! and [`connection`], which ties them into one state machine per connection.
//! [`extension`] reads the `Sec-WebSocket-Extensions` grammar (§9.1), and
//! [`permessage_deflate`] negotiates RFC 7692's compression with it.

pub mod assemble;
pub mod client_handshake;
pub mod close;
pub mod compression;
pub mod connection;
pub mod error;
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod permessage_deflate;
pub mod utf8;

pub use close::CloseCode;
pub use error::{ProtocolError, SendError};
pub use frame::{FrameHeader, OpCode, Role};
