//! HTTP/1.1 request heads (RFC 9110, RFC 9112), sans-IO.
//!
//! [`request`] parses a request head incrementally and without copying, [`target`]
//! reads the forms of its target and its `Host`, [`body`] decides how a body is framed
//! and decodes it, and [`response`] writes status lines, headers and bodies into an
//! output buffer. What a whole connection does with them — keep-alive, pipelining,
//! upgrades, deadlines — is [`crate::session`]'s.

pub mod body;
pub mod origin;
pub mod redact;
pub mod request;
pub mod response;
pub mod status_code;
pub mod target;
pub mod token;

pub use request::{HeadParser, HttpError, Request, RequestHead, Version};
pub use response::{Body, Response};
pub use status_code::StatusCode;
