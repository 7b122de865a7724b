//! Channels and the hub, sans-IO: message histories, and who waits for what.
//!
//! A [`Channel`] is a bounded log. Messages get ids 1, 2, 3, … in publish order; the
//! newest `capacity` are retained, and the oldest is evicted when a new one would exceed
//! it. Because eviction only ever removes the oldest, the retained ids are always one
//! unbroken run `first..=last`, so "the messages after `since`" is an index computation,
//! not a search, and "how many were evicted that the reader wanted" is a subtraction.
//!
//! The [`Hub`] maps names to channels and also keeps, per channel, the two kinds of
//! waiters, each identified by a key `K` the driver chooses (its connection id):
//!
//! - **parked long-polls**: requests that found nothing newer than their `since` and wait
//!   for the next message. Every parked request is *caught up* — its cursor is the
//!   channel's last id — because [`Hub::poll`] only parks a request after finding nothing
//!   to answer. So one publish gives all of them the same one-message answer, encoded
//!   once ([`Fanout::poll_body`]); each parked request is answered exactly once, and is no
//!   longer parked afterwards.
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
//! the whole delivery contract: every subscriber sees ids in increasing order, each at most
//! once, and misses none that is still retained when it is read; any it does miss are
//! counted for it.
//!
//! `since` larger than the channel's last id (a client that remembers ids from before a
//! server restart, when ids began again at 1) is treated as *caught up*: nothing is
//! answered now, the next message published is delivered, and the reply's `next` tells the
//! client the id to continue from.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Arc;

use crate::hub::json;

// ===== Message =====

/// A retained message: its id, its text, and its encoded frame `{"id":N,"data":"..."}`,
/// made once at publish time and shared by every delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    id: u64,
    data: Arc<str>,
    frame: Arc<str>,
}

impl Message {
    /// The message id (1 for a channel's first message).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The text that was published.
    pub fn data(&self) -> &Arc<str> {
        &self.data
    }

    /// The JSON object `{"id":N,"data":"..."}`: a WebSocket subscriber's text frame, and
    /// an element of a long-poll answer.
    pub fn frame(&self) -> &Arc<str> {
        &self.frame
    }
}

// ===== Channel =====

/// One channel's bounded history.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Retained messages, oldest first. INVARIANT: ids are consecutive, the last is
    /// `last_id`, and there are at most `capacity` of them.
    messages: VecDeque<Message>,
    /// The id of the newest message ever published; 0 before the first.
    last_id: u64,
    capacity: usize,
}

impl Channel {
    /// An empty channel retaining up to `capacity` messages. A capacity of 0 is raised to
    /// 1: the newest message is always retained, so a reader that is behind always gets at
    /// least it (which is what makes parked requests always caught up).
    pub fn new(capacity: usize) -> Self {
        Channel {
            messages: VecDeque::new(),
            last_id: 0,
            capacity: capacity.max(1),
        }
    }

    /// How many messages this channel retains at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many messages are retained now.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Has nothing been published yet? (Once something has, the newest message is always
    /// retained.)
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Appends a message, evicting the oldest if the history is full, and returns its id:
    /// 1, 2, 3, … for this channel.
    pub fn publish(&mut self, data: Arc<str>) -> u64 {
        self.append(data).id
    }

    /// [`publish`](Channel::publish), lending out the new message.
    fn append(&mut self, data: Arc<str>) -> &Message {
        // u64 ids cannot run out: at a billion messages a second, that takes 584 years.
        let id = self.last_id + 1;
        let frame = Arc::from(json::message_frame(id, &data));
        if self.messages.len() == self.capacity {
            self.messages.pop_front();
        }
        self.last_id = id;
        self.messages.push_back(Message { id, data, frame });
        self.messages.back().expect("a message was just pushed")
    }

    /// The id of the newest message published; 0 when nothing ever was.
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    /// The id of the oldest message still retained; `None` when nothing was published.
    pub fn first_retained_id(&self) -> Option<u64> {
        self.messages.front().map(|m| m.id)
    }

    /// The newest message, if any.
    pub fn latest(&self) -> Option<&Message> {
        self.messages.back()
    }

    /// Where a reader asking for messages after `since` stands: `since` itself, or the last
    /// id if `since` is beyond it (see the module docs); the last id when `since` is
    /// `None` ("only what is published from now on").
    pub fn cursor(&self, since: Option<u64>) -> u64 {
        since.map_or(self.last_id, |since| since.min(self.last_id))
    }

