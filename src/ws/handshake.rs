//! The server side of the WebSocket opening handshake (RFC 6455 §4.2.1–§4.2.2).
//!
//! A WebSocket connection starts as an HTTP/1.1 `GET` with `Upgrade: websocket`. The
//! server checks the request ([`validate_upgrade`]), and either refuses it with an HTTP
//! error ([`HandshakeError::response`]) or answers `101 Switching Protocols` with a
//! `Sec-WebSocket-Accept` derived from the client's key ([`write_accept_response`]);
//! after that blank line both sides speak frames.
//!
//! The key/accept exchange is not security: it proves to the client that the server
//! read this handshake as a WebSocket handshake (and is not, say, a cache replaying an
//! old response), RFC 6455 §1.3. What protects browsers is the `Origin` check (§10.2).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};
use std::fmt;

use crate::http::request::{RequestHead, Version};
use crate::http::response::Response;
use crate::http::status_code::StatusCode;
use crate::http::token::is_token;
use crate::ws::extension::Extension;
use crate::ws::permessage_deflate::Agreement;

/// The GUID appended to the client's key before hashing (RFC 6455 §1.3, §4.2.2 item 5.4).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version this server speaks, RFC 6455 §4.1 item 9 ("The value of this
/// header field MUST be 13").
const VERSION: &str = "13";

/// Is this a request to open a WebSocket? True when the `Upgrade` header's list contains
/// the token `websocket` (ASCII case-insensitive, RFC 6455 §4.2.1 item 3). Such a request
/// is checked with [`validate_upgrade`] and refused if it is not a correct handshake;
/// anything else is plain HTTP.
pub fn is_upgrade_request(head: &RequestHead<'_>) -> bool {
    head.has_token("Upgrade", "websocket")
}

// ===== HandshakeError =====

