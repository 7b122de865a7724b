//! Negotiating permessage-deflate (RFC 7692 §5–§7.1), for the server and the client.
//!
//! The client offers the extension in `Sec-WebSocket-Extensions`, possibly several
//! times with different parameters, in order of preference (§5). The server accepts at
//! most one offer ("A server MUST NOT accept multiple PMCE extension negotiation
//! offers", §5) and answers it with the parameters in effect; the client checks that
//! answer and fails the connection if it breaks a rule. Four parameters (§7.1) settle
//! each direction separately:
//!
//! | parameter                    | offer (client → server)                    | response (server → client)          |
//! |------------------------------|--------------------------------------------|-------------------------------------|
//! | `server_no_context_takeover` | the server must reset per message          | the server will (may be unasked)    |
//! | `client_no_context_takeover` | a hint: the client will reset anyway       | the client must reset               |
//! | `server_max_window_bits=N`   | the server's window must be ≤ 2^N          | ≤ the offer's N; may be unasked     |
//! | `client_max_window_bits[=N]` | the server may limit the client's window   | only if offered; the client's limit |
//!
//! The outcome is an [`Agreement`], said from *this endpoint's* side: how its
//! compressor must behave and what its decompressor must be ready for, so the
//! connection code never asks whether it is the server or the client.
//!
//! * Server: [`negotiate`] the request's list with a [`DeflateConfig`], then write
//!   [`Agreement::write_response`] into the `101`.
//! * Client: offer [`client_offer`] of a [`DeflateOffer`], then check the server's
//!   answer with [`validate_response`].
//!
//! What follows negotiation is not here: compressing a message and setting RSV1 on its
//! first frame (§6, §7.2), stripping the trailing `00 00 FF FF` (§7.2.1), and accepting
//! RSV1 only on the first frame of a data message once the extension is in effect
//! (§6.1, RFC 6455 §5.2; today [`ProtocolError::ReservedBits`] refuses every RSV bit)
//! belong to the connection ([`ws::connection`]) and the codec ([`deflate`]).
//!
//! Everything is a pure function of the header bytes and the configuration: nothing is
//! allocated while parsing, and an [`Agreement`] is a few bytes.
//!
//! [`ProtocolError::ReservedBits`]: crate::ws::error::ProtocolError::ReservedBits
//! [`ws::connection`]: crate::ws::connection
//! [`deflate`]: crate::deflate

use std::fmt;

use crate::ws::extension::{Extension, ExtensionError, Param, split_list};

/// The extension's registered name (RFC 7692 §7), compared exactly.
pub const EXTENSION_NAME: &str = "permessage-deflate";

// ===== WindowBits =====

/// The base-2 logarithm of an LZ77 window, 8..=15 (RFC 7692 §7.1.2): a compressor uses
/// no distance above `2^bits`, and the decompressor at the other end keeps that much of
/// what it decoded.
///
/// 8 is a valid value and is honoured exactly: zlib raises a deflate window of 8 to 9
/// (so zlib-based servers answer `server_max_window_bits=8` with a 9-bit stream, or
/// with `=9`), but our own codec can keep to 256 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WindowBits(u8);

impl WindowBits {
    /// The smallest window, 256 bytes.
    pub const MIN: WindowBits = WindowBits(8);
    /// The largest window, 32 KiB: what a decompressor must expect when nothing limits
    /// the peer (§7.1.2.1: "Absence of this parameter ... indicates that the client can
    /// receive messages compressed using an LZ77 sliding window of up to 32,768 bytes").
    pub const MAX: WindowBits = WindowBits(15);

    /// `bits` as a window, if it is in 8..=15.
    pub const fn new(bits: u8) -> Option<WindowBits> {
        if bits >= Self::MIN.0 && bits <= Self::MAX.0 {
            Some(WindowBits(bits))
        } else {
            None
        }
    }

