//! A protocol trace: every HTTP head and every frame, as it crosses the wire, annotated.
//!
//! The trace decodes the raw bytes a second time, independently of the protocol code,
//! the way a packet analyser does: it shows what was really sent (masking keys, the
//! length encoding chosen, the reserved bits) even when the bytes are invalid. One
//! [`WireTrace`] follows one direction of one connection. It starts in HTTP mode and
//! switches to frames after a request that asks for `Upgrade: websocket` (inbound, on a
//! server) or a `101` response (outbound on a server, inbound on a client).
//!
//! Every line starts with the time of day (UTC, to the microsecond) at which its bytes
//! crossed: `17:03:12.123456 [#0.0 <-] HTTP GET / HTTP/1.1`. On a server that is the
//! time of the loop's turn, so the lines of one turn share it.
//!
//! Tracing is off unless asked for ([`Config::trace`](crate::Config::trace)); then the
//! driver's only cost is one branch per read and per write.

use std::fmt::Write as _;
use std::time::SystemTime;

use crate::calendar::TimeOfDay;
use crate::ws::close::CloseCode;
use crate::ws::mask::apply_mask;

/// Payload bytes shown per frame.
const PREVIEW: usize = 48;
/// Longest HTTP head the trace will buffer to print.
const MAX_HEAD: usize = 16 * 1024;

/// Which way the bytes go, from the tracing endpoint's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received.
    In,
    /// Sent.
    Out,
}

impl Direction {
    fn arrow(self) -> &'static str {
        match self {
            Direction::In => "<-",
            Direction::Out => "->",
        }
    }
}

/// What the stream is carrying now.
#[derive(Debug)]
enum Mode {
    /// An HTTP head, accumulated until its blank line.
    Http { head: Vec<u8> },
    /// The body after a head, framed by its `Content-Length` (RFC 9112 §6.3): the bytes
    /// left, and the whole length for the line printed at its end.
    Body { left: u64, len: u64 },
    /// A chunked body (RFC 9112 §7.1): a chunk-size line being accumulated, or the
    /// bytes left of the chunk's data and its CRLF.
    ChunkSize { line: Vec<u8> },
    /// `last`: the CRLF after the last chunk, after which a head comes again.
    ChunkData { left: u64, last: bool },
    /// A frame header, accumulated until complete (2–14 bytes).
    Header { bytes: Vec<u8> },
    /// A frame's payload: the first bytes are kept for the preview.
    Payload {
        frame: RawHeader,
        seen: u64,
        preview: Vec<u8>,
    },
}

/// The frame header as it is on the wire, decoded bit by bit.
#[derive(Debug, Clone, Copy)]
struct RawHeader {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: u64,
    /// 7, 16 or 64: which length encoding was used (RFC 6455 §5.2).
    len_bits: u8,
}

/// A chunk-size line's size (RFC 9112 §7.1: `chunk-size [ chunk-ext ] CRLF`, hex).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))?;
    let digits = line.split(|&b| b == b';').next()?;
    let digits = std::str::from_utf8(digits).ok()?.trim();
    u64::from_str_radix(digits, 16).ok()
}

/// The trace of one direction of one connection.
#[derive(Debug)]
pub struct WireTrace {
    label: String,
    direction: Direction,
    mode: Mode,
    /// When the bytes being fed crossed: the stamp of the lines they finish.
    at: SystemTime,
}

impl WireTrace {
    /// A trace for one direction; `label` names the connection (e.g. `#3.0`).
    pub fn new(label: impl Into<String>, direction: Direction) -> Self {
        WireTrace {
            label: label.into(),
            direction,
            mode: Mode::Http { head: Vec::new() },
            at: SystemTime::UNIX_EPOCH,
        }
    }

