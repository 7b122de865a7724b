//! The opening handshake from the client's side (RFC 6455 §4.1).
//!
//! The client sends a GET with a fresh 16-byte nonce in `Sec-WebSocket-Key`, then checks
//! the server's answer: status 101, `Upgrade: websocket`, `Connection: Upgrade`, the
//! `Sec-WebSocket-Accept` value derived from its nonce (proof that the server read this
//! very request, §1.3), no extension it did not offer, and at most one subprotocol, from
//! its own list. Any failure means the client "MUST _Fail the WebSocket Connection_".
//!
//! The one extension a client can offer is permessage-deflate (RFC 7692), with
//! [`ClientHandshake::offer_deflate`]: the request then carries the offer, and the
//! server's answer is checked against it by [`validate_response`] (RFC 7692 §5, §7.1).
//! What it agreed to is [`Accepted::deflate`], from the client's side, ready for
//! [`WsConnection::with_deflate`](crate::ws::connection::WsConnection::with_deflate).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::http::token::{is_token, trim_ows};
use crate::status::Status;
use crate::ws::extension::split_list;
use crate::ws::handshake::accept_key;
use crate::ws::permessage_deflate::{
    Agreement, ClientExtensionError, DeflateOffer, client_offer, validate_response,
};

/// Largest response head the client accepts.
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Why the server's handshake response was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientHandshakeError {
    /// The response head grew past [`MAX_RESPONSE_HEAD`] without ending.
    HeadTooLarge,
    /// The status line is not `HTTP/1.1 <3 digits> ...`.
    BadStatusLine,
    /// A header line is not `name: value`.
    BadHeader,
    /// The server answered with another status (§4.1: "If the status code received from
    /// the server is not 101, the client handles the response per HTTP procedures").
    NotSwitchingProtocols(u16),
    /// No `Upgrade: websocket`.
    MissingUpgrade,
    /// No `Connection: Upgrade`.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Accept` is missing or does not match our key.
    BadAccept,
    /// The server chose an extension we did not offer: any extension when we offered
    /// none, anything but permessage-deflate when we offered it (§4.1 item 5).
    UnexpectedExtension,
    /// The server accepted our permessage-deflate offer with an answer that breaks RFC
    /// 7692 §5 or §7.1: a parameter we did not allow, a window larger than we offered,
    /// the extension twice, a malformed list. §5: the client "MUST _Fail the WebSocket
    /// Connection_".
    BadDeflateResponse(ClientExtensionError),
    /// The server chose a subprotocol we did not offer.
    UnexpectedProtocol(String),
}

impl std::fmt::Display for ClientHandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::HeadTooLarge => write!(f, "response head exceeds {MAX_RESPONSE_HEAD} bytes"),
            Self::BadStatusLine => f.write_str("malformed status line"),
            Self::BadHeader => f.write_str("malformed header line"),
            Self::NotSwitchingProtocols(code) => {
                write!(
                    f,
                    "server answered {code} instead of 101 switching protocols"
                )
            }
            Self::MissingUpgrade => f.write_str("response lacks `upgrade: websocket`"),
            Self::MissingConnectionUpgrade => f.write_str("response lacks `connection: upgrade`"),
            Self::BadAccept => f.write_str("sec-websocket-accept is missing or wrong"),
            Self::UnexpectedExtension => f.write_str("server chose an extension we did not offer"),
            Self::BadDeflateResponse(e) => {
                write!(f, "server's permessage-deflate answer is refused: {e}")
            }
            Self::UnexpectedProtocol(p) => {
                write!(f, "server chose subprotocol {p:?}, which we did not offer")
            }
        }
    }
}

impl std::error::Error for ClientHandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::BadDeflateResponse(e) => Some(e),
            _ => None,
        }
    }
}

/// What the server agreed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The subprotocol the server chose from our offer, if any.
    pub protocol: Option<String>,
    /// permessage-deflate, when we offered it and the server accepted (RFC 7692 §5):
    /// the parameters in effect from the client's side — its `compressor` is the
    /// client-to-server direction, its `decompressor` the server-to-client one. `None`:
    /// not offered, or declined (no answer), and the connection runs uncompressed.
    pub deflate: Option<Agreement>,
}

