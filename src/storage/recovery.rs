//! Recovery: the segments of a log, folded into the state of every channel.
//!
//! Sans-IO. The IO layer reads each segment file and hands its bytes to
//! [`Recovery::segment`], oldest first; each call answers a [`SegmentReport`] saying how
//! much of the file is valid and what to do about the rest (truncate a torn tail, set a
//! corrupt segment aside). [`Recovery::finish`] then gives every channel's stream and
//! retained history, ready for the hub. No file is opened and no clock read here.
//!
//! # Damage
//!
//! Within a segment, records follow each other with nothing to resynchronize on, so the
//! first record that is bad (or incomplete) ends what can be trusted of that segment:
//!
//! - in the **last** segment, it is a *torn tail* — the write a crash interrupted. The
//!   IO layer truncates the file to [`SegmentReport::valid_len`] and appends after it.
//! - in an earlier, **sealed** segment, it is *corruption*: the rest of that segment is
//!   skipped, reported, and recovery goes on with the next segment. The records lost
//!   leave gaps in ids, which the fold below turns into shorter histories, never into
//!   histories with holes.
//!
//! A segment whose header is bad yields nothing (`valid_len` 0) and is corrupt, even as
//! the last segment: it is not a file this code wrote. The one exception is a last
//! segment shorter than a header that consists of the header's first bytes (a crash
//! while the file was being created): a torn tail of the whole file.
//!
//! # The fold
//!
//! Records are applied in log order — the order they were written — with these rules:
//!
//! 1. **Streams.** A Message for a channel not yet known, or whose epoch is not the
//!    channel's current one, starts the channel afresh in that epoch: the newest stream
//!    in log order wins. (Epochs are random tokens, so "newest" can only mean "later in
//!    the log"; a valid log never goes back to an old stream, and a log that does is
//!    taken at its last word.)
//! 2. **Copies.** Within a stream, ids may arrive out of order and more than once: the
//!    writer reclaims space by copying still-retained messages forward (a checkpoint)
//!    before deleting the segments that held them. So messages are kept by id, a
//!    repeated id replaces the earlier copy (same text; what changes is the segment the
//!    newest copy lives in), and the channel's last id is the highest id seen in the
//!    stream.
//! 3. **Retention.** Memory stays bounded as the log is read: after each insert the
//!    smallest ids are evicted while the channel holds more than `history` messages or
//!    more than `history_bytes` bytes of data — but the highest id is always kept. An id
//!    at or below the highest one evicted so far is ignored without being stored: it
//!    would only be evicted again (or end up below a gap, see rule 5). So what a channel
//!    holds is always the longest run of its stream's highest ids (by id, not by
//!    arrival) that fits the limits, whatever order the copies came in.
//! 4. **Tombstones.** A Dropped record removes the channel if its epoch is the channel's
//!    current one. A Dropped for another epoch is ignored: it ended a stream that is
//!    already gone.
//! 5. **No holes.** At the end, each channel's history is the unbroken run of ids ending
//!    at its last id; anything below a gap (records lost to corruption) is dropped, since
//!    the hub's history is one run `first..=last` and readers compute on that.
//!
//! Every recovered channel has at least one message: a channel exists because a Message
//! started it, and its highest id is never evicted.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::hub::data::{Data, DataRef};
use crate::status::Status;
use crate::storage::record::{self, Record, RecordError, SEGMENT_HEADER};

/// How much of each channel recovery keeps, and the longest record body it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryLimits {
    /// Messages kept per channel (the hub's history). 0 counts as 1: the highest id is
    /// always kept.
    pub history: usize,
    /// Bytes of message data kept per channel (the newest message is kept even if it
    /// alone is larger). Data bytes, where the hub counts its encoded frames: a frame is
    /// never shorter than its data, so the hub's setting here keeps at least what the
    /// hub kept, and the hub trims the rest as it loads them.
    pub history_bytes: usize,
    /// The longest record body accepted; a longer length is damage, found before the
    /// body is read.
    pub max_body: usize,
}

/// What became of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentReport {
    /// The length of the longest prefix made of a valid header and whole valid records:
    /// 0 if the header is bad, the segment's length if nothing is damaged.
    pub valid_len: usize,
    /// The valid records in that prefix.
    pub records: usize,
    /// What is wrong after the prefix, if anything.
    pub damage: Option<Damage>,
}

