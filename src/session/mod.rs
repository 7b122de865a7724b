//! One HTTP/1.1 server connection as a deterministic state machine: from its first byte
//! until it becomes a WebSocket or closes.
//!
//! [`Session`] never touches a socket or reads the clock, like
//! [`WsConnection`](crate::ws::connection::WsConnection), and its methods come in the
//! same four classes:
//!
//! * **inputs**: [`handle_input`](Session::handle_input) (bytes from the client),
//!   [`handle_eof`](Session::handle_eof) (the client's stream ended) and
//!   [`handle_timeout`](Session::handle_timeout) (time passed);
//! * **commands** of the application, each naming the exchange it answers:
//!   [`respond`](Session::respond), [`park`](Session::park), the streamed response
//!   ([`start_stream`](Session::start_stream), [`stream_chunk`](Session::stream_chunk),
//!   [`end_stream`](Session::end_stream)), and the answer to an upgrade
//!   ([`accept_upgrade`](Session::accept_upgrade), [`reject_upgrade`](Session::reject_upgrade));
//! * **outputs**: [`Event`]s returned by the inputs, bytes appended to the caller's `out`
//!   buffer, and [`poll_timeout`](Session::poll_timeout);
//! * **getters**: [`is_closed`](Session::is_closed), [`is_upgraded`](Session::is_upgraded),
//!   [`wants_input`](Session::wants_input), [`phase`](Session::phase).
//!
//! The answers the session gives by itself — refusals, `408`, CORS preflights — are
//! told to a caller that wants to count or log them through the `_noting` forms of the
//! inputs ([`handle_input_noting`](Session::handle_input_noting),
//! [`handle_timeout_noting`](Session::handle_timeout_noting)), one [`OwnAnswer`] each.
//!
//! # The rules, all in one place
//!
//! Every transition of an HTTP/1.1 connection is decided here and nowhere else (h11's
//! "Rule 1": the state machine decides, the caller only feeds bytes and carries out):
//!
//! ```text
//!            first byte              head complete
//!   Idle ───────────────▶ Head ─────────────────────┬──▶ Waiting ── respond ──▶ Idle (keep-alive)
//!    │ idle deadline:      │ request deadline: 408   │      │  park/timeout       └──▶ Closed
//!    ▼ quiet close         ▼                         │      └─ start_stream ──▶ Streaming ── end ──▶ Idle / Closed
//!  Closed               Closed        body follows   ├──▶ Body ── complete ──▶ Waiting
//!                                                    │     └ request deadline: 408 → Closed
//!                                     upgrade        └──▶ Upgrade ── accept ──▶ Upgraded (bytes now WebSocket)
//!                                                                 └─ reject ──▶ Closed
//! ```
//!
//! - **Body framing** is decided once, by [`body::framing`] (RFC 9112 §6.3): a
//!   `Content-Length` of zero in any spelling is no body, like no framing field at all.
//! - **Upgrades** (RFC 6455 §4.2.1) are validated here; a valid one is handed out as an
//!   [`Event::Upgrade`]. An upgrade request with a body is refused: the bytes after the
//!   head belong to the WebSocket (RFC 6455 §4.1).
//! - **Order**: the next request is not read until the current one is answered, so
//!   responses leave strictly in request order (RFC 9112 §9.3.2) and a pipelined request
//!   waits in the caller's buffer. Every request has a number (its *exchange*); an answer
//!   naming an exchange that is over is refused as stale, so a late answer can never
//!   answer the next request.
//! - **Keep-alive** (RFC 9112 §9.3): HTTP/1.1 persists unless either side says
//!   `Connection: close`; HTTP/1.0 closes unless the client asked for `keep-alive`, and
//!   then the response says so. **HEAD** gets the GET headers without the body
//!   (RFC 9110 §9.3.2). **`Expect: 100-continue`** gets `100 Continue` before the body is
//!   read (RFC 9110 §10.1.1), and only if the head was acceptable.
//! - **Deadlines**: an idle connection (no byte of a request yet) is closed quietly after
//!   `idle_timeout` (RFC 9112 §9.8 lets a server close an idle connection at any time); a
//!   request whose head and body have not all arrived within `request_timeout` of its
//!   first byte gets `408 Request Timeout` (RFC 9110 §15.5.9) and the connection closes.
//! - **Errors** from the client get their status ([`HttpError::status`],
//!   [`BodyError::status`], [`HandshakeError::status`]) and `Connection: close`: after a
//!   framing error nobody can tell where the next request would begin.
//!
//! [`HttpError::status`]: crate::http::HttpError::status
//! [`BodyError::status`]: crate::http::body::BodyError::status
//! [`HandshakeError::status`]: crate::ws::handshake::HandshakeError::status

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::HeadLimits;
use crate::http::body::{self, BodyDecoder};
use crate::http::origin::{self, AllowedOrigins, Cors, OriginCheck};
use crate::http::{HeadParser, Request, RequestHead, Response, StatusCode, Version};
use crate::status::Status;
use crate::ws::handshake::{self, UpgradeRequest};
use crate::ws::permessage_deflate::{self, Agreement, DeflateConfig};

