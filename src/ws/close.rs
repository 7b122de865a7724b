//! Close frames: status codes (RFC 6455 §7.4) and the Close payload (§5.5.1).
//!
//! A Close frame's payload is either empty or a 2-byte big-endian status code
//! followed by an optional UTF-8 reason. Because a control frame's payload is at
//! most 125 bytes (§5.5), the reason is at most [`MAX_REASON_LEN`] = 123 bytes.

use std::fmt;

use crate::ws::error::ProtocolError;

/// A close status code (RFC 6455 §7.4): one an endpoint may send, or one of the
/// registered codes that only *report* what happened (1005, 1006, 1015).
///
/// A newtype rather than an enum: the code space is open (3000-4999 are for libraries and
/// applications, §7.4.2), so an enum would force every code an application might use into
/// this crate and would need an "other" variant anyway. Named constants keep the
/// registered codes readable.
///
/// The field is private so that a `CloseCode` an application holds is always either one
/// it may send ([`CloseCode::new`] checks the ranges) or one of the constants; it cannot
/// make a code the peer would have to reject. The reporting constants are still refused
/// when sending ([`is_valid_on_wire`](CloseCode::is_valid_on_wire)).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

/// Declares the registered close codes from one table, so that no code can have a
/// constant without a name or a name without a constant.
///
/// Each entry
///
/// ```text
/// /// doc comment
/// CONSTANT = value, "name";
/// ```
///
/// becomes
///
/// * the associated constant `CloseCode::CONSTANT`, with the doc comment;
/// * the arm `value => Some("name")` of [`CloseCode::name`] (used by `Display`);
/// * the arm `value => "CONSTANT"` that `Debug` prints as `CloseCode::CONSTANT`;
/// * an entry of `TABLE`, which the tests check against RFC 6455 §7.4.1 and the IANA
///   registry.
///
/// Two entries with the same value would make an unreachable match arm, which the
/// crate's lints (`-D warnings`) reject.
macro_rules! close_codes {
    ($( $(#[$doc:meta])* $konst:ident = $code:literal, $name:literal; )+) => {
        impl CloseCode {
            $(
                $(#[$doc])*
                pub const $konst: CloseCode = CloseCode($code);
            )+

            /// Name for registered codes, e.g. "normal closure", "protocol error",
            /// "message too big"; `None` otherwise.
            ///
            /// 1004 is registered only as "reserved" and has no meaning, so it has no name.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $code => Some($name), )+
                    _ => None,
                }
            }

            /// The identifier of this code's constant, e.g. `"NORMAL"`; `None` for a code
            /// without one.
            const fn constant_name(self) -> Option<&'static str> {
                match self.0 {
                    $( $code => Some(stringify!($konst)), )+
                    _ => None,
                }
            }
        }

        /// Every entry of the table: (constant, its identifier, its name).
        #[cfg(test)]
        const TABLE: &[(CloseCode, &str, &str)] = &[
            $( (CloseCode::$konst, stringify!($konst), $name), )+
        ];
    };
}

// The codes RFC 6455 §7.4.1 defines, and 1012-1014, which the IANA WebSocket Close Code
// Number Registry (created by §11.7) added later. 1004 is reserved without a meaning, so
// it has no entry. The ranges outside 1000-2999 are described by §7.4.2: see
// `CloseCode::is_valid_on_wire`.
close_codes! {
    /// 1000: the purpose of the connection has been fulfilled (§7.4.1).
    NORMAL = 1000, "normal closure";
    /// 1001: the endpoint is going away, e.g. a server shutting down (§7.4.1).
    GOING_AWAY = 1001, "going away";
    /// 1002: the peer broke the protocol (§7.4.1).
    PROTOCOL_ERROR = 1002, "protocol error";
    /// 1003: the endpoint received a type of data it cannot accept (§7.4.1).
    UNSUPPORTED_DATA = 1003, "unsupported data";
    /// 1005: no status code was present in the Close frame. Never on the wire (§7.4.1):
    /// it exists so an API can *report* "the peer sent no code".
    NO_STATUS_RECEIVED = 1005, "no status received";
    /// 1006: the connection closed without a Close frame. Never on the wire (§7.4.1).
    ABNORMAL_CLOSURE = 1006, "abnormal closure";
    /// 1007: data in a message did not match its type, e.g. non-UTF-8 text (§7.4.1).
    INVALID_PAYLOAD = 1007, "invalid payload data";
    /// 1008: a message violated the endpoint's policy (§7.4.1).
    POLICY_VIOLATION = 1008, "policy violation";
    /// 1009: a message was too big to process (§7.4.1).
    MESSAGE_TOO_BIG = 1009, "message too big";
    /// 1010: the client expected the server to negotiate an extension (§7.4.1).
    MANDATORY_EXTENSION = 1010, "mandatory extension";
    /// 1011: the server hit an unexpected condition (§7.4.1).
    INTERNAL_ERROR = 1011, "internal error";
    /// 1012: the service is restarting (IANA WebSocket Close Code Number Registry).
    SERVICE_RESTART = 1012, "service restart";
    /// 1013: try again later, e.g. the server is overloaded (IANA registry).
    TRY_AGAIN_LATER = 1013, "try again later";
    /// 1014: a gateway or proxy got an invalid response from upstream (IANA registry).
    BAD_GATEWAY = 1014, "bad gateway";
    /// 1015: the TLS handshake failed. Never on the wire (§7.4.1).
    TLS_HANDSHAKE = 1015, "tls handshake failure";
}

