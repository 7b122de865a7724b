//! Server-Sent Events: the `text/event-stream` format of the WHATWG HTML Living Standard
//! (§9.2 "Server-sent events"), written and read, sans-IO.
//!
//! A reference implementation of the wire format, in three parts:
//!
//! - **The encoder** ([`write_event`], [`write_retry`], [`write_comment`], and for the hub's
//!   hot path [`message_event`] and [`data_event`]): appends whole blocks to a `Vec<u8>`.
//!   Every call writes one complete block — its fields, then the blank line — so the stream
//!   is a conforming `stream` (§9.2.5's ABNF) between any two calls, and blocks built
//!   separately (a message event shared by every subscriber, a connection's own keepalive)
//!   can be sent in any order. [`event_len`] is the exact size of an event, so a caller
//!   reserves once.
//! - **The cursor** ([`EventId`]): the `id:` field and `Last-Event-ID` header hold `E:N`,
//!   a stream's epoch and a message id, exactly what a reconnect needs to resume.
//! - **The parser** ([`EventStreamParser`]): what a browser's `EventSource` does with the
//!   bytes (§9.2.6 "Interpreting an event stream"), incrementally and with a bound, for the
//!   tests, the fuzz target and clients of the hub.
//!
//! # The format, in short
//!
//! ```text
//! event: subscribed            a field: name, colon, one optional space, value
//! id: AAAAAAAAAAE:7            lines end in CRLF, LF or CR
//! data: {"epoch":"…","next":7}
//!                              a blank line dispatches the event
//! : keepalive                  a line starting with a colon is a comment
//! ```
//!
//! The parser joins an event's `data` lines with `\n` (§9.2.6 "process the field"), so the
//! encoder splits a value at every line break (CRLF, lone CR, lone LF), one `data:` line
//! each: the browser gets the text back with every line break as `\n`. The other fields
//! hold one line; a value with a line break would end the field early and smuggle the rest
//! in as fields of the writer's choosing, so [`write_event`] refuses it ([`FieldError`]).

use std::fmt;
use std::sync::Arc;

use crate::http::body::parse_decimal;
use crate::hub::epoch::{EPOCH_LEN, Epoch};

// ===== the encoder =====

/// Why [`write_event`] refused to write an event. Each is a mistake of the caller (the
/// values are the server's own, never a client's): nothing was written, so the stream
/// is not corrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldError {
    /// The `event` value holds a CR or LF. §9.2.5: a field's value is `*any-char`, which
    /// excludes both; the line would end there and the rest be read as another field.
    LineBreakInEvent,
    /// The `id` value holds a CR or LF (as for [`LineBreakInEvent`](Self::LineBreakInEvent)).
    LineBreakInId,
    /// The `id` value holds a NUL. §9.2.6: "If the field value does not contain U+0000
    /// NULL, then set the last event ID buffer to the field value. Otherwise, ignore the
    /// field" — the client would silently keep its previous cursor.
    NulInId,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldError::LineBreakInEvent => "an sse event type may not contain a line break",
            FieldError::LineBreakInId => "an sse event id may not contain a line break",
            FieldError::NulInId => "an sse event id may not contain nul, which clients ignore",
        })
    }
}

impl std::error::Error for FieldError {}

