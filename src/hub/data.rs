//! What a publisher hands the hub: a message's data, text or a JSON value (issue 12 §4).
//!
//! Text is delivered as a JSON string, escaped by the hub: `{"id":N,"data":"..."}`. A JSON
//! payload is delivered as the value it is, its bytes exactly as published:
//! `{"id":N,"data":{"user":"ann"}}`, so a subscriber's `JSON.parse` gives it back without
//! a second parse. Which of the two a publish is, is the publisher's word: over HTTP the
//! `Content-Type` (`application/json`, with any parameters: [`Data::from_body`]), over
//! `pushwire.v1` whether `data` is a string ([`crate::hub::mux::Payload`]).
//!
//! [`Data`] is owned (a publish's body, moved to the durable log without a copy),
//! [`DataRef`] borrowed (what the hub needs to make a frame, and what a log record
//! holds). A JSON payload is always valid JSON: the constructors that read a publisher's
//! bytes check it ([`Data::json`], [`Data::from_body`]); the variants themselves are open,
//! for the hub's own readers that have checked already, and must only be given valid
//! JSON.
//!
//! The hub keeps a message once, as its frame, so what it reads back is read from that
//! frame ([`parse_frame`]): every frame reads back to data that makes the same frame again.

use crate::hub::HubError;
use crate::hub::json::{self, JsonError, MAX_PAYLOAD_DEPTH, Members};
use crate::hub::mux::Payload;

/// The media type of a JSON payload (RFC 8259 §11).
pub const JSON_MEDIA_TYPE: &str = "application/json";

/// A published message's data, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// Text, delivered as a JSON string.
    Text(String),
    /// A JSON value (RFC 8259, nesting at most [`MAX_PAYLOAD_DEPTH`] deep), delivered
    /// byte for byte as published, without whitespace around it (inside it, whitespace
    /// is kept). Must be valid: [`Data::json`] checks, and trims.
    Json(String),
}

/// A published message's data, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataRef<'a> {
    /// Text, delivered as a JSON string.
    Text(&'a str),
    /// A valid JSON value without whitespace around it (see [`Data::Json`]).
    Json(&'a str),
}

impl Data {
    /// `text` as a JSON payload, if it is one JSON text (RFC 8259, strict) nested at most
    /// [`MAX_PAYLOAD_DEPTH`] deep; else [`HubError::NotJson`], saying where it stopped
    /// being JSON. The whitespace around the value (RFC 8259 §2: `ws value ws`, such as
    /// the newline at the end of a file) is not part of it and is cut off: the frame
    /// holds the value, and a copy of the frame reads back to the same bytes.
    ///
    /// ```
    /// use pushwire::hub::{Data, HubError};
    /// assert_eq!(Data::json(" [1, 2]\n".into()), Ok(Data::Json("[1, 2]".into())));
    /// assert!(matches!(Data::json("[1,]".into()), Err(HubError::NotJson(_))));
    /// ```
    pub fn json(text: String) -> Result<Data, HubError> {
        json::validate(text.as_bytes(), MAX_PAYLOAD_DEPTH).map_err(HubError::NotJson)?;
        Ok(Data::valid_json(text))
    }

    /// A JSON text already validated, as its value: the whitespace around it cut off in
    /// place, in the same allocation.
    fn valid_json(mut text: String) -> Data {
        let end = text.trim_end_matches(is_json_whitespace).len();
        text.truncate(end);
        let start = text.len() - text.trim_start_matches(is_json_whitespace).len();
        text.drain(..start);
        Data::Json(text)
    }

    /// A `POST`'s body as the message it publishes: a JSON payload when `content_type`'s
    /// media type is `application/json` ([`is_json_media_type`]), which the body must then
    /// be ([`Data::json`]; a body that is not UTF-8 is not JSON either); text otherwise,
    /// which must be UTF-8 ([`HubError::NotUtf8`]). The bytes are taken, not copied
    /// (a JSON body's surrounding whitespace is cut off in place).
    ///
    /// ```
    /// use pushwire::hub::{Data, HubError};
    /// let body = br#"{"n":1}"#.to_vec();
    /// let json = Data::from_body(body.clone(), Some("application/json; charset=utf-8"));
    /// assert_eq!(json, Ok(Data::Json(r#"{"n":1}"#.into())));
    /// assert_eq!(Data::from_body(body, Some("text/plain")), Ok(Data::Text(r#"{"n":1}"#.into())));
    /// assert!(Data::from_body(b"{".to_vec(), Some("Application/JSON")).is_err());
    /// ```
    pub fn from_body(body: Vec<u8>, content_type: Option<&str>) -> Result<Data, HubError> {
        if content_type.is_some_and(is_json_media_type) {
            // JSON is UTF-8 (RFC 8259 §8.1): the validator checks it along the way, so
            // this conversion cannot fail after it, and a body that is not UTF-8 is
            // reported as what it is not: JSON.
            json::validate(&body, MAX_PAYLOAD_DEPTH).map_err(HubError::NotJson)?;
            let text = String::from_utf8(body).map_err(|_| HubError::NotUtf8)?;
            Ok(Data::valid_json(text))
        } else {
            crate::hub::message_text(body).map(Data::Text)
        }
    }

    /// The borrowed form.
    pub fn borrowed(&self) -> DataRef<'_> {
        match self {
            Data::Text(text) => DataRef::Text(text),
            Data::Json(raw) => DataRef::Json(raw),
        }
    }

    /// The text, or the JSON payload's text as published.
    pub fn as_str(&self) -> &str {
        self.borrowed().as_str()
    }

    /// Its size against [`HubConfig::max_message`](crate::hub::HubConfig::max_message):
    /// the text's bytes, or the JSON payload's bytes as published (the whitespace inside
    /// the value included).
    pub fn len(&self) -> usize {
        self.as_str().len()
    }

    /// Is it the empty text? (A JSON payload is never empty.)
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Is it a JSON payload?
    pub fn is_json(&self) -> bool {
        matches!(self, Data::Json(_))
    }
}

