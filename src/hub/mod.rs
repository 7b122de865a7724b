//! The pub/sub hub: named channels with a bounded history, reached over HTTP long-polling
//! and WebSocket, sans-IO except for the durable log's writer thread ([`engine`]).
//!
//! The driver ([`HubServer`]) routes a request here, and the hub answers with what to
//! send and to whom:
//!
//! | request | hub call | answer |
//! |---|---|---|
//! | `POST /channels/{name}` | [`Data::from_body`] (text, or JSON with `Content-Type: application/json`), then [`Hub::publish`] (or [`Hub::prepare`], stored, [`Hub::commit`]) | `201`, [`Fanout::published_body`]; then every [`Fanout::polls`] gets [`Fanout::poll_body`] and every [`Hub::subscribers`] gets [`Fanout::frame`] |
//! | `GET /channels/{name}?since&epoch&limit&timeout` | [`query::PollParams::parse`], then [`Hub::poll`] | `200` at once (messages, or a reset), `204` at once (`timeout=0`, `HEAD`), or parked until a publish or [`Hub::unpark`] at the timeout (`204`) |
//! | WebSocket `GET /channels/{name}?since&epoch` | [`Hub::subscribe`] | the [`Subscription`]'s first frame and replay, then one frame per publish |
//! | `GET /channels/{name}` as Server-Sent Events, `GET /events?channel=…` | [`Hub::subscribe`] per channel | the first event(s) and replay, then one event per publish ([`sse`]) |
//! | WebSocket `GET /ws` (`pushwire.v1`) | [`mux::Command::parse`], then [`Hub::subscribe`], [`Hub::unsubscribe`] or a publish per command | an answer per command ([`mux`]), then one frame per publish on each channel |
//! | `GET /poll?channel=…` | [`query::MultiParams::parse`], then [`Hub::poll_within`] per channel | as a one-channel poll, for all the channels at once |
//!
//! - [`epoch`]: why ids need a stream epoch, and its text form.
//! - [`data`]: a message's data as published: text, or a JSON payload delivered as
//!   its value.
//! - [`channel`]: one channel's stream ([`Channel`]): its epoch and its history, bounded
//!   by count and bytes, and where a reader stands in it ([`Position`]).
//! - [`core`]: the hub itself ([`Hub`]): the channels, who waits on each (so that each
//!   waiter gets every message once, in id order), the hub-wide bounds, expiry.
//! - [`engine`]: where a published message waits before it is shown: nowhere (memory),
//!   or the durable log ([`crate::storage`]).
//! - [`query`]: channel names and the query string; [`json`]: the JSON the hub writes,
//!   escaped by hand, and a strict reader for it; [`config`]: the bounds.
//! - [`mux`]: `pushwire.v1`, many channels over one WebSocket: its commands and frames.
//! - [`metrics`]: `GET /metrics`, the server's and the hub's counters in the Prometheus
//!   text format.
//! - [`sse`]: the Server-Sent Events wire format (`text/event-stream`): the encoder of
//!   the hub's events, the `E:N` cursor of `id:` and `Last-Event-ID`, and a browser's
//!   parser.
//!
//! Every message is encoded once, when it is published: its frame `{"id":N,"data":"..."}`
//! (`{"id":N,"data":<value>}` for a JSON payload) is the one copy kept, WebSocket subscribers are sent that text by reference
//! ([`Context::send_shared_text`](crate::Context::send_shared_text)), and poll answers
//! are sent as pieces of the retained frames ([`Body::Pieces`](crate::http::Body::Pieces)).
//! A publish that completes 10,000 parked requests builds their common body once and
//! shares it ([`Fanout::poll_body`] is an `Arc<[u8]>`, for
//! [`Body::Shared`](crate::http::Body::Shared)).

use std::fmt;

use crate::http::status_code::StatusCode;
use crate::ws::close::CloseCode;

