//! Every limit and timeout pushwire enforces, in one place, with its default and its reason.
//!
//! Limits are enforced *before* memory is allocated for the thing they bound: a frame
//! header announcing 1 GiB is refused from its 10 header bytes, a request head is refused
//! at the byte that crosses `max_head_bytes`. Each sans-IO module receives the slice of
//! this configuration it needs ([`HeadLimits`], [`WsLimits`]) so it can be tested and
//! fuzzed alone.

use crate::ws::compression::Compression;
use std::time::Duration;

use crate::http::origin::{AllowedOrigins, Cors};
use crate::http::token::is_field_value_byte;

/// Server configuration. Start from [`Config::default()`] and change fields:
///
/// ```
/// let mut config = pushwire::Config::default();
/// config.max_message_size = 64 * 1024;
/// config.max_frame_size = 64 * 1024;
/// config.ping_interval = None; // no keepalive pings
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    // ===== HTTP request head =====
    /// Largest request head (request line + headers + the blank line) in bytes.
    /// Default 16 KiB. Exceeding it answers `431 Request Header Fields Too Large`.
    pub max_head_bytes: usize,
    /// Most header fields in one request head. Default 100. Exceeding it answers `431`.
    pub max_headers: usize,
    /// Longest request target (the path and query) in bytes. Default 8 KiB.
    /// Exceeding it answers `414 URI Too Long`.
    pub max_target_len: usize,
    /// Time allowed for a whole request — head and body, a WebSocket handshake included —
    /// from its first byte. Default 10 s. Slowloris protection: a client that trickles its
    /// request gets `408 Request Timeout` and is disconnected when this runs out, however
    /// steadily the bytes come.
    pub request_timeout: Duration,
    /// Time an HTTP connection may sit between requests (or, once accepted, before its
    /// first) without a byte arriving, before it is closed quietly. Default 10 s. An
    /// idle keep-alive connection costs a file descriptor and ~200 bytes; this bounds how
    /// long a client can hold one without asking anything.
    pub idle_timeout: Duration,
    /// Largest request body (after removing chunked framing). Default 64 KiB. A larger
    /// `Content-Length` is refused at once with `413 Content Too Large`, before any body
    /// byte is read; a chunked body is refused at the chunk size that crosses the limit.
    pub max_body_bytes: usize,

    // ===== WebSocket =====
    /// Largest payload of one frame, checked from the frame header before any byte of the
    /// payload is buffered. Default 16 MiB. Exceeding it closes with 1009.
    pub max_frame_size: u64,
    /// Largest message (sum of its fragments), checked at each frame header before
    /// buffering. Default 16 MiB. Exceeding it closes with 1009. This bounds the memory
    /// one connection can make the server hold for an incoming message.
    pub max_message_size: u64,
    /// Most frames in one fragmented message. Default 4096. Exceeding it closes with 1009.
    /// Tiny fragments cost far more per byte than large ones; this bounds that cost.
    pub max_fragments: u32,
    /// Deliver large messages in pieces: a message whose first frame announces at least
    /// this many payload bytes, and that did not arrive in one read, is handed to
    /// [`Handler::on_message_part`](crate::Handler::on_message_part) piece by piece as it
    /// arrives (validated as it goes), instead of being buffered whole for
    /// [`Handler::on_message`](crate::Handler::on_message). Memory per message is then
    /// constant. Default `None`: every message arrives whole. Set it only with a handler
    /// that implements `on_message_part`.
    pub stream_messages_over: Option<u64>,
    /// After this long without any byte from the peer, the server sends a keepalive ping.
    /// Default `Some(30 s)`; `None` turns keepalive off. Keeps NAT and proxy state alive and
    /// finds dead peers that vanished without a TCP reset.
    pub ping_interval: Option<Duration>,
    /// After a keepalive ping, time allowed for any byte from the peer before the connection
    /// is dropped and reported closed with 1006. Default 30 s.
    pub pong_timeout: Duration,
    /// After the server sends a Close frame, time allowed for the peer's Close before the
    /// TCP connection is dropped anyway (RFC 6455 §7.1.1). Default 5 s.
    pub close_timeout: Duration,
    /// permessage-deflate (RFC 7692): which client offers to accept, and how our messages
    /// are compressed. Default [`Compression::off`]: offers go unanswered and every frame
    /// is as it is today. [`Compression::memory_light`] suits a hub (no window kept
    /// between messages, in either direction), [`Compression::full`] a server with few,
    /// chatty connections or a conformance test. See [`ws::compression`](crate::ws::compression).
    pub permessage_deflate: Compression,
    /// The web pages, besides the server's own, that may open a WebSocket, make requests
    /// that change state (`POST`) and read the answers (CORS). Default
    /// [`AllowedOrigins::SameOrigin`]: a request whose `Origin` names another site is
    /// refused with `403 Forbidden` when it is an upgrade (RFC 6455 §10.2) or uses an
    /// unsafe method (RFC 9110 §9.2.1); `GET` and `HEAD` are answered without CORS
    /// fields, so the browser keeps the answer from the page. Requests without `Origin`
    /// (non-browser clients, which could forge any origin anyway) are not checked. See
    /// [`http::origin`](crate::http::origin).
    pub allowed_origins: AllowedOrigins,
    /// What CORS answers to allowed origins say: the methods and request fields a
    /// preflight allows, the response fields exposed, and how long a preflight is
    /// cached. See [`Cors`].
    pub cors: Cors,

    // ===== Driver =====
    /// Write-buffer high-water mark per connection, in bytes. Default 1 MiB. While a
    /// connection's unsent output is at or above it, the server stops reading from that
    /// connection and sends to it fail with [`SendError::Full`](crate::SendError), handing the
    /// message back. A peer that never reads can make the server hold at most this plus one
    /// message.
    pub write_buffer_high_water: usize,
    /// Size of the read buffer a connection is lent while it is read. Default 256 KiB: a
    /// message that fits in one read (header included) is handed to the application
    /// without being copied, so this should exceed the common message size. The buffers
    /// are pooled: once a connection's socket is drained its buffer serves the next one,
    /// and it keeps only its unconsumed bytes, in a buffer of their own size — so an idle
    /// connection holds no read buffer. Must be at least `max_head_bytes`.
    pub read_buffer_size: usize,
    /// Most simultaneous connections. Default 16 384. Connections beyond it are accepted and
    /// closed at once, so they do not wait in the kernel's backlog.
    pub max_connections: usize,
    /// Capacity of the queue of commands sent from other threads through a
    /// [`Handle`](crate::Handle). Default 65 536. When full, `Handle` calls return the
    /// command's message with an error instead of blocking.
    pub command_queue_capacity: usize,
    /// On graceful shutdown, time allowed for peers to answer the server's Close (1001)
    /// before the remaining connections are dropped. Default 5 s.
    pub shutdown_timeout: Duration,

    // ===== Outbound connections =====
    /// Time an outbound connection ([`Context::connect`](crate::Context::connect)) may
    /// take to be established before it is given up and reported
    /// ([`DisconnectReason::TimedOut`](crate::DisconnectReason::TimedOut)). Default 10 s.
    /// The kernel's own limit is minutes (SYN retries); a handler waiting for its Redis
    /// should learn much sooner that it is unreachable, and retry.
    pub connect_timeout: Duration,
    /// Most bytes an outbound connection keeps received and unconsumed by
    /// [`Handler::on_bytes`](crate::Handler::on_bytes). Default 16 MiB. A handler that
    /// parses whole replies in place consumes nothing until a reply is complete, so the
    /// connection's input grows past the read buffer (doubling) to hold the largest reply
    /// it waits for; at this size it can never complete, and the connection is closed
    /// ([`DisconnectReason::InputLimit`](crate::DisconnectReason::InputLimit)). It bounds
    /// the memory a peer's reply can take. Never less than `read_buffer_size`.
    pub max_outbound_input: usize,

    /// Write every HTTP head and every frame, as it crosses the wire, to [`log`](Self::log)
    /// (see [`trace`](crate::trace)). Default `false`. For learning and debugging: it is
    /// slow.
    pub trace: bool,
    /// Write an access-log line to [`log`](Self::log) for every HTTP request answered and
    /// every WebSocket session ended (see [`AccessLog`](crate::log::AccessLog)). Default
    /// [`AccessLog::Off`](crate::log::AccessLog::Off): then nothing is kept per request.
    /// On, each connection keeps its peer's address and the request in progress (its
    /// method and target): about 150 bytes plus the target's length per connection.
    pub access_log: crate::log::AccessLog,
    /// Where the server's own lines go — the trace, the access log, and warnings such as
    /// running out of file descriptors. Default [`Log::stderr`](crate::log::Log::stderr)
    /// (access lines on standard output).
    pub log: crate::log::Log,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            max_target_len: 8 * 1024,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            max_fragments: 4096,
            stream_messages_over: None,
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(5),
            permessage_deflate: Compression::off(),
            allowed_origins: AllowedOrigins::SameOrigin,
            cors: Cors::default(),
            write_buffer_high_water: 1 << 20,
            read_buffer_size: 256 * 1024,
            max_connections: 16 * 1024,
            command_queue_capacity: 64 * 1024,
            shutdown_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            max_outbound_input: 16 << 20,
            trace: false,
            access_log: crate::log::AccessLog::Off,
            log: crate::log::Log::default(),
        }
    }
}

