//! The names the application holds: a connection's, and one request's on it.
//!
//! Both can be kept past the thing they name (another thread may answer a long-poll
//! minutes later), so both are built never to reach anything else. A [`ConnId`] carries
//! its slot's generation (see the slab); a [`RequestId`] adds the request's number on
//! its connection, so an answer to an earlier request on a keep-alive connection is
//! refused as stale instead of answering the next one.

use std::fmt;

/// Identifies one connection, and no other ever, for its whole life: its HTTP requests,
/// then, after an upgrade, its WebSocket.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    index: u32,
    generation: u32,
}

impl ConnId {
    pub(crate) fn new(index: u32, generation: u32) -> ConnId {
        ConnId { index, generation }
    }

    /// The slot index (stable while the connection lives; reused afterwards).
    pub fn index(self) -> u32 {
        self.index
    }

    /// The slot's generation when this connection was stored.
    pub fn generation(self) -> u32 {
        self.generation
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.index, self.generation)
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Identifies one HTTP request/response exchange: the connection it arrived on and its
/// number there. Answers ([`Context::respond`](crate::Context::respond),
/// [`Handle::respond`](crate::Handle::respond)) name it; once the request is answered or
/// abandoned, the id is stale and answers to it fail with
/// [`SendError::Gone`](crate::SendError::Gone).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId {
    conn: ConnId,
    exchange: u32,
}

impl RequestId {
    pub(crate) fn new(conn: ConnId, exchange: u32) -> RequestId {
        RequestId { conn, exchange }
    }

    /// The connection the request arrived on.
    pub fn conn(self) -> ConnId {
        self.conn
    }

    /// The request's number on its connection: 0 for the first, then 1, 2, …
    pub fn exchange(self) -> u32 {
        self.exchange
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.conn, self.exchange)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
