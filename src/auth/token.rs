//! pushwire's access tokens: signed claims naming channels, rights and an expiry.
//!
//! A token is issued by the application's backend, which knows who a user is, and checked
//! by pushwire, which only needs to know what the bearer may do: no session store, no call
//! back to the backend. Both share a secret; the token carries its claims in the open and
//! an HMAC-SHA1 signature over them ([`super::hmac`], RFC 2104) that only a holder of the
//! secret can compute.
//!
//! # Format
//!
//! ```text
//! token     = claims "." signature
//! claims    = base64url, no padding (a UTF-8 JSON object)    RFC 4648 §5, §3.2; RFC 8259
//! signature = base64url, no padding (HMAC-SHA1(secret, the ASCII of `claims`))
//!                                                 20 bytes: 27 characters; RFC 2104
//! ```
//!
//! The JSON object's keys:
//!
//! - `"exp"`: the expiry, an integer of Unix seconds (required). The token is valid while
//!   `now < exp`.
//! - `"pub"`: an array of [`Pattern`]s the bearer may publish to (optional: absent is none).
//! - `"sub"`: an array of [`Pattern`]s the bearer may subscribe to (optional: likewise).
//! - any other key is ignored (a backend may add `"iat"`, `"user"`, …), but the whole text
//!   must be JSON, at most [`MAX_JSON_DEPTH`] deep. One of the three keys above given twice
//!   is malformed: JSON readers disagree on which of the two counts (RFC 8259 §4: names
//!   "SHOULD be unique"), and a token must mean the same to the backend that wrote it and
//!   to the hub.
//!
//! The signature covers the base64url *text* of the claims, not the JSON, so the hub
//! checks it before decoding anything, and a backend may write the JSON as it likes
//! (spacing, key order, escapes). Every character of a token is an HTTP `tchar` (RFC 9110 §5.6.2), so a token
//! can be sent as `Authorization: Bearer <token>` (RFC 6750 §2.1), as `?token=<token>` with
//! no percent-encoding, and as a WebSocket subprotocol entry `bearer.<token>`.
//!
//! Minting one is a few lines in any language; in Python:
//!
//! ```python
//! import base64, hashlib, hmac, json, time
//! b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
//! claims = b64(json.dumps({"sub": ["room.*"], "pub": ["room.42"], "exp": int(time.time()) + 3600}).encode())
//! token = claims + "." + b64(hmac.new(secret, claims.encode(), hashlib.sha1).digest())
//! ```
//!
//! and here, [`mint`] (which `pushwire token` runs).
//!
//! # Checking
//!
//! [`verify`] checks, in this order, and stops at the first failure:
//!
//! 1. the length: at most [`MAX_TOKEN_LEN`] bytes, before any other work;
//! 2. one `.` splits the claims from the signature;
//! 3. the signature is base64url of exactly 20 bytes;
//! 4. HMAC-SHA1 of the claims text under the secret equals it, compared in constant time
//!    ([`super::hmac::constant_time_eq`]);
//! 5. only then, the claims are decoded and read: base64url, UTF-8, JSON, the keys above,
//!    at most [`MAX_PATTERNS`] patterns in a list;
//! 6. the expiry, against the `now` the caller passes (this module never reads the clock).
//!
//! So nothing an unauthenticated client sends reaches the JSON reader: a forged token
//! costs one hash of at most 4 KiB. Every failure is a [`TokenError`], which the hub answers
//! with `401 Unauthorized`. A valid token that lacks the right for a channel is not an
//! error of the token: [`verify`] returns its [`Claims`], [`Claims::allows`] says no, and
//! the hub answers `403 Forbidden`.
//!
//! A token is a bearer credential: whoever holds it may use it until it expires, and the
//! only way to revoke tokens early is to change the secret. Keep expiries short. No
//! message of this module contains a token or the secret.

mod json;
#[cfg(test)]
mod tests;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::hmac::{HMAC_SHA1_LEN, constant_time_eq, hmac_sha1};
use crate::hub::query::{MAX_CHANNEL_NAME, is_valid_channel_name};
pub use json::MAX_JSON_DEPTH;
use json::{JsonError, Reader};

/// Longest token accepted, in bytes; longer is [`TokenError::TooLong`], refused before it
/// is hashed or decoded. 4 KiB of token hold about 3 KiB of claims: some 23 patterns of
/// full-length (128-character) names, or hundreds of short ones, and it fits within the
/// header and URL limits of servers and proxies on the way (8 KiB is common).
pub const MAX_TOKEN_LEN: usize = 4096;