/// A configuration value that cannot work, found by [`Config::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The field at fault.
    pub field: &'static str,
    /// Why it cannot work.
    pub reason: &'static str,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid config: {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks that the values can work together. Called once when a server is bound.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |field, reason| Err(ConfigError { field, reason });
        if self.max_head_bytes < 64 {
            return fail("max_head_bytes", "must be at least 64 bytes");
        }
        if self.max_headers == 0 {
            return fail(
                "max_headers",
                "must be at least 1 (a WebSocket handshake needs 5)",
            );
        }
        if self.max_target_len == 0 || self.max_target_len > self.max_head_bytes {
            return fail("max_target_len", "must be between 1 and max_head_bytes");
        }
        if self.max_frame_size > self.max_message_size {
            return fail("max_frame_size", "must not exceed max_message_size");
        }
        if self.max_message_size > isize::MAX as u64 {
            return fail(
                "max_message_size",
                "must fit in memory (at most isize::MAX)",
            );
        }
        if self.max_fragments == 0 {
            return fail("max_fragments", "must be at least 1");
        }
        if self.read_buffer_size < 1024 {
            return fail("read_buffer_size", "must be at least 1024 bytes");
        }
        if self.read_buffer_size < self.max_head_bytes {
            // A request head must fit in the buffer it is read into.
            return fail("read_buffer_size", "must be at least max_head_bytes");
        }
        if self.write_buffer_high_water == 0 {
            return fail("write_buffer_high_water", "must be at least 1 byte");
        }
        if self.max_connections == 0 || self.max_connections > (u32::MAX as usize) {
            return fail("max_connections", "must be between 1 and 2^32 - 1");
        }
        let cors = &self.cors;
        for value in [
            &cors.allow_methods,
            &cors.allow_headers,
            &cors.expose_headers,
        ] {
            // RFC 9110 §5.5: they become field values, which hold no CR, LF or NUL.
            if !value.bytes().all(is_field_value_byte) {
                return fail("cors", "field values must be visible text (no CR, LF, NUL)");
            }
        }
        if let AllowedOrigins::List(list) = &self.allowed_origins
            && list
                .iter()
                .any(|o| o.is_empty() || !o.bytes().all(is_field_value_byte))
        {
            return fail(
                "allowed_origins",
                "each origin must be non-empty visible text",
            );
        }
        if self.command_queue_capacity == 0 {
            return fail("command_queue_capacity", "must be at least 1");
        }
        if self.connect_timeout.is_zero() {
            return fail("connect_timeout", "must be longer than zero");
        }
        Ok(())
    }

    /// The limits the HTTP request-head parser enforces.
    pub fn head_limits(&self) -> HeadLimits {
        HeadLimits {
            max_head_bytes: self.max_head_bytes,
            max_headers: self.max_headers,
            max_target_len: self.max_target_len,
        }
    }

    /// What one HTTP/1.1 session enforces (see [`Session`](crate::session::Session)).
    pub fn session_config(&self) -> crate::session::SessionConfig {
        crate::session::SessionConfig {
            head: self.head_limits(),
            max_body_bytes: self.max_body_bytes,
            request_timeout: self.request_timeout,
            idle_timeout: self.idle_timeout,
            allowed_origins: self.allowed_origins.clone(),
            cors: self.cors.clone(),
            deflate: self.permessage_deflate.negotiation.clone(),
        }
    }

    /// The limits and timeouts one WebSocket connection enforces.
    pub fn ws_limits(&self) -> WsLimits {
        WsLimits {
            max_frame_size: self.max_frame_size,
            max_message_size: self.max_message_size,
            max_fragments: self.max_fragments,
            stream_over: self.stream_messages_over.unwrap_or(u64::MAX),
            ping_interval: self.ping_interval,
            pong_timeout: self.pong_timeout,
            close_timeout: self.close_timeout,
        }
    }
}

