//! The hub's Server-Sent Events subscribers: which streamed answer is whose, on which
//! channel, and when each last sent something — for the keepalive comment that keeps
//! proxies from closing an idle stream.
//!
//! Sans-IO like the rest of the hub: time comes in as `now`. The keepalive runs on one
//! tick for all streams rather than a timer each: every `heartbeat / 2` the streams that
//! have been quiet for at least `heartbeat / 2` get a comment. A stream that sent at `t`
//! is then looked at by a tick no later than `t + heartbeat`, so no stream is quiet for
//! longer than `heartbeat`, and a tick costs one pass over the streams (10,000 streams:
//! a few microseconds' work every 7.5 s with the default 15 s).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::server::{ConnId, RequestId};

/// One subscriber's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventStream {
    /// The streamed answer its events go to.
    pub(crate) request: RequestId,
    /// The channel it follows.
    pub(crate) channel: String,
    /// When anything was last queued on it.
    pub(crate) last_sent: Instant,
}

/// Every open stream, by connection (a connection streams one answer at a time).
#[derive(Debug, Default)]
pub(crate) struct EventStreams {
    streams: HashMap<ConnId, EventStream>,
    /// The next keepalive tick; `None` while there are no streams.
    next_tick: Option<Instant>,
}

impl EventStreams {
    /// A stream begins; the first tick is scheduled if it is the only one.
    pub(crate) fn open(&mut self, stream: EventStream, heartbeat: Duration) {
        if self.next_tick.is_none() {
            self.next_tick = Some(stream.last_sent + heartbeat / 2);
        }
        self.streams.insert(stream.request.conn(), stream);
    }

    /// The stream on `conn`, if it is one.
    pub(crate) fn get_mut(&mut self, conn: &ConnId) -> Option<&mut EventStream> {
        self.streams.get_mut(conn)
    }

    /// The stream of `conn`, if it is one, noted as having sent at `now`.
    pub(crate) fn sent(&mut self, conn: &ConnId, now: Instant) -> Option<RequestId> {
        let stream = self.streams.get_mut(conn)?;
        stream.last_sent = now;
        Some(stream.request)
    }

    /// Forgets the stream of `request` (it ended, or its client left).
    pub(crate) fn close(&mut self, request: RequestId) -> Option<EventStream> {
        let conn = request.conn();
        if self.streams.get(&conn)?.request != request {
            return None;
        }
        let stream = self.streams.remove(&conn);
        if self.streams.is_empty() {
            self.next_tick = None;
        }
        stream
    }

    /// When the keepalive must run next.
    pub(crate) fn next_tick(&self) -> Option<Instant> {
        self.next_tick
    }

    /// If the tick is due, the streams quiet for at least `heartbeat / 2`, each noted
    /// as sending now (the caller sends them the comment), and the next tick scheduled.
    pub(crate) fn keepalive_due(&mut self, now: Instant, heartbeat: Duration) -> Vec<RequestId> {
        match self.next_tick {
            Some(at) if at <= now => {}
            _ => return Vec::new(),
        }
        let half = heartbeat / 2;
        let mut due = Vec::new();
        for stream in self.streams.values_mut() {
            if now.saturating_duration_since(stream.last_sent) >= half {
                stream.last_sent = now;
                due.push(stream.request);
            }
        }
        self.next_tick = Some(now + half);
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

    fn stream(slot: u32, at: Instant) -> EventStream {
        EventStream {
            request: RequestId::new(ConnId::new(slot, 1), 1),
            channel: "news".into(),
            last_sent: at,
        }
    }

    #[test]
    fn no_stream_is_quiet_for_longer_than_the_heartbeat() {
        let start = Instant::now();
        let mut streams = EventStreams::default();
        streams.open(stream(1, start), HEARTBEAT);
        streams.open(stream(2, start), HEARTBEAT);
        let busy = ConnId::new(2, 1);
        let mut last = [start, start];
        // One stream sends every 4 s, the other never: follow the ticks for 2 minutes.
        let mut now = start;
        while now < start + Duration::from_secs(120) {
            let next_send = now + Duration::from_secs(4) - Duration::from_nanos(1);
            let tick = streams.next_tick().expect("streams are open");
            now = tick.min(next_send);
            if now == next_send {
                streams.sent(&busy, now);
                last[1] = now;
                now += Duration::from_nanos(1);
                continue;
            }
            for request in streams.keepalive_due(now, HEARTBEAT) {
                let i = if request.conn() == busy { 1 } else { 0 };
                assert!(now - last[i] <= HEARTBEAT, "quiet for {:?}", now - last[i]);
                last[i] = now;
            }
            assert!(now - last[0] <= HEARTBEAT);
        }
    }

    #[test]
    fn a_tick_before_its_time_does_nothing_and_the_last_stream_stops_the_ticks() {
        let start = Instant::now();
        let mut streams = EventStreams::default();
        let s = stream(1, start);
        let request = s.request;
        streams.open(s, HEARTBEAT);
        assert_eq!(streams.next_tick(), Some(start + HEARTBEAT / 2));
        assert!(
            streams
                .keepalive_due(start + Duration::from_secs(1), HEARTBEAT)
                .is_empty()
        );
        assert_eq!(
            streams.keepalive_due(start + HEARTBEAT / 2, HEARTBEAT),
            [request]
        );
        assert!(streams.close(request).is_some());
        assert_eq!(streams.next_tick(), None);
        assert_eq!(streams.len(), 0);
    }

    #[test]
    fn closing_another_request_of_the_same_connection_keeps_the_stream() {
        let start = Instant::now();
        let mut streams = EventStreams::default();
        streams.open(stream(1, start), HEARTBEAT);
        let other = RequestId::new(ConnId::new(1, 1), 2);
        assert!(streams.close(other).is_none());
        assert_eq!(streams.len(), 1);
    }
}
