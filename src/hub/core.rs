//! The hub without IO: named channels, who waits on each, and the bounds on all of it.
//!
//! The [`Hub`] maps names to [channels](Channel) and also keeps, per channel, the two
//! kinds of waiters, each identified by a key the driver chooses (its request or
//! connection id):
//!
//! - **parked long-polls**: requests that found nothing newer than their `since` and wait
//!   for the next message. Every parked request is *caught up* — its cursor is the
//!   channel's last id, in its current epoch — because [`Hub::poll`] only parks a request
//!   after finding nothing to answer. So one publish gives all of them the same
//!   one-message answer, encoded once ([`Fanout::poll_body`]); each parked request is
//!   answered exactly once, and is no longer parked afterwards.
//! - **WebSocket subscribers**: connections that get every message as it is published.
//!   [`Hub::subscribe`] hands back the history the subscriber asked for and registers it
//!   in the same call, so nothing can be published in between: the replay ends at the
//!   last id, and the next publish starts at the one after. Active subscribers are
//!   likewise always caught up, so a publish sends each of them exactly the new message
//!   ([`Fanout::frame`] to every [`Hub::subscribers`]).
//!
//! A subscriber that cannot take a message now (its write buffer is full) is
//! [paused](Hub::pause) at the last id it did get; publishes skip it, and
//! [`Hub::resume`] later replays what it missed from the history — with the number of
//! messages evicted meanwhile, if it fell further behind than the history reaches. That is
//! the whole delivery contract: every reader sees ids in increasing order, each at most
//! once, and misses none that is still retained when it is read; any it does miss are
//! counted for it; and a reader whose cursor is not in the current stream (another epoch,
//! or ahead of the last id) is told so with a reset, on every transport alike.
//!
//! **Bounds.** What a remote client can make the hub hold is bounded by [`HubConfig`]:
//! each channel's history by count and bytes, the number of channels, the bytes all
//! channels retain together, the size of one message and of one poll answer. A request
//! that would pass a hub-wide bound is refused ([`HubError::TooManyChannels`],
//! [`HubError::MemoryFull`]) rather than evicting someone else's history. Channels with no
//! waiters and no news for [`HubConfig::channel_ttl`] are dropped by [`Hub::expire`].
//! A channel entry without waiters holds no waiter sets at all (they are boxed on first
//! use), so a flood of channel names costs each only its name, its stream and its
//! messages.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::hub::HubError;
use crate::hub::channel::{Channel, Message, Position, retained_cost};
use crate::hub::config::HubConfig;
use crate::hub::data::DataRef;
use crate::hub::epoch::Epoch;
use crate::hub::json::{self, BatchMeta};

// ===== answers =====

/// What [`Hub::poll`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// Messages are there, or the cursor needs a reset: answer `200` with this at once.
    Ready(PollAnswer),
    /// Nothing yet, and the request is parked under its key: it is answered by a later
    /// [`Hub::publish`] (in [`Fanout::polls`]) unless the driver takes it back with
    /// [`Hub::unpark`] first (timeout → `204`, or the connection went away).
    Parked,
    /// Nothing yet and no key to park under (`timeout=0`): answer `204` at once.
    Empty,
}

/// A `200` poll answer: its messages' frames (shared with the history) and what it says
/// about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollAnswer {
    /// Epoch, reset, next and missed.
    pub meta: BatchMeta,
    /// The messages' frames, oldest first.
    pub frames: Vec<Arc<str>>,
}

impl PollAnswer {
    /// The answer's JSON,
    /// `{"epoch":"E"[,"reset":true],"messages":[...],"next":M[,"missed":K]}`.
    pub fn to_json(&self) -> String {
        json::poll_batch_of_frames(self.frames.iter().map(|f| &**f), self.meta)
    }

    /// The same JSON as pieces to send one after another, the frames shared with the
    /// history rather than copied: `prefix, frame, ",", frame, …, suffix`. `comma` is a
    /// shared `","` (one allocation for every answer).
    pub fn pieces(&self, comma: &Arc<[u8]>) -> Vec<Arc<[u8]>> {
        let mut pieces = Vec::with_capacity(2 * self.frames.len() + 1);
        pieces.push(Arc::from(json::batch_prefix(self.meta).into_bytes()));
        for (i, frame) in self.frames.iter().enumerate() {
            if i > 0 {
                pieces.push(Arc::clone(comma));
            }
            pieces.push(Arc::<[u8]>::from(Arc::clone(frame)));
        }
        pieces.push(Arc::from(json::batch_suffix(self.meta).into_bytes()));
        pieces
    }
}

