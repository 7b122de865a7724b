//! HTTP status codes (RFC 9110 §15).

use std::fmt;

/// An HTTP status code: a three-digit integer (RFC 9110 §15).
///
/// The code space is open-ended (clients must understand any code by its class), so this
/// is a newtype with associated constants rather than an enum: `StatusCode::new(299)` is
/// a legal value that simply has no reason phrase here.
///
/// The field is private so that every `StatusCode` has three digits: [`StatusCode::new`]
/// is the only way to make one from a number, and the constants are checked when the
/// crate compiles. A response built from it therefore always has a status line that
/// parses (RFC 9112 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

/// Declares the constants and the reason-phrase table from one list, so they cannot
/// disagree.
///
/// Each constant goes through [`StatusCode::new`] in a constant context, so an entry
/// that is not three digits stops the build instead of making an invalid `StatusCode`.
macro_rules! status_codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $reason:literal; )+) => {
        impl StatusCode {
            $(
                $(#[$doc])*
                pub const $name: StatusCode = match StatusCode::new($code) {
                    Some(status) => status,
                    None => panic!("a status code in the table is not three digits"),
                };
            )+

            /// The reason phrase RFC 9110 §15 (or RFC 6585) gives this code, or `""` for a
            /// code it does not define. Clients ignore the phrase (RFC 9112 §4); it is for
            /// people reading traffic.
            pub fn reason_phrase(self) -> &'static str {
                match self.0 {
                    $( $code => $reason, )+
                    _ => "",
                }
            }
        }
    };
}

status_codes! {
    /// 100 Continue (RFC 9110 §15.2.1).
    CONTINUE = 100, "Continue";
    /// 101 Switching Protocols (RFC 9110 §15.2.2): the WebSocket handshake's answer.
    SWITCHING_PROTOCOLS = 101, "Switching Protocols";
    /// 200 OK (RFC 9110 §15.3.1).
    OK = 200, "OK";
    /// 201 Created (RFC 9110 §15.3.2).
    CREATED = 201, "Created";
    /// 202 Accepted (RFC 9110 §15.3.3).
    ACCEPTED = 202, "Accepted";
    /// 204 No Content (RFC 9110 §15.3.5): a response that never has a body.
    NO_CONTENT = 204, "No Content";
    /// 301 Moved Permanently (RFC 9110 §15.4.2).
    MOVED_PERMANENTLY = 301, "Moved Permanently";
    /// 302 Found (RFC 9110 §15.4.3).
    FOUND = 302, "Found";
    /// 304 Not Modified (RFC 9110 §15.4.5): a response that never has a body.
    NOT_MODIFIED = 304, "Not Modified";
    /// 307 Temporary Redirect (RFC 9110 §15.4.8).
    TEMPORARY_REDIRECT = 307, "Temporary Redirect";
    /// 308 Permanent Redirect (RFC 9110 §15.4.9).
    PERMANENT_REDIRECT = 308, "Permanent Redirect";
    /// 400 Bad Request (RFC 9110 §15.5.1): the default answer to a malformed request.
    BAD_REQUEST = 400, "Bad Request";
    /// 401 Unauthorized (RFC 9110 §15.5.2).
    UNAUTHORIZED = 401, "Unauthorized";
    /// 403 Forbidden (RFC 9110 §15.5.4): e.g. a WebSocket `Origin` not on the allow-list.
    FORBIDDEN = 403, "Forbidden";
    /// 404 Not Found (RFC 9110 §15.5.5).
    NOT_FOUND = 404, "Not Found";
    /// 405 Method Not Allowed (RFC 9110 §15.5.6).
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    /// 408 Request Timeout (RFC 9110 §15.5.9): the head did not arrive in time.
    REQUEST_TIMEOUT = 408, "Request Timeout";
    /// 409 Conflict (RFC 9110 §15.5.10).
    CONFLICT = 409, "Conflict";
    /// 410 Gone (RFC 9110 §15.5.11).
    GONE = 410, "Gone";
    /// 411 Length Required (RFC 9110 §15.5.12).
    LENGTH_REQUIRED = 411, "Length Required";
    /// 413 Content Too Large (RFC 9110 §15.5.14).
    CONTENT_TOO_LARGE = 413, "Content Too Large";
    /// 414 URI Too Long (RFC 9110 §15.5.15): the request target exceeded its limit.
    URI_TOO_LONG = 414, "URI Too Long";
    /// 415 Unsupported Media Type (RFC 9110 §15.5.16).
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type";
    /// 426 Upgrade Required (RFC 9110 §15.5.22): sent with the WebSocket versions we speak.
    UPGRADE_REQUIRED = 426, "Upgrade Required";
    /// 429 Too Many Requests (RFC 6585 §4).
    TOO_MANY_REQUESTS = 429, "Too Many Requests";
    /// 431 Request Header Fields Too Large (RFC 6585 §5): the head exceeded its limits.
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431, "Request Header Fields Too Large";
    /// 500 Internal Server Error (RFC 9110 §15.6.1).
    INTERNAL_SERVER_ERROR = 500, "Internal Server Error";
    /// 501 Not Implemented (RFC 9110 §15.6.2).
    NOT_IMPLEMENTED = 501, "Not Implemented";
    /// 502 Bad Gateway (RFC 9110 §15.6.3).
    BAD_GATEWAY = 502, "Bad Gateway";
    /// 503 Service Unavailable (RFC 9110 §15.6.4).
    SERVICE_UNAVAILABLE = 503, "Service Unavailable";
    /// 504 Gateway Timeout (RFC 9110 §15.6.5).
    GATEWAY_TIMEOUT = 504, "Gateway Timeout";
    /// 505 HTTP Version Not Supported (RFC 9110 §15.6.6).
    HTTP_VERSION_NOT_SUPPORTED = 505, "HTTP Version Not Supported";
    /// 507 Insufficient Storage (RFC 4918 §11.5): the server cannot keep what the request
    /// asks it to keep; the hub answers it when its retained-bytes limit is reached.
    INSUFFICIENT_STORAGE = 507, "Insufficient Storage";
}

