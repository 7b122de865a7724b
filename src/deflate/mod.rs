//! DEFLATE (RFC 1951), both ways, for permessage-deflate (RFC 7692).
//!
//! Written here rather than taken from a crate: the runtime dependencies are mio, sha1,
//! base64 and rand, and permessage-deflate needs what general-purpose codecs rarely give —
//! every window size from 2^8 to 2^15, a decoder that stops at a byte budget before
//! allocating past it, and a sync flush per message.
//!
//! Both directions are sans-IO and streaming: bytes in, bytes out into the caller's
//! buffer, state kept between calls.

pub mod compress;
pub mod inflate;
mod tables;
