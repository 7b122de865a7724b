//! Settings of the hub (`pushwire serve`), beside the server's [`Config`](crate::Config).
//!
//! Every number here is a bound on memory a remote client could otherwise grow: what one
//! channel keeps, how many channels there are, what they keep together, how much one
//! message and one answer may be. README.md's limits table states the memory each costs.

use std::time::Duration;

use crate::config::ConfigError;
use crate::storage::disk::LogOptions;

/// How the hub keeps history, bounds its memory, and holds long-polls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubConfig {
    /// Messages each channel retains for late readers (`since=N`, reconnecting
    /// subscribers). Default 1,024. Older messages are evicted; a reader that asks for
    /// them is told how many it `missed`.
    pub history: usize,
    /// Bytes each channel retains (its messages' encoded frames), whichever of this and
    /// [`history`](Self::history) is reached first. Default 1 MiB. The newest message is
    /// always retained, so this is at least [`max_message`](Self::max_message)'s frame.
    pub history_bytes: usize,
    /// The longest message, in bytes of UTF-8 text, over HTTP and WebSocket alike.
    /// Default 64 KiB. Longer: `413` for a `POST`, close `1009` for a WebSocket.
    pub max_message: usize,
    /// Channels that may exist at once. Default 100,000. A publish or subscription that
    /// would create one more is refused with `503` (a WebSocket upgrade too).
    pub max_channels: usize,
    /// Bytes all channels retain together. Default 256 MiB. A publish that would retain
    /// more is refused with `507` (close `1013` for a WebSocket publisher) until channels
    /// expire or evict.
    pub max_retained_bytes: usize,
    /// A channel with no subscribers, no parked polls and no new message for this long is
    /// dropped with its history; its name then begins a new stream (a new epoch).
    /// Default 1 hour.
    pub channel_ttl: Duration,
    /// Messages in one poll answer when the request has no `limit=`. Default 100.
    pub poll_limit: usize,
    /// The most `limit=` may ask for; more is clamped to it. Default 1,000.
    pub max_poll_limit: usize,
    /// Bytes of messages in one poll answer: the answer stops before the message that would
    /// pass this (it always holds at least one), and `next` says where to continue.
    /// Default 1 MiB.
    pub max_batch_bytes: usize,
    /// How long a long-poll without `timeout=` is held. Default 30 s.
    pub default_poll_timeout: Duration,
    /// The longest a long-poll is held, whatever `timeout=` asks. Default 120 s.
    pub max_poll_timeout: Duration,
    /// A Server-Sent Events stream that has sent nothing for this long gets a comment
    /// line (`: keepalive`), so that proxies and load balancers that close idle
    /// connections keep it open. Default 15 s.
    pub sse_heartbeat: Duration,
    /// The reconnection delay a Server-Sent Events stream asks browsers for (its
    /// `retry:` field, WHATWG HTML §9.2.6). Default 3 s.
    pub sse_retry: Duration,
    /// Channels one connection or request may follow at once over the multi-channel
    /// endpoints (`/ws` with `pushwire.v1`, `/events`, `/poll`). Default 64. Past it: an
    /// `error` frame with status 429 over `/ws`, `429` for `/events` and `/poll`. Each
    /// subscription costs the hub a waiter entry, so this bounds what one client holds.
    pub max_subscriptions: usize,
    /// Where the streams live: in memory (lost when the process ends; a restart begins
    /// new epochs), or in a durable log on disk. Default: memory.
    pub storage: Storage,
}

/// Where the hub keeps its streams.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Storage {
    /// In memory only.
    #[default]
    Memory,
    /// In an append-only log in a directory ([`crate::storage::disk`]): recovered on
    /// start, ids and epochs continue, and with [`Fsync::Always`](crate::storage::disk::Fsync)
    /// a message acknowledged with `201` survives a crash and a power loss.
    Disk(LogOptions),
    /// In Redis, shared by every node that uses the same server and key prefix
    /// ([`crate::hub::engine::redis`]): a message published on one node reaches the
    /// subscribers of all, under ids Redis gives, and any node resumes any cursor.
    Redis(crate::hub::engine::RedisOptions),
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            history: super::DEFAULT_HISTORY,
            history_bytes: 1 << 20,
            max_message: 64 << 10,
            max_channels: 100_000,
            max_retained_bytes: 256 << 20,
            channel_ttl: Duration::from_secs(3600),
            poll_limit: 100,
            max_poll_limit: 1000,
            max_batch_bytes: 1 << 20,
            default_poll_timeout: Duration::from_secs(30),
            max_poll_timeout: Duration::from_secs(120),
            sse_heartbeat: Duration::from_secs(15),
            sse_retry: Duration::from_secs(3),
            max_subscriptions: 64,
            storage: Storage::Memory,
        }
    }
}

impl HubConfig {
    /// Checks that the limits fit together: every count is at least 1, a channel can hold
    /// one maximal message, the hub can hold one full channel, and defaults are within
    /// their maximums. The error names the field, as [`Config::validate`](crate::Config)'s
    /// does.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |field, reason| Err(ConfigError { field, reason });
        if self.history == 0 {
            return fail("history", "must be at least 1");
        }
        if self.max_channels == 0 {
            return fail("max_channels", "must be at least 1");
        }
        if self.max_subscriptions == 0 {
            return fail("max_subscriptions", "must be at least 1");
        }
        if self.poll_limit == 0 {
            return fail("poll_limit", "must be at least 1");
        }
        if self.max_poll_limit < self.poll_limit {
            return fail("max_poll_limit", "must be at least poll_limit");
        }
        if self.history_bytes < crate::hub::channel::frame_bound(self.max_message) {
            return fail(
                "history_bytes",
                "must hold one message of max_message bytes (6 times it plus 77: the worst \
                 case of JSON escaping)",
            );
        }
        if self.max_retained_bytes < self.history_bytes {
            return fail(
                "max_retained_bytes",
                "must be at least history_bytes (one full channel)",
            );
        }
        if self.max_poll_timeout < self.default_poll_timeout {
            return fail("max_poll_timeout", "must be at least default_poll_timeout");
        }
        if self.channel_ttl.is_zero() {
            return fail("channel_ttl", "must be above zero");
        }
        if self.sse_heartbeat.is_zero() {
            return fail("sse_heartbeat", "must be above zero");
        }
        Ok(())
    }
}
