//! One channel's stream, sans-IO: its epoch and its bounded history.
//!
//! A [`Channel`] is a bounded log. Messages get ids 1, 2, 3, … in publish order within
//! the channel's [epoch](crate::hub::epoch); the newest are retained, up to a number of
//! messages *and* a number of bytes, and the oldest is evicted when a new one would pass
//! either. Because eviction only ever removes the oldest, the retained ids are always one
//! unbroken run `first..=last`, so "the messages after `since`" is an index computation,
//! not a search, and "how many were evicted that the reader wanted" is a subtraction.
//!
//! Each message is kept once, as the JSON object it is sent as, `{"id":N,"data":"..."}`
//! (its *frame*), in one reference-counted allocation: a WebSocket subscriber is sent
//! that text, a poll answer joins frames, and every delivery shares the one copy. The
//! text is escaped only as JSON requires (RFC 8259 §7), so a message's frame is its
//! length plus ~30 bytes, and at worst 6× its length (a control character is `\u00XX`).
//! What a retained message costs in memory is [`retained_cost`] of its frame: the frame,
//! its reference counts and its slot in the ring; the byte limits count exactly that.
//!
//! Where a reader stands is a [`Position`]: after some id of this stream, or nowhere in
//! it (a [`Position::Reset`]: its cursor came from another epoch, or is ahead of this
//! stream's last id, which no reader of this stream can have seen). A reset reader is
//! answered from the stream's start, with `"reset":true`, on every transport alike.

use std::collections::VecDeque;
use std::mem::size_of;
use std::sync::Arc;

use crate::hub::data::{Data, DataRef, parse_frame};
use crate::hub::epoch::Epoch;
use crate::hub::json::{self, BatchMeta};

// ===== Message =====

/// A retained message: its id and its encoded frame `{"id":N,"data":"..."}`, made once at
/// publish time and shared by every delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    id: u64,
    frame: Arc<str>,
}

impl Message {
    /// The message with this id and frame (`frame` must be [`DataRef::frame`] of that
    /// id).
    pub(crate) fn new(id: u64, frame: Arc<str>) -> Self {
        Message { id, frame }
    }

    /// The message id (1 for a stream's first message).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The JSON object `{"id":N,"data":"..."}`: a WebSocket subscriber's text frame, and
    /// an element of a poll answer.
    pub fn frame(&self) -> &Arc<str> {
        &self.frame
    }

    /// The data that was published, decoded from the frame (the hub keeps no second
    /// copy; this is for readers such as a log writer or a test, not the delivery path).
    /// It makes the same frame again ([`parse_frame`]).
    pub fn data(&self) -> Data {
        parse_frame(&self.frame)
            .map(|(_, data)| data)
            .expect("the hub wrote this frame")
    }
}

/// Bytes of memory a retained message costs beyond its frame's text: the ring slot (the
/// id and the frame's pointer and length) and the allocation's two reference counts.
pub const MESSAGE_OVERHEAD: usize = size_of::<Message>() + 2 * size_of::<usize>();

/// What retaining a message whose frame is `frame_len` bytes costs, in the unit every
/// byte limit of the hub counts.
pub fn retained_cost(frame_len: usize) -> usize {
    frame_len + MESSAGE_OVERHEAD
}

/// The longest frame a message of `max_message` bytes can have: every byte escaped to
/// six (`\u00XX`), and the id at its widest.
pub fn frame_bound(max_message: usize) -> usize {
    let wrapper = r#"{"id":,"data":""}"#.len() + u64::MAX.to_string().len();
    retained_cost(wrapper + 6 * max_message)
}

// ===== Position =====

/// Where a reader stands in a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// After this id (0: before the first message).
    After(u64),
    /// Not in this stream: its cursor is from another epoch, or ahead of the last id. It
    /// is answered from the start, and told to drop its cursor.
    Reset,
}

// ===== Channel =====

/// One channel's stream: its epoch and its bounded history.
#[derive(Debug, Clone)]
pub struct Channel {
    epoch: Epoch,
    /// Retained messages, oldest first. INVARIANT: ids are consecutive, the last is
    /// `last_id`, there are at most `history` of them, and their costs sum to `bytes`.
    messages: VecDeque<Message>,
    /// The id of the newest message ever published; 0 before the first.
    last_id: u64,
    /// [`retained_cost`] of the retained messages. INVARIANT: at most `history_bytes`, or
    /// one message's cost when that one message is more.
    bytes: usize,
    history: usize,
    history_bytes: usize,
}

