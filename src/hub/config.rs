//! Settings of the hub (`pushwire serve`), beside the server's [`Config`](crate::Config).

use std::time::Duration;

/// How the hub keeps history and holds long-polls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubConfig {
    /// Messages each channel retains for late readers (`since=N`, reconnecting
    /// subscribers). Default 1,024. Older messages are evicted; a reader that asks for
    /// them is told how many it `missed`.
    pub history: usize,
    /// How long a long-poll without `timeout=` is held. Default 30 s.
    pub default_poll_timeout: Duration,
    /// The longest a long-poll is held, whatever `timeout=` asks. Default 120 s.
    pub max_poll_timeout: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            history: super::DEFAULT_HISTORY,
            default_poll_timeout: Duration::from_secs(30),
            max_poll_timeout: Duration::from_secs(120),
        }
    }
}
