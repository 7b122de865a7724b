//! `pushwire.v1`: many channels over one WebSocket (issue 12 §2), sans-IO — the commands
//! a client sends, read ([`Command::parse`]) and written ([`Command::write`], for clients:
//! the load tool, `pushwire.js`'s tests), and every frame the server sends
//! ([`subscribed`], [`message`], [`missed`], [`unsubscribed`], [`ack`], [`error`]).
//!
//! The connection is `GET /ws` upgraded with `Sec-WebSocket-Protocol: pushwire.v1`
//! ([`SUBPROTOCOL`]). Every text frame is one JSON object:
//!
//! ```text
//! client → server
//! {"type":"subscribe","channel":"a","since":5,"epoch":"E"}    since, epoch optional
//! {"type":"unsubscribe","channel":"a"}
//! {"type":"publish","channel":"a","data":"text","ref":7}      data: a string (text) or any
//!                                                             JSON value (a JSON payload)
//! server → client
//! {"type":"subscribed","channel":"a","epoch":"E","next":C}    ,"reset":true after the epoch
//! {"type":"message","channel":"a","id":N,"data":...}
//! {"type":"missed","channel":"a","missed":K}
//! {"type":"unsubscribed","channel":"a"}
//! {"type":"ack","ref":7,"channel":"a","id":N,"epoch":"E"}
//! {"type":"error","ref":7,"channel":"a","status":413,"error":"message too large"}
//! ```
//!
//! How commands are read, and why:
//!
//! - **strict JSON** ([`crate::hub::json::strict`]), the command object's members read in
//!   one pass. Unknown fields are ignored (a newer client may send more), but checked as
//!   JSON like the rest: one malformed byte anywhere makes the whole command malformed.
//! - **duplicate fields are refused** (RFC 8259 §4 leaves their meaning to the reader:
//!   two readers of one text could see two commands). Only the six fields a command has
//!   are checked — `type`, `channel`, `since`, `epoch`, `data`, `ref`, whatever the type —
//!   which costs one bit each; a duplicate among the ignored fields cannot change what
//!   the command means, and finding one would take a set as large as the text.
//! - **`ref`** (a non-negative integer that fits in 64 bits, or a string of at most
//!   [`MAX_REF_LEN`] bytes) is read on every command and echoed in its `error` frame, and
//!   in a publish's `ack`. Errors echo the `ref` and the `channel` whenever they were
//!   read and valid, so a client can tell which of its commands failed.
//! - **`null` is absence** for the optional fields (`since`, `epoch`, `ref`): a client
//!   that serializes "no cursor" as `null` means no cursor. A `data` of `null` is the JSON
//!   payload `null`.
//! - **statuses are the HTTP API's**: 400 for what is malformed (bad JSON, an unknown
//!   `type`, a bad field), 413 for a command longer than the connection's message limit
//!   or a `data` longer than the hub's; a bad channel, `since` or `epoch` is the
//!   [`HubError`] `/channels/{name}` would answer, with its message.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use crate::http::status_code::StatusCode;
use crate::hub::HubError;
use crate::hub::epoch::Epoch;
use crate::hub::json::strict::{MAX_PAYLOAD_DEPTH, Members, RawValue, ValueKind};
use crate::hub::json::{self, JsonError, write_str};
use crate::hub::query::is_valid_channel_name;

/// The WebSocket subprotocol of the multiplexed connection (`Sec-WebSocket-Protocol:
/// pushwire.v1`). Not to be confused with [`crate::hub::SUBPROTOCOL`] (`pushwire`), one
/// channel per connection.
pub const SUBPROTOCOL: &str = "pushwire.v1";

/// Longest string `ref`, in bytes (after unescaping): enough for a UUID or a client's
/// counter with a prefix, short enough that echoing it costs nothing.
pub const MAX_REF_LEN: usize = 64;

/// What a command may be: the connection's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandLimits {
    /// Longest command text, in bytes (413 beyond): the connection's message limit.
    pub max_command: usize,
    /// Longest message a publish may carry (413 beyond): the hub's
    /// [`max_message`](crate::hub::HubConfig::max_message). Text `data` counts as the
    /// text it stands for (unescaped), a JSON payload as sent.
    pub max_message: usize,
    /// How deep a JSON payload (and any field's value) may nest, the command object
    /// itself not counted (400 beyond).
    pub max_depth: usize,
}

