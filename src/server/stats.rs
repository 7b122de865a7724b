//! [`Stats`]: what the server counts as it runs, for `/metrics` and for embedders.
//!
//! Everything happens on the loop's thread, so the counters are plain integers in the
//! core — no atomics, no locks — and each is bumped where the thing it counts is decided:
//! a connection accepted or refused, bytes read or written, an answer's status, a
//! WebSocket's end. Tables are fixed arrays indexed without hashing or allocation: one
//! slot per HTTP status code, a few dozen slots for close codes, fixed buckets for the
//! turn time. The connections' states are not counted as they change but at the moment
//! they are asked for ([`ConnectionCounts`]), by a walk over the connection table: exact,
//! and free for the loop between scrapes.

use std::time::Duration;

use crate::http::StatusCode;
use crate::ws::close::CloseCode;
use crate::ws::connection::CloseKind;

/// The server's counters since it started. Read them with
/// [`Context::stats`](crate::Context::stats) or [`Server::stats`](crate::Server::stats);
/// the connections' current states are [`ConnectionCounts`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Stats {
    /// Connections accepted (given a place in the connection table).
    pub connections_accepted: u64,
    /// Connections closed as soon as they were accepted because
    /// [`Config::max_connections`](crate::Config::max_connections) were open.
    pub refused_full: u64,
    /// Connections closed as soon as they were accepted because graceful shutdown had begun.
    pub refused_shutting_down: u64,
    /// Connections refused while the process was out of file descriptors (see the
    /// driver's shedding).
    pub refused_no_descriptors: u64,
    /// Bytes read from every connection.
    pub bytes_read: u64,
    /// Bytes written to every connection.
    pub bytes_written: u64,
    /// HTTP requests that ended without their whole answer: the client left first (a
    /// parked long-poll whose client gave up, a stream it stopped reading), or the
    /// connection was closed, or the server shut down first.
    pub requests_unanswered: u64,
    /// Final answers by status (`101` for an accepted upgrade; `100 Continue` is not an
    /// answer): index `status - 100`.
    responses: Box<[u64; 900]>,
    /// WebSocket sessions ended, by close code and by who ended them.
    closes: CloseCounts,
    /// How long the loop's turns took.
    turns: TurnHistogram,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            connections_accepted: 0,
            refused_full: 0,
            refused_shutting_down: 0,
            refused_no_descriptors: 0,
            bytes_read: 0,
            bytes_written: 0,
            requests_unanswered: 0,
            responses: Box::new([0; 900]),
            closes: CloseCounts::default(),
            turns: TurnHistogram::default(),
        }
    }
}

impl Stats {
    /// How many final answers had `status`.
    pub fn responses(&self, status: StatusCode) -> u64 {
        self.responses[usize::from(status.as_u16() - 100)]
    }

    /// Every status that answered at least once, in increasing order, with its count.
    pub fn responses_by_status(&self) -> impl Iterator<Item = (StatusCode, u64)> + '_ {
        self.responses
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .filter_map(|(i, n)| Some((StatusCode::new(i as u16 + 100)?, *n)))
    }

    /// WebSocket sessions ended: see [`CloseCounts`].
    pub fn closes(&self) -> &CloseCounts {
        &self.closes
    }

    /// The duration of the loop's turns (measured by the mio driver; the in-memory one
    /// has no time passing within a turn, and records none).
    pub fn turns(&self) -> &TurnHistogram {
        &self.turns
    }

    pub(crate) fn count_response(&mut self, status: StatusCode) {
        self.responses[usize::from(status.as_u16() - 100)] += 1;
    }

    pub(crate) fn count_close(&mut self, code: CloseCode, kind: CloseKind) {
        self.closes.count(code, CloseClass::of(kind));
    }

    pub(crate) fn record_turn(&mut self, took: Duration) {
        self.turns.record(took);
    }
}

/// Who ended a WebSocket session (the label of [`CloseCounts`]): [`CloseKind`] without
/// the protocol error, whose close code says which it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CloseClass {
    /// The peer started the closing handshake ([`CloseKind::Remote`]).
    Remote,
    /// The server did ([`CloseKind::Local`]): the application, or a shutdown (1001).
    Local,
    /// The server failed the connection because the peer broke the protocol
    /// ([`CloseKind::Failed`]): 1002, 1007, 1009 (RFC 6455 §7.1.7).
    Failed,
    /// No closing handshake completed: TCP ended, or a timeout ran out (1006).
    Abnormal,
}

