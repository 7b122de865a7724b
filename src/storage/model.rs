//! What recovery is checked against, shared by its unit tests and the `storage_recovery`
//! fuzz target (compiled only for those): a simulated log writer, a straightforward model
//! of the fold, and every invariant recovery must keep for any input.

use std::collections::{BTreeMap, VecDeque};

use crate::hub::data::{Data, DataRef};
use crate::status::Status;
use crate::storage::record::{self, Record, SEGMENT_HEADER};
use crate::storage::recovery::{
    Damage, Recovered, RecoveredChannel, RecoveredMessage, Recovery, RecoveryLimits, SegmentReport,
};

/// splitmix64's output function: a bijection, so distinct inputs give distinct outputs.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One segment file of a [`LogWriter`].
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) number: u64,
    pub(crate) bytes: Vec<u8>,
    pub(crate) records: u64,
}

/// A channel as the writer's hub holds it.
#[derive(Debug, Clone)]
struct WriterChannel {
    epoch: u64,
    last_id: u64,
    /// Retained, oldest first, with the segment of each one's newest copy.
    retained: VecDeque<RecoveredMessage>,
    bytes: usize,
}

/// A log writer as the IO layer is meant to be: a hub's channels with bounded histories,
/// every publish appended to the head segment, a tombstone when a channel goes (or a new
/// stream started over the old one), segment rotation, and compaction (the retained
/// messages of the oldest segment copied to the head, in any order, then that segment
/// deleted).
#[derive(Debug, Clone)]
pub(crate) struct LogWriter {
    history: usize,
    history_bytes: usize,
    segments: Vec<Segment>,
    next_segment: u64,
    channels: BTreeMap<String, WriterChannel>,
    epoch_seed: u64,
    epochs_made: u64,
}

impl LogWriter {
    /// A log of one empty segment, numbered `first_segment`, keeping `history` (at least
    /// 1) messages and `history_bytes` of data per channel.
    pub(crate) fn new(
        history: usize,
        history_bytes: usize,
        first_segment: u64,
        epoch_seed: u64,
    ) -> Self {
        let mut writer = LogWriter {
            history: history.max(1),
            history_bytes,
            segments: Vec::new(),
            next_segment: first_segment,
            channels: BTreeMap::new(),
            epoch_seed,
            epochs_made: 0,
        };
        writer.rotate();
        writer
    }

    /// The segment files, oldest first.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Valid records in the segment files.
    pub(crate) fn records(&self) -> u64 {
        self.segments.iter().map(|s| s.records).sum()
    }

    fn append(&mut self, record: &Record<'_>) -> u64 {
        let head = self
            .segments
            .last_mut()
            .expect("the writer always has a head");
        record::encode(record, &mut head.bytes).expect("the writer writes valid records");
        head.records += 1;
        head.number
    }

    /// A new epoch: distinct from every earlier one of this writer, never 0.
    fn new_epoch(&mut self) -> u64 {
        loop {
            self.epochs_made += 1;
            let epoch = mix(self.epoch_seed.wrapping_add(self.epochs_made));
            if epoch != 0 {
                return epoch;
            }
        }
    }

