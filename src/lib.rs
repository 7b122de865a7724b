//! pushwire: real-time push over WebSocket (RFC 6455) on a single mio event loop.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod http;
pub mod message;
pub mod server;
pub mod status;
pub mod ws;

pub use config::Config;
pub use error::{SendError, UsageError};
pub use message::Message;
pub use server::{ConnId, Context, Handle, HandleError, HandleErrorKind, Handler, Server, Upgrade};
pub use status::Status;
pub use ws::CloseCode;
pub use ws::connection::{CloseEvent, CloseKind};