impl CloseClass {
    /// The class of `kind`.
    pub fn of(kind: CloseKind) -> CloseClass {
        match kind {
            CloseKind::Remote => CloseClass::Remote,
            CloseKind::Local => CloseClass::Local,
            CloseKind::Failed(_) => CloseClass::Failed,
            CloseKind::Abnormal => CloseClass::Abnormal,
        }
    }

    /// `remote`, `local`, `failed` or `abnormal`.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseClass::Remote => "remote",
            CloseClass::Local => "local",
            CloseClass::Failed => "failed",
            CloseClass::Abnormal => "abnormal",
        }
    }
}

/// Distinct (code, class) pairs [`CloseCounts`] keeps apart; the RFC's codes and their
/// classes fit many times over, and a peer sending every application code (3000–4999)
/// in turn fills it without growing it.
const CLOSE_SLOTS: usize = 48;

/// WebSocket sessions ended, by close code ([`CloseEvent::code`]) and [`CloseClass`]:
/// a fixed table of the pairs seen first, looked up by a scan (a close is rare next to a
/// message), and one count for whatever did not fit.
///
/// [`CloseEvent::code`]: crate::CloseEvent::code
#[derive(Debug, Clone)]
pub struct CloseCounts {
    slots: [(CloseCode, CloseClass, u64); CLOSE_SLOTS],
    used: usize,
    overflow: u64,
}

impl Default for CloseCounts {
    fn default() -> Self {
        CloseCounts {
            slots: [(CloseCode::NORMAL, CloseClass::Abnormal, 0); CLOSE_SLOTS],
            used: 0,
            overflow: 0,
        }
    }
}

impl CloseCounts {
    fn count(&mut self, code: CloseCode, class: CloseClass) {
        let used = &mut self.slots[..self.used];
        if let Some(slot) = used.iter_mut().find(|s| s.0 == code && s.1 == class) {
            slot.2 += 1;
        } else if self.used < CLOSE_SLOTS {
            self.slots[self.used] = (code, class, 1);
            self.used += 1;
        } else {
            self.overflow += 1;
        }
    }

    /// Every (code, class) seen, by code and then class, with its count.
    pub fn iter(&self) -> impl Iterator<Item = (CloseCode, CloseClass, u64)> + '_ {
        let mut seen = self.slots[..self.used].to_vec();
        seen.sort_unstable_by_key(|&(code, class, _)| (code.as_u16(), class));
        seen.into_iter()
    }

    /// How many sessions ended with `code` and `class`.
    pub fn get(&self, code: CloseCode, class: CloseClass) -> u64 {
        self.slots[..self.used]
            .iter()
            .find(|s| s.0 == code && s.1 == class)
            .map_or(0, |s| s.2)
    }

    /// Sessions whose (code, class) came after the table was full.
    pub fn other(&self) -> u64 {
        self.overflow
    }
}

/// The upper bounds of the [`TurnHistogram`]'s buckets: 50 µs to 1 s, about three per
/// decade. A turn of a busy loop takes tens of microseconds; one of a second means every
/// connection waited that long.
pub const TURN_BUCKETS: [Duration; 14] = [
    Duration::from_micros(50),
    Duration::from_micros(100),
    Duration::from_micros(250),
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
];

/// How long the loop's turns took, from waking up to going back to sleep: counts in
/// fixed buckets ([`TURN_BUCKETS`], and one above the last), their sum and their number.
#[derive(Debug, Clone, Default)]
pub struct TurnHistogram {
    /// Turns in each bucket alone (not cumulative); the last is above 1 s.
    counts: [u64; TURN_BUCKETS.len() + 1],
    sum: Duration,
}

impl TurnHistogram {
    fn record(&mut self, took: Duration) {
        let bucket = TURN_BUCKETS.partition_point(|&bound| bound < took);
        self.counts[bucket] += 1;
        self.sum += took;
    }

    /// Each bucket's upper bound with the number of turns that took at most that long
    /// (cumulative, as Prometheus's `le` buckets are).
    pub fn cumulative(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        TURN_BUCKETS
            .iter()
            .zip(self.counts.iter())
            .scan(0, |total, (&bound, &n)| {
                *total += n;
                Some((bound, *total))
            })
    }

    /// The number of turns recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Their total duration.
    pub fn sum(&self) -> Duration {
        self.sum
    }
}

