//! Incremental, zero-copy, linear-time parsing of an HTTP/1.1 request head (RFC 9112 §2–§5).
//!
//! A connection appends bytes to its buffer as they arrive and calls
//! [`HeadParser::parse`] after each read. The parser remembers the first byte it has not
//! examined and its place in the grammar, so each call only looks at the new bytes: the
//! total work is linear in the size of the head however the network splits it (the h11
//! receive-buffer rule; httparse re-parses from the start, which is quadratic under a
//! slow client). It records where the method, target and each header name and value lie as
//! `u32` offsets, and copies nothing. When the head is complete,
//! [`HeadParser::head`] lends it out as a [`RequestHead`] borrowing the buffer, and
//! [`HeadParser::take_request`] turns it into an owned [`Request`].
//!
//! The grammar (RFC 9112 §2.1, §3, §5):
//!
//! ```text
//! HTTP-message   = start-line CRLF *( field-line CRLF ) CRLF [ message-body ]
//! request-line   = method SP request-target SP HTTP-version
//! HTTP-version   = HTTP-name "/" DIGIT "." DIGIT
//! field-line     = field-name ":" OWS field-value OWS
//! ```
//!
//! The parser is strict where leniency has been used for request smuggling (bare CR,
//! whitespace before the colon, obsolete line folding, duplicate `Host`) and lenient only
//! where RFC 9112 explicitly allows it (a lone LF as a line end, empty lines before the
//! request line).

use std::fmt;

use crate::config::HeadLimits;
use crate::http::status_code::StatusCode;
use crate::http::target::{is_valid_authority, split_absolute_form};
use crate::http::token::{is_field_value_byte, is_ows, is_target_byte, is_tchar, trim_ows};
use crate::status::Status;

// ===== Version =====

/// The HTTP version of a request: HTTP/1.0, or HTTP/1.1 (which a higher minor version,
/// `HTTP/1.2` and on, is read as: RFC 9110 §2.5); any other well-formed `HTTP/x.y` is
/// [`HttpError::UnsupportedVersion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: no `Host` requirement, connections close by default.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

impl Version {
    /// The version as it appears on the wire, e.g. `"HTTP/1.1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ===== HttpError =====

/// A request the peer got wrong. Every variant knows its HTTP status ([`HttpError::status`]);
/// the server answers with it and closes the connection, because after a framing error it
/// can no longer tell where the next request would begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The request line is not `method SP request-target SP HTTP-version`: a missing part,
    /// more than one space, or a version that is not `HTTP/DIGIT.DIGIT`.
    BadRequestLine,
    /// The method contains a byte that is not a `tchar` (RFC 9110 §9.1).
    BadMethod,
    /// The request target contains a byte outside visible ASCII.
    BadTarget,
    /// A header name is empty, contains a non-`tchar` byte, is followed by whitespace
    /// before the colon (RFC 9112 §5.1), or its line has no colon.
    BadHeaderName,
    /// A header value contains a control byte (RFC 9110 §5.5).
    BadHeaderValue,
    /// A CR not followed by LF (RFC 9112 §2.2).
    BadLineEnding,
    /// A header line starts with whitespace: obsolete line folding, which a server must
    /// reject or unfold (RFC 9112 §5.2); we reject.
    ObsoleteLineFolding,
    /// An HTTP/1.1 request without `Host` (RFC 9112 §3.2).
    MissingHost,
    /// More than one `Host` field (RFC 9112 §3.2).
    DuplicateHost,
    /// A `Host` value that is not `host [ ":" port ]` (RFC 9112 §3.2, RFC 9110 §7.2).
    BadHost,
    /// More than `max_head_bytes` bytes arrived without completing the head (431).
    HeadTooLarge,
    /// More than `max_headers` header fields (431).
    TooManyHeaders,
    /// The request target is longer than `max_target_len` (414).
    TargetTooLong,
    /// A well-formed `HTTP/x.y` whose major version is not 1 (505). (`HTTP/1.2` and
    /// later minor versions are read as HTTP/1.1, RFC 9110 §2.5.)
    UnsupportedVersion,
}

impl HttpError {
    /// The status to answer with: 414, 431 and 505 for the limits and versions noted on
    /// the variants, 400 Bad Request for everything else.
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::TargetTooLong => StatusCode::URI_TOO_LONG,
            HttpError::HeadTooLarge | HttpError::TooManyHeaders => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            HttpError::UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            HttpError::BadRequestLine
            | HttpError::BadMethod
            | HttpError::BadTarget
            | HttpError::BadHeaderName
            | HttpError::BadHeaderValue
            | HttpError::BadLineEnding
            | HttpError::ObsoleteLineFolding
            | HttpError::MissingHost
            | HttpError::DuplicateHost
            | HttpError::BadHost => StatusCode::BAD_REQUEST,
        }
    }

    fn description(&self) -> &'static str {
        match self {
            HttpError::BadRequestLine => "malformed request line",
            HttpError::BadMethod => "invalid character in method",
            HttpError::BadTarget => "invalid character in request target",
            HttpError::BadHeaderName => "invalid header name",
            HttpError::BadHeaderValue => "invalid character in header value",
            HttpError::BadLineEnding => "carriage return not followed by line feed",
            HttpError::ObsoleteLineFolding => "obsolete line folding in header section",
            HttpError::MissingHost => "missing host header",
            HttpError::DuplicateHost => "more than one host header",
            HttpError::BadHost => "invalid host header",
            HttpError::HeadTooLarge => "request head too large",
            HttpError::TooManyHeaders => "too many header fields",
            HttpError::TargetTooLong => "request target too long",
            HttpError::UnsupportedVersion => "unsupported http version",
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for HttpError {}

// ===== spans =====

/// Where something lies in the head bytes. `u32` offsets keep a header entry at 16 bytes;
/// the parser never accepts a head longer than `u32::MAX` bytes, so they always fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn new(start: u32, end: u32) -> Span {
        Span {
            start,
            len: end - start,
        }
    }

    fn end(self) -> u32 {
        self.start + self.len
    }

    /// The bytes of this span.
    ///
    /// INVARIANT (upheld by every caller): `bytes` is at least as long as the head the
    /// span was recorded in, and every span lies inside that head.
    fn of(self, bytes: &[u8]) -> &[u8] {
        &bytes[self.start as usize..self.end() as usize]
    }
}

/// One header field: its name and its OWS-trimmed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldSpan {
    name: Span,
    value: Span,
}

/// The request line, as spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RequestLine {
    method: Span,
    target: Span,
    version: Version,
}

/// Text the parser has checked is ASCII (method, target, header names) as `&str`.
///
/// Every byte these spans cover passed a table that admits only ASCII, so the conversion
/// cannot fail for the buffer that was parsed. A caller who breaks the contract of passing
/// that same buffer gets an empty string, which is wrong but harmless, rather than a panic.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

// ===== HeadParser =====