    /// The retained messages with ids greater than `since`, in id order, and how many ids
    /// in between were evicted.
    ///
    /// `since` beyond the last id reads as the last id: an empty batch whose `next` is the
    /// last id.
    pub fn read_after(&self, since: u64) -> Batch<'_> {
        let since = since.min(self.last_id);
        let Some(first) = self.first_retained_id() else {
            return Batch {
                front: &[],
                back: &[],
                next: since,
                missed: 0,
            };
        };
        // Ids since+1 ..= first-1 were wanted and are gone.
        let missed = first.saturating_sub(since + 1);
        // INVARIANT: first <= last_id + 1 and since <= last_id, so skip <= len.
        let skip = (since + 1).saturating_sub(first) as usize;
        let (a, b) = self.messages.as_slices();
        let (front, back) = if skip <= a.len() {
            (&a[skip..], b)
        } else {
            (&b[..0], &b[skip - a.len()..])
        };
        Batch {
            front,
            back,
            next: self.last_id.max(since),
            missed,
        }
    }
}

/// The answer to [`Channel::read_after`]: retained messages after a cursor.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The messages, as the two halves of the ring buffer.
    front: &'a [Message],
    back: &'a [Message],
    next: u64,
    missed: u64,
}

impl<'a> Batch<'a> {
    /// The messages, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &'a Message> + use<'a> {
        self.front.iter().chain(self.back)
    }

    /// How many messages.
    pub fn len(&self) -> usize {
        self.front.len() + self.back.len()
    }

    /// No messages?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id to continue from: the last id in the batch, or the (clamped) cursor if the
    /// batch is empty.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// How many messages after the cursor were evicted before this read.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// The long-poll answer `{"messages":[...],"next":M}`, with `,"missed":K` when
    /// `K > 0`; built by joining the messages' stored frames.
    pub fn to_json(&self) -> String {
        json::poll_batch_of_frames(
            self.iter().map(|m| &*m.frame),
            self.next,
            (self.missed > 0).then_some(self.missed),
        )
    }

    /// What a WebSocket subscriber is sent to catch up: the messages' frames (and the
    /// number missed, for a `{"missed":K}` frame ahead of them).
    pub fn to_replay(&self) -> Replay {
        Replay {
            missed: self.missed,
            frames: self.iter().map(|m| Arc::clone(&m.frame)).collect(),
        }
    }
}

// ===== Hub =====

/// Everything the hub knows about one channel.
#[derive(Debug)]
struct Entry<P, S> {
    log: Channel,
    /// Long-poll requests waiting for the next message. All are caught up.
    parked: HashSet<P>,
    /// Subscribers that get each message as it is published. All are caught up.
    active: HashSet<S>,
    /// Subscribers publishes skip, with the last id each was given.
    paused: HashMap<S, u64>,
}

impl<P, S> Entry<P, S> {
    fn new(history: usize) -> Self {
        Entry {
            log: Channel::new(history),
            parked: HashSet::new(),
            active: HashSet::new(),
            paused: HashMap::new(),
        }
    }

    /// Nothing published and nobody waiting: the entry can go, and coming back to this
    /// name later is indistinguishable from keeping it.
    fn is_idle(&self) -> bool {
        self.log.last_id() == 0
            && self.parked.is_empty()
            && self.active.is_empty()
            && self.paused.is_empty()
    }
}

/// What [`Hub::poll`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// Messages are there: answer `200` with this body at once.
    Ready(String),
    /// Nothing yet, and the request is parked under its key: it is answered by a later
    /// [`Hub::publish`] (in [`Fanout::polls`]) unless the driver takes it back with
    /// [`Hub::unpark`] first (timeout → `204`, or the connection went away).
    Parked,
    /// Nothing yet and no key to park under (`timeout=0`): answer `204` at once.
    Empty,
}

/// What a publish produced, for the driver to deliver.
#[derive(Debug, Clone)]
pub struct Fanout<K> {
    /// The new message's id.
    pub id: u64,
    /// The message's frame `{"id":N,"data":"..."}`: send it as a text frame to every
    /// [`Hub::subscribers`] of the channel.
    pub frame: Arc<str>,
    /// The long-poll requests this publish completes; they are no longer parked.
    pub polls: Vec<K>,
    /// Their common `200` body `{"messages":[{"id":N,"data":"..."}],"next":N}`, encoded
    /// once; `None` when `polls` is empty.
    pub poll_body: Option<Arc<[u8]>>,
}