/// The bytes of a segment after its valid prefix, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The last segment ends in an incomplete or bad record: the write a crash
    /// interrupted. Truncate the file to `at`.
    TornTail {
        /// Where the valid prefix ends (the segment's `valid_len`).
        at: usize,
        /// The bytes after it.
        bytes: usize,
    },
    /// A sealed segment (or a segment with a bad header) is bad from `at` on; those bytes
    /// were skipped.
    Corrupt {
        /// Where the valid prefix ends (the segment's `valid_len`).
        at: usize,
        /// The bytes after it.
        bytes: usize,
        /// What was found at `at` ([`RecordError::Incomplete`] if the segment ends inside
        /// a record).
        error: RecordError,
    },
}

/// The state of the log, once every segment was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Every channel, sorted by name.
    pub channels: Vec<RecoveredChannel>,
    /// Valid records read, in all segments.
    pub records: u64,
    /// Every damaged segment, in the order they were read, with its damage.
    pub damaged: Vec<(u64, Damage)>,
}

/// One channel's stream and retained history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredChannel {
    /// The channel's name.
    pub name: String,
    /// Its current stream.
    pub epoch: u64,
    /// The highest id of that stream in the log (the id the next message follows).
    pub last_id: u64,
    /// The retained messages: consecutive ids ending at `last_id`, ascending; never
    /// empty.
    pub messages: Vec<RecoveredMessage>,
}

/// A retained message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredMessage {
    /// Its id.
    pub id: u64,
    /// Its data: text, or a JSON payload.
    pub data: Data,
    /// The segment holding its newest copy: were that segment reclaimed, this
    /// message must be copied forward if it is still retained.
    pub segment: u64,
}

/// The fold, fed one segment at a time (see the module documentation).
#[derive(Debug)]
pub struct Recovery {
    limits: RecoveryLimits,
    channels: BTreeMap<String, Channel>,
    records: u64,
    damaged: Vec<(u64, Damage)>,
}

/// A channel during the fold.
#[derive(Debug)]
struct Channel {
    epoch: u64,
    /// The retained messages by id. Never empty: a channel is created by the insert of
    /// a Message whose id (never 0) is above the fresh floor of 0, and eviction keeps
    /// the highest id.
    messages: BTreeMap<u64, Kept>,
    /// The sum of their data lengths.
    bytes: usize,
    /// The highest id evicted in this stream (0: none). Every retained id is above it.
    floor: u64,
}

#[derive(Debug)]
struct Kept {
    data: Data,
    segment: u64,
}

impl Recovery {
    /// A fold with nothing read yet.
    pub fn new(limits: RecoveryLimits) -> Self {
        Recovery {
            limits,
            channels: BTreeMap::new(),
            records: 0,
            damaged: Vec::new(),
        }
    }

    /// Folds in the segment numbered `segment`, whose file holds `bytes`. Segments must
    /// come oldest first; `is_last` says this is the one the writer was appending to,
    /// whose damage is a torn tail rather than corruption.
    pub fn segment(&mut self, segment: u64, bytes: &[u8], is_last: bool) -> SegmentReport {
        let damage = |at: usize, error: RecordError| {
            let rest = bytes.len() - at;
            if is_last {
                Damage::TornTail { at, bytes: rest }
            } else {
                Damage::Corrupt {
                    at,
                    bytes: rest,
                    error,
                }
            }
        };
        let mut report = SegmentReport {
            valid_len: 0,
            records: 0,
            damage: None,
        };
        if let Err(error) = record::check_segment_header(bytes) {
            // A last segment that is the start of a header: torn while being created. Any
            // other bad header is not a file this code wrote, however it ends.
            let torn = is_last && SEGMENT_HEADER.starts_with(bytes);
            report.damage = Some(if torn {
                Damage::TornTail {
                    at: 0,
                    bytes: bytes.len(),
                }
            } else {
                Damage::Corrupt {
                    at: 0,
                    bytes: bytes.len(),
                    error,
                }
            });
        } else {
            let mut at = SEGMENT_HEADER.len();
            while at < bytes.len() {
                match record::decode(&bytes[at..], self.limits.max_body) {
                    Ok(Status::Complete((record, used))) => {
                        self.apply(segment, record);
                        report.records += 1;
                        at += used;
                    }
                    Ok(Status::Partial) => {
                        report.damage = Some(damage(at, RecordError::Incomplete));
                        break;
                    }
                    Err(error) => {
                        report.damage = Some(damage(at, error));
                        break;
                    }
                }
            }
            report.valid_len = at;
        }
        self.records += report.records as u64;
        if let Some(damage) = report.damage {
            self.damaged.push((segment, damage));
        }
        report
    }