/// Where the parser is in the grammar. The name says what the next byte may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the request line, where empty lines are skipped (RFC 9112 §2.2).
    Start,
    /// After the CR of an empty line before the request line.
    StartCr,
    /// Inside the method.
    Method,
    /// Inside the request target (its first byte was the one after the method's SP).
    Target,
    /// Inside `HTTP/x.y`, or at the line end that follows it.
    Version,
    /// After the CR that ends the request line.
    RequestLineCr,
    /// At the start of a header line or of the blank line that ends the head.
    LineStart,
    /// Inside a header name.
    Name,
    /// After a header name's colon: in the value or the OWS around it.
    Value,
    /// After the CR that ends a header line.
    FieldLineCr,
    /// After the CR of the blank line that ends the head.
    FinalCr,
    /// The head was complete; `head_len` is its length.
    Done,
    /// The head was rejected with this error.
    Failed(HttpError),
}

/// Resumable request-head parser state. One per connection while it reads a head; reuse it
/// with [`reset`](HeadParser::reset).
///
/// The state is a few offsets plus one `Vec` of header spans, so a connection waiting for
/// its head costs about 64 bytes plus 16 per header seen; the `Vec` keeps its capacity across
/// `reset()`, so a keep-alive connection stops allocating after its first request.
///
/// ```
/// use pushwire::config::HeadLimits;
/// use pushwire::http::request::HeadParser;
/// use pushwire::Status;
///
/// let mut parser = HeadParser::new();
/// let limits = HeadLimits::default();
/// let mut buf = b"GET /chat?room=1 HTTP/1.1\r\nHo".to_vec();
/// assert_eq!(parser.parse(&buf, &limits), Ok(Status::Partial));
/// buf.extend_from_slice(b"st: example.com\r\n\r\nbody");
/// assert_eq!(parser.parse(&buf, &limits), Ok(Status::Complete(48)));
/// let head = parser.head(&buf).unwrap();
/// assert_eq!(head.path(), "/chat");
/// assert_eq!(head.header_str("host"), Some("example.com"));
/// ```
#[derive(Debug, Clone)]
pub struct HeadParser {
    /// The first byte not yet examined. INVARIANT: every byte before it has been
    /// classified, and nothing after it has been looked at.
    pos: u32,
    state: State,
    /// Where the request line (the method) starts, after any leading empty lines.
    method_start: u32,
    /// Where the method ends (the offset of the SP after it) once known.
    method_end: u32,
    /// Where the target ends (the offset of the SP after it) once known.
    target_end: u32,
    version: Version,
    /// The start of the header line being read.
    name_start: u32,
    /// The offset of the colon of the header line being read.
    name_end: u32,
    /// The value of the header line being read, without OWS so far: `value_start` is its
    /// first non-OWS byte and `value_end` follows its last. Equal while the value is empty.
    value_start: u32,
    value_end: u32,
    /// Length of the complete head, valid in `State::Done`.
    head_len: u32,
    /// Header fields seen so far, in order.
    fields: Vec<FieldSpan>,
    /// Bytes examined since `new()`, to prove linearity in tests.
    #[cfg(test)]
    scanned: usize,
}

impl Default for HeadParser {
    fn default() -> Self {
        HeadParser::new()
    }
}

/// What one byte did to the parse.
enum Step {
    Continue,
    /// The byte was the last of the head.
    Complete,
}

impl HeadParser {
    /// A parser at the start of a head. Allocates nothing until the first header field.
    pub fn new() -> Self {
        HeadParser {
            pos: 0,
            state: State::Start,
            method_start: 0,
            method_end: 0,
            target_end: 0,
            version: Version::Http11,
            name_start: 0,
            name_end: 0,
            value_start: 0,
            value_end: 0,
            head_len: 0,
            fields: Vec::new(),
            #[cfg(test)]
            scanned: 0,
        }
    }

    /// Forgets the head, ready to parse the next one; keeps the allocated capacity.
    pub fn reset(&mut self) {
        let mut fields = std::mem::take(&mut self.fields);
        fields.clear();
        *self = HeadParser {
            fields,
            #[cfg(test)]
            scanned: self.scanned,
            ..HeadParser::new()
        };
    }

    /// Forgets the head and gives back the header storage too: for a connection that
    /// will read no head for a long while (one streaming an answer, such as a
    /// Server-Sent Events subscriber), the capacity kept for the next head would be memory
    /// held for nothing, on every such connection.
    pub fn release(&mut self) {
        self.reset();
        self.fields = Vec::new();
    }

    /// Parses as much of the head in `buf` as it has not examined yet.
    ///
    /// Contract: `buf` holds the same bytes as on the previous call, possibly with more
    /// appended. Scanning resumes at the first byte not yet examined, so total work is
    /// linear in the head size no matter how the bytes were split. Returns `Complete(n)`
    /// where `n` is the length of the head including its terminating blank line; bytes
    /// after `n` (a body, a pipelined request, WebSocket frames) are never examined.
    /// Errors are reported as soon as the offending byte is present, without waiting for
    /// the end of the line. After `Complete` or `Err`, further calls repeat that answer
    /// until [`reset`](HeadParser::reset).
    ///
    /// Limits: as soon as `buf` holds more than `max_head_bytes` bytes without a complete
    /// head, the answer is [`HttpError::HeadTooLarge`] (a head of exactly `max_head_bytes`
    /// is fine). Heads are capped at `u32::MAX` bytes whatever the limit says, because
    /// spans are stored as `u32`.
    pub fn parse(&mut self, buf: &[u8], limits: &HeadLimits) -> Result<Status<usize>, HttpError> {
        match self.state {
            State::Done => return Ok(Status::Complete(self.head_len as usize)),
            State::Failed(err) => return Err(err),
            _ => {}
        }
        let max_head = limits.max_head_bytes.min(u32::MAX as usize);
        // Bytes past `max_head` are never examined: the head cannot be that long.
        let end = buf.len().min(max_head);
        while (self.pos as usize) < end {
            let at = self.pos;
            self.pos += 1;
            #[cfg(test)]
            {
                self.scanned += 1;
            }
            match self.step(buf, at, limits) {
                Ok(Step::Continue) => {}
                Ok(Step::Complete) => {
                    self.head_len = at + 1;
                    return match self.check_host(buf) {
                        Ok(()) => {
                            self.state = State::Done;
                            Ok(Status::Complete(self.head_len as usize))
                        }
                        Err(err) => self.fail(err),
                    };
                }
                Err(err) => return self.fail(err),
            }
        }
        if buf.len() > max_head {
            return self.fail(HttpError::HeadTooLarge);
        }
        Ok(Status::Partial)
    }

    fn fail(&mut self, err: HttpError) -> Result<Status<usize>, HttpError> {
        self.state = State::Failed(err);
        Err(err)
    }