/// What a publish produced, for the driver to deliver.
#[derive(Debug, Clone)]
pub struct Fanout<K> {
    /// The new message's id.
    pub id: u64,
    /// The stream it belongs to.
    pub epoch: Epoch,
    /// The message's frame `{"id":N,"data":"..."}` (`{"id":N,"data":<value>}` for a JSON
    /// payload): send it as a text frame to every [`Hub::subscribers`] of the channel.
    pub frame: Arc<str>,
    /// The long-poll requests this publish completes; they are no longer parked.
    pub polls: Vec<K>,
    /// Their common `200` body `{"epoch":"E","messages":[{"id":N,"data":"..."}],"next":N}`,
    /// encoded once; `None` when `polls` is empty.
    pub poll_body: Option<Arc<[u8]>>,
}

impl<K> Fanout<K> {
    /// The publisher's `201` body, `{"id":N,"epoch":"E"}`.
    pub fn published_body(&self) -> String {
        json::published(self.id, self.epoch)
    }
}

/// What a WebSocket subscriber is sent on subscribing: the first frame
/// (`{"epoch":"E"[,"reset":true],"next":C}`, [`Subscription::first_frame`]), then the
/// replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The stream subscribed to.
    pub epoch: Epoch,
    /// The subscriber's cursor was not in this stream: the replay is from its start.
    pub reset: bool,
    /// Where the subscriber stands before the replay.
    pub next: u64,
    /// The history after that.
    pub replay: Replay,
}

impl Subscription {
    /// The frame to send first.
    pub fn first_frame(&self) -> String {
        json::subscribed_frame(self.epoch, self.next, self.reset)
    }
}

/// What a WebSocket subscriber is sent on subscribing or resuming, before any new message:
/// first `{"missed":K}` if `missed > 0`, then `frames` in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replay {
    /// Messages after the subscriber's cursor that were evicted before it could get them.
    pub missed: u64,
    /// The retained messages after its cursor, oldest first.
    pub frames: Vec<Arc<str>>,
    /// The id of the first frame (if any).
    pub first_id: u64,
}

impl Replay {
    /// The `{"missed":K}` frame to send first, if anything was missed.
    pub fn missed_frame(&self) -> Option<String> {
        (self.missed > 0).then(|| json::missed_frame(self.missed))
    }
}

/// What a [`Hub`] has counted since it was made ([`Hub::stats`]): messages by what
/// became of them, and its waiters now. Plain counters, bumped where the hub decides
/// (no hashing or allocation of their own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubStats {
    /// Messages committed: appended to their channel's history and shown to its readers.
    pub published: u64,
    /// Messages evicted from a history by its bounds (`history`, `history_bytes`) to
    /// make room for newer ones.
    pub evicted: u64,
    /// Messages dropped with their channel when it expired (`channel_ttl`).
    pub expired: u64,
    /// The sum of every `missed` count told to a reader — in a poll answer, a
    /// subscription's or a resumed subscriber's replay: messages it asked for that had
    /// been evicted before it could have them.
    pub missed: u64,
    /// Long-poll requests parked now.
    pub parked: usize,
    /// Subscribers that get each message as it is published, now.
    pub active_subscribers: usize,
    /// Subscribers paused now (their write buffer was full; publishes skip them).
    pub paused_subscribers: usize,
}

/// A channel [`Hub::expire`] dropped: the driver may record it (a log writes a tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The channel's name.
    pub name: String,
    /// The epoch of the stream that ended.
    pub epoch: Epoch,
}

// ===== the hub =====

/// Who waits on one channel. Boxed, and absent while nobody does.
#[derive(Debug)]
struct Waiters<P, S> {
    /// Long-poll requests waiting for the next message. All are caught up.
    parked: HashSet<P>,
    /// Subscribers that get each message as it is published. All are caught up.
    active: HashSet<S>,
    /// Subscribers publishes skip, with the last id each was given.
    paused: HashMap<S, u64>,
}

impl<P, S> Default for Waiters<P, S> {
    fn default() -> Self {
        Waiters {
            parked: HashSet::new(),
            active: HashSet::new(),
            paused: HashMap::new(),
        }
    }
}

impl<P, S> Waiters<P, S> {
    fn is_empty(&self) -> bool {
        self.parked.is_empty() && self.active.is_empty() && self.paused.is_empty()
    }
}

/// A message [prepared](Hub::prepare) and not yet committed: its id, stream and frame,
/// and the bytes reserved for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The id it will have.
    pub id: u64,
    /// The stream it belongs to.
    pub epoch: Epoch,
    /// Its frame, `{"id":N,"data":"..."}`.
    pub frame: Arc<str>,
    cost: usize,
}

