//! Request bodies: how they are delimited (RFC 9112 §6) and incremental decoding of
//! `Content-Length` and `chunked` bodies (RFC 9112 §6.2, §7.1), sans-IO.
//!
//! Two steps. [`framing`] looks at a complete request head and decides how its body is
//! delimited, refusing every ambiguous combination; a `Content-Length` over the limit is
//! refused there, before a byte of the body is read. A [`BodyDecoder`] then takes the
//! body's bytes in whatever pieces the network delivers and appends the content to a
//! `Vec` the caller owns.
//!
//! The decoder is strict in the places where lenient HTTP parsers have disagreed with each
//! other, because a disagreement about where a body ends is request smuggling: the bytes
//! one parser takes as body, another takes as the next request.
//!
//! - A request with both `Transfer-Encoding` and `Content-Length` is refused (RFC 9112
//!   §6.3 item 3 lets a server pick `Transfer-Encoding`; we refuse rather than guess).
//! - Every line of the chunked framing must end in CRLF. RFC 9112 §2.2 lets a recipient
//!   accept a lone LF as a line terminator, and the head parser does, but inside chunked
//!   framing a lone LF (and a bare CR) is where parser differentials have been found
//!   (chunk extensions and chunk-data terminators that one server read as a line end and
//!   a proxy did not), so here it is an error.
//! - Chunk extensions are parsed against their grammar, not skipped to the next LF.
//! - The chunk size is hexadecimal digits only: no sign, no `0x`, no whitespace before
//!   it, no overflow.
//!
//! Decoding is linear: every byte is examined once, chunk data is copied in bulk, and the
//! decoder keeps only a few integers of state between calls, never a copy of the input.

use std::fmt;

use crate::http::request::{RequestHead, Version};
use crate::http::status_code::StatusCode;
use crate::http::token::{hex_value, is_field_value_byte, is_ows, is_tchar};
use crate::status::Status;

/// Longest chunk-size line we accept, counted from its first byte up to (not including)
/// its CRLF: the size digits plus any chunk extensions. RFC 9112 §7.1.1 lets a server
/// limit extensions "to a reasonable length"; 1 KiB is far more than any legitimate use
/// (extensions are practically never sent) and bounds the work one line can cost.
pub const MAX_CHUNK_LINE: usize = 1024;

/// Largest trailer section we read (all trailer field lines together, with their CRLFs).
/// Trailers are discarded (RFC 9112 §7.1.2 allows that), so this only bounds the time a
/// peer can keep the decoder busy with them.
pub const MAX_TRAILER_BYTES: usize = 8 * 1024;

// ===== BodyFraming =====

/// How a request's body is delimited, decided from its head by [`framing`]
/// (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body: neither `Transfer-Encoding` nor `Content-Length` (RFC 9112 §6.3 item 7).
    None,
    /// Exactly this many bytes follow the head (RFC 9112 §6.3 item 6).
    ContentLength(u64),
    /// A `chunked` body (RFC 9112 §7.1).
    Chunked,
}

impl BodyFraming {
    /// Does a body follow the head? The one answer to that question: `Content-Length: 0`
    /// (also written `00`, RFC 9110 §8.6 `1*DIGIT`) means "no body" exactly as a head
    /// without `Content-Length` or `Transfer-Encoding` does (RFC 9112 §6.3 items 6–7). A
    /// chunked body always follows, even if it turns out to be empty.
    pub fn has_body(self) -> bool {
        !matches!(self, BodyFraming::None | BodyFraming::ContentLength(0))
    }
}

// ===== BodyError =====

/// A request body whose framing or content we refuse. Every variant knows its HTTP status
/// ([`BodyError::status`]). After any of them the connection must close: the server can
/// no longer tell where the next request begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// Both `Transfer-Encoding` and `Content-Length` (400). RFC 9112 §6.3 item 3 allows a
    /// server to let `Transfer-Encoding` win, but such a message "might indicate an attempt
    /// to perform request smuggling"; we refuse rather than guess.
    ConflictingFraming,
    /// A `Content-Length` that is not `1*DIGIT`, does not fit in 64 bits, or several
    /// different values (400, RFC 9110 §8.6; identical repeats like `5, 5` are accepted).
    BadContentLength,
    /// `Transfer-Encoding` whose final coding is not `chunked` (400): RFC 9112 §6.3 item 4,
    /// "the message body length cannot be determined reliably; the server MUST respond
    /// with the 400 (Bad Request) status code and then close the connection". Also an empty
    /// `Transfer-Encoding` list, and `chunked` applied twice (RFC 9112 §7.1 forbids it).
    ChunkedNotFinal,
    /// `Transfer-Encoding` in an HTTP/1.0 request (400). RFC 9112 §6.1: such a message
    /// must be treated "as if the framing is faulty"; HTTP/1.0 has no chunked coding.
    TransferEncodingInHttp10,
    /// `chunked` preceded by a coding we do not implement, e.g. `gzip, chunked` (501,
    /// RFC 9112 §6.1: a server that does not understand a transfer coding "SHOULD respond
    /// with the 501 (Not Implemented) status code").
    UnsupportedTransferCoding,
    /// The body is longer than the limit (413): announced by `Content-Length` or by a chunk
    /// size, refused before its bytes are buffered.
    TooLarge,
    /// A chunk size that is empty, has a byte other than a hex digit (signs, `0x`,
    /// whitespace before it), or does not fit in 64 bits (400).
    BadChunkSize,
    /// A chunk extension that does not follow `;name[=value]` (RFC 9112 §7.1.1) (400).
    BadChunkExtension,
    /// A chunk-size line longer than [`MAX_CHUNK_LINE`] bytes (400).
    ChunkLineTooLong,
    /// A line of the chunked framing that does not end in CRLF: after a chunk-size line,
    /// after chunk data, or after the last trailer line (400).
    BadChunkTerminator,
    /// A trailer line that is not a valid field line (RFC 9112 §5) (400).
    BadTrailer,
    /// A trailer section longer than [`MAX_TRAILER_BYTES`] (431: trailer fields are
    /// fields, and RFC 6585 §5 is the status for too many or too large fields).
    TrailersTooLarge,
}

