//! The little JSON the hub writes (RFC 8259), by hand.
//!
//! The hub's payloads are a handful of fixed shapes holding integers and one string, so a
//! writer for exactly those shapes is smaller than a dependency and easy to check. The one
//! part that must be exactly right is string escaping ([`write_str`]): message data is
//! whatever a client published.
//!
//! Shapes:
//!
//! ```text
//! {"id":N,"epoch":"E"}                              published
//! {"id":N,"data":"..."}                             message_frame (one message)
//! {"id":N,"data":<JSON value>}                      message_frame_json (a JSON payload)
//! {"epoch":"E"[,"reset":true],"next":C}             subscribed_frame (a WebSocket's first)
//! {"missed":K}                                      missed_frame
//! {"epoch":"E"[,"reset":true],"messages":[{"id":..,"data":".."},...],"next":M[,"missed":K]}
//!                                                   poll_batch
//! ```
//!
//! The same shapes are read back by [`parse_batch`], [`parse_message`],
//! [`parse_published`], [`parse_subscribed`] and [`parse_missed`] — for clients of the hub (the load
//! generator), the tests and the fuzz targets. The reader is strict JSON for these shapes
//! and shares no code with the writer, so each checks the other.
//!
//! JSON the hub did not write — JSON payloads, `pushwire.v1` commands — is read by
//! [`strict`]: the whole RFC 8259 grammar, bounded ([`validate`], [`Members`]).

use std::fmt::Write;

pub mod strict;

pub use strict::{MAX_PAYLOAD_DEPTH, Members, RawValue, ValueKind, validate};

use crate::hub::epoch::Epoch;

/// Appends `s` to `out` as a JSON string literal, quotes included (RFC 8259 §7).
///
/// Escaped: `"` and `\` (which must be), and every control character U+0000–U+001F
/// (which must be): as `\b \t \n \f \r` where JSON has a short form, `\u00XX` otherwise.
/// Also U+2028 and U+2029 as `\u2028` and `\u2029`: JSON allows them raw, but JavaScript
/// before ES2019 ends a string literal at them, so escaping keeps the output safe to embed
/// in a script. Everything else, including all other non-ASCII text, is written as is: the
/// output is UTF-8 (RFC 8259 §8.1), and `\u` escapes would only make it longer.
///
/// ```
/// let mut out = String::new();
/// pushwire::hub::json::write_str(&mut out, "say \"hi\"\n→ ok");
/// assert_eq!(out, r#""say \"hi\"\n→ ok""#);
/// ```
pub fn write_str(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    // The exact length first, so the text is written into one allocation: a message of
    // control characters grows sixfold, and growing by doubling would copy it over and
    // over (the hub writes one frame per message, up to `max_message` bytes of input).
    out.reserve(escaped_len(bytes) + 2);
    out.push('"');
    // Copy runs of bytes that need no escape in one piece. Every escaped character
    // begins with a byte that starts a character (ASCII, or U+2028/9's lead byte), so
    // the runs end on character boundaries.
    let mut run_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escape = match b {
            0x00..=0x1F => CONTROL_ESCAPES[usize::from(b)],
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0xE2 => match line_separator(&bytes[i..]) {
                Some(escape) => escape,
                None => {
                    i += 1;
                    continue;
                }
            },
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&s[run_start..i]);
        out.push_str(escape);
        i += if b == 0xE2 { 3 } else { 1 };
        run_start = i;
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

/// What [`write_str`] writes for `bytes`, quotes excluded: one byte each, except the
/// escaped ones.
fn escaped_len(bytes: &[u8]) -> usize {
    let mut extra = 0;
    for (i, &b) in bytes.iter().enumerate() {
        extra += match b {
            0x00..=0x1F => CONTROL_ESCAPES[usize::from(b)].len() - 1,
            b'"' | b'\\' => 1,
            // `\u2028` (6 bytes) for the 3 of U+2028 or U+2029.
            0xE2 if line_separator(&bytes[i..]).is_some() => 3,
            _ => 0,
        };
    }
    bytes.len() + extra
}

/// `\u2028` or `\u2029` if `rest` begins with U+2028 LINE SEPARATOR or U+2029
/// PARAGRAPH SEPARATOR (UTF-8 `E2 80 A8` / `E2 80 A9`).
fn line_separator(rest: &[u8]) -> Option<&'static str> {
    match rest {
        [0xE2, 0x80, 0xA8, ..] => Some("\\u2028"),
        [0xE2, 0x80, 0xA9, ..] => Some("\\u2029"),
        _ => None,
    }
}

