//! Which web pages may use the server from a browser: the `Origin` check and CORS,
//! sans-IO.
//!
//! A browser names the page that makes a request in the `Origin` field (RFC 6454 §7,
//! the Fetch standard): on every WebSocket opening handshake (RFC 6455 §4.1 item 8) and
//! on every cross-origin or state-changing `fetch`. Two protections follow from it:
//!
//! - **Refusal.** A page on another site can make its visitor's browser *send* a
//!   `POST` — CORS only stops the page from *reading* the answer — and can open a
//!   WebSocket, which CORS does not cover at all (RFC 6455 §10.2: "servers that are not
//!   intended to process input from any web page but only for certain sites SHOULD verify
//!   the |Origin| field"). So a request whose `Origin` is neither the server's own nor
//!   allowed is refused with `403` when it is an upgrade or uses a method that is not
//!   *safe* (RFC 9110 §9.2.1), whatever its content type. Safe requests (`GET`, `HEAD`)
//!   go ahead: the browser keeps their answers from the page.
//! - **CORS, for the allowed.** An allowed page may read the answers: each carries
//!   `Access-Control-Allow-Origin` with the page's origin and `Vary: Origin` (the answer
//!   depends on the field, so a cache must key on it), and the preflight `OPTIONS` that a
//!   browser sends before a non-simple request (one with `Authorization`, say) is answered
//!   with the methods, fields and lifetime allowed.
//!
//! A request without `Origin` comes from a program that is not a browser (curl, a
//! backend) and could send any `Origin` it likes: it is not checked. The check protects
//! browsers' users from other pages, not the server from its clients; access tokens do
//! that.

use std::time::Duration;

use super::RequestHead;

/// The origins whose pages may write to the server and read its answers, besides the
/// server's own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AllowedOrigins {
    /// None but the server's own: an `Origin` naming the request's own authority (its
    /// `Host`). The default: safe without configuration.
    #[default]
    SameOrigin,
    /// The server's own and these, each a serialized origin as browsers send it
    /// (`https://app.example.com`, `http://localhost:3000`), compared ASCII
    /// case-insensitively.
    List(Vec<String>),
    /// Every origin, `null` included (`--allow-origin '*'`): any page on any site may
    /// publish and subscribe from its visitors' browsers. Sensible when access tokens
    /// decide who may do what, or for data that is public both ways.
    Any,
}

/// What the CORS answers say, for origins that are allowed (see
/// [`AllowedOrigins`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// `Access-Control-Allow-Methods` of a preflight answer. Default
    /// `GET, HEAD, POST`.
    pub allow_methods: String,
    /// `Access-Control-Allow-Headers` of a preflight answer: the request fields a page
    /// may set beyond the CORS-safelisted ones. Default
    /// `Authorization, Content-Type, Last-Event-ID` (a bearer token, a JSON body, an
    /// event stream's resumption).
    pub allow_headers: String,
    /// `Access-Control-Expose-Headers` of every answer: response fields a page may read
    /// beyond the safelisted ones (`Content-Type`, `Cache-Control`, …). Default
    /// `WWW-Authenticate, Retry-After` (why a request was refused, when to try again).
    /// Empty: the field is left out.
    pub expose_headers: String,
    /// `Access-Control-Max-Age`: how long a browser may reuse a preflight answer.
    /// Default 10 minutes (Chromium caps it at 2 hours, Firefox at 24).
    pub max_age: Duration,
}

impl Default for Cors {
    fn default() -> Self {
        Cors {
            allow_methods: "GET, HEAD, POST".to_string(),
            allow_headers: "Authorization, Content-Type, Last-Event-ID".to_string(),
            expose_headers: "WWW-Authenticate, Retry-After".to_string(),
            max_age: Duration::from_secs(600),
        }
    }
}

/// What a request's `Origin` field says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginCheck<'a> {
    /// No `Origin`: not a browser, nothing to check.
    Absent,
    /// The page is the server's own (or the request names no authority to compare with,
    /// and the origin is allowed anyway): no CORS fields are needed.
    SameOrigin,
    /// Another origin, allowed: its answers carry the CORS fields for it.
    Allowed(&'a str),
    /// Another origin, not allowed (or more than one `Origin` field, which no browser
    /// sends): upgrades and unsafe methods get `403`.
    Forbidden,
}