/// Most patterns in one list (`"pub"` or `"sub"`); more is
/// [`MalformedToken::TooManyPatterns`]. A check walks the list for every publish and
/// subscribe, so its length is bounded separately from the token's.
pub const MAX_PATTERNS: usize = 64;

/// Fewest bytes of secret accepted by [`Secret::new`]: 128 bits, too many to guess if they
/// are random.
pub const MIN_SECRET_LEN: usize = 16;

/// A signature's length in base64url without padding: 20 bytes are 6 groups of 3 (24
/// characters) and 2 bytes more (3 characters), RFC 4648 §4–§5.
const SIGNATURE_TEXT_LEN: usize = 27;

// ===== Secret =====

/// The key tokens are signed with, shared by the backends that mint tokens and the hub
/// that checks them.
///
/// Its `Debug` prints `Secret(..)`, never the bytes, so a secret inside a logged
/// configuration stays secret.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret of these bytes, at least [`MIN_SECRET_LEN`] of them. Use random bytes
    /// (`openssl rand -hex 32` gives 64 characters, all of them used as the key): the
    /// secret's strength is all there is between a forger and a token.
    ///
    /// By RFC 2104 §3, a key shorter than the hash's output (20 bytes for SHA-1) "is
    /// strongly discouraged", and a longer one adds little unless its randomness is weak:
    /// 16 is a floor against accidents (an empty or truncated file), not a recommendation.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Secret, SecretError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort { len: bytes.len() });
        }
        Ok(Secret(bytes))
    }

    /// The secret in a file's contents: everything but ONE trailing `"\n"` or `"\r\n"`,
    /// so that a file written by `echo "$KEY" > FILE` or an editor holds the key the
    /// backends are given. Any other byte counts, other whitespace included.
    pub fn from_file_contents(contents: &[u8]) -> Result<Secret, SecretError> {
        let key = contents
            .strip_suffix(b"\r\n")
            .or_else(|| contents.strip_suffix(b"\n"))
            .unwrap_or(contents);
        Secret::new(key)
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Why bytes cannot be a [`Secret`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretError {
    /// Fewer than [`MIN_SECRET_LEN`] bytes.
    TooShort {
        /// How many there are.
        len: usize,
    },
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::TooShort { len } => write!(
                f,
                "the secret is {len} bytes; at least {MIN_SECRET_LEN} are needed \
                 (random ones: e.g. 'openssl rand -hex 32 > FILE')"
            ),
        }
    }
}

impl std::error::Error for SecretError {}

// ===== Right, Pattern, Claims =====

/// What a token may allow on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Right {
    /// Publish messages (`POST /channels/NAME`, text sent on a WebSocket subscription).
    Publish,
    /// Receive messages (long-poll, poll, WebSocket subscription).
    Subscribe,
}

impl Right {
    /// The claims key listing the patterns of this right.
    fn key(self) -> &'static str {
        match self {
            Right::Publish => "pub",
            Right::Subscribe => "sub",
        }
    }
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Right::Publish => "publish",
            Right::Subscribe => "subscribe",
        })
    }
}

/// Which channels a right covers: one channel by name, or every channel whose name starts
/// with a prefix.
///
/// Written as a channel name (1 to 128 of `A-Z a-z 0-9 _ . -`, as the hub requires of
/// names), as such a name followed by `*` (a prefix: `room.*` matches `room.1`, `room.` and
/// `room.a.b`, but not `room`), or as `*` alone (every channel). A `*` anywhere but at the
/// end is not a pattern: there are no wildcards inside names.
///
/// ```
/// use pushwire::auth::token::Pattern;
/// let rooms = Pattern::parse("room.*").unwrap();
/// assert!(rooms.matches("room.42") && !rooms.matches("lobby"));
/// assert!(Pattern::parse("room.42").unwrap().matches("room.42"));
/// assert!(Pattern::parse("*").unwrap().matches("anything"));
/// assert!(Pattern::parse("room*x").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern(Match);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Match {
    /// Exactly this name.
    Exact(String),
    /// Names starting with this (a valid name, or empty for `*`).
    Prefix(String),
}

