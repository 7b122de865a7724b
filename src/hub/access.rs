//! Who may publish and subscribe: the [`Authorizer`] that [`HubServer`](super::HubServer)
//! asks before every publish and every subscription, and [`TokenAuthorizer`], the access
//! tokens that `pushwire serve --secret-file F` checks ([`crate::auth::token`]).
//!
//! Without an authorizer the hub is open to every client that reaches it (and the
//! [`origin`](crate::http::origin) check keeps other sites' pages out). With one, each
//! request is described by an [`AccessRequest`] — the channel, the [`Right`] it needs, the
//! bearer token it presented if any, its head (for a session cookie, say), the time — and
//! answered with `Ok` or a [`Denied`] that knows its status: `401` when the client has not
//! shown who it is (RFC 9110 §15.5.2), `403` when it has and may not (§15.5.4).
//!
//! A WebSocket subscription is authorized once, at its upgrade, for subscribing; whether it
//! may also publish over the socket is decided then too, and kept for the connection's
//! life. A token that expires later does not end a connection it opened.

use std::borrow::Cow;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::auth::token::Right;
use crate::auth::token::{self, Secret};
use crate::http::{RequestHead, Response, StatusCode};
use crate::ws::close::CloseCode;
use crate::ws::handshake::UpgradeRequest;

use super::query::percent_decode;

/// The prefix of a WebSocket subprotocol entry that carries a bearer token:
/// `Sec-WebSocket-Protocol: pushwire, bearer.<token>`. A browser's `WebSocket` cannot set
/// any other field, and the entry is a valid token (RFC 6455 §4.1: subprotocols are
/// HTTP tokens; base64url and `.` are tchars). The server never selects it.
pub const BEARER_PROTOCOL_PREFIX: &str = "bearer.";

/// What a client asks to do, as an [`Authorizer`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    /// The channel's name.
    pub channel: &'a str,
    /// What the client wants to do with it.
    pub right: Right,
    /// The bearer token the request carries, from wherever it came
    /// ([`bearer_token`]); `None` if it carries none.
    pub token: Option<&'a str>,
    /// The request's head: its fields (cookies), target and version. For a WebSocket,
    /// the upgrade request's. `None` for a command over a multiplexed WebSocket (`/ws`,
    /// `pushwire.v1`): the upgrade is long gone, and the command is judged by the token
    /// the upgrade carried.
    pub head: Option<&'a RequestHead<'a>>,
    /// The calendar time of the loop's turn ([`Context::wall_time`](crate::Context::wall_time)).
    pub now: SystemTime,
}

impl AccessRequest<'_> {
    /// [`now`](Self::now) in whole seconds since the Unix epoch (0 before it).
    pub fn unix_time(&self) -> u64 {
        self.now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }
}

/// Why a request is refused; the text is the answer's body (and a WebSocket's close
/// reason), so it says what was wrong without repeating any credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// `401 Unauthorized`: no credentials, or credentials that prove nothing (malformed,
    /// badly signed, expired).
    Unauthenticated(String),
    /// `403 Forbidden`: valid credentials without the right.
    Forbidden(String),
    /// `400 Bad Request`: credentials sent in more than one place (RFC 6750 §2: a client
    /// "MUST NOT use more than one method to transmit the token in each request").
    BadRequest(String),
}