/// The client's handshake in progress: its key, its offer, and how far the response has
/// been scanned.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    key: String,
    protocols: Vec<String>,
    /// The permessage-deflate offer we make, if any (RFC 7692 §5).
    deflate: Option<DeflateOffer>,
    /// Bytes of the response already searched for the blank line (the search resumes
    /// here, so total work is linear however the response arrives).
    scanned: usize,
}

impl ClientHandshake {
    /// A handshake whose `Sec-WebSocket-Key` is `nonce` (§4.1: "a randomly selected
    /// 16-byte value"), offering `protocols` (tokens, in order of preference).
    ///
    /// # Panics
    /// If a protocol is not an HTTP token (a programmer error that would corrupt the
    /// request).
    pub fn new(nonce: [u8; 16], protocols: &[&str]) -> Self {
        for p in protocols {
            assert!(is_token(p.as_bytes()), "subprotocol {p:?} is not a token");
        }
        ClientHandshake {
            key: BASE64.encode(nonce),
            protocols: protocols.iter().map(|p| p.to_string()).collect(),
            deflate: None,
            scanned: 0,
        }
    }

    /// Offers permessage-deflate with `offer`'s parameters (RFC 7692 §5, §7.1): the
    /// request carries `Sec-WebSocket-Extensions: ` and [`client_offer`]'s value, and the
    /// server's answer is accepted only as [`validate_response`] allows for this offer.
    /// One offer: a second call replaces the first.
    pub fn offer_deflate(mut self, offer: DeflateOffer) -> Self {
        self.deflate = Some(offer);
        self
    }

    /// The permessage-deflate offer this handshake makes, if any.
    pub fn deflate_offer(&self) -> Option<&DeflateOffer> {
        self.deflate.as_ref()
    }