    /// The logarithm, 8..=15.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The window's size in bytes, `2^bits`.
    pub const fn size(self) -> usize {
        1 << self.0
    }

    /// Parses a window-bits value (an unescaped parameter value). RFC 7692 §7.1.2.1: "a
    /// decimal integer value without leading zeroes between 8 to 15, inclusive", so
    /// exactly `8`, `9`, `10` … `15`; not `08`, `7`, `16` or `+9`.
    fn parse(value: impl IntoIterator<Item = u8>) -> Option<WindowBits> {
        let mut digits = [0u8; 2];
        let mut len = 0;
        for b in value {
            *digits.get_mut(len)? = b;
            len += 1;
        }
        match digits[..len] {
            [d @ b'8'..=b'9'] => Some(WindowBits(d - b'0')),
            [b'1', d @ b'0'..=b'5'] => Some(WindowBits(10 + d - b'0')),
            _ => None,
        }
    }
}

impl fmt::Display for WindowBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

// ===== the four parameters =====

/// The parameters RFC 7692 §7.1 defines for permessage-deflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeflateParam {
    /// `server_no_context_takeover` (§7.1.1.1), no value.
    ServerNoContextTakeover,
    /// `client_no_context_takeover` (§7.1.1.2), no value.
    ClientNoContextTakeover,
    /// `server_max_window_bits` (§7.1.2.1), always with a value.
    ServerMaxWindowBits,
    /// `client_max_window_bits` (§7.1.2.2), with a value in a response and with or
    /// without one in an offer.
    ClientMaxWindowBits,
}

impl DeflateParam {
    /// The parameter's name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            DeflateParam::ServerNoContextTakeover => "server_no_context_takeover",
            DeflateParam::ClientNoContextTakeover => "client_no_context_takeover",
            DeflateParam::ServerMaxWindowBits => "server_max_window_bits",
            DeflateParam::ClientMaxWindowBits => "client_max_window_bits",
        }
    }

    /// The parameter named `name` (exactly), if it is one of the four.
    fn from_name(name: &str) -> Option<DeflateParam> {
        [
            DeflateParam::ServerNoContextTakeover,
            DeflateParam::ClientNoContextTakeover,
            DeflateParam::ServerMaxWindowBits,
            DeflateParam::ClientMaxWindowBits,
        ]
        .into_iter()
        .find(|param| param.name() == name)
    }
}

impl fmt::Display for DeflateParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the parameters of one permessage-deflate element are unusable. RFC 7692 §5
/// lists the same cases for both sides: a server MUST *decline* such an offer (and may
/// accept another), a client MUST *fail the connection* on such a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamError {
    /// A parameter that is not one of the four (§5: "an extension parameter not defined
    /// for use in an offer" / "in a response").
    Unknown,
    /// A parameter given twice (§5: "multiple extension parameters with the same name").
    Duplicate(DeflateParam),
    /// A value on a parameter that has none (§7.1.1.1, §7.1.1.2: "This extension
    /// parameter has no value").
    UnexpectedValue(DeflateParam),
    /// A window-bits parameter without its value: `server_max_window_bits` always needs
    /// one (§7.1.2.1), `client_max_window_bits` does in a response (§7.1.2.2).
    MissingValue(DeflateParam),
    /// A window-bits value that is not 8..=15 written without leading zeros (§7.1.2.1,
    /// §7.1.2.2; §5: "an extension parameter with an invalid value").
    InvalidWindowBits(DeflateParam),
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::Unknown => {
                f.write_str("unknown permessage-deflate parameter (rfc 7692 §5)")
            }
            ParamError::Duplicate(p) => write!(f, "{p} given more than once (rfc 7692 §5)"),
            ParamError::UnexpectedValue(p) => write!(f, "{p} takes no value (rfc 7692 §7.1.1)"),
            ParamError::MissingValue(p) => write!(f, "{p} needs a value (rfc 7692 §7.1.2)"),
            ParamError::InvalidWindowBits(p) => write!(
                f,
                "{p} is not 8 to 15 without leading zeros (rfc 7692 §7.1.2)"
            ),
        }
    }
}

