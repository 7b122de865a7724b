//! The client side of `pushwire.v1`, many channels over one WebSocket at `/ws`
//! (docs/transports-design.md §2), sans-IO: the frames the hub sends, read with the
//! library's strict JSON reader ([`Members`]). Commands are written by the library's own
//! [`Command::write`](pushwire::hub::mux::Command::write).

use std::borrow::Cow;
use std::fmt;

use pushwire::hub::json::{JsonError, MAX_PAYLOAD_DEPTH, Members, RawValue, ValueKind};

/// A frame from the hub on a `pushwire.v1` connection, as far as a subscriber reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ServerFrame {
    /// `{"type":"subscribed","channel":"a","epoch":"E","next":C}`, `"reset":true` when
    /// the cursor was from another stream.
    Subscribed {
        channel: String,
        epoch: String,
        next: u64,
        reset: bool,
    },
    /// `{"type":"message","channel":"a","id":N,"data":"..."}` with a text payload (the
    /// load generator publishes text).
    Message {
        channel: String,
        id: u64,
        data: String,
    },
    /// `{"type":"missed","channel":"a","missed":K}`.
    Missed { channel: String, missed: u64 },
    /// `{"type":"error","status":S,"error":"..."}` (`ref`, `channel` when known).
    Error { status: u64, error: String },
    /// Any other type (`unsubscribed`, `ack`, or one from a newer hub): its name.
    Other(String),
}

/// Why a frame is not one [`ServerFrame`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MuxFrameError {
    /// Not a JSON object.
    Json(JsonError),
    /// A field a frame of its type has is missing (or the `type` itself).
    Missing(&'static str),
    /// A field has the wrong kind of value (a `data` that is not a string included).
    Field(&'static str),
}

impl fmt::Display for MuxFrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MuxFrameError::Json(e) => write!(f, "pushwire.v1 frame: {e}"),
            MuxFrameError::Missing(field) => write!(f, "pushwire.v1 frame without {field:?}"),
            MuxFrameError::Field(field) => write!(f, "pushwire.v1 frame with a bad {field:?}"),
        }
    }
}

impl From<JsonError> for MuxFrameError {
    fn from(e: JsonError) -> Self {
        MuxFrameError::Json(e)
    }
}

/// The fields of a server frame, as read.
#[derive(Default)]
struct Fields<'a> {
    kind: Option<Cow<'a, str>>,
    channel: Option<Cow<'a, str>>,
    epoch: Option<Cow<'a, str>>,
    next: Option<u64>,
    reset: bool,
    id: Option<u64>,
    data: Option<Cow<'a, str>>,
    missed: Option<u64>,
    status: Option<u64>,
    error: Option<Cow<'a, str>>,
}

fn string<'a>(value: &RawValue<'a>, field: &'static str) -> Result<Cow<'a, str>, MuxFrameError> {
    value.as_str().ok_or(MuxFrameError::Field(field))
}

fn number(value: &RawValue<'_>, field: &'static str) -> Result<u64, MuxFrameError> {
    value.as_u64().ok_or(MuxFrameError::Field(field))
}

fn need<T>(value: Option<T>, field: &'static str) -> Result<T, MuxFrameError> {
    value.ok_or(MuxFrameError::Missing(field))
}

