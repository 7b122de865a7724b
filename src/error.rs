//! Errors of the application-facing API.
//!
//! Two families, kept apart on purpose: a [`SendError`] is a *condition* of the
//! connection (it is gone, closing, or its write buffer is full) that a correct program
//! must expect and handle; a [`UsageError`] is a *mistake* in the calling code (a close
//! code that may not be sent, a reason that does not fit). The sans-IO protocol core has
//! its own, smaller error ([`ws::SendError`](crate::ws::SendError): closing, busy, usage);
//! the server's adds what only the server can know — the connection is gone, its buffer
//! is full — as h2 keeps user errors apart from protocol ones. Violations of the protocol by
//! the peer are neither: they are [`ProtocolError`](crate::ws::ProtocolError)s and
//! [`HttpError`](crate::http::HttpError)s, each of which knows its wire answer, and they
//! reach the application only as the reason a connection closed.

use crate::ws::close::CloseCode;

/// Why a send, close or response was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// No such connection: it closed and was removed, or the id is stale (ids carry a
    /// generation, so an old id never reaches a connection that reused its slot).
    Gone,
    /// The connection exists but cannot take this now: it is not an open WebSocket (still
    /// in its HTTP phase, or closing), or it has no request waiting for a response.
    NotOpen,
    /// The connection's unsent output is at or above
    /// [`Config::write_buffer_high_water`](crate::Config::write_buffer_high_water): the
    /// peer is not reading fast enough. Nothing was queued; try again later or drop the
    /// message.
    Full,
    /// A message is being sent in parts (`send_part`) and its last part has not been
    /// sent: frames of two messages must not interleave (RFC 6455 §5.4). Try again after
    /// the last part.
    Busy,
    /// The call itself was wrong.
    Usage(UsageError),
}

/// A mistake in how the API was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// This close code may not be sent in a Close frame (RFC 6455 §7.4: 1005, 1006 and
    /// 1015 are reserved for reporting, 0–999 and 1016–2999 are unassigned or reserved).
    InvalidCloseCode(CloseCode),
    /// A close reason longer than 123 bytes (RFC 6455 §5.5: a control frame's payload is
    /// at most 125 bytes, two of which hold the code).
    CloseReasonTooLong(usize),
    /// A ping payload longer than 125 bytes (RFC 6455 §5.5).
    ControlPayloadTooLong(usize),
    /// A message part that is not the first, with no message being sent in parts.
    PartOutOfOrder,
    /// A `1xx` status given as the answer to a request: it is not a final response
    /// (RFC 9110 §15.2), so the client would go on waiting for one.
    NotFinalStatus,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Gone => f.write_str("connection is gone"),
            SendError::NotOpen => f.write_str("connection is not open for this"),
            SendError::Full => f.write_str("connection's write buffer is full"),
            SendError::Busy => f.write_str("a message is being sent in parts on this connection"),
            SendError::Usage(e) => write!(f, "{e}"),
        }
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsageError::InvalidCloseCode(c) => {
                write!(f, "close code {} may not be sent", c.as_u16())
            }
            UsageError::CloseReasonTooLong(n) => {
                write!(
                    f,
                    "close reason is {n} bytes; at most 123 fit in a close frame"
                )
            }
            UsageError::PartOutOfOrder => {
                f.write_str("a message part that is not the first, with no message begun")
            }
            UsageError::NotFinalStatus => f.write_str("a 1xx status is not a final response"),
            UsageError::ControlPayloadTooLong(n) => {
                write!(f, "control payload is {n} bytes; at most 125 are allowed")
            }
        }
    }
}

impl std::error::Error for SendError {}
impl std::error::Error for UsageError {}

impl From<UsageError> for SendError {
    fn from(e: UsageError) -> Self {
        SendError::Usage(e)
    }
}

/// Why [`Context::connect`](crate::Context::connect) did not begin a connection. Failures
/// of the connect itself (refused, unreachable, timed out) come later, as
/// [`Handler::on_disconnected`](crate::Handler::on_disconnected): the connect is
/// non-blocking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectError {
    /// Graceful shutdown has begun: no new connections, in either direction.
    ShuttingDown,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::ShuttingDown => f.write_str("the server is shutting down"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// The protocol core's refusal, seen from the server: the same conditions, among the
/// server's own (`Gone`, `Full`).
impl From<crate::ws::SendError> for SendError {
    fn from(e: crate::ws::SendError) -> Self {
        match e {
            crate::ws::SendError::NotOpen => SendError::NotOpen,
            crate::ws::SendError::Busy => SendError::Busy,
            crate::ws::SendError::Usage(e) => SendError::Usage(e),
        }
    }
}