/// Everything the hub knows about one channel.
#[derive(Debug)]
struct Entry<P, S> {
    log: Channel,
    /// The last id given to a message, committed or [prepared](Hub::prepare): at least
    /// `log.last_id()`.
    assigned: u64,
    /// Prepared messages not yet committed or aborted.
    pending: u32,
    waiters: Option<Box<Waiters<P, S>>>,
    /// The last publish, or the moment the last waiter left: the channel's age, for
    /// [`HubConfig::channel_ttl`], while nobody waits.
    last_active: Instant,
    /// An entry for this channel is in the expiry queue.
    expiry_queued: bool,
}

/// Named channels, created on first use, each with its history and its waiters.
///
/// `P` identifies a parked long-poll request (the server's request id), `S` a WebSocket
/// subscription (its connection id); tests may use one type for both. A key is parked or
/// subscribed per channel; the driver remembers which channel each of its keys is on, to
/// [`unpark`](Hub::unpark) or [`unsubscribe`](Hub::unsubscribe) it when its connection
/// closes. Channel names are taken as given: check them with
/// [`channel_name`](crate::hub::query::channel_name) first.
///
/// ```
/// use std::time::Instant;
/// use pushwire::hub::{Cursor, Hub, HubConfig, PollOutcome};
///
/// let now = Instant::now();
/// let mut hub: Hub<u32> = Hub::with_seed(&HubConfig::default(), 1);
/// // A long-poll with nothing to answer parks; a WebSocket subscribes.
/// let parked = hub.poll("news", Cursor::default(), 100, Some(1), now).unwrap();
/// assert_eq!(parked, PollOutcome::Parked);
/// hub.subscribe("news", 2, Cursor::default(), now).unwrap();
///
/// let fanout = hub.publish("news", "hello", now).unwrap();
/// let epoch = fanout.epoch;
/// assert_eq!(fanout.published_body(), format!(r#"{{"id":1,"epoch":"{epoch}"}}"#));
/// assert_eq!(fanout.polls, [1]);
/// assert_eq!(
///     &*fanout.poll_body.unwrap(),
///     format!(r#"{{"epoch":"{epoch}","messages":[{{"id":1,"data":"hello"}}],"next":1}}"#).as_bytes()
/// );
/// assert_eq!(hub.subscribers("news").collect::<Vec<_>>(), [&2]);
/// assert_eq!(&*fanout.frame, r#"{"id":1,"data":"hello"}"#);
/// ```
#[derive(Debug)]
pub struct Hub<P, S = P> {
    channels: HashMap<String, Box<Entry<P, S>>>,
    /// The most channels `channels` has held since it was made: how much of its room a
    /// flood may have touched.
    channels_high_water: usize,
    config: HubConfig,
    /// [`retained_cost`] of every retained message. INVARIANT: the sum of the channels'
    /// [`Channel::bytes`], at most `config.max_retained_bytes`.
    retained: usize,
    /// The bytes reserved by [prepared](Hub::prepare) messages not yet committed. The
    /// bound on retained bytes counts them.
    pending_bytes: usize,
    /// Where new epochs come from.
    rng: StdRng,
    /// When idle channels expire, soonest first; an entry is checked against its channel
    /// when it comes due (lazy deletion, as the server's timers do). At most one entry
    /// per channel.
    expiry: BinaryHeap<Reverse<(Instant, String)>>,
    /// The channels are mirrors of streams kept elsewhere (Redis): see [`mirror`].
    mirroring: bool,
    /// What it has counted. INVARIANT: the gauges (`parked`, `active_subscribers`,
    /// `paused_subscribers`) are the sums of the channels' waiter sets.
    stats: HubStats,
}

/// A reader's claim of where it stands: `since=N` and `epoch=E` from its request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The last id it has; `None`: only what is published from now on.
    pub since: Option<u64>,
    /// The stream that id is from; `None` for a client that does not say (it is then
    /// taken to be the current one).
    pub epoch: Option<Epoch>,
}

impl<P: Eq + Hash, S: Eq + Hash + Clone> Hub<P, S> {
    /// A hub with these settings, whose epochs come from the operating system's random
    /// source.
    pub fn new(config: &HubConfig) -> Self {
        let mut seed = [0u8; 32];
        rand::fill(&mut seed[..]);
        Self::with_rng(config, StdRng::from_seed(seed))
    }

    /// A hub whose epochs come from a generator seeded with `seed`: the same operations
    /// give the same answers (tests, fuzzing).
    pub fn with_seed(config: &HubConfig, seed: u64) -> Self {
        Self::with_rng(config, StdRng::seed_from_u64(seed))
    }

    fn with_rng(config: &HubConfig, rng: StdRng) -> Self {
        Hub {
            channels: channel_table(config),
            channels_high_water: 0,
            config: config.clone(),
            retained: 0,
            pending_bytes: 0,
            rng,
            expiry: BinaryHeap::new(),
            mirroring: false,
            stats: HubStats::default(),
        }
    }

