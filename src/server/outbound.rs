//! Outbound connections: TCP connections the handler opens itself ([`Context::connect`]),
//! to a Redis server say, on the server's own loop.
//!
//! They are connections of the same table as the accepted clients, with the same
//! generational [`ConnId`](super::ConnId), buffers, pools, write high-water mark and
//! read-pausing rule; only their protocol differs: the core does not parse their bytes.
//! What arrives is lent to [`Handler::on_bytes`], which parses it in place and says how
//! much it consumed (the rest stays buffered, and more is read after it); what the handler
//! queues with [`Context::send_bytes`] is written as it is.
//!
//! A connection's life, as the handler hears it:
//!
//! ```text
//!  Context::connect ──▶ Connecting ──(established)──▶ Open ──▶ on_disconnected(reason)
//!        │                  │                           │
//!        │                  └── refused / timed out ────┴──▶ on_disconnected(reason)
//!        └── Err(ConnectError): nothing follows
//! ```
//!
//! Every id that [`Context::connect`] returns gets exactly one
//! [`Handler::on_disconnected`], whatever ends it — the peer, a failure, the handler's
//! own [`Context::close_outbound`], or the end of a graceful shutdown — and
//! [`Handler::on_connected`] before it if the connection was established. Bytes queued
//! while connecting wait, and are written once it is established.
//!
//! [`Context::connect`]: super::Context::connect
//! [`Context::send_bytes`]: super::Context::send_bytes
//! [`Context::close_outbound`]: super::Context::close_outbound
//! [`Handler::on_bytes`]: super::Handler::on_bytes
//! [`Handler::on_connected`]: super::Handler::on_connected
//! [`Handler::on_disconnected`]: super::Handler::on_disconnected

use std::fmt;
use std::io;
use std::time::Instant;

/// Where an outbound connection stands (the state of [`Protocol::Outbound`]).
///
/// [`Protocol::Outbound`]: super::conn::Protocol::Outbound
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutboundState {
    /// The connect is issued (or about to be, at the end of the turn) and not yet
    /// answered: nothing is read or written. Given up at `deadline`
    /// ([`Config::connect_timeout`](crate::Config::connect_timeout)).
    Connecting { deadline: Instant },
    /// Established: bytes move both ways.
    Open,
}

/// Why an outbound connection ended: the argument of
/// [`Handler::on_disconnected`](super::Handler::on_disconnected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The connect failed, as the system said: `ConnectionRefused` (nothing listens
    /// there), `HostUnreachable`, `NetworkUnreachable`, or another error.
    ConnectFailed(io::ErrorKind),
    /// The connect was not answered within
    /// [`Config::connect_timeout`](crate::Config::connect_timeout).
    TimedOut,
    /// The peer closed the connection (its end of the stream arrived). What it sent
    /// before was handed to [`Handler::on_bytes`](super::Handler::on_bytes); bytes the
    /// handler had queued and not yet written are dropped with it.
    PeerClosed,
    /// The connection failed while open: reset by the peer, or another socket error, as
    /// the system said.
    Broken(io::ErrorKind),
    /// The handler left
    /// [`Config::max_outbound_input`](crate::Config::max_outbound_input) bytes
    /// unconsumed: whatever it waits for can never fit, so the connection was closed.
    InputLimit,
    /// The handler closed it ([`Context::close_outbound`](super::Context::close_outbound)).
    Closed,
    /// Graceful shutdown ended: outbound connections stay open while the clients are
    /// drained (a request may be waiting for a reply on one) and are closed last.
    ShutDown,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ConnectFailed(kind) => write!(f, "connect failed: {kind}"),
            DisconnectReason::TimedOut => f.write_str("connect timed out"),
            DisconnectReason::PeerClosed => f.write_str("closed by the peer"),
            DisconnectReason::Broken(kind) => write!(f, "connection failed: {kind}"),
            DisconnectReason::InputLimit => {
                f.write_str("unconsumed input reached max_outbound_input")
            }
            DisconnectReason::Closed => f.write_str("closed by the handler"),
            DisconnectReason::ShutDown => f.write_str("closed at shutdown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_sentences_with_the_system_error() {
        let refused = DisconnectReason::ConnectFailed(io::ErrorKind::ConnectionRefused);
        assert_eq!(refused.to_string(), "connect failed: connection refused");
        let reset = DisconnectReason::Broken(io::ErrorKind::ConnectionReset);
        assert_eq!(reset.to_string(), "connection failed: connection reset");
        assert_eq!(DisconnectReason::TimedOut.to_string(), "connect timed out");
    }
}