impl Channel {
    /// An empty stream with this epoch, retaining up to `history` messages and
    /// `history_bytes` bytes of them. A `history` of 0 is raised to 1: the newest message
    /// is always retained, so a reader that is behind always gets at least it (which is
    /// what makes parked requests always caught up).
    pub fn new(epoch: Epoch, history: usize, history_bytes: usize) -> Self {
        Channel {
            epoch,
            messages: VecDeque::new(),
            last_id: 0,
            bytes: 0,
            history: history.max(1),
            history_bytes,
        }
    }

    /// The stream's epoch.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// How many messages this channel retains at most.
    pub fn capacity(&self) -> usize {
        self.history
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

    /// The [`retained_cost`] of the retained messages.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The bytes that retaining one more message of cost `cost` would evict (the oldest
    /// messages, until both limits hold again).
    pub fn eviction_for(&self, cost: usize) -> usize {
        let mut count = self.messages.len() + 1;
        let mut bytes = self.bytes + cost;
        let mut evicted = 0;
        for message in &self.messages {
            if count <= self.history && bytes <= self.history_bytes {
                break;
            }
            let freed = retained_cost(message.frame.len());
            count -= 1;
            bytes -= freed;
            evicted += freed;
        }
        evicted
    }

    /// Appends `data` (text, a `&str`, or a [`DataRef`]) as the next message and returns
    /// its id with the bytes it evicted.
    pub fn publish<'d>(&mut self, data: impl Into<DataRef<'d>>) -> (u64, usize) {
        // u64 ids cannot run out: at a billion messages a second, that takes 584 years.
        let id = self.last_id + 1;
        let frame = Arc::from(data.into().frame(id));
        (id, self.push(Message { id, frame }))
    }

    /// Appends a message whose frame is already encoded, whose id must be the next id, and
    /// returns the bytes it evicted.
    pub(crate) fn push(&mut self, message: Message) -> usize {
        debug_assert_eq!(message.id, self.last_id + 1);
        let cost = retained_cost(message.frame.len());
        let evicted = self.eviction_for(cost);
        let mut freed = 0;
        while freed < evicted {
            let old = self.messages.pop_front().expect("eviction_for counted it");
            freed += retained_cost(old.frame.len());
        }
        self.bytes = self.bytes - freed + cost;
        self.last_id = message.id;
        self.messages.push_back(message);
        freed
    }

    /// Appends a message of a log being recovered: the first may have any id (the ones
    /// before it were evicted before the log was written), the rest follow it.
    pub(crate) fn restore(&mut self, message: Message) {
        if self.messages.is_empty() {
            self.last_id = message.id - 1;
        }
        self.push(message);
    }

    /// Makes `last` the stream's last id, if it is beyond the last message retained: the
    /// messages up to it are gone (a mirror loaded from a store that no longer holds
    /// them), and what is retained is dropped too, since retained ids are consecutive and
    /// end at the last id. A reader behind is told what it missed.
    pub(crate) fn skip_to(&mut self, last: u64) {
        if last > self.last_id {
            self.messages.clear();
            self.bytes = 0;
            self.last_id = last;
        }
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

    /// Where a reader with this cursor stands (see [`Position`]). `since` `None` means
    /// "only what is published from now on": after the last id, whatever the epoch.
    pub fn position(&self, since: Option<u64>, epoch: Option<Epoch>) -> Position {
        match since {
            None => Position::After(self.last_id),
            Some(_) if epoch.is_some_and(|e| e != self.epoch) => Position::Reset,
            Some(since) if since > self.last_id => Position::Reset,
            Some(since) => Position::After(since),
        }
    }

    /// The retained messages after `position`, oldest first, at most `limit` of them and
    /// at most `max_bytes` of frames (but at least one, if there is one), with how many
    /// after it were evicted.
    pub fn read(&self, position: Position, limit: usize, max_bytes: usize) -> Batch<'_> {
        let (since, reset) = match position {
            Position::After(since) => (since.min(self.last_id), false),
            Position::Reset => (0, true),
        };
        let epoch = self.epoch;
        let Some(first) = self.first_retained_id() else {
            return Batch::empty(epoch, reset, since);
        };
        // Ids since+1 ..= first-1 were wanted and are gone.
        let missed = first.saturating_sub(since + 1);
        // INVARIANT: first <= last + 1 and since <= last, so skip <= len.
        let skip = (since + 1).saturating_sub(first) as usize;
        let available = self.messages.len() - skip;
        let mut take = 0;
        let mut bytes = 0;
        for message in self.messages.range(skip..).take(limit.max(1)) {
            bytes += message.frame.len();
            if take > 0 && bytes > max_bytes {
                break;
            }
            take += 1;
        }
        let (a, b) = self.messages.as_slices();
        let (front, back) = if skip <= a.len() {
            let front = &a[skip..(skip + take).min(a.len())];
            (front, &b[..take - front.len()])
        } else {
            (&b[..0], &b[skip - a.len()..skip - a.len() + take])
        };
        // The batch's last id; the cursor itself when there is nothing after it.
        let next = if take == 0 {
            since
        } else {
            since + missed + take as u64
        };
        Batch {
            front,
            back,
            meta: BatchMeta {
                epoch,
                reset,
                next,
                missed,
            },
            more: take < available,
        }
    }

