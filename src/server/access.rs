//! The access log: one line per HTTP request when its answer is complete, one per
//! WebSocket session when its connection ends ([`Config::access_log`]).
//!
//! Only a server with the log on keeps anything for it: an [`AccessBook`] in the core,
//! with one [`Record`] per connection — the peer's address, the request in progress
//! (its method and target, the target's `token` redacted at once, so no secret is ever
//! stored), when it began, and the byte counts its line reports. The request's text
//! lives in a `String` the record keeps for the connection's next request, so a
//! keep-alive connection allocates once, not per request. Off, the core holds no book
//! and each place that would note something costs one branch.
//!
//! Sizes are what was *queued*: an answer's bytes are everything queued for the
//! connection between its request's arrival and its end, measured as bytes written
//! plus bytes still waiting to be written, so a body of shared pieces or a stream of
//! chunks is counted as it is queued, without a hook in every send. Durations are from
//! the request head's arrival to the answer's end (to the connection's end for a
//! WebSocket), on the loop's clock; the time is the calendar time of that moment.
//!
//! [`Config::access_log`]: crate::Config::access_log

// An address is a value, not a socket: `core::net` has the types and no IO.
use core::net::SocketAddr;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use super::ids::ConnId;
use crate::calendar::Rfc3339;
use crate::http::redact;
use crate::http::{RequestHead, StatusCode};
use crate::log::{AccessLog, Level, Log};
use crate::ws::close::CloseCode;

/// The access log's state: a record per connection, and the line being written.
#[derive(Debug)]
pub(crate) struct AccessBook {
    format: AccessLog,
    records: HashMap<ConnId, Record>,
    /// The line being formatted, reused (its capacity) for every line.
    line: String,
    /// The lines of this turn, written together when the turn ends ([`flush`]): one
    /// write for a publish that answers 10,000 parked polls, not 10,000. At most
    /// [`BATCH_MAX`] bytes wait.
    ///
    /// [`flush`]: AccessBook::flush
    batch: String,
}

/// The most bytes of lines kept for the end of the turn; past it they are written at
/// once.
const BATCH_MAX: usize = 64 * 1024;

/// What one connection's lines need (see the module docs for the cost).
#[derive(Debug)]
pub(crate) struct Record {
    peer: SocketAddr,
    /// Bytes written to the connection so far. With those still queued, the bytes
    /// queued in all: an answer's size is the difference between two such totals.
    written: u64,
    stage: Stage,
    /// `METHOD TARGET` (the target redacted) of the request in progress or of the
    /// upgrade that began the WebSocket; its capacity is kept for the next request.
    request: String,
    /// Where the method ends in `request`.
    method_len: usize,
    /// When that request's head arrived.
    began: Instant,
    /// The bytes queued in all when it arrived.
    queued_before: u64,
    /// Its status once sent: a streamed answer's head, or `101`.
    status: Option<StatusCode>,
    /// WebSocket frames read (bytes), since the upgrade.
    ws_read: u64,
    /// How the WebSocket session ended (the code its `on_close` reported).
    close: Option<CloseCode>,
}

/// What a connection's record is following.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing: between requests.
    Idle,
    /// An HTTP request, until its answer is complete.
    Http,
    /// A WebSocket session, until the connection ends.
    WebSocket,
}

/// One line's fields.
struct Line<'a> {
    wall: SystemTime,
    peer: SocketAddr,
    /// Method and (redacted) target; `None` for a request whose head was never read.
    request: Option<(&'a str, &'a str)>,
    status: Option<StatusCode>,
    bytes: u64,
    duration: Duration,
    /// A WebSocket session's close code and bytes read.
    websocket: Option<(CloseCode, u64)>,
}

impl AccessBook {
    /// A book for `format`; `None` when the log is off (nothing is kept at all).
    pub(crate) fn new(format: AccessLog) -> Option<AccessBook> {
        (format != AccessLog::Off).then(|| AccessBook {
            format,
            records: HashMap::new(),
            line: String::new(),
            batch: String::new(),
        })
    }

    /// Queues the line just formatted for the end of the turn.
    fn emit(&mut self, log: &Log) {
        self.batch.push_str(&self.line);
        self.batch.push('\n');
        if self.batch.len() >= BATCH_MAX {
            self.flush(log);
        }
    }