impl BodyError {
    /// The status to answer with: 413 for [`TooLarge`](BodyError::TooLarge), 431 for
    /// [`TrailersTooLarge`](BodyError::TrailersTooLarge), 501 for
    /// [`UnsupportedTransferCoding`](BodyError::UnsupportedTransferCoding), 400 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge => StatusCode::CONTENT_TOO_LARGE,
            BodyError::TrailersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            BodyError::UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            BodyError::ConflictingFraming
            | BodyError::BadContentLength
            | BodyError::ChunkedNotFinal
            | BodyError::TransferEncodingInHttp10
            | BodyError::BadChunkSize
            | BodyError::BadChunkExtension
            | BodyError::ChunkLineTooLong
            | BodyError::BadChunkTerminator
            | BodyError::BadTrailer => StatusCode::BAD_REQUEST,
        }
    }

    fn description(&self) -> &'static str {
        match self {
            BodyError::ConflictingFraming => "both transfer-encoding and content-length",
            BodyError::BadContentLength => "invalid content-length",
            BodyError::ChunkedNotFinal => "transfer-encoding must end with chunked, once",
            BodyError::TransferEncodingInHttp10 => "transfer-encoding in an http/1.0 request",
            BodyError::UnsupportedTransferCoding => "unsupported transfer coding",
            BodyError::TooLarge => "request body too large",
            BodyError::BadChunkSize => "invalid chunk size",
            BodyError::BadChunkExtension => "invalid chunk extension",
            BodyError::ChunkLineTooLong => "chunk size line too long",
            BodyError::BadChunkTerminator => "chunk line not terminated by crlf",
            BodyError::BadTrailer => "invalid trailer field",
            BodyError::TrailersTooLarge => "trailer section too large",
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for BodyError {}

// ===== framing =====

/// Decides how the body of the request with this head is delimited (RFC 9112 §6.3).
///
/// - `Transfer-Encoding` present: HTTP/1.0 → [`BodyError::TransferEncodingInHttp10`];
///   with `Content-Length` too → [`BodyError::ConflictingFraming`]; exactly `chunked`
///   (ASCII case-insensitive, RFC 9112 §7) → [`BodyFraming::Chunked`]; `chunked` last
///   after other codings → [`BodyError::UnsupportedTransferCoding`] (501); anything else
///   → [`BodyError::ChunkedNotFinal`] (400).
/// - `Content-Length` present: every element of every field line must be `1*DIGIT` and
///   all must be the same number (RFC 9110 §8.6 allows accepting `42, 42`), else
///   [`BodyError::BadContentLength`]. A length over `max_body` is
///   [`BodyError::TooLarge`] now, before any of the body is read.
/// - Neither: [`BodyFraming::None`] (RFC 9112 §6.3 item 7: a request without either has
///   no body).
pub fn framing(head: &RequestHead<'_>, max_body: usize) -> Result<BodyFraming, BodyError> {
    let has_te = head.header_count("transfer-encoding") > 0;
    let has_cl = head.header_count("content-length") > 0;
    if has_te {
        // RFC 9112 §6.1: "A server or client that receives an HTTP/1.0 message containing
        // a Transfer-Encoding header field MUST treat the message as if the framing is
        // faulty, even if a Content-Length is present".
        if head.version() == Version::Http10 {
            return Err(BodyError::TransferEncodingInHttp10);
        }
        if has_cl {
            return Err(BodyError::ConflictingFraming);
        }
        return transfer_codings(head);
    }
    if has_cl {
        let length = content_length(head)?;
        if length > max_body as u64 {
            return Err(BodyError::TooLarge);
        }
        return Ok(BodyFraming::ContentLength(length));
    }
    Ok(BodyFraming::None)
}

/// The `Transfer-Encoding` list of a request that has one (RFC 9112 §6.1, §7).
fn transfer_codings(head: &RequestHead<'_>) -> Result<BodyFraming, BodyError> {
    let is_chunked = |coding: &[u8]| coding.eq_ignore_ascii_case(b"chunked");
    let mut codings = 0usize;
    let mut chunked = 0usize;
    let mut last_is_chunked = false;
    for coding in head.list("transfer-encoding") {
        codings += 1;
        last_is_chunked = is_chunked(coding);
        chunked += usize::from(last_is_chunked);
    }
    match (last_is_chunked, chunked, codings) {
        (true, 1, 1) => Ok(BodyFraming::Chunked),
        // The body is framed by `chunked`, but its content is in a coding we cannot undo.
        (true, 1, _) => Err(BodyError::UnsupportedTransferCoding),
        // Empty list, chunked not last, or chunked twice (RFC 9112 §7.1: "A sender MUST
        // NOT apply the chunked transfer coding more than once to a message body").
        _ => Err(BodyError::ChunkedNotFinal),
    }
}

/// The value of the `Content-Length` field lines (RFC 9110 §8.6): `1*DIGIT`, and if
/// repeated (as several lines or as a list), the same value every time.
fn content_length(head: &RequestHead<'_>) -> Result<u64, BodyError> {
    let mut value = None;
    // `list` splits on commas and drops empty elements and OWS, so `5, 5` and two `5`
    // lines both give two elements, and `Content-Length: ,` gives none.
    for element in head.list("content-length") {
        let n = parse_decimal(element).ok_or(BodyError::BadContentLength)?;
        match value {
            Some(previous) if previous != n => return Err(BodyError::BadContentLength),
            _ => value = Some(n),
        }
    }
    value.ok_or(BodyError::BadContentLength)
}

/// `1*DIGIT` as a `u64`; `None` for anything else, including overflow. Shared by every
/// decimal field the server reads (`Content-Length`, `since=`, SSE's `retry:`).
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

// ===== BodyDecoder =====

/// Where the decoder is. For chunked bodies the name says what the next byte may be
/// (RFC 9112 §7.1):
///
/// ```text
/// chunked-body   = *chunk last-chunk trailer-section CRLF
/// chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// chunk-size     = 1*HEXDIG
/// last-chunk     = 1*("0") [ chunk-ext ] CRLF
/// chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// chunk-ext-name = token
/// chunk-ext-val  = token / quoted-string
/// trailer-section = *( field-line CRLF )
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A `Content-Length` body with this many bytes still to come.
    Length {
        remaining: u64,
    },
    /// In the hex digits of a chunk size; `digits` is false before the first one.
    Size {
        digits: bool,
    },
    /// After the size or an extension: BWS, `;` or the CR ending the line.
    ExtEnd,
    /// After `;`: BWS or the first byte of an extension name.
    ExtNameStart,
    /// In an extension name.
    ExtName,
    /// After an extension name and BWS: more BWS, `=`, `;` or CR.
    ExtAfterName,
    /// After `=`: BWS or the first byte of the value (a tchar or `"`).
    ExtValueStart,
    /// In a token value.
    ExtToken,
    /// Inside a quoted-string value.
    ExtQuoted,
    /// After a backslash inside a quoted-string (RFC 9110 §5.6.4 quoted-pair).
    ExtQuotedEscape,
    /// After the CR ending a chunk-size line.
    SizeLf,
    /// In chunk data, with this many bytes still to come.
    Data {
        remaining: u64,
    },
    /// After chunk data: the CR, then the LF.
    DataCr,
    DataLf,
    /// At the start of a trailer line or the final CRLF.
    TrailerStart,
    /// In a trailer field name.
    TrailerName,
    /// In a trailer field value (after the colon).
    TrailerValue,
    /// After the CR ending a trailer line.
    TrailerLf,
    /// After the CR of the final blank line.
    FinalLf,
    /// The body is complete.
    Done,
    /// The body was refused.
    Failed(BodyError),
}