impl CommandLimits {
    /// These bounds, with JSON payloads nesting at most [`MAX_PAYLOAD_DEPTH`] deep as over
    /// HTTP.
    pub fn new(max_command: usize, max_message: usize) -> CommandLimits {
        CommandLimits {
            max_command,
            max_message,
            max_depth: MAX_PAYLOAD_DEPTH,
        }
    }
}

// ===== commands =====

/// A command from a client, borrowing from its text where it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// `{"type":"subscribe","channel":"a","since":5,"epoch":"E"}`: send me the channel's
    /// messages after my cursor, then every new one.
    Subscribe {
        /// A valid channel name.
        channel: Cow<'a, str>,
        /// The id the client has (as the query's `since`).
        since: Option<u64>,
        /// The stream `since` is from (as the query's `epoch`).
        epoch: Option<Epoch>,
        /// To echo in an error about this command.
        reference: Option<Ref<'a>>,
    },
    /// `{"type":"unsubscribe","channel":"a"}`.
    Unsubscribe {
        /// A valid channel name.
        channel: Cow<'a, str>,
        /// To echo in an error about this command.
        reference: Option<Ref<'a>>,
    },
    /// `{"type":"publish","channel":"a","data":"text","ref":7}`.
    Publish {
        /// A valid channel name.
        channel: Cow<'a, str>,
        /// The message.
        data: Payload<'a>,
        /// To echo in the `ack` (or the error).
        reference: Option<Ref<'a>>,
    },
}

/// A published message's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// `data` was a JSON string: this text, unescaped. Delivered as a string.
    Text(Cow<'a, str>),
    /// `data` was any other JSON value (issue 12 §4): its text exactly as sent, whitespace
    /// included. Delivered as that value. (UTF-8, as every JSON text is: a `str`, so it
    /// goes into a frame without another check.)
    Json(&'a str),
}

impl Payload<'_> {
    /// The message's size against the hub's bound: a text's bytes, a JSON value's as sent.
    pub fn len(&self) -> usize {
        match self {
            Payload::Text(text) => text.len(),
            Payload::Json(raw) => raw.len(),
        }
    }

    /// Is it the empty text? (A JSON payload is never empty.)
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the payload as a JSON value: a text escaped ([`write_str`]), a JSON payload
    /// as it is.
    pub fn write(&self, out: &mut String) {
        match self {
            Payload::Text(text) => write_str(out, text),
            Payload::Json(raw) => out.push_str(raw),
        }
    }

    /// The message's frame with this payload, `{"id":N,"data":...}`: for a text, the
    /// hub's [`json::message_frame`]; for a JSON payload, the same with the value in
    /// place of the string.
    pub fn message_frame(&self, id: u64) -> String {
        match self {
            Payload::Text(text) => json::message_frame(id, text),
            Payload::Json(raw) => json::message_frame_json(id, raw),
        }
    }
}

/// A client's token for a command, echoed in the server's answer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref<'a> {
    /// `"ref":7`: a non-negative integer that fits in 64 bits.
    Number(u64),
    /// `"ref":"a-7"`: a string of at most [`MAX_REF_LEN`] bytes (unescaped).
    Text(Cow<'a, str>),
}

impl Ref<'_> {
    /// The same ref, owning its text.
    pub fn into_owned(self) -> Ref<'static> {
        match self {
            Ref::Number(n) => Ref::Number(n),
            Ref::Text(text) => Ref::Text(Cow::Owned(text.into_owned())),
        }
    }

    /// Appends the ref as JSON: the number, or the string escaped.
    pub fn write(&self, out: &mut String) {
        match self {
            Ref::Number(n) => write_u64(out, *n),
            Ref::Text(text) => write_str(out, text),
        }
    }

    /// Reads a `ref` value: `Ok(None)` for `null`, `Err(())` for anything else that is
    /// not a ref.
    fn read<'a>(value: &RawValue<'a>) -> Result<Option<Ref<'a>>, ()> {
        match value.kind() {
            ValueKind::Null => Ok(None),
            ValueKind::Number => value.as_u64().map(|n| Some(Ref::Number(n))).ok_or(()),
            ValueKind::String => match value.as_str() {
                Some(text) if text.len() <= MAX_REF_LEN => Ok(Some(Ref::Text(text))),
                _ => Err(()),
            },
            _ => Err(()),
        }
    }
}

