//! Credentials taken out of what is printed: the wire trace and the access log show
//! requests, and a bearer token in a log is as good as the token.
//!
//! A token can ride in three places ([`crate::hub::access::bearer_token`]): the
//! `Authorization` field, the `token` query parameter, and a `bearer.` entry of
//! `Sec-WebSocket-Protocol`. Each is replaced by [`REDACTED`]; everything else is printed
//! as it came, so the trace still shows the request.

use std::borrow::Cow;

/// What a credential is printed as.
pub const REDACTED: &str = "REDACTED";

/// `target` with the value of every `token` query parameter replaced:
/// `/channels/a?since=3&token=abc` → `/channels/a?since=3&token=REDACTED`. The name is
/// compared as any reader of the query might see it — percent-decoded, in any case — so
/// `%74oken=` and `TOKEN=` are redacted too: printing too little is the safe mistake.
pub fn target(target: &str) -> Cow<'_, str> {
    let Some((path, query)) = target.split_once('?') else {
        return Cow::Borrowed(target);
    };
    let carries_token = |pair: &str| {
        pair.split_once('=')
            .is_some_and(|(name, _)| is_token_name(name))
    };
    if !query.split('&').any(carries_token) {
        return Cow::Borrowed(target);
    }
    let mut out = String::with_capacity(target.len());
    out.push_str(path);
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if is_token_name(name) => {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
    Cow::Owned(out)
}

/// Does `name` percent-decode (RFC 3986 §2.1) to `token`, in any case?
fn is_token_name(name: &str) -> bool {
    let mut decoded = [0u8; 5];
    let mut len = 0;
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if len == decoded.len() {
            return false;
        }
        let byte = match bytes[i] {
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                let (Some(hi), Some(lo)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return false; // not percent-encoding: no reader takes it for `token`
                };
                i += 2;
                (hi * 16 + lo) as u8
            }
            b => b,
        };
        decoded[len] = byte;
        len += 1;
        i += 1;
    }
    decoded[..len].eq_ignore_ascii_case(b"token")
}

/// A field's value as it may be printed: `Authorization` keeps only its scheme
/// (`Bearer REDACTED`), `Sec-WebSocket-Protocol` loses its `bearer.` entries' tokens,
/// any other field is unchanged.
pub fn field_value<'v>(name: &str, value: &'v str) -> Cow<'v, str> {
    if name.eq_ignore_ascii_case("authorization") {
        let scheme = value.split(' ').next().unwrap_or("");
        return Cow::Owned(format!("{scheme} {REDACTED}"));
    }
    if name.eq_ignore_ascii_case("sec-websocket-protocol") && value.contains("bearer.") {
        let entries: Vec<String> = value
            .split(',')
            .map(|entry| {
                let trimmed = entry.trim();
                if trimmed.starts_with("bearer.") {
                    format!("bearer.{REDACTED}")
                } else {
                    trimmed.to_string()
                }
            })
            .collect();
        return Cow::Owned(entries.join(", "));
    }
    Cow::Borrowed(value)
}

/// One line of an HTTP head as it may be printed: the request line with its target
/// redacted, a field line with its value redacted, anything else unchanged.
pub fn head_line(line: &str, first: bool) -> Cow<'_, str> {
    if first {
        let mut parts = line.splitn(3, ' ');
        if let (Some(method), Some(target_text), Some(version)) =
            (parts.next(), parts.next(), parts.next())
            && let Cow::Owned(redacted) = target(target_text)
        {
            return Cow::Owned(format!("{method} {redacted} {version}"));
        }
        return Cow::Borrowed(line);
    }
    match line.split_once(':') {
        Some((name, value)) => match field_value(name, value.trim_start()) {
            Cow::Owned(redacted) => Cow::Owned(format!("{name}: {redacted}")),
            Cow::Borrowed(_) => Cow::Borrowed(line),
        },
        None => Cow::Borrowed(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_parameter_is_redacted_and_the_rest_of_the_target_kept() {
        assert_eq!(
            target("/channels/a?since=3&token=abc.def"),
            "/channels/a?since=3&token=REDACTED"
        );
        assert_eq!(
            target("/channels/a?token=x&token=y"),
            "/channels/a?token=REDACTED&token=REDACTED"
        );
        assert_eq!(
            target("/channels/a?%74oken=x&TOKEN=y"),
            "/channels/a?%74oken=REDACTED&TOKEN=REDACTED"
        );
        assert!(
            matches!(target("/channels/a?token"), Cow::Borrowed(_)),
            "no value to hide"
        );
        assert!(matches!(target("/channels/a?since=3"), Cow::Borrowed(_)));
        assert!(matches!(
            target("/channels/a?tokens=3&mytoken=4"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(target("/channels/token=x"), Cow::Borrowed(_)));
    }

    #[test]
    fn credentials_in_fields_are_redacted() {
        assert_eq!(
            field_value("Authorization", "Bearer abc.def"),
            "Bearer REDACTED"
        );
        assert_eq!(
            field_value("authorization", "Basic dXNlcjpw"),
            "Basic REDACTED"
        );
        assert_eq!(
            field_value("Sec-WebSocket-Protocol", "pushwire, bearer.abc.def"),
            "pushwire, bearer.REDACTED"
        );
        assert!(matches!(
            field_value("Sec-WebSocket-Protocol", "chat"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(field_value("Host", "bearer.x"), Cow::Borrowed(_)));
    }

    #[test]
    fn head_lines_are_redacted_where_they_carry_credentials() {
        assert_eq!(
            head_line("GET /channels/a?token=abc HTTP/1.1", true),
            "GET /channels/a?token=REDACTED HTTP/1.1"
        );
        assert_eq!(
            head_line("Authorization: Bearer abc", false),
            "Authorization: Bearer REDACTED"
        );
        assert_eq!(head_line("Host: h", false), "Host: h");
        assert_eq!(head_line("HTTP/1.1 200 OK", true), "HTTP/1.1 200 OK");
    }
}
