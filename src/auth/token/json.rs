//! The claims' JSON reader: strict RFC 8259, bounded, never panicking.
//!
//! Private to [`super`]: `src/hub/json.rs` reads the hub's own frames, fixed shapes the hub
//! itself wrote; claims are written by someone else's backend, may carry keys pushwire does
//! not know, and are read by a server that must not be made to loop, recurse or allocate
//! without bound. So this is a general JSON grammar (RFC 8259 §2–§7), read by a
//! [`Reader`] that moves forward only: every call consumes at least one byte or fails, so
//! reading is linear in the text. Containers nest at most [`MAX_JSON_DEPTH`] deep, which
//! also bounds the recursion of [`Reader::skip_value`].
//!
//! The token layer reads claims in two passes over the (at most ~3 KiB) text: [`validate`]
//! first, so that a text that is not JSON is always reported as such, whatever its keys
//! say; then a walk of the top-level object with the same [`Reader`], taking the values it
//! needs and skipping the rest.

use crate::http::token::hex_value;

/// How deep containers (objects and arrays) may nest; the claims object itself is level 1,
/// its `"pub"` array level 2. Deeper is [`super::MalformedToken::TooDeep`]. Backends'
/// extra keys rarely go past 3.
pub const MAX_JSON_DEPTH: usize = 16;

/// Why a text is not JSON the reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JsonError {
    /// At byte `offset` of the JSON text, `expected` was expected (RFC 8259's grammar).
    Syntax {
        offset: usize,
        expected: &'static str,
    },
    /// Containers nest deeper than [`MAX_JSON_DEPTH`].
    TooDeep,
}

/// Checks that `text` is one JSON value (RFC 8259 §2: `ws value ws`), nested at most
/// [`MAX_JSON_DEPTH`] deep.
pub(super) fn validate(text: &str) -> Result<(), JsonError> {
    let mut reader = Reader::new(text);
    reader.skip_value(0)?;
    reader.end()
}