impl std::error::Error for ParamError {}

/// The four parameters of one element as written, checked for what offers and
/// responses share: each known, at most once, with a value where one is required.
#[derive(Debug, Clone, Copy, Default)]
struct Written {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<WindowBits>,
    /// `Some(None)`: present without a value.
    client_max_window_bits: Option<Option<WindowBits>>,
}

impl Written {
    fn read(element: &Extension<'_>) -> Result<Written, ParamError> {
        let mut written = Written::default();
        let mut seen = [false; 4];
        for Param { name, value } in element.params() {
            let param = DeflateParam::from_name(name).ok_or(ParamError::Unknown)?;
            if std::mem::replace(&mut seen[param as usize], true) {
                return Err(ParamError::Duplicate(param));
            }
            let bits = || {
                value
                    .map(|v| {
                        WindowBits::parse(v.unescaped()).ok_or(ParamError::InvalidWindowBits(param))
                    })
                    .transpose()
            };
            match param {
                DeflateParam::ServerNoContextTakeover | DeflateParam::ClientNoContextTakeover => {
                    if value.is_some() {
                        return Err(ParamError::UnexpectedValue(param));
                    }
                    if param == DeflateParam::ServerNoContextTakeover {
                        written.server_no_context_takeover = true;
                    } else {
                        written.client_no_context_takeover = true;
                    }
                }
                DeflateParam::ServerMaxWindowBits => {
                    written.server_max_window_bits =
                        Some(bits()?.ok_or(ParamError::MissingValue(param))?);
                }
                DeflateParam::ClientMaxWindowBits => {
                    written.client_max_window_bits = Some(bits()?);
                }
            }
        }
        Ok(written)
    }
}

/// Appends `permessage-deflate` and the given parameters, in the order of §7.1.
fn write_element(
    out: &mut Vec<u8>,
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<WindowBits>,
    client_max_window_bits: Option<Option<WindowBits>>,
) {
    out.extend_from_slice(EXTENSION_NAME.as_bytes());
    let mut param = |param: DeflateParam, bits: Option<WindowBits>| {
        out.extend_from_slice(b"; ");
        out.extend_from_slice(param.name().as_bytes());
        if let Some(bits) = bits {
            out.push(b'=');
            out.extend_from_slice(bits.to_string().as_bytes());
        }
    };
    if server_no_context_takeover {
        param(DeflateParam::ServerNoContextTakeover, None);
    }
    if client_no_context_takeover {
        param(DeflateParam::ClientNoContextTakeover, None);
    }
    if let Some(bits) = server_max_window_bits {
        param(DeflateParam::ServerMaxWindowBits, Some(bits));
    }
    if let Some(bits) = client_max_window_bits {
        param(DeflateParam::ClientMaxWindowBits, bits);
    }
}

// ===== DeflateOffer =====

/// What a client may say about its own window in an offer (RFC 7692 §7.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientWindowOffer {
    /// No `client_max_window_bits`: the client compresses with whatever window it
    /// likes (up to 32 KiB), and the server MUST NOT limit it.
    NotOffered,
    /// `client_max_window_bits` without a value: the client lets the server limit its
    /// window. Browsers offer this.
    Supported,
    /// `client_max_window_bits=N`: as [`Supported`](Self::Supported), and the client
    /// will not use more than `2^N` (a hint the server may make binding).
    AtMost(WindowBits),
}

