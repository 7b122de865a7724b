//! The load generator's sans-IO pieces: the echo payloads and their incremental verifier,
//! a WebSocket frame reader for the client side, HTTP/1.1 response heads and a reader of
//! `Content-Length` responses, and the bodies the load generator publishes.

use std::fmt;

use pushwire::status::Status;
use pushwire::ws::ProtocolError;
use pushwire::ws::frame::{FrameHeader, OpCode, Role};
use pushwire::ws::mask::apply_mask;

// ===== echo payloads =====

/// The payload every echo message is made from: `size` bytes, of which the first few (the
/// *prefix*) carry the message's sequence number, so that an echo of the wrong message
/// (reordered, repeated, or from another connection) is caught as a mismatch too.
///
/// Binary payloads are pseudo-random bytes with an 8-byte little-endian sequence number;
/// text payloads are valid UTF-8 mixing 1- to 4-byte characters, with the sequence number
/// as 16 hex digits (ASCII, so it never splits a character).
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    body: Vec<u8>,
    text: bool,
    prefix_len: usize,
}

/// Characters text payloads cycle through after the prefix: 1, 2, 3 and 4 bytes long.
const TEXT_CHARS: &[char] = &['a', 'b', ' ', 'é', 'ß', 'ж', '€', '中', '😀', 'z', '~'];

impl Pattern {
    pub(super) fn new(size: usize, text: bool) -> Pattern {
        let prefix_len = size.min(if text { 16 } else { 8 });
        let mut body = Vec::with_capacity(size);
        if text {
            body.resize(prefix_len, b'0');
            let mut chars = TEXT_CHARS.iter().cycle();
            let mut utf8 = [0u8; 4];
            while body.len() < size {
                let c = chars.next().expect("cycle");
                let encoded = c.encode_utf8(&mut utf8).as_bytes();
                if body.len() + encoded.len() <= size {
                    body.extend_from_slice(encoded);
                } else {
                    body.push(b'.');
                }
            }
        } else {
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            while body.len() < size {
                // xorshift64: bytes that are neither constant nor periodic in a short cycle.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                body.push((x >> 24) as u8);
            }
        }
        debug_assert!(!text || std::str::from_utf8(&body).is_ok());
        Pattern {
            body,
            text,
            prefix_len,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.body.len()
    }

    pub(super) fn opcode(&self) -> OpCode {
        if self.text {
            OpCode::Text
        } else {
            OpCode::Binary
        }
    }

    /// The prefix of message `seq` (its first `prefix_len` bytes are meaningful).
    pub(super) fn prefix(&self, seq: u64) -> [u8; 16] {
        let mut out = [0u8; 16];
        if self.text {
            let hex = format!("{seq:016x}");
            out.copy_from_slice(hex.as_bytes());
            // The last digits change fastest: a short prefix keeps those.
            out.rotate_left(16 - self.prefix_len);
        } else {
            out[..8].copy_from_slice(&seq.to_le_bytes());
        }
        out
    }

    /// What the echo of message `seq` must be.
    pub(super) fn expected(&self, seq: u64) -> Expected<'_> {
        Expected {
            opcode: self.opcode(),
            prefix: self.prefix(seq),
            prefix_len: self.prefix_len,
            body: &self.body,
        }
    }

    /// Appends message `seq` to `out` as one final frame masked with `key`.
    pub(super) fn write_message(&self, out: &mut Vec<u8>, seq: u64, key: [u8; 4]) {
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: self.opcode(),
            mask: Some(key),
            payload_len: self.body.len() as u64,
        };
        out.reserve(header.encoded_len() + self.body.len());
        header.encode(out);
        let start = out.len();
        out.extend_from_slice(&self.body);
        out[start..start + self.prefix_len].copy_from_slice(&self.prefix(seq)[..self.prefix_len]);
        apply_mask(&mut out[start..], key, 0);
    }
}

/// One expected message: `body` with its first `prefix_len` bytes replaced by `prefix`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Expected<'a> {
    pub(super) opcode: OpCode,
    prefix: [u8; 16],
    prefix_len: usize,
    body: &'a [u8],
}