/// What a [`Session`] enforces: the slice of [`Config`](crate::Config) that concerns
/// HTTP. One value is shared by every session of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// See [`Config::max_head_bytes`](crate::Config::max_head_bytes) and its neighbours.
    pub head: HeadLimits,
    /// See [`Config::max_body_bytes`](crate::Config::max_body_bytes).
    pub max_body_bytes: usize,
    /// See [`Config::request_timeout`](crate::Config::request_timeout).
    pub request_timeout: Duration,
    /// See [`Config::idle_timeout`](crate::Config::idle_timeout).
    pub idle_timeout: Duration,
    /// See [`Config::allowed_origins`](crate::Config::allowed_origins).
    pub allowed_origins: AllowedOrigins,
    /// See [`Config::cors`](crate::Config::cors).
    pub cors: Cors,
    /// See [`Config::permessage_deflate`](crate::Config::permessage_deflate): which
    /// offer of compression the `101` accepts.
    pub deflate: DeflateConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        crate::Config::default().session_config()
    }
}

/// Something the application must act on.
#[derive(Debug)]
pub enum Event {
    /// A complete request, body included: answer it with [`Session::respond`] (now or
    /// later), [`Session::park`] it, or stream the answer.
    Request {
        /// The request's number on this connection, which its answer names.
        exchange: u32,
        /// The request.
        request: Request,
    },
    /// A valid WebSocket opening handshake: answer with [`Session::accept_upgrade`] or
    /// [`Session::reject_upgrade`].
    Upgrade {
        /// The request's number on this connection.
        exchange: u32,
        /// The request, checked against RFC 6455 §4.2.1.
        upgrade: PendingUpgrade,
    },
    /// A parked request reached the instant given to [`Session::park`]: answer it now, or
    /// park it again.
    ParkTimeout {
        /// The parked request's number.
        exchange: u32,
    },
    /// The client went away while its request was unanswered (a parked long-poll,
    /// typically, or a stream): forget the request; answers to it are refused as stale.
    Abandoned {
        /// The abandoned request's number.
        exchange: u32,
    },
}

/// A WebSocket upgrade request that passed the RFC 6455 §4.2.1 checks, waiting for the
/// application's answer.
#[derive(Debug)]
pub struct PendingUpgrade {
    /// INVARIANT: `validate_upgrade` accepted this request's head.
    request: Request,
}

impl PendingUpgrade {
    /// The validated request: its key, origin, offered subprotocols and the head.
    pub fn request(&self) -> UpgradeRequest<'_> {
        handshake::validated(self.request.head())
    }

    /// The whole request, e.g. to keep its path and query.
    pub fn into_request(self) -> Request {
        self.request
    }
}

/// Why a command naming an exchange was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeError {
    /// No such exchange is waiting: it was answered, abandoned, or it is not this
    /// connection's (a late answer). The server reports this as
    /// [`SendError::Gone`](crate::SendError::Gone).
    Stale,
    /// The exchange is waiting, but not for this command: a streamed response is under
    /// way (so `respond` and `park` do not fit), or no stream is (so `stream_chunk` and
    /// `end_stream` do not), or it is an upgrade (which is accepted or rejected).
    WrongState,
    /// A `1xx` status is not a final answer (RFC 9110 §15.2): the exchange would stay
    /// open while the client waited for one.
    NotFinal,
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExchangeError::Stale => "no such request is waiting for an answer",
            ExchangeError::WrongState => "the request is not waiting for this kind of answer",
            ExchangeError::NotFinal => "a 1xx status is not a final response",
        })
    }
}

impl std::error::Error for ExchangeError {}

/// An answer the session gave by itself, without the application — a refusal (then the
/// connection closes), a `408`, or a CORS preflight's — for the caller's counters and
/// access log ([`Session::handle_input_noting`]).
#[derive(Debug, Clone, Copy)]
pub struct OwnAnswer<'a> {
    /// Its status.
    pub status: StatusCode,
    /// The request it answers, when its head was read whole (a malformed head, or one
    /// that did not arrive in time, has none).
    pub head: Option<RequestHead<'a>>,
    /// When the request began: its head's arrival, or for a request refused before its
    /// head was whole, its first byte.
    pub since: Instant,
    /// The bytes of the answer, appended to `out`.
    pub bytes: usize,
}

/// Where a session is ([`Session::phase`]), for counting connections by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Between requests, or before the first.
    Idle,
    /// A request's head or body is arriving.
    Reading,
    /// A request (or an upgrade) is with the application.
    Waiting,
    /// A request is with the application, parked (a long-poll).
    Parked,
    /// A streamed answer is under way.
    Streaming,
    /// No further request will be read: the session closed, or became a WebSocket.
    Done,
}

/// What answering one request needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exchange {
    /// The request's number on this connection.
    id: u32,
    /// The connection may carry another request after this one's answer.
    keep_alive: bool,
    /// An HTTP/1.0 client asked for keep-alive, so the answer must agree explicitly
    /// (RFC 9112 §9.3, appendix C.2.2).
    announce_keep_alive: bool,
    /// A HEAD request: the answer has no body (RFC 9110 §9.3.2).
    head_only: bool,
    /// An HTTP/1.1 request, whose streamed answer can be chunked.
    http11: bool,
    /// A CONNECT request: a 2xx answer would make the connection a tunnel, so it has no
    /// framing fields (RFC 9112 §6.1, RFC 9110 §8.6), and since we do not tunnel, the
    /// connection closes after it.
    connect: bool,
}

/// A request whose body is still arriving.
#[derive(Debug)]
struct BodyState {
    exchange: Exchange,
    /// When the head was complete.
    head_at: Instant,
    request: Request,
    decoder: BodyDecoder,
    body: Vec<u8>,
    deadline: Instant,
}

/// Which kind of answer an exchange with the application waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// An answer: `respond` or `park` or `start_stream`.
    Waiting,
    /// The rest of a streamed answer.
    Streaming,
    /// The answer to an upgrade.
    Upgrade,
}