/// One permessage-deflate offer: what a client puts in its request, and what a server
/// reads out of one. Build one for [`client_offer`]; the server gets them from
/// [`DeflateOffer::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateOffer {
    /// `server_no_context_takeover`: the server must reset its compressor after each
    /// message, so the client's decompressor can drop its window between messages
    /// (§7.1.1.1).
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover`: the client will reset its compressor after each
    /// message whatever the answer (§7.1.1.2).
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N`: the server's window must not exceed `2^N`
    /// (§7.1.2.1). `None`: any window up to 32 KiB.
    pub server_max_window_bits: Option<WindowBits>,
    /// `client_max_window_bits`, with or without a value (§7.1.2.2).
    pub client_max_window_bits: ClientWindowOffer,
}

impl DeflateOffer {
    /// `permessage-deflate; client_max_window_bits`: what Chromium (and Node's `ws`
    /// and Python's `websockets` by default) offer. It costs the client nothing to let
    /// the server pick its window, and it asks for nothing the server might decline.
    pub const fn browser() -> DeflateOffer {
        DeflateOffer {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
            client_max_window_bits: ClientWindowOffer::Supported,
        }
    }

    /// The parameters of a permessage-deflate offer (`element`'s name is not looked at).
    /// An `Err` is a reason the server MUST decline this offer (§5); it may accept
    /// another.
    pub fn parse(element: &Extension<'_>) -> Result<DeflateOffer, ParamError> {
        let written = Written::read(element)?;
        Ok(DeflateOffer {
            server_no_context_takeover: written.server_no_context_takeover,
            client_no_context_takeover: written.client_no_context_takeover,
            server_max_window_bits: written.server_max_window_bits,
            client_max_window_bits: match written.client_max_window_bits {
                None => ClientWindowOffer::NotOffered,
                Some(None) => ClientWindowOffer::Supported,
                Some(Some(bits)) => ClientWindowOffer::AtMost(bits),
            },
        })
    }

    /// Appends the offer as one `Sec-WebSocket-Extensions` element.
    pub fn write(&self, out: &mut Vec<u8>) {
        write_element(
            out,
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            self.server_max_window_bits,
            match self.client_max_window_bits {
                ClientWindowOffer::NotOffered => None,
                ClientWindowOffer::Supported => Some(None),
                ClientWindowOffer::AtMost(bits) => Some(Some(bits)),
            },
        );
    }
}

impl Default for DeflateOffer {
    /// [`DeflateOffer::browser`].
    fn default() -> Self {
        DeflateOffer::browser()
    }
}

/// The `Sec-WebSocket-Extensions` value a client sends to offer `offer`, e.g.
/// `permessage-deflate; client_max_window_bits`. Check the answer with
/// [`validate_response`] against the same offer.
pub fn client_offer(offer: &DeflateOffer) -> String {
    let mut out = Vec::new();
    offer.write(&mut out);
    // Only ASCII was written.
    String::from_utf8(out).unwrap_or_default()
}

// ===== DeflateResponse =====

/// The parameters of a server's permessage-deflate response element (RFC 7692 §7.1).
/// Every window-bits parameter here has a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateResponse {
    /// `server_no_context_takeover`: the server resets its compressor after each
    /// message (§7.1.1.1; it may say so unasked).
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover`: the client MUST reset its compressor after each
    /// message (§7.1.1.2).
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N`: the server's window is at most `2^N` (§7.1.2.1).
    pub server_max_window_bits: Option<WindowBits>,
    /// `client_max_window_bits=N`: the client's window must be at most `2^N`
    /// (§7.1.2.2; only if the client offered the parameter).
    pub client_max_window_bits: Option<WindowBits>,
}

impl DeflateResponse {
    /// The parameters of a response element (its name is not looked at). An `Err` is a
    /// reason the client MUST fail the connection (§5).
    pub fn parse(element: &Extension<'_>) -> Result<DeflateResponse, ParamError> {
        let written = Written::read(element)?;
        Ok(DeflateResponse {
            server_no_context_takeover: written.server_no_context_takeover,
            client_no_context_takeover: written.client_no_context_takeover,
            server_max_window_bits: written.server_max_window_bits,
            // §7.1.2.2: in a response it "has a decimal integer value".
            client_max_window_bits: written
                .client_max_window_bits
                .map(|bits| bits.ok_or(ParamError::MissingValue(DeflateParam::ClientMaxWindowBits)))
                .transpose()?,
        })
    }

