//! A hub whose channels mirror streams kept elsewhere: the Redis engine's node.
//!
//! With several nodes, Redis holds every channel's stream — its epoch, its ids (given by
//! the publish script, never by a node) and its retained history — and each node's hub
//! keeps a copy of the streams its own clients read. A copy is made from a history read
//! ([`Hub::load_mirror`]), then kept up to date message by message as they arrive over
//! pub/sub ([`Hub::apply`]), and read exactly like any channel: polls, subscriptions and
//! replays do not know the difference.
//!
//! In mirroring mode ([`Hub::set_mirroring`]) the hub never makes up a stream: a read of
//! a channel that is not mirrored yet is refused ([`HubError::EngineUnavailable`]) — the
//! server loads the mirror first and lets the reader wait — and a channel is not
//! forgotten when its last waiter leaves, only when it expires, so that the engine, which
//! subscribed to it, hears of every channel that goes ([`Hub::expire`]).
//!
//! When a mirror cannot simply append — the stream has a new epoch (Redis lost it and it
//! began again), or ids are missing that pub/sub did not bring and the history no longer
//! holds — its content is replaced and its waiters are handed back ([`Rewound`]) to be
//! answered again from where each stood: a reset for a new stream, `missed` for a gap.

use std::sync::Arc;
use std::time::Instant;

use super::{Fanout, Hub};
use crate::hub::HubError;
use crate::hub::channel::{Channel, Message};
use crate::hub::data::DataRef;
use crate::hub::epoch::Epoch;
use std::hash::Hash;

/// What became of a message that arrived from the stream's store ([`Hub::apply`]).
#[derive(Debug)]
pub enum Applied<P> {
    /// The channel is not mirrored here: nobody on this node reads it.
    NotMirrored,
    /// The mirror has it already (an id at or before its last, in its epoch).
    Duplicate,
    /// Appended as the next message: deliver it.
    Delivered(Fanout<P>),
    /// It does not follow the mirror — another epoch, or ids missing before it: the
    /// mirror must be read again from the store ([`Hub::load_mirror`]).
    OutOfStep,
}

/// What a history read did to a mirror ([`Hub::load_mirror`]).
#[derive(Debug)]
pub enum MirrorChange<P, S> {
    /// The channel was not mirrored: it is now, with nobody waiting on it yet.
    Created,
    /// The mirror was behind and the read brought the next messages: deliver each, in
    /// order (possibly none).
    Appended(Vec<Fanout<P>>),
    /// The mirror could not be continued and was replaced: answer its waiters again.
    Rewound(Rewound<P, S>),
}

/// The waiters of a mirror whose content was replaced, to be answered again from where
/// each stood: a reader whose cursor is in `epoch` (the stream before) at `since` now
/// reads a reset (a new stream), or `missed` (ids gone from the same stream).
#[derive(Debug)]
pub struct Rewound<P, S> {
    /// The mirror's epoch before.
    pub epoch: Epoch,
    /// The mirror's last id before: where every parked request stood.
    pub last: u64,
    /// The parked requests, taken out of the channel (no longer parked).
    pub polls: Vec<P>,
    /// Every subscriber, active or paused, with the last id it was given (`last` for an
    /// active one). Still subscribed: subscribe each again with the cursor `(epoch, id)`
    /// to get what to send it.
    pub subscribers: Vec<(S, u64)>,
}

impl<P: Eq + Hash, S: Eq + Hash + Clone> Hub<P, S> {
    /// Makes the channels mirrors (see the [module docs](self)). Set it before the first
    /// channel exists.
    pub fn set_mirroring(&mut self, on: bool) {
        debug_assert!(self.channels.is_empty(), "set before any channel exists");
        self.mirroring = on;
    }

    /// Are the channels mirrors?
    pub fn is_mirroring(&self) -> bool {
        self.mirroring
    }

