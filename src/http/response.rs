//! HTTP/1.1 responses: a small builder and its encoder (RFC 9112 §4, §6).
//!
//! A [`Response`] is plain data (status, headers, body) until
//! [`encode`](Response::encode) appends its wire form to a connection's output buffer.
//! The encoder owns the framing: it writes `Content-Length` itself, from the body it
//! is about to send, so an application cannot declare one length and send another —
//! the mismatch that response splitting and cache poisoning are made of.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::http::request::HttpError;
use crate::http::status_code::StatusCode;
use crate::http::token::{is_ows, is_token};

// ===== Body =====

/// A response body.
///
/// The variants exist to avoid copies: `Static` for fixed pages, `Owned` for a body built
/// for one response, `Shared` so one encoded payload can go to many connections
/// (long-poll fan-out) with a reference-count bump each instead of a copy each, and
/// `Pieces` for a body assembled from shared parts (a poll answer made of retained
/// messages), which the server queues by reference, piece by piece.
#[derive(Debug, Clone, Default)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// Bytes that live for the whole program.
    Static(&'static [u8]),
    /// Bytes owned by this response.
    Owned(Vec<u8>),
    /// Bytes shared with other responses.
    Shared(Arc<[u8]>),
    /// Shared pieces, sent one after another.
    Pieces(Vec<Arc<[u8]>>),
}

impl Body {
    /// The body's bytes: borrowed, except a [`Body::Pieces`], which is joined here (the
    /// server sends the pieces without joining them; this is for readers and tests).
    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Body::Empty => Cow::Borrowed(&[]),
            Body::Static(bytes) => Cow::Borrowed(bytes),
            Body::Owned(bytes) => Cow::Borrowed(bytes),
            Body::Shared(bytes) => Cow::Borrowed(bytes),
            Body::Pieces(pieces) => Cow::Owned(pieces.concat()),
        }
    }

    /// The body's length in bytes (the `Content-Length`).
    pub fn len(&self) -> usize {
        match self {
            Body::Pieces(pieces) => pieces.iter().map(|p| p.len()).sum(),
            other => other.as_bytes().len(),
        }
    }

    /// Is the body zero bytes long?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::Owned(bytes)
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::Owned(text.into_bytes())
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body::Static(text.as_bytes())
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Body::Static(bytes)
    }
}

impl From<Arc<[u8]>> for Body {
    fn from(bytes: Arc<[u8]>) -> Self {
        Body::Shared(bytes)
    }
}

// ===== Response =====

/// An HTTP response: status, header fields and body.
///
/// ```
/// use pushwire::http::response::Response;
/// use pushwire::http::status_code::StatusCode;
///
/// let response = Response::text(StatusCode::OK, "hello").header("Cache-Control", "no-store");
/// let mut out = Vec::new();
/// response.encode(&mut out, false);
/// assert_eq!(
///     out,
///     b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
///       Cache-Control: no-store\r\nContent-Length: 5\r\n\r\nhello"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// Header fields in the order they will be written. INVARIANT: every name is a token
    /// other than `Content-Length`, and no value contains CR, LF or NUL (checked by
    /// [`Response::header`], the only way in).
    headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    body: Body,
}