    /// Appends the response as one `Sec-WebSocket-Extensions` element.
    pub fn write(&self, out: &mut Vec<u8>) {
        write_element(
            out,
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            self.server_max_window_bits,
            self.client_max_window_bits.map(Some),
        );
    }
}

// ===== Agreement =====

/// How one direction of the connection is compressed: what its compressor must keep
/// to, which is what the decompressor at the other end must be ready for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamParams {
    /// The LZ77 window: no match reaches further back than `window_bits.size()` bytes.
    pub window_bits: WindowBits,
    /// Whether the compressor keeps its window from one message to the next ("context
    /// takeover", §7.1.1). When `false` it starts every message afresh, and the
    /// decompressor may drop its window after each message.
    pub context_takeover: bool,
}

/// The permessage-deflate parameters in effect for one connection, from this
/// endpoint's side (server or client alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreement {
    /// What this endpoint's compressor must keep to (its messages out).
    pub compressor: StreamParams,
    /// What this endpoint's decompressor must be ready for (the peer's messages in).
    pub decompressor: StreamParams,
    /// The response element that states this agreement.
    response: DeflateResponse,
}

impl Agreement {
    /// The response element's parameters: on the server what [`write_response`]
    /// writes, on the client what the server answered.
    ///
    /// [`write_response`]: Agreement::write_response
    pub fn response(&self) -> &DeflateResponse {
        &self.response
    }

    /// Appends the `Sec-WebSocket-Extensions` value of the server's `101` that accepts
    /// this agreement, e.g. `permessage-deflate; server_no_context_takeover`. Only the
    /// parameters that must appear (an answer to what the client asked for) or that
    /// tell the client something it can use (a limit on its window, or that it may drop
    /// the server's window between messages) are written.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        self.response.write(out);
    }
}

// ===== server: DeflateConfig and negotiate =====

/// The server's permessage-deflate policy: whether it accepts the extension, and what
/// it prefers where the client leaves it a choice.
///
/// Start from [`DeflateConfig::full`] or [`DeflateConfig::memory_light`]; the fields
/// are public to adjust.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Accept permessage-deflate at all. `false`: every offer is left unanswered.
    pub enabled: bool,
    /// Reset our compressor after every message even when the client did not ask
    /// (§7.1.1.1 lets the server say `server_no_context_takeover` unasked). A hub that
    /// sends the same message to many subscribers wants this: a message compressed
    /// without context is the same bytes for every subscriber, so it is compressed
    /// once, and no connection keeps a 32 KiB window between messages.
    pub server_no_context_takeover: bool,
    /// Answer `client_no_context_takeover` even when the client did not offer it, so
    /// our decompressor keeps no window between the client's messages (§7.1.1.2: the
    /// server may always include it, and the client MUST then comply). When the client
    /// offers it, it is answered anyway: the client said it will reset, and the answer
    /// lets us rely on it.
    pub request_client_no_context_takeover: bool,
    /// The largest window our compressor uses. A client's `server_max_window_bits`
    /// lowers it further; it is not announced when the client did not ask (a smaller
    /// window than the 32 KiB the client expects needs no agreement).
    pub max_server_window_bits: WindowBits,
    /// The window we ask the client to keep to, when it offered `client_max_window_bits`
    /// (the only case in which we may ask, §7.1.2.2). Its hint, if smaller, wins.
    pub client_window_bits: WindowBits,
    // The integrator adds the compressor's tuning here (e.g. `level`, and `min_size`:
    // messages shorter than that are sent uncompressed). They do not change what is
    // negotiated.
}

impl DeflateConfig {
    /// Compression off: offers are not answered.
    pub const fn disabled() -> DeflateConfig {
        DeflateConfig {
            enabled: false,
            ..DeflateConfig::full()
        }
    }