impl<K> Fanout<K> {
    /// The publisher's `201` body, `{"id":N}`.
    pub fn published_body(&self) -> String {
        json::published(self.id)
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
}

impl Replay {
    /// The `{"missed":K}` frame to send first, if anything was missed.
    pub fn missed_frame(&self) -> Option<String> {
        (self.missed > 0).then(|| json::missed_frame(self.missed))
    }
}

/// Named channels, created on first use, each with its history and its waiters.
///
/// `P` identifies a parked long-poll request (the server's request id), `S` a WebSocket
/// subscription (its connection id); tests may use one type for both. A key is parked or
/// subscribed per channel; the driver remembers which
/// channel each of its keys is on, to [`unpark`](Hub::unpark) or
/// [`unsubscribe`](Hub::unsubscribe) it when its connection closes. Channel names are
/// taken as given: check them with [`channel_name`](crate::hub::query::channel_name)
/// first.
///
/// ```
/// use pushwire::hub::{Hub, PollOutcome};
///
/// let mut hub: Hub<u32> = Hub::new(1024);
/// // A long-poll with nothing to answer parks; a WebSocket subscribes.
/// assert_eq!(hub.poll("news", None, Some(1)), PollOutcome::Parked);
/// hub.subscribe("news", 2, None);
///
/// let fanout = hub.publish("news", "hello".into());
/// assert_eq!(fanout.published_body(), r#"{"id":1}"#);
/// assert_eq!(fanout.polls, [1]);
/// assert_eq!(&*fanout.poll_body.unwrap(), br#"{"messages":[{"id":1,"data":"hello"}],"next":1}"#);
/// assert_eq!(hub.subscribers("news").collect::<Vec<_>>(), [&2]);
/// assert_eq!(&*fanout.frame, r#"{"id":1,"data":"hello"}"#);
/// ```
#[derive(Debug)]
pub struct Hub<P, S = P> {
    channels: HashMap<String, Entry<P, S>>,
    history: usize,
}

impl<P: Eq + Hash, S: Eq + Hash + Clone> Hub<P, S> {
    /// A hub whose channels each retain `history` messages (at least 1).
    pub fn new(history: usize) -> Self {
        Hub {
            channels: HashMap::new(),
            history: history.max(1),
        }
    }

    /// How many messages each channel retains.
    pub fn history(&self) -> usize {
        self.history
    }

    /// How many channels exist. A channel that was only ever waited on, and no longer is,
    /// is forgotten (it had no history to keep).
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// The channel named `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<&Channel> {
        self.channels.get(name).map(|entry| &entry.log)
    }

    /// The channel named `name`, created if needed.
    ///
    /// Publishing through it directly bypasses the waiters; use [`Hub::publish`].
    pub fn channel_mut(&mut self, name: &str) -> &mut Channel {
        &mut self.entry(name).log
    }

    fn entry(&mut self, name: &str) -> &mut Entry<P, S> {
        // Look up before inserting so the common case allocates no `String`.
        if !self.channels.contains_key(name) {
            self.channels
                .insert(name.to_owned(), Entry::new(self.history));
        }
        self.channels
            .get_mut(name)
            .expect("the entry exists: it was inserted above if it was missing")
    }

    /// Publishes `data` on `name` (creating the channel if needed) and returns what to
    /// deliver: see [`Fanout`]. Every parked request on the channel is unparked and
    /// listed in [`Fanout::polls`]; the [active subscribers](Hub::subscribers) are to be
    /// sent [`Fanout::frame`].
    pub fn publish(&mut self, name: &str, data: Arc<str>) -> Fanout<P> {
        let entry = self.entry(name);
        let message = entry.log.append(data);
        let (id, frame) = (message.id, Arc::clone(&message.frame));
        let polls: Vec<P> = entry.parked.drain().collect();
        // Every parked request was caught up, so all get exactly this message.
        let poll_body = (!polls.is_empty())
            .then(|| Arc::from(json::poll_batch_of_frames([&*frame], id, None).into_bytes()));
        Fanout {
            id,
            frame,
            polls,
            poll_body,
        }
    }

    /// A long-poll for messages on `name` after `since` (`None`: only messages published
    /// from now on).
    ///
    /// If there are any, answers [`PollOutcome::Ready`] with the body (including
    /// `"missed"` if some were evicted). Otherwise parks the request under `park_as` and
    /// answers [`PollOutcome::Parked`], or, with `park_as` `None` (`timeout=0`), answers
    /// [`PollOutcome::Empty`]. Parking a key that is already parked on this channel
    /// keeps one entry.
    pub fn poll(&mut self, name: &str, since: Option<u64>, park_as: Option<P>) -> PollOutcome {
        if let (Some(since), Some(channel)) = (since, self.get(name)) {
            let batch = channel.read_after(since);
            if !batch.is_empty() {
                return PollOutcome::Ready(batch.to_json());
            }
        }
        match park_as {
            Some(key) => {
                self.entry(name).parked.insert(key);
                PollOutcome::Parked
            }
            None => PollOutcome::Empty,
        }
    }

    /// Takes a parked request back (its timeout ran out, or its connection closed).
    /// `true` if it was still parked: then the driver answers it (`204` on timeout).
    /// `false` if a publish already answered it, so a late timer does nothing.
    pub fn unpark(&mut self, name: &str, key: &P) -> bool {
        let removed = self
            .channels
            .get_mut(name)
            .is_some_and(|entry| entry.parked.remove(key));
        self.forget_if_idle(name);
        removed
    }

