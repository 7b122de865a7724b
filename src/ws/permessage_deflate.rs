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

pub use crate::deflate::WindowBits;
use crate::ws::extension::{Extension, ExtensionError, Param, Value, split_list};

/// The extension's registered name (RFC 7692 §7), compared exactly.
pub const EXTENSION_NAME: &str = "permessage-deflate";

// ===== WindowBits =====

/// Parses a window-bits value (an unescaped parameter value). RFC 7692 §7.1.2.1: "a
/// decimal integer value without leading zeroes between 8 to 15, inclusive", so
/// exactly `8`, `9`, `10` … `15`; not `08`, `7`, `16` or `+9`.
fn parse_window_bits(value: impl IntoIterator<Item = u8>) -> Option<WindowBits> {
    let mut digits = [0u8; 2];
    let mut len = 0;
    for b in value {
        *digits.get_mut(len)? = b;
        len += 1;
    }
    match digits[..len] {
        [d @ b'8'..=b'9'] => WindowBits::new(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => WindowBits::new(10 + d - b'0'),
        _ => None,
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
            // §7.1.2.1, §7.1.2.2: a window-bits value, unescaped (§9.1 allows `="10"`).
            let bits = |v: Value<'_>| {
                parse_window_bits(v.unescaped()).ok_or(ParamError::InvalidWindowBits(param))
            };
            use DeflateParam::*;
            match (param, value) {
                (ServerNoContextTakeover | ClientNoContextTakeover, Some(_)) => {
                    return Err(ParamError::UnexpectedValue(param));
                }
                (ServerNoContextTakeover, None) => written.server_no_context_takeover = true,
                (ClientNoContextTakeover, None) => written.client_no_context_takeover = true,
                (ServerMaxWindowBits, None) => return Err(ParamError::MissingValue(param)),
                (ServerMaxWindowBits, Some(v)) => written.server_max_window_bits = Some(bits(v)?),
                (ClientMaxWindowBits, v) => {
                    written.client_max_window_bits = Some(v.map(bits).transpose()?);
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
            // 8..=15: one or two digits.
            out.push(b'=');
            if bits.get() >= 10 {
                out.push(b'1');
            }
            out.push(b'0' + bits.get() % 10);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(n: u8) -> WindowBits {
        WindowBits::new(n).unwrap()
    }

    /// What a server with `config` answers to the request header `offers`: the
    /// response value, or `None` for no answer.
    fn answer(offers: &str, config: &DeflateConfig) -> Option<String> {
        let agreement = negotiate(split_list(offers.as_bytes()), config).unwrap()?;
        let mut out = Vec::new();
        agreement.write_response(&mut out);
        Some(String::from_utf8(out).unwrap())
    }

    /// The offer in `element`, or why a server declines it.
    fn offer(element: &str) -> Result<DeflateOffer, ParamError> {
        DeflateOffer::parse(&Extension::parse(element.as_bytes()).unwrap())
    }

    fn stream(window: u8, context_takeover: bool) -> StreamParams {
        StreamParams {
            window_bits: bits(window),
            context_takeover,
        }
    }

    /// Every offer a client can make, parameters in every combination (360 of them).
    fn every_offer() -> Vec<DeflateOffer> {
        let windows = || std::iter::once(None).chain((8..=15).map(|n| Some(bits(n))));
        let mut offers = Vec::new();
        for server_no_context_takeover in [false, true] {
            for client_no_context_takeover in [false, true] {
                for server_max_window_bits in windows() {
                    let client_windows =
                        [ClientWindowOffer::NotOffered, ClientWindowOffer::Supported]
                            .into_iter()
                            .chain((8..=15).map(|n| ClientWindowOffer::AtMost(bits(n))));
                    for client_max_window_bits in client_windows {
                        offers.push(DeflateOffer {
                            server_no_context_takeover,
                            client_no_context_takeover,
                            server_max_window_bits,
                            client_max_window_bits,
                        });
                    }
                }
            }
        }
        offers
    }

    // ===== window bits =====

    #[test]
    fn window_bits_are_8_to_15_without_leading_zeros() {
        for n in 8..=15u8 {
            let written = n.to_string();
            assert_eq!(parse_window_bits(written.bytes()), Some(bits(n)));
            assert_eq!(bits(n).to_string(), written);
            assert_eq!(bits(n).size(), 1 << n);
        }
        for bad in [
            "", "0", "7", "08", "010", "16", "99", "100", "+9", "-9", " 9", "abc", "1O",
        ] {
            assert_eq!(parse_window_bits(bad.bytes()), None, "{bad:?}");
        }
        assert_eq!(WindowBits::new(7), None);
        assert_eq!(WindowBits::new(16), None);
        assert_eq!((WindowBits::MIN.get(), WindowBits::MAX.get()), (8, 15));
    }

    // ===== server: reading offers =====

    #[test]
    fn chromiums_offer_is_accepted_with_full_windows() {
        let chromium = "permessage-deflate; client_max_window_bits";
        let full = negotiate(split_list(chromium.as_bytes()), &DeflateConfig::full())
            .unwrap()
            .unwrap();
        assert_eq!(full.compressor, stream(15, true));
        assert_eq!(full.decompressor, stream(15, true));
        // 15 for the client is what absence means: nothing to say.
        assert_eq!(
            answer(chromium, &DeflateConfig::full()).unwrap(),
            "permessage-deflate"
        );
        let light = negotiate(
            split_list(chromium.as_bytes()),
            &DeflateConfig::memory_light(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(light.compressor, stream(15, false));
        assert_eq!(light.decompressor, stream(15, false));
        assert_eq!(
            answer(chromium, &DeflateConfig::memory_light()).unwrap(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
    }

    #[test]
    fn an_offer_without_parameters_is_accepted_and_never_answered_with_a_client_window() {
        // Firefox's offer. Even a config asking the client for a small window may not
        // ask this client (§7.1.2.2).
        let mut config = DeflateConfig::memory_light();
        config.client_window_bits = bits(9);
        let agreement = negotiate(split_list(b"permessage-deflate"), &config)
            .unwrap()
            .unwrap();
        assert_eq!(agreement.decompressor.window_bits, WindowBits::MAX);
        assert_eq!(agreement.response().client_max_window_bits, None);
        assert_eq!(
            answer("permessage-deflate", &DeflateConfig::full()).unwrap(),
            "permessage-deflate"
        );
    }

    #[test]
    fn a_declined_offer_gives_way_to_the_next_acceptable_one() {
        let offers = "permessage-deflate; foo, x-webkit-deflate-frame, \
                      permessage-deflate; server_max_window_bits=10, permessage-deflate";
        assert_eq!(
            answer(offers, &DeflateConfig::full()).unwrap(),
            "permessage-deflate; server_max_window_bits=10"
        );
        // The same offers across two header fields (two list sources, one list).
        let head_list = [
            &b"permessage-deflate; server_max_window_bits=08"[..],
            b"permessage-deflate; server_max_window_bits=11",
        ];
        let agreement = negotiate(head_list, &DeflateConfig::full())
            .unwrap()
            .unwrap();
        assert_eq!(agreement.compressor.window_bits, bits(11));
    }

    #[test]
    fn only_permessage_deflate_spelled_exactly_is_accepted() {
        for offers in [
            "x-webkit-deflate-frame",
            "Permessage-Deflate",
            "permessage_deflate",
            "deflate-frame; no_context_takeover",
        ] {
            assert_eq!(answer(offers, &DeflateConfig::full()), None, "{offers}");
        }
        assert_eq!(
            offer("permessage-deflate; Server_No_Context_Takeover"),
            Err(ParamError::Unknown)
        );
    }

    #[test]
    fn every_parameter_with_and_without_a_value() {
        use ClientWindowOffer::*;
        use DeflateParam::*;
        let plain = DeflateOffer {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
            client_max_window_bits: NotOffered,
        };
        let cases = [
            ("permessage-deflate", Ok(plain)),
            (
                "permessage-deflate; server_no_context_takeover",
                Ok(DeflateOffer {
                    server_no_context_takeover: true,
                    ..plain
                }),
            ),
            (
                "permessage-deflate; server_no_context_takeover=1",
                Err(ParamError::UnexpectedValue(ServerNoContextTakeover)),
            ),
            (
                "permessage-deflate; client_no_context_takeover",
                Ok(DeflateOffer {
                    client_no_context_takeover: true,
                    ..plain
                }),
            ),
            (
                "permessage-deflate; client_no_context_takeover=\"x\"",
                Err(ParamError::UnexpectedValue(ClientNoContextTakeover)),
            ),
            (
                "permessage-deflate; server_max_window_bits",
                Err(ParamError::MissingValue(ServerMaxWindowBits)),
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                Ok(DeflateOffer {
                    server_max_window_bits: Some(bits(10)),
                    ..plain
                }),
            ),
            (
                "permessage-deflate; client_max_window_bits",
                Ok(DeflateOffer {
                    client_max_window_bits: Supported,
                    ..plain
                }),
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                Ok(DeflateOffer {
                    client_max_window_bits: AtMost(bits(10)),
                    ..plain
                }),
            ),
        ];
        for (element, expected) in cases {
            assert_eq!(offer(element), expected, "{element}");
        }
    }

    #[test]
    fn invalid_window_bits_are_declined_and_a_quoted_valid_one_is_not() {
        for param in [
            DeflateParam::ServerMaxWindowBits,
            DeflateParam::ClientMaxWindowBits,
        ] {
            for value in ["0", "08", "16", "7", "abc", "010", "\"16\"", "\"0\\8\""] {
                let element = format!("permessage-deflate; {param}={value}");
                assert_eq!(
                    offer(&element),
                    Err(ParamError::InvalidWindowBits(param)),
                    "{element}"
                );
                // Declined, so not answered: not a failed handshake either.
                assert_eq!(answer(&element, &DeflateConfig::full()), None, "{element}");
            }
            // §9.1: a quoted-string value is the token it unescapes to.
            for value in ["\"10\"", "\"1\\0\""] {
                let element = format!("permessage-deflate; {param}={value}");
                let read = offer(&element).unwrap();
                let read_bits = match param {
                    DeflateParam::ServerMaxWindowBits => read.server_max_window_bits,
                    _ => match read.client_max_window_bits {
                        ClientWindowOffer::AtMost(b) => Some(b),
                        _ => None,
                    },
                };
                assert_eq!(read_bits, Some(bits(10)), "{element}");
            }
        }
    }

    #[test]
    fn duplicate_parameters_are_declined() {
        for (param, written) in [
            (
                DeflateParam::ServerNoContextTakeover,
                "server_no_context_takeover",
            ),
            (
                DeflateParam::ClientNoContextTakeover,
                "client_no_context_takeover",
            ),
            (
                DeflateParam::ServerMaxWindowBits,
                "server_max_window_bits=10",
            ),
            (DeflateParam::ClientMaxWindowBits, "client_max_window_bits"),
        ] {
            let element =
                format!("permessage-deflate; {written}; client_no_context_takeover_x; {written}");
            // The unknown parameter comes first and is the reason.
            assert_eq!(offer(&element), Err(ParamError::Unknown));
            let element = format!("permessage-deflate; {written};{written}");
            assert_eq!(
                offer(&element),
                Err(ParamError::Duplicate(param)),
                "{element}"
            );
            assert_eq!(answer(&element, &DeflateConfig::full()), None);
        }
        // Twice with different values is still twice.
        assert_eq!(
            offer("permessage-deflate; client_max_window_bits; client_max_window_bits=9"),
            Err(ParamError::Duplicate(DeflateParam::ClientMaxWindowBits))
        );
    }

    #[test]
    fn an_unknown_parameter_is_declined() {
        for element in [
            "permessage-deflate; foo",
            "permessage-deflate; client_max_window_bits; x=1",
            "permessage-deflate; max_window_bits=10",
        ] {
            assert_eq!(offer(element), Err(ParamError::Unknown), "{element}");
            assert_eq!(answer(element, &DeflateConfig::memory_light()), None);
        }
    }

    #[test]
    fn an_offered_server_window_is_answered_with_at_most_it() {
        for offered in 8..=15 {
            for max in 8..=15 {
                let mut config = DeflateConfig::full();
                config.max_server_window_bits = bits(max);
                let offers = format!("permessage-deflate; server_max_window_bits={offered}");
                let agreement = negotiate(split_list(offers.as_bytes()), &config)
                    .unwrap()
                    .unwrap();
                let used = offered.min(max);
                assert_eq!(agreement.compressor.window_bits, bits(used));
                assert_eq!(
                    agreement.response().server_max_window_bits,
                    Some(bits(used))
                );
                assert_eq!(
                    answer(&offers, &config).unwrap(),
                    format!("permessage-deflate; server_max_window_bits={used}")
                );
            }
        }
    }

    #[test]
    fn window_bits_8_are_honoured_exactly() {
        // zlib-based servers answer 9 here; our codec keeps to 256 bytes.
        let offers = "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8";
        let agreement = negotiate(split_list(offers.as_bytes()), &DeflateConfig::full())
            .unwrap()
            .unwrap();
        assert_eq!(agreement.compressor.window_bits, WindowBits::MIN);
        assert_eq!(agreement.decompressor.window_bits, WindowBits::MIN);
        assert_eq!(
            answer(offers, &DeflateConfig::full()).unwrap(),
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"
        );
    }

    #[test]
    fn an_unasked_server_window_is_kept_to_but_not_announced() {
        let mut config = DeflateConfig::full();
        config.max_server_window_bits = bits(10);
        let agreement = negotiate(split_list(b"permessage-deflate"), &config)
            .unwrap()
            .unwrap();
        assert_eq!(agreement.compressor.window_bits, bits(10));
        assert_eq!(agreement.response().server_max_window_bits, None);
    }

    #[test]
    fn the_client_window_is_limited_only_when_offered_and_never_above_its_hint() {
        let mut config = DeflateConfig::full();
        config.client_window_bits = bits(10);
        for (offers, window, response) in [
            ("permessage-deflate", 15, "permessage-deflate"),
            (
                "permessage-deflate; client_max_window_bits",
                10,
                "permessage-deflate; client_max_window_bits=10",
            ),
            (
                "permessage-deflate; client_max_window_bits=12",
                10,
                "permessage-deflate; client_max_window_bits=10",
            ),
            (
                "permessage-deflate; client_max_window_bits=9",
                9,
                "permessage-deflate; client_max_window_bits=9",
            ),
        ] {
            let agreement = negotiate(split_list(offers.as_bytes()), &config)
                .unwrap()
                .unwrap();
            assert_eq!(agreement.decompressor.window_bits, bits(window), "{offers}");
            assert_eq!(answer(offers, &config).unwrap(), response);
        }
        // A hint of 15 under a config of 15 is the default both ways: nothing to say.
        assert_eq!(
            answer(
                "permessage-deflate; client_max_window_bits=15",
                &DeflateConfig::full()
            )
            .unwrap(),
            "permessage-deflate"
        );
    }

    #[test]
    fn the_clients_no_context_takeover_hint_is_made_binding() {
        let agreement = negotiate(
            split_list(b"permessage-deflate; client_no_context_takeover"),
            &DeflateConfig::full(),
        )
        .unwrap()
        .unwrap();
        assert!(!agreement.decompressor.context_takeover);
        assert!(agreement.compressor.context_takeover);
        assert!(agreement.response().client_no_context_takeover);
    }

    #[test]
    fn autobahn_style_offers_against_both_configs() {
        // (offer header, full's answer, memory_light's answer). Autobahn's 12.x cases
        // offer the first; its 13.x cases walk through the others, several offers in one
        // header among them.
        let pmd = "permessage-deflate";
        let nct = "server_no_context_takeover; client_no_context_takeover";
        let cases = [
            (
                format!("{pmd}; client_max_window_bits"),
                pmd.to_owned(),
                format!("{pmd}; {nct}"),
            ),
            (
                format!("{pmd}; client_no_context_takeover; client_max_window_bits"),
                format!("{pmd}; client_no_context_takeover"),
                format!("{pmd}; {nct}"),
            ),
            (
                format!("{pmd}; client_max_window_bits; server_max_window_bits=8"),
                format!("{pmd}; server_max_window_bits=8"),
                format!("{pmd}; {nct}; server_max_window_bits=8"),
            ),
            (
                format!("{pmd}; client_max_window_bits; server_max_window_bits=15"),
                format!("{pmd}; server_max_window_bits=15"),
                format!("{pmd}; {nct}; server_max_window_bits=15"),
            ),
            (
                format!(
                    "{pmd}; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits"
                ),
                format!("{pmd}; {nct}; server_max_window_bits=8"),
                format!("{pmd}; {nct}; server_max_window_bits=8"),
            ),
            (
                format!("{pmd}; client_max_window_bits=8"),
                format!("{pmd}; client_max_window_bits=8"),
                format!("{pmd}; {nct}; client_max_window_bits=8"),
            ),
            (
                format!(
                    "{pmd}; server_max_window_bits=9; client_max_window_bits=9, {pmd}; client_max_window_bits, {pmd}"
                ),
                format!("{pmd}; server_max_window_bits=9; client_max_window_bits=9"),
                format!("{pmd}; {nct}; server_max_window_bits=9; client_max_window_bits=9"),
            ),
            (
                format!("{pmd}; server_no_context_takeover; server_max_window_bits=12, {pmd}"),
                format!("{pmd}; server_no_context_takeover; server_max_window_bits=12"),
                format!("{pmd}; {nct}; server_max_window_bits=12"),
            ),
        ];
        for (offers, full, light) in cases {
            assert_eq!(
                answer(&offers, &DeflateConfig::full()).unwrap(),
                full,
                "{offers}"
            );
            assert_eq!(
                answer(&offers, &DeflateConfig::memory_light()).unwrap(),
                light,
                "{offers}"
            );
        }
    }

    #[test]
    fn a_disabled_config_answers_nothing_but_still_checks_the_grammar() {
        let config = DeflateConfig::disabled();
        assert_eq!(config, DeflateConfig::default());
        assert_eq!(
            negotiate(split_list(b"permessage-deflate"), &config),
            Ok(None)
        );
        assert_eq!(
            negotiate(split_list(b"permessage-deflate; a="), &config),
            Err(ExtensionError::ValueNotToken)
        );
    }

    #[test]
    fn a_malformed_list_fails_even_after_an_acceptable_offer() {
        for offers in [
            "permessage-deflate, x; =1",
            "permessage-deflate, a b",
            "permessage-deflate; client_max_window_bits=\"1 0\"",
        ] {
            assert!(
                negotiate(split_list(offers.as_bytes()), &DeflateConfig::full()).is_err(),
                "{offers}"
            );
        }
        assert_eq!(
            negotiate(std::iter::empty(), &DeflateConfig::full()),
            Ok(None)
        );
    }

    // ===== client =====

    #[test]
    fn client_offers_are_written_with_the_parameters_in_rfc_order() {
        assert_eq!(
            client_offer(&DeflateOffer::default()),
            "permessage-deflate; client_max_window_bits"
        );
        let everything = DeflateOffer {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(bits(10)),
            client_max_window_bits: ClientWindowOffer::AtMost(bits(12)),
        };
        assert_eq!(
            client_offer(&everything),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=12"
        );
        // Every offer reads back as itself.
        for o in every_offer() {
            assert_eq!(offer(&client_offer(&o)), Ok(o));
        }
    }

    #[test]
    fn the_client_accepts_each_valid_answer() {
        let browser = DeflateOffer::browser();
        let hint_10 = DeflateOffer {
            client_max_window_bits: ClientWindowOffer::AtMost(bits(10)),
            ..browser
        };
        let server_10 = DeflateOffer {
            server_max_window_bits: Some(bits(10)),
            ..browser
        };
        let promise = DeflateOffer {
            client_no_context_takeover: true,
            ..browser
        };
        let reset = DeflateOffer {
            server_no_context_takeover: true,
            ..browser
        };
        let cases: [(&DeflateOffer, &str, (StreamParams, StreamParams)); 11] = [
            (
                &browser,
                "permessage-deflate",
                (stream(15, true), stream(15, true)),
            ),
            (
                &browser,
                "permessage-deflate; client_max_window_bits=10",
                (stream(10, true), stream(15, true)),
            ),
            // Unasked, but allowed (§7.1.1.1, §7.1.2.1).
            (
                &browser,
                "permessage-deflate; server_no_context_takeover",
                (stream(15, true), stream(15, false)),
            ),
            (
                &browser,
                "permessage-deflate; server_max_window_bits=9",
                (stream(15, true), stream(9, true)),
            ),
            (
                &browser,
                "permessage-deflate; client_no_context_takeover",
                (stream(15, false), stream(15, true)),
            ),
            // Our hint stays our limit, whatever the server allows.
            (
                &hint_10,
                "permessage-deflate; client_max_window_bits=12",
                (stream(10, true), stream(15, true)),
            ),
            (
                &hint_10,
                "permessage-deflate",
                (stream(10, true), stream(15, true)),
            ),
            (
                &server_10,
                "permessage-deflate; server_max_window_bits=8",
                (stream(15, true), stream(8, true)),
            ),
            (
                &server_10,
                "permessage-deflate; server_max_window_bits=\"10\"",
                (stream(15, true), stream(10, true)),
            ),
            // We said we would reset; we do.
            (
                &promise,
                "permessage-deflate",
                (stream(15, false), stream(15, true)),
            ),
            (
                &reset,
                "permessage-deflate;server_no_context_takeover",
                (stream(15, true), stream(15, false)),
            ),
        ];
        for (offer, response, (compressor, decompressor)) in cases {
            let agreement = validate_response(response.as_bytes(), offer)
                .unwrap()
                .unwrap();
            assert_eq!(
                (agreement.compressor, agreement.decompressor),
                (compressor, decompressor),
                "{response}"
            );
        }
        // No answer: the server declined, and we run uncompressed.
        assert_eq!(validate_response(b"", &browser), Ok(None));
        assert_eq!(validate_response(b" , ", &browser), Ok(None));
    }

    #[test]
    fn the_client_rejects_each_broken_answer() {
        use ClientExtensionError::*;
        use DeflateParam::*;
        let browser = DeflateOffer::browser();
        let server_10 = DeflateOffer {
            server_max_window_bits: Some(bits(10)),
            ..browser
        };
        let reset = DeflateOffer {
            server_no_context_takeover: true,
            ..browser
        };
        let no_client_window = DeflateOffer {
            client_max_window_bits: ClientWindowOffer::NotOffered,
            ..browser
        };
        let cases = [
            (
                &browser,
                "permessage-deflate; a=",
                Malformed(ExtensionError::ValueNotToken),
            ),
            (&browser, "x-webkit-deflate-frame", UnexpectedExtension),
            (&browser, "permessage-deflate, x-foo", UnexpectedExtension),
            (
                &browser,
                "permessage-deflate, permessage-deflate",
                DuplicateDeflate,
            ),
            (
                &browser,
                "permessage-deflate; foo",
                Parameter(ParamError::Unknown),
            ),
            (
                &browser,
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                Parameter(ParamError::Duplicate(ServerNoContextTakeover)),
            ),
            (
                &browser,
                "permessage-deflate; server_no_context_takeover=x",
                Parameter(ParamError::UnexpectedValue(ServerNoContextTakeover)),
            ),
            (
                &browser,
                "permessage-deflate; client_max_window_bits",
                Parameter(ParamError::MissingValue(ClientMaxWindowBits)),
            ),
            (
                &browser,
                "permessage-deflate; server_max_window_bits",
                Parameter(ParamError::MissingValue(ServerMaxWindowBits)),
            ),
            (
                &browser,
                "permessage-deflate; server_max_window_bits=16",
                Parameter(ParamError::InvalidWindowBits(ServerMaxWindowBits)),
            ),
            (
                &browser,
                "permessage-deflate; client_max_window_bits=07",
                Parameter(ParamError::InvalidWindowBits(ClientMaxWindowBits)),
            ),
            (
                &server_10,
                "permessage-deflate",
                ServerWindowMissing { offered: bits(10) },
            ),
            (
                &server_10,
                "permessage-deflate; server_max_window_bits=12",
                ServerWindowAboveOffer {
                    offered: bits(10),
                    answered: bits(12),
                },
            ),
            (&reset, "permessage-deflate", ServerNoContextTakeoverMissing),
            (
                &no_client_window,
                "permessage-deflate; client_max_window_bits=10",
                ClientWindowNotOffered,
            ),
        ];
        for (offer, response, expected) in cases {
            assert_eq!(
                validate_response(response.as_bytes(), offer),
                Err(expected),
                "{response}"
            );
        }
    }

    #[test]
    fn every_server_answer_is_accepted_by_the_client_that_offered_it() {
        let mut configs = vec![DeflateConfig::full(), DeflateConfig::memory_light()];
        for (server, client) in [(8, 8), (9, 12), (12, 9)] {
            let mut config = DeflateConfig::memory_light();
            config.max_server_window_bits = bits(server);
            config.client_window_bits = bits(client);
            configs.push(config);
        }
        for config in &configs {
            for o in every_offer() {
                let server = config.accept(&o);
                let mut response = Vec::new();
                server.write_response(&mut response);
                let client = validate_response(&response, &o)
                    .unwrap_or_else(|e| panic!("{o:?} {config:?}: {e}"))
                    .unwrap();
                assert_eq!(client.response(), server.response());
                // Each side's decompressor can read what the other's compressor writes.
                for (sender, receiver) in [(&server, &client), (&client, &server)] {
                    assert!(
                        sender.compressor.window_bits <= receiver.decompressor.window_bits,
                        "{o:?}"
                    );
                    assert!(
                        !sender.compressor.context_takeover
                            || receiver.decompressor.context_takeover,
                        "{o:?}"
                    );
                }
                // What the client asked of the server holds, and the client keeps its word.
                assert!(!o.server_no_context_takeover || !server.compressor.context_takeover);
                assert!(!o.client_no_context_takeover || !client.compressor.context_takeover);
                if let Some(max) = o.server_max_window_bits {
                    assert!(server.compressor.window_bits <= max);
                }
                if let ClientWindowOffer::AtMost(hint) = o.client_max_window_bits {
                    assert!(client.compressor.window_bits <= hint);
                }
            }
        }
    }

    #[test]
    fn errors_display_in_lowercase_and_cite_their_rule() {
        let errors: Vec<Box<dyn std::error::Error>> = vec![
            Box::new(ParamError::Unknown),
            Box::new(ParamError::Duplicate(DeflateParam::ServerMaxWindowBits)),
            Box::new(ParamError::UnexpectedValue(
                DeflateParam::ClientNoContextTakeover,
            )),
            Box::new(ParamError::MissingValue(DeflateParam::ServerMaxWindowBits)),
            Box::new(ParamError::InvalidWindowBits(
                DeflateParam::ClientMaxWindowBits,
            )),
            Box::new(ClientExtensionError::Malformed(
                ExtensionError::NameNotToken,
            )),
            Box::new(ClientExtensionError::UnexpectedExtension),
            Box::new(ClientExtensionError::DuplicateDeflate),
            Box::new(ClientExtensionError::Parameter(ParamError::Unknown)),
            Box::new(ClientExtensionError::ServerNoContextTakeoverMissing),
            Box::new(ClientExtensionError::ServerWindowMissing { offered: bits(9) }),
            Box::new(ClientExtensionError::ServerWindowAboveOffer {
                offered: bits(9),
                answered: bits(10),
            }),
            Box::new(ClientExtensionError::ClientWindowNotOffered),
        ];
        for e in errors {
            let text = e.to_string();
            assert_eq!(text, text.to_lowercase());
            assert!(text.contains("rfc "), "{text}");
        }
        assert_eq!(
            ClientExtensionError::ServerWindowAboveOffer {
                offered: bits(9),
                answered: bits(10)
            }
            .to_string(),
            "server_max_window_bits=10 exceeds the 9 we offered (rfc 7692 §7.1.2.1)"
        );
    }

    #[test]
    fn an_agreement_is_a_few_bytes() {
        assert_eq!(std::mem::size_of::<StreamParams>(), 2);
        assert!(
            std::mem::size_of::<Agreement>() <= 12,
            "{}",
            std::mem::size_of::<Agreement>()
        );
        assert!(std::mem::size_of::<DeflateConfig>() <= 8);
    }
}