/// Appends one event: `event: …` (when given), `id: …` (when given), one `data: …` line per
/// line of `data`, then the blank line that dispatches it (§9.2.6).
///
/// `data` is split at every CRLF, lone CR and lone LF, the line ends §9.2.6 reads, so the
/// parser's join gives back `data` with each line break as `\n`. An empty `data` is still
/// one `data: ` line: an event whose data buffer stays empty is not dispatched at all.
/// Every field is written `name: value`: the parser removes the one space after the colon,
/// so a value that itself starts with a space keeps it.
///
/// The `event` and `id` values must be one line, and `id` without NUL ([`FieldError`]);
/// on an error nothing is written. An empty `id` is allowed: it clears the client's last
/// event id (§9.2.6's example: "an \"id\" field, this time with no value"). An empty
/// `event` is allowed too, and is dispatched as `message`.
///
/// ```
/// use pushwire::hub::sse::write_event;
/// let mut out = Vec::new();
/// write_event(&mut out, Some("missed"), None, "{\"missed\":3}").unwrap();
/// assert_eq!(out, b"event: missed\ndata: {\"missed\":3}\n\n");
/// ```
pub fn write_event(
    out: &mut Vec<u8>,
    event: Option<&str>,
    id: Option<&str>,
    data: &str,
) -> Result<(), FieldError> {
    if event.is_some_and(|e| find_line_break(e.as_bytes()).is_some()) {
        return Err(FieldError::LineBreakInEvent);
    }
    if let Some(id) = id {
        if find_line_break(id.as_bytes()).is_some() {
            return Err(FieldError::LineBreakInId);
        }
        if id.as_bytes().contains(&0) {
            return Err(FieldError::NulInId);
        }
    }
    out.reserve(event_len(event, id, data));
    write_fields(out, event, id, data);
    Ok(())
}

/// The exact number of bytes [`write_event`] appends for these arguments (when it accepts
/// them), so that a caller can reserve once for several events.
pub fn event_len(event: Option<&str>, id: Option<&str>, data: &str) -> usize {
    let data_lines: usize = lines(data).map(|line| field_len(DATA, line)).sum();
    event.map_or(0, |e| field_len(EVENT, e)) + id.map_or(0, |i| field_len(ID, i)) + data_lines + 1
}