/// Where the connection is. Each variant owns exactly the data valid in it.
#[derive(Debug)]
enum State {
    /// No byte of a request has arrived; closed quietly at `deadline`.
    Idle { deadline: Instant },
    /// Part of a request head has arrived (it accumulates in the caller's buffer, which
    /// the parser scans once); `408` at `deadline`.
    Head { deadline: Instant },
    /// The head is complete and its body is arriving; `408` at the same deadline.
    Body(Box<BodyState>),
    /// The request is with the application.
    Waiting {
        exchange: Exchange,
        /// Parked (a long-poll) until this instant, when [`Event::ParkTimeout`] asks the
        /// application for the answer.
        parked_until: Option<Instant>,
    },
    /// An upgrade request is with the application.
    Upgrade { exchange: Exchange },
    /// A response body is being streamed; `chunked` for HTTP/1.1, else it ends with the
    /// connection.
    Streaming { exchange: Exchange, chunked: bool },
    /// The connection speaks WebSocket now; the session has nothing more to do.
    Upgraded,
    /// No further request will be read: the caller flushes what is queued and closes.
    Closed,
}

/// The HTTP/1.1 server side of one connection (see the [module docs](self)).
#[derive(Debug)]
pub struct Session {
    state: State,
    /// Resumable head parser, reused for every request (it keeps its header capacity).
    parser: Box<HeadParser>,
    /// The number the next request will get.
    next_exchange: u32,
    /// The `Origin` of the exchange in progress when it is another site's, allowed: its
    /// answer carries the CORS fields for it ([`origin`]). A thin pointer (8 bytes, like
    /// the parser's), since every idle connection holds the field.
    #[expect(
        clippy::box_collection,
        reason = "a thin pointer keeps every session 8 bytes smaller"
    )]
    cors_origin: Option<Box<String>>,
    config: Arc<SessionConfig>,
}

impl Session {
    /// A session for a connection accepted at `now`.
    pub fn new(config: Arc<SessionConfig>, now: Instant) -> Session {
        Session {
            state: State::Idle {
                deadline: now + config.idle_timeout,
            },
            parser: Box::new(HeadParser::new()),
            next_exchange: 0,
            cors_origin: None,
            config,
        }
    }

    /// The configuration this session enforces.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    // ===== getters =====

    /// `true` once no further request will be read: flush what is queued and close.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// `true` once an upgrade was accepted: the bytes after the handshake are WebSocket
    /// frames, for a [`WsConnection`](crate::ws::connection::WsConnection).
    pub fn is_upgraded(&self) -> bool {
        matches!(self.state, State::Upgraded)
    }