impl Expected<'_> {
    fn len(&self) -> usize {
        self.body.len()
    }

    /// Do the `chunk.len()` bytes at `offset` of the message equal `chunk`?
    fn matches(&self, offset: usize, chunk: &[u8]) -> bool {
        let Some(end) = offset.checked_add(chunk.len()) else {
            return false;
        };
        if end > self.body.len() {
            return false;
        }
        let (mut at, mut rest) = (offset, chunk);
        if at < self.prefix_len {
            let k = (self.prefix_len - at).min(rest.len());
            if rest[..k] != self.prefix[at..at + k] {
                return false;
            }
            at += k;
            rest = &rest[k..];
        }
        rest == &self.body[at..at + rest.len()]
    }
}

// ===== WebSocket frames, client side =====

/// Why the frames a server sent cannot be read: the connection is given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FrameError {
    /// A frame header the client role refuses (RFC 6455 §5.2: RSV bits, opcodes, a mask,
    /// control frame rules).
    Header(ProtocolError),
    /// A continuation frame with no message to continue (§5.4).
    UnexpectedContinuation,
    /// A new data message before the previous one's final frame (§5.4).
    Interleaved,
    /// A message longer than the reader's limit.
    TooLong {
        /// The limit, in bytes.
        max: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Header(e) => write!(f, "bad frame from the server: {e}"),
            FrameError::UnexpectedContinuation => {
                f.write_str("continuation frame without a message to continue")
            }
            FrameError::Interleaved => f.write_str("new message before the previous one ended"),
            FrameError::TooLong { max } => write!(f, "message longer than {max} bytes"),
        }
    }
}

/// What [`FrameReader::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum FrameEvent<'a> {
    /// A frame header.
    Start(FrameHeader),
    /// Some payload bytes of the current frame (already unmasked: servers do not mask).
    Payload(&'a [u8]),
    /// The current frame's payload is complete.
    End,
}

/// Splits the bytes a server sends into frame headers and payload pieces, however the
/// bytes arrive, without buffering payloads. Headers are checked by
/// [`FrameHeader::parse`] in the client role (RSV bits, opcodes, no masking, control
/// frame rules).
#[derive(Debug, Default)]
pub(super) struct FrameReader {
    /// A header split across reads.
    hdr: [u8; FrameHeader::MAX_LEN],
    hdr_len: usize,
    /// Inside a frame: the payload bytes still to come.
    in_frame: bool,
    remaining: u64,
}

impl FrameReader {
    /// Consumes bytes from the start of `data`: returns how many, and the event they
    /// completed. `None` means every byte of `data` was consumed and more are needed.
    pub(super) fn next<'a>(
        &mut self,
        data: &'a [u8],
    ) -> Result<(usize, Option<FrameEvent<'a>>), FrameError> {
        if self.in_frame {
            if self.remaining == 0 {
                self.in_frame = false;
                return Ok((0, Some(FrameEvent::End)));
            }
            if data.is_empty() {
                return Ok((0, None));
            }
            let n = (self.remaining.min(data.len() as u64)) as usize;
            self.remaining -= n as u64;
            return Ok((n, Some(FrameEvent::Payload(&data[..n]))));
        }
        if data.is_empty() {
            return Ok((0, None));
        }
        let had = self.hdr_len;
        let parsed = if had == 0 {
            FrameHeader::parse(data, Role::Client, u64::MAX >> 1)
        } else {
            let take = (FrameHeader::MAX_LEN - had).min(data.len());
            self.hdr[had..had + take].copy_from_slice(&data[..take]);
            FrameHeader::parse(&self.hdr[..had + take], Role::Client, u64::MAX >> 1)
        };
        match parsed.map_err(FrameError::Header)? {
            Status::Complete((header, len)) => {
                self.hdr_len = 0;
                self.in_frame = true;
                self.remaining = header.payload_len;
                Ok((len - had, Some(FrameEvent::Start(header))))
            }
            Status::Partial => {
                // A header is at most 14 bytes, so an incomplete one is all of `data`.
                let take = (FrameHeader::MAX_LEN - had).min(data.len());
                self.hdr[had..had + take].copy_from_slice(&data[..take]);
                self.hdr_len = had + take;
                Ok((take, None))
            }
        }
    }
}

/// What [`EchoVerifier::feed`] completed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum EchoEvent {
    /// A data message ended; `matched` if type, length and every byte equal the expected
    /// message (false too when no message was expected).
    Message { matched: bool, len: u64 },
    /// A ping, to be answered with a pong carrying the same payload.
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// A close frame and its payload.
    Close(Vec<u8>),
}