/// The connections now, by transport and state: counted when asked for
/// ([`Context::connection_counts`](crate::Context::connection_counts)), by a walk over
/// the connection table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionCounts {
    /// HTTP, between requests (or before the first).
    pub http_idle: usize,
    /// HTTP, a request's head or body arriving.
    pub http_reading: usize,
    /// HTTP, a request with the application, not parked.
    pub http_waiting: usize,
    /// HTTP, a request parked (a long-poll).
    pub http_parked: usize,
    /// HTTP, a streamed answer under way.
    pub http_streaming: usize,
    /// WebSocket, open.
    pub websocket_open: usize,
    /// WebSocket, in its closing handshake (a Close sent, the peer's awaited).
    pub websocket_closing: usize,
    /// Finished with its protocol: the last bytes being flushed, the peer's FIN awaited.
    pub closing: usize,
    /// Outbound ([`Context::connect`](crate::Context::connect)), its connect not yet
    /// answered.
    pub outbound_connecting: usize,
    /// Outbound, established.
    pub outbound_open: usize,
}

impl ConnectionCounts {
    /// All of them.
    pub fn total(&self) -> usize {
        self.http_idle
            + self.http_reading
            + self.http_waiting
            + self.http_parked
            + self.http_streaming
            + self.websocket_open
            + self.websocket_closing
            + self.closing
            + self.outbound_connecting
            + self.outbound_open
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::ProtocolError;

    #[test]
    fn responses_are_counted_by_status_in_order() {
        let mut stats = Stats::default();
        for status in [404, 200, 200, 101, 999, 100] {
            stats.count_response(StatusCode::new(status).unwrap());
        }
        let seen: Vec<(u16, u64)> = stats
            .responses_by_status()
            .map(|(s, n)| (s.as_u16(), n))
            .collect();
        assert_eq!(seen, [(100, 1), (101, 1), (200, 2), (404, 1), (999, 1)]);
        assert_eq!(stats.responses(StatusCode::OK), 2);
        assert_eq!(stats.responses(StatusCode::CREATED), 0);
    }

    #[test]
    fn closes_are_counted_by_code_and_class_and_overflow_into_other() {
        let mut stats = Stats::default();
        stats.count_close(CloseCode::NORMAL, CloseKind::Remote);
        stats.count_close(CloseCode::NORMAL, CloseKind::Remote);
        stats.count_close(CloseCode::NORMAL, CloseKind::Local);
        let failed = CloseKind::Failed(ProtocolError::ReservedBits { rsv: 0b100 });
        stats.count_close(CloseCode::PROTOCOL_ERROR, failed);
        let closes = stats.closes();
        assert_eq!(closes.get(CloseCode::NORMAL, CloseClass::Remote), 2);
        assert_eq!(closes.get(CloseCode::PROTOCOL_ERROR, CloseClass::Failed), 1);
        let seen: Vec<(u16, CloseClass, u64)> =
            closes.iter().map(|(c, k, n)| (c.as_u16(), k, n)).collect();
        assert_eq!(
            seen,
            [
                (1000, CloseClass::Remote, 2),
                (1000, CloseClass::Local, 1),
                (1002, CloseClass::Failed, 1)
            ]
        );
        for code in 3000..3000 + CLOSE_SLOTS as u16 {
            stats.count_close(CloseCode::new(code).unwrap(), CloseKind::Remote);
        }
        assert_eq!(stats.closes().iter().count(), CLOSE_SLOTS);
        assert_eq!(
            stats.closes().other(),
            3,
            "the last three codes did not fit"
        );
        // Pairs already in the table still count there.
        stats.count_close(CloseCode::NORMAL, CloseKind::Remote);
        assert_eq!(stats.closes().get(CloseCode::NORMAL, CloseClass::Remote), 3);
    }

    #[test]
    fn turns_fall_in_the_first_bucket_that_holds_them() {
        let mut turns = TurnHistogram::default();
        for micros in [0, 50, 51, 999, 1000, 2_000_000] {
            turns.record(Duration::from_micros(micros));
        }
        let cumulative: Vec<(Duration, u64)> = turns.cumulative().collect();
        assert_eq!(cumulative.len(), TURN_BUCKETS.len());
        // `le` is inclusive: 50 µs is in the 50 µs bucket, 51 µs in the next.
        assert_eq!(cumulative[0], (Duration::from_micros(50), 2));
        assert_eq!(cumulative[1], (Duration::from_micros(100), 3));
        assert_eq!(cumulative[4], (Duration::from_millis(1), 5));
        assert_eq!(cumulative[13], (Duration::from_secs(1), 5));
        assert_eq!(turns.count(), 6, "one turn above the last bound");
        assert_eq!(turns.sum(), Duration::from_micros(2_002_100));
    }
}