    /// Accept whatever a client offers, with the full 32 KiB window and context
    /// takeover wherever the client allows them: the best ratio and the widest
    /// coverage of what clients can ask for, at 32 KiB kept per direction and
    /// connection between messages. For a conformance or echo server (Autobahn's
    /// 12.x and 13.x cases), and for few long-lived connections with chatty,
    /// repetitive messages.
    pub const fn full() -> DeflateConfig {
        DeflateConfig {
            enabled: true,
            server_no_context_takeover: false,
            request_client_no_context_takeover: false,
            max_server_window_bits: WindowBits::MAX,
            client_window_bits: WindowBits::MAX,
        }
    }

    /// No context takeover in either direction (we always may: §7.1.1.1 and §7.1.1.2
    /// both let the server say so unasked), so no connection keeps a window between
    /// messages and a published message is compressed once for every subscriber. The
    /// windows stay at 32 KiB unless the client asks for less: without takeover they
    /// live only while one message is (de)compressed, and a smaller one would only cost
    /// ratio. For a hub with many connections.
    pub const fn memory_light() -> DeflateConfig {
        DeflateConfig {
            enabled: true,
            server_no_context_takeover: true,
            request_client_no_context_takeover: true,
            max_server_window_bits: WindowBits::MAX,
            client_window_bits: WindowBits::MAX,
        }
    }

    /// The agreement that accepts `offer` under this policy (the server's side). Every
    /// well-formed offer is acceptable: our codec supports every window size and both
    /// takeover modes, so §5's "the server doesn't support the offered configuration"
    /// never applies.
    pub fn accept(&self, offer: &DeflateOffer) -> Agreement {
        // §7.1.1.1: to accept an offer with `server_no_context_takeover` the response
        // includes it; without one, the server may include it anyway.
        let server_no_context_takeover =
            offer.server_no_context_takeover || self.server_no_context_takeover;
        // §7.1.2.1: an offered `server_max_window_bits` is accepted by answering "the
        // same or smaller value"; unasked we say nothing and just keep to our maximum.
        let server_window = match offer.server_max_window_bits {
            Some(offered) => offered.min(self.max_server_window_bits),
            None => self.max_server_window_bits,
        };
        // §7.1.1.2: the server may include `client_no_context_takeover` in any response.
        let client_no_context_takeover =
            offer.client_no_context_takeover || self.request_client_no_context_takeover;
        // §7.1.2.2: a limit on the client's window only if it offered the parameter
        // ("MUST NOT include" otherwise), and no larger than its hint.
        let client_window = match offer.client_max_window_bits {
            ClientWindowOffer::NotOffered => None,
            ClientWindowOffer::Supported => Some(self.client_window_bits),
            ClientWindowOffer::AtMost(hint) => Some(hint.min(self.client_window_bits)),
        };
        Agreement {
            compressor: StreamParams {
                window_bits: server_window,
                context_takeover: !server_no_context_takeover,
            },
            decompressor: StreamParams {
                window_bits: client_window.unwrap_or(WindowBits::MAX),
                context_takeover: !client_no_context_takeover,
            },
            response: DeflateResponse {
                server_no_context_takeover,
                client_no_context_takeover,
                server_max_window_bits: offer.server_max_window_bits.map(|_| server_window),
                // 15 is what absence already means.
                client_max_window_bits: client_window.filter(|&bits| bits < WindowBits::MAX),
            },
        }
    }
}

impl Default for DeflateConfig {
    /// [`DeflateConfig::disabled`]: compression is opted into.
    fn default() -> Self {
        DeflateConfig::disabled()
    }
}