/// Why an upgrade request was refused. Every variant knows its HTTP status
/// ([`HandshakeError::status`]) and the response to send ([`HandshakeError::response`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The method is not `GET` (§4.2.1 item 1). 400.
    NotGet,
    /// The request is HTTP/1.0; the handshake needs HTTP/1.1 or higher (§4.2.1 item 1). 400.
    HttpVersionTooOld,
    /// No `Host` header (§4.2.1 item 2). 400.
    MissingHost,
    /// `Upgrade` does not contain the token `websocket` (§4.2.1 item 3). 400.
    /// Only reachable when `validate_upgrade` is called without [`is_upgrade_request`].
    MissingUpgrade,
    /// `Connection` does not contain the token `Upgrade` (§4.2.1 item 4). 400.
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Key` (§4.2.1 item 5). 400.
    MissingKey,
    /// More than one `Sec-WebSocket-Key` (§11.3.1: it "MUST NOT appear more than once in
    /// an HTTP request"). 400.
    DuplicateKey,
    /// `Sec-WebSocket-Key` is not the base64 encoding of exactly 16 bytes (§4.1 item 7). 400.
    BadKey,
    /// `Sec-WebSocket-Version` is missing or not `13` (§4.2.2 item 4, §4.4). 426, with
    /// `Sec-WebSocket-Version: 13` so the client can retry with a version we speak.
    UnsupportedVersion,
    /// A `Sec-WebSocket-Extensions` offer that does not follow the grammar of §9.1. 400:
    /// §9.1, "the recipient of such malformed data MUST immediately _Fail the WebSocket
    /// Connection_".
    BadExtensions,
}

impl HandshakeError {
    /// The status to refuse the handshake with.
    pub fn status(&self) -> StatusCode {
        match self {
            HandshakeError::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            HandshakeError::NotGet
            | HandshakeError::HttpVersionTooOld
            | HandshakeError::MissingHost
            | HandshakeError::MissingUpgrade
            | HandshakeError::MissingConnectionUpgrade
            | HandshakeError::MissingKey
            | HandshakeError::DuplicateKey
            | HandshakeError::BadKey
            | HandshakeError::BadExtensions => StatusCode::BAD_REQUEST,
        }
    }

    /// The response refusing the handshake: an error page with this status and
    /// description. For 426 it also carries `Sec-WebSocket-Version: 13` (RFC 6455 §4.2.2
    /// item 4: the server "MUST ... send a |Sec-WebSocket-Version| header field indicating
    /// the version(s) the server is capable of understanding") and `Upgrade: websocket`
    /// (RFC 9110 §15.5.22: a 426 "MUST send an Upgrade header field").
    pub fn response(&self) -> Response {
        let response = Response::error(self.status(), &self.to_string());
        match self {
            HandshakeError::UnsupportedVersion => response
                .header("Sec-WebSocket-Version", VERSION)
                .header("Upgrade", "websocket"),
            _ => response,
        }
    }

    fn description(&self) -> &'static str {
        match self {
            HandshakeError::NotGet => "websocket handshake must use get",
            HandshakeError::HttpVersionTooOld => "websocket handshake needs http/1.1",
            HandshakeError::MissingHost => "missing host header",
            HandshakeError::MissingUpgrade => "upgrade header lacks websocket",
            HandshakeError::MissingConnectionUpgrade => "connection header lacks upgrade",
            HandshakeError::MissingKey => "missing sec-websocket-key header",
            HandshakeError::DuplicateKey => "more than one sec-websocket-key header",
            HandshakeError::BadKey => "sec-websocket-key is not 16 bytes in base64",
            HandshakeError::UnsupportedVersion => "unsupported websocket version (need 13)",
            HandshakeError::BadExtensions => "malformed sec-websocket-extensions",
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for HandshakeError {}

// ===== UpgradeRequest =====

/// A validated upgrade request, borrowing the head.
#[derive(Debug, Clone, Copy)]
pub struct UpgradeRequest<'b> {
    /// The client's `Sec-WebSocket-Key`, as sent (base64 of 16 bytes).
    pub key: &'b str,
    /// The `Origin` header, if the client sent one as valid UTF-8 (browsers always do).
    pub origin: Option<&'b str>,
    head: RequestHead<'b>,
}

impl<'b> UpgradeRequest<'b> {
    /// The request head, for the path, query and any other header.
    pub fn head(&self) -> RequestHead<'b> {
        self.head
    }

    /// Subprotocols the client offered: the `Sec-WebSocket-Protocol` list elements across
    /// all such fields, in order of preference (RFC 6455 §4.1 item 10). Elements that are
    /// not valid UTF-8 are skipped; they could not be tokens anyway.
    ///
    /// Only elements that are HTTP tokens are subprotocols (RFC 6455 §4.1: "elements that
    /// comprise this value MUST be non-empty strings with characters in the range U+0021 to
    /// U+007E not including separator characters", i.e. tokens, §11.3.4); anything else a
    /// client sends (`chat v1`, `a/b`) is skipped, so it can never be selected and echoed
    /// into the response head.
    pub fn protocols(&self) -> impl Iterator<Item = &'b str> + use<'b> {
        self.head
            .list("Sec-WebSocket-Protocol")
            .filter(|p| crate::http::token::is_token(p))
            .filter_map(|p| std::str::from_utf8(p).ok())
    }

    /// Did the client offer subprotocol `p`? Compared exactly, byte for byte: RFC 6455
    /// makes only the `Upgrade` and `Connection` values case-insensitive (§4.2.1), and a
    /// client fails the connection when the server selects a subprotocol "that was not
    /// present in the client's handshake" (§4.1), which browsers check exactly.
    pub fn offers_protocol(&self, p: &str) -> bool {
        self.protocols().any(|offered| offered == p)
    }
}

// ===== validation =====

/// Checks an upgrade request against RFC 6455 §4.2.1, in this order: method `GET`,
/// version HTTP/1.1, `Host` present, `Upgrade` contains `websocket`, `Connection`
/// contains `Upgrade` (in any position of any `Connection` field),
/// `Sec-WebSocket-Version` is exactly `13` (missing or other → 426), exactly one
/// `Sec-WebSocket-Key` that is the padded, standard-alphabet base64 of exactly 16 bytes,
/// and last the extension offers.
///
/// The `Origin` (§4.2.2 item 4, §10.2) is a policy, not syntax: the session checks it
/// for every request before this is called (see [`http::origin`](crate::http::origin)).
pub fn validate_upgrade<'b>(head: &RequestHead<'b>) -> Result<UpgradeRequest<'b>, HandshakeError> {
    // §4.2.1 item 1: "An HTTP/1.1 or higher GET request". Methods are case-sensitive
    // (RFC 9110 §9.1), so `get` is not GET.
    if head.method() != "GET" {
        return Err(HandshakeError::NotGet);
    }
    if head.version() != Version::Http11 {
        return Err(HandshakeError::HttpVersionTooOld);
    }
    // §4.2.1 item 2: "A |Host| header field containing the server's authority."
    if head.header("Host").is_none() {
        return Err(HandshakeError::MissingHost);
    }
    // §4.2.1 item 3: "An |Upgrade| header field containing the value "websocket",
    // treated as an ASCII case-insensitive value."
    if !is_upgrade_request(head) {
        return Err(HandshakeError::MissingUpgrade);
    }
    // §4.2.1 item 4: "A |Connection| header field that includes the token "Upgrade",
    // treated as an ASCII case-insensitive value." Browsers send `keep-alive, Upgrade`.
    if !head.has_token("Connection", "Upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    // §4.2.1 item 6 and §4.2.2 item 4: a version we do not speak is answered with 426
    // and the versions we do. One field with exactly "13": §11.3.5 says the field "MUST
    // NOT appear more than once in an HTTP request", and §4.1 item 9 that its value
    // "MUST be 13".
    if head.header_count("Sec-WebSocket-Version") != 1
        || head.header("Sec-WebSocket-Version") != Some(VERSION.as_bytes())
    {
        return Err(HandshakeError::UnsupportedVersion);
    }
    // §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded value
    // that, when decoded, is 16 bytes in length."
    let key = match head.header_count("Sec-WebSocket-Key") {
        0 => return Err(HandshakeError::MissingKey),
        1 => head
            .header_str("Sec-WebSocket-Key")
            .ok_or(HandshakeError::BadKey)?,
        _ => return Err(HandshakeError::DuplicateKey),
    };
    if !is_valid_key(key) {
        return Err(HandshakeError::BadKey);
    }
    // §9.1: an extension offer we cannot even parse fails the connection (the grammar
    // lives in `ws::extension`). A well-formed offer is answered or not by the caller:
    // §9.1 lets the server choose none.
    if !head
        .list("Sec-WebSocket-Extensions")
        .all(|element| Extension::parse(element).is_ok())
    {
        return Err(HandshakeError::BadExtensions);
    }
    Ok(UpgradeRequest {
        key,
        origin: head.header_str("Origin"),
        head: *head,
    })
}

/// The [`UpgradeRequest`] of a head that [`validate_upgrade`] accepted, without checking
/// it again (the session keeps the request between its checks and the application's
/// answer, and hands the view out from there).
pub(crate) fn validated(head: RequestHead<'_>) -> UpgradeRequest<'_> {
    UpgradeRequest {
        key: head.header_str("Sec-WebSocket-Key").unwrap_or_default(),
        origin: head.header_str("Origin"),
        head,
    }
}

/// Is `key` the base64 of exactly 16 bytes? Sixteen bytes always encode to 24 characters
/// ending in `==`, so anything of another length is refused before decoding, and a
/// 24-character string decodes to at most 18 bytes, which bounds the buffer. The standard
/// engine also refuses non-canonical encodings (stray bits in the last symbol).
fn is_valid_key(key: &str) -> bool {
    let mut decoded = [0u8; 18];
    key.len() == 24 && BASE64.decode_slice(key, &mut decoded) == Ok(16)
}

// ===== accepting =====

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)),
/// RFC 6455 §4.2.2 item 5.4 and §1.3. `key` is the header value as sent, not decoded.
pub fn accept_key(key: &[u8]) -> String {
    let digest = Sha1::new_with_prefix(key).chain_update(GUID).finalize();
    BASE64.encode(digest)
}

/// Appends the `101 Switching Protocols` response accepting a handshake
/// (RFC 6455 §4.2.2 item 5): `Upgrade: websocket`, `Connection: Upgrade`,
/// `Sec-WebSocket-Accept` for `key` and, when one was chosen, `Sec-WebSocket-Protocol`.
///
/// `protocol` must be one the client offered (the caller checks with
/// [`UpgradeRequest::offers_protocol`]): §4.1 says the client fails the connection
/// otherwise. `deflate` is the permessage-deflate offer accepted, if any (RFC 7692 §5).
///
/// # Panics
///
/// If `protocol` is not a token (RFC 6455 §4.1 item 10, RFC 9110 §5.6.2): writing it
/// would corrupt the response, and no client can have offered it.
pub fn write_accept_response(
    out: &mut Vec<u8>,
    key: &str,
    protocol: Option<&str>,
    deflate: Option<&Agreement>,
) {
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\n\
          Upgrade: websocket\r\n\
          Connection: Upgrade\r\n\
          Sec-WebSocket-Accept: ",
    );
    out.extend_from_slice(accept_key(key.as_bytes()).as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(protocol) = protocol {
        assert!(
            is_token(protocol.as_bytes()),
            "subprotocol {protocol:?} is not a token"
        );
        out.extend_from_slice(b"Sec-WebSocket-Protocol: ");
        out.extend_from_slice(protocol.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(agreement) = deflate {
        // RFC 7692 §5: the accepted offer, with the parameters the answer must carry.
        out.extend_from_slice(b"Sec-WebSocket-Extensions: ");
        agreement.write_response(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod protocol_token_tests {
    use super::*;
    use crate::config::HeadLimits;
    use crate::http::HeadParser;

    #[test]
    fn offered_elements_that_are_not_tokens_are_not_protocols() {
        let req = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Protocol: chat v1, a/b, x\"y, good.v2\r\n\r\n";
        let mut parser = HeadParser::new();
        assert!(
            parser
                .parse(req, &HeadLimits::default())
                .unwrap()
                .is_complete()
        );
        let head = parser.head(req).unwrap();
        let upgrade = validate_upgrade(&head).unwrap();
        assert_eq!(upgrade.protocols().collect::<Vec<_>>(), ["good.v2"]);
        assert!(!upgrade.offers_protocol("chat v1"));
        // Accepting what was offered can therefore never panic.
        let mut out = Vec::new();
        for p in upgrade.protocols() {
            write_accept_response(&mut out, upgrade.key, Some(p), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::with_head;

    /// The client handshake of RFC 6455 §1.2 (with its Origin and subprotocols).
    const SAMPLE: &str = "GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    /// Validates `request` (allowing any origin); returns the error, if any.
    fn validate(request: &str) -> Result<(), HandshakeError> {
        with_head(request, |head| validate_upgrade(head).map(|_| ()))
    }

    /// SAMPLE with `from` replaced by `to`; `from` must occur.
    fn sample_with(from: &str, to: &str) -> String {
        assert!(SAMPLE.contains(from), "{from:?}");
        SAMPLE.replacen(from, to, 1)
    }

    #[test]
    fn accept_key_matches_the_rfc_6455_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn the_rfc_sample_handshake_validates() {
        with_head(SAMPLE, |head| {
            assert!(is_upgrade_request(head));
            let upgrade = validate_upgrade(head).unwrap();
            assert_eq!(upgrade.key, "dGhlIHNhbXBsZSBub25jZQ==");
            assert_eq!(upgrade.origin, Some("http://example.com"));
            assert_eq!(upgrade.head().path(), "/chat");
            assert_eq!(
                upgrade.protocols().collect::<Vec<_>>(),
                ["chat", "superchat"]
            );
        });
    }

    #[test]
    fn plain_requests_are_not_upgrade_requests() {
        with_head("GET / HTTP/1.1\r\nHost: a\r\n\r\n", |head| {
            assert!(!is_upgrade_request(head));
        });
        with_head(
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n",
            |head| {
                assert!(!is_upgrade_request(head));
            },
        );
    }

    #[test]
    fn each_handshake_error_from_a_minimal_variation_with_its_status() {
        use HandshakeError::*;
        let cases: Vec<(String, HandshakeError, u16)> = vec![
            (sample_with("GET", "POST"), NotGet, 400),
            (sample_with("HTTP/1.1", "HTTP/1.0"), HttpVersionTooOld, 400),
            // The version is checked before Host: an HTTP/1.0 head without Host.
            (
                sample_with("HTTP/1.1", "HTTP/1.0").replace("Host: server.example.com\r\n", ""),
                HttpVersionTooOld,
                400,
            ),
            (
                sample_with("Upgrade: websocket", "Upgrade: h2c"),
                MissingUpgrade,
                400,
            ),
            (
                sample_with("Connection: Upgrade", "Connection: keep-alive"),
                MissingConnectionUpgrade,
                400,
            ),
            (
                sample_with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
                MissingKey,
                400,
            ),
            (
                sample_with(
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                ),
                DuplicateKey,
                400,
            ),
            (
                sample_with("dGhlIHNhbXBsZSBub25jZQ==", "not base64!"),
                BadKey,
                400,
            ),
            (
                sample_with("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
                UnsupportedVersion,
                426,
            ),
            (
                sample_with("Sec-WebSocket-Version: 13\r\n", ""),
                UnsupportedVersion,
                426,
            ),
            (
                sample_with(
                    "Sec-WebSocket-Version: 13\r\n",
                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: a; =1\r\n",
                ),
                BadExtensions,
                400,
            ),
        ];
        for (request, expected, status) in cases {
            assert_eq!(validate(&request), Err(expected), "{request:?}");
            assert_eq!(expected.status().as_u16(), status);
            assert_eq!(expected.response().status().as_u16(), status);
        }
    }

    #[test]
    fn a_well_formed_extension_offer_is_accepted_and_not_answered() {
        let request = sample_with(
            "Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-y\r\n",
        );
        assert!(validate(&request).is_ok());
    }

    #[test]
    fn missing_host_is_a_400() {
        // Not reachable from parsed input: the head parser already refuses HTTP/1.1
        // without Host (RFC 9112 §3.2), and HTTP/1.0 fails the version check first. The
        // check stays in validate_upgrade so it does not depend on the parser's rules.
        assert_eq!(
            HandshakeError::MissingHost.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            &*HandshakeError::MissingHost.response().get_body().as_bytes(),
            b"400 Bad Request\nmissing host header\n"
        );
    }

    #[test]
    fn unsupported_version_response_names_version_13() {
        let response = HandshakeError::UnsupportedVersion.response();
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        let headers: Vec<(&str, &str)> = response.headers().collect();
        assert!(headers.contains(&("Sec-WebSocket-Version", "13")));
        assert!(headers.contains(&("Upgrade", "websocket")));
        assert!(response.closes_connection());
    }

    #[test]
    fn connection_keep_alive_upgrade_and_mixed_case_upgrade_are_accepted() {
        let request = sample_with("Connection: Upgrade", "connection: keep-alive, Upgrade")
            .replace("Upgrade: websocket", "Upgrade: WebSocket");
        assert_eq!(validate(&request), Ok(()));
        let request = sample_with(
            "Connection: Upgrade",
            "Connection: keep-alive\r\nConnection: upgrade",
        );
        assert_eq!(validate(&request), Ok(()));
    }

    #[test]
    fn keys_must_decode_to_exactly_16_bytes() {
        let fifteen = BASE64.encode([7u8; 15]);
        let sixteen = BASE64.encode([7u8; 16]);
        let seventeen = BASE64.encode([7u8; 17]);
        let eighteen = BASE64.encode([7u8; 18]);
        assert_eq!(sixteen.len(), 24);
        for (key, expected) in [
            (fifteen.as_str(), Err(HandshakeError::BadKey)),
            (sixteen.as_str(), Ok(())),
            (seventeen.as_str(), Err(HandshakeError::BadKey)),
            (eighteen.as_str(), Err(HandshakeError::BadKey)),
            // Right length, bad alphabet (URL-safe), missing padding, stray bits.
            ("dGhlIHNhbXBsZSBub25jZQ-_", Err(HandshakeError::BadKey)),
            ("dGhlIHNhbXBsZSBub25jZQ", Err(HandshakeError::BadKey)),
            ("dGhlIHNhbXBsZSBub25jZR==", Err(HandshakeError::BadKey)),
        ] {
            let request = sample_with("dGhlIHNhbXBsZSBub25jZQ==", key);
            assert_eq!(validate(&request), expected, "key {key:?}");
        }
    }

    #[test]
    fn subprotocols_are_listed_across_fields_and_compared_exactly() {
        let request = sample_with(
            "Sec-WebSocket-Protocol: chat, superchat",
            "Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Protocol: ,v2.json",
        );
        with_head(&request, |head| {
            let upgrade = validate_upgrade(head).unwrap();
            assert_eq!(
                upgrade.protocols().collect::<Vec<_>>(),
                ["chat", "superchat", "v2.json"]
            );
            assert!(upgrade.offers_protocol("v2.json"));
            assert!(!upgrade.offers_protocol("Chat"));
        });
    }

    #[test]
    fn the_origin_is_read_and_not_judged() {
        with_head(SAMPLE, |head| {
            let upgrade = validate_upgrade(head).unwrap();
            assert_eq!(upgrade.origin, Some("http://example.com"));
        });
        let no_origin = sample_with("Origin: http://example.com\r\n", "");
        with_head(&no_origin, |head| {
            assert_eq!(validate_upgrade(head).unwrap().origin, None);
        });
    }

    #[test]
    fn accept_response_has_the_rfc_headers() {
        let mut out = Vec::new();
        write_accept_response(&mut out, "dGhlIHNhbXBsZSBub25jZQ==", Some("chat"), None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             Sec-WebSocket-Protocol: chat\r\n\r\n"
        );
        let mut out = Vec::new();
        write_accept_response(&mut out, "dGhlIHNhbXBsZSBub25jZQ==", None, None);
        assert!(
            !String::from_utf8(out)
                .unwrap()
                .contains("Sec-WebSocket-Protocol")
        );
    }

    #[test]
    #[should_panic(expected = "not a token")]
    fn accept_response_refuses_a_subprotocol_that_would_inject_a_header() {
        write_accept_response(&mut Vec::new(), "k", Some("chat\r\nSet-Cookie: x"), None);
    }

    #[test]
    fn error_display_is_lowercase() {
        let err = HandshakeError::UnsupportedVersion;
        assert_eq!(err.to_string(), err.to_string().to_lowercase());
        assert_eq!(
            &*err.response().get_body().as_bytes(),
            b"426 Upgrade Required\nunsupported websocket version (need 13)\n"
        );
    }
}