/// Checks echoed messages byte by byte as they arrive, against the message the caller
/// expects next, without buffering them (a 64 MiB echo costs no memory here). Handles
/// fragmented echoes and control frames between fragments.
#[derive(Debug, Default)]
pub(super) struct EchoVerifier {
    frames: FrameReader,
    /// The control frame being read: its opcode and payload (at most 125 bytes).
    control: Option<(OpCode, Vec<u8>)>,
    /// Whether the current data frame is its message's last.
    fin: bool,
    /// The data message being read: bytes so far, still matching?
    message: Option<(u64, bool)>,
}

impl EchoVerifier {
    /// Consumes bytes from the start of `data` until one event completes (returned with
    /// the count consumed) or `data` is used up (`None`). `expected` is the message the
    /// next data message must equal (the oldest one still unanswered); pass the same one
    /// again until a [`EchoEvent::Message`] is returned.
    pub(super) fn feed(
        &mut self,
        data: &[u8],
        expected: Option<&Expected<'_>>,
    ) -> Result<(usize, Option<EchoEvent>), FrameError> {
        let mut pos = 0;
        loop {
            let (n, event) = self.frames.next(&data[pos..])?;
            pos += n;
            let Some(event) = event else {
                return Ok((pos, None));
            };
            match event {
                FrameEvent::Start(h) if h.opcode.is_control() => {
                    self.control = Some((h.opcode, Vec::with_capacity(h.payload_len as usize)));
                }
                FrameEvent::Start(h) => {
                    match (h.opcode, &self.message) {
                        (OpCode::Continuation, None) => {
                            return Err(FrameError::UnexpectedContinuation);
                        }
                        (OpCode::Continuation, Some(_)) => {}
                        (_, Some(_)) => return Err(FrameError::Interleaved),
                        (opcode, None) => {
                            let ok = expected.is_some_and(|e| e.opcode == opcode);
                            self.message = Some((0, ok));
                        }
                    }
                    self.fin = h.fin;
                }
                FrameEvent::Payload(chunk) => {
                    if let Some((_, payload)) = &mut self.control {
                        payload.extend_from_slice(chunk);
                    } else if let Some((offset, ok)) = &mut self.message {
                        if *ok {
                            *ok = expected.is_some_and(|e| e.matches(*offset as usize, chunk));
                        }
                        *offset += chunk.len() as u64;
                    }
                }
                FrameEvent::End => {
                    if let Some((opcode, payload)) = self.control.take() {
                        let event = match opcode {
                            OpCode::Ping => EchoEvent::Ping(payload),
                            OpCode::Pong => EchoEvent::Pong,
                            _ => EchoEvent::Close(payload),
                        };
                        return Ok((pos, Some(event)));
                    }
                    if self.fin
                        && let Some((len, ok)) = self.message.take()
                    {
                        let matched = ok && expected.is_some_and(|e| e.len() as u64 == len);
                        return Ok((pos, Some(EchoEvent::Message { matched, len })));
                    }
                }
            }
        }
    }
}

/// Reads whole text messages (up to `max` bytes) from a subscriber's stream of frames.
#[derive(Debug, Default)]
pub(super) struct MessageReader {
    frames: FrameReader,
    control: Option<(OpCode, Vec<u8>)>,
    fin: bool,
    message: Option<(OpCode, Vec<u8>)>,
}

/// What [`MessageReader::feed`] completed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum WsMessage {
    /// A data message: its opcode and payload.
    Data(OpCode, Vec<u8>),
    /// A ping and its payload.
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// A close and its payload.
    Close(Vec<u8>),
}

