//! The record codec: a segment's header, and the framed, checksummed records after it.
//!
//! ```text
//! segment  = header record*
//! header   = "pushwlog" version:u32 reserved:u32            16 bytes; version 1, reserved 0
//! record   = len:u32 crc:u32 body[len]                       crc = CRC-32C(len ++ body)
//! body     = 1 epoch:u64 id:u64 name_len:u8 name data        Message (data: the rest, UTF-8 text)
//!          | 2 epoch:u64 name_len:u8 name                    Dropped (nothing after the name)
//!          | 3 epoch:u64 id:u64 name_len:u8 name data        Message with JSON data (the rest,
//!                                                            one JSON text, RFC 8259)
//! ```
//!
//! Kind 3 came with JSON payloads (issue 12 §4); the format version stayed 1, because a
//! log without JSON payloads is byte for byte what it was, and reads as it did. A log
//! that has kind 3 records is refused by an older build as damage (an unknown kind), not
//! misread.
//!
//! Integers are little-endian. Names are 1–255 bytes of `A-Z a-z 0-9 _ . -`; epochs and
//! ids are never 0 (the hub's epochs are nonzero tokens, its ids count from 1), so a 0 is
//! a record no writer made.
//!
//! The checksum covers the length as well as the body. A length is the one field read
//! before anything can be checked, and a torn or flipped length would otherwise frame a
//! "record" out of whatever bytes follow: covered, it cannot pass unless those bytes
//! happen to checksum right. The length is also checked against a limit *before* the body
//! is awaited or read: a corrupt length of 3 GiB is refused from its first 4 bytes,
//! instead of making recovery wait for (or allocate) gigabytes that will never come.
//!
//! [`decode`] is zero-copy: a [`Record`] borrows its name and data from the buffer, and
//! incomplete input is [`Status::Partial`], not an error, as for every parser in this
//! crate.

use std::fmt;

use crate::hub::data::DataRef;
use crate::hub::json::{MAX_PAYLOAD_DEPTH, validate};
use crate::status::Status;
use crate::storage::crc32c::Crc32c;

/// The first 8 bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"pushwlog";

/// The format this module reads and writes. A reader refuses any other: a newer format's
/// records could mean something else.
pub const FORMAT_VERSION: u32 = 1;

/// The 16 bytes a segment file starts with: magic, version, and 4 reserved bytes of 0.
pub const SEGMENT_HEADER: [u8; 16] = segment_header();

const fn segment_header() -> [u8; 16] {
    let mut header = [0u8; 16];
    let version = FORMAT_VERSION.to_le_bytes();
    let mut i = 0;
    while i < 8 {
        header[i] = SEGMENT_MAGIC[i];
        i += 1;
    }
    let mut i = 0;
    while i < 4 {
        header[8 + i] = version[i];
        i += 1;
    }
    header
}

/// Bytes of framing before each record's body: the length and the checksum.
pub const RECORD_OVERHEAD: usize = 8;

/// The kind byte of a [`Record::Message`] whose data is text.
pub const KIND_MESSAGE: u8 = 1;
/// The kind byte of a [`Record::Dropped`].
pub const KIND_DROPPED: u8 = 2;
/// The kind byte of a [`Record::Message`] whose data is a JSON payload.
pub const KIND_JSON_MESSAGE: u8 = 3;

/// The longest channel name a record can hold (its length is one byte).
pub const MAX_NAME_LEN: usize = 255;

/// Body bytes before a Message's name (either kind): kind, epoch, id, name length.
const MESSAGE_FIXED: usize = 1 + 8 + 8 + 1;
/// Body bytes before a Dropped record's name: kind, epoch, name length.
const DROPPED_FIXED: usize = 1 + 8 + 1;

/// One entry of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// Message `id` of channel `name`'s stream `epoch`.
    Message {
        /// The channel's stream (never 0).
        epoch: u64,
        /// The message's id within the stream (never 0).
        id: u64,
        /// The channel.
        name: &'a str,
        /// The message's data: text (kind 1) or a JSON payload (kind 3).
        data: DataRef<'a>,
    },
    /// A tombstone: channel `name`'s stream `epoch` ended (the channel expired or was
    /// removed), and nothing of it is to be recovered.
    Dropped {
        /// The stream that ended (never 0).
        epoch: u64,
        /// The channel.
        name: &'a str,
    },
}