    /// Publishes `data` (text, or a [`DataRef::Json`] of valid JSON) on `name` (a valid
    /// channel name), creating the channel in a new epoch if it does not exist; the id.
    pub(crate) fn publish<'d>(&mut self, name: &str, data: impl Into<DataRef<'d>>) -> u64 {
        let data = data.into();
        if !self.channels.contains_key(name) {
            let epoch = self.new_epoch();
            let channel = WriterChannel {
                epoch,
                last_id: 0,
                retained: VecDeque::new(),
                bytes: 0,
            };
            self.channels.insert(name.to_owned(), channel);
        }
        let channel = &self.channels[name];
        let (epoch, id) = (channel.epoch, channel.last_id + 1);
        let segment = self.append(&Record::Message {
            epoch,
            id,
            name,
            data,
        });
        let (history, history_bytes) = (self.history, self.history_bytes);
        let channel = self.channels.get_mut(name).expect("created above");
        channel.last_id = id;
        channel.bytes += data.len();
        channel.retained.push_back(RecoveredMessage {
            id,
            data: data.into_owned(),
            segment,
        });
        while channel.retained.len() > 1
            && (channel.retained.len() > history || channel.bytes > history_bytes)
        {
            let evicted = channel.retained.pop_front().expect("more than one");
            channel.bytes -= evicted.data.len();
        }
        id
    }

    /// Drops channel `name`, writing its tombstone; the next publish on it starts a new
    /// stream.
    pub(crate) fn drop_channel(&mut self, name: &str) {
        if let Some(channel) = self.channels.remove(name) {
            self.append(&Record::Dropped {
                epoch: channel.epoch,
                name,
            });
        }
    }

    /// Starts channel `name` afresh without a tombstone — a new stream, whose first
    /// message supersedes the old stream's records — and publishes `data` as its id 1.
    /// (Without a tombstone or a new stream's record, the old stream's records would
    /// bring it back: the log has no other way of saying it ended.)
    pub(crate) fn restart(&mut self, name: &str, data: &str) {
        self.channels.remove(name);
        self.publish(name, data);
    }

    /// Seals the head and starts a new segment.
    pub(crate) fn rotate(&mut self) {
        self.segments.push(Segment {
            number: self.next_segment,
            bytes: SEGMENT_HEADER.to_vec(),
            records: 0,
        });
        self.next_segment += 1;
    }

    /// Copies every retained message whose newest copy is in the oldest segment to the
    /// head (in an order `shuffle` picks), then deletes the oldest segment. With a single
    /// segment, rotates first.
    pub(crate) fn compact(&mut self, shuffle: u64) {
        if self.segments.len() < 2 {
            self.rotate();
        }
        let oldest = self.segments[0].number;
        let mut copies: Vec<(String, u64)> = self
            .channels
            .iter()
            .flat_map(|(name, channel)| {
                channel
                    .retained
                    .iter()
                    .filter(|m| m.segment == oldest)
                    .map(|m| (name.clone(), m.id))
            })
            .collect();
        // Fisher–Yates with a deterministic stream.
        for i in (1..copies.len()).rev() {
            let j = (mix(shuffle ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) % (i as u64 + 1))
                as usize;
            copies.swap(i, j);
        }
        for (name, id) in copies {
            let channel = &self.channels[&name];
            let epoch = channel.epoch;
            let index = channel
                .retained
                .iter()
                .position(|m| m.id == id)
                .expect("copied from the retained");
            let data = channel.retained[index].data.clone();
            let segment = self.append(&Record::Message {
                epoch,
                id,
                name: &name,
                data: data.borrowed(),
            });
            self.channels.get_mut(&name).expect("exists").retained[index].segment = segment;
        }
        self.segments.remove(0);
    }

    /// What recovery must find under `limits`, which keep at most what the writer keeps
    /// (`history` and `history_bytes` no larger than the writer's): each channel's
    /// highest retained ids, as many as fit.
    pub(crate) fn expected(&self, limits: &RecoveryLimits) -> Vec<RecoveredChannel> {
        self.channels
            .iter()
            .map(|(name, channel)| RecoveredChannel {
                name: name.clone(),
                epoch: channel.epoch,
                last_id: channel.last_id,
                messages: keep_newest(channel.retained.iter().rev(), limits),
            })
            .collect()
    }
}

/// What recovery keeps of `newest_first` (a stream's messages, ids descending): the
/// first always, then more while their ids are consecutive and they fit the limits;
/// returned ascending.
fn keep_newest<'m>(
    newest_first: impl Iterator<Item = &'m RecoveredMessage>,
    limits: &RecoveryLimits,
) -> Vec<RecoveredMessage> {
    let mut kept: Vec<RecoveredMessage> = Vec::new();
    let mut bytes = 0;
    for message in newest_first {
        if let Some(previous) = kept.last() {
            let fits = kept.len() < limits.history.max(1)
                && bytes + message.data.len() <= limits.history_bytes;
            if previous.id != message.id + 1 || !fits {
                break;
            }
        }
        bytes += message.data.len();
        kept.push(message.clone());
    }
    kept.reverse();
    kept
}