    /// Is `key` parked on `name`?
    pub fn is_parked(&self, name: &str, key: &P) -> bool {
        self.channels
            .get(name)
            .is_some_and(|entry| entry.parked.contains(key))
    }

    /// How many requests are parked on `name`.
    pub fn parked_count(&self, name: &str) -> usize {
        self.channels
            .get(name)
            .map_or(0, |entry| entry.parked.len())
    }

    /// Subscribes `key` to `name` (creating the channel if needed) and returns the history
    /// to send it first: the retained messages after `since`, and how many after `since`
    /// were evicted. `since` `None` replays nothing. From this call on, every publish
    /// lists the key in [`Hub::subscribers`]. Subscribing a key again starts it over from
    /// the new `since`.
    pub fn subscribe(&mut self, name: &str, key: S, since: Option<u64>) -> Replay {
        let entry = self.entry(name);
        let cursor = entry.log.cursor(since);
        let replay = entry.log.read_after(cursor).to_replay();
        entry.paused.remove(&key);
        entry.active.insert(key);
        replay
    }

    /// Removes `key`'s subscription to `name`, active or paused. `true` if it had one.
    pub fn unsubscribe(&mut self, name: &str, key: &S) -> bool {
        let removed = self.channels.get_mut(name).is_some_and(|entry| {
            let active = entry.active.remove(key);
            let paused = entry.paused.remove(key).is_some();
            active || paused
        });
        self.forget_if_idle(name);
        removed
    }

    /// The active subscribers of `name`: after [`Hub::publish`], each is to be sent that
    /// publish's [`Fanout::frame`]. Paused subscribers are not listed.
    pub fn subscribers(&self, name: &str) -> impl Iterator<Item = &S> {
        self.channels
            .get(name)
            .into_iter()
            .flat_map(|entry| entry.active.iter())
    }

    /// How many subscribers `name` has, active and paused.
    pub fn subscriber_count(&self, name: &str) -> usize {
        self.channels
            .get(name)
            .map_or(0, |entry| entry.active.len() + entry.paused.len())
    }

    /// Stops sending to subscriber `key` of `name`, remembering that the last id it was
    /// given is `delivered` (e.g. a publish's `id - 1` when sending that publish's frame
    /// failed for lack of buffer space). Later publishes skip it until
    /// [`Hub::resume`]. `false` if `key` is not an active subscriber of `name`.
    pub fn pause(&mut self, name: &str, key: &S, delivered: u64) -> bool {
        let Some(entry) = self.channels.get_mut(name) else {
            return false;
        };
        if !entry.active.remove(key) {
            return false;
        }
        let delivered = delivered.min(entry.log.last_id());
        entry.paused.insert(key.clone(), delivered);
        true
    }

    /// Makes paused subscriber `key` of `name` active again and returns what it missed
    /// while paused: the retained messages after the id it was last given, and how many
    /// were evicted first. `None` if `key` is not a paused subscriber of `name`.
    pub fn resume(&mut self, name: &str, key: &S) -> Option<Replay> {
        let entry = self.channels.get_mut(name)?;
        let (key, delivered) = entry.paused.remove_entry(key)?;
        let replay = entry.log.read_after(delivered).to_replay();
        entry.active.insert(key);
        Some(replay)
    }

