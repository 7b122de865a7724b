//! HTTP/1.1 request heads (RFC 9110, RFC 9112), sans-IO.
//!
//! [`request`] parses a request head incrementally and without copying; [`response`]
//! writes status lines, headers and bodies into an output buffer.

pub mod body;
pub mod request;
pub mod response;
pub mod status_code;
pub mod token;

pub use request::{HeadParser, HttpError, Request, RequestHead, Version};
pub use response::{Body, Response};
pub use status_code::StatusCode;