/// A cursor over a JSON text.
pub(super) struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(text: &'a str) -> Reader<'a> {
        Reader { text, at: 0 }
    }

    fn error(&self, expected: &'static str) -> JsonError {
        JsonError::Syntax {
            offset: self.at,
            expected,
        }
    }

    /// The byte at the cursor, whitespace not skipped.
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// RFC 8259 §2: insignificant whitespace is space, tab, line feed, carriage return.
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.byte() {
            self.at += 1;
        }
    }

    /// The next significant byte, not consumed.
    pub(super) fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.byte()
    }

    /// Consumes the significant byte `b`, or fails expecting `expected`.
    pub(super) fn eat(&mut self, b: u8, expected: &'static str) -> Result<(), JsonError> {
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// After the text's one value: nothing but whitespace may follow.
    pub(super) fn end(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("the end of the text after the JSON value")),
        }
    }

    /// Inside an object (after `{`) or an array (after `[`) whose closing byte is `close`:
    /// is there another member or element? Consumes the `,` before it, or the closing
    /// byte at the end. `first` is true until the first call for this container.
    pub(super) fn more(&mut self, first: &mut bool, close: u8) -> Result<bool, JsonError> {
        let next = self.peek();
        if next == Some(close) {
            // `{}` / `[]`, or the end after an item. (After a `,` the caller reads an item
            // before asking again, so `[1,]` fails there, at the `]`.)
            self.at += 1;
            *first = false;
            return Ok(false);
        }
        if *first {
            *first = false;
            return Ok(true);
        }
        if next == Some(b',') {
            self.at += 1;
            return Ok(true);
        }
        Err(self.error(if close == b'}' {
            "',' or '}' after an object member"
        } else {
            "',' or ']' after an array element"
        }))
    }

    /// Consumes `{` or `[` at depth `depth` (the number of containers around it).
    pub(super) fn open(&mut self, b: u8, depth: usize) -> Result<(), JsonError> {
        if depth >= MAX_JSON_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.eat(b, if b == b'{' { "'{'" } else { "'['" })
    }

    /// One value of any kind, checked and skipped. `depth` is the number of containers
    /// around it; the recursion goes at most [`MAX_JSON_DEPTH`] deep.
    pub(super) fn skip_value(&mut self, depth: usize) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'{') => {
                self.open(b'{', depth)?;
                let mut first = true;
                while self.more(&mut first, b'}')? {
                    self.string()?;
                    self.eat(b':', "':' after an object key")?;
                    self.skip_value(depth + 1)?;
                }
                Ok(())
            }
            Some(b'[') => {
                self.open(b'[', depth)?;
                let mut first = true;
                while self.more(&mut first, b']')? {
                    self.skip_value(depth + 1)?;
                }
                Ok(())
            }
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            _ => Err(self.error("a JSON value")),
        }
    }

    /// `true`, `false` or `null` (RFC 8259 §3: lowercase only).
    fn literal(&mut self, word: &'static str) -> Result<(), JsonError> {
        if self.text.as_bytes()[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.error(word))
        }
    }

    /// A number (RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`),
    /// returned as written: what it means is for the caller to decide.
    pub(super) fn number(&mut self) -> Result<&'a str, JsonError> {
        self.skip_ws();
        let start = self.at;
        if self.byte() == Some(b'-') {
            self.at += 1;
        }
        match self.byte() {
            // §6: "Leading zeros are not allowed": a 0 stands alone.
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("a digit")),
        }
        if self.byte() == Some(b'.') {
            self.at += 1;
            self.one_or_more_digits()?;
        }
        if let Some(b'e' | b'E') = self.byte() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.byte() {
                self.at += 1;
            }
            self.one_or_more_digits()?;
        }
        Ok(&self.text[start..self.at])
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.byte() {
            self.at += 1;
        }
    }

    fn one_or_more_digits(&mut self) -> Result<(), JsonError> {
        if !matches!(self.byte(), Some(b'0'..=b'9')) {
            return Err(self.error("a digit"));
        }
        self.digits();
        Ok(())
    }

    /// A string (RFC 8259 §7), its escapes decoded.
    ///
    /// A `\uXXXX` escape of a lone surrogate (one not in a high–low pair) is valid JSON
    /// grammar, though its meaning is unpredictable (§8.2); it decodes to U+FFFD here.
    /// No string the token layer reads (a key it knows, a channel pattern) can contain one
    /// and be valid, so a lone surrogate is accepted in values it skips and makes what it
    /// reads invalid, never equal to something else.
    pub(super) fn string(&mut self) -> Result<String, JsonError> {
        self.eat(b'"', "a string")?;
        let bytes = self.text.as_bytes();
        let mut out = String::new();
        loop {
            // A run of plain characters, copied whole. It ends at an ASCII byte or at the
            // end of the text, both character boundaries.
            let start = self.at;
            while let Some(&b) = bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.push_str(&self.text[start..self.at]);
            match self.byte() {
                None => return Err(self.error("'\"' to end the string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let c = self.escape()?;
                    out.push(c);
                }
                // §7: "All Unicode characters may be placed within the quotation marks,
                // except for the characters that MUST be escaped: quotation mark, reverse
                // solidus, and the control characters (U+0000 through U+001F)."
                Some(_) => {
                    return Err(self.error("an escape for a control character in a string"));
                }
            }
        }
    }

    /// The character of the escape after a `\` (RFC 8259 §7).
    fn escape(&mut self) -> Result<char, JsonError> {
        let Some(b) = self.byte() else {
            return Err(self.error("an escape after '\\'"));
        };
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                self.at += 1;
                return self.unicode_escape();
            }
            _ => return Err(self.error("one of \" \\ / b f n r t u after '\\'")),
        };
        self.at += 1;
        Ok(c)
    }

    /// After `\u`: four hex digits, and for a high surrogate the `\uXXXX` of its low
    /// surrogate if one follows (§7: a character outside the BMP is "a 12-character
    /// sequence, encoding the UTF-16 surrogate pair").
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let unit = self.hex4()?;
        if !(0xD800..=0xDBFF).contains(&unit) {
            // A BMP character, or a lone low surrogate.
            return Ok(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        let save = self.at;
        if self.text.as_bytes()[self.at..].starts_with(b"\\u") {
            self.at += 2;
            let low = self.hex4()?;
            if (0xDC00..=0xDFFF).contains(&low) {
                let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            // Not a low surrogate: that escape stands on its own; read it next.
            self.at = save;
        }
        Ok(char::REPLACEMENT_CHARACTER)
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut value = 0u32;
        for _ in 0..4 {
            let Some(digit) = self.byte().and_then(hex_value) else {
                return Err(self.error("four hex digits after '\\u'"));
            };
            value = (value << 4) | u32::from(digit);
            self.at += 1;
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax_error_at(text: &str) -> usize {
        match validate(text) {
            Err(JsonError::Syntax { offset, .. }) => offset,
            other => panic!("{text:?}: expected a syntax error, got {other:?}"),
        }
    }

    fn string_of(text: &str) -> Result<String, JsonError> {
        let mut reader = Reader::new(text);
        let s = reader.string()?;
        reader.end()?;
        Ok(s)
    }

    #[test]
    fn every_kind_of_value_is_valid() {
        for text in [
            "{}",
            "[]",
            " { } ",
            "\t\r\n[ ]\n",
            "0",
            "-0",
            "12",
            "-1.5e+3",
            "1E9",
            "0.25",
            "1e-0",
            "true",
            "false",
            "null",
            r#""""#,
            r#""a\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00""#,
            r#"{"a":[1,{"b":null},"c",true],"d":{}}"#,
            r#"{"a":1,"a":2}"#,
            "\"é → 😀\"",
        ] {
            assert_eq!(validate(text), Ok(()), "{text:?}");
        }
    }

    #[test]
    fn what_rfc_8259_forbids_is_refused_at_its_place() {
        for (text, offset) in [
            ("", 0),
            ("   ", 3),
            ("{", 1),
            ("{\"a\"}", 4),
            ("{\"a\":}", 5),
            ("{\"a\":1,}", 7),
            ("{,}", 1),
            ("[1,]", 3),
            ("[1 2]", 3),
            ("[,1]", 1),
            ("{1:2}", 1),
            ("{'a':1}", 1),
            ("01", 1),
            ("-", 1),
            ("+1", 0),
            ("1.", 2),
            (".5", 0),
            ("1e", 2),
            ("1e+", 3),
            ("0x10", 1),
            ("NaN", 0),
            ("Infinity", 0),
            ("True", 0),
            ("nul", 0),
            ("\"abc", 4),
            ("\"a\nb\"", 2),
            ("\"\u{1}\"", 1),
            (r#""\x""#, 2),
            (r#""\u12G4""#, 5),
            (r#""\u12""#, 5),
            ("\"\\", 2),
            ("{} {}", 3),
            ("[] x", 3),
            ("\u{feff}{}", 0),
            ("\u{a0}{}", 0),
        ] {
            assert_eq!(syntax_error_at(text), offset, "{text:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deepest = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert_eq!(validate(&deepest), Ok(()));
        let too_deep = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH + 1),
            "]".repeat(MAX_JSON_DEPTH + 1)
        );
        assert_eq!(validate(&too_deep), Err(JsonError::TooDeep));
        let objects = format!(
            "{}1{}",
            "{\"a\":".repeat(MAX_JSON_DEPTH + 1),
            "}".repeat(17)
        );
        assert_eq!(validate(&objects), Err(JsonError::TooDeep));
        // Far deeper than any stack would survive unbounded: refused, not overflowed.
        assert_eq!(validate(&"[".repeat(100_000)), Err(JsonError::TooDeep));
    }

    #[test]
    fn escapes_decode_to_their_characters() {
        assert_eq!(string_of(r#""\u0072oom""#).unwrap(), "room");
        assert_eq!(
            string_of(r#""\"\\\/\b\f\n\r\t""#).unwrap(),
            "\"\\/\u{8}\u{c}\n\r\t"
        );
        assert_eq!(string_of(r#""\u00E9\u00e9""#).unwrap(), "éé");
        assert_eq!(string_of(r#""\uD83D\uDE00""#).unwrap(), "😀");
        assert_eq!(string_of("\"plain é 😀\"").unwrap(), "plain é 😀");
        // Lone surrogates are grammatical (§8.2) and decode to U+FFFD.
        assert_eq!(string_of(r#""\uD800""#).unwrap(), "\u{fffd}");
        assert_eq!(string_of(r#""\uDC00x""#).unwrap(), "\u{fffd}x");
        assert_eq!(string_of(r#""\uD800\u0041""#).unwrap(), "\u{fffd}A");
        assert_eq!(
            string_of(r#""\uD800\uD800\uDC00""#).unwrap(),
            "\u{fffd}\u{10000}"
        );
    }

    #[test]
    fn numbers_are_returned_as_written() {
        for text in ["0", "-0", "1700000000", "1.5", "2e3", "-12.5E-7"] {
            let mut reader = Reader::new(text);
            assert_eq!(reader.number(), Ok(text));
            assert_eq!(reader.end(), Ok(()));
        }
    }

    #[test]
    fn any_prefix_of_a_valid_text_is_refused_without_panicking() {
        let text = r#" {"exp":1,"pub":["a.*"],"x":[{"y":"\u00e9\uD83D\uDE00"},-1.5e3,true,null]} "#;
        assert_eq!(validate(text), Ok(()));
        let trimmed = text.trim_end();
        for end in 0..trimmed.len() {
            if let Some(prefix) = trimmed.get(..end) {
                assert!(validate(prefix).is_err(), "{prefix:?}");
            }
        }
    }
}
