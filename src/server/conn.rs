//! One connection's record: which protocol it speaks, its input and output bytes, and a
//! few flags. No socket: the driver keeps those, by slot index.

use std::time::Instant;

use super::input::InputBuffer;
use super::outbound::OutboundState;
use super::output::OutputBuffer;
use crate::session::Session;
use crate::ws::connection::WsConnection;

/// Which protocol a connection speaks, with the state valid in it.
#[derive(Debug)]
pub(crate) enum Protocol {
    /// HTTP/1.1: requests and responses, until an upgrade or the end.
    Http(Session),
    /// An open (or closing) WebSocket.
    WebSocket(Box<WsConnection>),
    /// Finished: flush what is queued, half-close (FIN), then read and discard until the
    /// peer closes too or `deadline` passes. Closing only after the peer has stopped
    /// sending avoids a TCP reset that could destroy our last bytes in flight
    /// (RFC 6455 §7.1.1: the server closes the TCP connection first).
    Closing { deadline: Instant },
    /// A connection the handler opened ([`Context::connect`](crate::Context::connect)):
    /// its bytes are the handler's, unparsed (see [`outbound`](super::outbound)). Not an
    /// HTTP client: no request or idle deadline, not drained by graceful shutdown (only
    /// closed at its end), not counted against `max_connections`.
    Outbound(OutboundState),
}

/// Flags of a connection, each a fact the core acts on.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Flags {
    /// On the list of connections to flush and reschedule at the end of the turn.
    pub(crate) dirty: bool,
    /// Not read, and its input not processed, while its unsent output is above the
    /// high-water mark (backpressure).
    pub(crate) paused: bool,
    /// The driver stopped reading it because it did not want input (paused, or a request
    /// waiting with a full head of pipelined bytes): when that ends, look again at once,
    /// since no readiness event will say that bytes are waiting.
    pub(crate) read_stopped: bool,
    /// The last write would have blocked: output waits for room in the kernel's buffer.
    pub(crate) write_blocked: bool,
    /// Our FIN was sent (closing, output flushed).
    pub(crate) write_shut: bool,
    /// The peer's FIN arrived. It may still be reading (a half-close), so what is queued
    /// for it is still delivered before the connection is dropped.
    pub(crate) peer_eof: bool,
    /// A send was refused with `Full`; the handler hears `on_drained` once the backlog
    /// falls to half the high-water mark.
    pub(crate) send_refused: bool,
    /// On the list of connections to look at again next turn without a readiness event
    /// (once: a connection listed twice would be processed twice a turn, each time with
    /// a fresh budget).
    pub(crate) ready: bool,
}

/// A connection in the table.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) protocol: Protocol,
    pub(crate) input: InputBuffer,
    pub(crate) output: OutputBuffer,
    /// The deadline this connection has in the timer heap, if any.
    pub(crate) timer_at: Option<Instant>,
    pub(crate) flags: Flags,
}

impl Conn {
    pub(crate) fn new(session: Session) -> Conn {
        Conn::with(Protocol::Http(session))
    }

    /// A connection that speaks `protocol` from the start.
    pub(crate) fn with(protocol: Protocol) -> Conn {
        Conn {
            protocol,
            input: InputBuffer::default(),
            output: OutputBuffer::default(),
            timer_at: None,
            flags: Flags::default(),
        }
    }

    /// The next deadline of its protocol.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match &self.protocol {
            Protocol::Http(session) => session.poll_timeout(),
            Protocol::WebSocket(ws) => ws.poll_timeout(),
            Protocol::Closing { deadline } => Some(*deadline),
            Protocol::Outbound(OutboundState::Connecting { deadline }) => Some(*deadline),
            Protocol::Outbound(OutboundState::Open) => None,
        }
    }

    /// An outbound connection whose connect is not answered yet: nothing moves.
    pub(crate) fn is_connecting(&self) -> bool {
        matches!(
            self.protocol,
            Protocol::Outbound(OutboundState::Connecting { .. })
        )
    }

    /// An outbound connection, connecting or open (not one that began closing).
    pub(crate) fn is_outbound(&self) -> bool {
        matches!(self.protocol, Protocol::Outbound(_))
    }

    pub(crate) fn is_closing(&self) -> bool {
        matches!(self.protocol, Protocol::Closing { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// An idle WebSocket costs its record in the slab, its boxed protocol state, and a
    /// timer-heap entry — about 450 bytes measured at 10,000 connections, against a budget
    /// of 1 KiB. These bounds keep that from creeping: growing either type is a decision,
    /// to be made here with the figure in mind. (168: the session's pointer to an
    /// allowed cross-origin request's `Origin`, for its CORS fields, took 8 bytes; 224:
    /// the WebSocket's pointer to its permessage-deflate state, 8 bytes, is all a
    /// connection that did not negotiate compression pays for it.)
    #[test]
    fn connection_state_stays_compact() {
        assert!(
            size_of::<Conn>() <= 168,
            "Conn is {} bytes",
            size_of::<Conn>()
        );
        assert!(
            size_of::<WsConnection>() <= 224,
            "WsConnection is {} bytes",
            size_of::<WsConnection>()
        );
        // A request waiting for its answer (a parked long-poll) holds no boxes beyond the
        // session's parser.
        assert!(
            size_of::<Protocol>() <= 72,
            "Protocol is {} bytes",
            size_of::<Protocol>()
        );
    }
}
