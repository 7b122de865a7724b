//! A strict, bounded reader for JSON the hub did not write (RFC 8259): JSON payloads
//! (`POST /channels/{name}` with `Content-Type: application/json`, a `pushwire.v1`
//! publish whose `data` is not a string) and `pushwire.v1` commands.
//!
//! The rest of [`crate::hub::json`] reads back the hub's own fixed shapes. This module
//! reads anyone's text, so it is the whole grammar, and it is built so that hostile text
//! costs no more than its length:
//!
//! - **one pass, no recursion.** Nesting is tracked by an explicit stack of one bit per
//!   level (object or array), not by the Rust call stack: `[[[[…` a million deep is an
//!   error at level `max_depth + 1`, not a stack overflow.
//! - **no allocation for what the input says**, except what the caller asks for: the
//!   first 64 levels live in one `u64`; deeper levels (only when the caller allows them)
//!   take one more bit each, `max_depth / 8` bytes at most. Unescaping a string
//!   ([`RawValue::as_str`]) allocates its result, and only when it has escapes.
//! - **exactly RFC 8259**, no extensions: one value with optional whitespace around it
//!   (§2; a byte-order mark is not whitespace, §8.1), numbers per §6 (no leading zeros,
//!   no `+`, no `.5`, no `1.`; any magnitude: `1e309` is valid JSON, what it means is
//!   the reader's business), strings per §7 (control characters escaped, `\u` escapes
//!   of surrogates paired — a lone surrogate escape is refused: it is no Unicode text,
//!   and the hub's messages are text), literals `true false null` (§3), and the bytes
//!   UTF-8 (§8.1).
//!
//! Two entry points: [`validate`] answers whether bytes are such a text; [`Members`]
//! walks an object's members one by one, each value as its exact span ([`RawValue`]),
//! for readers of commands. Duplicate keys are reported to the caller as they come (RFC
//! 8259 §4 leaves their meaning open); the `pushwire.v1` command parser refuses them
//! ([`crate::hub::mux`]).

use std::borrow::Cow;

use super::JsonError;
use crate::http::token::hex_value;

/// The deepest a JSON payload may nest (issue 12 §4): `[[…]]` 64 deep is accepted, 65
/// deep is refused. Legitimate documents rarely pass 10; the bound keeps whoever reads
/// the payload downstream (a browser's `JSON.parse`, serde_json's default limit of 128)
/// safe too.
pub const MAX_PAYLOAD_DEPTH: usize = 64;

/// Checks that `text` is one JSON text (RFC 8259 §2: `ws value ws`) whose objects and
/// arrays nest at most `max_depth` deep (`0` allows scalars only; `[1]` is depth 1).
///
/// One pass over the bytes, linear, no allocation up to 64 levels. The error says at
/// which byte the text stopped being JSON, and what was expected there.
///
/// ```
/// use pushwire::hub::json::validate;
/// assert!(validate(br#" {"a":[1,2.5e-3,"\u00e9",true,null]} "#, 64).is_ok());
/// assert!(validate(b"[01]", 64).is_err());
/// assert!(validate(b"[[1]]", 1).is_err());
/// ```
pub fn validate(text: &[u8], max_depth: usize) -> Result<(), JsonError> {
    let mut scanner = Scanner::new(text, true);
    scanner.skip_whitespace();
    scanner.value(max_depth)?;
    scanner.skip_whitespace();
    scanner.end()
}

/// What kind of JSON value a [`RawValue`] is (RFC 8259 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// `{…}`
    Object,
    /// `[…]`
    Array,
    /// `"…"`
    String,
    /// `-1.5e3`
    Number,
    /// `true`
    True,
    /// `false`
    False,
    /// `null`
    Null,
}

/// One valid JSON value as it was written: its exact text and its kind. Made only by
/// [`Members`], which validated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawValue<'a> {
    kind: ValueKind,
    text: &'a str,
    /// A string with at least one `\` escape (unescaping it allocates).
    escaped: bool,
}