/// Limits of the HTTP request-head parser (see the fields of [`Config`] with these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// See [`Config::max_head_bytes`].
    pub max_head_bytes: usize,
    /// See [`Config::max_headers`].
    pub max_headers: usize,
    /// See [`Config::max_target_len`].
    pub max_target_len: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        Config::default().head_limits()
    }
}

/// Limits and timeouts of one WebSocket connection (see the fields of [`Config`] with
/// these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsLimits {
    /// See [`Config::max_frame_size`].
    pub max_frame_size: u64,
    /// See [`Config::max_message_size`].
    pub max_message_size: u64,
    /// See [`Config::max_fragments`].
    pub max_fragments: u32,
    /// See [`Config::stream_messages_over`]; `u64::MAX` turns streaming off.
    pub stream_over: u64,
    /// See [`Config::ping_interval`].
    pub ping_interval: Option<Duration>,
    /// See [`Config::pong_timeout`].
    pub pong_timeout: Duration,
    /// See [`Config::close_timeout`].
    pub close_timeout: Duration,
}

impl Default for WsLimits {
    fn default() -> Self {
        Config::default().ws_limits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn frame_limit_above_message_limit_is_rejected() {
        let mut c = Config::default();
        c.max_frame_size = c.max_message_size + 1;
        assert_eq!(c.validate().unwrap_err().field, "max_frame_size");
    }
}