    /// A new random epoch, from the hub's generator.
    pub fn fresh_epoch(&mut self) -> Epoch {
        Epoch::random(&mut self.rng)
    }

    /// The settings.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// How many channels exist. A channel that was only ever waited on, and no longer is,
    /// is forgotten (it had no history to keep).
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// The [`retained_cost`] of every retained message of every channel.
    pub fn retained_bytes(&self) -> usize {
        self.retained
    }

    /// What the hub has counted (see [`HubStats`]).
    pub fn stats(&self) -> HubStats {
        self.stats
    }

    /// The channel named `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<&Channel> {
        self.channels.get(name).map(|entry| &entry.log)
    }

    /// The entry for `name`, created if needed — unless that would pass `max_channels`.
    fn entry(&mut self, name: &str, now: Instant) -> Result<&mut Entry<P, S>, HubError> {
        // Look up before inserting so the common case allocates no `String`.
        if !self.channels.contains_key(name) {
            if self.mirroring {
                // A mirror is made by `load_mirror` from its stream's state; a reader that
                // reaches the hub before that has come too early (the server waits for
                // the load), and is told to try again rather than given a made-up stream.
                return Err(HubError::EngineUnavailable);
            }
            if self.channels.len() >= self.config.max_channels {
                return Err(HubError::TooManyChannels);
            }
            let epoch = Epoch::random(&mut self.rng);
            let log = Channel::new(epoch, self.config.history, self.config.history_bytes);
            let entry = Entry {
                log,
                assigned: 0,
                pending: 0,
                waiters: None,
                last_active: now,
                expiry_queued: false,
            };
            self.add_channel(name, entry);
        }
        Ok(self
            .channels
            .get_mut(name)
            .expect("the entry exists: it was inserted above if it was missing"))
    }

    /// Publishes `data` on `name` (creating the channel if needed) and returns what to
    /// deliver: see [`Fanout`]. `data` is text (a `&str`) or a [`DataRef`]: a
    /// [`DataRef::Json`] (valid JSON: [`Data::json`](crate::hub::Data::json) checks) is
    /// delivered as its value. Every parked request on the channel is unparked and
    /// listed in [`Fanout::polls`]; the [active subscribers](Hub::subscribers) are to be
    /// sent [`Fanout::frame`]. The same as [`prepare`](Hub::prepare) and at once
    /// [`commit`](Hub::commit): an in-memory hub has nothing to wait for.
    ///
    /// Refused, with nothing changed: data longer than `max_message` (a JSON payload's
    /// bytes as published: [`DataRef::len`]) ([`HubError::MessageTooLarge`]), a new channel past `max_channels`, or a message
    /// that would take the hub's retained bytes past `max_retained_bytes` after its own
    /// channel's evictions ([`HubError::MemoryFull`]).
    pub fn publish<'d>(
        &mut self,
        name: &str,
        data: impl Into<DataRef<'d>>,
        now: Instant,
    ) -> Result<Fanout<P>, HubError> {
        let prepared = self.prepare(name, data, now)?;
        Ok(self.commit(name, prepared, now))
    }

    /// The first half of a publish whose message must be stored before anyone sees it (a
    /// durable log): checks the bounds as [`publish`](Hub::publish) does, gives the
    /// message the channel's next id and encodes its frame, and reserves its bytes — but
    /// readers see nothing yet. Then [`commit`](Hub::commit) it once it is stored, or
    /// [`abort`](Hub::abort) it if storing failed. Prepared messages of one channel are
    /// committed in the order prepared.
    pub fn prepare<'d>(
        &mut self,
        name: &str,
        data: impl Into<DataRef<'d>>,
        now: Instant,
    ) -> Result<Prepared, HubError> {
        let data = data.into();
        if data.len() > self.config.max_message {
            return Err(HubError::MessageTooLarge);
        }
        debug_assert!(
            !data.is_json()
                || (json::validate(data.as_str().as_bytes(), usize::MAX).is_ok()
                    && data.as_str().trim() == data.as_str()),
            "a JSON payload is checked (and trimmed) before it reaches the hub"
        );
        let existing = self.channels.get(name);
        let id = existing.map_or(0, |e| e.assigned) + 1;
        let frame: Arc<str> = Arc::from(data.frame(id));
        let cost = retained_cost(frame.len());
        // A channel's own evictions make room, counted only while nothing else of it is
        // pending (otherwise two pending messages could count the same eviction).
        let freed = existing
            .filter(|e| e.pending == 0)
            .map_or(0, |e| e.log.eviction_for(cost));
        if self.retained + self.pending_bytes - freed + cost > self.config.max_retained_bytes {
            return Err(HubError::MemoryFull);
        }
        let entry = self.entry(name, now)?;
        entry.assigned = id;
        entry.pending += 1;
        let epoch = entry.log.epoch();
        self.pending_bytes += cost;
        Ok(Prepared {
            id,
            epoch,
            frame,
            cost,
        })
    }

    /// Makes a [prepared](Hub::prepare) message visible: appends it to its channel's
    /// history and returns what to deliver, as [`publish`](Hub::publish) does.
    pub fn commit(&mut self, name: &str, prepared: Prepared, now: Instant) -> Fanout<P> {
        let Prepared {
            id,
            epoch,
            frame,
            cost,
        } = prepared;
        let entry = self
            .channels
            .get_mut(name)
            .expect("a prepared message's channel exists until it is committed or aborted");
        debug_assert_eq!(entry.log.epoch(), epoch);
        entry.pending -= 1;
        self.pending_bytes -= cost;
        self.append(name, Message::new(id, frame), now)
    }

    /// Appends `message` (the channel's next id) to the existing channel `name`, unparks
    /// every parked request, and returns what to deliver.
    fn append(&mut self, name: &str, message: Message, now: Instant) -> Fanout<P> {
        let ttl = self.config.channel_ttl;
        let entry = self
            .channels
            .get_mut(name)
            .expect("a message is appended to a channel that exists");
        let (id, epoch) = (message.id(), entry.log.epoch());
        let frame = Arc::clone(message.frame());
        let cost = retained_cost(frame.len());
        let retained_before = entry.log.len();
        let freed = entry.log.push(message);
        entry.assigned = entry.assigned.max(id);
        self.stats.published += 1;
        self.stats.evicted += (retained_before + 1 - entry.log.len()) as u64;
        entry.last_active = now;
        let polls: Vec<P> = match entry.waiters.as_mut() {
            Some(waiters) => waiters.parked.drain().collect(),
            None => Vec::new(),
        };
        self.stats.parked -= polls.len();
        if entry.waiters.as_ref().is_some_and(|w| w.is_empty()) {
            entry.waiters = None;
        }
        let queue = entry.waiters.is_none() && !entry.expiry_queued;
        entry.expiry_queued |= queue;
        self.retained = self.retained - freed + cost;
        if queue {
            self.expiry.push(Reverse((now + ttl, name.to_owned())));
        }
        // Every parked request was caught up, so all get exactly this message.
        let poll_body = (!polls.is_empty()).then(|| {
            let meta = BatchMeta {
                epoch,
                reset: false,
                next: id,
                missed: 0,
            };
            Arc::from(json::poll_batch_of_frames([&*frame], meta).into_bytes())
        });
        Fanout {
            id,
            epoch,
            frame,
            polls,
            poll_body,
        }
    }

    /// Gives up a [prepared](Hub::prepare) message that could not be stored: its id is
    /// given again to the next message. Abort every message of the channel prepared
    /// after it too (storing stops at the first failure).
    pub fn abort(&mut self, name: &str, prepared: Prepared) {
        self.pending_bytes -= prepared.cost;
        let Some(entry) = self.channels.get_mut(name) else {
            return;
        };
        entry.pending -= 1;
        entry.assigned = entry.log.last_id();
        if entry.pending == 0
            && entry.log.last_id() == 0
            && entry.waiters.is_none()
            && !self.mirroring
        {
            self.channels.remove(name);
            self.give_back_room();
        }
    }

    /// Loads a channel's stream from a log being recovered: `epoch`, and its retained
    /// messages `(id, data)` with consecutive ids ending at the stream's last id. The
    /// channel's own limits apply as it loads (the oldest beyond them are evicted). A
    /// channel loaded twice keeps the second load.
    pub fn restore<'d>(
        &mut self,
        name: &str,
        epoch: Epoch,
        messages: impl IntoIterator<Item = (u64, DataRef<'d>)>,
        now: Instant,
    ) {
        if let Some(old) = self.channels.remove(name) {
            self.retained -= old.log.bytes();
            if let Some(waiters) = &old.waiters {
                self.stats.parked -= waiters.parked.len();
                self.stats.active_subscribers -= waiters.active.len();
                self.stats.paused_subscribers -= waiters.paused.len();
            }
        }
        let mut log = Channel::new(epoch, self.config.history, self.config.history_bytes);
        for (id, data) in messages {
            log.restore(Message::new(id, Arc::from(data.frame(id))));
        }
        self.retained += log.bytes();
        let entry = Entry {
            assigned: log.last_id(),
            log,
            waiters: None,
            last_active: now,
            expiry_queued: true,
            pending: 0,
        };
        self.add_channel(name, entry);
        self.expiry
            .push(Reverse((now + self.config.channel_ttl, name.to_owned())));
    }

    /// Every channel's name and stream, and its retained messages oldest first: what a
    /// checkpoint copies.
    pub fn streams(&self) -> impl Iterator<Item = (&str, &Channel)> {
        self.channels
            .iter()
            .filter(|(_, entry)| entry.log.last_id() > 0)
            .map(|(name, entry)| (name.as_str(), &entry.log))
    }

    /// A long-poll for messages on `name` after `cursor`, answering at most `limit`
    /// messages (and at most `max_batch_bytes` of them).
    ///
    /// If there are any, or the cursor is not in the channel's current stream, answers
    /// [`PollOutcome::Ready`] (with `missed` if some were evicted, `reset` if the cursor
    /// was elsewhere). Otherwise parks the request under `park_as` and answers
    /// [`PollOutcome::Parked`], or, with `park_as` `None` (`timeout=0`, `HEAD`), answers
    /// [`PollOutcome::Empty`]. Parking a key that is already parked on this channel keeps
    /// one entry. Parking on a channel that does not exist creates it (so it counts
    /// against `max_channels`).
    pub fn poll(
        &mut self,
        name: &str,
        cursor: Cursor,
        limit: usize,
        park_as: Option<P>,
        now: Instant,
    ) -> Result<PollOutcome, HubError> {
        let max_bytes = self.config.max_batch_bytes;
        self.poll_within(name, cursor, limit, max_bytes, park_as, now)
    }

    /// [`poll`](Hub::poll) with an answer of at most `max_bytes` of messages (and, as
    /// always, at least one): for a request on several channels, whose answers share one
    /// budget.
    pub fn poll_within(
        &mut self,
        name: &str,
        cursor: Cursor,
        limit: usize,
        max_bytes: usize,
        park_as: Option<P>,
        now: Instant,
    ) -> Result<PollOutcome, HubError> {
        match self.channels.get(name) {
            Some(entry) => {
                let position = entry.log.position(cursor.since, cursor.epoch);
                let batch = entry.log.read(position, limit, max_bytes);
                if !batch.is_empty() || batch.is_reset() {
                    self.stats.missed += batch.missed();
                    return Ok(PollOutcome::Ready(PollAnswer {
                        meta: batch.meta(),
                        frames: batch.frames(),
                    }));
                }
            }
            // No such channel: nothing to miss, but a cursor past 0 is from a stream that
            // is gone. The reset names a fresh epoch; the stream that begins when someone
            // publishes will have its own, and a reader at 0 is never reset again.
            None if cursor.since.unwrap_or(0) > 0 => {
                let meta = BatchMeta {
                    epoch: Epoch::random(&mut self.rng),
                    reset: true,
                    next: 0,
                    missed: 0,
                };
                let frames = Vec::new();
                return Ok(PollOutcome::Ready(PollAnswer { meta, frames }));
            }
            None => {}
        }
        match park_as {
            Some(key) => {
                let entry = self.entry(name, now)?;
                let added = entry.waiters.get_or_insert_default().parked.insert(key);
                self.stats.parked += usize::from(added);
                Ok(PollOutcome::Parked)
            }
            None => Ok(PollOutcome::Empty),
        }
    }

    /// Takes a parked request back (its timeout ran out, or its connection closed).
    /// `true` if it was still parked: then the driver answers it (`204` on timeout).
    /// `false` if a publish already answered it, so a late timer does nothing.
    pub fn unpark(&mut self, name: &str, key: &P, now: Instant) -> bool {
        let removed = self.channels.get_mut(name).is_some_and(|entry| {
            entry
                .waiters
                .as_mut()
                .is_some_and(|waiters| waiters.parked.remove(key))
        });
        if removed {
            self.stats.parked -= 1;
            self.waiter_left(name, now);
        }
        removed
    }

    /// Is `key` parked on `name`?
    pub fn is_parked(&self, name: &str, key: &P) -> bool {
        self.waiters(name).is_some_and(|w| w.parked.contains(key))
    }

    /// How many requests are parked on `name`.
    pub fn parked_count(&self, name: &str) -> usize {
        self.waiters(name).map_or(0, |w| w.parked.len())
    }

    fn waiters(&self, name: &str) -> Option<&Waiters<P, S>> {
        self.channels.get(name).and_then(|e| e.waiters.as_deref())
    }

    /// Subscribes `key` to `name` (creating the channel if needed) and returns what to
    /// send it first: see [`Subscription`]. The replay is every retained message after
    /// the cursor (from the stream's start on a reset), with how many after it were
    /// evicted; `since` `None` replays nothing. From this call on, every publish lists the
    /// key in [`Hub::subscribers`]. Subscribing a key again starts it over from the new
    /// cursor.
    pub fn subscribe(
        &mut self,
        name: &str,
        key: S,
        cursor: Cursor,
        now: Instant,
    ) -> Result<Subscription, HubError> {
        let entry = self.entry(name, now)?;
        let position = entry.log.position(cursor.since, cursor.epoch);
        let batch = entry.log.read_all(position);
        let next = match position {
            Position::After(since) => since,
            Position::Reset => 0,
        };
        let subscription = Subscription {
            epoch: entry.log.epoch(),
            reset: batch.is_reset(),
            next,
            replay: Replay {
                missed: batch.missed(),
                first_id: next + batch.missed() + 1,
                frames: batch.frames(),
            },
        };
        let waiters = entry.waiters.get_or_insert_default();
        let was_paused = waiters.paused.remove(&key).is_some();
        let added = waiters.active.insert(key);
        self.stats.paused_subscribers -= usize::from(was_paused);
        self.stats.active_subscribers += usize::from(added);
        self.stats.missed += subscription.replay.missed;
        Ok(subscription)
    }

    /// Removes `key`'s subscription to `name`, active or paused. `true` if it had one.
    pub fn unsubscribe(&mut self, name: &str, key: &S, now: Instant) -> bool {
        let stats = &mut self.stats;
        let removed = self.channels.get_mut(name).is_some_and(|entry| {
            entry.waiters.as_mut().is_some_and(|waiters| {
                let active = waiters.active.remove(key);
                let paused = waiters.paused.remove(key).is_some();
                stats.active_subscribers -= usize::from(active);
                stats.paused_subscribers -= usize::from(paused);
                active || paused
            })
        });
        if removed {
            self.waiter_left(name, now);
        }
        removed
    }

    /// The active subscribers of `name`: after [`Hub::publish`], each is to be sent that
    /// publish's [`Fanout::frame`]. Paused subscribers are not listed.
    pub fn subscribers(&self, name: &str) -> impl Iterator<Item = &S> {
        self.waiters(name).into_iter().flat_map(|w| w.active.iter())
    }

    /// How many subscribers `name` has, active and paused.
    pub fn subscriber_count(&self, name: &str) -> usize {
        self.waiters(name)
            .map_or(0, |w| w.active.len() + w.paused.len())
    }

    /// Stops sending to subscriber `key` of `name`, remembering that the last id it was
    /// given is `delivered` (e.g. a publish's `id - 1` when sending that publish's frame
    /// failed for lack of buffer space). Later publishes skip it until
    /// [`Hub::resume`]. `false` if `key` is not an active subscriber of `name`.
    pub fn pause(&mut self, name: &str, key: &S, delivered: u64) -> bool {
        let Some(entry) = self.channels.get_mut(name) else {
            return false;
        };
        let last = entry.log.last_id();
        let Some(waiters) = entry.waiters.as_mut() else {
            return false;
        };
        if !waiters.active.remove(key) {
            return false;
        }
        waiters.paused.insert(key.clone(), delivered.min(last));
        self.stats.active_subscribers -= 1;
        self.stats.paused_subscribers += 1;
        true
    }

    /// Makes paused subscriber `key` of `name` active again and returns what it missed
    /// while paused: the retained messages after the id it was last given, and how many
    /// were evicted first. `None` if `key` is not a paused subscriber of `name`.
    pub fn resume(&mut self, name: &str, key: &S) -> Option<Replay> {
        let entry = self.channels.get_mut(name)?;
        let waiters = entry.waiters.as_mut()?;
        let (key, delivered) = waiters.paused.remove_entry(key)?;
        let batch = entry.log.read_all(Position::After(delivered));
        let replay = Replay {
            missed: batch.missed(),
            first_id: delivered + batch.missed() + 1,
            frames: batch.frames(),
        };
        waiters.active.insert(key);
        self.stats.paused_subscribers -= 1;
        self.stats.active_subscribers += 1;
        self.stats.missed += replay.missed;
        Some(replay)
    }

    /// After a waiter left `name`: a channel nobody waits on any more is forgotten if it
    /// never had history (coming back to the name later is indistinguishable from keeping
    /// it), and otherwise starts ageing towards its expiry.
    fn waiter_left(&mut self, name: &str, now: Instant) {
        let Some(entry) = self.channels.get_mut(name) else {
            return;
        };
        if !entry.waiters.as_ref().is_some_and(|w| w.is_empty()) {
            return;
        }
        entry.waiters = None;
        if entry.log.last_id() == 0 && entry.pending == 0 && !self.mirroring {
            self.channels.remove(name);
            self.give_back_room();
            return;
        }
        entry.last_active = now;
        if !entry.expiry_queued {
            entry.expiry_queued = true;
            let at = now + self.config.channel_ttl;
            self.expiry.push(Reverse((at, name.to_owned())));
        }
    }

    /// When [`Hub::expire`] next has something to do.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiry.peek().map(|Reverse((at, _))| *at)
    }

    /// Drops every channel that has had no waiter and no publish for `channel_ttl`, with
    /// its history, and returns them. Its name, used again, begins a new stream (a new
    /// epoch), so a reader from the old one is told to reset.
    ///
    /// At most [`EXPIRE_BATCH`] channels are looked at per call, so that a hundred
    /// thousand channels falling due at once are dropped over several turns of the loop
    /// rather than in one long one; [`next_expiry`](Hub::next_expiry) is then already due.
    /// When the expiry queue has shrunk to a quarter of its room, it is shrunk too, and
    /// when the channels are an eighth of the most there were, the table they are in is
    /// made anew: a flood's memory is given back.
    pub fn expire(&mut self, now: Instant) -> Vec<Dropped> {
        let ttl = self.config.channel_ttl;
        let mut dropped = Vec::new();
        let mut looked = 0;
        while let Some(Reverse((at, _))) = self.expiry.peek() {
            if *at > now || looked == EXPIRE_BATCH {
                break;
            }
            looked += 1;
            let Some(Reverse((_, name))) = self.expiry.pop() else {
                break;
            };
            let Some(entry) = self.channels.get_mut(&name) else {
                continue;
            };
            if entry.waiters.is_some() || entry.pending > 0 {
                // Waited on again (queued anew when the last waiter leaves), or a message
                // is on its way (queued anew when it is committed).
                entry.expiry_queued = false;
                continue;
            }
            let due = entry.last_active + ttl;
            if due > now {
                // Published to since it was queued: look again when it would expire.
                self.expiry.push(Reverse((due, name)));
                continue;
            }
            let epoch = entry.log.epoch();
            self.retained -= entry.log.bytes();
            self.stats.expired += entry.log.len() as u64;
            self.channels.remove(&name);
            dropped.push(Dropped { name, epoch });
        }
        if !dropped.is_empty() {
            self.give_back_room();
        }
        dropped
    }

    /// Adds a channel that is not in the table.
    fn add_channel(&mut self, name: &str, entry: Entry<P, S>) {
        self.channels.insert(name.to_owned(), Box::new(entry));
        self.channels_high_water = self.channels_high_water.max(self.channels.len());
    }

    /// After channels were dropped or forgotten: the memory a flood of them made the hub touch is
    /// given back to the allocator once it is mostly unused. The expiry queue is shrunk
    /// when a quarter of its room is used. The channel table keeps its room (see
    /// [`channel_table`]), but a flood has touched every slot of it — 8 MiB of resident
    /// memory for the default 100,000 channels — and emptying slots does not untouch
    /// them; so once it holds an eighth of the most it held, a fresh table of the same
    /// room (of which only the control bytes are touched) takes the survivors — their
    /// names and boxes move, the entries do not — and the old one is freed whole. That is
    /// one pass over the old table's slots, at most once per flood (measured: the
    /// `expire` call that does it took 4.6 ms for the default room, where one dropping
    /// a batch takes 2.4).
    fn give_back_room(&mut self) {
        if self.expiry.capacity() > 64 && self.expiry.len() < self.expiry.capacity() / 4 {
            self.expiry.shrink_to_fit();
        }
        if self.channels_high_water >= TABLE_REMAKE_MIN
            && self.channels.len() <= self.channels_high_water / 8
        {
            let old = std::mem::replace(&mut self.channels, channel_table(&self.config));
            self.channels.extend(old);
            self.channels_high_water = self.channels.len();
        }
    }
}

/// An empty channel table for `config`.
///
/// Room for twice the channels allowed, reserved now. Growing a table of 100,000
/// channels rehashes all of them in one call, which a flood of names would otherwise
/// make the loop pay mid-flood; and an open-addressing table churned near its capacity
/// (channels expiring while new ones arrive) grows anyway unless it is at most half
/// full, so half is what it gets. Then the worst is a rehash in place (~3 ms for 100,000
/// names) and the entries, boxed, never move: a slot is a name and a pointer (32
/// bytes), and untouched slots cost only their control byte in resident memory — until
/// a flood touches them; `Hub::give_back_room` says how they are given back.
fn channel_table<P, S>(config: &HubConfig) -> HashMap<String, Box<Entry<P, S>>> {
    HashMap::with_capacity(config.max_channels.saturating_mul(2).min(1 << 21))
}

/// A table that has held at least this many channels is made anew once it holds an
/// eighth of its most: below it, the slots a flood touched are too few to matter.
const TABLE_REMAKE_MIN: usize = 4096;

/// Channels [`Hub::expire`] looks at in one call.
pub const EXPIRE_BATCH: usize = 1024;

pub mod mirror;

#[cfg(test)]
mod tests;
