//! RESP2, the Redis serialization protocol: commands written, replies read, sans-IO.
//!
//! A client sends each command as an array of bulk strings and reads one reply per
//! command, in order. RESP2 has five reply types, each announced by its first byte and
//! ended by CRLF:
//!
//! ```text
//! +OK\r\n                         simple string (no CR or LF inside)
//! -ERR unknown command\r\n        error: its first word is the kind (ERR, NOSCRIPT, …)
//! :42\r\n                         integer, signed 64-bit decimal
//! $5\r\nhello\r\n   $-1\r\n       bulk string: a length, then that many bytes (binary-safe); nil
//! *2\r\n$1\r\na\r\n:1\r\n  *-1\r\n  array of any replies, nested as deep as they come; nil
//! ```
//!
//! This is RESP2 only: the client never sends `HELLO 3`, so Redis never answers with
//! RESP3's types (`_` null, `%` map, `,` double, `#` boolean, `>` push, …); they are
//! [`RespError::BadType`] here. Inline commands (a bare line) are a convenience of
//! `redis-cli` and never written.
//!
//! - **The encoder** ([`Command`]) appends one command to an output buffer; its
//!   arguments are bytes, copied once into the output and nowhere else.
//! - **The parser** ([`ReplyParser`]) reads one reply at a time as bytes arrive, the way
//!   [`crate::http::request`] reads a head: it remembers the first byte it has not
//!   examined and its place in the grammar, so each call looks only at new bytes, and the
//!   work is linear in the reply however the network splits it. A bulk string's payload
//!   is not examined at all: the parser waits until `length + 2` bytes are there and checks
//!   the CRLF after them. It records where each value lies and copies nothing; the
//!   finished [`Reply`] borrows the caller's buffer.
//! - **The limits** ([`ReplyLimits`]) are checked as each header is read, before the
//!   parser waits for what the header announces: a hostile or broken server cannot make
//!   the connection buffer more than [`ReplyLimits::max_reply_bytes`] for one reply, or
//!   the parser record more than [`ReplyLimits::max_elements`] values.

use std::fmt;

use crate::status::Status;

// ===== the encoder =====

/// One command being appended to an output buffer: `*N\r\n` and then each argument as a
/// bulk string `$len\r\nbytes\r\n`. The arguments are binary-safe.
///
/// The count `N` is known only when the last argument is in, so the arguments are written
/// first and the array header is put in front of them when the command is finished —
/// by [`finish`](Command::finish), or when the builder goes out of scope, so that a command
/// is never left in the buffer without its header. That moves the command's bytes once;
/// nothing is allocated but the output's own growth.
///
/// ```
/// use pushwire::redis::Command;
///
/// let mut out = Vec::new();
/// Command::new(&mut out, "SET").arg("greeting").arg(b"hi\r\n");
/// let mut subscribe = Command::new(&mut out, "SUBSCRIBE");
/// for channel in ["a", "b"] {
///     subscribe.arg(channel);
/// }
/// subscribe.finish();
/// assert_eq!(
///     out,
///     b"*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$4\r\nhi\r\n\r\n\
///       *3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n"
/// );
/// ```
pub struct Command<'o> {
    out: &'o mut Vec<u8>,
    /// Where the command begins in `out`: the array header goes here.
    start: usize,
    /// Arguments written so far, the command's name included.
    args: usize,
    /// The header is in place; nothing more may be added.
    finished: bool,
}