    /// The `Sec-WebSocket-Key` value.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Appends the request (§4.1 items 1–10) for `path` on `host` (with `:port` unless it
    /// is the default 80), with our permessage-deflate offer if there is one (§4.1 item
    /// 11, RFC 7692 §5).
    pub fn write_request(&self, out: &mut Vec<u8>, host: &str, path: &str, origin: Option<&str>) {
        let mut head = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
            self.key
        );
        if !self.protocols.is_empty() {
            head.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                self.protocols.join(", ")
            ));
        }
        if let Some(offer) = &self.deflate {
            head.push_str(&format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                client_offer(offer)
            ));
        }
        if let Some(origin) = origin {
            head.push_str(&format!("Origin: {origin}\r\n"));
        }
        head.push_str("\r\n");
        out.extend_from_slice(head.as_bytes());
    }

    /// Looks for the end of the response head in `buf` (the bytes received so far,
    /// growing between calls) and validates it once complete. Returns the head's length
    /// (bytes after it are WebSocket frames) and what the server accepted.
    pub fn handle_response(
        &mut self,
        buf: &[u8],
    ) -> Result<Status<(usize, Accepted)>, ClientHandshakeError> {
        let from = self.scanned.saturating_sub(3).min(buf.len());
        let Some(at) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") else {
            if buf.len() > MAX_RESPONSE_HEAD {
                return Err(ClientHandshakeError::HeadTooLarge);
            }
            self.scanned = buf.len();
            return Ok(Status::Partial);
        };
        let end = from + at + 4;
        if end > MAX_RESPONSE_HEAD {
            return Err(ClientHandshakeError::HeadTooLarge);
        }
        let accepted = self.validate(&buf[..end - 4])?;
        Ok(Status::Complete((end, accepted)))
    }

    fn validate(&self, head: &[u8]) -> Result<Accepted, ClientHandshakeError> {
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let status_line = lines.next().ok_or(ClientHandshakeError::BadStatusLine)?;
        let status = parse_status_line(status_line)?;
        if status != 101 {
            return Err(ClientHandshakeError::NotSwitchingProtocols(status));
        }
        let (mut upgrade, mut connection, mut accept_ok) = (false, false, false);
        let mut protocol = None;
        // Every `Sec-WebSocket-Extensions` line's value, joined with commas: several
        // fields of one name are one list (RFC 9110 §5.3, RFC 7230 §3.2.2). Bounded by
        // the head, at most MAX_RESPONSE_HEAD.
        let mut extensions: Vec<u8> = Vec::new();
        let expected_accept = accept_key(self.key.as_bytes());
        for line in lines {
            let colon = line
                .iter()
                .position(|&b| b == b':')
                .ok_or(ClientHandshakeError::BadHeader)?;
            let (name, value) = (&line[..colon], trim_ows(&line[colon + 1..]));
            if !is_token(name) {
                return Err(ClientHandshakeError::BadHeader);
            }
            let name = std::str::from_utf8(name).map_err(|_| ClientHandshakeError::BadHeader)?;
            let elements = || {
                value
                    .split(|&b| b == b',')
                    .map(trim_ows)
                    .filter(|e| !e.is_empty())
            };
            if name.eq_ignore_ascii_case("upgrade") {
                // §4.1 item 2: "a case-insensitive match for the value 'websocket'".
                upgrade |= value.eq_ignore_ascii_case(b"websocket");
            } else if name.eq_ignore_ascii_case("connection") {
                // §4.1 item 3: a token list containing "Upgrade", case-insensitively.
                connection |= elements().any(|e| e.eq_ignore_ascii_case(b"upgrade"));
            } else if name.eq_ignore_ascii_case("sec-websocket-accept") {
                // §4.1 item 4: base64(SHA-1(key + GUID)), compared exactly.
                accept_ok = value == expected_accept.as_bytes();
            } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
                // Checked once the whole list is known, below.
                if !extensions.is_empty() {
                    extensions.push(b',');
                }
                extensions.extend_from_slice(value);
            } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
                // §4.1 item 6: a subprotocol "not present in the client's handshake".
                let chosen = String::from_utf8_lossy(value).into_owned();
                if protocol.is_some() || !self.protocols.contains(&chosen) {
                    return Err(ClientHandshakeError::UnexpectedProtocol(chosen));
                }
                protocol = Some(chosen);
            }
        }
        if !upgrade {
            return Err(ClientHandshakeError::MissingUpgrade);
        }
        if !connection {
            return Err(ClientHandshakeError::MissingConnectionUpgrade);
        }
        if !accept_ok {
            return Err(ClientHandshakeError::BadAccept);
        }
        let deflate = self.check_extensions(&extensions)?;
        Ok(Accepted { protocol, deflate })
    }

    /// Checks the server's extension list (all its `Sec-WebSocket-Extensions` lines,
    /// joined) against our offer, and gives what was agreed.
    fn check_extensions(&self, answer: &[u8]) -> Result<Option<Agreement>, ClientHandshakeError> {
        let Some(offer) = &self.deflate else {
            // §4.1 item 5: an extension "not present in the client's handshake" (we
            // offered none; empty list elements are no extension).
            return match split_list(answer).next() {
                Some(_) => Err(ClientHandshakeError::UnexpectedExtension),
                None => Ok(None),
            };
        };
        // RFC 7692 §5: the answer must accept our one offer, once, as §7.1 allows.
        validate_response(answer, offer).map_err(|e| match e {
            ClientExtensionError::UnexpectedExtension => ClientHandshakeError::UnexpectedExtension,
            e => ClientHandshakeError::BadDeflateResponse(e),
        })
    }
}