impl MessageReader {
    /// Like [`EchoVerifier::feed`], but collects the message. Longer than `max`: error.
    pub(super) fn feed(
        &mut self,
        data: &[u8],
        max: usize,
    ) -> Result<(usize, Option<WsMessage>), FrameError> {
        let mut pos = 0;
        loop {
            let (n, event) = self.frames.next(&data[pos..])?;
            pos += n;
            let Some(event) = event else {
                return Ok((pos, None));
            };
            match event {
                FrameEvent::Start(h) if h.opcode.is_control() => {
                    self.control = Some((h.opcode, Vec::new()));
                }
                FrameEvent::Start(h) => {
                    match (h.opcode, &self.message) {
                        (OpCode::Continuation, None) => {
                            return Err(FrameError::UnexpectedContinuation);
                        }
                        (OpCode::Continuation, Some(_)) => {}
                        (_, Some(_)) => return Err(FrameError::Interleaved),
                        (opcode, None) => self.message = Some((opcode, Vec::new())),
                    }
                    self.fin = h.fin;
                }
                FrameEvent::Payload(chunk) => {
                    if let Some((_, payload)) = &mut self.control {
                        payload.extend_from_slice(chunk);
                    } else if let Some((_, payload)) = &mut self.message {
                        if payload.len() + chunk.len() > max {
                            return Err(FrameError::TooLong { max });
                        }
                        payload.extend_from_slice(chunk);
                    }
                }
                FrameEvent::End => {
                    if let Some((opcode, payload)) = self.control.take() {
                        let event = match opcode {
                            OpCode::Ping => WsMessage::Ping(payload),
                            OpCode::Pong => WsMessage::Pong,
                            _ => WsMessage::Close(payload),
                        };
                        return Ok((pos, Some(event)));
                    }
                    if self.fin
                        && let Some((opcode, payload)) = self.message.take()
                    {
                        return Ok((pos, Some(WsMessage::Data(opcode, payload))));
                    }
                }
            }
        }
    }
}

// ===== HTTP/1.1 responses =====

/// Largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest response body accepted (long-poll batches are small; this is a safety net).
const MAX_BODY: usize = 64 << 20;

/// Why an HTTP response cannot be read: the connection is given up. What the server
/// wrote is quoted where it is the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ResponseError {
    /// No blank line within [`MAX_HEAD`] bytes.
    HeadTooLong,
    /// The head is not UTF-8.
    HeadNotUtf8,
    /// Not `HTTP/1.1 NNN ...` (or `HTTP/1.0`).
    StatusLine(String),
    /// A header line without a colon.
    HeaderLine(String),
    /// A `Content-Length` that is not a number.
    ContentLength(String),
    /// Two `Content-Length` headers that disagree.
    ConflictingContentLength,
    /// A `Transfer-Encoding` whose last coding is not `chunked`: where the body ends
    /// cannot be told.
    TransferEncoding(String),
    /// A chunked answer where a `Content-Length` one was expected (long-polls, publishes).
    Chunked,
    /// A body above [`MAX_BODY`] bytes.
    BodyTooLarge(usize),
    /// A status that has a body, without a `Content-Length`.
    NoContentLength(u16),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::HeadTooLong => write!(f, "response head longer than {MAX_HEAD} bytes"),
            ResponseError::HeadNotUtf8 => f.write_str("response head is not UTF-8"),
            ResponseError::StatusLine(line) => write!(f, "bad status line {line:?}"),
            ResponseError::HeaderLine(line) => write!(f, "bad header line {line:?}"),
            ResponseError::ContentLength(value) => write!(f, "bad content-length {value:?}"),
            ResponseError::ConflictingContentLength => {
                f.write_str("conflicting content-length headers")
            }
            ResponseError::TransferEncoding(value) => {
                write!(f, "transfer-encoding {value:?} does not end in chunked")
            }
            ResponseError::Chunked => {
                f.write_str("chunked response where a content-length was expected")
            }
            ResponseError::BodyTooLarge(n) => write!(f, "response body of {n} bytes is too large"),
            ResponseError::NoContentLength(status) => {
                write!(f, "{status} response without content-length")
            }
        }
    }
}

/// How a response's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResponseFraming {
    /// 1xx, 204 and 304 answers have none (item 1).
    Bodiless,
    /// `Transfer-Encoding` ending in `chunked` (item 4; it wins over a `Content-Length`).
    Chunked,
    /// `Content-Length` bytes (item 6).
    Length(usize),
    /// Neither: the body runs until the server closes (item 8), as an HTTP/1.0 event
    /// stream does.
    UntilClose,
}

/// What the load generator needs of a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ResponseHead {
    pub(super) status: u16,
    pub(super) framing: ResponseFraming,
    /// `Connection: close`, or HTTP/1.0: the server closes after this response.
    pub(super) close: bool,
    /// The `Content-Type` value, as sent.
    pub(super) content_type: Option<String>,
}