    /// `true` while nothing of a request is in progress (between requests).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle { .. })
    }

    /// The exchange whose answer is being streamed, if one is
    /// ([`start_stream`](Self::start_stream) … [`end_stream`](Self::end_stream)).
    pub fn streaming_exchange(&self) -> Option<u32> {
        match &self.state {
            State::Streaming { exchange, .. } => Some(exchange.id),
            _ => None,
        }
    }

    /// Where the session is.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Idle { .. } => Phase::Idle,
            State::Head { .. } | State::Body(_) => Phase::Reading,
            State::Waiting {
                parked_until: Some(_),
                ..
            } => Phase::Parked,
            State::Waiting { .. } | State::Upgrade { .. } => Phase::Waiting,
            State::Streaming { .. } => Phase::Streaming,
            State::Upgraded | State::Closed => Phase::Done,
        }
    }

    /// Should the caller read more from the client, holding `buffered` unconsumed bytes?
    /// While a request is with the application, bytes of the next (pipelined) one are
    /// kept, up to one head's worth; past that the client is not read until the answer
    /// (so a client cannot make us buffer without bound).
    pub fn wants_input(&self, buffered: usize) -> bool {
        match self.state {
            State::Waiting { .. } | State::Upgrade { .. } | State::Streaming { .. } => {
                buffered < self.config.head.max_head_bytes
            }
            _ => true,
        }
    }

    // ===== inputs =====

    /// Feeds bytes from the client. `input` is everything received and not yet consumed
    /// (the same bytes as last time, possibly with more appended); returns how many bytes
    /// were consumed and at most one event. Call again with the unconsumed rest after
    /// acting on an event; without an event, more input is needed (or the application's
    /// answer is). Responses the protocol requires on its own (errors, `100 Continue`) are
    /// appended to `out`.
    ///
    /// A request head is consumed only once complete; bytes after it (a body, a pipelined
    /// request, WebSocket frames after an upgrade) are never looked at by the head parser.
    pub fn handle_input(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        now: Instant,
    ) -> (usize, Option<Event>) {
        self.handle_input_noting(input, out, now, &mut |_| {})
    }

    /// [`handle_input`](Self::handle_input), calling `note` for every answer the session
    /// gives by itself meanwhile (refusals, preflights; several pipelined preflights can
    /// be answered in one call).
    pub fn handle_input_noting(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        now: Instant,
        note: &mut dyn FnMut(OwnAnswer<'_>),
    ) -> (usize, Option<Event>) {
        let mut consumed = 0;
        loop {
            let rest = &input[consumed..];
            let event = match &mut self.state {
                State::Idle { .. } if rest.is_empty() => return (consumed, None),
                State::Idle { .. } => {
                    // The first byte of a request starts its deadline (slowloris: the
                    // whole request must arrive within `request_timeout` of it).
                    self.state = State::Head {
                        deadline: now + self.config.request_timeout,
                    };
                    continue;
                }
                State::Head { deadline } => {
                    let deadline = *deadline;
                    match self.parser.parse(rest, &self.config.head) {
                        Ok(Status::Partial) => return (consumed, None),
                        Err(e) => {
                            let before = out.len();
                            self.refuse(e.status(), &e.to_string(), out);
                            note(OwnAnswer {
                                status: e.status(),
                                head: None,
                                since: deadline - self.config.request_timeout,
                                bytes: out.len() - before,
                            });
                            return (input.len(), None);
                        }
                        Ok(Status::Complete(n)) => {
                            consumed += n;
                            let request = self
                                .parser
                                .take_request(rest[..n].to_vec())
                                .expect("the parser reported a complete head");
                            match self.on_head(request, deadline, out, now, note) {
                                Some(event) => event,
                                None if self.is_closed() => return (input.len(), None),
                                None => continue, // a body follows
                            }
                        }
                    }
                }
                State::Body(state) => {
                    match state.decoder.decode(rest, &mut state.body) {
                        Ok((used, Status::Partial)) => return (consumed + used, None),
                        Ok((used, Status::Complete(()))) => {
                            consumed += used;
                            let State::Body(state) =
                                std::mem::replace(&mut self.state, State::Closed)
                            else {
                                unreachable!("matched above");
                            };
                            let BodyState {
                                exchange,
                                mut request,
                                body,
                                ..
                            } = *state;
                            request.set_body(body);
                            self.dispatch(exchange, request)
                        }
                        Err(e) => {
                            // Malformed or oversized framing: the rest of the stream cannot
                            // be trusted to start a request (no smuggling).
                            let State::Body(state) =
                                std::mem::replace(&mut self.state, State::Closed)
                            else {
                                unreachable!("matched above");
                            };
                            let before = out.len();
                            self.refuse(e.status(), &e.to_string(), out);
                            note(OwnAnswer {
                                status: e.status(),
                                head: Some(state.request.head()),
                                since: state.head_at,
                                bytes: out.len() - before,
                            });
                            return (input.len(), None);
                        }
                    }
                }
                // The application has the request; a pipelined one waits its turn.
                State::Waiting { .. } | State::Upgrade { .. } | State::Streaming { .. } => {
                    return (consumed, None);
                }
                // The bytes are the WebSocket's.
                State::Upgraded => return (consumed, None),
                // Nothing after the end is looked at.
                State::Closed => return (input.len(), None),
            };
            return (consumed, Some(event));
        }
    }

    /// The client's stream ended (or the connection broke). Returns
    /// [`Event::Abandoned`] if a request was with the application. No further request is
    /// read; what is queued may still be flushed to a client that only half-closed.
    pub fn handle_eof(&mut self) -> Option<Event> {
        let abandoned = match self.state {
            State::Waiting { exchange, .. }
            | State::Upgrade { exchange }
            | State::Streaming { exchange, .. } => Some(Event::Abandoned {
                exchange: exchange.id,
            }),
            _ => None,
        };
        if !self.is_upgraded() {
            self.state = State::Closed;
        }
        abandoned
    }

    /// Time has reached (or passed) [`poll_timeout`](Self::poll_timeout). May queue a
    /// `408` in `out` and close, close quietly, or ask for a parked request's answer.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<Event> {
        self.handle_timeout_noting(now, out, &mut |_| {})
    }

    /// [`handle_timeout`](Self::handle_timeout), calling `note` for a `408` it queues.
    pub fn handle_timeout_noting(
        &mut self,
        now: Instant,
        out: &mut Vec<u8>,
        note: &mut dyn FnMut(OwnAnswer<'_>),
    ) -> Option<Event> {
        let before = out.len();
        match &mut self.state {
            State::Idle { deadline } if now >= *deadline => {
                // Nothing was asked: nothing to answer.
                self.state = State::Closed;
                None
            }
            State::Head { deadline } if now >= *deadline => {
                let since = *deadline - self.config.request_timeout;
                self.refuse_late("the request head did not arrive in time", out);
                note(OwnAnswer {
                    status: StatusCode::REQUEST_TIMEOUT,
                    head: None,
                    since,
                    bytes: out.len() - before,
                });
                None
            }
            State::Body(state) if now >= state.deadline => {
                let State::Body(state) = std::mem::replace(&mut self.state, State::Closed) else {
                    unreachable!("matched above");
                };
                self.refuse_late("the request body did not arrive in time", out);
                note(OwnAnswer {
                    status: StatusCode::REQUEST_TIMEOUT,
                    head: Some(state.request.head()),
                    since: state.head_at,
                    bytes: out.len() - before,
                });
                None
            }
            State::Waiting {
                exchange,
                parked_until,
            } if parked_until.is_some_and(|t| now >= t) => {
                *parked_until = None;
                Some(Event::ParkTimeout {
                    exchange: exchange.id,
                })
            }
            _ => None,
        }
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Idle { deadline } | State::Head { deadline } => Some(*deadline),
            State::Body(state) => Some(state.deadline),
            State::Waiting { parked_until, .. } => *parked_until,
            _ => None,
        }
    }

    // ===== commands =====

    /// Answers request `exchange` with `response` (appended to `out`). The connection then
    /// reads the next request, or closes if the request or the response says
    /// `Connection: close` (or HTTP/1.0 did not ask to keep it).
    pub fn respond(
        &mut self,
        exchange: u32,
        response: &Response,
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<(), ExchangeError> {
        self.respond_with(exchange, response, out, now, true)
            .map(|_| ())
    }

    /// [`respond`](Self::respond), appending only the head (with the body's
    /// `Content-Length`): the caller appends the body itself right after, if and only if
    /// this returns `true` (not for `HEAD`, a status without a body, or a tunnel). For a
    /// body of shared pieces, which the caller queues by reference.
    pub fn respond_head(
        &mut self,
        exchange: u32,
        response: &Response,
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<bool, ExchangeError> {
        self.respond_with(exchange, response, out, now, false)
    }

    fn respond_with(
        &mut self,
        exchange: u32,
        response: &Response,
        out: &mut Vec<u8>,
        now: Instant,
        with_body: bool,
    ) -> Result<bool, ExchangeError> {
        let ex = self.answerable(exchange, response)?;
        if ex.connect && response.status().is_success() {
            // A tunnel's head: no framing fields, no body, and the end of the connection.
            let added = self.added_fields(close_unless_said(response));
            response.encode_stream_head(out, false, added.as_slice());
            self.finish_exchange(false, now);
            return Ok(false);
        }
        let (keep_alive, connection) = connection_field(ex, response);
        let body_follows = response.status().allows_body() && !ex.head_only;
        let added = self.added_fields(connection);
        response.encode_with(out, ex.head_only || !with_body, added.as_slice());
        self.finish_exchange(keep_alive, now);
        Ok(body_follows && !with_body)
    }

    /// [`respond`](Self::respond) with `encoded`, which must be `response` encoded by
    /// [`Response::encode`] for a GET, appended instead of encoding again when this
    /// exchange needs nothing else (an HTTP/1.1 keep-alive GET: the usual long-poll). One
    /// publish can so answer thousands of parked polls with one encoding.
    pub fn respond_encoded(
        &mut self,
        exchange: u32,
        response: &Response,
        encoded: &[u8],
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<(), ExchangeError> {
        let ex = self.waiting(exchange)?;
        let plain =
            ex.keep_alive && !ex.head_only && !ex.announce_keep_alive && self.cors_origin.is_none();
        if !plain || response.closes_connection() || response.status().is_informational() {
            return self.respond(exchange, response, out, now);
        }
        out.extend_from_slice(encoded);
        self.finish_exchange(true, now);
        Ok(())
    }

    /// Leaves request `exchange` unanswered until `until` (a long-poll); then
    /// [`Event::ParkTimeout`] asks for the answer. Parking again moves the instant.
    pub fn park(&mut self, exchange: u32, until: Instant) -> Result<(), ExchangeError> {
        self.waiting(exchange)?;
        if let State::Waiting { parked_until, .. } = &mut self.state {
            *parked_until = Some(until);
        }
        Ok(())
    }

    /// Starts a streamed answer to `exchange`: `response`'s head now (its body is not
    /// sent), then any number of [`stream_chunk`](Self::stream_chunk)s, then
    /// [`end_stream`](Self::end_stream). For HTTP/1.1 the body is chunked (RFC 9112 §7.1)
    /// and the connection may be kept afterwards; for HTTP/1.0 the body ends when the
    /// connection closes (RFC 9112 §6.3 item 8). A HEAD request, or a status that has no
    /// content (204, 304), gets the head alone and the exchange is over at once.
    pub fn start_stream(
        &mut self,
        exchange: u32,
        response: &Response,
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<(), ExchangeError> {
        let ex = self.answerable(exchange, response)?;
        let status = response.status();
        // RFC 9112 §6.1: no Transfer-Encoding on a 1xx or 204, nor on a 2xx to CONNECT
        // (whose body, a tunnel's bytes, ends with the connection).
        let chunked = ex.http11 && status.allows_body() && !(ex.connect && status.is_success());
        if ex.head_only || !status.allows_body() {
            let (keep_alive, connection) = connection_field(ex, response);
            let added = self.added_fields(connection);
            response.encode_stream_head(out, chunked, added.as_slice());
            self.finish_exchange(keep_alive, now);
            return Ok(());
        }
        let mut ex = ex;
        // Without chunking, only closing the connection can end the body.
        ex.keep_alive &= chunked;
        let (keep_alive, connection) = connection_field(ex, response);
        ex.keep_alive = keep_alive;
        let added = self.added_fields(connection);
        response.encode_stream_head(out, chunked, added.as_slice());
        self.state = State::Streaming {
            exchange: ex,
            chunked,
        };
        // A stream may last the connection's life: no head is read until it ends.
        self.parser.release();
        Ok(())
    }

    /// Appends `data` to the streamed answer of `exchange` (as one chunk, when chunked).
    /// Empty data sends nothing: an empty chunk would end the body.
    pub fn stream_chunk(
        &mut self,
        exchange: u32,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), ExchangeError> {
        let (_, chunked) = self.streaming(exchange)?;
        if data.is_empty() {
            return Ok(());
        }
        if chunked {
            // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
            write_hex(out, data.len() as u64);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(data);
        }
        Ok(())
    }

    /// The framing of `len` bytes of `exchange`'s streamed answer, for a caller that
    /// queues the bytes themselves apart from the output buffer (one event shared by many
    /// streams): the chunk header goes in `head`, and the returned [`ChunkHead`] says how
    /// much of it to send before the bytes and what to send after them. An unchunked
    /// (HTTP/1.0) stream has neither. `len` must not be 0 (an empty chunk would end the
    /// body, RFC 9112 §7.1).
    pub fn stream_chunk_head(
        &mut self,
        exchange: u32,
        len: usize,
        head: &mut [u8; CHUNK_HEAD_MAX],
    ) -> Result<ChunkHead, ExchangeError> {
        debug_assert!(len > 0, "an empty chunk ends a chunked body");
        let (_, chunked) = self.streaming(exchange)?;
        if !chunked {
            return Ok(ChunkHead {
                len: 0,
                trailer: b"",
            });
        }
        // RFC 9112 §7.1: chunk-size CRLF, the data, CRLF.
        let (digits, start) = hex_digits(len as u64);
        let digits = &digits[start..];
        let n = digits.len();
        assert!(n + 2 <= CHUNK_HEAD_MAX, "a chunk of {len} bytes");
        head[..n].copy_from_slice(digits);
        head[n..n + 2].copy_from_slice(b"\r\n");
        Ok(ChunkHead {
            len: n + 2,
            trailer: b"\r\n",
        })
    }

    /// Ends the streamed answer of `exchange`: the last chunk (`0` CRLF CRLF, RFC 9112
    /// §7.1) when chunked, after which the connection reads the next request or closes;
    /// an unchunked stream ends by closing.
    pub fn end_stream(
        &mut self,
        exchange: u32,
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<(), ExchangeError> {
        let (ex, chunked) = self.streaming(exchange)?;
        if chunked {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        self.finish_exchange(ex.keep_alive && chunked, now);
        Ok(())
    }

    /// Accepts the upgrade of `exchange`: appends the `101 Switching Protocols` (RFC 6455
    /// §4.2.2 item 5), with `protocol` if the client offered it — a protocol it did not
    /// offer is left out, since the client would have to fail the connection (§4.1) —
    /// and the permessage-deflate offer it accepts, if any ([`SessionConfig::deflate`];
    /// RFC 7692 §5). The bytes after the handshake are then the WebSocket's, compressed
    /// as the returned agreement says.
    pub fn accept_upgrade(
        &mut self,
        exchange: u32,
        upgrade: &PendingUpgrade,
        protocol: Option<&str>,
        out: &mut Vec<u8>,
    ) -> Result<Option<Agreement>, ExchangeError> {
        self.upgrading(exchange)?;
        let request = upgrade.request();
        let protocol = protocol.filter(|p| request.offers_protocol(p));
        // The list's grammar was checked with the rest of the handshake (an error there
        // was a 400), so only "no acceptable offer" is left.
        let offers = request.head().list("Sec-WebSocket-Extensions");
        let agreement = permessage_deflate::negotiate(offers, &self.config.deflate)
            .ok()
            .flatten();
        handshake::write_accept_response(out, request.key, protocol, agreement.as_ref());
        self.state = State::Upgraded;
        Ok(agreement)
    }

    /// Refuses the upgrade of `exchange` with `response`; the connection then closes.
    pub fn reject_upgrade(
        &mut self,
        exchange: u32,
        response: &Response,
        out: &mut Vec<u8>,
    ) -> Result<(), ExchangeError> {
        self.upgrading(exchange)?;
        let added = Added::new(close_unless_said(response), None);
        response.encode_with(out, false, added.as_slice());
        self.state = State::Closed;
        Ok(())
    }

    /// The server is going away: read no further request. A connection between requests
    /// or in the middle of one (nothing was handed to the application yet) closes now; a
    /// request with the application closes the connection after its answer, and a parked
    /// one is due at once (`now`); a stream ends now.
    pub fn close_after_exchange(&mut self, out: &mut Vec<u8>, now: Instant) {
        match &mut self.state {
            State::Idle { .. } | State::Head { .. } | State::Body(_) | State::Upgrade { .. } => {
                self.state = State::Closed;
            }
            State::Waiting {
                exchange,
                parked_until,
            } => {
                exchange.keep_alive = false;
                if parked_until.is_some() {
                    *parked_until = Some(now);
                }
            }
            State::Streaming { exchange, .. } => {
                exchange.keep_alive = false;
                let id = exchange.id;
                let _ = self.end_stream(id, out, now);
            }
            State::Upgraded | State::Closed => {}
        }
    }

    // ===== internals =====

    /// A complete head: refuse it, hand it out, or expect its body.
    fn on_head(
        &mut self,
        request: Request,
        deadline: Instant,
        out: &mut Vec<u8>,
        now: Instant,
        note: &mut dyn FnMut(OwnAnswer<'_>),
    ) -> Option<Event> {
        let head = request.head();
        let before = out.len();
        // Every answer given here is to this head, at its arrival.
        let mut answered = |status, out: &mut Vec<u8>| {
            note(OwnAnswer {
                status,
                head: Some(head),
                since: now,
                bytes: out.len() - before,
            });
        };
        // RFC 9112 §6.3: the one decision about what follows the head.
        let framing = match body::framing(&head, self.config.max_body_bytes) {
            Ok(framing) => framing,
            Err(e) => {
                self.refuse(e.status(), &e.to_string(), out);
                answered(e.status(), out);
                return None;
            }
        };
        let exchange = self.new_exchange(&head);
        let upgrade = handshake::is_upgrade_request(&head);
        let origin = origin::check(&head, &self.config.allowed_origins);
        if origin.refuses(head.method(), upgrade) {
            // RFC 6455 §10.2 and the module docs of `origin`: another site's page may
            // neither open a WebSocket nor change state.
            self.refuse(StatusCode::FORBIDDEN, "origin not allowed", out);
            answered(StatusCode::FORBIDDEN, out);
            return None;
        }
        if origin::is_preflight(&head) && !framing.has_body() {
            let response = self.preflight_answer(origin);
            let (keep_alive, connection) = connection_field(exchange, &response);
            let added = Added::new(connection, None);
            response.encode_with(out, false, added.as_slice());
            self.finish_exchange(keep_alive, now);
            answered(response.status(), out);
            return None;
        }
        if let OriginCheck::Allowed(origin) = origin
            && !upgrade
        {
            self.cors_origin = Some(Box::new(origin.to_string()));
        }
        if upgrade {
            if let Err(e) = handshake::validate_upgrade(&head) {
                let response = e.response();
                self.refuse_with(&response, out);
                answered(response.status(), out);
                return None;
            }
            if framing.has_body() {
                // RFC 6455 §4.1: the opening handshake is a GET without a body; the bytes
                // after the head belong to the WebSocket.
                self.refuse(
                    StatusCode::BAD_REQUEST,
                    "a WebSocket upgrade request has no body",
                    out,
                );
                answered(StatusCode::BAD_REQUEST, out);
                return None;
            }
            self.state = State::Upgrade { exchange };
            return Some(Event::Upgrade {
                exchange: exchange.id,
                upgrade: PendingUpgrade { request },
            });
        }
        if !framing.has_body() {
            return Some(self.dispatch(exchange, request));
        }
        if head.version() == Version::Http11 && head.has_token("expect", "100-continue") {
            // RFC 9110 §10.1.1: the client waits for this before sending the body.
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        self.state = State::Body(Box::new(BodyState {
            exchange,
            head_at: now,
            request,
            decoder: BodyDecoder::new(framing, self.config.max_body_bytes),
            body: Vec::with_capacity(initial_body_capacity(framing)),
            deadline,
        }));
        None
    }

    /// Numbers the request with this head and reads its keep-alive wishes.
    fn new_exchange(&mut self, head: &RequestHead<'_>) -> Exchange {
        let id = self.next_exchange;
        self.next_exchange = id.wrapping_add(1);
        let (keep_alive, announce_keep_alive) = match head.version() {
            // RFC 9112 §9.3: HTTP/1.1 connections persist unless `Connection: close`.
            Version::Http11 => (!head.has_token("connection", "close"), false),
            // HTTP/1.0 connections close after the response unless the client asks for
            // keep-alive, and then the response must agree explicitly.
            Version::Http10 => {
                let asked = head.has_token("connection", "keep-alive");
                (asked, asked)
            }
        };
        Exchange {
            id,
            keep_alive,
            announce_keep_alive,
            head_only: head.method() == "HEAD",
            http11: head.version() == Version::Http11,
            connect: head.method() == "CONNECT",
        }
    }

    /// Hands a complete request to the application.
    fn dispatch(&mut self, exchange: Exchange, request: Request) -> Event {
        self.state = State::Waiting {
            exchange,
            parked_until: None,
        };
        Event::Request {
            exchange: exchange.id,
            request,
        }
    }

    /// The answer to a CORS preflight (Fetch §4.8), which the session gives itself: what
    /// an allowed page may send, or `403` for any other. (A forbidden preflight never
    /// reaches the application: the request it asks about would be refused anyway.)
    fn preflight_answer(&self, origin: OriginCheck<'_>) -> Response {
        let origin = match origin {
            OriginCheck::Allowed(origin) => origin,
            OriginCheck::Forbidden | OriginCheck::SameOrigin | OriginCheck::Absent => {
                // Not `Response::error`, which closes (an error's request may have framing
                // we cannot trust): a preflight has no body, so the connection can stay.
                let status = StatusCode::FORBIDDEN;
                return Response::text(status, format!("{status}\norigin not allowed\n"));
            }
        };
        let cors = &self.config.cors;
        let mut response = Response::new(StatusCode::NO_CONTENT);
        for (name, value) in origin::preflight_fields(origin, cors) {
            response = response.header(name, value.to_string());
        }
        response.header("Access-Control-Max-Age", cors.max_age.as_secs().to_string())
    }

    /// The fields the session adds after the application's: `connection` (see
    /// [`connection_field`]) and, for an allowed cross-origin page, the CORS fields.
    fn added_fields(&self, connection: Option<&'static str>) -> Added<'_> {
        let cors = self
            .cors_origin
            .as_deref()
            .map(|o| (o.as_str(), &self.config.cors));
        Added::new(connection, cors)
    }

    /// After a complete answer: wait for the next request, or close.
    fn finish_exchange(&mut self, keep_alive: bool, now: Instant) {
        self.cors_origin = None;
        self.state = if keep_alive {
            State::Idle {
                deadline: now + self.config.idle_timeout,
            }
        } else {
            State::Closed
        };
    }

    /// The exchange with the application, if it is `exchange` and in `stage`: `Stale` if
    /// it is not the current one, `WrongState` if it is but waits for another kind of
    /// answer. Returns it with whether its stream (if any) is chunked.
    fn current(&self, exchange: u32, stage: Stage) -> Result<(Exchange, bool), ExchangeError> {
        let (ex, at, chunked) = match self.state {
            State::Waiting { exchange: ex, .. } => (ex, Stage::Waiting, false),
            State::Streaming {
                exchange: ex,
                chunked,
            } => (ex, Stage::Streaming, chunked),
            State::Upgrade { exchange: ex } => (ex, Stage::Upgrade, false),
            _ => return Err(ExchangeError::Stale),
        };
        match (ex.id == exchange, at == stage) {
            (false, _) => Err(ExchangeError::Stale),
            (true, false) => Err(ExchangeError::WrongState),
            (true, true) => Ok((ex, chunked)),
        }
    }

    fn waiting(&self, exchange: u32) -> Result<Exchange, ExchangeError> {
        self.current(exchange, Stage::Waiting).map(|(ex, _)| ex)
    }

    /// The waiting exchange, if `response` can be its final answer (RFC 9110 §15.2: a
    /// `1xx` is not one).
    fn answerable(&self, exchange: u32, response: &Response) -> Result<Exchange, ExchangeError> {
        let ex = self.waiting(exchange)?;
        if response.status().is_informational() {
            return Err(ExchangeError::NotFinal);
        }
        Ok(ex)
    }

    fn streaming(&self, exchange: u32) -> Result<(Exchange, bool), ExchangeError> {
        self.current(exchange, Stage::Streaming)
    }

    fn upgrading(&self, exchange: u32) -> Result<(), ExchangeError> {
        self.current(exchange, Stage::Upgrade).map(|_| ())
    }

    /// Answers a request the client got wrong, and closes.
    fn refuse(&mut self, status: StatusCode, detail: &str, out: &mut Vec<u8>) {
        self.refuse_with(&Response::error(status, detail), out);
    }

    fn refuse_with(&mut self, response: &Response, out: &mut Vec<u8>) {
        let added = Added::new(close_unless_said(response), None);
        response.encode_with(out, false, added.as_slice());
        self.cors_origin = None;
        self.state = State::Closed;
    }

    /// RFC 9110 §15.5.9: the request did not arrive in time (slowloris).
    fn refuse_late(&mut self, detail: &str, out: &mut Vec<u8>) {
        self.refuse(StatusCode::REQUEST_TIMEOUT, detail, out);
    }
}

/// Whether the connection survives `response` to `ex`, and the `Connection` field that
/// must say so: `close` when the server will close though neither side asked (RFC 9112
/// §9.6: a server that is about to close says so), `keep-alive` to an HTTP/1.0 client
/// that asked for it.
fn connection_field(ex: Exchange, response: &Response) -> (bool, Option<&'static str>) {
    let said_close = response.closes_connection();
    let keep_alive = ex.keep_alive && !said_close;
    let field = if !keep_alive && !said_close {
        Some("close")
    } else if keep_alive && ex.announce_keep_alive {
        Some("keep-alive")
    } else {
        None
    };
    (keep_alive, field)
}

/// The fields a session adds to an answer, after the application's own: at most
/// `Connection` and three CORS fields, kept on the stack.
struct Added<'a> {
    fields: [(&'a str, &'a str); 4],
    len: usize,
}

impl<'a> Added<'a> {
    /// `Connection: <connection>` if given, and for an allowed cross-origin page
    /// (`cors`): `Access-Control-Allow-Origin` naming it (not `*`, so the answer is the
    /// same whether the policy lists it or allows all), `Vary: Origin` (the answer
    /// depends on that field, RFC 9110 §12.5.5), and `Access-Control-Expose-Headers`
    /// unless empty.
    fn new(connection: Option<&'static str>, cors: Option<(&'a str, &'a Cors)>) -> Self {
        let mut added = Added {
            fields: [("", ""); 4],
            len: 0,
        };
        if let Some(value) = connection {
            added.push("Connection", value);
        }
        if let Some((origin, cors)) = cors {
            added.push("Access-Control-Allow-Origin", origin);
            added.push("Vary", "Origin");
            if !cors.expose_headers.is_empty() {
                added.push("Access-Control-Expose-Headers", &cors.expose_headers);
            }
        }
        added
    }

    fn push(&mut self, name: &'a str, value: &'a str) {
        self.fields[self.len] = (name, value);
        self.len += 1;
    }

    fn as_slice(&self) -> &[(&'a str, &'a str)] {
        &self.fields[..self.len]
    }
}

/// Room for a body before its first byte: a `Content-Length` body (already held to
/// `max_body_bytes`) gets its length, up to 64 KiB, so the common body is read into one
/// allocation instead of one per doubling (each a copy, and above glibc's mapping
/// threshold a `mmap` too); more than that is grown into as it actually arrives, so a
/// client that announces a large body and sends nothing costs no more than 64 KiB.
fn initial_body_capacity(framing: body::BodyFraming) -> usize {
    const UP_FRONT: u64 = 64 * 1024;
    match framing {
        body::BodyFraming::ContentLength(len) => len.min(UP_FRONT) as usize,
        _ => 0,
    }
}

/// `Connection: close` for a response after which the connection closes, unless the
/// response says so already.
fn close_unless_said(response: &Response) -> Option<&'static str> {
    (!response.closes_connection()).then_some("close")
}

/// `n` in lowercase hexadecimal, as a chunk size (RFC 9112 §7.1: `chunk-size = 1*HEXDIG`).
/// The longest chunk header [`Session::stream_chunk_head`] writes: 12 hex digits (a
/// chunk under 2^48 bytes) and CRLF.
pub const CHUNK_HEAD_MAX: usize = 14;

/// How a chunk of a streamed answer is framed (see [`Session::stream_chunk_head`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHead {
    /// The header's bytes at the start of the caller's buffer, sent before the data.
    pub len: usize,
    /// What follows the data: CRLF when chunked, nothing otherwise.
    pub trailer: &'static [u8],
}

fn write_hex(out: &mut Vec<u8>, n: u64) {
    let (digits, start) = hex_digits(n);
    out.extend_from_slice(&digits[start..]);
}

/// `n` in lowercase hex without leading zeros: the digits are `digits[start..]`.
fn hex_digits(mut n: u64) -> ([u8; 16], usize) {
    let mut digits = [0u8; 16];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b"0123456789abcdef"[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    (digits, start)
}