impl<'o> Command<'o> {
    /// Begins a command named `name` (`"EVALSHA"`, `"SUBSCRIBE"`: Redis reads command
    /// names in any case) at the end of `out`.
    pub fn new(out: &'o mut Vec<u8>, name: &str) -> Command<'o> {
        let start = out.len();
        let mut command = Command {
            out,
            start,
            args: 0,
            finished: false,
        };
        command.arg(name);
        command
    }

    /// Appends one argument, any bytes.
    pub fn arg(&mut self, bytes: impl AsRef<[u8]>) -> &mut Self {
        let bytes = bytes.as_ref();
        self.out.push(b'$');
        push_decimal(self.out, bytes.len() as i64);
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(bytes);
        self.out.extend_from_slice(b"\r\n");
        self.args += 1;
        self
    }

    /// Appends an integer argument in decimal (`EVALSHA`'s key count, a `COUNT`), without
    /// formatting it into a `String` first.
    pub fn arg_int(&mut self, n: i64) -> &mut Self {
        let mut digits = [0u8; 20];
        let text = decimal(n, &mut digits);
        self.arg(text)
    }

    /// Puts the array header in front of the arguments and returns the command's length in
    /// bytes, header included.
    pub fn finish(mut self) -> usize {
        self.write_header();
        self.out.len() - self.start
    }

    fn write_header(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let mut header = [0u8; 23];
        header[0] = b'*';
        let mut digits = [0u8; 20];
        let count = decimal(self.args as i64, &mut digits);
        header[1..1 + count.len()].copy_from_slice(count);
        header[1 + count.len()..3 + count.len()].copy_from_slice(b"\r\n");
        let header = &header[..3 + count.len()];
        self.out
            .splice(self.start..self.start, header.iter().copied());
    }
}

impl Drop for Command<'_> {
    fn drop(&mut self) {
        self.write_header();
    }
}

impl fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("args", &self.args)
            .field("bytes", &(self.out.len() - self.start))
            .finish()
    }
}

/// `n` in decimal, written into `digits` from the end; the text is the returned tail.
/// Twenty bytes hold every `i64`, `i64::MIN`'s sign included.
fn decimal(n: i64, digits: &mut [u8; 20]) -> &[u8] {
    let mut magnitude = n.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        digits[at] = b'-';
    }
    &digits[at..]
}

fn push_decimal(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    out.extend_from_slice(decimal(n, &mut digits));
}

// ===== Reply =====

/// One reply, borrowing the bytes it was parsed from.
///
/// Strings are slices of the caller's buffer, never copies. An array owns a `Vec` of its
/// elements, sized from its header once the whole reply is known to be there and within
/// the limits; the replies a client reads are small trees (an `EVALSHA` answer is
/// `[id, epoch]`, a pub/sub message `[kind, channel, data]`, an `XRANGE` answer
/// `[[id, [field, value, …]], …]`), and a `Vec` per array keeps them matchable with slice
/// patterns:
///
/// ```
/// use pushwire::redis::Reply;
///
/// # fn handle(reply: Reply<'_>) -> Option<(&[u8], &[u8])> {
/// match reply {
///     Reply::Array(Some(items)) => match items.as_slice() {
///         [Reply::Bulk(Some(b"message")), Reply::Bulk(Some(channel)), Reply::Bulk(Some(data))] => {
///             Some((*channel, *data))
///         }
///         _ => None,
///     },
///     _ => None,
/// }
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `+text`: a status such as `OK` or `QUEUED`; never holds CR or LF.
    Simple(&'a [u8]),
    /// `-KIND message`: the command failed; see [`Reply::error_kind`].
    Error(&'a [u8]),
    /// `:n`.
    Integer(i64),
    /// `$len` and the bytes; `None` is nil (`$-1`: a missing key, a missing field).
    Bulk(Option<&'a [u8]>),
    /// `*n` and the elements; `None` is a nil array (`*-1`: a timed-out blocking read).
    Array(Option<Vec<Reply<'a>>>),
}

impl<'a> Reply<'a> {
    /// The bytes of a bulk string that is not nil.
    pub fn as_bulk(&self) -> Option<&'a [u8]> {
        match *self {
            Reply::Bulk(Some(bytes)) => Some(bytes),
            _ => None,
        }
    }

    /// The value of an integer reply.
    pub fn as_integer(&self) -> Option<i64> {
        match *self {
            Reply::Integer(n) => Some(n),
            _ => None,
        }
    }

    /// The elements of an array that is not nil.
    pub fn as_array(&self) -> Option<&[Reply<'a>]> {
        match self {
            Reply::Array(Some(items)) => Some(items),
            _ => None,
        }
    }

    /// `true` for a nil bulk string or a nil array.
    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Bulk(None) | Reply::Array(None))
    }

    /// The kind of an error reply: its first word (`ERR`, `NOSCRIPT`, `WRONGTYPE`,
    /// `NOAUTH`), which Redis uses as the error's code, so that a caller can tell a
    /// `NOSCRIPT` (load the script again) from a failure.
    pub fn error_kind(&self) -> Option<&'a [u8]> {
        match *self {
            Reply::Error(text) => Some(text.split(|&b| b == b' ').next().unwrap_or(text)),
            _ => None,
        }
    }

    /// Appends this reply in RESP2, in its canonical form (no sign on a positive integer,
    /// no leading zeros): what a Redis server writes, for test servers and round trips.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(text) => line(out, b'+', text),
            Reply::Error(text) => line(out, b'-', text),
            Reply::Integer(n) => {
                out.push(b':');
                push_decimal(out, *n);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(Some(bytes)) => {
                out.push(b'$');
                push_decimal(out, bytes.len() as i64);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(None) => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(Some(items)) => {
                out.push(b'*');
                push_decimal(out, items.len() as i64);
                out.extend_from_slice(b"\r\n");
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
}

fn line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// Bytes shown as text with anything unprintable escaped, as `b"…"` literals read.
struct Escaped<'a>(&'a [u8]);

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

/// Strings as escaped text (`Bulk("hello")`), nil as `nil`: readable in test failures,
/// where a derived `Debug` would print lists of numbers.
impl fmt::Debug for Reply<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Simple(text) => f.debug_tuple("Simple").field(&Escaped(text)).finish(),
            Reply::Error(text) => f.debug_tuple("Error").field(&Escaped(text)).finish(),
            Reply::Integer(n) => f.debug_tuple("Integer").field(n).finish(),
            Reply::Bulk(Some(bytes)) => f.debug_tuple("Bulk").field(&Escaped(bytes)).finish(),
            Reply::Bulk(None) => f.write_str("Bulk(nil)"),
            Reply::Array(Some(items)) => f.debug_tuple("Array").field(items).finish(),
            Reply::Array(None) => f.write_str("Array(nil)"),
        }
    }
}