    /// Every channel's state (see the module documentation, rule 5).
    pub fn finish(self) -> Recovered {
        let channels = self
            .channels
            .into_iter()
            .filter_map(|(name, channel)| {
                // Never empty (see `Channel::messages`); an empty one would be skipped.
                let (&last_id, _) = channel.messages.last_key_value()?;
                // Walk down from the last id while ids are consecutive.
                let mut messages: Vec<RecoveredMessage> = channel
                    .messages
                    .into_iter()
                    .rev()
                    .zip((1..=last_id).rev())
                    .take_while(|((id, _), expected)| id == expected)
                    .map(|((id, kept), _)| RecoveredMessage {
                        id,
                        data: kept.data,
                        segment: kept.segment,
                    })
                    .collect();
                messages.reverse();
                Some(RecoveredChannel {
                    name,
                    epoch: channel.epoch,
                    last_id,
                    messages,
                })
            })
            .collect();
        Recovered {
            channels,
            records: self.records,
            damaged: self.damaged,
        }
    }

    /// One valid record, in log order.
    fn apply(&mut self, segment: u64, record: Record<'_>) {
        match record {
            Record::Message {
                epoch,
                id,
                name,
                data,
            } => {
                if !self.channels.contains_key(name) {
                    self.channels.insert(name.to_owned(), Channel::new(epoch));
                }
                let Some(channel) = self.channels.get_mut(name) else {
                    return;
                };
                if channel.epoch != epoch {
                    // Another stream: it replaces this one (rule 1).
                    *channel = Channel::new(epoch);
                }
                channel.insert(id, data, segment, &self.limits);
            }
            Record::Dropped { epoch, name } => {
                if self.channels.get(name).is_some_and(|c| c.epoch == epoch) {
                    self.channels.remove(name);
                }
            }
        }
    }
}

impl Channel {
    fn new(epoch: u64) -> Self {
        Channel {
            epoch,
            messages: BTreeMap::new(),
            bytes: 0,
            floor: 0,
        }
    }