/// Appends `retry: ms` and a blank line: the client's reconnection time, in milliseconds
/// (§9.2.6: "If the field value consists of only ASCII digits, … set the event stream's
/// reconnection time to that integer").
///
/// ```
/// let mut out = Vec::new();
/// pushwire::hub::sse::write_retry(&mut out, 3000);
/// assert_eq!(out, b"retry: 3000\n\n");
/// ```
pub fn write_retry(out: &mut Vec<u8>, ms: u64) {
    let digits = Decimal::new(ms);
    out.reserve(RETRY.len() + 2 + digits.as_bytes().len() + 2);
    out.extend_from_slice(RETRY);
    out.extend_from_slice(b": ");
    out.extend_from_slice(digits.as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// Appends `text` as a comment, `: text`, and a blank line. Clients ignore comments
/// (§9.2.6: "If the line starts with a U+003A COLON character (:) — Ignore the line");
/// they keep a connection from looking idle to proxies that drop quiet ones (§9.2.7
/// "Authoring notes": "a comment line … every 15 seconds or so").
///
/// A `text` of several lines becomes one comment line each, so no text can end the
/// comment and start a field. The blank line dispatches nothing (no data is pending
/// between blocks) and keeps the stream a sequence of whole blocks.
///
/// ```
/// let mut out = Vec::new();
/// pushwire::hub::sse::write_comment(&mut out, "keepalive");
/// assert_eq!(out, b": keepalive\n\n");
/// ```
pub fn write_comment(out: &mut Vec<u8>, text: &str) {
    out.reserve(lines(text).map(|line| 3 + line.len()).sum::<usize>() + 1);
    for line in lines(text) {
        out.extend_from_slice(b": ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// A published message as an SSE event, `id: E:N` then its frame as `data:` (issue 12
/// §1), built once per publish and shared by every subscriber's connection.
///
/// ```
/// use pushwire::hub::{Epoch, sse::message_event};
/// let epoch = Epoch::from_bits(1).unwrap();
/// let event = message_event(epoch, 7, r#"{"id":7,"data":"hi"}"#);
/// assert_eq!(&event[..], &b"id: AAAAAAAAAAE:7\ndata: {\"id\":7,\"data\":\"hi\"}\n\n"[..]);
/// ```
pub fn message_event(epoch: Epoch, id: u64, frame: &str) -> Arc<[u8]> {
    let cursor = EventId::new(epoch, id).text();
    shared_event(Some(cursor.as_str()), frame)
}

/// An event of `data` alone, with neither `event:` nor `id:`: a message on a stream of
/// several channels (issue 12 §1b), whose one `id` could not hold every channel's cursor.
///
/// ```
/// let event = pushwire::hub::sse::data_event(r#"{"type":"message"}"#);
/// assert_eq!(&event[..], &b"data: {\"type\":\"message\"}\n\n"[..]);
/// ```
pub fn data_event(data: &str) -> Arc<[u8]> {
    shared_event(None, data)
}

/// One event, in an allocation of its own size, to be shared. `id` is known to be valid.
fn shared_event(id: Option<&str>, data: &str) -> Arc<[u8]> {
    let mut out = Vec::with_capacity(event_len(None, id, data));
    write_fields(&mut out, None, id, data);
    // One copy into the shared allocation (which also holds the counts); the event is
    // built once per publish, and then sent to every subscriber without another.
    Arc::from(out)
}

const EVENT: &[u8] = b"event";
const ID: &[u8] = b"id";
const DATA: &[u8] = b"data";
const RETRY: &[u8] = b"retry";

/// `name: value\n`.
fn field_len(name: &[u8], value: &str) -> usize {
    name.len() + 2 + value.len() + 1
}

/// Writes an event whose `event` and `id` values are one line each.
fn write_fields(out: &mut Vec<u8>, event: Option<&str>, id: Option<&str>, data: &str) {
    if let Some(event) = event {
        write_field(out, EVENT, event);
    }
    if let Some(id) = id {
        write_field(out, ID, id);
    }
    for line in lines(data) {
        write_field(out, DATA, line);
    }
    out.push(b'\n');
}

fn write_field(out: &mut Vec<u8>, name: &[u8], value: &str) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
}

/// The lines of `text`, split at every CRLF, lone CR and lone LF (§9.2.6's line ends).
/// Always at least one: `""` is one empty line, and a text ending with a line break ends
/// with an empty line.
fn lines(text: &str) -> Lines<'_> {
    Lines { rest: Some(text) }
}

struct Lines<'a> {
    /// What is left to split; `None` once the last line was given.
    rest: Option<&'a str>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        let bytes = rest.as_bytes();
        match find_line_break(bytes) {
            Some(end) => {
                let after = if bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n') {
                    end + 2
                } else {
                    end + 1
                };
                // CR and LF are ASCII: both ends are character boundaries.
                self.rest = Some(&rest[after..]);
                Some(&rest[..end])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

fn is_line_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// The index of the first CR or LF in `bytes`.
///
/// Message frames are JSON and hardly ever hold one, so the common answer is "none" after
/// reading everything. The bytes are tested 32 at a time without a branch per byte (the
/// compiler turns the loop into vector compares), what is left 8 at a time as one word,
/// and only a block or word that has one is searched byte by byte: about ten times the
/// speed of a plain search, on frames of a few hundred bytes as on megabytes.
fn find_line_break(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 32;
    let mut blocks = bytes.chunks_exact(BLOCK);
    let mut offset = 0;
    for block in &mut blocks {
        let found = block
            .iter()
            .fold(0u8, |found, &b| found | u8::from(is_line_break(b)));
        if found != 0 {
            return block
                .iter()
                .position(|&b| is_line_break(b))
                .map(|i| offset + i);
        }
        offset += BLOCK;
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for word in &mut words {
        let bits = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        if has_byte(bits, b'\n') || has_byte(bits, b'\r') {
            return word
                .iter()
                .position(|&b| is_line_break(b))
                .map(|i| offset + i);
        }
        offset += 8;
    }
    let tail = words.remainder();
    tail.iter()
        .position(|&b| is_line_break(b))
        .map(|i| offset + i)
}

/// Whether one of the 8 bytes of `word` is `byte`: the bytes equal to it are zero in
/// `word ^ byte…`, and subtracting 1 from each byte borrows into the top bit only from a
/// zero byte (the classic "has a zero byte" test, exact as to whether there is one).
fn has_byte(word: u64, byte: u8) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const TOPS: u64 = u64::from_ne_bytes([0x80; 8]);
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & TOPS != 0
}

/// A `u64` in decimal, without allocating.
struct Decimal {
    digits: [u8; 20],
    start: u8,
}

impl Decimal {
    fn new(mut n: u64) -> Decimal {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            // `n % 10` is a digit: the narrowing cannot lose anything.
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        // At most 20 digits: `start` fits in a byte.
        Decimal {
            digits,
            start: start as u8,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.digits[usize::from(self.start)..]
    }
}

// ===== the cursor =====

/// The cursor an SSE client holds: the stream's epoch and the id of the last message it
/// has, written `E:N` in the `id:` field and sent back by a reconnecting browser in the
/// `Last-Event-ID` header (§9.2.4, §9.2.3 "reestablish the connection").
///
/// ```
/// use pushwire::hub::{Epoch, sse::EventId};
/// let cursor = EventId::new(Epoch::from_bits(1).unwrap(), 42);
/// assert_eq!(cursor.to_string(), "AAAAAAAAAAE:42");
/// assert_eq!(EventId::parse("AAAAAAAAAAE:42"), Some(cursor));
/// assert_eq!(EventId::parse("AAAAAAAAAAE:+42"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId {
    /// The stream the id belongs to.
    pub epoch: Epoch,
    /// The id of the last message the client has (0: none yet).
    pub id: u64,
}

impl EventId {
    /// The longest text form: 11 epoch characters, `:`, 20 digits.
    pub const MAX_LEN: usize = EPOCH_LEN + 1 + 20;

    /// The cursor at message `id` of the stream `epoch`.
    pub fn new(epoch: Epoch, id: u64) -> EventId {
        EventId { epoch, id }
    }

    /// Reads `E:N` strictly: the 11 characters of an epoch ([`Epoch::parse`]), a colon,
    /// and `N` in decimal as this server writes it — digits only (no sign, no space), no
    /// leading zero (but `0` itself), at most `u64::MAX`. `None` for anything else.
    ///
    /// A `Last-Event-ID` is an echo of an `id:` this server sent, so nothing it sends is
    /// refused; one spelling per cursor keeps the text short and the reading simple. The
    /// caller treats `None` as "no cursor" (issue 12 §1), never as an error: a header from
    /// another server, or from before an upgrade, is a fresh subscription.
    pub fn parse(text: &str) -> Option<EventId> {
        let bytes = text.as_bytes();
        if bytes.len() <= EPOCH_LEN + 1 || bytes.len() > EventId::MAX_LEN {
            return None;
        }
        if bytes[EPOCH_LEN] != b':' {
            return None;
        }
        let epoch = Epoch::parse(text.get(..EPOCH_LEN)?)?;
        let id = parse_canonical_u64(&bytes[EPOCH_LEN + 1..])?;
        Some(EventId { epoch, id })
    }

    /// The text form, in a fixed-size buffer (no allocation).
    pub fn text(self) -> EventIdText {
        let mut buf = [0u8; EventId::MAX_LEN];
        buf[..EPOCH_LEN].copy_from_slice(self.epoch.text().as_str().as_bytes());
        buf[EPOCH_LEN] = b':';
        let digits = Decimal::new(self.id);
        let len = EPOCH_LEN + 1 + digits.as_bytes().len();
        buf[EPOCH_LEN + 1..len].copy_from_slice(digits.as_bytes());
        // At most MAX_LEN (32): fits in a byte.
        EventIdText {
            buf,
            len: len as u8,
        }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

/// An [`EventId`]'s text, `E:N`.
#[derive(Clone, Copy)]
pub struct EventIdText {
    buf: [u8; EventId::MAX_LEN],
    len: u8,
}

impl EventIdText {
    /// The characters, as a string.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).expect("base64, ':' and digits")
    }
}

/// `0` or `[1-9][0-9]*` as a `u64`; `None` for anything else, including overflow.
fn parse_canonical_u64(digits: &[u8]) -> Option<u64> {
    match digits {
        [] => None,
        [b'0', _, ..] => None,
        _ => digits.iter().try_fold(0u64, |n, &b| {
            if b.is_ascii_digit() {
                n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            } else {
                None
            }
        }),
    }
}

// ===== the parser =====

/// One event a browser would dispatch (§9.2.6 "dispatch the event").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event` field's value, when the event had a non-empty one.
    event_type: Option<String>,
    /// The data lines, joined with `\n`.
    data: String,
    /// The stream's last event id when the event was dispatched. Shared by the events of
    /// one id, so that a stream of many small events after one long id costs no copies.
    last_event_id: Arc<str>,
}

impl Event {
    /// The event's type: its `event` field, or `message` when it had none or an empty one
    /// (§9.2.6, dispatch steps 5 and 6).
    pub fn event_type(&self) -> &str {
        self.event_type.as_deref().unwrap_or("message")
    }

    /// The event's data: its `data` values joined with `\n` (without a final `\n`).
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The data, taken.
    pub fn into_data(self) -> String {
        self.data
    }

    /// The stream's last event id when the event was dispatched (the `lastEventId` of a
    /// browser's `MessageEvent`): the last `id` field seen, in this event or an earlier
    /// one; empty when none was, or the last one was empty.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }
}

/// Why an [`EventStreamParser`] gave up on a stream: a bound was passed. A server that
/// never ends a line, or never ends an event, would otherwise make the client buffer
/// without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventStreamError {
    /// A line (without its line end) is longer than the parser's limit.
    LineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// An event's data (its `data` values joined with `\n`) is longer than the limit.
    DataTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
}

impl fmt::Display for EventStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventStreamError::LineTooLong { limit } => {
                write!(f, "event stream line longer than {limit} bytes")
            }
            EventStreamError::DataTooLong { limit } => {
                write!(f, "event stream event with more than {limit} bytes of data")
            }
        }
    }
}

