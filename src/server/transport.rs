//! What a driver gives the core: a way to move one connection's bytes.
//!
//! The core decides *when* to read, write, half-close and close, and what the bytes
//! mean; a [`Transport`] only does it. The mio driver's transport is its socket table;
//! the in-memory driver's ([`crate::pair::ServerPair`]) is a pair of byte queues per
//! connection. Both therefore run exactly the same turn ([`Core::turn`]), read loop and
//! write loop, and a test on the in-memory driver tests the server the mio driver runs.
//!
//! [`Core::turn`]: super::core::Core::turn

use core::net::SocketAddr;
use std::io::{self, IoSlice};

use super::ids::ConnId;

/// Byte movement for the connections of one server.
pub(crate) trait Transport {
    /// Reads what the peer of `id` has sent into `buf`, as `std::io::Read` does: `Ok(0)`
    /// is the end of its stream, `WouldBlock` means nothing more for now.
    fn read(&mut self, id: ConnId, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes a prefix of `bufs` (in order) to the peer of `id`, as
    /// `std::io::Write::write_vectored` does.
    fn write(&mut self, id: ConnId, bufs: &[IoSlice<'_>]) -> io::Result<usize>;

    /// Half-closes `id`: our FIN, after everything written.
    fn shutdown_write(&mut self, id: ConnId) -> io::Result<()>;

    /// Begins connecting `id` to `addr` without waiting (an outbound connection, see
    /// [`outbound`](super::outbound)). An error is a connect that failed at once; success
    /// means it is under way, and the driver tells the core how it ended
    /// ([`Core::connected`](super::core::Core::connected) or
    /// [`Core::connect_failed`](super::core::Core::connect_failed)).
    fn connect(&mut self, id: ConnId, addr: SocketAddr) -> io::Result<()>;

    /// The core is done with `id`: close it.
    fn close(&mut self, id: ConnId);

    /// `id` wants to be read (`read`) and has output waiting for room (`write`): a driver
    /// with readiness notification registers for that. Called whenever either may have
    /// changed.
    fn interest(&mut self, id: ConnId, read: bool, write: bool);
}
