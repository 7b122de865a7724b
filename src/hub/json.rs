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
//! {"id":N}                                          published
//! {"id":N,"data":"..."}                             message_frame (one message)
//! {"missed":K}                                      missed_frame
//! {"messages":[{"id":..,"data":".."},...],"next":M[,"missed":K]}   poll_batch
//! ```

use std::fmt::Write;

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
    out.reserve(s.len() + 2);
    out.push('"');
    // Copy runs of characters that need no escape in one piece.
    let mut run_start = 0;
    for (i, c) in s.char_indices() {
        let short = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{08}' => "\\b",
            '\u{0C}' => "\\f",
            '\u{2028}' => "\\u2028",
            '\u{2029}' => "\\u2029",
            '\u{00}'..='\u{1F}' => "",
            _ => continue,
        };
        out.push_str(&s[run_start..i]);
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(c as usize) >> 4] as char);
            out.push(HEX[(c as usize) & 0xF] as char);
        } else {
            out.push_str(short);
        }
        run_start = i + c.len_utf8();
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

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

/// The frame telling a WebSocket subscriber that `k` messages it asked for were evicted
/// before it could get them: `{"missed":K}`.
pub fn missed_frame(k: u64) -> String {
    let mut out = String::from("{\"missed\":");
    write_u64(&mut out, k);
    out.push('}');
    out
}

/// The answer to a publish: `{"id":N}`.
pub fn published(id: u64) -> String {
    let mut out = String::from("{\"id\":");
    write_u64(&mut out, id);
    out.push('}');
    out
}

/// A long-poll answer built from `(id, data)` pairs:
/// `{"messages":[{"id":..,"data":".."},...],"next":M}`, plus `,"missed":K` when `missed`
/// is `Some`.
pub fn poll_batch<'a>(
    messages: impl IntoIterator<Item = (u64, &'a str)>,
    next: u64,
    missed: Option<u64>,
) -> String {
    let mut out = String::from("{\"messages\":[");
    for (i, (id, data)) in messages.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_message(&mut out, id, data);
    }
    finish_batch(&mut out, next, missed);
    out
}

/// The same answer as [`poll_batch`], built from message objects that are already encoded
/// (each a [`message_frame`]): the objects are joined, never re-escaped. This is how the
/// hub answers, since it keeps every retained message's frame.
pub fn poll_batch_of_frames<'a>(
    frames: impl IntoIterator<Item = &'a str>,
    next: u64,
    missed: Option<u64>,
) -> String {
    let frames = frames.into_iter();
    let mut out = String::with_capacity(32 + 64 * frames.size_hint().0);
    out.push_str("{\"messages\":[");
    for (i, frame) in frames.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(frame);
    }
    finish_batch(&mut out, next, missed);
    out
}

/// Closes the `messages` array and appends `next` and the optional `missed`.
fn finish_batch(out: &mut String, next: u64, missed: Option<u64>) {
    out.push_str("],\"next\":");
    write_u64(out, next);
    if let Some(k) = missed {
        out.push_str(",\"missed\":");
        write_u64(out, k);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        write_str(&mut out, s);
        out
    }

    /// A strict parser for one JSON string literal (RFC 8259 §7), for checking the writer:
    /// the whole input must be the literal; raw control characters are refused; `\u`
    /// escapes must be four hex digits and surrogates must pair.
    fn parse_string(json: &str) -> Result<String, String> {
        let mut chars = json.chars();
        if chars.next() != Some('"') {
            return Err("no opening quote".into());
        }
        let mut out = String::new();
        loop {
            match chars.next().ok_or("unterminated")? {
                '"' => break,
                '\\' => match chars.next().ok_or("dangling backslash")? {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'b' => out.push('\u{08}'),
                    'f' => out.push('\u{0C}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let unit = hex4(&mut chars)?;
                        let code = if (0xD800..0xDC00).contains(&unit) {
                            if chars.next() != Some('\\') || chars.next() != Some('u') {
                                return Err("unpaired high surrogate".into());
                            }
                            let low = hex4(&mut chars)?;
                            if !(0xDC00..0xE000).contains(&low) {
                                return Err("bad low surrogate".into());
                            }
                            0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            unit
                        };
                        out.push(char::from_u32(code).ok_or("not a scalar value")?);
                    }
                    other => return Err(format!("bad escape \\{other}")),
                },
                c if (c as u32) < 0x20 => return Err(format!("raw control {:#04x}", c as u32)),
                c => out.push(c),
            }
        }
        if chars.next().is_some() {
            return Err("trailing characters".into());
        }
        Ok(out)
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(chars: &mut std::str::Chars<'_>) -> Result<u32, String> {
        let digits: String = chars.take(4).collect();
        if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("bad \\u escape {digits:?}"));
        }
        u32::from_str_radix(&digits, 16).map_err(|e| e.to_string())
    }

    /// Tiny xorshift PRNG: deterministic randomness without a dependency.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
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
    fn the_test_parser_rejects_what_json_forbids() {
        // Guards the guard: a parser that accepted everything would prove nothing.
        assert!(parse_string("\"\n\"").is_err());
        assert!(parse_string("\"\\x\"").is_err());
        assert!(parse_string("\"abc").is_err());
        assert!(parse_string("\"\\ud800\"").is_err());
        assert!(parse_string("\"a\"b").is_err());
    }

    #[test]
    fn payload_shapes_are_exact() {
        assert_eq!(
            message_frame(7, "hi \"you\""),
            r#"{"id":7,"data":"hi \"you\""}"#
        );
        assert_eq!(missed_frame(3), r#"{"missed":3}"#);
        assert_eq!(published(1), r#"{"id":1}"#);
        assert_eq!(published(u64::MAX), r#"{"id":18446744073709551615}"#);
    }

    #[test]
    fn poll_batches_list_messages_then_next_then_missed() {
        assert_eq!(
            poll_batch([(4, "a"), (5, "b\n")], 5, None),
            r#"{"messages":[{"id":4,"data":"a"},{"id":5,"data":"b\n"}],"next":5}"#
        );
        assert_eq!(
            poll_batch([(9, "x")], 9, Some(2)),
            r#"{"messages":[{"id":9,"data":"x"}],"next":9,"missed":2}"#
        );
        assert_eq!(poll_batch([], 3, None), r#"{"messages":[],"next":3}"#);
    }

    #[test]
    fn batches_of_frames_equal_batches_encoded_from_scratch() {
        let messages = [(1, "one"), (2, "tw\"o"), (3, "🦀")];
        let frames: Vec<String> = messages
            .iter()
            .map(|&(id, d)| message_frame(id, d))
            .collect();
        for missed in [None, Some(0), Some(12)] {
            assert_eq!(
                poll_batch_of_frames(frames.iter().map(String::as_str), 3, missed),
                poll_batch(messages, 3, missed)
            );
        }
    }
}