    /// Writes the lines queued this turn; the driver calls it as each turn ends.
    pub(crate) fn flush(&mut self, log: &Log) {
        if !self.batch.is_empty() {
            log.write_lines(Level::Access, &self.batch);
            self.batch.clear();
        }
    }

    /// A connection from `peer` was accepted.
    pub(crate) fn opened(&mut self, id: ConnId, peer: SocketAddr, now: Instant) {
        self.records.insert(
            id,
            Record {
                peer,
                written: 0,
                stage: Stage::Idle,
                request: String::new(),
                method_len: 0,
                began: now,
                queued_before: 0,
                status: None,
                ws_read: 0,
                close: None,
            },
        );
    }

    /// `n` bytes of `id`'s output were written.
    pub(crate) fn wrote(&mut self, id: ConnId, n: usize) {
        if let Some(record) = self.records.get_mut(&id) {
            record.written += n as u64;
        }
    }

    /// `n` bytes of `id`'s WebSocket input were taken as frames.
    pub(crate) fn read_frames(&mut self, id: ConnId, n: usize) {
        if let Some(record) = self.records.get_mut(&id) {
            record.ws_read += n as u64;
        }
    }

    /// A request (or upgrade) with `head` went to the application at `now`; `pending`
    /// bytes of `id`'s output are not yet written.
    pub(crate) fn request(
        &mut self,
        id: ConnId,
        head: &RequestHead<'_>,
        now: Instant,
        pending: usize,
    ) {
        let Some(record) = self.records.get_mut(&id) else {
            return;
        };
        record.request.clear();
        record.request.push_str(head.method());
        record.method_len = record.request.len();
        record.request.push(' ');
        push_redacted(&mut record.request, head.target());
        record.stage = Stage::Http;
        record.began = now;
        record.queued_before = record.written + pending as u64;
        record.status = None;
    }

    /// The answer to `id`'s request started with `status` (a streamed answer's head).
    pub(crate) fn status_sent(&mut self, id: ConnId, status: StatusCode) {
        if let Some(record) = self.records.get_mut(&id) {
            record.status = Some(status);
        }
    }

    /// The answer to `id`'s request is complete (its status, if not sent before, is
    /// `status`): its line.
    pub(crate) fn answered(
        &mut self,
        id: ConnId,
        status: Option<StatusCode>,
        pending: usize,
        now: Instant,
        wall: SystemTime,
        log: &Log,
    ) {
        let Some(record) = self.records.get_mut(&id) else {
            return;
        };
        if record.stage != Stage::Http {
            return;
        }
        record.stage = Stage::Idle;
        let (method, target) = record.split_request();
        let line = Line {
            wall,
            peer: record.peer,
            request: Some((method, target)),
            status: status.or(record.status),
            bytes: record.written + pending as u64 - record.queued_before,
            duration: now.saturating_duration_since(record.began),
            websocket: None,
        };
        write_line(self.format, &line, &mut self.line);
        self.emit(log);
    }

    /// An answer the session gave by itself (a refusal, a `408`, a preflight's): its line.
    pub(crate) fn own_answer(
        &mut self,
        id: ConnId,
        answer: &crate::session::OwnAnswer<'_>,
        now: Instant,
        wall: SystemTime,
        log: &Log,
    ) {
        let Some(record) = self.records.get(&id) else {
            return;
        };
        let mut target = String::new();
        let request = answer.head.map(|head| {
            push_redacted(&mut target, head.target());
            head.method()
        });
        let line = Line {
            wall,
            peer: record.peer,
            request: request.map(|method| (method, target.as_str())),
            status: Some(answer.status),
            bytes: answer.bytes as u64,
            duration: now.saturating_duration_since(answer.since),
            websocket: None,
        };
        write_line(self.format, &line, &mut self.line);
        self.emit(log);
    }

    /// `id`'s upgrade was accepted: from now on its record follows the WebSocket
    /// session (`101`, the frames' bytes, the close code).
    pub(crate) fn upgraded(&mut self, id: ConnId) {
        if let Some(record) = self.records.get_mut(&id) {
            record.stage = Stage::WebSocket;
            record.status = Some(StatusCode::SWITCHING_PROTOCOLS);
        }
    }

