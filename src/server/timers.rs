//! The timer heap that feeds the event loop's poll timeout.
//!
//! Each connection knows its own next deadline (`poll_timeout` of its protocol state).
//! The loop keeps a min-heap of `(deadline, id)` and sleeps in `poll` only until the
//! earliest. Entries are never removed early: when a deadline moves, a new entry is pushed
//! only if it is *earlier* than the one already waiting, and entries that no longer match
//! their connection are skipped when they come due (lazy deletion). That keeps every
//! update O(log n) or free, which matters because a keepalive deadline moves on every
//! message received.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::ids::ConnId;

/// Min-heap of connection deadlines.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, ConnId)>>,
}

impl Timers {
    /// An empty heap.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Schedules a wake-up of `id` at `at`.
    pub(crate) fn push(&mut self, at: Instant, id: ConnId) {
        self.heap.push(Reverse((at, id)));
    }

    /// Removes and returns the earliest entry that is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, ConnId)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// The earliest entry's instant.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }
}

/// How long a loop may sleep until `at` (rounded up to a whole millisecond, so a
/// sub-millisecond wait cannot spin on a zero timeout).
pub(crate) fn wait_until(at: Instant, now: Instant) -> Duration {
    let wait = at.saturating_duration_since(now);
    let ms = wait.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(ms.min(u64::MAX as u128) as u64)
}

#[cfg(test)]
mod tests {
    use super::super::slab::Slab;
    use super::*;

    #[test]
    fn earliest_deadline_comes_out_first_and_only_when_due() {
        let mut slab = Slab::new();
        let a = slab.insert_with(|_| ());
        let b = slab.insert_with(|_| ());
        let t0 = Instant::now();
        let mut timers = Timers::new();
        timers.push(t0 + Duration::from_secs(2), a);
        timers.push(t0 + Duration::from_secs(1), b);
        assert_eq!(timers.pop_due(t0), None);
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(1)));
        let later = t0 + Duration::from_secs(3);
        assert_eq!(timers.pop_due(later).map(|e| e.1), Some(b));
        assert_eq!(timers.pop_due(later).map(|e| e.1), Some(a));
        assert_eq!(timers.pop_due(later), None);
    }

    #[test]
    fn sub_millisecond_wait_rounds_up_not_down() {
        let mut slab = Slab::new();
        let a = slab.insert_with(|_| ());
        let t0 = Instant::now();
        let mut timers = Timers::new();
        timers.push(t0 + Duration::from_micros(10), a);
        assert_eq!(
            wait_until(timers.next().unwrap(), t0),
            Duration::from_millis(1)
        );
    }
}