/// The fold of the module documentation, written the obvious way: every message of the
/// current stream is remembered (the newest copy of each), and the limits and the "no
/// holes" rule are applied once, at the end. `None` if two copies of one message differ
/// (a log no writer makes), where rule 3's "ignored" makes the incremental fold keep a
/// different set on purpose, to stay bounded.
pub(crate) fn fold(
    records: &[(u64, Record<'_>)],
    limits: &RecoveryLimits,
) -> Option<Vec<RecoveredChannel>> {
    struct Stream {
        epoch: u64,
        seen: BTreeMap<u64, RecoveredMessage>,
    }
    let mut channels: BTreeMap<&str, Stream> = BTreeMap::new();
    for &(segment, record) in records {
        match record {
            Record::Message {
                epoch,
                id,
                name,
                data,
            } => {
                let stream = channels.entry(name).or_insert_with(|| Stream {
                    epoch,
                    seen: BTreeMap::new(),
                });
                if stream.epoch != epoch {
                    *stream = Stream {
                        epoch,
                        seen: BTreeMap::new(),
                    };
                }
                let message = RecoveredMessage {
                    id,
                    data: data.into_owned(),
                    segment,
                };
                if let Some(earlier) = stream.seen.insert(id, message)
                    && earlier.data.borrowed() != data
                {
                    return None;
                }
            }
            Record::Dropped { epoch, name } => {
                if channels.get(name).is_some_and(|s| s.epoch == epoch) {
                    channels.remove(name);
                }
            }
        }
    }
    let recovered = channels
        .into_iter()
        .map(|(name, stream)| {
            let last_id = stream.seen.keys().next_back().copied().unwrap_or(0);
            RecoveredChannel {
                name: name.to_owned(),
                epoch: stream.epoch,
                last_id,
                messages: keep_newest(stream.seen.values().rev(), limits),
            }
        })
        .collect();
    Some(recovered)
}

/// Runs recovery over `segments` (the last is the head).
pub(crate) fn recover(
    segments: &[(u64, &[u8])],
    limits: &RecoveryLimits,
) -> (Vec<SegmentReport>, Recovered) {
    let mut recovery = Recovery::new(*limits);
    let reports = segments
        .iter()
        .enumerate()
        .map(|(i, (number, bytes))| recovery.segment(*number, bytes, i + 1 == segments.len()))
        .collect();
    (reports, recovery.finish())
}

/// A channel as (name, epoch, last_id, [(id, data)]).
type Unplaced = (String, u64, u64, Vec<(u64, Data)>);

/// Channels without their messages' segments: what does not depend on how records were
/// grouped into files.
fn without_segments(channels: &[RecoveredChannel]) -> Vec<Unplaced> {
    channels
        .iter()
        .map(|c| {
            let messages = c.messages.iter().map(|m| (m.id, m.data.clone())).collect();
            (c.name.clone(), c.epoch, c.last_id, messages)
        })
        .collect()
}

/// Recovers `segments` and panics unless every invariant holds; returns what recovery
/// answered. The invariants, for any bytes:
///
/// - Reports: `valid_len` is 0 or covers at least the header, and never more than the
///   segment; there is damage exactly when it stops short, the damage starts at
///   `valid_len` and runs to the end; a torn tail only in the last segment; the valid
///   prefix decodes again as exactly `records` records.
/// - The result: `records` and `damaged` sum up the reports; channels are sorted by name,
///   each has messages with consecutive ids ascending to `last_id`, within the limits
///   (the newest alone may exceed the bytes), and each message is a record of its
///   stream in the segment it names.
/// - It equals [`fold`] of the valid records, when the copies in them agree.
/// - It depends only on the valid records: the log cut to the valid prefixes (what the
///   IO layer keeps), and those records grouped into other segments (`regroup` picks
///   how), recover to the same channels, with no damage.
pub(crate) fn check(
    segments: &[(u64, &[u8])],
    limits: &RecoveryLimits,
    regroup: u64,
) -> (Vec<SegmentReport>, Recovered) {
    let (reports, recovered) = recover(segments, limits);
    assert_eq!(reports.len(), segments.len());

    let mut valid: Vec<(u64, Record<'_>)> = Vec::new();
    let mut damaged = Vec::new();
    for (i, (&(number, bytes), report)) in segments.iter().zip(&reports).enumerate() {
        let is_last = i + 1 == segments.len();
        let len = bytes.len();
        assert!(report.valid_len <= len, "segment {number}: {report:?}");
        assert!(
            report.valid_len == 0 || report.valid_len >= SEGMENT_HEADER.len(),
            "segment {number}: a valid prefix holds the header: {report:?}"
        );
        let clean = report.valid_len == len && len >= SEGMENT_HEADER.len();
        match report.damage {
            None => assert!(clean, "segment {number}: undamaged but {report:?}"),
            Some(damage) => {
                assert!(!clean, "segment {number}: damage in a clean segment");
                let (at, rest) = match damage {
                    Damage::TornTail { at, bytes } => {
                        assert!(is_last, "segment {number}: a torn tail in a sealed segment");
                        (at, bytes)
                    }
                    Damage::Corrupt { at, bytes, .. } => {
                        assert!(
                            !is_last || report.valid_len == 0,
                            "segment {number}: the head's record damage is a torn tail"
                        );
                        (at, bytes)
                    }
                };
                assert_eq!(at, report.valid_len, "segment {number}: damage at");
                assert_eq!(at + rest, len, "segment {number}: damage to the end");
                damaged.push((number, damage));
            }
        }
        if report.valid_len == 0 {
            assert_eq!(report.records, 0);
            continue;
        }
        let mut at = SEGMENT_HEADER.len();
        let mut count = 0;
        while at < report.valid_len {
            match record::decode(&bytes[at..report.valid_len], limits.max_body) {
                Ok(Status::Complete((record, used))) => {
                    valid.push((number, record));
                    at += used;
                    count += 1;
                }
                other => panic!("segment {number}: the valid prefix at {at}: {other:?}"),
            }
        }
        assert_eq!(at, report.valid_len);
        assert_eq!(count, report.records, "segment {number}: records");
    }
    assert_eq!(recovered.records, valid.len() as u64);
    assert_eq!(recovered.damaged, damaged);

    for pair in recovered.channels.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "channels sorted by name, once each"
        );
    }
    for channel in &recovered.channels {
        let name = &channel.name;
        let messages = &channel.messages;
        assert!(!messages.is_empty(), "{name}: no messages");
        assert!(
            messages.len() <= limits.history.max(1),
            "{name}: over history"
        );
        let bytes: usize = messages.iter().map(|m| m.data.len()).sum();
        assert!(
            messages.len() == 1 || bytes <= limits.history_bytes,
            "{name}: {bytes} bytes over {}",
            limits.history_bytes
        );
        for (i, message) in messages.iter().enumerate() {
            let expected_id = channel.last_id - (messages.len() - 1 - i) as u64;
            assert_eq!(
                message.id, expected_id,
                "{name}: ids consecutive up to last_id"
            );
            let found = valid.iter().any(|&(segment, record)| {
                segment == message.segment
                    && record
                        == Record::Message {
                            epoch: channel.epoch,
                            id: message.id,
                            name,
                            data: message.data.borrowed(),
                        }
            });
            assert!(
                found,
                "{name}: message {} is no record of segment {}",
                message.id, message.segment
            );
        }
    }

    if let Some(model) = fold(&valid, limits) {
        assert_eq!(
            recovered.channels, model,
            "recovery equals the model of the fold"
        );
    }

    // The log as the IO layer leaves it: each segment cut to its valid prefix, those
    // with no valid header set aside.
    let kept: Vec<(u64, &[u8])> = segments
        .iter()
        .zip(&reports)
        .filter(|(_, report)| report.valid_len > 0)
        .map(|(&(number, bytes), report)| (number, &bytes[..report.valid_len]))
        .collect();
    let (kept_reports, kept_recovered) = recover(&kept, limits);
    assert!(
        kept_reports.iter().all(|r| r.damage.is_none()),
        "{kept_reports:?}"
    );
    assert_eq!(
        kept_recovered.channels, recovered.channels,
        "cut to the valid prefixes"
    );
    assert_eq!(kept_recovered.records, recovered.records);

    // The same records in other files.
    let mut files: Vec<Vec<u8>> = vec![SEGMENT_HEADER.to_vec()];
    let mut state = regroup;
    for (_, record) in &valid {
        state = mix(state.wrapping_add(0x9E37_79B9_7F4A_7C15));
        if state.is_multiple_of(4) {
            files.push(SEGMENT_HEADER.to_vec());
        }
        record::encode(record, files.last_mut().expect("one file at least"))
            .expect("a decoded record encodes");
    }
    let regrouped: Vec<(u64, &[u8])> = files
        .iter()
        .enumerate()
        .map(|(i, bytes)| (i as u64 + 1000, bytes.as_slice()))
        .collect();
    let (regrouped_reports, regrouped_recovered) = recover(&regrouped, limits);
    assert!(regrouped_reports.iter().all(|r| r.damage.is_none()));
    assert_eq!(
        without_segments(&regrouped_recovered.channels),
        without_segments(&recovered.channels),
        "regrouped into {} files",
        files.len()
    );

    (reports, recovered)
}