/// Reads one text frame from the hub. Unknown fields are ignored, as the protocol asks
/// of both sides (a newer hub may send more).
pub(super) fn parse_server_frame(text: &str) -> Result<ServerFrame, MuxFrameError> {
    let mut f = Fields::default();
    for member in Members::new(text, MAX_PAYLOAD_DEPTH)? {
        let (key, value) = member?;
        match &*key {
            "type" => f.kind = Some(string(&value, "type")?),
            "channel" => f.channel = Some(string(&value, "channel")?),
            "epoch" => f.epoch = Some(string(&value, "epoch")?),
            "next" => f.next = Some(number(&value, "next")?),
            "reset" => match value.kind() {
                ValueKind::True => f.reset = true,
                ValueKind::False => f.reset = false,
                _ => return Err(MuxFrameError::Field("reset")),
            },
            "id" => f.id = Some(number(&value, "id")?),
            "data" => f.data = Some(string(&value, "data")?),
            "missed" => f.missed = Some(number(&value, "missed")?),
            "status" => f.status = Some(number(&value, "status")?),
            "error" => f.error = Some(string(&value, "error")?),
            _ => {}
        }
    }
    let kind = need(f.kind, "type")?;
    let channel = || need(f.channel.clone(), "channel").map(Cow::into_owned);
    Ok(match &*kind {
        "subscribed" => ServerFrame::Subscribed {
            channel: channel()?,
            epoch: need(f.epoch, "epoch")?.into_owned(),
            next: need(f.next, "next")?,
            reset: f.reset,
        },
        "message" => ServerFrame::Message {
            channel: channel()?,
            id: need(f.id, "id")?,
            data: need(f.data, "data")?.into_owned(),
        },
        "missed" => ServerFrame::Missed {
            channel: channel()?,
            missed: need(f.missed, "missed")?,
        },
        "error" => ServerFrame::Error {
            status: need(f.status, "status")?,
            error: need(f.error, "error")?.into_owned(),
        },
        _ => ServerFrame::Other(kind.into_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushwire::http::StatusCode;
    use pushwire::hub::{Epoch, json, mux};

    #[test]
    fn the_hubs_own_frames_read_back() {
        let epoch = Epoch::from_bits(1).unwrap();
        let e = epoch.text().as_str().to_string();
        assert_eq!(
            parse_server_frame(&mux::subscribed("a.b", epoch, 7, false)),
            Ok(ServerFrame::Subscribed {
                channel: "a.b".into(),
                epoch: e.clone(),
                next: 7,
                reset: false
            })
        );
        assert_eq!(
            parse_server_frame(&mux::subscribed("a", epoch, 0, true)),
            Ok(ServerFrame::Subscribed {
                channel: "a".into(),
                epoch: e,
                next: 0,
                reset: true
            })
        );
        let frame = json::message_frame(8, "{\"t\":1}\n\u{e9}");
        assert_eq!(
            parse_server_frame(&mux::message("a", &frame)),
            Ok(ServerFrame::Message {
                channel: "a".into(),
                id: 8,
                data: "{\"t\":1}\n\u{e9}".into()
            })
        );
        assert_eq!(
            parse_server_frame(&mux::missed("a", 3)),
            Ok(ServerFrame::Missed {
                channel: "a".into(),
                missed: 3
            })
        );
        let error = mux::error(None, Some("a"), StatusCode::BAD_REQUEST, "bad since");
        assert_eq!(
            parse_server_frame(&error),
            Ok(ServerFrame::Error {
                status: 400,
                error: "bad since".into()
            })
        );
        assert_eq!(
            parse_server_frame(&mux::unsubscribed("a")),
            Ok(ServerFrame::Other("unsubscribed".into()))
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_missing_or_bad_ones_are_errors() {
        let text = r#"{"x":[{"y":null}],"type":"missed","channel":"a","missed":2,"z":1.5}"#;
        assert_eq!(
            parse_server_frame(text),
            Ok(ServerFrame::Missed {
                channel: "a".into(),
                missed: 2
            })
        );
        for (text, why) in [
            (r#"{"channel":"a"}"#, MuxFrameError::Missing("type")),
            (
                r#"{"type":"message","channel":"a","id":1}"#,
                MuxFrameError::Missing("data"),
            ),
            (
                r#"{"type":"message","id":1,"data":""}"#,
                MuxFrameError::Missing("channel"),
            ),
            (
                r#"{"type":"message","channel":"a","id":-1,"data":""}"#,
                MuxFrameError::Field("id"),
            ),
            (
                r#"{"type":"message","channel":"a","id":1,"data":{"json":1}}"#,
                MuxFrameError::Field("data"),
            ),
            (r#"{"type":7}"#, MuxFrameError::Field("type")),
        ] {
            assert_eq!(parse_server_frame(text), Err(why), "{text}");
        }
        let broken = parse_server_frame(r#"{"type":"message","#).unwrap_err();
        assert!(matches!(broken, MuxFrameError::Json(_)));
        assert!(
            broken
                .to_string()
                .starts_with("pushwire.v1 frame: expected "),
            "{broken}"
        );
    }
}