impl CloseCode {
    /// The code `code` if an endpoint may send it in a Close frame, else `None`: exactly
    /// the codes [`is_valid_on_wire`](CloseCode::is_valid_on_wire) accepts.
    ///
    /// For an application's own codes (3000-4999, §7.4.2) and registered codes by
    /// number. The reporting codes 1005, 1006 and 1015 are refused: they exist only as
    /// the constants, to describe a close that carried no code or had no Close frame.
    ///
    /// ```
    /// use pushwire::CloseCode;
    ///
    /// // An application's own code (§7.4.2); a code out of range would fail the build.
    /// const SESSION_EXPIRED: CloseCode = CloseCode::new(4001).unwrap();
    /// assert_eq!(SESSION_EXPIRED.to_string(), "4001");
    /// assert_eq!(CloseCode::new(1000), Some(CloseCode::NORMAL));
    /// assert_eq!(CloseCode::new(1005), None); // only reported: CloseCode::NO_STATUS_RECEIVED
    /// assert_eq!(CloseCode::new(5000), None);
    /// ```
    pub const fn new(code: u16) -> Option<CloseCode> {
        let code = CloseCode(code);
        if code.is_valid_on_wire() {
            Some(code)
        } else {
            None
        }
    }

    /// Any `u16`, without the check [`CloseCode::new`] makes.
    ///
    /// Nothing unsafe: only the type's promise to applications (a code they may send or
    /// a constant) is skipped. So it is for describing a Close frame's bytes before
    /// they are validated (the wire trace) and for tests of codes no application can
    /// make; a code made this way must never reach an application.
    pub(crate) const fn from_u16_unchecked(code: u16) -> CloseCode {
        CloseCode(code)
    }