impl StatusCode {
    /// The status code `code`, if it has three digits (100..=999); `None` otherwise.
    ///
    /// RFC 9110 §15: "The status code of a response is a three-digit integer", and a
    /// status line with any other number is not one a client can parse (RFC 9112 §4).
    /// Every three-digit code is accepted, registered or not: a client treats an unknown
    /// code as the x00 code of its class (RFC 9110 §15).
    ///
    /// ```
    /// use pushwire::StatusCode;
    ///
    /// // RFC 9110 §15.5.21; a number that is not three digits would fail the build.
    /// const UNPROCESSABLE_CONTENT: StatusCode = StatusCode::new(422).unwrap();
    /// assert_eq!(UNPROCESSABLE_CONTENT.to_string(), "422");
    /// assert_eq!(StatusCode::new(404), Some(StatusCode::NOT_FOUND));
    /// assert_eq!(StatusCode::new(1000), None);
    /// ```
    pub const fn new(code: u16) -> Option<StatusCode> {
        if matches!(code, 100..=999) {
            Some(StatusCode(code))
        } else {
            None
        }
    }

    /// The numeric code, 100..=999.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Is this an informational (1xx) code? RFC 9110 §15.2: such responses end at their
    /// header section and have no content.
    pub fn is_informational(self) -> bool {
        (100..200).contains(&self.0)
    }

    /// Is this a successful (2xx) code (RFC 9110 §15.3)?
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }

    /// May a response with this status carry content? Not for 1xx, 204 and 304
    /// (RFC 9110 §15.2, §15.3.5, §15.4.5; RFC 9112 §6.3 item 1).
    pub fn allows_body(self) -> bool {
        !(self.is_informational() || self.0 == 204 || self.0 == 304)
    }
}

/// `404 Not Found`; just `299` for a code without a reason phrase.
impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason_phrase() {
            "" => write!(f, "{}", self.0),
            reason => write!(f, "{} {}", self.0, reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_code_and_reason_phrase() {
        assert_eq!(StatusCode::NOT_FOUND.to_string(), "404 Not Found");
        assert_eq!(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.to_string(),
            "431 Request Header Fields Too Large"
        );
        assert_eq!(StatusCode::new(299).unwrap().to_string(), "299");
    }

    #[test]
    fn debug_shows_the_number() {
        assert_eq!(format!("{:?}", StatusCode::NOT_FOUND), "StatusCode(404)");
    }

    #[test]
    fn unknown_codes_have_an_empty_reason_phrase() {
        for code in [199, 299, 999] {
            assert_eq!(StatusCode::new(code).unwrap().reason_phrase(), "", "{code}");
        }
    }

    #[test]
    fn new_accepts_exactly_the_three_digit_codes() {
        for (code, three_digits) in [
            (0, false),
            (99, false),
            (100, true),
            (404, true),
            (999, true),
            (1000, false),
            (u16::MAX, false),
        ] {
            assert_eq!(
                StatusCode::new(code).map(StatusCode::as_u16),
                three_digits.then_some(code),
                "{code}"
            );
        }
        // Every value, not just the boundaries (RFC 9110 §15: three digits).
        for code in 0..=u16::MAX {
            assert_eq!(
                StatusCode::new(code).is_some(),
                (100..=999).contains(&code),
                "{code}"
            );
        }
    }

    #[test]
    fn constants_have_the_numbers_their_names_promise() {
        let expected = [
            (StatusCode::SWITCHING_PROTOCOLS, 101),
            (StatusCode::OK, 200),
            (StatusCode::CREATED, 201),
            (StatusCode::NO_CONTENT, 204),
            (StatusCode::BAD_REQUEST, 400),
            (StatusCode::FORBIDDEN, 403),
            (StatusCode::NOT_FOUND, 404),
            (StatusCode::METHOD_NOT_ALLOWED, 405),
            (StatusCode::REQUEST_TIMEOUT, 408),
            (StatusCode::LENGTH_REQUIRED, 411),
            (StatusCode::CONTENT_TOO_LARGE, 413),
            (StatusCode::URI_TOO_LONG, 414),
            (StatusCode::UPGRADE_REQUIRED, 426),
            (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, 431),
            (StatusCode::INTERNAL_SERVER_ERROR, 500),
            (StatusCode::NOT_IMPLEMENTED, 501),
            (StatusCode::SERVICE_UNAVAILABLE, 503),
            (StatusCode::HTTP_VERSION_NOT_SUPPORTED, 505),
            (StatusCode::INSUFFICIENT_STORAGE, 507),
        ];
        for (status, code) in expected {
            assert_eq!(status.as_u16(), code);
            assert_ne!(status.reason_phrase(), "", "{code} has a reason phrase");
        }
    }

    #[test]
    fn only_1xx_204_and_304_forbid_a_body() {
        assert!(!StatusCode::SWITCHING_PROTOCOLS.allows_body());
        assert!(!StatusCode::NO_CONTENT.allows_body());
        assert!(!StatusCode::NOT_MODIFIED.allows_body());
        assert!(StatusCode::OK.allows_body());
        assert!(StatusCode::NOT_FOUND.allows_body());
    }
}