    /// Decodes `bytes` (the next bytes of this direction, which crossed at `at`) and
    /// appends finished lines to `lines`.
    pub fn feed(&mut self, mut bytes: &[u8], at: SystemTime, lines: &mut Vec<String>) {
        self.at = at;
        while !bytes.is_empty() {
            let used = match &mut self.mode {
                Mode::Http { head } => {
                    let before = head.len();
                    head.extend_from_slice(bytes);
                    let from = before.saturating_sub(3);
                    match head[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                        Some(at) => {
                            let end = from + at + 4;
                            let head_bytes = head[..end].to_vec();
                            let used = end - before;
                            self.http_head(&head_bytes, lines);
                            used
                        }
                        None if head.len() > MAX_HEAD => {
                            lines.push(self.line(format!(
                                "HTTP head over {MAX_HEAD} bytes (not traced further)"
                            )));
                            self.mode = Mode::Http { head: Vec::new() };
                            return;
                        }
                        None => bytes.len(),
                    }
                }
                Mode::Body { left, len } => {
                    let take = (*left).min(bytes.len() as u64);
                    *left -= take;
                    if *left == 0 {
                        let len = *len;
                        lines.push(self.line(format!("     (body: {len} bytes)")));
                        self.mode = Mode::Http { head: Vec::new() };
                    }
                    take as usize
                }
                Mode::ChunkSize { line } => match bytes.iter().position(|&b| b == b'\n') {
                    Some(nl) => {
                        line.extend_from_slice(&bytes[..=nl]);
                        let size = chunk_size(line);
                        self.chunk(size, lines);
                        nl + 1
                    }
                    None if line.len() + bytes.len() > MAX_HEAD => {
                        lines.push(
                            self.line("chunk-size line too long (not traced further)".into()),
                        );
                        self.mode = Mode::Http { head: Vec::new() };
                        return;
                    }
                    None => {
                        line.extend_from_slice(bytes);
                        bytes.len()
                    }
                },
                Mode::ChunkData { left, last } => {
                    let take = (*left).min(bytes.len() as u64);
                    *left -= take;
                    if *left == 0 {
                        self.mode = if *last {
                            Mode::Http { head: Vec::new() }
                        } else {
                            Mode::ChunkSize { line: Vec::new() }
                        };
                    }
                    take as usize
                }
                Mode::Header { bytes: header } => {
                    let before = header.len();
                    let take = (14 - before).min(bytes.len());
                    header.extend_from_slice(&bytes[..take]);
                    match decode_header(header) {
                        Some((frame, header_len)) => {
                            let used = header_len - before;
                            self.mode = Mode::Payload {
                                frame,
                                seen: 0,
                                preview: Vec::new(),
                            };
                            self.finish_payload_if_done(lines);
                            used
                        }
                        None => take,
                    }
                }
                Mode::Payload {
                    frame,
                    seen,
                    preview,
                } => {
                    let left = frame.len - *seen;
                    let take = (left.min(bytes.len() as u64)) as usize;
                    let want = PREVIEW.saturating_sub(preview.len()).min(take);
                    preview.extend_from_slice(&bytes[..want]);
                    *seen += take as u64;
                    self.finish_payload_if_done(lines);
                    take
                }
            };
            bytes = &bytes[used..];
        }
    }

    /// A chunk-size line was read: the chunk's data (and its CRLF) follows, or, for the
    /// last chunk (`0`), the body's end. (Trailer fields after the last chunk, which
    /// nothing here sends, are not followed.) A line that is not a size ends the trace of
    /// bodies on this connection: it is printed as a head's first line would be.
    fn chunk(&mut self, size: Option<u64>, lines: &mut Vec<String>) {
        match size {
            Some(0) => {
                lines.push(self.line("     (last chunk)".into()));
                // The empty line that ends the chunked body.
                self.mode = Mode::ChunkData {
                    left: 2,
                    last: true,
                };
            }
            Some(n) => {
                lines.push(self.line(format!("     (chunk: {n} bytes)")));
                self.mode = Mode::ChunkData {
                    left: n.saturating_add(2),
                    last: false,
                };
            }
            None => {
                lines.push(
                    self.line("     (not a chunk-size line; chunks not traced further)".into()),
                );
                self.mode = Mode::Http { head: Vec::new() };
            }
        }
    }