impl Pattern {
    /// The pattern written as `text`, or `None` if it is not one (see [`Pattern`]).
    pub fn parse(text: &str) -> Option<Pattern> {
        match text.strip_suffix('*') {
            Some("") => Some(Pattern(Match::Prefix(String::new()))),
            Some(prefix) => {
                is_valid_channel_name(prefix).then(|| Pattern(Match::Prefix(prefix.to_string())))
            }
            None => is_valid_channel_name(text).then(|| Pattern(Match::Exact(text.to_string()))),
        }
    }

    /// Does the pattern cover `channel`? A plain comparison of names: whether `channel` is
    /// a valid name is the hub's to check (it does before it asks).
    pub fn matches(&self, channel: &str) -> bool {
        match &self.0 {
            Match::Exact(name) => channel == name,
            Match::Prefix(prefix) => channel.starts_with(prefix.as_str()),
        }
    }
}

/// The pattern as it is written. Only the characters of names and `*`: it goes into JSON
/// (and a shell) with no escaping.
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Match::Exact(name) => f.write_str(name),
            Match::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

/// What a valid token says: until when, and which channels its bearer may publish to and
/// subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `"exp"`: valid while `now < expires` (Unix seconds).
    pub expires: u64,
    /// `"pub"`: the channels the bearer may publish to.
    pub publish: Vec<Pattern>,
    /// `"sub"`: the channels the bearer may subscribe to.
    pub subscribe: Vec<Pattern>,
}

impl Claims {
    /// The patterns listed for `right`.
    pub fn patterns(&self, right: Right) -> &[Pattern] {
        match right {
            Right::Publish => &self.publish,
            Right::Subscribe => &self.subscribe,
        }
    }

    /// May the bearer do `right` on `channel`? The rights are separate: a pattern in
    /// `"pub"` allows publishing only, one in `"sub"` subscribing only. No means `403`.
    pub fn allows(&self, right: Right, channel: &str) -> bool {
        self.patterns(right).iter().any(|p| p.matches(channel))
    }
}

// ===== errors =====

/// Why a token is refused. Every variant means `401 Unauthorized` (the request carries no
/// usable credential: RFC 9110 §15.5.2, RFC 6750 §3.1 `invalid_token`); `Display` is a
/// readable reason for the 401's body and never contains the token or the secret.
///
/// A valid token without the right asked for is not a `TokenError` (see
/// [`Claims::allows`]): that is `403 Forbidden`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_LEN`] bytes; refused before any other work.
    TooLong,
    /// Not a token of this format, or its claims are not what the format says (checked
    /// after the signature, for the claims).
    Malformed(MalformedToken),
    /// The signature is not the secret's signature of the claims: forged, altered,
    /// truncated, or made with another secret.
    BadSignature,
    /// Signed and well-formed, but `now >= expires`.
    Expired {
        /// The token's `"exp"`.
        expires: u64,
        /// The time it was checked at.
        now: u64,
    },
}

/// Which half of a token a [`MalformedToken`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPart {
    /// The base64url text before the `.`.
    Claims,
    /// The base64url text after the `.`.
    Signature,
}

impl fmt::Display for TokenPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenPart::Claims => "claims",
            TokenPart::Signature => "signature",
        })
    }
}

