//! Byte classes of the HTTP grammar (RFC 9110, RFC 9112) as 256-entry lookup tables.
//!
//! Each class is written once as a `const fn` predicate that reads like its ABNF, and
//! turned into a `static [bool; 256]` at compile time by `byte_table!`. The parser then
//! classifies a byte with one indexed load instead of a chain of comparisons, and the
//! table cannot drift from the predicate because it *is* the predicate, evaluated 256
//! times by the compiler (httparse's `byte_map!` does the same).

/// Evaluates a `const fn(u8) -> bool` for every byte value, giving a lookup table.
macro_rules! byte_table {
    ($predicate:path) => {{
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            table[i] = $predicate(i as u8);
            i += 1;
        }
        table
    }};
}

// ===== tchar =====

/// RFC 9110 §5.6.2, the characters of a `token` (methods, header names, list tokens):
///
/// ```text
/// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*"
///       / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
///       / DIGIT / ALPHA
///       ; any VCHAR, except delimiters
/// ```
const fn tchar(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~'
            | b'0'..=b'9'
            | b'a'..=b'z'
            | b'A'..=b'Z'
    )
}

static TCHAR: [bool; 256] = byte_table!(tchar);

/// Is `b` allowed in a token (RFC 9110 §5.6.2)? Methods and field names are tokens.
#[inline]
pub fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Is `s` a token: one or more [`tchar`](is_tchar) (RFC 9110 §5.6.2)?
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

// ===== field values =====

/// RFC 9110 §5.5, the bytes that may appear inside a field value:
///
/// ```text
/// field-value    = *field-content
/// field-content  = field-vchar
///                  [ 1*( SP / HTAB / field-vchar ) field-vchar ]
/// field-vchar    = VCHAR / obs-text
/// obs-text       = %x80-FF
/// ```
///
/// That is VCHAR (%x21-7E), obs-text (%x80-FF), SP and HTAB. Everything else — NUL, CR,
/// LF, the other controls and DEL — is excluded: RFC 9110 §5.5 says a recipient of CR,
/// LF or NUL in a field value "MUST either reject the message or replace each of those
/// characters with SP", and we reject, because a stray CR is exactly what request
/// smuggling between disagreeing parsers is built from. Whether OWS is *leading* or
/// *trailing* is the parser's business, not this table's.
const fn field_value_byte(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21..=0x7E | 0x80..=0xFF)
}

static FIELD_VALUE: [bool; 256] = byte_table!(field_value_byte);

/// May `b` appear in a field value (RFC 9110 §5.5: field-vchar, obs-text, SP, HTAB)?
#[inline]
pub fn is_field_value_byte(b: u8) -> bool {
    FIELD_VALUE[usize::from(b)]
}

// ===== request-target =====

/// The bytes we accept in a request-target (RFC 9112 §3.2): visible ASCII, %x21-7E.
///
/// RFC 3986 allows fewer: `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|` and `}` must be
/// percent-encoded. Real clients send some of them raw anyway (notably in query strings),
/// and nothing about framing depends on them, so rejecting them would only break clients.
/// What we do refuse matters:
///
/// - SP and HTAB: a space ends the target (RFC 9112 §3.2: "No whitespace is allowed in
///   the request-target"), so a space inside it would make the request line ambiguous;
/// - CTLs (including CR, LF, NUL) and DEL: never valid in a URI, and the raw material of
///   line-splitting attacks;
/// - bytes >= %x80: a URI is ASCII (non-ASCII must be percent-encoded). Refusing them also
///   means the accepted target is always valid UTF-8, so the parser can hand it out as
///   `&str`.
///
/// The application interprets the target (routing, percent-decoding); the parser only
/// guarantees these bytes.
const fn target_byte(b: u8) -> bool {
    matches!(b, 0x21..=0x7E)
}

static TARGET: [bool; 256] = byte_table!(target_byte);

/// May `b` appear in a request-target (visible ASCII, %x21-7E; see the table's docs)?
#[inline]
pub fn is_target_byte(b: u8) -> bool {
    TARGET[usize::from(b)]
}

// ===== whitespace =====

/// Optional whitespace, RFC 9110 §5.6.3: `OWS = *( SP / HTAB )`.
#[inline]
pub fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `s` without leading and trailing [OWS](is_ows).
pub fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ows(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// The value of a hex digit (RFC 5234 `HEXDIG`, case-insensitive): chunk sizes
/// (RFC 9112 §7.1) and percent-encoding (RFC 3986 §2.1).
pub fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_agree_with_their_predicates_for_every_byte() {
        for b in 0..=255u8 {
            assert_eq!(is_tchar(b), tchar(b), "tchar {b:#04x}");
            assert_eq!(
                is_field_value_byte(b),
                field_value_byte(b),
                "value {b:#04x}"
            );
            assert_eq!(is_target_byte(b), target_byte(b), "target {b:#04x}");
        }
    }

    #[test]
    fn tchar_is_alphanumerics_and_fifteen_symbols() {
        let symbols = (0..=255u8)
            .filter(|&b| is_tchar(b) && !b.is_ascii_alphanumeric())
            .collect::<Vec<_>>();
        assert_eq!(symbols, b"!#$%&'*+-.^_`|~");
        assert!(b"azAZ09".iter().all(|&b| is_tchar(b)));
    }

    #[test]
    fn delimiters_and_whitespace_are_not_tchar() {
        for &b in b"(),/:;<=>?@[\\]{}\" \t\r\n\0\x7f\x80\xff" {
            assert!(!is_tchar(b), "{b:#04x}");
        }
    }

    #[test]
    fn field_values_refuse_controls_but_accept_ows_and_obs_text() {
        for b in (0u8..0x20).chain([0x7F]) {
            assert_eq!(is_field_value_byte(b), b == b'\t', "{b:#04x}");
        }
        for b in (0x20u8..=0x7E).chain(0x80..=0xFF) {
            assert!(is_field_value_byte(b), "{b:#04x}");
        }
    }

    #[test]
    fn targets_are_visible_ascii_only() {
        for b in 0..=255u8 {
            assert_eq!(is_target_byte(b), (0x21..=0x7E).contains(&b), "{b:#04x}");
        }
    }

    #[test]
    fn is_token_requires_at_least_one_tchar() {
        assert!(is_token(b"GET"));
        assert!(is_token(b"Sec-WebSocket-Key"));
        assert!(!is_token(b""));
        assert!(!is_token(b"Bad Name"));
        assert!(!is_token(b"name:"));
    }

    #[test]
    fn trim_ows_removes_spaces_and_tabs_at_both_ends_only() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
        assert_eq!(trim_ows(b"x"), b"x");
    }
}