    fn line(&self, text: String) -> String {
        format!(
            "{} [{} {}] {}",
            TimeOfDay(self.at),
            self.label,
            self.direction.arrow(),
            text
        )
    }

    fn http_head(&mut self, head: &[u8], lines: &mut Vec<String>) {
        let text = String::from_utf8_lossy(head);
        let mut upgrade = false;
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        // RFC 9110 §15.2, §15.3.5, §15.4.5: 1xx, 204 and 304 answers have no body,
        // whatever their fields say. (Neither has the answer to a HEAD request, which
        // this one-direction trace cannot tell: its body length is skipped too.)
        let status = text.strip_prefix("HTTP/1.").and_then(|rest| rest.get(2..5));
        let bodiless =
            status.is_some_and(|code| code.starts_with('1') || code == "204" || code == "304");
        for (i, l) in text.split("\r\n").filter(|l| !l.is_empty()).enumerate() {
            // Credentials are never printed (see `http::redact`).
            let l = crate::http::redact::head_line(l, i == 0);
            let shown = if i == 0 {
                format!("HTTP {l}")
            } else {
                format!("     {l}")
            };
            lines.push(self.line(shown));
            let lower = l.to_ascii_lowercase();
            if i == 0 && lower.starts_with("http/1.1 101") {
                upgrade = true;
            }
            if let Some(value) = lower.strip_prefix("content-length:") {
                content_length = value.trim().parse().ok();
            }
            if lower.starts_with("transfer-encoding:") && lower.trim_end().ends_with("chunked") {
                chunked = true;
            }
            if i > 0 && lower.starts_with("upgrade:") && lower.contains("websocket") {
                // A request asking for a WebSocket: frames follow it. (A refused upgrade
                // is answered and closed, so nothing is misread.)
                upgrade |= !text.starts_with("HTTP/");
            }
        }
        self.mode = if upgrade {
            Mode::Header { bytes: Vec::new() }
        } else if bodiless {
            Mode::Http { head: Vec::new() }
        } else if chunked {
            Mode::ChunkSize { line: Vec::new() }
        } else {
            match content_length {
                Some(len) if len > 0 => Mode::Body { left: len, len },
                _ => Mode::Http { head: Vec::new() },
            }
        };
    }

    fn finish_payload_if_done(&mut self, lines: &mut Vec<String>) {
        let Mode::Payload {
            frame,
            seen,
            preview,
        } = &mut self.mode
        else {
            return;
        };
        if *seen < frame.len {
            return;
        }
        let mut shown = preview.clone();
        if let Some(key) = frame.mask {
            apply_mask(&mut shown, key, 0);
        }
        let text = describe(frame, &shown);
        lines.push(self.line(text));
        self.mode = Mode::Header { bytes: Vec::new() };
    }
}

/// A note about connection `label` itself (accepted, upgraded, closed) in the trace's
/// form: `17:03:12.123456 [#0.0] accepted`.
pub fn note(at: SystemTime, label: &str, text: &str) -> String {
    format!("{} [{label}] {text}", TimeOfDay(at))
}

/// Decodes a frame header from its raw bytes; `None` until enough bytes are present.
fn decode_header(b: &[u8]) -> Option<(RawHeader, usize)> {
    if b.len() < 2 {
        return None;
    }
    let masked = b[1] & 0x80 != 0;
    let (len, len_bits, mut at) = match b[1] & 0x7F {
        126 => (
            u16::from_be_bytes(b.get(2..4)?.try_into().ok()?) as u64,
            16,
            4,
        ),
        127 => (u64::from_be_bytes(b.get(2..10)?.try_into().ok()?), 64, 10),
        n => (n as u64, 7, 2),
    };
    let mask = if masked {
        let key: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(key)
    } else {
        None
    };
    Some((
        RawHeader {
            fin: b[0] & 0x80 != 0,
            rsv: (b[0] >> 4) & 0x7,
            opcode: b[0] & 0x0F,
            mask,
            len,
            len_bits,
        },
        at,
    ))
}

fn opcode_name(op: u8) -> &'static str {
    match op {
        0x0 => "continuation",
        0x1 => "text",
        0x2 => "binary",
        0x8 => "close",
        0x9 => "ping",
        0xA => "pong",
        _ => "RESERVED",
    }
}