    /// `id`'s WebSocket session ended with `code` (its line follows when the connection
    /// does, with every byte of the closing handshake counted).
    pub(crate) fn ws_closed(&mut self, id: ConnId, code: CloseCode) {
        if let Some(record) = self.records.get_mut(&id)
            && record.close.is_none()
        {
            record.close = Some(code);
        }
    }

    /// `id`'s connection is gone, with `pending` bytes unsent: the line of its WebSocket
    /// session, or of a request that got no complete answer (status `-`, or a stream's).
    pub(crate) fn closed(
        &mut self,
        id: ConnId,
        pending: usize,
        now: Instant,
        wall: SystemTime,
        log: &Log,
    ) {
        let Some(record) = self.records.remove(&id) else {
            return;
        };
        let websocket = match record.stage {
            Stage::Idle => return,
            Stage::Http => None,
            Stage::WebSocket => Some((
                // A session whose end no one reported ended without a closing handshake.
                record.close.unwrap_or(CloseCode::ABNORMAL_CLOSURE),
                record.ws_read,
            )),
        };
        let (method, target) = record.split_request();
        let line = Line {
            wall,
            peer: record.peer,
            request: Some((method, target)),
            status: record.status,
            bytes: (record.written + pending as u64).saturating_sub(record.queued_before),
            duration: now.saturating_duration_since(record.began),
            websocket,
        };
        write_line(self.format, &line, &mut self.line);
        self.emit(log);
    }
}

impl Record {
    fn split_request(&self) -> (&str, &str) {
        let (method, rest) = self.request.split_at(self.method_len);
        (method, rest.strip_prefix(' ').unwrap_or(rest))
    }
}