pub mod access;
pub mod channel;
pub mod config;
pub mod core;
pub mod data;
pub mod engine;
pub mod epoch;
mod event_streams;
pub mod json;
pub mod metrics;
pub mod mux;
pub mod query;
pub mod server;
pub mod sse;

pub use channel::{Batch, Channel, Message, Position};
pub use config::{HubConfig, Storage};
pub use core::mirror::{Applied, MirrorChange, Rewound};
pub use core::{
    Cursor, Dropped, Fanout, Hub, HubStats, PollAnswer, PollOutcome, Prepared, Replay, Subscription,
};
pub use data::{Data, DataRef};
pub use epoch::Epoch;
pub use query::{PollParams, channel_name};
pub use server::{HubServer, SUBPROTOCOL};

/// Default number of messages a channel retains (the 1,024).
pub const DEFAULT_HISTORY: usize = 1024;

/// A hub request the client got wrong, or one a bound of the hub refuses. Every variant
/// knows its status ([`HubError::status`]) and says in its message what a correct
/// request looks like, or which limit was reached.
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
    /// `epoch` is not an epoch the hub could have given (11 characters of `A-Z a-z 0-9 -
    /// _`) (400).
    BadEpoch,
    /// `limit` is not a positive integer (400).
    BadLimit,
    /// A parameter the hub reads appears twice in the query (400): we refuse to guess
    /// which one was meant.
    DuplicateParameter(&'static str),
    /// A multi-channel request (`/poll`, `/events`) names no `channel=` (400).
    NoChannel,
    /// A `since`, `epoch` or `limit` before the first `channel=` of a multi-channel
    /// request (400): it belongs to no channel.
    UngroupedParameter(&'static str),
    /// One connection or request would follow more than
    /// [`HubConfig::max_subscriptions`] channels (429).
    TooManySubscriptions,
    /// A published body is not valid UTF-8 (400): messages are text.
    NotUtf8,
    /// A body sent as `application/json` is not one JSON text (RFC 8259, strict, nested
    /// at most [`json::MAX_PAYLOAD_DEPTH`] deep) (400; close 1007 over WebSocket). Says
    /// where it stopped being JSON.
    NotJson(json::JsonError),
    /// A message longer than [`HubConfig::max_message`] (413; close 1009 over WebSocket).
    MessageTooLarge,
    /// A new channel would pass [`HubConfig::max_channels`] (503).
    TooManyChannels,
    /// Retaining the message would pass [`HubConfig::max_retained_bytes`] (507; close
    /// 1013 over WebSocket).
    MemoryFull,
    /// The durable log cannot be written (503; close 1011 over WebSocket): the message
    /// was not kept. The server's log says why.
    StorageFailed,
    /// The Redis engine is not connected, or not caught up with a channel yet (503; close
    /// 1013 over WebSocket): nothing was published or read. Try again later.
    EngineUnavailable,
}

impl HubError {
    /// 404 for a path outside `/channels/`, 413, 503 and 507 for the limits, 503 for a
    /// failed log, 400 for everything else.
    pub fn status(&self) -> StatusCode {
        match self {
            HubError::NotChannelPath => StatusCode::NOT_FOUND,
            HubError::MessageTooLarge => StatusCode::CONTENT_TOO_LARGE,
            HubError::TooManyChannels | HubError::StorageFailed | HubError::EngineUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            HubError::MemoryFull => StatusCode::INSUFFICIENT_STORAGE,
            HubError::TooManySubscriptions => StatusCode::TOO_MANY_REQUESTS,
            HubError::BadChannelName
            | HubError::BadSince
            | HubError::BadTimeout
            | HubError::BadEpoch
            | HubError::BadLimit
            | HubError::DuplicateParameter(_)
            | HubError::NoChannel
            | HubError::UngroupedParameter(_)
            | HubError::NotUtf8
            | HubError::NotJson(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The close code for a WebSocket whose message met this error (RFC 6455 §7.4.1):
    /// 1009 for a message too big, 1013 (try again later, IANA registry) for a full hub,
    /// 1007 for text that is not UTF-8 or JSON that is not JSON, 1011 for a failed log,
    /// 1008 (policy) otherwise.
    pub fn close_code(&self) -> CloseCode {
        match self {
            HubError::StorageFailed => CloseCode::INTERNAL_ERROR,
            HubError::MessageTooLarge => CloseCode::MESSAGE_TOO_BIG,
            HubError::MemoryFull | HubError::TooManyChannels | HubError::EngineUnavailable => {
                CloseCode::TRY_AGAIN_LATER
            }
            HubError::NotUtf8 | HubError::NotJson(_) => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::POLICY_VIOLATION,
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
            HubError::BadEpoch => {
                f.write_str("epoch must be the 11-character token an answer of this hub gave")
            }
            HubError::BadLimit => f.write_str("limit must be a positive integer"),
            HubError::DuplicateParameter(name) => write!(f, "{name} given more than once"),
            HubError::NoChannel => f.write_str("name the channels: channel=NAME, once for each"),
            HubError::UngroupedParameter(name) => {
                write!(f, "{name} must follow the channel= it belongs to")
            }
            HubError::TooManySubscriptions => f.write_str(
                "too many subscriptions: more channels than the hub's max subscriptions limit",
            ),
            HubError::NotUtf8 => f.write_str("message body must be valid utf-8"),
            HubError::NotJson(e) => write!(
                f,
                "message body sent as application/json is not valid JSON: {e}"
            ),
            HubError::MessageTooLarge => {
                f.write_str("message too large: longer than the hub's max message size")
            }
            HubError::TooManyChannels => {
                f.write_str("too many channels: the hub's max channels limit is reached")
            }
            HubError::MemoryFull => f.write_str(
                "hub memory full: the max retained bytes limit is reached; try again later",
            ),
            HubError::StorageFailed => {
                f.write_str("the message log cannot be written: the message was not kept")
            }
            HubError::EngineUnavailable => f.write_str(
                "the Redis engine is not connected (or not caught up with this channel yet); try again later",
            ),
        }
    }
}

impl std::error::Error for HubError {}

/// A published body as message text: the bytes if they are UTF-8 (taken, not copied),
/// else [`HubError::NotUtf8`].
pub fn message_text(body: Vec<u8>) -> Result<String, HubError> {
    String::from_utf8(body).map_err(|_| HubError::NotUtf8)
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
    fn errors_have_their_statuses_and_read_lowercase() {
        for err in [
            HubError::NotChannelPath,
            HubError::BadChannelName,
            HubError::BadSince,
            HubError::BadTimeout,
            HubError::DuplicateParameter("since"),
            HubError::NotUtf8,
            HubError::NotJson(json::JsonError {
                at: 3,
                expected: "a value",
            }),
            HubError::MessageTooLarge,
            HubError::TooManyChannels,
            HubError::MemoryFull,
            HubError::StorageFailed,
            HubError::EngineUnavailable,
            HubError::NoChannel,
            HubError::UngroupedParameter("since"),
            HubError::TooManySubscriptions,
        ] {
            let expected = match err {
                HubError::NotChannelPath => 404,
                HubError::TooManySubscriptions => 429,
                HubError::MessageTooLarge => 413,
                HubError::TooManyChannels
                | HubError::StorageFailed
                | HubError::EngineUnavailable => 503,
                HubError::MemoryFull => 507,
                _ => 400,
            };
            assert_eq!(err.status().as_u16(), expected, "{err:?}");
            let text = err.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
        }
        assert_eq!(
            HubError::DuplicateParameter("timeout").to_string(),
            "timeout given more than once"
        );
        let not_json = HubError::NotJson(json::JsonError {
            at: 3,
            expected: "a value",
        });
        assert_eq!(
            not_json.to_string(),
            "message body sent as application/json is not valid JSON: expected a value at byte 3"
        );
        assert_eq!(not_json.close_code(), CloseCode::INVALID_PAYLOAD);
    }
}
