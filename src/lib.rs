//! pushwire: real-time push over WebSocket (RFC 6455) on a single mio event loop.
#![forbid(unsafe_code)]

pub mod config;
pub mod http;
pub mod status;
pub mod ws;

pub use config::Config;
pub use status::Status;