/// Collects a response head until its blank line, however the bytes arrive, and parses
/// it. Bytes after the blank line are left to the caller (they are the body).
#[derive(Debug, Default)]
pub(super) struct HeadReader {
    head: Vec<u8>,
}

impl HeadReader {
    /// Consumes bytes from `data` until the head is complete (returned with the count
    /// consumed, which stops at the blank line) or `data` is used up (`None`).
    pub(super) fn feed(
        &mut self,
        data: &[u8],
    ) -> Result<(usize, Option<ResponseHead>), ResponseError> {
        let before = self.head.len();
        // Search from 3 bytes back, in case the blank line straddles two reads.
        let from = before.saturating_sub(3);
        self.head.extend_from_slice(data);
        let Some(at) = self.head[from..].windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.head.len() > MAX_HEAD {
                return Err(ResponseError::HeadTooLong);
            }
            return Ok((data.len(), None));
        };
        let end = from + at + 4;
        let head = parse_head(&self.head[..end - 4]);
        self.head.clear();
        Ok((end - before, Some(head?)))
    }
}

/// A complete HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HttpResponse {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
    /// `Connection: close`: the server closes after this response.
    pub(super) close: bool,
}

/// Reads HTTP/1.1 responses framed by `Content-Length` (or bodiless: 1xx, 204, 304), one
/// after the other on a keep-alive connection.
#[derive(Debug, Default)]
pub(super) struct HttpReader {
    head: HeadReader,
    /// Reading a body: the response so far and the bytes still to come.
    body: Option<(HttpResponse, usize)>,
}

impl HttpReader {
    /// Consumes bytes from `data` until a response completes (returned with the count
    /// consumed) or `data` is used up (`None`).
    pub(super) fn feed(
        &mut self,
        data: &[u8],
    ) -> Result<(usize, Option<HttpResponse>), ResponseError> {
        if let Some((response, remaining)) = &mut self.body {
            let n = (*remaining).min(data.len());
            response.body.extend_from_slice(&data[..n]);
            *remaining -= n;
            if *remaining == 0 {
                let (response, _) = self.body.take().expect("in a body");
                return Ok((n, Some(response)));
            }
            return Ok((n, None));
        }
        let (consumed, head) = self.head.feed(data)?;
        let Some(head) = head else {
            return Ok((consumed, None));
        };
        let length = match head.framing {
            ResponseFraming::Bodiless => 0,
            ResponseFraming::Length(n) => n,
            ResponseFraming::Chunked => return Err(ResponseError::Chunked),
            ResponseFraming::UntilClose => return Err(ResponseError::NoContentLength(head.status)),
        };
        let response = HttpResponse {
            status: head.status,
            body: Vec::with_capacity(length.min(1 << 20)),
            close: head.close,
        };
        if length == 0 {
            return Ok((consumed, Some(response)));
        }
        self.body = Some((response, length));
        let (n, done) = self.feed(&data[consumed..])?;
        Ok((consumed + n, done))
    }
}

/// Reads a response head (without its blank line).
fn parse_head(head: &[u8]) -> Result<ResponseHead, ResponseError> {
    let text = std::str::from_utf8(head).map_err(|_| ResponseError::HeadNotUtf8)?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| ResponseError::StatusLine(status_line.to_string()))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = status_line.starts_with("HTTP/1.0");
    let mut content_type = None;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ResponseError::HeaderLine(line.to_string()))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .parse()
                .map_err(|_| ResponseError::ContentLength(value.to_string()))?;
            if length.is_some_and(|l| l != n) {
                return Err(ResponseError::ConflictingContentLength);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // RFC 9112 §6.3 item 4: only a final `chunked` tells where the body ends.
            let last = value.rsplit(',').next().unwrap_or("").trim();
            if !last.eq_ignore_ascii_case("chunked") {
                return Err(ResponseError::TransferEncoding(value.to_string()));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            close |= value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"));
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_string());
        }
    }
    let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
    let framing = match (bodiless, chunked, length) {
        (true, _, _) => ResponseFraming::Bodiless,
        (false, true, _) => ResponseFraming::Chunked,
        (false, false, Some(n)) if n > MAX_BODY => return Err(ResponseError::BodyTooLarge(n)),
        (false, false, Some(n)) => ResponseFraming::Length(n),
        (false, false, None) => ResponseFraming::UntilClose,
    };
    Ok(ResponseHead {
        status,
        framing,
        close,
        content_type,
    })
}