impl<'a> Record<'a> {
    /// The channel the record is about.
    pub fn name(&self) -> &'a str {
        match *self {
            Record::Message { name, .. } | Record::Dropped { name, .. } => name,
        }
    }

    /// The stream the record is about.
    pub fn epoch(&self) -> u64 {
        match *self {
            Record::Message { epoch, .. } | Record::Dropped { epoch, .. } => epoch,
        }
    }

    /// The body's length.
    fn body_len(&self) -> usize {
        match self {
            Record::Message { name, data, .. } => MESSAGE_FIXED + name.len() + data.len(),
            Record::Dropped { name, .. } => DROPPED_FIXED + name.len(),
        }
    }
}

/// Why bytes are not a segment header or a record. Every variant is either damage (a
/// torn write, flipped bits) or bytes no writer of this format made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// Fewer than 16 bytes where a segment header belongs.
    HeaderTooShort {
        /// The bytes there were.
        len: usize,
    },
    /// The segment does not start with [`SEGMENT_MAGIC`]: not a log segment.
    BadMagic,
    /// A segment of a format version this code does not read.
    UnsupportedVersion(u32),
    /// The header's reserved field is not 0.
    BadReserved(u32),
    /// A record's length is over the limit (found from the length alone, or, when
    /// encoding, a body longer than a `u32` can frame).
    TooLong {
        /// The body length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The checksum does not match the length and body.
    BadChecksum {
        /// The checksum the record carries.
        stored: u32,
        /// The checksum of its length and body.
        computed: u32,
    },
    /// A kind byte that is none of [`KIND_MESSAGE`], [`KIND_DROPPED`] and
    /// [`KIND_JSON_MESSAGE`].
    BadKind(u8),
    /// The body ends before the fields its kind requires.
    ShortBody,
    /// A Dropped record's body goes on after the name.
    TrailingBytes {
        /// How many bytes follow the name.
        extra: usize,
    },
    /// A channel name that is empty, longer than [`MAX_NAME_LEN`], or has a byte
    /// outside `A-Z a-z 0-9 _ . -`.
    BadName,
    /// A message's data is not valid UTF-8 (messages are text).
    NotUtf8,
    /// A JSON message's data is not one JSON text nested at most
    /// [`MAX_PAYLOAD_DEPTH`] deep (what the hub accepts as a JSON payload).
    NotJson,
    /// An epoch of 0, which no stream has.
    ZeroEpoch,
    /// A message id of 0 (ids count from 1).
    ZeroId,
    /// The bytes end inside a record. [`decode`] answers [`Status::Partial`] for this;
    /// recovery reports it when a segment that was finished ends that way.
    Incomplete,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::HeaderTooShort { len } => {
                write!(f, "segment header: {len} bytes of 16")
            }
            RecordError::BadMagic => f.write_str("not a pushwire log segment (bad magic)"),
            RecordError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "segment format version {v} (this build reads {FORMAT_VERSION})"
                )
            }
            RecordError::BadReserved(v) => {
                write!(f, "segment header's reserved field is {v:#x}, not 0")
            }
            RecordError::TooLong { len, max } => {
                write!(f, "record body of {len} bytes (at most {max})")
            }
            RecordError::BadChecksum { stored, computed } => write!(
                f,
                "record checksum {stored:#010x} does not match its bytes ({computed:#010x})"
            ),
            RecordError::BadKind(kind) => write!(f, "unknown record kind {kind}"),
            RecordError::ShortBody => f.write_str("record body ends before its fields"),
            RecordError::TrailingBytes { extra } => {
                write!(f, "{extra} bytes after a tombstone's channel name")
            }
            RecordError::BadName => f.write_str("invalid channel name in record"),
            RecordError::NotUtf8 => f.write_str("message data is not UTF-8"),
            RecordError::NotJson => f.write_str("a JSON message's data is not valid JSON"),
            RecordError::ZeroEpoch => f.write_str("record with epoch 0"),
            RecordError::ZeroId => f.write_str("message with id 0"),
            RecordError::Incomplete => f.write_str("segment ends inside a record"),
        }
    }
}

impl std::error::Error for RecordError {}