impl Denied {
    /// The HTTP status that answers it.
    pub fn status(&self) -> StatusCode {
        match self {
            Denied::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Denied::Forbidden(_) => StatusCode::FORBIDDEN,
            Denied::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The close code for a WebSocket publisher refused after the upgrade: 1008, "a
    /// message that violates its policy" (RFC 6455 §7.4.1).
    pub fn close_code(&self) -> CloseCode {
        CloseCode::POLICY_VIOLATION
    }

    /// The reason, for the body.
    pub fn reason(&self) -> &str {
        match self {
            Denied::Unauthenticated(why) | Denied::Forbidden(why) | Denied::BadRequest(why) => why,
        }
    }

    /// The hub's answer: the status, a readable body and, as RFC 6750 §3 asks of a
    /// resource server, `WWW-Authenticate: Bearer` naming the error (RFC 9110 §11.6.1: a
    /// `401` must carry one). The connection stays: the request was read completely.
    pub fn response(&self) -> Response {
        let status = self.status();
        let error = match self {
            Denied::Unauthenticated(_) => "invalid_token",
            Denied::Forbidden(_) => "insufficient_scope",
            Denied::BadRequest(_) => "invalid_request",
        };
        Response::text(status, format!("{status}\n{}\n", self.reason())).header(
            "WWW-Authenticate",
            format!("Bearer realm=\"pushwire\", error=\"{error}\""),
        )
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status(), self.reason())
    }
}

impl std::error::Error for Denied {}

/// Decides who may publish and subscribe. Implement it to check your own credentials (a
/// session cookie in `request.head`, an API key), or use [`TokenAuthorizer`]. It runs on
/// the event loop for every publish, poll and subscription: it must not block.
pub trait Authorizer: Send {
    /// `Ok(())` to allow `request`, or why not.
    fn authorize(&self, request: &AccessRequest<'_>) -> Result<(), Denied>;
}

/// What a `Debug` of the hub shows of its authorizer (an embedder's type need not be
/// `Debug`).
impl fmt::Debug for dyn Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Authorizer")
    }
}

/// The access tokens of [`crate::auth::token`], signed with one secret: a request needs a
/// token, valid now, whose claims give its right on its channel.
pub struct TokenAuthorizer {
    secret: Secret,
}

impl TokenAuthorizer {
    /// Checks tokens signed with `secret`.
    pub fn new(secret: Secret) -> Self {
        TokenAuthorizer { secret }
    }
}

impl fmt::Debug for TokenAuthorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuthorizer").finish_non_exhaustive()
    }
}

impl Authorizer for TokenAuthorizer {
    fn authorize(&self, request: &AccessRequest<'_>) -> Result<(), Denied> {
        let Some(token) = request.token else {
            return Err(Denied::Unauthenticated(
                "a token is required: Authorization: Bearer <token>, ?token=<token>, \
                 or the WebSocket subprotocol bearer.<token>"
                    .to_string(),
            ));
        };
        let claims = token::verify(&self.secret, token, request.unix_time())
            .map_err(|e| Denied::Unauthenticated(format!("bad token: {e}")))?;
        if claims.allows(request.right, request.channel) {
            Ok(())
        } else {
            Err(Denied::Forbidden(format!(
                "the token does not allow {} on channel {}",
                request.right, request.channel
            )))
        }
    }
}

