//! The `Sec-WebSocket-Extensions` grammar (RFC 6455 §9.1), written once for both
//! directions: the server reads a client's offers with it ([`validate_upgrade`] checks
//! the syntax, [`permessage_deflate::negotiate`] the meaning), and the client reads the
//! server's answer ([`permessage_deflate::validate_response`]).
//!
//! ```text
//! Sec-WebSocket-Extensions = extension-list
//! extension-list  = 1#extension
//! extension       = extension-token *( ";" extension-param )
//! extension-token = registered-token
//! registered-token = token
//! extension-param = token [ "=" (token | quoted-string) ]
//!     ; When using the quoted-string syntax variant, the value after quoted-string
//!     ; unescaping MUST conform to the 'token' ABNF.
//! ```
//!
//! Parsing allocates nothing: an [`Extension`] borrows the header bytes, its
//! [`params`](Extension::params) are an iterator over them, and a quoted value is
//! unescaped on the fly ([`Value::unescaped`]). Each element is scanned twice at most
//! (once to check it, once to read it), so the work is linear in the header's length.
//!
//! What to do with a malformed list is the caller's: §9.1 says "the recipient of such
//! malformed data MUST immediately _Fail the WebSocket Connection_", which for a server
//! is a `400` ([`HandshakeError::BadExtensions`]).
//!
//! [`validate_upgrade`]: crate::ws::handshake::validate_upgrade
//! [`permessage_deflate::negotiate`]: crate::ws::permessage_deflate::negotiate
//! [`permessage_deflate::validate_response`]: crate::ws::permessage_deflate::validate_response
//! [`HandshakeError::BadExtensions`]: crate::ws::handshake::HandshakeError::BadExtensions

use std::fmt;

use crate::http::token::{is_tchar, is_token, trim_ows};

/// The elements of one `Sec-WebSocket-Extensions` field value: split at commas, OWS
/// trimmed, empty elements dropped (RFC 9110 §5.6.1), exactly as
/// [`RequestHead::list`](crate::http::request::RequestHead::list) splits a request's.
///
/// Splitting at commas before parsing is exact here, unlike for HTTP lists in general:
/// a quoted value's content must unescape to a token (§9.1), and a token has no comma,
/// so a comma inside quotes makes the element malformed either way.
///
/// Several fields of the same name are one list joined with commas (RFC 9110 §5.3).
pub fn split_list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

// ===== ExtensionError =====

/// Why a list element is not an `extension` of RFC 6455 §9.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionError {
    /// The extension's name is not a token (§9.1: `extension-token = registered-token`,
    /// `registered-token = token`). An empty element (`;x`) is one of these.
    NameNotToken,
    /// A parameter's name is not a token (§9.1: `extension-param = token [...]`), e.g.
    /// `deflate; =1` or `deflate;`.
    ParamNameNotToken,
    /// A value after `=` is neither a token nor a quoted-string (§9.1), e.g. `a=` or
    /// `a=b c`.
    ValueNotToken,
    /// A quoted-string value whose content, unescaped, is not a token, or an
    /// unterminated one (§9.1: "the value after quoted-string unescaping MUST conform to
    /// the 'token' ABNF"), e.g. `a="b c"` or `a=""`.
    QuotedValueNotToken,
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExtensionError::NameNotToken => "an extension name is not a token (rfc 6455 §9.1)",
            ExtensionError::ParamNameNotToken => {
                "an extension parameter name is not a token (rfc 6455 §9.1)"
            }
            ExtensionError::ValueNotToken => {
                "an extension parameter value is neither a token nor a quoted-string \
                 (rfc 6455 §9.1)"
            }
            ExtensionError::QuotedValueNotToken => {
                "a quoted extension parameter value does not unescape to a token \
                 (rfc 6455 §9.1)"
            }
        })
    }
}

impl std::error::Error for ExtensionError {}

// ===== Extension =====

/// One well-formed element of an extension list: the extension's name and its
/// parameters, borrowed from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    name: &'a str,
    /// Everything after the name's `;`, already checked; empty when there is none.
    params: &'a [u8],
}

impl<'a> Extension<'a> {
    /// Parses one list element (as [`split_list`] or `RequestHead::list` yields it).
    ///
    /// OWS is allowed around `;` and `=` (RFC 9110 §5.6.3's "optional whitespace"
    /// between list tokens; every browser sends `permessage-deflate;
    /// client_max_window_bits`).
    pub fn parse(element: &'a [u8]) -> Result<Self, ExtensionError> {
        let (name, params) = match element.iter().position(|&b| b == b';') {
            Some(semicolon) => (&element[..semicolon], Some(&element[semicolon + 1..])),
            None => (element, None),
        };
        let name = trim_ows(name);
        if !is_token(name) {
            return Err(ExtensionError::NameNotToken);
        }
        if let Some(params) = params {
            for param in params.split(|&b| b == b';') {
                check_param(param)?;
            }
        }
        Ok(Extension {
            // A token is ASCII.
            name: std::str::from_utf8(name).unwrap_or_default(),
            params: params.unwrap_or_default(),
        })
    }