impl std::error::Error for EventStreamError {}

/// The UTF-8 byte order mark.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Where the parser is in the stream's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// This many bytes of a byte order mark seen, and nothing else yet. §9.2.6: "The UTF-8
    /// decode algorithm strips one leading UTF-8 Byte Order Mark (BOM), if any."
    Bom(u8),
    /// Past the start: a BOM from here on is text.
    Body,
}

/// A `text/event-stream` parser: bytes in, in pieces of any size, [`Event`]s out — what a
/// browser's `EventSource` does (§9.2.6 "Interpreting an event stream").
///
/// - The stream is UTF-8; invalid bytes read as U+FFFD, as the WHATWG "UTF-8 decode" does,
///   and one BOM at the very start is dropped (a BOM anywhere else is text: a field
///   named `\u{FEFF}data` is no `data`).
/// - Lines end in CRLF, lone LF or lone CR; a CR at the end of one piece and an LF at
///   the start of the next are one line end.
/// - A blank line dispatches the event; a line starting with `:` is a comment; a line
///   without a colon is a field with an empty value; one space after the colon is
///   removed. Fields: `event` (the type, `message` by default), `data` (joined with
///   `\n`, the final one removed), `id` (ignored when it holds NUL; it persists across
///   events), `retry` (ASCII digits only). Unknown fields are ignored; names are
///   compared exactly.
/// - An event whose data buffer is empty is not dispatched; an event the stream ends in
///   the middle of is not dispatched either (there is no `finish`).
///
/// It is bounded: a line longer than the limit, or an event's data longer than it, is an
/// [`EventStreamError`], so a hostile server cannot make the client buffer more than a few
/// times the limit ([`buffered`](Self::buffered)). After an error, the parser stays
/// failed. Decoding is linear: every byte is looked at a constant number of times.
///
/// ```
/// use pushwire::hub::sse::EventStreamParser;
/// let mut parser = EventStreamParser::new(1024);
/// let mut events = Vec::new();
/// parser.push(b"id: 1\r\ndata: a\r", &mut events).unwrap();
/// parser.push(b"\ndata: b\n\n", &mut events).unwrap();
/// assert_eq!(events.len(), 1);
/// assert_eq!(events[0].data(), "a\nb");
/// assert_eq!(events[0].event_type(), "message");
/// assert_eq!(events[0].last_event_id(), "1");
/// ```
#[derive(Debug, Clone)]
pub struct EventStreamParser {
    /// The most bytes of one line, and of one event's data.
    limit: usize,
    start: Start,
    /// The line begun in an earlier piece (its bytes so far, without a line end).
    line: Vec<u8>,
    /// The last byte read was a CR, which ended a line: an LF next is the rest of that
    /// line end (CRLF), not a blank line.
    after_cr: bool,
    /// §9.2.6: "a data buffer, an event type buffer, and a last event ID buffer".
    data: String,
    event_type: String,
    id_buffer: Arc<str>,
    /// The event source's "last event ID string": the id buffer as of the last dispatch.
    last_event_id: Arc<str>,
    /// The last valid `retry` value, in milliseconds.
    reconnection_time: Option<u64>,
    comments: u64,
    failed: Option<EventStreamError>,
}