/// Why a token is [`TokenError::Malformed`]. `NoDot`, `TooManyDots`,
/// `BadSignatureLength`, and `Padded` or `BadBase64` of the signature are found before
/// the signature is checked; the rest, about the claims, only after it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedToken {
    /// No `.` between the claims and the signature.
    NoDot,
    /// More than one `.`.
    TooManyDots,
    /// An `=`: tokens are base64url *without* padding (RFC 4648 §3.2), so a backend
    /// must strip it (`.rstrip(b"=")`).
    Padded(TokenPart),
    /// A character outside the base64url alphabet (RFC 4648 §5: `A-Z a-z 0-9 - _`), or a
    /// length or last character no encoding produces.
    BadBase64(TokenPart),
    /// The signature is not 27 characters (the 20 bytes of HMAC-SHA1).
    BadSignatureLength {
        /// Its length in characters.
        chars: usize,
    },
    /// The decoded claims are not UTF-8 (RFC 8259 §8.1).
    NotUtf8,
    /// The claims are not JSON: `expected` was expected at byte `offset` of their text.
    BadJson {
        /// Where, in bytes from the start of the decoded claims.
        offset: usize,
        /// What the grammar allows there.
        expected: &'static str,
    },
    /// The claims' JSON nests deeper than [`MAX_JSON_DEPTH`].
    TooDeep,
    /// The claims are JSON, but not an object.
    NotAnObject,
    /// A key the format reads (`"exp"`, `"pub"`, `"sub"`) appears twice.
    DuplicateKey(&'static str),
    /// No `"exp"`.
    MissingExpiry,
    /// `"exp"` is not an integer (a string, a fraction, an exponent, ...).
    ExpiryNotInteger,
    /// `"exp"` is negative.
    ExpiryNegative,
    /// `"exp"` is larger than a `u64`.
    ExpiryTooLarge,
    /// `"pub"` or `"sub"` is not an array.
    NotAnArray(Right),
    /// More than [`MAX_PATTERNS`] patterns in `"pub"` or `"sub"`.
    TooManyPatterns(Right),
    /// Element `index` (from 0) of `"pub"` or `"sub"` is not a string.
    PatternNotAString {
        /// Whose list.
        right: Right,
        /// Which element.
        index: usize,
    },
    /// Element `index` (from 0) of `"pub"` or `"sub"` is not a [`Pattern`].
    BadPattern {
        /// Whose list.
        right: Right,
        /// Which element.
        index: usize,
    },
}

impl From<JsonError> for MalformedToken {
    fn from(e: JsonError) -> MalformedToken {
        match e {
            JsonError::Syntax { offset, expected } => MalformedToken::BadJson { offset, expected },
            JsonError::TooDeep => MalformedToken::TooDeep,
        }
    }
}

impl From<MalformedToken> for TokenError {
    fn from(e: MalformedToken) -> TokenError {
        TokenError::Malformed(e)
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::TooLong => write!(f, "token too long: more than {MAX_TOKEN_LEN} bytes"),
            TokenError::Malformed(why) => write!(f, "malformed token: {why}"),
            TokenError::BadSignature => f.write_str(
                "bad token signature: the token was altered, or signed with another secret",
            ),
            TokenError::Expired { expires, now } => write!(
                f,
                "token expired: valid until {expires} (Unix seconds), it is now {now}"
            ),
        }
    }
}

impl fmt::Display for MalformedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MalformedToken::NoDot => {
                f.write_str("no '.' between the claims and the signature (CLAIMS.SIGNATURE)")
            }
            MalformedToken::TooManyDots => {
                f.write_str("more than one '.' (a token is CLAIMS.SIGNATURE)")
            }
            MalformedToken::Padded(part) => write!(
                f,
                "the {part} has '=' padding; tokens use base64url without padding \
                 (RFC 4648 section 3.2): strip the '='"
            ),
            MalformedToken::BadBase64(part) => write!(
                f,
                "the {part} is not base64url (RFC 4648 section 5: A-Z a-z 0-9 - _)"
            ),
            MalformedToken::BadSignatureLength { chars } => write!(
                f,
                "the signature is {chars} characters; an HMAC-SHA1 signature in base64url \
                 is {SIGNATURE_TEXT_LEN}"
            ),
            MalformedToken::NotUtf8 => f.write_str("the claims are not UTF-8 text"),
            MalformedToken::BadJson { offset, expected } => write!(
                f,
                "the claims are not JSON (RFC 8259): expected {expected} at byte {offset}"
            ),
            MalformedToken::TooDeep => write!(
                f,
                "the claims nest arrays and objects more than {MAX_JSON_DEPTH} deep"
            ),
            MalformedToken::NotAnObject => f.write_str("the claims are not a JSON object"),
            MalformedToken::DuplicateKey(key) => write!(f, "the claims have \"{key}\" twice"),
            MalformedToken::MissingExpiry => {
                f.write_str("the claims have no \"exp\" (the expiry, in Unix seconds)")
            }
            MalformedToken::ExpiryNotInteger => {
                f.write_str("\"exp\" is not an integer (the expiry, in Unix seconds)")
            }
            MalformedToken::ExpiryNegative => f.write_str("\"exp\" is negative"),
            MalformedToken::ExpiryTooLarge => {
                f.write_str("\"exp\" is too large (more than 64 bits)")
            }
            MalformedToken::NotAnArray(right) => {
                write!(f, "\"{}\" is not an array of channel patterns", right.key())
            }
            MalformedToken::TooManyPatterns(right) => write!(
                f,
                "\"{}\" has more than {MAX_PATTERNS} patterns",
                right.key()
            ),
            MalformedToken::PatternNotAString { right, index } => {
                write!(f, "\"{}\" element {index} is not a string", right.key())
            }
            MalformedToken::BadPattern { right, index } => write!(
                f,
                "\"{}\" element {index} is not a channel pattern: a name of 1 to \
                 {MAX_CHANNEL_NAME} of A-Z a-z 0-9 _ . -, such a name followed by '*', or '*'",
                right.key()
            ),
        }
    }
}