impl<'a> DataRef<'a> {
    /// The text, or the JSON payload's text as published.
    pub fn as_str(&self) -> &'a str {
        match *self {
            DataRef::Text(text) | DataRef::Json(text) => text,
        }
    }

    /// See [`Data::len`].
    pub fn len(&self) -> usize {
        self.as_str().len()
    }

    /// Is it the empty text?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Is it a JSON payload?
    pub fn is_json(&self) -> bool {
        matches!(self, DataRef::Json(_))
    }

    /// The message's frame with this data and id, `{"id":N,"data":...}`: the text as an
    /// escaped string ([`json::message_frame`]), a JSON payload as it is
    /// ([`json::message_frame_json`]).
    pub fn frame(&self, id: u64) -> String {
        match *self {
            DataRef::Text(text) => json::message_frame(id, text),
            DataRef::Json(raw) => json::message_frame_json(id, raw),
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> Data {
        match self {
            DataRef::Text(text) => Data::Text(text.to_owned()),
            DataRef::Json(raw) => Data::Json(raw.to_owned()),
        }
    }
}

/// A `&str` is text.
impl<'a> From<&'a str> for DataRef<'a> {
    fn from(text: &'a str) -> Self {
        DataRef::Text(text)
    }
}

/// A `&String` is text.
impl<'a> From<&'a String> for DataRef<'a> {
    fn from(text: &'a String) -> Self {
        DataRef::Text(text)
    }
}

impl<'a> From<&'a Data> for DataRef<'a> {
    fn from(data: &'a Data) -> Self {
        data.borrowed()
    }
}

/// A `pushwire.v1` publish's `data`: a string is text, any other value a JSON payload
/// (already validated by the command's reader).
impl<'a> From<&'a Payload<'_>> for DataRef<'a> {
    fn from(payload: &'a Payload<'_>) -> Self {
        match payload {
            Payload::Text(text) => DataRef::Text(text),
            Payload::Json(raw) => DataRef::Json(raw),
        }
    }
}

/// See the [`DataRef`] conversion.
impl From<Payload<'_>> for Data {
    fn from(payload: Payload<'_>) -> Self {
        match payload {
            Payload::Text(text) => Data::Text(text.into_owned()),
            Payload::Json(raw) => Data::Json(raw.to_owned()),
        }
    }
}