impl Response {
    /// A response with this status, no header fields and no body.
    ///
    /// Any `status` makes a well-formed status line: a [`StatusCode`] always has the
    /// three digits RFC 9110 §15 requires ([`StatusCode::new`] checks them).
    pub fn new(status: StatusCode) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// Adds a header field (builder style). Fields are written in the order added.
    ///
    /// # Panics
    ///
    /// If `name` is not a token (RFC 9110 §5.1), or `value` contains CR, LF or NUL
    /// (RFC 9110 §5.5): these are programmer errors that would otherwise let text meant
    /// for one header inject others (response splitting). Also if `name` is
    /// `Content-Length` or `Transfer-Encoding`: the encoder writes the framing itself,
    /// from the body, so the framing and the body can never disagree (two framings in one
    /// response are what response smuggling is made of).
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        let name = name.into();
        let value = value.into();
        assert!(
            is_token(name.as_bytes()),
            "header name {name:?} is not an HTTP token"
        );
        assert!(
            !name.eq_ignore_ascii_case("content-length")
                && !name.eq_ignore_ascii_case("transfer-encoding"),
            "{name} is written by the encoder from the body; do not set it"
        );
        assert!(
            !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | b'\0')),
            "header value {value:?} contains CR, LF or NUL"
        );
        self.headers.push((name, value));
        self
    }

    /// Sets the body (builder style).
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// A plain-text response: `Content-Type: text/plain; charset=utf-8` and `text`.
    pub fn text(status: StatusCode, text: impl Into<Body>) -> Self {
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(text)
    }

    /// An error page a person can read: the body is `"<code> <reason>\n<detail>\n"` as
    /// plain text, with `Connection: close`.
    ///
    /// The connection closes because error responses mostly follow requests whose framing
    /// we could not trust (RFC 9112 §9.6 lets the server close after any response that
    /// says so); a client that wants to retry opens a fresh connection.
    pub fn error(status: StatusCode, detail: &str) -> Self {
        Response::text(status, format!("{status}\n{detail}\n")).header("Connection", "close")
    }

    /// The error page for a malformed request: `error(err.status(), &err.to_string())`.
    pub fn from_http_error(err: &HttpError) -> Self {
        Response::error(err.status(), &err.to_string())
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The header fields, in the order they will be written (without `Content-Length`).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|(name, value)| (name.as_ref(), value.as_ref()))
    }

    /// The body.
    pub fn get_body(&self) -> &Body {
        &self.body
    }

    /// Does this response tell the client the connection closes after it
    /// (`Connection: close`, RFC 9112 §9.6)? The server then closes after sending it.
    pub fn closes_connection(&self) -> bool {
        self.headers()
            .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, value)| value.split(','))
            .any(|option| {
                option
                    .trim_matches(|c: char| c.is_ascii() && is_ows(c as u8))
                    .eq_ignore_ascii_case("close")
            })
    }

    /// Appends the response to `out`: the status line `HTTP/1.1 <code> <reason>`, the
    /// header fields, `Content-Length`, the blank line, and the body.
    ///
    /// 1xx, 204 and 304 responses get neither `Content-Length` nor a body: they cannot
    /// have content (RFC 9110 §8.6, RFC 9112 §6.3), so a body set on one is not sent.
    ///
    /// With `head_only` (the answer to a HEAD request) the body is left out but
    /// `Content-Length` still gives its length: RFC 9110 §9.3.2, the server "SHOULD send
    /// the same header fields in response to a HEAD request as it would have sent if the
    /// request method had been GET".
    pub fn encode(&self, out: &mut Vec<u8>, head_only: bool) {
        self.encode_with(out, head_only, &[]);
    }

    /// [`encode`](Self::encode), with the fields the connection's state requires after
    /// the application's own: a `Connection` field (`close` when the server will close
    /// after it, RFC 9112 §9.6; `keep-alive` for an HTTP/1.0 client that asked, RFC 9112
    /// appendix C.2.2) and the CORS fields of an allowed cross-origin request
    /// ([`origin`](super::origin)). The session decides them.
    pub fn encode_with(&self, out: &mut Vec<u8>, head_only: bool, added: &[(&str, &str)]) {
        let allows_body = self.status.allows_body();
        self.encode_head(out, added, |out| {
            if allows_body {
                out.extend_from_slice(b"Content-Length: ");
                push_decimal(out, self.body.len() as u64);
                out.extend_from_slice(b"\r\n");
            }
        });
        if allows_body && !head_only {
            match &self.body {
                Body::Pieces(pieces) => pieces.iter().for_each(|p| out.extend_from_slice(p)),
                body => out.extend_from_slice(&body.as_bytes()),
            }
        }
    }

    /// Appends the head of a response whose body is streamed after it (a long-lived
    /// response, e.g. server-sent events): with `chunked`, `Transfer-Encoding: chunked`
    /// (RFC 9112 §7.1), and the body follows as chunks; without, no framing field at all,
    /// and the body ends when the connection closes (RFC 9112 §6.3 item 8: the only
    /// framing an HTTP/1.0 client understands). The response's own body is not sent.
    pub fn encode_stream_head(&self, out: &mut Vec<u8>, chunked: bool, added: &[(&str, &str)]) {
        self.encode_head(out, added, |out| {
            if chunked {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            }
        });
    }

    /// The status line, the fields, the `added` ones, the framing field written by
    /// `framing`, and the blank line.
    fn encode_head(
        &self,
        out: &mut Vec<u8>,
        added: &[(&str, &str)],
        framing: impl FnOnce(&mut Vec<u8>),
    ) {
        let status = self.status;
        // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ];
        // the second SP stays even when the reason phrase is empty.
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, u64::from(status.as_u16()));
        out.push(b' ');
        out.extend_from_slice(status.reason_phrase().as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in self.headers() {
            push_field(out, name, value);
        }
        for (name, value) in added {
            push_field(out, name, value);
        }
        framing(out);
        out.extend_from_slice(b"\r\n");
    }
}

/// One `name: value` field line.
fn push_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `200 OK (5 bytes)`: for logs.
impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes)", self.status, self.body.len())
    }
}

