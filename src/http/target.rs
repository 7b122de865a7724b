//! The request-target's forms (RFC 9112 §3.2) and the authority a request names
//! (RFC 9110 §7.2, RFC 3986 §3.2), sans-IO.
//!
//! A server sees the target in one of four forms:
//!
//! ```text
//! request-target = origin-form      ; "/where?q"          — what browsers send
//!                / absolute-form    ; "http://host/where?q" — what proxies are sent
//!                / authority-form   ; "host:443"           — CONNECT only
//!                / asterisk-form    ; "*"                  — OPTIONS only
//! ```
//!
//! RFC 9112 §3.2.2: "a server MUST accept the absolute-form in requests even though
//! most HTTP/1.1 clients will only send the absolute-form to a proxy", and when it does,
//! "the origin server MUST ignore the received Host header field (if any) and instead use
//! the host information of the request-target". [`split_absolute_form`] finds the
//! authority and the origin-form part, so routing sees `/where` whichever form came.
//!
//! [`is_valid_authority`] checks a `Host` value against RFC 3986's `host [ ":" port ]`:
//! RFC 9112 §3.2 makes a `Host` "with an invalid field value" a 400.

/// RFC 3986 §3.1: `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &[u8]) -> bool {
    match s.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphabetic()
                && rest
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        }
        None => false,
    }
}

/// An absolute-form target split into its authority and the rest (path and query, which
/// may be empty): `http://h:8080/a?b` → `("h:8080", "/a?b")`. `None` for any other form.
///
/// RFC 9112 §3.2.2: `absolute-form = absolute-URI`, and RFC 3986 §3: `absolute-URI =
/// scheme ":" hier-part [ "?" query ]`, where the hier-part of an `http`, `https`, `ws` or
/// `wss` URI is `"//" authority path-abempty`. Only that shape is split: a target such as
/// `example.com:443` (authority-form, for CONNECT) also parses as `scheme ":" path`, and
/// must not be mistaken for one.
pub fn split_absolute_form(target: &str) -> Option<(&str, &str)> {
    if target.starts_with('/') {
        return None; // origin-form: the common case, decided by one byte
    }
    let (scheme, rest) = target.split_once("://")?;
    if !is_scheme(scheme.as_bytes()) {
        return None;
    }
    // path-abempty begins at the first "/", the query at the first "?".
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    Some((&rest[..end], &rest[end..]))
}

/// Is `value` a valid `Host` field value (RFC 9110 §7.2: `Host = uri-host [ ":" port ]`)?
///
/// ```text
/// uri-host    = IP-literal / IPv4address / reg-name    ; RFC 3986 §3.2.2
/// IP-literal  = "[" ( IPv6address / IPvFuture ) "]"
/// reg-name    = *( unreserved / pct-encoded / sub-delims )
/// port        = *DIGIT
/// ```
///
/// IPv4 addresses are a subset of `reg-name`'s characters, so they need no rule of their
/// own. Inside brackets we accept the characters of IPv6 and IPvFuture addresses (hex
/// digits, `:`, `.`, `v`, and IPvFuture's unreserved and sub-delims), not their exact
/// grammar: the point of the check is that the value is one authority, with no
/// whitespace, commas between several hosts, slashes or userinfo, which is what request
/// routing and cache-poisoning attacks rely on. An empty value is valid: RFC 9110 §7.2
/// has a client send one when the target URI has no authority.
pub fn is_valid_authority(value: &[u8]) -> bool {
    let (host, port) = match value.first() {
        Some(b'[') => match value.iter().position(|&b| b == b']') {
            Some(close) => {
                let literal = &value[1..close];
                let ok = !literal.is_empty()
                    && literal
                        .iter()
                        .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
                if !ok {
                    return false;
                }
                match &value[close + 1..] {
                    [] => return true,
                    [b':', port @ ..] => (&b""[..], port),
                    _ => return false,
                }
            }
            None => return false,
        },
        _ => match value.iter().rposition(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon + 1..]),
            None => (value, &b""[..]),
        },
    };
    is_reg_name(host) && port.iter().all(u8::is_ascii_digit)
}

/// RFC 3986 §3.2.2: `reg-name = *( unreserved / pct-encoded / sub-delims )`.
fn is_reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while i < host.len() {
        let b = host[i];
        if b == b'%' {
            // pct-encoded = "%" HEXDIG HEXDIG
            let hex = |j: usize| host.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(is_unreserved(b) || is_sub_delim(b)) {
            return false;
        }
        i += 1;
    }
    true
}

/// RFC 3986 §2.3: `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §2.2: `sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," /
/// ";" / "="`.
fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_form_is_not_absolute() {
        assert_eq!(split_absolute_form("/healthz"), None);
        assert_eq!(split_absolute_form("/a:b//c"), None);
    }

    #[test]
    fn absolute_form_splits_into_authority_and_origin_part() {
        assert_eq!(
            split_absolute_form("http://127.0.0.1/healthz"),
            Some(("127.0.0.1", "/healthz"))
        );
        assert_eq!(
            split_absolute_form("HTTP://h:8080/a/b?c=d"),
            Some(("h:8080", "/a/b?c=d"))
        );
        assert_eq!(split_absolute_form("http://h"), Some(("h", "")));
        assert_eq!(split_absolute_form("http://h?q"), Some(("h", "?q")));
        assert_eq!(split_absolute_form("ws+x.y-z://h/"), Some(("h", "/")));
    }

    #[test]
    fn authority_and_asterisk_forms_are_not_absolute() {
        assert_eq!(split_absolute_form("example.com:443"), None);
        assert_eq!(split_absolute_form("1host:443"), None);
        assert_eq!(split_absolute_form("*"), None);
        assert_eq!(split_absolute_form(":80"), None);
        assert_eq!(split_absolute_form("urn:isbn:1"), None);
        assert_eq!(split_absolute_form("1http://h/"), None);
    }

    #[test]
    fn valid_hosts_are_accepted() {
        for host in [
            "",
            "example.com",
            "example.com:8080",
            "127.0.0.1",
            "127.0.0.1:1",
            "localhost:",
            "[::1]",
            "[::1]:9001",
            "[2001:db8::7]:80",
            "[v1.fe80::a+en1]",
            "xn--bcher-kva.example",
            "a%2Fb",
            "my_host~1",
        ] {
            assert!(is_valid_authority(host.as_bytes()), "{host:?}");
        }
    }

    #[test]
    fn hosts_with_spaces_slashes_userinfo_or_bad_ports_are_refused() {
        for host in [
            "a b, c",
            "a b",
            "example.com/evil",
            "user@example.com",
            "example.com:80a",
            "example.com:8080:1",
            "[::1",
            "[::1]x",
            "[]",
            "[::1]:x",
            "%zz",
            "a%2",
            "h\"",
            "<h>",
        ] {
            assert!(!is_valid_authority(host.as_bytes()), "{host:?}");
        }
    }
}