    /// Classifies the byte at `at` and moves the state machine.
    fn step(&mut self, buf: &[u8], at: u32, limits: &HeadLimits) -> Result<Step, HttpError> {
        let b = buf[at as usize];
        match self.state {
            State::Start => match b {
                // RFC 9112 §2.2: "a server that is expecting to receive and parse a
                // request-line SHOULD ignore at least one empty line (CRLF) received
                // prior to the request-line." We ignore any number; they still count
                // toward max_head_bytes, so this cannot be used to stall forever.
                b'\r' => self.state = State::StartCr,
                b'\n' => {}
                _ if is_tchar(b) => {
                    self.method_start = at;
                    self.state = State::Method;
                }
                // A line that starts with SP has an empty method: the line's shape is
                // wrong. Any other byte that cannot start a token is a bad method.
                b' ' => return Err(HttpError::BadRequestLine),
                _ => return Err(HttpError::BadMethod),
            },
            State::StartCr => match b {
                b'\n' => self.state = State::Start,
                // RFC 9112 §2.2: a bare CR must be rejected or replaced; we reject.
                _ => return Err(HttpError::BadLineEnding),
            },
            State::Method => match b {
                _ if is_tchar(b) => {}
                // RFC 9112 §3: exactly one SP separates the parts of the request line.
                b' ' => {
                    self.method_end = at;
                    self.state = State::Target;
                }
                // The line ended after the method: no target, no version.
                b'\r' | b'\n' => return Err(HttpError::BadRequestLine),
                // RFC 9110 §9.1: method = token.
                _ => return Err(HttpError::BadMethod),
            },
            State::Target => {
                let target_start = self.method_end + 1;
                match b {
                    // An empty target (two spaces after the method) is malformed.
                    b' ' if at == target_start => return Err(HttpError::BadRequestLine),
                    b' ' => {
                        self.target_end = at;
                        self.state = State::Version;
                    }
                    _ if is_target_byte(b) => {
                        // Refuse a long target at its first excess byte, not at its end: a
                        // client must not make us scan 16 KiB to learn it is 414.
                        if (at + 1 - target_start) as usize > limits.max_target_len {
                            return Err(HttpError::TargetTooLong);
                        }
                    }
                    // The line ended inside the target: there is no version.
                    b'\r' | b'\n' => return Err(HttpError::BadRequestLine),
                    _ => return Err(HttpError::BadTarget),
                }
            }
            State::Version => {
                // RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT, where
                // HTTP-name = %s"HTTP" is case-sensitive. `i` is the index in "HTTP/1.1".
                let i = (at - self.target_end - 1) as usize;
                match (i, b) {
                    (0..=4, _) if b == b"HTTP/"[i] => {}
                    (5 | 7, b'0'..=b'9') | (6, b'.') => {}
                    (8, b'\r' | b'\n') => {
                        let major = buf[at as usize - 3];
                        let minor = buf[at as usize - 1];
                        self.version = match (major, minor) {
                            (b'1', b'0') => Version::Http10,
                            // RFC 9110 §2.5: a higher minor version of a major version we
                            // implement "SHOULD" be processed "as if it were in the highest
                            // minor version within that major version to which the
                            // recipient is conformant": HTTP/1.2 is read as HTTP/1.1.
                            (b'1', _) => Version::Http11,
                            // Well-formed but not ours: 505, not 400 (RFC 9110 §15.6.6).
                            _ => return Err(HttpError::UnsupportedVersion),
                        };
                        self.state = if b == b'\r' {
                            State::RequestLineCr
                        } else {
                            State::LineStart
                        };
                    }
                    // A second SP, a third digit, "http/1.1", or a missing version.
                    _ => return Err(HttpError::BadRequestLine),
                }
            }
            State::RequestLineCr => match b {
                b'\n' => self.state = State::LineStart,
                _ => return Err(HttpError::BadLineEnding),
            },
            State::LineStart => match b {
                b'\r' => self.state = State::FinalCr,
                // RFC 9112 §2.2: "a recipient MAY recognize a single LF as a line
                // terminator and ignore any preceding CR." Here it ends the head.
                b'\n' => return Ok(Step::Complete),
                _ if is_tchar(b) => {
                    if self.fields.len() >= limits.max_headers {
                        return Err(HttpError::TooManyHeaders);
                    }
                    self.name_start = at;
                    self.state = State::Name;
                }
                // RFC 9112 §5.2: a server MUST either reject obs-fold or replace it with
                // SP; we reject. RFC 9112 §2.2 gives whitespace between the request line
                // and the first field the same treatment, so that is reported alike.
                b' ' | b'\t' => return Err(HttpError::ObsoleteLineFolding),
                // An empty name (":value") or a byte that cannot start a token.
                _ => return Err(HttpError::BadHeaderName),
            },
            State::Name => match b {
                _ if is_tchar(b) => {}
                b':' => {
                    self.name_end = at;
                    self.value_start = at + 1;
                    self.value_end = at + 1;
                    self.state = State::Value;
                }
                // RFC 9112 §5.1: "No whitespace is allowed between the field name and
                // colon. ... A server MUST reject, with a response status code of 400
                // (Bad Request), any received request message that contains whitespace
                // between a header field name and colon."
                // CR/LF: a line without a colon. Anything else: not a token.
                _ => return Err(HttpError::BadHeaderName),
            },
            State::Value => match b {
                b'\r' => self.state = State::FieldLineCr,
                b'\n' => self.end_field_line(),
                // RFC 9112 §5.1: OWS before and after the value is not part of it. Leading
                // OWS leaves the (empty) value where it is; inner and trailing OWS are
                // only included once a later visible byte extends the value over them.
                _ if is_ows(b) => {}
                _ if is_field_value_byte(b) => {
                    if self.value_start == self.value_end {
                        self.value_start = at;
                    }
                    self.value_end = at + 1;
                }
                // RFC 9110 §5.5: NUL and other controls are rejected.
                _ => return Err(HttpError::BadHeaderValue),
            },
            State::FieldLineCr => match b {
                b'\n' => self.end_field_line(),
                _ => return Err(HttpError::BadLineEnding),
            },
            State::FinalCr => match b {
                b'\n' => return Ok(Step::Complete),
                _ => return Err(HttpError::BadLineEnding),
            },
            // `parse` returns before stepping in these states.
            State::Done | State::Failed(_) => {}
        }
        Ok(Step::Continue)
    }

    /// Records the header line just read and expects the next line.
    fn end_field_line(&mut self) {
        self.fields.push(FieldSpan {
            name: Span::new(self.name_start, self.name_end),
            value: Span::new(self.value_start, self.value_end),
        });
        self.state = State::LineStart;
    }

