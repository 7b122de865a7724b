//! The hub's Server-Sent Events subscribers: which streamed answer is whose, and whether
//! each has sent anything lately — for the keepalive comment that keeps proxies from
//! closing an idle stream. (The channel each follows is kept with the WebSocket
//! subscribers' in the hub server, by connection.)
//!
//! Sans-IO like the rest of the hub: time comes in as `now`. The keepalive runs on one
//! tick for all streams rather than a timer each: every `heartbeat / 2` the streams that
//! sent nothing since the tick before get a comment. A stream that sent at `t` is looked
//! at by the first tick after `t` and, if it stayed quiet, commented by the second — no
//! later than `t + heartbeat`. A tick costs one pass over the streams (10,000 streams:
//! a few microseconds every 7.5 s with the default 15 s), and a stream costs 16 bytes
//! here: no clock reading is kept per stream, only the number of the tick it last sent in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::server::{ConnId, RequestId};

/// One stream: its answer's exchange on the connection, and the tick it last sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stream {
    exchange: u32,
    sent_in: u32,
}

/// Every open stream, by connection (a connection streams one answer at a time).
#[derive(Debug, Default)]
pub(crate) struct EventStreams {
    streams: HashMap<ConnId, Stream>,
    /// Ticks done so far (wrapping: only equality with a stream's `sent_in` matters).
    ticks: u32,
    /// The next keepalive tick; `None` while there are no streams.
    next_tick: Option<Instant>,
}

impl EventStreams {
    /// The stream of `request` begins at `now` (it has just sent its first event); the
    /// first tick is scheduled if it is the only one.
    pub(crate) fn open(&mut self, request: RequestId, now: Instant, heartbeat: Duration) {
        if self.next_tick.is_none() {
            self.next_tick = Some(now + heartbeat / 2);
        }
        let stream = Stream {
            exchange: request.exchange(),
            sent_in: self.ticks,
        };
        self.streams.insert(request.conn(), stream);
    }

    /// The streamed answer on `conn`, if it is one, noted as having sent now.
    pub(crate) fn sent(&mut self, conn: &ConnId) -> Option<RequestId> {
        let stream = self.streams.get_mut(conn)?;
        stream.sent_in = self.ticks;
        Some(RequestId::new(*conn, stream.exchange))
    }

    /// Forgets the stream of `request` (it ended, or its client left); `false` if
    /// `request` was no stream.
    pub(crate) fn close(&mut self, request: RequestId) -> bool {
        let conn = request.conn();
        match self.streams.get(&conn) {
            Some(stream) if stream.exchange == request.exchange() => {}
            _ => return false,
        }
        self.streams.remove(&conn);
        if self.streams.is_empty() {
            self.next_tick = None;
        }
        true
    }

    /// When the keepalive must run next.
    pub(crate) fn next_tick(&self) -> Option<Instant> {
        self.next_tick
    }

    /// If the tick is due: the streams that sent nothing since the tick before, each
    /// noted as sending now (the caller sends them the comment), and the next tick
    /// scheduled `heartbeat / 2` on.
    pub(crate) fn keepalive_due(&mut self, now: Instant, heartbeat: Duration) -> Vec<RequestId> {
        let at = match self.next_tick {
            Some(at) if at <= now => at,
            _ => return Vec::new(),
        };
        let previous = self.ticks;
        self.ticks = self.ticks.wrapping_add(1);
        let mut due = Vec::new();
        for (conn, stream) in &mut self.streams {
            if stream.sent_in != previous {
                stream.sent_in = self.ticks;
                due.push(RequestId::new(*conn, stream.exchange));
            }
        }
        // On the tick's own cadence, so that a loop that wakes a little late does not
        // stretch every period; from now if it woke later than a whole period.
        let half = heartbeat / 2;
        self.next_tick = Some(if at + half > now {
            at + half
        } else {
            now + half
        });
        due
    }

    /// How many streams are open.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.streams.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEARTBEAT: Duration = Duration::from_secs(15);

    fn request(slot: u32) -> RequestId {
        RequestId::new(ConnId::new(slot, 1), 1)
    }

    #[test]
    fn no_stream_is_quiet_for_longer_than_the_heartbeat() {
        let start = Instant::now();
        let mut streams = EventStreams::default();
        let (quiet, busy) = (request(1), request(2));
        streams.open(quiet, start, HEARTBEAT);
        streams.open(busy, start, HEARTBEAT);
        let mut last = [start, start];
        // One stream sends every 4 s, the other never: follow the ticks for 2 minutes.
        let mut next_send = start + Duration::from_secs(4);
        let mut now = start;
        while now < start + Duration::from_secs(120) {
            let tick = streams.next_tick().expect("streams are open");
            if next_send < tick {
                now = next_send;
                streams.sent(&busy.conn());
                last[1] = now;
                next_send += Duration::from_secs(4);
                continue;
            }
            now = tick;
            for r in streams.keepalive_due(now, HEARTBEAT) {
                let i = usize::from(r == busy);
                assert!(now - last[i] <= HEARTBEAT, "quiet for {:?}", now - last[i]);
                last[i] = now;
            }
            for (i, at) in last.iter().enumerate() {
                assert!(
                    now - *at <= HEARTBEAT,
                    "stream {i} quiet for {:?}",
                    now - *at
                );
            }
        }
    }

    #[test]
    fn a_tick_before_its_time_does_nothing_and_the_last_stream_stops_the_ticks() {
        let start = Instant::now();
        let mut streams = EventStreams::default();
        let r = request(1);
        streams.open(r, start, HEARTBEAT);
        assert_eq!(streams.next_tick(), Some(start + HEARTBEAT / 2));
        assert!(
            streams
                .keepalive_due(start + Duration::from_secs(1), HEARTBEAT)
                .is_empty()
        );
        // It sent when it opened: the first tick leaves it alone, the second comments.
        assert!(
            streams
                .keepalive_due(start + HEARTBEAT / 2, HEARTBEAT)
                .is_empty()
        );
        assert_eq!(streams.keepalive_due(start + HEARTBEAT, HEARTBEAT), [r]);
        assert!(streams.close(r));
        assert_eq!(streams.next_tick(), None);
        assert_eq!(streams.len(), 0);
    }

    #[test]
    fn closing_another_request_of_the_same_connection_keeps_the_stream() {
        let start = Instant::now();
        let mut streams = EventStreams::default();
        streams.open(request(1), start, HEARTBEAT);
        let other = RequestId::new(ConnId::new(1, 1), 2);
        assert!(!streams.close(other));
        assert_eq!(streams.len(), 1);
        assert_eq!(streams.sent(&ConnId::new(1, 1)), Some(request(1)));
    }
}