/// The server's side of the negotiation: picks the first acceptable permessage-deflate
/// offer among `offers`, the request's `Sec-WebSocket-Extensions` list elements (as
/// [`RequestHead::list`] yields them), in the client's order of preference (§5: "An
/// element preceding another element has higher preference").
///
/// `Ok(None)`: compression is disabled, or no offer is acceptable; the response then
/// carries no `Sec-WebSocket-Extensions` for it. Offers of other extensions are
/// skipped, and so is a permessage-deflate offer with an unknown, duplicated or invalid
/// parameter (§5: the server "MUST decline" it; [`DeflateOffer::parse`] says why).
///
/// `Err`: the list breaks RFC 6455 §9.1's grammar somewhere, even after an acceptable
/// offer, and the handshake fails ([`HandshakeError::BadExtensions`], 400).
///
/// [`RequestHead::list`]: crate::http::request::RequestHead::list
/// [`HandshakeError::BadExtensions`]: crate::ws::handshake::HandshakeError::BadExtensions
pub fn negotiate<'a>(
    offers: impl IntoIterator<Item = &'a [u8]>,
    config: &DeflateConfig,
) -> Result<Option<Agreement>, ExtensionError> {
    let mut chosen = None;
    for element in offers {
        let extension = Extension::parse(element)?;
        if chosen.is_none() && config.enabled && extension.name() == EXTENSION_NAME {
            chosen = DeflateOffer::parse(&extension)
                .ok()
                .map(|offer| config.accept(&offer));
        }
    }
    Ok(chosen)
}

// ===== client: validate_response =====

/// Why a client fails the connection over the server's `Sec-WebSocket-Extensions`
/// answer to its permessage-deflate offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientExtensionError {
    /// The answer breaks RFC 6455 §9.1's grammar (§9.1: the client "MUST immediately
    /// _Fail the WebSocket Connection_").
    Malformed(ExtensionError),
    /// The answer names an extension we did not offer (RFC 6455 §4.1: such a response
    /// means the client "MUST _Fail the WebSocket Connection_"). We offer only
    /// permessage-deflate.
    UnexpectedExtension,
    /// permessage-deflate accepted twice (RFC 7692 §5: "A client that received a
    /// response accepting multiple PMCE extension negotiation offers MUST _Fail the
    /// WebSocket Connection_").
    DuplicateDeflate,
    /// An unknown, duplicated or invalid parameter (RFC 7692 §5).
    Parameter(ParamError),
    /// We offered `server_no_context_takeover` and the answer lacks it, so it accepts
    /// an offer we did not make (§7.1.1.1: the server accepts it "by including the
    /// server_no_context_takeover extension parameter").
    ServerNoContextTakeoverMissing,
    /// We offered `server_max_window_bits=N` and the answer lacks it (§7.1.2.1: the
    /// server accepts such an offer "by including the server_max_window_bits extension
    /// parameter").
    ServerWindowMissing {
        /// What we offered.
        offered: WindowBits,
    },
    /// The server's window is larger than we allowed (§7.1.2.1: "the same or smaller
    /// value as the offer").
    ServerWindowAboveOffer {
        /// What we offered.
        offered: WindowBits,
        /// What the server answered.
        answered: WindowBits,
    },
    /// `client_max_window_bits` in the answer though we did not offer it (§7.1.2.2:
    /// the response "MUST NOT include" it).
    ClientWindowNotOffered,
}

impl fmt::Display for ClientExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientExtensionError::Malformed(e) => {
                write!(f, "malformed sec-websocket-extensions: {e}")
            }
            ClientExtensionError::UnexpectedExtension => {
                f.write_str("server chose an extension we did not offer (rfc 6455 §4.1)")
            }
            ClientExtensionError::DuplicateDeflate => {
                f.write_str("server accepted permessage-deflate twice (rfc 7692 §5)")
            }
            ClientExtensionError::Parameter(e) => write!(f, "server's permessage-deflate: {e}"),
            ClientExtensionError::ServerNoContextTakeoverMissing => f.write_str(
                "server did not accept the server_no_context_takeover we offered \
                 (rfc 7692 §7.1.1.1)",
            ),
            ClientExtensionError::ServerWindowMissing { offered } => write!(
                f,
                "server did not accept the server_max_window_bits={offered} we offered \
                 (rfc 7692 §7.1.2.1)"
            ),
            ClientExtensionError::ServerWindowAboveOffer { offered, answered } => write!(
                f,
                "server_max_window_bits={answered} exceeds the {offered} we offered \
                 (rfc 7692 §7.1.2.1)"
            ),
            ClientExtensionError::ClientWindowNotOffered => f.write_str(
                "server sent client_max_window_bits, which we did not offer (rfc 7692 §7.1.2.2)",
            ),
        }
    }
}