    /// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
    /// HTTP/1.1 request message that lacks a Host header field and to any request message
    /// that contains more than one Host header field line or a Host header field with an
    /// invalid field value." The value must be one authority, `host [ ":" port ]`
    /// ([`is_valid_authority`]); which hosts this server answers to is the application's
    /// business. One pass over the fields, once per head.
    ///
    /// An absolute-form target names the authority in place of `Host` (RFC 9112 §3.2.2),
    /// so it is held to the same rule, and to two more: RFC 9110 §4.2.1, a recipient of
    /// an `http` URI "with an empty host identifier ... MUST reject it as invalid", and
    /// §4.2.4, userinfo in a received URI is treated as an error (`@` is not in an
    /// authority [`is_valid_authority`] accepts).
    fn check_host(&self, buf: &[u8]) -> Result<(), HttpError> {
        let target = ascii(self.request_line().target.of(buf));
        if let Some((authority, _)) = split_absolute_form(target)
            && (authority.is_empty() || !is_valid_authority(authority.as_bytes()))
        {
            return Err(HttpError::BadHost);
        }
        let mut hosts = self
            .fields
            .iter()
            .filter(|f| f.name.of(buf).eq_ignore_ascii_case(b"host"));
        match (hosts.next(), hosts.next(), self.version) {
            (None, _, Version::Http11) => Err(HttpError::MissingHost),
            (None, _, Version::Http10) => Ok(()),
            (Some(_), Some(_), _) => Err(HttpError::DuplicateHost),
            (Some(host), None, _) if !is_valid_authority(host.value.of(buf)) => {
                Err(HttpError::BadHost)
            }
            (Some(_), None, _) => Ok(()),
        }
    }

    fn request_line(&self) -> RequestLine {
        RequestLine {
            method: Span::new(self.method_start, self.method_end),
            target: Span::new(self.method_end + 1, self.target_end),
            version: self.version,
        }
    }

    /// The parsed head, borrowing `buf` (the same buffer as in `parse`). `None` unless the
    /// last parse was `Complete`.
    pub fn head<'b>(&'b self, buf: &'b [u8]) -> Option<RequestHead<'b>> {
        if self.state != State::Done || buf.len() < self.head_len as usize {
            return None;
        }
        Some(RequestHead::new(buf, self.request_line(), &self.fields))
    }

    /// Moves the parsed head into an owned [`Request`] and resets the parser.
    ///
    /// `head_bytes` must start with the same bytes that were parsed; it may be exactly the
    /// head or longer (anything after the head is dropped). `None`, and no reset, unless
    /// the last parse was `Complete` and `head_bytes` is long enough.
    pub fn take_request(&mut self, mut head_bytes: Vec<u8>) -> Option<Request> {
        if self.state != State::Done || head_bytes.len() < self.head_len as usize {
            return None;
        }
        head_bytes.truncate(self.head_len as usize);
        let request = Request {
            bytes: head_bytes,
            line: self.request_line(),
            // A copy, so the parser keeps its own allocation for the next head.
            fields: self.fields.as_slice().into(),
            body: Vec::new(),
        };
        self.reset();
        Some(request)
    }
}

// ===== RequestHead =====

/// A parsed request head, borrowed from the connection's buffer.
///
/// Header lookups compare names ASCII case-insensitively (RFC 9110 §5.1) and scan the
/// fields in order; a head has at most `max_headers` of them, so a linear scan is cheaper
/// than building a map.
#[derive(Clone, Copy)]
pub struct RequestHead<'b> {
    /// The buffer the head was parsed from; every span lies in it.
    bytes: &'b [u8],
    method: &'b str,
    target: &'b str,
    /// The path and query of the target: all of it in origin-form, the part after the
    /// authority in absolute-form (RFC 9112 §3.2.2).
    origin: &'b str,
    /// The authority of an absolute-form target, which takes the place of `Host`.
    target_authority: Option<&'b str>,
    version: Version,
    fields: &'b [FieldSpan],
}

impl<'b> RequestHead<'b> {
    /// INVARIANT: `bytes` holds the whole head that `line` and `fields` were recorded in.
    fn new(bytes: &'b [u8], line: RequestLine, fields: &'b [FieldSpan]) -> Self {
        let target = ascii(line.target.of(bytes));
        let (target_authority, origin) = match split_absolute_form(target) {
            Some((authority, rest)) => (Some(authority), rest),
            None => (None, target),
        };
        RequestHead {
            bytes,
            method: ascii(line.method.of(bytes)),
            target,
            origin,
            target_authority,
            version: line.version,
            fields,
        }
    }

    /// The method, e.g. `"GET"`. Case-sensitive (RFC 9110 §9.1).
    pub fn method(&self) -> &'b str {
        self.method
    }

    /// The request target as sent, e.g. `"/chat?room=1"` or, in absolute-form,
    /// `"http://example.com/chat?room=1"`.
    pub fn target(&self) -> &'b str {
        self.target
    }

    /// The path: the target before any `?`, e.g. `"/chat"`, whatever the target's form.
    /// RFC 9112 §3.2.2: a server MUST accept an absolute-form target
    /// (`http://example.com/chat`), whose path is then the part after the authority, and
    /// `/` when that part is empty (RFC 9110 §4.2.3). An asterisk-form (`*`) or
    /// authority-form (`host:443`) target is its own path.
    pub fn path(&self) -> &'b str {
        let path = match self.origin.split_once('?') {
            Some((path, _)) => path,
            None => self.origin,
        };
        if path.is_empty() && self.target_authority.is_some() {
            "/"
        } else {
            path
        }
    }

    /// The target after the first `?`, e.g. `Some("room=1")`; `None` without a `?`.
    pub fn query(&self) -> Option<&'b str> {
        self.origin.split_once('?').map(|(_, query)| query)
    }

    /// The authority the request is for: the absolute-form target's (RFC 9112 §3.2.2:
    /// the server "MUST ignore the received Host header field (if any) and instead use
    /// the host information of the request-target"), else the `Host` value. `None` for an
    /// HTTP/1.0 request without `Host`.
    pub fn authority(&self) -> Option<&'b str> {
        self.target_authority.or_else(|| self.header_str("host"))
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// All header fields in the order received, values without surrounding OWS.
    pub fn headers(&self) -> impl Iterator<Item = (&'b str, &'b [u8])> + use<'b> {
        let bytes = self.bytes;
        self.fields
            .iter()
            .map(move |f| (ascii(f.name.of(bytes)), f.value.of(bytes)))
    }

    /// The values of every field named `name` (ASCII case-insensitive), in order.
    fn values<'n>(&self, name: &'n str) -> impl Iterator<Item = &'b [u8]> + use<'b, 'n> {
        self.headers()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The value of the first field named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.values(name).next()
    }

    /// The value of the first field named `name`, if it is valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&'b str> {
        self.header(name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// How many fields are named `name`.
    pub fn header_count(&self, name: &str) -> usize {
        self.values(name).count()
    }

    /// All comma-separated elements of every field named `name`, in order.
    ///
    /// RFC 9110 §5.6.1: `#element` lists may be split over several field lines, empty
    /// elements must be ignored, and OWS around commas is not part of an element. Commas
    /// inside a quoted-string are not special-cased: the lists this crate reads
    /// (`Connection`, `Upgrade`, `Sec-WebSocket-Protocol`) hold tokens, never quotes.
    pub fn list<'n>(&self, name: &'n str) -> impl Iterator<Item = &'b [u8]> + use<'b, 'n> {
        self.values(name)
            .flat_map(|value| value.split(|&b| b == b','))
            .map(trim_ows)
            .filter(|element| !element.is_empty())
    }

    /// Does the list field `name` contain `token`, compared ASCII case-insensitively?
    /// E.g. `has_token("Connection", "upgrade")` for `Connection: keep-alive, Upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name)
            .any(|element| element.eq_ignore_ascii_case(token.as_bytes()))
    }
}