    /// The extension's name, e.g. `permessage-deflate`. Compare it exactly: RFC 6455
    /// makes no extension name case-insensitive, and an answer must repeat the name the
    /// client offered.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The parameters in the order they were written.
    pub fn params(&self) -> Params<'a> {
        // Checked parameters are never empty bytes (an empty name is refused), so empty
        // bytes mean no `;` at all.
        Params {
            rest: (!self.params.is_empty()).then_some(self.params),
        }
    }
}

/// Checks one `extension-param`: `token [ "=" (token | quoted-string) ]`, OWS-trimmed.
fn check_param(param: &[u8]) -> Result<(), ExtensionError> {
    let (name, value) = split_param(param);
    if !is_token(name) {
        return Err(ExtensionError::ParamNameNotToken);
    }
    let Some(value) = value else {
        return Ok(());
    };
    match value.strip_prefix(b"\"") {
        Some(rest) => match rest.strip_suffix(b"\"") {
            Some(quoted) if is_escaped_token(quoted) => Ok(()),
            _ => Err(ExtensionError::QuotedValueNotToken),
        },
        None if is_token(value) => Ok(()),
        None => Err(ExtensionError::ValueNotToken),
    }
}

/// A parameter's name and raw value (after `=`), both OWS-trimmed.
fn split_param(param: &[u8]) -> (&[u8], Option<&[u8]>) {
    match param.iter().position(|&b| b == b'=') {
        Some(eq) => (trim_ows(&param[..eq]), Some(trim_ows(&param[eq + 1..]))),
        None => (trim_ows(param), None),
    }
}

/// Is `quoted` (a quoted-string's content) a token once unescaped? Each character is a
/// tchar, or a `\` followed by one (RFC 9110 §5.6.4's quoted-pair); a lone `"`, a
/// trailing `\` or an escaped non-tchar leaves something that is not a token.
fn is_escaped_token(quoted: &[u8]) -> bool {
    let mut bytes = quoted.iter();
    let mut any = false;
    while let Some(&b) = bytes.next() {
        let b = if b == b'\\' {
            match bytes.next() {
                Some(&escaped) => escaped,
                None => return false,
            }
        } else {
            b
        };
        if !is_tchar(b) {
            return false;
        }
        any = true;
    }
    any
}

// ===== parameters =====

/// The parameters of an [`Extension`], in order (see [`Extension::params`]).
#[derive(Debug, Clone)]
pub struct Params<'a> {
    /// The parameters not yet read; `None` when done.
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let rest = self.rest?;
        let param = match rest.iter().position(|&b| b == b';') {
            Some(semicolon) => {
                self.rest = Some(&rest[semicolon + 1..]);
                &rest[..semicolon]
            }
            None => {
                self.rest = None;
                rest
            }
        };
        // Checked by Extension::parse: the name is a token, the value a token or a
        // quoted-string holding an escaped token.
        let (name, value) = split_param(param);
        Some(Param {
            name: std::str::from_utf8(name).unwrap_or_default(),
            value: value.map(|value| {
                match value
                    .strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                {
                    Some(quoted) => Value {
                        raw: quoted,
                        quoted: true,
                    },
                    None => Value {
                        raw: value,
                        quoted: false,
                    },
                }
            }),
        })
    }
}

/// One `extension-param`: a name and, if it has one, a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The parameter's name (a token, compared exactly).
    pub name: &'a str,
    /// Its value, `None` for a bare name such as `client_no_context_takeover`.
    pub value: Option<Value<'a>>,
}

/// A parameter's value: a token, written bare or as a quoted-string (§9.1 makes
/// `bits=10` and `bits="10"` the same value). Read it with [`Value::unescaped`], or
/// compare it with `==` against a `&str`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    /// The bytes as written, without the quotes of a quoted-string.
    raw: &'a [u8],
    /// Whether `raw` is a quoted-string's content (and so may hold `\` escapes).
    quoted: bool,
}

impl<'a> Value<'a> {
    /// The value's bytes after quoted-string unescaping (RFC 9110 §5.6.4): `"1\0"` gives
    /// `10`. Always a token.
    pub fn unescaped(&self) -> Unescaped<'a> {
        Unescaped {
            bytes: self.raw.iter(),
            quoted: self.quoted,
        }
    }

    /// Was the value written as a quoted-string?
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }
}

impl PartialEq<&str> for Value<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.unescaped().eq(other.bytes())
    }
}

impl fmt::Display for Value<'_> {
    /// The unescaped value (a token, so ASCII).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.unescaped()
            .try_for_each(|b| fmt::Write::write_char(f, char::from(b)))
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// The bytes of a [`Value`] after unescaping (see [`Value::unescaped`]).
#[derive(Debug, Clone)]
pub struct Unescaped<'a> {
    bytes: std::slice::Iter<'a, u8>,
    quoted: bool,
}

impl Iterator for Unescaped<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        match self.bytes.next() {
            // A quoted-pair: the escaped byte stands for itself.
            Some(b'\\') if self.quoted => self.bytes.next().copied(),
            other => other.copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The element's name and parameters as owned strings (values unescaped).
    fn read(element: &[u8]) -> (String, Vec<(String, Option<String>)>) {
        let extension = Extension::parse(element).unwrap();
        let params = extension
            .params()
            .map(|p| (p.name.to_owned(), p.value.map(|v| v.to_string())))
            .collect();
        (extension.name().to_owned(), params)
    }