/// One line describing a complete frame.
fn describe(f: &RawHeader, preview: &[u8]) -> String {
    let mut s = format!(
        "frame FIN={} RSV={:03b} opcode=0x{:X} {} MASK={}",
        u8::from(f.fin),
        f.rsv,
        f.opcode,
        opcode_name(f.opcode),
        u8::from(f.mask.is_some())
    );
    if let Some(k) = f.mask {
        let _ = write!(s, " key={:02x}{:02x}{:02x}{:02x}", k[0], k[1], k[2], k[3]);
    }
    let _ = write!(s, " len={} ({}-bit)", f.len, f.len_bits);
    let truncated = f.len > preview.len() as u64;
    if f.opcode == 0x8 && preview.len() >= 2 {
        // The code as it arrived, even one the parser will reject: the trace shows the wire.
        let code = CloseCode::from_u16_unchecked(u16::from_be_bytes([preview[0], preview[1]]));
        let _ = write!(s, " code={code} reason={}", quote(&preview[2..], truncated));
    } else if !preview.is_empty() {
        match std::str::from_utf8(preview) {
            // Text (and text-like control payloads) as a quoted string...
            Ok(_) if f.opcode != 0x2 => {
                let _ = write!(s, " {}", quote(preview, truncated));
            }
            // ...anything else as hex.
            _ => {
                let _ = write!(s, " hex=");
                for b in preview {
                    let _ = write!(s, "{b:02x}");
                }
                if truncated {
                    s.push('…');
                }
            }
        }
    }
    s
}