// ===== limits and errors =====

/// Bounds on one reply, each checked as soon as the header that would pass it is read.
///
/// Together they bound what one connection holds while it reads a reply: its input
/// buffer is at most [`max_reply_bytes`](Self::max_reply_bytes), the parser's record of
/// it at most [`max_elements`](Self::max_elements) entries of 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// The longest bulk string, and the longest simple string or error line. Default
    /// 4 MiB: far above the hub's largest message (64 KiB by default), which is the
    /// largest string the engine reads back.
    pub max_bulk_len: usize,
    /// The most elements in one array. Default 65,536: an `XRANGE … COUNT` answer has one
    /// per message read, and the hub reads at most a channel's history (1,024 by default)
    /// at a time.
    pub max_array_len: usize,
    /// How deep arrays may nest: a flat array is depth 1, an `XRANGE` answer
    /// (`[[id, [field, value]]]`) depth 3. Default 8. Never more than 64 whatever this
    /// says, because building and dropping a [`Reply`] recurse once per level.
    pub max_depth: usize,
    /// The most values in one reply, counting the reply itself and every element of
    /// every array (0 acts as 1: a single value is always allowed). Default 262,144.
    pub max_elements: usize,
    /// The longest reply, in bytes from its type byte to its last CRLF. Default 64 MiB.
    /// The bytes after a complete reply (the next pipelined replies) do not count.
    pub max_reply_bytes: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits {
            max_bulk_len: 4 << 20,
            max_array_len: 65_536,
            max_depth: 8,
            max_elements: 262_144,
            max_reply_bytes: 64 << 20,
        }
    }
}

/// Nesting is refused past this depth whatever [`ReplyLimits::max_depth`] says: building
/// a [`Reply`] and dropping it recurse once per level, and the stack is not ours to size.
pub const MAX_DEPTH_CEILING: usize = 64;