    /// Message `id` of `name`'s stream `epoch`, as the store published it. Appended if it
    /// is the mirror's next id in its epoch; see [`Applied`] for the rest.
    ///
    /// A stream that has not begun yet (the mirror's last id is 0) takes its first
    /// message in the epoch the mirror was loaded with: the store gives a stream's epoch
    /// before it begins (derived from its name), so every node reports the same one.
    pub fn apply(
        &mut self,
        name: &str,
        epoch: Epoch,
        id: u64,
        data: DataRef<'_>,
        now: Instant,
    ) -> Applied<P> {
        let Some(entry) = self.channels.get(name) else {
            return Applied::NotMirrored;
        };
        let last = entry.log.last_id();
        if entry.log.epoch() != epoch || id > last + 1 {
            return Applied::OutOfStep;
        }
        if id <= last {
            return Applied::Duplicate;
        }
        let message = Message::new(id, Arc::from(data.frame(id)));
        Applied::Delivered(self.append(name, message, now))
    }

    /// Loads `name`'s mirror from a history read: the stream's `epoch`, its `last` id, and
    /// the newest retained messages after what the mirror has (`(id, data)`, ids strictly
    /// increasing, the last at most `last`). See [`MirrorChange`]. The channel's own
    /// limits apply as it loads.
    ///
    /// A new mirror counts against `max_channels` ([`HubError::TooManyChannels`]); the
    /// bound on retained bytes is kept by the channels' own limits (a mirror cannot refuse
    /// what its stream already holds), so it is `max_channels × history_bytes` here.
    pub fn load_mirror<'d>(
        &mut self,
        name: &str,
        epoch: Epoch,
        last: u64,
        entries: impl IntoIterator<Item = (u64, DataRef<'d>)>,
        now: Instant,
    ) -> Result<MirrorChange<P, S>, HubError> {
        let Some(entry) = self.channels.get(name) else {
            if self.channels.len() >= self.config.max_channels {
                return Err(HubError::TooManyChannels);
            }
            let log = self.fresh_log(epoch, last, entries);
            self.insert_mirror(name, log, now);
            return Ok(MirrorChange::Created);
        };
        let (had_epoch, had_last) = (entry.log.epoch(), entry.log.last_id());
        let entries: Vec<(u64, DataRef<'d>)> = entries
            .into_iter()
            .filter(|(id, _)| epoch != had_epoch || *id > had_last)
            .collect();
        // It continues the mirror if it brings exactly the ids after the mirror's last, up
        // to the stream's last.
        let continues = epoch == had_epoch
            && last == had_last + entries.len() as u64
            && entries
                .iter()
                .zip(had_last + 1..)
                .all(|((id, _), next)| *id == next);
        if continues {
            let mut fanouts = Vec::with_capacity(entries.len());
            for (id, data) in entries {
                let message = Message::new(id, Arc::from(data.frame(id)));
                fanouts.push(self.append(name, message, now));
            }
            return Ok(MirrorChange::Appended(fanouts));
        }
        // A new stream, ids the mirror never saw and the store no longer holds, or a
        // stream that went back (a store restored from an older copy): start over from
        // what the store has, and hand every waiter back.
        let log = self.fresh_log(epoch, last, entries);
        let entry = self.channels.get_mut(name).expect("looked up above");
        let old = std::mem::replace(&mut entry.log, log);
        entry.assigned = entry.log.last_id();
        entry.last_active = now;
        self.retained = self.retained - old.bytes() + entry.log.bytes();
        let mut rewound = Rewound {
            epoch: had_epoch,
            last: had_last,
            polls: Vec::new(),
            subscribers: Vec::new(),
        };
        if let Some(waiters) = entry.waiters.as_mut() {
            rewound.polls = waiters.parked.drain().collect();
            self.stats.parked -= rewound.polls.len();
            rewound
                .subscribers
                .extend(waiters.active.iter().map(|s| (s.clone(), had_last)));
            rewound
                .subscribers
                .extend(waiters.paused.iter().map(|(s, &id)| (s.clone(), id)));
            if waiters.is_empty() {
                entry.waiters = None;
            }
        }
        if entry.waiters.is_none() && !entry.expiry_queued {
            entry.expiry_queued = true;
            let at = now + self.config.channel_ttl;
            self.expiry.push(std::cmp::Reverse((at, name.to_owned())));
        }
        Ok(MirrorChange::Rewound(rewound))
    }

    /// A stream of `epoch` whose last id is `last`, holding `entries` (the newest first
    /// ones beyond its limits evicted as they load).
    fn fresh_log<'d>(
        &self,
        epoch: Epoch,
        last: u64,
        entries: impl IntoIterator<Item = (u64, DataRef<'d>)>,
    ) -> Channel {
        let mut log = Channel::new(epoch, self.config.history, self.config.history_bytes);
        for (id, data) in entries {
            if id > last || (log.last_id() > 0 && id <= log.last_id()) {
                continue; // not the store's: ids increase and end at `last`
            }
            log.restore(Message::new(id, Arc::from(data.frame(id))));
        }
        log.skip_to(last);
        log
    }

    fn insert_mirror(&mut self, name: &str, log: Channel, now: Instant) {
        self.retained += log.bytes();
        let entry = super::Entry {
            assigned: log.last_id(),
            log,
            waiters: None,
            last_active: now,
            expiry_queued: true,
            pending: 0,
        };
        self.add_channel(name, entry);
        self.expiry.push(std::cmp::Reverse((
            now + self.config.channel_ttl,
            name.to_owned(),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{Cursor, HubConfig, PollOutcome};

    fn mirroring_hub(config: &HubConfig) -> Hub<u32> {
        let mut hub = Hub::with_seed(config, 7);
        hub.set_mirroring(true);
        hub
    }

    fn epoch(bits: u64) -> Epoch {
        Epoch::from_bits(bits).unwrap()
    }

    fn text(data: &str) -> DataRef<'_> {
        DataRef::Text(data)
    }

    #[test]
    fn a_mirroring_hub_makes_up_no_stream_for_a_reader() {
        let now = Instant::now();
        let mut hub = mirroring_hub(&HubConfig::default());
        let e = hub.poll("news", Cursor::default(), 10, Some(1), now);
        assert_eq!(e, Err(HubError::EngineUnavailable));
        let e = hub.subscribe("news", 2, Cursor::default(), now);
        assert_eq!(e.unwrap_err(), HubError::EngineUnavailable);
        assert_eq!(hub.channel_count(), 0);
    }

    #[test]
    fn a_loaded_mirror_answers_from_the_stores_epoch_and_ids() {
        let now = Instant::now();
        let mut hub = mirroring_hub(&HubConfig::default());
        let loaded = hub.load_mirror("news", epoch(5), 3, [(2, text("b")), (3, text("c"))], now);
        assert!(matches!(loaded, Ok(MirrorChange::Created)));
        let cursor = Cursor {
            since: Some(0),
            epoch: Some(epoch(5)),
        };
        let Ok(PollOutcome::Ready(answer)) = hub.poll("news", cursor, 10, None, now) else {
            panic!("a poll from 0 is answered");
        };
        assert_eq!(answer.meta.missed, 1, "message 1 is gone from the store");
        assert_eq!(answer.meta.next, 3);
        assert_eq!(answer.meta.epoch, epoch(5));
    }

    #[test]
    fn messages_apply_in_id_order_and_duplicates_and_gaps_are_told_apart() {
        let now = Instant::now();
        let mut hub = mirroring_hub(&HubConfig::default());
        hub.load_mirror("news", epoch(5), 0, [], now).unwrap();
        hub.subscribe("news", 9, Cursor::default(), now).unwrap();
        let Applied::Delivered(fanout) = hub.apply("news", epoch(5), 1, text("a"), now) else {
            panic!("the first message of an unbegun stream is delivered");
        };
        assert_eq!((fanout.id, fanout.epoch), (1, epoch(5)));
        assert!(matches!(
            hub.apply("news", epoch(5), 1, text("a"), now),
            Applied::Duplicate
        ));
        assert!(matches!(
            hub.apply("news", epoch(5), 3, text("c"), now),
            Applied::OutOfStep
        ));
        assert!(matches!(
            hub.apply("news", epoch(6), 2, text("b"), now),
            Applied::OutOfStep
        ));
        assert!(matches!(
            hub.apply("other", epoch(5), 1, text("x"), now),
            Applied::NotMirrored
        ));
        assert_eq!(hub.get("news").unwrap().last_id(), 1);
    }

    #[test]
    fn a_catch_up_that_continues_the_mirror_delivers_each_message() {
        let now = Instant::now();
        let mut hub = mirroring_hub(&HubConfig::default());
        hub.load_mirror("news", epoch(5), 1, [(1, text("a"))], now)
            .unwrap();
        hub.poll("news", Cursor::default(), 10, Some(4), now)
            .unwrap();
        let change = hub
            .load_mirror(
                "news",
                epoch(5),
                3,
                [(1, text("a")), (2, text("b")), (3, text("c"))],
                now,
            )
            .unwrap();
        let MirrorChange::Appended(fanouts) = change else {
            panic!("contiguous messages are appended: {change:?}");
        };
        let ids: Vec<u64> = fanouts.iter().map(|f| f.id).collect();
        assert_eq!(ids, [2, 3]);
        assert_eq!(
            fanouts[0].polls,
            [4],
            "the parked poll is answered by the first"
        );
        assert!(fanouts[1].polls.is_empty());
    }

    #[test]
    fn a_new_epoch_hands_every_waiter_back_with_where_it_stood() {
        let now = Instant::now();
        let mut hub = mirroring_hub(&HubConfig::default());
        hub.load_mirror("news", epoch(5), 2, [(1, text("a")), (2, text("b"))], now)
            .unwrap();
        hub.poll("news", Cursor::default(), 10, Some(4), now)
            .unwrap();
        hub.subscribe("news", 8, Cursor::default(), now).unwrap();
        hub.subscribe("news", 9, Cursor::default(), now).unwrap();
        hub.pause("news", &9, 1);
        let change = hub
            .load_mirror("news", epoch(6), 1, [(1, text("new"))], now)
            .unwrap();
        let MirrorChange::Rewound(mut rewound) = change else {
            panic!("a new epoch replaces the mirror: {change:?}");
        };
        assert_eq!((rewound.epoch, rewound.last), (epoch(5), 2));
        assert_eq!(rewound.polls, [4]);
        rewound.subscribers.sort();
        assert_eq!(rewound.subscribers, [(8, 2), (9, 1)]);
        assert_eq!(hub.stats().parked, 0);
        // Subscribed again with the cursor it had, each reads a reset.
        let again = hub
            .subscribe(
                "news",
                8,
                Cursor {
                    since: Some(2),
                    epoch: Some(epoch(5)),
                },
                now,
            )
            .unwrap();
        assert!(again.reset);
        assert_eq!(again.replay.frames.len(), 1);
        assert_eq!(hub.stats().active_subscribers, 1);
        assert_eq!(hub.stats().paused_subscribers, 1);
    }

    #[test]
    fn ids_the_store_no_longer_holds_are_missed_not_skipped_silently() {
        let now = Instant::now();
        let mut hub = mirroring_hub(&HubConfig::default());
        hub.load_mirror("news", epoch(5), 2, [(1, text("a")), (2, text("b"))], now)
            .unwrap();
        hub.subscribe("news", 8, Cursor::default(), now).unwrap();
        let change = hub
            .load_mirror("news", epoch(5), 9, [(8, text("h")), (9, text("i"))], now)
            .unwrap();
        let MirrorChange::Rewound(rewound) = change else {
            panic!("a gap replaces the mirror: {change:?}");
        };
        assert_eq!(rewound.subscribers, [(8, 2)]);
        let again = hub
            .subscribe(
                "news",
                8,
                Cursor {
                    since: Some(2),
                    epoch: Some(epoch(5)),
                },
                now,
            )
            .unwrap();
        assert!(!again.reset);
        assert_eq!(again.replay.missed, 5, "ids 3 to 7 are gone");
        assert_eq!(again.replay.frames.len(), 2);
    }

    #[test]
    fn a_mirror_nobody_reads_stays_until_it_expires() {
        let config = HubConfig {
            channel_ttl: std::time::Duration::from_secs(10),
            ..HubConfig::default()
        };
        let now = Instant::now();
        let mut hub = mirroring_hub(&config);
        hub.load_mirror("news", epoch(5), 0, [], now).unwrap();
        hub.subscribe("news", 8, Cursor::default(), now).unwrap();
        hub.unsubscribe("news", &8, now);
        assert!(
            hub.get("news").is_some(),
            "kept: the engine still follows it"
        );
        let dropped = hub.expire(now + std::time::Duration::from_secs(11));
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].name, "news");
        assert_eq!(hub.retained_bytes(), 0);
    }
}