impl OriginCheck<'_> {
    /// Is a request with this origin and `method` refused? Upgrades count as unsafe
    /// whatever their method (RFC 6455 §10.2).
    pub fn refuses(&self, method: &str, upgrade: bool) -> bool {
        *self == OriginCheck::Forbidden && (upgrade || !is_safe_method(method))
    }
}

/// RFC 9110 §9.2.1: GET, HEAD, OPTIONS and TRACE are safe — "read-only"; every other
/// method may change state.
pub fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// Is this request a CORS preflight (Fetch §4.8): `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`?
pub fn is_preflight(head: &RequestHead<'_>) -> bool {
    head.method() == "OPTIONS"
        && head.header("Origin").is_some()
        && head.header("Access-Control-Request-Method").is_some()
}

/// Checks the request's `Origin` against its own authority and `allowed`.
pub fn check<'a>(head: &RequestHead<'a>, allowed: &AllowedOrigins) -> OriginCheck<'a> {
    let Some(origin) = head.header_str("Origin") else {
        return match head.header("Origin") {
            // Present but not text: no browser sends that.
            Some(_) => OriginCheck::Forbidden,
            None => OriginCheck::Absent,
        };
    };
    if head.header_count("Origin") > 1 {
        return OriginCheck::Forbidden;
    }
    if let Some(authority) = head.authority()
        && is_same_origin(origin, authority)
    {
        return OriginCheck::SameOrigin;
    }
    let listed = match allowed {
        AllowedOrigins::SameOrigin => false,
        AllowedOrigins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        AllowedOrigins::Any => true,
    };
    if listed {
        OriginCheck::Allowed(origin)
    } else {
        OriginCheck::Forbidden
    }
}

/// Does the serialized origin `origin` (`scheme "://" host [ ":" port ]`, RFC 6454 §6.2)
/// name `authority` (`host [ ":" port ]`, the request's `Host`)? Hosts compare ASCII
/// case-insensitively (RFC 3986 §3.2.2); an authority without a port means the default
/// port of the origin's scheme (80 for `http`/`ws`, 443 for `https`/`wss`), since that is
/// the port the page's browser connected to. A malformed or opaque origin (`null`) is
/// never the server's own.
pub fn is_same_origin(origin: &str, authority: &str) -> bool {
    let Some((scheme, origin_authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Some("80"),
        "https" | "wss" => Some("443"),
        _ => None,
    };
    let (Some((origin_host, origin_port)), Some((host, port))) = (
        split_host_port(origin_authority),
        split_host_port(authority),
    ) else {
        return false;
    };
    let origin_port = origin_port.or(default_port);
    let port = port.or(default_port);
    !origin_host.is_empty()
        && origin_host.eq_ignore_ascii_case(host)
        && origin_port.is_some()
        && origin_port == port
}

/// `host [ ":" port ]` → `(host, port)`; an IPv6 literal keeps its brackets. `None` for
/// anything with a path, userinfo, or a port that is not digits.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.contains(['/', '?', '#', '@']) {
        return None;
    }
    let after_host = match authority.strip_prefix('[') {
        Some(rest) => rest.find(']')? + 2,
        None => authority.find(':').unwrap_or(authority.len()),
    };
    let (host, rest) = authority.split_at(after_host);
    match rest.strip_prefix(':') {
        None if rest.is_empty() => Some((host, None)),
        None => None,
        // RFC 3986 §3.2.3: "port = *DIGIT"; an empty port means the scheme's default.
        Some("") => Some((host, None)),
        Some(port) if port.bytes().all(|b| b.is_ascii_digit()) => Some((host, Some(port))),
        Some(_) => None,
    }
}