impl std::error::Error for ClientExtensionError {}

impl From<ExtensionError> for ClientExtensionError {
    fn from(e: ExtensionError) -> Self {
        ClientExtensionError::Malformed(e)
    }
}

impl From<ParamError> for ClientExtensionError {
    fn from(e: ParamError) -> Self {
        ClientExtensionError::Parameter(e)
    }
}

/// The client's side of the negotiation: checks the server's `Sec-WebSocket-Extensions`
/// `value` (several fields joined with `,`; empty when there was none) against the one
/// permessage-deflate `offer` we made, and gives the agreement in effect.
///
/// `Ok(None)`: the server declined (the answer has no element); the connection runs
/// uncompressed. Every `Err` is a rule the answer breaks, and the client MUST fail the
/// connection (RFC 7692 §5).
///
/// A `client_max_window_bits` above our hint is accepted: §7.1.2.2 lets the server
/// ignore the hint, and we keep to it anyway (the limit is an upper bound). So is
/// `server_no_context_takeover` or `server_max_window_bits` we did not ask for (the
/// server "MAY include" them, §7.1.1.1, §7.1.2.1).
pub fn validate_response(
    value: &[u8],
    offer: &DeflateOffer,
) -> Result<Option<Agreement>, ClientExtensionError> {
    let mut accepted = None;
    for element in split_list(value) {
        let extension = Extension::parse(element)?;
        if extension.name() != EXTENSION_NAME {
            return Err(ClientExtensionError::UnexpectedExtension);
        }
        if accepted.is_some() {
            return Err(ClientExtensionError::DuplicateDeflate);
        }
        accepted = Some(DeflateResponse::parse(&extension)?);
    }
    let Some(response) = accepted else {
        return Ok(None);
    };
    if offer.server_no_context_takeover && !response.server_no_context_takeover {
        return Err(ClientExtensionError::ServerNoContextTakeoverMissing);
    }
    let server_window = match (
        offer.server_max_window_bits,
        response.server_max_window_bits,
    ) {
        (Some(offered), None) => return Err(ClientExtensionError::ServerWindowMissing { offered }),
        (Some(offered), Some(answered)) if answered > offered => {
            return Err(ClientExtensionError::ServerWindowAboveOffer { offered, answered });
        }
        (_, answered) => answered.unwrap_or(WindowBits::MAX),
    };
    let client_window = match (
        offer.client_max_window_bits,
        response.client_max_window_bits,
    ) {
        (ClientWindowOffer::NotOffered, Some(_)) => {
            return Err(ClientExtensionError::ClientWindowNotOffered);
        }
        (ClientWindowOffer::AtMost(hint), limit) => hint.min(limit.unwrap_or(WindowBits::MAX)),
        (_, limit) => limit.unwrap_or(WindowBits::MAX),
    };
    Ok(Some(Agreement {
        compressor: StreamParams {
            window_bits: client_window,
            // §7.1.1.2: the server's `client_no_context_takeover` binds us; our own
            // offer of it was a promise.
            context_takeover: !(response.client_no_context_takeover
                || offer.client_no_context_takeover),
        },
        decompressor: StreamParams {
            window_bits: server_window,
            context_takeover: !response.server_no_context_takeover,
        },
        response,
    }))
}
