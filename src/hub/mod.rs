//! The pub/sub hub: named channels with a bounded history, reached over HTTP long-polling
//! and WebSocket, sans-IO.
//!
//! Nothing here touches a socket or reads the clock. The driver routes a request here,
//! and the hub answers with what to send and to whom:
//!
//! | request | hub call | answer |
//! |---|---|---|
//! | `POST /channels/{name}` | [`message_text`], then [`Hub::publish`] | `201`, [`Fanout::published_body`]; then every [`Fanout::polls`] gets [`Fanout::poll_body`] and every [`Hub::subscribers`] gets [`Fanout::frame`] |
//! | `GET /channels/{name}?since&timeout` | [`query::PollParams::parse`], then [`Hub::poll`] | `200` at once, `204` at once (`timeout=0`), or parked until a publish or [`Hub::unpark`] at the timeout (`204`) |
//! | WebSocket `GET /channels/{name}?since` | [`Hub::subscribe`] | the [`Replay`], then one frame per publish |
//!
//! - [`query`]: channel names and the query string (`since`, `timeout`).
//! - [`channel`]: one channel's history ([`Channel`]) and the hub itself ([`Hub`]), which
//!   also keeps who is waiting on each channel, so that each waiter gets every message
//!   once, in id order.
//! - [`json`]: the JSON the hub writes, escaped by hand.
//!
//! Every message is encoded once, when it is published: its frame `{"id":N,"data":"..."}`
//! is kept with it, WebSocket subscribers are sent that text, and long-poll answers join
//! frames. A publish that completes 10,000 parked requests builds their common body once
//! and shares it ([`Fanout::poll_body`] is an `Arc<[u8]>`, for
//! [`Body::Shared`](crate::http::Body::Shared)).

use std::fmt;
use std::sync::Arc;

use crate::http::status_code::StatusCode;

pub mod channel;
pub mod config;
pub mod json;
pub mod query;
pub mod server;

pub use channel::{Batch, Channel, Fanout, Hub, Message, PollOutcome, Replay};
pub use config::HubConfig;
pub use query::{PollParams, channel_name};
pub use server::HubServer;

/// Default number of messages a channel retains (the 1,024).
pub const DEFAULT_HISTORY: usize = 1024;

/// A hub request the client got wrong. Every variant knows its status
/// ([`HubError::status`]) and says in its message what a correct request looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HubError {
    /// The path is not under `/channels/` at all (404).
    NotChannelPath,
    /// The channel name is empty, longer than 128 characters, or has a character other
    /// than `A-Z a-z 0-9 _ . -` (400).
    BadChannelName,
    /// `since` is not a non-negative integer that fits in 64 bits (400).
    BadSince,
    /// `timeout` is not a non-negative number of seconds (400).
    BadTimeout,
    /// A parameter the hub reads appears twice in the query (400): we refuse to guess
    /// which one was meant.
    DuplicateParameter(&'static str),
    /// A published body is not valid UTF-8 (400): messages are text.
    NotUtf8,
}

impl HubError {
    /// 404 for [`NotChannelPath`](HubError::NotChannelPath), 400 for everything else.
    pub fn status(&self) -> StatusCode {
        match self {
            HubError::NotChannelPath => StatusCode::NOT_FOUND,
            HubError::BadChannelName
            | HubError::BadSince
            | HubError::BadTimeout
            | HubError::DuplicateParameter(_)
            | HubError::NotUtf8 => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::NotChannelPath => f.write_str("channels live at /channels/{name}"),
            HubError::BadChannelName => f.write_str(
                "channel names are 1 to 128 characters of a-z, A-Z, 0-9, '_', '.' and '-'",
            ),
            HubError::BadSince => f.write_str("since must be a non-negative integer"),
            HubError::BadTimeout => {
                f.write_str("timeout must be a non-negative number of seconds, like 30 or 0.5")
            }
            HubError::DuplicateParameter(name) => write!(f, "{name} given more than once"),
            HubError::NotUtf8 => f.write_str("message body must be valid utf-8"),
        }
    }
}

impl std::error::Error for HubError {}

/// A published body as message text: the bytes if they are UTF-8, else
/// [`HubError::NotUtf8`]. Takes the `Vec` so valid text is not copied twice (one copy
/// into the shared `Arc<str>` is unavoidable).
pub fn message_text(body: Vec<u8>) -> Result<Arc<str>, HubError> {
    String::from_utf8(body)
        .map(Arc::from)
        .map_err(|_| HubError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bodies_become_messages_and_others_are_400() {
        assert_eq!(
            message_text(b"hi \xF0\x9F\xA6\x80".to_vec()).as_deref(),
            Ok("hi 🦀")
        );
        assert_eq!(message_text(Vec::new()).as_deref(), Ok(""));
        for bad in [&b"\xFF"[..], b"\xC3", b"a\xED\xA0\x80b", b"\xC0\xAF"] {
            assert_eq!(message_text(bad.to_vec()), Err(HubError::NotUtf8));
        }
        assert_eq!(HubError::NotUtf8.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn errors_are_400_except_a_path_outside_channels_and_read_lowercase() {
        for err in [
            HubError::NotChannelPath,
            HubError::BadChannelName,
            HubError::BadSince,
            HubError::BadTimeout,
            HubError::DuplicateParameter("since"),
            HubError::NotUtf8,
        ] {
            let expected = if err == HubError::NotChannelPath {
                404
            } else {
                400
            };
            assert_eq!(err.status().as_u16(), expected, "{err:?}");
            let text = err.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
        }
        assert_eq!(
            HubError::DuplicateParameter("timeout").to_string(),
            "timeout given more than once"
        );
    }
}