/// JSON's whitespace (RFC 8259 §2): space, tab, line feed, carriage return.
fn is_json_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Is `content_type` (a `Content-Type` field's value) `application/json`? The media type
/// is compared case-insensitively and its parameters are ignored (RFC 9110 §8.3.1:
/// `type "/" subtype *( OWS ";" OWS parameter )`), so `application/json;
/// charset=utf-8` is JSON. Every other type is not, `+json` suffixes included
/// (`application/ld+json`): the contract names exactly one.
pub fn is_json_media_type(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    media_type.eq_ignore_ascii_case(JSON_MEDIA_TYPE)
}

/// Reads a message frame the hub made, `{"id":N,"data":...}`, back into its id and data,
/// such that the data makes that same frame again ([`DataRef::frame`]): a durable log
/// copies retained messages from their frames, and must write back what was published.
///
/// A `data` that is not a string was a JSON payload. A string is text — unless the
/// string is not spelled as the hub spells text (a JSON payload `"\u0041"`, which the
/// hub writes as `"A"`), which only a JSON payload can be: it stays that payload, byte
/// for byte. (A JSON payload that is a string spelled exactly as the hub would spell its
/// text reads back as that text: the two are one frame, delivered alike.)
pub fn parse_frame(frame: &str) -> Result<(u64, Data), JsonError> {
    let fail = |expected| JsonError { at: 0, expected };
    let mut members = Members::new(frame, MAX_PAYLOAD_DEPTH)?;
    let (key, id) = members.next().ok_or(fail("an id"))??;
    let id = match (&*key, id.as_u64()) {
        ("id", Some(id)) => id,
        _ => return Err(fail("\"id\":N first")),
    };
    let (key, value) = members.next().ok_or(fail("data"))??;
    if key != "data" {
        return Err(fail("\"data\" second"));
    }
    if let Some(extra) = members.next() {
        extra?;
        return Err(fail("the end of the frame"));
    }
    let raw = value.raw();
    let data = match value.as_str() {
        Some(text) => {
            let mut spelled = String::with_capacity(raw.len());
            json::write_str(&mut spelled, &text);
            if spelled == raw {
                Data::Text(text.into_owned())
            } else {
                Data::Json(raw.to_owned())
            }
        }
        _ => Data::Json(raw.to_owned()),
    };
    Ok((id, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: DataRef<'_>, id: u64) -> Data {
        let frame = data.frame(id);
        let (read_id, read) = parse_frame(&frame).expect("a frame the hub made reads back");
        assert_eq!(read_id, id);
        assert_eq!(read.borrowed().frame(id), frame, "the same frame again");
        read
    }

    #[test]
    fn json_content_types_are_application_json_with_any_parameters() {
        for json in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "  application/json  ; x=y",
        ] {
            assert!(is_json_media_type(json), "{json}");
        }
        for other in [
            "text/plain",
            "application/ld+json",
            "application/jsonp",
            "application/x-www-form-urlencoded",
            "json",
            "",
            "application/ json",
        ] {
            assert!(!is_json_media_type(other), "{other}");
        }
    }

    #[test]
    fn a_json_body_is_checked_and_any_other_stays_text() {
        let json = Some("application/json");
        assert_eq!(
            Data::from_body(b" [1,\r\n 2] \r\n".to_vec(), json),
            Ok(Data::Json("[1,\r\n 2]".into())),
            "the value, its inner whitespace kept"
        );
        for bad in [
            &b""[..],
            b"[1,]",
            b"// c\n1",
            br#""\ud800""#,
            b"\xff",
            b"{} {}",
        ] {
            assert!(
                matches!(
                    Data::from_body(bad.to_vec(), json),
                    Err(HubError::NotJson(_))
                ),
                "{bad:?}"
            );
        }
        let deep = |n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes();
        assert!(Data::from_body(deep(64), json).is_ok());
        assert!(Data::from_body(deep(65), json).is_err());
        assert_eq!(
            Data::from_body(b"[1,]".to_vec(), None),
            Ok(Data::Text("[1,]".into()))
        );
        assert_eq!(
            Data::from_body(b"\xff".to_vec(), Some("text/plain")),
            Err(HubError::NotUtf8)
        );
    }

    #[test]
    fn a_json_payload_counts_its_bytes_as_published() {
        let data = Data::json("{ \"a\" : 1 }".into()).unwrap();
        assert_eq!((data.len(), data.is_json()), (11, true));
        assert_eq!(data.borrowed().frame(3), r#"{"id":3,"data":{ "a" : 1 }}"#);
        assert_eq!(
            Data::Text("ab".into()).borrowed().frame(3),
            r#"{"id":3,"data":"ab"}"#
        );
    }

    #[test]
    fn every_frame_reads_back_to_data_that_makes_it_again() {
        for text in ["", "hi", "say \"hi\"\n", "\u{1}\u{2028}é🦀", "{\"a\":1}"] {
            assert_eq!(round_trip(DataRef::Text(text), 7), Data::Text(text.into()));
        }
        for json in [
            r#"{"user":"ann","text":"hi"}"#,
            "[1, 2,\n 3]",
            "-1.5e3",
            "null",
            "true",
            r#""\u0041""#,
            r#""\/""#,
            "{\"deep\":[[[{}]]]}",
        ] {
            assert_eq!(
                round_trip(DataRef::Json(json), u64::MAX),
                Data::Json(json.into())
            );
        }
        // A JSON string spelled as the hub spells text is that text: one frame.
        for json in [r#""hi""#, r#""é""#, r#""a\"b""#] {
            let text = json::parse_str(json.as_bytes()).unwrap();
            assert_eq!(round_trip(DataRef::Json(json), 1), Data::Text(text));
        }
    }

    #[test]
    fn frames_the_hub_did_not_make_are_refused() {
        for bad in [
            "",
            "[]",
            r#"{"data":"x","id":1}"#,
            r#"{"id":1}"#,
            r#"{"id":-1,"data":1}"#,
            r#"{"id":1,"data":1,"more":2}"#,
            r#"{"id":1,"data":[1,]}"#,
        ] {
            assert!(parse_frame(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pushwire_v1_payloads_convert_by_their_kind() {
        let text = Payload::Text("a\"b".into());
        assert_eq!(DataRef::from(&text), DataRef::Text("a\"b"));
        assert_eq!(Data::from(Payload::Json("[1]")), Data::Json("[1]".into()));
    }
}