impl EventStreamParser {
    /// A parser at the start of a stream, refusing lines and event data longer than
    /// `limit` bytes.
    pub fn new(limit: usize) -> EventStreamParser {
        let empty: Arc<str> = Arc::from("");
        EventStreamParser {
            limit,
            start: Start::Bom(0),
            line: Vec::new(),
            after_cr: false,
            data: String::new(),
            event_type: String::new(),
            id_buffer: empty.clone(),
            last_event_id: empty,
            reconnection_time: None,
            comments: 0,
            failed: None,
        }
    }

    /// Reads the next piece of the stream and appends the events it completes to
    /// `events`. A line or event cut off by the end of `bytes` waits for the next piece.
    ///
    /// On an error, the events before the offending line have been appended; the parser
    /// is then failed, and every later call returns the same error.
    pub fn push(&mut self, bytes: &[u8], events: &mut Vec<Event>) -> Result<(), EventStreamError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let result = self.read(bytes, events);
        if let Err(error) = result {
            self.failed = Some(error);
            // Nothing more will be read: release the buffers.
            self.line = Vec::new();
            self.data = String::new();
            self.event_type = String::new();
        }
        result
    }

    /// The event source's last event id: the `id` as of the last blank line (§9.2.6
    /// dispatch step 1, which happens even when no event is dispatched). What a client
    /// sends as `Last-Event-ID` when it reconnects (§9.2.3); an `id` field not yet
    /// followed by a blank line does not count.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The last valid `retry` value, in milliseconds: how long the client waits before it
    /// reconnects. `None` when the stream sent none (a browser uses its own default).
    pub fn reconnection_time(&self) -> Option<u64> {
        self.reconnection_time
    }

    /// How many comment lines were read (a server's keepalives, for one).
    pub fn comments(&self) -> u64 {
        self.comments
    }

    /// The bytes the parser holds: an unfinished line (at most the limit), the data of an
    /// unfinished event (at most the limit and one `\n`), its type and the ids (each at
    /// most three times a line: an invalid byte decodes to the 3-byte U+FFFD).
    pub fn buffered(&self) -> usize {
        self.line.len()
            + self.data.len()
            + self.event_type.len()
            + self.id_buffer.len()
            + self.last_event_id.len()
    }

    fn read(&mut self, bytes: &[u8], events: &mut Vec<Event>) -> Result<(), EventStreamError> {
        let mut rest = self.skip_bom(bytes);
        if self.after_cr
            && let Some((&first, after)) = rest.split_first()
        {
            self.after_cr = false;
            if first == b'\n' {
                rest = after;
            }
        }
        while let Some(end) = find_line_break(rest) {
            let cr = rest[end] == b'\r';
            if self.line.is_empty() {
                self.check_line_len(end)?;
                self.process(&rest[..end], events)?;
            } else {
                self.check_line_len(self.line.len() + end)?;
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..end]);
                self.process(&line, events)?;
                // Keep the allocation for the next line that spans pieces.
                line.clear();
                self.line = line;
            }
            rest = &rest[end + 1..];
            if cr {
                match rest.split_first() {
                    Some((b'\n', after)) => rest = after,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        // An unfinished line: refused as soon as it is too long, not when it ends, so
        // that a line that never ends is never buffered past the limit.
        self.check_line_len(self.line.len() + rest.len())?;
        self.line.extend_from_slice(rest);
        Ok(())
    }

    /// Drops a leading BOM, however it is split; the bytes of a BOM begun but not
    /// finished are the start of the first line.
    fn skip_bom<'b>(&mut self, mut bytes: &'b [u8]) -> &'b [u8] {
        while let Start::Bom(matched) = self.start {
            let Some((&b, rest)) = bytes.split_first() else {
                break;
            };
            let matched = usize::from(matched);
            if b == BOM[matched] {
                bytes = rest;
                self.start = if matched + 1 == BOM.len() {
                    Start::Body
                } else {
                    // At most 2.
                    Start::Bom(matched as u8 + 1)
                };
            } else {
                self.line.extend_from_slice(&BOM[..matched]);
                self.start = Start::Body;
            }
        }
        bytes
    }

    fn check_line_len(&self, len: usize) -> Result<(), EventStreamError> {
        if len > self.limit {
            return Err(EventStreamError::LineTooLong { limit: self.limit });
        }
        Ok(())
    }

    /// One line, without its line end (§9.2.6 "Lines must be processed, in the order they
    /// are received, as follows").
    fn process(&mut self, line: &[u8], events: &mut Vec<Event>) -> Result<(), EventStreamError> {
        let (name, value) = match line.iter().position(|&b| b == b':') {
            // "If the line is empty (a blank line): Dispatch the event."
            None if line.is_empty() => {
                self.dispatch(events);
                return Ok(());
            }
            // "If the line starts with a U+003A COLON character (:): Ignore the line."
            Some(0) => {
                self.comments += 1;
                return Ok(());
            }
            // "If value starts with a U+0020 SPACE character, remove it from value."
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            // "using the whole line as the field name, and the empty string as the field
            // value."
            None => (line, &b""[..]),
        };
        // The names are ASCII, and a name with an invalid byte decodes to one with a
        // U+FFFD, so comparing the bytes is comparing the decoded names.
        match name {
            EVENT => {
                self.event_type.clear();
                push_decoded(&mut self.event_type, value);
            }
            DATA => {
                push_decoded(&mut self.data, value);
                if self.data.len() > self.limit {
                    return Err(EventStreamError::DataTooLong { limit: self.limit });
                }
                self.data.push('\n');
            }
            // A value with NUL falls through to the ignored fields.
            ID if !value.contains(&0) => self.id_buffer = decoded(value),
            RETRY => {
                // Digits only, and at least one (an empty value interprets as no integer);
                // a value past u64 is ignored as well.
                if let Some(ms) = parse_decimal(value) {
                    self.reconnection_time = Some(ms);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// §9.2.6 "dispatch the event", the steps for web browsers.
    fn dispatch(&mut self, events: &mut Vec<Event>) {
        // 1. The last event ID string becomes the buffer, event or not.
        self.last_event_id = Arc::clone(&self.id_buffer);
        // 2. No data: no event.
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        // 3. Drop the final LF (every data line appended one).
        self.data.pop();
        // 5, 6. The type: `message` unless the buffer says otherwise. 7. Both buffers
        // start over (taken: the event owns their bytes, no copy).
        let event_type =
            (!self.event_type.is_empty()).then(|| std::mem::take(&mut self.event_type));
        events.push(Event {
            event_type,
            data: std::mem::take(&mut self.data),
            last_event_id: Arc::clone(&self.last_event_id),
        });
    }
}

/// Appends `bytes` decoded as UTF-8, each invalid sequence as U+FFFD (the WHATWG "UTF-8
/// decode", which replaces each maximal invalid subpart, as [`String::from_utf8_lossy`]
/// does). CR and LF are ASCII and never part of a sequence, so decoding line by line
/// gives what decoding the whole stream would.
fn push_decoded(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
}

fn decoded(bytes: &[u8]) -> Arc<str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Arc::from(text),
        Err(_) => Arc::from(String::from_utf8_lossy(bytes).as_ref()),
    }
}

#[cfg(test)]
mod tests;