/// Checks that `bytes` starts with a segment header this code reads ([`SEGMENT_HEADER`]).
/// Bytes after the first 16 are not looked at, so a whole segment may be passed.
pub fn check_segment_header(bytes: &[u8]) -> Result<(), RecordError> {
    let Some(header) = bytes.first_chunk::<16>() else {
        return Err(RecordError::HeaderTooShort { len: bytes.len() });
    };
    if header[..8] != SEGMENT_MAGIC {
        return Err(RecordError::BadMagic);
    }
    let version = le_u32(&header[8..12]);
    if version != FORMAT_VERSION {
        return Err(RecordError::UnsupportedVersion(version));
    }
    let reserved = le_u32(&header[12..16]);
    if reserved != 0 {
        return Err(RecordError::BadReserved(reserved));
    }
    Ok(())
}

/// The bytes [`encode`] appends for `record`: framing and body.
pub fn encoded_len(record: &Record<'_>) -> usize {
    RECORD_OVERHEAD + record.body_len()
}

/// Appends `record`, framed and checksummed, to `out`.
///
/// Refuses (leaving `out` as it was) a record [`decode`] would refuse: a bad name,
/// non-UTF-8 data cannot occur (`&str`), JSON data that is not valid JSON, an epoch or
/// id of 0, or a body too long for its 4-byte length. The caller bounds message sizes far below that; this only makes the
/// writer unable to write a record its own reader rejects.
pub fn encode(record: &Record<'_>, out: &mut Vec<u8>) -> Result<(), RecordError> {
    check_name(record.name().as_bytes())?;
    if record.epoch() == 0 {
        return Err(RecordError::ZeroEpoch);
    }
    if let Record::Message { id: 0, .. } = record {
        return Err(RecordError::ZeroId);
    }
    if let Record::Message {
        data: DataRef::Json(raw),
        ..
    } = record
    {
        check_json(raw.as_bytes())?;
    }
    let body_len = record.body_len();
    let len = u32::try_from(body_len).map_err(|_| RecordError::TooLong {
        len: body_len as u64,
        max: u64::from(u32::MAX),
    })?;

    out.reserve(RECORD_OVERHEAD + body_len);
    let start = out.len();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // the checksum, once the body is there
    match *record {
        Record::Message {
            epoch,
            id,
            name,
            data,
        } => {
            out.push(match data {
                DataRef::Text(_) => KIND_MESSAGE,
                DataRef::Json(_) => KIND_JSON_MESSAGE,
            });
            out.extend_from_slice(&epoch.to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
            push_name(out, name);
            out.extend_from_slice(data.as_str().as_bytes());
        }
        Record::Dropped { epoch, name } => {
            out.push(KIND_DROPPED);
            out.extend_from_slice(&epoch.to_le_bytes());
            push_name(out, name);
        }
    }
    let crc = checksum(&out[start..start + 4], &out[start + RECORD_OVERHEAD..]);
    out[start + 4..start + RECORD_OVERHEAD].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Reads the record at the start of `buf`: `Complete((record, bytes consumed))`, or
/// `Partial` if `buf` ends inside it.
///
/// In order: a length over `max_body` is refused as soon as its 4 bytes are there (the
/// body is neither awaited nor read); then the checksum must match; then the body must
/// be a valid Message (text or JSON) or Dropped record.
pub fn decode(buf: &[u8], max_body: usize) -> Result<Status<(Record<'_>, usize)>, RecordError> {
    let Some(len_bytes) = buf.first_chunk::<4>() else {
        return Ok(Status::Partial);
    };
    let len = u32::from_le_bytes(*len_bytes);
    let body_len = match usize::try_from(len) {
        Ok(body_len) if body_len <= max_body => body_len,
        _ => {
            return Err(RecordError::TooLong {
                len: u64::from(len),
                max: max_body as u64,
            });
        }
    };
    let Some(framed) = buf.get(..RECORD_OVERHEAD + body_len) else {
        return Ok(Status::Partial);
    };
    let stored = le_u32(&framed[4..8]);
    let body = &framed[RECORD_OVERHEAD..];
    let computed = checksum(len_bytes, body);
    if stored != computed {
        return Err(RecordError::BadChecksum { stored, computed });
    }
    let record = decode_body(body)?;
    Ok(Status::Complete((record, framed.len())))
}

/// The checksum of a record: its 4 length bytes, then its body.
fn checksum(len_bytes: &[u8], body: &[u8]) -> u32 {
    let mut crc = Crc32c::new();
    crc.update(len_bytes);
    crc.update(body);
    crc.finish()
}

/// A body whose checksum matched.
fn decode_body(body: &[u8]) -> Result<Record<'_>, RecordError> {
    let (&kind, rest) = body.split_first().ok_or(RecordError::ShortBody)?;
    match kind {
        KIND_MESSAGE | KIND_JSON_MESSAGE => {
            let (epoch, rest) = take_epoch(rest)?;
            let (id, rest) = take_u64(rest)?;
            if id == 0 {
                return Err(RecordError::ZeroId);
            }
            let (name, data) = take_name(rest)?;
            let data = if kind == KIND_JSON_MESSAGE {
                // Checked before it becomes a frame that every subscriber parses.
                check_json(data)?;
                DataRef::Json(std::str::from_utf8(data).map_err(|_| RecordError::NotJson)?)
            } else {
                DataRef::Text(std::str::from_utf8(data).map_err(|_| RecordError::NotUtf8)?)
            };
            Ok(Record::Message {
                epoch,
                id,
                name,
                data,
            })
        }
        KIND_DROPPED => {
            let (epoch, rest) = take_epoch(rest)?;
            let (name, rest) = take_name(rest)?;
            if !rest.is_empty() {
                return Err(RecordError::TrailingBytes { extra: rest.len() });
            }
            Ok(Record::Dropped { epoch, name })
        }
        other => Err(RecordError::BadKind(other)),
    }
}

/// A JSON payload's bytes as the hub accepts them (which includes being UTF-8).
fn check_json(data: &[u8]) -> Result<(), RecordError> {
    validate(data, MAX_PAYLOAD_DEPTH).map_err(|_| RecordError::NotJson)
}

fn take_u64(bytes: &[u8]) -> Result<(u64, &[u8]), RecordError> {
    let (value, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or(RecordError::ShortBody)?;
    Ok((u64::from_le_bytes(*value), rest))
}

fn take_epoch(bytes: &[u8]) -> Result<(u64, &[u8]), RecordError> {
    match take_u64(bytes)? {
        (0, _) => Err(RecordError::ZeroEpoch),
        taken => Ok(taken),
    }
}

/// A length byte and that many name bytes, checked.
fn take_name(bytes: &[u8]) -> Result<(&str, &[u8]), RecordError> {
    let (&len, rest) = bytes.split_first().ok_or(RecordError::ShortBody)?;
    if rest.len() < usize::from(len) {
        return Err(RecordError::ShortBody);
    }
    let (name, rest) = rest.split_at(usize::from(len));
    Ok((check_name(name)?, rest))
}

/// `name` as a `&str` if it is a valid channel name.
fn check_name(name: &[u8]) -> Result<&str, RecordError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !valid {
        return Err(RecordError::BadName);
    }
    // ASCII, hence UTF-8.
    std::str::from_utf8(name).map_err(|_| RecordError::BadName)
}

/// A name already checked by [`check_name`] (so its length fits the byte).
fn push_name(out: &mut Vec<u8>, name: &str) {
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
}

/// A little-endian `u32` from exactly 4 bytes (the callers slice 4).
fn le_u32(bytes: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(bytes);
    u32::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::crc32c::crc32c;

    const MAX: usize = 1 << 16;

    fn message<'a>(name: &'a str, data: &'a str) -> Record<'a> {
        Record::Message {
            epoch: 0x0123_4567_89AB_CDEF,
            id: 42,
            name,
            data: DataRef::Text(data),
        }
    }

    fn encoded(record: &Record<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(record, &mut out).expect("a valid record encodes");
        out
    }

    fn samples() -> Vec<Record<'static>> {
        vec![
            message("lobby", "hello"),
            message("a", ""),
            message("room-1.sub_2", "héllo, wörld ✓ 🚀"),
            Record::Message {
                epoch: u64::MAX,
                id: u64::MAX,
                name: "x",
                data: DataRef::Text("{\"json\":true}"),
            },
            Record::Message {
                epoch: 5,
                id: 6,
                name: "j",
                data: DataRef::Json("{\"json\": [true, \"é\\u00e9\"]}\n"),
            },
            Record::Dropped {
                epoch: 7,
                name: "lobby",
            },
        ]
    }

    #[test]
    fn segment_header_is_magic_version_1_and_reserved_0() {
        assert_eq!(&SEGMENT_HEADER, b"pushwlog\x01\x00\x00\x00\x00\x00\x00\x00");
        assert_eq!(check_segment_header(&SEGMENT_HEADER), Ok(()));
        let mut segment = SEGMENT_HEADER.to_vec();
        segment.extend_from_slice(b"records follow");
        assert_eq!(check_segment_header(&segment), Ok(()));
    }

    #[test]
    fn bad_segment_headers_are_refused_with_their_reason() {
        for len in 0..16 {
            assert_eq!(
                check_segment_header(&SEGMENT_HEADER[..len]),
                Err(RecordError::HeaderTooShort { len })
            );
        }
        let mut header = SEGMENT_HEADER;
        header[0] = b'P';
        assert_eq!(check_segment_header(&header), Err(RecordError::BadMagic));
        let mut header = SEGMENT_HEADER;
        header[8] = 2;
        assert_eq!(
            check_segment_header(&header),
            Err(RecordError::UnsupportedVersion(2))
        );
        let mut header = SEGMENT_HEADER;
        header[15] = 1;
        assert_eq!(
            check_segment_header(&header),
            Err(RecordError::BadReserved(1 << 24))
        );
    }

    #[test]
    fn every_kind_round_trips() {
        for record in samples() {
            let bytes = encoded(&record);
            assert_eq!(bytes.len(), encoded_len(&record), "{record:?}");
            assert_eq!(
                decode(&bytes, MAX),
                Ok(Status::Complete((record, bytes.len()))),
                "{record:?}"
            );
        }
    }

    #[test]
    fn the_framing_is_length_then_crc_of_length_and_body() {
        let bytes = encoded(&Record::Dropped {
            epoch: 0x0807_0605_0403_0201,
            name: "ab",
        });
        let body = [2, 1, 2, 3, 4, 5, 6, 7, 8, 2, b'a', b'b'];
        assert_eq!(&bytes[..4], &(body.len() as u32).to_le_bytes());
        let mut covered = bytes[..4].to_vec();
        covered.extend_from_slice(&body);
        assert_eq!(&bytes[4..8], &crc32c(&covered).to_le_bytes());
        assert_eq!(&bytes[8..], &body);
    }

    #[test]
    fn records_decode_one_after_another_from_one_buffer() {
        let mut log = Vec::new();
        for record in samples() {
            encode(&record, &mut log).unwrap();
        }
        let mut at = 0;
        for record in samples() {
            let (decoded, used) = decode(&log[at..], MAX).unwrap().complete().unwrap();
            assert_eq!(decoded, record);
            at += used;
        }
        assert_eq!(at, log.len());
        assert_eq!(decode(&log[at..], MAX), Ok(Status::Partial));
    }

    #[test]
    fn every_prefix_of_a_record_is_partial() {
        for record in samples() {
            let bytes = encoded(&record);
            for end in 0..bytes.len() {
                assert_eq!(
                    decode(&bytes[..end], MAX),
                    Ok(Status::Partial),
                    "{record:?} cut at {end}"
                );
            }
        }
    }

    #[test]
    fn every_single_bit_flip_is_an_error() {
        // CRC-32C detects every single-bit error, so no flip anywhere — length, checksum
        // or body — yields a record. A flipped length may also make the record look
        // longer than the bytes at hand: that is `Partial` (more bytes could follow on
        // disk), and recovery treats a record that never completes as damage.
        for record in samples() {
            let bytes = encoded(&record);
            for bit in 0..bytes.len() * 8 {
                let mut flipped = bytes.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                match decode(&flipped, MAX) {
                    Err(_) => {}
                    Ok(Status::Partial) => assert!(bit < 32, "only a length flip waits"),
                    Ok(Status::Complete(found)) => {
                        panic!("{record:?}: bit {bit} flipped, decoded {found:?}")
                    }
                }
                // Followed by enough bytes for any length under the limit, a flipped
                // length frames a longer or shorter "record": its checksum must fail.
                flipped.resize(bytes.len() + MAX, 0);
                assert!(decode(&flipped, MAX).is_err(), "{record:?}: bit {bit}");
            }
        }
    }

    #[test]
    fn a_huge_length_is_refused_from_its_four_bytes() {
        let mut bytes = u32::MAX.to_le_bytes().to_vec();
        let refused = Err(RecordError::TooLong {
            len: u64::from(u32::MAX),
            max: MAX as u64,
        });
        assert_eq!(decode(&bytes, MAX), refused);
        bytes.extend_from_slice(&[0; 4]);
        assert_eq!(decode(&bytes, MAX), refused, "with only 8 bytes available");
        assert_eq!(decode(&bytes[..3], MAX), Ok(Status::Partial));
    }

    #[test]
    fn max_body_is_enforced_at_the_exact_length() {
        let record = message("c", "0123456789");
        let bytes = encoded(&record);
        let body = bytes.len() - RECORD_OVERHEAD;
        assert!(decode(&bytes, body).unwrap().is_complete());
        assert_eq!(
            decode(&bytes, body - 1),
            Err(RecordError::TooLong {
                len: body as u64,
                max: body as u64 - 1,
            })
        );
        assert!(decode(&bytes[..4], body - 1).is_err(), "before the body");
    }

    /// Frames `body` as a record with a correct checksum, to reach the body checks.
    fn framed(body: &[u8]) -> Vec<u8> {
        let len = (body.len() as u32).to_le_bytes();
        let mut out = len.to_vec();
        out.extend_from_slice(&checksum(&len, body).to_le_bytes());
        out.extend_from_slice(body);
        out
    }

    fn message_body(epoch: u64, id: u64, name: &[u8], data: &[u8]) -> Vec<u8> {
        let mut body = vec![KIND_MESSAGE];
        body.extend_from_slice(&epoch.to_le_bytes());
        body.extend_from_slice(&id.to_le_bytes());
        body.push(name.len() as u8);
        body.extend_from_slice(name);
        body.extend_from_slice(data);
        body
    }

    /// A kind 3 body with this data (epoch 1, id 1, channel "a").
    fn json_body(data: &[u8]) -> Vec<u8> {
        let mut body = message_body(1, 1, b"a", data);
        body[0] = KIND_JSON_MESSAGE;
        body
    }

    #[test]
    fn the_kind_byte_says_text_or_json_and_the_bytes_are_the_same() {
        let text = encoded(&message("c", "[1]"));
        let json = encoded(&Record::Message {
            epoch: 0x0123_4567_89AB_CDEF,
            id: 42,
            name: "c",
            data: DataRef::Json("[1]"),
        });
        assert_eq!((text[8], json[8]), (KIND_MESSAGE, KIND_JSON_MESSAGE));
        assert_eq!(text[9..], json[9..], "the same layout after the kind");
        // A text record is what it was before JSON payloads existed.
        assert_eq!(
            text,
            framed(&message_body(0x0123_4567_89AB_CDEF, 42, b"c", b"[1]"))
        );
    }

    #[test]
    fn json_that_is_not_json_is_not_encoded() {
        let mut out = b"kept".to_vec();
        let record = Record::Message {
            epoch: 1,
            id: 1,
            name: "a",
            data: DataRef::Json("{\"a\":}"),
        };
        assert_eq!(encode(&record, &mut out), Err(RecordError::NotJson));
        assert_eq!(out, b"kept");
    }

    #[test]
    fn names_with_bad_bytes_are_refused() {
        for bad in [
            &b""[..],
            b"a b",
            b"a/b",
            b"caf\xc3\xa9",
            b"\0",
            b"a\nb",
            b"%41",
            b"\xff",
        ] {
            let bytes = framed(&message_body(1, 1, bad, b"data"));
            assert_eq!(decode(&bytes, MAX), Err(RecordError::BadName), "{bad:?}");
            let record = Record::Dropped {
                epoch: 1,
                name: std::str::from_utf8(bad).unwrap_or("a b"),
            };
            assert_eq!(encode(&record, &mut Vec::new()), Err(RecordError::BadName));
        }
        let longest = "n".repeat(MAX_NAME_LEN);
        assert!(encode(&message(&longest, ""), &mut Vec::new()).is_ok());
        let too_long = "n".repeat(MAX_NAME_LEN + 1);
        let mut out = b"kept".to_vec();
        assert_eq!(
            encode(&message(&too_long, ""), &mut out),
            Err(RecordError::BadName)
        );
        assert_eq!(out, b"kept", "a refused record writes nothing");
        let all = "AZaz09_.-";
        assert!(decode(&encoded(&message(all, "")), MAX).is_ok());
    }

    #[test]
    fn bodies_that_break_their_kind_are_refused() {
        let cases: Vec<(Vec<u8>, RecordError)> = vec![
            (vec![], RecordError::ShortBody),
            (vec![0], RecordError::BadKind(0)),
            (vec![4, 0, 0], RecordError::BadKind(4)),
            (vec![KIND_JSON_MESSAGE, 1, 0, 0], RecordError::ShortBody),
            (json_body(b"[1,]"), RecordError::NotJson),
            (json_body(b""), RecordError::NotJson),
            (json_body(b"\"\xff\""), RecordError::NotJson),
            (json_body(br#""\ud800""#), RecordError::NotJson),
            (json_body(&[b'['; 65]), RecordError::NotJson),
            (vec![KIND_MESSAGE, 1, 0, 0], RecordError::ShortBody),
            (
                message_body(1, 1, b"a", b"")[..17].to_vec(),
                RecordError::ShortBody,
            ),
            (
                message_body(1, 1, b"abc", b"")[..19].to_vec(),
                RecordError::ShortBody,
            ),
            (message_body(1, 1, b"a", b"\xc3"), RecordError::NotUtf8),
            (message_body(1, 1, b"a", b"ok\xff"), RecordError::NotUtf8),
            (message_body(0, 1, b"a", b""), RecordError::ZeroEpoch),
            (message_body(1, 0, b"a", b""), RecordError::ZeroId),
            (
                vec![KIND_DROPPED, 1, 0, 0, 0, 0, 0, 0, 0],
                RecordError::ShortBody,
            ),
            (
                vec![KIND_DROPPED, 1, 0, 0, 0, 0, 0, 0, 0, 1, b'a', b'!'],
                RecordError::TrailingBytes { extra: 1 },
            ),
            (
                vec![KIND_DROPPED, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'a'],
                RecordError::ZeroEpoch,
            ),
        ];
        for (body, error) in cases {
            assert_eq!(decode(&framed(&body), MAX), Err(error), "{body:?}");
        }
        let dropped = vec![KIND_DROPPED, 1, 0, 0, 0, 0, 0, 0, 0, 1, b'a'];
        assert_eq!(
            decode(&framed(&dropped), MAX),
            Ok(Status::Complete((
                Record::Dropped {
                    epoch: 1,
                    name: "a"
                },
                RECORD_OVERHEAD + dropped.len()
            )))
        );
    }

    #[test]
    fn a_bad_checksum_reports_both_values() {
        let mut bytes = encoded(&message("c", "x"));
        bytes[4] ^= 0xFF;
        let computed = crc32c(&[&bytes[..4], &bytes[8..]].concat());
        assert_eq!(
            decode(&bytes, MAX),
            Err(RecordError::BadChecksum {
                stored: computed ^ 0xFF,
                computed
            })
        );
    }

    #[test]
    fn zero_epochs_and_ids_are_not_encoded() {
        let zero_epoch = Record::Dropped {
            epoch: 0,
            name: "a",
        };
        assert_eq!(
            encode(&zero_epoch, &mut Vec::new()),
            Err(RecordError::ZeroEpoch)
        );
        let zero_id = Record::Message {
            epoch: 1,
            id: 0,
            name: "a",
            data: DataRef::Text(""),
        };
        assert_eq!(encode(&zero_id, &mut Vec::new()), Err(RecordError::ZeroId));
    }

    #[test]
    fn errors_display_their_reason() {
        let shown = RecordError::TooLong { len: 5, max: 4 }.to_string();
        assert_eq!(shown, "record body of 5 bytes (at most 4)");
        assert_eq!(
            RecordError::UnsupportedVersion(9).to_string(),
            "segment format version 9 (this build reads 1)"
        );
    }
}