/// The bearer token a request carries, wherever it is: `Authorization: Bearer <token>`
/// (RFC 6750 §2.1), the `token` query parameter (§2.3 — `EventSource` and a browser's
/// `WebSocket` cannot set fields), or, on an upgrade, a subprotocol entry
/// `bearer.<token>`. More than one of them, or two of one kind, is
/// [`Denied::BadRequest`]; an `Authorization` of another scheme is
/// [`Denied::Unauthenticated`] (this server speaks only `Bearer`).
pub fn bearer_token<'a>(
    head: &RequestHead<'a>,
    upgrade: Option<&UpgradeRequest<'a>>,
) -> Result<Option<Cow<'a, str>>, Denied> {
    let twice = || Denied::BadRequest("send one token, in one place".to_string());
    let mut found: Option<Cow<'a, str>> = None;
    let mut take = |token: Cow<'a, str>| {
        if found.is_some() {
            return Err(twice());
        }
        found = Some(token);
        Ok(())
    };
    match head.header_count("Authorization") {
        0 => {}
        1 => {
            let value = head.header_str("Authorization").unwrap_or("");
            // RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is
            // case-insensitive (RFC 9110 §11.1).
            let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(Denied::Unauthenticated(
                    "Authorization must use the Bearer scheme".to_string(),
                ));
            }
            take(Cow::Borrowed(rest.trim_start_matches(' ')))?;
        }
        _ => return Err(twice()),
    }
    for pair in head.query().unwrap_or("").split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "token" {
            continue;
        }
        let token = match percent_decode(value) {
            Some(Cow::Borrowed(bytes)) => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            Some(Cow::Owned(bytes)) => String::from_utf8(bytes).ok().map(Cow::Owned),
            None => None,
        };
        // Not UTF-8 or not percent-encoding: kept as an empty token, which fails to
        // verify as malformed (a 401 that says so) rather than being ignored.
        take(token.unwrap_or(Cow::Borrowed("")))?;
    }
    if let Some(upgrade) = upgrade {
        for entry in upgrade.protocols() {
            if let Some(token) = entry.strip_prefix(BEARER_PROTOCOL_PREFIX) {
                take(Cow::Borrowed(token))?;
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::with_head;
    use crate::ws::handshake::validate_upgrade;

    fn token_of(target: &str, fields: &str) -> Result<Option<String>, Denied> {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: h\r\n{fields}\r\n");
        with_head(&raw, |head| {
            bearer_token(head, None).map(|t| t.map(|t| t.into_owned()))
        })
    }

    #[test]
    fn a_token_is_found_in_the_authorization_field_or_the_query() {
        assert_eq!(token_of("/channels/a", ""), Ok(None));
        assert_eq!(
            token_of("/channels/a", "Authorization: Bearer abc.def\r\n"),
            Ok(Some("abc.def".into()))
        );
        assert_eq!(
            token_of("/channels/a", "Authorization: bearer   abc.def\r\n"),
            Ok(Some("abc.def".into()))
        );
        assert_eq!(
            token_of("/channels/a?since=1&token=abc.def", ""),
            Ok(Some("abc.def".into()))
        );
        assert_eq!(
            token_of("/channels/a?token=abc%2Edef", ""),
            Ok(Some("abc.def".into()))
        );
        assert_eq!(token_of("/channels/a?tokens=x", ""), Ok(None));
    }

    #[test]
    fn two_tokens_are_a_bad_request_and_another_scheme_is_unauthenticated() {
        let both = token_of("/channels/a?token=x", "Authorization: Bearer y\r\n");
        assert!(matches!(both, Err(Denied::BadRequest(_))), "{both:?}");
        let twice = token_of("/channels/a?token=x&token=x", "");
        assert!(matches!(twice, Err(Denied::BadRequest(_))), "{twice:?}");
        let fields = "Authorization: Bearer x\r\nAuthorization: Bearer x\r\n";
        assert!(matches!(token_of("/", fields), Err(Denied::BadRequest(_))));
        let basic = token_of("/", "Authorization: Basic dXNlcjpwdw==\r\n");
        assert!(
            matches!(basic, Err(Denied::Unauthenticated(_))),
            "{basic:?}"
        );
    }

    #[test]
    fn a_websocket_carries_its_token_as_a_bearer_subprotocol_entry() {
        let raw = "GET /channels/a HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
            Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: pushwire, bearer.abc.def\r\n\r\n";
        with_head(raw, |head| {
            let upgrade = validate_upgrade(head).unwrap();
            let token = bearer_token(head, Some(&upgrade)).unwrap();
            assert_eq!(token.as_deref(), Some("abc.def"));
        });
    }

    #[test]
    fn denials_answer_with_their_status_and_a_bearer_challenge() {
        let response = Denied::Unauthenticated("bad token: expired".into()).response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response
            .headers()
            .find(|(n, _)| *n == "WWW-Authenticate")
            .map(|(_, v)| v.to_string());
        assert_eq!(
            challenge.as_deref(),
            Some("Bearer realm=\"pushwire\", error=\"invalid_token\"")
        );
        assert!(!response.closes_connection());
        assert_eq!(
            &*response.get_body().as_bytes(),
            b"401 Unauthorized\nbad token: expired\n"
        );
        assert_eq!(
            Denied::Forbidden(String::new()).status(),
            StatusCode::FORBIDDEN
        );
    }
}
