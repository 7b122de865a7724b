//! `hub_ops`: a hub's channels, history and waiters under random operations, against a
//! simple model.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::hub::json;
use crate::hub::{Cursor, Epoch, Hub, HubConfig, PollOutcome, Prepared, Replay};

use super::Reader;

/// A poll answer, read back by the hub's JSON reader (which shares no code with its
/// writer): (messages, next, missed).
fn json_batch(text: &str) -> (Vec<(u64, String)>, u64, u64, bool) {
    let batch = json::parse_batch(text.as_bytes()).expect("a poll answer reads back");
    (batch.messages, batch.next, batch.missed, batch.reset)
}

/// The model of one channel: every message ever published, and who waits.
#[derive(Debug, Default)]
struct ChannelModel {
    /// All published messages; the id of `log[i]` is `i + 1`.
    log: Vec<String>,
    parked: std::collections::BTreeSet<u32>,
}

impl ChannelModel {
    fn last(&self) -> u64 {
        self.log.len() as u64
    }

    /// The oldest retained id (1 when nothing was evicted).
    fn first_retained(&self, history: usize) -> u64 {
        (self.last() + 1).saturating_sub(history as u64).max(1)
    }

    /// What a reader at `cursor` is owed: the retained messages after it, and how many
    /// after it were evicted.
    fn after(&self, cursor: u64, history: usize) -> (Vec<(u64, String)>, u64) {
        let cursor = cursor.min(self.last());
        let first = self.first_retained(history);
        let missed = first.saturating_sub(cursor + 1);
        let from = (cursor + 1).max(first);
        let messages = (from..=self.last())
            .map(|id| (id, self.log[id as usize - 1].clone()))
            .collect();
        (messages, missed)
    }
}

/// A subscriber in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubState {
    Active,
    Paused,
}

/// A subscriber's view: its state and the last id it received in this subscription.
#[derive(Debug, Clone, Copy)]
struct SubModel {
    channel: usize,
    state: SubState,
    last_received: u64,
}

/// The channels a run uses.
const HUB_CHANNELS: [&str; 2] = ["a", "b.c"];
/// How many subscriber keys a run uses (keys 1000..).
const HUB_SUBSCRIBERS: usize = 4;

/// Checks a replay (on subscribing or resuming) against what the model owes the
/// subscriber, and moves its cursor.
fn check_replay(replay: &Replay, owed: &(Vec<(u64, String)>, u64), sub: &mut SubModel) {
    let frames: Vec<(u64, String)> = replay
        .frames
        .iter()
        .map(|f| json::parse_message(f.as_bytes()).expect("a replayed frame reads back"))
        .collect();
    assert_eq!(&frames, &owed.0, "replayed messages");
    assert_eq!(replay.missed, owed.1, "replay missed");
    match replay.missed_frame() {
        None => assert_eq!(replay.missed, 0),
        Some(f) => assert_eq!(json::parse_missed(f.as_bytes()), Ok(replay.missed)),
    }
    for (id, _) in &frames {
        assert!(*id > sub.last_received, "ids increase per subscriber");
        sub.last_received = *id;
    }
}