/// Appends `n` in decimal without going through `fmt` (which would need an
/// `io::Write` whose error case cannot happen for a `Vec`).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20]; // u64::MAX has 20 digits
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(response: &Response, head_only: bool) -> String {
        let mut out = Vec::new();
        response.encode(&mut out, head_only);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encode_writes_status_line_headers_content_length_and_body() {
        let response = Response::new(StatusCode::OK).header("X-A", "1").body("hi");
        assert_eq!(
            encoded(&response, false),
            "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nhi"
        );
    }

    #[test]
    fn encode_appends_without_clearing_the_buffer() {
        let mut out = b"earlier".to_vec();
        Response::new(StatusCode::OK).encode(&mut out, false);
        assert_eq!(out, b"earlierHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }

    #[test]
    fn head_responses_keep_content_length_but_omit_the_body() {
        let response = Response::text(StatusCode::OK, "hello");
        let text = encoded(&response, true);
        assert!(text.contains("Content-Length: 5\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn no_content_and_informational_responses_have_no_length_or_body() {
        let response = Response::new(StatusCode::NO_CONTENT).body("ignored");
        assert_eq!(encoded(&response, false), "HTTP/1.1 204 No Content\r\n\r\n");
        let response =
            Response::new(StatusCode::SWITCHING_PROTOCOLS).header("Upgrade", "websocket");
        assert_eq!(
            encoded(&response, false),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        );
        assert_eq!(
            encoded(&Response::new(StatusCode::NOT_MODIFIED), false),
            "HTTP/1.1 304 Not Modified\r\n\r\n"
        );
    }

    #[test]
    fn unknown_status_keeps_the_space_before_an_empty_reason() {
        assert_eq!(
            encoded(&Response::new(StatusCode::new(299).unwrap()), false),
            "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn error_page_is_readable_text_and_closes_the_connection() {
        let response = Response::error(StatusCode::NOT_FOUND, "no such channel");
        assert_eq!(
            &*response.get_body().as_bytes(),
            b"404 Not Found\nno such channel\n"
        );
        assert!(response.closes_connection());
        assert!(
            response
                .headers()
                .any(|h| h == ("Content-Type", "text/plain; charset=utf-8"))
        );
    }

    #[test]
    fn http_errors_become_their_status_and_description() {
        let response = Response::from_http_error(&HttpError::TooManyHeaders);
        assert_eq!(
            response.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        assert_eq!(
            &*response.get_body().as_bytes(),
            b"431 Request Header Fields Too Large\ntoo many header fields\n"
        );
    }

    #[test]
    fn closes_connection_reads_the_connection_list_case_insensitively() {
        assert!(!Response::new(StatusCode::OK).closes_connection());
        assert!(
            Response::new(StatusCode::OK)
                .header("connection", "keep-alive , CLOSE")
                .closes_connection()
        );
        assert!(
            !Response::new(StatusCode::OK)
                .header("Connection", "keep-alive")
                .closes_connection()
        );
    }

    #[test]
    fn bodies_of_every_kind_expose_their_bytes() {
        let shared: Arc<[u8]> = Arc::from(&b"abc"[..]);
        let bodies = [
            Body::from(b"abc".to_vec()),
            Body::from(String::from("abc")),
            Body::from("abc"),
            Body::from(&b"abc"[..]),
            Body::from(shared),
        ];
        for body in bodies {
            assert_eq!(&*body.as_bytes(), b"abc");
            assert_eq!(body.len(), 3);
            assert!(!body.is_empty());
        }
        assert!(Body::Empty.is_empty());
    }

    #[test]
    fn shared_bodies_are_not_copied_by_clone() {
        let payload: Arc<[u8]> = Arc::from(&b"fan-out"[..]);
        let response = Response::new(StatusCode::OK).body(payload.clone());
        let copy = response.clone();
        assert_eq!(Arc::strong_count(&payload), 3);
        assert_eq!(encoded(&copy, false), encoded(&response, false));
    }

    #[test]
    #[should_panic(expected = "not an HTTP token")]
    fn header_name_with_a_space_panics() {
        let _ = Response::new(StatusCode::OK).header("Bad Name", "x");
    }

    #[test]
    #[should_panic(expected = "contains CR, LF or NUL")]
    fn header_value_with_crlf_panics_rather_than_injecting_a_header() {
        let _ = Response::new(StatusCode::OK).header("X", "a\r\nSet-Cookie: evil=1");
    }

    #[test]
    #[should_panic(expected = "is written by the encoder")]
    fn setting_content_length_panics() {
        let _ = Response::new(StatusCode::OK).header("content-length", "3");
    }

    #[test]
    #[should_panic(expected = "is written by the encoder")]
    fn setting_transfer_encoding_panics() {
        let _ = Response::new(StatusCode::OK).header("Transfer-Encoding", "chunked");
    }

    #[test]
    fn connection_field_from_the_session_follows_the_applications_fields() {
        let mut out = Vec::new();
        Response::text(StatusCode::OK, "hi")
            .header("X-A", "1")
            .encode_with(&mut out, false, &[("Connection", "close")]);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-A: 1\r\n\
              Connection: close\r\nContent-Length: 2\r\n\r\nhi"
        );
    }

    #[test]
    fn stream_heads_are_chunked_or_unframed_and_carry_no_body() {
        let response = Response::new(StatusCode::OK)
            .header("Content-Type", "text/event-stream")
            .body("ignored");
        let mut out = Vec::new();
        response.encode_stream_head(&mut out, true, &[]);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
              Transfer-Encoding: chunked\r\n\r\n"
        );
        out.clear();
        response.encode_stream_head(&mut out, false, &[("Connection", "close")]);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn push_decimal_writes_zero_and_the_largest_value() {
        let mut out = Vec::new();
        push_decimal(&mut out, 0);
        out.push(b' ');
        push_decimal(&mut out, u64::MAX);
        assert_eq!(out, b"0 18446744073709551615");
    }
}