fn quote(bytes: &[u8], truncated: bool) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut q = format!("{text:?}");
    if truncated {
        q.push('…');
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::frame::{OpCode, write_frame};
    use std::time::Duration;

    /// 2026-12-01T17:03:12.123456Z, the stamp of every line below.
    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_micros(1_796_144_592_123_456)
    }

    fn trace(direction: Direction, chunks: &[&[u8]]) -> Vec<String> {
        let mut t = WireTrace::new("#0.0", direction);
        let mut lines = Vec::new();
        for c in chunks {
            t.feed(c, at(), &mut lines);
        }
        lines
    }

    /// The lines without their time and label.
    fn texts(lines: &[String]) -> Vec<&str> {
        lines
            .iter()
            .map(|l| l.split_once("] ").unwrap().1)
            .collect()
    }

    #[test]
    fn a_body_is_skipped_by_its_length_and_the_next_head_starts_its_own_line() {
        let stream: &[u8] = b"POST /channels/a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let whole = trace(Direction::In, &[stream]);
        assert_eq!(
            texts(&whole),
            [
                "HTTP POST /channels/a HTTP/1.1",
                "     Content-Length: 5",
                "     (body: 5 bytes)",
                "HTTP GET / HTTP/1.1",
                "     Host: x",
            ]
        );
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(texts(&trace(Direction::In, &bytewise)), texts(&whole));
    }

    #[test]
    fn a_chunked_body_is_followed_chunk_by_chunk_and_bodiless_answers_skip_nothing() {
        let stream: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            5\r\nhello\r\na;ext=1\r\n0123456789\r\n0\r\n\r\n\
            HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n\
            HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let whole = trace(Direction::Out, &[stream]);
        assert_eq!(
            texts(&whole),
            [
                "HTTP HTTP/1.1 200 OK",
                "     Transfer-Encoding: chunked",
                "     (chunk: 5 bytes)",
                "     (chunk: 10 bytes)",
                "     (last chunk)",
                "HTTP HTTP/1.1 204 No Content",
                "     Content-Length: 9",
                "HTTP HTTP/1.1 200 OK",
                "     Content-Length: 0",
            ]
        );
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(texts(&trace(Direction::Out, &bytewise)), texts(&whole));
    }

    #[test]
    fn credentials_in_a_head_are_never_printed() {
        let head = b"GET /channels/a?since=1&token=s3cr3t.t0ken HTTP/1.1\r\nHost: x\r\n\
            Authorization: Bearer s3cr3t.t0ken\r\n\
            Sec-WebSocket-Protocol: pushwire, bearer.s3cr3t.t0ken\r\n\r\n";
        let lines = trace(Direction::In, &[head]).join("\n");
        assert!(!lines.contains("s3cr3t"), "{lines}");
        assert!(
            lines.contains("GET /channels/a?since=1&token=REDACTED HTTP/1.1"),
            "{lines}"
        );
        assert!(lines.contains("Authorization: Bearer REDACTED"), "{lines}");
        assert!(
            lines.contains("Sec-WebSocket-Protocol: pushwire, bearer.REDACTED"),
            "{lines}"
        );
    }

    #[test]
    fn every_line_starts_with_the_time_its_bytes_crossed() {
        let mut t = WireTrace::new("#0.0", Direction::In);
        let mut lines = Vec::new();
        t.feed(b"GET / HTTP/1.1\r\n", at(), &mut lines);
        assert!(lines.is_empty(), "the head is not complete yet");
        let later = at() + Duration::from_millis(250);
        t.feed(b"Host: x\r\n\r\n", later, &mut lines);
        assert_eq!(
            lines,
            [
                "17:03:12.373456 [#0.0 <-] HTTP GET / HTTP/1.1",
                "17:03:12.373456 [#0.0 <-]      Host: x"
            ]
        );
        assert_eq!(
            note(at(), "#0.0", "accepted"),
            "17:03:12.123456 [#0.0] accepted"
        );
    }

    #[test]
    fn upgrade_request_then_masked_frames_are_annotated() {
        let head = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n";
        let mut frames = Vec::new();
        write_frame(
            &mut frames,
            true,
            OpCode::Text,
            b"hello",
            Some([1, 2, 3, 4]),
        );
        write_frame(
            &mut frames,
            true,
            OpCode::Close,
            b"\x03\xe8bye",
            Some([9, 9, 9, 9]),
        );
        let mut all = head.to_vec();
        all.extend_from_slice(&frames);
        // Same lines whether the bytes come at once or one at a time.
        let whole = trace(Direction::In, &[&all]);
        let bytewise: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(trace(Direction::In, &bytewise), whole);
        assert_eq!(
            whole[0],
            "17:03:12.123456 [#0.0 <-] HTTP GET /chat HTTP/1.1"
        );
        assert_eq!(
            whole[3],
            "17:03:12.123456 [#0.0 <-] frame FIN=1 RSV=000 opcode=0x1 text MASK=1 key=01020304 len=5 (7-bit) \"hello\""
        );
        assert_eq!(
            whole[4],
            "17:03:12.123456 [#0.0 <-] frame FIN=1 RSV=000 opcode=0x8 close MASK=1 key=09090909 len=5 (7-bit) code=1000 (normal closure) reason=\"bye\""
        );
    }

    #[test]
    fn server_101_switches_to_frames_and_shows_length_encoding() {
        let mut bytes = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
        write_frame(&mut bytes, true, OpCode::Binary, &[0xAB; 300], None);
        let lines = trace(Direction::Out, &[&bytes]);
        let last = lines.last().unwrap();
        assert!(
            last.contains("opcode=0x2 binary MASK=0 len=300 (16-bit) hex=abab"),
            "{last}"
        );
        assert!(last.ends_with('…'));
    }

    #[test]
    fn reserved_bits_and_opcodes_are_shown_not_hidden() {
        let mut bytes = b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec();
        bytes.extend_from_slice(&[0xF3, 0x00]); // FIN, RSV=111, opcode 3
        let lines = trace(Direction::Out, &[&bytes]);
        assert!(
            lines
                .last()
                .unwrap()
                .contains("RSV=111 opcode=0x3 RESERVED")
        );
    }

    #[test]
    fn plain_http_stays_http() {
        let lines = trace(
            Direction::In,
            &[b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"],
        );
        assert_eq!(lines.iter().filter(|l| l.contains("HTTP GET")).count(), 2);
    }
}