impl<'a> RawValue<'a> {
    /// The value's kind.
    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    /// The value's text, byte for byte as it was in the input (quotes and escapes of a
    /// string included; whitespace inside a container kept).
    pub fn raw(&self) -> &'a str {
        self.text
    }

    /// A string's text, unescaped: borrowed from the input when it has no escapes.
    /// `None` for any other kind.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        if self.kind != ValueKind::String {
            return None;
        }
        // The quotes are ASCII, so these are character boundaries.
        let inner = &self.text[1..self.text.len() - 1];
        Some(if self.escaped {
            Cow::Owned(unescape(inner))
        } else {
            Cow::Borrowed(inner)
        })
    }

    /// A number written as a plain non-negative integer (`1*DIGIT`, RFC 8259 §6's `int`
    /// without a minus) that fits in 64 bits. `None` for anything else: other kinds, a
    /// fraction or exponent (`1.0`, `1e2`: the same value, but not the spelling of an
    /// id), `-0`, a value past `u64::MAX`.
    pub fn as_u64(&self) -> Option<u64> {
        let digits = self.text.as_bytes();
        if self.kind != ValueKind::Number || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.text.parse().ok()
    }

    /// Is the value `null`?
    pub fn is_null(&self) -> bool {
        self.kind == ValueKind::Null
    }
}

/// The members of a JSON object, in order: each key unescaped, each value as its exact
/// span ([`RawValue`]), validated as it is reached (one pass over the text in all).
///
/// The object must be the whole text (whitespace around it allowed). Each member's value
/// may nest at most `max_depth` deep, the object itself not counted, so a payload limit
/// of [`MAX_PAYLOAD_DEPTH`] applies to a member as it would to the payload on its own.
///
/// Errors are items: an item is `Err` where the text stops being JSON (including junk
/// after the closing brace), and the iteration ends there. Members before the error
/// were valid and have been yielded. A key that appears twice is yielded twice: refusing
/// duplicates is the caller's decision.
///
/// ```
/// use pushwire::hub::json::{Members, ValueKind};
/// let mut members = Members::new(r#"{"a":1,"b\n":[true]}"#, 64).unwrap();
/// let (key, value) = members.next().unwrap().unwrap();
/// assert_eq!((&*key, value.as_u64()), ("a", Some(1)));
/// let (key, value) = members.next().unwrap().unwrap();
/// assert_eq!((&*key, value.kind(), value.raw()), ("b\n", ValueKind::Array, "[true]"));
/// assert!(members.next().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Members<'a> {
    text: &'a str,
    scanner: Scanner<'a>,
    max_depth: usize,
    state: MembersState,
}

/// Where a [`Members`] walk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MembersState {
    /// After the opening brace: a key or the closing brace comes next.
    First,
    /// After a member: a comma or the closing brace.
    Next,
    /// After the closing brace and the end, or after an error.
    Done,
}

impl<'a> Members<'a> {
    /// Starts reading the object that `text` must be; `Err` if it does not start with
    /// one (after whitespace).
    pub fn new(text: &'a str, max_depth: usize) -> Result<Members<'a>, JsonError> {
        // `text` is a `str`, so its bytes are UTF-8: the scanner skips that check.
        let mut scanner = Scanner::new(text.as_bytes(), false);
        scanner.skip_whitespace();
        if !scanner.eat(b'{') {
            return scanner.fail("an object");
        }
        Ok(Members {
            text,
            scanner,
            max_depth,
            state: MembersState::First,
        })
    }

    fn member(&mut self) -> Result<(Cow<'a, str>, RawValue<'a>), JsonError> {
        if self.scanner.peek() != Some(b'"') {
            return self.scanner.fail("a string key");
        }
        let start = self.scanner.at;
        let escaped = self.scanner.string()?;
        let key = RawValue {
            kind: ValueKind::String,
            text: &self.text[start..self.scanner.at],
            escaped,
        };
        self.scanner.skip_whitespace();
        if !self.scanner.eat(b':') {
            return self.scanner.fail("':'");
        }
        self.scanner.skip_whitespace();
        let value = self.raw_value(self.max_depth)?;
        let key = key.as_str().unwrap_or_default();
        Ok((key, value))
    }

    /// Scans one value from here and returns it with its span.
    fn raw_value(&mut self, max_depth: usize) -> Result<RawValue<'a>, JsonError> {
        let start = self.scanner.at;
        let (kind, escaped) = self.scanner.value(max_depth)?;
        Ok(RawValue {
            kind,
            // Values begin and end at ASCII bytes: character boundaries.
            text: &self.text[start..self.scanner.at],
            escaped,
        })
    }

