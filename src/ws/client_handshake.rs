//! The opening handshake from the client's side (RFC 6455 §4.1).
//!
//! The client sends a GET with a fresh 16-byte nonce in `Sec-WebSocket-Key`, then checks
//! the server's answer: status 101, `Upgrade: websocket`, `Connection: Upgrade`, the
//! `Sec-WebSocket-Accept` value derived from its nonce (proof that the server read this
//! very request, §1.3), no extension it did not offer, and at most one subprotocol, from
//! its own list. Any failure means the client "MUST _Fail the WebSocket Connection_".

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::http::token::{is_token, trim_ows};
use crate::status::Status;
use crate::ws::handshake::accept_key;

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
    /// The server chose an extension we did not offer (we offer none).
    UnexpectedExtension,
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
            Self::UnexpectedProtocol(p) => {
                write!(f, "server chose subprotocol {p:?}, which we did not offer")
            }
        }
    }
}

impl std::error::Error for ClientHandshakeError {}

/// What the server agreed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The subprotocol the server chose from our offer, if any.
    pub protocol: Option<String>,
}

/// The client's handshake in progress: its key, its offer, and how far the response has
/// been scanned.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    key: String,
    protocols: Vec<String>,
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
            scanned: 0,
        }
    }

    /// The `Sec-WebSocket-Key` value.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Appends the request (§4.1 items 1–10) for `path` on `host` (with `:port` unless it
    /// is the default 80).
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
                // §4.1 item 5: an extension "not present in the client's handshake".
                if !value.is_empty() {
                    return Err(ClientHandshakeError::UnexpectedExtension);
                }
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
        Ok(Accepted { protocol })
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
    use crate::ws::handshake::{validate_upgrade, write_accept_response};

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
}