    /// Rules 2 and 3: keep (or refresh) message `id`, then evict down to the limits.
    fn insert(&mut self, id: u64, data: DataRef<'_>, segment: u64, limits: &RecoveryLimits) {
        if id <= self.floor {
            return; // below an evicted id: it would be evicted again (nothing allocated)
        }
        match self.messages.entry(id) {
            Entry::Occupied(mut entry) => {
                let kept = entry.get_mut();
                if kept.data.borrowed() != data {
                    // Not a faithful copy: the later word wins, and the sizes follow it.
                    self.bytes = self.bytes - kept.data.len() + data.len();
                    kept.data = data.into_owned();
                }
                kept.segment = segment;
            }
            Entry::Vacant(entry) => {
                entry.insert(Kept {
                    data: data.into_owned(),
                    segment,
                });
                self.bytes += data.len();
            }
        }
        let history = limits.history.max(1);
        while self.messages.len() > 1
            && (self.messages.len() > history || self.bytes > limits.history_bytes)
        {
            if let Some((evicted, kept)) = self.messages.pop_first() {
                self.bytes -= kept.data.len();
                self.floor = evicted;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::model::{self, LogWriter};
    use crate::storage::record::encode;
    use crate::test_rng::XorShift;

    const LIMITS: RecoveryLimits = RecoveryLimits {
        history: 4,
        history_bytes: 1 << 20,
        max_body: 1 << 16,
    };

    fn msg<'a>(epoch: u64, id: u64, name: &'a str, data: &'a str) -> Record<'a> {
        Record::Message {
            epoch,
            id,
            name,
            data: DataRef::Text(data),
        }
    }

    fn json_msg<'a>(epoch: u64, id: u64, name: &'a str, data: &'a str) -> Record<'a> {
        Record::Message {
            epoch,
            id,
            name,
            data: DataRef::Json(data),
        }
    }

    /// A segment file holding `records`.
    fn segment_of(records: &[Record<'_>]) -> Vec<u8> {
        let mut bytes = SEGMENT_HEADER.to_vec();
        for record in records {
            encode(record, &mut bytes).unwrap();
        }
        bytes
    }

    /// Recovers whole segments numbered 1, 2, 3 …, checking every invariant.
    fn recover(segments: &[Vec<u8>], limits: &RecoveryLimits) -> (Vec<SegmentReport>, Recovered) {
        let numbered: Vec<(u64, &[u8])> = segments
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u64 + 1, s.as_slice()))
            .collect();
        model::check(&numbered, limits, 0x5EED)
    }

    /// A channel as (name, epoch, last_id, [(id, data, segment)]).
    type Summary<'a> = (&'a str, u64, u64, Vec<(u64, &'a str, u64)>);

    fn summary(recovered: &Recovered) -> Vec<Summary<'_>> {
        recovered
            .channels
            .iter()
            .map(|c| {
                let messages = c
                    .messages
                    .iter()
                    .map(|m| (m.id, m.data.as_str(), m.segment))
                    .collect();
                (c.name.as_str(), c.epoch, c.last_id, messages)
            })
            .collect()
    }

    #[test]
    fn an_empty_segment_is_its_header_and_nothing_else() {
        let (reports, recovered) = recover(&[segment_of(&[])], &LIMITS);
        assert_eq!(
            reports,
            [SegmentReport {
                valid_len: 16,
                records: 0,
                damage: None
            }]
        );
        assert_eq!(
            recovered,
            Recovered {
                channels: vec![],
                records: 0,
                damaged: vec![]
            }
        );
    }

    #[test]
    fn a_bad_header_makes_the_whole_segment_damage() {
        let mut bad = segment_of(&[msg(1, 1, "a", "lost")]);
        bad[0] = b'X';
        let good = segment_of(&[msg(2, 1, "b", "kept")]);
        for (segments, bad_number) in [
            (vec![bad.clone(), good.clone()], 1),
            (vec![good, bad.clone()], 2),
        ] {
            let (reports, recovered) = recover(&segments, &LIMITS);
            let report = reports[bad_number as usize - 1];
            let damage = Damage::Corrupt {
                at: 0,
                bytes: bad.len(),
                error: RecordError::BadMagic,
            };
            assert_eq!(
                report,
                SegmentReport {
                    valid_len: 0,
                    records: 0,
                    damage: Some(damage)
                },
                "even as the last segment: not a torn write"
            );
            assert_eq!(recovered.damaged, [(bad_number, damage)]);
            assert_eq!(
                summary(&recovered),
                [("b", 2, 1, vec![(1, "kept", 3 - bad_number)])]
            );
        }
    }

    #[test]
    fn a_last_segment_torn_inside_its_header_is_a_torn_tail() {
        let sealed = segment_of(&[msg(1, 1, "a", "x")]);
        for len in 0..SEGMENT_HEADER.len() {
            let head = SEGMENT_HEADER[..len].to_vec();
            let (reports, recovered) = recover(&[sealed.clone(), head.clone()], &LIMITS);
            assert_eq!(reports[1].valid_len, 0);
            assert_eq!(
                reports[1].damage,
                Some(Damage::TornTail { at: 0, bytes: len })
            );
            assert_eq!(recovered.channels.len(), 1);
            // Sealed, the same bytes are corruption.
            let (reports, _) = recover(&[head, sealed.clone()], &LIMITS);
            assert_eq!(
                reports[0].damage,
                Some(Damage::Corrupt {
                    at: 0,
                    bytes: len,
                    error: RecordError::HeaderTooShort { len }
                })
            );
        }
    }

    /// A log from a writer with several segments, several channels and compaction; the
    /// segments, and where the head's final record starts.
    fn written_log() -> (Vec<Vec<u8>>, usize) {
        let mut writer = LogWriter::new(4, 1 << 20, 1, 99);
        for i in 0..30 {
            let name = ["a", "b.c", "room-1"][i % 3];
            writer.publish(name, &format!("message {i} on {name}"));
            if i % 7 == 6 {
                writer.rotate();
            }
            if i % 11 == 10 {
                writer.compact(i as u64);
            }
        }
        writer.drop_channel("b.c");
        writer.publish("b.c", "a new stream");
        let final_start = writer.segments().last().unwrap().bytes.len();
        writer.publish("a", "the final record, torn");
        let segments = writer.segments().iter().map(|s| s.bytes.clone()).collect();
        (segments, final_start)
    }

    #[test]
    fn truncating_the_last_segment_in_its_final_record_loses_only_that_record() {
        let (segments, start) = written_log();
        let (_, whole) = recover(&segments, &LIMITS);
        let mut without = segments.clone();
        without.last_mut().unwrap().truncate(start);
        let (_, before) = recover(&without, &LIMITS);
        assert_ne!(before.channels, whole.channels);
        let head = segments.last().unwrap();
        for cut in start..head.len() {
            let mut torn = segments.clone();
            torn.last_mut().unwrap().truncate(cut);
            let (reports, recovered) = recover(&torn, &LIMITS);
            let report = reports.last().unwrap();
            assert_eq!(report.valid_len, start, "cut at {cut}");
            let damage = (cut > start).then_some(Damage::TornTail {
                at: start,
                bytes: cut - start,
            });
            assert_eq!(report.damage, damage, "cut at {cut}");
            assert_eq!(recovered.channels, before.channels, "cut at {cut}");
        }
    }

    #[test]
    fn flipping_any_bit_of_the_final_record_loses_only_that_record() {
        let (segments, start) = written_log();
        let mut without = segments.clone();
        without.last_mut().unwrap().truncate(start);
        let (_, before) = recover(&without, &LIMITS);
        let len = segments.last().unwrap().len();
        for bit in start * 8..len * 8 {
            let mut flipped = segments.clone();
            flipped.last_mut().unwrap()[bit / 8] ^= 1 << (bit % 8);
            let (reports, recovered) = recover(&flipped, &LIMITS);
            let report = reports.last().unwrap();
            assert_eq!(report.valid_len, start, "bit {bit}");
            assert_eq!(
                report.damage,
                Some(Damage::TornTail {
                    at: start,
                    bytes: len - start
                }),
                "bit {bit}"
            );
            assert_eq!(recovered.channels, before.channels, "bit {bit}");
        }
    }

    #[test]
    fn a_bit_flip_in_a_sealed_segment_skips_the_rest_of_it_and_recovery_goes_on() {
        let first = segment_of(&[msg(1, 1, "a", "one"), msg(1, 2, "a", "two")]);
        let records = [
            msg(1, 3, "a", "three"),
            msg(1, 4, "a", "four"),
            msg(1, 5, "a", "five"),
            msg(9, 1, "z", "zed"),
        ];
        let second = segment_of(&records);
        let third = segment_of(&[msg(1, 6, "a", "six"), msg(1, 7, "a", "seven")]);
        let starts: Vec<usize> = records
            .iter()
            .scan(SEGMENT_HEADER.len(), |at, r| {
                let start = *at;
                *at += record::encoded_len(r);
                Some(start)
            })
            .collect();
        let limits = RecoveryLimits {
            history: 10,
            ..LIMITS
        };
        for (index, &start) in starts.iter().enumerate() {
            let end = start + record::encoded_len(&records[index]);
            for bit in (start * 8..end * 8).step_by(5) {
                let mut damaged = second.clone();
                damaged[bit / 8] ^= 1 << (bit % 8);
                let log = [first.clone(), damaged, third.clone()];
                let (reports, recovered) = recover(&log, &limits);
                assert_eq!(reports[1].valid_len, start, "bit {bit}");
                assert_eq!(reports[1].records, index);
                assert!(
                    matches!(reports[1].damage, Some(Damage::Corrupt { at, bytes, .. }) if at == start && bytes == second.len() - start),
                    "bit {bit}: {:?}",
                    reports[1]
                );
                assert_eq!(reports[2].records, 2, "the next segment is read");
                // Ids 3..=5 from `index` on are lost: "a" keeps 6, 7 and what runs
                // into them without a gap.
                let a = &recovered.channels[0];
                assert_eq!((a.name.as_str(), a.last_id), ("a", 7));
                let first_kept = if index == 3 { 1 } else { 6 };
                assert_eq!(a.messages[0].id, first_kept, "bit {bit}");
                assert_eq!(recovered.channels.len(), 1, "z is lost with its record");
            }
        }
    }

    #[test]
    fn a_sealed_segment_ending_inside_a_record_is_corrupt() {
        let mut sealed = segment_of(&[msg(1, 1, "a", "kept"), msg(1, 2, "a", "cut")]);
        sealed.truncate(sealed.len() - 1);
        let head = segment_of(&[]);
        let (reports, recovered) = recover(&[sealed.clone(), head], &LIMITS);
        let at = SEGMENT_HEADER.len() + record::encoded_len(&msg(1, 1, "a", "kept"));
        assert_eq!(
            reports[0].damage,
            Some(Damage::Corrupt {
                at,
                bytes: sealed.len() - at,
                error: RecordError::Incomplete
            })
        );
        assert_eq!(summary(&recovered), [("a", 1, 1, vec![(1, "kept", 1)])]);
    }

    #[test]
    fn a_huge_length_is_damage_found_from_the_length_alone() {
        let mut sealed = segment_of(&[msg(1, 1, "a", "kept")]);
        let at = sealed.len();
        sealed.extend_from_slice(&u32::MAX.to_le_bytes());
        sealed.extend_from_slice(&[0xAB; 4]);
        let (reports, _) = recover(&[sealed, segment_of(&[])], &LIMITS);
        assert_eq!(
            reports[0].damage,
            Some(Damage::Corrupt {
                at,
                bytes: 8,
                error: RecordError::TooLong {
                    len: u64::from(u32::MAX),
                    max: LIMITS.max_body as u64
                }
            })
        );
    }

    #[test]
    fn a_record_over_max_body_is_damage() {
        let log = segment_of(&[msg(1, 1, "a", "short"), msg(1, 2, "a", &"long ".repeat(20))]);
        let limits = RecoveryLimits {
            max_body: 50,
            ..LIMITS
        };
        let (reports, recovered) = recover(&[log], &limits);
        assert!(matches!(reports[0].damage, Some(Damage::TornTail { .. })));
        assert_eq!(summary(&recovered), [("a", 1, 1, vec![(1, "short", 1)])]);
    }

    #[test]
    fn retention_keeps_the_newest_messages_within_both_limits() {
        let data: Vec<String> = (1..=10).map(|i| "x".repeat(i)).collect();
        let records: Vec<Record<'_>> = (0..10)
            .map(|i| msg(5, i as u64 + 1, "c", &data[i]))
            .collect();
        let log = [segment_of(&records)];
        let kept = |limits| -> Vec<u64> {
            let (_, recovered) = recover(&log, &limits);
            recovered.channels[0]
                .messages
                .iter()
                .map(|m| m.id)
                .collect()
        };
        assert_eq!(
            kept(RecoveryLimits {
                history: 3,
                ..LIMITS
            }),
            [8, 9, 10]
        );
        // 10 + 9 + 8 = 27 bytes fit 27; 7 more do not.
        let bytes = |history_bytes| RecoveryLimits {
            history: 100,
            history_bytes,
            ..LIMITS
        };
        assert_eq!(kept(bytes(27)), [8, 9, 10]);
        assert_eq!(kept(bytes(33)), [8, 9, 10]);
        assert_eq!(kept(bytes(34)), [7, 8, 9, 10]);
        assert_eq!(kept(bytes(10)), [10]);
        assert_eq!(
            kept(bytes(0)),
            [10],
            "the newest is kept even over the bytes"
        );
        assert_eq!(
            kept(RecoveryLimits {
                history: 0,
                ..LIMITS
            }),
            [10],
            "0 counts as 1"
        );
    }

    #[test]
    fn copies_out_of_order_and_twice_merge_by_id_and_remember_the_newest_segment() {
        let log = [
            segment_of(&[msg(7, 1, "c", "one"), msg(7, 2, "c", "two")]),
            segment_of(&[msg(7, 3, "c", "three"), msg(7, 2, "c", "two")]),
            segment_of(&[
                msg(7, 1, "c", "one"),
                msg(7, 4, "c", "four"),
                msg(7, 2, "c", "two"),
            ]),
        ];
        let (_, recovered) = recover(&log, &LIMITS);
        assert_eq!(
            summary(&recovered),
            [(
                "c",
                7,
                4,
                vec![
                    (1, "one", 3),
                    (2, "two", 3),
                    (3, "three", 2),
                    (4, "four", 3)
                ]
            )]
        );
        assert_eq!(recovered.records, 7);
    }

    #[test]
    fn an_id_at_or_below_an_evicted_one_is_ignored() {
        // History 2: 5 evicts 3; the late copy of 3 and the older 2 are not taken back.
        let limits = RecoveryLimits {
            history: 2,
            ..LIMITS
        };
        let log = [segment_of(&[
            msg(1, 3, "c", "three"),
            msg(1, 4, "c", "four"),
            msg(1, 5, "c", "five"),
            msg(1, 3, "c", "three"),
            msg(1, 2, "c", "two"),
        ])];
        let (_, recovered) = recover(&log, &limits);
        assert_eq!(
            summary(&recovered),
            [("c", 1, 5, vec![(4, "four", 1), (5, "five", 1)])]
        );
        // Under a byte limit, the order copies arrive in does not change what is kept:
        // 3 and 4 are one byte too many, so 4 alone; 2 (empty) would fit beside 4, but
        // it is below the evicted 3.
        let limits = RecoveryLimits {
            history: 10,
            history_bytes: 5,
            ..LIMITS
        };
        let (two, three, four) = (
            msg(1, 2, "c", ""),
            msg(1, 3, "c", "xxxxx"),
            msg(1, 4, "c", "x"),
        );
        for order in [
            [two, three, four],
            [two, four, three],
            [three, two, four],
            [three, four, two],
            [four, two, three],
            [four, three, two],
        ] {
            let (_, recovered) = recover(&[segment_of(&order)], &limits);
            assert_eq!(
                summary(&recovered),
                [("c", 1, 4, vec![(4, "x", 1)])],
                "{order:?}"
            );
        }
    }

    #[test]
    fn another_epoch_starts_the_channel_afresh() {
        let log = [
            segment_of(&[msg(1, 1, "c", "old 1"), msg(1, 2, "c", "old 2")]),
            segment_of(&[msg(2, 1, "c", "new 1")]),
        ];
        let (_, recovered) = recover(&log, &LIMITS);
        assert_eq!(summary(&recovered), [("c", 2, 1, vec![(1, "new 1", 2)])]);
        // Going back to an earlier epoch is taken at its word too: the last writer wins.
        let log = [segment_of(&[
            msg(2, 1, "c", "new 1"),
            msg(1, 3, "c", "old 3"),
        ])];
        let (_, recovered) = recover(&log, &LIMITS);
        assert_eq!(summary(&recovered), [("c", 1, 3, vec![(3, "old 3", 1)])]);
    }

    #[test]
    fn a_tombstone_removes_only_its_own_stream() {
        let dropped = |epoch| Record::Dropped { epoch, name: "c" };
        let log = [segment_of(&[
            msg(1, 1, "c", "x"),
            dropped(1),
            msg(1, 1, "d", "y"),
        ])];
        let (_, recovered) = recover(&log, &LIMITS);
        assert_eq!(summary(&recovered), [("d", 1, 1, vec![(1, "y", 1)])]);
        let log = [segment_of(&[
            msg(2, 1, "c", "x"),
            dropped(1),
            dropped(3),
            dropped(2),
        ])];
        let (_, recovered) = recover(&log, &LIMITS);
        assert!(recovered.channels.is_empty());
        let log = [segment_of(&[dropped(1), msg(2, 1, "c", "x"), dropped(1)])];
        let (_, recovered) = recover(&log, &LIMITS);
        assert_eq!(summary(&recovered), [("c", 2, 1, vec![(1, "x", 1)])]);
    }

    #[test]
    fn a_gap_in_ids_cuts_the_history_to_the_run_ending_at_last_id() {
        let log = [segment_of(&[
            msg(1, 1, "c", "1"),
            msg(1, 2, "c", "2"),
            msg(1, 4, "c", "4"),
            msg(1, 5, "c", "5"),
        ])];
        let limits = RecoveryLimits {
            history: 10,
            ..LIMITS
        };
        let (_, recovered) = recover(&log, &limits);
        assert_eq!(
            summary(&recovered),
            [("c", 1, 5, vec![(4, "4", 1), (5, "5", 1)])]
        );
    }

    #[test]
    fn damage_display_and_errors_are_reported_per_segment() {
        let mut sealed = segment_of(&[msg(1, 1, "a", "x")]);
        sealed.push(0);
        let (_, recovered) = recover(&[sealed, segment_of(&[]), vec![]], &LIMITS);
        assert_eq!(
            recovered.damaged,
            [
                (
                    1,
                    Damage::Corrupt {
                        at: 16 + record::encoded_len(&msg(1, 1, "a", "x")),
                        bytes: 1,
                        error: RecordError::Incomplete
                    }
                ),
                (3, Damage::TornTail { at: 0, bytes: 0 })
            ]
        );
    }

    /// A random log from the writer: publishes on several channels, drops (tombstones),
    /// new streams over old ones, rotations, compactions, random retention.
    /// Also its retention: (history, history_bytes).
    fn random_writer(rng: &mut XorShift) -> (LogWriter, usize, usize) {
        let history = 1 + rng.below(8);
        let history_bytes = [0, 8, 30, 100, 1 << 20, usize::MAX][rng.below(6)];
        let mut writer =
            LogWriter::new(history, history_bytes, 1 + rng.below(5) as u64, rng.next());
        let names = ["a", "b.c", "room-1", "Z_9", "x-y"];
        for _ in 0..rng.below(300) {
            let name = names[rng.below(names.len())];
            match rng.below(24) {
                0 => writer.drop_channel(name),
                1 => writer.restart(name, "restarted"),
                2 | 3 => writer.rotate(),
                4 => writer.compact(rng.next()),
                5 => {
                    let json = format!("{{\"n\":[{}, \"x\"]}}", rng.below(1000));
                    writer.publish(name, DataRef::Json(&json));
                }
                _ => {
                    let len = rng.below(20);
                    let data: String = (0..len)
                        .map(|_| (b'a' + rng.below(26) as u8) as char)
                        .collect();
                    writer.publish(name, &data);
                }
            }
        }
        (writer, history, history_bytes)
    }

    #[test]
    fn random_logs_with_compaction_recover_to_the_writers_state() {
        let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
        for run in 0..300 {
            let (writer, history, history_bytes) = random_writer(&mut rng);
            // Recovery may keep less than the writer did (a smaller configured history).
            let limits = RecoveryLimits {
                history: if rng.below(2) == 0 {
                    history
                } else {
                    1 + rng.below(history)
                },
                history_bytes: history_bytes >> rng.below(3),
                max_body: 1 << 10,
            };
            let segments: Vec<(u64, &[u8])> = writer
                .segments()
                .iter()
                .map(|s| (s.number, s.bytes.as_slice()))
                .collect();
            let (reports, recovered) = model::check(&segments, &limits, rng.next());
            assert!(reports.iter().all(|r| r.damage.is_none()), "run {run}");
            assert_eq!(recovered.records, writer.records(), "run {run}");
            assert_eq!(recovered.channels, writer.expected(&limits), "run {run}");
        }
    }

    #[test]
    fn any_order_of_consistent_copies_recovers_the_same_messages() {
        let mut rng = XorShift(77);
        let data: Vec<String> = (0..12).map(|i| "d".repeat(i % 5)).collect();
        for _ in 0..200 {
            let mut records: Vec<Record<'_>> = (0..12)
                .flat_map(|i| {
                    let copies = 1 + (i * 7) % 3;
                    std::iter::repeat_n(msg(3, i as u64 + 1, "c", &data[i]), copies)
                })
                .collect();
            for i in (1..records.len()).rev() {
                records.swap(i, rng.below(i + 1));
            }
            let limits = RecoveryLimits {
                history: 1 + rng.below(8),
                history_bytes: rng.below(16),
                max_body: 100,
            };
            let (_, shuffled) = recover(&[segment_of(&records)], &limits);
            records.sort_by_key(|r| match r {
                Record::Message { id, .. } => *id,
                Record::Dropped { .. } => 0,
            });
            let (_, sorted) = recover(&[segment_of(&records)], &limits);
            assert_eq!(shuffled.channels, sorted.channels);
        }
    }

    #[test]
    fn a_json_message_recovers_as_json_and_a_copy_of_the_other_kind_replaces_it() {
        let log = segment_of(&[
            msg(1, 1, "j", "text"),
            json_msg(1, 2, "j", "{\"a\": [1]}"),
            json_msg(1, 3, "j", "[3]"),
            // Not a faithful copy of 3: the later word wins, kind and all.
            msg(1, 3, "j", "[3]"),
        ]);
        let (_, recovered) = recover(&[log], &LIMITS);
        let messages: Vec<(u64, Data)> = recovered.channels[0]
            .messages
            .iter()
            .map(|m| (m.id, m.data.clone()))
            .collect();
        assert_eq!(
            messages,
            [
                (1, Data::Text("text".into())),
                (2, Data::Json("{\"a\": [1]}".into())),
                (3, Data::Text("[3]".into())),
            ]
        );
    }
}