    /// The closing brace was eaten: only whitespace may follow.
    fn finish(&mut self) -> Result<(), JsonError> {
        self.scanner.skip_whitespace();
        self.scanner.end()
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = Result<(Cow<'a, str>, RawValue<'a>), JsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        let step = match self.state {
            MembersState::Done => return None,
            MembersState::First => {
                self.scanner.skip_whitespace();
                if self.scanner.eat(b'}') {
                    self.finish().map(|()| None)
                } else {
                    self.member().map(Some)
                }
            }
            MembersState::Next => {
                self.scanner.skip_whitespace();
                if self.scanner.eat(b'}') {
                    self.finish().map(|()| None)
                } else if self.scanner.eat(b',') {
                    self.scanner.skip_whitespace();
                    self.member().map(Some)
                } else {
                    self.scanner.fail("',' or '}'")
                }
            }
        };
        match step {
            Ok(Some(member)) => {
                self.state = MembersState::Next;
                Some(Ok(member))
            }
            Ok(None) => {
                self.state = MembersState::Done;
                None
            }
            Err(e) => {
                self.state = MembersState::Done;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for Members<'_> {}

// ===== the scanner =====

/// A forward-only cursor over JSON text: every step consumes input or fails, so a scan is
/// linear in the text.
#[derive(Debug, Clone)]
struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
    /// Check that strings are UTF-8 (not needed when the text is a `str`).
    check_utf8: bool,
}

/// Which container a nesting level is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a [u8], check_utf8: bool) -> Scanner<'a> {
        Scanner {
            text,
            at: 0,
            check_utf8,
        }
    }

    fn fail<T>(&self, expected: &'static str) -> Result<T, JsonError> {
        Err(JsonError {
            at: self.at,
            expected,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn end(&self) -> Result<(), JsonError> {
        if self.at == self.text.len() {
            Ok(())
        } else {
            self.fail("the end")
        }
    }

    /// RFC 8259 §2: `ws = *( %x20 / %x09 / %x0A / %x0D )`.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Scans one value starting exactly here (no whitespace before it), with containers
    /// nested at most `max_depth` deep; returns its kind, and for a string whether it has
    /// escapes. The loop is the grammar's recursion unrolled: `nesting` holds the open
    /// containers, innermost last.
    fn value(&mut self, max_depth: usize) -> Result<(ValueKind, bool), JsonError> {
        let mut nesting = Nesting::new(max_depth);
        // What the scanned value is: its first token says.
        let mut outermost: Option<(ValueKind, bool)> = None;
        'value: loop {
            // At the start of a value.
            let scanned = match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    let container = if open == b'{' {
                        Container::Object
                    } else {
                        Container::Array
                    };
                    if !nesting.push(container) {
                        return self.fail("no deeper nesting");
                    }
                    self.at += 1;
                    self.skip_whitespace();
                    let kind = match container {
                        Container::Object => ValueKind::Object,
                        Container::Array => ValueKind::Array,
                    };
                    outermost.get_or_insert((kind, false));
                    let close = if open == b'{' { b'}' } else { b']' };
                    if !self.eat(close) {
                        if container == Container::Object {
                            self.key()?;
                        }
                        continue 'value;
                    }
                    nesting.pop();
                    (kind, false)
                }
                Some(b'"') => (ValueKind::String, self.string()?),
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                    (ValueKind::Number, false)
                }
                Some(b't') => (self.literal(b"true", ValueKind::True)?, false),
                Some(b'f') => (self.literal(b"false", ValueKind::False)?, false),
                Some(b'n') => (self.literal(b"null", ValueKind::Null)?, false),
                _ => return self.fail("a value"),
            };
            let scanned_value = *outermost.get_or_insert(scanned);
            // After a value: close containers until one takes a next element.
            loop {
                let Some(container) = nesting.top() else {
                    return Ok(scanned_value);
                };
                self.skip_whitespace();
                match (self.peek(), container) {
                    (Some(b','), _) => {
                        self.at += 1;
                        self.skip_whitespace();
                        if container == Container::Object {
                            self.key()?;
                        }
                        continue 'value;
                    }
                    (Some(b'}'), Container::Object) | (Some(b']'), Container::Array) => {
                        self.at += 1;
                        nesting.pop();
                    }
                    (_, Container::Object) => return self.fail("',' or '}'"),
                    (_, Container::Array) => return self.fail("',' or ']'"),
                }
            }
        }
    }