/// Which bound of [`ReplyLimits`] a reply passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyLimit {
    /// [`ReplyLimits::max_bulk_len`]: a bulk string's announced length, or a simple string
    /// or error line with no CRLF in sight.
    BulkLength,
    /// [`ReplyLimits::max_array_len`]: an array's announced length.
    ArrayLength,
    /// [`ReplyLimits::max_depth`] (or [`MAX_DEPTH_CEILING`]).
    Depth,
    /// [`ReplyLimits::max_elements`]: the values announced so far in this reply.
    Elements,
    /// [`ReplyLimits::max_reply_bytes`]: a bulk string that would end past it, or that many
    /// bytes without the reply ending.
    ReplyBytes,
}

/// A reply the parser refuses. The connection cannot find the start of the next reply
/// after any of these, so it is closed (and, for the engine, opened again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RespError {
    /// A value begins with a byte that is not a RESP2 type (`+ - : $ *`); RESP3's types
    /// are among these.
    BadType(u8),
    /// An integer reply that is not a signed 64-bit decimal: no digits, a byte that is not
    /// a digit, or out of range.
    BadInteger,
    /// A bulk string's or an array's length that is neither `-1` (nil) nor a decimal
    /// count: `-2`, `+3`, no digits, a byte that is not a digit, or past `i64::MAX`.
    BadLength,
    /// A line or a bulk string's payload not followed by CRLF: a CR followed by another
    /// byte, or a bare LF.
    MissingCrlf,
    /// The reply passes one of the [`ReplyLimits`]; `max` is that limit's value.
    OverLimit {
        /// The bound passed.
        limit: ReplyLimit,
        /// Its value.
        max: usize,
    },
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RespError::BadType(b) if b.is_ascii_graphic() => write!(
                f,
                "redis reply begins with {:?}, which is not a RESP2 type (+ - : $ *)",
                b as char
            ),
            RespError::BadType(b) => write!(
                f,
                "redis reply begins with byte 0x{b:02x}, which is not a RESP2 type (+ - : $ *)"
            ),
            RespError::BadInteger => f.write_str("redis integer reply is not a 64-bit decimal"),
            RespError::BadLength => {
                f.write_str("redis bulk or array length is neither -1 nor a decimal count")
            }
            RespError::MissingCrlf => f.write_str("redis reply line not ended by CRLF"),
            RespError::OverLimit { limit, max } => {
                let what = match limit {
                    ReplyLimit::BulkLength => "a string longer than",
                    ReplyLimit::ArrayLength => "an array longer than",
                    ReplyLimit::Depth => "arrays nested deeper than",
                    ReplyLimit::Elements => "more values than",
                    ReplyLimit::ReplyBytes => "more bytes than",
                };
                write!(f, "redis reply over its limit: {what} {max}")
            }
        }
    }
}

impl std::error::Error for RespError {}

// ===== ReplyParser =====

/// Where a recorded value lies in the reply's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// INVARIANT (upheld by the parser): the span lies before the reply's end, and
    /// `bytes` holds at least the whole reply when this is called.
    fn of(self, bytes: &[u8]) -> &[u8] {
        &bytes[self.start..self.end]
    }
}

/// One value as the parser records it, in the order values appear (an array before its
/// elements): the reply's tree, flattened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Simple(Span),
    Error(Span),
    Integer(i64),
    Bulk(Option<Span>),
    Array(Option<usize>),
}

/// Which number a header line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberKind {
    /// `:`, any `i64`.
    Integer,
    /// `$`, `-1` or a count.
    BulkLength,
    /// `*`, `-1` or a count.
    ArrayLength,
}

impl NumberKind {
    fn error(self) -> RespError {
        match self {
            NumberKind::Integer => RespError::BadInteger,
            NumberKind::BulkLength | NumberKind::ArrayLength => RespError::BadLength,
        }
    }
}

/// A decimal read one byte at a time. Out-of-range values are refused at the digit
/// that makes them so, which also bounds how long a number line can grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Decimal {
    /// A sign (`-`, or `+` for an integer) was read.
    signed: bool,
    negative: bool,
    /// At least one digit was read.
    digits: bool,
    /// INVARIANT: at most `i64::MAX`, or `2^63` when `negative`.
    magnitude: u64,
}

