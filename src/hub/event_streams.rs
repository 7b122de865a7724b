//! When the hub's Server-Sent Events streams get their keepalive comment, which keeps
//! proxies and load balancers from closing a stream that has been quiet.
//!
//! One tick for all streams, every `heartbeat`, rather than a timer each: the hub
//! writes `: keepalive` to every open stream at each tick (a stream that was just sent
//! an event gets 13 bytes more than it needed, which is cheaper than remembering, for
//! every stream, when it last sent). So no stream is quiet for longer than `heartbeat`,
//! a tick costs one pass over the subscribers, and a stream costs nothing here: the hub
//! finds its streams through the server (`Context::streamed_request`), and keeps only
//! how many there are, to know whether to tick at all. Sans-IO: time comes in as `now`.

use std::time::{Duration, Instant};

/// The keepalive's schedule.
#[derive(Debug, Default)]
pub(crate) struct Keepalive {
    /// Streams open (the tick runs while there is one).
    streams: usize,
    /// The next tick; `None` while there are no streams.
    next_tick: Option<Instant>,
}

impl Keepalive {
    /// A stream begins at `now`; the first tick is scheduled if it is the only one.
    pub(crate) fn open(&mut self, now: Instant, heartbeat: Duration) {
        self.streams += 1;
        if self.next_tick.is_none() {
            self.next_tick = Some(now + heartbeat);
        }
    }

    /// A stream ended; the ticks stop with the last.
    pub(crate) fn close(&mut self) {
        self.streams = self.streams.saturating_sub(1);
        if self.streams == 0 {
            self.next_tick = None;
        }
    }

    /// When the keepalive must run next.
    pub(crate) fn next_tick(&self) -> Option<Instant> {
        self.next_tick
    }

    /// Is the tick due at `now`? If so, the next is scheduled `heartbeat` after this
    /// one — on the tick's own cadence, so a loop that wakes a little late does not
    /// stretch every period (from `now` if it woke later than a whole period).
    pub(crate) fn due(&mut self, now: Instant, heartbeat: Duration) -> bool {
        let Some(at) = self.next_tick.filter(|at| *at <= now) else {
            return false;
        };
        self.next_tick = Some(if at + heartbeat > now {
            at + heartbeat
        } else {
            now + heartbeat
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEARTBEAT: Duration = Duration::from_secs(15);

    #[test]
    fn the_ticks_keep_their_cadence_when_the_loop_wakes_late() {
        let start = Instant::now();
        let mut keepalive = Keepalive::default();
        keepalive.open(start, HEARTBEAT);
        assert!(!keepalive.due(start + Duration::from_secs(14), HEARTBEAT));
        // Woken 300 ms late each time: still one tick per 15 s, not per 15.3 s.
        for n in 1..=20u32 {
            let late = start + HEARTBEAT * n + Duration::from_millis(300);
            assert!(keepalive.due(late, HEARTBEAT), "tick {n}");
            assert_eq!(keepalive.next_tick(), Some(start + HEARTBEAT * (n + 1)));
        }
        // Woken a whole period late: the next is a period from now.
        let very_late = start + HEARTBEAT * 40;
        assert!(keepalive.due(very_late, HEARTBEAT));
        assert_eq!(keepalive.next_tick(), Some(very_late + HEARTBEAT));
    }

    #[test]
    fn the_ticks_run_while_a_stream_is_open() {
        let start = Instant::now();
        let mut keepalive = Keepalive::default();
        assert_eq!(keepalive.next_tick(), None);
        keepalive.open(start, HEARTBEAT);
        keepalive.open(start + Duration::from_secs(5), HEARTBEAT);
        assert_eq!(keepalive.next_tick(), Some(start + HEARTBEAT));
        keepalive.close();
        assert!(keepalive.next_tick().is_some());
        keepalive.close();
        assert_eq!(keepalive.next_tick(), None);
        assert!(!keepalive.due(start + HEARTBEAT * 2, HEARTBEAT));
    }
}