// ===== the load generator's own message bodies =====
//
// (The hub's JSON around them is read by `pushwire::hub::json`.)

/// The padding byte at position `i` of a body's `pad` field.
fn pad_byte(i: usize) -> u8 {
    b'a' + (i % 26) as u8
}

/// The body the load generator publishes: `{"t":T,"seq":S}`, where `T` is the publish
/// time in nanoseconds since the run started, padded with a `"pad"` field of known
/// letters to at least `size` bytes.
pub(super) fn message_body(t: u64, seq: u64, size: usize) -> String {
    let mut body = format!("{{\"t\":{t},\"seq\":{seq}}}");
    if body.len() < size {
        body.pop();
        body.push_str(",\"pad\":\"");
        let pad = size.saturating_sub(body.len() + 2);
        body.extend((0..pad).map(|i| char::from(pad_byte(i))));
        body.push_str("\"}");
    }
    body
}

/// A body [`message_body`] did not write (for this run's `size`), quoted in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ForeignBody<'a>(pub(super) &'a str);

impl fmt::Display for ForeignBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a message this load generator published: {:?}",
            self.0
        )
    }
}

/// `(t, seq)` of a body written by [`message_body`] for `size`, or the body that is not
/// one: the two numbers are read, and the body must then be exactly the one they make
/// (which checks the padding and the length too).
pub(super) fn parse_body(data: &str, size: usize) -> Result<(u64, u64), ForeignBody<'_>> {
    let numbers = data
        .strip_prefix("{\"t\":")
        .and_then(|rest| rest.split_once(",\"seq\":"))
        .and_then(|(t, rest)| {
            let seq = rest.split(|c: char| !c.is_ascii_digit()).next()?;
            Some((t.parse().ok()?, seq.parse().ok()?))
        });
    match numbers {
        Some((t, seq)) if data == message_body(t, seq, size) => Ok((t, seq)),
        _ => Err(ForeignBody(data)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushwire::ws::frame::write_frame;

    /// The server's side: unmasked frames.
    fn frame(out: &mut Vec<u8>, fin: bool, opcode: OpCode, payload: &[u8]) {
        write_frame(out, fin, opcode, payload, None);
    }

    /// The payload of message `seq`, as the server would echo it.
    fn message(p: &Pattern, seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        p.write_message(&mut out, seq, [0, 0, 0, 0]);
        let (header, len) = FrameHeader::parse(&out, Role::Server, u64::MAX)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(header.payload_len as usize, p.len());
        out.split_off(len)
    }

    /// Feeds `wire` in pieces of `chunk` bytes; the expected message of the k-th data
    /// message is `seq0 + k`. Returns the events.
    fn feed_all(p: &Pattern, wire: &[u8], chunk: usize, seq0: u64) -> Vec<EchoEvent> {
        let mut v = EchoVerifier::default();
        let mut events = Vec::new();
        let mut seq = seq0;
        for piece in wire.chunks(chunk) {
            let mut pos = 0;
            loop {
                let expected = p.expected(seq);
                let (n, event) = v.feed(&piece[pos..], Some(&expected)).unwrap();
                pos += n;
                match event {
                    None => break,
                    Some(e) => {
                        if matches!(e, EchoEvent::Message { .. }) {
                            seq += 1;
                        }
                        events.push(e);
                    }
                }
            }
            assert_eq!(pos, piece.len());
        }
        events
    }

    #[test]
    fn text_patterns_are_utf8_of_the_exact_size_with_ascii_prefixes() {
        for size in [0, 1, 5, 16, 17, 18, 19, 20, 100, 1000, 4097] {
            let p = Pattern::new(size, true);
            assert_eq!(p.len(), size);
            for seq in [0, 7, u64::MAX] {
                let m = message(&p, seq);
                assert!(std::str::from_utf8(&m).is_ok(), "size {size} seq {seq}");
            }
            if size >= 100 {
                assert!(p.body.iter().any(|&b| b >= 0xF0), "4-byte characters");
            }
        }
        let p = Pattern::new(3, true);
        assert_eq!(message(&p, 0x1234), b"234");
    }

    #[test]
    fn messages_differ_by_sequence_number() {
        for text in [false, true] {
            let p = Pattern::new(64, text);
            assert_ne!(message(&p, 1), message(&p, 2));
            assert!(p.expected(5).matches(0, &message(&p, 5)));
            assert!(!p.expected(5).matches(0, &message(&p, 6)));
        }
    }

    #[test]
    fn echoes_verify_whatever_the_read_sizes() {
        for (size, text) in [
            (0, false),
            (1, false),
            (20, true),
            (125, false),
            (126, true),
            (70_000, false),
        ] {
            let p = Pattern::new(size, text);
            let mut wire = Vec::new();
            for seq in 10..13 {
                frame(&mut wire, true, p.opcode(), &message(&p, seq));
            }
            for chunk in [1, 2, 3, 7, 13, 4096, usize::MAX] {
                let events = feed_all(&p, &wire, chunk.min(wire.len().max(1)), 10);
                let want: Vec<_> = (0..3)
                    .map(|_| EchoEvent::Message {
                        matched: true,
                        len: size as u64,
                    })
                    .collect();
                assert_eq!(events, want, "size {size} chunk {chunk}");
            }
        }
    }

    #[test]
    fn fragmented_echoes_with_control_frames_between_fragments() {
        let p = Pattern::new(1000, true);
        let m = message(&p, 3);
        let mut wire = Vec::new();
        frame(&mut wire, false, OpCode::Text, &m[..100]);
        frame(&mut wire, true, OpCode::Ping, b"hi");
        frame(&mut wire, false, OpCode::Continuation, &m[100..101]);
        frame(&mut wire, false, OpCode::Continuation, &[]);
        frame(&mut wire, true, OpCode::Pong, b"");
        frame(&mut wire, true, OpCode::Continuation, &m[101..]);
        frame(&mut wire, true, OpCode::Close, &[0x03, 0xE8]);
        for chunk in [1, 5, 64, wire.len()] {
            let events = feed_all(&p, &wire, chunk, 3);
            assert_eq!(
                events,
                vec![
                    EchoEvent::Ping(b"hi".to_vec()),
                    EchoEvent::Pong,
                    EchoEvent::Message {
                        matched: true,
                        len: 1000
                    },
                    EchoEvent::Close(vec![0x03, 0xE8]),
                ]
            );
        }
    }

    #[test]
    fn corruption_length_type_and_order_are_mismatches() {
        let p = Pattern::new(300, false);
        let good = message(&p, 0);
        let mismatch = |wire: &[u8]| -> Vec<EchoEvent> { feed_all(&p, wire, 17, 0) };
        let bad = |len: u64| {
            vec![EchoEvent::Message {
                matched: false,
                len,
            }]
        };
        // Each byte flipped in turn, including the sequence-number prefix.
        for i in [0, 3, 7, 8, 150, 299] {
            let mut m = good.clone();
            m[i] ^= 0x20;
            let mut wire = Vec::new();
            frame(&mut wire, true, OpCode::Binary, &m);
            assert_eq!(mismatch(&wire), bad(300), "byte {i}");
        }
        let mut wire = Vec::new();
        frame(&mut wire, true, OpCode::Binary, &good[..299]);
        assert_eq!(mismatch(&wire), bad(299), "short");
        let mut long = good.clone();
        long.push(0);
        let mut wire = Vec::new();
        frame(&mut wire, true, OpCode::Binary, &long);
        assert_eq!(mismatch(&wire), bad(301), "long");
        let mut wire = Vec::new();
        frame(&mut wire, true, OpCode::Text, &good);
        assert_eq!(mismatch(&wire), bad(300), "wrong type");
        let mut wire = Vec::new();
        frame(&mut wire, true, OpCode::Binary, &message(&p, 1));
        assert_eq!(mismatch(&wire), bad(300), "another message");
        // Nothing expected at all.
        let mut v = EchoVerifier::default();
        let (_, event) = v.feed(&wire, None).unwrap();
        assert_eq!(
            event,
            Some(EchoEvent::Message {
                matched: false,
                len: 300
            })
        );
    }

    #[test]
    fn protocol_errors() {
        let p = Pattern::new(4, false);
        let e = p.expected(0);
        let feed = |wire: &[u8]| -> Result<(), FrameError> {
            let mut v = EchoVerifier::default();
            let mut pos = 0;
            loop {
                let (n, event) = v.feed(&wire[pos..], Some(&e))?;
                pos += n;
                if event.is_none() {
                    return Ok(());
                }
            }
        };
        let mut wire = Vec::new();
        frame(&mut wire, true, OpCode::Continuation, b"x");
        assert_eq!(feed(&wire), Err(FrameError::UnexpectedContinuation));
        let mut wire = Vec::new();
        frame(&mut wire, false, OpCode::Binary, b"x");
        frame(&mut wire, true, OpCode::Binary, b"x");
        assert_eq!(feed(&wire), Err(FrameError::Interleaved));
        let mut wire = Vec::new();
        write_frame(&mut wire, true, OpCode::Binary, b"x", Some([1, 2, 3, 4]));
        let masked = feed(&wire).unwrap_err();
        assert_eq!(masked, FrameError::Header(ProtocolError::MaskedFrame));
        assert!(
            masked
                .to_string()
                .starts_with("bad frame from the server: "),
            "{masked}"
        );
        assert_eq!(
            feed(&[0x83, 0]),
            Err(FrameError::Header(ProtocolError::ReservedOpcode(3)))
        );
    }

    #[test]
    fn subscriber_messages_are_collected() {
        let mut wire = Vec::new();
        frame(&mut wire, false, OpCode::Text, b"{\"id\":");
        frame(&mut wire, true, OpCode::Ping, b"p");
        frame(&mut wire, true, OpCode::Continuation, b"1}");
        let mut r = MessageReader::default();
        let mut events = Vec::new();
        for piece in wire.chunks(3) {
            let mut pos = 0;
            while let (n, Some(event)) = r.feed(&piece[pos..], 100).unwrap() {
                pos += n;
                events.push(event);
            }
        }
        assert_eq!(
            events,
            vec![
                WsMessage::Ping(b"p".to_vec()),
                WsMessage::Data(OpCode::Text, b"{\"id\":1}".to_vec())
            ]
        );
        let mut r = MessageReader::default();
        assert_eq!(r.feed(&wire, 3), Err(FrameError::TooLong { max: 3 }));
    }

    #[test]
    fn http_responses_in_any_pieces() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\nConnection: close\r\n\r\nok";
        let want = vec![
            HttpResponse {
                status: 200,
                body: b"hello".to_vec(),
                close: false,
            },
            HttpResponse {
                status: 204,
                body: Vec::new(),
                close: false,
            },
            HttpResponse {
                status: 201,
                body: b"ok".to_vec(),
                close: true,
            },
        ];
        for chunk in [1, 2, 5, 40, wire.len()] {
            let mut r = HttpReader::default();
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                let mut pos = 0;
                while pos < piece.len() {
                    let (n, response) = r.feed(&piece[pos..]).unwrap();
                    pos += n;
                    got.extend(response);
                }
            }
            assert_eq!(got, want, "chunk {chunk}");
        }
        for (bad, why) in [
            (
                &b"HTTP/1.1 200 OK\r\n\r\n"[..],
                ResponseError::NoContentLength(200),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                ResponseError::Chunked,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                ResponseError::TransferEncoding("chunked, gzip".into()),
            ),
            (
                b"SPDY 200\r\n\r\n",
                ResponseError::StatusLine("SPDY 200".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ResponseError::ConflictingContentLength,
            ),
        ] {
            assert_eq!(HttpReader::default().feed(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn published_bodies_round_trip_and_detect_damage() {
        for size in [0, 10, 20, 30, 31, 32, 33, 100, 5000] {
            let body = message_body(123_456, 42, size);
            assert!(body.len() >= size, "{size}: {body}");
            if size > 40 {
                assert_eq!(body.len(), size);
            }
            assert_eq!(parse_body(&body, size), Ok((123_456, 42)), "{body}");
        }
        let body = message_body(1, 2, 100);
        let damaged = body.replacen("abc", "abd", 1);
        assert_eq!(parse_body(&damaged, 100), Err(ForeignBody(&damaged)));
        assert!(parse_body(&body[..body.len() - 3], 100).is_err());
        assert_eq!(
            parse_body("hello", 100).unwrap_err().to_string(),
            "not a message this load generator published: \"hello\""
        );
    }
}