/// The header fields for `Debug`, as `(name, value)` pairs.
struct DebugFields<'a, 'b>(&'a RequestHead<'b>);

impl fmt::Debug for DebugFields<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .headers()
                    .map(|(name, value)| (name, DebugBytes(value))),
            )
            .finish()
    }
}

/// A header value for `Debug`: quoted text, with bytes that are not printable ASCII
/// escaped (`"caf\xe9"`), since values need not be UTF-8.
struct DebugBytes<'a>(&'a [u8]);

impl fmt::Debug for DebugBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

impl fmt::Debug for RequestHead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestHead")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("version", &self.version)
            .field("headers", &DebugFields(self))
            .finish()
    }
}

// ===== Request =====

/// An owned request head: what the server hands the application. Holds the head bytes
/// and the spans into them, so it costs one allocation for the bytes and one for the
/// spans, and every accessor borrows from it without copying.
#[derive(Clone)]
pub struct Request {
    /// Exactly the head, including leading empty lines and the final blank line.
    bytes: Vec<u8>,
    line: RequestLine,
    fields: Box<[FieldSpan]>,
    /// The body, with any chunked framing removed (empty when there was none).
    body: Vec<u8>,
}

impl Request {
    /// The request body, with its framing (`Content-Length` or chunked) removed.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Takes the body out of the request (leaving it empty).
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// Attaches the decoded body (the server does this once the body has arrived).
    pub fn set_body(&mut self, body: Vec<u8>) {
        self.body = body;
    }

    /// The head as a borrowed [`RequestHead`], for the accessors not repeated here.
    pub fn head(&self) -> RequestHead<'_> {
        RequestHead::new(&self.bytes, self.line, &self.fields)
    }

    /// See [`RequestHead::method`].
    pub fn method(&self) -> &str {
        self.head().method()
    }

    /// See [`RequestHead::target`].
    pub fn target(&self) -> &str {
        self.head().target()
    }

    /// See [`RequestHead::path`].
    pub fn path(&self) -> &str {
        self.head().path()
    }

    /// See [`RequestHead::query`].
    pub fn query(&self) -> Option<&str> {
        self.head().query()
    }

    /// See [`RequestHead::authority`].
    pub fn authority(&self) -> Option<&str> {
        self.head().authority()
    }

    /// See [`RequestHead::version`].
    pub fn version(&self) -> Version {
        self.line.version
    }

    /// See [`RequestHead::header`].
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.head().header(name)
    }

    /// See [`RequestHead::header_str`].
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.head().header_str(name)
    }

    /// See [`RequestHead::has_token`].
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.head().has_token(name, token)
    }

    /// The raw head bytes, exactly as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = self.head();
        f.debug_struct("Request")
            .field("method", &head.method)
            .field("target", &head.target)
            .field("version", &head.version)
            .field("headers", &DebugFields(&head))
            .finish()
    }
}

