use std::time::Duration;

use super::*;
use crate::hub::channel::frame_bound;
use crate::test_rng::XorShift;

fn t0() -> Instant {
    // One fixed origin per test process: the hub only compares instants.
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

fn config(history: usize) -> HubConfig {
    HubConfig {
        history,
        ..HubConfig::default()
    }
}

fn hub(history: usize) -> Hub<u32> {
    Hub::with_seed(&config(history), 42)
}

fn since(n: u64) -> Cursor {
    Cursor {
        since: Some(n),
        epoch: None,
    }
}

fn publish(hub: &mut Hub<u32>, name: &str, data: &str) -> Fanout<u32> {
    hub.publish(name, data, t0()).expect("within the limits")
}

fn poll(hub: &mut Hub<u32>, name: &str, cursor: Cursor, park_as: Option<u32>) -> PollOutcome {
    hub.poll(name, cursor, 100, park_as, t0())
        .expect("within the limits")
}

fn ready(outcome: PollOutcome) -> PollAnswer {
    match outcome {
        PollOutcome::Ready(answer) => answer,
        other => panic!("expected an answer, got {other:?}"),
    }
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

fn frame_ids(frames: &[Arc<str>]) -> Vec<u64> {
    frames.iter().flat_map(|f| ids_in(f)).collect()
}

// ----- long-polling -----

#[test]
fn channels_are_created_on_first_publish() {
    let mut hub = hub(8);
    assert!(hub.get("a").is_none());
    assert_eq!(publish(&mut hub, "a", "x").id, 1);
    assert_eq!(publish(&mut hub, "b", "y").id, 1, "ids are per channel");
    assert_eq!(publish(&mut hub, "a", "z").id, 2);
    assert_eq!(hub.channel_count(), 2);
    assert_eq!(hub.get("a").unwrap().last_id(), 2);
    assert_ne!(
        hub.get("a").unwrap().epoch(),
        hub.get("b").unwrap().epoch(),
        "every stream has its own epoch"
    );
}

#[test]
fn a_poll_with_retained_messages_is_answered_at_once() {
    let mut hub = hub(8);
    let epoch = publish(&mut hub, "a", "x").epoch;
    publish(&mut hub, "a", "y");
    let answer = ready(poll(&mut hub, "a", since(0), Some(7)));
    assert_eq!(frame_ids(&answer.frames), [1, 2]);
    assert_eq!((answer.meta.next, answer.meta.epoch), (2, epoch));
    assert!(!answer.meta.reset);
    assert!(!hub.is_parked("a", &7));
}

#[test]
fn a_poll_without_since_waits_for_the_next_message() {
    let mut hub = hub(8);
    publish(&mut hub, "a", "old");
    assert_eq!(
        poll(&mut hub, "a", Cursor::default(), Some(7)),
        PollOutcome::Parked
    );
    let fanout = publish(&mut hub, "a", "new");
    assert_eq!(fanout.polls, [7]);
    let body = fanout.poll_body.unwrap();
    let expected = format!(
        r#"{{"epoch":"{}","messages":[{{"id":2,"data":"new"}}],"next":2}}"#,
        fanout.epoch
    );
    assert_eq!(&*body, expected.as_bytes());
    assert!(
        !hub.is_parked("a", &7),
        "answered once, then no longer parked"
    );
    assert!(publish(&mut hub, "a", "later").polls.is_empty());
}

#[test]
fn a_zero_timeout_poll_with_nothing_new_is_empty_and_creates_nothing() {
    let mut hub = hub(8);
    assert_eq!(poll(&mut hub, "a", since(0), None), PollOutcome::Empty);
    assert_eq!(
        poll(&mut hub, "a", Cursor::default(), None),
        PollOutcome::Empty
    );
    assert_eq!(hub.channel_count(), 0);
}

#[test]
fn a_poll_behind_the_history_reports_missed() {
    let mut hub = hub(2);
    for s in ["a", "b", "c", "d"] {
        publish(&mut hub, "ch", s);
    }
    let answer = ready(poll(&mut hub, "ch", since(0), None));
    assert_eq!(frame_ids(&answer.frames), [3, 4]);
    assert_eq!(answer.meta.missed, 2);
}

#[test]
fn one_publish_answers_ten_thousand_parked_polls_with_one_shared_body() {
    let mut hub = hub(8);
    for key in 0..10_000 {
        assert_eq!(
            poll(&mut hub, "a", Cursor::default(), Some(key)),
            PollOutcome::Parked
        );
    }
    let fanout = publish(&mut hub, "a", "hello");
    assert_eq!(fanout.polls.len(), 10_000);
    let body = fanout.poll_body.unwrap();
    // One allocation, shared by reference count: `Body::Shared(body.clone())` per response.
    let bodies: Vec<Arc<[u8]>> = fanout.polls.iter().map(|_| Arc::clone(&body)).collect();
    assert!(bodies.iter().all(|b| Arc::ptr_eq(b, &body)));
    assert_eq!(hub.parked_count("a"), 0);
}

#[test]
fn unpark_tells_a_timer_whether_the_request_was_still_waiting() {
    let mut hub = hub(8);
    poll(&mut hub, "a", Cursor::default(), Some(1));
    poll(&mut hub, "a", Cursor::default(), Some(2));
    assert!(
        hub.unpark("a", &1, t0()),
        "timed out while parked: answer 204"
    );
    assert!(!hub.unpark("a", &1, t0()), "already taken back");
    publish(&mut hub, "a", "x");
    assert!(
        !hub.unpark("a", &2, t0()),
        "answered by the publish: the timer does nothing"
    );
    assert!(!hub.unpark("nowhere", &2, t0()));
}

#[test]
fn channels_only_ever_waited_on_are_forgotten_when_the_wait_ends() {
    let mut hub = hub(8);
    poll(&mut hub, "a", Cursor::default(), Some(1));
    hub.subscribe("b", 2, Cursor::default(), t0()).unwrap();
    assert_eq!(hub.channel_count(), 2);
    hub.unpark("a", &1, t0());
    hub.unsubscribe("b", &2, t0());
    assert_eq!(hub.channel_count(), 0);
    // A channel with history stays.
    poll(&mut hub, "c", Cursor::default(), Some(3));
    publish(&mut hub, "c", "x");
    hub.unpark("c", &3, t0());
    assert_eq!(hub.channel_count(), 1);
}

#[test]
fn a_poll_limit_pages_through_a_long_history() {
    let mut hub = hub(1000);
    for i in 0..250 {
        publish(&mut hub, "a", &format!("m{i}"));
    }
    let mut cursor = 0;
    let mut pages = Vec::new();
    loop {
        let outcome = hub.poll("a", since(cursor), 100, None, t0()).unwrap();
        let PollOutcome::Ready(answer) = outcome else {
            break;
        };
        let ids = frame_ids(&answer.frames);
        assert_eq!(
            ids.first(),
            Some(&(cursor + 1)),
            "the oldest after since first"
        );
        cursor = answer.meta.next;
        assert_eq!(ids.last(), Some(&cursor));
        pages.push(ids.len());
    }
    assert_eq!(pages, [100, 100, 50]);
}

// ----- epochs -----

#[test]
fn a_cursor_from_another_epoch_is_reset_on_polls_and_subscriptions_alike() {
    let mut old_hub = hub(8);
    let old_epoch = publish(&mut old_hub, "a", "before").epoch;
    // The server restarts: a new hub, a new stream.
    let mut hub: Hub<u32> = Hub::with_seed(&config(8), 43);
    let epoch = publish(&mut hub, "a", "one").epoch;
    publish(&mut hub, "a", "two");
    assert_ne!(epoch, old_epoch);
    let stale = Cursor {
        since: Some(1),
        epoch: Some(old_epoch),
    };
    for park_as in [None, Some(9)] {
        let answer = ready(poll(&mut hub, "a", stale, park_as));
        assert!(answer.meta.reset);
        assert_eq!(answer.meta.epoch, epoch);
        assert_eq!(
            frame_ids(&answer.frames),
            [1, 2],
            "from the new stream's start"
        );
        assert!(!hub.is_parked("a", &9), "a reset is answered at once");
    }
    let subscription = hub.subscribe("a", 5, stale, t0()).unwrap();
    assert!(subscription.reset);
    assert_eq!((subscription.epoch, subscription.next), (epoch, 0));
    assert_eq!(frame_ids(&subscription.replay.frames), [1, 2]);
    assert!(subscription.first_frame().contains(r#""reset":true"#));
    // The same cursor with the current epoch is an ordinary read.
    let current = Cursor {
        since: Some(1),
        epoch: Some(epoch),
    };
    let answer = ready(poll(&mut hub, "a", current, None));
    assert!(!answer.meta.reset);
    assert_eq!(frame_ids(&answer.frames), [2]);
}

#[test]
fn a_cursor_ahead_of_the_stream_is_reset_the_same_by_every_transport() {
    let mut hub = hub(8);
    publish(&mut hub, "a", "x");
    // Without an epoch too: no reader of this stream can have seen id 3.
    for park_as in [None, Some(1)] {
        let answer = ready(poll(&mut hub, "a", since(3), park_as));
        assert!(answer.meta.reset);
        assert_eq!((frame_ids(&answer.frames), answer.meta.next), (vec![1], 1));
    }
    let subscription = hub.subscribe("a", 2, since(3), t0()).unwrap();
    assert!(subscription.reset);
    assert_eq!(frame_ids(&subscription.replay.frames), [1]);
}

#[test]
fn a_cursor_on_a_channel_with_no_stream_is_reset_once_then_waits() {
    let mut hub = hub(8);
    let answer = ready(poll(&mut hub, "gone", since(5), Some(1)));
    assert!(answer.meta.reset && answer.frames.is_empty());
    assert_eq!(answer.meta.next, 0);
    assert_eq!(hub.channel_count(), 0, "a reset creates nothing");
    // From 0, with the epoch it was given or any other, there is nothing to miss.
    let at_zero = Cursor {
        since: Some(0),
        epoch: Some(answer.meta.epoch),
    };
    assert_eq!(
        poll(&mut hub, "gone", at_zero, Some(1)),
        PollOutcome::Parked
    );
    let fanout = publish(&mut hub, "gone", "first");
    assert_eq!(fanout.polls, [1]);
}

#[test]
fn a_channel_dropped_by_its_ttl_comes_back_with_a_new_epoch() {
    let mut hub = hub(8);
    let ttl = hub.config().channel_ttl;
    let first = hub.publish("a", "x", t0()).unwrap().epoch;
    assert_eq!(hub.next_expiry(), Some(t0() + ttl));
    assert!(hub.expire(t0() + ttl - Duration::from_millis(1)).is_empty());
    // A publish later in its life moves its expiry.
    hub.publish("a", "y", t0() + ttl / 2).unwrap();
    assert!(
        hub.expire(t0() + ttl).is_empty(),
        "active half-way: not yet"
    );
    let dropped = hub.expire(t0() + ttl / 2 + ttl);
    assert_eq!(
        dropped,
        [Dropped {
            name: "a".into(),
            epoch: first
        }]
    );
    assert_eq!((hub.channel_count(), hub.retained_bytes()), (0, 0));
    let second = hub.publish("a", "z", t0() + 2 * ttl).unwrap();
    assert_eq!(second.id, 1);
    assert_ne!(second.epoch, first);
}

#[test]
fn the_stats_count_evictions_and_the_messages_an_expired_channel_took_along() {
    let mut hub = hub(2);
    let ttl = hub.config().channel_ttl;
    for data in ["1", "2", "3"] {
        hub.publish("a", data, t0()).unwrap();
    }
    hub.publish("b", "x", t0()).unwrap();
    assert!(hub.expire(t0() + ttl).len() == 2);
    let stats = hub.stats();
    assert_eq!(
        (stats.published, stats.evicted, stats.expired),
        (4, 1, 3),
        "one of a's evicted; a's two and b's one expired"
    );
}

#[test]
fn a_channel_with_waiters_never_expires_and_ages_from_when_the_last_left() {
    let mut hub = hub(8);
    let ttl = hub.config().channel_ttl;
    hub.publish("a", "x", t0()).unwrap();
    hub.subscribe("a", 1, Cursor::default(), t0()).unwrap();
    assert!(hub.expire(t0() + 10 * ttl).is_empty());
    assert_eq!(hub.channel_count(), 1);
    hub.unsubscribe("a", &1, t0() + 10 * ttl);
    assert!(
        hub.expire(t0() + 11 * ttl - Duration::from_millis(1))
            .is_empty()
    );
    assert_eq!(hub.expire(t0() + 11 * ttl).len(), 1);
}

// ----- bounds -----

#[test]
fn a_message_over_the_limit_is_refused_over_every_path() {
    let mut hub: Hub<u32> = Hub::with_seed(
        &HubConfig {
            max_message: 10,
            ..HubConfig::default()
        },
        1,
    );
    assert!(hub.publish("a", &"x".repeat(10), t0()).is_ok());
    assert_eq!(
        hub.publish("a", &"x".repeat(11), t0()).err(),
        Some(HubError::MessageTooLarge)
    );
    assert_eq!(hub.get("a").unwrap().last_id(), 1, "nothing changed");
    // A JSON payload counts its bytes as published, whitespace included.
    assert!(hub.publish("a", DataRef::Json("[ 1, 222 ]"), t0()).is_ok());
    assert_eq!(
        hub.publish("a", DataRef::Json("[ 1, 2222 ]"), t0()).err(),
        Some(HubError::MessageTooLarge)
    );
}

#[test]
fn a_json_payload_reaches_polls_and_subscribers_as_its_value() {
    let mut hub = hub(8);
    assert_eq!(
        poll(&mut hub, "j", Cursor::default(), Some(1)),
        PollOutcome::Parked
    );
    hub.subscribe("j", 2, Cursor::default(), t0()).unwrap();
    let value = "{\"user\":\"ann\",\"tags\":[\"a\",null,1.5e3]}";
    let fanout = hub.publish("j", DataRef::Json(value), t0()).unwrap();
    let frame = format!("{{\"id\":1,\"data\":{value}}}");
    assert_eq!(&*fanout.frame, frame);
    let body = String::from_utf8(fanout.poll_body.unwrap().to_vec()).unwrap();
    assert!(body.contains(&format!("\"messages\":[{frame}]")), "{body}");
    // Text that looks like JSON stays a string.
    let text = publish(&mut hub, "j", value);
    assert!(
        text.frame.starts_with("{\"id\":2,\"data\":\"{\\\"user"),
        "{}",
        text.frame
    );
    let answer = ready(poll(&mut hub, "j", since(0), None));
    assert_eq!(&*answer.frames[0], frame);
}

#[test]
fn new_channels_past_the_limit_are_refused_and_old_ones_still_work() {
    let mut hub: Hub<u32> = Hub::with_seed(
        &HubConfig {
            max_channels: 2,
            ..HubConfig::default()
        },
        1,
    );
    publish(&mut hub, "a", "x");
    assert!(hub.poll("b", Cursor::default(), 1, Some(1), t0()).is_ok());
    assert_eq!(
        hub.publish("c", "x", t0()).err(),
        Some(HubError::TooManyChannels)
    );
    assert_eq!(
        hub.subscribe("c", 2, Cursor::default(), t0()).err(),
        Some(HubError::TooManyChannels)
    );
    assert_eq!(
        hub.poll("c", Cursor::default(), 1, Some(3), t0()).err(),
        Some(HubError::TooManyChannels)
    );
    assert_eq!(
        hub.poll("c", Cursor::default(), 1, None, t0()),
        Ok(PollOutcome::Empty),
        "a poll that parks nothing creates nothing"
    );
    assert!(hub.publish("a", "y", t0()).is_ok());
    assert!(hub.publish("b", "y", t0()).is_ok());
}

#[test]
fn retained_bytes_are_bounded_hub_wide_and_a_channel_s_own_evictions_make_room() {
    let one = frame_bound(100);
    let config = HubConfig {
        history: 2,
        history_bytes: 2 * one,
        max_message: 100,
        max_retained_bytes: 3 * one,
        ..HubConfig::default()
    };
    config.validate().unwrap();
    let mut hub: Hub<u32> = Hub::with_seed(&config, 1);
    let worst = "\u{1}".repeat(100); // every byte escapes to six
    hub.publish("a", &worst, t0()).unwrap();
    hub.publish("a", &worst, t0()).unwrap();
    hub.publish("b", &worst, t0()).unwrap();
    assert!(hub.retained_bytes() <= 3 * one);
    assert_eq!(
        hub.publish("c", &worst, t0()).err(),
        Some(HubError::MemoryFull)
    );
    assert_eq!(
        hub.publish("b", &worst, t0()).err(),
        Some(HubError::MemoryFull)
    );
    // "a" is full: its next message evicts its oldest, so it fits.
    assert_eq!(hub.publish("a", &worst, t0()).unwrap().id, 3);
    assert!(hub.retained_bytes() <= 3 * one);
    let sum: usize = ["a", "b"].iter().map(|n| hub.get(n).unwrap().bytes()).sum();
    assert_eq!(hub.retained_bytes(), sum);
}

#[test]
fn a_channel_entry_without_waiters_is_small() {
    // A flood of names costs each channel this (plus its name and messages).
    let size = size_of::<Entry<u32, u32>>();
    assert!(size <= 112, "{size} bytes");
}

// ----- subscribers -----

#[test]
fn subscribing_replays_history_after_since_with_missed() {
    let mut hub = hub(2);
    for s in ["a", "b", "c"] {
        publish(&mut hub, "ch", s);
    }
    let subscription = hub.subscribe("ch", 1, since(0), t0()).unwrap();
    assert_eq!(subscription.next, 0);
    let replay = subscription.replay;
    assert_eq!(replay.missed, 1);
    assert_eq!(replay.first_id, 2);
    assert_eq!(replay.missed_frame().as_deref(), Some(r#"{"missed":1}"#));
    let frames: Vec<&str> = replay.frames.iter().map(|f| &**f).collect();
    assert_eq!(frames, [r#"{"id":2,"data":"b"}"#, r#"{"id":3,"data":"c"}"#]);
    let fresh = hub.subscribe("ch", 2, Cursor::default(), t0()).unwrap();
    assert_eq!(
        (fresh.next, fresh.reset),
        (3, false),
        "no since: from the last id"
    );
    assert!(fresh.replay.frames.is_empty() && fresh.replay.missed_frame().is_none());
    let mut subscribers: Vec<u32> = hub.subscribers("ch").copied().collect();
    subscribers.sort_unstable();
    assert_eq!(subscribers, [1, 2]);
}

#[test]
fn paused_subscribers_are_skipped_then_resume_from_where_they_were() {
    let mut hub = hub(3);
    hub.subscribe("ch", 1, Cursor::default(), t0()).unwrap();
    let first = publish(&mut hub, "ch", "a");
    assert!(hub.pause("ch", &1, first.id - 1), "its send of id 1 failed");
    assert_eq!(hub.subscribers("ch").count(), 0);
    assert_eq!(hub.subscriber_count("ch"), 1);
    publish(&mut hub, "ch", "b");
    let replay = hub.resume("ch", &1).unwrap();
    assert_eq!(replay.missed, 0);
    assert_eq!(frame_ids(&replay.frames), [1, 2]);
    assert_eq!(hub.subscribers("ch").count(), 1);
    assert_eq!(hub.resume("ch", &1), None, "not paused any more");
    assert!(!hub.pause("ch", &9, 0), "not a subscriber");
}

#[test]
fn a_subscriber_paused_past_the_history_is_told_how_many_it_missed() {
    let mut hub = hub(2);
    hub.subscribe("ch", 1, Cursor::default(), t0()).unwrap();
    hub.pause("ch", &1, 0);
    for s in ["a", "b", "c", "d", "e"] {
        publish(&mut hub, "ch", s);
    }
    let replay = hub.resume("ch", &1).unwrap();
    assert_eq!(replay.missed, 3);
    assert_eq!(frame_ids(&replay.frames), [4, 5]);
}

#[test]
fn unsubscribe_removes_active_and_paused_subscribers() {
    let mut hub = hub(2);
    hub.subscribe("ch", 1, Cursor::default(), t0()).unwrap();
    hub.subscribe("ch", 2, Cursor::default(), t0()).unwrap();
    hub.pause("ch", &2, 0);
    assert!(hub.unsubscribe("ch", &1, t0()));
    assert!(hub.unsubscribe("ch", &2, t0()));
    assert!(!hub.unsubscribe("ch", &2, t0()));
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
        let mut hub = hub(history);
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
                    let fanout = publish(&mut hub, "ch", &format!("r{round}"));
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
                        let batch = json::parse_batch(body.as_deref().unwrap().as_bytes()).unwrap();
                        let ids: Vec<u64> = batch.messages.iter().map(|m| m.0).collect();
                        clients[p as usize].take(0, &ids);
                        parked_answered += 1;
                        assert_eq!(batch.next, fanout.id);
                    }
                }
                // A WebSocket client subscribes (fresh, or from its cursor) or leaves.
                2 if k < 4 => {
                    if subscribed[k] && rng.below(2) == 0 {
                        assert!(hub.unsubscribe("ch", &key, t0()));
                        subscribed[k] = false;
                        paused[k] = false;
                    } else if !subscribed[k] {
                        let cursor = since(clients[k].cursor);
                        let subscription = hub.subscribe("ch", key, cursor, t0()).unwrap();
                        assert!(!subscription.reset);
                        assert_eq!(subscription.next, clients[k].cursor);
                        let replay = subscription.replay;
                        clients[k].take(replay.missed, &frame_ids(&replay.frames));
                        subscribed[k] = true;
                    }
                }
                // A subscriber's buffer fills (pause) or drains (resume).
                3 if k < 4 && subscribed[k] => {
                    if paused[k] {
                        let replay = hub.resume("ch", &key).unwrap();
                        resumed += 1;
                        missed_reported += usize::from(replay.missed > 0);
                        clients[k].take(replay.missed, &frame_ids(&replay.frames));
                    } else {
                        assert!(hub.pause("ch", &key, clients[k].cursor));
                    }
                    paused[k] = !paused[k];
                }
                // A long-poll client polls from its cursor (if not already waiting).
                2 | 3 if k >= 4 && !hub.is_parked("ch", &key) => {
                    let park = rng.below(4) > 0;
                    let limit = 1 + rng.below(4);
                    let cursor = since(clients[k].cursor);
                    match hub
                        .poll("ch", cursor, limit, park.then_some(key), t0())
                        .unwrap()
                    {
                        PollOutcome::Ready(answer) => {
                            let batch = json::parse_batch(answer.to_json().as_bytes()).unwrap();
                            missed_reported += usize::from(batch.missed > 0);
                            assert!(!batch.reset);
                            let ids: Vec<u64> = batch.messages.iter().map(|m| m.0).collect();
                            assert!(ids.len() <= limit);
                            clients[k].take(batch.missed, &ids);
                            assert_eq!(Some(batch.next), ids.last().copied());
                        }
                        PollOutcome::Parked => assert!(park),
                        PollOutcome::Empty => assert!(!park),
                    }
                }
                // A parked poll times out.
                4 if k >= 4 => {
                    let was_parked = hub.is_parked("ch", &key);
                    assert_eq!(hub.unpark("ch", &key, t0()), was_parked);
                }
                _ => {}
            }
            // The gauges are the waiters, whatever happened.
            let stats = hub.stats();
            let parked = (4..8u32).filter(|p| hub.is_parked("ch", p)).count();
            let active = (0..4).filter(|&s| subscribed[s] && !paused[s]).count();
            let paused_now = (0..4).filter(|&s| subscribed[s] && paused[s]).count();
            assert_eq!(
                (
                    stats.parked,
                    stats.active_subscribers,
                    stats.paused_subscribers
                ),
                (parked, active, paused_now)
            );
        }
        // Finally everyone catches up: nothing retained was lost.
        let last = hub.get("ch").map_or(0, Channel::last_id);
        for (k, client) in clients.iter_mut().enumerate() {
            let key = k as u32;
            if k < 4 && subscribed[k] && paused[k] {
                let replay = hub.resume("ch", &key).unwrap();
                client.take(replay.missed, &frame_ids(&replay.frames));
            }
            if k < 4 && subscribed[k] {
                assert_eq!(client.cursor, last, "subscriber {k} is caught up");
            }
            // Each id was received at most once (strictly increasing) and the missed
            // counts account for every gap exactly.
            assert_eq!(client.received.len() as u64 + client.missed, client.cursor);
        }
        // The counters agree with what the clients saw and the history holds.
        let stats = hub.stats();
        let retained = hub.get("ch").map_or(0, |c| c.len() as u64);
        assert_eq!(stats.missed, clients.iter().map(|c| c.missed).sum::<u64>());
        assert_eq!((stats.published, stats.evicted), (last, last - retained));
    }
    assert!(
        missed_reported > 20 && parked_answered > 100 && resumed > 100,
        "{missed_reported} {parked_answered} {resumed}"
    );
}

// ----- prepare, commit, abort, restore -----

#[test]
fn a_prepared_message_is_invisible_until_committed_and_ids_follow_the_order_prepared() {
    let mut hub = hub(8);
    poll(&mut hub, "a", Cursor::default(), Some(1));
    let first = hub.prepare("a", "one", t0()).unwrap();
    let second = hub.prepare("a", "two", t0()).unwrap();
    assert_eq!((first.id, second.id), (1, 2));
    assert_eq!(hub.get("a").unwrap().last_id(), 0, "nothing visible yet");
    assert_eq!(poll(&mut hub, "a", since(0), None), PollOutcome::Empty);
    assert!(hub.is_parked("a", &1));
    let fanout = hub.commit("a", first, t0());
    assert_eq!((fanout.id, fanout.polls.clone()), (1, vec![1]));
    hub.commit("a", second, t0());
    let answer = ready(poll(&mut hub, "a", since(0), None));
    assert_eq!(frame_ids(&answer.frames), [1, 2]);
}

#[test]
fn an_aborted_message_gives_its_id_back_and_its_reserved_bytes() {
    let mut hub = hub(8);
    publish(&mut hub, "a", "kept");
    let before = hub.retained_bytes();
    let lost = hub.prepare("a", "lost", t0()).unwrap();
    let after_it = hub.prepare("a", "also lost", t0()).unwrap();
    hub.abort("a", lost);
    hub.abort("a", after_it);
    assert_eq!(publish(&mut hub, "a", "next").id, 2, "no gap in ids");
    assert!(hub.retained_bytes() > before);
    // A channel created by an aborted first message is forgotten.
    let only = hub.prepare("new", "x", t0()).unwrap();
    hub.abort("new", only);
    assert!(hub.get("new").is_none());
}

#[test]
fn pending_messages_count_against_the_retained_bytes() {
    let one = frame_bound(100);
    let mut config = config(8);
    config.max_message = 100;
    config.history_bytes = 8 * one;
    config.max_retained_bytes = 2 * one;
    let mut hub: Hub<u32> = Hub::with_seed(&config, 1);
    let worst = "\u{1}".repeat(100);
    let a = hub.prepare("a", &worst, t0()).unwrap();
    let _b = hub.prepare("b", &worst, t0()).unwrap();
    assert_eq!(
        hub.prepare("c", &worst, t0()).err(),
        Some(HubError::MemoryFull)
    );
    hub.commit("a", a, t0());
    assert_eq!(
        hub.prepare("c", &worst, t0()).err(),
        Some(HubError::MemoryFull)
    );
}

#[test]
fn a_restored_stream_continues_its_ids_and_epoch() {
    let mut hub = hub(3);
    let epoch = Epoch::from_bits(77).unwrap();
    let messages = [
        (5, DataRef::Text("e")),
        (6, DataRef::Text("f")),
        (7, DataRef::Json("[7]")),
        (8, DataRef::Text("h")),
    ];
    hub.restore("r", epoch, messages, t0());
    let channel = hub.get("r").unwrap();
    let frames: Vec<&str> = channel
        .read_all(Position::After(0))
        .iter()
        .map(|m| &**m.frame())
        .collect();
    assert_eq!(
        frames,
        [
            r#"{"id":6,"data":"f"}"#,
            r#"{"id":7,"data":[7]}"#,
            r#"{"id":8,"data":"h"}"#
        ],
        "JSON restored as JSON"
    );
    assert_eq!((channel.epoch(), channel.last_id()), (epoch, 8));
    assert_eq!(
        channel.first_retained_id(),
        Some(6),
        "the history limit applies"
    );
    assert_eq!(hub.retained_bytes(), channel.bytes());
    let fanout = publish(&mut hub, "r", "i");
    assert_eq!((fanout.id, fanout.epoch), (9, epoch));
    let names: Vec<&str> = hub.streams().map(|(name, _)| name).collect();
    assert_eq!(names, ["r"]);
}

#[test]
fn a_crowd_of_channels_expires_a_batch_at_a_time_and_the_queue_shrinks() {
    let mut hub = hub(8);
    let ttl = hub.config().channel_ttl;
    for i in 0..(2 * EXPIRE_BATCH + 10) {
        hub.publish(&format!("c{i}"), "x", t0()).unwrap();
    }
    let later = t0() + ttl;
    assert_eq!(hub.expire(later).len(), EXPIRE_BATCH, "one batch per call");
    assert_eq!(hub.next_expiry(), Some(later), "the rest is already due");
    assert_eq!(hub.expire(later).len(), EXPIRE_BATCH);
    assert_eq!(hub.expire(later).len(), 10);
    assert_eq!((hub.channel_count(), hub.retained_bytes()), (0, 0));
    assert!(hub.expiry.capacity() < 100, "{}", hub.expiry.capacity());
}

#[test]
fn a_drained_flood_of_channels_leaves_a_fresh_table_with_the_survivors_intact() {
    let mut hub = hub(8);
    let ttl = hub.config().channel_ttl;
    let flood = 2 * TABLE_REMAKE_MIN;
    for i in 0..flood {
        hub.publish(&format!("f{i}"), "x", t0()).unwrap();
    }
    // Survivors: one kept alive by a later publish, one by a subscriber.
    let kept = hub.publish("f1", "again", t0() + ttl / 2).unwrap();
    hub.subscribe("f2", 7, since(0), t0()).unwrap();
    assert_eq!(hub.channels_high_water, flood);
    let later = t0() + ttl;
    while !hub.expire(later).is_empty() {}
    assert_eq!(hub.channel_count(), 2);
    assert_eq!(hub.channels_high_water, 2, "the table was made anew");
    let room = channel_table::<u32, u32>(hub.config()).capacity();
    assert_eq!(hub.channels.capacity(), room, "with the room it was given");
    // Everything about the survivors is as it was.
    let f1 = hub.get("f1").unwrap();
    assert_eq!((f1.epoch(), f1.last_id(), f1.len()), (kept.epoch, 2, 2));
    assert_eq!(hub.subscribers("f2").collect::<Vec<_>>(), [&7]);
    assert_eq!(publish(&mut hub, "f2", "y").id, 2);
    assert_eq!(
        hub.retained_bytes(),
        hub.streams().map(|(_, c)| c.bytes()).sum::<usize>()
    );
    // A table that never held many is left alone.
    let mut small = self::hub(8);
    for i in 0..TABLE_REMAKE_MIN - 1 {
        small.publish(&format!("s{i}"), "x", t0()).unwrap();
    }
    while !small.expire(later).is_empty() {}
    assert_eq!(small.channels_high_water, TABLE_REMAKE_MIN - 1);
}

#[test]
fn a_flood_of_waiters_that_leave_also_leaves_a_fresh_table() {
    let mut hub = hub(8);
    let flood = 2 * TABLE_REMAKE_MIN as u32;
    for key in 0..flood {
        let outcome = hub.poll(&format!("w{key}"), Cursor::default(), 100, Some(key), t0());
        assert_eq!(outcome.unwrap(), PollOutcome::Parked);
    }
    for key in 0..flood {
        assert!(hub.unpark(&format!("w{key}"), &key, t0()));
    }
    assert_eq!(hub.channel_count(), 0, "never published to: forgotten");
    // Made anew when an eighth were left; the rest left the fresh one.
    assert_eq!(hub.channels_high_water, flood as usize / 8);
}