/// The fields a command can have, whatever its type: each read at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Type,
    Channel,
    Since,
    Epoch,
    Data,
    Ref,
}

impl Field {
    const ALL: [Field; 6] = [
        Field::Type,
        Field::Channel,
        Field::Since,
        Field::Epoch,
        Field::Data,
        Field::Ref,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Type => "type",
            Field::Channel => "channel",
            Field::Since => "since",
            Field::Epoch => "epoch",
            Field::Data => "data",
            Field::Ref => "ref",
        }
    }

    fn named(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.name() == key)
    }
}

/// The values of a command's fields, as read from its object.
#[derive(Debug, Default)]
struct Fields<'a> {
    values: [Option<RawValue<'a>>; 6],
}

impl<'a> Fields<'a> {
    /// Reads the object's members, keeping the fields' values. Stops at the first
    /// problem (bad JSON, a field given twice) and returns it with what was read before
    /// it; a field given twice is forgotten, so it is not echoed.
    fn read(text: &'a str, max_depth: usize) -> (Fields<'a>, Option<CommandProblem>) {
        let mut fields = Fields::default();
        let members = match Members::new(text, max_depth) {
            Ok(members) => members,
            Err(e) => return (fields, Some(CommandProblem::Malformed(e))),
        };
        for member in members {
            let (key, value) = match member {
                Ok(member) => member,
                Err(e) => return (fields, Some(CommandProblem::Malformed(e))),
            };
            let Some(field) = Field::named(&key) else {
                continue;
            };
            let slot = &mut fields.values[field as usize];
            if slot.take().is_some() {
                return (fields, Some(CommandProblem::DuplicateField(field.name())));
            }
            *slot = Some(value);
        }
        (fields, None)
    }

    fn get(&self, field: Field) -> Option<&RawValue<'a>> {
        self.values[field as usize].as_ref()
    }

    /// An optional field's value: `None` when absent or `null`.
    fn given(&self, field: Field) -> Option<&RawValue<'a>> {
        self.get(field).filter(|value| !value.is_null())
    }

    /// The channel, if it was read and is a valid name.
    fn channel(&self) -> Option<Cow<'a, str>> {
        self.get(Field::Channel)
            .and_then(RawValue::as_str)
            .filter(|name| is_valid_channel_name(name))
    }

    /// The ref, if it was read and is valid (`Ok(None)`: absent or `null`).
    fn reference(&self) -> Result<Option<Ref<'a>>, ()> {
        self.get(Field::Ref).map_or(Ok(None), Ref::read)
    }

    /// A problem with this command, with the ref and channel to echo.
    fn error(&self, problem: CommandProblem) -> CommandError {
        CommandError {
            problem,
            reference: self.reference().ok().flatten().map(Ref::into_owned),
            channel: self.channel().map(Cow::into_owned),
        }
    }
}