/// Parses `request`, which must be exactly one complete head, then runs `check` on it:
/// the tests of what reads heads (handshake, origin, access) start from this.
#[cfg(test)]
pub(crate) fn with_head<T>(request: &str, check: impl FnOnce(&RequestHead<'_>) -> T) -> T {
    let mut parser = HeadParser::new();
    let status = parser.parse(request.as_bytes(), &HeadLimits::default());
    assert_eq!(status, Ok(Status::Complete(request.len())), "{request:?}");
    check(&parser.head(request.as_bytes()).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    const LIMITS: HeadLimits = HeadLimits {
        max_head_bytes: 16 * 1024,
        max_headers: 100,
        max_target_len: 8 * 1024,
    };

    const VALID: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /chat?room=1&x HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
          Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
        b"POST /send HTTP/1.0\r\nContent-Length: 5\r\nX-Empty:\r\nX-Pad: \t v a l \t \r\n\r\n",
        b"\r\n\nOPTIONS * HTTP/1.1\nhost:h\n\n",
    ];

    /// Parses `input` in one call with default limits.
    fn parse(input: &[u8]) -> Result<Status<usize>, HttpError> {
        HeadParser::new().parse(input, &LIMITS)
    }

    /// Parses `input` fed in pieces of the given lengths (the rest in one last piece),
    /// calling `parse` on the growing buffer after each piece. Returns the last answer.
    fn parse_split(input: &[u8], cuts: &[usize]) -> (HeadParser, Result<Status<usize>, HttpError>) {
        let mut parser = HeadParser::new();
        let mut fed = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            fed = cut.clamp(fed, input.len());
            let result = parser.parse(&input[..fed], &LIMITS);
            if result != Ok(Status::Partial) {
                return (parser, result);
            }
        }
        (parser, Ok(Status::Partial))
    }

    /// A summary of a complete parse, comparable across splits.
    fn summary(parser: &HeadParser, buf: &[u8]) -> String {
        format!("{:?}", parser.head(buf))
    }

    fn error_of(input: &[u8]) -> HttpError {
        match parse(input) {
            Err(err) => err,
            other => panic!(
                "expected an error for {:?}, got {other:?}",
                input.escape_ascii().to_string()
            ),
        }
    }

    // ----- completeness -----

    #[test]
    fn every_strict_prefix_of_a_valid_request_is_partial() {
        for request in VALID {
            for len in 0..request.len() {
                assert_eq!(
                    parse(&request[..len]),
                    Ok(Status::Partial),
                    "prefix {:?}",
                    request[..len].escape_ascii().to_string()
                );
            }
            assert_eq!(parse(request), Ok(Status::Complete(request.len())));
        }
    }

    #[test]
    fn byte_at_a_time_random_splits_and_whole_give_identical_results() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for request in VALID {
            let (whole, whole_result) = parse_split(request, &[]);
            let expected = summary(&whole, request);
            assert_eq!(whole_result, Ok(Status::Complete(request.len())));

            let bytewise: Vec<usize> = (1..request.len()).collect();
            let (parser, result) = parse_split(request, &bytewise);
            assert_eq!(result, whole_result);
            assert_eq!(summary(&parser, request), expected);

            for _ in 0..50 {
                let mut cuts: Vec<usize> = (0..4)
                    .map(|_| (rng.next() % (request.len() as u64 + 1)) as usize)
                    .collect();
                cuts.sort_unstable();
                let (parser, result) = parse_split(request, &cuts);
                assert_eq!(result, whole_result, "cuts {cuts:?}");
                assert_eq!(summary(&parser, request), expected);
            }
        }
    }

    #[test]
    fn errors_are_the_same_however_the_input_is_split() {
        let input = b"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n";
        let bytewise: Vec<usize> = (1..input.len()).collect();
        assert_eq!(
            parse_split(input, &bytewise).1,
            Err(HttpError::BadHeaderValue)
        );
        assert_eq!(parse(input), Err(HttpError::BadHeaderValue));
    }

    #[test]
    fn bytes_after_the_head_are_not_part_of_it() {
        let request = b"POST /send HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
        let mut buf = request.to_vec();
        // A body, then a pipelined request, then garbage that would be an error if examined.
        buf.extend_from_slice(b"abcGET / HTTP/1.1\r\n\x00\x01");
        assert_eq!(parse(&buf), Ok(Status::Complete(request.len())));
    }

    #[test]
    fn answers_repeat_until_reset() {
        let mut parser = HeadParser::new();
        let request = VALID[0];
        assert_eq!(
            parser.parse(request, &LIMITS),
            Ok(Status::Complete(request.len()))
        );
        assert_eq!(
            parser.parse(request, &LIMITS),
            Ok(Status::Complete(request.len()))
        );
        parser.reset();
        assert_eq!(parser.parse(b"BAD\0", &LIMITS), Err(HttpError::BadMethod));
        assert_eq!(parser.parse(request, &LIMITS), Err(HttpError::BadMethod));
        parser.reset();
        assert_eq!(
            parser.parse(request, &LIMITS),
            Ok(Status::Complete(request.len()))
        );
    }

    #[test]
    fn reset_keeps_the_header_capacity() {
        let mut parser = HeadParser::new();
        assert!(parser.parse(VALID[1], &LIMITS).is_ok());
        let capacity = parser.fields.capacity();
        assert!(capacity >= 5);
        parser.reset();
        assert_eq!(parser.fields.capacity(), capacity);
        assert!(parser.head(VALID[1]).is_none());
    }

    #[test]
    fn release_gives_the_header_capacity_back_and_parses_again() {
        let mut parser = HeadParser::new();
        assert!(parser.parse(VALID[1], &LIMITS).is_ok());
        assert!(parser.fields.capacity() >= 5);
        parser.release();
        assert_eq!(parser.fields.capacity(), 0);
        assert!(parser.head(VALID[1]).is_none());
        assert_eq!(
            parser.parse(VALID[1], &LIMITS),
            Ok(Status::Complete(VALID[1].len()))
        );
    }

    #[test]
    fn parser_state_is_small() {
        // One of these lives in every connection that is reading a head.
        assert!(std::mem::size_of::<HeadParser>() <= 96 + std::mem::size_of::<usize>());
    }

    // ----- the parsed head -----

    #[test]
    fn request_line_parts_are_exposed() {
        let buf = VALID[1];
        let mut parser = HeadParser::new();
        parser.parse(buf, &LIMITS).unwrap();
        let head = parser.head(buf).unwrap();
        assert_eq!(head.method(), "GET");
        assert_eq!(head.target(), "/chat?room=1&x");
        assert_eq!(head.path(), "/chat");
        assert_eq!(head.query(), Some("room=1&x"));
        assert_eq!(head.version(), Version::Http11);
    }

    #[test]
    fn a_target_without_question_mark_has_no_query() {
        let buf = VALID[0];
        let mut parser = HeadParser::new();
        parser.parse(buf, &LIMITS).unwrap();
        let head = parser.head(buf).unwrap();
        assert_eq!(head.path(), "/");
        assert_eq!(head.query(), None);
    }

    #[test]
    fn header_lookup_is_case_insensitive() {
        let buf = VALID[1];
        let mut parser = HeadParser::new();
        parser.parse(buf, &LIMITS).unwrap();
        let head = parser.head(buf).unwrap();
        assert_eq!(head.header("HOST"), Some(&b"example.com"[..]));
        assert_eq!(head.header_str("sec-websocket-version"), Some("13"));
        assert_eq!(head.header_count("connection"), 1);
        assert_eq!(head.header("Missing"), None);
    }

    #[test]
    fn header_values_are_trimmed_of_ows_but_keep_inner_whitespace() {
        let buf = VALID[2];
        let mut parser = HeadParser::new();
        parser.parse(buf, &LIMITS).unwrap();
        let head = parser.head(buf).unwrap();
        assert_eq!(head.header("X-Pad"), Some(&b"v a l"[..]));
        assert_eq!(head.header("X-Empty"), Some(&b""[..]));
        assert_eq!(head.version(), Version::Http10);
        let names: Vec<&str> = head.headers().map(|(name, _)| name).collect();
        assert_eq!(names, ["Content-Length", "X-Empty", "X-Pad"]);
    }

    #[test]
    fn obs_text_is_accepted_in_values_and_not_utf8_is_reported_by_header_str() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xe9\r\n\r\n";
        let mut parser = HeadParser::new();
        parser.parse(buf, &LIMITS).unwrap();
        let head = parser.head(buf).unwrap();
        assert_eq!(head.header("x"), Some(&b"caf\xe9"[..]));
        assert_eq!(head.header_str("x"), None);
    }

    #[test]
    fn has_token_finds_upgrade_among_other_tokens_and_fields() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n\r\n";
        let mut parser = HeadParser::new();
        parser.parse(buf, &LIMITS).unwrap();
        let head = parser.head(buf).unwrap();
        assert!(head.has_token("connection", "upgrade"));
        assert!(head.has_token("Connection", "KEEP-ALIVE"));
        assert!(!head.has_token("Connection", "close"));

        let buf =
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: Upgrade\r\n\r\n";
        let mut parser = HeadParser::new();
        parser.parse(buf, &LIMITS).unwrap();
        assert!(parser.head(buf).unwrap().has_token("Connection", "Upgrade"));
    }

    #[test]
    fn list_skips_empty_elements_and_trims_ows() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\nP: ,a , ,\tb,\r\nP: c\r\n\r\n";
        let mut parser = HeadParser::new();
        parser.parse(buf, &LIMITS).unwrap();
        let elements: Vec<&[u8]> = parser.head(buf).unwrap().list("p").collect();
        assert_eq!(elements, [&b"a"[..], b"b", b"c"]);
    }

    #[test]
    fn lone_lf_line_endings_parse_like_crlf() {
        let lf = b"GET /x HTTP/1.1\nHost: a\nX:  y \n\n";
        let crlf = b"GET /x HTTP/1.1\r\nHost: a\r\nX:  y \r\n\r\n";
        let (lf_parser, lf_result) = parse_split(lf, &[]);
        let (crlf_parser, _) = parse_split(crlf, &[]);
        assert_eq!(lf_result, Ok(Status::Complete(lf.len())));
        assert_eq!(summary(&lf_parser, lf), summary(&crlf_parser, crlf));
    }

    #[test]
    fn leading_empty_lines_are_skipped_but_counted() {
        let buf = VALID[3];
        let mut parser = HeadParser::new();
        assert_eq!(parser.parse(buf, &LIMITS), Ok(Status::Complete(buf.len())));
        let head = parser.head(buf).unwrap();
        assert_eq!(head.method(), "OPTIONS");
        assert_eq!(head.target(), "*");

        let mut limits = LIMITS;
        let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        limits.max_head_bytes = request.len();
        let mut padded = b"\r\n".to_vec();
        padded.extend_from_slice(request);
        assert_eq!(
            HeadParser::new().parse(&padded, &limits),
            Err(HttpError::HeadTooLarge)
        );
    }

    #[test]
    fn take_request_owns_the_head_and_resets_the_parser() {
        let buf = VALID[1];
        let mut parser = HeadParser::new();
        parser.parse(buf, &LIMITS).unwrap();
        let mut bytes = buf.to_vec();
        bytes.extend_from_slice(b"frame bytes");
        let request = parser.take_request(bytes).unwrap();
        assert_eq!(request.as_bytes(), buf);
        assert_eq!(request.method(), "GET");
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query(), Some("room=1&x"));
        assert_eq!(request.header_str("upgrade"), Some("websocket"));
        assert!(request.has_token("connection", "upgrade"));
        assert_eq!(request.head().header_count("host"), 1);
        assert!(
            parser.take_request(buf.to_vec()).is_none(),
            "parser was reset"
        );
        assert_eq!(
            parser.parse(VALID[0], &LIMITS),
            Ok(Status::Complete(VALID[0].len()))
        );
    }

    #[test]
    fn take_request_refuses_bytes_shorter_than_the_head() {
        let buf = VALID[0];
        let mut parser = HeadParser::new();
        parser.parse(buf, &LIMITS).unwrap();
        assert!(parser.take_request(buf[..buf.len() - 1].to_vec()).is_none());
        assert!(parser.head(&buf[..3]).is_none());
        assert!(parser.take_request(buf.to_vec()).is_some());
    }

    #[test]
    fn head_is_none_before_complete() {
        let mut parser = HeadParser::new();
        let buf = b"GET / HTTP/1.1\r\n";
        assert_eq!(parser.parse(buf, &LIMITS), Ok(Status::Partial));
        assert!(parser.head(buf).is_none());
    }

    #[test]
    fn debug_shows_request_line_and_headers() {
        let buf = b"GET /a HTTP/1.1\r\nHost: h\r\nX: \xff\r\n\r\n";
        let mut parser = HeadParser::new();
        parser.parse(buf, &LIMITS).unwrap();
        let debug = format!("{:?}", parser.head(buf).unwrap());
        assert_eq!(
            debug,
            r#"RequestHead { method: "GET", target: "/a", version: Http11, headers: [("Host", "h"), ("X", "\xff")] }"#
        );
        let request = parser.take_request(buf.to_vec()).unwrap();
        assert!(format!("{request:?}").starts_with(r#"Request { method: "GET""#));
    }

    // ----- each error from a minimal input -----

    #[test]
    fn each_error_has_its_status() {
        use HttpError::*;
        let cases: &[(&[u8], HttpError, u16)] = &[
            (b"GET  / HTTP/1.1\r\n", BadRequestLine, 400),
            (b" GET", BadRequestLine, 400),
            (b"GET\r\n", BadRequestLine, 400),
            (b"GET /\r\n", BadRequestLine, 400),
            (b"GET / HTTP/1.1 ", BadRequestLine, 400),
            (b"GET / http/1.1\r\n", BadRequestLine, 400),
            (b"GET / HTTP/11\r\n", BadRequestLine, 400),
            (b"GET / HTTP/1.10", BadRequestLine, 400),
            (b"G(T", BadMethod, 400),
            (b"\x00", BadMethod, 400),
            (b"GET /\x7f", BadTarget, 400),
            (b"GET /caf\xc3\xa9", BadTarget, 400),
            (b"GET / HTTP/1.1\r\n: v", BadHeaderName, 400),
            (b"GET / HTTP/1.1\r\nNa(me", BadHeaderName, 400),
            (b"GET / HTTP/1.1\r\nName\r\n", BadHeaderName, 400),
            (b"GET / HTTP/1.1\r\nX: a\x00", BadHeaderValue, 400),
            (b"GET / HTTP/1.1\r\nX: a\rb", BadLineEnding, 400),
            (b"GET / HTTP/1.1\rX", BadLineEnding, 400),
            (b"\rG", BadLineEnding, 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\n\rX", BadLineEnding, 400),
            (b"GET / HTTP/1.1\r\nX: a\r\n b", ObsoleteLineFolding, 400),
            (b"GET / HTTP/1.1\r\n\tX: a", ObsoleteLineFolding, 400),
            (b"GET / HTTP/1.1\r\n\r\n", MissingHost, 400),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
                DuplicateHost,
                400,
            ),
            (
                b"GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n",
                DuplicateHost,
                400,
            ),
            (b"GET / HTTP/1.1\r\nHost: a b, c\r\n\r\n", BadHost, 400),
            (b"GET / HTTP/1.0\r\nHost: a/b\r\n\r\n", BadHost, 400),
            (b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", BadHost, 400),
            (
                b"GET http://u@a/x HTTP/1.1\r\nHost: a\r\n\r\n",
                BadHost,
                400,
            ),
            (b"GET http://a:b/x HTTP/1.0\r\n\r\n", BadHost, 400),
            (b"GET / HTTP/2.0\r\n", UnsupportedVersion, 505),
            (b"GET / HTTP/3.0\n", UnsupportedVersion, 505),
            (b"GET / HTTP/0.9\r", UnsupportedVersion, 505),
        ];
        for &(input, expected, status) in cases {
            let err = error_of(input);
            assert_eq!(err, expected, "{:?}", input.escape_ascii().to_string());
            assert_eq!(err.status().as_u16(), status, "{expected:?}");
        }
    }

    #[test]
    fn absolute_form_target_routes_like_its_origin_form() {
        let buf = b"GET http://127.0.0.1:8080/healthz?x=1 HTTP/1.1\r\nHost: other\r\n\r\n";
        let mut parser = HeadParser::new();
        assert_eq!(
            parser.parse(buf, &HeadLimits::default()),
            Ok(Status::Complete(buf.len()))
        );
        let head = parser.head(buf).unwrap();
        assert_eq!(head.target(), "http://127.0.0.1:8080/healthz?x=1");
        assert_eq!(head.path(), "/healthz");
        assert_eq!(head.query(), Some("x=1"));
        // RFC 9112 §3.2.2: the target's authority wins over Host.
        assert_eq!(head.authority(), Some("127.0.0.1:8080"));
        let request = parser.take_request(buf.to_vec()).unwrap();
        assert_eq!(request.path(), "/healthz");
        assert_eq!(request.authority(), Some("127.0.0.1:8080"));
    }

    #[test]
    fn absolute_form_without_a_path_has_path_slash() {
        let buf = b"GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n";
        let mut parser = HeadParser::new();
        parser.parse(buf, &HeadLimits::default()).unwrap();
        let head = parser.head(buf).unwrap();
        assert_eq!((head.path(), head.query()), ("/", Some("q")));
    }

    #[test]
    fn origin_form_authority_is_the_host_header() {
        let buf = b"GET /a HTTP/1.1\r\nHost: example.com:81\r\n\r\n";
        let mut parser = HeadParser::new();
        parser.parse(buf, &HeadLimits::default()).unwrap();
        assert_eq!(
            parser.head(buf).unwrap().authority(),
            Some("example.com:81")
        );
    }

    #[test]
    fn http_1_0_without_host_is_accepted() {
        let buf = b"GET / HTTP/1.0\r\n\r\n";
        assert_eq!(parse(buf), Ok(Status::Complete(buf.len())));
    }

    #[test]
    fn whitespace_before_the_colon_is_rejected() {
        // RFC 9112 §5.1: the classic smuggling vector `Transfer-Encoding : chunked`.
        let err = error_of(b"GET / HTTP/1.1\r\nHost : a");
        assert_eq!(err, HttpError::BadHeaderName);
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn whitespace_between_the_request_line_and_the_first_field_is_rejected() {
        // RFC 9112 §2.2: a recipient "MUST either reject the message as invalid or consume
        // each whitespace-preceded line without further processing of it"; we reject.
        for input in [
            &b"GET / HTTP/1.1\r\n Host: a\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\n\tHost: a\r\n\r\n",
            b"GET / HTTP/1.1\n Host: a\n\n",
        ] {
            let err = error_of(input);
            assert_eq!(err, HttpError::ObsoleteLineFolding, "{input:?}");
            assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn errors_are_reported_without_waiting_for_the_line_end() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nBad Name"),
            Err(HttpError::BadHeaderName)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nBad "),
            Err(HttpError::BadHeaderName)
        );
        assert_eq!(parse(b"GET /a b"), Err(HttpError::BadRequestLine));
        assert_eq!(parse(b"GET / HTTQ"), Err(HttpError::BadRequestLine));
        assert_eq!(parse(b"GE\x01"), Err(HttpError::BadMethod));
    }

    #[test]
    fn target_longer_than_the_limit_is_414_at_its_first_excess_byte() {
        let mut limits = LIMITS;
        limits.max_target_len = 4;
        let mut parser = HeadParser::new();
        assert_eq!(parser.parse(b"GET /abc", &limits), Ok(Status::Partial));
        assert_eq!(
            parser.parse(b"GET /abcd", &limits),
            Err(HttpError::TargetTooLong)
        );
        assert_eq!(HttpError::TargetTooLong.status().as_u16(), 414);

        let ok = b"GET /abc HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(
            HeadParser::new().parse(ok, &limits),
            Ok(Status::Complete(ok.len()))
        );
    }

    #[test]
    fn head_of_exactly_max_head_bytes_is_ok_and_one_more_is_431() {
        let request = b"GET / HTTP/1.1\r\nHost: a\r\nX: 12345\r\n\r\n";
        let mut limits = LIMITS;
        limits.max_head_bytes = request.len();
        assert_eq!(
            HeadParser::new().parse(request, &limits),
            Ok(Status::Complete(request.len()))
        );
        // Extra bytes after a complete head are not part of it.
        let mut with_body = request.to_vec();
        with_body.extend_from_slice(b"body");
        assert_eq!(
            HeadParser::new().parse(&with_body, &limits),
            Ok(Status::Complete(request.len()))
        );

        let longer = b"GET / HTTP/1.1\r\nHost: a\r\nX: 123456\r\n\r\n";
        let mut parser = HeadParser::new();
        assert_eq!(
            parser.parse(&longer[..request.len()], &limits),
            Ok(Status::Partial)
        );
        let err = parser.parse(longer, &limits).unwrap_err();
        assert_eq!(err, HttpError::HeadTooLarge);
        assert_eq!(err.status().as_u16(), 431);
    }

    #[test]
    fn more_than_max_headers_is_431_at_the_first_excess_name() {
        let mut limits = LIMITS;
        limits.max_headers = 2;
        let ok = b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\r\n";
        assert_eq!(
            HeadParser::new().parse(ok, &limits),
            Ok(Status::Complete(ok.len()))
        );
        let err = HeadParser::new()
            .parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\nY", &limits)
            .unwrap_err();
        assert_eq!(err, HttpError::TooManyHeaders);
        assert_eq!(err.status().as_u16(), 431);
    }

    #[test]
    fn error_display_is_lowercase() {
        for err in [
            HttpError::BadRequestLine,
            HttpError::MissingHost,
            HttpError::HeadTooLarge,
            HttpError::UnsupportedVersion,
        ] {
            let text = err.to_string();
            assert_eq!(text, text.to_lowercase());
        }
        assert_eq!(HttpError::MissingHost.to_string(), "missing host header");
    }

    // ----- linearity and robustness -----

    #[test]
    fn a_16_kib_head_fed_byte_at_a_time_is_scanned_once() {
        let mut head = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        while head.len() < 16 * 1024 - 64 {
            head.extend_from_slice(b"X-Filler: 0123456789abcdefghijklmnopqrstuvwxyz\r\n");
        }
        head.extend_from_slice(b"\r\n");
        let n = head.len();
        let limits = HeadLimits {
            max_head_bytes: 16 * 1024,
            max_headers: 1000,
            max_target_len: 8 * 1024,
        };
        let mut parser = HeadParser::new();
        for len in 1..n {
            assert_eq!(parser.parse(&head[..len], &limits), Ok(Status::Partial));
        }
        assert_eq!(parser.parse(&head, &limits), Ok(Status::Complete(n)));
        assert!(
            parser.scanned <= 2 * n,
            "scanned {} bytes of {n}",
            parser.scanned
        );
        assert_eq!(parser.scanned, n, "each byte examined exactly once");
    }

    #[test]
    fn random_bytes_never_panic_and_split_invariance_holds() {
        let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
        // Bias toward bytes that matter to the grammar so the fuzzing reaches deep states.
        let alphabet = b"GET / HTTP/1.1\r\nHost:a \tX\x00\xff:,";
        for _ in 0..2000 {
            let len = (rng.next() % 40) as usize;
            let mut input: Vec<u8> = (0..len)
                .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
                .collect();
            if rng.next().is_multiple_of(2) {
                let mut prefix = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
                prefix.append(&mut input);
                input = prefix;
            }
            let (whole, whole_result) = parse_split(&input, &[]);
            let bytewise: Vec<usize> = (1..input.len()).collect();
            let (split, split_result) = parse_split(&input, &bytewise);
            assert_eq!(
                whole_result,
                split_result,
                "{:?}",
                input.escape_ascii().to_string()
            );
            assert_eq!(summary(&whole, &input), summary(&split, &input));
        }
    }

    #[test]
    fn a_shorter_buffer_than_promised_does_not_panic() {
        let mut parser = HeadParser::new();
        assert_eq!(parser.parse(b"GET / HT", &LIMITS), Ok(Status::Partial));
        assert_eq!(parser.parse(b"GET", &LIMITS), Ok(Status::Partial));
    }
}