    /// A member's key and the `:` after it (RFC 8259 §4), and the whitespace around it.
    fn key(&mut self) -> Result<(), JsonError> {
        if self.peek() != Some(b'"') {
            return self.fail("a string key");
        }
        self.string()?;
        self.skip_whitespace();
        if !self.eat(b':') {
            return self.fail("':'");
        }
        self.skip_whitespace();
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8], kind: ValueKind) -> Result<ValueKind, JsonError> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(kind)
        } else {
            self.fail("a value")
        }
    }

    /// RFC 8259 §6: `[ minus ] int [ frac ] [ exp ]`, `int = zero / ( digit1-9 *DIGIT )`.
    /// After a leading `0` the number ends: `01` is the number `0` followed by junk.
    fn number(&mut self) -> Result<(), JsonError> {
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return self.fail("a digit"),
        }
        if self.eat(b'.') {
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return self.fail("a digit after '.'");
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return self.fail("a digit in the exponent");
            }
            self.digits();
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    /// RFC 8259 §7: a string from its opening quote through its closing one. Returns
    /// whether it has escapes.
    fn string(&mut self) -> Result<bool, JsonError> {
        self.at += 1;
        let mut escaped = false;
        loop {
            self.skip_plain();
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(0x00..=0x1F) => return self.fail("a control character to be escaped"),
                Some(_) if self.check_utf8 => self.utf8_sequence()?,
                Some(_) => self.at += 1,
                None => return self.fail("a closing quote"),
            }
        }
    }

    /// Skips the string bytes that need no look: printable ASCII other than `"` and `\`.
    /// Eight at a time while it can (the text is mostly such bytes), then one by one.
    fn skip_plain(&mut self) {
        const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
        const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
        while let Some(chunk) = self.text.get(self.at..self.at + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let word = u64::from_ne_bytes(word);
            // With every byte below 0x80, a byte's high bit is set in `b - k` exactly when
            // `b < k` (a borrow into a higher byte only follows a byte that is a match
            // itself). So: a byte < 0x20, a byte equal to `"` or `\`, or a byte >= 0x80.
            let control = word.wrapping_sub(ONES * 0x20);
            let quote = (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
            let backslash = (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
            if (word | control | quote | backslash) & HIGH_BITS != 0 {
                break;
            }
            self.at += 8;
        }
        while let Some(&b) = self.text.get(self.at)
            && (0x20..0x80).contains(&b)
            && b != b'"'
            && b != b'\\'
        {
            self.at += 1;
        }
    }

    /// RFC 8259 §7: `\` and one of `" \ / b f n r t`, or `u` and four hex digits; a `\u`
    /// escape of a high surrogate (D800–DBFF) must be followed by one of a low surrogate
    /// (DC00–DFFF), and a low surrogate cannot stand alone: the string must be Unicode
    /// text (§8.2).
    fn escape(&mut self) -> Result<(), JsonError> {
        let start = self.at;
        match self.text.get(self.at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.at += 2;
                Ok(())
            }
            Some(b'u') => {
                let unit = self.hex4(self.at + 2)?;
                self.at += 6;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = match self.text.get(self.at..self.at + 2) {
                            Some(b"\\u") => self.hex4(self.at + 2)?,
                            _ => 0,
                        };
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            self.at = start;
                            return self.fail("a high surrogate escape followed by a low one");
                        }
                        self.at += 6;
                        Ok(())
                    }
                    0xDC00..=0xDFFF => {
                        self.at = start;
                        self.fail("no lone low surrogate escape")
                    }
                    _ => Ok(()),
                }
            }
            _ => {
                self.at += 1;
                self.fail("an escape: one of \" \\ / b f n r t u")
            }
        }
    }

    /// The four hex digits at `at`.
    fn hex4(&self, at: usize) -> Result<u16, JsonError> {
        let end = self.text.len();
        let digits = &self.text[at.min(end)..(at + 4).min(end)];
        let mut unit = 0u16;
        for (i, &d) in digits.iter().enumerate() {
            match hex_value(d) {
                Some(v) => unit = unit << 4 | u16::from(v),
                None => {
                    return Err(JsonError {
                        at: at + i,
                        expected: "four hex digits",
                    });
                }
            }
        }
        if digits.len() < 4 {
            return Err(JsonError {
                at: at + digits.len(),
                expected: "four hex digits",
            });
        }
        Ok(unit)
    }

    /// One multi-byte UTF-8 sequence (RFC 3629 §4): the lead byte decides the length and
    /// the range of the second byte (which excludes overlong forms, surrogates and code
    /// points past U+10FFFF); the others are 80–BF.
    fn utf8_sequence(&mut self) -> Result<(), JsonError> {
        let rest = &self.text[self.at..];
        let (len, second) = match rest[0] {
            0xC2..=0xDF => (2, 0x80..=0xBF),
            0xE0 => (3, 0xA0..=0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80..=0xBF),
            0xED => (3, 0x80..=0x9F),
            0xF0 => (4, 0x90..=0xBF),
            0xF1..=0xF3 => (4, 0x80..=0xBF),
            0xF4 => (4, 0x80..=0x8F),
            _ => return self.fail("UTF-8 text"),
        };
        let valid = rest.len() >= len
            && second.contains(&rest[1])
            && rest[2..len].iter().all(|b| (0x80..=0xBF).contains(b));
        if !valid {
            return self.fail("UTF-8 text");
        }
        self.at += len;
        Ok(())
    }
}