    /// Drops the entry for `name` if it holds nothing worth keeping, so names that were
    /// only ever waited on do not accumulate.
    fn forget_if_idle(&mut self, name: &str) {
        if self.channels.get(name).is_some_and(Entry::is_idle) {
            self.channels.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    fn text(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    /// The ids in a batch.
    fn ids(batch: &Batch<'_>) -> Vec<u64> {
        batch.iter().map(Message::id).collect()
    }

    /// The ids of the message objects in hub JSON, in order. Safe on the hub's own output:
    /// a `"` inside data is escaped, so `{"id":` only occurs where an object starts.
    fn ids_in(json: &str) -> Vec<u64> {
        json.match_indices("{\"id\":")
            .map(|(at, pat)| {
                let digits: String = json[at + pat.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().unwrap()
            })
            .collect()
    }

    /// The number after `"key":` in `json`, if present.
    fn number_in(json: &str, key: &str) -> Option<u64> {
        let pat = format!("\"{key}\":");
        let at = json.find(&pat)? + pat.len();
        let digits: String = json[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }

    // ----- Channel -----

    #[test]
    fn ids_start_at_one_and_increase_by_one() {
        let mut channel = Channel::new(4);
        assert_eq!((channel.last_id(), channel.first_retained_id()), (0, None));
        assert_eq!(channel.publish(text("a")), 1);
        assert_eq!(channel.publish(text("b")), 2);
        assert_eq!(channel.publish(text("c")), 3);
        assert_eq!(
            (channel.last_id(), channel.first_retained_id()),
            (3, Some(1))
        );
    }

    #[test]
    fn the_oldest_message_is_evicted_beyond_capacity() {
        let mut channel = Channel::new(2);
        for s in ["a", "b", "c"] {
            channel.publish(text(s));
        }
        assert_eq!(channel.len(), 2);
        assert_eq!(channel.first_retained_id(), Some(2));
        let batch = channel.read_after(0);
        assert_eq!(
            (ids(&batch), batch.missed(), batch.next()),
            (vec![2, 3], 1, 3)
        );
    }

    #[test]
    fn a_zero_capacity_still_retains_the_newest_message() {
        let mut channel = Channel::new(0);
        channel.publish(text("a"));
        channel.publish(text("b"));
        assert_eq!(channel.capacity(), 1);
        assert_eq!(ids(&channel.read_after(0)), [2]);
    }

    #[test]
    fn messages_keep_their_encoded_frame() {
        let mut channel = Channel::new(4);
        channel.publish(text("say \"hi\"\n"));
        let message = channel.latest().unwrap();
        assert_eq!(&**message.frame(), r#"{"id":1,"data":"say \"hi\"\n"}"#);
        assert_eq!(&**message.data(), "say \"hi\"\n");
    }

    #[test]
    fn read_after_returns_later_messages_and_counts_the_evicted() {
        let mut channel = Channel::new(3);
        for i in 1..=5 {
            channel.publish(text(&i.to_string()));
        }
        // Retained: 3, 4, 5.
        let cases = [
            (0, vec![3, 4, 5], 2),
            (1, vec![3, 4, 5], 1),
            (2, vec![3, 4, 5], 0),
        ];
        for (since, expected, missed) in cases {
            let batch = channel.read_after(since);
            assert_eq!(
                (ids(&batch), batch.missed()),
                (expected, missed),
                "since {since}"
            );
        }
        assert_eq!(ids(&channel.read_after(4)), [5]);
        let caught_up = channel.read_after(5);
        assert!(caught_up.is_empty());
        assert_eq!((caught_up.next(), caught_up.missed()), (5, 0));
    }

    #[test]
    fn a_since_beyond_the_last_id_reads_as_caught_up() {
        let mut channel = Channel::new(3);
        let empty = channel.read_after(99);
        assert!(empty.is_empty());
        assert_eq!((empty.next(), empty.missed()), (0, 0));
        channel.publish(text("a"));
        let batch = channel.read_after(99);
        assert!(batch.is_empty());
        assert_eq!(batch.next(), 1);
        assert_eq!(channel.cursor(Some(99)), 1);
        assert_eq!(channel.cursor(Some(0)), 0);
        assert_eq!(channel.cursor(None), 1);
    }

    #[test]
    fn batches_encode_as_poll_answers() {
        let mut channel = Channel::new(2);
        for s in ["a", "b", "c"] {
            channel.publish(text(s));
        }
        assert_eq!(
            channel.read_after(0).to_json(),
            r#"{"messages":[{"id":2,"data":"b"},{"id":3,"data":"c"}],"next":3,"missed":1}"#
        );
        assert_eq!(
            channel.read_after(2).to_json(),
            r#"{"messages":[{"id":3,"data":"c"}],"next":3}"#
        );
    }

    #[test]
    fn read_after_matches_a_model_under_random_operations() {
        let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
        for _ in 0..300 {
            let capacity = 1 + rng.below(8);
            let mut channel = Channel::new(capacity);
            let mut model: Vec<String> = Vec::new(); // model[i] has id i + 1
            for _ in 0..60 {
                if rng.below(3) > 0 {
                    let data = format!("m{}", rng.below(1000));
                    let id = channel.publish(text(&data));
                    model.push(data);
                    assert_eq!(id, model.len() as u64, "ids are 1, 2, 3, …");
                }
                let last = model.len() as u64;
                let first = last.saturating_sub(capacity as u64) + 1; // oldest retained
                let since = rng.below(last as usize + 3) as u64;
                let batch = channel.read_after(since);
                let cursor = since.min(last);
                let expected: Vec<u64> = (cursor.max(first - 1) + 1..=last).collect();
                assert_eq!(ids(&batch), expected);
                let data: Vec<&str> = batch.iter().map(|m| &*m.data).collect();
                let model_data: Vec<&str> = expected
                    .iter()
                    .map(|&id| model[id as usize - 1].as_str())
                    .collect();
                assert_eq!(data, model_data);
                let missed = if last == 0 {
                    0
                } else {
                    (first - 1).saturating_sub(cursor)
                };
                assert_eq!(batch.missed(), missed, "since {since}, first {first}");
                assert_eq!(batch.next(), last.max(cursor));
                assert_eq!(channel.len(), model.len().min(capacity));
            }
        }
    }

    // ----- Hub: long-polling -----

    #[test]
    fn channels_are_created_on_first_publish() {
        let mut hub: Hub<u32> = Hub::new(8);
        assert!(hub.get("a").is_none());
        assert_eq!(hub.publish("a", text("x")).id, 1);
        assert_eq!(hub.publish("b", text("y")).id, 1, "ids are per channel");
        assert_eq!(hub.publish("a", text("z")).id, 2);
        assert_eq!(hub.channel_count(), 2);
        assert_eq!(hub.get("a").unwrap().last_id(), 2);
    }

    #[test]
    fn a_poll_with_retained_messages_is_answered_at_once() {
        let mut hub: Hub<u32> = Hub::new(8);
        hub.publish("a", text("x"));
        hub.publish("a", text("y"));
        let PollOutcome::Ready(body) = hub.poll("a", Some(0), Some(7)) else {
            panic!("expected an answer");
        };
        assert_eq!(ids_in(&body), [1, 2]);
        assert_eq!(number_in(&body, "next"), Some(2));
        assert!(!hub.is_parked("a", &7));
    }

    #[test]
    fn a_poll_without_since_waits_for_the_next_message() {
        let mut hub: Hub<u32> = Hub::new(8);
        hub.publish("a", text("old"));
        assert_eq!(hub.poll("a", None, Some(7)), PollOutcome::Parked);
        let fanout = hub.publish("a", text("new"));
        assert_eq!(fanout.polls, [7]);
        let body = fanout.poll_body.unwrap();
        assert_eq!(&*body, br#"{"messages":[{"id":2,"data":"new"}],"next":2}"#);
        assert!(
            !hub.is_parked("a", &7),
            "answered once, then no longer parked"
        );
        assert!(hub.publish("a", text("later")).polls.is_empty());
    }

    #[test]
    fn a_zero_timeout_poll_with_nothing_new_is_empty_and_creates_nothing() {
        let mut hub: Hub<u32> = Hub::new(8);
        assert_eq!(hub.poll("a", Some(0), None), PollOutcome::Empty);
        assert_eq!(hub.poll("a", None, None), PollOutcome::Empty);
        assert_eq!(hub.channel_count(), 0);
    }

    #[test]
    fn a_poll_from_before_a_restart_waits_and_gets_the_next_message() {
        let mut hub: Hub<u32> = Hub::new(8);
        hub.publish("a", text("x"));
        assert_eq!(hub.poll("a", Some(500), Some(1)), PollOutcome::Parked);
        let fanout = hub.publish("a", text("y"));
        assert_eq!(fanout.polls, [1]);
        assert_eq!(
            ids_in(std::str::from_utf8(&fanout.poll_body.unwrap()).unwrap()),
            [2]
        );
    }

    #[test]
    fn a_poll_behind_the_history_reports_missed() {
        let mut hub: Hub<u32> = Hub::new(2);
        for s in ["a", "b", "c", "d"] {
            hub.publish("ch", text(s));
        }
        let PollOutcome::Ready(body) = hub.poll("ch", Some(0), None) else {
            panic!("expected an answer");
        };
        assert_eq!(ids_in(&body), [3, 4]);
        assert_eq!(number_in(&body, "missed"), Some(2));
    }

    #[test]
    fn one_publish_answers_ten_thousand_parked_polls_with_one_shared_body() {
        let mut hub: Hub<u32> = Hub::new(8);
        for key in 0..10_000 {
            assert_eq!(hub.poll("a", None, Some(key)), PollOutcome::Parked);
        }
        let fanout = hub.publish("a", text("hello"));
        assert_eq!(fanout.polls.len(), 10_000);
        let body = fanout.poll_body.unwrap();
        // One allocation, shared by reference count: `Body::Shared(body.clone())` per response.
        let bodies: Vec<Arc<[u8]>> = fanout.polls.iter().map(|_| Arc::clone(&body)).collect();
        assert!(bodies.iter().all(|b| Arc::ptr_eq(b, &body)));
        assert_eq!(hub.parked_count("a"), 0);
    }

    #[test]
    fn unpark_tells_a_timer_whether_the_request_was_still_waiting() {
        let mut hub: Hub<u32> = Hub::new(8);
        hub.poll("a", None, Some(1));
        hub.poll("a", None, Some(2));
        assert!(hub.unpark("a", &1), "timed out while parked: answer 204");
        assert!(!hub.unpark("a", &1), "already taken back");
        hub.publish("a", text("x"));
        assert!(
            !hub.unpark("a", &2),
            "answered by the publish: the timer does nothing"
        );
        assert!(!hub.unpark("nowhere", &2));
    }

    #[test]
    fn channels_only_ever_waited_on_are_forgotten_when_the_wait_ends() {
        let mut hub: Hub<u32> = Hub::new(8);
        hub.poll("a", None, Some(1));
        hub.subscribe("b", 2, None);
        assert_eq!(hub.channel_count(), 2);
        hub.unpark("a", &1);
        hub.unsubscribe("b", &2);
        assert_eq!(hub.channel_count(), 0);
        // A channel with history stays.
        hub.poll("c", None, Some(3));
        hub.publish("c", text("x"));
        hub.unpark("c", &3);
        assert_eq!(hub.channel_count(), 1);
    }

    // ----- Hub: subscribers -----

    #[test]
    fn subscribing_replays_history_after_since_with_missed() {
        let mut hub: Hub<u32> = Hub::new(2);
        for s in ["a", "b", "c"] {
            hub.publish("ch", text(s));
        }
        let replay = hub.subscribe("ch", 1, Some(0));
        assert_eq!(replay.missed, 1);
        assert_eq!(replay.missed_frame().as_deref(), Some(r#"{"missed":1}"#));
        let frames: Vec<&str> = replay.frames.iter().map(|f| &**f).collect();
        assert_eq!(frames, [r#"{"id":2,"data":"b"}"#, r#"{"id":3,"data":"c"}"#]);
        let fresh = hub.subscribe("ch", 2, None);
        assert_eq!(fresh, Replay::default(), "no since: only new messages");
        assert_eq!(fresh.missed_frame(), None);
        let mut subscribers: Vec<u32> = hub.subscribers("ch").copied().collect();
        subscribers.sort_unstable();
        assert_eq!(subscribers, [1, 2]);
    }

    #[test]
    fn paused_subscribers_are_skipped_then_resume_from_where_they_were() {
        let mut hub: Hub<u32> = Hub::new(3);
        hub.subscribe("ch", 1, None);
        let first = hub.publish("ch", text("a"));
        assert!(hub.pause("ch", &1, first.id - 1), "its send of id 1 failed");
        assert_eq!(hub.subscribers("ch").count(), 0);
        assert_eq!(hub.subscriber_count("ch"), 1);
        hub.publish("ch", text("b"));
        let replay = hub.resume("ch", &1).unwrap();
        assert_eq!(replay.missed, 0);
        assert_eq!(ids_in(&replay.frames.join(",")), [1, 2]);
        assert_eq!(hub.subscribers("ch").count(), 1);
        assert_eq!(hub.resume("ch", &1), None, "not paused any more");
        assert!(!hub.pause("ch", &9, 0), "not a subscriber");
    }

    #[test]
    fn a_subscriber_paused_past_the_history_is_told_how_many_it_missed() {
        let mut hub: Hub<u32> = Hub::new(2);
        hub.subscribe("ch", 1, None);
        hub.pause("ch", &1, 0);
        for s in ["a", "b", "c", "d", "e"] {
            hub.publish("ch", text(s));
        }
        let replay = hub.resume("ch", &1).unwrap();
        assert_eq!(replay.missed, 3);
        assert_eq!(ids_in(&replay.frames.join(",")), [4, 5]);
    }

    #[test]
    fn unsubscribe_removes_active_and_paused_subscribers() {
        let mut hub: Hub<u32> = Hub::new(2);
        hub.subscribe("ch", 1, None);
        hub.subscribe("ch", 2, None);
        hub.pause("ch", &2, 0);
        assert!(hub.unsubscribe("ch", &1));
        assert!(hub.unsubscribe("ch", &2));
        assert!(!hub.unsubscribe("ch", &2));
        assert_eq!(hub.subscriber_count("ch"), 0);
    }

    /// One client of the model test: what it has received, checked as it arrives.
    #[derive(Default)]
    struct Client {
        /// The last id it has seen (its cursor).
        cursor: u64,
        /// Every id received, in order.
        received: Vec<u64>,
        /// The total of the `missed` counts it was told.
        missed: u64,
    }

    impl Client {
        /// Takes a delivery: `missed` evicted ids, then `ids`. Checks the contract: ids
        /// strictly increase, and the gap before them is exactly what `missed` says.
        fn take(&mut self, missed: u64, ids: &[u64]) {
            if let Some(&first) = ids.first() {
                assert_eq!(first, self.cursor + missed + 1, "no loss, no duplicate");
                assert!(
                    ids.windows(2).all(|w| w[1] == w[0] + 1),
                    "ids in order: {ids:?}"
                );
                self.cursor = *ids.last().unwrap();
            } else {
                assert_eq!(missed, 0);
            }
            self.missed += missed;
            self.received.extend_from_slice(ids);
        }
    }

    #[test]
    fn every_waiter_gets_every_retained_message_once_in_order_under_random_operations() {
        let mut rng = XorShift(0xC0FF_EE00_1234_5678);
        // How often the interesting paths ran, so the test cannot pass by not testing.
        let (mut missed_reported, mut parked_answered, mut resumed) = (0, 0, 0);
        for round in 0..200 {
            let history = 1 + rng.below(8);
            let mut hub: Hub<u32> = Hub::new(history);
            // Keys 0..4 are WebSocket subscribers, 4..8 long-poll clients.
            let mut clients: Vec<Client> = (0..8).map(|_| Client::default()).collect();
            let mut subscribed = [false; 4];
            let mut paused = [false; 4];
            for _ in 0..120 {
                let key = rng.below(8) as u32;
                let k = key as usize;
                match rng.below(6) {
                    // Publish and deliver.
                    0 | 1 => {
                        let fanout = hub.publish("ch", text(&format!("r{round}")));
                        let mut subscribers: Vec<u32> = hub.subscribers("ch").copied().collect();
                        subscribers.sort_unstable();
                        let expected: Vec<u32> = (0..4)
                            .filter(|&s| subscribed[s as usize] && !paused[s as usize])
                            .collect();
                        assert_eq!(subscribers, expected);
                        for s in subscribers {
                            clients[s as usize].take(0, &ids_in(&fanout.frame));
                        }
                        let body = fanout
                            .poll_body
                            .map(|b| String::from_utf8(b.to_vec()).unwrap());
                        for p in fanout.polls {
                            let body = body.as_deref().unwrap();
                            clients[p as usize].take(0, &ids_in(body));
                            parked_answered += 1;
                            assert_eq!(number_in(body, "next"), Some(fanout.id));
                        }
                    }
                    // A WebSocket client subscribes (fresh, or from its cursor) or leaves.
                    2 if k < 4 => {
                        if subscribed[k] && rng.below(2) == 0 {
                            assert!(hub.unsubscribe("ch", &key));
                            subscribed[k] = false;
                            paused[k] = false;
                        } else if !subscribed[k] {
                            let since = clients[k].cursor;
                            let replay = hub.subscribe("ch", key, Some(since));
                            let ids: Vec<u64> =
                                replay.frames.iter().flat_map(|f| ids_in(f)).collect();
                            clients[k].take(replay.missed, &ids);
                            subscribed[k] = true;
                        }
                    }
                    // A subscriber's buffer fills (pause) or drains (resume).
                    3 if k < 4 && subscribed[k] => {
                        if paused[k] {
                            let replay = hub.resume("ch", &key).unwrap();
                            resumed += 1;
                            missed_reported += usize::from(replay.missed > 0);
                            let ids: Vec<u64> =
                                replay.frames.iter().flat_map(|f| ids_in(f)).collect();
                            clients[k].take(replay.missed, &ids);
                        } else {
                            assert!(hub.pause("ch", &key, clients[k].cursor));
                        }
                        paused[k] = !paused[k];
                    }
                    // A long-poll client polls from its cursor (if not already waiting).
                    2 | 3 if k >= 4 && !hub.is_parked("ch", &key) => {
                        let park = rng.below(4) > 0;
                        match hub.poll("ch", Some(clients[k].cursor), park.then_some(key)) {
                            PollOutcome::Ready(body) => {
                                let missed = number_in(&body, "missed").unwrap_or(0);
                                missed_reported += usize::from(missed > 0);
                                assert!(missed > 0 || !body.contains("missed"));
                                let ids = ids_in(&body);
                                clients[k].take(missed, &ids);
                                assert_eq!(number_in(&body, "next"), ids.last().copied());
                            }
                            PollOutcome::Parked => assert!(park),
                            PollOutcome::Empty => assert!(!park),
                        }
                    }
                    // A parked poll times out.
                    4 if k >= 4 => {
                        let was_parked = hub.is_parked("ch", &key);
                        assert_eq!(hub.unpark("ch", &key), was_parked);
                    }
                    _ => {}
                }
            }
            // Finally everyone catches up: nothing retained was lost.
            let last = hub.get("ch").map_or(0, Channel::last_id);
            for (k, client) in clients.iter_mut().enumerate() {
                let key = k as u32;
                if k < 4 && subscribed[k] && paused[k] {
                    let replay = hub.resume("ch", &key).unwrap();
                    let ids: Vec<u64> = replay.frames.iter().flat_map(|f| ids_in(f)).collect();
                    client.take(replay.missed, &ids);
                }
                if k < 4 && subscribed[k] {
                    assert_eq!(client.cursor, last, "subscriber {k} is caught up");
                }
                // Each id was received at most once (strictly increasing) and the missed
                // counts account for every gap exactly.
                // Clients start at 0 and always ask from their cursor.
                assert_eq!(client.received.len() as u64 + client.missed, client.cursor);
            }
        }
        assert!(
            missed_reported > 20 && parked_answered > 100 && resumed > 100,
            "{missed_reported} {parked_answered} {resumed}"
        );
    }
}