impl<'a> Command<'a> {
    /// Reads one command: a text frame of a `pushwire.v1` connection.
    ///
    /// The checks, in order: the size ([`CommandProblem::TooLarge`]); the text, strict
    /// JSON and an object, no field twice; `type`; `ref`; `channel`; then the type's
    /// own fields. The error echoes the `ref` and `channel` when they were read and valid.
    ///
    /// ```
    /// use pushwire::hub::mux::{Command, CommandLimits, Payload};
    /// let limits = CommandLimits::new(64 << 10, 64 << 10);
    /// let text = br#"{"type":"publish","channel":"room","data":{"x":[1,2]},"ref":7}"#;
    /// let Ok(Command::Publish { channel, data, .. }) = Command::parse(text, &limits) else {
    ///     panic!()
    /// };
    /// assert_eq!((&*channel, data), ("room", Payload::Json(r#"{"x":[1,2]}"#)));
    /// let err = Command::parse(br#"{"type":"shout","ref":7}"#, &limits).unwrap_err();
    /// assert_eq!(err.status().as_u16(), 400);
    /// assert_eq!(
    ///     err.frame(),
    ///     r#"{"type":"error","ref":7,"status":400,"error":"type must be \"subscribe\", \"unsubscribe\" or \"publish\""}"#
    /// );
    /// ```
    pub fn parse(text: &'a [u8], limits: &CommandLimits) -> Result<Command<'a>, CommandError> {
        if text.len() > limits.max_command {
            return Err(CommandError::bare(CommandProblem::TooLarge));
        }
        // RFC 8259 §8.1: JSON text is UTF-8. (A WebSocket text frame is, already.)
        let text = std::str::from_utf8(text).map_err(|e| {
            CommandError::bare(CommandProblem::Malformed(JsonError {
                at: e.valid_up_to(),
                expected: "UTF-8 text",
            }))
        })?;
        let (fields, problem) = Fields::read(text, limits.max_depth);
        if let Some(problem) = problem {
            return Err(fields.error(problem));
        }
        let kind = match fields.get(Field::Type).and_then(RawValue::as_str) {
            None if fields.get(Field::Type).is_none() => {
                return Err(fields.error(CommandProblem::MissingField("type")));
            }
            Some(kind) if matches!(&*kind, "subscribe" | "unsubscribe" | "publish") => kind,
            _ => return Err(fields.error(CommandProblem::UnknownType)),
        };
        let reference = fields
            .reference()
            .map_err(|()| fields.error(CommandProblem::BadRef))?;
        if fields.get(Field::Channel).is_none() {
            return Err(fields.error(CommandProblem::MissingField("channel")));
        }
        let channel = fields
            .channel()
            .ok_or_else(|| fields.error(CommandProblem::Hub(HubError::BadChannelName)))?;
        match &*kind {
            "subscribe" => {
                let since =
                    match fields.given(Field::Since) {
                        None => None,
                        Some(value) => Some(value.as_u64().ok_or_else(|| {
                            fields.error(CommandProblem::Hub(HubError::BadSince))
                        })?),
                    };
                let epoch = match fields.given(Field::Epoch) {
                    None => None,
                    Some(value) => Some(
                        value
                            .as_str()
                            .and_then(|text| Epoch::parse(&text))
                            .ok_or_else(|| fields.error(CommandProblem::Hub(HubError::BadEpoch)))?,
                    ),
                };
                Ok(Command::Subscribe {
                    channel,
                    since,
                    epoch,
                    reference,
                })
            }
            "unsubscribe" => Ok(Command::Unsubscribe { channel, reference }),
            _ => {
                let Some(value) = fields.get(Field::Data) else {
                    return Err(fields.error(CommandProblem::MissingField("data")));
                };
                let data = match value.as_str() {
                    Some(text) => Payload::Text(text),
                    None => Payload::Json(value.raw()),
                };
                if data.len() > limits.max_message {
                    return Err(fields.error(CommandProblem::Hub(HubError::MessageTooLarge)));
                }
                Ok(Command::Publish {
                    channel,
                    data,
                    reference,
                })
            }
        }
    }

    /// The channel the command is about.
    pub fn channel(&self) -> &str {
        match self {
            Command::Subscribe { channel, .. }
            | Command::Unsubscribe { channel, .. }
            | Command::Publish { channel, .. } => channel,
        }
    }

    /// The command's `ref`, if it has one.
    pub fn reference(&self) -> Option<&Ref<'a>> {
        match self {
            Command::Subscribe { reference, .. }
            | Command::Unsubscribe { reference, .. }
            | Command::Publish { reference, .. } => reference.as_ref(),
        }
    }

    /// Appends the command's text, as a client sends it:
    /// `{"type":…,"channel":…` then the type's fields (absent ones left out) and `ref`.
    /// [`Command::parse`] reads it back to an equal command (a JSON payload must be valid
    /// JSON: it is written as it is).
    pub fn write(&self, out: &mut String) {
        let (kind, channel) = match self {
            Command::Subscribe { channel, .. } => ("subscribe", channel),
            Command::Unsubscribe { channel, .. } => ("unsubscribe", channel),
            Command::Publish { channel, .. } => ("publish", channel),
        };
        out.push_str("{\"type\":\"");
        out.push_str(kind);
        out.push_str("\",\"channel\":");
        write_str(out, channel);
        match self {
            Command::Subscribe { since, epoch, .. } => {
                if let Some(since) = since {
                    out.push_str(",\"since\":");
                    write_u64(out, *since);
                }
                if let Some(epoch) = epoch {
                    out.push_str(",\"epoch\":\"");
                    out.push_str(epoch.text().as_str());
                    out.push('"');
                }
            }
            Command::Unsubscribe { .. } => {}
            Command::Publish { data, .. } => {
                out.push_str(",\"data\":");
                data.write(out);
            }
        }
        if let Some(reference) = self.reference() {
            out.push_str(",\"ref\":");
            reference.write(out);
        }
        out.push('}');
    }