impl Decimal {
    fn push(&mut self, b: u8, kind: NumberKind) -> Result<(), RespError> {
        match b {
            b'0'..=b'9' => {
                let digit = u64::from(b - b'0');
                // A length is -1 or not negative: after `-`, one `1` and nothing more.
                if kind != NumberKind::Integer && self.negative && (self.digits || digit != 1) {
                    return Err(RespError::BadLength);
                }
                let max = if self.negative {
                    1u64 << 63
                } else {
                    i64::MAX as u64
                };
                self.magnitude = self
                    .magnitude
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(digit))
                    .filter(|&m| m <= max)
                    .ok_or(kind.error())?;
                self.digits = true;
                Ok(())
            }
            b'-' | b'+' if !self.signed && !self.digits => {
                if b == b'+' && kind != NumberKind::Integer {
                    return Err(RespError::BadLength);
                }
                self.signed = true;
                self.negative = b == b'-';
                Ok(())
            }
            _ => Err(kind.error()),
        }
    }

    fn value(self) -> i64 {
        if self.negative {
            // 2^63 wraps to i64::MIN, its own negation.
            (self.magnitude as i64).wrapping_neg()
        } else {
            self.magnitude as i64
        }
    }
}

/// Where the parser is in the grammar. The name says what the next byte may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The type byte of a value.
    Type,
    /// Inside a simple string (`error == false`) or error line whose text begins at
    /// `start`.
    Line { error: bool, start: usize },
    /// The LF after such a line's CR; the text is `start..end`.
    LineLf {
        error: bool,
        start: usize,
        end: usize,
    },
    /// Inside the decimal of an integer or a length.
    Number { kind: NumberKind, number: Decimal },
    /// The LF after a number line's CR.
    NumberLf { kind: NumberKind, value: i64 },
    /// A bulk string's `len` bytes from `start`, then its CR (at `start + len`).
    Payload { start: usize, len: usize },
    /// The LF after a bulk string's payload.
    PayloadLf { start: usize, len: usize },
    /// The reply was refused.
    Failed(RespError),
}

/// Reads replies incrementally, one at a time. One per connection; it keeps the storage
/// of its record from reply to reply, so a connection stops allocating (but for the
/// replies' arrays) after its first replies.
///
/// ```
/// use pushwire::redis::{Reply, ReplyLimits, ReplyParser};
/// use pushwire::Status;
///
/// let limits = ReplyLimits::default();
/// let mut parser = ReplyParser::new();
/// let mut input = b"*2\r\n:7\r\n$11\r\nmG3b".to_vec();
/// assert_eq!(parser.parse(&input, &limits), Ok(Status::Partial));
/// input.extend_from_slice(b"0hJ0xq8\r\n+PONG\r\n");
/// let Ok(Status::Complete((reply, n))) = parser.parse(&input, &limits) else { panic!() };
/// assert_eq!(reply, Reply::Array(Some(vec![Reply::Integer(7), Reply::Bulk(Some(b"mG3b0hJ0xq8"))])));
/// // The next reply begins right after this one.
/// assert_eq!(parser.parse(&input[n..], &limits), Ok(Status::Complete((Reply::Simple(b"PONG"), 7))));
/// ```
#[derive(Debug, Clone)]
pub struct ReplyParser {
    /// The first byte not yet examined, counted from the reply's first byte. INVARIANT:
    /// every byte before it has been classified or is a bulk payload's, and nothing after
    /// it has been looked at.
    pos: usize,
    state: State,
    /// How many elements each array still open around `pos` waits for, outermost first.
    /// INVARIANT: every entry is at least 1, and there are at most `MAX_DEPTH_CEILING`.
    open: Vec<usize>,
    /// The values read so far, in order.
    tokens: Vec<Token>,
    /// Values announced so far: 1 for the reply itself and every array's length.
    announced: usize,
    /// Bytes examined since `new()` (payloads are skipped, not examined), to prove
    /// linearity in tests.
    #[cfg(test)]
    scanned: usize,
}

impl Default for ReplyParser {
    fn default() -> Self {
        ReplyParser::new()
    }
}

impl ReplyParser {
    /// A parser at the start of a reply. Allocates nothing until a reply needs recording.
    pub fn new() -> Self {
        ReplyParser {
            pos: 0,
            state: State::Type,
            open: Vec::new(),
            tokens: Vec::new(),
            announced: 1,
            #[cfg(test)]
            scanned: 0,
        }
    }