/// How each control character U+0000–U+001F is written: the short form where JSON has
/// one (RFC 8259 §7: `\b \t \n \f \r`), `\u00XX` otherwise.
const CONTROL_ESCAPES: [&str; 32] = [
    "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007", "\\b",
    "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f", "\\u0010", "\\u0011", "\\u0012",
    "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019", "\\u001a",
    "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
];

/// Appends a decimal integer. Writing to a `String` cannot fail, so the `fmt::Result`
/// is always `Ok`.
fn write_u64(out: &mut String, n: u64) {
    let _ = write!(out, "{n}");
}

/// Appends one message object, `{"id":N,"data":"..."}`.
pub fn write_message(out: &mut String, id: u64, data: &str) {
    out.push_str("{\"id\":");
    write_u64(out, id);
    out.push_str(",\"data\":");
    write_str(out, data);
    out.push('}');
}

/// One message as the WebSocket subscriber's text frame and the poll batch's element:
/// `{"id":N,"data":"..."}`.
pub fn message_frame(id: u64, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    write_message(&mut out, id, data);
    out
}

/// One message whose data is a JSON payload (issue 12 §4): `{"id":N,"data":<value>}`,
/// the value's text as it was published (already valid JSON: [`validate`]d), not
/// escaped into a string.
pub fn message_frame_json(id: u64, value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 32);
    out.push_str("{\"id\":");
    write_u64(&mut out, id);
    out.push_str(",\"data\":");
    out.push_str(value);
    out.push('}');
    out
}

/// The frame telling a WebSocket subscriber that `k` messages it asked for were evicted
/// before it could get them: `{"missed":K}`.
pub fn missed_frame(k: u64) -> String {
    let mut out = String::from("{\"missed\":");
    write_u64(&mut out, k);
    out.push('}');
    out
}

/// The answer to a publish: `{"id":N,"epoch":"E"}`.
pub fn published(id: u64, epoch: Epoch) -> String {
    let mut out = String::from("{\"id\":");
    write_u64(&mut out, id);
    out.push_str(",\"epoch\":\"");
    out.push_str(epoch.text().as_str());
    out.push_str("\"}");
    out
}

/// A WebSocket subscription's first frame: `{"epoch":"E","next":C}`, with
/// `"reset":true` after the epoch when the subscriber's cursor was from another stream
/// (or ahead of this one). `next` is where the subscriber stands before the replay that
/// follows: each later `{"missed":K}` moves it on by K, each message to its id.
pub fn subscribed_frame(epoch: Epoch, next: u64, reset: bool) -> String {
    let mut out = String::with_capacity(48);
    write_epoch_reset(&mut out, epoch, reset);
    out.push_str(",\"next\":");
    write_u64(&mut out, next);
    out.push('}');
    out
}

/// `{"epoch":"E"` and `,"reset":true` if `reset`: how every answer that names a stream
/// position begins.
fn write_epoch_reset(out: &mut String, epoch: Epoch, reset: bool) {
    out.push_str("{\"epoch\":\"");
    out.push_str(epoch.text().as_str());
    out.push('"');
    if reset {
        out.push_str(",\"reset\":true");
    }
}

/// What a poll answer says besides its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    /// The stream the messages belong to.
    pub epoch: Epoch,
    /// The client's cursor was from another stream (or ahead of this one): the messages
    /// are from this stream's start, and the client must drop its cursor.
    pub reset: bool,
    /// The id to poll `since` next.
    pub next: u64,
    /// Messages after the cursor that were evicted before this answer (0: none).
    pub missed: u64,
}

/// A long-poll answer built from `(id, data)` pairs:
/// `{"epoch":"E"[,"reset":true],"messages":[{"id":..,"data":".."},...],"next":M}`, plus
/// `,"missed":K` when `missed > 0`.
pub fn poll_batch<'a>(
    messages: impl IntoIterator<Item = (u64, &'a str)>,
    meta: BatchMeta,
) -> String {
    let mut out = batch_prefix(meta);
    for (i, (id, data)) in messages.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_message(&mut out, id, data);
    }
    out.push_str(&batch_suffix(meta));
    out
}

