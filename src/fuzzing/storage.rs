//! `storage_recovery`: the on-disk log's recovery, from arbitrary bytes and from logs a
//! simulated writer made.

use crate::hub::data::DataRef;
use crate::hub::json;
use crate::status::Status;
use crate::storage::model::{self, LogWriter};
use crate::storage::record::{SEGMENT_HEADER, decode};
use crate::storage::recovery::{Damage, RecoveryLimits};

use super::{Reader, fnv1a};

/// The channels a written log uses.
const NAMES: [&str; 4] = ["a", "b.c", "room-1", "Z_9"];
/// `history_bytes` by a 3-bit index: none, tight, loose, unbounded.
const HISTORY_BYTES: [usize; 8] = [0, 1, 4, 16, 40, 100, 1000, usize::MAX];
/// `max_body` by a 2-bit index, for arbitrary bytes (a written log is read with 64 KiB,
/// more than any of its bodies).
const MAX_BODY: [usize; 4] = [16, 40, 300, 1 << 16];

/// **storage_recovery** — [`Recovery`](crate::storage::recovery::Recovery) over 1–4
/// segments of arbitrary bytes, and over logs made by a simulated writer (publishes on
/// four channels, text and JSON, tombstones, new streams, rotations, compactions) and
/// then torn.
///
/// Input: `[mode] [limits] ...`. `mode` bit 0 picks the half; `limits` gives `history`
/// (bits 0–2, 1–8), `history_bytes` (bits 3–5, [`HISTORY_BYTES`]) and `max_body` (bits
/// 6–7, [`MAX_BODY`]).
///
/// - Arbitrary bytes (bit 0 = 0): `[mode] [limits] [cut: u8; segments - 1] [bytes ...]`;
///   bits 1–2 of `mode` give the number of segments (1–4), cut at the cut bytes'
///   fractions of the input; bit 3 puts a valid header before each segment; bits 4–7
///   number the first segment.
/// - A written log (bit 0 = 1): `[mode] [limits] [recovery: u8] [tear: u8; 2] [op ...]`;
///   `limits` is the writer's retention (`max_body` unused), `recovery` shrinks it for
///   the recovery (bits 0–2 the history, bits 3–4 halve the bytes), `tear` picks where
///   the head is cut afterwards (if `mode` bit 1). Each op byte's low 3 bits pick:
///   0–2 publish text, 3 publish a JSON payload (for both, the next byte % 32 is the
///   data's length, the data follows; a JSON payload is made of it, [`json_payload`]),
///   4 drop with a tombstone, 5 start a new stream without one, 6 rotate, 7 compact;
///   bits 3–4 pick the channel. Bits 2–7 of `mode` number the first segment.
///
/// Invariants, for any bytes: no panic; every report is consistent (`valid_len` is 0 or
/// past the header, damage exactly where the valid prefix ends and to the end of the
/// segment, a torn tail only in the last one) and its valid prefix decodes again to
/// exactly its records; channels sorted, each with consecutive ids ascending to
/// `last_id`, within the limits, each message a record of its stream in the segment it
/// names; the result equals a simple model of the fold over the valid records (when
/// their copies agree); and it depends only on those records — cutting each segment to
/// its valid prefix, or grouping the records into other segments, recovers the same
/// channels with no damage. For a written log: no damage, and exactly the writer's
/// channels, streams and retained messages (with the segment of each one's newest copy,
/// and each message's kind, text or JSON);
/// torn anywhere in the head, the head's valid prefix ends at the last record boundary
/// before the cut, with a torn tail exactly when the cut is not at a boundary.
pub fn storage_recovery(data: &[u8]) {
    let seed = fnv1a(data, 0x5707);
    let mut r = Reader { data };
    let mode = r.u8();
    let limits = r.u8();
    let limits = RecoveryLimits {
        history: 1 + usize::from(limits & 7),
        history_bytes: HISTORY_BYTES[usize::from((limits >> 3) & 7)],
        max_body: MAX_BODY[usize::from(limits >> 6)],
    };
    if mode & 1 == 0 {
        arbitrary(mode, limits, r, seed);
    } else {
        written(mode, limits, r, seed);
    }
}

fn arbitrary(mode: u8, limits: RecoveryLimits, mut r: Reader<'_>, seed: u64) {
    let count = 1 + usize::from((mode >> 1) & 3);
    let cuts: Vec<u8> = r.take(count - 1).to_vec();
    let bytes = r.rest();
    let mut ends: Vec<usize> = cuts
        .iter()
        .map(|&c| bytes.len() * usize::from(c) / 255)
        .collect();
    ends.sort_unstable();
    ends.push(bytes.len());
    let mut files = Vec::with_capacity(count);
    let mut start = 0;
    for end in ends {
        let mut file = Vec::new();
        if mode & 8 != 0 {
            file.extend_from_slice(&SEGMENT_HEADER);
        }
        file.extend_from_slice(&bytes[start..end]);
        files.push(file);
        start = end;
    }
    let segments: Vec<(u64, &[u8])> = files
        .iter()
        .enumerate()
        .map(|(i, file)| (u64::from(mode >> 4) + i as u64, file.as_slice()))
        .collect();
    model::check(&segments, &limits, seed);
}