/// The fields of a preflight answer to an allowed `origin` (Fetch §4.8, CORS-preflight
/// fetch): appended by the caller to a `204`.
pub fn preflight_fields<'a>(origin: &'a str, cors: &'a Cors) -> [(&'static str, &'a str); 4] {
    [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", &cors.allow_methods),
        ("Access-Control-Allow-Headers", &cors.allow_headers),
        ("Vary", "Origin"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::with_head;

    fn check_of(fields: &str, allowed: &AllowedOrigins) -> String {
        let raw = format!("POST /channels/a HTTP/1.1\r\nHost: chat.example:8080\r\n{fields}\r\n");
        with_head(&raw, |head| format!("{:?}", check(head, allowed)))
    }

    #[test]
    fn same_origin_is_the_host_with_the_scheme_default_port() {
        assert!(is_same_origin(
            "http://chat.example:8080",
            "chat.example:8080"
        ));
        assert!(is_same_origin(
            "http://CHAT.example:8080",
            "chat.EXAMPLE:8080"
        ));
        assert!(is_same_origin("https://chat.example", "chat.example"));
        assert!(is_same_origin("https://chat.example", "chat.example:443"));
        assert!(is_same_origin("http://chat.example:80", "chat.example"));
        assert!(is_same_origin("http://[::1]:8080", "[::1]:8080"));
        assert!(is_same_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
    }

    #[test]
    fn another_host_port_or_a_malformed_origin_is_not_the_same() {
        assert!(!is_same_origin(
            "http://chat.example:8081",
            "chat.example:8080"
        ));
        assert!(!is_same_origin(
            "http://evil.example:8080",
            "chat.example:8080"
        ));
        assert!(!is_same_origin("https://chat.example", "chat.example:80"));
        assert!(!is_same_origin(
            "http://chat.example",
            "chat.example.evil:80"
        ));
        assert!(!is_same_origin("null", "chat.example"));
        assert!(!is_same_origin("chat.example:8080", "chat.example:8080"));
        assert!(!is_same_origin(
            "http://chat.example:8080/",
            "chat.example:8080"
        ));
        assert!(!is_same_origin(
            "http://u@chat.example:8080",
            "chat.example:8080"
        ));
        assert!(!is_same_origin(
            "http://chat.example:80x",
            "chat.example:80x"
        ));
        assert!(!is_same_origin("http://:8080", ":8080"));
        // An unknown scheme has no default port to fill in.
        assert!(!is_same_origin("foo://chat.example", "chat.example"));
        assert!(is_same_origin("foo://chat.example:9", "chat.example:9"));
    }

    #[test]
    fn an_origin_is_allowed_when_it_is_our_own_or_listed() {
        let same = AllowedOrigins::SameOrigin;
        let list = AllowedOrigins::List(vec!["https://App.example".into()]);
        assert_eq!(check_of("", &same), "Absent");
        assert_eq!(
            check_of("Origin: http://chat.example:8080\r\n", &same),
            "SameOrigin"
        );
        assert_eq!(
            check_of("Origin: https://app.example\r\n", &same),
            "Forbidden"
        );
        assert_eq!(
            check_of("Origin: https://app.example\r\n", &list),
            "Allowed(\"https://app.example\")"
        );
        assert_eq!(
            check_of("Origin: https://app.example.evil\r\n", &list),
            "Forbidden"
        );
        assert_eq!(
            check_of("Origin: null\r\n", &AllowedOrigins::Any),
            "Allowed(\"null\")"
        );
    }

    #[test]
    fn two_origin_fields_are_forbidden_even_when_one_is_ours() {
        let fields = "Origin: http://chat.example:8080\r\nOrigin: https://evil.example\r\n";
        assert_eq!(check_of(fields, &AllowedOrigins::Any), "Forbidden");
    }

    #[test]
    fn only_upgrades_and_unsafe_methods_are_refused() {
        let forbidden = OriginCheck::Forbidden;
        assert!(forbidden.refuses("POST", false));
        assert!(forbidden.refuses("PUT", false));
        assert!(forbidden.refuses("DELETE", false));
        assert!(forbidden.refuses("GET", true));
        assert!(!forbidden.refuses("GET", false));
        assert!(!forbidden.refuses("HEAD", false));
        assert!(!forbidden.refuses("OPTIONS", false));
        assert!(!OriginCheck::Absent.refuses("POST", true));
        assert!(!OriginCheck::SameOrigin.refuses("POST", true));
        assert!(!OriginCheck::Allowed("https://a").refuses("POST", true));
    }

    #[test]
    fn a_preflight_is_options_with_origin_and_a_requested_method() {
        let preflight = "OPTIONS /channels/a HTTP/1.1\r\nHost: h\r\nOrigin: https://a\r\n\
            Access-Control-Request-Method: POST\r\n\r\n";
        assert!(with_head(preflight, is_preflight));
        let plain = "OPTIONS /channels/a HTTP/1.1\r\nHost: h\r\nOrigin: https://a\r\n\r\n";
        assert!(!with_head(plain, is_preflight));
        let no_origin =
            "OPTIONS * HTTP/1.1\r\nHost: h\r\nAccess-Control-Request-Method: POST\r\n\r\n";
        assert!(!with_head(no_origin, is_preflight));
    }
}