/// The same answer as [`poll_batch`], built from message objects that are already encoded
/// (each a [`message_frame`]): the objects are joined, never re-escaped.
pub fn poll_batch_of_frames<'a>(
    frames: impl IntoIterator<Item = &'a str>,
    meta: BatchMeta,
) -> String {
    let mut out = batch_prefix(meta);
    for (i, frame) in frames.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(frame);
    }
    out.push_str(&batch_suffix(meta));
    out
}

/// A poll answer's text before its first message: `{"epoch":"E"[,"reset":true],"messages":[`.
/// With [`batch_suffix`] and the frames joined by `,` in between, it makes the whole
/// answer; the hub sends it that way, the frames as shared pieces.
pub fn batch_prefix(meta: BatchMeta) -> String {
    let mut out = String::with_capacity(64);
    write_epoch_reset(&mut out, meta.epoch, meta.reset);
    out.push_str(",\"messages\":[");
    out
}

/// A poll answer's text after its last message: `],"next":M[,"missed":K]}`.
pub fn batch_suffix(meta: BatchMeta) -> String {
    let mut out = String::from("],\"next\":");
    write_u64(&mut out, meta.next);
    if meta.missed > 0 {
        out.push_str(",\"missed\":");
        write_u64(&mut out, meta.missed);
    }
    out.push('}');
    out
}

// ===== reading =====

/// Where and why hub JSON could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset of the problem.
    pub at: usize,
    /// What was expected there.
    pub expected: &'static str,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected {} at byte {}", self.expected, self.at)
    }
}

impl std::error::Error for JsonError {}

/// A long-poll answer, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The stream's epoch, as sent.
    pub epoch: String,
    /// `"reset":true` was there: the cursor was from another stream.
    pub reset: bool,
    /// The messages, as (id, data).
    pub messages: Vec<(u64, String)>,
    /// The id to poll `since` next.
    pub next: u64,
    /// Messages evicted before they could be delivered (0 when absent).
    pub missed: u64,
}

/// Reads a long-poll answer (see [`poll_batch`]).
pub fn parse_batch(body: &[u8]) -> Result<Batch, JsonError> {
    let mut c = Cursor { s: body, at: 0 };
    let (epoch, reset) = c.epoch_reset()?;
    c.expect(",\"messages\":[")?;
    let mut messages = Vec::new();
    if !c.eat("]") {
        loop {
            messages.push(c.message()?);
            if !c.eat(",") {
                break;
            }
        }
        c.expect("]")?;
    }
    c.expect(",\"next\":")?;
    let next = c.u64()?;
    let missed = if c.eat(",\"missed\":") { c.u64()? } else { 0 };
    c.expect("}")?;
    c.end()?;
    Ok(Batch {
        epoch,
        reset,
        messages,
        next,
        missed,
    })
}

/// Reads one message object `{"id":N,"data":"..."}` (a subscriber's frame).
pub fn parse_message(text: &[u8]) -> Result<(u64, String), JsonError> {
    let mut c = Cursor { s: text, at: 0 };
    let message = c.message()?;
    c.end()?;
    Ok(message)
}

/// Reads the publisher's answer `{"id":N,"epoch":"E"}`.
pub fn parse_published(body: &[u8]) -> Result<(u64, String), JsonError> {
    let mut c = Cursor { s: body, at: 0 };
    c.expect("{\"id\":")?;
    let id = c.u64()?;
    c.expect(",\"epoch\":\"")?;
    let epoch = c.string()?;
    c.expect("}")?;
    c.end()?;
    Ok((id, epoch))
}

/// A subscription's first frame, read back (see [`subscribed_frame`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    /// The stream's epoch, as sent.
    pub epoch: String,
    /// The subscriber's cursor was from another stream.
    pub reset: bool,
    /// Where the subscriber stands before the replay.
    pub next: u64,
}

/// Reads a subscription's first frame `{"epoch":"E"[,"reset":true],"next":C}`.
pub fn parse_subscribed(text: &[u8]) -> Result<Subscribed, JsonError> {
    let mut c = Cursor { s: text, at: 0 };
    let (epoch, reset) = c.epoch_reset()?;
    c.expect(",\"next\":")?;
    let next = c.u64()?;
    c.expect("}")?;
    c.end()?;
    Ok(Subscribed { epoch, reset, next })
}

/// Reads a subscriber's `{"missed":K}` notice.
pub fn parse_missed(text: &[u8]) -> Result<u64, JsonError> {
    let mut c = Cursor { s: text, at: 0 };
    c.expect("{\"missed\":")?;
    let n = c.u64()?;
    c.expect("}")?;
    c.end()?;
    Ok(n)
}