    /// The numeric code, as it appears (big-endian) in a Close frame (§5.5.1).
    pub const fn as_u16(self) -> u16 {
        self.0
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
    pub const fn is_valid_on_wire(self) -> bool {
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

impl fmt::Debug for CloseCode {
    /// `CloseCode::NORMAL` for a code with a constant, `CloseCode(4000)` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.constant_name() {
            Some(konst) => write!(f, "CloseCode::{konst}"),
            None => f.debug_tuple("CloseCode").field(&self.0).finish(),
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
            let code = u16::from_be_bytes([*hi, *lo]);
            // RFC 6455 §7.4: only some codes may be sent; receiving another is an error.
            let code = CloseCode::new(code).ok_or(ProtocolError::InvalidCloseCode(code))?;
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
    out.extend_from_slice(&code.as_u16().to_be_bytes());
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
    fn wire_validity_and_new_match_the_rfc_ranges_for_every_u16() {
        for code in 0..=u16::MAX {
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
            let unchecked = CloseCode::from_u16_unchecked(code);
            assert_eq!(unchecked.is_valid_on_wire(), expected, "code {code}");
            assert_eq!(
                CloseCode::new(code),
                expected.then_some(unchecked),
                "code {code}"
            );
        }
    }

    #[test]
    fn new_accepts_exactly_the_codes_an_endpoint_may_send_at_the_boundaries() {
        for (code, may_send) in [
            (0, false),
            (999, false),
            (1000, true),
            (1004, false),
            (1005, false),
            (1006, false),
            (1014, true),
            (1015, false),
            (1016, false),
            (2999, false),
            (3000, true),
            (4999, true),
            (5000, false),
            (u16::MAX, false),
        ] {
            assert_eq!(
                CloseCode::new(code).map(CloseCode::as_u16),
                may_send.then_some(code),
                "code {code}"
            );
        }
    }

    #[test]
    fn every_table_entry_round_trips_value_constant_and_name() {
        for &(konst, ident, name) in TABLE {
            let value = konst.as_u16();
            let code = CloseCode::from_u16_unchecked(value);
            assert_eq!(code, konst, "{ident}");
            assert_eq!(code.name(), Some(name), "{ident}");
            assert_eq!(format!("{code:?}"), format!("CloseCode::{ident}"));
            assert_eq!(code.to_string(), format!("{value} ({name})"));
            // A code an endpoint may send can also be made by number.
            assert_eq!(
                CloseCode::new(value),
                code.is_valid_on_wire().then_some(code),
                "{ident}"
            );
        }
    }

    #[test]
    fn the_table_is_the_registry_and_only_its_codes_have_names() {
        // RFC 6455 §7.4.1 (1000-1003, 1005-1011, 1015) and the IANA registry (1012-1014);
        // 1004 is reserved without a meaning.
        let registered: Vec<u16> = (1000..=1015).filter(|&c| c != 1004).collect();
        let table: Vec<u16> = TABLE.iter().map(|(code, ..)| code.as_u16()).collect();
        assert_eq!(table, registered);
        for code in 0..=u16::MAX {
            let code = CloseCode::from_u16_unchecked(code);
            assert_eq!(
                code.name().is_some(),
                table.contains(&code.as_u16()),
                "{code}"
            );
        }
        let mut names: Vec<&str> = TABLE.iter().map(|&(_, _, name)| name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLE.len(), "two codes share a name");
    }

    #[test]
    fn every_constant_comes_from_the_table_and_has_a_name() {
        // Listed by hand: a constant declared outside `close_codes!` would have no name
        // and no entry in TABLE, and fail here.
        let constants = [
            CloseCode::NORMAL,
            CloseCode::GOING_AWAY,
            CloseCode::PROTOCOL_ERROR,
            CloseCode::UNSUPPORTED_DATA,
            CloseCode::NO_STATUS_RECEIVED,
            CloseCode::ABNORMAL_CLOSURE,
            CloseCode::INVALID_PAYLOAD,
            CloseCode::POLICY_VIOLATION,
            CloseCode::MESSAGE_TOO_BIG,
            CloseCode::MANDATORY_EXTENSION,
            CloseCode::INTERNAL_ERROR,
            CloseCode::SERVICE_RESTART,
            CloseCode::TRY_AGAIN_LATER,
            CloseCode::BAD_GATEWAY,
            CloseCode::TLS_HANDSHAKE,
        ];
        assert_eq!(constants.len(), TABLE.len());
        for code in constants {
            assert!(code.name().is_some(), "{code:?} has no name");
            assert!(
                TABLE.iter().any(|&(konst, ..)| konst == code),
                "{code} is not in the table"
            );
        }
    }

    #[test]
    fn codes_that_describe_local_events_are_never_valid_on_the_wire() {
        for code in [
            CloseCode::NO_STATUS_RECEIVED,
            CloseCode::ABNORMAL_CLOSURE,
            CloseCode::TLS_HANDSHAKE,
        ] {
            assert!(!code.is_valid_on_wire(), "{code}");
            assert_eq!(CloseCode::new(code.as_u16()), None, "{code}");
            assert!(code.name().is_some());
        }
    }

    #[test]
    fn registered_codes_have_names_and_others_do_not() {
        assert_eq!(CloseCode::NORMAL.name(), Some("normal closure"));
        assert_eq!(CloseCode::PROTOCOL_ERROR.name(), Some("protocol error"));
        assert_eq!(CloseCode::MESSAGE_TOO_BIG.name(), Some("message too big"));
        for code in [0, 999, 1004, 1016, 2999, 3000, 4000, 4999, 5000] {
            assert_eq!(CloseCode::from_u16_unchecked(code).name(), None, "{code}");
        }
    }

    #[test]
    fn display_shows_number_and_name_and_debug_shows_the_constant() {
        let app = CloseCode::new(4000).unwrap();
        assert_eq!(CloseCode::NORMAL.to_string(), "1000 (normal closure)");
        assert_eq!(app.to_string(), "4000");
        assert_eq!(format!("{:?}", CloseCode::NORMAL), "CloseCode::NORMAL");
        assert_eq!(format!("{app:?}"), "CloseCode(4000)");
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
        let code = CloseCode::new(4001).unwrap();
        encode_close_payload(code, "bye ☃", &mut payload);
        assert_eq!(&payload[..2], &[0x0F, 0xA1]);
        assert_eq!(parse_close_payload(&payload), Ok(Some((code, "bye ☃"))));
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