/// `HTTP/1.1 SP 3DIGIT SP reason-phrase` (RFC 9112 §4) → the status code.
fn parse_status_line(line: &[u8]) -> Result<u16, ClientHandshakeError> {
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .ok_or(ClientHandshakeError::BadStatusLine)?;
    match rest {
        [a, b, c, tail @ ..]
            if a.is_ascii_digit()
                && b.is_ascii_digit()
                && c.is_ascii_digit()
                && (tail.is_empty() || tail[0] == b' ') =>
        {
            Ok(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => Err(ClientHandshakeError::BadStatusLine),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HeadLimits;
    use crate::http::HeadParser;
    use crate::ws::extension::ExtensionError;
    use crate::ws::handshake::{validate_upgrade, write_accept_response};
    use crate::ws::permessage_deflate::{
        ClientWindowOffer, DeflateConfig, DeflateParam, ParamError, StreamParams, WindowBits,
        negotiate,
    };

    /// The RFC 6455 §1.3 nonce: "the sample nonce".
    const NONCE: [u8; 16] = *b"the sample nonce";

    fn response(accept: &str, extra: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn key_is_the_base64_nonce_from_rfc_section_1_3() {
        let hs = ClientHandshake::new(NONCE, &[]);
        assert_eq!(hs.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn request_passes_our_own_server_validation_and_answer_passes_the_client() {
        let mut hs = ClientHandshake::new(NONCE, &["chat", "superchat"]);
        let mut request = Vec::new();
        hs.write_request(
            &mut request,
            "example.com:9001",
            "/chat?x=1",
            Some("http://example.com"),
        );
        let mut parser = HeadParser::new();
        assert!(
            parser
                .parse(&request, &HeadLimits::default())
                .unwrap()
                .is_complete()
        );
        let head = parser.head(&request).unwrap();
        let upgrade = validate_upgrade(&head).unwrap();
        assert_eq!(
            upgrade.protocols().collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
        let mut answer = Vec::new();
        write_accept_response(&mut answer, upgrade.key, Some("superchat"), None);
        answer.extend_from_slice(b"\x81\x00"); // a frame right behind the head
        let Status::Complete((len, accepted)) = hs.handle_response(&answer).unwrap() else {
            panic!("complete response")
        };
        assert_eq!(len, answer.len() - 2);
        assert_eq!(accepted.protocol.as_deref(), Some("superchat"));
    }

    #[test]
    fn every_prefix_of_the_response_is_partial() {
        let full = response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "");
        let mut hs = ClientHandshake::new(NONCE, &[]);
        for end in 0..full.len() {
            assert_eq!(
                hs.handle_response(&full[..end]),
                Ok(Status::Partial),
                "prefix {end}"
            );
        }
        assert!(hs.handle_response(&full).unwrap().is_complete());
    }

    #[test]
    fn wrong_accept_value_is_refused() {
        let mut hs = ClientHandshake::new(NONCE, &[]);
        let r = response("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "");
        assert_eq!(hs.handle_response(&r), Err(ClientHandshakeError::BadAccept));
    }

    #[test]
    fn other_status_is_reported_with_its_code() {
        let mut hs = ClientHandshake::new(NONCE, &[]);
        let r = b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n";
        assert_eq!(
            hs.handle_response(r),
            Err(ClientHandshakeError::NotSwitchingProtocols(426))
        );
    }

    #[test]
    fn unoffered_subprotocol_or_extension_is_refused() {
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        let mut hs = ClientHandshake::new(NONCE, &["chat"]);
        let r = response(accept, "Sec-WebSocket-Protocol: other\r\n");
        assert_eq!(
            hs.handle_response(&r),
            Err(ClientHandshakeError::UnexpectedProtocol("other".into()))
        );
        let mut hs = ClientHandshake::new(NONCE, &[]);
        let r = response(accept, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        assert_eq!(
            hs.handle_response(&r),
            Err(ClientHandshakeError::UnexpectedExtension)
        );
    }

    #[test]
    fn missing_upgrade_or_connection_is_refused() {
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        let mut hs = ClientHandshake::new(NONCE, &[]);
        let r = format!(
            "HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        assert_eq!(
            hs.handle_response(r.as_bytes()),
            Err(ClientHandshakeError::MissingUpgrade)
        );
        let r = format!(
            "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        assert_eq!(
            hs.handle_response(r.as_bytes()),
            Err(ClientHandshakeError::MissingConnectionUpgrade)
        );
    }

    #[test]
    fn endless_response_head_is_refused() {
        let mut hs = ClientHandshake::new(NONCE, &[]);
        let mut r = b"HTTP/1.1 101 OK\r\n".to_vec();
        r.resize(MAX_RESPONSE_HEAD + 1, b'a');
        assert_eq!(
            hs.handle_response(&r),
            Err(ClientHandshakeError::HeadTooLarge)
        );
    }

    // ===== permessage-deflate (RFC 7692) =====

    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn bits(n: u8) -> WindowBits {
        WindowBits::new(n).unwrap()
    }

    fn stream(window: u8, context_takeover: bool) -> StreamParams {
        StreamParams {
            window_bits: bits(window),
            context_takeover,
        }
    }

    /// What the memory-light client offers.
    fn no_takeover_offer() -> DeflateOffer {
        DeflateOffer {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: None,
            client_max_window_bits: ClientWindowOffer::NotOffered,
        }
    }

    /// `offer`'s handshake fed a 101 with `extension_lines` (each a whole header line).
    fn answer_to(
        offer: DeflateOffer,
        extension_lines: &[&str],
    ) -> Result<Status<(usize, Accepted)>, ClientHandshakeError> {
        let extra: String = extension_lines
            .iter()
            .map(|value| format!("Sec-WebSocket-Extensions: {value}\r\n"))
            .collect();
        let mut hs = ClientHandshake::new(NONCE, &[]).offer_deflate(offer);
        hs.handle_response(&response(ACCEPT, &extra))
    }

    /// The agreement `offer`'s handshake takes from an answer of `extension_lines`.
    fn agreed(
        offer: DeflateOffer,
        extension_lines: &[&str],
    ) -> Result<Option<Agreement>, ClientHandshakeError> {
        match answer_to(offer, extension_lines)? {
            Status::Complete((_, accepted)) => Ok(accepted.deflate),
            Status::Partial => panic!("the response is complete"),
        }
    }

    #[test]
    fn a_deflate_offer_appears_in_the_request_byte_for_byte() {
        let hs = ClientHandshake::new(NONCE, &["chat"]).offer_deflate(DeflateOffer::browser());
        let mut request = Vec::new();
        hs.write_request(&mut request, "server.example.com", "/chat", None);
        assert_eq!(
            String::from_utf8(request).unwrap(),
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
        );
        let everything = DeflateOffer {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(bits(10)),
            client_max_window_bits: ClientWindowOffer::AtMost(bits(12)),
        };
        let hs = ClientHandshake::new(NONCE, &[]).offer_deflate(everything);
        assert_eq!(hs.deflate_offer(), Some(&everything));
        let mut request = Vec::new();
        hs.write_request(&mut request, "h", "/", Some("http://h"));
        assert!(String::from_utf8(request).unwrap().ends_with(
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; \
                 server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=10; client_max_window_bits=12\r\nOrigin: http://h\r\n\r\n"
        ));
        // Without an offer, no header at all.
        let mut request = Vec::new();
        ClientHandshake::new(NONCE, &[]).write_request(&mut request, "h", "/", None);
        assert!(!String::from_utf8(request).unwrap().contains("Extensions"));
    }

    #[test]
    fn our_server_reads_the_offer_and_the_client_takes_its_answer_as_the_same_agreement() {
        for (offer, config) in [
            (DeflateOffer::browser(), DeflateConfig::full()),
            (DeflateOffer::browser(), DeflateConfig::memory_light()),
            (no_takeover_offer(), DeflateConfig::full()),
            (no_takeover_offer(), DeflateConfig::memory_light()),
        ] {
            let mut hs = ClientHandshake::new(NONCE, &[]).offer_deflate(offer);
            let mut request = Vec::new();
            hs.write_request(&mut request, "h", "/", None);
            let mut parser = HeadParser::new();
            assert!(
                parser
                    .parse(&request, &HeadLimits::default())
                    .unwrap()
                    .is_complete()
            );
            let head = parser.head(&request).unwrap();
            let upgrade = validate_upgrade(&head).unwrap();
            let server = negotiate(head.list("Sec-WebSocket-Extensions"), &config)
                .unwrap()
                .expect("the server accepts the offer");
            let mut answer = Vec::new();
            write_accept_response(&mut answer, upgrade.key, None, Some(&server));
            let Status::Complete((_, accepted)) = hs.handle_response(&answer).unwrap() else {
                panic!("complete response")
            };
            let client = accepted.deflate.expect("the client sees the agreement");
            // Each side's compressor is the other's decompressor.
            assert_eq!(
                client.compressor, server.decompressor,
                "{offer:?} {config:?}"
            );
            assert_eq!(
                client.decompressor, server.compressor,
                "{offer:?} {config:?}"
            );
            assert_eq!(client.response(), server.response());
        }
    }

    #[test]
    fn an_agreeing_answer_gives_the_clients_side_of_the_agreement() {
        let browser = DeflateOffer::browser();
        // (offer, answer, our compressor (client → server), our decompressor (server →
        // client)).
        let cases = [
            (
                browser,
                "permessage-deflate",
                stream(15, true),
                stream(15, true),
            ),
            // The server limits our window (we offered client_max_window_bits) and keeps
            // its own smaller, and both reset per message.
            (
                browser,
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=11; client_max_window_bits=9",
                stream(9, false),
                stream(11, false),
            ),
            (
                browser,
                "permessage-deflate; client_no_context_takeover",
                stream(15, false),
                stream(15, true),
            ),
            (
                no_takeover_offer(),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                stream(15, false),
                stream(15, false),
            ),
            // We promised to reset, so we do even if the server does not say so.
            (
                no_takeover_offer(),
                "permessage-deflate; server_no_context_takeover",
                stream(15, false),
                stream(15, false),
            ),
            (
                DeflateOffer {
                    server_max_window_bits: Some(bits(10)),
                    ..browser
                },
                "permessage-deflate; server_max_window_bits=10",
                stream(15, true),
                stream(10, true),
            ),
        ];
        for (offer, answer, compressor, decompressor) in cases {
            let agreement = agreed(offer, &[answer]).unwrap().expect(answer);
            assert_eq!(
                (agreement.compressor, agreement.decompressor),
                (compressor, decompressor),
                "{answer}"
            );
        }
    }

    #[test]
    fn an_answer_breaking_the_offer_is_refused_with_the_deflate_error() {
        use ClientExtensionError as E;
        let browser = DeflateOffer::browser();
        let not_client_window = DeflateOffer {
            client_max_window_bits: ClientWindowOffer::NotOffered,
            ..browser
        };
        let server_10 = DeflateOffer {
            server_max_window_bits: Some(bits(10)),
            ..browser
        };
        let cases: [(DeflateOffer, &[&str], ClientExtensionError); 9] = [
            // §7.1.2.2: a limit on a window we did not offer to have limited.
            (
                not_client_window,
                &["permessage-deflate; client_max_window_bits=10"],
                E::ClientWindowNotOffered,
            ),
            (
                no_takeover_offer(),
                &["permessage-deflate; server_no_context_takeover; client_max_window_bits=10"],
                E::ClientWindowNotOffered,
            ),
            // §7.1.2.1: a window bigger than offered, or none when we offered one.
            (
                server_10,
                &["permessage-deflate; server_max_window_bits=11"],
                E::ServerWindowAboveOffer {
                    offered: bits(10),
                    answered: bits(11),
                },
            ),
            (
                server_10,
                &["permessage-deflate"],
                E::ServerWindowMissing { offered: bits(10) },
            ),
            // §7.1.1.1: we asked the server to reset, and it does not say it will.
            (
                no_takeover_offer(),
                &["permessage-deflate; client_no_context_takeover"],
                E::ServerNoContextTakeoverMissing,
            ),
            // §5: a parameter not defined for a response.
            (
                browser,
                &["permessage-deflate; x_max_window_bits=10"],
                E::Parameter(ParamError::Unknown),
            ),
            (
                browser,
                &["permessage-deflate; client_max_window_bits"],
                E::Parameter(ParamError::MissingValue(DeflateParam::ClientMaxWindowBits)),
            ),
            // §5: two accepted offers, in one line or across two (one list).
            (
                browser,
                &["permessage-deflate, permessage-deflate"],
                E::DuplicateDeflate,
            ),
            (
                browser,
                &[
                    "permessage-deflate",
                    "permessage-deflate; server_no_context_takeover",
                ],
                E::DuplicateDeflate,
            ),
        ];
        for (offer, lines, expected) in cases {
            assert_eq!(
                agreed(offer, lines),
                Err(ClientHandshakeError::BadDeflateResponse(expected)),
                "{lines:?}"
            );
        }
        // RFC 6455 §9.1's grammar, broken.
        assert_eq!(
            agreed(browser, &["permessage-deflate; a="]),
            Err(ClientHandshakeError::BadDeflateResponse(E::Malformed(
                ExtensionError::ValueNotToken
            )))
        );
    }

    #[test]
    fn an_extension_we_did_not_offer_is_still_unexpected_beside_a_deflate_offer() {
        let browser = DeflateOffer::browser();
        for lines in [
            &["x-webkit-deflate-frame"][..],
            &["permessage-deflate, x-foo"],
            &["permessage-deflate", "x-foo"],
        ] {
            assert_eq!(
                agreed(browser, lines),
                Err(ClientHandshakeError::UnexpectedExtension),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn extension_lines_are_one_list_however_the_server_splits_it() {
        let answer = "permessage-deflate; client_max_window_bits=12";
        let one_line = agreed(DeflateOffer::browser(), &[answer]).unwrap();
        assert!(one_line.is_some());
        for lines in [
            &["", answer][..],
            &[answer, ""],
            &[" , ", answer, ","],
            &["permessage-deflate;client_max_window_bits=\"12\""],
        ] {
            assert_eq!(
                agreed(DeflateOffer::browser(), lines).unwrap(),
                one_line,
                "{lines:?}"
            );
        }
    }

    #[test]
    fn no_extension_answer_means_no_compression() {
        for lines in [&[][..], &[""], &[" , ", ""]] {
            assert_eq!(
                agreed(DeflateOffer::browser(), lines),
                Ok(None),
                "{lines:?}"
            );
        }
        // Nor when we offered nothing.
        let mut hs = ClientHandshake::new(NONCE, &[]);
        let r = response(ACCEPT, "Sec-WebSocket-Extensions: \r\n");
        let Status::Complete((_, accepted)) = hs.handle_response(&r).unwrap() else {
            panic!("complete response")
        };
        assert_eq!(accepted.deflate, None);
    }

    #[test]
    fn every_split_of_a_deflate_response_gives_the_same_agreement() {
        let mut full = response(
            ACCEPT,
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
             client_max_window_bits=10\r\n",
        );
        full.extend_from_slice(b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"); // a compressed frame
        let head_len = full.len() - 9;
        for split in 0..full.len() {
            let mut hs = ClientHandshake::new(NONCE, &[]).offer_deflate(DeflateOffer::browser());
            let first = hs.handle_response(&full[..split]).unwrap();
            let (len, accepted) = match first {
                Status::Complete(done) => {
                    assert!(split >= head_len, "complete at {split}");
                    done
                }
                Status::Partial => {
                    assert!(split < head_len, "partial at {split}");
                    match hs.handle_response(&full).unwrap() {
                        Status::Complete(done) => done,
                        Status::Partial => panic!("complete after {split}"),
                    }
                }
            };
            assert_eq!(len, head_len, "split {split}");
            let agreement = accepted.deflate.expect("agreed");
            assert_eq!(
                (agreement.compressor, agreement.decompressor),
                (stream(10, true), stream(15, false)),
                "split {split}"
            );
        }
    }

    #[test]
    fn the_deflate_error_displays_its_cause_and_rule() {
        let e = ClientHandshakeError::BadDeflateResponse(ClientExtensionError::DuplicateDeflate);
        assert_eq!(
            e.to_string(),
            "server's permessage-deflate answer is refused: \
             server accepted permessage-deflate twice (rfc 7692 §5)"
        );
        let source = std::error::Error::source(&e).expect("the cause");
        assert_eq!(
            source.to_string(),
            ClientExtensionError::DuplicateDeflate.to_string()
        );
        assert!(std::error::Error::source(&ClientHandshakeError::BadAccept).is_none());
    }
}