impl std::error::Error for TokenError {}

// ===== verify and mint =====

/// Checks `token` against `secret` at time `now` (Unix seconds) and returns its claims;
/// see [the module documentation](self) for the order of the checks. Every error is a
/// `401`; the caller then asks [`Claims::allows`] and answers `403` if it says no.
///
/// ```
/// use pushwire::auth::token::{Claims, Pattern, Right, Secret, TokenError, mint, verify};
/// let secret = Secret::new(*b"sixteen or more bytes").unwrap();
/// let claims = Claims {
///     expires: 1_700_003_600,
///     publish: vec![],
///     subscribe: vec![Pattern::parse("room.*").unwrap()],
/// };
/// let token = mint(&secret, &claims);
/// let read = verify(&secret, &token, 1_700_000_000).unwrap();
/// assert!(read.allows(Right::Subscribe, "room.1"));
/// assert!(!read.allows(Right::Publish, "room.1")); // 403
/// assert!(matches!(verify(&secret, &token, 1_700_003_600), Err(TokenError::Expired { .. })));
/// ```
pub fn verify(secret: &Secret, token: &str, now: u64) -> Result<Claims, TokenError> {
    // 1. Before anything else, so an attacker's megabyte costs a comparison.
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    // 2. The two halves.
    let (claims_text, signature_text) = token.split_once('.').ok_or(MalformedToken::NoDot)?;
    if signature_text.contains('.') {
        return Err(MalformedToken::TooManyDots.into());
    }
    // 3–4. The signature, over the claims' text as sent.
    let signature = decode_signature(signature_text)?;
    let expected = hmac_sha1(secret.bytes(), claims_text.as_bytes());
    if !constant_time_eq(&expected, &signature) {
        return Err(TokenError::BadSignature);
    }
    // 5. The claims: from here on the token is the secret holder's.
    check_alphabet(claims_text, TokenPart::Claims)?;
    let json = URL_SAFE_NO_PAD
        .decode(claims_text)
        .map_err(|_| MalformedToken::BadBase64(TokenPart::Claims))?;
    let json = std::str::from_utf8(&json).map_err(|_| MalformedToken::NotUtf8)?;
    let claims = read_claims(json)?;
    // 6. The expiry: `exp` is the first second the token is no longer valid.
    if now >= claims.expires {
        return Err(TokenError::Expired {
            expires: claims.expires,
            now,
        });
    }
    Ok(claims)
}

/// The token for `claims`, signed with `secret`: the claims written as
/// `{"exp":N,"pub":[...],"sub":[...]}`, a list left out when it is empty (the same as
/// absent, and so a minted token is never longer than another token of the same claims).
///
/// The result verifies to `claims` until `claims.expires` if it is at most
/// [`MAX_TOKEN_LEN`] bytes and each list has at most [`MAX_PATTERNS`] patterns; a caller
/// minting arbitrary claims checks both (as `pushwire token` does).
pub fn mint(secret: &Secret, claims: &Claims) -> String {
    let mut json = format!("{{\"exp\":{}", claims.expires);
    for right in [Right::Publish, Right::Subscribe] {
        let patterns = claims.patterns(right);
        if patterns.is_empty() {
            continue;
        }
        json.push_str(&format!(",\"{}\":[", right.key()));
        for (i, pattern) in patterns.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            // A pattern's text needs no JSON escaping (see its `Display`).
            json.push_str(&format!("\"{pattern}\""));
        }
        json.push(']');
    }
    json.push('}');
    let mut token = URL_SAFE_NO_PAD.encode(json);
    let signature = hmac_sha1(secret.bytes(), token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
}

/// Every character of `text` is of the base64url alphabet; an `=` is reported as padding.
fn check_alphabet(text: &str, part: TokenPart) -> Result<(), MalformedToken> {
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {}
            b'=' => return Err(MalformedToken::Padded(part)),
            _ => return Err(MalformedToken::BadBase64(part)),
        }
    }
    Ok(())
}