/// Incremental body decoder: one per request with a body.
///
/// Feed it the bytes that follow the head as they arrive. It appends the body's content
/// (for chunked bodies, without the framing) to a `Vec` the caller owns and reports how
/// many input bytes it consumed. It consumes every byte it was given until the body is
/// complete, and no byte after that: what follows the body (a pipelined request) stays in
/// the caller's buffer.
///
/// ```
/// use pushwire::http::body::{BodyDecoder, BodyFraming};
/// use pushwire::Status;
///
/// let mut decoder = BodyDecoder::new(BodyFraming::Chunked, 1024);
/// let mut body = Vec::new();
/// assert_eq!(decoder.decode(b"5\r\nhel", &mut body), Ok((6, Status::Partial)));
/// let rest = b"lo\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
/// assert_eq!(decoder.decode(rest, &mut body), Ok((9, Status::Complete(()))));
/// assert_eq!(body, b"hello");
/// assert_eq!(&rest[9..], b"GET / HTTP/1.1\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    /// The body-size limit in bytes.
    max_body: u64,
    /// Content bytes announced so far: the sum of the chunk sizes read (including the one
    /// being read), or the `Content-Length`. Never more than `max_body`.
    announced: u64,
    /// The size of the chunk whose size line is being read.
    chunk_size: u64,
    /// Bytes of the current chunk-size line, or of the trailer section so far.
    line_len: usize,
}

impl BodyDecoder {
    /// A decoder for a body with this framing and size limit. A `Content-Length` over
    /// `max_body` (which [`framing`] already refuses) makes the first
    /// [`decode`](BodyDecoder::decode) fail with [`BodyError::TooLarge`].
    pub fn new(framing: BodyFraming, max_body: usize) -> Self {
        let max_body = max_body as u64;
        let (state, announced) = match framing {
            BodyFraming::None | BodyFraming::ContentLength(0) => (State::Done, 0),
            BodyFraming::ContentLength(n) if n > max_body => {
                (State::Failed(BodyError::TooLarge), 0)
            }
            BodyFraming::ContentLength(n) => (State::Length { remaining: n }, n),
            BodyFraming::Chunked => (State::Size { digits: false }, 0),
        };
        BodyDecoder {
            state,
            max_body,
            announced,
            chunk_size: 0,
            line_len: 0,
        }
    }