/// Reads one JSON string literal (RFC 8259 §7) that is the whole input.
pub fn parse_str(json: &[u8]) -> Result<String, JsonError> {
    let mut c = Cursor { s: json, at: 0 };
    c.expect("\"")?;
    let s = c.string()?;
    c.end()?;
    Ok(s)
}

/// A cursor over JSON text in the hub's shapes (not a general JSON parser).
struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn fail<T>(&self, expected: &'static str) -> Result<T, JsonError> {
        Err(JsonError {
            at: self.at,
            expected,
        })
    }

    fn eat(&mut self, literal: &str) -> bool {
        let found = self.s[self.at..].starts_with(literal.as_bytes());
        if found {
            self.at += literal.len();
        }
        found
    }

    fn expect(&mut self, literal: &'static str) -> Result<(), JsonError> {
        if self.eat(literal) {
            Ok(())
        } else {
            self.fail(literal)
        }
    }

    fn end(&self) -> Result<(), JsonError> {
        if self.at == self.s.len() {
            Ok(())
        } else {
            self.fail("the end")
        }
    }

    /// A non-negative integer without leading zeros (RFC 8259 §6).
    fn u64(&mut self) -> Result<u64, JsonError> {
        let start = self.at;
        while self.s.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        let digits = &self.s[start..self.at];
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            self.at = start;
            return self.fail("a number");
        }
        let parsed = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok());
        match parsed {
            Some(n) => Ok(n),
            None => {
                self.at = start;
                self.fail("a number that fits in 64 bits")
            }
        }
    }

    /// `{"epoch":"E"` and an optional `,"reset":true`.
    fn epoch_reset(&mut self) -> Result<(String, bool), JsonError> {
        self.expect("{\"epoch\":\"")?;
        let epoch = self.string()?;
        Ok((epoch, self.eat(",\"reset\":true")))
    }

    /// `{"id":N,"data":"..."}`.
    fn message(&mut self) -> Result<(u64, String), JsonError> {
        self.expect("{\"id\":")?;
        let id = self.u64()?;
        self.expect(",\"data\":\"")?;
        let data = self.string()?;
        self.expect("}")?;
        Ok((id, data))
    }

    /// A string's contents after its opening quote; consumes the closing one. Raw
    /// control characters are refused, and `\u` surrogates must pair.
    fn string(&mut self) -> Result<String, JsonError> {
        let mut out = String::new();
        loop {
            let start = self.at;
            while self
                .s
                .get(self.at)
                .is_some_and(|&b| b != b'"' && b != b'\\' && b >= 0x20)
            {
                self.at += 1;
            }
            match std::str::from_utf8(&self.s[start..self.at]) {
                Ok(run) => out.push_str(run),
                Err(_) => return self.fail("UTF-8 text"),
            }
            match self.s.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let Some(&escape) = self.s.get(self.at) else {
                        return self.fail("an escape");
                    };
                    self.at += 1;
                    out.push(match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => {
                            self.at -= 1;
                            return self.fail("a valid escape");
                        }
                    });
                }
                Some(_) => return self.fail("no raw control character"),
                None => return self.fail("a closing quote"),
            }
        }
    }

    /// The rest of a `\u` escape: four hex digits, and a second escape for the low half
    /// of a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let unit = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&unit) {
            self.expect("\\u")?;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return self.fail("a low surrogate");
            }
            0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
        } else {
            unit
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.fail("a paired surrogate"),
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let Some(digits) = self.s.get(self.at..self.at + 4) else {
            return self.fail("four hex digits");
        };
        let mut value = 0;
        for &d in digits {
            let Some(v) = crate::http::token::hex_value(d) else {
                return self.fail("four hex digits");
            };
            value = value * 16 + u32::from(v);
        }
        self.at += 4;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        write_str(&mut out, s);
        out
    }

    /// The reader, for one string literal, as the check on the writer.
    fn parse_string(json: &str) -> Result<String, JsonError> {
        parse_str(json.as_bytes())
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted(""), r#""""#);
        assert_eq!(quoted("/"), r#""/""#, "the solidus needs no escape");
    }

    #[test]
    fn every_control_character_is_escaped_with_its_short_or_unicode_form() {
        let short = [
            (0x08, "\\b"),
            (0x09, "\\t"),
            (0x0A, "\\n"),
            (0x0C, "\\f"),
            (0x0D, "\\r"),
        ];
        for code in 0u32..0x20 {
            let c = char::from_u32(code).unwrap();
            let expected = match short.iter().find(|(k, _)| *k == code) {
                Some((_, s)) => format!("\"{s}\""),
                None => format!("\"\\u{code:04x}\""),
            };
            assert_eq!(quoted(&c.to_string()), expected, "U+{code:04X}");
        }
        assert_eq!(quoted("\u{1f}\u{0}"), r#""\u001f\u0000""#);
        // Every kind of escape.
        let text = "a\"b\\c\n\u{1}\u{2028}\u{2029}é\u{e2}\u{1f}→\u{7f}";
        let mut out = String::new();
        write_str(&mut out, text);
        // (U+00E2 `â` and `→`, E2 86 92, are not line separators.)
        let expected = concat!(r#""a\"b\\c\n\u0001\u2028\u2029éâ\u001f→"#, "\u{7f}", "\"");
        assert_eq!(out, expected);
        // The size reserved up front is the size written: nothing grows on the way.
        assert_eq!(out.len(), escaped_len(text.as_bytes()) + 2);
        assert_eq!(
            quoted("\u{7f}"),
            "\"\u{7f}\"",
            "DEL is not a JSON control character"
        );
    }

    #[test]
    fn non_ascii_passes_through_as_utf8() {
        assert_eq!(quoted("café ünïcödé 日本語"), "\"café ünïcödé 日本語\"");
        assert_eq!(quoted("🦀 emoji 👍🏽"), "\"🦀 emoji 👍🏽\"");
        assert_eq!(quoted("\u{10FFFF}\u{FEFF}"), "\"\u{10FFFF}\u{FEFF}\"");
    }

    #[test]
    fn line_and_paragraph_separators_are_escaped_for_javascript() {
        assert_eq!(quoted("a\u{2028}b\u{2029}c"), r#""a\u2028b\u2029c""#);
    }

    #[test]
    fn escaping_in_the_middle_keeps_the_surrounding_text() {
        assert_eq!(quoted("ab\ncd\"ef"), r#""ab\ncd\"ef""#);
        assert_eq!(quoted("é\té"), "\"é\\té\"");
    }

    #[test]
    fn written_strings_parse_back_to_the_original() {
        let mut rng = XorShift(0xDEAD_BEEF);
        let pool: Vec<char> = "\"\\/\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} aZ~\u{7f}\u{80}é\u{2028}\u{2029}日🦀\u{FFFF}"
            .chars()
            .collect();
        for _ in 0..2000 {
            let len = (rng.next() % 12) as usize;
            let s: String = (0..len)
                .map(|_| pool[(rng.next() % pool.len() as u64) as usize])
                .collect();
            let json = quoted(&s);
            assert_eq!(parse_string(&json), Ok(s.clone()), "{json}");
        }
        // Every scalar value below U+3000 and a sample above, one at a time.
        for code in (0..0x3000).chain((0x3000..0x11_0000).step_by(97)) {
            if let Some(c) = char::from_u32(code) {
                let s = c.to_string();
                assert_eq!(parse_string(&quoted(&s)), Ok(s));
            }
        }
    }

    #[test]
    fn the_reader_rejects_what_json_forbids() {
        // Guards the guard: a reader that accepted everything would prove nothing.
        assert!(parse_string("\"\n\"").is_err());
        assert!(parse_string("\"\\x\"").is_err());
        assert!(parse_string("\"abc").is_err());
        assert!(parse_string("\"\\ud800\"").is_err());
        assert!(parse_string("\"a\"b").is_err());
        assert!(parse_string("\"\\udc00\"").is_err(), "a lone low surrogate");
        assert!(
            parse_string("\"\\ud800\\u0041\"").is_err(),
            "a high surrogate with no low"
        );
        assert_eq!(parse_string("\"\\ud83e\\udd80\""), Ok("🦀".into()));
    }

    fn epoch() -> Epoch {
        Epoch::from_bits(0x0123_4567_89AB_CDEF).unwrap()
    }

    fn meta(next: u64, missed: u64, reset: bool) -> BatchMeta {
        BatchMeta {
            epoch: epoch(),
            reset,
            next,
            missed,
        }
    }

    #[test]
    fn every_shape_the_writer_produces_reads_back() {
        let batch = poll_batch([(3, "a\"b"), (4, "日\n")], meta(4, 2, false));
        assert_eq!(
            parse_batch(batch.as_bytes()),
            Ok(Batch {
                epoch: epoch().to_string(),
                reset: false,
                messages: vec![(3, "a\"b".into()), (4, "日\n".into())],
                next: 4,
                missed: 2,
            })
        );
        let empty = poll_batch([], meta(9, 0, true));
        assert_eq!(
            parse_batch(empty.as_bytes()).map(|b| (b.messages.len(), b.next, b.missed, b.reset)),
            Ok((0, 9, 0, true))
        );
        assert_eq!(
            parse_message(message_frame(7, "x").as_bytes()),
            Ok((7, "x".into()))
        );
        assert_eq!(
            parse_published(published(12, epoch()).as_bytes()),
            Ok((12, epoch().to_string()))
        );
        assert_eq!(parse_missed(missed_frame(5).as_bytes()), Ok(5));
        for reset in [false, true] {
            assert_eq!(
                parse_subscribed(subscribed_frame(epoch(), 8, reset).as_bytes()),
                Ok(Subscribed {
                    epoch: epoch().to_string(),
                    reset,
                    next: 8
                })
            );
        }
    }

    #[test]
    fn the_reader_refuses_malformed_shapes_and_says_where() {
        assert_eq!(
            parse_missed(b"{\"missed\":07}"),
            Err(JsonError {
                at: 10,
                expected: "a number"
            })
        );
        assert_eq!(
            parse_missed(b"{\"missed\":7} "),
            Err(JsonError {
                at: 12,
                expected: "the end"
            })
        );
        assert!(parse_message(b"{\"id\":1,\"data\":\"x}").is_err());
        assert!(
            parse_batch(b"{\"epoch\":\"e\",\"messages\":[],\"next\":18446744073709551616}")
                .is_err()
        );
        assert!(
            parse_batch(b"{\"messages\":[],\"next\":1}").is_err(),
            "no epoch"
        );
    }

    #[test]
    fn payload_shapes_are_exact() {
        assert_eq!(
            message_frame(7, "hi \"you\""),
            r#"{"id":7,"data":"hi \"you\""}"#
        );
        assert_eq!(missed_frame(3), r#"{"missed":3}"#);
        assert_eq!(
            message_frame_json(8, "{\"a\": [1, null]}"),
            r#"{"id":8,"data":{"a": [1, null]}}"#
        );
        assert_eq!(published(1, epoch()), r#"{"id":1,"epoch":"ASNFZ4mrze8"}"#);
        assert_eq!(
            published(u64::MAX, epoch()),
            r#"{"id":18446744073709551615,"epoch":"ASNFZ4mrze8"}"#
        );
        assert_eq!(
            subscribed_frame(epoch(), 0, true),
            r#"{"epoch":"ASNFZ4mrze8","reset":true,"next":0}"#
        );
    }

    #[test]
    fn poll_batches_say_epoch_then_messages_then_next_then_missed() {
        assert_eq!(
            poll_batch([(4, "a"), (5, "b\n")], meta(5, 0, false)),
            r#"{"epoch":"ASNFZ4mrze8","messages":[{"id":4,"data":"a"},{"id":5,"data":"b\n"}],"next":5}"#
        );
        assert_eq!(
            poll_batch([(9, "x")], meta(9, 2, true)),
            r#"{"epoch":"ASNFZ4mrze8","reset":true,"messages":[{"id":9,"data":"x"}],"next":9,"missed":2}"#
        );
        assert_eq!(
            poll_batch([], meta(3, 0, false)),
            r#"{"epoch":"ASNFZ4mrze8","messages":[],"next":3}"#
        );
    }

    #[test]
    fn batches_of_frames_equal_batches_encoded_from_scratch() {
        let messages = [(1, "one"), (2, "tw\"o"), (3, "🦀")];
        let frames: Vec<String> = messages
            .iter()
            .map(|&(id, d)| message_frame(id, d))
            .collect();
        for (missed, reset) in [(0, false), (12, true)] {
            let meta = meta(3, missed, reset);
            let joined = poll_batch_of_frames(frames.iter().map(String::as_str), meta);
            assert_eq!(joined, poll_batch(messages, meta));
            assert_eq!(
                joined,
                format!(
                    "{}{}{}",
                    batch_prefix(meta),
                    frames.join(","),
                    batch_suffix(meta)
                )
            );
        }
    }
}