fn written(mode: u8, writer_limits: RecoveryLimits, mut r: Reader<'_>, seed: u64) {
    let shrink = r.u8();
    let tear = u16::from_le_bytes([r.u8(), r.u8()]);
    let mut writer = LogWriter::new(
        writer_limits.history,
        writer_limits.history_bytes,
        u64::from(mode >> 2),
        seed,
    );
    let mut steps = 0;
    while !r.data.is_empty() && steps < 500 {
        steps += 1;
        let op = r.u8();
        let name = NAMES[usize::from((op >> 3) & 3)];
        match op & 7 {
            0..=2 => {
                let len = usize::from(r.u8() % 32);
                let text = String::from_utf8_lossy(r.take(len)).into_owned();
                writer.publish(name, &text);
            }
            3 => {
                let len = usize::from(r.u8() % 32);
                let json = json_payload(r.take(len));
                writer.publish(name, DataRef::Json(&json));
            }
            4 => writer.drop_channel(name),
            5 => writer.restart(name, "new stream"),
            6 => writer.rotate(),
            _ => writer.compact(u64::from(op >> 3)),
        }
    }
    // Recovery keeps at most what the writer kept; every body is under the limit.
    let limits = RecoveryLimits {
        history: 1 + usize::from(shrink & 7) % writer_limits.history,
        history_bytes: writer_limits.history_bytes >> ((shrink >> 3) & 3),
        max_body: 1 << 16,
    };
    let segments: Vec<(u64, &[u8])> = writer
        .segments()
        .iter()
        .map(|s| (s.number, s.bytes.as_slice()))
        .collect();
    let (reports, recovered) = model::check(&segments, &limits, seed);
    assert!(reports.iter().all(|r| r.damage.is_none()), "{reports:?}");
    assert_eq!(recovered.records, writer.records());
    assert_eq!(
        recovered.channels,
        writer.expected(&limits),
        "the writer's state"
    );

    if mode & 2 == 0 {
        return;
    }
    // Tear the head, as a crash in the middle of a write would.
    let (&(number, head), sealed) = segments.split_last().expect("a head");
    let cut = usize::from(tear) % (head.len() + 1);
    let boundary = if cut < SEGMENT_HEADER.len() {
        0
    } else {
        let ends = record_ends(head);
        ends.into_iter().rev().find(|&end| end <= cut).unwrap_or(0)
    };
    let mut torn: Vec<(u64, &[u8])> = sealed.to_vec();
    torn.push((number, &head[..cut]));
    let (torn_reports, torn_recovered) = model::check(&torn, &limits, seed ^ 1);
    let report = torn_reports.last().expect("a head");
    assert_eq!(report.valid_len, boundary, "cut at {cut}");
    let expected = (cut != boundary || cut < SEGMENT_HEADER.len()).then_some(Damage::TornTail {
        at: boundary,
        bytes: cut - boundary,
    });
    assert_eq!(report.damage, expected, "cut at {cut}");
    // What survives is the log up to that boundary.
    let mut kept = torn.clone();
    if let Some(last) = kept.last_mut() {
        last.1 = &head[..boundary];
    }
    let (_, kept_recovered) = model::recover(&kept, &limits);
    assert_eq!(torn_recovered.channels, kept_recovered.channels);
}

/// A JSON payload made of `bytes`: `{"text":"<the bytes as text>","bytes":[b, ...]}`,
/// with a line break in it when there are bytes (JSON whitespace: it must survive too).
fn json_payload(bytes: &[u8]) -> String {
    let mut out = String::from("{\"text\":");
    json::write_str(&mut out, &String::from_utf8_lossy(bytes));
    out.push_str(",\"bytes\":[");
    for (i, b) in bytes.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { "," });
        out.push_str(&b.to_string());
    }
    out.push_str("]}");
    out
}

/// The offsets at which the records of a valid segment end (the header's end first).
fn record_ends(segment: &[u8]) -> Vec<usize> {
    let mut ends = vec![SEGMENT_HEADER.len()];
    let mut at = SEGMENT_HEADER.len();
    while let Ok(Status::Complete((_, used))) = decode(&segment[at..], usize::MAX) {
        at += used;
        ends.push(at);
    }
    ends
}
