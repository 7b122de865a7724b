//! The Redis engine's one name lookup: the URL's host to an address, when the hub opens.
//!
//! A lookup blocks (the system resolver has no non-blocking interface in `std`), so it
//! is made once, before the loop runs, and never again: a node whose Redis moves to
//! another address is restarted. This file and the drivers are the only places that touch
//! `std::net` (tests/layout.rs).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use super::url::RedisUrl;

/// The first address of `url`'s host and port (an IP address is taken as it is).
pub fn resolve(url: &RedisUrl) -> io::Result<SocketAddr> {
    (url.host(), url.port())
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other("the host has no address"))
}