    #[test]
    fn extension_offers_follow_the_grammar_of_section_9_1() {
        for good in [
            &b"permessage-deflate"[..],
            b"permessage-deflate; client_max_window_bits",
            b"permessage-deflate ;client_max_window_bits=15 ; server_no_context_takeover",
            b"x-foo; bar=\"baz\"",
            b"x-foo; bar=\"b\\az\"",
        ] {
            assert!(
                Extension::parse(good).is_ok(),
                "{:?}",
                good.escape_ascii().to_string()
            );
        }
        for bad in [
            &b""[..],
            b";",
            b"a b",
            b"deflate; =1",
            b"deflate; a=",
            b"deflate; a=b c",
            b"deflate; a=\"b c\"",
            b"deflate; a=\"\"",
            b"deflate; a=\"b",
            b"deflate; a=\"b\\\"",
            b"de/flate",
        ] {
            assert!(
                Extension::parse(bad).is_err(),
                "{:?}",
                bad.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn each_grammar_error_names_the_rule_it_breaks() {
        for (element, expected) in [
            (&b""[..], ExtensionError::NameNotToken),
            (b"; a", ExtensionError::NameNotToken),
            (b"a b; c", ExtensionError::NameNotToken),
            (b"x;", ExtensionError::ParamNameNotToken),
            (b"x; a; ; b", ExtensionError::ParamNameNotToken),
            (b"x; =1", ExtensionError::ParamNameNotToken),
            (b"x; a b=1", ExtensionError::ParamNameNotToken),
            (b"x; a=", ExtensionError::ValueNotToken),
            (b"x; a=1 2", ExtensionError::ValueNotToken),
            (b"x; a=b\"", ExtensionError::ValueNotToken),
            (b"x; a=\"\"", ExtensionError::QuotedValueNotToken),
            (b"x; a=\"", ExtensionError::QuotedValueNotToken),
            (b"x; a=\"1", ExtensionError::QuotedValueNotToken),
            (b"x; a=\"1 2\"", ExtensionError::QuotedValueNotToken),
            (b"x; a=\"1\\\"", ExtensionError::QuotedValueNotToken),
            (b"x; a=\"1\"2\"", ExtensionError::QuotedValueNotToken),
            (b"x; a=\"\\ \"", ExtensionError::QuotedValueNotToken),
        ] {
            assert_eq!(
                Extension::parse(element),
                Err(expected),
                "{}",
                element.escape_ascii()
            );
        }
    }

    #[test]
    fn names_and_parameters_are_read_in_order_with_ows_trimmed() {
        assert_eq!(
            read(b"permessage-deflate ;\tclient_max_window_bits ; server_max_window_bits = 10"),
            (
                "permessage-deflate".to_owned(),
                vec![
                    ("client_max_window_bits".to_owned(), None),
                    ("server_max_window_bits".to_owned(), Some("10".to_owned())),
                ]
            )
        );
        assert_eq!(
            read(b"x-webkit-deflate-frame"),
            ("x-webkit-deflate-frame".to_owned(), vec![])
        );
    }

    #[test]
    fn a_quoted_value_is_read_unescaped() {
        let extension = Extension::parse(b"x; a=\"10\"; b=\"1\\0\"; c=10").unwrap();
        let values: Vec<Value<'_>> = extension.params().filter_map(|p| p.value).collect();
        assert_eq!(values.len(), 3);
        for value in &values {
            assert_eq!(*value, "10");
            assert_eq!(value.unescaped().collect::<Vec<u8>>(), b"10");
        }
        assert!(values[0].is_quoted() && values[1].is_quoted() && !values[2].is_quoted());
        assert_eq!(format!("{:?}", values[1]), "\"10\"");
        // A backslash outside quotes is not a tchar, so it never reaches a value.
        assert_eq!(
            Extension::parse(b"x; a=1\\0"),
            Err(ExtensionError::ValueNotToken)
        );
    }

    #[test]
    fn a_list_splits_at_commas_and_skips_empty_elements() {
        let elements: Vec<&[u8]> = split_list(b" a; b=1 ,, c ,").collect();
        assert_eq!(elements, [&b"a; b=1"[..], b"c"]);
        assert_eq!(split_list(b"").count(), 0);
        // A comma inside quotes splits the value, and both halves are malformed.
        let elements: Vec<_> = split_list(b"x; a=\"1,2\"").map(Extension::parse).collect();
        assert!(elements.iter().all(Result::is_err), "{elements:?}");
    }

    #[test]
    fn errors_display_in_lowercase_and_cite_the_rule() {
        for e in [
            ExtensionError::NameNotToken,
            ExtensionError::ParamNameNotToken,
            ExtensionError::ValueNotToken,
            ExtensionError::QuotedValueNotToken,
        ] {
            let text = e.to_string();
            assert_eq!(text, text.to_lowercase());
            assert!(text.contains("§9.1"), "{text}");
        }
    }
}