    /// Forgets the reply in progress (or the error), ready for a reply at the start of the
    /// next buffer; keeps the allocated capacity.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.state = State::Type;
        self.open.clear();
        self.tokens.clear();
        self.announced = 1;
    }

    /// Reads as much of the reply at the start of `buf` as it has not examined yet.
    ///
    /// Contract: until this answers `Complete`, `buf` holds the same bytes as on the
    /// previous call, possibly with more appended. `Complete((reply, n))`: the reply is
    /// `buf[..n]`, and the parser is ready for the next one, which begins at `buf[n]` —
    /// pass `&buf[n..]` (and whatever arrived since) next. Bytes after `n` are never
    /// examined. Incomplete input is `Partial`, never an error; an error is reported as
    /// soon as the byte that proves it is there, and repeated until [`reset`](Self::reset).
    ///
    /// Limits: each is checked when the header that would pass it is complete — a bulk
    /// string's length before its payload is awaited, an array's before its elements —
    /// except that a simple string or error line passes `max_bulk_len` at its first byte
    /// too many, and a reply passes `max_reply_bytes` when `buf` holds more than that
    /// many bytes and the reply has not ended within them.
    pub fn parse<'b>(
        &mut self,
        buf: &'b [u8],
        limits: &ReplyLimits,
    ) -> Result<Status<(Reply<'b>, usize)>, RespError> {
        if let State::Failed(e) = self.state {
            return Err(e);
        }
        let window = buf.len().min(limits.max_reply_bytes);
        while self.pos < window {
            let at = match self.state {
                // The payload is skipped, not examined; only the CR after it is.
                State::Payload { start, len } if start + len < window => start + len,
                State::Payload { .. } => break,
                _ => self.pos,
            };
            self.pos = at + 1;
            #[cfg(test)]
            {
                self.scanned += 1;
            }
            match self.byte(buf[at], at, limits) {
                Ok(false) => {}
                Ok(true) => {
                    let n = self.pos;
                    let reply = build(&self.tokens, &mut 0, buf);
                    self.reset();
                    return Ok(Status::Complete((reply, n)));
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
        if buf.len() > limits.max_reply_bytes {
            return Err(self.fail(RespError::OverLimit {
                limit: ReplyLimit::ReplyBytes,
                max: limits.max_reply_bytes,
            }));
        }
        Ok(Status::Partial)
    }

    fn fail(&mut self, e: RespError) -> RespError {
        self.state = State::Failed(e);
        e
    }

    /// Takes the byte at offset `at`; `true` when it ended the reply.
    fn byte(&mut self, b: u8, at: usize, limits: &ReplyLimits) -> Result<bool, RespError> {
        match self.state {
            State::Type => {
                self.state = match b {
                    b'+' | b'-' => State::Line {
                        error: b == b'-',
                        start: at + 1,
                    },
                    b':' => self.number(NumberKind::Integer),
                    b'$' => self.number(NumberKind::BulkLength),
                    b'*' => self.number(NumberKind::ArrayLength),
                    _ => return Err(RespError::BadType(b)),
                };
            }
            State::Line { error, start } => match b {
                b'\r' => {
                    self.state = State::LineLf {
                        error,
                        start,
                        end: at,
                    }
                }
                b'\n' => return Err(RespError::MissingCrlf),
                _ if at + 1 - start > limits.max_bulk_len => {
                    return Err(over(ReplyLimit::BulkLength, limits.max_bulk_len));
                }
                _ => {}
            },
            State::LineLf { error, start, end } => {
                expect_lf(b)?;
                let span = Span { start, end };
                self.tokens.push(if error {
                    Token::Error(span)
                } else {
                    Token::Simple(span)
                });
                return Ok(self.value_done());
            }
            State::Number { kind, mut number } => match b {
                b'\r' if number.digits => {
                    self.state = State::NumberLf {
                        kind,
                        value: number.value(),
                    }
                }
                b'\r' => return Err(kind.error()),
                b'\n' => return Err(RespError::MissingCrlf),
                _ => {
                    number.push(b, kind)?;
                    self.state = State::Number { kind, number };
                }
            },
            State::NumberLf { kind, value } => {
                expect_lf(b)?;
                return self.number_done(kind, value, at + 1, limits);
            }
            State::Payload { start, len } => {
                if b != b'\r' {
                    return Err(RespError::MissingCrlf);
                }
                self.state = State::PayloadLf { start, len };
            }
            State::PayloadLf { start, len } => {
                expect_lf(b)?;
                self.tokens.push(Token::Bulk(Some(Span {
                    start,
                    end: start + len,
                })));
                return Ok(self.value_done());
            }
            State::Failed(e) => return Err(e),
        }
        Ok(false)
    }

    fn number(&self, kind: NumberKind) -> State {
        State::Number {
            kind,
            number: Decimal::default(),
        }
    }

    /// A header's number is complete; `next` is the offset of the byte after its LF.
    fn number_done(
        &mut self,
        kind: NumberKind,
        value: i64,
        next: usize,
        limits: &ReplyLimits,
    ) -> Result<bool, RespError> {
        match kind {
            NumberKind::Integer => self.tokens.push(Token::Integer(value)),
            NumberKind::BulkLength if value < 0 => self.tokens.push(Token::Bulk(None)),
            NumberKind::BulkLength => {
                let len = usize::try_from(value)
                    .ok()
                    .filter(|&len| len <= limits.max_bulk_len)
                    .ok_or(over(ReplyLimit::BulkLength, limits.max_bulk_len))?;
                let end = next.saturating_add(len).saturating_add(2);
                if end > limits.max_reply_bytes {
                    return Err(over(ReplyLimit::ReplyBytes, limits.max_reply_bytes));
                }
                self.state = State::Payload { start: next, len };
                return Ok(false);
            }
            NumberKind::ArrayLength if value < 0 => self.tokens.push(Token::Array(None)),
            NumberKind::ArrayLength => {
                let len = usize::try_from(value)
                    .ok()
                    .filter(|&len| len <= limits.max_array_len)
                    .ok_or(over(ReplyLimit::ArrayLength, limits.max_array_len))?;
                let max_depth = limits.max_depth.min(MAX_DEPTH_CEILING);
                if self.open.len() + 1 > max_depth {
                    return Err(over(ReplyLimit::Depth, max_depth));
                }
                let max_elements = limits.max_elements.max(1);
                if len > max_elements - self.announced {
                    return Err(over(ReplyLimit::Elements, max_elements));
                }
                self.announced += len;
                self.tokens.push(Token::Array(Some(len)));
                if len > 0 {
                    self.open.push(len);
                    self.state = State::Type;
                    return Ok(false);
                }
            }
        }
        Ok(self.value_done())
    }

    /// A value is complete: it counts towards the arrays it closes. `true` when it was the
    /// reply itself (no array is left open).
    fn value_done(&mut self) -> bool {
        self.state = State::Type;
        while let Some(waiting) = self.open.last_mut() {
            *waiting -= 1;
            if *waiting > 0 {
                return false;
            }
            self.open.pop();
        }
        true
    }
}

fn over(limit: ReplyLimit, max: usize) -> RespError {
    RespError::OverLimit { limit, max }
}

fn expect_lf(b: u8) -> Result<(), RespError> {
    if b == b'\n' {
        Ok(())
    } else {
        Err(RespError::MissingCrlf)
    }
}

/// The reply's tree from its tokens, starting at `tokens[*next]`. Recurses once per
/// level of nesting, at most `MAX_DEPTH_CEILING` deep.
fn build<'b>(tokens: &[Token], next: &mut usize, buf: &'b [u8]) -> Reply<'b> {
    let token = tokens[*next];
    *next += 1;
    match token {
        Token::Simple(span) => Reply::Simple(span.of(buf)),
        Token::Error(span) => Reply::Error(span.of(buf)),
        Token::Integer(n) => Reply::Integer(n),
        Token::Bulk(span) => Reply::Bulk(span.map(|span| span.of(buf))),
        Token::Array(None) => Reply::Array(None),
        Token::Array(Some(len)) => {
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(build(tokens, next, buf));
            }
            Reply::Array(Some(items))
        }
    }
}

#[cfg(test)]
mod tests;