/// The 20 signature bytes written as `text`.
fn decode_signature(text: &str) -> Result<[u8; HMAC_SHA1_LEN], MalformedToken> {
    check_alphabet(text, TokenPart::Signature)?;
    if text.len() != SIGNATURE_TEXT_LEN {
        return Err(MalformedToken::BadSignatureLength { chars: text.len() });
    }
    // Room for what 27 characters could hold (base64's estimate rounds up to 21).
    let mut buf = [0u8; 24];
    // The decoder refuses a last character with bits no encoder sets (RFC 4648 §3.5), so
    // one signature has one spelling.
    match URL_SAFE_NO_PAD.decode_slice(text, &mut buf) {
        Ok(HMAC_SHA1_LEN) => {
            let mut signature = [0u8; HMAC_SHA1_LEN];
            signature.copy_from_slice(&buf[..HMAC_SHA1_LEN]);
            Ok(signature)
        }
        _ => Err(MalformedToken::BadBase64(TokenPart::Signature)),
    }
}

/// The claims in the JSON text `json`: all of it checked as JSON first ([`json::validate`]),
/// then the top-level object's members read in order.
fn read_claims(json: &str) -> Result<Claims, MalformedToken> {
    json::validate(json)?;
    let mut reader = Reader::new(json);
    if reader.peek() != Some(b'{') {
        return Err(MalformedToken::NotAnObject);
    }
    reader.open(b'{', 0)?;
    let mut expires = None;
    let mut publish = None;
    let mut subscribe = None;
    let mut first = true;
    while reader.more(&mut first, b'}')? {
        let key = reader.string()?;
        reader.eat(b':', "':' after an object key")?;
        match key.as_str() {
            "exp" if expires.is_some() => return Err(MalformedToken::DuplicateKey("exp")),
            "exp" => expires = Some(read_expiry(&mut reader)?),
            "pub" if publish.is_some() => return Err(MalformedToken::DuplicateKey("pub")),
            "pub" => publish = Some(read_patterns(&mut reader, Right::Publish)?),
            "sub" if subscribe.is_some() => return Err(MalformedToken::DuplicateKey("sub")),
            "sub" => subscribe = Some(read_patterns(&mut reader, Right::Subscribe)?),
            // Depth 1: inside the claims object.
            _ => reader.skip_value(1)?,
        }
    }
    Ok(Claims {
        expires: expires.ok_or(MalformedToken::MissingExpiry)?,
        publish: publish.unwrap_or_default(),
        subscribe: subscribe.unwrap_or_default(),
    })
}

/// `"exp"`'s value: a non-negative integer written without fraction or exponent.
fn read_expiry(reader: &mut Reader<'_>) -> Result<u64, MalformedToken> {
    if !matches!(reader.peek(), Some(b'-' | b'0'..=b'9')) {
        return Err(MalformedToken::ExpiryNotInteger);
    }
    let number = reader.number()?;
    if number.contains(['.', 'e', 'E']) {
        return Err(MalformedToken::ExpiryNotInteger);
    }
    if number.starts_with('-') {
        // `-0` included: a sign has no place in a time.
        return Err(MalformedToken::ExpiryNegative);
    }
    // Only digits now, without leading zeros: the one failure left is overflow.
    number.parse().map_err(|_| MalformedToken::ExpiryTooLarge)
}

/// `"pub"`'s or `"sub"`'s value: an array of at most [`MAX_PATTERNS`] patterns.
fn read_patterns(reader: &mut Reader<'_>, right: Right) -> Result<Vec<Pattern>, MalformedToken> {
    if reader.peek() != Some(b'[') {
        return Err(MalformedToken::NotAnArray(right));
    }
    reader.open(b'[', 1)?;
    let mut patterns = Vec::new();
    let mut first = true;
    while reader.more(&mut first, b']')? {
        let index = patterns.len();
        if index == MAX_PATTERNS {
            return Err(MalformedToken::TooManyPatterns(right));
        }
        if reader.peek() != Some(b'"') {
            return Err(MalformedToken::PatternNotAString { right, index });
        }
        let text = reader.string()?;
        let pattern = Pattern::parse(&text).ok_or(MalformedToken::BadPattern { right, index })?;
        patterns.push(pattern);
    }
    Ok(patterns)
}