    /// Has the whole body been decoded?
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes as much of `input` as belongs to the body, appending content to `body`.
    ///
    /// Returns `(consumed, status)`. Unlike the head parser, the decoder keeps its place
    /// itself, so the caller drops the `consumed` bytes and passes only new bytes next
    /// time. While the body is incomplete, `consumed == input.len()` and the status is
    /// `Partial`; once complete, the status is `Complete(())` and `input[consumed..]` is
    /// what followed the body. After `Complete`, further calls consume nothing and answer
    /// `Complete` again; after an error they repeat the error.
    ///
    /// `body` grows by at most `max_body` bytes over the whole body: a chunk that would
    /// take it past the limit is refused from its size line, before its data.
    pub fn decode(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
    ) -> Result<(usize, Status<()>), BodyError> {
        let mut pos = 0;
        while pos < input.len() {
            match self.state {
                State::Done => return Ok((pos, Status::Complete(()))),
                State::Failed(err) => return Err(err),
                State::Length { remaining } | State::Data { remaining } => {
                    let take = remaining.min((input.len() - pos) as u64) as usize;
                    body.extend_from_slice(&input[pos..pos + take]);
                    pos += take;
                    let remaining = remaining - take as u64;
                    self.state = match self.state {
                        State::Length { .. } if remaining == 0 => State::Done,
                        State::Length { .. } => State::Length { remaining },
                        _ if remaining == 0 => State::DataCr,
                        _ => State::Data { remaining },
                    };
                }
                _ => {
                    let b = input[pos];
                    pos += 1;
                    if let Err(err) = self.step(b) {
                        self.state = State::Failed(err);
                        return Err(err);
                    }
                }
            }
        }
        match self.state {
            State::Done => Ok((pos, Status::Complete(()))),
            State::Failed(err) => Err(err),
            _ => Ok((pos, Status::Partial)),
        }
    }

    /// Moves the chunked-framing state machine by one byte.
    fn step(&mut self, b: u8) -> Result<(), BodyError> {
        use State::*;
        // Every byte of a chunk-size line counts towards its limit.
        if matches!(
            self.state,
            Size { .. }
                | ExtEnd
                | ExtNameStart
                | ExtName
                | ExtAfterName
                | ExtValueStart
                | ExtToken
                | ExtQuoted
                | ExtQuotedEscape
        ) && b != b'\r'
        {
            self.line_len += 1;
            if self.line_len > MAX_CHUNK_LINE {
                return Err(BodyError::ChunkLineTooLong);
            }
        }
        // Every byte of the trailer section counts towards its limit.
        if matches!(
            self.state,
            TrailerStart | TrailerName | TrailerValue | TrailerLf | FinalLf
        ) {
            self.line_len += 1;
            if self.line_len > MAX_TRAILER_BYTES {
                return Err(BodyError::TrailersTooLarge);
            }
        }
        self.state = match self.state {
            Size { digits } => match hex_value(b) {
                Some(v) => {
                    // Overflow is a malformed size; a size past the limit is refused now,
                    // at the digit that crosses it, before any of its data arrives.
                    let size = self
                        .chunk_size
                        .checked_mul(16)
                        .and_then(|n| n.checked_add(u64::from(v)))
                        .ok_or(BodyError::BadChunkSize)?;
                    if size > self.max_body - self.announced {
                        return Err(BodyError::TooLarge);
                    }
                    self.chunk_size = size;
                    Size { digits: true }
                }
                // `1*HEXDIG`: at least one digit before anything else.
                None if !digits => return Err(BodyError::BadChunkSize),
                None => self.after_ext_byte(b, BodyError::BadChunkSize)?,
            },
            ExtEnd => self.after_ext_byte(b, BodyError::BadChunkExtension)?,
            ExtNameStart => match b {
                b if is_ows(b) => ExtNameStart,
                b if is_tchar(b) => ExtName,
                _ => return Err(BodyError::BadChunkExtension),
            },
            ExtName => match b {
                b if is_tchar(b) => ExtName,
                b if is_ows(b) => ExtAfterName,
                b'=' => ExtValueStart,
                _ => self.after_ext_byte(b, BodyError::BadChunkExtension)?,
            },
            ExtAfterName => match b {
                b if is_ows(b) => ExtAfterName,
                b'=' => ExtValueStart,
                _ => self.after_ext_byte(b, BodyError::BadChunkExtension)?,
            },
            ExtValueStart => match b {
                b if is_ows(b) => ExtValueStart,
                b if is_tchar(b) => ExtToken,
                b'"' => ExtQuoted,
                _ => return Err(BodyError::BadChunkExtension),
            },
            ExtToken => match b {
                b if is_tchar(b) => ExtToken,
                _ => self.after_ext_byte(b, BodyError::BadChunkExtension)?,
            },
            // RFC 9110 §5.6.4: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text.
            ExtQuoted => match b {
                b'"' => ExtEnd,
                b'\\' => ExtQuotedEscape,
                b if is_field_value_byte(b) => ExtQuoted,
                _ => return Err(BodyError::BadChunkExtension),
            },
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            ExtQuotedEscape if is_field_value_byte(b) => ExtQuoted,
            ExtQuotedEscape => return Err(BodyError::BadChunkExtension),
            SizeLf if b == b'\n' => {
                self.line_len = 0;
                if self.chunk_size == 0 {
                    TrailerStart
                } else {
                    self.announced += self.chunk_size;
                    let remaining = self.chunk_size;
                    self.chunk_size = 0;
                    Data { remaining }
                }
            }
            SizeLf => return Err(BodyError::BadChunkTerminator),
            DataCr if b == b'\r' => DataLf,
            DataLf if b == b'\n' => Size { digits: false },
            DataCr | DataLf => return Err(BodyError::BadChunkTerminator),
            // RFC 9112 §7.1.2 trailer-section = *( field-line CRLF ), then the final CRLF.
            TrailerStart => match b {
                b'\r' => FinalLf,
                b'\n' => return Err(BodyError::BadChunkTerminator),
                b if is_tchar(b) => TrailerName,
                // Including SP/HTAB: obsolete line folding (RFC 9112 §5.2).
                _ => return Err(BodyError::BadTrailer),
            },
            TrailerName => match b {
                b if is_tchar(b) => TrailerName,
                b':' => TrailerValue,
                // Including whitespace before the colon (RFC 9112 §5.1).
                _ => return Err(BodyError::BadTrailer),
            },
            TrailerValue => match b {
                b'\r' => TrailerLf,
                b'\n' => return Err(BodyError::BadChunkTerminator),
                b if is_field_value_byte(b) => TrailerValue,
                _ => return Err(BodyError::BadTrailer),
            },
            TrailerLf if b == b'\n' => TrailerStart,
            FinalLf if b == b'\n' => Done,
            TrailerLf | FinalLf => return Err(BodyError::BadChunkTerminator),
            // Handled by `decode` before a byte is stepped.
            Length { .. } | Data { .. } | Done | Failed(_) => self.state,
        };
        Ok(())
    }

