//! Close frames: status codes (RFC 6455 §7.4) and the Close payload (§5.5.1).
//!
//! A Close frame's payload is either empty or a 2-byte big-endian status code
//! followed by an optional UTF-8 reason. Because a control frame's payload is at
//! most 125 bytes (§5.5), the reason is at most [`MAX_REASON_LEN`] = 123 bytes.

use std::fmt;

use crate::ws::error::ProtocolError;

/// A close status code (RFC 6455 §7.4). A newtype: the code space is open (3000-4999 are for libraries and applications).
///
/// An enum would force every code an application might use into this crate, and
/// would need an "other" variant anyway; a newtype with named constants keeps the
/// registered codes readable while letting any `u16` through.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled (§7.4.1).
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away, e.g. a server shutting down (§7.4.1).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol (§7.4.1).
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: the endpoint received a type of data it cannot accept (§7.4.1).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present in the Close frame. Never on the wire (§7.4.1):
    /// it exists so an API can *report* "the peer sent no code".
    pub const NO_STATUS_RECEIVED: CloseCode = CloseCode(1005);
    /// 1006: the connection closed without a Close frame. Never on the wire (§7.4.1).
    pub const ABNORMAL_CLOSURE: CloseCode = CloseCode(1006);
    /// 1007: data in a message did not match its type, e.g. non-UTF-8 text (§7.4.1).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy (§7.4.1).
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message was too big to process (§7.4.1).
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected the server to negotiate an extension (§7.4.1).
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server hit an unexpected condition (§7.4.1).
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (IANA WebSocket Close Code Number Registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later, e.g. the server is overloaded (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy got an invalid response from upstream (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed. Never on the wire (§7.4.1).
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Name for registered codes, e.g. "normal closure", "protocol error", "message too big"; None otherwise.
    ///
    /// 1004 is registered only as "reserved" and has no meaning, so it has no name.
    pub fn name(self) -> Option<&'static str> {
        let name = match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "tls handshake failure",
            _ => return None,
        };
        Some(name)
    }

    /// May this code appear in a Close frame on the wire? (§7.4.1, §7.4.2, IANA registry)
    ///
    /// Allowed: 1000-1003, 1007-1014, 3000-4999. Not: 0-999, 1004-1006, 1015, 1016-2999, >= 5000.
    ///
    /// * 0-999 are "not used" (§7.4.2).
    /// * 1004 is reserved; 1005, 1006 and 1015 "MUST NOT be set as a status code in
    ///   a Close control frame" (§7.4.1) — they only describe what happened locally.
    /// * 1016-2999 are reserved for future revisions and extensions (§7.4.2) and are
    ///   unassigned, so a peer sending one is not speaking any protocol we know.
    /// * 3000-3999 (registered with IANA) and 4000-4999 (private use) belong to
    ///   libraries and applications (§7.4.2); we pass them through uninterpreted.
    /// * 5000 and above are outside every range the RFC defines.
    pub fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Display for CloseCode {
    /// `1000 (normal closure)` for registered codes, just `4000` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// The longest close reason that fits in a Close frame.
///
/// RFC 6455 §5.5: a control frame's payload is at most 125 bytes; the 2-byte
/// status code (§5.5.1) leaves 123 for the reason.
pub const MAX_REASON_LEN: usize = 123;

/// Parses a received Close payload (§5.5.1): empty → Ok(None); 1 byte → InvalidClosePayload;
/// code not valid on the wire → InvalidCloseCode(code); reason not UTF-8 → InvalidCloseReason.
///
/// The payload must already be unmasked. Its length (≤ 125) was enforced by the
/// frame header parser, so it is not checked again here.
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<(CloseCode, &str)>, ProtocolError> {
    match payload {
        // RFC 6455 §5.5.1: the body is optional; an empty Close means "no status code",
        // which an API reports as 1005 (NO_STATUS_RECEIVED).
        [] => Ok(None),
        // RFC 6455 §5.5.1: "the first two bytes of the body MUST be a 2-byte unsigned
        // integer", so one byte cannot be a valid body.
        [_] => Err(ProtocolError::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            // RFC 6455 §5.5.1: the code is in network byte order (big-endian).
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            // RFC 6455 §7.4: only some codes may be sent; receiving another is an error.
            if !code.is_valid_on_wire() {
                return Err(ProtocolError::InvalidCloseCode(code.0));
            }
            // RFC 6455 §5.5.1: the reason is "UTF-8-encoded data"; §8.1 says invalid
            // UTF-8 MUST fail the connection.
            let reason =
                std::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
            Ok(Some((code, reason)))
        }
    }
}

/// Appends a Close payload: the code big-endian, then the reason. Caller guarantees reason.len() <= MAX_REASON_LEN.
///
/// Use [`truncate_reason`] on a reason of unknown length. A longer reason would make
/// the Close frame exceed the 125-byte control frame limit (§5.5), which the peer
/// must treat as a protocol error.
pub fn encode_close_payload(code: CloseCode, reason: &str, out: &mut Vec<u8>) {
    debug_assert!(
        reason.len() <= MAX_REASON_LEN,
        "close reason of {} bytes exceeds {MAX_REASON_LEN}",
        reason.len()
    );
    out.reserve(2 + reason.len());
    out.extend_from_slice(&code.0.to_be_bytes());
    out.extend_from_slice(reason.as_bytes());
}

/// Cuts `reason` to at most MAX_REASON_LEN bytes at a char boundary.
///
/// Cutting at an arbitrary byte could split a multi-byte character and make the
/// reason invalid UTF-8, which the peer must reject with 1007 (§5.5.1, §8.1).
pub fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_LEN {
        return reason;
    }
    // A UTF-8 character is at most 4 bytes, so this steps back at most 3 times.
    let mut end = MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_validity_table_matches_rfc_ranges_for_codes_0_to_5100() {
        for code in 0..=5100u16 {
            let expected = match code {
                0..=999 => false,         // §7.4.2: not used
                1000..=1003 => true,      // §7.4.1: defined
                1004..=1006 => false,     // 1004 reserved; 1005, 1006 never on the wire
                1007..=1011 => true,      // §7.4.1: defined
                1012..=1014 => true,      // IANA registry
                1015 => false,            // §7.4.1: never on the wire
                1016..=2999 => false,     // §7.4.2: reserved, unassigned
                3000..=4999 => true,      // §7.4.2: libraries, frameworks, applications
                5000..=u16::MAX => false, // outside every defined range
            };
            assert_eq!(CloseCode(code).is_valid_on_wire(), expected, "code {code}");
        }
        assert!(!CloseCode(u16::MAX).is_valid_on_wire());
    }

    #[test]
    fn codes_that_describe_local_events_are_never_valid_on_the_wire() {
        for code in [
            CloseCode::NO_STATUS_RECEIVED,
            CloseCode::ABNORMAL_CLOSURE,
            CloseCode::TLS_HANDSHAKE,
        ] {
            assert!(!code.is_valid_on_wire(), "{code}");
            assert!(code.name().is_some());
        }
    }

    #[test]
    fn registered_codes_have_names_and_others_do_not() {
        assert_eq!(CloseCode::NORMAL.name(), Some("normal closure"));
        assert_eq!(CloseCode::PROTOCOL_ERROR.name(), Some("protocol error"));
        assert_eq!(CloseCode::MESSAGE_TOO_BIG.name(), Some("message too big"));
        for code in (1000..=1015).filter(|&c| c != 1004) {
            assert!(CloseCode(code).name().is_some(), "{code}");
        }
        for code in [0, 999, 1004, 1016, 2999, 3000, 4000, 4999, 5000] {
            assert_eq!(CloseCode(code).name(), None, "{code}");
        }
    }

    #[test]
    fn display_shows_number_and_name_and_debug_shows_the_newtype() {
        assert_eq!(CloseCode::NORMAL.to_string(), "1000 (normal closure)");
        assert_eq!(CloseCode(4000).to_string(), "4000");
        assert_eq!(format!("{:?}", CloseCode(1000)), "CloseCode(1000)");
    }

    #[test]
    fn empty_payload_means_no_status_code() {
        assert_eq!(parse_close_payload(&[]), Ok(None));
    }

    #[test]
    fn one_byte_payload_is_invalid() {
        assert_eq!(
            parse_close_payload(&[0x03]),
            Err(ProtocolError::InvalidClosePayload)
        );
    }

    #[test]
    fn code_alone_parses_with_empty_reason() {
        assert_eq!(
            parse_close_payload(&[0x03, 0xE8]),
            Ok(Some((CloseCode::NORMAL, "")))
        );
    }

    #[test]
    fn code_and_reason_parse() {
        let mut payload = Vec::new();
        encode_close_payload(CloseCode(4001), "bye ☃", &mut payload);
        assert_eq!(&payload[..2], &[0x0F, 0xA1]);
        assert_eq!(
            parse_close_payload(&payload),
            Ok(Some((CloseCode(4001), "bye ☃")))
        );
    }

    #[test]
    fn code_not_allowed_on_the_wire_is_rejected_with_its_value() {
        for code in [
            0u16,
            999,
            1004,
            1005,
            1006,
            1015,
            1016,
            2999,
            5000,
            u16::MAX,
        ] {
            let payload = code.to_be_bytes();
            assert_eq!(
                parse_close_payload(&payload),
                Err(ProtocolError::InvalidCloseCode(code))
            );
        }
    }

    #[test]
    fn reason_that_is_not_utf8_is_rejected() {
        // 0xCE 0xBA is "κ"; the trailing 0xFF can never appear in UTF-8.
        let payload = [0x03, 0xE8, 0xCE, 0xBA, 0xFF];
        assert_eq!(
            parse_close_payload(&payload),
            Err(ProtocolError::InvalidCloseReason)
        );
        // A reason cut in the middle of a character is invalid too.
        let payload = [0x03, 0xE8, 0xCE];
        assert_eq!(
            parse_close_payload(&payload),
            Err(ProtocolError::InvalidCloseReason)
        );
    }

    #[test]
    fn invalid_code_is_reported_before_invalid_reason() {
        let payload = [0x03, 0xED, 0xFF];
        assert_eq!(
            parse_close_payload(&payload),
            Err(ProtocolError::InvalidCloseCode(1005))
        );
    }

    #[test]
    fn longest_reason_fits_in_a_control_frame() {
        let reason = "x".repeat(MAX_REASON_LEN);
        let mut payload = Vec::new();
        encode_close_payload(CloseCode::GOING_AWAY, &reason, &mut payload);
        assert_eq!(payload.len(), 125);
        assert_eq!(
            parse_close_payload(&payload),
            Ok(Some((CloseCode::GOING_AWAY, reason.as_str())))
        );
    }

    #[test]
    fn encode_appends_to_existing_bytes() {
        let mut out = vec![0xAA];
        encode_close_payload(CloseCode::NORMAL, "ok", &mut out);
        assert_eq!(out, [0xAA, 0x03, 0xE8, b'o', b'k']);
    }

    #[test]
    fn truncate_reason_keeps_short_reasons_whole() {
        assert_eq!(truncate_reason(""), "");
        let exact = "a".repeat(MAX_REASON_LEN);
        assert_eq!(truncate_reason(&exact), exact);
    }

    #[test]
    fn truncate_reason_cuts_long_ascii_to_the_limit() {
        let long = "a".repeat(500);
        assert_eq!(truncate_reason(&long).len(), MAX_REASON_LEN);
    }

    #[test]
    fn truncate_reason_never_splits_a_character() {
        // Characters of 1, 2, 3 and 4 bytes, placed at every alignment relative to the limit.
        for ch in ['a', 'é', '€', '😀'] {
            for prefix_len in 0..4 {
                let reason: String = "p".repeat(prefix_len) + &ch.to_string().repeat(200);
                let cut = truncate_reason(&reason);
                assert!(cut.len() <= MAX_REASON_LEN);
                assert!(cut.len() > MAX_REASON_LEN - ch.len_utf8(), "cut too early");
                assert!(reason.starts_with(cut));
                // Its bytes form a valid reason on the wire.
                let mut payload = Vec::new();
                encode_close_payload(CloseCode::NORMAL, cut, &mut payload);
                assert!(parse_close_payload(&payload).is_ok());
            }
        }
    }
}