/// The open containers of a scan, innermost last: one bit per level (set: an object).
/// The first 64 levels need no allocation; deeper ones, when `max_depth` allows them,
/// one `u64` per 64 more.
#[derive(Debug)]
struct Nesting {
    depth: usize,
    max_depth: usize,
    low: u64,
    high: Vec<u64>,
}

impl Nesting {
    fn new(max_depth: usize) -> Nesting {
        Nesting {
            depth: 0,
            max_depth,
            low: 0,
            high: Vec::new(),
        }
    }

    /// Opens a level; `false` if that would pass `max_depth`.
    fn push(&mut self, container: Container) -> bool {
        if self.depth == self.max_depth {
            return false;
        }
        let level = self.depth;
        let bit = 1u64 << (level % 64);
        let word = if level < 64 {
            &mut self.low
        } else {
            let index = level / 64 - 1;
            if index == self.high.len() {
                self.high.push(0);
            }
            &mut self.high[index]
        };
        match container {
            Container::Object => *word |= bit,
            Container::Array => *word &= !bit,
        }
        self.depth += 1;
        true
    }

    fn pop(&mut self) {
        self.depth -= 1;
    }

    fn top(&self) -> Option<Container> {
        let level = self.depth.checked_sub(1)?;
        let word = if level < 64 {
            self.low
        } else {
            self.high[level / 64 - 1]
        };
        Some(if word >> (level % 64) & 1 == 1 {
            Container::Object
        } else {
            Container::Array
        })
    }
}

/// The text of a string the scanner validated (its contents, without quotes), with its
/// escapes replaced by what they stand for.
fn unescape(inner: &str) -> String {
    let bytes = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    let mut run_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        // Runs end at a `\`, which is ASCII: a character boundary.
        out.push_str(&inner[run_start..i]);
        let (c, len) = match bytes.get(i + 1) {
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => {
                let unit = hex4_of(bytes, i + 2);
                if (0xD800..0xDC00).contains(&unit) {
                    let low = hex4_of(bytes, i + 8);
                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low.wrapping_sub(0xDC00));
                    (
                        char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
                        12,
                    )
                } else {
                    (
                        char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER),
                        6,
                    )
                }
            }
            // `"`, `\` and `/` stand for themselves.
            Some(&b) => (char::from(b), 2),
            None => (char::REPLACEMENT_CHARACTER, 1),
        };
        out.push(c);
        i += len;
        run_start = i.min(bytes.len());
    }
    out.push_str(&inner[run_start..]);
    out
}

/// The four hex digits at `at` of a validated escape, as a number (0 where there are
/// none, which validated text never has).
fn hex4_of(bytes: &[u8], at: usize) -> u32 {
    let digits = bytes.get(at..at + 4).unwrap_or_default();
    digits.iter().fold(0, |unit, &d| {
        unit << 4 | u32::from(hex_value(d).unwrap_or(0))
    })
}

#[cfg(test)]
mod tests;