    /// The command's text ([`Command::write`]).
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(64);
        self.write(&mut out);
        out
    }
}

// ===== errors =====

/// A command the server cannot carry out: what the `error` frame says
/// ([`CommandError::frame`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// What is wrong.
    pub problem: CommandProblem,
    /// The command's `ref`, when it was read and valid.
    pub reference: Option<Ref<'static>>,
    /// The command's channel, when it was read and a valid name.
    pub channel: Option<String>,
}

impl CommandError {
    /// An error about a command whose fields could not be read at all.
    fn bare(problem: CommandProblem) -> CommandError {
        CommandError {
            problem,
            reference: None,
            channel: None,
        }
    }

    /// The status the `error` frame carries: what the HTTP API would answer.
    pub fn status(&self) -> StatusCode {
        self.problem.status()
    }

    /// The `error` frame for this error ([`error`]).
    pub fn frame(&self) -> String {
        error(
            self.reference.as_ref(),
            self.channel.as_deref(),
            self.status(),
            &self.problem.to_string(),
        )
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.problem, f)
    }
}

impl std::error::Error for CommandError {}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandProblem {
    /// The command is longer than [`CommandLimits::max_command`] (413). Not read at all.
    TooLarge,
    /// Not UTF-8, not JSON (RFC 8259, nesting within [`CommandLimits::max_depth`]), or
    /// not an object (400).
    Malformed(JsonError),
    /// One of the command's fields appears twice (400).
    DuplicateField(&'static str),
    /// The command has no `type`, `channel`, or (a publish) `data` (400).
    MissingField(&'static str),
    /// `type` is not `"subscribe"`, `"unsubscribe"` or `"publish"` (400).
    UnknownType,
    /// `ref` is neither a non-negative integer that fits in 64 bits nor a string of at
    /// most [`MAX_REF_LEN`] bytes (400).
    BadRef,
    /// A channel name, `since` or `epoch` the HTTP API would refuse (400), or a `data`
    /// longer than [`CommandLimits::max_message`] (413): the HTTP API's own error.
    Hub(HubError),
}

impl CommandProblem {
    /// 413 for what is too large, the hub's status for a [`HubError`], 400 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            CommandProblem::TooLarge => StatusCode::CONTENT_TOO_LARGE,
            CommandProblem::Hub(e) => e.status(),
            CommandProblem::Malformed(_)
            | CommandProblem::DuplicateField(_)
            | CommandProblem::MissingField(_)
            | CommandProblem::UnknownType
            | CommandProblem::BadRef => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for CommandProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandProblem::TooLarge => {
                f.write_str("command too large: longer than the connection's max message size")
            }
            CommandProblem::Malformed(e) => write!(f, "malformed command: {e}"),
            CommandProblem::DuplicateField(name) => write!(f, "{name} given more than once"),
            CommandProblem::MissingField(name) => write!(f, "{name} is required"),
            CommandProblem::UnknownType => {
                f.write_str("type must be \"subscribe\", \"unsubscribe\" or \"publish\"")
            }
            CommandProblem::BadRef => write!(
                f,
                "ref must be a non-negative integer or a string of at most {MAX_REF_LEN} bytes"
            ),
            CommandProblem::Hub(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for CommandProblem {}

// ===== server → client frames =====

/// Appends a decimal integer. (Writing to a `String` cannot fail.)
fn write_u64(out: &mut String, n: u64) {
    let _ = write!(out, "{n}");
}

/// `{"type":"<kind>","channel":"<channel>"`: how a frame about a channel begins, in a
/// string with room for `rest` more bytes (exactly, for a valid channel name: those
/// need no escapes).
fn frame_head(kind: &str, channel: &str, rest: usize) -> String {
    let head = "{\"type\":\"".len() + kind.len() + "\",\"channel\":".len() + channel.len() + 2;
    let mut out = String::with_capacity(head + rest);
    out.push_str("{\"type\":\"");
    out.push_str(kind);
    out.push_str("\",\"channel\":");
    write_str(&mut out, channel);
    out
}

/// The answer to a subscribe, first on the channel:
/// `{"type":"subscribed","channel":"a","epoch":"E","next":C}`, with `,"reset":true` after
/// the epoch when the cursor was from another stream. As the one-channel subscription's
/// first frame ([`json::subscribed_frame`]), `next` is where the client stands before the
/// replay.
pub fn subscribed(channel: &str, epoch: Epoch, next: u64, reset: bool) -> String {
    let mut out = frame_head("subscribed", channel, 64);
    out.push_str(",\"epoch\":\"");
    out.push_str(epoch.text().as_str());
    out.push('"');
    if reset {
        out.push_str(",\"reset\":true");
    }
    out.push_str(",\"next\":");
    write_u64(&mut out, next);
    out.push('}');
    out
}

/// One message on a channel, `{"type":"message","channel":"a","id":N,"data":...}`, made
/// from the message's frame `{"id":N,"data":...}` ([`json::message_frame`],
/// [`Payload::message_frame`]) as the hub keeps it: the frame's members are copied after
/// the type and channel, never re-escaped, in one allocation of the exact size. The hub
/// builds it once per publish and channel, and shares it with every subscriber.
pub fn message(channel: &str, frame: &str) -> String {
    // The hub's frames are objects: everything after the `{` is the frame's members
    // and its closing brace.
    let members = frame.strip_prefix('{').unwrap_or(frame);
    let mut out = frame_head("message", channel, 1 + members.len());
    out.push(',');
    out.push_str(members);
    out
}

/// `{"type":"missed","channel":"a","missed":K}`: `K` messages after the client's cursor
/// were evicted before it could get them.
pub fn missed(channel: &str, missed: u64) -> String {
    let mut out = frame_head("missed", channel, 32);
    out.push_str(",\"missed\":");
    write_u64(&mut out, missed);
    out.push('}');
    out
}

/// `{"type":"unsubscribed","channel":"a"}`: no more messages from the channel.
pub fn unsubscribed(channel: &str) -> String {
    let mut out = frame_head("unsubscribed", channel, 1);
    out.push('}');
    out
}

/// `{"type":"ack","ref":7,"channel":"a","id":N,"epoch":"E"}`: a publish was committed as
/// message `id` of the stream `epoch` (`ref` left out when the publish had none).
pub fn ack(reference: Option<&Ref<'_>>, channel: &str, id: u64, epoch: Epoch) -> String {
    let mut out = String::with_capacity(96 + channel.len() + MAX_REF_LEN);
    out.push_str("{\"type\":\"ack\"");
    write_reference(&mut out, reference);
    out.push_str(",\"channel\":");
    write_str(&mut out, channel);
    out.push_str(",\"id\":");
    write_u64(&mut out, id);
    out.push_str(",\"epoch\":\"");
    out.push_str(epoch.text().as_str());
    out.push_str("\"}");
    out
}

/// `{"type":"error","ref":7,"channel":"a","status":413,"error":"message too large"}`: a
/// command failed; `ref` and `channel` when known, `status` what the HTTP API would
/// answer, `error` a short text for people. The connection stays open.
pub fn error(
    reference: Option<&Ref<'_>>,
    channel: Option<&str>,
    status: StatusCode,
    message: &str,
) -> String {
    let mut out = String::with_capacity(64 + message.len() + MAX_REF_LEN);
    out.push_str("{\"type\":\"error\"");
    write_reference(&mut out, reference);
    if let Some(channel) = channel {
        out.push_str(",\"channel\":");
        write_str(&mut out, channel);
    }
    out.push_str(",\"status\":");
    write_u64(&mut out, u64::from(status.as_u16()));
    out.push_str(",\"error\":");
    write_str(&mut out, message);
    out.push('}');
    out
}

/// `,"ref":R` if there is a ref.
fn write_reference(out: &mut String, reference: Option<&Ref<'_>>) {
    if let Some(reference) = reference {
        out.push_str(",\"ref\":");
        reference.write(out);
    }
}

#[cfg(test)]
mod tests;