    /// Everything after `since` (no limit): what a WebSocket subscriber is replayed.
    pub fn read_all(&self, position: Position) -> Batch<'_> {
        self.read(position, usize::MAX, usize::MAX)
    }
}

/// The answer to [`Channel::read`]: retained messages after a position.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The messages, as the two halves of the ring buffer.
    front: &'a [Message],
    back: &'a [Message],
    meta: BatchMeta,
    /// More messages follow `next` already.
    more: bool,
}

impl<'a> Batch<'a> {
    fn empty(epoch: Epoch, reset: bool, next: u64) -> Self {
        Batch {
            front: &[],
            back: &[],
            meta: BatchMeta {
                epoch,
                reset,
                next,
                missed: 0,
            },
            more: false,
        }
    }

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
        self.meta.next
    }

    /// How many messages after the cursor were evicted before this read.
    pub fn missed(&self) -> u64 {
        self.meta.missed
    }

    /// Was the reader's cursor from another stream (answered from the start)?
    pub fn is_reset(&self) -> bool {
        self.meta.reset
    }

    /// Did the limit cut the batch short (more retained messages follow `next`)?
    pub fn has_more(&self) -> bool {
        self.more
    }

    /// What the answer says besides its messages.
    pub fn meta(&self) -> BatchMeta {
        self.meta
    }

    /// The messages' frames, shared.
    pub fn frames(&self) -> Vec<Arc<str>> {
        self.iter().map(|m| Arc::clone(&m.frame)).collect()
    }

    /// The poll answer
    /// `{"epoch":"E"[,"reset":true],"messages":[...],"next":M[,"missed":K]}`, built by
    /// joining the messages' stored frames.
    pub fn to_json(&self) -> String {
        json::poll_batch_of_frames(self.iter().map(|m| &*m.frame), self.meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    fn epoch(bits: u64) -> Epoch {
        Epoch::from_bits(bits).unwrap()
    }

    fn channel(history: usize) -> Channel {
        Channel::new(epoch(1), history, usize::MAX)
    }

    fn ids(batch: &Batch<'_>) -> Vec<u64> {
        batch.iter().map(Message::id).collect()
    }

    fn after(channel: &Channel, since: u64) -> Batch<'_> {
        channel.read(Position::After(since), usize::MAX, usize::MAX)
    }

    #[test]
    fn ids_start_at_one_and_increase_by_one() {
        let mut channel = channel(4);
        assert_eq!((channel.last_id(), channel.first_retained_id()), (0, None));
        for (expected, data) in [(1, "a"), (2, "b"), (3, "c")] {
            assert_eq!(channel.publish(data).0, expected);
        }
        assert_eq!(
            (channel.last_id(), channel.first_retained_id()),
            (3, Some(1))
        );
    }

    #[test]
    fn the_oldest_message_is_evicted_beyond_the_count() {
        let mut channel = channel(2);
        for s in ["a", "b", "c"] {
            channel.publish(s);
        }
        assert_eq!(channel.len(), 2);
        assert_eq!(channel.first_retained_id(), Some(2));
        let batch = after(&channel, 0);
        assert_eq!(
            (ids(&batch), batch.missed(), batch.next()),
            (vec![2, 3], 1, 3)
        );
    }

    #[test]
    fn the_oldest_messages_are_evicted_beyond_the_bytes_and_the_bytes_add_up() {
        let cost = retained_cost(json::message_frame(1, "xxxxxxxxxx").len());
        // Room for three messages of ten characters (ids 1 to 9 have one digit).
        let mut channel = Channel::new(epoch(1), 100, 3 * cost);
        for _ in 0..5 {
            channel.publish("xxxxxxxxxx");
        }
        assert_eq!(channel.len(), 3);
        assert_eq!(channel.bytes(), 3 * cost);
        assert_eq!(channel.eviction_for(cost), cost);
        assert_eq!(channel.eviction_for(2 * cost), 2 * cost);
        // A message bigger than all the rest evicts them all but is kept itself.
        let (_, evicted) = channel.publish(&"y".repeat(10 * cost));
        assert_eq!(evicted, 3 * cost);
        assert_eq!((channel.len(), channel.first_retained_id()), (1, Some(6)));
        assert_eq!(
            channel.bytes(),
            retained_cost(channel.latest().unwrap().frame().len())
        );
    }

    #[test]
    fn a_zero_capacity_still_retains_the_newest_message() {
        let mut channel = channel(0);
        channel.publish("a");
        channel.publish("b");
        assert_eq!(channel.capacity(), 1);
        assert_eq!(ids(&after(&channel, 0)), [2]);
    }

    #[test]
    fn messages_keep_one_copy_their_encoded_frame() {
        let mut channel = channel(4);
        channel.publish("say \"hi\"\n");
        let message = channel.latest().unwrap();
        assert_eq!(&**message.frame(), r#"{"id":1,"data":"say \"hi\"\n"}"#);
        assert_eq!(message.data(), Data::Text("say \"hi\"\n".into()));
        assert_eq!(
            size_of::<Message>(),
            24,
            "an id and a shared frame, no data copy"
        );
    }

    #[test]
    fn a_json_message_keeps_its_value_as_published_and_reads_back_as_json() {
        let mut channel = channel(4);
        let value = "{\"user\": \"ann\",\n \"n\": [1, 2.5]}";
        channel.publish(DataRef::Json(value));
        let message = channel.latest().unwrap();
        assert_eq!(
            &**message.frame(),
            "{\"id\":1,\"data\":{\"user\": \"ann\",\n \"n\": [1, 2.5]}}"
        );
        assert_eq!(message.data(), Data::Json(value.into()));
        assert_eq!(
            channel.bytes(),
            retained_cost(value.len() + r#"{"id":1,"data":}"#.len())
        );
    }

    #[test]
    fn the_frame_bound_covers_the_worst_message() {
        let worst = "\u{1}".repeat(100);
        let frame = json::message_frame(u64::MAX, &worst);
        assert_eq!(retained_cost(frame.len()), frame_bound(100));
    }

    #[test]
    fn read_returns_later_messages_and_counts_the_evicted() {
        let mut channel = channel(3);
        for i in 1..=5 {
            channel.publish(&i.to_string());
        }
        // Retained: 3, 4, 5.
        for (since, expected, missed) in [
            (0, vec![3, 4, 5], 2),
            (1, vec![3, 4, 5], 1),
            (2, vec![3, 4, 5], 0),
            (4, vec![5], 0),
        ] {
            let batch = after(&channel, since);
            assert_eq!((ids(&batch), batch.missed()), (expected, missed), "{since}");
        }
        let caught_up = after(&channel, 5);
        assert!(caught_up.is_empty());
        assert_eq!((caught_up.next(), caught_up.missed()), (5, 0));
    }

    #[test]
    fn a_cursor_from_another_epoch_or_ahead_of_the_stream_is_a_reset() {
        let mut channel = Channel::new(epoch(7), 8, usize::MAX);
        channel.publish("a");
        channel.publish("b");
        assert_eq!(
            channel.position(Some(1), Some(epoch(7))),
            Position::After(1)
        );
        assert_eq!(channel.position(Some(1), None), Position::After(1));
        assert_eq!(channel.position(Some(1), Some(epoch(8))), Position::Reset);
        assert_eq!(channel.position(Some(3), None), Position::Reset, "ahead");
        assert_eq!(channel.position(Some(3), Some(epoch(7))), Position::Reset);
        assert_eq!(channel.position(None, Some(epoch(8))), Position::After(2));
        let reset = channel.read_all(Position::Reset);
        assert!(reset.is_reset());
        assert_eq!(
            (ids(&reset), reset.next(), reset.missed()),
            (vec![1, 2], 2, 0)
        );
        let empty = Channel::new(epoch(7), 8, usize::MAX);
        let reset = empty.read_all(Position::Reset);
        assert!(reset.is_reset() && reset.is_empty());
        assert_eq!(reset.next(), 0);
    }

    #[test]
    fn a_limited_read_answers_the_oldest_and_says_where_to_continue() {
        let mut channel = channel(4);
        for i in 1..=7 {
            channel.publish(&format!("m{i}"));
        }
        // Retained 4..=7; a reader at 0 missed 1..=3.
        let first = channel.read(Position::After(0), 2, usize::MAX);
        assert_eq!(
            (ids(&first), first.missed(), first.next()),
            (vec![4, 5], 3, 5)
        );
        assert!(first.has_more());
        let second = channel.read(Position::After(first.next()), 2, usize::MAX);
        assert_eq!(
            (ids(&second), second.missed(), second.next()),
            (vec![6, 7], 0, 7)
        );
        assert!(!second.has_more());
        // Bytes: the answer stops before the frame that passes the bound, but always
        // holds one.
        let frame = channel.latest().unwrap().frame().len();
        let by_bytes = channel.read(Position::After(0), 100, 2 * frame + 1);
        assert_eq!(ids(&by_bytes), [4, 5]);
        let one = channel.read(Position::After(0), 100, 1);
        assert_eq!(ids(&one), [4]);
        assert_eq!(
            channel.read(Position::After(5), 0, 0).len(),
            1,
            "at least one"
        );
    }

    #[test]
    fn batches_encode_as_poll_answers() {
        let mut channel = Channel::new(epoch(0x0123_4567_89AB_CDEF), 2, usize::MAX);
        for s in ["a", "b", "c"] {
            channel.publish(s);
        }
        assert_eq!(
            after(&channel, 0).to_json(),
            r#"{"epoch":"ASNFZ4mrze8","messages":[{"id":2,"data":"b"},{"id":3,"data":"c"}],"next":3,"missed":1}"#
        );
        assert_eq!(
            channel.read_all(Position::Reset).to_json(),
            r#"{"epoch":"ASNFZ4mrze8","reset":true,"messages":[{"id":2,"data":"b"},{"id":3,"data":"c"}],"next":3,"missed":1}"#
        );
    }

    #[test]
    fn read_matches_a_model_under_random_operations() {
        let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
        for _ in 0..300 {
            let history = 1 + rng.below(8);
            let history_bytes = 200 + rng.below(400);
            let mut channel = Channel::new(epoch(3), history, history_bytes);
            let mut model: Vec<String> = Vec::new(); // model[i] has id i + 1
            for _ in 0..60 {
                if rng.below(3) > 0 {
                    let data = "d".repeat(rng.below(120));
                    let (id, _) = channel.publish(&data);
                    assert_eq!(id, model.len() as u64 + 1, "ids are 1, 2, 3, …");
                    model.push(data);
                }
                // The model keeps the newest messages that fit both limits (at least one).
                let last = model.len() as u64;
                let mut first = last + 1;
                let mut bytes = 0;
                while first > 1 {
                    let cost = retained_cost(
                        json::message_frame(first - 1, &model[first as usize - 2]).len(),
                    );
                    let count = (last + 1 - first) as usize;
                    if count > 0 && (count + 1 > history || bytes + cost > history_bytes) {
                        break;
                    }
                    bytes += cost;
                    first -= 1;
                }
                assert_eq!(channel.bytes(), bytes);
                let since = rng.below(last as usize + 1) as u64;
                let limit = 1 + rng.below(6);
                let batch = channel.read(Position::After(since), limit, usize::MAX);
                let from = since.max(first - 1) + 1;
                let expected: Vec<u64> = (from..=last).take(limit).collect();
                assert_eq!(ids(&batch), expected);
                let data: Vec<Data> = batch.iter().map(Message::data).collect();
                let model_data: Vec<Data> = expected
                    .iter()
                    .map(|&id| Data::Text(model[id as usize - 1].clone()))
                    .collect();
                assert_eq!(data, model_data);
                let missed = if last == 0 {
                    0
                } else {
                    (first - 1).saturating_sub(since)
                };
                assert_eq!(batch.missed(), missed, "since {since}, first {first}");
                assert_eq!(batch.next(), expected.last().copied().unwrap_or(since));
                assert_eq!(batch.has_more(), from + (expected.len() as u64) <= last);
            }
        }
    }
}