/// Formats `line` into `out` (cleared first).
fn write_line(format: AccessLog, line: &Line<'_>, out: &mut String) {
    out.clear();
    let secs = line.duration.as_secs();
    let millis = line.duration.subsec_millis();
    match format {
        AccessLog::Off => {}
        AccessLog::Text => {
            let _ = write!(out, "{} {} ", Rfc3339(line.wall), line.peer);
            match line.request {
                Some((method, target)) => {
                    push_visible(out, method);
                    out.push(' ');
                    push_visible(out, target);
                }
                None => out.push_str("- -"),
            }
            match line.status {
                Some(status) => {
                    let _ = write!(out, " {}", status.as_u16());
                }
                None => out.push_str(" -"),
            }
            let _ = write!(out, " {} {secs}.{millis:03}", line.bytes);
            if let Some((code, read)) = line.websocket {
                let _ = write!(out, " close={} in={read}", code.as_u16());
            }
        }
        AccessLog::Json => {
            let _ = write!(
                out,
                r#"{{"time":"{}","peer":"{}","#,
                Rfc3339(line.wall),
                line.peer
            );
            match line.request {
                Some((method, target)) => {
                    out.push_str(r#""method":"#);
                    push_json_string(out, method);
                    out.push_str(r#","target":"#);
                    push_json_string(out, target);
                }
                None => out.push_str(r#""method":null,"target":null"#),
            }
            match line.status {
                Some(status) => {
                    let _ = write!(out, r#","status":{}"#, status.as_u16());
                }
                None => out.push_str(r#","status":null"#),
            }
            let _ = write!(
                out,
                r#","bytes":{},"duration":{secs}.{millis:03}"#,
                line.bytes
            );
            if let Some((code, read)) = line.websocket {
                let _ = write!(out, r#","close":{},"bytes_in":{read}"#, code.as_u16());
            }
            out.push('}');
        }
    }
}

/// Appends `target` with the value of every `token` query parameter replaced by
/// `REDACTED` ([`redact::target`]): a browser's EventSource or WebSocket can pass its
/// access token only there, and a log line must never carry it.
pub(crate) fn push_redacted(out: &mut String, target: &str) {
    out.push_str(&redact::target(target));
}

/// Appends `s` for a space-separated line: a space or control character (which a
/// request line cannot hold, but a line must never be split or forged) as `\xNN`.
fn push_visible(out: &mut String, s: &str) {
    for c in s.chars() {
        if c.is_ascii_control() || c == ' ' {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            out.push(c);
        }
    }
}

/// Appends `s` as a JSON string (RFC 8259 §7): quotation mark, reverse solidus and the
/// control characters escaped, everything else as it is.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(target: &str) -> String {
        let mut out = String::new();
        push_redacted(&mut out, target);
        out
    }

    #[test]
    fn token_values_are_redacted_and_everything_else_kept() {
        assert_eq!(redacted("/channels/a"), "/channels/a");
        assert_eq!(
            redacted("/channels/a?since=3&token=s3cr3t&timeout=30"),
            "/channels/a?since=3&token=REDACTED&timeout=30"
        );
        assert_eq!(
            redacted("/c?token=a&token=b"),
            "/c?token=REDACTED&token=REDACTED"
        );
        // However the name is spelled, a reader decoding it would see `token`.
        assert_eq!(redacted("/c?%74oken=x"), "/c?%74oken=REDACTED");
        assert_eq!(
            redacted("/c?TOKEN=x&Token=y"),
            "/c?TOKEN=REDACTED&Token=REDACTED"
        );
        // Other names, empty values, no value, an empty query.
        assert_eq!(redacted("/c?tokens=x&atoken=y"), "/c?tokens=x&atoken=y");
        assert_eq!(redacted("/c?token="), "/c?token=REDACTED");
        assert_eq!(redacted("/c?token"), "/c?token");
        assert_eq!(redacted("/c?"), "/c?");
        assert_eq!(redacted("/c?%zzoken=x&%7"), "/c?%zzoken=x&%7");
        assert_eq!(
            redacted("http://h.example/c?token=x"),
            "http://h.example/c?token=REDACTED"
        );
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\u{1}\td");
        assert_eq!(out, r#""a\"b\\c\u0001\u0009d""#);
        let parsed: String = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\u{1}\td");
    }

    #[test]
    fn text_fields_cannot_hold_a_space_or_a_line_break() {
        let mut out = String::new();
        push_visible(&mut out, "/a b\r\nc");
        assert_eq!(out, "/a\\x20b\\x0d\\x0ac");
    }

    fn sample<'a>(
        websocket: Option<(CloseCode, u64)>,
        request: Option<(&'a str, &'a str)>,
    ) -> Line<'a> {
        Line {
            wall: SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_144_592_123),
            peer: "127.0.0.1:51234".parse().unwrap(),
            request,
            status: Some(if websocket.is_some() {
                StatusCode::SWITCHING_PROTOCOLS
            } else {
                StatusCode::OK
            }),
            bytes: 152,
            duration: Duration::from_micros(3_250_900),
            websocket,
        }
    }

    #[test]
    fn lines_have_every_field_in_both_formats() {
        let mut out = String::new();
        let get = Some(("GET", "/channels/lobby?since=0"));
        write_line(AccessLog::Text, &sample(None, get), &mut out);
        assert_eq!(
            out,
            "2026-12-01T17:03:12.123Z 127.0.0.1:51234 GET /channels/lobby?since=0 200 152 3.250"
        );
        let ws = Some((CloseCode::NORMAL, 87));
        write_line(AccessLog::Text, &sample(ws, get), &mut out);
        assert_eq!(
            out,
            "2026-12-01T17:03:12.123Z 127.0.0.1:51234 GET /channels/lobby?since=0 101 152 3.250 \
             close=1000 in=87"
        );
        write_line(AccessLog::Text, &sample(None, None), &mut out);
        assert_eq!(
            out,
            "2026-12-01T17:03:12.123Z 127.0.0.1:51234 - - 200 152 3.250"
        );

        write_line(AccessLog::Json, &sample(ws, get), &mut out);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "time": "2026-12-01T17:03:12.123Z",
                "peer": "127.0.0.1:51234",
                "method": "GET",
                "target": "/channels/lobby?since=0",
                "status": 101,
                "bytes": 152,
                "duration": 3.25,
                "close": 1000,
                "bytes_in": 87,
            })
        );
        let mut unanswered = sample(None, None);
        unanswered.status = None;
        write_line(AccessLog::Json, &unanswered, &mut out);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v["method"].is_null() && v["target"].is_null() && v["status"].is_null());
    }

    #[test]
    fn a_record_stays_small() {
        // Kept per connection while the log is on (README: the per-request cost).
        assert!(
            std::mem::size_of::<Record>() <= 128,
            "Record is {} bytes",
            std::mem::size_of::<Record>()
        );
    }
}