    /// A byte after a chunk size, an extension name or an extension value: BWS, the `;`
    /// of the next extension, or the CR ending the line; anything else is `err`.
    fn after_ext_byte(&self, b: u8, err: BodyError) -> Result<State, BodyError> {
        match b {
            b if is_ows(b) => Ok(State::ExtEnd),
            b';' => Ok(State::ExtNameStart),
            b'\r' => Ok(State::SizeLf),
            _ => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HeadLimits;
    use crate::http::request::HeadParser;
    use crate::test_rng::XorShift;

    const MAX: usize = 64 * 1024;

    /// The framing of the request with these header lines.
    fn framing_of(version: &str, headers: &str, max_body: usize) -> Result<BodyFraming, BodyError> {
        let raw = format!("POST /channels/a {version}\r\nHost: h\r\n{headers}\r\n");
        let mut parser = HeadParser::new();
        let status = parser.parse(raw.as_bytes(), &HeadLimits::default());
        assert!(
            matches!(status, Ok(Status::Complete(_))),
            "{raw:?}: {status:?}"
        );
        framing(&parser.head(raw.as_bytes()).unwrap(), max_body)
    }

    fn framing11(headers: &str) -> Result<BodyFraming, BodyError> {
        framing_of("HTTP/1.1", headers, MAX)
    }

    /// Decodes `input` in one call: (content, bytes consumed) or the error.
    fn decode_all(
        framing: BodyFraming,
        max_body: usize,
        input: &[u8],
    ) -> Result<(Vec<u8>, usize, bool), BodyError> {
        let mut decoder = BodyDecoder::new(framing, max_body);
        let mut body = Vec::new();
        let (consumed, status) = decoder.decode(input, &mut body)?;
        Ok((body, consumed, status.is_complete()))
    }

    fn chunked(input: &[u8]) -> Result<(Vec<u8>, usize, bool), BodyError> {
        decode_all(BodyFraming::Chunked, MAX, input)
    }

    fn chunked_error(input: &[u8]) -> BodyError {
        match chunked(input) {
            Err(err) => err,
            Ok(other) => panic!(
                "{:?}: expected an error, got {other:?}",
                input.escape_ascii().to_string()
            ),
        }
    }

    /// Feeds `input` in pieces ending at `cuts` the way a connection would: unconsumed
    /// bytes stay in a buffer that the next piece is appended to.
    fn decode_split(
        framing: BodyFraming,
        input: &[u8],
        cuts: &[usize],
    ) -> Result<(Vec<u8>, usize, bool), BodyError> {
        let mut decoder = BodyDecoder::new(framing, MAX);
        let mut body = Vec::new();
        let mut buffer = Vec::new();
        let mut fed = 0;
        let mut consumed_total = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            let cut = cut.clamp(fed, input.len());
            buffer.extend_from_slice(&input[fed..cut]);
            fed = cut;
            let (consumed, status) = decoder.decode(&buffer, &mut body)?;
            buffer.drain(..consumed);
            consumed_total += consumed;
            if status.is_complete() {
                return Ok((body, consumed_total, true));
            }
            assert!(
                buffer.is_empty(),
                "an incomplete body consumes all its input"
            );
        }
        Ok((body, consumed_total, false))
    }

    const VALID_CHUNKED: &[(&[u8], &[u8])] = &[
        (b"0\r\n\r\n", b""),
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
        (b"a\r\n0123456789\r\n000\r\n\r\n", b"0123456789"),
        (b"0003\r\n\r\n\n\r\n0\r\n\r\n", b"\r\n\n"),
        (b"3;ext\r\nabc\r\n0;last=yes\r\n\r\n", b"abc"),
        (
            b"3 ; a = b ;c=\"q \\\" ;\\\\\" ;d\r\nabc\r\n0\r\n\r\n",
            b"abc",
        ),
        (
            b"3\r\nabc\r\n0\r\nExpires: never\r\nX-Sum:  \t 1 2 \r\nEmpty:\r\n\r\n",
            b"abc",
        ),
    ];

    // ----- framing -----

    #[test]
    fn no_framing_headers_means_no_body() {
        assert_eq!(framing11(""), Ok(BodyFraming::None));
    }

    #[test]
    fn zero_length_in_any_spelling_has_no_body_like_no_header() {
        for headers in [
            "",
            "Content-Length: 0\r\n",
            "Content-Length: 00\r\n",
            "Content-Length: 000\r\n",
            "Content-Length: 0, 0\r\n",
        ] {
            let framing = framing11(headers).unwrap();
            assert!(!framing.has_body(), "{headers:?}: {framing:?}");
        }
        assert!(framing11("Content-Length: 1\r\n").unwrap().has_body());
        assert!(
            framing11("Transfer-Encoding: chunked\r\n")
                .unwrap()
                .has_body()
        );
    }

    #[test]
    fn content_length_is_read_as_decimal() {
        assert_eq!(
            framing11("Content-Length: 0\r\n"),
            Ok(BodyFraming::ContentLength(0))
        );
        assert_eq!(
            framing11("Content-Length: 42\r\n"),
            Ok(BodyFraming::ContentLength(42))
        );
        assert_eq!(
            framing11("content-length: 007\r\n"),
            Ok(BodyFraming::ContentLength(7))
        );
    }

    #[test]
    fn content_length_at_the_limit_is_accepted_and_over_it_is_413_at_once() {
        let at = format!("Content-Length: {MAX}\r\n");
        assert_eq!(framing11(&at), Ok(BodyFraming::ContentLength(MAX as u64)));
        let over = format!("Content-Length: {}\r\n", MAX + 1);
        assert_eq!(framing11(&over), Err(BodyError::TooLarge));
        assert_eq!(BodyError::TooLarge.status(), StatusCode::CONTENT_TOO_LARGE);
    }

    #[test]
    fn identical_repeated_content_lengths_are_accepted() {
        // RFC 9110 §8.6: the recipient MAY accept "Content-Length: 42, 42".
        assert_eq!(
            framing11("Content-Length: 5, 5\r\n"),
            Ok(BodyFraming::ContentLength(5))
        );
        assert_eq!(
            framing11("Content-Length: 5\r\nContent-Length: 05\r\n"),
            Ok(BodyFraming::ContentLength(5))
        );
    }

    #[test]
    fn differing_or_malformed_content_lengths_are_400() {
        for headers in [
            "Content-Length: 5, 6\r\n",
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: +5\r\n",
            "Content-Length: -1\r\n",
            "Content-Length: 0x10\r\n",
            "Content-Length: 5 5\r\n",
            "Content-Length: 5.0\r\n",
            "Content-Length:\r\n",
            "Content-Length: ,\r\n",
            "Content-Length: 18446744073709551616\r\n",
        ] {
            assert_eq!(
                framing11(headers),
                Err(BodyError::BadContentLength),
                "{headers:?}"
            );
        }
        assert_eq!(
            BodyError::BadContentLength.status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn chunked_alone_is_chunked_in_any_case() {
        assert_eq!(
            framing11("Transfer-Encoding: chunked\r\n"),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            framing11("transfer-encoding: ChUnKeD\r\n"),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            framing11("Transfer-Encoding: , chunked ,\r\n"),
            Ok(BodyFraming::Chunked)
        );
    }

    #[test]
    fn transfer_encoding_with_content_length_is_refused_not_guessed() {
        for headers in [
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "Content-Length: 0\r\nTransfer-Encoding: gzip\r\n",
        ] {
            assert_eq!(
                framing11(headers),
                Err(BodyError::ConflictingFraming),
                "{headers:?}"
            );
        }
        assert_eq!(
            BodyError::ConflictingFraming.status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn a_coding_before_chunked_is_501() {
        for headers in [
            "Transfer-Encoding: gzip, chunked\r\n",
            "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
        ] {
            assert_eq!(
                framing11(headers),
                Err(BodyError::UnsupportedTransferCoding),
                "{headers:?}"
            );
        }
        assert_eq!(
            BodyError::UnsupportedTransferCoding.status(),
            StatusCode::NOT_IMPLEMENTED
        );
    }

    #[test]
    fn chunked_not_final_or_twice_or_missing_is_400() {
        for headers in [
            "Transfer-Encoding: chunked, gzip\r\n",
            "Transfer-Encoding: gzip\r\n",
            "Transfer-Encoding: identity\r\n",
            "Transfer-Encoding: chunked, chunked\r\n",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked;q=1\r\n",
            "Transfer-Encoding: \"chunked\"\r\n",
            "Transfer-Encoding: chunkedx\r\n",
            "Transfer-Encoding:\r\n",
        ] {
            assert_eq!(
                framing11(headers),
                Err(BodyError::ChunkedNotFinal),
                "{headers:?}"
            );
        }
        assert_eq!(BodyError::ChunkedNotFinal.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn transfer_encoding_in_http10_is_faulty_framing() {
        assert_eq!(
            framing_of("HTTP/1.0", "Transfer-Encoding: chunked\r\n", MAX),
            Err(BodyError::TransferEncodingInHttp10)
        );
        assert_eq!(
            framing_of("HTTP/1.0", "Content-Length: 3\r\n", MAX),
            Ok(BodyFraming::ContentLength(3))
        );
    }

    // ----- Content-Length decoding -----

    #[test]
    fn content_length_body_stops_at_its_length_leaving_pipelined_bytes() {
        let input = b"helloGET / HTTP/1.1\r\n";
        let (body, consumed, done) = decode_all(BodyFraming::ContentLength(5), MAX, input).unwrap();
        assert_eq!((body.as_slice(), consumed, done), (&b"hello"[..], 5, true));
    }

    #[test]
    fn content_length_body_in_pieces_is_partial_until_the_last_byte() {
        let mut decoder = BodyDecoder::new(BodyFraming::ContentLength(5), MAX);
        let mut body = Vec::new();
        assert_eq!(decoder.decode(b"he", &mut body), Ok((2, Status::Partial)));
        assert!(!decoder.is_done());
        assert_eq!(decoder.decode(b"", &mut body), Ok((0, Status::Partial)));
        assert_eq!(
            decoder.decode(b"llo!", &mut body),
            Ok((3, Status::Complete(())))
        );
        assert!(decoder.is_done());
        assert_eq!(
            decoder.decode(b"!", &mut body),
            Ok((0, Status::Complete(())))
        );
        assert_eq!(body, b"hello");
    }

    #[test]
    fn no_body_and_zero_length_are_complete_at_once_consuming_nothing() {
        for framing in [BodyFraming::None, BodyFraming::ContentLength(0)] {
            let mut decoder = BodyDecoder::new(framing, MAX);
            assert!(decoder.is_done());
            let mut body = Vec::new();
            assert_eq!(
                decoder.decode(b"GET", &mut body),
                Ok((0, Status::Complete(())))
            );
            assert!(body.is_empty());
        }
    }

    #[test]
    fn a_decoder_for_a_content_length_over_the_limit_fails_without_buffering() {
        let mut decoder = BodyDecoder::new(BodyFraming::ContentLength(11), 10);
        let mut body = Vec::new();
        assert_eq!(decoder.decode(b"x", &mut body), Err(BodyError::TooLarge));
        assert!(body.is_empty());
    }

    // ----- chunked decoding -----

    #[test]
    fn valid_chunked_bodies_decode_to_their_content() {
        for &(input, content) in VALID_CHUNKED {
            let (body, consumed, done) = chunked(input).unwrap();
            assert!(done, "{:?}", input.escape_ascii().to_string());
            assert_eq!(body, content);
            assert_eq!(consumed, input.len());
        }
    }

    #[test]
    fn every_split_of_a_valid_chunked_body_gives_the_same_result() {
        for &(input, content) in VALID_CHUNKED {
            for i in 0..=input.len() {
                for j in i..=input.len() {
                    let result = decode_split(BodyFraming::Chunked, input, &[i, j]);
                    assert_eq!(
                        result,
                        Ok((content.to_vec(), input.len(), true)),
                        "cuts {i} {j}"
                    );
                }
            }
        }
    }

    #[test]
    fn byte_at_a_time_and_random_splits_agree_with_one_piece() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for &(input, content) in VALID_CHUNKED {
            let every_byte: Vec<usize> = (1..input.len()).collect();
            assert_eq!(
                decode_split(BodyFraming::Chunked, input, &every_byte),
                Ok((content.to_vec(), input.len(), true))
            );
            for _ in 0..50 {
                let mut cuts: Vec<usize> = (0..4)
                    .map(|_| (rng.next() % (input.len() as u64 + 1)) as usize)
                    .collect();
                cuts.sort_unstable();
                assert_eq!(
                    decode_split(BodyFraming::Chunked, input, &cuts),
                    Ok((content.to_vec(), input.len(), true))
                );
            }
        }
    }

    #[test]
    fn random_chunked_bodies_round_trip() {
        let mut rng = XorShift(12345);
        for _ in 0..200 {
            let mut wire = Vec::new();
            let mut content = Vec::new();
            for _ in 0..(rng.next() % 5) {
                let len = 1 + (rng.next() % 40) as usize;
                let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                wire.extend_from_slice(format!("{len:x}\r\n").as_bytes());
                wire.extend_from_slice(&data);
                wire.extend_from_slice(b"\r\n");
                content.extend_from_slice(&data);
            }
            wire.extend_from_slice(b"0\r\n\r\n");
            let cut = (rng.next() % (wire.len() as u64 + 1)) as usize;
            assert_eq!(
                decode_split(BodyFraming::Chunked, &wire, &[cut]),
                Ok((content, wire.len(), true))
            );
        }
    }

    #[test]
    fn bytes_after_a_chunked_body_are_not_consumed() {
        let input = b"3\r\nabc\r\n0\r\nX: y\r\n\r\nPOST /next HTTP/1.1\r\n";
        let (body, consumed, done) = chunked(input).unwrap();
        assert!(done);
        assert_eq!(body, b"abc");
        assert_eq!(&input[consumed..], b"POST /next HTTP/1.1\r\n");
    }

    #[test]
    fn trailers_are_validated_and_discarded() {
        let (body, _, done) = chunked(b"1\r\nx\r\n0\r\nA: 1\r\nB-c: two words\r\n\r\n").unwrap();
        assert!(done);
        assert_eq!(body, b"x");
    }

    #[test]
    fn an_incomplete_chunked_body_is_partial_and_consumes_everything() {
        for input in [
            &b"5\r\nhel"[..],
            b"5",
            b"5\r",
            b"5\r\nhello\r",
            b"0\r\n",
            b"0\r\nA: b\r\n",
        ] {
            let (_, consumed, done) = chunked(input).unwrap();
            assert!(!done, "{:?}", input.escape_ascii().to_string());
            assert_eq!(consumed, input.len());
        }
    }

    #[test]
    fn malformed_chunk_sizes_are_bad_chunk_size() {
        for input in [
            &b"\r\n\r\n"[..],
            b"x\r\n",
            b"+5\r\n",
            b"-5\r\n",
            b"0x5\r\n",
            b" 5\r\n",
            b";ext\r\n",
            b"g\r\n",
            b"11111111111111111\r\n", // 17 hex digits: more than 64 bits
        ] {
            assert_eq!(
                decode_all(BodyFraming::Chunked, usize::MAX, input),
                Err(BodyError::BadChunkSize),
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
        assert_eq!(chunked_error(b"5x\r\n"), BodyError::BadChunkSize);
    }

    #[test]
    fn a_chunk_size_past_the_limit_is_413_before_its_data() {
        // The limit counts the sum of all chunks.
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, 10);
        let mut body = Vec::new();
        assert_eq!(
            decoder.decode(b"6\r\nabcdef\r\n", &mut body),
            Ok((11, Status::Partial))
        );
        // 6 + 5 = 11 > 10: refused at the size digit, no data ever sent.
        assert_eq!(decoder.decode(b"5", &mut body), Err(BodyError::TooLarge));
        assert_eq!(body, b"abcdef");
        // Exactly at the limit is fine.
        let input = b"6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n";
        assert_eq!(
            decode_all(BodyFraming::Chunked, 10, input),
            Ok((b"abcdefghij".to_vec(), input.len(), true))
        );
        // A huge size is refused at the digit that crosses the limit.
        assert_eq!(chunked_error(b"fffffffffff"), BodyError::TooLarge);
    }

    #[test]
    fn malformed_chunk_extensions_are_bad_chunk_extension() {
        for input in [
            &b"5;\r\n"[..],
            b"5;=v\r\n",
            b"5;a=\r\n",
            b"5;a=b c\r\n",
            b"5;a b\r\n",
            b"5;a=\"unterminated\r\n",
            b"5;a=\"ctl\x01\"\r\n",
            b"5;a=\"esc\\\x01\"\r\n",
            b"5;a=b\"\r\n",
            b"5 x\r\n",
            b"5;a\x00\r\n",
            b"5;a\n\r\n",
        ] {
            assert_eq!(
                chunked_error(input),
                BodyError::BadChunkExtension,
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn a_chunk_line_over_the_limit_is_refused() {
        let mut input = b"5;a=".to_vec();
        input.resize(MAX_CHUNK_LINE, b'x');
        input.extend_from_slice(b"\r\n");
        assert!(chunked(&input).is_ok(), "exactly the limit is accepted");
        let mut long = b"5;a=".to_vec();
        long.resize(MAX_CHUNK_LINE + 1, b'x');
        assert_eq!(chunked_error(&long), BodyError::ChunkLineTooLong);
        // Leading zeros count too: they cannot make a line endless.
        let zeros = vec![b'0'; MAX_CHUNK_LINE + 1];
        assert_eq!(chunked_error(&zeros), BodyError::ChunkLineTooLong);
    }

    #[test]
    fn chunk_lines_require_crlf_not_a_lone_lf_or_cr() {
        for input in [
            &b"5\nhello\r\n0\r\n\r\n"[..],
            b"5\rhello",
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhello\r0",
            b"5\r\nhelloX\r\n",
            b"5\r\nhello\r\n0\r\n\n",
            b"5\r\nhello\r\n0\r\n\rX",
            b"0\r\nA: b\n\r\n",
            b"0\r\nA: b\r\r\n",
        ] {
            let err = chunked_error(input);
            assert!(
                matches!(err, BodyError::BadChunkTerminator | BodyError::BadChunkSize),
                "{:?}: {err:?}",
                input.escape_ascii().to_string()
            );
        }
        assert_eq!(chunked_error(b"5\r\nhelloX"), BodyError::BadChunkTerminator);
        assert_eq!(chunked_error(b"5\nhello"), BodyError::BadChunkSize);
    }

    #[test]
    fn malformed_trailers_are_bad_trailer() {
        for input in [
            &b"0\r\nNoColon\r\n\r\n"[..],
            b"0\r\nName : v\r\n\r\n",
            b"0\r\n: v\r\n\r\n",
            b"0\r\nA: b\r\n folded\r\n\r\n",
            b"0\r\nA: b\x00\r\n\r\n",
        ] {
            assert_eq!(
                chunked_error(input),
                BodyError::BadTrailer,
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn a_trailer_section_over_the_limit_is_431() {
        let mut input = b"0\r\n".to_vec();
        while input.len() < MAX_TRAILER_BYTES + 10 {
            input.extend_from_slice(b"X-Pad: 0123456789\r\n");
        }
        assert_eq!(chunked_error(&input), BodyError::TrailersTooLarge);
        assert_eq!(
            BodyError::TrailersTooLarge.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }

    #[test]
    fn an_error_is_sticky() {
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, MAX);
        let mut body = Vec::new();
        assert_eq!(
            decoder.decode(b"z", &mut body),
            Err(BodyError::BadChunkSize)
        );
        assert_eq!(
            decoder.decode(b"0\r\n\r\n", &mut body),
            Err(BodyError::BadChunkSize)
        );
        assert!(!decoder.is_done());
    }

    #[test]
    fn every_error_has_a_lowercase_message_and_a_4xx_or_5xx_status() {
        for err in [
            BodyError::ConflictingFraming,
            BodyError::BadContentLength,
            BodyError::ChunkedNotFinal,
            BodyError::TransferEncodingInHttp10,
            BodyError::UnsupportedTransferCoding,
            BodyError::TooLarge,
            BodyError::BadChunkSize,
            BodyError::BadChunkExtension,
            BodyError::ChunkLineTooLong,
            BodyError::BadChunkTerminator,
            BodyError::BadTrailer,
            BodyError::TrailersTooLarge,
        ] {
            let text = err.to_string();
            assert!(!text.is_empty());
            assert_eq!(text, text.to_lowercase(), "{err:?}");
            assert!((400..600).contains(&err.status().as_u16()), "{err:?}");
        }
    }

    #[test]
    fn decoding_is_linear_in_the_input() {
        // A large body in one-byte pieces: each call examines only its own byte, so this
        // is fast; a decoder that re-scanned would take quadratic time.
        let mut wire = Vec::new();
        for _ in 0..1000 {
            wire.extend_from_slice(b"10;e=\"v\"\r\n0123456789abcdef\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, 1 << 20);
        let mut body = Vec::new();
        let mut consumed = 0;
        for &b in &wire {
            consumed += decoder.decode(&[b], &mut body).unwrap().0;
        }
        assert!(decoder.is_done());
        assert_eq!((consumed, body.len()), (wire.len(), 16_000));
    }
}