/// **hub_ops** — a [`Hub<u32>`] with a history of 1–8 messages under a random sequence
/// of publishes, long-polls (any `since`, any `limit`, the current epoch, another or none,
/// parked or not), unparks, subscribes (any `since`), unsubscribes, pauses (including the
/// "send failed" pause at `id - 1` during a publish) and resumes, on two channels,
/// against a model that keeps every message.
///
/// Publishes are immediate (op 0) or prepared (op 1: a message waiting for its store), and
/// op 1 with bit 6 set answers for the oldest prepared message: stored (commit) or, with
/// bit 5, failed (abort it and every later one, as a log that stopped writing does).
///
/// Input: `[history][op ...]`; each op is a byte whose low 3 bits pick the operation
/// and whose high bits its channel and variant, sometimes followed by argument bytes.
///
/// Invariants: ids are 1, 2, 3 … per channel; a poll answers exactly the oldest `limit`
/// retained messages after `since` (JSON parsed independently: ids, data, `next`,
/// `missed`), or, for a cursor from another epoch or ahead of the last id, a reset with
/// those from the start; it parks exactly when there are none and no reset and it has a
/// key; every parked key is answered by
/// exactly one later publish (in `Fanout::polls`, with a body carrying just that message)
/// or unparked (`unpark` → `true`) — never both, never twice; subscribers get every id
/// in increasing order, each once, with `missed` exactly the number of ids after their
/// cursor evicted before delivery; publishes list exactly the active subscribers; the
/// hub forgets exactly the channels with no history, no waiters and nothing prepared; a
/// prepared message is invisible until committed, ids are given in prepare order, and an
/// aborted id is given again.
pub fn hub_ops(data: &[u8]) {
    let mut r = Reader { data };
    let history = 1 + usize::from(r.u8() % 8);
    let config = HubConfig {
        history,
        ..HubConfig::default()
    };
    let mut hub: Hub<u32> = Hub::with_seed(&config, u64::from(history as u8));
    let now = Instant::now();
    // No stream of this hub has it (2^-64).
    let foreign = Epoch::from_bits(0xDEAD_BEEF).expect("nonzero");
    let mut channels: Vec<ChannelModel> = HUB_CHANNELS.iter().map(|_| Default::default()).collect();
    let mut subs: Vec<Option<SubModel>> = vec![None; HUB_SUBSCRIBERS];
    // Every key ever parked: (channel, key); and how each ended.
    let mut parked_keys: Vec<(usize, u32)> = Vec::new();
    let mut answered: HashMap<u32, usize> = HashMap::new();
    let mut unparked: HashMap<u32, usize> = HashMap::new();
    let mut next_key = 1u32;
    let sub_key = |i: usize| 1000 + i as u32;
    // Prepared messages waiting for their store, oldest first: (channel, message, text).
    let mut pending: VecDeque<(usize, Prepared, String)> = VecDeque::new();

    let mut steps = 0;
    while !r.data.is_empty() && steps < 400 {
        steps += 1;
        let op = r.u8();
        let c = usize::from(op >> 7);
        let name = HUB_CHANNELS[c];
        let variant = (op >> 3) & 0xF;
        let mut committed = None;
        match op & 7 {
            1 if variant & 0x8 != 0 && !pending.is_empty() => {
                // The store answered for the oldest prepared message: stored (commit it)
                // or failed (abort it and every one prepared after it, as a log that
                // stopped writing does).
                if variant & 0x4 != 0 {
                    for (pc, prepared, _) in pending.drain(..) {
                        let expected = channels[pc].last() + 1;
                        assert!(prepared.id >= expected, "ids not committed are still ahead");
                        hub.abort(HUB_CHANNELS[pc], prepared);
                    }
                    for (pc, model) in channels.iter().enumerate() {
                        let next = hub.prepare(HUB_CHANNELS[pc], "probe", now);
                        if let Ok(probe) = next {
                            assert_eq!(probe.id, model.last() + 1, "aborted ids are given again");
                            hub.abort(HUB_CHANNELS[pc], probe);
                        }
                    }
                } else {
                    let (pc, prepared, text) = pending.pop_front().expect("not empty");
                    let id = prepared.id;
                    let fanout = hub.commit(HUB_CHANNELS[pc], prepared, now);
                    assert_eq!(fanout.id, id);
                    committed = Some((pc, fanout, text, variant & 0x3));
                }
            }
            0 | 1 => {
                // publish (op 0, unless the channel has prepared messages waiting) or
                // prepare (op 1): a message stored before it is shown.
                let len = usize::from(r.u8() % 24);
                let text = String::from_utf8_lossy(r.take(len)).into_owned();
                let waiting = pending.iter().any(|(pc, _, _)| *pc == c);
                if op & 7 == 1 || waiting {
                    let prepared = hub.prepare(name, &text, now).expect("within the limits");
                    let ahead = pending.iter().filter(|(pc, _, _)| *pc == c).count() as u64;
                    assert_eq!(
                        prepared.id,
                        channels[c].last() + ahead + 1,
                        "ids in prepare order"
                    );
                    assert_eq!(
                        hub.get(name).map(|ch| ch.last_id()),
                        Some(channels[c].last())
                    );
                    pending.push_back((c, prepared, text));
                } else {
                    let fanout = hub.publish(name, &text, now).expect("within the limits");
                    committed = Some((c, fanout, text, variant));
                }
            }
            2 => {
                // poll(since, epoch, limit, park?)
                let model = &channels[c];
                let last = model.last();
                let since = match variant & 7 {
                    0 => None,
                    1 => Some(0),
                    2 => Some(last),
                    3 => Some(last + 1),
                    4 => Some(u64::MAX),
                    5 => Some(last.saturating_sub(u64::from(r.u8() % 12))),
                    _ => Some(u64::from(r.u8())),
                };
                let arg = r.u8();
                let current = hub.get(name).map(|channel| channel.epoch());
                let epoch = match arg % 3 {
                    0 => None,
                    1 => current,
                    _ => Some(foreign),
                };
                let limit = 1 + usize::from(arg / 3 % 6);
                let park = (variant & 8 != 0).then(|| {
                    next_key += 1;
                    next_key
                });
                let cursor = Cursor { since, epoch };
                let outcome = hub
                    .poll(name, cursor, limit, park, now)
                    .expect("within the limits");
                // A reset: the cursor is from another stream, or ahead of this one, or
                // past 0 on a channel with no stream at all.
                let reset = match (since, current) {
                    (None, _) => false,
                    (Some(s), None) => s > 0,
                    (Some(s), Some(e)) => s > last || epoch.is_some_and(|claimed| claimed != e),
                };
                let owed = since.map(|s| model.after(if reset { 0 } else { s }, history));
                match owed {
                    Some((messages, missed)) if !messages.is_empty() || reset => {
                        let PollOutcome::Ready(answer) = &outcome else {
                            panic!("poll since {since:?}: {outcome:?}, owed {messages:?}")
                        };
                        let messages: Vec<_> = messages.into_iter().take(limit).collect();
                        let next = messages.last().map_or(0, |m| m.0);
                        let expected = (messages, next, missed, reset);
                        assert_eq!(json_batch(&answer.to_json()), expected, "poll answer");
                        if let Some(e) = current {
                            assert_eq!(answer.meta.epoch, e, "answers name the stream");
                        }
                    }
                    _ => match park {
                        Some(key) => {
                            assert_eq!(outcome, PollOutcome::Parked);
                            channels[c].parked.insert(key);
                            parked_keys.push((c, key));
                        }
                        None => assert_eq!(outcome, PollOutcome::Empty),
                    },
                }
            }
            3 => {
                // unpark a key ever parked (maybe answered, maybe on the other channel).
                if parked_keys.is_empty() {
                    continue;
                }
                let (kc, key) = parked_keys[usize::from(r.u8()) % parked_keys.len()];
                let on = if variant & 1 == 0 { kc } else { 1 - kc };
                let expected = channels[on].parked.remove(&key);
                let unparked_now = hub.unpark(HUB_CHANNELS[on], &key, now);
                assert_eq!(unparked_now, expected, "unpark {key}");
                if expected {
                    *unparked.entry(key).or_default() += 1;
                }
            }
            4 => {
                // subscribe(since)
                let i = usize::from(variant) % HUB_SUBSCRIBERS;
                let last = channels[c].last();
                let since = match variant >> 2 {
                    0 => None,
                    1 => Some(0),
                    2 => Some(last + u64::from(r.u8() % 3)),
                    _ => Some(last.saturating_sub(u64::from(r.u8() % 12))),
                };
                // Subscribing on another channel first leaves the old one (as a driver
                // does: one subscription per connection).
                if let Some(old) = subs[i].filter(|s| s.channel != c) {
                    assert!(hub.unsubscribe(HUB_CHANNELS[old.channel], &sub_key(i), now));
                }
                let cursor = Cursor { since, epoch: None };
                let subscription = hub
                    .subscribe(name, sub_key(i), cursor, now)
                    .expect("within the limits");
                let reset = since.is_some_and(|s| s > last);
                assert_eq!(subscription.reset, reset, "a cursor ahead is a reset");
                let cursor = if reset { 0 } else { since.unwrap_or(last) };
                assert_eq!(subscription.next, cursor);
                let replay = subscription.replay;
                let owed = channels[c].after(cursor, history);
                let mut sub = SubModel {
                    channel: c,
                    state: SubState::Active,
                    last_received: cursor,
                };
                check_replay(&replay, &owed, &mut sub);
                assert_eq!(sub.last_received, last, "caught up after the replay");
                subs[i] = Some(sub);
            }
            5 => {
                let i = usize::from(variant) % HUB_SUBSCRIBERS;
                let expected = subs[i].is_some_and(|s| s.channel == c);
                let removed = hub.unsubscribe(name, &sub_key(i), now);
                assert_eq!(removed, expected, "unsubscribe");
                if expected {
                    subs[i] = None;
                }
            }
            6 => {
                // pause at the last id received (u64::MAX also means "caught up").
                let i = usize::from(variant) % HUB_SUBSCRIBERS;
                let expected =
                    subs[i].is_some_and(|s| s.channel == c && s.state == SubState::Active);
                let delivered = match subs[i] {
                    Some(s) if variant & 4 != 0 && s.last_received == channels[c].last() => {
                        u64::MAX
                    }
                    Some(s) => s.last_received,
                    None => 0,
                };
                assert_eq!(hub.pause(name, &sub_key(i), delivered), expected, "pause");
                if expected {
                    subs[i].as_mut().expect("subscribed").state = SubState::Paused;
                }
            }
            _ => {
                let i = usize::from(variant) % HUB_SUBSCRIBERS;
                let paused = subs[i].filter(|s| s.channel == c && s.state == SubState::Paused);
                let replay = hub.resume(name, &sub_key(i));
                match (paused, replay) {
                    (None, None) => {}
                    (Some(mut sub), Some(replay)) => {
                        let owed = channels[c].after(sub.last_received, history);
                        check_replay(&replay, &owed, &mut sub);
                        sub.last_received = channels[c].last();
                        sub.state = SubState::Active;
                        subs[i] = Some(sub);
                    }
                    (expected, got) => panic!("resume: expected {expected:?}, got {got:?}"),
                }
            }
        }

        // A message became visible (published, or committed after being stored): the
        // hub must deliver it exactly as the model says.
        if let Some((c, fanout, text, fail_mask)) = committed.take() {
            let name = HUB_CHANNELS[c];
            let model = &mut channels[c];
            model.log.push(text.clone());
            let id = model.last();
            assert_eq!(fanout.id, id, "ids are consecutive per channel");
            assert_eq!(
                json::parse_message(fanout.frame.as_bytes()),
                Ok((id, text.clone()))
            );
            let epoch = hub.get(name).expect("published to").epoch();
            assert_eq!(fanout.epoch, epoch);
            assert_eq!(
                json::parse_published(fanout.published_body().as_bytes()),
                Ok((id, epoch.to_string()))
            );
            // Parked polls: exactly the model's, each answered once, with this message.
            let mut polls = fanout.polls.clone();
            polls.sort_unstable();
            let expected: Vec<u32> = std::mem::take(&mut model.parked).into_iter().collect();
            assert_eq!(polls, expected, "publish answers exactly the parked polls");
            for key in &polls {
                *answered.entry(*key).or_default() += 1;
            }
            match &fanout.poll_body {
                None => assert!(polls.is_empty()),
                Some(body) => {
                    assert!(!polls.is_empty());
                    let text_body = std::str::from_utf8(body).expect("UTF-8 body");
                    let batch = (vec![(id, text.clone())], id, 0, false);
                    assert_eq!(json_batch(text_body), batch);
                }
            }
            assert_eq!(hub.parked_count(name), 0);
            // Subscribers: exactly the active ones get the frame.
            let mut listed: Vec<u32> = hub.subscribers(name).copied().collect();
            listed.sort_unstable();
            let active: Vec<u32> = (0..HUB_SUBSCRIBERS)
                .filter(|&i| subs[i].is_some_and(|s| s.channel == c && s.state == SubState::Active))
                .map(sub_key)
                .collect();
            assert_eq!(listed, active, "publish goes to the active subscribers");
            for (i, sub) in subs.iter_mut().enumerate() {
                let Some(sub) = sub.as_mut() else {
                    continue;
                };
                if sub.channel != c || sub.state != SubState::Active {
                    continue;
                }
                assert_eq!(
                    sub.last_received,
                    id - 1,
                    "active subscribers are caught up"
                );
                if fail_mask & (1 << i) != 0 {
                    // The send failed: pause at the id before this one.
                    assert!(hub.pause(name, &sub_key(i), id - 1));
                    sub.state = SubState::Paused;
                } else {
                    assert_eq!(id, sub.last_received + 1, "no gap, no repeat");
                    sub.last_received = id;
                }
            }
        }

        // After every step: the hub's view of each channel matches the model.
        let mut live = 0;
        for (c, model) in channels.iter().enumerate() {
            let name = HUB_CHANNELS[c];
            let subscribed = subs.iter().flatten().filter(|s| s.channel == c).count();
            assert_eq!(hub.subscriber_count(name), subscribed, "subscriber count");
            assert_eq!(hub.parked_count(name), model.parked.len(), "parked count");
            for &(kc, key) in &parked_keys {
                assert_eq!(
                    hub.is_parked(name, &key),
                    kc == c && model.parked.contains(&key)
                );
            }
            let waiting = pending.iter().any(|(pc, _, _)| *pc == c);
            let exists = model.last() > 0 || !model.parked.is_empty() || subscribed > 0 || waiting;
            live += usize::from(exists);
            match hub.get(name) {
                Some(channel) => {
                    assert!(exists, "channel {name} should have been forgotten");
                    assert_eq!(channel.last_id(), model.last());
                    assert_eq!(channel.capacity(), history);
                    let retained = model.last() + 1 - model.first_retained(history);
                    assert_eq!(channel.len() as u64, retained, "retained messages");
                    if model.last() > 0 {
                        assert_eq!(
                            channel.first_retained_id(),
                            Some(model.first_retained(history))
                        );
                        assert_eq!(channel.latest().map(|m| m.id()), Some(model.last()));
                    }
                }
                None => assert!(!exists, "channel {name} lost"),
            }
        }
        assert_eq!(hub.channel_count(), live, "channel count");
    }

    // The end: every key still parked is taken back exactly once; every key ever parked
    // was answered by a publish or unparked, exactly one of the two, exactly once.
    for &(c, key) in &parked_keys {
        let expected = channels[c].parked.remove(&key);
        assert_eq!(hub.unpark(HUB_CHANNELS[c], &key, now), expected);
        if expected {
            *unparked.entry(key).or_default() += 1;
        }
        let a = answered.get(&key).copied().unwrap_or(0);
        let u = unparked.get(&key).copied().unwrap_or(0);
        assert_eq!(
            (a + u, a.min(u)),
            (1, 0),
            "key {key}: answered {a}, unparked {u}"
        );
    }
}
